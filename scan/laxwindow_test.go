package scan_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// flaskLike mimics a Flask 2.2 service (Debian's python3-flask, checked
// with the app and Chromium 156 on 2026-12-05): its session cookie
// carries no SameSite unless SESSION_COOKIE_SAMESITE is set (Flask's
// default), and its views check by hand. /referer refuses a foreign
// Referer but lets a missing one through; /prefix takes an Origin that
// starts with https://localhost. In Chromium 156 a top-level form POST
// from a page with Referrer-Policy: no-referrer sends Origin: null, no
// Referer and, within two minutes of the login, the cookie without
// SameSite: the Flask app's /referer/transfer spent money that way.
type flaskLike struct {
	sameSite string // "" (no attribute), "Lax" or "None"

	mu      sync.Mutex
	balance int
}

func (a *flaskLike) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, err := r.Cookie("session")
	in := err == nil && c.Value == "alice"
	switch {
	case r.Method == "POST" && r.URL.Path == "/login":
		attr := ""
		if a.sameSite != "" {
			attr = "; SameSite=" + a.sameSite
		}
		w.Header().Set("Set-Cookie", "session=alice; Path=/; Secure; HttpOnly"+attr)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case r.Method == "GET" && r.URL.Path == "/":
		if !in {
			fmt.Fprint(w, `<form method="post" action="/login"><input name="username"><input type="password" name="password"></form>`)
			return
		}
		fmt.Fprint(w, `<p>hi</p>`)
	case r.URL.Path == "/api/balance":
		if !in {
			http.Error(w, `{}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"balance":%d}`, a.balance)
	case r.Method == "POST" && (r.URL.Path == "/referer" || r.URL.Path == "/prefix"):
		if ref := r.Header.Get("Referer"); r.URL.Path == "/referer" && ref != "" {
			if u, err := url.Parse(ref); err != nil || u.Host != r.Host {
				http.Error(w, "bad referer", http.StatusForbidden)
				return
			}
		}
		if r.URL.Path == "/prefix" && !strings.HasPrefix(r.Header.Get("Origin"), "https://localhost") {
			http.Error(w, "bad origin", http.StatusForbidden)
			return
		}
		if !in {
			http.Error(w, "login", http.StatusForbidden)
			return
		}
		a.balance--
		fmt.Fprintf(w, "<p>sent; balance %d</p>", a.balance)
	default:
		http.NotFound(w, r)
	}
}

// TestBypassInLaxPOSTWindow: a check that an Origin: null (no-referrer)
// or look-alike page gets through is forged with a session cookie without
// SameSite, which Chromium sends on cross-site top-level POSTs for two
// minutes after it is set: reported as origin-null and origin-lookalike,
// as with a SameSite=None cookie. Twin: with SameSite=Lax the cookie
// never goes cross-site, and neither is reported.
func TestBypassInLaxPOSTWindow(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		sameSite string
		want     bool
	}{{"", true}, {"None", true}, {"Lax", false}} {
		t.Run("SameSite="+tt.sameSite, func(t *testing.T) {
			app := &flaskLike{sameSite: tt.sameSite, balance: 1000}
			srv := startTLS(t, p, app)
			target := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/"
			rep := djangoScan(t, p, target, djangoForm("/referer"), djangoForm("/prefix"))
			for path, rule := range map[string]string{"/referer": scan.RuleOriginNull, "/prefix": scan.RuleOriginLookalike} {
				if got := slices.Contains(forgeries(rep, path), rule); got != tt.want {
					t.Errorf("%s: %s %v, want %v (findings %v)", path, rule, got, tt.want, forgeries(rep, path))
				}
			}
			for _, f := range rep.Findings {
				if f.Rule == scan.RuleOriginNull && tt.sameSite == "" && !strings.Contains(f.Evidence, "Lax+POST window") {
					t.Errorf("evidence %q does not name the Lax+POST window", f.Evidence)
				}
			}
		})
	}
}
