package forwarded_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
)

// TestForwardedIdentityOverTLS runs the middleware behind a real TLS
// listener on 127.0.0.1 that asks for client certificates (verify if
// given), and sends the same forwarded headers from a forwarder that holds
// the trusted certificate and from clients that do not.
func TestForwardedIdentityOverTLS(t *testing.T) {
	c := certs(t)
	// Once with this package's Server, which verifies client certificates
	// in VerifyConnection, once with crypto/tls verifying them itself.
	mtlsServer, err := mtls.NewServer(mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{Certificate: ptr(c.server.TLSCertificate())}},
		ClientCAs:    []mtls.Source{{Data: pki.EncodeCertsPEM(c.ca.Cert)}},
		ClientAuth:   mtls.VerifyClientCertIfGiven,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("mtls.Server", func(t *testing.T) {
		testForwardedOverTLS(t, mtlsServer.TLSConfig(), mtlsServer.Handler, mtlsServer.ConnContext)
	})
	t.Run("crypto/tls", func(t *testing.T) {
		testForwardedOverTLS(t, &tls.Config{
			Certificates: []tls.Certificate{c.server.TLSCertificate()},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    c.ca.Pool(),
			MinVersion:   tls.VersionTLS12,
		}, connectionIdentity, nil)
	})
}

func ptr[T any](v T) *T { return &v }

func testForwardedOverTLS(t *testing.T, cfg *tls.Config, identify func(http.Handler) http.Handler, connContext func(context.Context, net.Conn) context.Context) {
	c := certs(t)
	mw := forwarded.Trust{TrustForwarder: trustSPIFFE(gatewayID)}
	srv := httptest.NewUnstartedServer(identify(mw.Handler(http.HandlerFunc(recordingHandler))))
	srv.TLS = cfg
	srv.Config.ConnContext = connContext
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below is expected
	srv.StartTLS()
	defer srv.Close()

	client := func(cert *pki.Cert) *http.Client {
		cfg := &tls.Config{RootCAs: c.ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
		if cert != nil {
			// Always present it, even when the server's list of acceptable
			// CAs does not name its issuer (a client that tries its luck).
			tc := cert.TLSCertificate()
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}

	// The headers the gateway sets for the end user's verified identity.
	fwdHeaders := http.Header{}
	user := mtls.NewIdentity(c.client.Cert)
	if err := forwarded.SetHeaders(fwdHeaders, user, forwarded.Options{Format: forwarded.Both, By: []string{gatewayID}}); err != nil {
		t.Fatal(err)
	}
	spoofed := fwdHeaders.Clone()
	spoofed["X_forwarded_client_cert"] = []string{"URI=" + clientID}
	malformed := http.Header{forwarded.HeaderXFCC: {"URI=" + clientID + `;Subject="unterminated`}}

	tests := []struct {
		name          string
		cert          *pki.Cert
		header        http.Header
		wantStatus    int
		want          seen
		wantHandshake bool // false: the TLS handshake must fail
	}{
		{"trusted forwarder", c.gateway, fwdHeaders, 200, seen{clientID, "forwarded", []string{"Client-Cert", "X-Forwarded-Client-Cert"}}, true},
		{"same headers from another client of the CA", c.impostor, fwdHeaders, 200, seen{impostorID, "connection", nil}, true},
		{"same headers without a certificate", nil, fwdHeaders, 200, seen{"", "", nil}, true},
		{"spoofed variant alongside, untrusted", c.impostor, spoofed, 200, seen{impostorID, "connection", nil}, true},
		{"spoofed variant alongside, trusted: only canonical headers survive", c.gateway, spoofed, 200, seen{clientID, "forwarded", []string{"Client-Cert", "X-Forwarded-Client-Cert"}}, true},
		{"trusted forwarder, no header", c.gateway, http.Header{}, 200, seen{"", "", nil}, true},
		{"trusted forwarder, malformed header", c.gateway, malformed, 400, seen{}, true},
		{"untrusted client, malformed header", c.impostor, malformed, 200, seen{impostorID, "connection", nil}, true},
		{"forwarder's SPIFFE ID from another CA", c.foreignGW, fwdHeaders, 0, seen{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", srv.URL+"/transfer", strings.NewReader("amount=1"))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := client(tt.cert).Do(req)
			if !tt.wantHandshake {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got status %d, want a failed handshake", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (%s)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus != 200 {
				if !strings.Contains(string(body), string(forwarded.ReasonInvalid)) {
					t.Errorf("body: got %q, want reason %q", body, forwarded.ReasonInvalid)
				}
				return
			}
			var got seen
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Identity != tt.want.Identity || got.Source != tt.want.Source || strings.Join(got.Headers, ",") != strings.Join(tt.want.Headers, ",") {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
