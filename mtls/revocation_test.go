package mtls_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// OIDs of RFC 5280 CRL extensions that limit what a CRL covers.
var (
	oidDeltaCRLIndicator         = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistributionPoint  = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidCertificateIssuer         = asn1.ObjectIdentifier{2, 5, 29, 29}
	oidUnknownForRevocationTests = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
)

// crlWith issues a CRL with the given number, revoked serials and extra
// extensions, signed by ca.
func crlWith(t testing.TB, ca *pki.CA, number int64, ext []pkix.Extension, entryExt []pkix.Extension, serials ...*big.Int) []byte {
	t.Helper()
	now := time.Now()
	tmpl := &x509.RevocationList{
		Number:          big.NewInt(number),
		ThisUpdate:      now.Add(-time.Minute),
		NextUpdate:      now.Add(time.Hour),
		ExtraExtensions: ext,
	}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: s, RevocationTime: now.Add(-time.Minute), ExtraExtensions: entryExt,
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestCRLScopeExtensionsRefused guards RFC 5280 §5.2 and §5.3: a CRL with
// a critical extension the verifier does not process must not be used. A
// delta CRL (Delta CRL Indicator) lists only the revocations made since
// its base CRL, and a CRL with an Issuing Distribution Point may cover
// only CA certificates or one partition; read as complete CRLs, they
// un-revoke every certificate they do not list.
func TestCRLScopeExtensionsRefused(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	srv := pkitest.Server(t, ca).TLSCertificate()
	base, _ := asn1.Marshal(1)
	onlyCACerts := []byte{0x30, 0x03, 0x82, 0x01, 0xff} // IssuingDistributionPoint{onlyContainsCACerts: TRUE}
	empty := []byte{0x30, 0x00}
	serial := big.NewInt(42)
	tests := []struct {
		name    string
		crl     []byte
		wantErr string // "" = accepted
	}{
		{name: "complete CRL accepted", crl: crlWith(t, ca, 2, nil, nil, serial)},
		{name: "delta CRL refused", crl: crlWith(t, ca, 2, []pkix.Extension{{Id: oidDeltaCRLIndicator, Critical: true, Value: base}}, nil), wantErr: "delta CRL"},
		{name: "delta CRL refused even if not marked critical", crl: crlWith(t, ca, 2, []pkix.Extension{{Id: oidDeltaCRLIndicator, Value: base}}, nil), wantErr: "delta CRL"},
		{name: "partial CRL (issuing distribution point) refused", crl: crlWith(t, ca, 2, []pkix.Extension{{Id: oidIssuingDistributionPoint, Critical: true, Value: onlyCACerts}}, nil), wantErr: "issuing distribution point"},
		{name: "unknown critical extension refused", crl: crlWith(t, ca, 2, []pkix.Extension{{Id: oidUnknownForRevocationTests, Critical: true, Value: empty}}, nil), wantErr: "critical extension"},
		{name: "unknown non-critical extension accepted", crl: crlWith(t, ca, 2, []pkix.Extension{{Id: oidUnknownForRevocationTests, Value: empty}}, nil)},
		{name: "critical entry extension (indirect CRL) refused", crl: crlWith(t, ca, 2, nil, []pkix.Extension{{Id: oidCertificateIssuer, Critical: true, Value: empty}}, serial), wantErr: "critical extension"},
		{name: "non-critical entry extension accepted", crl: crlWith(t, ca, 2, nil, []pkix.Extension{{Id: oidUnknownForRevocationTests, Value: empty}}, serial)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mtls.NewServer(mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(ca.Cert), CRLs: crlData(tt.crl)})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want accepted", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "CRLs[0]") {
				t.Fatalf("got %v, want an error naming CRLs[0] and containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestDeltaCRLCannotUnrevoke is the attack the test above stops: whoever
// can replace the CRL file swaps the complete CRL for a newer delta CRL of
// the same CA, which does not list the revoked certificate again.
func TestDeltaCRLCannotUnrevoke(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	base, _ := asn1.Marshal(1)
	for _, tt := range []struct {
		name        string
		next        []pkix.Extension
		wantRevoked bool
	}{
		{name: "delta CRL refused, revocation kept", next: []pkix.Extension{{Id: oidDeltaCRLIndicator, Critical: true, Value: base}}, wantRevoked: true},
		// Negative control: a newer complete CRL that no longer lists the
		// certificate does un-revoke it, as it should.
		{name: "newer complete CRL applied", wantRevoked: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir, cfg := pkiDir(t, ca)
			cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "mallory"})
			if err := pki.SaveCRL(dir, crlWith(t, ca, 5, nil, nil, cli.Cert.SerialNumber)); err != nil {
				t.Fatal(err)
			}
			var got failures
			cfg.OnHandshakeFailure = got.add
			s := newServer(t, cfg)
			addr := serve(t, s.TLSConfig())
			if _, err := dial(t, addr, ca, cli, nil); err == nil {
				t.Fatal("got accepted before the swap, want revoked")
			}
			if err := pki.WritePublicFile(filepath.Join(dir, pki.CRLFile), pki.EncodeCRLPEM(crlWith(t, ca, 6, tt.next, nil))); err != nil {
				t.Fatal(err)
			}
			reloadErr := s.Reload()
			_, err := dial(t, addr, ca, cli, nil)
			if gotRevoked := err != nil; gotRevoked != tt.wantRevoked {
				t.Fatalf("got revoked %v (dial %v, reload %v), want %v", gotRevoked, err, reloadErr, tt.wantRevoked)
			}
			if tt.wantRevoked {
				if f, _ := got.last(); f.Reason != mtls.ReasonRevoked {
					t.Errorf("got reason %q, want %s", f.Reason, mtls.ReasonRevoked)
				}
			}
		})
	}
}

// renewedCA returns another certificate for ca's key and subject (a CA
// renewal), valid from notBefore to notAfter.
func renewedCA(t testing.TB, ca *pki.CA, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := *ca.Cert
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, ca.Key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCRLAcrossCARenewal: a renewed CA certificate (same name and key,
// new validity) sits next to the old one in the bundle while clients move
// over. The CA's CRL covers certificates however their chain is built;
// it must not be tied to one of the two CA certificates.
func TestCRLAcrossCARenewal(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	srv := pkitest.Server(t, ca).TLSCertificate()
	now := time.Now()
	expiredOld := renewedCA(t, ca, now.Add(-48*time.Hour), now.Add(-time.Hour))
	good := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	revoked := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "mallory"})
	crl, err := ca.Revoke(nil, revoked.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		cas        []*x509.Certificate
		client     *pki.Cert
		wantReason mtls.Reason
	}{
		{name: "current CA only: accepted", cas: []*x509.Certificate{ca.Cert}, client: good},
		{name: "expired old CA listed first: accepted", cas: []*x509.Certificate{expiredOld, ca.Cert}, client: good},
		{name: "expired old CA listed first: revoked refused", cas: []*x509.Certificate{expiredOld, ca.Cert}, client: revoked, wantReason: mtls.ReasonRevoked},
		{name: "expired old CA listed last: revoked refused", cas: []*x509.Certificate{ca.Cert, expiredOld}, client: revoked, wantReason: mtls.ReasonRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got failures
			s := newServer(t, mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(tt.cas...), CRLs: crlData(crl), OnHandshakeFailure: got.add})
			addr := serve(t, s.TLSConfig())
			_, err := dial(t, addr, ca, tt.client, nil)
			f, _ := got.last()
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("got %v (reason %q: %v), want accepted", err, f.Reason, f.Err)
				}
				return
			}
			if err == nil || f.Reason != tt.wantReason {
				t.Fatalf("got %v, reason %q, want %s", err, f.Reason, tt.wantReason)
			}
		})
	}
}

