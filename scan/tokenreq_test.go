package scan_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/scan"
)

// TestTokenNotRequired: the project's csrf middleware with a token in
// the transfer form is reported as token-not-required when its mode
// checks origins only (the token is never verified), and not in the
// modes that verify it where it matters; in none of them is a forgery
// found, so this rule is the scan's only sign of the unused token.
func TestTokenNotRequired(t *testing.T) {
	p := newTestPKI(t)
	tests := []struct {
		name string
		mode csrf.Mode
		want bool
	}{
		{"origin-only, token served", csrf.ModeOriginOnly, true},
		{"origin-and-token", csrf.ModeOriginAndToken, false},
		{"token-if-no-browser-headers", csrf.ModeTokenIfNoBrowserHeaders, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site, srv := newLoginSite(t, p, "form")
			if err := site.prot.SetMode(tt.mode); err != nil {
				t.Fatal(err)
			}
			rep, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000, Discover: true,
				Login: &scan.Login{Path: "/login", Form: aliceLogin}, Verify: balance,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := slices.Contains(rulesOf(rep), scan.RuleTokenNotRequired); got != tt.want {
				t.Errorf("%s: got %v, want %v (findings %v)", scan.RuleTokenNotRequired, got, tt.want, rulesOf(rep))
			}
			var text, js, sarif strings.Builder
			scan.WriteText(&text, rep, scan.TextOptions{})
			scan.WriteJSON(&js, rep)
			scan.WriteSARIF(&sarif, rep, "test")
			for format, out := range map[string]string{"text": text.String(), "json": js.String(), "sarif": sarif.String()} {
				if got := strings.Count(out, scan.RuleTokenNotRequired) > 0; tt.want && !got {
					t.Errorf("%s output: got no %s, want it:\n%s", format, scan.RuleTokenNotRequired, out)
				}
			}
			for _, f := range rep.Findings {
				if f.Severity >= scan.SeverityMedium {
					t.Errorf("got %s (%s), want no forgery: %s", f.Rule, f.Severity, f.Evidence)
				}
				if f.Rule != scan.RuleTokenNotRequired {
					continue
				}
				if f.Confidence != scan.Confirmed || f.Severity != scan.SeverityLow {
					t.Errorf("got %s %s, want %s %s", f.Confidence, f.Severity, scan.Confirmed, scan.SeverityLow)
				}
				for _, want := range []string{"token field csrf_token was left out", "changed from"} {
					if !strings.Contains(f.Evidence, want) {
						t.Errorf("evidence: got %q, want %q in it", f.Evidence, want)
					}
				}
				if strings.Contains(f.Reproduce, "Sec-Fetch") || strings.Contains(f.Reproduce, "Origin:") || strings.Contains(f.Reproduce, "csrf_token") {
					t.Errorf("reproduce: got %s, want no Fetch Metadata, no Origin, no token", f.Reproduce)
				}
			}
		})
	}
}
