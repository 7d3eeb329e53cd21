package gateway_test

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// gatewayID is the SPIFFE ID of the certificate the gateway presents to
// its upstreams in these tests.
const gatewayID = "spiffe://test.example/gateway"

// tlsUpstream is an https service on loopback built with forgeproof's own
// mtls package, as a Go service behind the gateway would be: it verifies
// the certificate the gateway presents (mtls.Server), stores identities
// with mtls.Server.Handler and, when configured, accepts forwarded
// identities with forwarded.Trust. It answers with what it saw, as
// JSON (tlsSeen), and counts the connections it accepted.
type tlsUpstream struct {
	URL   string
	conns atomic.Int32
}

type tlsUpstreamOptions struct {
	cert      *pki.Cert // the upstream's server certificate
	clientCAs []*x509.Certificate
	auth      mtls.ClientAuthMode
	forwarded *forwarded.Trust // nil: connection identities only
}

// tlsSeen is what the upstream saw of one request. A request with
// ?close asks the upstream to close the connection after answering.
type tlsSeen struct {
	PeerSerial string `json:"peer_serial"` // of the certificate the gateway presented; "" for none
	PeerID     string `json:"peer_id"`     // its SPIFFE ID
	ServerName string `json:"server_name"` // the SNI the gateway sent
	Identity   string `json:"identity"`    // SPIFFE ID of mtls.IdentityFromContext; "" for none
	Source     string `json:"source"`      // "connection" or "forwarded"; "" for none
	ClientCert bool   `json:"client_cert"` // a Client-Cert header reached the handler
}

func newTLSUpstream(t testing.TB, o tlsUpstreamOptions) *tlsUpstream {
	t.Helper()
	tc := o.cert.TLSCertificate()
	srv, err := mtls.NewServer(mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{Certificate: &tc}},
		ClientCAs:    []mtls.Source{{Data: pki.EncodeCertsPEM(o.clientCAs...)}},
		ClientAuth:   o.auth,
		NextProtos:   []string{"http/1.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s tlsSeen
		s.ServerName = r.TLS.ServerName
		if pc := r.TLS.PeerCertificates; len(pc) > 0 {
			s.PeerSerial = pc[0].SerialNumber.String()
			s.PeerID = mtls.NewIdentity(pc[0]).SPIFFEID.String()
		}
		if id, ok := mtls.IdentityFromContext(r.Context()); ok {
			s.Identity, s.Source = id.SPIFFEID.String(), identitySource(id)
		}
		s.ClientCert = r.Header.Get(forwarded.HeaderClientCert) != ""
		if r.URL.Query().Has("close") {
			w.Header().Set("Connection", "close")
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	})
	if o.forwarded != nil {
		h = o.forwarded.Handler(h)
	}
	u := &tlsUpstream{}
	hs := &http.Server{
		Handler:           srv.Handler(h),
		ConnContext:       srv.ConnContext,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes are expected here
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				u.conns.Add(1)
			}
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(tls.NewListener(ln, srv.TLSConfig()))
	t.Cleanup(func() { hs.Close() })
	u.URL = "https://" + ln.Addr().String()
	return u
}

