package scan_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// keptApp mimics the most common Express setup: express-session with
// saveUninitialized: true (every visitor gets a connect.sid on the first
// page, with the default attributes: HttpOnly, Path=/, no SameSite) and
// a login that stores the user in that session without
// req.session.regenerate(), so the cookie is kept through the login (PHP's
// session_start() without session_regenerate_id() does the same). The
// login answers a good and a wrong password alike, with a 302 to / and no
// Set-Cookie (passport's successRedirect and failureRedirect both /):
// only the pages tell them apart. No CSRF defence: /transfer is exposed.
type keptApp struct {
	// loginPage is where the login form is: "/" (which shows the app once
	// logged in) or "/login" (which then redirects to /, as PHP apps do).
	loginPage string
	// rolling: the cookie is set again with the same value on every
	// answer (express-session with rolling: true and a maxAge).
	rolling bool
	// regenerate: the login does call req.session.regenerate() (a new
	// cookie value), the twin that always worked.
	regenerate bool
	// sameOriginLogin: a login POST from another site is answered as
	// the real one (302 to /) but logs no one in.
	sameOriginLogin bool
	// paths records the paths requested, when not nil.
	paths map[string]bool

	mu       sync.Mutex
	balance  int
	sessions map[string]string // connect.sid → user, "" before login
}

func (a *keptApp) cookie(w http.ResponseWriter, id string) {
	c := &http.Cookie{Name: "connect.sid", Value: id, Path: "/", HttpOnly: true}
	if a.rolling {
		c.MaxAge = 3600
	}
	http.SetCookie(w, c)
}

