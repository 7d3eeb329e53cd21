package gateway

import (
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"testing"
)

// Policies of normalizeRoutes: routes with the same policy authorize
// alike (route.policy).
const (
	policyOpen = iota
	policyAdmin
	policyAPI
)

// normalizeRoutes are the routes of the path tables, most specific first
// as compile sorts them: /admin for one certificate, /public and / open
// (one policy: the same settings), /api and /café another.
func normalizeRoutes() *compiled {
	return &compiled{routes: []*route{
		{name: "admin-host", host: "admin.example", prefix: "/", policy: policyAdmin},
		{name: "admin", prefix: "/admin", policy: policyAdmin},
		{name: "public", prefix: "/public", policy: policyOpen},
		{name: "cafe", prefix: "/café", policy: policyAPI},
		{name: "api", prefix: "/api", policy: policyAPI},
		{name: "root", prefix: "/", policy: policyOpen},
	}}
}

// pathCases are issue 11's path divergences, each refused case beside its
// allowed twin. raw is the request target's path as sent.
var pathCases = []struct {
	name      string
	raw       string
	ambiguous bool
}{
	{"params: ;x hides /admin from the gateway", "/admin;x", true},
	{"params: ;jsessionid on the one route that serves it", "/app;jsessionid=ABC", false},
	{"params: ;jsessionid under /admin", "/admin/page;jsessionid=ABC", false},
	{"params: on a segment of the same policy (/public vs /)", "/public;v=1/x", false},
	{"params: ..; climbs out of /public (Tomcat)", "/public/..;/admin", true},
	{"params: .; stays (Tomcat)", "/admin/.;/x", false},
	{"params: ..; climbs out of /admin to / (no climb in policy)", "/admin/x/..;/y", false},
	{"params: ..; out of /admin to /public", "/admin/..;/public", true},
	{"params: encoded %3b is a param after decoding", "/admin%3bx", true},
	{"params: %3b below a route", "/admin/a%3bb", false},
	{"case: /ADMIN to a case-insensitive router", "/ADMIN", true},
	{"case: /Admin/x", "/Admin/x", true},
	{"case: /PUBLIC is / and /public alike", "/PUBLIC", false},
	{"case: /admin/ALL below the route", "/admin/ALL", false},
	{"case: encoded /%41dmin", "/%41dmin", true},
	{"double decoding: /%2561dmin", "/%2561dmin", true},
	{"double decoding: %2561 below a route", "/admin/%2561", false},
	{"triple decoding: /%252561dmin", "/%252561dmin", true},
	{"decoding: /%61dmin is /admin to the gateway, not to Envoy", "/%61dmin", true},
	{"decoding: %20 below a route", "/public/a%20b", false},
	{"decoding: UTF-8 prefix sent encoded", "/caf%C3%A9/menu", false},
	{"decoding: UTF-8 prefix sent encoded, lower-case hex (not as browsers send it)", "/caf%c3%a9", true},
	{"trim: NUL", "/admin%00", true},
	{"trim: NUL with an extension", "/admin%00.jpg", true},
	{"trim: NUL below a route", "/admin/x%00", false},
	{"trim: space", "/admin%20", true},
	{"trim: trailing dot", "/admin.", true},
	{"trim: trailing dot below a route", "/public/file.", false},
	{"trim: tab", "/admin%09", true},
	{"trim: line feed", "/admin%0a", true},
	{"trim: dots and spaces", "/admin.%20.", true},
	{"extension: /admin.json is /admin to Rails (.:format) and Spring (suffix patterns)", "/admin.json", true},
	{"extension: /admin.html", "/admin.html", true},
	{"extension: with a trailing slash (Rails drops it)", "/admin.json/", true},
	{"extension: two of them (Spring's /admin.*)", "/admin.tar.gz", true},
	{"extension: upper case", "/ADMIN.json", true},
	{"extension: /public.json under / (one policy either way)", "/public.json", false},
	{"extension: below a route", "/admin/users.json", false},
	{"extension: a file under /", "/index.html", false},
	{"extension: a dot file under /", "/.well-known", false},
	{"extension: /api.json (another policy) from /", "/api.json", true},
	{"extension: /apix.json is not /api", "/apix.json", false},
	{"extension: decoded", "/admin%2ejson", true},
	{"extension: only the last segment", "/admin.d/x", false},
	{"PATH_INFO: /index.php/admin is /admin to a PHP front controller", "/index.php/admin", true},
	{"PATH_INFO: /index.php/public under / either way", "/index.php/public/x", false},
	{"PATH_INFO: a front controller in a folder", "/public/index.php/admin", false},
	{"PATH_INFO: a CGI script", "/app.cgi/admin/x", true},
	{"PATH_INFO: a CGI script in a folder: its PATH_INFO is under the folder", "/cgi-bin/app.cgi/admin/x", false},
	{"PATH_INFO: the script alone", "/index.php", false},
	{"PATH_INFO: encoded slash after the script", "/index.php%2fadmin", true},
	{"PATH_INFO: trailing dot on the script (Windows)", "/index.php./admin", true},
	{"PATH_INFO: a script below /admin", "/admin/index.php/x", false},
	{"PATH_INFO: no script: a directory named like one", "/x.phpx/admin", false},
	{"PATH_INFO: PHP 5 and 7 handlers (Debian's .ph(p[345]?|t|tml), cPanel's .php7)", "/index.php5/admin", true},
	{"PATH_INFO: .php7", "/index.php7/admin", true},
	{"PATH_INFO: .pht", "/x.PHT/admin", true},
	{"PATH_INFO: .php3 in a folder: under the folder", "/public/x.php3/admin", false},
	{"PATH_INFO: .phps shows source, runs nothing", "/x.phps/admin", false},
	{"backslash: encoded", `/public%5c..%5cadmin`, true},
	{"backslash: raw (escaped as %5C)", `/public%5C..%5Cadmin`, true},
	{"backslash: below a route", `/admin/a%5Cb`, false},
	{"backslash: \\ as a separator under /", `/x%5cadmin`, false},
	{"query: a decoded ? ends the path for the next hop", "/admin%3Fx", true},
	{"query: a decoded # too", "/admin%23x", true},
	{"query: below a route", "/public/a%3Fb%23c", false},
	{"encoded slash: splits for the gateway, not for Envoy", "/admin%2fx", true},
	{"encoded slash: below a route", "/admin/a%2Fb", false},
	{"encoded slash: climbs with dots decoded twice", "/public/%252e%252e/admin", true},
	{"slashes: //admin not merged upstream", "//admin", true},
	{"slashes: /admin//x", "/admin//x", false},
	{"slashes: //x under /", "//x", false},
	{"authority: //x/admin is /admin on host x to a URL parser (Node's new URL)", "//x/admin", true},
	{"authority: ///x/admin too (WHATWG skips every slash)", "///x/admin/y", true},
	{"authority: //x/public under / (one policy either way)", "//x/public", false},
	{"authority: //x/nocsrf under /public is / either way", "/public//x/admin", false},
	{"combination: params then case", "/ADMIN;x", true},
	{"combination: double decoding then params", "/public/..%253b/admin", true},
	{"combination: decoding, backslash, params", "/public%5c..;%5cadmin", true},
	{"combination: trim then dots", "/public/..%20/admin", true},
	{"ordinary path", "/public/x", false},
	{"ordinary path with upper case under /", "/Docs/Index", false},
}

