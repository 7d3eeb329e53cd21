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
