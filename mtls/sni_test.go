package mtls_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// sniDial connects with the given SNI ("" sends none) and client
// certificate (may be nil). It returns the serial of the server
// certificate served and what the server answered; a refused handshake is
// an error. The server certificate is verified against ca for the name it
// was served for, or for its own first DNS name without SNI.
func sniDial(t testing.TB, addr, sni string, ca *pki.CA, cert *pki.Cert) (*big.Int, string, error) {
	t.Helper()
	conf := &tls.Config{
		ServerName: sni,
		// Checked in VerifyConnection: crypto/tls refuses an empty
		// ServerName without InsecureSkipVerify.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			leaf := cs.PeerCertificates[0]
			name := sni
			if name == "" {
				name = leaf.DNSNames[0]
			}
			_, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name})
			return err
		},
	}
	if cert != nil {
		tc := cert.TLSCertificate()
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	c, err := tls.Dial("tcp", addr, conf)
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return nil, "", err
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber, strings.TrimSpace(line), nil
}

func TestSNISelectsCertificate(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	def := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"default.test"}})
	a := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"a.test"}})
	b := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"b.test"}})
	wild := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"*.wild.test", "wild.test"}})
	dir := t.TempDir()
	if err := a.Save(dir, "a.pem", "a-key.pem"); err != nil {
		t.Fatal(err)
	}
	client := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	stranger := pkitest.Client(t, pkitest.CA(t), pki.ClientOptions{CommonName: "mallory"})

	defCert := def.TLSCertificate()
	s := newServer(t, mtls.ServerConfig{
		Certificates: append([]mtls.KeyPair{
			{Certificate: &defCert},
			{CertFile: filepath.Join(dir, "a.pem"), KeyFile: filepath.Join(dir, "a-key.pem")},
		}, pairs(b.TLSCertificate(), wild.TLSCertificate())...),
		ClientCAs: pemCAs(ca.Cert),
	})
	addr := serve(t, s.TLSConfig())

	if got, want := len(leaves(s)), 4; got != want {
		t.Fatalf("Certificates(): got %v, want %v", got, want)
	}
	if got, want := defaultCert(s).SerialNumber, def.Cert.SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("Certificate(): got serial %v, want the default's %v", got, want)
	}

	tests := []struct {
		name string
		sni  string
		want *pki.Cert
	}{
		{name: "first name", sni: "a.test", want: a},
		{name: "second name", sni: "b.test", want: b},
		{name: "upper case", sni: "A.TEST", want: a},
		{name: "wildcard", sni: "x.wild.test", want: wild},
		{name: "wildcard's base name listed too", sni: "wild.test", want: wild},
		{name: "wildcard covers one label only", sni: "x.y.wild.test", want: def},
		{name: "default by name", sni: "default.test", want: def},
		{name: "unknown name gets the default", sni: "unknown.test", want: def},
		{name: "no SNI gets the default", sni: "", want: def},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sni != "" && tt.want == def && tt.sni != "default.test" {
				// The default does not cover the name: the client must
				// refuse it, as a browser would.
				if _, _, err := sniDial(t, addr, tt.sni, ca, client); err == nil {
					t.Fatalf("SNI %q: handshake accepted a certificate not valid for it", tt.sni)
				}
				// Served anyway: see which one without name verification.
				conf := &tls.Config{ServerName: tt.sni, InsecureSkipVerify: true, Certificates: []tls.Certificate{client.TLSCertificate()}}
				c, err := tls.Dial("tcp", addr, conf)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if got, want := c.ConnectionState().PeerCertificates[0].SerialNumber, def.Cert.SerialNumber; got.Cmp(want) != 0 {
					t.Errorf("SNI %q: got serial %v, want the default's %v", tt.sni, got, want)
				}
				return
			}
			serial, name, err := sniDial(t, addr, tt.sni, ca, client)
			if err != nil {
				t.Fatalf("SNI %q with a client certificate: %v", tt.sni, err)
			}
			if got, want := serial, tt.want.Cert.SerialNumber; got.Cmp(want) != 0 {
				t.Errorf("SNI %q: got serial %v, want %v (%v)", tt.sni, got, want, tt.want.Cert.DNSNames)
			}
			if got, want := name, "CN=alice"; !strings.Contains(got, "alice") {
				t.Errorf("SNI %q: server verified %v, want %v", tt.sni, got, want)
			}
			// Negative controls: SNI selection does not bypass client
			// authentication (RequireClientCert).
			if _, got, err := sniDial(t, addr, tt.sni, ca, nil); err == nil {
				t.Errorf("SNI %q without a client certificate: got %q, want the handshake refused", tt.sni, got)
			}
			if _, got, err := sniDial(t, addr, tt.sni, ca, stranger); err == nil {
				t.Errorf("SNI %q with an untrusted client certificate: got %q, want the handshake refused", tt.sni, got)
			}
		})
	}
}

