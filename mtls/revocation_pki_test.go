package mtls_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// Revocation in the shapes a real PKI produces: CA key rollover (two CAs,
// one name), cross-signed CAs (one key, two certificates), scoped CRLs,
// and intermediates. Each case has its twin that must be accepted.

// rawCRL is a complete CRL of ca with the given number, revoking serials.
func rawCRL(t testing.TB, ca *rawCert, number int64, serials ...*big.Int) []byte {
	t.Helper()
	now := time.Now()
	tmpl := &x509.RevocationList{Number: big.NewInt(number), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour)}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: now.Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// verifyReason is the reason VerifyChain gives for chain ("" = accepted).
func verifyReason(t testing.TB, s *mtls.Server, chain ...*x509.Certificate) mtls.Reason {
	t.Helper()
	_, err := s.VerifyChain(chain)
	if err != nil && mtls.ReasonOf(err) == "" {
		t.Fatalf("VerifyChain: %v has no reason", err)
	}
	return mtls.ReasonOf(err)
}

func serialOf(n int64) func(*x509.Certificate) {
	return func(c *x509.Certificate) { c.SerialNumber = big.NewInt(n) }
}

// TestCRLCAKeyRollover: the CA was re-keyed; the old and the new CA
// certificate have the same subject and both are client CAs while
// clients move over, each key with its own CRL. A CRL must apply only to
// the certificates its key issued: the new CA's CRL, which does not list
// a certificate the old key issued and the old CRL revoked, must not
// un-revoke it (whatever the CRL numbers), and a serial revoked by one
// key must not revoke the same serial issued by the other.
func TestCRLCAKeyRollover(t *testing.T) {
	t.Parallel()
	oldCA := rawCA(t, "rollover CA", nil)
	newCA := rawCA(t, "rollover CA", nil)
	if string(oldCA.Cert.RawSubject) != string(newCA.Cert.RawSubject) {
		t.Fatal("want the same subject")
	}
	// Same serials under both keys, as two CAs counting from 1 produce.
	oldRevoked := rawClient(t, oldCA, serialOf(7))
	oldGood := rawClient(t, oldCA, serialOf(8))
	newSame7 := rawClient(t, newCA, serialOf(7))
	newRevoked8 := rawClient(t, newCA, serialOf(8))
	oldCRL := rawCRL(t, oldCA, 3, big.NewInt(7))
	newCRL := rawCRL(t, newCA, 50, big.NewInt(8)) // higher number, other list

	for _, order := range []struct {
		name string
		cas  []*x509.Certificate
		crls [][]byte
	}{
		{"old first", []*x509.Certificate{oldCA.Cert, newCA.Cert}, [][]byte{oldCRL, newCRL}},
		{"new first", []*x509.Certificate{newCA.Cert, oldCA.Cert}, [][]byte{newCRL, oldCRL}},
		{"one PEM file", []*x509.Certificate{oldCA.Cert, newCA.Cert}, [][]byte{append(pki.EncodeCRLPEM(newCRL), pki.EncodeCRLPEM(oldCRL)...)}},
	} {
		t.Run(order.name, func(t *testing.T) {
			s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(order.cas...), CRLs: crlData(order.crls...)})
			for _, tt := range []struct {
				name string
				cert *rawCert
				want mtls.Reason
			}{
				{"old key, revoked by the old CRL", oldRevoked, mtls.ReasonRevoked},
				{"old key, not revoked (twin)", oldGood, ""},
				{"new key, serial revoked under the old key", newSame7, ""},
				{"new key, revoked by the new CRL", newRevoked8, mtls.ReasonRevoked},
			} {
				if got := verifyReason(t, s, tt.cert.Cert); got != tt.want {
					t.Errorf("%s: got reason %q, want %q", tt.name, got, tt.want)
				}
			}
		})
	}

	t.Run("handshake", func(t *testing.T) {
		srvCA := pkitest.CA(t)
		srv := pkitest.Server(t, srvCA).TLSCertificate()
		var got failures
		s := newServer(t, mtls.ServerConfig{Certificates: pairs(srv), ClientCAs: pemCAs(newCA.Cert, oldCA.Cert), CRLs: crlData(newCRL, oldCRL), OnHandshakeFailure: got.add})
		addr := serve(t, s.TLSConfig())
		if _, err := dial(t, addr, srvCA, &pki.Cert{Cert: oldGood.Cert, Key: oldGood.Key}, nil); err != nil {
			t.Fatalf("old key, not revoked: %v, want accepted", err)
		}
		_, err := dial(t, addr, srvCA, &pki.Cert{Cert: oldRevoked.Cert, Key: oldRevoked.Key}, nil)
		if f, _ := got.last(); err == nil || f.Reason != mtls.ReasonRevoked {
			t.Fatalf("old key, revoked: got %v (reason %q), want %s", err, f.Reason, mtls.ReasonRevoked)
		}
	})

	// Only the new key's CRL: nothing covers what the old key issued.
	t.Run("old key without its CRL", func(t *testing.T) {
		s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(oldCA.Cert, newCA.Cert), CRLs: crlData(newCRL)})
		if got := verifyReason(t, s, oldGood.Cert); got != mtls.ReasonCRLMissing {
			t.Errorf("got %q, want %s", got, mtls.ReasonCRLMissing)
		}
		if got := verifyReason(t, s, newSame7.Cert); got != "" {
			t.Errorf("new key, not revoked: got %q, want accepted", got)
		}
	})

	// A CRL naming the CA but signed by neither key is refused.
	t.Run("CRL signed by another key of the same name", func(t *testing.T) {
		impostor := rawCA(t, "rollover CA", nil)
		_, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(oldCA.Cert, newCA.Cert), CRLs: crlData(oldCRL, rawCRL(t, impostor, 99))})
		if err == nil || !strings.Contains(err.Error(), "CRLs[1]: crl CRLs[1]: not signed by any client CA") {
			t.Fatalf("got %v, want CRLs[1] refused as not signed by any client CA", err)
		}
	})
}