func TestPathAmbiguous(t *testing.T) {
	c := normalizeRoutes()
	for _, tt := range pathCases {
		u, err := url.ParseRequestURI(tt.raw)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if hasDotSegments(u.Path) {
			t.Fatalf("%s: %q has dot segments: path-invalid, not a path-ambiguous case", tt.name, tt.raw)
		}
		want := c.findRoute("", u.Path)
		if got := c.pathAmbiguous("", u.EscapedPath(), want); got != tt.ambiguous {
			t.Errorf("%s: pathAmbiguous(%q) (gateway route %s): got %v, want %v", tt.name, tt.raw, want.name, got, tt.ambiguous)
		}
	}
}

// TestPathAmbiguousHost: readings are looked up on the request's host.
func TestPathAmbiguousHost(t *testing.T) {
	c := normalizeRoutes()
	for _, p := range []string{"/admin;x", "/ADMIN", "/x%2fy"} {
		want := c.findRoute("admin.example", p)
		if c.pathAmbiguous("admin.example", p, want) {
			t.Errorf("%q on admin.example (one route): ambiguous", p)
		}
	}
}

// TestPathAmbiguousNamedFile: a route whose prefix names a file
// ("/robots.txt") serves it; readings without the extension are not
// another route's.
func TestPathAmbiguousNamedFile(t *testing.T) {
	c := &compiled{routes: []*route{
		{name: "admin", prefix: "/admin", policy: policyAdmin},
		{name: "robots", prefix: "/robots.txt", policy: policyOpen},
		{name: "v1.2-admin", prefix: "/api/v1.2/admin", policy: policyAdmin},
		{name: "v1.2", prefix: "/api/v1.2", policy: policyOpen},
		{name: "root", prefix: "/", policy: policyAPI},
	}}
	for _, tt := range []struct {
		path      string
		ambiguous bool
	}{
		{"/robots.txt", false},
		{"/robots.txt/", false},
		{"/robots.json", false}, // under / either way
		{"/admin.txt", true},
		// Below a prefix that names a file, the last segment's
		// extension is the request's, not the operator's.
		{"/api/v1.2", false},
		{"/api/v1.2/", false},
		{"/api/v1.2/users.json", false},
		{"/api/v1.2/admin/users.json", false},
		{"/api/v1.2/admin.json", true},
		{"/api/v1.2/admin.json/", true},
		{"/api/v1.2/admin.json;x", true},
		{"/api/v1.2/admin%2ejson", true},
	} {
		want := c.findRoute("", tt.path)
		if got := c.pathAmbiguous("", tt.path, want); got != tt.ambiguous {
			t.Errorf("%q (gateway route %s): got %v, want %v", tt.path, want.name, got, tt.ambiguous)
		}
	}
}

