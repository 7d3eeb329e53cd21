package scan_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// TestPHPOriginChecks: plain PHP endpoints (testdata/php/router.php, PHP's
// built-in server behind an mTLS front; Debian's php-cli, which .ci/run
// installs) authorised by the client certificate alone, each with its own
// origin check. No check is forged by a plain cross-site form POST; a
// str_starts_with check on the site's URL and an unanchored preg_match
// by https://localhost.attacker.invalid:PORT; a str_ends_with check on the
// Origin's host by https://attackerlocalhost:PORT; a Referer check that
// skips a missing Referer by the Origin: null, Referer-less POST of a
// no-referrer page. Twins: the exact comparison, and the check that lets
// a missing Origin through (no browser of today omits Origin on a
// cross-site POST, so the scanner sends no such forgery), are not
// reported. Without php the test skips, except under CI.
func TestPHPOriginChecks(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("FORGEPROOF_E2E") == "require" {
			t.Fatal("php is not installed (.ci/run installs php-cli)")
		}
		t.Skip("php is not installed (apt-get install php-cli)")
	}
	p := newTestPKI(t)
	state := "FORGEPROOF_STATE=" + filepath.Join(t.TempDir(), "balance")
	target := startApp(t, p, "testdata/php", []string{state}, php, "-S", "127.0.0.1:{port}", "router.php")
	want := map[string][]string{
		"/open":      {scan.RuleCrossSiteForgery},
		"/prefix":    {scan.RuleOriginLookalike, scan.RuleSameSiteForgery},
		"/regex":     {scan.RuleOriginLookalike, scan.RuleSameSiteForgery},
		"/suffix":    {scan.RuleOriginLookalike, scan.RuleOriginScheme, scan.RuleSameSiteForgery},
		"/referer":   {scan.RuleOriginNull},
		"/if-origin": nil,
		"/exact":     nil,
	}
	var eps []scan.Endpoint
	for path := range want {
		eps = append(eps, djangoForm(path))
	}
	rep, err := scan.Run(context.Background(), scan.Config{Target: target, TLS: p.clientTLS(), Rate: 1000, Verify: balance, Endpoints: eps})
	if err != nil {
		t.Fatal(err)
	}
	for path, w := range want {
		got := forgeries(rep, path)
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Errorf("%s: findings %v, want %v; endpoint results: %+v; notes: %q", path, got, w, rep.Endpoints, rep.Notes)
		}
	}
}
