package csrf_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// spkiBinding binds tokens to the client certificate's public key, as the
// gateway does with mtls.Identity.SPKISHA256.
func spkiBinding(r *http.Request) ([]byte, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, nil
	}
	sum := sha256.Sum256(r.TLS.PeerCertificates[0].RawSubjectPublicKeyInfo)
	return sum[:], nil
}

var formPage = template.Must(template.New("form").Parse(
	`<form method="post" action="/transfer">{{.}}<input name="amount"></form>`))

// bank is a tiny mTLS application: GET /form renders a form with a token,
// POST /transfer moves money.
func bank(p *csrf.Protection) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		field, err := p.TemplateField(r)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		formPage.Execute(w, field)
	})
	mux.HandleFunc("POST /transfer", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "moved %s", r.FormValue("amount"))
	})
	return mux
}

type mtlsWorld struct {
	ca         *pki.CA
	alice, bob *http.Client
}

func newWorld(t *testing.T) *mtlsWorld {
	ca := pkitest.CA(t)
	return &mtlsWorld{
		ca:    ca,
		alice: clientFor(t, ca, "alice"),
		bob:   clientFor(t, ca, "bob"),
	}
}

func clientFor(t *testing.T, ca *pki.CA, name string) *http.Client {
	cert := pkitest.Client(t, ca, pki.ClientOptions{CommonName: name})
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: cert.ClientTLSConfig(ca)}}
}

