package mtls_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// handshakeAs runs a real TLS handshake through an mtls.Server whose
// client CA is root and whose Authorizer is authz, presenting leaf (and
// the intermediates in chain). It returns the identity the server
// answered with, or the reason of its refusal.
func handshakeAs(t *testing.T, authz mtls.Authorizer, root *rawCert, leaf *rawCert, chain ...*rawCert) (string, mtls.Reason) {
	t.Helper()
	ca := pkitest.CA(t)
	srv := pkitest.Server(t, ca).TLSCertificate()
	var got failures
	s := newServer(t, mtls.ServerConfig{
		Certificates:       []mtls.KeyPair{{Certificate: &srv}},
		ClientCAs:          pemCAs(root.Cert),
		Authorizer:         authz,
		OnHandshakeFailure: got.add,
	})
	addr := serve(t, s.TLSConfig())
	tc := tls.Certificate{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key, Leaf: leaf.Cert}
	for _, c := range chain {
		tc.Certificate = append(tc.Certificate, c.Cert.Raw)
	}
	conf := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost",
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }}
	c, err := tls.Dial("tcp", addr, conf)
	if err == nil {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		var line string
		line, err = bufio.NewReader(c).ReadString('\n')
		if err == nil {
			return strings.TrimSuffix(line, "\n"), ""
		}
	}
	f, ok := got.last()
	if !ok {
		t.Fatalf("handshake failed (%v) with no failure report", err)
	}
	return "", f.Reason
}

// leafWith mints a client certificate under root, with the subject given
// as raw DER (when rawSubject is not nil) and mod applied.
func leafWith(t *testing.T, root *rawCert, rawSubject []byte, mod func(*x509.Certificate)) *rawCert {
	t.Helper()
	return rawClient(t, root, func(c *x509.Certificate) {
		if rawSubject != nil {
			c.RawSubject = rawSubject
		}
		if mod != nil {
			mod(c)
		}
	})
}

var (
	oidCN = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO  = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOU = asn1.ObjectIdentifier{2, 5, 4, 11}
)

// atv is an attribute whose value is encoded with the given universal
// string tag (asn1.TagUTF8String, TagPrintableString, TagBMPString,
// TagT61String, TagIA5String); BMPString is encoded as UTF-16BE.
func atv(oid asn1.ObjectIdentifier, tag int, v string) pkix.AttributeTypeAndValue {
	b := []byte(v)
	if tag == asn1.TagBMPString {
		b = nil
		for _, u := range utf16.Encode([]rune(v)) {
			b = append(b, byte(u>>8), byte(u))
		}
	}
	return pkix.AttributeTypeAndValue{Type: oid, Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: tag, Bytes: b}}
}