// TestCRLRollbackPerKey: rollback protection compares CRL numbers per CA
// key. The new CA's high CRL numbers must not block the old CA's next
// CRL, and the new CA's must not let the old CA's CRL go back.
func TestCRLRollbackPerKey(t *testing.T) {
	t.Parallel()
	oldCA := rawCA(t, "rollback CA", nil)
	newCA := rawCA(t, "rollback CA", nil)
	cli := rawClient(t, oldCA, nil)
	dir := t.TempDir()
	oldFile, newFile := filepath.Join(dir, "old.crl"), filepath.Join(dir, "new.crl")
	write := func(file string, der []byte) {
		t.Helper()
		if err := os.WriteFile(file, pki.EncodeCRLPEM(der), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(oldFile, rawCRL(t, oldCA, 5, cli.Cert.SerialNumber))
	write(newFile, rawCRL(t, newCA, 10))
	s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(oldCA.Cert, newCA.Cert), CRLs: files(oldFile, newFile)})
	if got := verifyReason(t, s, cli.Cert); got != mtls.ReasonRevoked {
		t.Fatalf("got %q, want revoked", got)
	}
	// An older CRL of the old key (number 4, not listing cli) is refused,
	// and cli stays revoked.
	write(oldFile, rawCRL(t, oldCA, 4))
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "CRL number 4 is older than the one in use (5)") {
		t.Fatalf("reload: got %v, want the rollback refused", err)
	}
	if got := verifyReason(t, s, cli.Cert); got != mtls.ReasonRevoked {
		t.Fatalf("after refused rollback: got %q, want revoked", got)
	}
	// The old key's next CRL (6) is lower than the new key's (10): it is
	// still newer for its own key, and loads. It no longer lists cli.
	write(oldFile, rawCRL(t, oldCA, 6))
	if err := s.Reload(); err != nil {
		t.Fatalf("reload of the old key's next CRL: %v", err)
	}
	if got := verifyReason(t, s, cli.Cert); got != "" {
		t.Fatalf("after the old key's CRL 6: got %q, want accepted", got)
	}
}

