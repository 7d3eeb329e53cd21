package gateway_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// normalizeWorld is issue 11's setup: /admin and the admin.example host
// for the admin certificate only, everything else (/, /public, and
// /nocsrf without CSRF checks) for any verified certificate, all
// forwarded to a raw upstream that records the bytes it receives.
func normalizeWorld(t *testing.T) (*world, *gateway.Gateway, *running, *recorded, *logBuffer) {
	t.Helper()
	w := newWorld(t)
	u := &recorded{newRawUpstream(t, respondOK), 0}
	admin := gateway.Allow{SPIFFEIDs: []string{"spiffe://test.example/admin"}}
	cfg := w.config()
	cfg.Routes = []gateway.Route{
		{Name: "admin-host", Host: "admin.example", Upstream: u.URL, Allow: admin},
		{Name: "admin", PathPrefix: "/admin", Upstream: u.URL, Allow: admin},
		{Name: "any", PathPrefix: "/", Upstream: u.URL, Allow: gateway.Allow{AnyVerified: true}},
		// The settings of "any" under another name: the same policy.
		{Name: "public", PathPrefix: "/public", Upstream: u.URL + "/", Allow: gateway.Allow{AnyVerified: true}},
		// The settings of "any" but CSRF: another policy.
		{Name: "nocsrf", PathPrefix: "/nocsrf", Upstream: u.URL, Allow: gateway.Allow{AnyVerified: true}, CSRF: gateway.RouteCSRF{InsecureOff: true}},
	}
	// A route's host must be covered by a listener's certificate
	// (certcheck.go): admin.example gets its own, picked by SNI.
	adminCert := pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"admin.example"}})
	if err := adminCert.Save(w.dir, "admin-host.pem", "admin-host-key.pem"); err != nil {
		t.Fatal(err)
	}
	cfg.Listeners[0].TLS.Certificates = []gateway.ServerCertificate{{CertFile: w.path("admin-host.pem"), KeyFile: w.path("admin-host-key.pem")}}
	log := &logBuffer{}
	g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return w, g, startHandler(t, w, g), u, log
}

// recorded hands out what the raw upstream (rawupstream_test.go) received
// since the last call: each of its connections carries one request.
type recorded struct {
	*rawUpstream
	seen int
}

// heads returns the bytes of each request received since the last call.
// The gateway has read the upstream's whole answer before its client
// gets a response, so after a response the record is complete.
func (u *recorded) heads() []string {
	conns := u.snapshot()[u.seen:]
	u.seen += len(conns)
	var got []string
	for _, c := range conns {
		got = append(got, string(c.bytes))
	}
	return got
}

// rawExchange sends one raw HTTP/1.1 request on a new mTLS connection to
// the gateway, presenting cert (none when nil), and returns the response
// and its body.
func (r *running) rawExchange(t testing.TB, cert *pki.Cert, raw string) (*http.Response, string) {
	t.Helper()
	c := r.dialRaw(t, cert)
	defer c.Close()
	c.send(raw)
	return c.read()
}

