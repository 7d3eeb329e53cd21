package gateway_test

import (
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestAuthProxyIdentityHeaders (redteam finding): identity headers that
// authentication proxies set for their upstreams, and that an upstream
// written for them believes, reached the upstream as the client sent
// them: X-WEBAUTH-USER: admin (Grafana's and Gitea's auth proxy mode),
// Remote-Groups (Authelia), X-Pomerium-Claim-Email, X-authentik-username,
// Tailscale-User-Login, X-Consumer-Username (Kong) and others. They are
// dropped like the other identity-like headers; allowed twins: ordinary
// headers with similar names (X-Auth-Token is a client's own credential
// in many APIs and passes). Negative control: with the check off they
// reach the upstream.
func TestAuthProxyIdentityHeaders(t *testing.T) {
	refused := []string{"X-WEBAUTH-USER", "X-Webauth-Email", "x_webauth_fullname", "Remote-Email", "Remote-Groups", "Remote-Name",
		"X-Forwarded-Access-Token", "X-Auth-Username", "X-Auth-Email", "X-Auth-Roles", "X-Auth-Groups", "X-Auth-Subject", "X-Auth-Userid",
		"X-Pomerium-Jwt-Assertion", "X-Pomerium-Claim-Email", "X-Authentik-Username", "X-authentik-groups",
		"Tailscale-User-Login", "Tailscale-User-Name", "X-Consumer-Username", "X-Consumer-Id", "X-Credential-Identifier",
		"X-Anonymous-Consumer", "X-Userinfo", "X-Ms-Token-Aad-Id-Token", "X-Authenticated-Userid", "X-Authenticated-Scope", "X-Authenticated-User"}
	allowed := []string{"X-Auth-Token", "X-Webhook-Id", "Remote-Addr-Hint", "X-Consumerism", "Tailscale-Hint", "X-User-Agent-Hint", "X-Authenticated"}
	for _, check := range []bool{true, false} {
		t.Run(map[bool]string{true: "checked", false: "negative control"}[check], func(t *testing.T) {
			w, gw, u := rawWorld(t, respondOK)
			gateway.SetIdentityLikeCheck(gw.g, check)
			got := forwardOK(t, gw.dialRaw(t, w.web), u,
				"GET /legacy/x HTTP/1.1\r\nHost: localhost\r\n"+namedHeaders(refused, allowed)+"\r\n")
			for _, n := range refused {
				if reached := reachedUpstream(got, n); reached == check {
					t.Errorf("%s reached the upstream: %v, want %v", n, reached, !check)
				}
			}
			for _, n := range allowed {
				if !reachedUpstream(got, n) {
					t.Errorf("%s did not reach the upstream (an ordinary header)", n)
				}
			}
		})
	}
}
