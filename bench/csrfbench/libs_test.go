package csrfbench_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	filippo "filippo.io/csrf"
	gorilla "github.com/gorilla/csrf"
	"github.com/justinas/nosurf"

	"github.com/forgeproof/forgeproof/csrf"
)

// The service under protection and the attacker, as a browser names them.
const (
	selfOrigin = "https://app.example"
	evilOrigin = "https://evil.example"
	host       = "app.example"
)

// lib is one middleware under comparison, set up for an HTTPS service.
type lib struct {
	name string
	// wrap puts the middleware in front of h.
	wrap func(h http.Handler) http.Handler
	// token returns a token for r from inside the wrapped handler; nil for
	// libraries without tokens.
	token func(r *http.Request) string
}

// originLibs check origins only.
func originLibs(tb testing.TB) []lib {
	return []lib{
		{name: "forgeproof", wrap: csrf.New().Handler},
		{name: "net-http", wrap: http.NewCrossOriginProtection().Handler},
		{name: "filippo", wrap: filippo.New().Handler},
	}
}

// tokenLibs check origins and require a token on unsafe requests.
func tokenLibs(tb testing.TB) []lib {
	keys, err := csrf.NewKeyRing(csrf.GenerateKey())
	if err != nil {
		tb.Fatal(err)
	}
	fp := csrf.New()
	fp.SetKeyRing(keys)
	if err := fp.SetMode(csrf.ModeOriginAndToken); err != nil {
		tb.Fatal(err)
	}

	// gorilla/csrf's README: a 32-byte auth key, Secure cookies (the
	// default) on HTTPS.
	gorillaKey := make([]byte, 32)
	copy(gorillaKey, "0123456789abcdef0123456789abcdef")
	gorillaMW := gorilla.Protect(gorillaKey, gorilla.Secure(true), gorilla.Path("/"))

	// nosurf's README: a base cookie that is Secure and HttpOnly on HTTPS,
	// and the request's own TLS state to tell HTTPS from HTTP.
	nosurfWrap := func(h http.Handler) http.Handler {
		n := nosurf.New(h)
		n.SetBaseCookie(http.Cookie{Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		n.SetIsTLSFunc(func(r *http.Request) bool { return r.TLS != nil })
		return n
	}

	return []lib{
		{name: "forgeproof", wrap: fp.Handler, token: func(r *http.Request) string {
			tok, err := fp.Token(r)
			if err != nil {
				panic(err)
			}
			return tok
		}},
		{name: "gorilla", wrap: gorillaMW, token: gorilla.Token},
		{name: "nosurf", wrap: nosurfWrap, token: nosurf.Token},
	}
}

// newRequest builds a request as a server receives it over TLS: r.TLS set,
// r.URL without scheme and host (go.dev/issue/73151).
func newRequest(method string, header ...string) *http.Request {
	r := httptest.NewRequest(method, "https://"+host+"/transfer", nil)
	r.URL.Scheme, r.URL.Host = "", ""
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

// recorder is a ResponseWriter that keeps the status and nothing else, so
// the benchmarks measure the middleware rather than the recorder.
type recorder struct {
	h    http.Header
	code int
}

func newRecorder() *recorder { return &recorder{h: make(http.Header)} }

func (w *recorder) Header() http.Header { return w.h }
func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *recorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(b), nil
}
func (w *recorder) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}
func (w *recorder) reset() {
	clear(w.h)
	w.code = 0
}

// A benchmark case: the request, and whether it must be accepted.
type tcase struct {
	name   string
	req    *http.Request
	accept bool
}

// accepted reports whether a status means the request reached the handler;
// libraries refuse with different codes (nosurf answers 400).
func accepted(code int) bool { return code == http.StatusOK }

// originCases are the requests of the Origin group.
func originCases() []tcase {
	return []tcase{
		{name: "same-origin", req: newRequest("POST", "Sec-Fetch-Site", "same-origin", "Origin", selfOrigin), accept: true},
		{name: "legacy-origin", req: newRequest("POST", "Origin", selfOrigin), accept: true},
		{name: "cross-site", req: newRequest("POST", "Sec-Fetch-Site", "cross-site", "Origin", evilOrigin), accept: false},
	}
}

// tokenFixture is a token library's handler with a visitor who has
// loaded a page: the cookie the library set and a token it minted.
type tokenFixture struct {
	handler http.Handler
	cookie  string // the Cookie header a browser sends back
	token   string
	minted  *string // the last token the handler minted on a GET
}

func newTokenFixture(tb testing.TB, l lib) tokenFixture {
	tb.Helper()
	var minted string
	f := tokenFixture{minted: &minted}
	f.handler = l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			minted = l.token(r)
		}
	}))
	// The first visit: the library sets its cookie and mints a token.
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, newRequest("GET", "Sec-Fetch-Site", "none"))
	var cookies []string
	for _, c := range w.Result().Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	if len(cookies) == 0 || minted == "" {
		tb.Fatalf("%s: first GET set cookies %q and token %q, want both", l.name, cookies, minted)
	}
	f.cookie, f.token = strings.Join(cookies, "; "), minted
	return f
}

// tokenCases are the requests of the Token group for one visitor.
func tokenCases(f tokenFixture) []tcase {
	return []tcase{
		{name: "mint", req: newRequest("GET", "Sec-Fetch-Site", "same-origin", "Cookie", f.cookie), accept: true},
		{name: "verify", req: newRequest("POST", "Sec-Fetch-Site", "same-origin", "Origin", selfOrigin, "Cookie", f.cookie, csrf.HeaderName, f.token), accept: true},
		{name: "cross-site", req: newRequest("POST", "Sec-Fetch-Site", "cross-site", "Origin", evilOrigin, "Cookie", f.cookie), accept: false},
	}
}
