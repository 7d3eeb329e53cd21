package mtls_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// failures records what OnHandshakeFailure reported.
type failures struct {
	mu   sync.Mutex
	list []mtls.HandshakeFailure
}

func (f *failures) add(h mtls.HandshakeFailure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, h)
}

func (f *failures) last() (mtls.HandshakeFailure, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.list) == 0 {
		return mtls.HandshakeFailure{}, false
	}
	return f.list[len(f.list)-1], true
}

// serve runs a TLS server on 127.0.0.1:0 that answers every connection
// with the SPIFFE ID or CN it verified, then closes it.
func serve(t testing.TB, conf *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(10 * time.Second))
				if err := tc.Handshake(); err != nil {
					return
				}
				cs := tc.ConnectionState()
				name := "anonymous"
				// A Server's configuration (GetConfigForClient) verified
				// the certificate in VerifyConnection; crypto/tls's own
				// verification fills VerifiedChains.
				if len(cs.PeerCertificates) > 0 && (len(cs.VerifiedChains) > 0 || conf.GetConfigForClient != nil) {
					name = mtls.NewIdentity(cs.PeerCertificates[0]).String()
				}
				tc.Write([]byte(name + "\n"))
			}()
		}
	}()
	return ln.Addr().String()
}

type dialResult struct {
	name    string // what the server said it verified
	resumed bool
}

// dial connects with cert (may be nil), trusting ca for the server, and
// returns what the server answered. A refused handshake is an error.
func dial(t testing.TB, addr string, ca *pki.CA, cert *pki.Cert, cache tls.ClientSessionCache) (dialResult, error) {
	t.Helper()
	conf := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", ClientSessionCache: cache}
	if cert != nil {
		// Always send it: crypto/tls would skip a certificate whose issuer
		// is not among the CAs the server names, and an attacker would not.
		tc := cert.TLSCertificate()
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		return dialResult{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	// In TLS 1.3 the client finishes before the server has checked its
	// certificate: the refusal arrives as an alert on the first read.
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return dialResult{}, err
	}
	return dialResult{name: strings.TrimSpace(line), resumed: c.ConnectionState().DidResume}, nil
}

func newServer(t testing.TB, cfg mtls.ServerConfig) *mtls.Server {
	t.Helper()
	s, err := mtls.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	other := pkitest.CA(t)
	srv := pkitest.Server(t, ca)
	srvCert := srv.TLSCertificate()
	rsaSrvCert := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"localhost"}, KeyAlgorithm: pki.RSA2048}).TLSCertificate()
	now := time.Now()
	good := pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/ns/a/sa/web"})
	rsaClient := pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/ns/a/sa/web", KeyAlgorithm: pki.RSA2048})
	denied := pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/ns/a/sa/api"})
	foreign := pkitest.Client(t, other, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/ns/a/sa/web"})
	expired := pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/ns/a/sa/web", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	future := pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/ns/a/sa/web", NotBefore: now.Add(time.Hour)})
	serverUsage := pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/ns/a/sa/web", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	revoked := pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/ns/a/sa/web"})
	crl, err := ca.Revoke(nil, revoked.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	webOnly, err := mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/web")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		cfg        mtls.ServerConfig
		client     *pki.Cert
		wantReason mtls.Reason // "" = accepted
		wantName   string
	}{
		{name: "trusted CA accepted", client: good, wantName: "spiffe://prod.example/ns/a/sa/web"},
		{name: "rsa client accepted", client: rsaClient, wantName: "spiffe://prod.example/ns/a/sa/web"},
		{name: "unknown CA refused", client: foreign, wantReason: mtls.ReasonUnknownAuthority},
		{name: "expired refused", client: expired, wantReason: mtls.ReasonExpired},
		{name: "not yet valid refused", client: future, wantReason: mtls.ReasonNotYetValid},
		{name: "server-only key usage refused", client: serverUsage, wantReason: mtls.ReasonWrongKeyUsage},
		{name: "no certificate refused (require)", client: nil, wantReason: mtls.ReasonNoCertificate},
		{name: "no certificate accepted (verify-if-given)", cfg: mtls.ServerConfig{ClientAuth: mtls.VerifyClientCertIfGiven}, client: nil, wantName: "anonymous"},
		{name: "unknown CA refused (verify-if-given)", cfg: mtls.ServerConfig{ClientAuth: mtls.VerifyClientCertIfGiven}, client: foreign, wantReason: mtls.ReasonUnknownAuthority},
		{name: "revoked refused", cfg: mtls.ServerConfig{CRLs: crlData(crl)}, client: revoked, wantReason: mtls.ReasonRevoked},
		{name: "not revoked accepted", cfg: mtls.ServerConfig{CRLs: crlData(pki.EncodeCRLPEM(crl))}, client: good, wantName: "spiffe://prod.example/ns/a/sa/web"},
		{name: "revoked accepted without CRL (negative control)", client: revoked, wantName: "spiffe://prod.example/ns/a/sa/web"},
		{name: "allowed identity accepted", cfg: mtls.ServerConfig{Authorizer: webOnly}, client: good, wantName: "spiffe://prod.example/ns/a/sa/web"},
		{name: "disallowed identity refused", cfg: mtls.ServerConfig{Authorizer: webOnly}, client: denied, wantReason: mtls.ReasonSPIFFEIDDenied},
		{name: "disallowed identity accepted without authorizer (negative control)", client: denied, wantName: "spiffe://prod.example/ns/a/sa/api"},
		{name: "tls 1.2 accepted", cfg: mtls.ServerConfig{MinVersion: tls.VersionTLS12}, client: good, wantName: "spiffe://prod.example/ns/a/sa/web"},
		{name: "rsa server accepted", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &rsaSrvCert}}}, client: good, wantName: "spiffe://prod.example/ns/a/sa/web"},
		{name: "rsa server unknown CA refused", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &rsaSrvCert}}}, client: foreign, wantReason: mtls.ReasonUnknownAuthority},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got failures
			cfg := tt.cfg
			if cfg.Certificates == nil {
				cfg.Certificates = []mtls.KeyPair{{Certificate: &srvCert}}
			}
			cfg.ClientCAs = pemCAs(ca.Cert)
			cfg.OnHandshakeFailure = got.add
			s := newServer(t, cfg)
			addr := serve(t, s.TLSConfig())
			res, err := dial(t, addr, ca, tt.client, nil)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("got error %v, want accepted", err)
				}
				if res.name != tt.wantName {
					t.Errorf("got identity %q, want %q", res.name, tt.wantName)
				}
				if f, ok := got.last(); ok {
					t.Errorf("got failure %v, want none", f.Err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got accepted as %q, want refused with %s", res.name, tt.wantReason)
			}
			f, ok := got.last()
			if !ok {
				t.Fatalf("got no failure report, want %s", tt.wantReason)
			}
			if f.Reason != tt.wantReason {
				t.Errorf("got reason %s (%v), want %s", f.Reason, f.Err, tt.wantReason)
			}
			if f.RemoteAddr == nil || !strings.HasPrefix(f.RemoteAddr.String(), "127.0.0.1:") {
				t.Errorf("got peer address %v, want 127.0.0.1:port", f.RemoteAddr)
			}
			if f.ServerName != "localhost" {
				t.Errorf("got server name %q, want localhost", f.ServerName)
			}
		})
	}
}