func rawName(t *testing.T, rdns ...[]pkix.AttributeTypeAndValue) []byte {
	t.Helper()
	var seq pkix.RDNSequence
	for _, r := range rdns {
		seq = append(seq, r)
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// rawSAN is a subjectAltName extension holding names of one GeneralName
// tag (2 dNSName, 6 uniformResourceIdentifier), bytes as given.
func rawSAN(t *testing.T, tag int, names ...string) pkix.Extension {
	t.Helper()
	var seq []asn1.RawValue
	for _, n := range names {
		seq = append(seq, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, Bytes: []byte(n)})
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: der}
}

func one(a ...pkix.AttributeTypeAndValue) []pkix.AttributeTypeAndValue { return a }

// TestCommonNameMatchingHandshake: common-name authorization through a
// real handshake, for subjects a CA that signs what a CSR asks for would
// issue. The name is compared exactly, whatever ASN.1 string type
// carries it (the same characters are the same name); any other
// spelling (case, look-alike letters, NUL, control bytes, trailing
// space) is another name; two common names anywhere in the subject (a
// multi-valued RDN too) are refused; an OU or O whose value reads
// "CN=admin" is no common name.
func TestCommonNameMatchingHandshake(t *testing.T) {
	t.Parallel()
	root := rawCA(t, "root", nil)
	admin := mtls.AuthorizeCommonName("admin")
	utf8 := asn1.TagUTF8String
	tests := []struct {
		name    string
		subject []byte
		allowed bool
	}{
		{"UTF8String admin (twin)", rawName(t, one(atv(oidCN, utf8, "admin"))), true},
		{"PrintableString admin", rawName(t, one(atv(oidCN, asn1.TagPrintableString, "admin"))), true},
		{"BMPString admin", rawName(t, one(atv(oidCN, asn1.TagBMPString, "admin"))), true},
		{"T61String admin", rawName(t, one(atv(oidCN, asn1.TagT61String, "admin"))), true},
		{"IA5String admin", rawName(t, one(atv(oidCN, asn1.TagIA5String, "admin"))), true},
		{"with O before", rawName(t, one(atv(oidO, utf8, "corp")), one(atv(oidCN, utf8, "admin"))), true},
		{"in a multi-valued RDN with O", rawName(t, one(atv(oidO, utf8, "corp"), atv(oidCN, utf8, "admin"))), true},
		{"alice then admin", rawName(t, one(atv(oidCN, utf8, "alice")), one(atv(oidCN, utf8, "admin"))), false},
		{"admin then alice", rawName(t, one(atv(oidCN, utf8, "admin")), one(atv(oidCN, utf8, "alice"))), false},
		{"alice+admin in one RDN", rawName(t, one(atv(oidCN, utf8, "alice"), atv(oidCN, utf8, "admin"))), false},
		{"admin in UTF8 and in BMP", rawName(t, one(atv(oidCN, utf8, "admin")), one(atv(oidCN, asn1.TagBMPString, "admin"))), false},
		{"case Admin", rawName(t, one(atv(oidCN, utf8, "Admin"))), false},
		{"Cyrillic a", rawName(t, one(atv(oidCN, utf8, "\u0430dmin"))), false},
		{"BMP Cyrillic a", rawName(t, one(atv(oidCN, asn1.TagBMPString, "\u0430dmin"))), false},
		{"fullwidth", rawName(t, one(atv(oidCN, utf8, "\uff41dmin"))), false},
		{"NUL inside", rawName(t, one(atv(oidCN, utf8, "admin\x00.alice"))), false},
		{"trailing NUL", rawName(t, one(atv(oidCN, utf8, "admin\x00"))), false},
		{"newline", rawName(t, one(atv(oidCN, utf8, "admin\n"))), false},
		{"trailing space", rawName(t, one(atv(oidCN, utf8, "admin "))), false},
		{"leading space", rawName(t, one(atv(oidCN, utf8, " admin"))), false},
		{"zero-width joiner", rawName(t, one(atv(oidCN, utf8, "ad\u200dmin"))), false},
		{"OU CN=admin", rawName(t, one(atv(oidOU, utf8, "CN=admin")), one(atv(oidCN, utf8, "alice"))), false},
		{"O CN=admin, no CN", rawName(t, one(atv(oidO, utf8, "CN=admin"))), false},
		{"CN admin,O=x", rawName(t, one(atv(oidCN, utf8, "admin,O=x"))), false},
		{"empty subject", rawName(t), false},
		{"empty CN", rawName(t, one(atv(oidCN, utf8, ""))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			leaf := leafWith(t, root, tt.subject, func(c *x509.Certificate) {
				if tt.name == "empty subject" {
					c.DNSNames = []string{"x.example"} // RFC 5280 wants a SAN then
				}
			})
			name, reason := handshakeAs(t, admin, root, leaf)
			if tt.allowed && reason != "" {
				t.Fatalf("refused (%s), want allowed", reason)
			}
			if !tt.allowed && reason != mtls.ReasonCommonNameDenied {
				t.Fatalf("got %q / reason %q, want %s", name, reason, mtls.ReasonCommonNameDenied)
			}
		})
	}
}

// TestSPIFFEIDMatchingHandshake: SPIFFE ID authorization through a real
// handshake. A certificate has a SPIFFE ID only with exactly one URI SAN
// that is a valid SPIFFE ID (lower-case trust domain, no percent-encoding,
// no dot or empty segments, no trailing slash, no query, fragment,
// user or port), so none of its other spellings matches a pattern. A
// "*" stands for exactly one segment.
func TestSPIFFEIDMatchingHandshake(t *testing.T) {
	t.Parallel()
	root := rawCA(t, "root", nil)
	must := mustAuth(t)
	exact := must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/a/sa/admin"))
	wild := must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/admin"))
	tail := must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*"))
	td := must(mtls.AuthorizeTrustDomain("prod.example"))
	tests := []struct {
		name    string
		authz   mtls.Authorizer
		uris    []string
		allowed bool
	}{
		{"exact (twin)", exact, []string{"spiffe://prod.example/ns/a/sa/admin"}, true},
		{"wildcard one segment (twin)", wild, []string{"spiffe://prod.example/ns/b/sa/admin"}, true},
		{"trailing wildcard (twin)", tail, []string{"spiffe://prod.example/ns/b"}, true},
		{"trust domain (twin)", td, []string{"spiffe://prod.example/ns/b"}, true},
		{"wildcard two segments", wild, []string{"spiffe://prod.example/ns/a/b/sa/admin"}, false},
		{"wildcard no segment", wild, []string{"spiffe://prod.example/ns/sa/admin"}, false},
		{"trailing wildcard two segments", tail, []string{"spiffe://prod.example/ns/a/b"}, false},
		{"trailing wildcard empty", tail, []string{"spiffe://prod.example/ns/"}, false},
		{"spiffe and https", exact, []string{"spiffe://prod.example/ns/a/sa/admin", "https://prod.example/"}, false},
		{"https and spiffe", exact, []string{"https://prod.example/", "spiffe://prod.example/ns/a/sa/admin"}, false},
		{"two SPIFFE IDs", exact, []string{"spiffe://prod.example/ns/a/sa/web", "spiffe://prod.example/ns/a/sa/admin"}, false},
		{"two SPIFFE IDs, trust domain", td, []string{"spiffe://prod.example/ns/a/sa/web", "spiffe://prod.example/ns/a/sa/admin"}, false},
		{"upper-case trust domain", exact, []string{"spiffe://PROD.example/ns/a/sa/admin"}, false},
		{"upper-case trust domain, trust domain", td, []string{"spiffe://Prod.Example/ns/a"}, false},
		{"percent-encoded letter", exact, []string{"spiffe://prod.example/ns/a/sa/%61dmin"}, false},
		{"percent-encoded slash", wild, []string{"spiffe://prod.example/ns/a%2Fb/sa/admin"}, false},
		{"dot-dot segment", exact, []string{"spiffe://prod.example/ns/a/x/../sa/admin"}, false},
		{"dot-dot across", wild, []string{"spiffe://prod.example/ns/../sa/admin"}, false},
		{"dot segment", exact, []string{"spiffe://prod.example/ns/a/./sa/admin"}, false},
		{"trailing slash", exact, []string{"spiffe://prod.example/ns/a/sa/admin/"}, false},
		{"empty segment", exact, []string{"spiffe://prod.example/ns//a/sa/admin"}, false},
		{"query", exact, []string{"spiffe://prod.example/ns/a/sa/admin?x=1"}, false},
		{"fragment", exact, []string{"spiffe://prod.example/ns/a/sa/admin#x"}, false},
		// url.Parse drops an empty fragment: the certificate's bytes are
		// no SPIFFE ID (SPIFFE-ID §2), whatever x509's URL reads.
		{"empty fragment", exact, []string{"spiffe://prod.example/ns/a/sa/admin#"}, false},
		{"empty fragment, trust domain", td, []string{"spiffe://prod.example/ns/b#"}, false},
		{"upper-case scheme, empty fragment", exact, []string{"SPIFFE://prod.example/ns/a/sa/admin#"}, false},
		{"empty query", exact, []string{"spiffe://prod.example/ns/a/sa/admin?"}, false},
		{"percent-encoded dot-dot", wild, []string{"spiffe://prod.example/ns/%2e%2e/sa/admin"}, false},
		{"user info", exact, []string{"spiffe://evil@prod.example/ns/a/sa/admin"}, false},
		{"port", exact, []string{"spiffe://prod.example:443/ns/a/sa/admin"}, false},
		{"other trust domain, same path", exact, []string{"spiffe://prod.example.evil/ns/a/sa/admin"}, false},
		// (A trust domain with a trailing dot: crypto/x509 refuses to
		// parse the certificate at all.)
		{"upper-case scheme (same ID, RFC 3986 §3.1)", exact, []string{"SPIFFE://prod.example/ns/a/sa/admin"}, true},
		{"case of path", exact, []string{"spiffe://prod.example/ns/a/sa/Admin"}, false},
		{"literal star segment, exact pattern", exact, []string{"spiffe://prod.example/ns/*/sa/admin"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The SAN extension is written by hand: crypto/x509 would
			// normalise (the scheme's case) or refuse (a trailing dot)
			// some of these URIs.
			leaf := leafWith(t, root, nil, func(c *x509.Certificate) {
				c.ExtraExtensions = append(c.ExtraExtensions, rawSAN(t, 6, tt.uris...))
			})
			name, reason := handshakeAs(t, tt.authz, root, leaf)
			if tt.allowed && reason != "" {
				t.Fatalf("refused (%s), want allowed", reason)
			}
			if !tt.allowed && reason == "" {
				t.Fatalf("allowed as %q, want refused", name)
			}
		})
	}
	// Patterns that no valid ID could match are refused when configured.
	for _, p := range []string{"spiffe://Prod.example/ns/a", "spiffe://prod.example/ns/../a", "spiffe://prod.example/ns/a/", "spiffe://prod.example/ns//a", "spiffe://prod.example/ns/%61", "spiffe://prod.example/ns/a?x", "spiffe://prod.example/ns/a*"} {
		if _, err := mtls.AuthorizeSPIFFEID(p); err == nil {
			t.Errorf("AuthorizeSPIFFEID(%q): got no error", p)
		}
	}
	if _, err := mtls.AuthorizeTrustDomain("Prod.Example"); err == nil {
		t.Error("AuthorizeTrustDomain(Prod.Example): got no error")
	}
}

// TestDNSNameMatchingHandshake: DNS SAN authorization through a real
// handshake. ASCII case is ignored; a wildcard SAN in a client
// certificate is no name (it matches neither the names it would cover
// nor a wildcard pattern); a trailing dot, an empty SAN or a
// look-alike is another name; any one SAN may match.
func TestDNSNameMatchingHandshake(t *testing.T) {
	t.Parallel()
	root := rawCA(t, "root", nil)
	must := mustAuth(t)
	api := must(mtls.AuthorizeDNSName("api.example.com"))
	wild := must(mtls.AuthorizeDNSName("*.example.com"))
	tests := []struct {
		name    string
		authz   mtls.Authorizer
		dns     []string
		allowed bool
	}{
		{"exact (twin)", api, []string{"api.example.com"}, true},
		{"upper case", api, []string{"API.Example.COM"}, true},
		{"second SAN", api, []string{"other.example.org", "api.example.com"}, true},
		{"wildcard pattern (twin)", wild, []string{"api.example.com"}, true},
		{"wildcard SAN vs exact", api, []string{"*.example.com"}, false},
		{"wildcard SAN vs wildcard", wild, []string{"*.example.com"}, false},
		{"bare star SAN", wild, []string{"*"}, false},
		{"trailing dot", api, []string{"api.example.com."}, false},
		{"empty label", api, []string{"api..example.com"}, false},
		{"suffix only", wild, []string{"example.com"}, false},
		{"two labels under wildcard", wild, []string{"a.api.example.com"}, false},
		{"suffix look-alike", api, []string{"api.example.com.evil"}, false},
		{"prefix look-alike", api, []string{"xapi.example.com"}, false},
		{"punycode of another name", api, []string{"xn--pi-7ba.example.com"}, false},
		{"empty SAN", api, []string{""}, false},
		{"empty SAN, wildcard", wild, []string{""}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			leaf := leafWith(t, root, nil, func(c *x509.Certificate) {
				c.ExtraExtensions = append(c.ExtraExtensions, rawSAN(t, 2, tt.dns...))
			})
			name, reason := handshakeAs(t, tt.authz, root, leaf)
			if tt.allowed && reason != "" {
				t.Fatalf("refused (%s), want allowed", reason)
			}
			// A SAN that is not even host name characters (empty, a
			// bare "*") fails the handshake's chain policy, before any
			// authorizer; every other one is the authorizer's denial.
			want := mtls.ReasonDNSNameDenied
			if slices.Contains(tt.dns, "") || slices.Contains(tt.dns, "*") {
				want = mtls.ReasonBadCertificate
			}
			if !tt.allowed && reason != want {
				t.Fatalf("got %q / reason %q, want %s", name, reason, want)
			}
		})
	}
	for _, p := range []string{"bücher.example", "api.example.com.", "*.*.example.com", "*example.com", ""} {
		if _, err := mtls.AuthorizeDNSName(p); err == nil {
			t.Errorf("AuthorizeDNSName(%q): got no error", p)
		}
	}
}

