package mtls_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// serveHTTP serves h over TLS with conf on 127.0.0.1:0 and returns the
// base URL (https://localhost:port).
func serveHTTP(t testing.TB, conf *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: conf}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return "https://localhost:" + port
}

func httpClient(ca *pki.CA, cert *pki.Cert) *http.Client {
	conf := &tls.Config{RootCAs: ca.Pool()}
	if cert != nil {
		tc := cert.TLSCertificate()
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}}
}

type response struct {
	status int
	reason mtls.Reason
	body   string
}

func get(t *testing.T, c *http.Client, url, host string) response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var p struct {
		Reason mtls.Reason `json:"reason"`
	}
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("got body %q, want problem JSON: %v", body, err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("got Content-Type %q, want application/problem+json", ct)
		}
	}
	return response{status: resp.StatusCode, reason: p.Reason, body: string(body)}
}

func TestGuard(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	srvCert := pkitest.Server(t, ca).TLSCertificate()
	web := pkitest.SPIFFE(t, ca, "spiffe://prod.example/ns/a/sa/web")
	api := pkitest.SPIFFE(t, ca, "spiffe://prod.example/ns/a/sa/api")
	s := newServer(t, mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srvCert}}, ClientCAs: pemCAs(ca.Cert), ClientAuth: mtls.VerifyClientCertIfGiven})
	webOnly, err := mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/web")
	if err != nil {
		t.Fatal(err)
	}
	var denied []mtls.Reason
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := mtls.IdentityFromContext(r.Context())
		io.WriteString(w, id.String())
	})
	mux := http.NewServeMux()
	mux.Handle("/admin", (&mtls.Guard{Authorizer: webOnly, OnDeny: func(r *http.Request, reason mtls.Reason, err error) { denied = append(denied, reason) }}).Handler(ok))
	mux.Handle("/any", (&mtls.Guard{Authorizer: mtls.AuthorizeAnyVerified()}).Handler(ok))
	mux.Handle("/zero", (&mtls.Guard{}).Handler(ok))
	mux.Handle("/open", ok) // negative control: no Guard
	mux.Handle("/host", (&mtls.Guard{Authorizer: mtls.AuthorizeAnyVerified(), CheckHost: true}).Handler(ok))
	base := serveHTTP(t, s.TLSConfig(), s.Handler(mux))

	tests := []struct {
		name       string
		client     *pki.Cert
		path, host string
		wantStatus int
		wantReason mtls.Reason
	}{
		{name: "allowed identity", client: web, path: "/admin", wantStatus: 200},
		{name: "disallowed identity", client: api, path: "/admin", wantStatus: 403, wantReason: mtls.ReasonSPIFFEIDDenied},
		{name: "disallowed identity unguarded (negative control)", client: api, path: "/open", wantStatus: 200},
		{name: "no certificate", client: nil, path: "/admin", wantStatus: 403, wantReason: mtls.ReasonNoIdentity},
		{name: "no certificate any verified", client: nil, path: "/any", wantStatus: 403, wantReason: mtls.ReasonNoIdentity},
		{name: "any verified", client: api, path: "/any", wantStatus: 200},
		{name: "zero guard denies", client: web, path: "/zero", wantStatus: 403, wantReason: mtls.ReasonIdentityDenied},
		{name: "host matches sni", client: web, path: "/host", wantStatus: 200},
		{name: "host differs from sni", client: web, path: "/host", host: "other.example", wantStatus: 421, wantReason: mtls.ReasonMisdirected},
		{name: "host differs unchecked (negative control)", client: web, path: "/any", host: "other.example", wantStatus: 200},
		{name: "host differs without certificate", client: nil, path: "/host", host: "other.example", wantStatus: 403, wantReason: mtls.ReasonNoIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := get(t, httpClient(ca, tt.client), base+tt.path, tt.host)
			if got.status != tt.wantStatus || got.reason != tt.wantReason {
				t.Errorf("got %d %q (%s), want %d %q", got.status, got.reason, got.body, tt.wantStatus, tt.wantReason)
			}
			if got.status == 200 && tt.client != nil && got.body != tt.client.Cert.URIs[0].String() {
				t.Errorf("got identity %q, want %q", got.body, tt.client.Cert.URIs[0])
			}
		})
	}
	if len(denied) != 2 || denied[0] != mtls.ReasonSPIFFEIDDenied {
		t.Errorf("got OnDeny reasons %v, want spiffe-id-denied then identity-missing", denied)
	}
}

// TestIdentityFromTLS shows that only verified certificates make an
// identity: a certificate that crypto/tls merely requested does not.
func TestIdentityFromTLS(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	other := pkitest.CA(t)
	srvCert := pkitest.Server(t, ca).TLSCertificate()
	tests := []struct {
		name   string
		conf   *tls.Config
		client *pki.Cert
		want   bool
	}{
		{name: "crypto/tls verified", conf: &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}, client: pkitest.Client(t, ca, pki.ClientOptions{CommonName: "a"}), want: true},
		{name: "requested only, unverified", conf: &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequireAnyClientCert}, client: pkitest.Client(t, other, pki.ClientOptions{CommonName: "mallory"})},
		{name: "requested only, even from the right CA", conf: &tls.Config{Certificates: []tls.Certificate{srvCert}, ClientAuth: tls.RequestClientCert}, client: pkitest.Client(t, ca, pki.ClientOptions{CommonName: "b"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := dial(t, serve(t, tt.conf), ca, tt.client, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.name != "anonymous"; got != tt.want {
				t.Errorf("got identity %q, want identity %v", res.name, tt.want)
			}
		})
	}
	if _, ok := mtls.IdentityFromTLS(nil); ok {
		t.Error("got an identity from a nil connection state")
	}
}
