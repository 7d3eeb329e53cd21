package gateway

import (
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// One meaning per request: the gateway authorizes by route, so a request
// whose path or Host a common upstream reads as another route's is
// refused before routing (issue 11). The principle and the list of
// readings are in docs/security-model.md, "Request normalisation"; keep
// them in step with this file.

// maxCheckedPathBytes bounds the escaped paths whose readings are
// computed: longer ones that need more than the gateway's own reading are
// refused (path-ambiguous). Computing the readings costs a few copies of
// the path each; nginx, Tomcat and Apache refuse request lines beyond
// 8 KiB anyway.
const maxCheckedPathBytes = 16 << 10

// maxReadings bounds the distinct forms of one path (see pathReadings);
// more is only possible with layered encodings no client sends, and is
// refused: failing closed costs nothing real.
const maxReadings = 64

// maxWireDecodes is how many times a hop in front of the router may
// percent-decode the path (the router decodes once more): /%252561dmin
// is /admin to an upstream stack that decodes three times.
const maxWireDecodes = 2

// pathAmbiguous reports whether escaped, a request path as the upstream
// will receive it (URL.EscapedPath), selects on host a route of a policy
// other than want's under any reading listed in pathReadings. want is the
// route of the gateway's own reading (findRoute), never nil. An ordinary
// path (no ';', '%', '\\', "//", segment ending in '.', script segment
// followed by more path (isScript), upper case) has
// one reading and costs one scan, without allocating; upper case costs
// one case-insensitive lookup more, an extension in the last segment
// ("/admin.json", read as "/admin" by Rails and Spring) one lookup more.
func (c *compiled) pathAmbiguous(host, escaped string, want *route) bool {
	slow, upper := false, false
	dot := -1  // the first '.' of the last segment, not its first byte
	start := 0 // of the segment
	for i := 0; i < len(escaped); i++ {
		switch b := escaped[i]; {
		case b == ';' || b == '%' || b == '\\':
			slow = true
		case b == '/':
			slow = slow || i+1 < len(escaped) && escaped[i+1] == '/' || i > 0 && isScript(escaped[start:i])
			start = i + 1
			if i+1 < len(escaped) {
				dot = -1 // a trailing '/' keeps the segment's extension
			}
		case b == '.':
			slow = slow || i+1 == len(escaped) || escaped[i+1] == '/'
			if dot < 0 && i > 0 && escaped[i-1] != '/' {
				dot = i
			}
		case 'A' <= b && b <= 'Z':
			upper = true
		}
		if slow {
			break
		}
	}
	if !slow {
		// Format extensions (Rails, Spring's suffix patterns):
		// "/admin.json" is "/admin".
		if dot > 0 && !namedExtension(want.prefix, escaped) {
			cut := escaped[:dot]
			if !samePolicy(c.findRoute(host, cut), want) || (upper || c.foldPrefixes) && !samePolicy(c.lookupFold(host, cut), want) {
				return true
			}
		}
		if !upper && !c.foldPrefixes {
			return false
		}
		// Case-insensitive routers (IIS, Spring with
		// setCaseSensitive(false), Express by default): "/ADMIN" is
		// "/admin", and "/admin" is a route's "/Admin".
		return !samePolicy(c.lookupFold(host, escaped), want)
	}
	if len(escaped) > maxCheckedPathBytes {
		return true
	}
	forms, ok := pathReadings(escaped)
	if !ok {
		return true
	}
	// The router's own reading of a format extension, on every form.
	for _, f := range forms {
		if g := cutExtension(f); g != f && !namedExtension(want.prefix, f) && !slices.Contains(forms, g) {
			forms = append(forms, g)
		}
	}
	// A form that starts with an authority ("//admin.example/x") is on
	// that authority's host to the parsers that cut it (cutAuthority):
	// Node's new URL(req.url, base).hostname is admin.example, whatever
	// the Host. Every form is read under those hosts too.
	hosts := append(make([]string, 0, 2), host)
	for _, f := range forms {
		var ok bool
		if hosts, ok = authorityHosts(hosts, f); !ok {
			return true
		}
	}
	var segs, prev []string
	for _, f := range forms {
		fold, decoded := c.foldPrefixes || needsFold(f), decodeAll(f)
		for i, m := range routerModes {
			segs = m.segments(segs[:0], f, decoded)
			if i > 0 && slices.Equal(segs, prev) {
				continue // modes that differ on nothing in f
			}
			for _, h := range hosts {
				if !samePolicy(c.lookupSegments(h, segs, false), want) ||
					fold && !samePolicy(c.lookupSegments(h, segs, true), want) {
					return true
				}
			}
			segs, prev = prev, segs
		}
	}
	return false
}

// maxAuthorityHosts bounds the hosts pathAmbiguous reads a path under:
// each multiplies its work, and no request of a real client names more
// than its Host and one authority.
const maxAuthorityHosts = 4

// authorityHosts appends to hosts (without repeating one) the host that
// f's authority names when cutAuthority reads one: what WHATWG's parser
// takes as the host (after the last '@', up to a ':', percent-decoded),
// in parseHost's form. ok is false when that host could be any host
// (parseHost refuses it: non-ASCII, which WHATWG maps by IDNA, so
// "ａｄｍｉｎ.example" is admin.example; a number; an empty port), or
// when there would be more than maxAuthorityHosts: the path is then
// ambiguous.
func authorityHosts(hosts []string, f string) (_ []string, ok bool) {
	if cutAuthority(f) == f {
		return hosts, true
	}
	a := strings.TrimLeft(f, `/\`)
	if i := strings.IndexAny(a, `/\?#`); i >= 0 {
		a = a[:i]
	}
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		a = a[i+1:]
	}
	if a == "" {
		return hosts, true // no host: WHATWG refuses the URL
	}
	h, why := parseHost(decodeAll(a))
	if why != "" {
		return hosts, false
	}
	if !slices.Contains(hosts, h) {
		hosts = append(hosts, h)
	}
	return hosts, len(hosts) <= maxAuthorityHosts
}

