package scan_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/scan"
)

// loginSite is a small site behind the project's csrf middleware whose
// login form is protected by a token bound to the pre-session
// "__Host-forgeproof-csrf" cookie (after login, to the session): GET /
// (login form #login-form, and the transfer form once logged in), POST
// /login (user, password), POST /transfer (amount), GET /api/balance.
type loginSite struct {
	// tokenIn says where GET / puts the token: "form" (a hidden field, as
	// it should), "meta" (a <meta> tag for scripts: a form submission
	// without script does not carry it), or "none" (tokens off: origin
	// checks only).
	tokenIn string

	prot *csrf.Protection
	mu   sync.Mutex
	// sessions maps session IDs to balances; logins records the headers
	// and cookies of each login request.
	sessions map[string]int
	logins   []*http.Request
	tokens   []string // every token a page showed
}

func newLoginSite(t *testing.T, p *testPKI, tokenIn string) (*loginSite, *httptest.Server) {
	t.Helper()
	s := &loginSite{tokenIn: tokenIn, prot: csrf.New(), sessions: map[string]int{}}
	if tokenIn != "none" {
		ring, err := csrf.NewKeyRing(csrf.GenerateKey())
		if err != nil {
			t.Fatal(err)
		}
		s.prot.SetKeyRing(ring)
		if err := s.prot.SetMode(csrf.ModeOriginAndToken); err != nil {
			t.Fatal(err)
		}
		s.prot.SetBinding(func(r *http.Request) ([]byte, error) {
			if id, ok := s.session(r); ok {
				return []byte("session:" + id), nil
			}
			return nil, nil // the pre-session cookie
		})
	}
	srv := httptest.NewUnstartedServer(s.prot.Handler(s))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return s, srv
}

