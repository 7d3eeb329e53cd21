package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestRecheckConcurrent: requests of one connection that arrive together
// after a reload all pass, under -race, and leave the connection checked
// under the new generation; with no change since, the check is kept.
func TestRecheckConcurrent(t *testing.T) {
	ca := pkitest.CA(t)
	srvCert := pkitest.Server(t, ca).TLSCertificate()
	s, err := mtls.NewServer(mtls.ServerConfig{Certificate: &srvCert, ClientCAs: []*x509.Certificate{ca.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	cs := handshake(t, s, ca, pkitest.Client(t, ca, pki.ClientOptions{CommonName: "web"}))
	ci := &connIdentity{}
	r := (&http.Request{TLS: &cs}).WithContext(context.WithValue(context.Background(), connKey{}, ci))
	lt := &listenerTLS{server: s}

	if herr := recheck(r, lt, time.Now()); herr != nil {
		t.Fatalf("first request: got %v, want accepted", herr)
	}
	first := ci.checked.Load()
	if herr := recheck(r, lt, time.Now()); herr != nil || ci.checked.Load() != first {
		t.Fatalf("no change: got %v and a new check, want accepted with the same check", herr)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if herr := recheck(r, lt, time.Now()); herr != nil {
				t.Errorf("after the reload: got %v, want accepted", herr)
			}
		})
	}
	wg.Wait()
	if got, want := ci.checked.Load().Generation, s.Generation(); got != want {
		t.Errorf("generation: got %d, want %d", got, want)
	}
}

// handshake returns the server side's state of a real TLS handshake with
// s (over net.Pipe) of a client presenting cert.
func handshake(t *testing.T, s *mtls.Server, ca *pki.CA, cert *pki.Cert) tls.ConnectionState {
	t.Helper()
	cc, sc := net.Pipe()
	t.Cleanup(func() { cc.Close(); sc.Close() })
	tc := cert.TLSCertificate()
	client := tls.Client(cc, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{tc}})
	server := tls.Server(sc, s.TLSConfig())
	errc := make(chan error, 1)
	go func() { errc <- client.Handshake() }()
	if err := server.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return server.ConnectionState()
}
