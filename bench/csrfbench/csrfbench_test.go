package csrfbench_test

import (
	"net/http"
	"testing"

	filippo "filippo.io/csrf"

	"github.com/forgeproof/forgeproof/csrf"
)

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

func BenchmarkOrigin(b *testing.B) {
	for _, tc := range originCases() {
		for _, l := range originLibs(b) {
			b.Run("case="+tc.name+"/lib="+l.name, func(b *testing.B) {
				serve(b, l.wrap(ok), tc)
			})
		}
	}
}

func BenchmarkToken(b *testing.B) {
	libs := tokenLibs(b)
	fixtures := make([]tokenFixture, len(libs))
	for i, l := range libs {
		fixtures[i] = newTokenFixture(b, l)
	}
	for c := range tokenCases(fixtures[0]) {
		for i, l := range libs {
			tc := tokenCases(fixtures[i])[c]
			b.Run("case="+tc.name+"/lib="+l.name, func(b *testing.B) {
				serve(b, fixtures[i].handler, tc)
			})
		}
	}
}

// serve times h on the request of tc and checks, outside the timer, that
// it got the answer it must.
func serve(b *testing.B, h http.Handler, tc tcase) {
	w := newRecorder()
	h.ServeHTTP(w, tc.req)
	if got := accepted(w.status()); got != tc.accept {
		b.Fatalf("accepted: got %v (status %d), want %v", got, w.status(), tc.accept)
	}
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, tc.req)
	}
	cpu.stop()
	if got := accepted(w.status()); got != tc.accept {
		b.Fatalf("accepted after the loop: got %v (status %d), want %v", got, w.status(), tc.accept)
	}
}

// BenchmarkOriginCheck times the decision alone (each library's Check
// method, no middleware, no response headers), to tell the cost of the
// origin check from what the middleware adds around it.
func BenchmarkOriginCheck(b *testing.B) {
	type checker struct {
		name  string
		check func(*http.Request) error
	}
	checkers := []checker{
		{"forgeproof", csrf.New().Check},
		{"net-http", http.NewCrossOriginProtection().Check},
		{"filippo", filippo.New().Check},
	}
	for _, tc := range originCases() {
		for _, c := range checkers {
			b.Run("case="+tc.name+"/lib="+c.name, func(b *testing.B) {
				if got := c.check(tc.req) == nil; got != tc.accept {
					b.Fatalf("accepted: got %v, want %v", got, tc.accept)
				}
				b.ReportAllocs()
				cpu := startCPU(b)
				for b.Loop() {
					_ = c.check(tc.req)
				}
				cpu.stop()
			})
		}
	}
}