// rootAndIntermediate returns a root CA that may sign one level of
// intermediates and an intermediate CA it issued (pki's own CAs sign
// leaves only).
func rootAndIntermediate(t testing.TB) (root, inter *pki.CA) {
	t.Helper()
	mk := func(cn string, parent *pki.CA, pathLen int) *pki.CA {
		key, err := pki.GenerateKey(pki.ECDSAP256)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true, IsCA: true, MaxPathLen: pathLen, MaxPathLenZero: pathLen == 0,
		}
		parentCert, parentKey := tmpl, any(key)
		if parent != nil {
			parentCert, parentKey = parent.Cert, parent.Key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return &pki.CA{Cert: c, Key: key}
	}
	root = mk("revocation test root", nil, 1)
	return root, mk("revocation test intermediate", root, 0)
}

// TestRevokedIntermediateInBundle: a bundle often lists the intermediate
// next to its root. crypto/tls then ends the chain at the intermediate, as
// a trust anchor, but the root's CRL that revokes it is loaded and must
// still refuse everything the intermediate issued; without the root's
// CRL, the intermediate is refused as crl-missing.
func TestRevokedIntermediateInBundle(t *testing.T) {
	t.Parallel()
	root, inter := rootAndIntermediate(t)
	srv := pkitest.Server(t, root).TLSCertificate()
	cli := pkitest.Client(t, inter, pki.ClientOptions{CommonName: "alice"})
	interCRL, err := inter.Revoke(nil)
	if err != nil {
		t.Fatal(err)
	}
	rootRevokes, err := root.Revoke(nil, inter.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	rootEmpty, err := root.Revoke(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		cas        []*x509.Certificate
		crls       [][]byte
		wantReason mtls.Reason
		wantLoad   string // an error NewServer must return
	}{
		{name: "intermediate not revoked: accepted", cas: []*x509.Certificate{root.Cert, inter.Cert}, crls: [][]byte{rootEmpty, interCRL}},
		{name: "intermediate revoked by the root: refused", cas: []*x509.Certificate{root.Cert, inter.Cert}, crls: [][]byte{rootRevokes, interCRL}, wantReason: mtls.ReasonRevoked},
		{name: "intermediate revoked, root listed last: refused", cas: []*x509.Certificate{inter.Cert, root.Cert}, crls: [][]byte{interCRL, rootRevokes}, wantReason: mtls.ReasonRevoked},
		// The root is a client CA but has no CRL: nothing says whether
		// the intermediate is revoked. OpenSSL's CRL_CHECK_ALL (nginx's
		// ssl_crl) refuses the chain at every handshake: "error 3 at 1
		// depth lookup: unable to get certificate CRL"; here the
		// configuration is refused at load. Twin: the first case.
		{name: "root listed without its CRL: refused at load", cas: []*x509.Certificate{root.Cert, inter.Cert}, crls: [][]byte{interCRL},
			wantLoad: `client CA "CN=revocation test intermediate" is issued by another client CA, which has no CRL`},
		// Negative control: without the root in the bundle nothing says
		// the intermediate is revoked.
		{name: "intermediate alone in the bundle: accepted", cas: []*x509.Certificate{inter.Cert}, crls: [][]byte{interCRL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got failures
			cfg := mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(tt.cas...), CRLs: crlData(tt.crls...), OnHandshakeFailure: got.add}
			if tt.wantLoad != "" {
				if _, err := mtls.NewServer(cfg); err == nil || !strings.Contains(err.Error(), tt.wantLoad) {
					t.Fatalf("NewServer: got %v, want an error containing %q", err, tt.wantLoad)
				}
				return
			}
			s := newServer(t, cfg)
			addr := serve(t, s.TLSConfig())
			_, err := dial(t, addr, root, cli, nil)
			f, _ := got.last()
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("got %v (reason %q: %v), want accepted", err, f.Reason, f.Err)
				}
				return
			}
			if err == nil || f.Reason != tt.wantReason {
				t.Fatalf("got %v, reason %q, want %s", err, f.Reason, tt.wantReason)
			}
		})
	}
}

