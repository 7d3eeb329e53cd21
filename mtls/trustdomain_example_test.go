package mtls_test

import (
	"crypto/x509"
	"fmt"
	"log"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// A partner's CA, trusted beside your own, bound to its trust domain:
// it may issue its own workloads' SVIDs, not yours, and nothing else.
func ExampleSource_trustDomain() {
	own, _ := pki.NewCA(pki.CAOptions{CommonName: "example.org CA"})
	partner, _ := pki.NewCA(pki.CAOptions{CommonName: "partner.example CA"})
	s, err := mtls.NewServer(mtls.ServerConfig{
		VerifyOnly: true,
		ClientCAs: []mtls.Source{
			{Data: pki.EncodeCertsPEM(own.Cert)},
			{Data: pki.EncodeCertsPEM(partner.Cert), TrustDomain: "partner.example"},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	admin, _ := own.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/admin"})
	billing, _ := partner.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://partner.example/billing"})
	forged, _ := partner.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/admin"})
	plain, _ := partner.IssueClient(pki.ClientOptions{CommonName: "alice"})

	for _, c := range []*pki.Cert{admin, billing, forged, plain} {
		id, err := s.VerifyChain([]*x509.Certificate{c.Cert})
		if err != nil {
			fmt.Println("refused:", mtls.ReasonOf(err))
			continue
		}
		fmt.Println("allowed:", id)
	}
	// Output:
	// allowed: spiffe://example.org/admin
	// allowed: spiffe://partner.example/billing
	// refused: unknown-authority
	// refused: unknown-authority
}
