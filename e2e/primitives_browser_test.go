package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/accesslog"
	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestGatewayRequestPrimitivesInBrowser is TestGatewayDefaultInBrowser's
// sibling for the other ways a page makes Chromium send a request with
// the user's certificate: <a ping>, navigator.sendBeacon (string, Blob,
// FormData), a keepalive no-cors fetch, forms into a new window (target
// _blank, a named popup, a noopener window, a scripted about:blank
// popup), into a framed copy of the target, from a srcdoc frame, a
// text/plain form sent with requestSubmit(), a CSP report-uri, and
// redirects (303 to GET, a 307 on the target's own origin). Each
// state-changing one is refused from the attacker's site; the same-origin
// twins and the GETs are allowed; with csrf insecure-off every one
// reaches the app (the negative control). Each row logs what Chromium
// sent: from the tab's own traffic when the request left the tab, and
// from what reached the app with insecure-off (requests made by a popup
// are not in the tab's traffic).
func TestGatewayRequestPrimitivesInBrowser(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	ca, _, dir := gatewayFiles(t, "app.localhost", "localhost")
	alice, err := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}).PKCS12("")
	if err != nil {
		t.Fatal(err)
	}

	for _, mode := range []string{"origin-only", "insecure-off"} {
		t.Run(mode, func(t *testing.T) {
			// The upstream keeps the headers of every request it gets.
			var upMu sync.Mutex
			var upSeen []*http.Request
			pages := map[string]func(base string) string{}
			app := http.NewServeMux()
			app.HandleFunc("POST /redir/", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "/transfer/307-target", http.StatusTemporaryRedirect)
			})
			app.HandleFunc("GET /p/{name}", func(w http.ResponseWriter, r *http.Request) {
				page, ok := pages[r.PathValue("name")]
				if !ok {
					http.NotFound(w, r)
					return
				}
				fmt.Fprint(w, page(""))
			})
			app.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "<!doctype html><title>app</title>ok")
			})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				upMu.Lock()
				upSeen = append(upSeen, r.Clone(context.Background()))
				upMu.Unlock()
				app.ServeHTTP(w, r)
			}))
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
admin:
  address: "off"
`, filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"), filepath.Join(dir, "ca.pem"), up.URL, mode)
			cfg, err := gateway.ParseConfig("forgeproof.yaml", []byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			glog := &fieldLog{}
			g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(glog)})
			if err != nil {
				t.Fatal(err)
			}
			port := serveGateway(t, g)
			target := "https://app.localhost:" + port

			// Pages take the base of the target's URLs: the target's
			// origin on the attacker's site, "" on the target itself.
			form := func(id, enctype, action, tgt, submit string) string {
				return fmt.Sprintf(`<form id=%q method="POST" enctype=%q action=%q target=%q><input name="to" value="mallory"><input name="amount" value="100"></form>%s`,
					id, enctype, action, tgt, submit)
			}
			doc := func(body string) string { return "<!doctype html><title>cats</title><body>" + body }
			button := `<button id="go" style="position:fixed;left:0;top:0;width:200px;height:100px">go</button>`
			pages["ping"] = func(base string) string {
				return doc(fmt.Sprintf(`<a id="a" href="/landed" ping="%s/transfer/ping">cats</a><script>document.getElementById("a").click()</script>`, base))
			}
			pages["beacon-string"] = func(base string) string {
				return doc(fmt.Sprintf(`<script>navigator.sendBeacon(%q, "to=mallory&amount=100")</script>`, base+"/transfer/beacon-string"))
			}
			pages["beacon-blob"] = func(base string) string {
				return doc(fmt.Sprintf(`<script>navigator.sendBeacon(%q, new Blob(["to=mallory&amount=100"], {type: "text/plain"}))</script>`, base+"/transfer/beacon-blob"))
			}
			pages["beacon-formdata"] = func(base string) string {
				return doc(fmt.Sprintf(`<script>const d = new FormData(); d.append("to", "mallory"); navigator.sendBeacon(%q, d)</script>`, base+"/transfer/beacon-formdata"))
			}
			pages["keepalive"] = func(base string) string {
				return doc(fmt.Sprintf(`<script>fetch(%q, {method: "POST", keepalive: true, mode: "no-cors", credentials: "include", body: "to=mallory"})</script>`, base+"/transfer/keepalive"))
			}
			pages["blank"] = func(base string) string {
				return doc(button + form("f", "application/x-www-form-urlencoded", base+"/transfer/blank", "_blank", "") +
					`<script>document.getElementById("go").onclick = () => document.getElementById("f").submit()</script>`)
			}
			pages["named-popup"] = func(base string) string {
				return doc(button + form("f", "application/x-www-form-urlencoded", base+"/transfer/named-popup", "pop", "") +
					`<script>document.getElementById("go").onclick = () => { window.open("/landed", "pop"); setTimeout(() => document.getElementById("f").submit(), 100) }</script>`)
			}
			pages["noopener"] = func(base string) string {
				return doc(button + form("f", "application/x-www-form-urlencoded", base+"/transfer/noopener", "_self", "") +
					fmt.Sprintf(`<script>document.getElementById("go").onclick = () => { window.open(%q, "w", "noopener"); setTimeout(() => document.getElementById("f").submit(), 100) }</script>`, base+"/opened"))
			}
			pages["blank-popup"] = func(base string) string {
				return doc(button + fmt.Sprintf(`<script>document.getElementById("go").onclick = () => { const w = window.open(""); w.document.write(%q); w.document.close(); w.document.getElementById("f").submit() }</script>`,
					form("f", "application/x-www-form-urlencoded", base+"/transfer/blank-popup", "_self", "")))
			}
			pages["frame-nav"] = func(base string) string {
				return doc(fmt.Sprintf(`<iframe name="t" src="%s/framed" onload="if (!this.done) { this.done = true; frames[0].location = '%s/framed-nav' }"></iframe>`, base, base))
			}
			pages["frame-post"] = func(base string) string {
				return doc(fmt.Sprintf(`<iframe name="t" src="%s/framed" onload="if (!this.done) { this.done = true; document.getElementById('f').submit() }"></iframe>`, base) +
					form("f", "application/x-www-form-urlencoded", base+"/transfer/frame-post", "t", ""))
			}
			pages["srcdoc"] = func(base string) string {
				inner := doc(form("f", "application/x-www-form-urlencoded", base+"/transfer/srcdoc", "_self", `<script>document.getElementById("f").submit()</script>`))
				return doc(fmt.Sprintf(`<iframe srcdoc='%s'></iframe>`, strings.ReplaceAll(inner, "'", "&#39;")))
			}
			pages["request-submit"] = func(base string) string {
				return doc(form("f", "text/plain", base+"/transfer/request-submit", "_self", `<script>document.getElementById("f").requestSubmit()</script>`))
			}
			pages["r303"] = func(base string) string {
				return doc(form("f", "application/x-www-form-urlencoded", "/r303", "_self", `<script>document.getElementById("f").submit()</script>`))
			}
			pages["redir307"] = func(base string) string {
				return doc(form("f", "application/x-www-form-urlencoded", base+"/redir/", "_self", `<script>document.getElementById("f").submit()</script>`))
			}
			pages["csp"] = func(base string) string { return doc(`<img src="/x.png">`) }

			attack := http.NewServeMux()
			attack.HandleFunc("GET /p/{name}", func(w http.ResponseWriter, r *http.Request) {
				page, ok := pages[r.PathValue("name")]
				if !ok {
					http.NotFound(w, r)
					return
				}
				if r.PathValue("name") == "csp" {
					w.Header().Set("Content-Security-Policy", "img-src 'none'; report-uri "+target+"/csp-report")
				}
				fmt.Fprint(w, page(target))
			})
			attack.HandleFunc("POST /r303", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target+"/transfer/303", http.StatusSeeOther)
			})
			attack.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "<!doctype html><title>attacker</title>landed")
			})
			attacker := fmt.Sprintf("http://127.0.0.2:%d", serve(t, "127.0.0.2:0", nil, attack))

			b := startBrowser(t, tools, browser.Profile{
				CACertsPEM: pki.EncodeCertsPEM(ca.Cert),
				ClientP12:  alice,
				AutoSelect: []string{target},
				IssuerCN:   harnessCAName,
			})
			if status, err := b.Navigate(t.Context(), target+"/"); err != nil || status != 200 {
				t.Fatalf("navigate: %d %v", status, err)
			}

			autoload := func(u string) func() error {
				return func() error { return b.Open(t.Context(), u) }
			}
			click := func(u string) func() error {
				return func() error {
					if _, err := b.Navigate(t.Context(), u); err != nil {
						return err
					}
					ctx, cancel := b.Context(t.Context())
					defer cancel()
					// A real click: the user activation a popup needs.
					// When the click makes the tab navigate, chromedp
					// may lose the page before the click returns: the
					// gateway's log, not this error, says what was sent.
					if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#go"))); err != nil {
						t.Logf("click on %s: %v", u, err)
					}
					return nil
				}
			}

			for _, tc := range []struct {
				name   string
				open   func() error
				method string
				path   string // the request to watch for (no query)
				// inTab: the request leaves from the tab, so its
				// traffic has it (not from a popup).
				inTab     bool
				wantAllow bool
			}{
				{"cross-site <a ping>", autoload(attacker + "/p/ping"), "POST", "/transfer/ping", false, false},
				{"same-origin <a ping>", autoload(target + "/p/ping"), "POST", "/transfer/ping", false, true},
				{"cross-site sendBeacon string", autoload(attacker + "/p/beacon-string"), "POST", "/transfer/beacon-string", true, false},
				{"same-origin sendBeacon string", autoload(target + "/p/beacon-string"), "POST", "/transfer/beacon-string", true, true},
				{"cross-site sendBeacon Blob text/plain", autoload(attacker + "/p/beacon-blob"), "POST", "/transfer/beacon-blob", true, false},
				{"same-origin sendBeacon Blob text/plain", autoload(target + "/p/beacon-blob"), "POST", "/transfer/beacon-blob", true, true},
				{"cross-site sendBeacon FormData", autoload(attacker + "/p/beacon-formdata"), "POST", "/transfer/beacon-formdata", true, false},
				{"same-origin sendBeacon FormData", autoload(target + "/p/beacon-formdata"), "POST", "/transfer/beacon-formdata", true, true},
				{"cross-site keepalive fetch no-cors", autoload(attacker + "/p/keepalive"), "POST", "/transfer/keepalive", true, false},
				{"same-origin keepalive fetch", autoload(target + "/p/keepalive"), "POST", "/transfer/keepalive", true, true},
				{"cross-site form target=_blank", click(attacker + "/p/blank"), "POST", "/transfer/blank", false, false},
				{"same-origin form target=_blank", click(target + "/p/blank"), "POST", "/transfer/blank", false, true},
				{"cross-site form into named popup", click(attacker + "/p/named-popup"), "POST", "/transfer/named-popup", false, false},
				{"same-origin form into named popup", click(target + "/p/named-popup"), "POST", "/transfer/named-popup", false, true},
				{"cross-site window.open noopener (GET)", click(attacker + "/p/noopener"), "GET", "/opened", false, true},
				{"cross-site form after noopener open", click(attacker + "/p/noopener"), "POST", "/transfer/noopener", true, false},
				{"cross-site about:blank popup form", click(attacker + "/p/blank-popup"), "POST", "/transfer/blank-popup", false, false},
				{"same-origin about:blank popup form", click(target + "/p/blank-popup"), "POST", "/transfer/blank-popup", false, true},
				{"cross-site frame navigated by attacker (GET)", autoload(attacker + "/p/frame-nav"), "GET", "/framed-nav", false, true},
				{"cross-site form into framed target", autoload(attacker + "/p/frame-post"), "POST", "/transfer/frame-post", false, false},
				{"same-origin form into frame", autoload(target + "/p/frame-post"), "POST", "/transfer/frame-post", true, true},
				{"cross-site srcdoc iframe form", autoload(attacker + "/p/srcdoc"), "POST", "/transfer/srcdoc", true, false},
				{"same-origin srcdoc iframe form", autoload(target + "/p/srcdoc"), "POST", "/transfer/srcdoc", true, true},
				{"cross-site text/plain requestSubmit()", autoload(attacker + "/p/request-submit"), "POST", "/transfer/request-submit", true, false},
				{"same-origin text/plain requestSubmit()", autoload(target + "/p/request-submit"), "POST", "/transfer/request-submit", true, true},
				{"cross-site CSP report-uri", autoload(attacker + "/p/csp"), "POST", "/csp-report", true, false},
				{"cross-site POST 303 to GET", autoload(attacker + "/p/r303"), "GET", "/transfer/303", true, true},
				{"cross-site POST to own-origin 307", autoload(attacker + "/p/redir307"), "POST", "/redir/", true, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					gm, sm := glog.Mark(), b.Mark()
					upMu.Lock()
					um := len(upSeen)
					upMu.Unlock()
					if err := tc.open(); err != nil {
						t.Fatal(err)
					}
					wctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
					defer cancel()
					acc, fields, err := glog.Wait(wctx, gm, func(a browser.Access) bool { return a.Method == tc.method && a.Path == tc.path })
					if err != nil {
						t.Fatalf("the gateway logged no %s %s: %v", tc.method, tc.path, err)
					}
					var sent browser.Sent
					if tc.inTab {
						sctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
						defer cancel()
						sent, _ = b.WaitSent(sctx, sm, browser.SentTo(tc.method, target+tc.path))
					}
					upMu.Lock()
					var upReq *http.Request
					for _, r := range upSeen[um:] {
						if r.Method == tc.method && r.URL.Path == tc.path {
							upReq = r
							break
						}
					}
					upMu.Unlock()
					t.Logf("%-44s gateway: %d %s %s cert=%q origin=%q sfs=%q", tc.name, acc.Status, acc.Decision, acc.Reason, acc.Identity, fields["origin"], fields["sec_fetch_site"])
					if h := sent.Header; h != nil {
						t.Logf("%-44s chromium: %s %s Origin=%q SFS=%q SFM=%q SFD=%q SFU=%q CT=%q", "", sent.Type, sent.URL,
							h.Get("Origin"), h.Get("Sec-Fetch-Site"), h.Get("Sec-Fetch-Mode"), h.Get("Sec-Fetch-Dest"), h.Get("Sec-Fetch-User"), h.Get("Content-Type"))
					}
					if upReq != nil {
						h := upReq.Header
						t.Logf("%-44s upstream: Origin=%q SFS=%q SFM=%q SFD=%q SFU=%q CT=%q Referer=%q Ping-From=%q Ping-To=%q", "",
							h.Get("Origin"), h.Get("Sec-Fetch-Site"), h.Get("Sec-Fetch-Mode"), h.Get("Sec-Fetch-Dest"), h.Get("Sec-Fetch-User"), h.Get("Content-Type"), h.Get("Referer"), h.Get("Ping-From"), h.Get("Ping-To"))
					}
					if acc.Identity == "" {
						t.Errorf("no client certificate on the request: the row proves nothing")
					}
					if mode == "insecure-off" {
						if acc.Decision != "allow" || upReq == nil {
							t.Errorf("negative control: decision %s, reached the app %v", acc.Decision, upReq != nil)
						}
						if tc.path == "/redir/" {
							// The app's 307 sends the POST on to its own
							// origin; the second hop is just as cross-site.
							acc, _, err := glog.Wait(wctx, gm, browser.Handled("POST", "/transfer/307-target"))
							if err != nil {
								t.Fatalf("no second hop: %v", err)
							}
							sent, _ := b.WaitSent(wctx, sm, browser.SentTo("POST", target+"/transfer/307-target"))
							h := sent.Header
							t.Logf("%-44s 307 hop: gateway %d %s cert=%q; chromium: Origin=%q SFS=%q SFM=%q SFD=%q CT=%q", "", acc.Status, acc.Decision, acc.Identity,
								h.Get("Origin"), h.Get("Sec-Fetch-Site"), h.Get("Sec-Fetch-Mode"), h.Get("Sec-Fetch-Dest"), h.Get("Content-Type"))
						}
						return
					}
					if (acc.Decision == "allow") != tc.wantAllow {
						t.Errorf("decision %s %s, want allow %v", acc.Decision, acc.Reason, tc.wantAllow)
					}
				})
			}
		})
	}
}

// fieldLog keeps the gateway's access log like browser.AccessLog, with
// the attributes that AccessLog does not read (origin, sec_fetch_site).
type fieldLog struct {
	browser.AccessLog
	mu     sync.Mutex
	fields []map[string]string
}

func (l *fieldLog) Handle(ctx context.Context, r slog.Record) error {
	// One lock around both appends keeps their indices in step.
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := accesslog.Parse(r); ok {
		m := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		l.fields = append(l.fields, m)
	}
	return l.AccessLog.Handle(ctx, r)
}

func (l *fieldLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *fieldLog) WithGroup(string) slog.Handler      { return l }

// Wait is AccessLog.Wait that also returns the record's attributes.
func (l *fieldLog) Wait(ctx context.Context, mark int, match func(browser.Access) bool) (browser.Access, map[string]string, error) {
	var i int
	acc, err := l.AccessLog.Wait(ctx, mark, func(a browser.Access) bool {
		i++
		return match(a)
	})
	if err != nil {
		return acc, nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := mark + i - 1; k < len(l.fields) {
		return acc, l.fields[k], nil
	}
	return acc, nil, nil
}
