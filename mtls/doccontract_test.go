package mtls_test

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// TestHandshakeFailureErr checks what HandshakeFailure.Err documents: the
// refusal as an *Error carrying the Reason, never nil, in a handshake as
// on an open connection (Handler). Before, a handshake passed only the
// *Error's cause, which is nil for a revoked certificate.
func TestHandshakeFailureErr(t *testing.T) {
	ca, _ := pki.NewCA(pki.CAOptions{})
	srvCert, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
	revoked, _ := ca.IssueClient(pki.ClientOptions{CommonName: "revoked"})
	other, _ := pki.NewCA(pki.CAOptions{})
	stranger, _ := other.IssueClient(pki.ClientOptions{CommonName: "stranger"})
	crl, err := ca.Revoke(nil, revoked.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		client *pki.Cert
		want   mtls.Reason
	}{
		{"revoked", revoked, mtls.ReasonRevoked},
		{"unknown authority", stranger, mtls.ReasonUnknownAuthority},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failures := make(chan mtls.HandshakeFailure, 1)
			s, err := mtls.NewServer(mtls.ServerConfig{
				Certificates:       []mtls.KeyPair{{Certificate: ptr(srvCert.TLSCertificate())}},
				ClientCAs:          []mtls.Source{{Data: pki.EncodeCertsPEM(ca.Cert)}},
				CRLs:               []mtls.Source{{Data: pki.EncodeCRLPEM(crl)}},
				OnHandshakeFailure: func(f mtls.HandshakeFailure) { failures <- f },
			})
			if err != nil {
				t.Fatal(err)
			}
			sc, cc := net.Pipe()
			defer sc.Close()
			defer cc.Close()
			go tls.Server(sc, s.TLSConfig()).Handshake()
			cert := tc.client.TLSCertificate()
			client := tls.Client(cc, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{cert}})
			client.Handshake()
			client.Read(make([]byte, 1)) // TLS 1.3: the alert comes after the client's Finished
			f := <-failures
			if f.Reason != tc.want {
				t.Errorf("got reason %q, want %q", f.Reason, tc.want)
			}
			var e *mtls.Error
			if !errors.As(f.Err, &e) {
				t.Fatalf("got Err %#v, want an *mtls.Error", f.Err)
			}
			if e.Reason != tc.want || mtls.ReasonOf(f.Err) != tc.want {
				t.Errorf("got Err reason %q, want %q", e.Reason, tc.want)
			}
		})
	}
}

// TestZeroValuesFailClosed checks the "deny by default" claims of the
// docs: an empty ServerConfig is refused with errors naming the fields, a
// Guard with a nil Authorizer refuses a verified identity, and
// AuthorizeAnyOf with no authorizers denies.
func TestZeroValuesFailClosed(t *testing.T) {
	t.Run("empty ServerConfig", func(t *testing.T) {
		_, err := mtls.NewServer(mtls.ServerConfig{})
		if err == nil {
			t.Fatal("got nil error, want the missing fields")
		}
		var e *mtls.Error
		if !errors.As(err, &e) || e.Reason != mtls.ReasonInvalidConfig {
			t.Fatalf("got %v, want an *mtls.Error with reason %q", err, mtls.ReasonInvalidConfig)
		}
		for _, field := range []string{"Certificates", "ClientCAs"} {
			if !strings.Contains(err.Error(), "mtls: "+field+": ") {
				t.Errorf("got %q, want a line about %s", err, field)
			}
		}
	})

	ca, _ := pki.NewCA(pki.CAOptions{})
	cert, _ := ca.IssueClient(pki.ClientOptions{CommonName: "alice"})
	id := mtls.NewIdentity(cert.Cert)
	t.Run("nil Authorizer in a Guard", func(t *testing.T) {
		served := false
		h := (&mtls.Guard{}).Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served = true }))
		r := httptest.NewRequest("GET", "/", nil)
		r = r.WithContext(mtls.ContextWithIdentity(r.Context(), id))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if served || w.Code != http.StatusForbidden {
			t.Errorf("got served %v, status %d, want not served, 403", served, w.Code)
		}
		if _, err := (&mtls.Guard{}).Check(r); mtls.ReasonOf(err) != mtls.ReasonIdentityDenied {
			t.Errorf("got %v, want reason %q", err, mtls.ReasonIdentityDenied)
		}
		// The negative control: the same request passes a Guard that
		// allows any verified identity.
		if _, err := (&mtls.Guard{Authorizer: mtls.AuthorizeAnyVerified()}).Check(r); err != nil {
			t.Errorf("AuthorizeAnyVerified: got %v, want nil", err)
		}
	})
	t.Run("nil Authorizer called", func(t *testing.T) {
		if err := mtls.AuthorizeAnyOf(nil)(id); mtls.ReasonOf(err) != mtls.ReasonIdentityDenied {
			t.Errorf("got %v, want reason %q", err, mtls.ReasonIdentityDenied)
		}
	})
}

func ptr[T any](v T) *T { return &v }
