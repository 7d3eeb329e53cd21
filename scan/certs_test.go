package scan_test

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
)

// testPKI is a CA with one server and one client certificate, minted in
// memory by the project's pki package for each test run.
type testPKI struct {
	pool     *x509.CertPool
	server   tls.Certificate
	client   tls.Certificate
	attacker tls.Certificate // another holder of a certificate from the same CA
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.IssueClient(pki.ClientOptions{CommonName: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	attacker, err := ca.IssueClient(pki.ClientOptions{CommonName: "mallory"})
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{pool: ca.Pool(), server: srv.TLSCertificate(), client: client.TLSCertificate(), attacker: attacker.TLSCertificate()}
}

// clientTLS presents the client certificate and trusts the test CA.
func (p *testPKI) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.client}}
}