func (s *loginSite) session(r *http.Request) (string, bool) {
	c, err := r.Cookie("__Host-session")
	if err != nil {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[c.Value]
	return c.Value, ok
}

func (s *loginSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == "GET" && r.URL.Path == "/":
		tok, _ := s.prot.Token(r) // "" when tokens are off
		if tok != "" {
			s.mu.Lock()
			s.tokens = append(s.tokens, tok)
			s.mu.Unlock()
		}
		field, meta := "", ""
		switch s.tokenIn {
		case "form":
			field = `<input type="hidden" name="csrf_token" value="` + html.EscapeString(tok) + `">`
		case "meta":
			meta = `<meta name="csrf-token" content="` + html.EscapeString(tok) + `">`
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html>%s<title>site</title>\n", meta)
		if _, ok := s.session(r); ok {
			fmt.Fprintf(w, `<form id="transfer-form" method="post" action="/transfer">%s<input name="amount" value="1"><button>Send</button></form>`+"\n", field)
		}
		fmt.Fprintf(w, `<form id="login-form" method="post" action="/login">%s<input type="hidden" name="next" value="/">`+
			`<input name="user"><input type="password" name="password"><button>Log in</button></form>`+"\n", field)
	case r.Method == "POST" && r.URL.Path == "/login":
		s.mu.Lock()
		s.logins = append(s.logins, r.Clone(context.Background()))
		s.mu.Unlock()
		if r.PostFormValue("user") != "alice" || r.PostFormValue("password") != "wonderland" || r.PostFormValue("next") != "/" {
			http.Error(w, "wrong user or password", http.StatusUnauthorized)
			return
		}
		id := strconv.Itoa(len(s.logins)) + "-" + strings.Repeat("s", 20)
		s.mu.Lock()
		s.sessions[id] = 100
		s.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "__Host-session", Value: id, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case r.Method == "POST" && r.URL.Path == "/transfer":
		id, ok := s.session(r)
		n, err := strconv.Atoi(r.PostFormValue("amount"))
		if !ok || err != nil {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		s.sessions[id] -= n
		s.mu.Unlock()
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case r.Method == "GET" && r.URL.Path == "/api/balance":
		id, ok := s.session(r)
		if !ok {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"balance": %d}`, s.sessions[id])
	default:
		http.NotFound(w, r)
	}
}

var aliceLogin = map[string]string{"user": "alice", "password": "wonderland"}

// TestLoginForm: the login step submits the login form as a browser does
// (its page's cookies, its hidden fields, same-origin headers), so a
// login form protected by a token bound to a pre-session cookie lets the
// scanner in, with or without a client certificate; the same form with
// the token where a form submission cannot carry it refuses the login
// (login-failed), and a login form without a token keeps working.
func TestLoginForm(t *testing.T) {
	p := newTestPKI(t)
	noCert := &tls.Config{RootCAs: p.pool}
	tests := []struct {
		name    string
		tokenIn string
		tls     *tls.Config
		reason  string // "" when the login succeeds
	}{
		{"token in the form, client certificate", "form", p.clientTLS(), ""},
		{"token in the form, no client certificate", "form", noCert, ""},
		{"token in a meta tag only", "meta", p.clientTLS(), scan.ReasonLogin},
		{"no token", "none", p.clientTLS(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site, srv := newLoginSite(t, p, tt.tokenIn)
			rep, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL + "/", TLS: tt.tls, Rate: 1000, Discover: true,
				Login:  &scan.Login{Path: "/login", Form: aliceLogin},
				Verify: balance,
			})
			if tt.reason != "" {
				var se *scan.Error
				if !errors.As(err, &se) || se.Reason != tt.reason {
					t.Fatalf("got %v, want reason %q", err, tt.reason)
				}
				for _, want := range []string{"form #login-form on " + srv.URL + "/", "POST " + srv.URL + "/login answered 403", "reason: token-missing"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error: got %q, want %q in it", err, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if len(rep.Endpoints) != 1 || !rep.Endpoints[0].Assessed || rep.Endpoints[0].Oracle != scan.OracleVerification {
				t.Errorf("endpoints: got %+v, want /transfer assessed by the balance", rep.Endpoints)
			}
			for _, f := range rep.Findings {
				if f.Severity >= scan.SeverityMedium {
					t.Errorf("false positive: %s at %s: %s", f.Rule, f.URL, f.Evidence)
				}
			}
			site.mu.Lock()
			first := site.logins[0]
			site.mu.Unlock()
			want := map[string]string{"Origin": srv.URL, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate",
				"Sec-Fetch-Dest": "document", "Referer": srv.URL + "/"}
			for k, v := range want {
				if got := first.Header.Get(k); got != v {
					t.Errorf("login request %s: got %q, want %q", k, got, v)
				}
			}
			if _, err := first.Cookie(csrf.PreSessionCookie); (err == nil) != (tt.tokenIn == "form") {
				t.Errorf("login request: pre-session cookie sent: got %v, want %v", err == nil, tt.tokenIn == "form")
			}
		})
	}
}

// TestLoginErrors: a login that cannot be done says which page, which
// form and what status.
func TestLoginErrors(t *testing.T) {
	p := newTestPKI(t)
	_, srv := newLoginSite(t, p, "form")
	tests := []struct {
		name  string
		login *scan.Login
		want  []string
	}{
		{"page without the form", &scan.Login{Path: "/login", Page: "/nowhere", Form: aliceLogin},
			[]string{"login: the page " + srv.URL + "/nowhere (answered 404) has no login form (a POST form with the action /login)"}},
		{"password not given", &scan.Login{Path: "/login", Form: map[string]string{"user": "alice"}},
			[]string{`form #login-form on ` + srv.URL + `/ has the password field "password", which the login fields do not give`}},
		{"wrong password", &scan.Login{Path: "/login", Form: map[string]string{"user": "alice", "password": "nope"}},
			[]string{"form #login-form on " + srv.URL + "/: POST " + srv.URL + "/login answered 401"}},
		{"no form with that action", &scan.Login{Path: "/signin", Form: aliceLogin, TokenField: "csrf_token"},
			[]string{`no page holds a POST form with the action /signin, so there is no "csrf_token" token to send; tried ` + srv.URL + "/ (answered 200), " + srv.URL + "/signin (answered 404)"}},
		{"token field not in the form", &scan.Login{Path: "/login", Form: aliceLogin, TokenField: "xsrf"},
			[]string{`form #login-form on ` + srv.URL + `/ has no field "xsrf"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL, TLS: p.clientTLS(), Rate: 1000, Login: tt.login,
				Endpoints: []scan.Endpoint{{Method: "POST", Path: "/transfer", Form: map[string]string{"amount": "1"}}},
			})
			var se *scan.Error
			if !errors.As(err, &se) || se.Reason != scan.ReasonLogin {
				t.Fatalf("got %v, want reason %q", err, scan.ReasonLogin)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error: got %q, want %q in it", err, w)
				}
			}
		})
	}
	// The allowed twin: the form found by its password field alone, on
	// the page given.
	if _, err := scan.Run(context.Background(), scan.Config{
		Target: srv.URL, TLS: p.clientTLS(), Rate: 1000, Discover: true,
		Login: &scan.Login{Page: "/", Form: aliceLogin},
	}); err != nil {
		t.Errorf("login by the page alone: got %v, want no error", err)
	}
}

// TestLoginSecrets: the password, the session cookie and the tokens never
// appear in any output format, including the login CSRF reproduction.
func TestLoginSecrets(t *testing.T) {
	p := newTestPKI(t)
	// The guard in report-only mode lets the forgeries through, so that
	// findings (login-csrf among them) carry curl commands to check.
	site, srv := newLoginSite(t, p, "form")
	site.prot.SetReportOnly(true)
	rep, err := scan.Run(context.Background(), scan.Config{
		Target: srv.URL, TLS: p.clientTLS(), Rate: 1000, Discover: true,
		Login: &scan.Login{Path: "/login", Form: aliceLogin}, Verify: balance,
		Cookies:     []*http.Cookie{{Name: "given", Value: "given-cookie-secret"}},
		CurlTLSArgs: []string{"--cert", "c.pem", "--key", "k.pem"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rulesOf(rep), scan.RuleLoginCSRF) {
		t.Fatalf("got %v, want %s (the negative control the redaction is checked on)", rulesOf(rep), scan.RuleLoginCSRF)
	}
	var out strings.Builder
	scan.WriteText(&out, rep, scan.TextOptions{})
	scan.WriteJSON(&out, rep)
	scan.WriteSARIF(&out, rep, "test")
	site.mu.Lock()
	secrets := append([]string{"wonderland", "given-cookie-secret", strings.Repeat("s", 20)}, site.tokens...)
	site.mu.Unlock()
	if len(secrets) < 5 {
		t.Fatalf("got %d tokens shown, want some", len(secrets)-3)
	}
	for _, s := range secrets {
		if strings.Contains(out.String(), s) {
			t.Errorf("output leaks %q:\n%s", s, out.String())
		}
	}
	if !strings.Contains(out.String(), "password=REDACTED") {
		t.Errorf("output: want the login CSRF curl command with password=REDACTED in\n%s", out.String())
	}
}
