package scan_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/scan"
)

// TestCSRFPackage: the project's own csrf middleware in front of a bank
// with no defence of its own stops every forgery the scanner knows; the
// same bank bare, or behind the middleware in report-only mode, is caught
// (the negative controls).
func TestCSRFPackage(t *testing.T) {
	p := newTestPKI(t)
	forgeries := []string{scan.RuleCrossSiteForgery, scan.RuleTextPlainJSON, scan.RuleOriginNull, scan.RuleLegacyOrigin,
		scan.RuleOriginScheme, scan.RuleSameSiteForgery, scan.RuleTokenEmpty, scan.RuleTokenUnbound, scan.RuleMethodDowngrade,
		scan.RuleMethodOverride, scan.RuleLaxPostWindow, scan.RuleLoginCSRF}
	tests := []struct {
		name   string
		wrap   func(http.Handler) http.Handler
		forged bool
	}{
		{"bare bank", func(h http.Handler) http.Handler { return h }, true},
		{"csrf middleware", func(h http.Handler) http.Handler { return csrf.New().Handler(h) }, false},
		{"csrf middleware, report-only", func(h http.Handler) http.Handler {
			c := csrf.New()
			c.SetReportOnly(true)
			return c.Handler(h)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBank(bankOptions{origin: "none", textPlainJSON: true, cookie: "Path=/; Secure; HttpOnly; SameSite=None"})
			srv := httptest.NewUnstartedServer(tt.wrap(b))
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
			srv.StartTLS()
			defer srv.Close()
			rep, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL, TLS: p.clientTLS(), Rate: 1000, Verify: balance,
				Endpoints: []scan.Endpoint{transferNoTok, transferJSON},
				Login:     &scan.Login{Path: "/login", Form: map[string]string{"user": "alice", "password": "wonderland"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			got := rulesOf(rep)
			forged := slices.ContainsFunc(got, func(r string) bool { return slices.Contains(forgeries, r) })
			if forged != tt.forged {
				t.Errorf("forgeries found: got %v (%v), want %v", forged, got, tt.forged)
			}
			if !slices.Contains(got, scan.RuleCookieSameSiteNone) {
				t.Errorf("posture: got %v, want %s (the cookie is what it is)", got, scan.RuleCookieSameSiteNone)
			}
		})
	}
}
