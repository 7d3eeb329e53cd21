package e2e_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// harness is an mTLS target on https://localhost:PORT that asks for a
// client certificate (verify-if-given) and records what arrives, and a
// cross-site attacker page on http://127.0.0.2:PORT that auto-submits a
// form to it.
type harness struct {
	ca       *pki.CA
	client   *pki.Cert
	rec      *browser.Recorder
	target   string      // https://localhost:PORT
	attacker string      // http://127.0.0.2:PORT
	bodies   chan string // the bodies POSTed to /api/transfers
}

const harnessCAName = "forgeproof e2e harness CA"

func newHarness(t *testing.T) *harness {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: harnessCAName})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		ca:     ca,
		client: pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}),
		bodies: make(chan string, 16),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// SameSite=None: with third-party cookies allowed, it rides every
		// cross-site request, the worst case.
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s3cret", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
		fmt.Fprint(w, "<!doctype html><title>target</title>ok")
	})
	mux.HandleFunc("POST /transfer", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "transferred")
	})
	mux.HandleFunc("POST /api/transfers", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case h.bodies <- string(b):
		default:
		}
		fmt.Fprint(w, "transferred")
	})
	h.rec = browser.NewRecorder(mux)
	srv := pkitest.Server(t, ca)
	port := serve(t, "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srv.TLSCertificate()},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ca.Pool(),
	}, h.rec)
	h.target = fmt.Sprintf("https://localhost:%d", port)

	attack := http.NewServeMux()
	attack.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>cute cats</title>