// TestTLS12Refused shows that the default minimum is TLS 1.3 and that
// TLS 1.2 works only when allowed.
func TestMinVersion(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	srv := pkitest.Server(t, ca).TLSCertificate()
	cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	for _, tt := range []struct {
		name    string
		min     uint16
		wantErr bool
	}{
		{name: "default refuses tls 1.2", min: 0, wantErr: true},
		{name: "tls 1.2 allowed", min: tls.VersionTLS12},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(ca.Cert), MinVersion: tt.min})
			addr := serve(t, s.TLSConfig())
			conf := cli.ClientTLSConfig(ca)
			conf.ServerName = "localhost"
			conf.MaxVersion = tls.VersionTLS12
			c, err := tls.Dial("tcp", addr, conf)
			if err == nil {
				_, err = bufio.NewReader(c).ReadString('\n')
				c.Close()
			}
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("got error %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

func TestCRLPolicy(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	ca2 := pkitest.CA(t)
	srv := pkitest.Server(t, ca).TLSCertificate()
	cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	cli2 := pkitest.Client(t, ca2, pki.ClientOptions{CommonName: "bob"})
	now := time.Now()
	fresh, err := ca.CreateCRL(pki.CRLOptions{NextUpdate: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		cfg        mtls.ServerConfig
		clock      time.Duration // how far the server's clock runs ahead after loading
		client     *pki.Cert
		wantReason mtls.Reason
	}{
		{name: "fresh CRL accepted", client: cli},
		{name: "stale CRL refused", clock: 2 * time.Hour, client: cli, wantReason: mtls.ReasonCRLStale},
		{name: "stale CRL within grace accepted", cfg: mtls.ServerConfig{CRLGracePeriod: 2 * time.Hour}, clock: 2 * time.Hour, client: cli},
		{name: "stale CRL past grace refused", cfg: mtls.ServerConfig{CRLGracePeriod: 30 * time.Minute}, clock: 2 * time.Hour, client: cli, wantReason: mtls.ReasonCRLStale},
		{name: "stale CRL insecurely allowed", cfg: mtls.ServerConfig{InsecureAllowStaleCRL: true}, clock: 2 * time.Hour, client: cli},
		{name: "issuer without CRL refused", client: cli2, wantReason: mtls.ReasonCRLMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got failures
			cfg := tt.cfg
			cfg.Certificates = []mtls.KeyPair{{Certificate: &srv}}
			cfg.ClientCAs = pemCAs(ca.Cert, ca2.Cert)
			cfg.CRLs = crlData(fresh)
			cfg.OnHandshakeFailure = got.add
			var clock atomic.Int64 // loaded now, handshakes tt.clock later
			cfg.Time = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
			s := newServer(t, cfg)
			// Client certificates are valid for a year: only the CRL ages.
			clock.Store(int64(tt.clock))
			addr := serve(t, s.TLSConfig())
			_, err := dial(t, addr, ca, tt.client, nil)
			f, _ := got.last()
			if tt.wantReason == "" && err != nil {
				t.Fatalf("got error %v (%v), want accepted", err, f.Err)
			}
			if tt.wantReason != "" && (err == nil || f.Reason != tt.wantReason) {
				t.Fatalf("got error %v, reason %q, want %s", err, f.Reason, tt.wantReason)
			}
		})
	}
}

func TestNewServerErrors(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	other := pkitest.CA(t)
	srv := pkitest.Server(t, ca).TLSCertificate()
	cas := []*x509.Certificate{ca.Cert}
	past := time.Now().Add(-48 * time.Hour)
	stale, _ := ca.CreateCRL(pki.CRLOptions{ThisUpdate: past, NextUpdate: past.Add(time.Hour)})
	foreignCRL, _ := other.CreateCRL(pki.CRLOptions{})
	leafCA := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "not a CA"})
	expiredSrv := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"localhost"}, NotBefore: past, NotAfter: past.Add(time.Hour)}).TLSCertificate()
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  mtls.ServerConfig
		want string
	}{
		{name: "no certificate", cfg: mtls.ServerConfig{ClientCAs: pemCAs(cas...)}, want: "no server certificate"},
		{name: "no client CA", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}}, want: "no client CA"},
		{name: "missing files", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: filepath.Join(dir, "nope-key.pem")}}, ClientCAs: pemCAs(cas...)}, want: "Certificates[0].CertFile: cannot read"},
		{name: "files and a value", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{CertFile: "a.pem", Certificate: &srv}}, ClientCAs: pemCAs(cas...)}, want: "Certificates[0]: set CertFile and KeyFile, or Certificate, not both"},
		{name: "file and data", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: []mtls.Source{{File: "ca.pem", Data: []byte("x")}}}, want: "ClientCAs[0]: set File or Data, not both"},
		{name: "missing CA file", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: files(filepath.Join(dir, "ca.pem"))}, want: "ClientCAs[0]: cannot read"},
		{name: "leaf as CA", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(leafCA.Cert)}, want: "is not a CA"},
		{name: "stale CRL", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(cas...), CRLs: crlData(stale)}, want: "is stale: next update"},
		{name: "stale CRL says how to renew one of forgeproof pki", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(cas...), CRLs: crlData(stale)}, want: "forgeproof pki revoke --dir DIR --refresh"},
		{name: "foreign CRL", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(cas...), CRLs: crlData(foreignCRL)}, want: "not signed by any client CA"},
		{name: "garbage CRL", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(cas...), CRLs: crlData([]byte("nope"))}, want: "CRLs[0]"},
		{name: "tls 1.1", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(cas...), MinVersion: tls.VersionTLS11}, want: "MinVersion"},
		{name: "expired server certificate", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &expiredSrv}}, ClientCAs: pemCAs(cas...)}, want: "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mtls.NewServer(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "mtls: ") {
				t.Errorf("got error %v, want one starting mtls: and containing %q", err, tt.want)
			}
		})
	}
}