// crossSigned returns x's key and subject certified by parent (a
// cross-certificate): same key, another issuer.
func crossSigned(t testing.TB, x, parent *rawCert) *rawCert {
	t.Helper()
	return mintKey(t, &x509.Certificate{
		Subject: x.Cert.Subject, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, parent, x.Key)
}

// TestCRLCrossSignedCA: a CA with one key and two certificates (its own
// self-signed one and one cross-signed by another root) has one CRL,
// which covers what it issued whichever certificate the chain goes
// through, and whichever of the two is among the client CAs.
func TestCRLCrossSignedCA(t *testing.T) {
	t.Parallel()
	x := rawCA(t, "cross-signed CA", nil)
	other := rawCA(t, "other root", nil)
	xCross := crossSigned(t, x, other)
	revoked := rawClient(t, x, nil)
	good := rawClient(t, x, nil)
	xCRL := rawCRL(t, x, 2, revoked.Cert.SerialNumber)
	otherCRL := rawCRL(t, other, 1)
	for _, tt := range []struct {
		name  string
		cas   []*x509.Certificate
		crls  [][]byte
		chain []*x509.Certificate // after the leaf
	}{
		{name: "self-signed certificate in the bundle", cas: []*x509.Certificate{x.Cert}, crls: [][]byte{xCRL}},
		{name: "cross-certificate in the bundle", cas: []*x509.Certificate{xCross.Cert, other.Cert}, crls: [][]byte{xCRL, otherCRL}},
		{name: "cross-certificate sent by the client", cas: []*x509.Certificate{other.Cert, x.Cert}, crls: [][]byte{otherCRL, xCRL}, chain: []*x509.Certificate{xCross.Cert}},
		{name: "only the other root, cross-certificate sent", cas: []*x509.Certificate{other.Cert, xCross.Cert}, crls: [][]byte{otherCRL, xCRL}, chain: []*x509.Certificate{xCross.Cert}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(tt.cas...), CRLs: crlData(tt.crls...)})
			if got := verifyReason(t, s, append([]*x509.Certificate{revoked.Cert}, tt.chain...)...); got != mtls.ReasonRevoked {
				t.Errorf("revoked: got %q, want %s", got, mtls.ReasonRevoked)
			}
			if got := verifyReason(t, s, append([]*x509.Certificate{good.Cert}, tt.chain...)...); got != "" {
				t.Errorf("not revoked (twin): got %q, want accepted", got)
			}
		})
	}

	// The other root revokes its cross-certificate: a chain through it
	// (the cross-certificate in the bundle) is refused.
	otherRevokes := rawCRL(t, other, 2, xCross.Cert.SerialNumber)
	t.Run("cross-certificate revoked by the other root", func(t *testing.T) {
		s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(other.Cert, xCross.Cert), CRLs: crlData(otherRevokes, xCRL)})
		if got := verifyReason(t, s, good.Cert); got != mtls.ReasonRevoked {
			t.Errorf("got %q, want %s", got, mtls.ReasonRevoked)
		}
	})
	// With the CA's self-signed certificate among the client CAs too, a
	// second path does not go through the revoked cross-certificate: the
	// certificate is accepted, whatever the order of the client CAs (it
	// was refused when the cross-certificate came first), and one that
	// the CA itself revoked is refused on every path.
	for i, cas := range [][]*x509.Certificate{
		{other.Cert, xCross.Cert, x.Cert},
		{other.Cert, x.Cert, xCross.Cert},
		{xCross.Cert, x.Cert, other.Cert},
		{x.Cert, xCross.Cert, other.Cert},
	} {
		t.Run(fmt.Sprintf("cross-certificate revoked, self-signed certificate too/order %d", i), func(t *testing.T) {
			s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(cas...), CRLs: crlData(otherRevokes, xCRL)})
			if got := verifyReason(t, s, good.Cert); got != "" {
				t.Errorf("got %q, want accepted", got)
			}
			if got := verifyReason(t, s, revoked.Cert); got != mtls.ReasonRevoked {
				t.Errorf("revoked by the CA: got %q, want %s", got, mtls.ReasonRevoked)
			}
			// From the cache of verified chains (a resumed session), the
			// same decisions: the chain kept for the accepted certificate
			// is the one that passed, the one kept for the refused
			// certificate is refused again.
			if got := verifyReason(t, s, good.Cert); got != "" {
				t.Errorf("cached: got %q, want accepted", got)
			}
			if got := verifyReason(t, s, revoked.Cert); got != mtls.ReasonRevoked {
				t.Errorf("cached, revoked by the CA: got %q, want %s", got, mtls.ReasonRevoked)
			}
			if hits, _ := mtls.VerifiedChainHits(s); hits != 2 {
				t.Errorf("got %d cache hits, want 2", hits)
			}
		})
	}
}

