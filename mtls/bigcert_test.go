package mtls_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// bigClient is a client certificate with names DNS SANs of equal length.
func bigClient(t *testing.T, ca *pki.CA, names int) *pki.Cert {
	t.Helper()
	dns := make([]string, names)
	for i := range dns {
		dns[i] = fmt.Sprintf("h%05d.a-rather-long-label-to-pad-each-name.example", i)
	}
	return pkitest.Client(t, ca, pki.ClientOptions{CommonName: "big", DNSNames: dns})
}

// clientOfSize is a client certificate of between size-200 and size bytes
// (DER).
func clientOfSize(t *testing.T, ca *pki.CA, size int) *pki.Cert {
	t.Helper()
	a, b := bigClient(t, ca, 100), bigClient(t, ca, 200)
	per := float64(len(b.Cert.Raw)-len(a.Cert.Raw)) / 100
	n := 100 + int(float64(size-30-len(a.Cert.Raw))/per)
	c := bigClient(t, ca, n)
	if got := len(c.Cert.Raw); got > size || got < size-200 {
		t.Fatalf("minted a certificate of %d bytes, want %d at most", got, size)
	}
	return c
}

// TestClientCertificateTooBigForTicket: crypto/tls puts the client's
// certificates in the session ticket it sends after the handshake, whose
// length is at most 65,535 bytes, and a client sends it back in a
// ClientHello whose extensions must fit in as many. A bigger certificate
// used to make sending the ticket fail: the connection was dropped with no alert to
// the client and no reason (OnHandshakeFailure was never called, and the
// gateway logged only "cryptobyte: pending child length … exceeds 2-byte
// length prefix"). It is refused in the handshake as bad-certificate; one
// just under the limit (60,000 bytes) still gets its ticket, and a Go
// client resumes with it, over TLS 1.2 and 1.3.
func TestClientCertificateTooBigForTicket(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	fits := clientOfSize(t, ca, 60000-5)
	huge := bigClient(t, ca, 3000)
	tests := []struct {
		name       string
		cert       *pki.Cert
		wantReason mtls.Reason
	}{
		{"just under the limit: accepted and resumed", fits, ""},
		{"too big for a session ticket: bad-certificate", huge, mtls.ReasonBadCertificate},
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%s", tls.VersionName(version), tt.name), func(t *testing.T) {
				t.Parallel()
				_, cfg := pkiDir(t, ca)
				cfg.MinVersion = tls.VersionTLS12
				var got failures
				cfg.OnHandshakeFailure = got.add
				s := newServer(t, cfg)
				addr := serve(t, s.TLSConfig())
				cache := tls.NewLRUClientSessionCache(4)
				for i := range 2 {
					name, resumed, err := dialVersion(addr, ca, tt.cert, cache, version)
					if tt.wantReason == "" {
						if err != nil {
							t.Fatalf("connection %d: got %v, want accepted", i+1, err)
						}
						if name != "CN=big" || resumed != (i == 1) {
							t.Fatalf("connection %d: got %q resumed=%v, want CN=big resumed=%v", i+1, name, resumed, i == 1)
						}
						continue
					}
					if err == nil {
						t.Fatalf("got accepted as %q, want refused with %s", name, tt.wantReason)
					}
					if !strings.Contains(err.Error(), "bad certificate") {
						t.Errorf("client got %v, want a bad_certificate alert", err)
					}
					f, ok := got.last()
					if !ok || f.Reason != tt.wantReason || !strings.Contains(f.Err.Error(), "session ticket") {
						t.Fatalf("got failure %v: reason %q (%v), want %s", ok, f.Reason, f.Err, tt.wantReason)
					}
					break
				}
			})
		}
	}
}

// dialVersion is dial with TLS version v only; it returns the name the
// server verified and whether the session resumed.
func dialVersion(addr string, ca *pki.CA, cert *pki.Cert, cache tls.ClientSessionCache, v uint16) (string, bool, error) {
	tc := cert.TLSCertificate()
	conf := &tls.Config{
		RootCAs: ca.Pool(), ServerName: "localhost", ClientSessionCache: cache,
		MinVersion: v, MaxVersion: v,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil },
	}
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", false, err
	}
	return strings.TrimSpace(line), c.ConnectionState().DidResume, nil
}
