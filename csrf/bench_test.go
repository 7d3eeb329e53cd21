package csrf_test

import (
	"net/http"
	"testing"

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