// upstreamCert is a server certificate for an upstream at 127.0.0.1.
func (w *world) upstreamCert() *pki.Cert {
	return pkitest.ServerWith(w.t, w.ca, pki.ServerOptions{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
}

// save writes c and its key as name.pem and name-key.pem and returns
// their paths.
func (w *world) save(name string, c *pki.Cert) (certFile, keyFile string) {
	w.t.Helper()
	if err := c.Save(w.dir, name+".pem", name+"-key.pem"); err != nil {
		w.t.Fatal(err)
	}
	return w.path(name + ".pem"), w.path(name + "-key.pem")
}

// seen sends a request through the gateway and decodes what the upstream
// saw; it fails the test unless the answer is 200.
func seen(t testing.TB, c *http.Client, url string) tlsSeen {
	t.Helper()
	status, body := do(t, c, "GET", url, nil, "")
	if status != 200 {
		t.Fatalf("GET %s: got status %d, want 200 (body %s)", url, status, body)
	}
	var s tlsSeen
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("upstream answer %q: %v", body, err)
	}
	return s
}

// TestUpstreamClientCertificate: an upstream that requires a client
// certificate refuses the gateway without upstream-cert-file (502 with a
// problem body) and sees the gateway's certificate with it.
func TestUpstreamClientCertificate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := newTLSUpstream(t, tlsUpstreamOptions{cert: w.upstreamCert(), clientCAs: []*x509.Certificate{w.ca.Cert}, auth: mtls.RequireClientCert})
	gwCert := pkitest.SPIFFE(t, w.ca, gatewayID)
	gwFile, gwKey := w.save("gateway", gwCert)
	strangerFile, strangerKey := w.save("stranger", pkitest.SPIFFE(t, pkitest.CA(t), gatewayID))

	tests := []struct {
		name              string
		certFile, keyFile string
		wantStatus        int
		wantSerial        string
	}{
		{"negative control: no upstream-cert-file, the upstream refuses the handshake", "", "", 502, ""},
		{"upstream-cert-file: the upstream sees the gateway's certificate", gwFile, gwKey, 200, gwCert.Cert.SerialNumber.String()},
		{"a certificate from a CA the upstream does not trust", strangerFile, strangerKey, 502, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := w.config()
			cfg.Routes[0].Upstream = up.URL
			cfg.Routes[0].UpstreamCAFile = w.path("ca.pem")
			cfg.Routes[0].UpstreamCertFile, cfg.Routes[0].UpstreamKeyFile = tt.certFile, tt.keyFile
			gw := w.start(cfg)
			c := gw.client(w.web)
			if tt.wantStatus != 200 {
				req, _ := http.NewRequest("GET", gw.base+"/api/x", nil)
				req.Header.Set("Accept", "application/json")
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.wantStatus {
					t.Fatalf("got status %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
				}
				if got, want := resp.Header.Get("Content-Type"), "application/problem+json"; got != want {
					t.Errorf("got Content-Type %q, want %q", got, want)
				}
				if !strings.Contains(string(body), `"reason":"upstream-unavailable"`) {
					t.Errorf("got body %s, want reason upstream-unavailable", body)
				}
				return
			}
			s := seen(t, c, gw.base+"/api/x")
			if s.PeerSerial != tt.wantSerial || s.PeerID != gatewayID {
				t.Errorf("upstream saw serial %q (%q), want %q (%q)", s.PeerSerial, s.PeerID, tt.wantSerial, gatewayID)
			}
		})
	}
}

