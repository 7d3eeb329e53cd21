package mtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// BenchmarkHandshakeSNI measures what choosing among many server
// certificates costs a full mTLS handshake (client and server CPU
// together): a Server with one certificate against the same with 100 more
// where the client's SNI names the last one (map lookups); for reference,
// a bare crypto/tls configuration with one against one with the same 101
// certificates (crypto/tls scans them in order). The four alternate
// handshake by handshake so that load from other processes hits them
// alike; the ratios are reported.
func BenchmarkHandshakeSNI(b *testing.B) {
	ca := pkitest.CA(b)
	def := pkitest.Server(b, ca).TLSCertificate()
	var more []tls.Certificate
	for i := range 100 {
		more = append(more, pkitest.ServerWith(b, ca, pki.ServerOptions{DNSNames: []string{fmt.Sprintf("host%d.test", i)}}).TLSCertificate())
	}
	cas := []*x509.Certificate{ca.Cert}
	one := newServer(b, mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &def}}, ClientCAs: pemCAs(cas...)}).TLSConfig()
	many := newServer(b, mtls.ServerConfig{Certificates: append([]mtls.KeyPair{{Certificate: &def}}, pairs(more...)...), ClientCAs: pemCAs(cas...)}).TLSConfig()
	bareWith := func(certs []tls.Certificate) *tls.Config {
		return &tls.Config{
			Certificates: certs,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    ca.Pool(),
			MinVersion:   tls.VersionTLS13,
		}
	}
	bareOne, bareMany := bareWith([]tls.Certificate{def}), bareWith(append([]tls.Certificate{def}, more...))
	cli := pkitest.SPIFFE(b, ca, "spiffe://prod.example/ns/a/sa/web").TLSCertificate()
	clientFor := func(name string) *tls.Config {
		return &tls.Config{RootCAs: ca.Pool(), ServerName: name, Certificates: []tls.Certificate{cli}}
	}
	oneClient, lastClient := clientFor("localhost"), clientFor("host99.test")

	var tOne, tMany, tBareOne, tBareMany time.Duration
	for b.Loop() {
		t0 := time.Now()
		handshake(b, one, oneClient)
		t1 := time.Now()
		handshake(b, many, lastClient)
		t2 := time.Now()
		handshake(b, bareOne, oneClient)
		t3 := time.Now()
		handshake(b, bareMany, lastClient)
		tOne += t1.Sub(t0)
		tMany += t2.Sub(t1)
		tBareOne += t3.Sub(t2)
		tBareMany += time.Since(t3)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tOne.Nanoseconds())/n, "mtls1-ns/op")
	b.ReportMetric(float64(tMany.Nanoseconds())/n, "mtls101-ns/op")
	b.ReportMetric(float64(tMany)/float64(tOne), "mtls101/mtls1")
	b.ReportMetric(float64(tBareMany)/float64(tBareOne), "bare101/bare1")
}
