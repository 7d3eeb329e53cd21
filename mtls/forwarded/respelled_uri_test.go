package forwarded_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// TestSetHeadersURIRespelled: XFCC carries a URI SAN as crypto/x509's
// parsed URL writes it and Cert as the certificate spells it. url.Parse
// drops an empty fragment, so a certificate whose URI SAN is
// spiffe://td/ns/x# (no SPIFFE ID: mtls.NewIdentity reads none) would be
// forwarded as URI=spiffe://td/ns/x, a SPIFFE ID to an upstream that
// reads URI. It is not forwarded as XFCC; RFC 9440 (the certificate
// alone) still is. Twins: the same URI without '#', and with the scheme
// in upper case (the same URI, RFC 3986 §3.1), are forwarded.
func TestSetHeadersURIRespelled(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		raw, want string // want "" = refused
	}{
		{"spiffe://td/ns/x", "URI=spiffe://td/ns/x"},
		{"SPIFFE://td/ns/x", "URI=spiffe://td/ns/x"},
		{"spiffe://td/ns/x#", ""},
		{"https://td/x#", ""},
	} {
		san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(tt.raw)}})
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "c"},
			NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0),
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san}},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		err = forwarded.SetHeaders(h, mtls.NewIdentity(cert), forwarded.Options{Format: forwarded.XFCC})
		switch {
		case tt.want == "" && (err == nil || !strings.Contains(err.Error(), "reads as")):
			t.Errorf("%s: got %v (XFCC %q), want refused", tt.raw, err, h.Get(forwarded.HeaderXFCC))
		case tt.want != "" && (err != nil || !strings.Contains(h.Get(forwarded.HeaderXFCC), tt.want)):
			t.Errorf("%s: got %v, XFCC %q, want …%s…", tt.raw, err, h.Get(forwarded.HeaderXFCC), tt.want)
		}
		if err := forwarded.SetHeaders(http.Header{}, mtls.NewIdentity(cert), forwarded.Options{Format: forwarded.RFC9440}); err != nil {
			t.Errorf("%s: RFC 9440: %v", tt.raw, err)
		}
	}
}
