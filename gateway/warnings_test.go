package gateway

import (
	"strings"
	"testing"
)

func TestPlainHTTPOffLoopback(t *testing.T) {
	t.Parallel()
	for origin, want := range map[string]bool{
		"http://intranet.example":    true,
		"HTTP://Intranet.Example":    true,
		"http://*.example.com":       true,
		"http://10.0.0.5:8080":       true,
		"http://localhost.evil.test": true,
		"https://app.example":        false,
		"https://*.example.com":      false,
		"http://localhost:3000":      false,
		"http://LOCALHOST.":          false,
		"http://app.localhost":       false,
		"http://127.0.0.1:3000":      false,
		"http://127.9.9.9":           false,
		"http://[::1]:3000":          false,
	} {
		if got := plainHTTPOffLoopback(origin); got != want {
			t.Errorf("plainHTTPOffLoopback(%q) = %v, want %v", origin, got, want)
		}
	}
}

// TestWarnings: a config with weakening settings lists each, under its
// key; its twin without them lists none.
func TestWarnings(t *testing.T) {
	t.Parallel()
	weak := &Config{
		Listeners: []Listener{{HTTP2: HTTP2InsecureOnWithoutCheckHost}, {}},
		Routes: []Route{
			{CSRF: RouteCSRF{ReportOnly: true, TrustedOrigins: []string{"https://a.example", "http://b.example"}}},
			{CSRF: RouteCSRF{InsecureOff: true, TrustedOrigins: []string{"http://c.example"}}, UpstreamReuseAfterBody: true},
		},
		Tokens: Tokens{InsecureAllowGroupReadableKeyFile: true},
		Admin:  Admin{InsecureAllowNonLoopback: true},
	}
	var keys []string
	for _, w := range weak.Warnings() {
		keys = append(keys, w.Key)
	}
	want := "listeners[0].http2 routes[0].csrf.report-only routes[0].csrf.trusted-origins[1] routes[1].upstream-reuse-after-body routes[1].csrf.mode tokens.insecure-allow-group-readable-key-file admin.insecure-allow-non-loopback"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("warnings at %s,\nwant %s", got, want)
	}

	sound := &Config{
		Listeners: []Listener{{}},
		Routes:    []Route{{CSRF: RouteCSRF{TrustedOrigins: []string{"https://a.example", "http://localhost:3000"}}}},
	}
	if ws := sound.Warnings(); len(ws) != 0 {
		t.Errorf("sound config: warnings %v", ws)
	}
}
