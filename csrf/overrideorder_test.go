package csrf_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// Method-override middleware placed before Handler (it runs first, and
// Handler sees the method it set) or after it (Handler sees the request
// line, and the override). Either way no cross-site request reaches a
// handler for an unsafe method: with the override before, a cross-site
// GET ?_method=DELETE arrives as DELETE and is checked; a cross-site POST
// with _method=GET arrives as GET and is let through, but the application
// then serves it as a GET too (a form body's fields in r.Form are nothing
// a cross-site GET could not put in its query). With the override after,
// the POST is checked as a POST, and the GET as the method its override
// names (UnsafeMethodOverride). The twins, the same requests from the
// page's own origin, reach the application with the override applied:
// the middleware does override.
func TestMethodOverrideMiddlewareOrder(t *testing.T) {
	override := func(method string) string {
		m := strings.ToUpper(strings.TrimSpace(method))
		switch m {
		case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
			return m
		}
		return ""
	}
	// postOnly reads the override on POST only, from the header or the
	// form (Rack, Symfony, gorilla/handlers, Express's default); anyMethod
	// also from the query on any method (hand-written middleware).
	postOnly := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				v := r.Header.Get("X-HTTP-Method-Override")
				if v == "" {
					v = r.FormValue("_method")
				}
				if m := override(v); m != "" {
					r.Method = m
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	anyMethod := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := r.Header.Get("X-HTTP-Method-Override")
			if v == "" {
				v = r.URL.Query().Get("_method")
			}
			if v == "" && r.Method == http.MethodPost {
				v = r.FormValue("_method")
			}
			if m := override(v); m != "" {
				r.Method = m
			}
			next.ServeHTTP(w, r)
		})
	}
	form := func(method, target, body string, h ...string) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest(method, app+target, strings.NewReader(body))
			r.URL.Scheme, r.URL.Host = "", ""
			if body != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for i := 0; i+1 < len(h); i += 2 {
				r.Header.Set(h[i], h[i+1])
			}
			return r
		}
	}
	requests := []struct {
		name string
		req  func() *http.Request
		want string // the method the application serves it as, same-origin
	}{
		{"GET ?_method=DELETE", form("GET", "/x?_method=DELETE", ""), "DELETE"},
		{"GET, X-HTTP-Method-Override: DELETE", form("GET", "/x", "", "X-HTTP-Method-Override", "DELETE"), "DELETE"},
		{"POST _method=GET in the form", form("POST", "/x", "_method=GET&amount=100"), "GET"},
		{"POST, X-HTTP-Method-Override: GET", form("POST", "/x", "amount=100", "X-HTTP-Method-Override", "GET"), "GET"},
		{"POST _method=DELETE in the form", form("POST", "/x", "_method=DELETE"), "DELETE"},
		{"POST ?_method=PUT", form("POST", "/x?_method=PUT", "amount=100"), "PUT"},
		{"POST without override", form("POST", "/x", "amount=100"), "POST"},
	}
	for _, mw := range []struct {
		name string
		mw   func(http.Handler) http.Handler
	}{{"post-only override", postOnly}, {"any-method override", anyMethod}} {
		for _, before := range []bool{true, false} {
			for _, tt := range requests {
				order := map[bool]string{true: "before", false: "after"}[before]
				t.Run(mw.name+" "+order+" Handler/"+tt.name, func(t *testing.T) {
					var served string
					app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served = r.Method })
					var h http.Handler
					if before {
						h = mw.mw(csrf.New().Handler(app))
					} else {
						h = csrf.New().Handler(mw.mw(app))
					}
					r := tt.req()
					r.Header.Set("Sec-Fetch-Site", "cross-site")
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, r)
					if served != "" && served != http.MethodGet && served != http.MethodHead {
						t.Fatalf("cross-site: the application served %s (status %d), want it refused or served as a safe method", served, rec.Code)
					}
					if served == "" && rec.Code != http.StatusForbidden {
						t.Fatalf("cross-site: got status %d and nothing served", rec.Code)
					}

					// The twin from the page's own origin.
					served = ""
					r = tt.req()
					r.Header.Set("Sec-Fetch-Site", "same-origin")
					h.ServeHTTP(httptest.NewRecorder(), r)
					want := tt.want
					if mw.name == "post-only override" && strings.HasPrefix(tt.name, "GET") {
						want = "GET" // it reads no override on a GET
					}
					if served != want {
						t.Errorf("same-origin: the application served %q, want %q", served, want)
					}
				})
			}
		}
	}
}