// TestPathAmbiguity: each of issue 11's path divergences is refused with
// 400 path-ambiguous before anything reaches the upstream, and its
// allowed twin reaches the upstream exactly as sent. The requests are
// raw bytes: Go's client would clean or re-encode these paths.
func TestPathAmbiguity(t *testing.T) {
	t.Parallel()
	w, _, gw, u, log := normalizeWorld(t)
	tests := []struct {
		name, path string
		refused    bool
		// upstream is the request line the upstream gets when allowed
		// (default "GET " + path + " HTTP/1.1").
		upstream string
	}{
		{name: "params hide /admin (Tomcat, Spring)", path: "/admin;x", refused: true},
		{name: "twin: ;jsessionid under /", path: "/app;jsessionid=ABC"},
		{name: "twin: params across routes of one policy (/ and /public)", path: "/public;v=1/x"},
		{name: "params across routes of two policies (/ and /nocsrf)", path: "/nocsrf;v=1/x", refused: true},
		{name: "..; climbs out of /public (Tomcat)", path: "/public/..;/admin", refused: true},
		{name: "twin: ..; within /", path: "/public/x/..;/y"},
		{name: "case folded (IIS, Express)", path: "/ADMIN", refused: true},
		{name: "twin: upper case under /", path: "/Public/Index"},
		{name: "double decoding", path: "/%2561dmin", refused: true},
		{name: "twin: %25 under /", path: "/public/100%2561"},
		{name: "NUL", path: "/admin%00", refused: true},
		{name: "twin: NUL under /", path: "/public%00"},
		{name: "trailing space", path: "/admin%20", refused: true},
		{name: "twin: space under /", path: "/public/a%20b"},
		{name: "trailing dot", path: "/admin.", refused: true},
		{name: "twin: trailing dot under /", path: "/public."},
		{name: "tab", path: "/admin%09", refused: true},
		{name: "encoded backslash", path: `/public%5c..%5cadmin`, refused: true},
		{name: "twin: encoded backslash under /", path: `/public%5cx`},
		{name: "raw backslash", path: `/public\..\admin`, refused: true},
		{name: "twin: raw backslash under / (sent encoded)", path: `/public\x`, upstream: "GET /public%5Cx HTTP/1.1"},
		{name: "decoded ? ends the path for the next hop", path: "/admin%3Fx", refused: true},
		{name: "twin: %3F under /", path: "/public/a%3Fb"},
		{name: "encoded slash splits only for the gateway", path: "/admin%2fx", refused: true},
		{name: "twin: encoded slash under /", path: "/public%2fx"},
		{name: "double slash not merged upstream", path: "//admin", refused: true},
		{name: "twin: double slash under /", path: "//public"},
		{name: "format extension (Rails /admin(.:format))", path: "/admin.json", refused: true},
		{name: "twin: an extension under /", path: "/public.json"},
		{name: "format extension and trailing slash", path: "/admin.json/", refused: true},
		{name: "twin: an extension below /admin's sibling", path: "/public/users.json"},
		{name: "PATH_INFO of a PHP front controller", path: "/index.php/admin", refused: true},
		{name: "twin: PATH_INFO under /", path: "/index.php/public/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := gw.rawExchange(t, w.web, "GET "+tt.path+" HTTP/1.1\r\nHost: localhost\r\n\r\n")
			heads := u.heads()
			if tt.refused {
				if resp.StatusCode != 400 || !strings.Contains(body, `"path-ambiguous"`) && !strings.Contains(body, "path-ambiguous") {
					t.Fatalf("got %d %q, want 400 path-ambiguous", resp.StatusCode, body)
				}
				if len(heads) != 0 {
					t.Fatalf("upstream received %q", heads)
				}
				return
			}
			if resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("got %d %q, want 200 from the upstream", resp.StatusCode, body)
			}
			want := tt.upstream
			if want == "" {
				want = "GET " + tt.path + " HTTP/1.1"
			}
			if len(heads) != 1 || !strings.HasPrefix(heads[0], want+"\r\n") {
				t.Fatalf("upstream received %q, want %q", heads, want)
			}
		})
	}
	refusals := 0
	for _, l := range log.lines(t) {
		if l["msg"] == "request" && l["reason"] == string(gateway.ReasonPathAmbiguous) {
			refusals++
		}
	}
	if want := 17; refusals != want {
		t.Errorf("%d access-log lines with reason path-ambiguous, want %d", refusals, want)
	}
	_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
	if want := `forgeproof_gateway_ambiguous_requests_total{reason="path-ambiguous"} 17`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
}

// TestPathAmbiguityOff is the negative control: with the check off, the
// bypasses of issue 11 reach the upstream under the / route with the web
// certificate, which /admin refuses.
func TestPathAmbiguityOff(t *testing.T) {
	t.Parallel()
	w, g, gw, u, _ := normalizeWorld(t)
	if resp, _ := gw.rawExchange(t, w.web, "GET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n"); resp.StatusCode != 403 {
		t.Fatalf("/admin with the web certificate: got %d, want 403", resp.StatusCode)
	}
	gateway.SetRequestChecks(g, false)
	for _, p := range []string{"/admin;x", "/public/..;/admin", "/ADMIN", "/%2561dmin", "/admin%00", "/admin.", "/admin.json", `/public\..\admin`} {
		resp, _ := gw.rawExchange(t, w.web, "GET "+p+" HTTP/1.1\r\nHost: localhost\r\n\r\n")
		heads := u.heads()
		if resp.StatusCode != 200 || len(heads) != 1 {
			t.Errorf("%s with the check off: got %d and %d upstream requests, want the bypass (200, 1)", p, resp.StatusCode, len(heads))
			continue
		}
		t.Logf("check off: %s reached the upstream as %q", p, strings.SplitN(heads[0], "\r\n", 2)[0])
	}
}