// TestPathAmbiguousNoRoute: a reading that leaves every route is another
// policy ("/public/..;/internal" to a Tomcat whose /internal the gateway
// does not route).
func TestPathAmbiguousNoRoute(t *testing.T) {
	c := &compiled{routes: []*route{{name: "public", prefix: "/public"}}}
	want := c.findRoute("", "/public/..;/internal")
	if !c.pathAmbiguous("", "/public/..;/internal", want) {
		t.Errorf("/public/..;/internal: not ambiguous")
	}
	if c.pathAmbiguous("", "/public/x;y", want) {
		t.Errorf("/public/x;y: ambiguous")
	}
}

func TestPathAmbiguousLimits(t *testing.T) {
	c := normalizeRoutes()
	long := "/public/" + strings.Repeat("a%20", maxCheckedPathBytes/4)
	if !c.pathAmbiguous("", long, c.routes[2]) {
		t.Errorf("a %d-byte path needing readings: not refused", len(long))
	}
	plain := "/public/" + strings.Repeat("a", maxCheckedPathBytes)
	if c.pathAmbiguous("", plain, c.routes[2]) {
		t.Errorf("a %d-byte ordinary path: refused", len(plain))
	}
	// Layered encodings multiply the forms; past maxReadings, refused.
	if _, ok := pathReadings("/a%253b%255c%2500%2520;x/" + strings.Repeat(`..;\%5c%252e.`, 4)); ok {
		t.Logf("layered encodings stayed under %d forms", maxReadings)
	}
}

// TestPathAmbiguousAllocs: an ordinary path, upper case or not, costs no
// allocation.
func TestPathAmbiguousAllocs(t *testing.T) {
	c := normalizeRoutes()
	for _, p := range []string{"/public/x/y.css", "/Docs/Index.HTML", "/admin/Users/42"} {
		want := c.findRoute("", p)
		if n := testing.AllocsPerRun(100, func() { c.pathAmbiguous("", p, want) }); n != 0 {
			t.Errorf("%q: %v allocations, want 0", p, n)
		}
	}
}