// needsFold reports whether a case-insensitive lookup of p could differ
// from the exact one: p has upper case or bytes that are not ASCII
// (strings.EqualFold folds "\u212a", the Kelvin sign, to "k") or percent
// escapes that decode to either.
func needsFold(p string) bool {
	for i := 0; i < len(p); i++ {
		if b := p[i]; 'A' <= b && b <= 'Z' || b >= 0x80 || b == '%' {
			return true
		}
	}
	return false
}

// samePolicy reports whether a route chosen by another reading
// authorizes like want: the same route, or one whose settings other than
// name, host, path prefix and upstream are the same (route.policy). No
// route (nil) is another policy: "/public/..;/internal" must not reach a
// Tomcat's /internal because the gateway has no route for it.
func samePolicy(rt, want *route) bool {
	return rt != nil && rt.policy == want.policy
}

// pathReadings returns the forms an escaped path takes after the hops an
// upstream stack may put in front of its router, applied in any order and
// combination (a Tomcat behind IIS): percent-decoding once more (at most
// maxWireDecodes times), removing ";params" from each segment
// (Tomcat, Jetty, Spring: the "..;" bypass), reading '\' as '/' (IIS,
// Windows, some Node and Python routers) and trimming each segment's
// trailing dots, spaces and control characters and cutting at NUL
// (Windows file names, C strings), and cutting at a '?' or '#' that a
// decoding revealed (a hop that forwards the decoded path, whose next
// hop parses it as a URL again: "/admin%3Fx"), and reading a leading
// "//" as the start of an authority (URL parsers given the target as a
// reference, such as Node's new URL(req.url, base): "//x/admin" is
// "/admin" on host x), and removing a segment that names a script
// followed by more path (PHP and CGI servers pass the rest as
// PATH_INFO, see dropScripts). The first form is escaped itself. ok is
// false when there would be more than maxReadings forms.
func pathReadings(escaped string) (forms []string, ok bool) {
	// decodes[i] is the fewest decodes that reach forms[i]; forms[next:]
	// are still to transform.
	forms = append(make([]string, 0, 8), escaped)
	decodes := append(make([]int, 0, 8), 0)
	for next := 0; next < len(forms); next++ {
		s, d := forms[next], decodes[next]
		out := [...]string{stripParams(s), backslashToSlash(s), trimSegments(s), cutQuery(s), cutAuthority(s), dropScripts(s), ""}
		const decoded = len(out) - 1
		if d < maxWireDecodes {
			out[decoded] = decodeAll(s)
		}
		for i, n := range out {
			if n == "" || n == s {
				continue
			}
			nd := d
			if i == decoded {
				nd++
			}
			if j := slices.Index(forms, n); j >= 0 {
				if decodes[j] > nd {
					// Reached with fewer decodes: transform it again,
					// it may decode once more now.
					if len(forms) == maxReadings {
						return nil, false
					}
					decodes[j] = nd
					forms = append(forms, n)
					decodes = append(decodes, nd)
				}
				continue
			}
			if len(forms) == maxReadings {
				return nil, false
			}
			forms = append(forms, n)
			decodes = append(decodes, nd)
		}
	}
	return forms, true
}