// idp is an IssuingDistributionPoint (RFC 5280 §5.2.5).
type idp struct {
	DistributionPoint          asn1.RawValue  `asn1:"optional,tag:0"`
	OnlyContainsUserCerts      bool           `asn1:"optional,tag:1"`
	OnlyContainsCACerts        bool           `asn1:"optional,tag:2"`
	OnlySomeReasons            asn1.BitString `asn1:"optional,tag:3"`
	IndirectCRL                bool           `asn1:"optional,tag:4"`
	OnlyContainsAttributeCerts bool           `asn1:"optional,tag:5"`
}

func idpExt(t testing.TB, v idp, critical bool) pkix.Extension {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidIssuingDistributionPoint, Critical: critical, Value: b}
}

// TestCRLScopeRealPKI: every form of Issuing Distribution Point a CA
// writes makes a CRL partial for some certificates (a partition by
// distribution point, user or CA certificates only, some reasons only,
// or an indirect CRL): each is refused at load, naming the field, and a
// newer partial CRL cannot replace the complete one. Twin: the complete
// CRL with the same number loads and revokes.
func TestCRLScopeRealPKI(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "mallory"})
	uri := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte("http://crl.example/part1.crl")}
	fullName, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(t, uri)})
	dp := asn1.RawValue{FullBytes: fullName}
	// keyCompromise and cACompromise only: bits 1 and 2.
	someReasons := asn1.BitString{Bytes: []byte{0x60}, BitLength: 3}
	for _, tt := range []struct {
		name string
		ext  pkix.Extension
	}{
		{"distribution point name (a partition)", idpExt(t, idp{DistributionPoint: dp}, true)},
		{"only user certificates", idpExt(t, idp{OnlyContainsUserCerts: true}, true)},
		{"only CA certificates", idpExt(t, idp{OnlyContainsCACerts: true}, true)},
		{"only some reasons", idpExt(t, idp{OnlySomeReasons: someReasons}, true)},
		{"indirect CRL", idpExt(t, idp{IndirectCRL: true}, true)},
		{"only some reasons, not marked critical", idpExt(t, idp{OnlySomeReasons: someReasons}, false)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			partial := crlWith(t, ca, 6, []pkix.Extension{tt.ext}, nil)
			_, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(ca.Cert), CRLs: crlData(crlWith(t, ca, 5, nil, nil, cli.Cert.SerialNumber), partial)})
			if err == nil || !strings.Contains(err.Error(), "mtls: CRLs[1]: crl CRLs[1]: has an issuing distribution point") {
				t.Fatalf("got %v, want CRLs[1] refused for its issuing distribution point", err)
			}
		})
	}
	t.Run("complete CRL (twin)", func(t *testing.T) {
		s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(ca.Cert), CRLs: crlData(crlWith(t, ca, 5, nil, nil, cli.Cert.SerialNumber))})
		if got := verifyReason(t, s, cli.Cert); got != mtls.ReasonRevoked {
			t.Fatalf("got %q, want revoked", got)
		}
	})
	t.Run("indirect CRL with certificate issuer entries", func(t *testing.T) {
		gn, _ := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: ca.Cert.RawSubject}})
		l := crlWith(t, ca, 6, []pkix.Extension{idpExt(t, idp{IndirectCRL: true}, true)}, []pkix.Extension{{Id: oidCertificateIssuer, Critical: true, Value: gn}}, cli.Cert.SerialNumber)
		if _, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(ca.Cert), CRLs: crlData(l)}); err == nil || !strings.Contains(err.Error(), "CRLs[0]") {
			t.Fatalf("got %v, want CRLs[0] refused", err)
		}
	})
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCRLIntermediatesRealPKI: client → intermediate → root, where the
// intermediate is not a client CA (the client sends it), or its CRL is
// signed by the root (an indirect CRL), or the root revoked it.
func TestCRLIntermediatesRealPKI(t *testing.T) {
	t.Parallel()
	root, inter := rootAndIntermediate(t)
	r := &rawCert{Cert: root.Cert, Key: root.Key}
	i := &rawCert{Cert: inter.Cert, Key: inter.Key}
	revoked := rawClient(t, i, nil)
	good := rawClient(t, i, nil)
	rootEmpty := rawCRL(t, r, 1)
	rootRevokesInter := rawCRL(t, r, 2, inter.Cert.SerialNumber)
	interCRL := rawCRL(t, i, 1, revoked.Cert.SerialNumber)

	t.Run("both client CAs, both CRLs (twin)", func(t *testing.T) {
		s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(root.Cert, inter.Cert), CRLs: crlData(rootEmpty, interCRL)})
		if got := verifyReason(t, s, good.Cert); got != "" {
			t.Errorf("good: got %q, want accepted", got)
		}
		if got := verifyReason(t, s, revoked.Cert); got != mtls.ReasonRevoked {
			t.Errorf("revoked: got %q, want revoked", got)
		}
	})
	t.Run("only the root has a CRL, intermediate sent by the client", func(t *testing.T) {
		s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(root.Cert), CRLs: crlData(rootEmpty)})
		for _, c := range []*rawCert{good, revoked} {
			if got := verifyReason(t, s, c.Cert, inter.Cert); got != mtls.ReasonCRLMissing {
				t.Errorf("got %q, want %s", got, mtls.ReasonCRLMissing)
			}
		}
	})
	t.Run("intermediate's CRL when the intermediate is not a client CA", func(t *testing.T) {
		_, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(root.Cert), CRLs: crlData(rootEmpty, interCRL)})
		if err == nil || !strings.Contains(err.Error(), "CRLs[1]: crl CRLs[1]: not signed by any client CA (the CRL of an intermediate needs that intermediate among the client CAs)") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("intermediate revoked by the root, sent by the client", func(t *testing.T) {
		// Both CRLs can only load with the intermediate a client CA;
		// with the root alone, the chain is crl-missing (above).
		s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(root.Cert, inter.Cert), CRLs: crlData(rootRevokesInter, interCRL)})
		if got := verifyReason(t, s, good.Cert, inter.Cert); got != mtls.ReasonRevoked {
			t.Errorf("got %q, want revoked", got)
		}
	})
	t.Run("intermediate's CRL signed by the root (indirect)", func(t *testing.T) {
		// Issuer name the intermediate's, signature the root's.
		now := time.Now()
		tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour),
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: revoked.Cert.SerialNumber, RevocationTime: now}}}
		fakeIssuer := *root.Cert
		fakeIssuer.RawSubject, fakeIssuer.Subject = inter.Cert.RawSubject, inter.Cert.Subject
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, &fakeIssuer, root.Key)
		if err != nil {
			t.Fatal(err)
		}
		_, err = mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(root.Cert, inter.Cert), CRLs: crlData(rootEmpty, der)})
		if err == nil || !strings.Contains(err.Error(), "CRLs[1]: crl CRLs[1]: not signed by any client CA") {
			t.Fatalf("got %v, want CRLs[1] refused", err)
		}
		// The root's own CRL listing the leaf's serial is the root's, not
		// the intermediate's: the leaf still needs the intermediate's CRL.
		s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(root.Cert, inter.Cert), CRLs: crlData(rawCRL(t, r, 3, revoked.Cert.SerialNumber))})
		if got := verifyReason(t, s, revoked.Cert); got != mtls.ReasonCRLMissing {
			t.Errorf("got %q, want %s", got, mtls.ReasonCRLMissing)
		}
	})
}

