package pki_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
)

// FuzzParseSerial checks ParseSerial against a second reading written
// from its documentation (digits only, no sign, a positive result), and
// that every accepted number reads back from each of the forms tools
// print it in.
func FuzzParseSerial(f *testing.F) {
	for _, s := range []string{"255", "0xff", "0XFF", "00:ff", "ff:", ":", "serial=0100", "SERIAL=FF", "serial=",
		"0100", "ECB9D7", "0", "-5", "+5", "0x+5", "0x-5", "serial=+5", "+3a:f2", "1_000", "0x1_0", " 5", "5\n", "abc", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := pki.ParseSerial(s)
		want := readSerial(s)
		if (err == nil) != (want != nil) || err == nil && got.Cmp(want) != 0 {
			t.Fatalf("ParseSerial(%q) = %v, %v; the documented reading gives %v", s, got, err, want)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "invalid serial number") {
				t.Errorf("error %q does not say what is wrong", err)
			}
			return
		}
		colons := got.Text(16)
		if len(colons)%2 == 1 {
			colons = "0" + colons
		}
		var pairs []string
		for i := 0; i < len(colons); i += 2 {
			pairs = append(pairs, colons[i:i+2])
		}
		for _, form := range []string{got.String(), "0x" + got.Text(16), "serial=" + strings.ToUpper(got.Text(16)), strings.Join(pairs, ":") + ":"} {
			if back, err := pki.ParseSerial(form); err != nil || back.Cmp(got) != 0 {
				t.Errorf("ParseSerial(%q) = %v, %v; want %v", form, back, err, got)
			}
		}
	})
}

// readSerial is ParseSerial as its documentation reads, or nil.
func readSerial(s string) *big.Int {
	digits, base := s, 10
	switch {
	case len(s) > 7 && strings.EqualFold(s[:7], "serial="):
		digits, base = s[7:], 16
	case len(s) > 2 && strings.EqualFold(s[:2], "0x"):
		digits, base = s[2:], 16
	case strings.Contains(s, ":"):
		digits, base = strings.ReplaceAll(s, ":", ""), 16
	}
	set := "0123456789"
	if base == 16 {
		set += "abcdefABCDEF"
	}
	if digits == "" || strings.Trim(digits, set) != "" {
		return nil
	}
	n, _ := new(big.Int).SetString(digits, base)
	if n.Sign() <= 0 {
		return nil
	}
	return n
}

// FuzzParseCRL checks that ParseCRL accepts exactly a DER CRL or a PEM
// file whose only block is one X509 CRL (a second reading: the BEGIN
// lines are counted, the block's bytes compared), and that its errors
// never quote the file.
func FuzzParseCRL(f *testing.F) {
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
	f.Add(append([]byte("comment\n"), p...))
	f.Add(append(append([]byte{}, p...), p...))
	f.Add(p[:len(p)-10])
	f.Add(append(append([]byte{}, p...), p[:40]...))
	f.Add(append(append([]byte{}, p[:40]...), p...))
	f.Add(append(pki.EncodeCertsPEM(ca.Cert), p...))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		crl, err := pki.ParseCRL(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pki: ") || len(data) >= 12 && strings.Contains(err.Error(), string(data[:12])) && !bytes.HasPrefix(data, []byte("-----BEGIN ")) {
				t.Errorf("error %q: want a pki: error that does not quote the file", err)
			}
			return
		}
		if b, rest := pem.Decode(data); b == nil {
			if !bytes.Equal(crl.Raw, data) {
				t.Errorf("accepted DER whose CRL is %d of its %d bytes", len(crl.Raw), len(data))
			}
		} else if b.Type != "X509 CRL" || !bytes.Equal(crl.Raw, b.Bytes) || bytes.Count(data, []byte("-----BEGIN ")) != 1 || bytes.Contains(rest, []byte("-----BEGIN ")) {
			t.Errorf("accepted a PEM file that is not one X509 CRL block (%q block, %d BEGIN lines)", b.Type, bytes.Count(data, []byte("-----BEGIN ")))
		}
		if _, err := x509.ParseRevocationList(crl.Raw); err != nil {
			t.Errorf("accepted a CRL x509 does not parse again: %v", err)
		}
	})
}

// FuzzParseKeyPEM checks that a key ParseKeyPEM returns round-trips
// through EncodeKeyPEM, that a file with a damaged block before its key
// is refused with the block's number (pem.Decode would skip it), and
// that errors never quote the file (they could hold key material).
func FuzzParseKeyPEM(f *testing.F) {
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		f.Fatal(err)
	}
	key, err := pki.EncodeKeyPEM(ca.Key)
	if err != nil {
		f.Fatal(err)
	}
	cert := pki.EncodeCertsPEM(ca.Cert)
	f.Add(key)
	f.Add(append(append([]byte{}, cert...), key...))
	f.Add(append(append([]byte{}, key[:30]...), key...))
	f.Add(key[:len(key)-12])
	f.Add([]byte("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := pki.ParseKeyPEM(data)
		if err != nil {
			for _, line := range bytes.Split(data, []byte("\n")) {
				if len(line) >= 8 && !bytes.HasPrefix(line, []byte("-----")) && strings.Contains(err.Error(), string(line)) {
					t.Fatalf("error %q quotes the file's line %q", err, line)
				}
			}
			// Second reading: a BEGIN line in front of the first block
			// pem.Decode finds, or with no block at all, is a damaged block.
			b, rest := pem.Decode(data)
			front := data
			if b != nil {
				front = data[:len(data)-len(rest)]
			}
			if bytes.Count(front, []byte("-----BEGIN ")) > 1 || b == nil && bytes.Contains(data, []byte("-----BEGIN ")) {
				if !strings.Contains(err.Error(), "PEM block 1 does not parse as PEM") {
					t.Errorf("a damaged first block: got %q", err)
				}
			}
			return
		}
		again, err := pki.EncodeKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		k2, err := pki.ParseKeyPEM(again)
		if err != nil {
			t.Fatalf("the key's own PKCS #8 encoding: %v", err)
		}
		if eq, ok := k2.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(k.Public()) {
			t.Error("the key read back differs")
		}
	})
}
