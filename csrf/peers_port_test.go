package csrf_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// peerCase is one request from a peer's test suite (net/http
// CrossOriginProtection, gorilla/csrf, justinas/nosurf) ported to
// forgeproof, with forgeproof's expected verdict in origin-only mode
// ("" = allowed). block reports whether the peer blocks it.
type peerCase struct {
	name    string
	method  string
	target  string
	h       []string
	trusted []string
	bypass  []string
	want    csrf.Reason
	peerBlk bool
}

func runPeer(t *testing.T, cases []peerCase) {
	t.Helper()
	for _, tc := range cases {
		for _, mode := range []csrf.Mode{csrf.ModeOriginOnly, csrf.ModeOriginAndToken, csrf.ModeTokenIfNoBrowserHeaders} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				p := tokenProtection(t, mode, testRing(t))
				for _, o := range tc.trusted {
					must(t, p.AddTrustedOrigin(o))
				}
				for _, b := range tc.bypass {
					must(t, p.AddInsecureBypassPattern(b))
				}
				tok := mintFor(t, p, "alice")
				m := tc.method
				if m == "" {
					m = "POST"
				}
				h := append([]string{"X-Test-Session", "alice", csrf.HeaderName, tok}, tc.h...)
				target := tc.target
				if target == "" {
					target = ex + "/"
				}
				got := reasonOf(p.Check(request(m, target, h...)))
				if got != tc.want {
					t.Errorf("got %q, want %q (peer blocks: %v)", got, tc.want, tc.peerBlk)
				}
				if mode != csrf.ModeOriginOnly && tc.want == "" {
					// Without a token: refused in origin-and-token
					// mode unless bypassed or safe.
					r := request(m, target, append([]string{"X-Test-Session", "alice"}, tc.h...)...)
					got := reasonOf(p.Check(r))
					safe := m == "GET" || m == "HEAD" || m == "OPTIONS"
					if mode == csrf.ModeOriginAndToken && !safe && len(tc.bypass) == 0 && got != csrf.ReasonTokenMissing {
						t.Errorf("no token: got %q, want token-missing", got)
					}
				}
			})
		}
	}
}

const ex = "https://example.com"