// pkiDir writes a PKI of ca to disk (pkitest.Dir) and returns its folder
// and a ServerConfig that reads its files.
func pkiDir(t testing.TB, ca *pki.CA) (string, mtls.ServerConfig) {
	t.Helper()
	d := pkitest.NewDir(t, ca)
	return d.Path, mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{CertFile: d.File(pki.ServerFile), KeyFile: d.File(pki.ServerKeyFile)}},
		ClientCAs:    files(d.File(pki.CAFile)),
		CRLs:         files(d.File(pki.CRLFile)),
	}
}

func revokeInDir(t testing.TB, ca *pki.CA, dir string, serials ...*big.Int) {
	t.Helper()
	prev, err := pki.LoadCRL(dir)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ca.Revoke(prev, serials...)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.SaveCRL(dir, der); err != nil {
		t.Fatal(err)
	}
}

// TestResumedSessionRechecked proves that revocation and authorization
// run on resumed TLS sessions too (VerifyPeerCertificate would not).
func TestResumedSessionRechecked(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	cli := pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/web"})
	tests := []struct {
		name       string
		change     func(t *testing.T, s *mtls.Server, dir string, allowed *atomic.Bool)
		wantReason mtls.Reason
	}{
		{name: "unchanged resumes", change: func(*testing.T, *mtls.Server, string, *atomic.Bool) {}},
		{name: "revoked since refused", change: func(t *testing.T, s *mtls.Server, dir string, _ *atomic.Bool) {
			revokeInDir(t, ca, dir, cli.Cert.SerialNumber)
			if err := s.Reload(); err != nil {
				t.Fatal(err)
			}
		}, wantReason: mtls.ReasonRevoked},
		{name: "disallowed since refused", change: func(_ *testing.T, _ *mtls.Server, _ string, allowed *atomic.Bool) {
			allowed.Store(false)
		}, wantReason: mtls.ReasonIdentityDenied},
		{name: "CA removed since refused", change: func(t *testing.T, s *mtls.Server, dir string, _ *atomic.Bool) {
			other := pkitest.CA(t)
			// The new bundle holds another CA only; the CRL must follow.
			if err := pki.WritePublicFile(filepath.Join(dir, pki.CAFile), pki.EncodeCertsPEM(other.Cert)); err != nil {
				t.Fatal(err)
			}
			der, _ := other.Revoke(nil)
			if err := pki.SaveCRL(dir, der); err != nil {
				t.Fatal(err)
			}
			if err := s.Reload(); err != nil {
				t.Fatal(err)
			}
		}, wantReason: mtls.ReasonUnknownAuthority},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, cfg := pkiDir(t, ca)
			var allowed atomic.Bool
			allowed.Store(true)
			cfg.Authorizer = func(mtls.Identity) error {
				if allowed.Load() {
					return nil
				}
				return &mtls.Error{Reason: mtls.ReasonIdentityDenied, Detail: "switched off"}
			}
			var got failures
			cfg.OnHandshakeFailure = got.add
			s := newServer(t, cfg)
			addr := serve(t, s.TLSConfig())
			cache := tls.NewLRUClientSessionCache(4)
			first, err := dial(t, addr, ca, cli, cache)
			if err != nil || first.resumed {
				t.Fatalf("first connection: got %v resumed=%v, want a full handshake", err, first.resumed)
			}
			tt.change(t, s, dir, &allowed)
			second, err := dial(t, addr, ca, cli, cache)
			if tt.wantReason == "" {
				if err != nil || !second.resumed {
					t.Fatalf("got %v resumed=%v, want a resumed session", err, second.resumed)
				}
				return
			}
			if err == nil {
				t.Fatalf("got accepted (resumed=%v), want refused with %s", second.resumed, tt.wantReason)
			}
			f, ok := got.last()
			if !ok || f.Reason != tt.wantReason || !f.Resumed {
				t.Errorf("got reason %q resumed=%v (%v), want %s on a resumed session", f.Reason, f.Resumed, f.Err, tt.wantReason)
			}
		})
	}
}

