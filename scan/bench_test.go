package scan_test

import (
	"context"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// BenchmarkScan measures a whole scan of one form endpoint with a token
// (the correct bank, so every probe family runs) over real mTLS on
// loopback, judged by the baseline or by the verification request.
// Compare the two sub-benchmarks in one run:
//
//	go test ./scan -run '^$' -bench BenchmarkScan -benchtime 20x
func BenchmarkScan(b *testing.B) {
	p := newTestPKI(b)
	srv := newBank(bankOptions{origin: "full", token: "bound"}).start(b, p)
	for _, bc := range []struct {
		name   string
		verify *scan.Verification
	}{{"oracle=baseline", nil}, {"oracle=verification", balance}} {
		b.Run(bc.name, func(b *testing.B) {
			requests := 0
			for b.Loop() {
				rep, err := scan.Run(context.Background(), scan.Config{
					Target: srv.URL, TLS: p.clientTLS(), Rate: 1e9,
					Endpoints: []scan.Endpoint{transferForm}, Verify: bc.verify,
				})
				if err != nil {
					b.Fatal(err)
				}
				requests += rep.Requests
			}
			b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
		})
	}
}
