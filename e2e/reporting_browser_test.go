package e2e_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestGatewayReportingAPIInBrowser covers the Reporting API: a page names
// report endpoints (the Reporting-Endpoints header, or the legacy
// Report-To one) and Chromium's network service POSTs
// application/reports+json there on its own schedule (here within seconds:
// --short-reporting-delay). The attacker's HTTPS page (Chromium uploads no
// report from an http: page) points every kind of report Chromium sends at
// the target: CSP report-to (with Reporting-Endpoints and with Report-To),
// COEP and COOP report-only, deprecation, intervention and NEL. The target
// answers the CORS preflight (the worst case: an app with a permissive
// CORS policy), so the upload comes: with the user's client certificate,
// the attacker's Origin, no cookie and no Sec-Fetch-* header. Each upload
// is refused with "origin-mismatch" by the gateway (origin-only) and by
// the csrf library's Handler, and reaches the app with csrf insecure-off
// (the negative control). An upload to the attacker's own endpoint that
// answers 307 to the target arrives there without a preflight, with the
// target's cookie and "Origin: null": refused "origin-null". The
// same-origin twin (the target's own page reporting to itself) is
// allowed. When the target refuses the preflight, Chromium retries the
// preflight and never sends the upload.
func TestGatewayReportingAPIInBrowser(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	ca, srv, dir := gatewayFiles(t, "app.localhost", "localhost")
	alice, err := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}).PKCS12("")
	if err != nil {
		t.Fatal(err)
	}
	// The attacker's site is https://127.0.0.2: reports need an HTTPS page.
	evilCert := pkitest.ServerWith(t, ca, pki.ServerOptions{IPAddresses: []net.IP{net.ParseIP("127.0.0.2")}})

	for _, mode := range []string{"origin-only", "csrf.Handler", "insecure-off"} {
		t.Run(mode, func(t *testing.T) {
			// What reached the app, with its body.
			upLog := &hitLog{}
			app := http.NewServeMux()
			app.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
				http.SetCookie(w, &http.Cookie{Name: "sid", Value: "alice", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
				fmt.Fprint(w, "<!doctype html><title>app</title>logged in")
			})
			app.HandleFunc("OPTIONS /reports/", func(w http.ResponseWriter, r *http.Request) {
				// A permissive CORS policy: the preflight lets the upload
				// come.
				w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
				w.Header().Set("Access-Control-Allow-Methods", "POST")
				w.Header().Set("Access-Control-Allow-Headers", "content-type")
				w.WriteHeader(http.StatusNoContent)
			})
			app.HandleFunc("OPTIONS /refused/", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent) // no CORS headers
			})
			app.HandleFunc("GET /p/self-csp", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Reporting-Endpoints", `main="/reports/self-csp"`)
				w.Header().Set("Content-Security-Policy", "img-src 'none'; report-to main")
				fmt.Fprint(w, `<!doctype html><title>app</title><img src="/x.png">`)
			})
			app.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusNoContent)
			})
			appH := upLog.wrap(app)
			up := httptest.NewServer(appH)
			t.Cleanup(up.Close)

			// verdict is what the protection in front of the app decided.
			type verdict struct {
				status                  int
				decision, reason, ident string
				origin, secFetchSite    string
			}
			var (
				target string
				mark   func() int
				wait   func(ctx context.Context, mark int, method, path string) (verdict, error)
				since  func(mark int, method, path string) int
			)
			if mode == "csrf.Handler" {
				// The library alone: a TLS server that asks for the
				// certificate, csrf.Protection's Handler in front of the
				// app, the refusal's reason in a header the log reads.
				libLog := &hitLog{}
				p := csrf.New()
				p.SetDenyHandler(func(w http.ResponseWriter, r *http.Request, e *csrf.Error) {
					w.Header().Set("X-Test-Reason", string(e.Reason))
					w.WriteHeader(http.StatusForbidden)
				})
				pool := ca.Pool()
				port := serve(t, "127.0.0.1:0", &tls.Config{
					Certificates: []tls.Certificate{srv.TLSCertificate()},
					ClientAuth:   tls.VerifyClientCertIfGiven,
					ClientCAs:    pool,
				}, libLog.wrap(p.Handler(appH)))
				target = fmt.Sprintf("https://app.localhost:%d", port)
				mark = libLog.mark
				wait = func(ctx context.Context, m int, method, path string) (verdict, error) {
					h, err := libLog.wait(ctx, m, method, path, 1)
					if err != nil {
						return verdict{}, err
					}
					v := verdict{status: h.status, decision: "allow", reason: h.reason, ident: h.ident, origin: h.header.Get("Origin"), secFetchSite: h.header.Get("Sec-Fetch-Site")}
					if h.status == http.StatusForbidden {
						v.decision = "deny"
					}
					return v, nil
				}
				since = func(m int, method, path string) int { return libLog.count(m, method, path) }
			} else {
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
				target = "https://app.localhost:" + serveGateway(t, g)
				mark = glog.Mark
				wait = func(ctx context.Context, m int, method, path string) (verdict, error) {
					acc, fields, err := glog.Wait(ctx, m, browser.Handled(method, path))
					if err != nil {
						return verdict{}, err
					}
					return verdict{status: acc.Status, decision: acc.Decision, reason: acc.Reason, ident: acc.Identity, origin: fields["origin"], secFetchSite: fields["sec_fetch_site"]}, nil
				}
				since = func(m int, method, path string) int {
					n := 0
					for _, a := range glog.Records()[m:] {
						if a.Method == method && a.Path == path {
							n++
						}
					}
					return n
				}
			}

			// The attacker's pages.
			doc := func(body string) string { return "<!doctype html><title>cats</title><body>" + body }
			endpoints := func(name, path string) string { return fmt.Sprintf(`%s=%q`, name, target+path) }
			button := `<button id="go" style="position:fixed;left:0;top:0;width:200px;height:100px" onclick="window.open('/p/coop-popup')">go</button>`
			type page struct {
				header map[string]string
				body   string
			}
			pages := map[string]page{
				"csp": {map[string]string{"Reporting-Endpoints": endpoints("main", "/reports/csp"),
					"Content-Security-Policy": "img-src 'none'; report-to main"}, doc(`<img src="/x.png">`)},
				"csp-refused": {map[string]string{"Reporting-Endpoints": endpoints("main", "/refused/csp"),
					"Content-Security-Policy": "img-src 'none'; report-to main"}, doc(`<img src="/x.png">`)},
				"coep": {map[string]string{"Reporting-Endpoints": endpoints("main", "/reports/coep"),
					"Cross-Origin-Embedder-Policy-Report-Only": `require-corp; report-to="main"`}, doc(`<img src="` + target + `/pixel">`)},
				// A page without COOP opens one with COOP same-origin:
				// the browsing context group would switch.
				"coop": {nil, doc(button)},
				"coop-popup": {map[string]string{"Reporting-Endpoints": endpoints("main", "/reports/coop"),
					"Cross-Origin-Opener-Policy-Report-Only": `same-origin; report-to="main"`}, doc("popup")},
				"deprecation": {map[string]string{"Reporting-Endpoints": endpoints("default", "/reports/deprecation")},
					doc(`<script>document.createRange().expand("word")</script>`)},
				"intervention": {map[string]string{"Reporting-Endpoints": endpoints("default", "/reports/intervention")},
					doc(`<script>navigator.vibrate(100)</script>`)},
				"legacy": {map[string]string{"Report-To": fmt.Sprintf(`{"group":"legacy","max_age":600,"endpoints":[{"url":%q}]}`, target+"/reports/legacy"),
					"Content-Security-Policy": "img-src 'none'; report-to legacy"}, doc(`<img src="/x.png">`)},
				// The page's own load is the first request the policy
				// covers (success_fraction 1: every request is reported).
				"nel": {map[string]string{"Report-To": fmt.Sprintf(`{"group":"nel","max_age":600,"endpoints":[{"url":%q}]}`, target+"/reports/nel"),
					"NEL": `{"report_to":"nel","max_age":600,"success_fraction":1.0}`}, doc("nel")},
			}
			pages["redirect"] = page{map[string]string{"Reporting-Endpoints": fmt.Sprintf(`main=%q`, "/rd307"),
				"Content-Security-Policy": "img-src 'none'; report-to main"}, doc(`<img src="/x.png">`)}
			attack := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/rd307" && r.Method == http.MethodPost {
					// The attacker's own endpoint (same origin as the
					// page: no preflight) sends the upload on to the
					// target.
					http.Redirect(w, r, target+"/reports/redirected", http.StatusTemporaryRedirect)
					return
				}
				p, ok := pages[strings.TrimPrefix(r.URL.Path, "/p/")]
				if !ok {
					w.WriteHeader(http.StatusNoContent)
					return
				}
				for k, v := range p.header {
					w.Header().Set(k, v)
				}
				fmt.Fprint(w, p.body)
			})
			attacker := fmt.Sprintf("https://127.0.0.2:%d", serve(t, "127.0.0.2:0", &tls.Config{Certificates: []tls.Certificate{evilCert.TLSCertificate()}}, attack))

			b := startBrowserWith(t, browser.Options{Tools: tools, ShortReportingDelay: true, Profile: browser.Profile{
				CACertsPEM: pki.EncodeCertsPEM(ca.Cert),
				ClientP12:  alice,
				AutoSelect: []string{target},
				IssuerCN:   harnessCAName,
			}})
			// The session cookie (SameSite=None) that a credentialed
			// upload would carry.
			if status, err := b.Navigate(t.Context(), target+"/login"); err != nil || status != 200 {
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
					return chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#go")))
				}
			}

			// Preflight refused: Chromium sends the preflight, then again
			// (it retries the upload), and never the POST. Opened first:
			// its retries go on while the other rows run.
			t.Run("cross-site CSP report-to, preflight refused", func(t *testing.T) {
				gm, um := mark(), upLog.mark()
				if err := autoload(attacker + "/p/csp-refused")(); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
				defer cancel()
				// The preflight reaches the app in every mode (OPTIONS
				// is safe); wait for the second one, Chromium's retry.
				h, err := upLog.wait(ctx, um, "OPTIONS", "/refused/csp", 2)
				if err != nil {
					t.Fatalf("no second preflight reached the app: %v", err)
				}
				t.Logf("%-46s preflight: Origin=%q ACRM=%q ACRH=%q cookies=%q", t.Name(), h.header.Get("Origin"),
					h.header.Get("Access-Control-Request-Method"), h.header.Get("Access-Control-Request-Headers"), h.header.Get("Cookie"))
				if n := since(gm, "POST", "/refused/csp"); n != 0 {
					t.Errorf("%d uploads reached the server although the preflight was refused", n)
				}
				if h.header.Get("Origin") != attacker {
					t.Errorf("preflight Origin %q, want %q", h.header.Get("Origin"), attacker)
				}
			})

			for _, tc := range []struct {
				name      string
				open      func() error
				path      string
				typ       string // the reports' "type"
				from      string // the report's origin, sent as Origin
				wantAllow bool
			}{
				{"cross-site CSP report-to (Reporting-Endpoints)", autoload(attacker + "/p/csp"), "/reports/csp", "csp-violation", attacker, false},
				{"same-origin CSP report-to (Reporting-Endpoints)", autoload(target + "/p/self-csp"), "/reports/self-csp", "csp-violation", target, true},
				{"cross-site CSP report-to (legacy Report-To)", autoload(attacker + "/p/legacy"), "/reports/legacy", "csp-violation", attacker, false},
				{"cross-site COEP report-only", autoload(attacker + "/p/coep"), "/reports/coep", "coep", attacker, false},
				// Before any click: a click's user activation carries
				// over to the attacker's next pages, and vibrate() is then
				// allowed (no intervention).
				{"cross-site intervention report", autoload(attacker + "/p/intervention"), "/reports/intervention", "intervention", attacker, false},
				{"cross-site COOP report-only (popup)", click(attacker + "/p/coop"), "/reports/coop", "coop", attacker, false},
				{"cross-site deprecation report", autoload(attacker + "/p/deprecation"), "/reports/deprecation", "deprecation", attacker, false},
				// The attacker's same-origin endpoint (credentialed, no
				// preflight) answers 307 to the target: Chromium follows
				// it without a preflight, with the target's cookies and
				// the certificate, and sends "Origin: null".
				{"cross-site CSP report-to, 307 to the target", autoload(attacker + "/p/redirect"), "/reports/redirected", "csp-violation", "null", false},
				// Last: the NEL policy then covers the attacker's every
				// request, and the uploads go on.
				{"cross-site NEL (Report-To)", autoload(attacker + "/p/nel"), "/reports/nel", "network-error", attacker, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					gm, um := mark(), upLog.mark()
					if err := tc.open(); err != nil {
						t.Fatal(err)
					}
					// Uploads come within seconds with
					// --short-reporting-delay; the deadline absorbs a
					// busy machine.
					ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
					defer cancel()
					v, err := wait(ctx, gm, "POST", tc.path)
					if err != nil {
						t.Fatalf("no upload to %s: %v", tc.path, err)
					}
					t.Logf("%-48s %d %s %s cert=%q Origin=%q Sec-Fetch-Site=%q", tc.name, v.status, v.decision, v.reason, v.ident, v.origin, v.secFetchSite)
					if v.ident == "" {
						t.Errorf("no client certificate on the upload: the row proves nothing")
					}
					// What Chromium sent: the premise of the reason code.
					// The gateway logs Origin and Sec-Fetch-Site when it
					// checks them; an allowed upload's are read at the app.
					premise := func(origin, site string) {
						if origin != tc.from || site != "" {
							t.Errorf("upload sent with Origin %q and Sec-Fetch-Site %q, want %q and none", origin, site, tc.from)
						}
					}
					if mode == "insecure-off" || tc.wantAllow {
						if v.decision != "allow" {
							t.Errorf("decision %s %s, want allow", v.decision, v.reason)
						}
						h, err := upLog.wait(ctx, um, "POST", tc.path, 1)
						if err != nil {
							t.Fatalf("the upload did not reach the app: %v", err)
						}
						var reports []struct{ Type string }
						jerr := json.Unmarshal(h.body, &reports)
						t.Logf("%-48s app: Origin=%q Sec-Fetch-Site=%q Content-Type=%q Sec-Fetch-Mode=%q Sec-Fetch-Dest=%q Cookie=%q reports=%d", "", h.header.Get("Origin"), h.header.Get("Sec-Fetch-Site"), h.header.Get("Content-Type"),
							h.header.Get("Sec-Fetch-Mode"), h.header.Get("Sec-Fetch-Dest"), h.header.Get("Cookie"), len(reports))
						premise(h.header.Get("Origin"), h.header.Get("Sec-Fetch-Site"))
						if ct := h.header.Get("Content-Type"); ct != "application/reports+json" {
							t.Errorf("Content-Type %q", ct)
						}
						if jerr != nil || len(reports) == 0 || reports[0].Type != tc.typ {
							t.Errorf("the app got %.200q (%v), want reports of type %q", h.body, jerr, tc.typ)
						}
						return
					}
					premise(v.origin, v.secFetchSite)
					want := csrf.ReasonOriginMismatch
					if tc.from == "null" {
						want = csrf.ReasonOriginNull
					}
					if v.decision != "deny" || v.reason != string(want) {
						t.Errorf("decision %s %q, want deny %q", v.decision, v.reason, want)
					}
					if n := upLog.count(um, "POST", tc.path); n != 0 {
						t.Errorf("%d uploads reached the app", n)
					}
				})
			}
		})
	}
}

