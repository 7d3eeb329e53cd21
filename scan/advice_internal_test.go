package scan

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestFrameworkHints: each framework is told by its own signs, and a
// response with none of them leaves the framework unknown (generic
// advice), so no advice names a framework the service does not use.
func TestFrameworkHints(t *testing.T) {
	tests := []struct {
		name   string
		header http.Header
		body   string
		status int
		want   Framework
	}{
		{"Django cookies", http.Header{"Set-Cookie": {"csrftoken=abc; Path=/", "sessionid=x; HttpOnly"}}, "", 200, FrameworkDjango},
		{"Django form field", http.Header{"Content-Type": {"text/html"}}, `<form method=post><input type=hidden name=csrfmiddlewaretoken value=t></form>`, 200, FrameworkDjango},
		{"Rails session cookie", http.Header{"Set-Cookie": {"_shop_session=abc; path=/; HttpOnly"}}, "", 200, FrameworkRails},
		{"Rails X-Runtime", http.Header{"X-Runtime": {"0.012"}}, "", 200, FrameworkRails},
		{"Rails form field", http.Header{"Content-Type": {"text/html; charset=utf-8"}}, `<form method=post><input type=hidden name=authenticity_token value=t></form>`, 200, FrameworkRails},
		{"Express X-Powered-By", http.Header{"X-Powered-By": {"Express"}}, "", 200, FrameworkExpress},
		{"Express connect.sid", http.Header{"Set-Cookie": {"connect.sid=s%3Aabc; Path=/; HttpOnly"}}, "", 200, FrameworkExpress},
		{"Go gorilla/csrf cookie", http.Header{"Set-Cookie": {"_gorilla_csrf=abc; Path=/"}}, "", 200, FrameworkGo},
		{"Go forgeproof cookie", http.Header{"Set-Cookie": {"__Host-forgeproof-csrf=abc; Path=/; Secure"}}, "", 200, FrameworkGo},
		{"Go net/http 404", http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "404 page not found\n", 404, FrameworkGo},
		{"nothing", http.Header{"Server": {"nginx"}, "Set-Cookie": {"session=abc"}}, "<p>hello</p>", 200, FrameworkUnknown},
		{"a session cookie is not Rails", http.Header{"Set-Cookie": {"my_session=abc"}}, "", 200, FrameworkUnknown},
	}
	target, _ := url.Parse("https://app.example/")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := &scanner{target: target, report: &Report{}}
			sc.observeFramework(&response{Status: tt.status, Header: tt.header, Body: []byte(tt.body)}, "https://app.example/")
			got := FrameworkUnknown
			if sc.report.Framework != nil {
				got = sc.report.Framework.Name
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestAdvice: every rule has a fix; framework advice is added where the
// framework is known, and forgeproof is pointed at where it applies.
func TestAdvice(t *testing.T) {
	for _, r := range Rules {
		if r.Fix == "" || r.Help == "" {
			t.Errorf("%s: help %q, fix %q: want both", r.ID, r.Help, r.Fix)
		}
		generic := Advice(r.ID, FrameworkUnknown)
		if !strings.HasPrefix(generic, r.Fix) {
			t.Errorf("%s: generic advice %q does not start with the rule's fix", r.ID, generic)
		}
		for _, fw := range []Framework{FrameworkGo, FrameworkDjango, FrameworkRails, FrameworkExpress} {
			if a := Advice(r.ID, fw); len(a) <= len(r.Fix) || a == generic {
				t.Errorf("%s for %s: got %q, want framework advice", r.ID, fw, a)
			}
		}
	}
	for _, tt := range []struct {
		rule string
		fw   Framework
		want []string
	}{
		{RuleCrossSiteForgery, FrameworkDjango, []string{"CsrfViewMiddleware", "forgeproof serve"}},
		{RuleCrossSiteForgery, FrameworkRails, []string{"protect_from_forgery", "forgeproof serve"}},
		{RuleCrossSiteForgery, FrameworkExpress, []string{"Sec-Fetch-Site", "forgeproof serve"}},
		{RuleCrossSiteForgery, FrameworkGo, []string{"csrf.New().Handler", "csrf package"}},
		{RuleCrossSiteForgery, FrameworkUnknown, []string{"forgeproof serve"}},
		{RuleTokenUnbound, FrameworkGo, []string{"SetBinding"}},
		{RuleMethodDowngrade, FrameworkDjango, []string{"@require_POST"}},
		{RuleCookieNoSameSite, FrameworkRails, []string{"same_site: :lax", "forgeproof serve", "same-site: lax"}},
		{RuleCookieSameSiteNone, FrameworkUnknown, []string{"override-same-site: true"}},
		{RuleCookieNotSecure, FrameworkDjango, []string{"SESSION_COOKIE_SECURE", "secure: true"}},
		{RuleCookieNoHostPrefix, FrameworkUnknown, []string{"host-prefix: NAME"}},
		{RuleCookieWideDomain, FrameworkExpress, []string{"host-prefix: NAME"}},
		{RuleCookieNotHTTPOnly, FrameworkGo, []string{"http-only: true"}},
	} {
		a := Advice(tt.rule, tt.fw)
		for _, w := range tt.want {
			if !strings.Contains(a, w) {
				t.Errorf("Advice(%s, %q) = %q: want %q in it", tt.rule, tt.fw, a, w)
			}
		}
	}
	if a := Advice(RuleTokenUnbound, FrameworkDjango); strings.Contains(a, "protect_from_forgery") || strings.Contains(a, "SetBinding") {
		t.Errorf("Django advice names another framework: %q", a)
	}
	if Advice("no-such-rule", FrameworkGo) != "" {
		t.Errorf("unknown rule: want no advice")
	}
}

// TestCookieAdviceConfig: the route settings that the cookie advice names
// are keys the gateway's config decoder takes (strictly), each setting
// something, so that the advice cannot drift from gateway.Cookies.
func TestCookieAdviceConfig(t *testing.T) {
	snippet := regexp.MustCompile(`cookies: \{[^}]*\}`)
	for _, r := range Rules {
		if classOf(r.ID) != adviceCookie {
			continue
		}
		m := snippet.FindString(Advice(r.ID, FrameworkUnknown))
		if m == "" {
			t.Errorf("%s: advice %q names no route setting of forgeproof serve", r.ID, Advice(r.ID, FrameworkUnknown))
			continue
		}
		yaml := "routes:\n  - " + strings.ReplaceAll(m, "NAME", "session") + "\n"
		cfg, err := gateway.ParseConfig("advice.yaml", []byte(yaml))
		if err != nil {
			t.Errorf("%s: %q: %v", r.ID, m, err)
			continue
		}
		if cfg.Routes[0].Cookies == (gateway.Cookies{}) {
			t.Errorf("%s: %q sets nothing", r.ID, m)
		}
	}
}