// TestSNIAuthorizer: the Authorizer runs whichever certificate was served.
func TestSNIAuthorizer(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	def := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"default.test"}})
	a := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"a.test"}})
	s := newServer(t, mtls.ServerConfig{
		Certificates: pairs(def.TLSCertificate(), a.TLSCertificate()),
		ClientCAs:    pemCAs(ca.Cert),
		Authorizer:   mtls.AuthorizeCommonName("alice"),
	})
	addr := serve(t, s.TLSConfig())
	alice := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	bob := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "bob"})
	for _, sni := range []string{"a.test", "default.test", ""} {
		if _, _, err := sniDial(t, addr, sni, ca, alice); err != nil {
			t.Errorf("SNI %q, authorized client: got %v, want accepted", sni, err)
		}
		if _, got, err := sniDial(t, addr, sni, ca, bob); err == nil {
			t.Errorf("SNI %q, unauthorized client: got %q, want refused", sni, got)
		}
	}
}

func TestSNIReload(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	dir := t.TempDir()
	save := func(c *pki.Cert, cert, key string) {
		t.Helper()
		if err := c.Save(dir, cert, key); err != nil {
			t.Fatal(err)
		}
	}
	def := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"default.test"}})
	a1 := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"a.test"}})
	b := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"b.test"}})
	save(def, "def.pem", "def-key.pem")
	save(a1, "a.pem", "a-key.pem")
	save(b, "b.pem", "b-key.pem")
	p := func(name string) string { return filepath.Join(dir, name) }
	s := newServer(t, mtls.ServerConfig{
		Certificates: []mtls.KeyPair{
			{CertFile: p("def.pem"), KeyFile: p("def-key.pem")},
			{CertFile: p("a.pem"), KeyFile: p("a-key.pem")},
			{CertFile: p("b.pem"), KeyFile: p("b-key.pem")},
		},
		ClientCAs: pemCAs(ca.Cert),
	})
	addr := serve(t, s.TLSConfig())
	client := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	served := func(sni string) *big.Int {
		t.Helper()
		serial, _, err := sniDial(t, addr, sni, ca, client)
		if err != nil {
			t.Fatalf("SNI %q: %v", sni, err)
		}
		return serial
	}
	if got, want := served("a.test"), a1.Cert.SerialNumber; got.Cmp(want) != 0 {
		t.Fatalf("before reload: got serial %v, want %v", got, want)
	}

	a2 := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"a.test"}})
	save(a2, "a.pem", "a-key.pem")
	gen := mtls.Generation(s)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, want := served("a.test"), a2.Cert.SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("after reload: got serial %v, want the new %v", got, want)
	}
	if got, want := served("b.test"), b.Cert.SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("after reload, other name: got serial %v, want %v", got, want)
	}
	if mtls.Generation(s) == gen {
		t.Errorf("Generation(): got %v after reloading an additional certificate, want a new one", gen)
	}

	// A bad pair (b's key with a new certificate) keeps the old state.
	b2 := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"b.test"}})
	if err := pki.WritePublicFile(p("b.pem"), pki.EncodeCertsPEM(b2.Cert)); err != nil {
		t.Fatal(err)
	}
	gen = mtls.Generation(s)
	err := s.Reload()
	if err == nil {
		t.Fatal("reload with a mismatched pair: got nil, want an error")
	}
	if got, want := err.Error(), p("b-key.pem"); !strings.Contains(got, want) {
		t.Errorf("reload error: got %v, want it to name %v", got, want)
	}
	if got, want := mtls.Generation(s), gen; got != want {
		t.Errorf("Generation() after a refused reload: got %v, want %v", got, want)
	}
	if got, want := served("b.test"), b.Cert.SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("after a refused reload: got serial %v, want the old %v", got, want)
	}
	if got, want := served("a.test"), a2.Cert.SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("after a refused reload, other name: got serial %v, want %v", got, want)
	}
}