// hit is a request a hitLog kept: its headers and body, the status
// answered, the refusal reason (X-Test-Reason) and the certificate.
type hit struct {
	method, path  string
	header        http.Header
	body          []byte
	status        int
	reason, ident string
}

// hitLog keeps the requests a handler served, in order.
type hitLog struct {
	mu   sync.Mutex
	hits []hit
}

func (l *hitLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		x := hit{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body, status: sw.status, reason: w.Header().Get("X-Test-Reason")}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			x.ident = r.TLS.PeerCertificates[0].Subject.String()
		}
		l.mu.Lock()
		l.hits = append(l.hits, x)
		l.mu.Unlock()
	})
}

func (l *hitLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hits)
}

func (l *hitLog) count(mark int, method, path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, h := range l.hits[mark:] {
		if h.method == method && h.path == path {
			n++
		}
	}
	return n
}

// wait returns the nth request (from 1) after mark with that method and
// path, waiting for it until ctx ends.
func (l *hitLog) wait(ctx context.Context, mark int, method, path string, nth int) (hit, error) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		l.mu.Lock()
		n := 0
		for _, h := range l.hits[mark:] {
			if h.method == method && h.path == path {
				if n++; n == nth {
					l.mu.Unlock()
					return h, nil
				}
			}
		}
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return hit{}, fmt.Errorf("%s %s (#%d): %w", method, path, nth, ctx.Err())
		case <-tick.C:
		}
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}