// TestSPKIPinHandshake: an SPKI pin is the leaf's key. A pin of the
// issuing CA's key (or of an intermediate's, sent in the chain) allows
// no client; the leaf's pin allows it in every accepted spelling.
func TestSPKIPinHandshake(t *testing.T) {
	t.Parallel()
	root := rawCA(t, "root", nil)
	inter := rawCA(t, "inter", root)
	leaf := leafWith(t, root, nil, nil)
	leaf2 := leafWith(t, inter, nil, nil)
	pin := func(c *rawCert) [32]byte { return mtls.NewIdentity(c.Cert).SPKISHA256 }
	lp := pin(leaf)
	for _, s := range []string{hex.EncodeToString(lp[:]), strings.ToUpper(hex.EncodeToString(lp[:])), base64.StdEncoding.EncodeToString(lp[:]), "sha256/" + base64.StdEncoding.EncodeToString(lp[:])} {
		a := mustAuth(t)(mtls.AuthorizeSPKI(s))
		if _, reason := handshakeAs(t, a, root, leaf); reason != "" {
			t.Errorf("leaf pin %q: refused (%s)", s, reason)
		}
	}
	rp, ip := pin(root), pin(inter)
	caPins := mustAuth(t)(mtls.AuthorizeSPKI(hex.EncodeToString(rp[:]), hex.EncodeToString(ip[:])))
	if name, reason := handshakeAs(t, caPins, root, leaf); reason != mtls.ReasonSPKIDenied {
		t.Errorf("root's pin: got %q / %q, want %s", name, reason, mtls.ReasonSPKIDenied)
	}
	if name, reason := handshakeAs(t, caPins, root, leaf2, inter); reason != mtls.ReasonSPKIDenied {
		t.Errorf("intermediate's pin: got %q / %q, want %s", name, reason, mtls.ReasonSPKIDenied)
	}
	// Base64 without padding or URL-safe is refused when configured,
	// never read as another key.
	b := base64.StdEncoding.EncodeToString(lp[:])
	for _, s := range []string{strings.TrimRight(b, "="), base64.URLEncoding.EncodeToString(lp[:]), base64.RawURLEncoding.EncodeToString(lp[:])} {
		if s == b {
			continue
		}
		if a, err := mtls.AuthorizeSPKI(s); err == nil {
			if _, reason := handshakeAs(t, a, root, leaf); reason != "" {
				t.Errorf("pin %q accepted at construction but refuses its key (%s)", s, reason)
			}
		}
	}
}

