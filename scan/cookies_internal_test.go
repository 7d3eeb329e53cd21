package scan

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestPostureReadsAsBrowsers: the cookie-* rules judge a Set-Cookie line
// as Chromium stores it (TestCookieHardeningInBrowser), not as net/http
// parses it. Each case where the two differ has its twin where they agree.
func TestPostureReadsAsBrowsers(t *testing.T) {
	long := strings.Repeat("a", 1025)
	max := strings.Repeat("a", 1024)
	const good = "; Secure; HttpOnly; SameSite=Strict"
	for _, tt := range []struct {
		name, line string
		want       []string // rules found, besides cookie-no-host-prefix
	}{
		{"all set", "sid=1" + good, nil},
		// net/http counts these; browsers ignore them.
		{"secure with a value over 1024 bytes", "sid=1; HttpOnly; SameSite=Strict; Secure=" + long, []string{RuleCookieNotSecure}},
		{"secure with 1024 bytes", "sid=1; HttpOnly; SameSite=Strict; Secure=" + max, nil},
		{"httponly with a value over 1024 bytes", "sid=1; Secure; SameSite=Strict; HttpOnly=" + long, []string{RuleCookieNotHTTPOnly}},
		{"httponly with 1024 bytes", "sid=1; Secure; SameSite=Strict; HttpOnly=" + max, nil},
		{"samesite value with a dotted capital I", "sid=1; Secure; HttpOnly; SameSite=Str\u0130ct", []string{RuleCookieNoSameSite}},
		{"samesite value in ASCII upper case", "sid=1; Secure; HttpOnly; SameSite=STRICT", nil},
		{"samesite name with a long s", "sid=1; Secure; HttpOnly; \u017fameSite=Strict", []string{RuleCookieNoSameSite}},
		{"secure name with a dotted capital I", "sid=1; HttpOnly; SameSite=Lax; Secur\u0130", []string{RuleCookieNotSecure}},
		// The last SameSite counts for browsers; net/http keeps an
		// earlier one when it cannot parse the last.
		{"last samesite unknown", "sid=1; Secure; HttpOnly; SameSite=Strict; SameSite=Str\u0130ct", []string{RuleCookieNoSameSite}},
		{"samesite none", "sid=1; Secure; HttpOnly; SameSite=None", []string{RuleCookieSameSiteNone}},
		{"domain", "sid=1" + good + "; Domain=.Example.com", []string{RuleCookieWideDomain}},
		{"domain over 1024 bytes", "sid=1" + good + "; Domain=" + long, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs := (&response{Header: http.Header{"Set-Cookie": {tt.line}}}).cookies()
			if len(cs) != 1 {
				t.Fatalf("net/http parsed %d cookies", len(cs))
			}
			var got []string
			for _, f := range postureFindings(cs[0], "https://t.example/") {
				if f.Rule != RuleCookieNoHostPrefix {
					got = append(got, f.Rule)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%.60q: got %q, want %q", tt.line, got, tt.want)
			}
		})
	}
}

// TestCookieRuleReadsSameSiteAsBrowsers: which cookies the simulated
// browser attaches follows the browser's reading of SameSite: a
// "Str\u0130ct" is no SameSite to Chromium (Lax by default, sent on
// cross-site GETs and within the Lax+POST window), Strict to net/http.
func TestCookieRuleReadsSameSiteAsBrowsers(t *testing.T) {
	for _, tt := range []struct {
		line            string
		crossGET, laxPO bool
	}{
		{"sid=1; SameSite=Str\u0130ct", true, true},
		{"sid=1; SameSite=Strict", false, false}, // the twin
		{"sid=1; SameSite=Lax; SameSite=N\u0130ne", true, true},
		{"sid=1; SameSite=Lax", true, false},
	} {
		c := (&response{Header: http.Header{"Set-Cookie": {tt.line}}}).cookies()[0]
		if got := cookiesCrossSiteGET.sends(c); got != tt.crossGET {
			t.Errorf("%q on a cross-site GET: sent %v, want %v", tt.line, got, tt.crossGET)
		}
		if got := cookiesLaxPOSTWindow.sends(c); got != tt.laxPO {
			t.Errorf("%q in the Lax+POST window: sent %v, want %v", tt.line, got, tt.laxPO)
		}
	}
}

// TestPostureHostPrefixWithoutCase: browsers apply the __Host- prefix's
// rules to any ASCII case of it (Chromium 156 refuses "__HOST-x=1; Path=/"
// without Secure), so "__HOST-sid" has the prefix; "__Hostsid" and
// "__Host_sid" do not.
func TestPostureHostPrefixWithoutCase(t *testing.T) {
	for name, want := range map[string]bool{"__Host-sid": false, "__HOST-sid": false, "__host-sid": false, "__Host_sid": true, "__Hostsid": true, "sid": true, "__Ho": true} {
		c := (&response{Header: http.Header{"Set-Cookie": {name + "=1; Secure; HttpOnly; SameSite=Lax; Path=/"}}}).cookies()[0]
		got := false
		for _, f := range postureFindings(c, "https://t.example/") {
			got = got || f.Rule == RuleCookieNoHostPrefix
		}
		if got != want {
			t.Errorf("%s: cookie-no-host-prefix %v, want %v", name, got, want)
		}
	}
}
