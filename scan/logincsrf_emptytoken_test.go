package scan_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// certOnlyLoginApp serves only clients with a certificate (every page
// answers 403 without one, so the scan, given no attacker certificate,
// can fetch no token of another session) and logs users in through a
// form with a hidden _csrf field. With check off the field is rendered
// empty and nothing checks it (an Express template rendering a token no
// middleware made); with check on it holds the session's token, which
// the login must carry.
type certOnlyLoginApp struct {
	check bool

	mu       sync.Mutex
	balance  int
	sessions map[string]*rotSession
}

func (a *certOnlyLoginApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "client certificate required", http.StatusForbidden)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	newSession := func(s *rotSession) {
		id := rand.Text()
		a.sessions[id] = s
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: id, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
	}
	var s *rotSession
	if c, err := r.Cookie("sid"); err == nil {
		s = a.sessions[c.Value]
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/":
		if s == nil {
			s = &rotSession{}
			newSession(s)
		}
		if a.check && s.token == "" {
			s.token = rand.Text()
		}
		if s.user == "" {
			fmt.Fprintf(w, `<form method="post" action="/login"><input type="hidden" name="_csrf" value="%s"><input name="username"><input type="password" name="password"><button>Log in</button></form>`, s.token)
			return
		}
		fmt.Fprint(w, `<form method="post" action="/transfer"><input name="to" value="bob"><input name="amount" value="1"><button>Send</button></form>`)
	case r.Method == "POST" && r.URL.Path == "/login":
		if a.check && (s == nil || s.token == "" || r.PostFormValue("_csrf") != s.token) {
			http.Error(w, "invalid csrf token", http.StatusForbidden)
			return
		}
		if r.PostFormValue("password") != "demo" {
			http.Error(w, "wrong password", http.StatusForbidden)
			return
		}
		newSession(&rotSession{user: r.PostFormValue("username")})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case r.Method == "POST" && r.URL.Path == "/transfer":
		// Guarded by the Origin check alone (the login is under test).
		if s == nil || s.user == "" || r.Header.Get("Origin") != "https://"+r.Host {
			http.Error(w, "refused", http.StatusForbidden)
			return
		}
		a.balance--
		fmt.Fprintf(w, "sent; balance %d", a.balance)
	case r.Method == "GET" && r.URL.Path == "/api/balance":
		if s == nil || s.user == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"balance":%d}`, a.balance)
	default:
		http.NotFound(w, r)
	}
}

// TestLoginCSRFEmptyTokenField: when no token of another session can be
// fetched (every page needs a certificate, and the scan has no attacker
// certificate), the cross-site login is still sent, with the token field
// empty, as any page on another site can send it: a login form whose
// field is rendered empty and never checked is reported (login-csrf).
// Twin: a login that checks the session's token refuses the empty one;
// no finding, and a note says only an empty token was tried.
func TestLoginCSRFEmptyTokenField(t *testing.T) {
	for _, check := range []bool{false, true} {
		t.Run(fmt.Sprintf("check=%v", check), func(t *testing.T) {
			p := newTestPKI(t)
			app := &certOnlyLoginApp{check: check, balance: 1000, sessions: map[string]*rotSession{}}
			srv := startTLS(t, p, app)
			rep, err := loginScan(p, srv.URL, "demo", nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(rulesOf(rep), scan.RuleLoginCSRF); got == check {
				t.Errorf("login-csrf reported: %v, want %v (findings %v)", got, !check, rulesOf(rep))
			}
			noted := slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "login CSRF tested with an empty token only") })
			if noted != check {
				t.Errorf("note on the empty token: %v, want %v (notes %q)", noted, check, rep.Notes)
			}
		})
	}
}