// routerMode is how a router turns a (wire) path into segments.
type routerMode struct {
	// decode: the router's own decoding, applied after splitting at '/'
	// unless splitDecoded.
	decode       decodeMode
	splitDecoded bool // %2F is a separator (Go's URL.Path, the gateway)
	merge        bool // empty segments dropped ("//admin" is "/admin")
	resolve      bool // "." and ".." resolved
}

type decodeMode int

const (
	decodeNone     decodeMode = iota // only %XX above 0x7F (UTF-8) decoded (decodeNonASCII): Envoy without normalize_path
	decodeSegments                   // each segment decoded, %2F kept in it: Go's ServeMux, Envoy's KEEP_UNCHANGED
)

// routerModes are the routers of the readings. Case folding is the
// lookup's business (lookupSegments).
var routerModes = func() []routerMode {
	var ms []routerMode
	for _, m := range []routerMode{{decode: decodeNone}, {decode: decodeSegments}, {splitDecoded: true}} {
		for _, merge := range []bool{false, true} {
			for _, resolve := range []bool{false, true} {
				m.merge, m.resolve = merge, resolve
				ms = append(ms, m)
			}
		}
	}
	return ms
}()

// segments appends to dst the segments of the wire path p as m reads it;
// decoded is decodeAll(p).
func (m routerMode) segments(dst []string, p, decoded string) []string {
	if m.splitDecoded {
		p = decoded
	}
	p = strings.TrimPrefix(p, "/")
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case m.splitDecoded:
		case m.decode == decodeSegments:
			seg = decodeAll(seg)
		default:
			seg = decodeNonASCII(seg)
		}
		switch {
		case seg == "" && m.merge:
			continue
		case seg == "." && m.resolve:
			continue
		case seg == ".." && m.resolve:
			if len(dst) > 0 {
				dst = dst[:len(dst)-1]
			}
			continue
		}
		dst = append(dst, seg)
	}
	return dst
}

// lookupSegments is findRoute for a path given as segments, its prefixes
// compared case-insensitively when fold is set.
func (c *compiled) lookupSegments(host string, segs []string, fold bool) *route {
	for _, r := range c.routes {
		if r.host != "" && r.host != host {
			continue
		}
		if prefixMatches(r.prefix, segs, fold) {
			return r
		}
	}
	return nil
}

// prefixMatches reports whether a route prefix ("/" or "/a/b") covers
// segs.
func prefixMatches(prefix string, segs []string, fold bool) bool {
	rest := prefix[1:]
	for i := 0; rest != ""; i++ {
		if i == len(segs) {
			return false
		}
		want, tail, _ := strings.Cut(rest, "/")
		if segs[i] != want && (!fold || !foldEqual(segs[i], want)) {
			return false
		}
		rest = tail
	}
	return true
}