// TestForwardedIdentityByGatewayCertificate is the flagship architecture
// end to end: the gateway terminates the client's mTLS and forwards its
// identity to a Go service whose forwarded.Trust trusts the
// gateway by its certificate alone (no address). The negative controls:
// a gateway presenting another verified certificate, or none, gets its
// forwarded headers deleted, and the service never sees the client's
// identity.
func TestForwardedIdentityByGatewayCertificate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	trustGateway, err := mtls.AuthorizeSPIFFEID(gatewayID)
	if err != nil {
		t.Fatal(err)
	}
	up := newTLSUpstream(t, tlsUpstreamOptions{
		cert:      w.upstreamCert(),
		clientCAs: []*x509.Certificate{w.ca.Cert},
		auth:      mtls.VerifyClientCertIfGiven,
		forwarded: &forwarded.Trust{TrustForwarder: trustGateway},
	})
	trustedFile, trustedKey := w.save("gateway", pkitest.SPIFFE(t, w.ca, gatewayID))
	// Verified by the same CA, so the TLS handshake succeeds: only the
	// forwarder check tells it apart.
	intruderFile, intruderKey := w.save("intruder", pkitest.SPIFFE(t, w.ca, "spiffe://test.example/intruder"))
	forged := forwarded.FormatClientCert(w.admin.Cert)

	tests := []struct {
		name              string
		certFile, keyFile string
		client            *pki.Cert
		path              string
		header            http.Header
		wantIdentity      string
		wantSource        string
		wantClientCert    bool
	}{
		{"trusted gateway forwards web", trustedFile, trustedKey, w.web, "/api/x", nil, "spiffe://test.example/web", "forwarded", true},
		{"trusted gateway forwards admin", trustedFile, trustedKey, w.admin, "/admin/x", nil, "spiffe://test.example/admin", "forwarded", true},
		{"trusted gateway, client without a certificate: no identity, not the gateway's", trustedFile, trustedKey, nil, "/public/x", nil, "", "", false},
		{"trusted gateway, client forging Client-Cert: the gateway deletes it", trustedFile, trustedKey, nil, "/public/x", http.Header{"Client-Cert": {forged}}, "", "", false},
		{"negative control: untrusted gateway certificate, headers deleted", intruderFile, intruderKey, w.web, "/api/x", nil, "spiffe://test.example/intruder", "connection", false},
		{"negative control: no gateway certificate, headers deleted", "", "", w.web, "/api/x", nil, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := w.config()
			for i := range cfg.Routes {
				r := &cfg.Routes[i]
				r.Upstream, r.UpstreamCAFile = up.URL, w.path("ca.pem")
				r.UpstreamCertFile, r.UpstreamKeyFile = tt.certFile, tt.keyFile
			}
			gw := w.start(cfg)
			status, body := do(t, gw.client(tt.client), "GET", gw.base+tt.path, tt.header, "")
			if status != 200 {
				t.Fatalf("got status %d, want 200 (body %s)", status, body)
			}
			var s tlsSeen
			if err := json.Unmarshal([]byte(body), &s); err != nil {
				t.Fatalf("upstream answer %q: %v", body, err)
			}
			if s.Identity != tt.wantIdentity || s.Source != tt.wantSource {
				t.Errorf("got identity %q (source %q), want %q (source %q)", s.Identity, s.Source, tt.wantIdentity, tt.wantSource)
			}
			if s.ClientCert != tt.wantClientCert {
				t.Errorf("got Client-Cert at the handler %v, want %v", s.ClientCert, tt.wantClientCert)
			}
		})
	}
}

// TestUpstreamServerName: an upstream at 127.0.0.1 whose certificate
// names only svc.internal is refused unless the route names it in
// upstream-server-name, which is then also the SNI; a wrong name is
// refused.
func TestUpstreamServerName(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := newTLSUpstream(t, tlsUpstreamOptions{
		cert:      pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"svc.internal"}}),
		clientCAs: []*x509.Certificate{w.ca.Cert},
		auth:      mtls.VerifyClientCertIfGiven,
	})
	tests := []struct {
		name       string
		serverName string
		wantStatus int
		wantSNI    string
	}{
		{"negative control: the URL's host 127.0.0.1 is not on the certificate", "", 502, ""},
		{"upstream-server-name matches the certificate", "svc.internal", 200, "svc.internal"},
		{"upstream-server-name in another case", "SVC.Internal", 200, "svc.internal"},
		{"a name the certificate does not have", "other.internal", 502, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := w.config()
			cfg.Routes[0].Upstream = up.URL
			cfg.Routes[0].UpstreamCAFile = w.path("ca.pem")
			cfg.Routes[0].UpstreamServerName = tt.serverName
			gw := w.start(cfg)
			status, body := do(t, gw.client(w.web), "GET", gw.base+"/api/x", http.Header{"Accept": {"application/json"}}, "")
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if status != 200 {
				if !strings.Contains(body, `"reason":"upstream-unavailable"`) {
					t.Errorf("got body %s, want reason upstream-unavailable", body)
				}
				return
			}
			var s tlsSeen
			if err := json.Unmarshal([]byte(body), &s); err != nil {
				t.Fatal(err)
			}
			if s.ServerName != tt.wantSNI {
				t.Errorf("got SNI %q, want %q", s.ServerName, tt.wantSNI)
			}
		})
	}
}