func TestPathReadings(t *testing.T) {
	forms, ok := pathReadings("/public/..;/ADMIN%252e")
	if !ok {
		t.Fatal("too many forms")
	}
	want := []string{"/public/../ADMIN%252e", "/public/..;/ADMIN%2e", "/public/../ADMIN%2e", "/public/../ADMIN."}
	for _, w := range want {
		found := false
		for _, f := range forms {
			found = found || f == w
		}
		if !found {
			t.Errorf("forms %q: missing %q", forms, w)
		}
	}
}

// hostCases: issue 11's Host divergences, each refused case beside its
// allowed twin; host is the routing form of a valid one.
var hostCases = []struct {
	name, in, host string
	valid          bool
}{
	{"name", "admin.example", "admin.example", true},
	{"name and port", "admin.example:443", "admin.example", true},
	{"upper case", "Admin.EXAMPLE:8443", "admin.example", true},
	{"trailing dot", "admin.example.", "admin.example", true},
	{"trailing dot and port", "admin.example.:443", "admin.example", true},
	{"two trailing dots", "admin.example..", "", false},
	{"two trailing dots and port", "admin.example..:443", "", false},
	{"empty label", "admin..example", "", false},
	{"leading dot", ".admin.example", "", false},
	{"only a dot", ".", "", false},
	{"two ports", "admin.example:443:1", "", false},
	{"letter in port", "admin.example:44a", "", false},
	{"empty port", "admin.example:", "", false},
	{"port zero", "admin.example:0", "", false},
	{"port with leading zero", "admin.example:0443", "", false},
	{"port above 65535", "admin.example:65536", "", false},
	{"largest port", "admin.example:65535", "admin.example", true},
	{"space", "admin.example evil", "", false},
	{"at sign", "evil@admin.example", "", false},
	{"comma list", "admin.example,evil.example", "", false},
	{"backslash", `admin.example\evil`, "", false},
	{"slash", "admin.example/x", "", false},
	{"percent", "adm%69n.example", "", false},
	{"underscore label", "my_host.internal", "my_host.internal", true},
	{"hyphen", "a-b.example", "a-b.example", true},
	{"label of 63", strings.Repeat("a", 63) + ".example", strings.Repeat("a", 63) + ".example", true},
	{"label of 64", strings.Repeat("a", 64) + ".example", "", false},
	{"name of 254", strings.Repeat("a.", 126) + "aa", "", false},
	{"name of 253 and a trailing dot", strings.Repeat("a.", 127), strings.Repeat("a.", 126) + "a", true},
	{"non-ASCII", "café.example", "", false},
	{"empty", "", "", false},
	{"IPv4", "127.0.0.1", "127.0.0.1", true},
	{"IPv4 and port", "127.0.0.1:8443", "127.0.0.1", true},
	{"IPv4 with trailing dot", "127.0.0.1.", "127.0.0.1", true},
	{"IPv4 shorthand", "127.1", "", false},
	{"IPv4 hex", "0x7f.0.0.1", "", false},
	{"IPv4 octal", "0177.0.0.1", "", false},
	{"IPv4 decimal", "2130706433", "", false},
	{"IPv4 out of range", "256.0.0.1", "", false},
	{"name ending in hex", "admin.0x1", "", false},
	{"name with digits, not last", "1.example", "1.example", true},
	{"IPv6", "[::1]", "::1", true},
	{"IPv6 and port", "[::1]:8443", "::1", true},
	{"IPv6 upper case", "[2001:DB8::1]", "2001:db8::1", true},
	{"IPv6 not canonical", "[::0001]", "", false},
	{"IPv6 zone", "[fe80::1%25eth0]", "", false},
	{"IPv6 without brackets", "::1", "", false},
	{"IPv4 in brackets", "[127.0.0.1]", "", false},
	{"IPv6 unclosed", "[::1", "", false},
	{"IPv6 and junk", "[::1]x", "", false},
	{"IPv6 two ports", "[::1]:1:2", "", false},
}

func TestParseHost(t *testing.T) {
	for _, tt := range hostCases {
		host, why := parseHost(tt.in)
		if (why == "") != tt.valid {
			t.Errorf("%s: parseHost(%q): why %q, want valid %v", tt.name, tt.in, why, tt.valid)
			continue
		}
		if tt.valid && host != tt.host {
			t.Errorf("%s: parseHost(%q): got %q, want %q", tt.name, tt.in, host, tt.host)
		}
	}
}

