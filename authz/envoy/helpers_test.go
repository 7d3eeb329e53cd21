package envoy_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/forgeproof/forgeproof/authz/envoy"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// world is "forgeproof authz" for Envoy as docs/integrations/envoy runs
// it: forgeproof.yaml from that folder, unchanged but for its address,
// with the PKI files it names minted in memory and written beside it,
// served by envoy.Server on a loopback port.
type world struct {
	addr string // the gRPC service's address
	// Client certificates (the client CA, ca.pem): alice is allowed,
	// bob is not, revoked is alice's too but revoked in crl.pem.
	alice, bob, revoked *pki.Cert
	// Proxy certificates (authz-ca.pem): envoy is allowed to ask,
	// mallory is not.
	envoy, mallory *pki.Cert
	proxyCA        *pki.CA
	g              *gateway.Gateway
}

// newWorld starts the service; edit, when not nil, changes the config
// before the gateway is built.
func newWorld(t testing.TB, edit func(*gateway.Config)) *world {
	t.Helper()
	w := newGateway(t, edit)
	srv := envoy.NewServer(w.g)
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	w.addr = srv.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return w
}

// newGateway is newWorld's gateway, not served yet (w.addr is empty).
func newGateway(t testing.TB, edit func(*gateway.Config)) *world {
	t.Helper()
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(name string, data []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		must(os.MkdirAll(filepath.Dir(p), 0o700))
		must(os.WriteFile(p, data, 0o600))
	}
	w := &world{}
	ca := pkitest.CA(t)
	w.alice = pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	w.bob = pkitest.Client(t, ca, pki.ClientOptions{CommonName: "bob"})
	w.revoked = pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	crl, err := ca.Revoke(nil, w.revoked.Cert.SerialNumber)
	must(err)
	write("pki/ca.pem", pki.EncodeCertsPEM(ca.Cert))
	write("pki/crl.pem", pki.EncodeCRLPEM(crl))

	w.proxyCA = pkitest.CA(t)
	w.envoy = pkitest.Client(t, w.proxyCA, pki.ClientOptions{CommonName: "envoy"})
	w.mallory = pkitest.Client(t, w.proxyCA, pki.ClientOptions{CommonName: "mallory"})
	authzCert := pkitest.ServerWith(t, w.proxyCA, pki.ServerOptions{DNSNames: []string{"authz.internal"}})
	key, err := pki.EncodeKeyPEM(authzCert.Key)
	must(err)
	write("pki/authz.pem", pki.EncodeCertsPEM(authzCert.Cert))
	write("pki/authz-key.pem", key)
	write("pki/authz-ca.pem", pki.EncodeCertsPEM(w.proxyCA.Cert))

	yml, err := os.ReadFile(filepath.Join(docsDir, "forgeproof.yaml"))
	must(err)
	write("forgeproof.yaml", yml)
	cfg, err := gateway.LoadConfig(filepath.Join(dir, "forgeproof.yaml"))
	must(err)
	cfg.Authz.Address = "127.0.0.1:0"
	if edit != nil {
		edit(cfg)
	}
	w.g, err = gateway.New(cfg, gateway.Options{})
	must(err)
	return w
}

// client is Envoy's side of the call: a gRPC client from the same
// go-control-plane types, connecting from the loopback address from
// ("127.0.0.1", "127.0.0.2", …), presenting cert over TLS (nil: none),
// or in plaintext when plain.
func (w *world) client(t testing.TB, from string, cert *pki.Cert, plain bool) authv3.AuthorizationClient {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	creds := insecure.NewCredentials()
	if !plain {
		tc := &tls.Config{RootCAs: w.proxyCA.Pool(), ServerName: "authz.internal", MinVersion: tls.VersionTLS13}
		if cert != nil {
			tc.Certificates = []tls.Certificate{cert.TLSCertificate()}
		}
		creds = credentials.NewTLS(tc)
	}
	cc, err := grpc.NewClient("passthrough:///"+w.addr,
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return authv3.NewAuthorizationClient(cc)
}

// envoyCheck is a CheckRequest as Envoy's HTTP ext_authz filter builds
// it for a request over TLS: method, path, host and lower-case headers in
// attributes.request.http, the pseudo-headers among the headers, and,
// when cert is not nil (include_peer_certificate), the client certificate
// as Envoy encodes it. kv are header name/value pairs.
func envoyCheck(method, path, host string, cert *pki.Cert, kv ...string) *authv3.CheckRequest {
	h := map[string]string{":method": method, ":path": path, ":authority": host, ":scheme": "https",
		"user-agent": "test", "x-request-id": "r1"}
	for i := 0; i+1 < len(kv); i += 2 {
		k := strings.ToLower(kv[i])
		if old, ok := h[k]; ok { // Envoy joins repeated fields with ","
			h[k] = old + "," + kv[i+1]
			continue
		}
		h[k] = kv[i+1]
	}
	src := &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
		SocketAddress: &corev3.SocketAddress{Address: "198.51.100.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 50123}},
	}}}
	if cert != nil {
		src.Certificate = envoyEscape(string(pki.EncodeCertsPEM(cert.Cert)))
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: src,
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id: "1", Method: method, Path: path, Host: host, Scheme: "https", Protocol: "HTTP/1.1", Headers: h,
		}},
	}}
}