// TestUpstreamTransportSharing: routes with the same upstream TLS
// settings share connections; a route with another client certificate or
// server name gets connections of its own, presenting its own
// certificate.
func TestUpstreamTransportSharing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gwCert := pkitest.SPIFFE(t, w.ca, gatewayID)
	gwFile, gwKey := w.save("gateway", gwCert)
	otherCert := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/gateway-b")
	otherFile, otherKey := w.save("gateway-b", otherCert)
	upCert := pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"svc.internal"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})

	tests := []struct {
		name       string
		b          func(r *gateway.Route)
		wantConns  int32
		wantSerial string // of route b's certificate
	}{
		{"same settings: one connection", func(*gateway.Route) {}, 1, gwCert.Cert.SerialNumber.String()},
		{"another server name: a connection of its own", func(r *gateway.Route) { r.UpstreamServerName = "svc.internal" }, 2, gwCert.Cert.SerialNumber.String()},
		{"another client certificate: a connection of its own with that certificate", func(r *gateway.Route) {
			r.UpstreamCertFile, r.UpstreamKeyFile = otherFile, otherKey
		}, 2, otherCert.Cert.SerialNumber.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newTLSUpstream(t, tlsUpstreamOptions{cert: upCert, clientCAs: []*x509.Certificate{w.ca.Cert}, auth: mtls.RequireClientCert})
			route := func(name string) gateway.Route {
				return gateway.Route{
					Name: name, PathPrefix: "/" + name, Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true},
					UpstreamCAFile: w.path("ca.pem"), UpstreamCertFile: gwFile, UpstreamKeyFile: gwKey,
				}
			}
			cfg := w.config()
			cfg.Routes = []gateway.Route{route("a"), route("b")}
			tt.b(&cfg.Routes[1])
			gw := w.start(cfg)
			c := gw.client(w.web)
			if s := seen(t, c, gw.base+"/a/x"); s.PeerSerial != gwCert.Cert.SerialNumber.String() {
				t.Errorf("route a: upstream saw serial %q, want %q", s.PeerSerial, gwCert.Cert.SerialNumber)
			}
			if s := seen(t, c, gw.base+"/b/x"); s.PeerSerial != tt.wantSerial {
				t.Errorf("route b: upstream saw serial %q, want %q", s.PeerSerial, tt.wantSerial)
			}
			if got := up.conns.Load(); got != tt.wantConns {
				t.Errorf("got %d upstream connections, want %d", got, tt.wantConns)
			}
		})
	}
}

// TestUpstreamCertificateReload: a reload picks up a rotated upstream
// certificate (new connections present it; idle ones of the old
// configuration are closed), files are read at reload and not per
// connection, and a failed reload (a key that does not match) keeps the
// loaded certificate serving.
func TestUpstreamCertificateReload(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := newTLSUpstream(t, tlsUpstreamOptions{cert: w.upstreamCert(), clientCAs: []*x509.Certificate{w.ca.Cert}, auth: mtls.RequireClientCert})
	first := pkitest.SPIFFE(t, w.ca, gatewayID)
	second := pkitest.SPIFFE(t, w.ca, gatewayID)
	certFile, keyFile := w.save("gateway", first)
	cfg := w.config()
	cfg.Routes[0].Upstream, cfg.Routes[0].UpstreamCAFile = up.URL, w.path("ca.pem")
	cfg.Routes[0].UpstreamCertFile, cfg.Routes[0].UpstreamKeyFile = certFile, keyFile
	gw := w.start(cfg)
	c := gw.client(w.web)
	url := gw.base + "/api/x"

	check := func(step string, s tlsSeen, want *pki.Cert, wantConns int32) {
		t.Helper()
		if s.PeerSerial != want.Cert.SerialNumber.String() {
			t.Errorf("%s: upstream saw serial %q, want %q", step, s.PeerSerial, want.Cert.SerialNumber)
		}
		if got := up.conns.Load(); got != wantConns {
			t.Errorf("%s: got %d upstream connections, want %d", step, got, wantConns)
		}
	}
	check("first request", seen(t, c, url), first, 1)
	check("keep-alive", seen(t, c, url), first, 1)

	w.save("gateway", second) // rotated on disk, not reloaded yet
	check("rotated, not reloaded: same connection", seen(t, c, url+"?close"), first, 1)
	check("rotated, not reloaded: new connection, loaded certificate", seen(t, c, url), first, 2)

	if err := gw.g.Reload(cfg); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	check("reloaded: idle connection closed, new one presents the new certificate", seen(t, c, url), second, 3)

	// A key that is not the certificate's: the reload is refused and
	// names the key; the certificate loaded before keeps being presented,
	// on new connections too.
	other := pkitest.SPIFFE(t, w.ca, gatewayID)
	key, err := pki.EncodeKeyPEM(other.Key)
	if err != nil {
		t.Fatal(err)
	}
	w.write("gateway-key.pem", key)
	err = gw.g.Reload(cfg)
	var errs gateway.ConfigErrors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Key != "routes[0].upstream-key-file" {
		t.Fatalf("Reload with a mismatched key: got %v, want one error at routes[0].upstream-key-file", err)
	}
	check("failed reload: same connection", seen(t, c, url+"?close"), second, 3)
	check("failed reload: new connection, still the loaded certificate", seen(t, c, url), second, 4)
}

