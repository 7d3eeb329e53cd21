package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/demo"
	"github.com/forgeproof/forgeproof/pki"
)

// startDemo runs a demo on free loopback ports until the test ends.
func startDemo(t *testing.T, insecureNoCSRF bool) *demo.Running {
	t.Helper()
	r, err := demo.Start(context.Background(), demo.Options{
		Dir:            t.TempDir(),
		Listen:         "localhost:0",
		AttackerAddr:   "127.0.0.2:0",
		SiblingAddr:    "localhost:0",
		InsecureNoCSRF: insecureNoCSRF,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// browserClient is a client holding alice's certificate that, like a
// browser, does not follow redirects for us and keeps no cookies unless
// told.
func browserClient(r *demo.Running, withCert bool) *http.Client {
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: r.TLSConfig(withCert)},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// fetchMeta are the headers a browser adds, as in the table of
// ../shared/notes/browser-client-certs.md.
type fetchMeta struct {
	origin, site, mode, dest string
}

func (m fetchMeta) apply(h http.Header) {
	set := func(k, v string) {
		if v != "" {
			h.Set(k, v)
		}
	}
	set("Origin", m.origin)
	set("Sec-Fetch-Site", m.site)
	set("Sec-Fetch-Mode", m.mode)
	set("Sec-Fetch-Dest", m.dest)
}

type sent struct {
	status int
	body   string
	header http.Header
}

func send(t *testing.T, c *http.Client, method, u string, meta fetchMeta, contentType, body string, cookies ...*http.Cookie) sent {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	meta.apply(req.Header)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, ck := range cookies {
		req.AddCookie(ck)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return sent{resp.StatusCode, string(b), resp.Header}
}

// sessionCookie returns the bank's session cookie the response set, or nil.
func (s sent) sessionCookie() *http.Cookie {
	for _, ck := range (&http.Response{Header: s.header}).Cookies() {
		if ck.Name == demo.SessionCookie {
			return ck
		}
	}
	return nil
}

var tokenRE = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// pageToken loads the bank's page as a top-level navigation and returns
// the token in its forms.
func pageToken(t *testing.T, c *http.Client, r *demo.Running, cookies ...*http.Cookie) string {
	t.Helper()
	s := send(t, c, "GET", r.URL+"/", fetchMeta{site: "none", mode: "navigate", dest: "document"}, "", "", cookies...)
	if s.status != 200 {
		t.Fatalf("GET /: got status %d, want 200: %s", s.status, s.body)
	}
	m := tokenRE.FindStringSubmatch(s.body)
	if m == nil {
		t.Fatalf("GET /: no csrf_token in the page:\n%s", s.body)
	}
	return m[1]
}

func TestServiceClient(t *testing.T) {
	r := startDemo(t, false)
	if r.ClientRevoked {
		t.Errorf("got ClientRevoked true for a fresh PKI, want false")
	}
	c := r.ServiceClient()
	resp, err := c.Post(r.URL+"/api/transfers", "application/json", strings.NewReader(`{"to":"bob","amount":5}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/transfers: got status %d, want 201: %s", resp.StatusCode, body)
	}
	if got := r.Bank.Balances(); got["alice"] != 995 || got["bob"] != 1005 {
		t.Errorf("got balances %v, want alice 995, bob 1005", got)
	}
	resp, err = c.Get(r.URL + "/api/balance")
	if err != nil {
		t.Fatal(err)
	}
	var bal struct {
		Account string
		Balance int64
	}
	json.NewDecoder(resp.Body).Decode(&bal)
	resp.Body.Close()
	if bal.Account != "alice" || bal.Balance != 995 {
		t.Errorf("GET /api/balance: got %+v, want alice 995", bal)
	}
}

func TestAPIRequiresCertificate(t *testing.T) {
	r := startDemo(t, false)
	s := send(t, browserClient(r, false), "POST", r.URL+"/api/transfers", fetchMeta{}, "application/json", `{"to":"mallory","amount":5}`)
	if s.status != http.StatusForbidden {
		t.Errorf("got status %d, want 403: %s", s.status, s.body)
	}
	if got := r.Bank.Balances()["mallory"]; got != 10 {
		t.Errorf("got mallory %d, want 10", got)
	}
}

func TestSpoofedIdentityHeaderIgnored(t *testing.T) {
	r := startDemo(t, true)
	// Without a certificate, a client-sent Client-Cert header must not
	// make the bank believe it is alice, even with CSRF protection off.
	cert := ":" + strings.Repeat("A", 8) + ":"
	req, _ := http.NewRequest("POST", r.URL+"/transfer", strings.NewReader("to=mallory&amount=100"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Client-Cert", cert)
	req.Header.Set("X-Forwarded-Client-Cert", "Subject=\"CN=alice\"")
	resp, err := browserClient(r, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Errorf("got status 200, want a refusal")
	}
	if got := r.Bank.Balances()["mallory"]; got != 10 {
		t.Errorf("got mallory %d, want 10", got)
	}
}

func TestBrowserFlows(t *testing.T) {
	r := startDemo(t, false)
	c := browserClient(r, true)
	same := fetchMeta{origin: r.URL, site: "same-origin", mode: "navigate", dest: "document"}
	form := "application/x-www-form-urlencoded"

	// Certificate holder, no session: the form with the page's token.
	tok := pageToken(t, c, r)
	s := send(t, c, "POST", r.URL+"/transfer", same, form, url.Values{"to": {"bob"}, "amount": {"7"}, "csrf_token": {tok}}.Encode())
	if s.status != 200 {
		t.Fatalf("form transfer with token: got status %d, want 200: %s", s.status, s.body)
	}
	if got := r.Bank.Balances()["bob"]; got != 1007 {
		t.Errorf("got bob %d, want 1007", got)
	}

	// The same form without the token is refused: the token is required.
	s = send(t, c, "POST", r.URL+"/transfer", same, form, "to=bob&amount=7")
	if s.status != http.StatusForbidden || !strings.Contains(s.body, "token-missing") {
		t.Errorf("form transfer without token: got status %d, body %q; want 403 token-missing", s.status, s.body)
	}

	// Log in as bob, then pay from bob's account with a token bound to
	// the new session.
	s = send(t, c, "POST", r.URL+"/login", same, form, url.Values{"username": {"bob"}, "password": {demo.Password}, "csrf_token": {tok}}.Encode())
	if s.status != http.StatusSeeOther {
		t.Fatalf("login: got status %d, want 303: %s", s.status, s.body)
	}
	session := s.sessionCookie()
	if session == nil {
		t.Fatal("login: no session cookie")
	}
	tok2 := pageToken(t, c, r, session)
	s = send(t, c, "POST", r.URL+"/transfer", same, form, url.Values{"to": {"mallory"}, "amount": {"3"}, "csrf_token": {tok2}}.Encode(), session)
	if s.status != 200 {
		t.Fatalf("session transfer: got status %d, want 200: %s", s.status, s.body)
	}
	if got := r.Bank.Balances(); got["bob"] != 1004 || got["mallory"] != 13 {
		t.Errorf("got balances %v, want bob 1004, mallory 13", got)
	}
	// The token of the certificate binding does not fit the session.
	s = send(t, c, "POST", r.URL+"/transfer", same, form, url.Values{"to": {"mallory"}, "amount": {"3"}, "csrf_token": {tok}}.Encode(), session)
	if s.status != http.StatusForbidden || !strings.Contains(s.body, "token-invalid") {
		t.Errorf("token of another binding: got status %d, body %q; want 403 token-invalid", s.status, s.body)
	}
}

// forgery is a request a page on another origin makes a browser send,
// with exactly the headers Chromium sends (see the notes' table).
type forgery struct {
	name        string
	from        string // "attacker" or "sibling"
	method      string
	path        string
	mode, dest  string // Sec-Fetch-Mode and -Dest
	noOrigin    bool   // <img> GETs carry no Origin
	noFetchMeta bool   // a browser too old for Fetch Metadata
	contentType string
	body        string
	withSession bool // alice is logged in: her session cookie rides along
	wantReason  string
	// what succeeds with protection off
	wantMallory int64 // mallory's gain
	wantLogin   bool  // mallory's session forced on the victim
}

func forgeries(t *testing.T) []forgery {
	mp, mpType := multipartBody(t, map[string]string{"to": "mallory", "amount": "100"})
	form := "application/x-www-form-urlencoded"
	return []forgery{
		{name: "cross-site urlencoded form", from: "attacker", method: "POST", path: "/transfer", mode: "navigate", dest: "document", contentType: form, body: "to=mallory&amount=100", wantReason: "cross-site", wantMallory: 100},
		{name: "cross-site urlencoded form with session cookie", from: "attacker", method: "POST", path: "/transfer", mode: "navigate", dest: "document", contentType: form, body: "to=mallory&amount=100", withSession: true, wantReason: "cross-site", wantMallory: 100},
		{name: "cross-site multipart form", from: "attacker", method: "POST", path: "/transfer", mode: "navigate", dest: "document", contentType: mpType, body: mp, wantReason: "cross-site", wantMallory: 100},
		{name: "cross-site text/plain JSON form", from: "attacker", method: "POST", path: "/api/transfers", mode: "navigate", dest: "document", contentType: "text/plain", body: demo.TextPlainBody + "\r\n", wantReason: "cross-site", wantMallory: 100},
		{name: "cross-site no-cors fetch JSON", from: "attacker", method: "POST", path: "/api/transfers", mode: "no-cors", dest: "empty", contentType: "text/plain;charset=UTF-8", body: `{"to":"mallory","amount":100}`, wantReason: "cross-site", wantMallory: 100},
		{name: "cross-site no-cors fetch form", from: "attacker", method: "POST", path: "/transfer", mode: "no-cors", dest: "empty", contentType: "application/x-www-form-urlencoded;charset=UTF-8", body: "to=mallory&amount=100", wantReason: "cross-site", wantMallory: 100},
		{name: "cross-site login CSRF", from: "attacker", method: "POST", path: "/login", mode: "navigate", dest: "document", contentType: form, body: "username=mallory&password=demo", wantReason: "cross-site", wantLogin: true},
		{name: "cross-site form from a browser without Fetch Metadata", from: "attacker", method: "POST", path: "/transfer", noFetchMeta: true, contentType: form, body: "to=mallory&amount=100", wantReason: "origin-mismatch", wantMallory: 100},
		{name: "same-site sibling form", from: "sibling", method: "POST", path: "/transfer", mode: "navigate", dest: "document", contentType: form, body: "to=mallory&amount=100", wantReason: "same-site", wantMallory: 100},
		{name: "same-site sibling text/plain JSON form", from: "sibling", method: "POST", path: "/api/transfers", mode: "navigate", dest: "document", contentType: "text/plain", body: demo.TextPlainBody + "\r\n", wantReason: "same-site", wantMallory: 100},
		// A GET never moves money, protected or not: the bank has no
		// state-changing GET (405), so there is nothing to forge.
		{name: "cross-site image GET", from: "attacker", method: "GET", path: "/transfer?to=mallory&amount=100", mode: "no-cors", dest: "image", noOrigin: true},
	}
}

func TestForgeries(t *testing.T) {
	for _, protected := range []bool{true, false} {
		name := "protected"
		if !protected {
			name = "insecure-no-csrf (negative control)"
		}
		t.Run(name, func(t *testing.T) {
			r := startDemo(t, !protected)
			c := browserClient(r, true)
			// alice logs in legitimately first, for the cookie cases.
			tok := pageToken(t, c, r)
			login := send(t, c, "POST", r.URL+"/login", fetchMeta{origin: r.URL, site: "same-origin", mode: "navigate", dest: "document"},
				"application/x-www-form-urlencoded", url.Values{"username": {"alice"}, "password": {demo.Password}, "csrf_token": {tok}}.Encode())
			session := login.sessionCookie()
			if session == nil {
				t.Fatalf("legitimate login failed: status %d: %s", login.status, login.body)
			}
			for _, f := range forgeries(t) {
				t.Run(f.name, func(t *testing.T) {
					before := r.Bank.Balances()
					loginsBefore := r.Bank.Logins()["mallory"]
					meta := fetchMeta{site: "cross-site", mode: f.mode, dest: f.dest, origin: r.AttackerURL}
					if f.from == "sibling" {
						meta.site, meta.origin = "same-site", r.SiblingURL
					}
					if f.noOrigin {
						meta.origin = ""
					}
					if f.noFetchMeta {
						meta.site, meta.mode, meta.dest = "", "", ""
					}
					var cookies []*http.Cookie
					if f.withSession {
						cookies = append(cookies, session)
					}
					s := send(t, c, f.method, r.URL+f.path, meta, f.contentType, f.body, cookies...)
					after := r.Bank.Balances()
					gain := after["mallory"] - before["mallory"]
					loggedIn := r.Bank.Logins()["mallory"] > loginsBefore
					if after["alice"]+after["bob"]+after["mallory"] != 2010 {
						t.Errorf("money created or lost: %v", after)
					}

					wantGain, wantLogin := f.wantMallory, f.wantLogin
					if protected {
						wantGain, wantLogin = 0, false
						if f.wantReason != "" && (s.status != http.StatusForbidden || !strings.Contains(s.body, "(reason: "+f.wantReason+")")) {
							t.Errorf("got status %d, body %q; want 403 with reason %s", s.status, s.body, f.wantReason)
						}
					}
					if gain != wantGain {
						t.Errorf("got mallory gain %d, want %d (status %d: %s)", gain, wantGain, s.status, s.body)
					}
					if loggedIn != wantLogin {
						t.Errorf("got mallory logged in %v, want %v", loggedIn, wantLogin)
					}
					if f.method == "GET" && s.status != http.StatusMethodNotAllowed {
						t.Errorf("got status %d, want 405", s.status)
					}
				})
			}
		})
	}
}

func TestAttackerPages(t *testing.T) {
	r := startDemo(t, false)
	for _, base := range []string{r.AttackerURL, r.SiblingURL} {
		c := browserClient(r, false)
		for _, p := range append([]string{"/"}, attackPaths()...) {
			s := send(t, c, "GET", base+p, fetchMeta{}, "", "")
			if s.status != 200 {
				t.Errorf("GET %s%s: got status %d, want 200", base, p, s.status)
			}
			if p != "/" && !strings.Contains(s.body, r.URL) {
				t.Errorf("GET %s%s: the page does not target %s", base, p, r.URL)
			}
		}
	}
	if !strings.HasPrefix(r.AttackerURL, "http://127.0.0.") {
		t.Errorf("got attacker URL %q, want another site than localhost", r.AttackerURL)
	}
	if !strings.HasPrefix(r.SiblingURL, "https://localhost:") || r.SiblingURL == r.URL {
		t.Errorf("got sibling URL %q, want another port of https://localhost", r.SiblingURL)
	}
}

func attackPaths() []string {
	var out []string
	for _, a := range demo.Attacks {
		out = append(out, a.Path)
	}
	return out
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		name string
		opts demo.Options
		want string
	}{
		{"no dir", demo.Options{Listen: "localhost:0"}, "Options.Dir is required"},
		{"public listen", demo.Options{Dir: t.TempDir(), Listen: "0.0.0.0:0"}, `listen address "0.0.0.0:0": the demo serves on loopback only`},
		{"public attacker", demo.Options{Dir: t.TempDir(), Listen: "localhost:0", AttackerAddr: "192.0.2.1:0"}, `attacker address "192.0.2.1:0"`},
		{"public sibling", demo.Options{Dir: t.TempDir(), Listen: "localhost:0", SiblingAddr: "192.0.2.1:0"}, `sibling address "192.0.2.1:0"`},
		{"bad address", demo.Options{Dir: t.TempDir(), Listen: "localhost"}, `listen address "localhost"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := demo.Start(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestSiblingOnBankHost: the same-site attacker is same-site only on the
// bank's own host. https://localhost and https://127.0.0.1 are two sites,
// so a sibling on the other one would be cross-site while its pages and
// the self-check call it same-site: refused. Its twins, the sibling on
// the bank's host (by name or by address), start.
func TestSiblingOnBankHost(t *testing.T) {
	tests := []struct {
		name, listen, sibling string
		ok                    bool
	}{
		{"bank on localhost, sibling on 127.0.0.1", "localhost:0", "127.0.0.1:0", false},
		{"bank on 127.0.0.1, sibling on localhost", "127.0.0.1:0", "localhost:0", false},
		{"bank on 127.0.0.1, default sibling (127.0.0.1)", "127.0.0.1:0", "", true},
		{"both on localhost", "localhost:0", "localhost:0", true},
		{"both on 127.0.0.1", "127.0.0.1:0", "127.0.0.1:0", true},
		{"bank with no host, sibling on localhost", ":0", "localhost:0", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := demo.Start(context.Background(), demo.Options{Dir: t.TempDir(), Listen: tt.listen, SiblingAddr: tt.sibling})
			if err == nil {
				r.Close()
			}
			if tt.ok && err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "the bank's host")) {
				t.Fatalf("got error %v, want one saying the sibling must be on the bank's host", err)
			}
		})
	}
}

func TestStartPortInUse(t *testing.T) {
	r := startDemo(t, false)
	port := strings.TrimPrefix(r.URL, "https://localhost:")
	_, err := demo.Start(context.Background(), demo.Options{Dir: t.TempDir(), Listen: "localhost:" + port})
	if err == nil {
		t.Fatal("got no error starting on a port in use")
	}
	if !strings.Contains(err.Error(), fmt.Sprint(port)) {
		t.Errorf("error %q does not name the port", err)
	}
}

func TestContextEndsDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, err := demo.Start(ctx, demo.Options{Dir: t.TempDir(), Listen: "localhost:0", SiblingAddr: "localhost:0"})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-r.Done()
	if err := r.Err(); err != nil {
		t.Errorf("got %v, want a clean stop", err)
	}
	if _, err := r.ServiceClient().Get(r.URL + "/api/balance"); err == nil {
		t.Errorf("the gateway still answers after the context ended")
	}
}

func TestSelfCheck(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		t.Run(fmt.Sprintf("insecure=%v", insecure), func(t *testing.T) {
			r := startDemo(t, insecure)
			results, err := r.SelfCheck(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(results) < 2 {
				t.Fatalf("got %d results, want a service request and forgeries", len(results))
			}
			for i, res := range results {
				wantMoved := i == 0 || insecure // the service request always pays
				if res.Moved != wantMoved || !res.OK {
					t.Errorf("%s: got moved %v ok %v, want moved %v ok true (%v)", res.Name, res.Moved, res.OK, wantMoved, res)
				}
			}
		})
	}
}

// A client certificate revoked in the folder's CRL is refused by the next
// demo; TestServiceClient is the twin with the same certificate unrevoked.
func TestRevokedClientRefused(t *testing.T) {
	dir := t.TempDir()
	files, _, err := demo.PreparePKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	client, err := pki.LoadCert(files.Client, files.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	prev, err := pki.LoadCRL(dir)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.Revoke(prev, client.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.SaveCRL(dir, der); err != nil {
		t.Fatal(err)
	}

	r, err := demo.Start(context.Background(), demo.Options{Dir: dir, Listen: "localhost:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.ClientRevoked {
		t.Errorf("got ClientRevoked false, want true")
	}
	resp, err := r.ServiceClient().Post(r.URL+"/api/transfers", "application/json", strings.NewReader(`{"to":"bob","amount":5}`))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			t.Errorf("a revoked certificate paid: status %d", resp.StatusCode)
		}
	}
	if got := r.Bank.Balances()["bob"]; got != 1000 {
		t.Errorf("got bob %d, want 1000", got)
	}
}
