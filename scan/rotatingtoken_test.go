package scan_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// rotatingApp mimics Express with express-session (its cookie
// SameSite=None; Secure) and csrf-sync whose page renders a fresh
// synchronizer token each time (req.csrfToken(true), i.e.
// generateToken(req, true), which overwrites the session's token): only
// the token of the session's last page load is valid. The login form and,
// unless open, the transfer form need it.
type rotatingApp struct {
	open bool // /transfer takes no token (the exposed twin)

	mu       sync.Mutex
	balance  int
	sessions map[string]*rotSession
}

type rotSession struct{ user, token string }

func (a *rotatingApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s *rotSession
	if c, err := r.Cookie("connect.sid"); err == nil {
		s = a.sessions[c.Value]
	}
	if s == nil { // saveUninitialized: every request gets a session
		id := rand.Text()
		s = &rotSession{}
		a.sessions[id] = s
		http.SetCookie(w, &http.Cookie{Name: "connect.sid", Value: id, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
	}
	valid := func() bool { return s.token != "" && r.PostFormValue("_csrf") == s.token }
	switch {
	case r.Method == "GET" && r.URL.Path == "/":
		s.token = rand.Text() // req.csrfToken(true)
		if s.user == "" {
			fmt.Fprintf(w, `<form method="post" action="/login"><input type="hidden" name="_csrf" value="%s"><input name="username"><input type="password" name="password"><button>Log in</button></form>`, s.token)
			return
		}
		fmt.Fprintf(w, `<form method="post" action="/transfer"><input type="hidden" name="_csrf" value="%s"><input name="to" value="bob"><input name="amount" value="1"><button>Send</button></form>`, s.token)
	case r.Method == "POST" && r.URL.Path == "/login":
		if !valid() || r.PostFormValue("password") != "demo" {
			http.Error(w, "invalid csrf token", http.StatusForbidden)
			return
		}
		// req.session.regenerate: a new session (and cookie) at login.
		id := rand.Text()
		a.sessions[id] = &rotSession{user: r.PostFormValue("username")}
		http.SetCookie(w, &http.Cookie{Name: "connect.sid", Value: id, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case r.Method == "GET" && r.URL.Path == "/api/balance":
		if s.user == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"balance":%d}`, a.balance)
	case r.Method == "POST" && r.URL.Path == "/transfer":
		if s.user == "" || (!a.open && !valid()) {
			http.Error(w, "invalid csrf token", http.StatusForbidden)
			return
		}
		a.balance--
		fmt.Fprintf(w, "sent; balance %d", a.balance)
	default:
		http.NotFound(w, r)
	}
}

// TestLoginWithRotatingToken: the start page's login form holds a token
// that the next page load of the session replaces. The scan logs in with
// it, as a browser submits the form it shows: no request of the session
// comes between the page and the login (the start page's CORS check,
// sent cross-site with the SameSite=None session cookie, used to come
// there, rotated the token and failed the login). The token-protected
// transfer is then forged by no probe; its twin without the token check
// is forged by a plain cross-site form (the cookie is SameSite=None).
func TestLoginWithRotatingToken(t *testing.T) {
	for _, open := range []bool{false, true} {
		t.Run(fmt.Sprintf("open=%v", open), func(t *testing.T) {
			p := newTestPKI(t)
			app := &rotatingApp{open: open, balance: 1000, sessions: map[string]*rotSession{}}
			srv := startTLS(t, p, app)
			rep, err := loginScan(p, srv.URL, "demo", nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if open {
				want = []string{scan.RuleCrossSiteForgery}
			}
			if got := forgeries(rep, "/transfer"); !slices.Equal(got, want) {
				t.Errorf("/transfer: findings %v, want %v", got, want)
			}
			if i := slices.IndexFunc(rep.Endpoints, func(e scan.EndpointResult) bool { return e.Assessed }); i < 0 {
				t.Errorf("no endpoint assessed: %+v", rep.Endpoints)
			}
		})
	}
}