// TestUpstreamTLSConfigErrors pins the message of every upstream TLS
// problem, at its file, line and key, and keeps an accepted twin for
// each kind of certificate.
func TestUpstreamTLSConfigErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.save("gw", pkitest.SPIFFE(t, w.ca, gatewayID))
	w.save("other", pkitest.SPIFFE(t, w.ca, gatewayID))
	w.save("expired", pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: gatewayID,
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)}))
	w.save("future", pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: gatewayID,
		NotBefore: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}))
	w.save("both-ekus", pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: gatewayID,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}))
	w.save("code-signing", pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: gatewayID,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning, x509.ExtKeyUsageEmailProtection}}))
	w.save("no-ekus", noEKUCert(t, w.ca))
	w.save("any-eku", pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: gatewayID,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}))
	w.save("any-eku-client", pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: gatewayID,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageAny, x509.ExtKeyUsageClientAuth}}))
	w.leafEdited("empty-ku", func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		c.ExtraExtensions = []pkix.Extension{emptyKeyUsage}
	})
	// A CA bundle with a key pasted in: refused, as mtls refuses it.
	caPEM, err := os.ReadFile(w.path("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(w.path("gw-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	w.write("ca-and-key.pem", append(caPEM, keyPEM...))

	const base = `listeners:
  - address: "127.0.0.1:0"
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem]}
routes:
  - name: svc
    allow: {any-verified: true}
    upstream: %s
%s`
	const https = "https://127.0.0.1:8443"
	tests := []struct {
		name     string
		upstream string
		keys     string // more keys of the route, from line 8
		want     string // every error, "" when the config is sound; $F is the config file, $D its folder
	}{
		{"client certificate and key", https, "    upstream-cert-file: gw.pem\n    upstream-key-file: gw-key.pem\n", ""},
		{"with CA file and server name", https, "    upstream-ca-file: ca.pem\n    upstream-cert-file: gw.pem\n    upstream-key-file: gw-key.pem\n    upstream-server-name: svc.internal\n", ""},
		{"server name alone", https, "    upstream-server-name: svc.internal\n", ""},
		{"server name as an IP address", https, "    upstream-server-name: 10.0.0.1\n", ""},
		{"certificate with serverAuth and clientAuth", https, "    upstream-cert-file: both-ekus.pem\n    upstream-key-file: both-ekus-key.pem\n", ""},
		{"certificate without extended key usages", https, "    upstream-cert-file: no-ekus.pem\n    upstream-key-file: no-ekus-key.pem\n", ""},
		{"certificate with anyExtendedKeyUsage and clientAuth", https, "    upstream-cert-file: any-eku-client.pem\n    upstream-key-file: any-eku-client-key.pem\n", ""},

		{"certificate without key", https, "    upstream-cert-file: gw.pem\n",
			`$F:5: routes[0].upstream-key-file: is required with upstream-cert-file: the private key of the certificate presented to the upstream`},
		{"key without certificate", https, "    upstream-key-file: gw-key.pem\n",
			`$F:5: routes[0].upstream-cert-file: is required with upstream-key-file: the certificate presented to the upstream`},
		{"client certificate for an http upstream", "http://127.0.0.1:9000", "    upstream-cert-file: gw.pem\n    upstream-key-file: gw-key.pem\n",
			`$F:8: routes[0].upstream-cert-file: is only for https upstreams, and "http://127.0.0.1:9000" is not one`},
		{"server name for an http upstream", "http://127.0.0.1:9000", "    upstream-server-name: svc.internal\n",
			`$F:8: routes[0].upstream-server-name: is only for https upstreams, and "http://127.0.0.1:9000" is not one`},
		{"missing certificate file", https, "    upstream-cert-file: nope.pem\n    upstream-key-file: gw-key.pem\n",
			`$F:8: routes[0].upstream-cert-file: cannot read "$D/nope.pem": no such file or directory`},
		{"missing key file", https, "    upstream-cert-file: gw.pem\n    upstream-key-file: nope-key.pem\n",
			`$F:9: routes[0].upstream-key-file: cannot read "$D/nope-key.pem": no such file or directory`},
		{"missing certificate and key files", https, "    upstream-cert-file: nope.pem\n    upstream-key-file: nope-key.pem\n",
			`$F:8: routes[0].upstream-cert-file: cannot read "$D/nope.pem": no such file or directory` + "\n" +
				`$F:9: routes[0].upstream-key-file: cannot read "$D/nope-key.pem": no such file or directory`},
		{"certificate file holding a key", https, "    upstream-cert-file: gw-key.pem\n    upstream-key-file: gw-key.pem\n",
			`$F:8: routes[0].upstream-cert-file: "$D/gw-key.pem": PEM block 1 is a private key, want a certificate: keep keys out of certificate files`},
		{"CA file with a key pasted in", https, "    upstream-ca-file: ca-and-key.pem\n",
			`$F:8: routes[0].upstream-ca-file: "$D/ca-and-key.pem": PEM block 2 is a private key, want a certificate: keep keys out of certificate files`},
		{"key file holding a certificate", https, "    upstream-cert-file: gw.pem\n    upstream-key-file: gw.pem\n",
			`$F:9: routes[0].upstream-key-file: cannot use "$D/gw.pem" as the key of "$D/gw.pem": found a certificate rather than a key in the PEM for the private key`},
		{"key of another certificate", https, "    upstream-cert-file: gw.pem\n    upstream-key-file: other-key.pem\n",
			`$F:9: routes[0].upstream-key-file: cannot use "$D/other-key.pem" as the key of "$D/gw.pem": private key does not match public key`},
		{"expired certificate", https, "    upstream-cert-file: expired.pem\n    upstream-key-file: expired-key.pem\n",
			`$F:8: routes[0].upstream-cert-file: the certificate in "$D/expired.pem" expired at 2020-01-02T00:00:00Z: the upstream would refuse it`},
		{"certificate not valid yet", https, "    upstream-cert-file: future.pem\n    upstream-key-file: future-key.pem\n",
			`$F:8: routes[0].upstream-cert-file: the certificate in "$D/future.pem" is not valid until 2099-01-01T00:00:00Z: the upstream would refuse it`},
		{"server certificate (serverAuth only)", https, "    upstream-cert-file: server.pem\n    upstream-key-file: server-key.pem\n",
			`$F:8: routes[0].upstream-cert-file: the certificate in "$D/server.pem" is not for client authentication (its extended key usages are serverAuth): the upstream would refuse it; issue one with clientAuth`},
		{"certificate with anyExtendedKeyUsage only", https, "    upstream-cert-file: any-eku.pem\n    upstream-key-file: any-eku-key.pem\n",
			`$F:8: routes[0].upstream-cert-file: the certificate in "$D/any-eku.pem" lists anyExtendedKeyUsage but not clientAuth (its extended key usages are anyExtendedKeyUsage): Go upstreams accept it, OpenSSL-based ones (nginx, HAProxy) and forgeproof refuse it ("unsuitable certificate purpose"); issue one with clientAuth`},
		{"certificate with a key usage extension with no bit set", https, "    upstream-cert-file: empty-ku.pem\n    upstream-key-file: empty-ku-key.pem\n",
			`$F:8: routes[0].upstream-cert-file: the certificate in "$D/empty-ku.pem" has a key usage extension with no bit set, which RFC 5280 §4.2.1.3 forbids: OpenSSL-based upstreams (nginx, HAProxy) and forgeproof refuse it; issue one whose key usage allows digitalSignature`},
		{"certificate for other usages", https, "    upstream-cert-file: code-signing.pem\n    upstream-key-file: code-signing-key.pem\n",
			`$F:8: routes[0].upstream-cert-file: the certificate in "$D/code-signing.pem" is not for client authentication (its extended key usages are codeSigning, emailProtection): the upstream would refuse it; issue one with clientAuth`},
		{"server name with a port", https, "    upstream-server-name: svc.internal:8443\n",
			`$F:8: routes[0].upstream-server-name: invalid server name "svc.internal:8443": leave the port out`},
		{"server name as a URL", https, "    upstream-server-name: https://svc.internal\n",
			`$F:8: routes[0].upstream-server-name: invalid server name "https://svc.internal": want a host name such as "api.example.com", not a URL`},
		{"server name with a bad character", https, "    upstream-server-name: svc!.internal\n",
			`$F:8: routes[0].upstream-server-name: invalid server name "svc!.internal": want a DNS name or an IP address`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := w.write(fmt.Sprintf("gw%d.yaml", i), []byte(fmt.Sprintf(base, tt.upstream, tt.keys)))
			_, err := gateway.LoadConfig(file)
			got := ""
			if err != nil {
				got = err.Error()
			}
			want := strings.NewReplacer("$F", file, "$D", w.dir).Replace(tt.want)
			if got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// noEKUCert is a client certificate without the extended key usage
// extension (pki always adds one), which allows any usage.
func noEKUCert(t testing.TB, ca *pki.CA) *pki.Cert {
	t.Helper()
	key, err := pki.GenerateKey(pki.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242),
		Subject:      pkix.Name{CommonName: "no-ekus"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &pki.Cert{Cert: cert, Key: key, Issuer: ca.Cert}
}

// FuzzUpstreamServerName: any upstream-server-name is refused or
// accepted without a panic, and an accepted one is a bare host name
// (nothing that could smuggle a port, a path or credentials).
func FuzzUpstreamServerName(f *testing.F) {
	for _, s := range []string{"svc.internal", "SVC.Internal.", "10.0.0.1", "[::1]", "::1", "svc.internal:8443", "https://svc", "a b", "svc!.x", "", "..", "x_y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		cfg := &gateway.Config{Routes: []gateway.Route{{Upstream: "https://127.0.0.1:8443", UpstreamServerName: name, Allow: gateway.Allow{AnyVerified: true}}}}
		err := cfg.Validate()
		var errs gateway.ConfigErrors
		if !errors.As(err, &errs) {
			t.Fatalf("got error %T, want gateway.ConfigErrors (there is no listener)", err)
		}
		for _, e := range errs {
			if e.Key == "routes[0].upstream-server-name" {
				return // refused
			}
		}
		if name != "" && strings.ContainsAny(name, ":/@?# \t\r\n%") && !isIPv6(name) {
			t.Errorf("server name %q was accepted", name)
		}
	})
}

func isIPv6(s string) bool {
	ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	return ip != nil && strings.Contains(s, ":")
}

// BenchmarkUpstreamClientCertPaired measures what presenting a client
// certificate to an https upstream costs: one request through a route
// without upstream-cert-file and one through a route with it, in turn,
// to the same upstream (which asks for a certificate and verifies it when
// sent), and reports the ratio of their total times. "keepalive" reuses
// upstream connections; "new-conn" has the upstream close each one, so
// every request pays a full upstream TLS 1.3 handshake (ECDSA P-256).
//
//	go test -run '^$' -bench BenchmarkUpstreamClientCertPaired -benchtime 2000x ./gateway
func BenchmarkUpstreamClientCertPaired(b *testing.B) {
	w := newWorld(b)
	up := newTLSUpstream(b, tlsUpstreamOptions{cert: w.upstreamCert(), clientCAs: []*x509.Certificate{w.ca.Cert}, auth: mtls.VerifyClientCertIfGiven})
	certFile, keyFile := w.save("gateway", pkitest.SPIFFE(b, w.ca, gatewayID))
	route := func(name string) gateway.Route {
		return gateway.Route{Name: name, PathPrefix: "/" + name, Upstream: up.URL, UpstreamCAFile: w.path("ca.pem"), Allow: gateway.Allow{AnyVerified: true}}
	}
	cfg := w.config()
	cfg.Routes = []gateway.Route{route("tls"), route("mtls")}
	cfg.Routes[1].UpstreamCertFile, cfg.Routes[1].UpstreamKeyFile = certFile, keyFile
	gw := w.start(cfg)
	for _, mode := range []struct{ name, query string }{{"keepalive", ""}, {"new-conn", "?close"}} {
		b.Run(mode.name, func(b *testing.B) {
			c := gw.client(w.web)
			var tTLS, tMTLS time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if err := benchRequest(c, "GET", gw.base+"/tls/x"+mode.query); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if err := benchRequest(c, "GET", gw.base+"/mtls/x"+mode.query); err != nil {
					b.Fatal(err)
				}
				tTLS += t1.Sub(t0)
				tMTLS += time.Since(t1)
			}
			b.ReportMetric(float64(tTLS.Nanoseconds())/float64(b.N), "ns/tls-req")
			b.ReportMetric(float64(tMTLS.Nanoseconds())/float64(b.N), "ns/mtls-req")
			b.ReportMetric(float64(tMTLS)/float64(tTLS), "mtls/tls")
		})
	}
}

// A route presents a client certificate to its https upstream with
// upstream-cert-file and upstream-key-file, and verifies the name in
// upstream-server-name on the upstream's certificate. Mistakes are found
// when the config is loaded, not at the first request.
func ExampleRoute_upstreamMTLS() {
	yaml := `
routes:
  - name: payments
    upstream: https://10.0.0.5:8443
    upstream-cert-file: gateway.pem
    upstream-server-name: payments.internal:8443
    allow: {spiffe-ids: ["spiffe://example.org/web"]}
  - name: legacy
    upstream: http://10.0.0.6:8080
    upstream-cert-file: gateway.pem
    upstream-key-file: gateway-key.pem
    allow: {spiffe-ids: ["spiffe://example.org/web"]}
`
	cfg, _ := gateway.ParseConfig("gateway.yaml", []byte(yaml))
	for _, e := range cfg.Validate().(gateway.ConfigErrors) {
		if strings.Contains(e.Key, "upstream-") {
			fmt.Println(e)
		}
	}
	// Output:
	// gateway.yaml:3: routes[0].upstream-key-file: is required with upstream-cert-file: the private key of the certificate presented to the upstream
	// gateway.yaml:6: routes[0].upstream-server-name: invalid server name "payments.internal:8443": leave the port out
	// gateway.yaml:10: routes[1].upstream-cert-file: is only for https upstreams, and "http://10.0.0.6:8080" is not one
}

// identitySource says where an identity came from, as the access log does.
func identitySource(id mtls.Identity) string {
	if id.Forwarded {
		return "forwarded"
	}
	return "connection"
}
