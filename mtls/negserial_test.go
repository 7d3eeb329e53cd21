package mtls_test

import (
	"math/big"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// TestCRLNegativeSerialRevokesOnlyItself: a CRL entry for serial -5
// (RFC 5280 §4.1.2.2 wants positive serials; crypto/x509 parses a
// negative one in a CRL) does not revoke the certificate with serial 5:
// serial numbers are compared with their sign. Twin: an entry for 5
// revokes it.
func TestCRLNegativeSerialRevokesOnlyItself(t *testing.T) {
	t.Parallel()
	for _, entry := range []int64{-5, 5} {
		ca := rawCA(t, "negative serial CA", nil)
		leaf := rawClient(t, ca, serialOf(5))
		s, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: []mtls.Source{{Data: pki.EncodeCertsPEM(ca.Cert)}}, CRLs: crlData(rawCRL(t, ca, 1, big.NewInt(entry)))})
		if err != nil {
			t.Fatal(err)
		}
		want := mtls.Reason("")
		if entry > 0 {
			want = mtls.ReasonRevoked
		}
		if got := verifyReason(t, s, leaf.Cert, ca.Cert); got != want {
			t.Errorf("CRL entry %d, certificate serial 5: got %q, want %q", entry, got, want)
		}
	}
}