// TestHostInvalid: Hosts that upstreams read as another host are refused
// with 400 host-invalid before anything reaches the upstream; their
// twins are routed as the host they name (admin.example. is
// admin.example: refused for the web certificate, allowed for admin's).
// Go's server refuses some Host headers itself (spaces, '@'); an
// absolute-form request target sets the Host without that check, and so
// does HTTP/2's :authority, which is why the gateway checks every Host.
func TestHostInvalid(t *testing.T) {
	t.Parallel()
	w, _, gw, u, log := normalizeWorld(t)
	tests := []struct {
		name, target, host string
		status             int
		reason             gateway.Reason // in the body; "" for Go's own refusal
		forwardedHost      string         // the Host the upstream gets, when allowed
	}{
		{"two trailing dots", "/x", "admin.example..", 400, "host-invalid", ""},
		{"twin: one trailing dot, web certificate", "/x", "admin.example.", 403, "spiffe-id-denied", ""},
		{"two ports", "/x", "admin.example:443:1", 400, "host-invalid", ""},
		{"twin: one port, web certificate", "/x", "admin.example:443", 403, "spiffe-id-denied", ""},
		{"letter in port", "/x", "admin.example:44a", 400, "host-invalid", ""},
		{"empty label", "/x", "admin..example", 400, "host-invalid", ""},
		{"comma list", "/x", "other.example,admin.example", 400, "host-invalid", ""},
		{"IPv4 shorthand", "/x", "127.1", 400, "host-invalid", ""},
		{"twin: another host", "/x", "other.example", 200, "", "other.example"},
		{"absolute form, two ports: Go refuses", "http://admin.example:443:1/x", "other.example", 400, "", ""},
		{"absolute form, two trailing dots", "http://admin.example../x", "other.example", 400, "host-invalid", ""},
		{"twin: absolute form", "http://other.example/x", "admin.example", 200, "", "other.example"},
		{"space: Go refuses", "/x", "admin.example evil", 400, "", ""},
		{"at sign: Go refuses", "/x", "evil@admin.example", 400, "", ""},
	}
	want := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := gw.rawExchange(t, w.web, "GET "+tt.target+" HTTP/1.1\r\nHost: "+tt.host+"\r\n\r\n")
			heads := u.heads()
			if resp.StatusCode != tt.status || !strings.Contains(body, string(tt.reason)) {
				t.Fatalf("got %d %q, want %d %s", resp.StatusCode, body, tt.status, tt.reason)
			}
			if tt.status != 200 {
				if len(heads) != 0 {
					t.Fatalf("upstream received %q", heads)
				}
				return
			}
			if len(heads) != 1 || !strings.Contains(heads[0], "\r\nHost: "+tt.forwardedHost+"\r\n") {
				t.Fatalf("upstream received %q, want Host: %s", heads, tt.forwardedHost)
			}
		})
		if tt.reason == gateway.ReasonHostInvalid {
			want++
		}
	}
	// The twin with the admin certificate is the protected host.
	if resp, _ := gw.rawExchange(t, w.admin, "GET /x HTTP/1.1\r\nHost: admin.example.\r\n\r\n"); resp.StatusCode != 200 {
		t.Errorf("admin.example. with the admin certificate: got %d, want 200", resp.StatusCode)
	} else if heads := u.heads(); len(heads) != 1 || !strings.Contains(heads[0], "\r\nHost: admin.example.\r\n") {
		t.Errorf("upstream received %q, want Host: admin.example. (as sent)", heads)
	}
	refusals := 0
	for _, l := range log.lines(t) {
		if l["msg"] == "request" && l["reason"] == string(gateway.ReasonHostInvalid) {
			refusals++
		}
	}
	if refusals != want {
		t.Errorf("%d access-log lines with reason host-invalid, want %d", refusals, want)
	}
}

// TestHostInvalidOff is the negative control: with the check off, a Host
// that upstreams cutting at the first ':' or trimming dots read as
// admin.example reaches the upstream under the catch-all route, with the
// web certificate.
func TestHostInvalidOff(t *testing.T) {
	t.Parallel()
	w, g, gw, u, _ := normalizeWorld(t)
	gateway.SetRequestChecks(g, false)
	for _, h := range []string{"admin.example..", "admin.example:443:1"} {
		resp, _ := gw.rawExchange(t, w.web, "GET /x HTTP/1.1\r\nHost: "+h+"\r\n\r\n")
		heads := u.heads()
		if resp.StatusCode != 200 || len(heads) != 1 || !strings.Contains(heads[0], "\r\nHost: "+h+"\r\n") {
			t.Errorf("Host %s with the check off: got %d, upstream %q; want the bypass", h, resp.StatusCode, heads)
		}
	}
}

