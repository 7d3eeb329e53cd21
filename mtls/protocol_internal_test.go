package mtls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// protocolWorld is a CA, a server certificate and a good client
// certificate for the protocol tests.
type protocolWorld struct {
	ca           *pki.CA
	server, good *pki.Cert
}

func newProtocolWorld(t *testing.T) *protocolWorld {
	ca := pkitest.CA(t)
	return &protocolWorld{ca: ca, server: pkitest.Server(t, ca), good: pkitest.Client(t, ca, pki.ClientOptions{CommonName: "good"})}
}

// serve runs one handshake of an mtls Server for cfg (its certificates
// and CAs filled in) on a loopback connection that client drives, and
// returns the server's handshake error. tune, if set, changes the
// server's per-handshake tls.Config (what ServerConfig does not expose);
// past, when set, puts the connection's deadline in the past before the
// handshake (a timeout without waiting for one).
func (w *protocolWorld) serve(t *testing.T, cfg ServerConfig, tune func(*tls.Config), past bool, client func(t *testing.T, addr string)) error {
	t.Helper()
	cfg.Certificates = []KeyPair{{Certificate: ptrTo(w.server.TLSCertificate())}}
	cfg.ClientCAs = []Source{{Data: pki.EncodeCertsPEM(w.ca.Cert)}}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc := s.TLSConfig()
	if tune != nil {
		inner := tc.GetConfigForClient
		tc = tc.Clone()
		tc.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := inner(h)
			if err == nil {
				tune(c)
			}
			return c, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		if past {
			c.SetDeadline(time.Unix(1, 0))
		} else {
			c.SetDeadline(time.Now().Add(time.Minute)) // hang guard only
		}
		errc <- tls.Server(c, tc).Handshake()
	}()
	client(t, ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-time.After(time.Minute): // hang guard only
		t.Fatal("the server's handshake did not end")
		return nil
	}
}

func ptrTo[T any](v T) *T { return &v }

// tlsClient returns a client that runs a handshake with cfg (the test
// CA trusted, ServerName localhost and the good client certificate
// unless cfg says otherwise), reads
// until the server closes (a TLS 1.3 server refuses after the client's
// Finished), and closes.
func tlsClient(w *protocolWorld, cfg *tls.Config) func(*testing.T, string) {
	return func(t *testing.T, addr string) {
		if cfg.RootCAs == nil && !cfg.InsecureSkipVerify {
			cfg.RootCAs = w.ca.Pool()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = "localhost"
		}
		if cfg.GetClientCertificate == nil {
			cfg.Certificates = []tls.Certificate{w.good.TLSCertificate()}
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute)) // hang guard only
		tc := tls.Client(c, cfg)
		if tc.Handshake() == nil {
			tc.Read(make([]byte, 1))
		}
	}
}

// rawClient sends b, then closes its side (reset: aborts with RST
// instead), and waits for the server to close. A nil b sends nothing
// and keeps the connection open.
func rawClient(b []byte, reset bool) func(*testing.T, string) {
	return func(t *testing.T, addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute)) // hang guard only
		if b != nil {
			c.Write(b)
			if reset {
				c.(*net.TCPConn).SetLinger(0)
				return
			}
			c.(*net.TCPConn).CloseWrite()
		}
		io.Copy(io.Discard, c)
	}
}

// clientHello returns the first record of a Go client's handshake for
// serverName (with the SNI extension as Go writes it).
func clientHello(t *testing.T, serverName string) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go tls.Client(a, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}).Handshake()
	b.SetDeadline(time.Now().Add(time.Minute)) // hang guard only
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

