package demo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/demo"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// BenchmarkTransfer pays 1 from alice to bob with POST /api/transfers
// three ways, in the same run so they compare: the bank's handler
// in-process, the bank over loopback HTTP (identity in a Client-Cert
// header, as the gateway sends it), and through the gateway over
// keep-alive mTLS (TLS, identity, authorization, CSRF check, proxying).
func BenchmarkTransfer(b *testing.B) {
	r, err := demo.Start(b.Context(), demo.Options{Dir: b.TempDir(), Listen: "localhost:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	certPEM, err := os.ReadFile(r.Files.Client)
	if err != nil {
		b.Fatal(err)
	}
	cert, err := pki.ParseCertPEM(certPEM)
	if err != nil {
		b.Fatal(err)
	}
	clientCert := mtls.FormatClientCert(cert)
	const body = `{"to":"bob","amount":1}`
	payBack := func(b *testing.B) {
		if err := r.Bank.Transfer("bob", "alice", 1); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("handler", func(b *testing.B) {
		bank := demo.NewBank(demo.BankOptions{CertificateHolder: func(*http.Request) (string, bool) { return "alice", true }})
		for b.Loop() {
			req := httptest.NewRequest("POST", "/api/transfers", strings.NewReader(body))
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
			req, _ := http.NewRequest("POST", r.UpstreamURL+"/api/transfers", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(mtls.HeaderClientCert, clientCert)
			doBench(b, c, req)
			payBack(b)
		}
	})
	b.Run("through-gateway-mtls", func(b *testing.B) {
		c := r.ServiceClient()
		for b.Loop() {
			req, _ := http.NewRequest("POST", r.URL+"/api/transfers", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			doBench(b, c, req)
			payBack(b)
		}
	})
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
