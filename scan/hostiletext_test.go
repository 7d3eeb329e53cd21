package scan_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/ascii"
	"github.com/forgeproof/forgeproof/scan"
)

// hostileHeader is what a service can put in a header value and a form
// action: net/http refuses C0 controls in a header, and url.Parse in a
// URL, but lets through a right-to-left override (which shows
// "exe.png" as "gnp.exe" reversed), a C1 CSI (U+009B) and bytes that are
// not UTF-8 (a lone 0x9b is CSI to a Latin-1 terminal).
const hostileHeader = "\u202egnp.exe\u009b2J\x9b2J\xff"

// serveText serves a service that chose v for a cookie's Domain and a
// form action's query, and accepts every POST.
func serveText(t *testing.T, p *testPKI, v string) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "sid=1; Path=/; Domain=127.0.0.1"+v)
		if r.Method == "POST" {
			http.Redirect(w, r, "/done", http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<form method=post action="/t?q=%s"><input name=to value=x></form>`, v)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// unsafeRune is the terminal-escape detector: a byte below 0x20 other
// than \n and \t, DEL, a C1 control, a bidirectional formatting
// character or a byte that is not UTF-8.
func unsafeRune(s string) (rune, bool) {
	for i, r := range s {
		switch {
		case r == 0xfffd && !strings.HasPrefix(s[i:], "\ufffd"),
			r < 0x20 && r != '\n' && r != '\t', r >= 0x7f && r <= 0x9f,
			r == 0x061c, r == 0x200e, r == 0x200f,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return r, true
		}
	}
	return 0, false
}

// TestHostileTargetText: what a scanned service sends back (a cookie's
// Domain, a form action) reaches the text report, the progress lines and
// the curl reproductions escaped, and nothing of it is lost: the quoted
// forms read back as the service's text, JSON and SARIF stay valid, and
// each reproduction, run by bash, sends the exact URL. The plain twin
// shows the same values as they are.
func TestHostileTargetText(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		name, value string
		hostile     bool
	}{
		{"plain", ".plain-value", false},
		{"hostile", hostileHeader, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := serveText(t, p, tt.value)
			var progress []string
			rep, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000, Discover: true,
				CurlTLSArgs: []string{"--cacert", "ca.pem"},
				Progress:    func(msg string) { progress = append(progress, msg) },
			})
			if err != nil {
				t.Fatal(err)
			}
			var form, domain *scan.Finding
			for i, f := range rep.Findings {
				switch f.Rule {
				case scan.RuleCrossSiteForgery:
					form = &rep.Findings[i]
				case scan.RuleCookieWideDomain:
					domain = &rep.Findings[i]
				}
			}
			if form == nil || domain == nil {
				t.Fatalf("got findings %v, want cross-site-forgery and cookie-wide-domain", rulesOf(rep))
			}
			wantURL := srv.URL + "/t?q=" + tt.value
			// Negative control: the service's text did reach the report.
			if form.URL != wantURL {
				t.Fatalf("finding URL: got %q, want %q", form.URL, wantURL)
			}
			if _, got := unsafeRune(form.URL); got != tt.hostile {
				t.Fatalf("finding URL %q unsafe: got %v, want %v", form.URL, got, tt.hostile)
			}

			var text bytes.Buffer
			if err := scan.WriteText(&text, rep, scan.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			lines := append(strings.Split(text.String(), "\n"), progress...)
			for _, l := range lines {
				if r, bad := unsafeRune(l); bad {
					t.Errorf("text output holds %U: %q", r, l)
				}
			}
			// Nothing dropped: the value is shown as it is, or as %q.
			// (The Domain as a browser stores it: lower case.)
			d := ascii.Lower("127.0.0.1" + tt.value)
			shownURL, shownDomain := wantURL, "Domain="+d+"."
			if tt.hostile {
				shownURL = fmt.Sprintf("%q", wantURL)
				shownDomain = fmt.Sprintf("Domain=%q.", d)
			}
			if !strings.Contains(text.String(), "  at:         POST "+shownURL+"\n") {
				t.Errorf("text report does not locate the form at %s:\n%s", shownURL, text.String())
			}
			if !strings.Contains(domain.Evidence, shownDomain) {
				t.Errorf("evidence %q does not show %s", domain.Evidence, shownDomain)
			}

			// JSON keeps every byte of the evidence: the quoted form has
			// no byte that JSON would turn into U+FFFD.
			var js bytes.Buffer
			if err := scan.WriteJSON(&js, rep); err != nil {
				t.Fatal(err)
			}
			var back scan.Report
			if err := json.Unmarshal(js.Bytes(), &back); err != nil {
				t.Fatalf("JSON report does not parse: %v", err)
			}
			for i, f := range back.Findings {
				if f.Evidence != rep.Findings[i].Evidence {
					t.Errorf("JSON evidence: got %q, want %q", f.Evidence, rep.Findings[i].Evidence)
				}
			}
			var sarif bytes.Buffer
			if err := scan.WriteSARIF(&sarif, rep, "test"); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(sarif.Bytes()) {
				t.Errorf("SARIF is not valid JSON")
			}

			// The reproduction, run by bash with curl replaced by a
			// function that writes its arguments, sends the exact URL
			// and runs nothing else.
			bash, err := exec.LookPath("bash")
			if err != nil {
				t.Skip("no bash")
			}
			dir := t.TempDir()
			cmd := exec.Command(bash, "--norc", "-c", `curl() { printf '%s\0' "$@" > args; }; `+form.Reproduce)
			cmd.Dir, cmd.Env = dir, []string{"PATH=/nonexistent"}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("bash on %s: %v: %s", form.Reproduce, err, out)
			}
			args, err := os.ReadFile(filepath.Join(dir, "args"))
			if err != nil {
				t.Fatal(err)
			}
			fields := strings.Split(strings.TrimSuffix(string(args), "\x00"), "\x00")
			if got := fields[len(fields)-1]; got != wantURL {
				t.Errorf("curl got URL %q, want %q", got, wantURL)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("the reproduction left %d files, want only args", len(ents))
			}
		})
	}
}