func TestReloadKeepsStateOnError(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	dir, cfg := pkiDir(t, ca)
	s := newServer(t, cfg)
	before := defaultCert(s)
	// A key that does not match the certificate.
	if err := pki.WriteSecretFile(filepath.Join(dir, pki.ServerKeyFile), mustKeyPEM(t)); err != nil {
		t.Fatal(err)
	}
	err := s.Reload()
	if err == nil || !strings.Contains(err.Error(), pki.ServerKeyFile) {
		t.Fatalf("got %v, want an error naming %s", err, pki.ServerKeyFile)
	}
	if defaultCert(s) != before {
		t.Error("got a new certificate after a failed reload, want the old one")
	}
	addr := serve(t, s.TLSConfig())
	cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	if _, err := dial(t, addr, ca, cli, nil); err != nil {
		t.Errorf("got %v after a failed reload, want the old state serving", err)
	}
	// An older CRL (rollback) is refused too.
	revokeInDir(t, ca, dir, cli.Cert.SerialNumber) // number 2
	if err := pkitest.Server(t, ca).Save(dir, pki.ServerFile, pki.ServerKeyFile); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	old, _ := ca.Revoke(nil) // number 1
	if err := pki.SaveCRL(dir, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "older than the one in use") {
		t.Errorf("got %v, want a CRL rollback error", err)
	}
}