func (w *mtlsWorld) serve(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = pkitest.Server(t, w.ca).ServerTLSConfig(w.ca)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, c *http.Client, method, u string, body url.Values, h ...string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

var tokenInPage = regexp.MustCompile(`name="csrf_token" value="([A-Za-z0-9_-]+)"`)

func formToken(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	code, _, page := do(t, c, "GET", base+"/form", nil)
	m := tokenInPage.FindStringSubmatch(page)
	if code != 200 || m == nil {
		t.Fatalf("GET /form: got %d %q, want a page with a token", code, page)
	}
	return m[1]
}

// A real mTLS server, real browsers' headers: the forged requests carry the
// victim's certificate, as Chromium's do (see the design notes).
func TestHandlerOverMutualTLS(t *testing.T) {
	w := newWorld(t)
	p := csrf.New()
	must(t, p.SetMode(csrf.ModeOriginAndToken))
	p.SetKeyRing(testRing(t))
	p.SetBinding(spkiBinding)
	srv := w.serve(t, p.Handler(bank(p)))
	self := srv.URL // https://127.0.0.1:PORT
	tok := formToken(t, w.alice, self)

	tests := []struct {
		name     string
		client   *http.Client
		body     url.Values
		h        []string
		wantCode int
		wantBody string
	}{
		{"alice's own form", w.alice, url.Values{"amount": {"10"}, "csrf_token": {tok}}, []string{"Sec-Fetch-Site", "same-origin", "Origin", self}, 200, "moved 10"},
		{"forged cross-site form with alice's certificate", w.alice, url.Values{"amount": {"1000"}}, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, 403, "reason: cross-site"},
		{"forged same-site form from another port", w.alice, url.Values{"amount": {"1000"}, "csrf_token": {tok}}, []string{"Sec-Fetch-Site", "same-site", "Origin", "https://127.0.0.1:1"}, 403, "reason: same-site"},
		{"old browser, plain-HTTP twin origin", w.alice, url.Values{"amount": {"1000"}, "csrf_token": {tok}}, []string{"Origin", strings.Replace(self, "https:", "http:", 1)}, 403, "reason: origin-mismatch"},
		{"old browser, own origin", w.alice, url.Values{"amount": {"10"}, "csrf_token": {tok}}, []string{"Origin", self}, 200, "moved 10"},
		{"bob replays alice's token", w.bob, url.Values{"amount": {"1000"}, "csrf_token": {tok}}, []string{"Sec-Fetch-Site", "same-origin"}, 403, "reason: token-invalid"},
		{"token in the header", w.alice, url.Values{"amount": {"5"}}, []string{"Sec-Fetch-Site", "same-origin", "X-CSRF-Token", tok}, 200, "moved 5"},
		{"program without token", w.alice, url.Values{"amount": {"5"}}, nil, 403, "reason: token-missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := do(t, tt.client, "POST", self+"/transfer", tt.body, tt.h...)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %q, want %d containing %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

// Negative controls: without forgeproof the forged request with the
// victim's certificate succeeds; net/http's CrossOriginProtection lets the
// plain-HTTP twin origin through where csrf refuses it.
func TestNegativeControls(t *testing.T) {
	w := newWorld(t)
	unprotected := w.serve(t, bank(nil))
	code, _, body := do(t, w.alice, "POST", unprotected.URL+"/transfer", url.Values{"amount": {"1000"}},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if code != 200 || body != "moved 1000" {
		t.Errorf("unprotected: got %d %q, want the forgery to succeed", code, body)
	}

	std := w.serve(t, http.NewCrossOriginProtection().Handler(bank(nil)))
	twin := strings.Replace(std.URL, "https:", "http:", 1)
	code, _, _ = do(t, w.alice, "POST", std.URL+"/transfer", url.Values{"amount": {"1"}}, "Origin", twin)
	if code != 200 {
		t.Errorf("stdlib with http twin origin: got %d, want 200 (its documented fail-open)", code)
	}
	ours := w.serve(t, csrf.New().Handler(bank(nil)))
	twin = strings.Replace(ours.URL, "https:", "http:", 1)
	code, _, _ = do(t, w.alice, "POST", ours.URL+"/transfer", url.Values{"amount": {"1"}}, "Origin", twin)
	if code != 403 {
		t.Errorf("csrf with http twin origin: got %d, want 403", code)
	}
}

func TestDenyResponse(t *testing.T) {
	p := csrf.New()
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tests := []struct {
		name, accept, wantType string
	}{
		{"JSON client gets a problem document", "application/json", "application/problem+json"},
		{"browser gets text", "text/html,*/*;q=0.8", "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("POST", app+"/", "Origin", `https://evil.example"<script>`, "Accept", tt.accept)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != 403 {
				t.Errorf("status: got %d, want 403", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("content type: got %q, want %q", got, tt.wantType)
			}
			if got, want := rec.Header().Values("Vary"), []string{"Origin, Sec-Fetch-Site", "Accept"}; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("Vary: got %q, want %q", got, want)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got)
			}
			if strings.Contains(rec.Body.String(), "evil") || strings.Contains(rec.Body.String(), "<script>") {
				t.Errorf("body echoes the request: %q", rec.Body.String())
			}
			if tt.wantType == "application/problem+json" {
				var doc map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc["reason"] != "origin-invalid" || doc["status"] != float64(403) {
					t.Errorf("got %v (%v), want reason origin-invalid and status 403", doc, err)
				}
			}
		})
	}
}

func TestVaryOnRefusals(t *testing.T) {
	p := csrf.New()
	p.SetDenyHandler(func(w http.ResponseWriter, r *http.Request, err *csrf.Error) { w.WriteHeader(403) })
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Add("Vary", "Cookie") }))
	for _, tt := range []struct {
		name, method, site, want string
	}{
		{"allowed GET", "GET", "cross-site", "Cookie"},
		{"allowed POST", "POST", "same-origin", "Cookie"},
		{"refused POST, custom deny handler", "POST", "cross-site", "Origin, Sec-Fetch-Site"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, request(tt.method, app+"/", "Sec-Fetch-Site", tt.site))
		if got := strings.Join(rec.Header().Values("Vary"), "|"); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestReportOnlyAndObserver(t *testing.T) {
	type seen struct {
		reason   csrf.Reason
		enforced bool
	}
	var got []seen
	p := csrf.New()
	p.SetObserver(func(r *http.Request, err *csrf.Error, enforced bool) { got = append(got, seen{err.Reason, enforced}) })
	called := 0
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called++ }))
	serve := func(header ...string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, request("POST", app+"/", header...))
		return rec.Code
	}
	if code := serve("Sec-Fetch-Site", "cross-site"); code != 403 {
		t.Errorf("enforced: got %d, want 403", code)
	}
	if code := serve("Sec-Fetch-Site", "same-origin"); code != 200 {
		t.Errorf("allowed: got %d, want 200", code)
	}
	p.SetReportOnly(true)
	if code := serve("Origin", "null"); code != 200 {
		t.Errorf("report-only: got %d, want 200", code)
	}
	want := []seen{{csrf.ReasonCrossSite, true}, {csrf.ReasonOriginNull, false}}
	if fmt.Sprint(got) != fmt.Sprint(want) || called != 2 {
		t.Errorf("got %v and %d calls, want %v and 2 calls", got, called, want)
	}
	if err := p.Check(request("POST", app+"/", "Origin", "null")); err == nil {
		t.Errorf("Check in report-only mode: got nil, want the refusal")
	}
}

func TestCustomDenyHandler(t *testing.T) {
	p := csrf.New()
	p.SetDenyHandler(func(w http.ResponseWriter, r *http.Request, err *csrf.Error) {
		http.Error(w, "no: "+string(err.Reason), http.StatusTeapot)
	})
	rec := httptest.NewRecorder()
	p.Handler(http.NotFoundHandler()).ServeHTTP(rec, request("POST", app+"/", "Sec-Fetch-Site", "same-site"))
	if rec.Code != http.StatusTeapot || rec.Body.String() != "no: same-site\n" {
		t.Errorf("got %d %q, want 418 %q", rec.Code, rec.Body.String(), "no: same-site\n")
	}
	p.SetDenyHandler(nil)
	rec = httptest.NewRecorder()
	p.Handler(http.NotFoundHandler()).ServeHTTP(rec, request("POST", app+"/", "Sec-Fetch-Site", "same-site"))
	if rec.Code != 403 {
		t.Errorf("default restored: got %d, want 403", rec.Code)
	}
}

// The pre-session binding for login forms and anonymous visitors, over a
// real TLS socket with a cookie jar, and Rotate at login.
func TestPreSessionAndRotate(t *testing.T) {
	w := newWorld(t)
	p := csrf.New()
	must(t, p.SetMode(csrf.ModeOriginAndToken))
	p.SetKeyRing(testRing(t))
	mux := bank(p)
	var loginToken string
	mux.(*http.ServeMux).HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		must(t, p.Rotate(w, r))
		loginToken, _ = p.Token(r)
		fmt.Fprint(w, "welcome")
	})
	srv := w.serve(t, p.Handler(mux))

	// First visit: the form page sets the pre-session cookie.
	req, _ := http.NewRequest("GET", srv.URL+"/form", nil)
	resp, err := w.alice.Do(req)
	must(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	set := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{csrf.PreSessionCookie + "=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(set, attr) {
			t.Errorf("Set-Cookie %q: missing %q", set, attr)
		}
	}
	if strings.Contains(set, "Domain") || strings.Contains(set, "Max-Age") {
		t.Errorf("Set-Cookie %q: want no Domain and no Max-Age", set)
	}
	tok := tokenInPage.FindStringSubmatch(string(page))[1]

	// The token works with the cookie, not from another browser.
	if code, _, body := do(t, w.alice, "POST", srv.URL+"/login", url.Values{"csrf_token": {tok}}, "Sec-Fetch-Site", "same-origin"); code != 200 {
		t.Fatalf("login: got %d %q, want 200", code, body)
	}
	if code, _, body := do(t, w.bob, "POST", srv.URL+"/transfer", url.Values{"csrf_token": {tok}}, "Sec-Fetch-Site", "same-origin"); code != 403 || !strings.Contains(body, "binding-unavailable") {
		t.Errorf("other browser without cookie: got %d %q, want 403 binding-unavailable", code, body)
	}
	// After Rotate the pre-login token is dead and the new one works.
	if code, _, body := do(t, w.alice, "POST", srv.URL+"/transfer", url.Values{"csrf_token": {tok}}, "Sec-Fetch-Site", "same-origin"); code != 403 || !strings.Contains(body, "token-invalid") {
		t.Errorf("pre-login token after Rotate: got %d %q, want 403 token-invalid", code, body)
	}
	if code, _, body := do(t, w.alice, "POST", srv.URL+"/transfer", url.Values{"amount": {"3"}, "csrf_token": {loginToken}}, "Sec-Fetch-Site", "same-origin"); code != 200 {
		t.Errorf("post-login token: got %d %q, want 200", code, body)
	}
}

func TestCookies(t *testing.T) {
	p := csrf.New()
	p.SetKeyRing(testRing(t))
	p.SetSPA(true)
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tests := []struct {
		name  string
		dev   bool
		url   string
		wants []string
		nots  []string
	}{
		{"https", false, "https://app.example/", []string{"__Host-forgeproof-csrf=", "XSRF-TOKEN="}, nil},
		{"plain http keeps secure defaults", false, "http://localhost:8080/", []string{"__Host-forgeproof-csrf=", "XSRF-TOKEN="}, nil},
		{"plain http localhost in development", true, "http://localhost:8080/", []string{"forgeproof-csrf=", "XSRF-TOKEN="}, []string{"__Host-", "Secure"}},
		{"development option ignores other hosts", true, "http://app.example/", []string{"__Host-forgeproof-csrf="}, nil},
		{"development option ignores https", true, "https://localhost/", []string{"__Host-forgeproof-csrf="}, nil},
		{"development on [::1]", true, "http://[::1]:8080/", []string{"forgeproof-csrf="}, []string{"__Host-", "Secure"}},
		{"development on [::1] without a port", true, "http://[::1]/", []string{"forgeproof-csrf="}, []string{"__Host-", "Secure"}},
		{"development on localhost without a port", true, "http://localhost/", []string{"forgeproof-csrf="}, []string{"__Host-", "Secure"}},
		{"development option ignores other IPv6 hosts", true, "http://[::2]/", []string{"__Host-forgeproof-csrf="}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.SetInsecureLocalhostHTTP(tt.dev)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, request("GET", tt.url))
			set := rec.Header().Values("Set-Cookie")
			if len(set) != 2 {
				t.Fatalf("got %q, want a pre-session and an SPA cookie", set)
			}
			all := strings.Join(set, "\n")
			for _, w := range tt.wants {
				if !strings.Contains(all, w) {
					t.Errorf("got %q, want %q", all, w)
				}
			}
			for _, n := range tt.nots {
				if strings.Contains(all, n) {
					t.Errorf("got %q, want no %q", all, n)
				}
			}
			if !strings.Contains(set[0], "HttpOnly") || strings.Contains(set[1], "HttpOnly") {
				t.Errorf("got %q, want the pre-session cookie HttpOnly and the SPA cookie readable", set)
			}
		})
	}
}

// SPA: the XSRF-TOKEN cookie set on GET is echoed in X-XSRF-TOKEN.
func TestSPAFlow(t *testing.T) {
	w := newWorld(t)
	p := csrf.New()
	must(t, p.SetMode(csrf.ModeOriginAndToken))
	p.SetKeyRing(testRing(t))
	p.SetSPA(true)
	srv := w.serve(t, p.Handler(bank(p)))
	do(t, w.alice, "GET", srv.URL+"/form", nil)
	u, _ := url.Parse(srv.URL)
	var spa string
	for _, c := range w.alice.Jar.Cookies(u) {
		if c.Name == csrf.SPACookie {
			spa = c.Value
		}
	}
	if spa == "" {
		t.Fatal("no XSRF-TOKEN cookie")
	}
	if code, _, body := do(t, w.alice, "POST", srv.URL+"/transfer", url.Values{"amount": {"2"}}, "Sec-Fetch-Site", "same-origin", csrf.SPAHeader, spa); code != 200 {
		t.Errorf("echoed SPA token: got %d %q, want 200", code, body)
	}
	if code, _, _ := do(t, w.alice, "POST", srv.URL+"/transfer", url.Values{"amount": {"2"}}, "Sec-Fetch-Site", "same-origin"); code != 403 {
		t.Errorf("no echo: got %d, want 403", code)
	}
}

// Settings change while requests are served; run with -race.
func TestConcurrentSetters(t *testing.T) {
	p := csrf.New()
	p.SetKeyRing(testRing(t))
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.Token(r) }))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, r := range []*http.Request{
					request("POST", app+"/", "Sec-Fetch-Site", "cross-site", "Origin", "https://a.trusted.example"),
					request("POST", app+"/hooks/x", "Origin", "https://evil.example"),
					request("POST", app+"/", "X-Forwarded-Proto", "https"),
					request("GET", app+"/"),
				} {
					h.ServeHTTP(httptest.NewRecorder(), r)
				}
			}
		})
	}
	for i := range 200 {
		must(t, p.AddTrustedOrigin(fmt.Sprintf("https://t%d.example", i)))
		must(t, p.AddCanonicalOrigin(app))
		must(t, p.AddTrustedProxy("192.0.2.0/24"))
		must(t, p.AddInsecureBypassPattern(fmt.Sprintf("POST /hooks%d/", i)))
		p.SetAllowSameSite(i%2 == 0)
		p.SetReportOnly(i%3 == 0)
		must(t, p.SetMode(csrf.Mode(i%3)))
		p.SetKeyRing(testRing(t))
		p.SetBinding(sessionBinding)
		p.SetSPA(i%2 == 1)
		p.SetInsecureLocalhostHTTP(i%2 == 0)
		p.SetMaxFormBytes(int64(i))
		p.SetObserver(func(*http.Request, *csrf.Error, bool) {})
		p.SetDenyHandler(nil)
	}
	must(t, p.AddTrustedOrigin("https://*.trusted.example"))
	close(stop)
	wg.Wait()
	p.SetReportOnly(false)
	must(t, p.SetMode(csrf.ModeOriginOnly))
	if err := p.Check(request("POST", app+"/", "Sec-Fetch-Site", "cross-site", "Origin", "https://a.trusted.example")); err != nil {
		t.Errorf("after concurrent setup: got %v, want the wildcard origin trusted", err)
	}
}

// Cookies are set once, with no-store; a client that has valid ones gets
// no new ones, and its responses stay cacheable as the handler decides.
func TestCookiesSetOnlyWhenNeeded(t *testing.T) {
	p := csrf.New()
	p.SetKeyRing(testRing(t))
	p.SetSPA(true)
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request("GET", app+"/"))
	first := rec.Result().Cookies()
	if len(first) != 2 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("first visit: got %d cookies, Cache-Control %q; want 2 and no-store", len(first), rec.Header().Get("Cache-Control"))
	}

	again := request("GET", app+"/")
	for _, c := range first {
		again.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, again)
	if got := rec.Header().Values("Set-Cookie"); len(got) != 0 || rec.Header().Get("Cache-Control") != "" {
		t.Errorf("second visit: got Set-Cookie %q, Cache-Control %q; want none", got, rec.Header().Get("Cache-Control"))
	}

	// A session starts: the SPA token bound to the pre-session is stale.
	p.SetBinding(sessionBinding)
	again.Header.Set("X-Test-Session", "alice")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, again)
	got := rec.Result().Cookies()
	if len(got) != 1 || got[0].Name != csrf.SPACookie {
		t.Fatalf("after login: got %v, want a new SPA cookie only", got)
	}
	must(t, p.SetMode(csrf.ModeOriginAndToken))
	if err := p.Check(request("POST", app+"/", "X-Test-Session", "alice", csrf.SPAHeader, got[0].Value)); err != nil {
		t.Errorf("after login: the new SPA token: got %v, want it valid for the session", err)
	}
}

// Plain-HTTP development over a real socket. The development option only
// weakens cookies for loopback names: on plain HTTP to any other name the
// Secure pre-session cookie is not sent back and the token flow fails
// closed. (Go's cookie jar, like Chrome and Firefox, returns Secure cookies
// to http://localhost and 127.0.0.1, Safari does not: hence the option.)
func TestPlainHTTPDevelopment(t *testing.T) {
	for _, tt := range []struct {
		name       string
		host       string
		wantCookie string
		wantCode   int
	}{
		{"other host keeps Secure and fails closed", "app.test", "__Host-forgeproof-csrf", 403},
		{"loopback gets development cookies", "127.0.0.1", "forgeproof-csrf", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := csrf.New()
			must(t, p.SetMode(csrf.ModeOriginAndToken))
			p.SetKeyRing(testRing(t))
			p.SetInsecureLocalhostHTTP(true)
			srv := httptest.NewServer(p.Handler(bank(p)))
			defer srv.Close()
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			base := "http://" + net.JoinHostPort(tt.host, port)
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Transport: &http.Transport{
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
				},
			}}
			code, hdr, page := do(t, c, "GET", base+"/form", nil)
			if set := hdr.Get("Set-Cookie"); code != 200 || !strings.HasPrefix(set, tt.wantCookie+"=") {
				t.Fatalf("GET: got %d, Set-Cookie %q; want 200 and %s", code, set, tt.wantCookie)
			}
			tok := tokenInPage.FindStringSubmatch(page)[1]
			code, _, body := do(t, c, "POST", base+"/transfer", url.Values{"amount": {"1"}, "csrf_token": {tok}}, "Origin", base)
			if code != tt.wantCode {
				t.Errorf("POST: got %d %q, want %d", code, body, tt.wantCode)
			}
		})
	}
}

// A real TLS-terminating reverse proxy on loopback in front of a plain-HTTP
// backend: the backend learns the client-facing origin only from the
// trusted proxy's X-Forwarded-Proto/-Host (httputil.ProxyRequest.SetXForwarded).
func TestBehindRealProxy(t *testing.T) {
	w := newWorld(t)
	for _, tt := range []struct {
		name       string
		trustProxy bool
		origin     func(front string) string
		wantCode   int
	}{
		{"trusted proxy, own origin", true, func(f string) string { return f }, 200},
		{"trusted proxy, plain-HTTP twin", true, func(f string) string { return strings.Replace(f, "https:", "http:", 1) }, 403},
		{"trusted proxy, other site", true, func(string) string { return "https://evil.example" }, 403},
		// Negative control for the configuration: an untrusted proxy's
		// headers are ignored, so the backend sees http://127.0.0.1:BACKEND
		// as its origin and refuses the legitimate request (fail closed).
		{"proxy not trusted: fails closed", false, func(f string) string { return f }, 403},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := csrf.New()
			if tt.trustProxy {
				must(t, p.AddTrustedProxy("127.0.0.1"))
				must(t, p.AddTrustedProxy("::1"))
			}
			backend := httptest.NewServer(p.Handler(bank(nil)))
			defer backend.Close()
			target, _ := url.Parse(backend.URL)
			front := w.serve(t, &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
			}})
			code, _, body := do(t, w.alice, "POST", front.URL+"/transfer", url.Values{"amount": {"7"}}, "Origin", tt.origin(front.URL))
			if code != tt.wantCode {
				t.Errorf("got %d %q, want %d", code, body, tt.wantCode)
			}
		})
	}
}
