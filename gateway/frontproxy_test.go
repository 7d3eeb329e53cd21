package gateway_test

// A TLS-terminating proxy in front of the gateway (trusted-forwarders):
// what the gateway does with a forwarded certificate, and real nginx and
// HAProxy run with the configurations of docs/scale-out.md ("Behind a
// TLS-terminating proxy"). Without nginx or haproxy on the PATH their
// tests skip.

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/freeport"
	"github.com/forgeproof/forgeproof/internal/mdtest"
	"github.com/forgeproof/forgeproof/internal/proctest"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

const scaleOutDoc = "../docs/scale-out.md"

// TestForwardedCertificateVerified: a certificate a trusted forwarder
// passes on is verified as a handshake on the listener would be (its
// CAs, CRL, dates), with the chain the header carries: another CA's, an
// expired and a revoked certificate claiming the admin's SPIFFE ID are
// refused with the handshake's reasons; the admin's own is served. An empty
// header (HAProxy's ":%[ssl_c_der,base64]:" without a client
// certificate) is refused, on a public route too. Negative control: a
// forwarder with verified-by-proxy serves all three forgeries, as every
// forwarded certificate was before (found in a review: nginx with
// optional_no_ca in front let a self-signed CN=alice through).
func TestForwardedCertificateVerified(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lb := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/lb")
	foreign := pkitest.SPIFFE(t, pkitest.CA(t), "spiffe://test.example/admin")
	expired := pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: "spiffe://test.example/admin",
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	revoked := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/admin")
	for _, byProxy := range []bool{false, true} {
		t.Run(fmt.Sprint("verified-by-proxy=", byProxy), func(t *testing.T) {
			cfg := w.config()
			cfg.Listeners[0].TLS.CRLFiles = []string{w.crl("crl.pem", revoked.Cert.SerialNumber)}
			cfg.TrustedForwarders = []gateway.Forwarder{{Addresses: []string{"127.0.0.1"}, SPIFFEIDs: []string{"spiffe://test.example/lb"}, Header: new(forwarded.RFC9440), VerifiedByProxy: byProxy}}
			gw := w.start(cfg)
			c := gw.client(lb)
			forged := func(reason string) (int, string) {
				if byProxy {
					return 200, "" // the negative control: believed as sent
				}
				return 403, reason
			}
			for _, tt := range []struct {
				name, path, header, chain string
				wantStatus                int
				wantReason                string
			}{
				{name: "the admin's certificate", path: "/admin/x", header: forwarded.FormatClientCert(w.admin.Cert), wantStatus: 200},
				{name: "another CA's certificate", path: "/admin/x", header: forwarded.FormatClientCert(foreign.Cert)},
				{name: "an expired certificate", path: "/admin/x", header: forwarded.FormatClientCert(expired.Cert)},
				{name: "a certificate the listener's CRL revokes", path: "/admin/x", header: forwarded.FormatClientCert(revoked.Cert)},
				{name: "an empty byte sequence", path: "/public/x", header: "::", wantStatus: 400, wantReason: "forwarded-identity-invalid"},
			} {
				if tt.wantStatus == 0 {
					reason := map[string]string{"another CA's certificate": "unknown-authority", "an expired certificate": "expired", "a certificate the listener's CRL revokes": "revoked"}[tt.name]
					tt.wantStatus, tt.wantReason = forged(reason)
				}
				h := http.Header{"Accept": {"application/json"}, "Client-Cert": {tt.header}}
				if tt.chain != "" {
					h.Set("Client-Cert-Chain", tt.chain)
				}
				status, body := do(t, c, "GET", gw.base+tt.path, h, "")
				if status != tt.wantStatus || tt.wantReason != "" && !strings.Contains(body, `"reason":"`+tt.wantReason+`"`) {
					t.Errorf("%s: got %d %s, want %d %q", tt.name, status, body, tt.wantStatus, tt.wantReason)
				}
			}
		})
	}
	// The same certificates on the connection are refused by the
	// handshake, as their forwarded copies are.
	gw := w.start(w.config())
	for name, cert := range map[string]*pki.Cert{"another CA's": foreign, "expired": expired} {
		if _, err := gw.client(cert).Get(gw.base + "/admin/x"); err == nil {
			t.Errorf("%s certificate on the connection: served, want the handshake refused", name)
		}
	}
}

// frontRig is a gateway behind a real proxy, as docs/scale-out.md sets
// them up.
type frontRig struct {
	t     *testing.T
	w     *world
	gw    *running
	base  string // the proxy's https://localhost:PORT
	admin *pki.Cert
	// foreign (another CA), revoked (in the CRL both read) and expired
	// claim the admin's SPIFFE ID.
	foreign, revoked, expired *pki.Cert
}

func newFrontRig(t *testing.T, header forwarded.Format) *frontRig {
	w := newWorld(t)
	r := &frontRig{t: t, w: w, admin: w.admin}
	r.foreign = pkitest.SPIFFE(t, pkitest.CA(t), "spiffe://test.example/admin")
	r.revoked = pkitest.SPIFFE(t, w.ca, "spiffe://test.example/admin")
	r.expired = pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: "spiffe://test.example/admin",
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	lb := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/lb")
	w.pki.SaveCert(lb, "edge.pem", "edge-key.pem")
	for _, pair := range [][3]string{{"server-combined.pem", "server.pem", "server-key.pem"}, {"edge-combined.pem", "edge.pem", "edge-key.pem"}} {
		var b []byte
		for _, f := range pair[1:] {
			data, err := os.ReadFile(w.path(f))
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, data...)
		}
		w.write(pair[0], b)
	}
	cfg := w.config()
	cfg.Listeners[0].TLS.CRLFiles = []string{w.crl("crl.pem", r.revoked.Cert.SerialNumber)}
	cfg.TrustedForwarders = []gateway.Forwarder{{Addresses: []string{"127.0.0.1"}, SPIFFEIDs: []string{"spiffe://test.example/lb"}, Header: &header}}
	r.gw = w.start(cfg)
	return r
}

