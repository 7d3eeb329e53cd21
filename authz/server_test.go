package authz_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// serveConfig runs a decision service for a YAML config written to dir,
// and returns its address.
func serveConfig(t *testing.T, dir, yaml string) string {
	t.Helper()
	path := filepath.Join(dir, "authz.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.NewFromFile(path, gateway.Options{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s := authz.NewServer(g)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s.Addr().String()
}

// question asks as Traefik would (passTLSClientCert: URL-escaped base64
// DER, a chain separated by commas) about a cross-site or same-origin
// POST of a client holding cert.
func question(t *testing.T, c *http.Client, url_ string, cert *pki.Cert, site string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url_, nil)
	req.Header.Set("X-Forwarded-Method", "POST")
	req.Header.Set("X-Forwarded-Uri", "/transfer?to=bob")
	req.Header.Set("X-Forwarded-Host", "bank.test")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-For", "192.0.2.7, 127.0.0.1")
	req.Header.Set("Sec-Fetch-Site", site)
	req.Header.Set("Origin", "https://bank.test")
	req.Header.Set("Accept", "application/json")
	if cert != nil {
		b64 := base64.StdEncoding.EncodeToString(cert.Cert.Raw)
		req.Header.Set("X-Forwarded-Tls-Client-Cert", url.QueryEscape(b64+","+base64.StdEncoding.EncodeToString(cert.Issuer.Raw)))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// serveTraefik starts forgeproof authz in Traefik's dialect, its client
// CAs and CRL from a fresh pkitest.Dir, every verified certificate
// allowed, with the extra top-level config lines, and returns its
// address and a client certificate of that CA.
func serveTraefik(t *testing.T, extra string) (string, *pki.Cert) {
	t.Helper()
	d := pkitest.NewDir(t, nil)
	client := pkitest.SPIFFE(t, d.CA, "spiffe://bank.test/teller")
	return serveConfig(t, d.Path, `authz:
  address: 127.0.0.1:0
  proxy: traefik
  trusted-callers: [127.0.0.1]
  client-certificates: {ca-files: [ca.pem], crl-files: [crl.pem]}
admin: {address: "off"}
routes: [{allow: {any-verified: true}}]
`+extra), client
}

// TestTraefikAnswers: the Traefik dialect (a chain in passTLSClientCert's
// encoding) gets the identity headers on 200 and the real status on a
// refusal, which Traefik relays.
func TestTraefikAnswers(t *testing.T) {
	addr, client := serveTraefik(t, "identity-forwarding: both\n")
	c := &http.Client{Timeout: 10 * time.Second}
	ok := question(t, c, "http://"+addr+"/traefik", client, "same-origin")
	if ok.StatusCode != 200 || ok.Header.Get("Forgeproof-Client-Identity") != "spiffe://bank.test/teller" ||
		!strings.HasPrefix(ok.Header.Get("Client-Cert"), ":") || !strings.Contains(ok.Header.Get("X-Forwarded-Client-Cert"), "URI=spiffe://bank.test/teller") {
		t.Fatalf("same-origin: got %d %v", ok.StatusCode, ok.Header)
	}
	if ok.Header.Get("Client-Cert-Chain") == "" {
		t.Error("the issuer sent after the leaf is not in Client-Cert-Chain")
	}
	bad := question(t, c, "http://"+addr+"/traefik", client, "cross-site")
	if bad.StatusCode != 403 || bad.Header.Get(authz.HeaderReason) != "cross-site" || bad.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("cross-site: got %d %q %q", bad.StatusCode, bad.Header.Get(authz.HeaderReason), bad.Header.Get("Content-Type"))
	}
	if bad.Header.Get("Client-Cert") != "" {
		t.Error("a refusal carries identity headers")
	}
}

// TestCallerTLS: with authz.tls only a proxy whose certificate verifies
// and is allowed may ask; the allowed twin is answered.
func TestCallerTLS(t *testing.T) {
	d := pkitest.NewDir(t, nil)
	proxyCA := pkitest.CA(t)
	if err := os.WriteFile(filepath.Join(d.Path, "proxy-ca.pem"), pki.EncodeCertsPEM(proxyCA.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	nginx := pkitest.SPIFFE(t, proxyCA, "spiffe://mesh.test/nginx")
	other := pkitest.SPIFFE(t, proxyCA, "spiffe://mesh.test/someone-else")
	client := pkitest.SPIFFE(t, d.CA, "spiffe://bank.test/teller")
	addr := serveConfig(t, d.Path, `authz:
  address: 127.0.0.1:0
  proxy: caddy
  tls:
    cert-file: server.pem
    key-file: server-key.pem
    client-ca-files: [proxy-ca.pem]
    allow: {spiffe-ids: ["spiffe://mesh.test/nginx"]}
  client-certificates: {ca-files: [ca.pem]}
admin: {address: "off"}
routes: [{allow: {any-verified: true}}]
`)
	ask := func(cert *pki.Cert) (int, error) {
		cfg := &tls.Config{RootCAs: d.CA.Pool(), ServerName: "localhost"}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{cert.TLSCertificate()}
		}
		tr := &http.Transport{TLSClientConfig: cfg}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "https://"+addr+"/caddy", nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Uri", "/")
		req.Header.Set("X-Forwarded-Host", "bank.test")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Tls-Client-Cert", base64.StdEncoding.EncodeToString(client.Cert.Raw))
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := ask(nginx); err != nil || code != 200 {
		t.Fatalf("the allowed proxy: got %d, %v; want 200", code, err)
	}
	if code, err := ask(other); err == nil {
		t.Errorf("a proxy certificate not on the allow list: got %d, want a refused handshake", code)
	}
	if code, err := ask(nil); err == nil {
		t.Errorf("no certificate: got %d, want a refused handshake", code)
	}
	if code, err := ask(client); err == nil {
		t.Errorf("a certificate of another CA: got %d, want a refused handshake", code)
	}
}

// TestUntrustedCallerRefusal: the HTTP transport answers an untrusted
// caller with the gateway's refusal (Gateway.CallerAllowed), as the gRPC
// one does; the same question from the trusted address is answered.
func TestUntrustedCallerRefusal(t *testing.T) {
	g := traefikGateway(t)
	srv := httptest.NewServer(authz.Handler(g, nil))
	defer srv.Close()
	for _, from := range []string{"127.0.0.1", "127.0.0.2"} {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}, Timeout: 10 * time.Second}
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Uri", "/")
		req.Header.Set("X-Forwarded-Host", "bank.test")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.CloseIdleConnections()
		if from == "127.0.0.1" {
			if resp.StatusCode != 200 {
				t.Errorf("from %s: got %d %s, want 200", from, resp.StatusCode, body)
			}
			continue
		}
		want := httptest.NewRecorder()
		g.CallerAllowed(from+":1", nil).WriteProblem(want, req)
		if resp.StatusCode != 403 || resp.Header.Get(authz.HeaderReason) != "caller-untrusted" || string(body) != want.Body.String() {
			t.Errorf("from %s: got %d %s %q, want 403 caller-untrusted %q", from, resp.StatusCode, resp.Header.Get(authz.HeaderReason), body, want.Body.String())
		}
	}
}

// TestListenRefusesEnvoy is the twin of authz/envoy's
// TestListenRefusesOtherProxies: the HTTP service refuses a config for
// Envoy, whose decisions leave to Envoy the removal of headers that nginx,
// Caddy and Traefik would forward, and binds nothing, from Listen and from
// Serve alone; the same config for each HTTP proxy listens, either way.
func TestListenRefusesEnvoy(t *testing.T) {
	d := pkitest.NewDir(t, nil)
	for _, proxy := range []string{"envoy", "nginx", "caddy", "traefik"} {
		t.Run(proxy, func(t *testing.T) {
			path := filepath.Join(d.Path, proxy+".yaml")
			yaml := "authz:\n  address: 127.0.0.1:0\n  proxy: " + proxy + "\n  trusted-callers: [127.0.0.1]\n" +
				"  client-certificates: {ca-files: [ca.pem]}\nadmin: {address: \"off\"}\nroutes: [{allow: {any-verified: true}}]\n"
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			g, err := gateway.NewFromFile(path, gateway.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := authz.NewServer(g)
			err = s.Listen()
			if proxy != "envoy" {
				if err != nil {
					t.Fatalf("got %v, want it to listen", err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				if err := s.Serve(ctx); err != nil {
					t.Fatal(err)
				}
				// Serve listens by itself.
				s = authz.NewServer(g)
				if err := s.Serve(ctx); err != nil {
					t.Fatalf("Serve without Listen: %v", err)
				}
				if s.Addr() == nil {
					t.Error("Serve without Listen bound nothing")
				}
				return
			}
			want := "authz: authz.proxy envoy is gRPC ext_authz: package authz/envoy serves it"
			if err == nil || err.Error() != want {
				t.Fatalf("got %v, want %q", err, want)
			}
			if a := s.Addr(); a != nil {
				t.Errorf("refused, but bound %s", a)
			}
			// Serve without Listen listens first, so it refuses too
			// instead of serving (its twin is "Serve listens by itself" above).
			s = authz.NewServer(g)
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a Serve that served would return nil at once
			if err := s.Serve(ctx); err == nil || err.Error() != want {
				t.Fatalf("Serve: got %v, want %q", err, want)
			}
			if a := s.Addr(); a != nil {
				t.Errorf("Serve refused, but bound %s", a)
			}
		})
	}
}

// TestTraefikWebSocketQuestion: Traefik's question about a WebSocket
// handshake says X-Forwarded-Proto: wss and has no Upgrade (ForwardAuth
// drops hop-by-hop headers). It was refused 400 authz-request-invalid
// ("the scheme is neither http nor https"), so no WebSocket passed
// Traefik; read as a plain GET, a cross-site handshake (cross-site
// WebSocket hijacking with the client's certificate) would pass. The
// cross-site one is refused as a handshake; its twins pass: the
// same-origin handshake, and a cross-site plain GET over https.
func TestTraefikWebSocketQuestion(t *testing.T) {
	addr, client := serveTraefik(t, "")
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	for _, tc := range []struct {
		name, proto, origin, site string
		status                    int
		reason                    string
	}{
		{"same-origin handshake", "wss", "https://bank.test", "same-origin", 200, ""},
		{"cross-site handshake", "wss", "https://evil.test", "cross-site", 403, "cross-site"},
		{"cross-site handshake over ws", "ws", "http://evil.test", "cross-site", 403, "cross-site"},
		{"cross-site plain GET", "https", "https://evil.test", "cross-site", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://"+addr+"/traefik", nil)
			req.Header.Set("X-Forwarded-Method", "GET")
			req.Header.Set("X-Forwarded-Uri", "/ws")
			req.Header.Set("X-Forwarded-Host", "bank.test")
			req.Header.Set("X-Forwarded-Proto", tc.proto)
			req.Header.Set("X-Forwarded-For", "127.0.0.1")
			req.Header.Set("X-Forwarded-Tls-Client-Cert", url.QueryEscape(base64.StdEncoding.EncodeToString(client.Cert.Raw)))
			req.Header.Set("Sec-Websocket-Version", "13")
			req.Header.Set("Sec-Websocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Sec-Fetch-Site", tc.site)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get(authz.HeaderReason) != tc.reason {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get(authz.HeaderReason), tc.status, tc.reason)
			}
		})
	}
}

// traefikGateway is a decision service for Traefik that trusts callers
// on 127.0.0.1 and lets every route through unauthenticated.
func traefikGateway(t *testing.T) *gateway.Gateway {
	t.Helper()
	d := pkitest.NewDir(t, nil)
	path := filepath.Join(d.Path, "authz.yaml")
	if err := os.WriteFile(path, []byte(`authz:
  address: 127.0.0.1:0
  proxy: traefik
  trusted-callers: [127.0.0.1]
  client-certificates: {ca-files: [ca.pem]}
admin: {address: "off"}
routes: [{allow: {unauthenticated: true}}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.NewFromFile(path, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}