// foldEqual reports whether a and b are one name to a router that
// compares without case: strings.EqualFold (Unicode simple folding: the
// Kelvin sign is "k"), or the same rune by rune once upper-cased, or
// once lower-cased, or once upper-cased in full. The others are what
// EqualFold leaves out: Java's equalsIgnoreCase and regionMatches
// (Spring's PathPattern without case sensitivity) and Python's
// re.IGNORECASE read "ı" (U+0131) and "İ" (U+0130) as "i", as does a
// router that upper-cases the path in JavaScript, Python or Ruby
// ("/admın" is "/ADMIN"), whose upper case is also the full one: "/conﬁg"
// is "/CONFIG" (upperExpansions).
func foldEqual(a, b string) bool {
	if strings.EqualFold(a, b) || runesFoldEqual(a, b) {
		return true
	}
	if ea, eb := expandUpper(a), expandUpper(b); ea != a || eb != b {
		return strings.EqualFold(ea, eb) || runesFoldEqual(ea, eb)
	}
	return false
}

// upperExpansions are the letters whose full upper case (Unicode's
// SpecialCasing.txt, as JavaScript's toUpperCase, Python's upper and
// Ruby's upcase apply it) is two or three ASCII letters: what a route
// prefix can be spelt with.
var upperExpansions = map[rune]string{
	'ß': "SS", 'ﬀ': "FF", 'ﬁ': "FI", 'ﬂ': "FL", 'ﬃ': "FFI", 'ﬄ': "FFL", 'ﬅ': "ST", 'ﬆ': "ST",
}

// expandUpper returns s with each of upperExpansions' letters replaced
// by its upper case, or s itself when it has none.
func expandUpper(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { _, ok := upperExpansions[r]; return ok }) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if e, ok := upperExpansions[r]; ok {
			b.WriteString(e)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// runesFoldEqual reports whether a and b are the same rune by rune, each
// pair equal, or equal once upper-cased or lower-cased, or folded.
func runesFoldEqual(a, b string) bool {
	for a != "" && b != "" {
		r, n := utf8.DecodeRuneInString(a)
		s, m := utf8.DecodeRuneInString(b)
		a, b = a[n:], b[m:]
		if r != s && unicode.ToUpper(r) != unicode.ToUpper(s) && unicode.ToLower(r) != unicode.ToLower(s) &&
			!strings.EqualFold(string(r), string(s)) {
			return false
		}
	}
	return a == "" && b == ""
}

// lookupFold is findRoute for a path without '%', ';', '\\', "//" or
// dot segments, prefixes compared case-insensitively. It does not
// allocate.
func (c *compiled) lookupFold(host, p string) *route {
	for _, r := range c.routes {
		if r.host != "" && r.host != host {
			continue
		}
		if r.prefix == "/" {
			return r
		}
		if len(p) >= len(r.prefix) && strings.EqualFold(p[:len(r.prefix)], r.prefix) &&
			(len(p) == len(r.prefix) || p[len(r.prefix)] == '/') {
			return r
		}
	}
	return nil
}

// decodeAll percent-decodes every valid %XX of s; other '%' stay.
func decodeAll(s string) string { return decode(s, 0) }

// decodeNonASCII decodes only the %XX above 0x7F (UTF-8 bytes) written
// in upper case: a router that compares encoded paths matches a
// non-ASCII prefix only as browsers encode it ("/caf%C3%A9", not
// "/caf%c3%a9").
func decodeNonASCII(s string) string { return decode(s, 0x80) }

// decode decodes the %XX of s; with min > 0, only those of at least min
// in upper-case hex.
func decode(s string, min byte) string {
	var b []byte // allocated at the first byte decoded
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) &&
			(min == 0 || isupperhex(s[i+1]) && isupperhex(s[i+2])) {
			if v := unhex(s[i+1])<<4 | unhex(s[i+2]); v >= min {
				if b == nil {
					b = append(make([]byte, 0, len(s)), s[:i]...)
				}
				b = append(b, v)
				i += 2
				continue
			}
		}
		if b != nil {
			b = append(b, s[i])
		}
	}
	if b == nil {
		return s
	}
	return string(b)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isupperhex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// stripParams removes ";params" from every segment: "/a;x/..;/b" is
