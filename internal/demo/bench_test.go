package demo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/demo"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
)

// BenchmarkTransfer pays 1 from alice to bob with POST /api/transfers
// three ways, in the same run so they compare: the bank's handler
// in-process, the bank over loopback HTTP (identity in a Client-Cert
// header, as the gateway sends it), and through the gateway over
// keep-alive mTLS (TLS, identity, authorization, CSRF check, proxying).
func BenchmarkTransfer(b *testing.B) {
	r, clientCert := startBench(b)
	payBack := func(b *testing.B) {
		if err := r.Bank.Transfer("bob", "alice", 1); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("handler", func(b *testing.B) {
		bank := demo.NewBank(demo.BankOptions{CertificateHolder: func(*http.Request) (string, bool) { return "alice", true }})
		for b.Loop() {
			req := httptest.NewRequest("POST", "/api/transfers", strings.NewReader(transferBody))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			bank.ServeHTTP(rec, req)
			if rec.Code != http.StatusCreated {
				b.Fatalf("status %d", rec.Code)
			}
			bank.Transfer("bob", "alice", 1)
		}
	})
	b.Run("bank-over-loopback-http", func(b *testing.B) {
		c := &http.Client{}
		for b.Loop() {
			req, _ := http.NewRequest("POST", r.UpstreamURL+"/api/transfers", strings.NewReader(transferBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(forwarded.HeaderClientCert, clientCert)
			doBench(b, c, req)
			payBack(b)
		}
	})
	b.Run("through-gateway-mtls", func(b *testing.B) {
		c := r.ServiceClient()
		for b.Loop() {
			req, _ := http.NewRequest("POST", r.URL+"/api/transfers", strings.NewReader(transferBody))
			req.Header.Set("Content-Type", "application/json")
			doBench(b, c, req)
			payBack(b)
		}
	})
}

// transferBody pays 1 to bob.
const transferBody = `{"to":"bob","amount":1}`

// startBench runs a demo until the benchmark ends and returns it with
// alice's certificate in the Client-Cert header form the gateway sends.
func startBench(b *testing.B) (*demo.Running, string) {
	r, err := demo.Start(b.Context(), demo.Options{Dir: b.TempDir(), Listen: "localhost:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	certPEM, err := os.ReadFile(r.Files.Client)
	if err != nil {
		b.Fatal(err)
	}
	cert, err := pki.ParseCertPEM(certPEM)
	if err != nil {
		b.Fatal(err)
	}
	return r, forwarded.FormatClientCert(cert)
}

func doBench(b *testing.B, c *http.Client, req *http.Request) {
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}

// BenchmarkGatewayOverhead alternates, in each iteration, one transfer
// straight to the bank over loopback HTTP and one through the gateway over
// keep-alive mTLS, so that load from other processes hits both alike. It
// reports each path's time per request and their ratio.
func BenchmarkGatewayOverhead(b *testing.B) {
	r, clientCert := startBench(b)
	direct, viaGateway := &http.Client{}, r.ServiceClient()
	var tDirect, tGateway time.Duration
	for b.Loop() {
		req, _ := http.NewRequest("POST", r.UpstreamURL+"/api/transfers", strings.NewReader(transferBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(forwarded.HeaderClientCert, clientCert)
		t0 := time.Now()
		doBench(b, direct, req)
		tDirect += time.Since(t0)

		req, _ = http.NewRequest("POST", r.URL+"/api/transfers", strings.NewReader(transferBody))
		req.Header.Set("Content-Type", "application/json")
		t0 = time.Now()
		doBench(b, viaGateway, req)
		tGateway += time.Since(t0)

		if err := r.Bank.Transfer("bob", "alice", 2); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tDirect.Nanoseconds())/float64(b.N), "direct-ns/req")
	b.ReportMetric(float64(tGateway.Nanoseconds())/float64(b.N), "gateway-ns/req")
	b.ReportMetric(float64(tGateway)/float64(tDirect), "gateway/direct")
}