func TestPortStdlibCrossOriginProtection(t *testing.T) {
	runPeer(t, []peerCase{
		{name: "same-origin allowed", h: []string{"Sec-Fetch-Site", "same-origin"}},
		{name: "none allowed", h: []string{"Sec-Fetch-Site", "none"}},
		{name: "cross-site blocked", h: []string{"Sec-Fetch-Site", "cross-site"}, want: csrf.ReasonCrossSite, peerBlk: true},
		{name: "same-site blocked", h: []string{"Sec-Fetch-Site", "same-site"}, want: csrf.ReasonSameSite, peerBlk: true},
		{name: "no header no origin", h: nil},
		{name: "matching origin", h: []string{"Origin", ex}},
		{name: "mismatched origin", h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "null origin", h: []string{"Origin", "null"}, want: csrf.ReasonOriginNull, peerBlk: true},
		{name: "GET cross-site", method: "GET", h: []string{"Sec-Fetch-Site", "cross-site"}},
		{name: "HEAD cross-site", method: "HEAD", h: []string{"Sec-Fetch-Site", "cross-site"}},
		{name: "OPTIONS cross-site", method: "OPTIONS", h: []string{"Sec-Fetch-Site", "cross-site"}},
		{name: "PUT cross-site", method: "PUT", h: []string{"Sec-Fetch-Site", "cross-site"}, want: csrf.ReasonCrossSite, peerBlk: true},
		// trusted
		{name: "trusted no sfs", trusted: []string{"https://trusted.example"}, h: []string{"Origin", "https://trusted.example"}},
		{name: "trusted cross-site", trusted: []string{"https://trusted.example"}, h: []string{"Origin", "https://trusted.example", "Sec-Fetch-Site", "cross-site"}},
		{name: "untrusted no sfs", trusted: []string{"https://trusted.example"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "untrusted cross-site", trusted: []string{"https://trusted.example"}, h: []string{"Origin", "https://attacker.example", "Sec-Fetch-Site", "cross-site"}, want: csrf.ReasonCrossSite, peerBlk: true},
		// bypass patterns (Go's set)
		{name: "bypass no sfs", target: ex + "/bypass/", bypass: []string{"/bypass/"}, h: []string{"Origin", "https://attacker.example"}},
		{name: "bypass cross-site", target: ex + "/bypass/", bypass: []string{"/bypass/"}, h: []string{"Origin", "https://attacker.example", "Sec-Fetch-Site", "cross-site"}},
		{name: "non-bypass", target: ex + "/api/", bypass: []string{"/bypass/"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "redirect ..", target: ex + "/foo/../bypass/bar", bypass: []string{"/bypass/"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "redirect trailing slash", target: ex + "/bypass", bypass: []string{"/bypass/"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "non-bypass cross-site", target: ex + "/api/", bypass: []string{"/bypass/"}, h: []string{"Origin", "https://attacker.example", "Sec-Fetch-Site", "cross-site"}, want: csrf.ReasonCrossSite, peerBlk: true},
		{name: "redirect to non-bypass ..", target: ex + "/foo/../api/bar", bypass: []string{"/bypass/"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "redirect to non-bypass trailing slash", target: ex + "/api", bypass: []string{"/bypass/"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "wildcard bypass", target: ex + "/only/123", bypass: []string{"/only/{foo}"}, h: []string{"Origin", "https://attacker.example"}},
		{name: "non-wildcard", target: ex + "/only/123/foo", bypass: []string{"/only/{foo}"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "no-trailing exact", target: ex + "/no-trailing", bypass: []string{"/no-trailing"}, h: []string{"Origin", "https://attacker.example"}},
		{name: "no-trailing with slash", target: ex + "/no-trailing/", bypass: []string{"/no-trailing"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "yes-trailing exact", target: ex + "/yes-trailing/", bypass: []string{"/yes-trailing/"}, h: []string{"Origin", "https://attacker.example"}},
		{name: "yes-trailing without", target: ex + "/yes-trailing", bypass: []string{"/yes-trailing/"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "method-specific hit", target: ex + "/post-only/", bypass: []string{"POST /post-only/"}, h: []string{"Origin", "https://attacker.example"}},
		{name: "method-specific miss PUT", target: ex + "/put-only/", bypass: []string{"PUT /put-only/"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "method-specific miss GET", target: ex + "/get-only/", bypass: []string{"GET /get-only/"}, h: []string{"Origin", "https://attacker.example"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		// server test: plain HTTP
		{name: "server origin matches host (http)", target: "http://127.0.0.1:1234/", h: []string{"Origin", "http://127.0.0.1:1234"}},
		{name: "server trusted origin (http)", target: "http://127.0.0.1:1234/", trusted: []string{"https://trusted.example"}, h: []string{"Origin", "https://trusted.example"}},
		{name: "server cross-site (http)", target: "http://127.0.0.1:1234/", h: []string{"Origin", "https://attacker.example", "Sec-Fetch-Site", "cross-site"}, want: csrf.ReasonCrossSite, peerBlk: true},
	})
}

const gor = "www.gorillatoolkit.org"

func TestPortGorilla(t *testing.T) {
	tls, clear := "https://"+gor+"/submit", "http://"+gor+"/submit"
	runPeer(t, []peerCase{
		{name: "cleartext HTTP origin valid token", target: clear, h: []string{"Origin", "http://" + gor}},
		{name: "cleartext untrusted origin", target: clear, h: []string{"Origin", "http://www.untrusted-origin.org"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "cleartext no origin", target: clear},
		{name: "TLS HTTP origin", target: tls, h: []string{"Origin", "http://" + gor}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "TLS untrusted referer", target: tls, h: []string{"Referer", "http://www.invalid-referer.org"}, want: csrf.ReasonRefererMismatch, peerBlk: true},
		{name: "TLS trusted referer", target: tls, trusted: []string{"https://external-trusted-origin.test"}, h: []string{"Referer", "https://external-trusted-origin.test/foobar"}},
		{name: "TLS cleartext same-domain referer", target: tls, h: []string{"Referer", "http://" + gor + "/foobar"}, want: csrf.ReasonRefererMismatch, peerBlk: true},
		{name: "TLS valid referer", target: tls, h: []string{"Referer", "https://" + gor + "/"}},
		{name: "TLS bad referer", target: tls, h: []string{"Referer", "http://golang.org/"}, want: csrf.ReasonRefererMismatch, peerBlk: true},
		{name: "TLS trusted referer https", target: tls, trusted: []string{"https://golang.org"}, h: []string{"Referer", "https://golang.org/"}},
		{name: "TLS trusted http origin does not trust https referer", target: tls, trusted: []string{"http://golang.org"}, h: []string{"Referer", "https://golang.org/"}, want: csrf.ReasonRefererMismatch, peerBlk: true},
		{name: "multipart origin", target: tls, h: []string{"Origin", "https://" + gor}},
		// Deliberate differences (documented): gorilla blocks these.
		{name: "DELIBERATE TLS no origin no referer (programmatic)", target: tls, peerBlk: true},
		{name: "DELIBERATE relative referer", target: tls, h: []string{"Referer", "/foobar"}, want: csrf.ReasonRefererInvalid},
	})
}

func TestPortNosurf(t *testing.T) {
	s, p := "https://example.com/", "http://example.com/"
	allowed := []string{"https://api.example.com", "http://example.org"}
	runPeer(t, []peerCase{
		{name: "identical secure Referer", target: s, h: []string{"Referer", "https://example.com"}},
		{name: "differing Referer", target: s, h: []string{"Referer", "https://attacker.lol"}, want: csrf.ReasonRefererMismatch, peerBlk: true},
		{name: "mismatched Referer scheme", target: s, h: []string{"Referer", "http://example.com"}, want: csrf.ReasonRefererMismatch, peerBlk: true},
		{name: "mismatched Referer insecure", target: p, h: []string{"Referer", "https://attacker.lol"}, want: csrf.ReasonRefererMismatch, peerBlk: true},
		{name: "mismatched Origin insecure", target: p, h: []string{"Origin", "http://attacker.lol"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "mismatched Origin with good referer", target: p, h: []string{"Origin", "http://attacker.lol", "Referer", "https://example.com"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "https Origin to http", target: p, h: []string{"Origin", "https://example.com"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "http Origin to https", target: s, h: []string{"Origin", "http://example.com"}, want: csrf.ReasonOriginMismatch, peerBlk: true},
		{name: "matching Origin insecure", target: p, h: []string{"Origin", "http://example.com"}},
		{name: "matching Origin secure", target: s, h: []string{"Origin", "https://example.com"}},
		{name: "allowed insecure Origin", target: p, trusted: allowed, h: []string{"Origin", "http://example.org", "Referer", "http://attacker.lol"}},
		{name: "allowed secure Origin", target: s, trusted: allowed, h: []string{"Origin", "https://api.example.com", "Referer", "http://attacker.lol"}},
		{name: "allowed secure Origin, insecure req", target: p, trusted: allowed, h: []string{"Origin", "https://api.example.com", "Referer", "http://attacker.lol"}},
		{name: "allowed Referer", target: s, trusted: allowed, h: []string{"Referer", "http://example.org"}},
		{name: "sfs same-origin", target: s, h: []string{"Sec-Fetch-Site", "same-origin"}},
		{name: "sfs same-site", target: s, h: []string{"Sec-Fetch-Site", "same-site"}, want: csrf.ReasonSameSite, peerBlk: true},
		{name: "sfs null", target: s, h: []string{"Sec-Fetch-Site", "null"}, want: csrf.ReasonFetchSiteInvalid, peerBlk: true},
		{name: "DELIBERATE no headers secure", target: s, peerBlk: true},
		{name: "DELIBERATE no headers insecure", target: p, peerBlk: true},
		{name: "TRACE is checked (nosurf: safe)", method: "TRACE", target: s, h: []string{"Sec-Fetch-Site", "cross-site"}, want: csrf.ReasonCrossSite},
	})
}

// net/http's TestCrossOriginProtectionAddTrustedOriginErrors, ported.
func TestPortStdlibAddTrustedOriginErrors(t *testing.T) {
	for _, tc := range []struct {
		origin  string
		wantErr bool
	}{
		{"https://example.com", false},
		{"https://example.com:8080", false},
		{"http://example.com", false},
		{"example.com", true},
		{"https://", true},
		{"https://example.com/", true},
		{"https://example.com/path", true},
		{"https://example.com?query=value", true},
		{"https://example.com#fragment", true},
		{"https://ex ample.com", true},
		{"", true},
		{"null", true},
	} {
		err := csrf.New().AddTrustedOrigin(tc.origin)
		if (err != nil) != tc.wantErr {
			t.Errorf("AddTrustedOrigin(%q) = %v, wantErr %v", tc.origin, err, tc.wantErr)
		}
	}
}

// net/http's TestCrossOriginProtectionServer, ported: a real server, plain
// HTTP and HTTP/2 over TLS.
func TestPortStdlibServer(t *testing.T) {
	p := csrf.New()
	must(t, p.AddTrustedOrigin("https://trusted.example"))
	must(t, p.AddInsecureBypassPattern("/bypass/"))
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, tlsOn := range []bool{false, true} {
		ts := httptest.NewUnstartedServer(h)
		if tlsOn {
			ts.EnableHTTP2 = true
			ts.StartTLS()
		} else {
			ts.Start()
		}
		defer ts.Close()
		for _, tc := range []struct {
			name, url, origin, site string
			want                    int
		}{
			{"cross-site", ts.URL, "https://attacker.example", "cross-site", 403},
			{"same-origin", ts.URL, "", "same-origin", 200},
			{"origin matches host", ts.URL, ts.URL, "", 200},
			{"trusted origin", ts.URL, "https://trusted.example", "", 200},
			{"untrusted origin", ts.URL, "https://attacker.example", "", 403},
			{"bypass path", ts.URL + "/bypass/", "https://attacker.example", "", 200},
		} {
			req, _ := http.NewRequest("POST", tc.url, nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.site != "" {
				req.Header.Set("Sec-Fetch-Site", tc.site)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("tls=%v %s: got %d, want %d (proto %s)", tlsOn, tc.name, resp.StatusCode, tc.want, resp.Proto)
			}
		}
	}
}

// net/http's TestCrossOriginProtectionSetDenyHandler, ported: the custom
// handler answers refusals only, a safe request still passes, and nil
// restores the default 403.
func TestPortStdlibSetDenyHandler(t *testing.T) {
	p := csrf.New()
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	serve := func(method string, header ...string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, request(method, ex+"/", header...))
		return rec
	}
	if rec := serve("POST", "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusForbidden {
		t.Errorf("default: got %d, want 403", rec.Code)
	}
	p.SetDenyHandler(func(w http.ResponseWriter, r *http.Request, err *csrf.Error) {
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "custom error")
	})
	if rec := serve("POST", "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusTeapot || !strings.Contains(rec.Body.String(), "custom error") {
		t.Errorf("custom: got %d %q, want 418 with the custom body", rec.Code, rec.Body.String())
	}
	if rec := serve("GET"); rec.Code != http.StatusOK {
		t.Errorf("custom, GET: got %d, want 200", rec.Code)
	}
	p.SetDenyHandler(nil)
	if rec := serve("POST", "Sec-Fetch-Site", "cross-site"); rec.Code != http.StatusForbidden {
		t.Errorf("restored: got %d, want 403", rec.Code)
	}
}

// net/http's TestCrossOriginProtectionAddingBypassesConcurrently, ported
// (run with -race): a trusted origin and a bypass pattern added while
// requests are in flight apply to the requests that follow.
func TestPortStdlibAddingBypassesConcurrently(t *testing.T) {
	p := csrf.New()
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := func() *http.Request {
		return request("POST", ex+"/", "Origin", "https://concurrent.example", "Sec-Fetch-Site", "cross-site")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req())
	if rec.Code != http.StatusForbidden {
		t.Errorf("before: got %d, want 403", rec.Code)
	}
	start, done := make(chan struct{}), make(chan struct{})
	go func() {
		close(start)
		defer close(done)
		for range 10 {
			h.ServeHTTP(httptest.NewRecorder(), req())
		}
	}()
	<-start
	must(t, p.AddTrustedOrigin("https://concurrent.example"))
	must(t, p.AddInsecureBypassPattern("/foo/"))
	<-done
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req())
	if rec.Code != http.StatusOK {
		t.Errorf("after: got %d, want 200", rec.Code)
	}
}
