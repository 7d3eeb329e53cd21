package gateway_test

import (
	"net/http"
	"net/url"
	"testing"
)

// Two session cookies of the configured name (a sibling host tossed one
// with a longer Path, so the browser sends it first): the token must be
// bound to every copy, since upstreams differ on which one they use
// (Go, PHP, Express: the first; Django: the last; Tomcat: the first that
// names a live session). Bound to the first only, a token the attacker
// minted for its own tossed value is accepted on a request the upstream
// may run under the victim's session.
func TestTokenBindsEverySessionCookieCopy(t *testing.T) {
	t.Parallel()
	_, gw := tokenWorld(t)
	anon := gw.client(nil) // a route that serves browsers without a certificate
	tossedTok, _ := tokenFor(t, gw, anon, "sid=tossed-session")
	bothTok, _ := tokenFor(t, gw, anon, "sid=tossed-session; sid=alice-session")
	post := func(cookie, tok string) int {
		h := http.Header{
			"Content-Type":   {"application/x-www-form-urlencoded"},
			"Sec-Fetch-Site": {"same-origin"},
			"Cookie":         {cookie},
		}
		status, _ := do(t, anon, "POST", gw.base+"/forms/submit", h, url.Values{"csrf_token": {tok}}.Encode())
		return status
	}
	// Refused: the victim's request carries its own session after the
	// tossed one; the attacker's token knows only the tossed one.
	if got := post("sid=tossed-session; sid=alice-session", tossedTok); got != 403 {
		t.Errorf("token minted for the tossed session alone, request with the victim's session too: got %d, want 403", got)
	}
	// Allowed twins: the token minted for the same cookies, and a single
	// cookie's token as before.
	if got := post("sid=tossed-session; sid=alice-session", bothTok); got != 200 {
		t.Errorf("token minted for both copies: got %d, want 200", got)
	}
	if got := post("sid=tossed-session", tossedTok); got != 200 {
		t.Errorf("single session cookie: got %d, want 200", got)
	}
}
