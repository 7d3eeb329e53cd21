package authz_test

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/pki"
)

const browserCAName = "forgeproof authz browser test CA"

// TestChromiumThroughNginx: a real Chromium that holds the client
// certificate is made to forge a form POST by a cross-site page, through
// nginx: with forgeproof authz behind auth_request the forgery is refused
// (403 cross-site) and the upstream receives nothing, while the
// service's own form (same-origin) passes with the certificate's
// identity. The negative control is the same nginx without auth_request,
// which lets the forgery through.
func TestChromiumThroughNginx(t *testing.T) {
	tools := browsertest.Tools(t)
	needBinary(t, "nginx")
	ca, err := pki.NewCA(pki.CAOptions{CommonName: browserCAName})
	if err != nil {
		t.Fatal(err)
	}
	for _, withAuth := range []bool{true, false} {
		name := "with auth_request"
		if !withAuth {
			name = "without auth_request (negative control)"
		}
		t.Run(name, func(t *testing.T) {
			r := newRigCA(t, ca)
			if withAuth {
				r.startAuthz("../docs/integrations/nginx.md")
			}
			r.startNginx(withAuth)
			attacker := serveAttacker(t, r.base+"/api/transfer")

			p12, err := r.client.PKCS12("")
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			b, err := browser.Start(t.Context(), browser.Options{Tools: tools, Output: &out, Profile: browser.Profile{
				CACertsPEM: pki.EncodeCertsPEM(ca.Cert),
				ClientP12:  p12,
				AutoSelect: []string{r.base},
				IssuerCN:   browserCAName,
			}})
			if err != nil {
				t.Fatalf("start browser: %v\n%s", err, out.String())
			}
			t.Cleanup(func() { b.Close() })

			// The allowed twin: the service's own form posts same-origin.
			if withAuth {
				before := r.up.countOf("POST /api/transfer")
				mark := b.Mark()
				if _, err := b.Navigate(t.Context(), r.base+"/app/form"); err != nil {
					t.Fatal(err)
				}
				sent, err := b.WaitSent(t.Context(), mark, browser.SentTo("POST", r.base+"/api/transfer"))
				if err != nil {
					t.Fatal(err)
				}
				if sent.Status != 200 || sent.Header.Get("Sec-Fetch-Site") != "same-origin" {
					t.Fatalf("own form: got %d, Sec-Fetch-Site %q; want 200 same-origin", sent.Status, sent.Header.Get("Sec-Fetch-Site"))
				}
				if got := r.up.countOf("POST /api/transfer") - before; got != 1 {
					t.Fatalf("own form: the upstream received %d POSTs, want 1", got)
				}
				if got := r.up.last().Get("Forgeproof-Client-Identity"); got != "spiffe://bank.test/teller" {
					t.Fatalf("own form: the upstream's identity is %q, want the browser's certificate", got)
				}
			}

			before := r.up.countOf("POST /api/transfer")
			mark := b.Mark()
			if err := b.Open(t.Context(), attacker+"/form"); err != nil {
				t.Fatal(err)
			}
			sent, err := b.WaitSent(t.Context(), mark, browser.SentTo("POST", r.base+"/api/transfer"))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("forged POST as Chromium sent it: Origin %q, Sec-Fetch-Site %q; answered %d", sent.Header.Get("Origin"), sent.Header.Get("Sec-Fetch-Site"), sent.Status)
			if sent.Header.Get("Sec-Fetch-Site") != "cross-site" || sent.Header.Get("Origin") != attacker {
				t.Fatalf("the forgery is not what the test means: Origin %q, Sec-Fetch-Site %q", sent.Header.Get("Origin"), sent.Header.Get("Sec-Fetch-Site"))
			}
			reached := r.up.countOf("POST /api/transfer") - before
			switch {
			case withAuth && (sent.Status != 403 || reached != 0):
				t.Fatalf("with auth_request: got %d and %d requests upstream, want 403 and none", sent.Status, reached)
			case !withAuth && (sent.Status != 200 || reached != 1):
				t.Fatalf("without auth_request: got %d and %d requests upstream, want the forgery through (200, 1)", sent.Status, reached)
			}
		})
	}
}

// serveAttacker serves, on http://127.0.0.2 (another site than
// https://localhost), a page that auto-submits a form to target.
func serveAttacker(t *testing.T, target string) string {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ErrorLog: log.New(io.Discard, "", 0), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>cute cats</title>
<form id="f" method="POST" action="%s"><input name="to" value="mallory"><input name="amount" value="1000"></form>
<script>document.getElementById("f").submit()</script>`, target)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + strings.Replace(ln.Addr().String(), "[::1]", "localhost", 1)
}
