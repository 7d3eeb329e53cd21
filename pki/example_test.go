package pki_test

import (
	"crypto/x509"
	"fmt"

	"github.com/forgeproof/forgeproof/pki"
)

func Example() {
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "example CA"})
	if err != nil {
		panic(err)
	}
	client, err := ca.IssueClient(pki.ClientOptions{
		CommonName: "alice",
		SPIFFEID:   "spiffe://example.org/ns/prod/sa/web",
	})
	if err != nil {
		panic(err)
	}
	_, err = client.Cert.Verify(x509.VerifyOptions{
		Roots:     ca.Pool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	fmt.Println(client.Cert.URIs[0], err)
	// Output: spiffe://example.org/ns/prod/sa/web <nil>
}