func TestParseHostAllocs(t *testing.T) {
	for _, h := range []string{"admin.example", "admin.example:8443", "[::1]:8443", "127.0.0.1"} {
		if n := testing.AllocsPerRun(100, func() { parseHost(h) }); n != 0 {
			t.Errorf("%q: %v allocations, want 0", h, n)
		}
	}
}

// FuzzPathReadings: never a panic, and a path that pathAmbiguous accepts
// selects a route of the gateway's policy under every reading.
func FuzzPathReadings(f *testing.F) {
	for _, tt := range pathCases {
		f.Add(tt.raw)
	}
	c := normalizeRoutes()
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.ParseRequestURI(raw)
		if err != nil || !strings.HasPrefix(raw, "/") || hasDotSegments(u.Path) {
			return
		}
		escaped := u.EscapedPath()
		want := c.findRoute("", u.Path)
		if want == nil {
			return
		}
		if c.pathAmbiguous("", escaped, want) {
			return
		}
		forms, ok := pathReadings(escaped)
		if !ok {
			t.Fatalf("%q accepted with too many forms", escaped)
		}
		for _, f := range forms {
			for _, m := range routerModes {
				segs := m.segments(nil, f, decodeAll(f))
				for _, fold := range []bool{false, true} {
					if rt := c.lookupSegments("", segs, fold); rt == nil || rt.policy != want.policy {
						t.Fatalf("%q accepted for route %s, but form %q read by %+v (fold %v) is %v", escaped, want.name, f, m, fold, rt)
					}
				}
			}
		}
		// Upstreams emulated independently of pathReadings, with net/url
		// and path: each must agree too.
		for _, emu := range upstreamEmulations {
			if p, fold, ok := emu.read(escaped); ok {
				if rt := c.findRouteFold(p, fold, emu.escaped); rt == nil || rt.policy != want.policy {
					t.Fatalf("%q accepted for route %s, but %s reads %q: route %v", escaped, want.name, emu.name, p, rt)
				}
			}
		}
		// The gateway's own reading is one of them.
		if rt := c.lookupSegments("", routerModes[len(routerModes)-1].segments(nil, escaped, decodeAll(escaped)), false); rt != want {
			t.Fatalf("%q: the gateway's reading gives %v, findRoute %v", escaped, rt, want)
		}
	})
}

// FuzzParseHost: never a panic, and a Host parseHost accepts is
// host[:port] with an RFC 3986 reg-name of DNS labels or an IP literal,
// whose routing form net/url and net/netip agree with.
func FuzzParseHost(f *testing.F) {
	for _, tt := range hostCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		host, why := parseHost(in)
		if why != "" {
			return
		}
		u, err := url.Parse("http://" + in + "/")
		if err != nil {
			t.Fatalf("%q accepted, but net/url: %v", in, err)
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != p {
				t.Fatalf("%q accepted with port %q", in, p)
			}
		} else if strings.HasSuffix(u.Host, ":") {
			t.Fatalf("%q accepted with an empty port", in)
		}
		name := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
		if name != host {
			t.Fatalf("%q: routing form %q, net/url's host %q", in, host, name)
		}
		if a, err := netip.ParseAddr(host); err == nil {
			if a.String() != host || a.Zone() != "" {
				t.Fatalf("%q: address %q not canonical", in, host)
			}
			if a.Is6() != strings.HasPrefix(in, "[") {
				t.Fatalf("%q: IPv6 without brackets or IPv4 within", in)
			}
			return
		}
		if strings.HasPrefix(in, "[") {
			t.Fatalf("%q: brackets around a name", in)
		}
		for label := range strings.SplitSeq(host, ".") {
			if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
				t.Fatalf("%q: label %q", in, label)
			}
		}
		if endsInNumber(host[strings.LastIndexByte(host, '.')+1:]) {
			t.Fatalf("%q: a name ending in a number", in)
		}
	})
}

