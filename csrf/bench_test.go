package csrf_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
)

// The standard library's CrossOriginProtection runs on the same requests in
// the same benchmark run, as sub-benchmarks "csrf" and "stdlib": compare
// them with benchstat or by eye, never against a wall-clock constant.

type checker interface{ Check(*http.Request) error }

func benchCheck(b *testing.B, r *http.Request, wantErr bool) {
	for _, c := range []struct {
		name string
		c    checker
	}{
		{"csrf", csrf.New()},
		{"stdlib", http.NewCrossOriginProtection()},
	} {
		b.Run(c.name, func(b *testing.B) {
			if err := c.c.Check(r); (err != nil) != wantErr {
				b.Fatalf("got %v, want error %v", err, wantErr)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.c.Check(r)
			}
		})
	}
}

// A browser's same-origin form POST: Sec-Fetch-Site decides.
func BenchmarkAcceptSameOrigin(b *testing.B) {
	benchCheck(b, request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", "Origin", app), false)
}

// An old browser: no Sec-Fetch-Site, the Origin decides.
func BenchmarkAcceptOriginFallback(b *testing.B) {
	benchCheck(b, request("POST", app+"/transfer", "Origin", app), false)
}

// A program: no browser headers at all.
func BenchmarkAcceptNoBrowserHeaders(b *testing.B) {
	benchCheck(b, request("POST", app+"/transfer"), false)
}

func BenchmarkRejectCrossSite(b *testing.B) {
	benchCheck(b, request("POST", app+"/transfer", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), true)
}

func BenchmarkRejectOriginMismatch(b *testing.B) {
	benchCheck(b, request("POST", app+"/transfer", "Origin", "https://evil.example"), true)
}

// reusedWriter is a ResponseWriter whose header map is cleared, not
// reallocated, between iterations, so only the middleware's allocations
// count.
type reusedWriter struct{ h http.Header }

func (w *reusedWriter) Header() http.Header         { return w.h }
func (w *reusedWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *reusedWriter) WriteHeader(int)             {}

// The whole middleware on the accept path, including Vary.
func BenchmarkHandlerAccept(b *testing.B) {
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	r := request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", "Origin", app)
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"csrf", csrf.New().Handler(noop)},
		{"stdlib", http.NewCrossOriginProtection().Handler(noop)},
	} {
		b.Run(c.name, func(b *testing.B) {
			w := &reusedWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				c.h.ServeHTTP(w, r)
			}
		})
	}
}

func BenchmarkTokenMint(b *testing.B) {
	p := tokenProtection(b, csrf.ModeOriginAndToken, testRing(b))
	r := request("GET", app+"/form", "X-Test-Session", "alice")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Token(r); err != nil {
			b.Fatal(err)
		}
	}
}