<form id="f" method="POST" action="%s/transfer"><input name="to" value="mallory"><input name="amount" value="1000"></form>
<script>document.getElementById("f").submit()</script>`, h.target)
	})
	attack.HandleFunc("GET /fetch", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>cute dogs</title>
<script>fetch(%q, {method: "POST", mode: "no-cors", credentials: "include", body: "to=mallory&amount=1000"})</script>`, h.target+"/transfer")
	})
	// A page whose URL names the target, sending its whole URL as the
	// Referer (scan's look-alike Referer probe).
	attack.HandleFunc("GET /named/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>cute birds</title><meta name="referrer" content="unsafe-url">
<form id="f" method="POST" action="%s/transfer"><input name="to" value="mallory"><input name="amount" value="1000"></form>
<script>document.getElementById("f").submit()</script>`, h.target)
	})
	// A no-cors fetch whose body is JSON as is (scan's exact text/plain probe).
	attack.HandleFunc("GET /json", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>cute fish</title>
<script>fetch(%q, {method: "POST", mode: "no-cors", credentials: "include", body: '{"to":"mallory","amount":1}'})</script>`, h.target+"/api/transfers")
	})
	// The same with Content-Type text/plain;application/json (scan's
	// probe of a check that finds "json" anywhere in the header).
	attack.HandleFunc("GET /json-type", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><title>cute frogs</title>
<script>fetch(%q, {method: "POST", mode: "no-cors", credentials: "include", headers: {"Content-Type": "text/plain;application/json"}, body: '{"to":"mallory","amount":2}'})</script>`, h.target+"/api/transfers")
	})
	h.attacker = fmt.Sprintf("http://127.0.0.2:%d", serve(t, "127.0.0.2:0", nil, attack))
	return h
}

func (h *harness) profile(t *testing.T, withCert bool) browser.Profile {
	t.Helper()
	p := browser.Profile{
		CACertsPEM: pki.EncodeCertsPEM(h.ca.Cert),
		AutoSelect: []string{h.target},
		IssuerCN:   harnessCAName,
	}
	if withCert {
		p12, err := h.client.PKCS12("")
		if err != nil {
			t.Fatal(err)
		}
		p.ClientP12 = p12
	}
	return p
}

// TestCrossSiteFormCarriesCertificate is the fact the whole project rests
// on, checked in a real browser: a form that a cross-site page submits
// arrives with the victim's client certificate. Its negative control: a
// browser that holds no certificate sends none.
func TestCrossSiteFormCarriesCertificate(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	h := newHarness(t)
	tests := []struct {
		name     string
		withCert bool
		wantCN   string
	}{
		{name: "certificate installed", withCert: true, wantCN: "alice"},
		{name: "no certificate (negative control)", withCert: false, wantCN: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := startBrowser(t, tools, h.profile(t, tt.withCert))

			mark := h.rec.Mark()
			if _, err := b.Navigate(t.Context(), h.target+"/"); err != nil {
				t.Fatal(err)
			}
			visit, err := h.rec.Wait(waitCtx(t), mark, browser.To("GET", "/"))
			if err != nil {
				t.Fatal(err)
			}
			var title string
			if err := b.Eval(t.Context(), `document.title`, &title); err != nil || title != "target" {
				t.Errorf("eval document.title: got %q, %v; want \"target\"", title, err)
			}
			if err := b.Eval(t.Context(), `void 0`, nil); err != nil {
				t.Errorf("eval with no result: %v", err)
			}
			if visit.CertCN != tt.wantCN || visit.SecFetchSite != "none" {
				t.Errorf("own visit: got cert %q, Sec-Fetch-Site %q; want cert %q, Sec-Fetch-Site \"none\"", visit.CertCN, visit.SecFetchSite, tt.wantCN)
			}

			mark = h.rec.Mark()
			if err := b.Open(t.Context(), h.attacker+"/form"); err != nil {
				t.Fatal(err)
			}
			got, err := h.rec.Wait(waitCtx(t), mark, browser.To("POST", "/transfer"))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("forged POST: cert %q, Origin %q, Sec-Fetch-Site/Mode/Dest %s/%s/%s, cookies %v",
				got.CertCN, got.Origin, got.SecFetchSite, got.SecFetchMode, got.SecFetchDest, got.Cookies)
			checks := []struct {
				what      string
				got, want any
			}{
				{"certificate CN", got.CertCN, tt.wantCN},
				{"Origin", got.Origin, h.attacker},
				{"Sec-Fetch-Site", got.SecFetchSite, "cross-site"},
				{"Sec-Fetch-Mode", got.SecFetchMode, "navigate"},
				{"Content-Type", got.ContentType, "application/x-www-form-urlencoded"},
				{"sid cookie sent", slices.Contains(got.Cookies, "sid"), true},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
				}
			}

			// The browser's own account of the same request agrees.
			sent, err := b.WaitSent(t.Context(), 0, browser.SentTo("POST", h.target+"/transfer"))
			if err != nil {
				t.Fatal(err)
			}
			if sent.Header.Get("Origin") != h.attacker || sent.Header.Get("Sec-Fetch-Site") != "cross-site" ||
				!slices.Contains(sent.Cookies(), "sid") || sent.Status != http.StatusOK || sent.Type != "Document" {
				t.Errorf("browser side: got %s %s Origin %q Sec-Fetch-Site %q cookies %v status %d; want Document, Origin %q, cross-site, sid, 200",
					sent.Type, sent.URL, sent.Header.Get("Origin"), sent.Header.Get("Sec-Fetch-Site"), sent.Cookies(), sent.Status, h.attacker)
			}
		})
	}
}

// TestThirdPartyCookieSetting checks that the profile's cookie setting is
// honoured: with third-party cookies allowed (the worst case the demo
// tests use), a cross-site no-cors fetch carries the SameSite=None cookie
// and the certificate; with Chromium's headless default it carries the
// certificate only.
func TestThirdPartyCookieSetting(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	h := newHarness(t)
	tests := []struct {
		name       string
		block      bool
		wantCookie bool
	}{
		{name: "third-party cookies allowed", block: false, wantCookie: true},
		{name: "third-party cookies blocked", block: true, wantCookie: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := h.profile(t, true)
			p.BlockThirdPartyCookies = tt.block
			b := startBrowser(t, tools, p)
			if _, err := b.Navigate(t.Context(), h.target+"/"); err != nil {
				t.Fatal(err)
			}
			mark := h.rec.Mark()
			if _, err := b.Navigate(t.Context(), h.attacker+"/fetch"); err != nil {
				t.Fatal(err)
			}
			got, err := h.rec.Wait(waitCtx(t), mark, browser.To("POST", "/transfer"))
			if err != nil {
				t.Fatal(err)
			}
			if got.CertCN != "alice" || got.SecFetchMode != "no-cors" || got.SecFetchSite != "cross-site" {
				t.Errorf("got cert %q, Sec-Fetch-Mode %q, Sec-Fetch-Site %q; want alice, no-cors, cross-site", got.CertCN, got.SecFetchMode, got.SecFetchSite)
			}
			if has := slices.Contains(got.Cookies, "sid"); has != tt.wantCookie {
				t.Errorf("sid cookie sent: got %v, want %v", has, tt.wantCookie)
			}
		})
	}
}

// TestCertificatePickerFailsFast: without an auto-select rule for the
// target, headless Chromium waits on a certificate picker no one can
// click. The action deadline must turn that into an error, not a hung
// test. Its twin, the same navigation with the rule, is the visit in
// TestCrossSiteFormCarriesCertificate.
func TestCertificatePickerFailsFast(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	h := newHarness(t)
	p := h.profile(t, true)
	p.AutoSelect, p.IssuerCN = nil, ""
	b := startBrowser(t, tools, p)

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err := b.Navigate(ctx, h.target+"/")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("navigate with a pending picker: got %v, want %v", err, context.DeadlineExceeded)
	}
	for _, r := range h.rec.Requests() {
		if r.Path == "/" {
			t.Errorf("the request reached the server, so no picker was pending: %+v", r)
		}
	}
}

// TestScanRefererAndTextPlainProbes: two forgeries forgeproof scan sends,
// made by a real browser. A cross-site page with Referrer-Policy:
// unsafe-url whose URL holds the target's origin sends that whole URL as
// the Referer of its form POST (the look-alike Referer probe); a no-cors
// fetch whose body is a JSON string sends it as is, as
// text/plain;charset=UTF-8, with the certificate (the exact text/plain
// probe), and one that sets Content-Type text/plain;application/json
// sends it as written with no preflight (the probe of a check that finds
// "json" anywhere in the header).
func TestScanRefererAndTextPlainProbes(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	h := newHarness(t)
	b := startBrowser(t, tools, h.profile(t, true))

	page := h.attacker + "/named/?" + h.target
	mark := h.rec.Mark()
	if err := b.Open(t.Context(), page); err != nil {
		t.Fatal(err)
	}
	got, err := h.rec.Wait(waitCtx(t), mark, browser.To("POST", "/transfer"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Referer != page || got.Origin != h.attacker || got.CertCN != "alice" {
		t.Errorf("form POST: got Referer %q, Origin %q, cert %q; want %q, %q, alice", got.Referer, got.Origin, got.CertCN, page, h.attacker)
	}

	mark = h.rec.Mark()
	if _, err := b.Navigate(t.Context(), h.attacker+"/json"); err != nil {
		t.Fatal(err)
	}
	got, err = h.rec.Wait(waitCtx(t), mark, browser.To("POST", "/api/transfers"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ContentType != "text/plain;charset=UTF-8" || got.SecFetchMode != "no-cors" || got.CertCN != "alice" {
		t.Errorf("fetch: got Content-Type %q, Sec-Fetch-Mode %q, cert %q; want text/plain;charset=UTF-8, no-cors, alice", got.ContentType, got.SecFetchMode, got.CertCN)
	}
	select {
	case body := <-h.bodies:
		if body != `{"to":"mallory","amount":1}` {
			t.Errorf("fetch body %q, want the JSON as is", body)
		}
	case <-waitCtx(t).Done():
		t.Error("no body recorded")
	}

	// No preflight: the Content-Type's essence is text/plain, so the
	// fetch goes as a simple request, its Content-Type as written.
	mark = h.rec.Mark()
	if _, err := b.Navigate(t.Context(), h.attacker+"/json-type"); err != nil {
		t.Fatal(err)
	}
	got, err = h.rec.Wait(waitCtx(t), mark, browser.To("POST", "/api/transfers"))
	if err != nil {
		t.Fatal(err)
	}
	if got.ContentType != "text/plain;application/json" || got.SecFetchMode != "no-cors" || got.CertCN != "alice" {
		t.Errorf("fetch: got Content-Type %q, Sec-Fetch-Mode %q, cert %q; want text/plain;application/json, no-cors, alice", got.ContentType, got.SecFetchMode, got.CertCN)
	}
	select {
	case body := <-h.bodies:
		if body != `{"to":"mallory","amount":2}` {
			t.Errorf("fetch body %q, want the JSON as is", body)
		}
	case <-waitCtx(t).Done():
		t.Error("no body recorded")
	}
}

// gatewayFiles mints a harness CA and a server certificate for dnsNames,
// and writes them into a new folder as a gateway under test reads them:
// ca.pem, server.pem and server-key.pem.
func gatewayFiles(t *testing.T, dnsNames ...string) (ca *pki.CA, srv *pki.Cert, dir string) {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{CommonName: harnessCAName})
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	srv = pkitest.ServerWith(t, ca, pki.ServerOptions{DNSNames: dnsNames})
	if err := srv.Save(dir, "server.pem", "server-key.pem"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pki.EncodeCertsPEM(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	return ca, srv, dir
}

// serveGateway listens and serves g until the test ends, and returns the
// port of its first listener.
func serveGateway(t *testing.T, g *gateway.Gateway) string {
	t.Helper()
	if err := g.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return strings.TrimPrefix(g.Addrs()[0].String(), "127.0.0.1:")
}