// "/a/../b".
func stripParams(s string) string {
	if !strings.Contains(s, ";") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		i := strings.IndexByte(s, ';')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		if j := strings.IndexByte(s, '/'); j >= 0 {
			s = s[j:]
		} else {
			s = ""
		}
	}
	return b.String()
}

// scriptExts are the extensions of the files that servers run with the
// rest of the path as PATH_INFO (PHP, CGI), which front controllers
// route by: Symfony, Laravel and CodeIgniter read "/index.php/admin" as
// "/admin". Beside .php, PHP handlers still in use run .php3, .php4,
// .php5 and .pht (Debian's PHP 5 Apache configuration), .php7 and
// .php8 (cPanel's EasyApache); .phps only shows a file's source.
var scriptExts = strings.Fields("php php3 php4 php5 php7 php8 pht phtml phar cgi fcgi pl py")

// isScript reports whether a segment names a script (scriptExts, in any
// case).
func isScript(seg string) bool {
	for _, e := range scriptExts {
		if n := len(seg) - len(e); n > 1 && seg[n-1] == '.' && strings.EqualFold(seg[n:], e) {
			return true
		}
	}
	return false
}

// dropScripts removes from s every segment that names a script and is
// followed by more path, as a front controller reads its PATH_INFO:
// "/index.php/admin" is "/admin", "/app/index.php/admin" "/app/admin".
func dropScripts(s string) string {
	segs := strings.Split(s, "/")
	out := segs[:0]
	for i, seg := range segs {
		if i+1 < len(segs) && isScript(seg) {
			continue
		}
		out = append(out, seg)
	}
	if len(out) == len(segs) {
		return s
	}
	return strings.Join(out, "/")
}