// TestRevokedIntermediateLegacySignature: an intermediate in the bundle
// whose signature Certificate.CheckSignatureFrom refuses (SHA-1, which
// legacy PKIs still have, or an algorithm crypto/x509 does not know) and
// that the root's CRL
// revokes. crypto/x509 never checks an anchor's own signature, so the
// chain verifies; the intermediate must not then pass for one whose
// issuer is not a client CA, which would leave the root's CRL
// unconsulted and the revoked intermediate accepted.
func TestRevokedIntermediateLegacySignature(t *testing.T) {
	t.Parallel()
	root := rawCA(t, "legacy root", nil)
	interTmpl := func(sigAlg x509.SignatureAlgorithm) *x509.Certificate {
		return &x509.Certificate{
			Subject: pkix.Name{CommonName: "legacy intermediate"}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SignatureAlgorithm: sigAlg,
		}
	}
	sha1Inter := mint(t, interTmpl(x509.ECDSAWithSHA1), root)
	unknownInter := resignUnknown(t, mint(t, interTmpl(0), root), root)
	for _, tc := range []struct {
		name  string
		root  *rawCert
		inter *rawCert
	}{
		{"SHA-1", root, sha1Inter},
		{"unknown signature algorithm", root, unknownInter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli := rawClient(t, tc.inter, nil)
			interCRL := rawCRL(t, tc.inter, 1)
			for _, tt := range []struct {
				name    string
				rootCRL []byte
				want    mtls.Reason
			}{
				{"intermediate not revoked (twin)", rawCRL(t, tc.root, 1), ""},
				{"intermediate revoked by the root", rawCRL(t, tc.root, 2, tc.inter.Cert.SerialNumber), mtls.ReasonRevoked},
			} {
				s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(tc.root.Cert, tc.inter.Cert), CRLs: crlData(tt.rootCRL, interCRL)})
				if got := verifyReason(t, s, cli.Cert); got != tt.want {
					t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
				}
			}
			_, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(tc.root.Cert, tc.inter.Cert), CRLs: crlData(interCRL)})
			if err == nil || !strings.Contains(err.Error(), `client CA "CN=legacy intermediate" is issued by another client CA, which has no CRL`) {
				t.Errorf("root without its CRL: got %v, want the intermediate refused at load", err)
			}
		})
	}
	// Twin of the unknown algorithm: an authority key identifier naming
	// another key says another CA of the same name issued it, and the
	// root's CRL is not its issuer's.
	noSKI := *root.Cert // x509 writes the parent's key identifier, if any
	noSKI.SubjectKeyId = nil
	other := mintKey(t, &x509.Certificate{Subject: pkix.Name{CommonName: "legacy intermediate"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, AuthorityKeyId: []byte("another key")}, &rawCert{Cert: &noSKI, Key: root.Key}, unknownInter.Key)
	otherUnknown := resignUnknown(t, other, root)
	if string(otherUnknown.Cert.AuthorityKeyId) != "another key" {
		t.Fatalf("got AKI %x", otherUnknown.Cert.AuthorityKeyId)
	}
	cli := rawClient(t, otherUnknown, nil)
	s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(root.Cert, otherUnknown.Cert), CRLs: crlData(rawCRL(t, root, 2, otherUnknown.Cert.SerialNumber), rawCRL(t, otherUnknown, 1))})
	if got := verifyReason(t, s, cli.Cert); got != "" {
		t.Errorf("authority key identifier of another key: got %q, want accepted", got)
	}
}