// TestHostInvalidHTTP2: Go's HTTP/2 server does not check :authority the
// way its HTTP/1 server checks Host; the gateway's handler, embedded in an
// HTTP/2 server (its own listeners speak HTTP/1.1 only), refuses the same
// Hosts there. The request is written frame by frame: Go's client
// refuses to send such an authority.
func TestHostInvalidHTTP2(t *testing.T) {
	t.Parallel()
	w, g, _, u, _ := normalizeWorld(t)
	gw := serveEmbedded(t, w, g.Handler(), true)
	for _, tt := range []struct {
		authority string
		status    int
	}{
		{"admin.example:443:1", 400},
		{"admin.example..", 400},
		{"admin.example evil", 400},
		{"other.example", 200},
	} {
		status, body := gw.h2Get(t, w.web, tt.authority, "/x")
		heads := u.heads()
		if status != tt.status {
			t.Errorf(":authority %q: got %d %q, want %d", tt.authority, status, body, tt.status)
			continue
		}
		if status == 400 && (!strings.Contains(body, string(gateway.ReasonHostInvalid)) || len(heads) != 0) {
			t.Errorf(":authority %q: body %q, upstream %q; want host-invalid and nothing upstream", tt.authority, body, heads)
		}
		if status == 200 && (len(heads) != 1 || !strings.Contains(heads[0], "\r\nHost: "+tt.authority+"\r\n")) {
			t.Errorf(":authority %q: upstream %q", tt.authority, heads)
		}
	}
	// Negative control: Go's HTTP/2 server lets it through to the gateway's
	// handler, and from there to the upstream when the check is off.
	gateway.SetRequestChecks(g, false)
	if status, _ := gw.h2Get(t, w.web, "admin.example:443:1", "/x"); status != 200 {
		t.Errorf("check off: got %d, want the bypass (200)", status)
	} else if heads := u.heads(); len(heads) != 1 || !strings.Contains(heads[0], "\r\nHost: admin.example:443:1\r\n") {
		t.Errorf("check off: upstream %q", heads)
	}
}

// h2Get sends one HTTP/2 GET with the given :authority and path on a new
// mTLS connection and returns the status and body.
func (r *running) h2Get(t testing.TB, cert *pki.Cert, authority, path string) (int, string) {
	t.Helper()
	cfg := &tls.Config{RootCAs: r.w.ca.Pool(), ServerName: "localhost", NextProtos: []string{"h2"}}
	if cert != nil {
		tc := cert.TLSCertificate()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(r.base, "https://"), cfg)
	if err != nil {
		t.Fatalf("dial gateway: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q, want h2", p)
	}
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", authority}, {":path", path}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	status, body := 0, ""
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status, _ = strconv.Atoi(f.Value)
		}
	})
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf(":authority %q: %v", authority, err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if _, err := dec.Write(f.HeaderBlockFragment()); err != nil {
				t.Fatal(err)
			}
			if f.StreamEnded() {
				return status, body
			}
		case *http2.DataFrame:
			body += string(f.Data())
			if f.StreamEnded() {
				return status, body
			}
		case *http2.RSTStreamFrame:
			return -int(f.ErrCode), body
		case *http2.GoAwayFrame:
			t.Fatalf(":authority %q: GOAWAY %v", authority, f.ErrCode)
		}
	}
}

// TestPathAmbiguityUpperCasePrefix: a route prefix with upper case
// ("/Admin", as ASP.NET MVC spells its routes) is what a lower-case path
// names on a case-insensitive router (IIS, ASP.NET, Express): "/admin"
// must not reach it through the / route. Its twins under / pass.
func TestPathAmbiguityUpperCasePrefix(t *testing.T) {
	t.Parallel()
	g, err := gateway.New(&gateway.Config{
		Routes: []gateway.Route{
			{Name: "admin", PathPrefix: "/Admin", Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://example.org/admin"}}},
			{Name: "open", PathPrefix: "/", Allow: gateway.Allow{Unauthenticated: true}},
		},
		Authz: &gateway.Authz{
			Address:            "127.0.0.1:0",
			Proxy:              gateway.ProxyNginx,
			TrustedCallers:     []string{"127.0.0.1"},
			ClientCertificates: gateway.ClientCertificates{VerifiedByProxy: true},
		},
		Admin: gateway.Admin{Address: "off"},
	}, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		uri     string
		refused bool
	}{
		{"/admin", true},
		{"/admin/users", true},
		{"/aDmin;x", true},
		{"/admin.json", true},
		{"/public", false},
		{"/administrator", false},
		{"/public/admin", false},
	} {
		d := g.Decide(&gateway.Attributes{Method: "GET", URI: tt.uri, Host: "app.example", Scheme: "https"})
		if tt.refused {
			if d.Status != http.StatusBadRequest || d.Reason != gateway.ReasonPathAmbiguous {
				t.Errorf("%s: got %d %q, want 400 path-ambiguous", tt.uri, d.Status, d.Reason)
			}
		} else if !d.Allowed {
			t.Errorf("%s: got %d %q, want allowed", tt.uri, d.Status, d.Reason)
		}
	}
}
