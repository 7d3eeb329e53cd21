package mtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// handshake runs one full TLS handshake over an in-memory pipe and
// returns the server's error.
func handshake(b *testing.B, server, client *tls.Config) {
	sc, cc := net.Pipe()
	done := make(chan error, 1)
	go func() {
		s := tls.Server(sc, server)
		err := s.Handshake()
		if err == nil {
			// TLS 1.3: the server checks the client certificate last;
			// the client reading this byte proves the exchange is done.
			_, err = s.Write([]byte{1})
		}
		sc.Close() // not s.Close: its close_notify would wait for a reader
		done <- err
	}()
	c := tls.Client(cc, client)
	if err := c.Handshake(); err != nil {
		b.Fatal(err)
	}
	var one [1]byte
	if _, err := c.Read(one[:]); err != nil {
		b.Fatal(err)
	}
	cc.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// handshakeBench is what the handshake benchmarks share: a CA, a server
// certificate, a SPIFFE client certificate, a bare crypto/tls server
// configuration, and this package's Server with a CRL and a SPIFFE
// authorizer.
type handshakeBench struct {
	ca      *pki.CA
	srvCert tls.Certificate
	cli     *pki.Cert
	bare    *tls.Config
	full    *mtls.Server
}

// newHandshakeBench builds a handshakeBench whose CRL revokes the serials
// 1 to revoked.
func newHandshakeBench(b *testing.B, revoked int) handshakeBench {
	ca := pkitest.CA(b)
	srvCert := pkitest.Server(b, ca).TLSCertificate()
	serials := make([]*big.Int, revoked)
	for i := range serials {
		serials[i] = big.NewInt(int64(i + 1))
	}
	crl, err := ca.Revoke(nil, serials...)
	if err != nil {
		b.Fatal(err)
	}
	auth := mustAuth(b)(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/web"))
	return handshakeBench{
		ca:      ca,
		srvCert: srvCert,
		cli:     pkitest.SPIFFE(b, ca, "spiffe://prod.example/ns/a/sa/web"),
		bare: &tls.Config{
			Certificates: []tls.Certificate{srvCert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    ca.Pool(),
			MinVersion:   tls.VersionTLS13,
		},
		full: newServer(b, mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srvCert}}, ClientCAs: pemCAs(ca.Cert), CRLs: crlData(crl), Authorizer: auth}),
	}
}

// BenchmarkHandshake compares a full ECDSA P-256 mTLS handshake (client and
// server CPU together) with a bare crypto/tls configuration against the
// same with this package's Server: plain, and with a 1000-entry CRL and a
// SPIFFE authorizer.
func BenchmarkHandshake(b *testing.B) {
	hb := newHandshakeBench(b, 1000)
	client := &tls.Config{RootCAs: hb.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{hb.cli.TLSCertificate()}}
	bare, full := hb.bare, hb.full
	plain := newServer(b, mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &hb.srvCert}}, ClientCAs: pemCAs(hb.ca.Cert)})
	// Alternate the configurations handshake by handshake, so that load
	// from other processes hits both alike, and report their ratio.
	b.Run("interleaved", func(b *testing.B) {
		var tBare, tOurs time.Duration
		for b.Loop() {
			t0 := time.Now()
			handshake(b, bare, client)
			t1 := time.Now()
			handshake(b, full.TLSConfig(), client)
			tBare += t1.Sub(t0)
			tOurs += time.Since(t1)
		}
		b.ReportMetric(float64(tBare.Nanoseconds())/float64(b.N), "bare-ns/op")
		b.ReportMetric(float64(tOurs.Nanoseconds())/float64(b.N), "mtls-ns/op")
		b.ReportMetric(float64(tOurs)/float64(tBare), "mtls/bare")
	})
	for _, bc := range []struct {
		name string
		conf *tls.Config
	}{
		{"bare-crypto-tls", bare},
		{"mtls-server", plain.TLSConfig()},
		{"mtls-server-crl-authorizer", full.TLSConfig()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				handshake(b, bc.conf, client)
			}
		})
	}
}

func BenchmarkIdentity(b *testing.B) {
	ca := pkitest.CA(b)
	cli := pkitest.Client(b, ca, pki.ClientOptions{CommonName: "web", SPIFFEID: "spiffe://prod.example/ns/a/sa/web", DNSNames: []string{"web.prod.example"}})
	b.Run("NewIdentity", func(b *testing.B) {
		for b.Loop() {
			mtls.NewIdentity(cli.Cert)
		}
	})
	b.Run("IdentityFromTLS", func(b *testing.B) {
		cs := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cli.Cert}, VerifiedChains: [][]*x509.Certificate{{cli.Cert, ca.Cert}}}
		for b.Loop() {
			if _, ok := mtls.IdentityFromTLS(cs); !ok {
				b.Fatal("no identity")
			}
		}
	})
}

func BenchmarkAuthorizer(b *testing.B) {
	ca := pkitest.CA(b)
	id := mtls.NewIdentity(pkitest.Client(b, ca, pki.ClientOptions{CommonName: "web", OrganizationalUnit: []string{"payments"}, SPIFFEID: "spiffe://prod.example/ns/payments/sa/web", DNSNames: []string{"web.prod.example"}}).Cert)
	must := mustAuth(b)
	cases := []struct {
		name string
		a    mtls.Authorizer
	}{
		{"spiffe-exact", must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/payments/sa/web"))},
		{"spiffe-wildcard", must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/web"))},
		{"spiffe-denied", must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/api"))},
		{"trust-domain", must(mtls.AuthorizeTrustDomain("prod.example"))},
		{"dns-wildcard", must(mtls.AuthorizeDNSName("*.prod.example"))},
		{"spki", must(mtls.AuthorizeSPKI(hex.EncodeToString(id.SPKISHA256[:])))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.a(id)
			}
		})
	}
}

// BenchmarkHandshakeResumed measures resumed TLS 1.3 sessions over
// loopback TCP (client and server CPU together), which this package checks
// again (revocation, validity, authorization) but, with the chain verified
// before, without checking its signatures again.
//
//	go test -run '^$' -bench HandshakeResumed -benchmem ./mtls
func BenchmarkHandshakeResumed(b *testing.B) {
	hb := newHandshakeBench(b, 1)
	ca, cli := hb.ca, hb.cli
	for _, bc := range []struct {
		name string
		conf *tls.Config
	}{
		{"bare-crypto-tls", hb.bare},
		{"mtls-server-crl-authorizer", hb.full.TLSConfig()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			addr := serve(b, bc.conf)
			cache := tls.NewLRUClientSessionCache(1)
			if _, err := dial(b, addr, ca, cli, cache); err != nil { // full, for the ticket
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				r, err := dial(b, addr, ca, cli, cache)
				if err != nil || !r.resumed {
					b.Fatalf("got %v resumed=%v, want a resumed session", err, r.resumed)
				}
			}
		})
	}
}