// envoyEscape URL-encodes PEM as Envoy does for
// attributes.source.certificate (and XFCC's Cert).
func envoyEscape(pem string) string {
	return strings.NewReplacer("\n", "%0A", " ", "%20", "+", "%2B", "/", "%2F", "=", "%3D").Replace(pem)
}

// answer is a CheckResponse read as Envoy reads it.
type answer struct {
	allowed bool
	status  int    // HTTP status of a denial
	reason  string // of a denial: the problem document's reason
	body    string
	header  map[string]string // of a denial: the headers sent to the client
	ok      *authv3.OkHttpResponse
}

func read(t testing.TB, resp *authv3.CheckResponse) answer {
	t.Helper()
	var a answer
	switch r := resp.GetHttpResponse().(type) {
	case *authv3.CheckResponse_OkResponse:
		if resp.GetStatus().GetCode() != 0 {
			t.Fatalf("OkResponse with gRPC status %d: Envoy would deny", resp.GetStatus().GetCode())
		}
		a.allowed, a.ok = true, r.OkResponse
	case *authv3.CheckResponse_DeniedResponse:
		if resp.GetStatus().GetCode() == 0 {
			t.Fatal("DeniedResponse with gRPC status OK: Envoy would allow")
		}
		d := r.DeniedResponse
		a.status, a.body, a.header = int(d.GetStatus().GetCode()), d.GetBody(), map[string]string{}
		for _, h := range d.GetHeaders() {
			a.header[h.GetHeader().GetKey()] = h.GetHeader().GetValue()
		}
		var p struct{ Reason string }
		if strings.HasPrefix(a.header["content-type"], "application/problem+json") {
			if err := json.Unmarshal([]byte(a.body), &p); err != nil {
				t.Fatalf("problem body %q: %v", a.body, err)
			}
			a.reason = p.Reason
		} else if i := strings.LastIndex(a.body, "(reason: "); i >= 0 {
			a.reason = strings.TrimSuffix(strings.TrimSpace(a.body[i+len("(reason: "):]), ")")
		}
		if got := resp.GetDynamicMetadata().GetFields()[envoy.MetadataReason].GetStringValue(); got != a.reason {
			t.Errorf("dynamic metadata reason %q, body reason %q", got, a.reason)
		}
	default:
		t.Fatalf("CheckResponse has neither OK nor Denied: %v", resp)
	}
	return a
}

// upstream applies an OK answer to the request's headers the way Envoy's
// ext_authz filter does (set, then remove; pseudo-headers and host cannot
// be removed) and returns the headers the upstream receives.
func upstream(cr *authv3.CheckRequest, ok *authv3.OkHttpResponse) map[string]string {
	out := map[string]string{}
	for k, v := range cr.GetAttributes().GetRequest().GetHttp().GetHeaders() {
		out[k] = v
	}
	for _, h := range ok.GetHeaders() {
		k := strings.ToLower(h.GetHeader().GetKey())
		switch h.GetAppendAction() {
		case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
			out[k] = h.GetHeader().GetValue()
		default:
			panic("unexpected append action " + h.GetAppendAction().String())
		}
	}
	for _, k := range ok.GetHeadersToRemove() {
		k = strings.ToLower(k)
		if strings.HasPrefix(k, ":") || k == "host" {
			continue
		}
		delete(out, k)
	}
	return out
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
