package csrf_test

import (
	"net/http"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// Origin spellings no browser sends for this origin are refused, never
// read as it (redteam probes): the own origin with its default port, a
// trailing dot, user information, another spelling of an IP address,
// Unicode for a punycode host. Each sits next to the spelling browsers
// do send for the same request, which passes.
func TestCheckOriginSpellings(t *testing.T) {
	post := func(target, origin string) func() *http.Request {
		return func() *http.Request { return request("POST", target, "Origin", origin) }
	}
	runChecks(t, []checkCase{
		{name: "default port spelled out refused", req: post(app+"/", "https://app.example:443"), want: csrf.ReasonOriginMismatch},
		{name: "default port spelled out, twin without it allowed", req: post(app+"/", app)},
		{name: "trailing dot in the Origin only refused", req: post(app+"/", "https://app.example."), want: csrf.ReasonOriginInvalid},
		{name: "trailing dot in the Host only refused", req: post("https://app.example./", app), want: csrf.ReasonOriginMismatch},
		{name: "trailing dot in both allowed (the browser's origin is the dotted name)", req: post("https://app.example./", "https://app.example.")},
		{name: "user information refused", req: post(app+"/", "https://user@app.example"), want: csrf.ReasonOriginInvalid},
		{name: "port with a leading zero refused", req: post(app+"/", "https://app.example:0443"), want: csrf.ReasonOriginInvalid},
		{name: "empty port refused", req: post(app+"/", "https://app.example:"), want: csrf.ReasonOriginInvalid},
		{name: "IPv6 in another spelling refused", req: post("https://[::1]:8443/", "https://[0:0::1]:8443"), want: csrf.ReasonOriginMismatch},
		{name: "IPv6 as sent allowed", req: post("https://[::1]:8443/", "https://[::1]:8443")},
		{name: "short IPv4 refused", req: post("https://127.0.0.1/", "https://127.1"), want: csrf.ReasonOriginMismatch},
		{name: "Unicode for a punycode host refused", req: post("https://xn--bcher-kva.example/", "https://bücher.example"), want: csrf.ReasonOriginInvalid},
		{name: "punycode as browsers send it allowed", req: post("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example")},
	})
}

// A browser on the absolute name "https://app.example./" sends the dotted
// name in Origin and Referer alike. The Origin is matched against the Host
// (TestCheckOriginSpellings: "trailing dot in both allowed"); the Referer,
// which step 3 of the ladder says "must match the same way", was refused
// as referer-invalid. net/http (no Referer check), gorilla/csrf and nosurf
// (Referer host == Host) all let it through. Each sits by its refused twin.
func TestRefererTrailingDotMatchesLikeOrigin(t *testing.T) {
	post := func(target string, h ...string) func() *http.Request {
		return func() *http.Request { return request("POST", target, h...) }
	}
	runChecks(t, []checkCase{
		{name: "Origin dotted, Host dotted allowed", req: post("https://app.example./", "Origin", "https://app.example.")},
		{name: "Referer dotted, Host dotted allowed", req: post("https://app.example./", "Referer", "https://app.example./form")},
		{name: "Referer dotted with port, Host dotted with port allowed", req: post("https://app.example.:8443/", "Referer", "https://app.example.:8443/form")},
		{name: "Referer dotted, Host undotted refused", req: post(app+"/", "Referer", "https://app.example./form"), want: csrf.ReasonRefererMismatch},
		{name: "Referer undotted, Host dotted refused", req: post("https://app.example./", "Referer", app+"/form"), want: csrf.ReasonRefererMismatch},
		{name: "Referer two trailing dots refused", req: post("https://app.example./", "Referer", "https://app.example../form"), want: csrf.ReasonRefererInvalid},
		{name: "Referer dotted IPv6 refused", req: post("https://[::1]/", "Referer", "https://[::1]./form"), want: csrf.ReasonRefererInvalid},
		{name: "Referer dotted user info still refused", req: post("https://app.example./", "Referer", "https://u@app.example./form"), want: csrf.ReasonRefererInvalid},
		{name: "Referer dotted trusted origin not trusted (as for Origin)", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddTrustedOrigin("https://admin.example")) },
			req: post(app+"/", "Referer", "https://admin.example./x"), want: csrf.ReasonRefererMismatch},
	})
}

// Behind a trusted proxy that passes the Host on (Caddy's and Traefik's
// X-Forwarded-Host), the dotted name reaches the check in the proxy's
// header: it names the same origin as the dotted Host does directly, and
// was refused as forwarded-invalid. Each sits by its refused twin.
func TestForwardedTrailingDotMatchesLikeHost(t *testing.T) {
	post := func(h ...string) func() *http.Request {
		return func() *http.Request {
			r := request("POST", "http://10.0.0.2:8080/", h...)
			r.RemoteAddr = "192.0.2.5:1234"
			return r
		}
	}
	proxy := func(t *testing.T, p *csrf.Protection) { must(t, p.AddTrustedProxy("192.0.2.0/24")) }
	runChecks(t, []checkCase{
		{name: "X-Forwarded-Host dotted, Origin dotted allowed", setup: proxy,
			req: post("X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example.", "Origin", "https://app.example.")},
		{name: "X-Forwarded-Host dotted, Origin undotted refused", setup: proxy,
			req: post("X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example.", "Origin", app), want: csrf.ReasonOriginMismatch},
		{name: "Forwarded host dotted with port, Referer dotted allowed", setup: proxy,
			req: post("Forwarded", "proto=https;host=\"app.example.:8443\"", "Referer", "https://app.example.:8443/form")},
		{name: "X-Forwarded-Host with two trailing dots refused", setup: proxy,
			req: post("X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example..", "Origin", "https://app.example.."), want: csrf.ReasonForwardedInvalid},
	})
}
