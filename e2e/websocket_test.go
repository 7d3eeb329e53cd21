package e2e_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestCrossSiteWebSocketCarriesCertificate checks, in a real browser, the
// request forgeproof scan's websocket-cross-site probe imitates: a page on
// another site that opens a WebSocket to the target sends the handshake
// with the client certificate, its own Origin, and only the cookies that
// ride cross-site subresource requests (SameSite=None). Its negative
// control: a browser that holds no certificate presents none.
func TestCrossSiteWebSocketCarriesCertificate(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	ca, err := pki.NewCA(pki.CAOptions{CommonName: harnessCAName})
	if err != nil {
		t.Fatal(err)
	}
	client := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		for _, c := range []struct {
			name string
			ss   http.SameSite
		}{{"none", http.SameSiteNoneMode}, {"lax", http.SameSiteLaxMode}, {"strict", http.SameSiteStrictMode}} {
			http.SetCookie(w, &http.Cookie{Name: c.name, Value: "v", Path: "/", Secure: true, HttpOnly: true, SameSite: c.ss})
		}
		fmt.Fprint(w, "<!doctype html><title>target</title>ok")
	})
	mux.HandleFunc("GET /ws", browsertest.AcceptWebSocket) // what arrived is the point
	rec := browser.NewRecorder(mux)
	srv := pkitest.Server(t, ca)
	port := serve(t, "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srv.TLSCertificate()},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ca.Pool(),
	}, rec)
	target := fmt.Sprintf("https://localhost:%d", port)
	attack := http.NewServeMux()
	attack.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>chat</title><script>new WebSocket("wss://localhost:%d/ws")</script>`, port)
	})
	attacker := fmt.Sprintf("http://127.0.0.2:%d", serve(t, "127.0.0.2:0", nil, attack))

	for _, tt := range []struct {
		name   string
		cert   bool
		wantCN string
	}{{"certificate installed", true, "alice"}, {"no certificate (negative control)", false, ""}} {
		t.Run(tt.name, func(t *testing.T) {
			p := browser.Profile{CACertsPEM: pki.EncodeCertsPEM(ca.Cert), AutoSelect: []string{target}, IssuerCN: harnessCAName}
			if tt.cert {
				p12, err := client.PKCS12("")
				if err != nil {
					t.Fatal(err)
				}
				p.ClientP12 = p12
			}
			b := startBrowser(t, tools, p)
			if _, err := b.Navigate(t.Context(), target+"/"); err != nil {
				t.Fatal(err)
			}
			mark := rec.Mark()
			if _, err := b.Navigate(t.Context(), attacker+"/ws"); err != nil {
				t.Fatal(err)
			}
			got, err := rec.Wait(waitCtx(t), mark, browser.To("GET", "/ws"))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("cross-site handshake: cert %q, Origin %q, Sec-Fetch-Site/Mode/Dest %q/%q/%q, cookies %v",
				got.CertCN, got.Origin, got.SecFetchSite, got.SecFetchMode, got.SecFetchDest, got.Cookies)
			if got.CertCN != tt.wantCN || got.Origin != attacker {
				t.Errorf("got cert %q, Origin %q; want %q, %q", got.CertCN, got.Origin, tt.wantCN, attacker)
			}
			// No Fetch Metadata on a handshake (Chromium 156): the scan's
			// probe sends none either, so a change here must reach
			// scan's ctxWSCrossSite.
			if got.SecFetchSite != "" || got.SecFetchMode != "" {
				t.Errorf("Sec-Fetch-Site/Mode: got %q/%q, want none (update scan's WebSocket probes)", got.SecFetchSite, got.SecFetchMode)
			}
			if !slices.Equal(got.Cookies, []string{"none"}) {
				t.Errorf("cookies: got %v, want [none] (SameSite=None only)", got.Cookies)
			}
		})
	}
}