// resignUnknown re-signs c with parent's key under ecdsa-with-SHA224, a
// real signature whose algorithm crypto/x509 does not know.
func resignUnknown(t testing.TB, c, parent *rawCert) *rawCert {
	t.Helper()
	var fields []asn1.RawValue
	if rest, err := asn1.Unmarshal(c.Cert.RawTBSCertificate, &fields); err != nil || len(rest) > 0 {
		t.Fatal(err)
	}
	alg := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}}
	fields[2] = asn1.RawValue{FullBytes: mustMarshal(t, alg)} // after version and serial
	tbs := mustMarshal(t, fields)
	sum := sha256.Sum224(tbs)
	sig, err := ecdsa.SignASN1(rand.Reader, parent.Key.(*ecdsa.PrivateKey), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	der := mustMarshal(t, struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, alg, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if cert.SignatureAlgorithm != x509.UnknownSignatureAlgorithm {
		t.Fatalf("got %v", cert.SignatureAlgorithm)
	}
	return &rawCert{Cert: cert, Key: c.Key}
}

// TestCRLFileWithHistoryReloads: a CRL file that holds a CA's previous
// CRLs next to its current one (appended, as some publishing scripts do)
// loads, the newest in force; reloading it unchanged must load again, not
// be refused as a rollback because an older list of the same file is
// older than the one in use. A rollback of the newest is still refused.
func TestCRLFileWithHistoryReloads(t *testing.T) {
	t.Parallel()
	ca := rawCA(t, "history CA", nil)
	cli := rawClient(t, ca, nil)
	file := filepath.Join(t.TempDir(), "ca.crl")
	write := func(ders ...[]byte) {
		t.Helper()
		var pem []byte
		for _, d := range ders {
			pem = append(pem, pki.EncodeCRLPEM(d)...)
		}
		if err := os.WriteFile(file, pem, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	crl4, crl5 := rawCRL(t, ca, 4), rawCRL(t, ca, 5, cli.Cert.SerialNumber)
	write(crl4, crl5)
	s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(ca.Cert), CRLs: files(file)})
	if got := verifyReason(t, s, cli.Cert); got != mtls.ReasonRevoked {
		t.Fatalf("got %q, want revoked (CRL 5 in force)", got)
	}
	if err := s.Reload(); err != nil {
		t.Fatalf("reload of the unchanged file: %v", err)
	}
	write(crl5, rawCRL(t, ca, 6, cli.Cert.SerialNumber), crl4)
	if err := s.Reload(); err != nil {
		t.Fatalf("reload with CRL 6 appended: %v", err)
	}
	write(crl4)
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "CRL number 4 is older than the one in use (6)") {
		t.Fatalf("rollback to CRL 4: got %v, want refused", err)
	}
	if got := verifyReason(t, s, cli.Cert); got != mtls.ReasonRevoked {
		t.Fatalf("after the refused rollback: got %q, want revoked", got)
	}
}

