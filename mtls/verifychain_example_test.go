package mtls_test

import (
	"crypto/x509"
	"fmt"
	"log"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// A decision service behind a proxy that terminates TLS verifies the
// chain the proxy passes on with a VerifyOnly Server: every check of a
// handshake, with the same reason codes.
func ExampleServer_VerifyChain() {
	ca, _ := pki.NewCA(pki.CAOptions{})
	other, _ := pki.NewCA(pki.CAOptions{CommonName: "another CA"})
	web, _ := mtls.AuthorizeSPIFFEID("spiffe://example.org/ns/*/sa/web")
	s, err := mtls.NewServer(mtls.ServerConfig{
		VerifyOnly: true,
		ClientCAs:  []mtls.Source{{Data: pki.EncodeCertsPEM(ca.Cert)}},
		Authorizer: web,
	})
	if err != nil {
		log.Fatal(err)
	}
	good, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/ns/prod/sa/web"})
	batch, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/ns/prod/sa/batch"})
	stranger, _ := other.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/ns/prod/sa/web"})
	server, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"web.example"}})

	for _, c := range []*pki.Cert{good, batch, stranger, server} {
		id, err := s.VerifyChain([]*x509.Certificate{c.Cert})
		if err != nil {
			fmt.Println("refused:", mtls.ReasonOf(err))
			continue
		}
		fmt.Println("allowed:", id)
	}
	// Output:
	// allowed: spiffe://example.org/ns/prod/sa/web
	// refused: spiffe-id-denied
	// refused: unknown-authority
	// refused: wrong-key-usage
}