func mustKeyPEM(t testing.TB) []byte {
	k, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pki.EncodeKeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNewServerListsEveryProblem: NewServer reads every source and
// reports every problem at once, one line each, starting with its field;
// its twin with the files in place loads.
func TestNewServerListsEveryProblem(t *testing.T) {
	t.Parallel()
	dir, good := pkiDir(t, pkitest.CA(t))
	if _, err := mtls.NewServer(good); err != nil {
		t.Fatalf("twin: %v", err)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	bad := good
	bad.Certificates = []mtls.KeyPair{{CertFile: p(pki.ServerFile), KeyFile: p("nope-key.pem")}, {CertFile: p("nope.pem"), KeyFile: p(pki.ServerKeyFile)}}
	bad.ClientCAs = []mtls.Source{{File: p(pki.CAFile)}, {File: p("nope-ca.pem")}}
	bad.CRLs = []mtls.Source{{Data: []byte("garbage")}}
	_, err := mtls.NewServer(bad)
	if err == nil {
		t.Fatal("got no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"mtls: Certificates[0].KeyFile: cannot read", "mtls: Certificates[1].CertFile: cannot read", "mtls: ClientCAs[1]: cannot read", "mtls: CRLs[0]: "}
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d: got %q, want it to start with %q", i, lines[i], w)
		}
	}
	// Each problem is an *Error naming its field, for programs that map
	// fields to their own keys; so are Reload's.
	wantFields := []string{"Certificates[0].KeyFile", "Certificates[1].CertFile", "ClientCAs[1]", "CRLs[0]"}
	if got := errorFields(t, err); !slices.Equal(got, wantFields) {
		t.Errorf("fields: got %q, want %q", got, wantFields)
	}
	s, err := mtls.NewServer(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p(pki.CAFile)); err != nil {
		t.Fatal(err)
	}
	err = s.Reload()
	if got, want := errorFields(t, err), []string{"ClientCAs[0]"}; !slices.Equal(got, want) {
		t.Errorf("reload fields: got %q, want %q", got, want)
	}
	if got, want := err.Error(), "mtls: reload: ClientCAs[0]: cannot read"; !strings.HasPrefix(got, want) {
		t.Errorf("reload error: got %q, want it to start with %q", got, want)
	}
}

// errorFields returns the Field of each *mtls.Error that err joins, and
// fails unless each is one, with ReasonInvalidConfig.
func errorFields(t *testing.T, err error) []string {
	t.Helper()
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("%v: not joined errors", err)
	}
	var fields []string
	for _, e := range j.Unwrap() {
		var me *mtls.Error
		if !errors.As(e, &me) {
			t.Fatalf("%v: not an *mtls.Error", e)
		}
		if got, want := mtls.ReasonOf(e), mtls.ReasonInvalidConfig; got != want {
			t.Errorf("%v: reason %q, want %q", e, got, want)
		}
		fields = append(fields, me.Field)
	}
	return fields
}

// TestTLS12CipherSuites: with MinVersion TLS 1.2, a Server negotiates TLS
// 1.2 only with ECDHE and an AEAD (Mozilla's intermediate profile), not
// Go's default, which adds ECDHE with AES-CBC and SHA-1. The gateway's
// TestTLS12CipherSuites tries every suite, and OpenSSL.
func TestTLS12CipherSuites(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	_, cfg := pkiDir(t, ca)
	cfg.MinVersion = tls.VersionTLS12
	addr := serve(t, newServer(t, cfg).TLSConfig())
	cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}).TLSCertificate()
	for _, tt := range []struct {
		name  string
		suite uint16
		ok    bool
	}{
		{name: "AES-GCM", suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ok: true},
		{name: "ChaCha20-Poly1305", suite: tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, ok: true},
		{name: "AES-CBC with SHA-1", suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
		{name: "AES-CBC with SHA-256", suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tls.Dial("tcp", addr, &tls.Config{
				RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{cli},
				MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tt.suite},
			})
			if err == nil {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second)) // hang guard only
				_, err = bufio.NewReader(c).ReadString('\n')
			}
			if (err == nil) != tt.ok {
				t.Errorf("got %v, want ok %v", err, tt.ok)
			}
		})
	}
}
