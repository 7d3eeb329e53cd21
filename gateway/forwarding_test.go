package gateway_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestForwardingHeadersUntrusted (redteam finding): headers that a proxy sets to
// say where a request came from, or which path or host it was for, and
// that upstreams believe. Before, a client of the /public route (anyone)
// reached the upstream with X-Original-URL: /admin/secret (IIS URL
// Rewrite, Symfony before CVE-2018-14773, Zend/Laminas and Drupal route by
// it: the route the gateway authorized is not the one served) and with
// X-Real-IP: 10.0.0.1 (an upstream's IP allow-list believes it), next to
// the gateway's own X-Forwarded-For. Now path overrides are dropped from
// every peer and forwarding headers from peers that are not trusted
// proxies; from a trusted proxy the forwarding headers are kept, except
// the scheme, port and host ones that name another origin. Allowed
// twins: ordinary headers with similar names. Negative control: with the
// check off they reach the upstream.
func TestForwardingHeadersUntrusted(t *testing.T) {
	pathOverrides := []string{"X-Original-URL", "X-Rewrite-URL", "X-Original-URI", "X-Forwarded-Uri", "X-Forwarded-Path", "X-Envoy-Original-Path", "X-Script-Name"}
	forwarding := []string{"X-Real-IP", "X-Client-IP", "Client-IP", "True-Client-IP", "X-Cluster-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP",
		"X-Original-Forwarded-For", "X-Forwarded", "Forwarded-For", "X-Envoy-External-Address", "X-Azure-ClientIP",
		"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server", "X-Forwarded-Ssl", "X-Forwarded-Scheme",
		"X-Forwarded-Protocol", "X-Url-Scheme", "Front-End-Https", "X-Original-Host", "X-Host", "X-Scheme",
		"CloudFront-Forwarded-Proto", "CF-Visitor"}
	// From a trusted proxy these go on only when they name the origin
	// checked, which "v-X-Forwarded-Ssl" does not
	// (TestOriginHeadersFromTrustedProxy).
	origin := []string{"X-Forwarded-Port", "X-Forwarded-Ssl", "X-Forwarded-Scheme", "X-Forwarded-Protocol", "X-Url-Scheme", "Front-End-Https", "X-Original-Host", "X-Host", "X-Scheme",
		"CloudFront-Forwarded-Proto", "CF-Visitor"}
	allowed := []string{"X-Request-Id", "X-Real-Name", "X-Original-Title", "X-Hosted-By", "X-Forwarded-Ok", "X-Script-Version", "X-Schemes", "Client-Id"}
	tests := []struct {
		name           string
		trusted, check bool
	}{
		{"untrusted peer", false, true},
		{"trusted proxy", true, true},
		{"negative control", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, gw, u := rawWorldWith(t, respondOK, func(cfg *gateway.Config) {
				if tt.trusted {
					cfg.TrustedProxies = []string{"127.0.0.1/32"}
				}
			})
			gateway.SetForwardingCheck(gw.g, tt.check)
			// The path overrides name a path the route would refuse.
			headers := strings.NewReplacer("X-Original-URL: ", "X-Original-URL: /admin/secret?", "X-Rewrite-URL: ", "X-Rewrite-URL: /admin/secret?").
				Replace(namedHeaders(pathOverrides, forwarding, allowed))
			got := forwardOK(t, gw.dialRaw(t, nil), u, "GET /public/x HTTP/1.1\r\nHost: localhost\r\n"+headers+"\r\n")
			for _, n := range pathOverrides {
				if reached := reachedUpstream(got, n); reached == tt.check {
					t.Errorf("path override %s reached the upstream: %v, want %v", n, reached, !tt.check)
				}
			}
			for _, n := range forwarding {
				want := !tt.check || tt.trusted && !slices.Contains(origin, n)
				if reached := reachedUpstream(got, n); reached != want {
					t.Errorf("forwarding header %s reached the upstream: %v, want %v", n, reached, want)
				}
			}
			for _, n := range allowed {
				if !reachedUpstream(got, n) {
					t.Errorf("%s did not reach the upstream (an ordinary header)", n)
				}
			}
			if tt.check && !tt.trusted {
				_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
				if want := `forgeproof_gateway_request_headers_dropped_total{kind="forwarding",route="public"} 32` + "\n"; !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %s", want)
				}
			}
		})
	}
}