// BenchmarkRequestChecks: the Host and path checks of one request, on
// the routes of the path tables.
//
//	go test -run '^$' -bench BenchmarkRequestChecks -benchmem ./gateway
func BenchmarkRequestChecks(b *testing.B) {
	c := normalizeRoutes()
	for _, p := range []string{"/admin/users/42", "/Admin/Users/42", "/public/a%20b", "/app;jsessionid=ABC", "/public/..;/admin"} {
		b.Run(strings.NewReplacer("/", "_").Replace(p), func(b *testing.B) {
			u, _ := url.ParseRequestURI(p)
			b.ReportAllocs()
			for b.Loop() {
				host, _ := parseHost("www.example:8443")
				want := c.findRoute(host, u.Path)
				c.pathAmbiguous(host, u.EscapedPath(), want)
			}
		})
	}
}

// upstreamEmulations read an escaped path as real upstreams do, written
// with net/url and path rather than with normalize.go's helpers, as the
// fuzz target's oracle. read returns the cleaned path the upstream
// routes on, whether it matches case-insensitively, and false when it
// would refuse the path.
var upstreamEmulations = []struct {
	name string
	// read returns the path the upstream routes on; escaped: it compares
	// it with the prefix as browsers encode it.
	read    func(escaped string) (p string, fold, ok bool)
	escaped bool
}{
	{"Tomcat (;params removed, then decoded, then normalised)", func(e string) (string, bool, bool) {
		var segs []string
		for seg := range strings.SplitSeq(e, "/") {
			seg, _, _ = strings.Cut(seg, ";")
			segs = append(segs, seg)
		}
		p, err := url.PathUnescape(strings.Join(segs, "/"))
		return path.Clean("/" + p), false, err == nil
	}, false},
	{"IIS (decoded, backslash as slash, trailing dots and spaces trimmed, case-insensitive)", func(e string) (string, bool, bool) {
		p, err := url.PathUnescape(e)
		if err != nil {
			return "", false, false
		}
		p = strings.ReplaceAll(p, `\`, "/")
		var segs []string
		for seg := range strings.SplitSeq(p, "/") {
			if seg != "." && seg != ".." {
				seg = strings.TrimRight(seg, ". ")
			}
			segs = append(segs, seg)
		}
		return path.Clean("/" + strings.Join(segs, "/")), true, true
	}, false},
	{"Rails (decoded, trailing slash dropped, \"(.:format)\" after the last segment)", func(e string) (string, bool, bool) {
		p, err := url.PathUnescape(e)
		if err != nil {
			return "", false, false
		}
		p = strings.TrimRight(path.Clean("/"+p), "/")
		dir, last := path.Split(p)
		if i := strings.IndexByte(last, '.'); i > 0 {
			last = last[:i]
		}
		return path.Clean("/" + dir + last), false, true
	}, false},
	{"double decoding", func(e string) (string, bool, bool) {
		p, err := url.PathUnescape(e)
		if err == nil {
			p, err = url.PathUnescape(p)
		}
		return path.Clean("/" + p), false, err == nil
	}, false},
	{"C string (cut at NUL)", func(e string) (string, bool, bool) {
		p, err := url.PathUnescape(e)
		p, _, _ = strings.Cut(p, "\x00")
		return path.Clean("/" + p), false, err == nil
	}, false},
	{"URL reference (net/url.Parse of the target, as new URL(req.url, base) and urlsplit read it)", func(e string) (string, bool, bool) {
		u, err := url.Parse(e)
		if err != nil {
			return "", false, false
		}
		return path.Clean("/" + u.Path), false, true
	}, false},
	{"Envoy (not decoded, slashes kept)", func(e string) (string, bool, bool) {
		return e, false, true
	}, true},
}

// findRouteFold is route.matches over the routes, the prefix compared
// case-insensitively when fold is set (by lower-casing both), and
// percent-encoded as by browsers when escaped is.
func (c *compiled) findRouteFold(p string, fold, escaped bool) *route {
	for _, r := range c.routes {
		rr := route{host: r.host, prefix: r.prefix} // what matches reads
		q := p
		if escaped {
			rr.prefix = (&url.URL{Path: r.prefix}).EscapedPath()
		}
		if fold {
			rr.prefix, q = strings.ToLower(rr.prefix), strings.ToLower(p)
		}
		if rr.matches("", q) {
			return r
		}
	}
	return nil
}
