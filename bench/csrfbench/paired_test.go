package csrfbench_test

import (
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
)

// TestPairedOrigin measures forgeproof against net/http's
// CrossOriginProtection on the accepted requests of the Origin group in
// one process, in alternating blocks (forgeproof then net/http, then
// net/http then forgeproof, and so on), and logs the median of the
// per-pair time ratios. Load from other processes hits both halves of a
// pair alike, so the ratio holds on a busy machine where the medians of
// separate benchmark runs swing by more than the gap they measure. It
// checks, always, that both libraries accept every request it times (so
// that a pair compares the same work); the timing runs only when
// CSRFBENCH_PAIRED gives the number of block pairs
// (CSRFBENCH_PAIRED_BLOCK the requests per block, default 4000), as a
// measurement that asserts nothing of the times:
//
//	CSRFBENCH_PAIRED=2000 go test -run TestPairedOrigin -v ./csrfbench
func TestPairedOrigin(t *testing.T) {
	pairs, _ := strconv.Atoi(os.Getenv("CSRFBENCH_PAIRED"))
	block, _ := strconv.Atoi(os.Getenv("CSRFBENCH_PAIRED_BLOCK"))
	if block <= 0 {
		block = 4000
	}
	fpHandler := csrf.New().Handler(ok)
	stdHandler := http.NewCrossOriginProtection().Handler(ok)
	fpCheck := csrf.New().Check
	stdCheck := http.NewCrossOriginProtection().Check
	w := newRecorder()
	for _, tc := range originCases() {
		if !tc.accept {
			continue
		}
		if err := fpCheck(tc.req); err != nil {
			t.Fatalf("%s: forgeproof refuses it (%v): the pair would not compare the same work", tc.name, err)
		}
		if err := stdCheck(tc.req); err != nil {
			t.Fatalf("%s: net/http refuses it (%v): the pair would not compare the same work", tc.name, err)
		}
		if pairs <= 0 {
			continue // no timing asked (CSRFBENCH_PAIRED)
		}
		handler := func(h http.Handler) func() time.Duration {
			return func() time.Duration {
				t0 := time.Now()
				for range block {
					w.reset()
					h.ServeHTTP(w, tc.req)
				}
				return time.Since(t0)
			}
		}
		check := func(c func(*http.Request) error) func() time.Duration {
			return func() time.Duration {
				t0 := time.Now()
				for range block {
					_ = c(tc.req)
				}
				return time.Since(t0)
			}
		}
		for _, m := range []struct {
			name    string
			fp, std func() time.Duration
		}{
			{"Handler", handler(fpHandler), handler(stdHandler)},
			{"Check", check(fpCheck), check(stdCheck)},
		} {
			var fp, std, ratio []float64
			for i := range pairs {
				var a, b time.Duration
				if i%2 == 0 {
					a = m.fp()
					b = m.std()
				} else {
					b = m.std()
					a = m.fp()
				}
				fp = append(fp, float64(a)/float64(block))
				std = append(std, float64(b)/float64(block))
				ratio = append(ratio, float64(a)/float64(b))
			}
			t.Logf("%s %s: forgeproof ÷ net/http %.3f (quartiles %.3f–%.3f); ns/op median forgeproof %.1f, net/http %.1f; %d pairs of %d-request blocks",
				tc.name, m.name, quantile(ratio, .5), quantile(ratio, .25), quantile(ratio, .75),
				quantile(fp, .5), quantile(std, .5), pairs, block)
		}
	}
}

// quantile is the q-quantile of s (nearest rank); it sorts s.
func quantile(s []float64, q float64) float64 {
	slices.Sort(s)
	return s[int(q*float64(len(s)-1)+0.5)]
}
