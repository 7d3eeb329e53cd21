package csrf_test

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// FuzzCheckStricterThanStdlib feeds arbitrary Sec-Fetch-Site, Origin,
// Referer and Host values through Check. It must never panic, and it must
// refuse every request net/http's CrossOriginProtection refuses: we promise
// to be at least as strict. (Two deliberate differences, both the same
// origin spelled otherwise, which the standard library compares as strings
// and refuses: a Host with an explicit default port, "app:443", is the
// origin "https://app"; and scheme and host compare case-insensitively,
// "Host: APP.example" is the origin "https://app.example".)
func FuzzCheckStricterThanStdlib(f *testing.F) {
	seeds := []struct {
		method, site, origin, referer, host string
		tls                                 bool
	}{
		{"POST", "same-origin", "", "", "app.example", true},
		{"POST", "cross-site", "https://evil.example", "", "app.example", true},
		{"POST", "same-site", "https://a.app.example", "", "app.example", true},
		{"POST", "", "https://app.example", "", "app.example", true},
		{"POST", "", "http://app.example", "", "app.example", true},
		{"POST", "", "https://app.example/", "", "app.example", true},
		{"POST", "", "null", "", "app.example", false},
		{"POST", "", "", "https://app.example/form", "app.example", true},
		{"POST", "", "", "https://app.example@evil.example/", "app.example", true},
		{"PUT", "", "https://[::1]:8443", "", "[::1]:8443", true},
		{"GET", "cross-site", "https://evil.example", "", "app.example", true},
		{"TRACE", "bogus", "https://APP.example", "", "APP.example", false},
	}
	for _, s := range seeds {
		f.Add(s.method, s.site, s.origin, s.referer, s.host, s.tls)
	}
	ours := csrf.New()
	std := http.NewCrossOriginProtection()
	f.Fuzz(func(t *testing.T, method, site, origin, referer, host string, isTLS bool) {
		r := &http.Request{Method: method, Host: host, Header: http.Header{}, RemoteAddr: "192.0.2.1:1"}
		r.URL = &url.URL{Path: "/"}
		if isTLS {
			r.TLS = &tls.ConnectionState{}
		}
		if site != "" {
			r.Header.Set("Sec-Fetch-Site", site)
		}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if referer != "" {
			r.Header.Set("Referer", referer)
		}
		err := ours.Check(r)
		if err != nil {
			if _, ok := csrf.ReasonOf(err); !ok {
				t.Fatalf("got %v, want a *csrf.Error", err)
			}
			return
		}
		if strings.HasSuffix(host, ":443") || strings.HasSuffix(host, ":80") {
			return
		}
		scheme := "http"
		if isTLS {
			scheme = "https"
		}
		own := scheme + "://" + host
		if stdErr := std.Check(r); stdErr != nil && !(site == "" && origin != own && strings.EqualFold(origin, own)) {
			t.Errorf("csrf allowed what net/http refuses (%v): method %q site %q origin %q host %q tls %v", stdErr, method, site, origin, host, isTLS)
		}
		// What we allow from an Origin without Sec-Fetch-Site is exactly
		// the request's own origin, case aside.
		if site == "" && origin != "" && !isSafeMethod(method) && !strings.EqualFold(origin, own) {
			t.Errorf("allowed Origin %q for own origin %q", origin, own)
		}
	})
}

func isSafeMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

// FuzzTrustedOrigin: configuration never panics; an accepted exact origin
// trusts itself and nothing on another scheme.
func FuzzTrustedOrigin(f *testing.F) {
	for _, s := range []string{
		"https://a.example", "https://*.a.example:8443", "a.example", "//a.example", "https://a.example/",
		"https://u@a.example", "https://", "null", "https://a.example:99999", "https://a.*.example",
		"https://*.com", "https://*.10.0.0.1", "HTTPS://A.EXAMPLE:443", "https://[::1]:8443", "chrome-extension://abc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		p := csrf.New()
		if err := p.AddTrustedOrigin(pattern); err != nil {
			if !strings.HasPrefix(err.Error(), "csrf: trusted origin: invalid origin ") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		norm := strings.ToLower(pattern)
		norm = strings.TrimSuffix(strings.TrimSuffix(norm, ":443"), ":80")
		if strings.Contains(norm, "*") {
			return
		}
		scheme, _, _ := strings.Cut(norm, "://")
		r := request("POST", app+"/", "Sec-Fetch-Site", "cross-site", "Origin", norm)
		if scheme == "https" || scheme == "http" {
			if err := p.Check(r); err != nil && !strings.HasSuffix(strings.ToLower(pattern), ":443") && !strings.HasSuffix(strings.ToLower(pattern), ":80") {
				t.Errorf("trusted %q, then refused Origin %q: %v", pattern, norm, err)
			}
			other := "gopher" + strings.TrimPrefix(norm, scheme)
			r = request("POST", app+"/", "Sec-Fetch-Site", "cross-site", "Origin", other)
			if p.Check(r) == nil {
				t.Errorf("trusted %q, then allowed Origin %q", pattern, other)
			}
		}
	})
}
