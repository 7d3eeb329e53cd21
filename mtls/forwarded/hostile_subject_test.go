package forwarded_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"unicode/utf16"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// hostileATV is an attribute of type oid whose value has the given
// universal string tag (BMPString encoded as UTF-16BE).
func hostileATV(oid asn1.ObjectIdentifier, tag int, v string) pkix.AttributeTypeAndValue {
	b := []byte(v)
	if tag == asn1.TagBMPString {
		b = nil
		for _, u := range utf16.Encode([]rune(v)) {
			b = append(b, byte(u>>8), byte(u))
		}
	}
	return pkix.AttributeTypeAndValue{Type: oid, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: b}}
}

// TestHostileSubjectRoundTrip: a verified identity whose subject and SANs
// hold the separators of the forwarded formats (',', ';', '=', '"',
// '\', '+', spaces) or non-ASCII text (UTF-8, BMPString, T61String
// bytes above 0x7f) is forwarded unambiguously: parsed back from RFC
// 9440, from XFCC with Cert, and from XFCC without Cert (Subject, URI and
// DNS alone, as an Envoy without cert: true sends them), it is the same
// identity. Control characters, which a header cannot carry, are
// refused by SetHeaders for XFCC (the gateway then forwards no identity),
// never sent in a form that reads back as another subject.
func TestHostileSubjectRoundTrip(t *testing.T) {
	ca := pkitest.CA(t)
	cnOID, ouOID := asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.ObjectIdentifier{2, 5, 4, 11}
	u8 := asn1.TagUTF8String
	subject := func(rdns ...pkix.RelativeDistinguishedNameSET) *pki.Cert {
		seq := pkix.RDNSequence{}
		for _, r := range rdns {
			seq = append(seq, []pkix.AttributeTypeAndValue(r))
		}
		return pkitest.ClientWithSubject(t, ca, seq)
	}
	rdn := func(a ...pkix.AttributeTypeAndValue) pkix.RelativeDistinguishedNameSET { return a }
	tests := []struct {
		name     string
		cert     *pki.Cert
		ctlChars bool // XFCC must refuse it
	}{
		{"plain (twin)", subject(rdn(hostileATV(cnOID, u8, "alice"))), false},
		{"separators", subject(rdn(hostileATV(cnOID, u8, `a,b;c=d"e\f+g<h>`))), false},
		{"quotes and backslash at the end", subject(rdn(hostileATV(cnOID, u8, `x\"`))), false},
		{"RFC 4514 lookalike", subject(rdn(hostileATV(ouOID, u8, "x")), rdn(hostileATV(cnOID, u8, `alice,CN=admin`))), false},
		{"OU named CN=admin", subject(rdn(hostileATV(ouOID, u8, "CN=admin")), rdn(hostileATV(cnOID, u8, "alice"))), false},
		{"leading hash and spaces", subject(rdn(hostileATV(cnOID, u8, "# admin "))), false},
		{"UTF-8", subject(rdn(hostileATV(cnOID, u8, "\u0430dmin ünï"))), false},
		{"BMPString", subject(rdn(hostileATV(cnOID, asn1.TagBMPString, "\u0430dmin"))), false},
		{"T61String high bytes", subject(rdn(hostileATV(cnOID, asn1.TagT61String, "adm\xe9n"))), false},
		{"multi-valued RDN", subject(rdn(hostileATV(ouOID, u8, "ops"), hostileATV(cnOID, u8, "alice"))), false},
		{"newline", subject(rdn(hostileATV(cnOID, u8, "alice\r\nX-Admin: yes"))), true},
		{"NUL", subject(rdn(hostileATV(cnOID, u8, "admin\x00alice"))), true},
		{"DEL", subject(rdn(hostileATV(cnOID, u8, "admin\x7f"))), true},
		{"URI with separators", pkitest.Client(t, ca, pki.ClientOptions{CommonName: "u",
			URIs: []*url.URL{{Scheme: "https", Host: "id.example", Path: `/a,URI=spiffe://example.org/admin;DNS=x`, RawQuery: `q="x"`}}}), false},
	}
	peers, err := forwarded.ParseTrustedPeers("192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	same := func(t *testing.T, how string, got, want mtls.Identity, whole bool) {
		t.Helper()
		if got.Subject != want.Subject {
			t.Errorf("%s: subject %q, want %q", how, got.Subject, want.Subject)
		}
		if got.SPIFFEID != want.SPIFFEID {
			t.Errorf("%s: SPIFFE ID %q, want %q", how, got.SPIFFEID, want.SPIFFEID)
		}
		if !slices.Equal(got.DNSNames, want.DNSNames) {
			t.Errorf("%s: DNS %q, want %q", how, got.DNSNames, want.DNSNames)
		}
		str := func(us []*url.URL) (s []string) {
			for _, u := range us {
				s = append(s, u.String())
			}
			return s
		}
		if !slices.Equal(str(got.URIs), str(want.URIs)) {
			t.Errorf("%s: URIs %q, want %q", how, str(got.URIs), str(want.URIs))
		}
		if whole && (got.CommonName != want.CommonName || got.CertSHA256 != want.CertSHA256 || !slices.Equal(got.OrganizationalUnit, want.OrganizationalUnit)) {
			t.Errorf("%s: CN %q OU %q, want %q %q", how, got.CommonName, got.OrganizationalUnit, want.CommonName, want.OrganizationalUnit)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := mtls.NewIdentity(tt.cert.Cert)
			for _, f := range []forwarded.Format{forwarded.RFC9440, forwarded.XFCC} {
				h := http.Header{}
				err := forwarded.SetHeaders(h, id, forwarded.Options{Format: f})
				if tt.ctlChars && f == forwarded.XFCC {
					if err == nil {
						t.Errorf("XFCC: sent %q, want an error (control characters)", h.Get(forwarded.HeaderXFCC))
					}
					continue
				}
				if err != nil {
					t.Fatalf("%v: %v", f, err)
				}
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.RemoteAddr = "192.0.2.1:4000"
				r.Header = h
				trust := forwarded.Trust{TrustedPeers: peers, Formats: f}
				got, ok, err := trust.Identity(r)
				if err != nil || !ok {
					t.Fatalf("%v: read back: %v %v (header %q)", f, ok, err, h)
				}
				same(t, f.String(), got, id, true)
			}
			if tt.ctlChars {
				return
			}
			// XFCC without Cert: the strings alone.
			v := forwarded.FormatXFCC([]forwarded.XFCCElement{{Subject: id.Subject, URI: id.URIs, DNS: id.DNSNames}})
			elems, err := forwarded.ParseXFCC([]string{v})
			if err != nil {
				t.Fatalf("XFCC without Cert %q: %v", v, err)
			}
			if len(elems) != 1 {
				t.Fatalf("XFCC without Cert %q: %d elements, want 1", v, len(elems))
			}
			same(t, "XFCC without Cert", elems[0].Identity(), id, false)
		})
	}
}