// TestHandshakeReason: each handshake failure crypto/tls ends itself,
// driven by a real client (crypto/tls with a narrowed config, or raw
// bytes), gets its reason from HandshakeReason; each has an allowed
// twin, the same client with the offending setting changed, whose
// handshake succeeds on the same server. Every entry of handshakeTexts
// (the untyped errors told apart by their text) must be matched by one
// case, so that a Go release that rewords one fails here.
func TestHandshakeReason(t *testing.T) {
	t.Parallel()
	w := newProtocolWorld(t)
	goodCert := w.good.TLSCertificate()
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := tls.Certificate{Certificate: goodCert.Certificate, PrivateKey: otherKey}
	garbage := tls.Certificate{Certificate: [][]byte{[]byte("not a certificate")}, PrivateKey: otherKey}
	stranger := pkitest.Client(t, pkitest.CA(t), pki.ClientOptions{CommonName: "stranger"}).TLSCertificate()
	// Certificates that parse but whose key crypto/tls does not take:
	// an RSA modulus over its 8192 bits, an algorithm it does not know
	// (Ed448's OID on an Ed25519 key). And a TLS 1.3 CertificateVerify
	// of another kind than the certificate's key (RSA-PSS for ECDSA).
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	hugeN := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 8200), big.NewInt(1))
	hugeRSA := tls.Certificate{Certificate: [][]byte{oddCert(t, &rsa.PublicKey{N: hugeN, E: 65537}, nil)}, PrivateKey: rsaKey}
	edPub, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	unknownKey := tls.Certificate{Certificate: [][]byte{oddCert(t, edPub, func(der []byte) []byte {
		return bytes.Replace(der, []byte{0x06, 0x03, 0x2b, 0x65, 0x70}, []byte{0x06, 0x03, 0x2b, 0x65, 0x71}, 1) // id-Ed25519 → id-Ed448
	})}, PrivateKey: edKey}
	otherKind := tls.Certificate{Certificate: goodCert.Certificate, PrivateKey: rsaKey}
	certs := func(c tls.Certificate) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	hello := clientHello(t, "localhost")
	dotted := bytes.Replace(hello, []byte("localhost"), []byte("localhos."), 1) // same length: only the name changes
	if bytes.Equal(dotted, hello) {
		t.Fatal("the ClientHello does not carry the server name")
	}
	http12 := ServerConfig{NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}

	type side struct {
		client func(*testing.T, string)
		tune   func(*tls.Config)
		past   bool
		// want is the twin's reason: "" (its handshake succeeds), or
		// ReasonClientClosed for a raw hello that got the server's
		// answer (the server then waits for the client's next flight).
		want Reason
	}
	matched := make([]bool, len(handshakeTexts))
	for _, tt := range []struct {
		name      string
		cfg       ServerConfig
		bad, good side
		want      Reason
	}{
		{"TLS 1.1 client", http12,
			side{client: tlsClient(w, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})},
			side{client: tlsClient(w, &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS12})},
			ReasonTLSVersion},
		{"TLS 1.2 client, TLS 1.3 server", ServerConfig{},
			side{client: tlsClient(w, &tls.Config{MaxVersion: tls.VersionTLS12})},
			side{client: tlsClient(w, &tls.Config{MaxVersion: tls.VersionTLS13})},
			ReasonTLSVersion},
		{"SSL 2 hello", http12,
			side{client: rawClient([]byte{0x80, 0x2e, 0x01, 0x00, 0x02}, false)},
			side{client: tlsClient(w, &tls.Config{})},
			ReasonTLSVersion},
		{"no shared cipher suite (TLS 1.2, RSA suites to an ECDSA certificate)", http12,
			side{client: tlsClient(w, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}})},
			side{client: tlsClient(w, &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})},
			ReasonNoSharedCipher},
		{"no shared curve (TLS 1.2)", http12,
			side{client: tlsClient(w, &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.X25519}}), tune: func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP384} }},
			side{client: tlsClient(w, &tls.Config{MaxVersion: tls.VersionTLS12, CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP384}}), tune: func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP384} }},
			ReasonNoSharedCipher},
		{"no shared key exchange (TLS 1.3)", ServerConfig{},
			side{client: tlsClient(w, &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519}}), tune: func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP384} }},
			side{client: tlsClient(w, &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP384}}), tune: func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP384} }},
			ReasonNoSharedCipher},
		{"only h2 to an http/1.1 listener", ServerConfig{NextProtos: []string{"http/1.1"}},
			side{client: tlsClient(w, &tls.Config{NextProtos: []string{"h2"}})},
			side{client: tlsClient(w, &tls.Config{NextProtos: []string{"h2", "http/1.1"}})},
			ReasonNoSharedALPN},
		{"an ALPN protocol the client names like an mtls refusal", ServerConfig{NextProtos: []string{"http/1.1"}},
			side{client: tlsClient(w, &tls.Config{NextProtos: []string{"mtls: revoked"}})},
			side{client: tlsClient(w, &tls.Config{})}, // no ALPN at all is served
			ReasonNoSharedALPN},
		{"plain HTTP", ServerConfig{},
			side{client: rawClient([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), false)},
			side{client: tlsClient(w, &tls.Config{})},
			ReasonNotTLS},
		{"another protocol", ServerConfig{},
			side{client: rawClient([]byte("SSH-2.0-OpenSSH_9.6\r\n"), false)},
			side{client: tlsClient(w, &tls.Config{})},
			ReasonNotTLS},
		{"silent client past the deadline", ServerConfig{},
			side{client: rawClient(nil, false), past: true},
			side{client: tlsClient(w, &tls.Config{})},
			ReasonHandshakeTimeout},
		{"client closes at once", ServerConfig{},
			side{client: rawClient([]byte{}, false)},
			side{client: tlsClient(w, &tls.Config{})},
			ReasonClientClosed},
		{"client closes mid-ClientHello", ServerConfig{},
			side{client: rawClient(hello[:len(hello)/2], false)},
			side{client: tlsClient(w, &tls.Config{})},
			ReasonClientClosed},
		{"client resets", ServerConfig{},
			side{client: rawClient(hello[:len(hello)/2], true)},
			side{client: tlsClient(w, &tls.Config{})},
			ReasonClientClosed},
		{"client does not trust the server certificate (TLS 1.3)", ServerConfig{},
			side{client: tlsClient(w, &tls.Config{RootCAs: pkitest.CA(t).Pool()})},
			side{client: tlsClient(w, &tls.Config{})},
			ReasonServerCertificateRefused},
		{"client does not trust the server certificate (TLS 1.2)", http12,
			side{client: tlsClient(w, &tls.Config{RootCAs: pkitest.CA(t).Pool(), MaxVersion: tls.VersionTLS12})},
			side{client: tlsClient(w, &tls.Config{MaxVersion: tls.VersionTLS12})},
			ReasonServerCertificateRefused},
		{"server name with a trailing dot", ServerConfig{},
			side{client: rawClient(dotted, false)},
			side{client: rawClient(hello, false), want: ReasonClientClosed}, // past the hello
			ReasonTLSProtocolError},
		{"client certificate that does not parse", ServerConfig{},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(garbage)})},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(goodCert)})},
			ReasonBadCertificate},
		{"handshake signed by another key than the certificate's", ServerConfig{},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(wrongKey)})},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(goodCert)})},
			ReasonBadCertificate},
		{"RSA key over 8192 bits", ServerConfig{},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(hugeRSA)})},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(goodCert)})},
			ReasonBadCertificate},
		{"a key crypto/tls does not know", ServerConfig{},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(unknownKey)})},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(goodCert)})},
			ReasonBadCertificate},
		{"handshake signed with another kind of key than the certificate's (TLS 1.3)", ServerConfig{},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(otherKind)})},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(goodCert)})},
			ReasonBadCertificate},
		{"certificate mtls refuses (its own reason)", ServerConfig{},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(stranger)})},
			side{client: tlsClient(w, &tls.Config{GetClientCertificate: certs(goodCert)})},
			ReasonUnknownAuthority},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := w.serve(t, tt.cfg, tt.bad.tune, tt.bad.past, tt.bad.client)
			if err == nil {
				t.Fatal("the handshake succeeded")
			}
			if got := HandshakeReason(err); got != tt.want {
				t.Errorf("HandshakeReason(%q [%T]) = %q, want %q", err, err, got, tt.want)
			}
			for i, p := range handshakeTexts {
				if strings.HasPrefix(err.Error(), p.prefix) {
					matched[i] = true
				}
			}
			// The allowed twin.
			err = w.serve(t, tt.cfg, tt.good.tune, tt.good.past, tt.good.client)
			if got := HandshakeReason(err); got != tt.good.want {
				t.Errorf("the twin: got %v (%q), want %q", err, got, tt.good.want)
			}
		})
	}
	for i, p := range handshakeTexts {
		if !matched[i] {
			t.Errorf("no case produced crypto/tls's %q: reworded in this Go release? (see HandshakeReason)", p.prefix)
		}
	}
	if got := HandshakeReason(nil); got != "" {
		t.Errorf("HandshakeReason(nil) = %q, want \"\"", got)
	}
	if got := HandshakeReason(errors.New("tls: something new")); got != ReasonTLSProtocolError {
		t.Errorf("an unknown error: got %q, want %q", got, ReasonTLSProtocolError)
	}
}

// oddCert returns a client certificate for pub signed by a throwaway
// key, its DER changed by fix when set.
func oddCert(t *testing.T, pub any, fix func([]byte) []byte) []byte {
	t.Helper()
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "odd"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	if fix != nil {
		der = fix(der)
	}
	return der
}