// TestSubjectKeepsEveryCommonName: Identity.Subject (forwarded as
// Forgeproof-Client-Identity and XFCC Subject, and logged) was
// pkix.Name.String(), which prints only the last common name (and
// serial number): a subject CN=admin, CN=alice read "CN=alice", the same
// string as a certificate with CN=alice alone, while OpenSSL and Java
// read "admin" from the certificate forwarded beside it. Every attribute
// is now printed, from the encoding, so the two subjects differ; the
// twins with one common name print as before.
func TestSubjectKeepsEveryCommonName(t *testing.T) {
	t.Parallel()
	root := rawCA(t, "root", nil)
	u8 := asn1.TagUTF8String
	oidSerial := asn1.ObjectIdentifier{2, 5, 4, 5}
	tests := []struct {
		name    string
		subject []byte
		want    string
	}{
		{"one CN (twin)", rawName(t, one(atv(oidCN, u8, "alice"))), "CN=alice"},
		{"O then CN (twin)", rawName(t, one(atv(oidO, u8, "corp")), one(atv(oidCN, u8, "alice"))), "CN=alice,O=corp"},
		{"admin then alice", rawName(t, one(atv(oidCN, u8, "admin")), one(atv(oidCN, u8, "alice"))), "CN=alice,CN=admin"},
		{"alice then admin", rawName(t, one(atv(oidCN, u8, "alice")), one(atv(oidCN, u8, "admin"))), "CN=admin,CN=alice"},
		{"one multi-valued RDN", rawName(t, one(atv(oidCN, u8, "admin"), atv(oidCN, asn1.TagBMPString, "alice"))), "CN=admin+CN=alice"},
		{"escaped values", rawName(t, one(atv(oidO, u8, "a,b")), one(atv(oidCN, u8, "x+y")), one(atv(oidCN, u8, "z"))), `CN=z,CN=x\+y,O=a\,b`},
		{"two serial numbers", rawName(t, one(atv(oidSerial, asn1.TagPrintableString, "1")), one(atv(oidSerial, asn1.TagPrintableString, "2")), one(atv(oidCN, u8, "alice"))), "CN=alice,SERIALNUMBER=2,SERIALNUMBER=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			leaf := leafWith(t, root, tt.subject, func(c *x509.Certificate) { c.DNSNames = []string{"x.example"} })
			name, reason := handshakeAs(t, nil, root, leaf)
			if reason != "" {
				t.Fatalf("refused: %s", reason)
			}
			if name != tt.want {
				t.Errorf("handshake identity %q, want %q", name, tt.want)
			}
			if got := mtls.NewIdentity(leaf.Cert).Subject; got != tt.want {
				t.Errorf("NewIdentity Subject %q, want %q", got, tt.want)
			}
		})
	}
	// The issuer too.
	inter := mint(t, &x509.Certificate{RawSubject: rawName(t, one(atv(oidCN, u8, "Admin CA")), one(atv(oidCN, u8, "Dev CA"))),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, root)
	leaf := leafWith(t, inter, nil, nil)
	if got, want := mtls.NewIdentity(leaf.Cert).Issuer, "CN=Dev CA,CN=Admin CA"; got != want {
		t.Errorf("Issuer %q, want %q", got, want)
	}
}
