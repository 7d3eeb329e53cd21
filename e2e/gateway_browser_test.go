package e2e_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestGatewayDefaultInBrowser puts the gateway, configured as "forgeproof
// init" writes it (origin-only, verify-if-given, any verified
// certificate), in front of an app, and has Chromium with the user's
// certificate try the forgeries a page can make it send (forms of every
// encoding, no-cors fetch, 307/308 redirects, sandboxed, data: and blob:
// frames, method overrides, a service worker, WebSockets, a same-site
// sibling), each refused, and the legitimate twins (same-origin forms,
// a no-referrer page's form, a same-origin 307 and WebSocket, a typed
// navigation), each allowed. The negative control runs the same with
// csrf insecure-off: every forgery reaches the app.
func TestGatewayDefaultInBrowser(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	ca, srv, dir := gatewayFiles(t, "app.localhost", "evil.app.localhost", "localhost")
	alice, err := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}).PKCS12("")
	if err != nil {
		t.Fatal(err)
	}

	for _, mode := range []string{"origin-only", "insecure-off"} {
		t.Run(mode, func(t *testing.T) {
			app := http.NewServeMux()
			app.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, `<!doctype html><title>app</title><form id="f" method="POST" action="/transfer"><input name="to" value="bob"><button>go</button></form><a id="l" href="/page">page</a>`)
			})
			app.HandleFunc("GET /noref", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Referrer-Policy", "no-referrer")
				fmt.Fprint(w, `<!doctype html><title>noref</title><form id="f" method="POST" action="/transfer"><input name="to" value="bob"><button>go</button></form>`)
			})
			app.HandleFunc("POST /redir", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/transfer", http.StatusTemporaryRedirect)
			})
			app.HandleFunc("/transfer", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "<!doctype html><title>transferred</title>transferred")
			})
			app.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "<!doctype html><title>page</title>page")
			})
			app.HandleFunc("GET /ws", browsertest.AcceptWebSocket)
			upRec := browser.NewRecorder(app)
			up := httptest.NewServer(upRec)
			t.Cleanup(up.Close)

			yaml := fmt.Sprintf(`listeners:
  - address: "127.0.0.1:0"
    tls:
      cert-file: %q
      key-file: %q
      client-ca-files: [%q]
      client-auth: verify-if-given
routes:
  - name: app
    path-prefix: /
    upstream: %q
    allow:
      any-verified: true
    csrf:
      mode: %q
    cookies:
      secure: true
      same-site: lax
admin:
  address: "off"
`, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"), filepath.Join(dir, "ca.pem"), up.URL, mode)
			cfg, err := gateway.ParseConfig("forgeproof.yaml", []byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			var log browser.AccessLog
			g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(&log)})
			if err != nil {
				t.Fatal(err)
			}
			port := serveGateway(t, g)
			target := "https://app.localhost:" + port
			wsTarget := "wss://app.localhost:" + port

			attack := http.NewServeMux()
			form := func(enctype, method, action, extra, target string) string {
				return fmt.Sprintf(`<!doctype html><title>cats</title><form id="f" method=%q enctype=%q action=%q target=%q><input name="to" value="mallory"><input name="amount" value="100">%s</form><script>document.getElementById("f").submit()</script>`, method, enctype, action, target, extra)
			}
			pages := map[string]string{
				"/form":       form("application/x-www-form-urlencoded", "POST", target+"/transfer", "", "_self"),
				"/multipart":  form("multipart/form-data", "POST", target+"/transfer", "", "_self"),
				"/text-plain": form("text/plain", "POST", target+"/transfer", "", "_self"),
				"/get":        form("application/x-www-form-urlencoded", "GET", target+"/transfer", "", "_self"),
				"/override":   form("application/x-www-form-urlencoded", "POST", target+"/transfer", `<input name="_method" value="DELETE">`, "_self"),
				"/get-post":   form("application/x-www-form-urlencoded", "GET", target+"/transfer", `<input name="_method" value="POST">`, "_self"),
				"/redir307":   form("application/x-www-form-urlencoded", "POST", "/r307", "", "_self"),
				"/redir308":   form("application/x-www-form-urlencoded", "POST", "/r308", "", "_self"),
				"/fetch":      fmt.Sprintf(`<!doctype html><script>fetch(%q,{method:"POST",mode:"no-cors",credentials:"include",body:"to=mallory"})</script>`, target+"/transfer"),
				"/sandbox":    fmt.Sprintf(`<!doctype html><iframe sandbox="allow-forms allow-scripts" srcdoc='%s'></iframe>`, strings.ReplaceAll(form("application/x-www-form-urlencoded", "POST", target+"/transfer", "", "_self"), "'", "&#39;")),
				"/data":       fmt.Sprintf(`<!doctype html><iframe src="data:text/html,%s"></iframe>`, strings.ReplaceAll(strings.ReplaceAll(form("application/x-www-form-urlencoded", "POST", target+"/transfer", "", "_self"), `"`, "%22"), "#", "%23")),
				"/blob":       fmt.Sprintf(`<!doctype html><body><script>const b=new Blob([atob(%q)],{type:"text/html"});const f=document.createElement("iframe");f.src=URL.createObjectURL(b);document.body.appendChild(f)</script>`, base64.StdEncoding.EncodeToString([]byte(form("application/x-www-form-urlencoded", "POST", target+"/transfer", "", "_self")))),
				"/ws":         fmt.Sprintf(`<!doctype html><script>new WebSocket(%q)</script>`, wsTarget+"/ws"),
				"/sw":         `<!doctype html><script>navigator.serviceWorker.register("/sw.js")</script>`,
			}
			for p, body := range pages {
				attack.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })
			}
			attack.HandleFunc("POST /r307", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target+"/transfer", http.StatusTemporaryRedirect)
			})
			attack.HandleFunc("POST /r308", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target+"/transfer", http.StatusPermanentRedirect)
			})
			attack.HandleFunc("GET /sw.js", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/javascript")
				fmt.Fprintf(w, `self.addEventListener("install", e => e.waitUntil(fetch(%q,{method:"POST",mode:"no-cors",credentials:"include",body:"to=mallory&sw=1"}).catch(()=>{})))`, target+"/transfer?sw=1")
			})
			attacker := fmt.Sprintf("http://127.0.0.2:%d", serve(t, "127.0.0.2:0", nil, attack))
			sibPort := serve(t, "127.0.0.1:0", srvTLS(srv), attack)
			sibling := fmt.Sprintf("https://evil.app.localhost:%d", sibPort)

			b := startBrowser(t, tools, browser.Profile{
				CACertsPEM: pki.EncodeCertsPEM(ca.Cert),
				ClientP12:  alice,
				AutoSelect: []string{target},
				IssuerCN:   harnessCAName,
			})
			if status, err := b.Navigate(t.Context(), target+"/"); err != nil || status != 200 {
				t.Fatalf("navigate: %d %v", status, err)
			}

			type result struct {
				sent   browser.Sent
				access browser.Access
				seen   bool
			}
			run := func(t *testing.T, open func() error, method, pathPrefix string) result {
				gm, sm := log.Mark(), b.Mark()
				if err := open(); err != nil {
					t.Fatal(err)
				}
				wctx, cancel := context.WithTimeout(t.Context(), 6*time.Second)
				defer cancel()
				var r result
				acc, err := log.Wait(wctx, gm, func(a browser.Access) bool {
					return a.Method == method && strings.HasPrefix(a.Path, pathPrefix)
				})
				if err != nil {
					return r
				}
				r.access, r.seen = acc, true
				sctx, cancel2 := context.WithTimeout(t.Context(), 4*time.Second)
				defer cancel2()
				r.sent, _ = b.WaitSent(sctx, sm, func(s browser.Sent) bool {
					return s.Method == method && strings.HasPrefix(s.URL, target+pathPrefix)
				})
				return r
			}
			report := func(t *testing.T, name string, r result) {
				h := r.sent.Header
				t.Logf("%-28s seen=%v gw=%d %s %s id=%q | Origin=%q SFS=%q SFM=%q SFD=%q type=%s", name, r.seen, r.access.Status, r.access.Decision, r.access.Reason, r.access.Identity,
					h.Get("Origin"), h.Get("Sec-Fetch-Site"), h.Get("Sec-Fetch-Mode"), h.Get("Sec-Fetch-Dest"), r.sent.Type)
			}

			for _, tc := range []struct {
				name, url, method, path string
				wantAllow               bool
			}{
				{"cross-site form", attacker + "/form", "POST", "/transfer", false},
				{"cross-site multipart", attacker + "/multipart", "POST", "/transfer", false},
				{"cross-site text/plain", attacker + "/text-plain", "POST", "/transfer", false},
				{"cross-site fetch no-cors", attacker + "/fetch", "POST", "/transfer", false},
				{"cross-site 307", attacker + "/redir307", "POST", "/transfer", false},
				{"cross-site 308", attacker + "/redir308", "POST", "/transfer", false},
				{"sandboxed iframe", attacker + "/sandbox", "POST", "/transfer", false},
				{"data: iframe", attacker + "/data", "POST", "/transfer", false},
				{"blob: iframe", attacker + "/blob", "POST", "/transfer", false},
				{"_method=DELETE form", attacker + "/override", "POST", "/transfer", false},
				{"GET form", attacker + "/get", "GET", "/transfer", true},
				{"GET form _method=POST", attacker + "/get-post", "GET", "/transfer", false},
				{"WebSocket", attacker + "/ws", "GET", "/ws", false},
				{"service worker", attacker + "/sw", "POST", "/transfer", false},
				{"same-site form", sibling + "/form", "POST", "/transfer", false},
				{"same-site fetch", sibling + "/fetch", "POST", "/transfer", false},
				{"same-site ws", sibling + "/ws", "GET", "/ws", false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := run(t, func() error { return b.Open(t.Context(), tc.url) }, tc.method, tc.path)
					report(t, tc.name, r)
					if mode == "insecure-off" {
						if !r.seen || r.access.Decision != "allow" {
							t.Errorf("negative control: not seen or not allowed")
						}
						return
					}
					if !r.seen {
						t.Fatalf("the gateway logged no %s %s", tc.method, tc.path)
					}
					if (r.access.Decision == "allow") != tc.wantAllow {
						t.Errorf("decision %s %s, want allow %v", r.access.Decision, r.access.Reason, tc.wantAllow)
					}
				})
			}
			// Legitimate twins.
			t.Run("same-origin form", func(t *testing.T) {
				if _, err := b.Navigate(t.Context(), target+"/"); err != nil {
					t.Fatal(err)
				}
				r := run(t, func() error {
					_, err := b.Follow(t.Context(), `document.querySelector("#f button").click()`)
					return err
				}, "POST", "/transfer")
				report(t, "same-origin form", r)
				if r.access.Decision != "allow" {
					t.Errorf("refused")
				}
			})
			t.Run("same-origin form, no-referrer page", func(t *testing.T) {
				if _, err := b.Navigate(t.Context(), target+"/noref"); err != nil {
					t.Fatal(err)
				}
				r := run(t, func() error {
					_, err := b.Follow(t.Context(), `document.querySelector("#f button").click()`)
					return err
				}, "POST", "/transfer")
				report(t, "same-origin no-referrer", r)
				if r.access.Decision != "allow" {
					t.Errorf("refused")
				}
			})
			t.Run("same-origin 307", func(t *testing.T) {
				if _, err := b.Navigate(t.Context(), target+"/"); err != nil {
					t.Fatal(err)
				}
				r := run(t, func() error {
					_, err := b.Follow(t.Context(), `(() => {const f=document.getElementById("f"); f.action="/redir"; f.submit()})()`)
					return err
				}, "POST", "/transfer")
				report(t, "same-origin 307", r)
				if r.access.Decision != "allow" {
					t.Errorf("refused")
				}
			})
			t.Run("same-origin ws", func(t *testing.T) {
				if _, err := b.Navigate(t.Context(), target+"/"); err != nil {
					t.Fatal(err)
				}
				r := run(t, func() error {
					var s string
					return b.Eval(t.Context(), `new Promise(r => { const w = new WebSocket("`+wsTarget+`/ws"); w.onopen = () => r("open"); w.onerror = () => r("error") })`, &s)
				}, "GET", "/ws")
				report(t, "same-origin ws", r)
				if r.access.Decision != "allow" {
					t.Errorf("refused")
				}
			})
			t.Run("user navigation", func(t *testing.T) {
				r := run(t, func() error { _, err := b.Navigate(t.Context(), target+"/page"); return err }, "GET", "/page")
				report(t, "user navigation", r)
				if r.access.Decision != "allow" {
					t.Errorf("refused")
				}
			})
			for _, r := range upRec.Requests() {
				t.Logf("upstream saw %s %s Origin=%q(%v) SFS=%q SFM=%q SFD=%q CT=%q", r.Method, r.Path, r.Origin, r.HasOrigin, r.SecFetchSite, r.SecFetchMode, r.SecFetchDest, r.ContentType)
			}
		})
	}
}

func srvTLS(c *pki.Cert) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.TLSCertificate()}}
}
