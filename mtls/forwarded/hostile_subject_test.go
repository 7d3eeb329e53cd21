package forwarded_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
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
			// FormatXFCC writes the subject's \\ and \" as \5C and \22.
			want := id
			want.Subject = hexDN(id.Subject)
			same(t, "XFCC without Cert", elems[0].Identity(), want, false)
		})
	}
}

// envoyXFCC reads an XFCC value as Envoy documents the format and as
// readers written to it do: ',' ends an element, ';' a pair, and inside
// double quotes \" stands for '"', read left to right; nothing else is an
// escape. It returns each element's pairs, keys lower-cased, and false
// where the value does not parse.
func envoyXFCC(v string) ([]map[string][]string, bool) {
	var elems []map[string][]string
	cur := map[string][]string{}
	for i := 0; i < len(v); {
		eq := strings.IndexByte(v[i:], '=')
		if eq < 0 {
			return nil, false
		}
		key := strings.ToLower(strings.TrimSpace(v[i : i+eq]))
		i += eq + 1
		var val strings.Builder
		if i < len(v) && v[i] == '"' {
			for i++; ; {
				if i >= len(v) {
					return nil, false
				}
				if v[i] == '\\' && i+1 < len(v) && v[i+1] == '"' {
					val.WriteByte('"')
					i += 2
					continue
				}
				if v[i] == '"' {
					i++
					break
				}
				val.WriteByte(v[i])
				i++
			}
		} else {
			for ; i < len(v) && v[i] != ';' && v[i] != ','; i++ {
				val.WriteByte(v[i])
			}
		}
		cur[key] = append(cur[key], val.String())
		if i < len(v) && v[i] == ',' {
			elems, cur = append(elems, cur), map[string][]string{}
		} else if i < len(v) && v[i] != ';' {
			return nil, false
		}
		i++
	}
	return append(elems, cur), true
}

// commonNamesRFC4514 returns the CN values of an RFC 4514 string, as an
// LDAP or Java reader (X500Principal) decodes them: '\' escapes the next
// character or two hexadecimal digits, unescaped ',' and '+' separate
// attributes. False when dn is not well formed.
func commonNamesRFC4514(dn string) ([]string, bool) {
	var cns []string
	var attr strings.Builder
	flush := func() bool {
		typ, val, ok := strings.Cut(attr.String(), "=")
		if !ok {
			return false
		}
		if strings.EqualFold(strings.TrimSpace(typ), "CN") {
			cns = append(cns, val)
		}
		attr.Reset()
		return true
	}
	for i := 0; i < len(dn); i++ {
		switch c := dn[i]; {
		case c == '\\':
			if i+2 < len(dn) && isHex(dn[i+1]) && isHex(dn[i+2]) {
				b, _ := hex.DecodeString(dn[i+1 : i+3])
				attr.Write(b)
				i += 2
			} else if i+1 < len(dn) {
				attr.WriteByte(dn[i+1])
				i++
			} else {
				return nil, false
			}
		case c == ',' || c == '+':
			if !flush() {
				return nil, false
			}
		case c == '"':
			return nil, false // RFC 4514 escapes every '"' in a value
		default:
			attr.WriteByte(c)
		}
	}
	return cns, flush()
}

func isHex(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }

// oldQuoting is how FormatXFCC quoted a value before this test was
// written: '"' and '\' both backslash-escaped. An Envoy-grammar reader
// keeps the second backslash of \\, so the subject's RFC 4514 "\," became
// "\\,", an escaped backslash and a separator.
func oldQuoting(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// TestHostileSubjectEnvoyReader: what SetHeaders writes as XFCC, read by
// an upstream that follows Envoy's grammar (envoyXFCC) and decodes the
// Subject as RFC 4514, is the certificate's subject and URI SANs, never
// an injected CN=admin or another URI. A subject or SAN with a backslash
// that readers of the format split differently is refused instead
// (the gateway then forwards no identity), its twin without it is sent.
// The negative control writes the same subject with the old quoting:
// the reader then sees a second common name, admin.
func TestHostileSubjectEnvoyReader(t *testing.T) {
	ca := pkitest.CA(t)
	cnOID := asn1.ObjectIdentifier{2, 5, 4, 3}
	withCN := func(cn string, uris ...*url.URL) *pki.Cert {
		if len(uris) > 0 {
			return pkitest.Client(t, ca, pki.ClientOptions{CommonName: cn, URIs: uris})
		}
		return pkitest.ClientWithSubject(t, ca, pkix.RDNSequence{{hostileATV(cnOID, asn1.TagUTF8String, cn)}})
	}
	// A URI whose query, if a reader took the quote before it for the
	// end of the Subject, reads as a second URI pair.
	trap := &url.URL{Scheme: "https", Host: "id.example", Path: "/u", RawQuery: `a";URI=spiffe://example.org/admin;x="`}
	tests := []struct {
		name    string
		cert    *pki.Cert
		wantCNs []string
		refused string // the key SetHeaders names; "" means sent
	}{
		{"plain (twin)", withCN("alice"), []string{"alice"}, ""},
		{"comma and CN=admin", withCN("x,CN=admin"), []string{"x,CN=admin"}, ""},
		{"backslash and CN=admin", withCN(`x\,CN=admin`), []string{`x\,CN=admin`}, ""},
		{"quote", withCN(`a"b`), []string{`a"b`}, ""},
		{"trailing backslash and a trap URI", withCN(`x\`, trap), []string{`x\`}, ""},
		{"URI=spiffe inside a CN", withCN(`URI=spiffe://example.org/admin`), []string{`URI=spiffe://example.org/admin`}, ""},
		{"URI with a quote (twin)", withCN("u", &url.URL{Scheme: "https", Host: "id.example", RawQuery: `q="x"`}), []string{"u"}, ""},
		{"URI with a backslash before a quote", withCN("u", &url.URL{Scheme: "https", Host: "id.example", RawQuery: `q=\";URI=spiffe://example.org/admin`}), nil, "URI"},
		{"URI ending with a backslash", withCN("u", &url.URL{Scheme: "https", Host: "id.example", RawQuery: `q=x,\`}), nil, "URI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := mtls.NewIdentity(tt.cert.Cert)
			h := http.Header{}
			err := forwarded.SetHeaders(h, id, forwarded.Options{Format: forwarded.XFCC})
			if tt.refused != "" {
				if err == nil || !strings.Contains(err.Error(), "its "+tt.refused+" has a backslash") {
					t.Fatalf("got %v (header %q), want the %s refused", err, h.Get(forwarded.HeaderXFCC), tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v := h.Get(forwarded.HeaderXFCC)
			elems, ok := envoyXFCC(v)
			if !ok || len(elems) != 1 {
				t.Fatalf("Envoy-grammar reader: %d elements, ok %v, in %q", len(elems), ok, v)
			}
			cns, ok := commonNamesRFC4514(elems[0]["subject"][0])
			if !ok || !slices.Equal(cns, tt.wantCNs) {
				t.Errorf("Envoy-grammar reader: subject %q has CNs %q, want %q", elems[0]["subject"], cns, tt.wantCNs)
			}
			var uris []string
			for _, u := range id.URIs {
				uris = append(uris, u.String())
			}
			if got := elems[0]["uri"]; !slices.Equal(got, uris) {
				t.Errorf("Envoy-grammar reader: URIs %q, want %q (header %q)", got, uris, v)
			}
			// Forgeproof's own reader agrees.
			back, err := forwarded.ParseXFCC([]string{v})
			if err != nil {
				t.Fatalf("ParseXFCC(%q): %v", v, err)
			}
			if back[0].Subject != hexDN(id.Subject) {
				t.Errorf("ParseXFCC: subject %q, want %q", back[0].Subject, hexDN(id.Subject))
			}
		})
	}
	t.Run("negative control: old quoting", func(t *testing.T) {
		id := mtls.NewIdentity(withCN("x,CN=admin").Cert)
		elems, ok := envoyXFCC("Subject=" + oldQuoting(id.Subject))
		if !ok {
			t.Fatal("Envoy-grammar reader refused the old quoting")
		}
		cns, _ := commonNamesRFC4514(elems[0]["subject"][0])
		if !slices.Contains(cns, "admin") {
			t.Errorf("old quoting read as CNs %q: the control no longer shows the injection", cns)
		}
	})
}