// gatewayAddr is the gateway listener's host:port.
func (r *frontRig) gatewayAddr() string { return strings.TrimPrefix(r.gw.base, "https://") }

// startProxy runs bin with args until the test ends and waits until addr
// accepts connections; without bin on the PATH the test skips.
func startProxy(t *testing.T, addr, bin string, args ...string) {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("%s is not installed", bin)
	}
	proctest.Start(t, addr, exec.Command(path, args...))
}

func loopbackAddr(t *testing.T) string {
	t.Helper()
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// send asks the proxy for path as cert's holder (no certificate when
// nil), with the extra headers h.
func (r *frontRig) send(cert *pki.Cert, path string, h http.Header) (int, string, error) {
	cfg := &tls.Config{RootCAs: r.w.ca.Pool(), ServerName: "localhost"}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cert == nil {
			return &tls.Certificate{}, nil
		}
		c := cert.TLSCertificate()
		return &c, nil
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("GET", r.base+path, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), nil
}

// check runs the attacks every front proxy must stop with the docs'
// configuration.
func (r *frontRig) check() {
	t := r.t
	t.Helper()
	forged := http.Header{
		"Client-Cert":                {forwarded.FormatClientCert(r.admin.Cert)},
		"X-Forwarded-Client-Cert":    {forwarded.FormatXFCC([]forwarded.XFCCElement{{Cert: r.admin.Cert}})},
		"Forgeproof-Client-Identity": {"spiffe://test.example/admin"},
	}
	// The admin passes, with its own certificate forwarded.
	status, body, err := r.send(r.admin, "/admin/x", nil)
	if err != nil || status != 200 {
		t.Fatalf("admin: %d %s %v, want 200", status, body, err)
	}
	if got := mustJSON(t, body).Header["Client-Cert"]; len(got) != 1 || got[0] != forwarded.FormatClientCert(r.admin.Cert) {
		t.Errorf("admin: upstream got Client-Cert %q, want the admin's", got)
	}
	// No certificate: a public route passes (no empty header), and the
	// upstream never sees the client's identity headers.
	status, body, err = r.send(nil, "/public/x", forged)
	if err != nil || status != 200 {
		t.Fatalf("no certificate, public route: %d %s %v, want 200", status, body, err)
	}
	for _, name := range []string{"Client-Cert", "X-Forwarded-Client-Cert", "Forgeproof-Client-Identity"} {
		if v := mustJSON(t, body).Header[name]; len(v) > 0 {
			t.Errorf("no certificate: upstream got the client's %s %q", name, v)
		}
	}
	// A client's own identity headers are never believed.
	if status, body, err = r.send(nil, "/admin/x", forged); err != nil || status != 403 || !strings.Contains(body, "identity-missing") {
		t.Errorf("no certificate, forged headers: %d %s %v, want 403 identity-missing", status, body, err)
	}
	if status, body, err = r.send(r.w.web, "/admin/x", forged); err != nil || status != 403 || !strings.Contains(body, "spiffe-id-denied") {
		t.Errorf("web with forged admin headers: %d %s %v, want 403 spiffe-id-denied", status, body, err)
	}
	// Certificates the gateway would refuse on a connection never reach
	// it through the proxy: the proxy refuses them.
	for name, cert := range map[string]*pki.Cert{"another CA's": r.foreign, "revoked": r.revoked, "expired": r.expired} {
		if status, body, err := r.send(cert, "/admin/x", nil); err == nil && status == 200 {
			t.Errorf("%s certificate through the proxy: served (%s), want refused", name, body)
		}
	}
}

// TestNginxInFront: nginx with docs/scale-out.md's server block.
func TestNginxInFront(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx is not installed")
	}
	r := newFrontRig(t, forwarded.XFCC)
	addr := loopbackAddr(t)
	server := mdtest.Fill(t, mdtest.OneBlock(t, scaleOutDoc, "nginx"),
		"listen 443 ssl;", "listen "+addr+" ssl;",
		"bank.example.com", "localhost",
		"/etc/nginx/tls/", r.w.dir+"/",
		"10.0.0.11:8443", r.gatewayAddr(),
		"gateway.internal", "localhost")
	dir := t.TempDir()
	conf := proctest.NginxConf(dir, server)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startProxy(t, addr, "nginx", "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	r.base = "https://localhost:" + addr[strings.LastIndexByte(addr, ':')+1:]
	r.check()
}

// TestHAProxyInFront: HAProxy with docs/scale-out.md's configuration.
func TestHAProxyInFront(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Skip("haproxy is not installed")
	}
	r := newFrontRig(t, forwarded.RFC9440)
	addr := loopbackAddr(t)
	cfg := mdtest.Fill(t, mdtest.OneBlock(t, scaleOutDoc, "haproxy"),
		"bind :443 ssl", "bind "+addr+" ssl",
		"/etc/haproxy/tls/", r.w.dir+"/",
		"10.0.0.11:8443", r.gatewayAddr(),
		"gateway.internal", "localhost")
	cfg = "defaults\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n" + cfg + "\n"
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startProxy(t, addr, "haproxy", "-db", "-f", path)
	r.base = "https://localhost:" + addr[strings.LastIndexByte(addr, ':')+1:]
	r.check()
}