// TestCRLNotYetValid: a CRL whose ThisUpdate is in the future is refused,
// at start-up and on reload, as OpenSSL refuses it ("CRL is not yet
// valid", X509_V_ERR_CRL_NOT_YET_VALID); a reload that meets one keeps
// the previous CRL in force. Twins: a ThisUpdate within the clock-skew
// allowance (five minutes), or now, loads.
func TestCRLNotYetValid(t *testing.T) {
	t.Parallel()
	now := time.Now()
	ca := pkitest.CA(t)
	cli1 := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "one"})
	cli2 := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "two"})
	crl := func(number int64, thisUpdate time.Time, revoked ...*pki.Cert) []byte {
		t.Helper()
		opts := pki.CRLOptions{Number: big.NewInt(number), ThisUpdate: thisUpdate}
		for _, c := range revoked {
			opts.Revoked = append(opts.Revoked, x509.RevocationListEntry{SerialNumber: c.Cert.SerialNumber})
		}
		der, err := ca.CreateCRL(opts)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	for _, tt := range []struct {
		name       string
		thisUpdate time.Time
		wantErr    bool
	}{
		{"an hour ahead", now.Add(time.Hour), true},
		{"six minutes ahead", now.Add(6 * time.Minute), true},
		{"a minute ahead (clock skew)", now.Add(time.Minute), false},
		{"now", now, false},
	} {
		t.Run("NewServer/"+tt.name, func(t *testing.T) {
			_, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(ca.Cert), CRLs: crlData(crl(1, tt.thisUpdate))})
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err != nil && (mtls.ReasonOf(err) != mtls.ReasonInvalidConfig || !strings.Contains(err.Error(), "mtls: CRLs[0]: crl CRLs[0] is not yet valid: its this update "+tt.thisUpdate.UTC().Truncate(time.Second).Format(time.RFC3339))) {
				t.Errorf("got %v, want an invalid-config error naming CRLs[0], its this update and \"not yet valid\"", err)
			}
		})
	}

	t.Run("Reload keeps the previous CRL", func(t *testing.T) {
		d := pkitest.NewDir(t, ca)
		file := d.Write(pki.CRLFile, pki.EncodeCRLPEM(crl(1, now, cli1)))
		s := newServer(t, mtls.ServerConfig{VerifyOnly: true, ClientCAs: pemCAs(ca.Cert), CRLs: files(file)})
		check := func(c *pki.Cert, want mtls.Reason) {
			t.Helper()
			if _, err := s.VerifyChain([]*x509.Certificate{c.Cert}); mtls.ReasonOf(err) != want {
				t.Errorf("%s: got %v, want reason %q", c.Cert.Subject.CommonName, err, want)
			}
		}
		d.Write(pki.CRLFile, pki.EncodeCRLPEM(crl(2, now.Add(time.Hour), cli1, cli2)))
		err := s.Reload()
		if err == nil || !strings.Contains(err.Error(), "crl "+file+" is not yet valid") {
			t.Fatalf("got %v, want a reload error naming %s and \"not yet valid\"", err, file)
		}
		check(cli1, mtls.ReasonRevoked) // the previous CRL is still in force
		check(cli2, "")
		d.Write(pki.CRLFile, pki.EncodeCRLPEM(crl(2, now, cli1, cli2)))
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
		check(cli2, mtls.ReasonRevoked)
	})
}
