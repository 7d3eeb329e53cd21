package gateway_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// sniWorld is a world whose listener serves a.test and b.test with their
// own certificates (listeners[].tls.certificates) besides the default
// (localhost), with check-host on.
type sniWorld struct {
	*world
	a, b *pki.Cert
	cfg  *gateway.Config
}

func newSNIWorld(t *testing.T) *sniWorld {
	w := &sniWorld{world: newWorld(t)}
	// a expires first: the server expiry gauge must show it.
	w.a = pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"a.test"}, NotAfter: time.Now().Add(48 * time.Hour).Truncate(time.Second)})
	w.b = pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"b.test"}})
	w.save(w.a, "a")
	w.save(w.b, "b")
	w.cfg = w.config()
	w.cfg.Listeners[0].TLS.CheckHost = true
	w.cfg.Listeners[0].TLS.Certificates = []gateway.ServerCertificate{
		{CertFile: w.path("a.pem"), KeyFile: w.path("a-key.pem")},
		{CertFile: w.path("b.pem"), KeyFile: w.path("b-key.pem")},
	}
	return w
}

func (w *sniWorld) save(c *pki.Cert, name string) {
	w.t.Helper()
	if err := c.Save(w.dir, name+".pem", name+"-key.pem"); err != nil {
		w.t.Fatal(err)
	}
}

// sniGet sends GET path over a new connection with the given SNI ("" for
// none) and Host, presenting cert (none when nil). The server certificate
// is verified for the SNI unless skipVerify (the test then checks which
// certificate came). It returns the status and the served serial; a
// refused handshake is an error.
func sniGet(t *testing.T, gw *running, sni string, skipVerify bool, host, path string, cert *pki.Cert) (int, *big.Int, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: gw.w.ca.Pool(), ServerName: sni, InsecureSkipVerify: skipVerify}
	if cert != nil {
		tc := cert.TLSCertificate()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("GET", gw.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.TLS.PeerCertificates[0].SerialNumber, nil
}

func TestSNIListener(t *testing.T) {
	t.Parallel()
	w := newSNIWorld(t)
	gw := w.start(w.cfg)
	def, err := pki.LoadCert(w.path("server.pem"), w.path("server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	stranger := pkitest.SPIFFE(t, pkitest.CA(t), "spiffe://test.example/web")

	tests := []struct {
		name       string
		sni, host  string
		path       string
		cert       *pki.Cert
		wantStatus int // 0: the handshake is refused
		wantServed *pki.Cert
	}{
		{name: "first name", sni: "a.test", host: "a.test", path: "/api/x", cert: w.web, wantStatus: 200, wantServed: w.a},
		{name: "second name", sni: "b.test", host: "b.test", path: "/api/x", cert: w.web, wantStatus: 200, wantServed: w.b},
		{name: "default name", sni: "localhost", host: "localhost", path: "/api/x", cert: w.web, wantStatus: 200, wantServed: def},
		{name: "no SNI gets the default", sni: "", host: "localhost", path: "/public/x", wantStatus: 200, wantServed: def},
		{name: "unknown SNI gets the default", sni: "unknown.test", host: "unknown.test", path: "/public/x", wantStatus: 200, wantServed: def},
		// Negative controls: SNI selection bypasses neither client
		// authentication nor authorization nor check-host.
		{name: "first name without a certificate", sni: "a.test", host: "a.test", path: "/api/x", wantStatus: 403, wantServed: w.a},
		{name: "second name, identity not allowed", sni: "b.test", host: "b.test", path: "/admin/x", cert: w.web, wantStatus: 403, wantServed: w.b},
		{name: "second name, untrusted certificate", sni: "b.test", host: "b.test", path: "/api/x", cert: stranger, wantStatus: 0},
		{name: "Host of the other certificate", sni: "a.test", host: "b.test", path: "/api/x", cert: w.web, wantStatus: 421, wantServed: w.a},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Without SNI, or for a name no certificate covers, the default
			// comes, valid or not for it: see which one.
			skip := tt.sni == "" || tt.sni == "unknown.test"
			status, serial, err := sniGet(t, gw, tt.sni, skip, tt.host, tt.path, tt.cert)
			if tt.wantStatus == 0 {
				if err == nil {
					t.Fatalf("got status %d, want the handshake refused", status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.wantStatus {
				t.Errorf("got status %v, want %v", status, tt.wantStatus)
			}
			if got, want := serial, tt.wantServed.Cert.SerialNumber; got.Cmp(want) != 0 {
				t.Errorf("got served serial %v, want %v (%v)", got, want, tt.wantServed.Cert.DNSNames)
			}
		})
	}

	// An unknown name, verified: the client refuses the default, which
	// does not cover it (as a browser would).
	if _, _, err := sniGet(t, gw, "unknown.test", false, "unknown.test", "/public/x", nil); err == nil || !strings.Contains(err.Error(), "not unknown.test") {
		t.Errorf("unknown SNI, verified: got %v, want the default certificate refused by the client", err)
	}

	_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
	want := fmt.Sprintf(`forgeproof_gateway_certificate_not_after_timestamp_seconds{kind="server",listener="127.0.0.1:0"} %v`, float64(w.a.Cert.NotAfter.Unix()))
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s (the earliest-expiring server certificate, a.test's)", want)
	}
}

func TestSNIReload(t *testing.T) {
	t.Parallel()
	w := newSNIWorld(t)
	gw := w.start(w.cfg)
	served := func(sni string) *big.Int {
		t.Helper()
		_, serial, err := sniGet(t, gw, sni, false, sni, "/api/x", w.web)
		if err != nil {
			t.Fatalf("SNI %q: %v", sni, err)
		}
		return serial
	}

	a2 := pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"a.test"}})
	w.save(a2, "a")
	if err := gw.g.Reload(w.cfg); err != nil {
		t.Fatal(err)
	}
	if got, want := served("a.test"), a2.Cert.SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("after reload: got serial %v, want the new %v", got, want)
	}

	// Half a rotation of b: the new certificate, the old key. Refused; the
	// old state keeps serving.
	b2 := pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"b.test"}})
	if err := os.WriteFile(w.path("b.pem"), pki.EncodeCertsPEM(b2.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	err := gw.g.Reload(w.cfg)
	if err == nil {
		t.Fatal("reload with a mismatched pair: got nil, want an error")
	}
	if got, want := err.Error(), "listeners[0].tls.certificates[1].key-file: cannot use"; !strings.Contains(got, want) {
		t.Errorf("got %v, want %q in it", got, want)
	}
	if got, want := served("b.test"), w.b.Cert.SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("after a refused reload: got serial %v, want the old %v", got, want)
	}
	if got, want := served("a.test"), a2.Cert.SerialNumber; got.Cmp(want) != 0 {
		t.Errorf("after a refused reload, other name: got serial %v, want %v", got, want)
	}
}

func TestSNIConfigErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, name := range []string{"a", "b", "a2"} {
		dns := strings.TrimSuffix(name, "2") + ".test"
		if err := pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{dns}}).Save(w.dir, name+".pem", name+"-key.pem"); err != nil {
			t.Fatal(err)
		}
	}
	const base = `listeners:
  - address: "127.0.0.1:0"
    tls:
      client-ca-files: [ca.pem]
%sroutes:
  - {name: svc, allow: {any-verified: true}, upstream: "http://127.0.0.1:9000"}
`
	tests := []struct {
		name string
		keys string // more keys of tls, from line 5
		want string // every error, "" when the config is sound; $F is the config file, $D its folder
	}{
		{"default and certificates", "      cert-file: server.pem\n      key-file: server-key.pem\n      certificates:\n        - {cert-file: a.pem, key-file: a-key.pem}\n", ""},
		{"certificates alone", "      certificates:\n        - {cert-file: a.pem, key-file: a-key.pem}\n        - cert-file: b.pem\n          key-file: b-key.pem\n        - {cert-file: server.pem, key-file: server-key.pem}\n", ""},
		// issue 12: a listener bound to loopback must cover localhost, or
		// local clients refuse its certificate.
		{"certificates alone, none for localhost", "      certificates:\n        - {cert-file: a.pem, key-file: a-key.pem}\n        - cert-file: b.pem\n          key-file: b-key.pem\n",
			`$F:3: listeners[0].tls: the server certificates do not cover "localhost" (they name a.test; b.test), and the listener is bound to loopback (127.0.0.1:0): local clients that connect to localhost refuse them; issue one for localhost ("forgeproof pki issue-server" does by default)`},
		{"no certificate at all", "",
			"$F:3: listeners[0].tls.cert-file: is required (or list the server certificates under certificates)\n" +
				"$F:3: listeners[0].tls.key-file: is required (or list the server certificates under certificates)"},
		{"key-file without cert-file", "      key-file: server-key.pem\n      certificates:\n        - {cert-file: a.pem, key-file: a-key.pem}\n",
			"$F:3: listeners[0].tls.cert-file: is required (or list the server certificates under certificates)"},
		{"every missing file in one run", "      certificates:\n        - {cert-file: nope.pem, key-file: a-key.pem}\n        - {cert-file: b.pem, key-file: nope-key.pem}\n        - {cert-file: b.pem}\n",
			`$F:6: listeners[0].tls.certificates[0].cert-file: cannot read "$D/nope.pem": no such file or directory` + "\n" +
				`$F:7: listeners[0].tls.certificates[1].key-file: cannot read "$D/nope-key.pem": no such file or directory` + "\n" +
				`$F:8: listeners[0].tls.certificates[2].key-file: is required`},
		{"key of another certificate", "      certificates:\n        - {cert-file: a.pem, key-file: a-key.pem}\n        - {cert-file: b.pem, key-file: a-key.pem}\n",
			`$F:7: listeners[0].tls.certificates[1].key-file: cannot use "$D/a-key.pem" as the key of "$D/b.pem": private key does not match public key`},
		{"two certificates for one name", "      certificates:\n        - {cert-file: a.pem, key-file: a-key.pem}\n        - {cert-file: a2.pem, key-file: a2-key.pem}\n",
			`$F:7: listeners[0].tls.certificates[1].cert-file: "$D/a2.pem" and listeners[0].tls.certificates[0].cert-file ("$D/a.pem") both cover DNS name "a.test": give each name one certificate`},
		{"unknown key", "      certificates:\n        - {cert-file: a.pem, key-file: a-key.pem, sni: a.test}\n",
			`$F:6: listeners[0].tls.certificates[0].sni: unknown key (want one of: cert-file, key-file)`},
		{"not a list", "      certificates: a.pem\n",
			`$F:5: listeners[0].tls.certificates: must be a list`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := w.write(fmt.Sprintf("gw%d.yaml", i), []byte(fmt.Sprintf(base, tt.keys)))
			_, err := gateway.LoadConfig(file)
			got := ""
			if err != nil {
				got = err.Error()
			}
			want := strings.NewReplacer("$F", file, "$D", w.dir).Replace(tt.want)
			if got != want {
				t.Errorf("got\n%v\nwant\n%v", got, want)
			}
		})
	}
}