// cutAuthority reads a path that starts with "//" as a network-path
// reference (RFC 3986 §4.2), as URL parsers do when an application
// resolves the request target against a base: WHATWG's (Node's
// new URL(req.url, base), Deno, Bun) skips every leading '/' and '\',
// takes what follows up to the next '/', '\', '?' or '#' as the host,
// and keeps the rest as the path ("//x/admin" and "///x/admin" are
// "/admin"; Python's urlsplit, Java's URI and Go's url.Parse read
// "//x/admin" alike). It returns s itself for any other path.
func cutAuthority(s string) string {
	if len(s) < 2 || s[0] != '/' || s[1] != '/' && s[1] != '\\' {
		return s
	}
	rest := strings.TrimLeft(s, `/\`)
	i := strings.IndexAny(rest, `/\?#`)
	if i < 0 || rest[i] == '?' || rest[i] == '#' {
		return "/"
	}
	return rest[i:]
}

// cutExtension removes the format extension of the last segment of s,
// from its first '.' after the segment's first byte, as routers
// that route "/admin(.:format)" (Rails) or "/admin.*" (Spring MVC's
// suffix patterns) read it: "/admin.json" and "/admin.json/" are
// "/admin". It returns s itself when the last segment has none.
func cutExtension(s string) string {
	end := len(s)
	for end > 0 && s[end-1] == '/' {
		end--
	}
	start := strings.LastIndexByte(s[:end], '/') + 1
	if start < end {
		if i := strings.IndexByte(s[start+1:end], '.'); i >= 0 {
			return s[:start+1+i]
		}
	}
	return s
}

// namesFile reports whether a route prefix's last segment has a '.'
// ("/robots.txt", "/api/v1.2").
func namesFile(prefix string) bool {
	return strings.IndexByte(prefix[strings.LastIndexByte(prefix, '/')+1:], '.') > 0
}

// namedExtension reports whether the last segment of p (trailing '/'
// aside) is the last segment of prefix, a prefix that names a file: the
// operator named that extension, and p is not read without it. Below
// such a prefix ("/api/v1.2/admin.json") the extension is the request's.
func namedExtension(prefix, p string) bool {
	return namesFile(prefix) && strings.Count(strings.TrimRight(p, "/"), "/") <= strings.Count(prefix, "/")
}

// cutQuery cuts s at its first '?' or '#'.
func cutQuery(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}

func backslashToSlash(s string) string { return strings.ReplaceAll(s, `\`, "/") }

// trimmed are the bytes Windows and string-trimming routers drop from
// the end of a segment.
const trimmed = ". \t\r\n\v\f"

// trimSegments cuts s at its first NUL and trims trailing dots, spaces
// and control characters from every segment ("a. " is "a", ".. " is
// "..").
func trimSegments(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	} else if !endsTrimmable(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; ; i++ {
		seg, rest, more := strings.Cut(s, "/")
		// ".. " is ".." to Windows, not "": dots go only after a name.
		if t := strings.TrimRight(seg, trimmed[1:]); t == "." || t == ".." {
			seg = t
		} else {
			seg = strings.TrimRight(seg, trimmed)
		}
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(seg)
		if !more {
			return b.String()
		}
		s = rest
	}
}

// endsTrimmable reports whether a segment of s ends in a byte of
// trimmed.
func endsTrimmable(s string) bool {
	for i := 0; i < len(s); i++ {
		if (i+1 == len(s) || s[i+1] == '/') && strings.IndexByte(trimmed, s[i]) >= 0 {
			return true
		}
	}
	return false
}

// maxHostBytes is the longest name in DNS (253 characters without the
// root's trailing dot).
const maxHostBytes = 253

// parseHost checks that h, a request's Host (or :authority), is
// host[:port] as RFC 3986 and RFC 9110 define it, narrowed so that no
// common parser reads it as another host: a DNS name (labels of letters,
// digits, '-' and '_', 1 to 63 bytes each, at most one trailing dot), a
// dotted-quad IPv4 address in canonical form, or a bracketed IPv6 address
// in canonical form without zone; then at most one ":port" of 1 to 5
// digits in 1-65535 without leading zero. host is h's routing form: lower
// case, no port, brackets or trailing dot. why is empty when h is valid,
// else says what is wrong. It does not allocate for a lower-case h.
func parseHost(h string) (host, why string) {
	if h == "" {
		return "", "the request has no Host"
	}
	name, port := h, ""
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", "'[' without ']'"
		}
		name, port = h[1:end], h[end+1:]
		if port != "" && port[0] != ':' {
			return "", "bytes after ']' that are not a port"
		}
		a, err := netip.ParseAddr(name)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", "not an IPv6 address between '[' and ']'"
		}
		var buf [64]byte
		if !strings.EqualFold(string(a.AppendTo(buf[:0])), name) {
			return "", "an IPv6 address not in canonical form (RFC 5952)"
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i:]
	}
	if port != "" {
		p := port[1:]
		if p == "" || len(p) > 5 || p[0] == '0' {
			return "", "an empty port, a port with a leading zero or too long"
		}
		n := 0
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return "", "a port that is not only digits (or more than one port)"
			}
			n = n*10 + int(p[i]-'0')
		}
		if n > 65535 {
			return "", "a port above 65535"
		}
	}
	if h[0] == '[' {
		return strings.ToLower(name), ""
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > maxHostBytes {
		return "", "an empty or too long host name"
	}
	last := name
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return "", "an empty label (\"..\") or a label longer than 63 bytes"
		}
		for i := 0; i < len(label); i++ {
			if b := label[i]; !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
				return "", "a byte that is not a letter, digit, '-', '_' or '.'"
			}
		}
		last = label
	}
	// A name ending in a number is an IPv4 address to URL parsers
	// (WHATWG) and inet_aton, which accept 127.1, 0x7f.1 and 0177.0.0.1:
	// only the canonical dotted quad has one reading.
	if endsInNumber(last) {
		if a, err := netip.ParseAddr(name); err != nil || !a.Is4() {
			return "", "a name ending in a number that is not a dotted-quad IPv4 address"
		}
	}
	return strings.ToLower(name), ""
}

// endsInNumber reports whether a last label reads as a number to the
// WHATWG URL host parser: decimal digits, or "0x" and hex digits.
func endsInNumber(label string) bool {
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		for i := 2; i < len(label); i++ {
			if !ishex(label[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(label); i++ {
		if label[i] < '0' || label[i] > '9' {
			return false
		}
	}
	return true
}
