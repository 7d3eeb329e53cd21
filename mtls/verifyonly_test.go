package mtls_test

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestVerifyChain: a VerifyOnly Server verifies chains handed to it with
// a handshake's checks; each refusal has its allowed twin. Its TLSConfig
// refuses every handshake instead of serving without a certificate.
func TestVerifyChain(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	other := pkitest.CA(t)
	authz, err := mtls.AuthorizeSPIFFEID("spiffe://prod.example/web")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(ca.Cert), Authorizer: authz})
	web := pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/web"})
	tests := []struct {
		name   string
		chain  []*x509.Certificate
		want   string // the identity
		reason mtls.Reason
	}{
		{"verified and authorized", []*x509.Certificate{web.Cert}, "spiffe://prod.example/web", ""},
		{"another CA", []*x509.Certificate{pkitest.Client(t, other, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/web"}).Cert}, "", mtls.ReasonUnknownAuthority},
		{"not authorized", []*x509.Certificate{pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/api"}).Cert}, "", mtls.ReasonSPIFFEIDDenied},
		{"no certificate", nil, "", mtls.ReasonNoCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.VerifyChain(tt.chain)
			if got := mtls.ReasonOf(err); got != tt.reason {
				t.Fatalf("got reason %q (%v), want %q", got, err, tt.reason)
			}
			if err == nil && id.String() != tt.want {
				t.Errorf("got identity %q, want %q", id.String(), tt.want)
			}
		})
	}

	// The same client's handshake with a Server that has a certificate
	// is the allowed twin.
	full := newServer(t, mtls.ServerConfig{ClientCAs: pemCAs(ca.Cert), Certificates: pairs(pkitest.Server(t, ca).TLSCertificate()), Authorizer: authz})
	if _, err := dial(t, serve(t, full.TLSConfig()), ca, web, nil); err != nil {
		t.Errorf("a handshake with a full server: %v", err)
	}
	if _, err := dial(t, serve(t, s.TLSConfig()), ca, web, nil); err == nil {
		t.Error("a handshake with a VerifyOnly server succeeded, want it refused")
	}
	_, err = mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(ca.Cert), Certificates: pairs(pkitest.Server(t, ca).TLSCertificate())})
	if err == nil || !strings.Contains(err.Error(), "VerifyOnly takes no server certificate") {
		t.Errorf("VerifyOnly with a certificate: got %v, want it refused", err)
	}
}
