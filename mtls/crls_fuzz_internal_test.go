package mtls

import (
	"bytes"
	"encoding/pem"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
)

// FuzzParseCRLs checks the gateway's CRL file reading: every CRL in a PEM
// file, in order and none skipped (one per BEGIN line, each the bytes
// pem.Decode finds), or the whole of a DER file; for a file of one CRL
// it agrees with pki.ParseCRL, a second reading; errors name the file.
func FuzzParseCRLs(f *testing.F) {
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		f.Fatal(err)
	}
	der, err := ca.Revoke(nil, big.NewInt(7))
	if err != nil {
		f.Fatal(err)
	}
	p := pki.EncodeCRLPEM(der)
	f.Add(der)
	f.Add(p)
	f.Add(append(append([]byte{}, p...), p...))
	f.Add(append(append([]byte{}, p[:40]...), p...))
	f.Add(append(append([]byte{}, p...), p[:40]...))
	f.Add(p[:len(p)-20])
	f.Add(append(pki.EncodeCertsPEM(ca.Cert), p...))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		lists, err := parseCRLs(data, "crl.pem")
		if bytes.Count(data, []byte("-----BEGIN ")) <= 1 {
			one, oneErr := pki.ParseCRL(data)
			if (err == nil && len(lists) == 1) != (oneErr == nil) || oneErr == nil && !bytes.Equal(one.Raw, lists[0].Raw) {
				t.Fatalf("parseCRLs: %d lists, %v; pki.ParseCRL: %v", len(lists), err, oneErr)
			}
			const damaged = "PEM block 1 does not parse as PEM"
			if err != nil && strings.Contains(err.Error(), damaged) != strings.Contains(oneErr.Error(), damaged) {
				t.Fatalf("parseCRLs: %v; pki.ParseCRL: %v; want both to name the damaged block, or neither", err, oneErr)
			}
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "crl crl.pem: ") {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if b, _ := pem.Decode(data); b == nil {
			if len(lists) != 1 || !bytes.Equal(lists[0].Raw, data) {
				t.Fatalf("DER: %d lists, want the whole file as one", len(lists))
			}
			return
		}
		if n := bytes.Count(data, []byte("-----BEGIN ")); len(lists) != n {
			t.Fatalf("%d lists from %d BEGIN lines", len(lists), n)
		}
		rest := data
		for i, l := range lists {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil || b.Type != "X509 CRL" || !bytes.Equal(b.Bytes, l.Raw) {
				t.Fatalf("list %d is not the file's block %d", i+1, i+1)
			}
		}
	})
}

// TestParseCRLsTruncated: a CRL file whose only PEM block is cut short is
// refused as a damaged block 1, as pki.ParseCRL and the CA loaders say,
// not as "not a DER CRL", and two DER CRLs back to back are refused,
// where x509 reads the first and ignores the rest; the whole file, PEM or
// DER (the allowed twins), reads, and a file that is neither (the
// control) keeps its message.
func TestParseCRLsTruncated(t *testing.T) {
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.Revoke(nil, big.NewInt(7))
	if err != nil {
		t.Fatal(err)
	}
	p := pki.EncodeCRLPEM(der)
	for _, whole := range [][]byte{p, der} {
		if ls, err := parseCRLs(whole, "crl.pem"); err != nil || len(ls) != 1 {
			t.Fatalf("whole file: %d lists, %v", len(ls), err)
		}
	}
	for data, want := range map[string]string{
		string(p[:len(p)-20]):     "crl crl.pem: PEM block 1 does not parse as PEM",
		"not a CRL":               `crl crl.pem: no PEM "X509 CRL" block, and not a DER CRL`,
		string(der) + string(der): "crl crl.pem: " + strconv.Itoa(len(der)) + " bytes after the DER CRL",
		string(pki.EncodeCRLPEM(append(append([]byte{}, der...), 0))): "crl crl.pem: PEM block 1: 1 bytes after the CRL",
	} {
		if _, err := parseCRLs([]byte(data), "crl.pem"); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
