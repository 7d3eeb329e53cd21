package gateway_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// leafWith issues a localhost certificate from w's CA with these key
// usages, saved as name.pem and name-key.pem.
func (w *world) leafWith(name string, eku []x509.ExtKeyUsage, ku x509.KeyUsage, isCA bool, dns ...string) {
	w.t.Helper()
	w.leafEdited(name, func(tmpl *x509.Certificate) {
		tmpl.ExtKeyUsage, tmpl.KeyUsage = eku, ku
		if len(dns) > 0 {
			tmpl.DNSNames = dns
		}
		if isCA {
			tmpl.BasicConstraintsValid, tmpl.IsCA = true, true
		}
	})
}

// emptyKeyUsage is a key usage extension with no bit set (RFC 5280
// §4.2.1.3 forbids it), which crypto/x509 never writes by itself.
var emptyKeyUsage = pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: []byte{0x03, 0x01, 0x00}}

// leafEdited issues a localhost certificate from w's CA, with the
// template changed by edit, saved as name.pem and name-key.pem.
func (w *world) leafEdited(name string, edit func(*x509.Certificate)) {
	w.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		w.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	edit(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, w.ca.Cert, key.Public(), w.ca.Key)
	if err != nil {
		w.t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyPEM, err := pki.EncodeKeyPEM(key)
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(name+".pem", pki.EncodeCertsPEM(cert))
	w.write(name+"-key.pem", keyPEM)
}

// TestServerCertificateChecks: check-config, start-up and reload refuse
// server certificates TLS clients would refuse (issue 12: a client-auth
// only certificate was "ok", then clients failed with "unsuitable
// certificate purpose"; anyExtendedKeyUsage without serverAuth and an
// empty key usage extension, which Go accepts and OpenSSL refuses), each
// next to its accepted twin.
func TestServerCertificateChecks(t *testing.T) {
	w := newWorld(t)
	w.leafWith("anyeku", []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, x509.KeyUsageDigitalSignature, false)
	w.leafWith("anyeku-client", []x509.ExtKeyUsage{x509.ExtKeyUsageAny, x509.ExtKeyUsageClientAuth}, x509.KeyUsageDigitalSignature, false)
	w.leafWith("anyeku-server", []x509.ExtKeyUsage{x509.ExtKeyUsageAny, x509.ExtKeyUsageServerAuth}, x509.KeyUsageDigitalSignature, false)
	w.leafEdited("emptyku", func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		c.ExtraExtensions = []pkix.Extension{emptyKeyUsage}
	})
	w.leafWith("clientonly", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, x509.KeyUsageDigitalSignature, false)
	w.leafWith("both", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth}, x509.KeyUsageDigitalSignature, false)
	w.leafWith("noeku", nil, 0, false)
	w.leafWith("codesign", []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, x509.KeyUsageDigitalSignature, false)
	w.leafWith("nosig", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, x509.KeyUsageKeyAgreement, false)
	w.leafWith("clientonly-sni", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, x509.KeyUsageDigitalSignature, false, "sni.example")
	other := pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"api.example.com"}})
	if err := other.Save(w.dir, "api.pem", "api-key.pem"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*gateway.Config)
		want   string // "" means valid
	}{
		{"serverAuth", func(*gateway.Config) {}, ""},
		{"client-auth only refused", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("clientonly.pem"), w.path("clientonly-key.pem")
		},
			"listeners[0].tls.cert-file: \"" + w.path("clientonly.pem") + "\": the certificate is for client authentication only (its extended key usages are clientAuth), not a server certificate: TLS clients refuse it (\"unsuitable certificate purpose\")"},
		{"client and server auth", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("both.pem"), w.path("both-key.pem")
		}, ""},
		{"no extended key usage", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("noeku.pem"), w.path("noeku-key.pem")
		}, ""},
		{"anyExtendedKeyUsage only refused", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("anyeku.pem"), w.path("anyeku-key.pem")
		},
			"listeners[0].tls.cert-file: \"" + w.path("anyeku.pem") + "\": the certificate's extended key usages (anyExtendedKeyUsage) include anyExtendedKeyUsage but not serverAuth: Chromium and Go clients accept it, OpenSSL-based clients such as curl refuse it (\"unsuitable certificate purpose\"); issue one with serverAuth"},
		{"anyExtendedKeyUsage and clientAuth refused", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("anyeku-client.pem"), w.path("anyeku-client-key.pem")
		}, "(anyExtendedKeyUsage, clientAuth) include anyExtendedKeyUsage but not serverAuth"},
		{"anyExtendedKeyUsage and serverAuth", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("anyeku-server.pem"), w.path("anyeku-server-key.pem")
		}, ""},
		{"key usage extension with no bit set refused", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("emptyku.pem"), w.path("emptyku-key.pem")
		},
			"listeners[0].tls.cert-file: \"" + w.path("emptyku.pem") + "\": the certificate has a key usage extension with no bit set, which RFC 5280 §4.2.1.3 forbids"},
		{"code signing only", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("codesign.pem"), w.path("codesign-key.pem")
		}, "is not for TLS servers (its extended key usages are codeSigning)"},
		{"key usage without digitalSignature", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("nosig.pem"), w.path("nosig-key.pem")
		}, "key usage (keyAgreement) does not allow digitalSignature"},
		{"key of another certificate", func(c *gateway.Config) { c.Listeners[0].TLS.KeyFile = w.path("both-key.pem") }, "private key does not match public key"},
		{"client-auth only among SNI certificates", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = "", ""
			c.Listeners[0].TLS.Certificates = []gateway.ServerCertificate{
				{CertFile: w.path("server.pem"), KeyFile: w.path("server-key.pem")},
				{CertFile: w.path("clientonly-sni.pem"), KeyFile: w.path("clientonly-sni-key.pem")},
			}
		}, "listeners[0].tls.certificates[1].cert-file: \"" + w.path("clientonly-sni.pem") + "\": the certificate is for client authentication only"},
		{"loopback listener without localhost", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("api.pem"), w.path("api-key.pem")
		},
			`listeners[0].tls: the server certificates do not cover "localhost" (they name api.example.com)`},
		{"non-loopback listener need not cover localhost", func(c *gateway.Config) {
			c.Listeners[0].Address = "[2001:db8::1]:0"
			c.Listeners[0].TLS.CertFile, c.Listeners[0].TLS.KeyFile = w.path("api.pem"), w.path("api-key.pem")
		}, ""},
		{"route host not covered", func(c *gateway.Config) { c.Routes[0].Host = "api.example.com" }, `routes[0].host: no listener's server certificate covers "api.example.com"`},
		{"route host covered", func(c *gateway.Config) {
			c.Routes[0].Host = "api.example.com"
			c.Listeners[0].TLS.Certificates = []gateway.ServerCertificate{{CertFile: w.path("api.pem"), KeyFile: w.path("api-key.pem")}}
		}, ""},
		{"client CA file holding a leaf", func(c *gateway.Config) { c.Listeners[0].TLS.ClientCAFiles = []string{w.path("server.pem")} },
			"listeners[0].tls.client-ca-files[0]: \"" + w.path("server.pem") + "\": \"CN=localhost\" is not a CA certificate"},
		{"client CA file holding a client certificate", func(c *gateway.Config) { c.Listeners[0].TLS.ClientCAFiles = []string{w.path("clientonly.pem")} },
			`"CN=clientonly" is not a CA certificate`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := w.config()
			tt.change(cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	// The refusals above are OpenSSL's: where it is installed, it refuses
	// the same certificates for a TLS server (-purpose sslserver, as curl
	// and nginx verify one) and accepts their twins.
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Log("no openssl: the cross-check with OpenSSL is skipped")
		return
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{{"server", true}, {"noeku", true}, {"anyeku-server", true}, {"anyeku", false}, {"anyeku-client", false}, {"emptyku", false}} {
		out, err := exec.Command(openssl, "verify", "-CAfile", w.path("ca.pem"), "-purpose", "sslserver", w.path(c.name+".pem")).CombinedOutput()
		if (err == nil) != c.ok {
			t.Errorf("openssl verify -purpose sslserver %s.pem: got error %v (%s), want ok %v", c.name, err, bytes.TrimSpace(out), c.ok)
		}
	}
}

// TestReloadRefusesClientAuthCertificate: a reload to a client-auth only
// server certificate is refused and the old one keeps serving.
func TestReloadRefusesClientAuthCertificate(t *testing.T) {
	w := newWorld(t)
	w.leafWith("clientonly", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, x509.KeyUsageDigitalSignature, false)
	cfg := w.config()
	r := w.start(cfg)
	bad := w.config()
	bad.Listeners[0].TLS.CertFile, bad.Listeners[0].TLS.KeyFile = w.path("clientonly.pem"), w.path("clientonly-key.pem")
	err := r.g.Reload(bad)
	if err == nil || !strings.Contains(err.Error(), "for client authentication only") {
		t.Fatalf("Reload: got %v, want the client-auth refusal", err)
	}
	if code, _ := do(t, r.client(w.web), "GET", r.base+"/api/x", nil, ""); code != 200 {
		t.Fatalf("after the refused reload: got %d, want 200 from the old certificate", code)
	}
}