// TestRevokedLegacyIntermediateOfRekeyedRoot: an intermediate without an
// authority key identifier, listed among the client CAs, was issued by
// the new key of a re-keyed root (two roots, one name). Its revocation is
// in the new key's CRL; the old key's CRL, which does not list it, must
// not be taken for its issuer's, whatever the order of the client CAs.
// SHA-1 is checked (CheckSignature allows it); with an algorithm
// crypto/x509 does not know, issuedBy cannot tell the keys apart, and
// the CRLs of both are consulted (before, the last with a CRL won).
func TestRevokedLegacyIntermediateOfRekeyedRoot(t *testing.T) {
	t.Parallel()
	oldRoot := rawCA(t, "rekeyed legacy root", nil)
	newRoot := rawCA(t, "rekeyed legacy root", nil)
	noSKI := *newRoot.Cert // no authority key identifier in what it signs
	noSKI.SubjectKeyId = nil
	inter := mint(t, &x509.Certificate{
		Subject: pkix.Name{CommonName: "legacy intermediate"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SignatureAlgorithm: x509.ECDSAWithSHA1,
	}, &rawCert{Cert: &noSKI, Key: newRoot.Key})
	if len(inter.Cert.AuthorityKeyId) != 0 {
		t.Fatal("want no authority key identifier")
	}
	unknown := resignUnknown(t, inter, newRoot)
	for _, inter := range []*rawCert{inter, unknown} {
		cli := rawClient(t, inter, nil)
		for _, tt := range []struct {
			name   string
			newCRL []byte
			want   mtls.Reason
		}{
			{"not revoked (twin)", rawCRL(t, newRoot, 1), ""},
			{"revoked by the new key", rawCRL(t, newRoot, 2, inter.Cert.SerialNumber), mtls.ReasonRevoked},
		} {
			for _, cas := range [][]*x509.Certificate{
				{newRoot.Cert, oldRoot.Cert, inter.Cert},
				{oldRoot.Cert, newRoot.Cert, inter.Cert},
			} {
				s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(cas...), CRLs: crlData(tt.newCRL, rawCRL(t, oldRoot, 1), rawCRL(t, inter, 1))})
				if got := verifyReason(t, s, cli.Cert); got != tt.want {
					t.Errorf("%v, %s, new root listed first %v: got %q, want %q", inter.Cert.SignatureAlgorithm, tt.name, cas[0] == newRoot.Cert, got, tt.want)
				}
			}
		}
	}
}

// TestCRLFileDamagedBlock: a CRL file whose second list is cut off is an
// error, not one list. pem.Decode skips a block that does not decode, and
// the certificates the lost list revokes were accepted (found with the
// property of pemutil's FuzzParseCerts).
func TestCRLFileDamagedBlock(t *testing.T) {
	t.Parallel()
	ca := rawCA(t, "damaged CRL CA", nil)
	crl := pki.EncodeCRLPEM(rawCRL(t, ca, 1, big.NewInt(7)))
	for _, tt := range []struct {
		name, want string
		data       []byte
	}{
		{"whole", "", crl},
		{"second cut off", "PEM block 2 does not parse as PEM", append(append([]byte{}, crl...), crl[:len(crl)-30]...)},
		{"first without END", "PEM block 1 does not parse as PEM", []byte(strings.Replace(string(crl)+string(crl), "-----END X509 CRL-----", "", 1))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(ca.Cert), CRLs: crlData(tt.data)})
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
