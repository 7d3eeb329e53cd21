package gateway_test

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestResumptionAfterReload: session tickets outlive a reload (the
// listener's ticket keys stay), and a resumed handshake is verified
// against the configuration loaded now, not the one that issued the
// ticket: after a reload that drops a client CA, its client's resumed
// handshake is refused (unknown-authority, logged as resumed), while a
// client of the CA that stays resumes and is served. crypto/tls skips
// VerifyPeerCertificate on resumption; mtls checks in VerifyConnection.
func TestResumptionAfterReload(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	other := pkitest.CA(t)
	w.write("other-ca.pem", pki.EncodeCertsPEM(other.Cert))
	stranger := pkitest.SPIFFE(t, other, "spiffe://test.example/web")
	cfg := w.config()
	cfg.Listeners[0].TLS.ClientCAFiles = append(cfg.Listeners[0].TLS.ClientCAFiles, w.path("other-ca.pem"))
	logs := &logBuffer{}
	gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	url := strings.Replace(gw.base, "127.0.0.1", "localhost", 1) + "/api/x"
	c, web := resumingClient(t, w, stranger), resumingClient(t, w, w.web)
	for who, cl := range map[string]*http.Client{"other CA's client": c, "web": web} {
		if status, resumed, err := getResumed(cl, url); err != nil || status != http.StatusOK || resumed {
			t.Fatalf("%s before the reload: got %d resumed=%v (%v), want 200 on a full handshake", who, status, resumed, err)
		}
	}
	cfg.Listeners[0].TLS.ClientCAFiles = cfg.Listeners[0].TLS.ClientCAFiles[:1]
	if err := gw.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if status, resumed, err := getResumed(web, url); err != nil || status != http.StatusOK || !resumed {
		t.Errorf("web after the reload: got %d resumed=%v (%v), want 200 on a resumed session", status, resumed, err)
	}
	if status, _, err := getResumed(c, url); err == nil {
		t.Fatalf("other CA's client after the reload: got %d, want the handshake refused", status)
	}
	eventually(t, "the refusal logged", func() (bool, string) {
		for _, l := range logs.lines(t) {
			if l["msg"] == "TLS handshake refused" {
				if l["reason"] != "unknown-authority" || l["resumed"] != true {
					t.Fatalf("got %v, want unknown-authority on a resumed handshake", l)
				}
				return true, ""
			}
		}
		return false, logs.String()
	})
}

// resumingClient is an HTTP client that presents cert on a new
// connection for every request and offers the session ticket it last got.
func resumingClient(t *testing.T, w *world, cert *pki.Cert) *http.Client {
	tc := cert.TLSCertificate()
	tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
		RootCAs:              w.ca.Pool(),
		ServerName:           "localhost",
		ClientSessionCache:   tls.NewLRUClientSessionCache(1),
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil },
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// getResumed fetches url and says whether its connection resumed a session.
func getResumed(c *http.Client, url string) (status int, resumed bool, err error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.TLS != nil && resp.TLS.DidResume, nil
}