// Check of a same-origin POST carrying a token in the header: origin
// check, binding and token verification.
func BenchmarkTokenVerify(b *testing.B) {
	p := tokenProtection(b, csrf.ModeOriginAndToken, testRing(b))
	tok := mintFor(b, p, "alice")
	r := request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", "X-Test-Session", "alice", "X-CSRF-Token", tok)
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVsStdlib interleaves the two implementations in blocks of calls
// on the same request, so that load from other processes hits both alike,
// and reports each one's ns per check and their ratio (csrf/stdlib; below
// 1 means csrf is faster). Allocations: see the benchmarks above.
func BenchmarkVsStdlib(b *testing.B) {
	for _, sc := range []struct {
		name string
		r    *http.Request
	}{
		{"accept-same-origin", request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", "Origin", app)},
		{"accept-origin-fallback", request("POST", app+"/transfer", "Origin", app)},
		{"accept-no-browser-headers", request("POST", app+"/transfer")},
		{"reject-cross-site", request("POST", app+"/transfer", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")},
		{"reject-origin-mismatch", request("POST", app+"/transfer", "Origin", "https://evil.example")},
	} {
		b.Run(sc.name, func(b *testing.B) {
			ours, std := checker(csrf.New()), checker(http.NewCrossOriginProtection())
			const block = 64
			var tOurs, tStd time.Duration
			n := 0
			run := func(c checker) time.Duration {
				t0 := time.Now()
				for range block {
					c.Check(sc.r)
				}
				return time.Since(t0)
			}
			for b.Loop() {
				if n%(2*block) == 0 {
					tOurs += run(ours)
					tStd += run(std)
				} else {
					tStd += run(std)
					tOurs += run(ours)
				}
				n += block
			}
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(float64(tOurs.Nanoseconds())/float64(n), "csrf-ns/check")
			b.ReportMetric(float64(tStd.Nanoseconds())/float64(n), "stdlib-ns/check")
			b.ReportMetric(float64(tOurs)/float64(tStd), "csrf/stdlib")
		})
	}
}

// preSessionVisitor returns a Handler with tokens bound to the pre-session
// cookie (no binding function), and the Cookie header and token of a
// visitor who has loaded a page from it.
func preSessionVisitor(tb testing.TB) (h http.Handler, cookie, tok string) {
	tb.Helper()
	p := csrf.New()
	p.SetKeyRing(testRing(tb))
	if err := p.SetMode(csrf.ModeOriginAndToken); err != nil {
		tb.Fatal(err)
	}
	h = p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			t, err := p.Token(r)
			if err != nil {
				panic(err)
			}
			tok = t
		}
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, request("GET", app+"/form", "Sec-Fetch-Site", "none"))
	cks := w.Result().Cookies()
	if len(cks) != 1 || tok == "" {
		tb.Fatalf("first GET set cookies %v and token %q, want one cookie and a token", cks, tok)
	}
	return h, "a=1; " + cks[0].Name + "=" + cks[0].Value + "; b=2", tok
}

// The whole middleware on a page with a form: the pre-session cookie is
// read and a token minted.
func BenchmarkHandlerTokenMint(b *testing.B) {
	h, cookie, _ := preSessionVisitor(b)
	r := request("GET", app+"/form", "Sec-Fetch-Site", "same-origin", "Cookie", cookie)
	w := &reusedWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// The whole middleware on a form POST carrying its token.
func BenchmarkHandlerTokenVerify(b *testing.B) {
	h, cookie, tok := preSessionVisitor(b)
	r := request("POST", app+"/transfer", "Sec-Fetch-Site", "same-origin", "Cookie", cookie, csrf.HeaderName, tok)
	w := &statusWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	if w.code != 0 {
		b.Fatalf("got status %d, want the request accepted", w.code)
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// statusWriter is a reusedWriter that keeps the status written, if any.
type statusWriter struct {
	h    http.Header
	code int
}

func (w *statusWriter) Header() http.Header         { return w.h }
func (w *statusWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *statusWriter) WriteHeader(code int)        { w.code = code }

// BenchmarkOverride is UnsafeMethodOverride on safe requests: without a
// query, with an ordinary one, with bracketed names a GET form sends
// (decoded to look for _method[…]), with an encoded URL in a value (decoded
// to look for a hidden "&_method="), and with overrides. The first two are
// the common path and must not allocate.
func BenchmarkOverride(b *testing.B) {
	for _, sc := range []struct {
		name string
		r    *http.Request
		want bool
	}{
		{"no-query", request("GET", app+"/account", "Sec-Fetch-Site", "cross-site", "Accept", "text/html"), false},
		{"plain-query", request("GET", app+"/search?q=caf%C3%A9+au+lait&page=2&sort=name", "Sec-Fetch-Site", "cross-site"), false},
		{"bracket-names", request("GET", app+"/search?filter%5Bstatus%5D=open&filter%5Bowner%5D=me", "Sec-Fetch-Site", "cross-site"), false},
		{"encoded-url-value", request("GET", app+"/login?next=%2Fsearch%3Fq%3Da%26page%3D2", "Sec-Fetch-Site", "cross-site"), false},
		{"query-override", request("GET", app+"/account?id=7&_method=DELETE", "Sec-Fetch-Site", "cross-site"), true},
		{"double-encoded-override", request("GET", app+"/account?id=7&%255Fmethod%5B%5D=DELETE", "Sec-Fetch-Site", "cross-site"), true},
		{"header-override", request("GET", app+"/account", "Sec-Fetch-Site", "cross-site", "X-HTTP-Method-Override", "delete"), true},
	} {
		b.Run(sc.name, func(b *testing.B) {
			if got := csrf.UnsafeMethodOverride(sc.r); got != sc.want {
				b.Fatalf("got %v, want %v", got, sc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				csrf.UnsafeMethodOverride(sc.r)
			}
		})
	}
}