func (a *keptApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w.Header().Set("X-Powered-By", "Express")
	if a.paths != nil {
		a.paths[r.URL.Path] = true
	}
	id := ""
	if c, err := r.Cookie("connect.sid"); err == nil {
		if _, ok := a.sessions[c.Value]; ok {
			id = c.Value
		}
	}
	if id == "" { // saveUninitialized: true
		id = rand.Text()
		a.sessions[id] = ""
		a.cookie(w, id)
	} else if a.rolling {
		a.cookie(w, id)
	}
	user := a.sessions[id]
	const form = `<form method="post" action="/login"><input name="username"><input type="password" name="password"><button>Log in</button></form>`
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	switch {
	case r.Method == "GET" && r.URL.Path == "/":
		if user == "" {
			if a.loginPage == "/" {
				fmt.Fprintf(w, "<!doctype html><title>Log in</title>%s\n", form)
				return
			}
			fmt.Fprint(w, `<!doctype html><title>Bank</title><a href="/login">Log in</a>`+"\n")
			return
		}
		fmt.Fprintf(w, `<!doctype html><title>Bank</title><p>Welcome, %s.</p><form method="post" action="/transfer"><input name="to" value="bob"><input name="amount" value="1"><button>Send</button></form>`+"\n", user)
	case r.Method == "GET" && r.URL.Path == "/login" && a.loginPage == "/login":
		if user != "" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		fmt.Fprintf(w, "<!doctype html><title>Log in</title>%s\n", form)
	case r.Method == "POST" && r.URL.Path == "/login":
		if r.PostFormValue("password") == "demo" && (!a.sameOriginLogin || r.Header.Get("Sec-Fetch-Site") == "same-origin") {
			if a.regenerate {
				delete(a.sessions, id)
				id = rand.Text()
				a.cookie(w, id)
			}
			a.sessions[id] = r.PostFormValue("username")
		}
		http.Redirect(w, r, "/", http.StatusFound)
	case r.Method == "GET" && r.URL.Path == "/api/balance":
		if user == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"balance":%d}`, a.balance)
	case r.Method == "POST" && r.URL.Path == "/transfer":
		if user == "" {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		a.balance--
		http.Redirect(w, r, "/", http.StatusFound)
	default:
		http.NotFound(w, r)
	}
}

// TestLoginKeepsSession: a service that keeps the session cookie through
// the login (no new cookie value, and the same answer as a refused login)
// is logged into: the page that held the login form no longer shows it.
// The scan then tests /transfer with the session (a forgery found),
// reports the kept cookie (session-not-renewed, info) and judges the
// cross-site login by the same page. Each case has its twin with a wrong
// password, which must still stop the scan with login-failed: the login
// page shows the form again to the unchanged session. The service that
// regenerates the session is logged into as before, with no
// session-not-renewed.
func TestLoginKeepsSession(t *testing.T) {
	p := newTestPKI(t)
	tests := []struct {
		name       string
		loginPage  string
		rolling    bool
		regenerate bool
		refusal    string // in the error of the wrong password
	}{
		{"form on the start page", "/", false, false, "answered 302 and set no cookie, and the page that held the login form still shows it (GET %s/ answered 200 with a POST form with a password field), so no session started"},
		{"login page redirects once logged in", "/login", false, false, "answered 302 and set no cookie, and the page that held the login form still shows it (GET %s/login answered 200"},
		{"rolling cookie set again unchanged", "/", true, false, "answered 302 and set no new session cookie (only connect.sid, unchanged, expired or anti-CSRF), and the page that held the login form still shows it (GET %s/ answered 200"},
		{"session regenerated", "/", false, true, "answered 302 and set no cookie, and the page that held the login form still shows it (GET %s/ answered 200"},
	}
	for _, tt := range tests {
		for _, password := range []string{"demo", "nope"} {
			t.Run(fmt.Sprintf("%s/password=%s", tt.name, password), func(t *testing.T) {
				app := &keptApp{loginPage: tt.loginPage, rolling: tt.rolling, regenerate: tt.regenerate, balance: 1000, sessions: map[string]string{}}
				srv := startTLS(t, p, app)
				rep, err := loginScan(p, srv.URL, password, nil)
				if password != "demo" {
					var se *scan.Error
					if !errors.As(err, &se) || se.Reason != scan.ReasonLogin {
						t.Fatalf("got %v, want reason %q", err, scan.ReasonLogin)
					}
					if want := fmt.Sprintf(tt.refusal, srv.URL); !strings.Contains(err.Error(), want) {
						t.Errorf("got %q, want %q in it", err, want)
					}
					return
				}
				if err != nil {
					t.Fatalf("got %v, want a logged-in scan", err)
				}
				if got := forgeries(rep, "/transfer"); len(got) == 0 {
					t.Errorf("/transfer: no forgery found; findings %v, endpoints %+v", rulesOf(rep), rep.Endpoints)
				}
				i := slices.IndexFunc(rep.Findings, func(f scan.Finding) bool { return f.Rule == scan.RuleSessionNotRenewed })
				if tt.regenerate {
					if i >= 0 {
						t.Errorf("got %+v, want no %s: the session was renewed", rep.Findings[i], scan.RuleSessionNotRenewed)
					}
				} else {
					if i < 0 {
						t.Fatalf("findings %v: want %s", rulesOf(rep), scan.RuleSessionNotRenewed)
					}
					f := rep.Findings[i]
					if f.Severity != scan.SeverityInfo || f.Cookie != "connect.sid" || f.URL != srv.URL+"/login" || !strings.Contains(f.Fix, "req.session.regenerate()") {
						t.Errorf("got %+v, want an info finding on connect.sid at POST /login with express-session's fix", f)
					}
				}
				// A cross-site login logs the fresh browser in too: told by
				// the login page when the cookie is not renewed.
				j := slices.IndexFunc(rep.Findings, func(f scan.Finding) bool { return f.Rule == scan.RuleLoginCSRF })
				if j < 0 {
					t.Fatalf("findings %v: want %s", rulesOf(rep), scan.RuleLoginCSRF)
				}
				if byPage := strings.Contains(rep.Findings[j].Evidence, "no longer showed it"); byPage == tt.regenerate {
					t.Errorf("%s evidence %q: told by the login page %v, want %v", scan.RuleLoginCSRF, rep.Findings[j].Evidence, byPage, !tt.regenerate)
				}
			})
		}
	}
}

// TestAttackerLoginKeepsSession: the attacker's login, through the same
// service that keeps the session cookie, is judged by the login page too:
// a good password logs the attacker in, a wrong one is login-failed.
func TestAttackerLoginKeepsSession(t *testing.T) {
	p := newTestPKI(t)
	for _, password := range []string{"demo", "nope"} {
		t.Run("password="+password, func(t *testing.T) {
			app := &keptApp{loginPage: "/", balance: 1000, sessions: map[string]string{}}
			srv := startTLS(t, p, app)
			_, err := loginScan(p, srv.URL, "demo", &scan.Login{Form: map[string]string{"username": "mallory", "password": password}})
			if password == "demo" {
				if err != nil {
					t.Fatalf("got %v, want both logged in", err)
				}
				return
			}
			var se *scan.Error
			if !errors.As(err, &se) || se.Reason != scan.ReasonLogin || !strings.Contains(err.Error(), "attacker login") || !strings.Contains(err.Error(), "still shows it") {
				t.Errorf("got %v, want reason %q naming the attacker login and the login form shown again", err, scan.ReasonLogin)
			}
		})
	}
}

// TestLoginCSRFKeptSessionRefused: the twin of TestLoginKeepsSession's
// login-csrf finding on a service that keeps its session cookie through
// the login. The cross-site login POST is answered as the real login
// (302 to /, a fresh session cookie) but logs no one in: the login page,
// reloaded in that browser, still shows the form, so no login-csrf. The
// kept session is still reported (session-not-renewed). Without this
// twin, loginCSRF reporting every accepted cross-site login of such a
// service failed no test.
func TestLoginCSRFKeptSessionRefused(t *testing.T) {
	p := newTestPKI(t)
	app := &keptApp{loginPage: "/", sameOriginLogin: true, balance: 1000, sessions: map[string]string{}}
	srv := startTLS(t, p, app)
	rep, err := loginScan(p, srv.URL, "demo", nil)
	if err != nil {
		t.Fatalf("got %v, want a logged-in scan", err)
	}
	rules := rulesOf(rep)
	if slices.Contains(rules, scan.RuleLoginCSRF) || !slices.Contains(rules, scan.RuleSessionNotRenewed) {
		t.Errorf("findings %v: want %s and no %s (the cross-site login logged no one in)", rules, scan.RuleSessionNotRenewed, scan.RuleLoginCSRF)
	}
}

// TestRailsFormatOnlyToRails: the PATH.json variants (Rails takes the
// format from the extension) go to a service recognised as Rails only
// (TestRailsFormatJSONSkip); an Express app's form endpoint gets none.
// Without the filter in assess, no test failed.
func TestRailsFormatOnlyToRails(t *testing.T) {
	p := newTestPKI(t)
	app := &keptApp{loginPage: "/", regenerate: true, balance: 1000, sessions: map[string]string{}, paths: map[string]bool{}}
	srv := startTLS(t, p, app)
	rep, err := loginScan(p, srv.URL, "demo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(forgeries(rep, "/transfer")) == 0 {
		t.Fatalf("/transfer not probed: findings %v", rulesOf(rep))
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if app.paths["/transfer.json"] || app.paths["/login.json"] {
		t.Errorf("paths requested %v: PATH.json sent to an Express app", app.paths)
	}
}
