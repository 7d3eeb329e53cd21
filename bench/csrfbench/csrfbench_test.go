package csrfbench_test

import (
	"net/http"
	"testing"
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
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, tc.req)
	}
	if got := accepted(w.status()); got != tc.accept {
		b.Fatalf("accepted after the loop: got %v (status %d), want %v", got, w.status(), tc.accept)
	}
}