func TestSNIConfigErrors(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	a := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"a.test"}})
	a2 := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"x.test", "A.test."}})
	w1 := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"*.w.test"}})
	w2 := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"*.W.test"}})
	expired := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"old.test"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if err := a.Save(dir, "a.pem", "a-key.pem"); err != nil {
		t.Fatal(err)
	}
	if err := pki.WritePublicFile(p("garbage.pem"), []byte("not pem")); err != nil {
		t.Fatal(err)
	}
	cas := []*x509.Certificate{ca.Cert}
	aFile := mtls.KeyPair{CertFile: p("a.pem"), KeyFile: p("a-key.pem")}
	noKey := a.TLSCertificate()
	noKey.PrivateKey = nil

	tests := []struct {
		name string
		cfg  mtls.ServerConfig
		want string // in the error; "" = no error
	}{
		{name: "files alone", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{aFile}, ClientCAs: pemCAs(cas...)}},
		{name: "values alone", cfg: mtls.ServerConfig{Certificates: pairs(a.TLSCertificate(), w1.TLSCertificate()), ClientCAs: pemCAs(cas...)}},
		{name: "none", cfg: mtls.ServerConfig{ClientCAs: pemCAs(cas...)}, want: "no server certificate"},
		{name: "same name twice", cfg: mtls.ServerConfig{Certificates: append([]mtls.KeyPair{aFile}, pairs(a2.TLSCertificate())...), ClientCAs: pemCAs(cas...)}, want: `Certificates[1].Certificate: the certificate and Certificates[0] ("` + p("a.pem") + `") both cover DNS name "a.test"`},
		{name: "same wildcard twice", cfg: mtls.ServerConfig{Certificates: pairs(w1.TLSCertificate(), w2.TLSCertificate()), ClientCAs: pemCAs(cas...)}, want: `both cover DNS name "*.w.test"`},
		{name: "same file twice", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{aFile, aFile}, ClientCAs: pemCAs(cas...)}, want: `both cover DNS name "a.test"`},
		{name: "same file twice, names", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{aFile, aFile}, ClientCAs: pemCAs(cas...)}, want: `Certificates[1].CertFile: "` + p("a.pem") + `" and Certificates[0] ("` + p("a.pem") + `") both cover DNS name "a.test"`},
		{name: "missing key file", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{CertFile: p("a.pem")}}, ClientCAs: pemCAs(cas...)}, want: "Certificates[0].KeyFile: is required"},
		{name: "missing cert file", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{KeyFile: p("a-key.pem")}}, ClientCAs: pemCAs(cas...)}, want: "Certificates[0].CertFile: is required"},
		{name: "unreadable file", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{CertFile: p("nope.pem"), KeyFile: p("a-key.pem")}}, ClientCAs: pemCAs(cas...)}, want: `Certificates[0].CertFile: cannot read "` + p("nope.pem") + `"`},
		{name: "not PEM", cfg: mtls.ServerConfig{Certificates: []mtls.KeyPair{{CertFile: p("garbage.pem"), KeyFile: p("a-key.pem")}}, ClientCAs: pemCAs(cas...)}, want: `Certificates[0].CertFile: "` + p("garbage.pem") + `": `},
		{name: "expired additional", cfg: mtls.ServerConfig{Certificates: append([]mtls.KeyPair{aFile}, pairs(expired.TLSCertificate())...), ClientCAs: pemCAs(cas...)}, want: `Certificates[1].Certificate: the certificate ("CN=old.test") expired at`},
		{name: "value without key", cfg: mtls.ServerConfig{Certificates: append([]mtls.KeyPair{aFile}, pairs(noKey)...), ClientCAs: pemCAs(cas...)}, want: "Certificates[1].Certificate: no certificate or no private key"},
		{name: "empty value", cfg: mtls.ServerConfig{Certificates: pairs(tls.Certificate{}), ClientCAs: pemCAs(cas...)}, want: "Certificates[0].Certificate: no certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mtls.NewServer(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.want != "" && err == nil:
				t.Fatalf("got no error, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("got %v, want %q in it", err, tt.want)
			}
		})
	}
}

// TestSNIWatch: Watch follows the additional certificate files too, in
// their own folder.
func TestSNIWatch(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	_, cfg := pkiDir(t, ca)
	other := t.TempDir()
	if err := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"a.test"}}).Save(other, "a.pem", "a-key.pem"); err != nil {
		t.Fatal(err)
	}
	cfg.Certificates = append(cfg.Certificates, mtls.KeyPair{CertFile: filepath.Join(other, "a.pem"), KeyFile: filepath.Join(other, "a-key.pem")})
	s, wt := startWatch(t, cfg, nil)

	a2 := pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: []string{"a.test"}})
	if err := a2.Save(other, "a.pem", "a-key.pem"); err != nil {
		t.Fatal(err)
	}
	// Fails after 10s unless a reload brings the new certificate.
	wt.waitReload(t, func(err error) bool {
		return err == nil && leaves(s)[1].SerialNumber.Cmp(a2.Cert.SerialNumber) == 0
	})
}
