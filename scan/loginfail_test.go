package scan_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// answerSite is a site whose login answers 200 either way, as many do: a
// refused login shows the login page again (with a message), a good one
// shows the app. refusal picks what else a refusal does, so that each
// sign of a refused login is seen alone:
//
//   - "form": the login page again, and a fresh value of the "app" cookie
//     (a flash message in a cookie session, as Rails does);
//   - "same-cookie": an error page without the form that sets the
//     visitor cookie "sid" again with the value it already had.
//
// A good login (user alice, password wonderland) sets a new "sid" and
// answers 200 with the app page (GET / shows it too while the session
// lasts): a transfer form, no login form.
type answerSite struct {
	refusal string

	mu       sync.Mutex
	sessions map[string]bool
	n        int
}

func newAnswerSite(t *testing.T, p *testPKI, refusal string) *httptest.Server {
	t.Helper()
	s := &answerSite{refusal: refusal, sessions: map[string]bool{}}
	srv := httptest.NewUnstartedServer(s)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

const answerAppPage = `<!doctype html><title>Bank</title><p>Welcome, alice.</p><form method="post" action="/transfer"><input name="amount" value="1"><button>Send</button></form>` + "\n"

const answerLoginForm = `<form method="post" action="/login"><input name="user"><input type="password" name="password"><button>Log in</button></form>`

func (s *answerSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sid, _ := r.Cookie("sid")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	switch {
	case r.Method == "GET" && r.URL.Path == "/":
		if sid == nil {
			s.n++
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: fmt.Sprintf("visitor-%d", s.n), Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
		if sid != nil && s.sessions[sid.Value] {
			fmt.Fprint(w, answerAppPage)
			return
		}
		fmt.Fprintf(w, "<!doctype html><title>Log in</title>%s\n", answerLoginForm)
	case r.Method == "POST" && r.URL.Path == "/login":
		if r.PostFormValue("user") != "alice" || r.PostFormValue("password") != "wonderland" {
			switch s.refusal {
			case "form":
				s.n++
				http.SetCookie(w, &http.Cookie{Name: "app", Value: fmt.Sprintf("flash-%d", s.n), Path: "/", Secure: true, HttpOnly: true})
				fmt.Fprintf(w, "<!doctype html><title>Log in</title><p>Wrong user or password.</p>%s\n", answerLoginForm)
			case "same-cookie":
				if sid != nil {
					http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid.Value, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
				}
				fmt.Fprint(w, "<!doctype html><title>Oops</title><p>Wrong user or password. <a href=\"/\">Try again</a>.</p>\n")
			}
			return
		}
		s.n++
		id := fmt.Sprintf("session-%d", s.n)
		s.sessions[id] = true
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: id, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
		fmt.Fprint(w, answerAppPage)
	case r.Method == "POST" && r.URL.Path == "/transfer":
		if sid == nil || !s.sessions[sid.Value] {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	default:
		http.NotFound(w, r)
	}
}

// TestLoginRefusedWith200: a login refused with a 200 page is told from
// a good one by what a browser user sees (the login form again, or no new
// session cookie) and fails with login-failed, naming the sign; the same
// sites let the right password in (200 with the app page). Before these
// signs were read, both refusals counted as logins: each set a cookie.
func TestLoginRefusedWith200(t *testing.T) {
	p := newTestPKI(t)
	tests := []struct {
		name     string
		refusal  string
		password string
		want     string // in the error; "" when the login succeeds
	}{
		{"login form again", "form", "nope", "POST %s/login answered 200 with the login form again (a POST form to /login with a password field)"},
		{"login form again: right password", "form", "wonderland", ""},
		{"visitor cookie set again unchanged", "same-cookie", "nope", "POST %s/login answered 200 and set no new session cookie (only sid, unchanged, expired or anti-CSRF)"},
		{"visitor cookie: right password", "same-cookie", "wonderland", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newAnswerSite(t, p, tt.refusal)
			rep, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL, TLS: p.clientTLS(), Rate: 1000, Discover: true,
				Login: &scan.Login{Path: "/login", Form: map[string]string{"user": "alice", "password": tt.password}},
			})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want a logged-in scan", err)
				}
				if len(rep.Endpoints) != 1 || !rep.Endpoints[0].Assessed {
					t.Errorf("endpoints: got %+v, want /transfer assessed with the session", rep.Endpoints)
				}
				return
			}
			var se *scan.Error
			if !errors.As(err, &se) || se.Reason != scan.ReasonLogin {
				t.Fatalf("got %v, want reason %q", err, scan.ReasonLogin)
			}
			if want := fmt.Sprintf(tt.want, srv.URL); !strings.Contains(err.Error(), want) {
				t.Errorf("got %q, want %q in it", err, want)
			}
			if strings.Contains(err.Error(), tt.password) {
				t.Errorf("error leaks the password: %q", err)
			}
		})
	}
}
