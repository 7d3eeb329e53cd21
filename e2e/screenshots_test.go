package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/internal/demo"
	"github.com/forgeproof/forgeproof/pki"
)

// ScreenshotsEnv names the variable that makes TestDemoScreenshots write
// the demo's screenshots into docs/images (it is skipped otherwise, and
// so in CI).
const ScreenshotsEnv = "FORGEPROOF_SCREENSHOTS"

// TestDemoScreenshots takes the screenshots of docs/demo.md in real
// Chromium: the bank, the attacker's index, a forgery blocked and the
// same one moving money with --insecure-no-csrf, the same-site page, and
// the bank seen without a client certificate. Run it with
//
//	FORGEPROOF_SCREENSHOTS=1 go test -run TestDemoScreenshots ./e2e
//
// It checks what each page says before taking its picture, so a picture
// never shows a page that went wrong.
func TestDemoScreenshots(t *testing.T) {
	if os.Getenv(ScreenshotsEnv) == "" {
		t.Skipf("writes docs/images/*.png: set %s=1 to run", ScreenshotsEnv)
	}
	tools := browsertest.Tools(t)
	out := filepath.Join("..", "docs", "images")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, insecure := range []bool{false, true} {
		s := startScenario(t, tools, insecure)
		shoot := func(name, url, waitFor, want string) {
			t.Helper()
			if _, err := s.b.Navigate(t.Context(), url); err != nil {
				t.Fatal(err)
			}
			if waitFor != "" {
				s.pageReport(t)
			}
			var text string
			if err := s.b.Eval(t.Context(), `document.body.innerText`, &text); err != nil {
				t.Fatal(err)
			}
			if want != "" && !containsFold(text, want) {
				t.Fatalf("%s: the page does not say %q:\n%s", url, want, text)
			}
			screenshot(t, s.b, filepath.Join(out, name))
		}
		if !insecure {
			shoot("demo-bank.png", s.run.URL+"/", "", "alice")
			shoot("demo-attacker.png", s.run.AttackerURL+"/", "", "guard is on")
			shoot("demo-blocked.png", s.run.AttackerURL+"/form", "verdict", demo.VerdictBlocked)
			shoot("demo-same-site.png", s.run.SiblingURL+"/form", "verdict", "same-site")
		} else {
			shoot("demo-money-moved.png", s.run.AttackerURL+"/form", "verdict", demo.VerdictMoneyMoved)
		}
	}

	// A browser without the client certificate.
	run := startScenario(t, tools, false).run
	caPEM, err := os.ReadFile(run.Files.CA)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ParseCertPEM(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	b := startBrowser(t, tools, browser.Profile{CACertsPEM: caPEM, IssuerCN: ca.Subject.CommonName})
	if _, err := b.Navigate(t.Context(), run.URL+"/"); err != nil {
		t.Fatal(err)
	}
	var text string
	if err := b.Eval(t.Context(), `document.body.innerText`, &text); err != nil {
		t.Fatal(err)
	}
	if !containsFold(text, "presented no client certificate") {
		t.Fatalf("the bank without a certificate says:\n%s", text)
	}
	screenshot(t, b, filepath.Join(out, "demo-no-certificate.png"))
}

// screenshot writes a PNG of the whole page in the tab, at a fixed
// viewport width.
func screenshot(t *testing.T, b *browser.Browser, path string) {
	t.Helper()
	ctx, cancel := b.Context(t.Context())
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(900, 700)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(png))
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
