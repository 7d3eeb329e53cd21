package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestWebSocketRefusalMatchesPOST: a refused WebSocket handshake gets
// the same answer as a refused POST on the same route, for the same
// reason: status, body (reason, title, detail) and headers (Vary, so no
// cache serves one client's refusal to another; Cache-Control;
// Content-Type), as JSON and as text. Its twin, a same-origin handshake,
// reaches the upstream.
func TestWebSocketRefusalMatchesPOST(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	c := gw.client(w.web)
	send := func(method string, h http.Header) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, gw.base+"/api/socket", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	handshake := func(site, origin, accept string) http.Header {
		return http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Fetch-Site": {site}, "Sec-Fetch-Mode": {"websocket"},
			"Origin": {origin}, "Accept": {accept}}
	}
	post := func(site, origin, accept string) http.Header {
		return http.Header{"Sec-Fetch-Site": {site}, "Sec-Fetch-Mode": {"navigate"}, "Origin": {origin}, "Accept": {accept}}
	}

	for _, accept := range []string{"application/json", "text/html"} {
		t.Run(accept, func(t *testing.T) {
			wsResp, wsBody := send("GET", handshake("cross-site", "https://evil.example", accept))
			postResp, postBody := send("POST", post("cross-site", "https://evil.example", accept))
			if wsResp.StatusCode != http.StatusForbidden || postResp.StatusCode != http.StatusForbidden {
				t.Fatalf("status: got handshake %d, POST %d, want 403 for both", wsResp.StatusCode, postResp.StatusCode)
			}
			for _, h := range []string{"Content-Type", "Cache-Control", "X-Content-Type-Options"} {
				if got, want := wsResp.Header.Get(h), postResp.Header.Get(h); got != want {
					t.Errorf("%s: got %q, want %q (the POST's)", h, got, want)
				}
			}
			if got, want := wsResp.Header.Values("Vary"), postResp.Header.Values("Vary"); len(want) == 0 || !slices.Equal(got, want) {
				t.Errorf("Vary: got %q, want %q (the POST's, not empty)", got, want)
			}
			if accept == "application/json" {
				var ws, p map[string]any
				if err := json.Unmarshal(wsBody, &ws); err != nil {
					t.Fatalf("handshake body %q: %v", wsBody, err)
				}
				if err := json.Unmarshal(postBody, &p); err != nil {
					t.Fatalf("POST body %q: %v", postBody, err)
				}
				for _, k := range []string{"type", "status", "reason", "title", "detail"} {
					if ws[k] != p[k] || p[k] == nil {
						t.Errorf("%s: got %v, want %v (the POST's, not empty)", k, ws[k], p[k])
					}
				}
			} else if string(wsBody) != string(postBody) {
				t.Errorf("body: got %q, want %q (the POST's)", wsBody, postBody)
			}
		})
	}

	// The twin: a same-origin handshake reaches the upstream.
	before := w.upstream.count()
	if resp, body := send("GET", handshake("same-origin", gw.base, "application/json")); resp.StatusCode != http.StatusOK || w.upstream.count() == before {
		t.Errorf("same-origin handshake: got %d %s, want 200 from the upstream", resp.StatusCode, body)
	}
}

// Only a GET is a WebSocket handshake (RFC 6455): another method that
// carries "Upgrade: websocket" is still an unsafe request of the route and
// needs its token, not just the handshake's origin check; so does a GET
// that a method override (?_method=DELETE, X-HTTP-Method-Override) makes
// unsafe, which the upstream may read as a DELETE whatever its Upgrade.
// Its twins: the same requests with a token, and a same-origin GET
// handshake, which cannot carry one, reach the upstream.
func TestUpgradeHeaderSkipsNoTokenCheck(t *testing.T) {
	t.Parallel()
	w, gw := tokenWorld(t)
	c := gw.client(w.web)
	tok, _ := tokenFor(t, gw, c, "")
	upgrade := func(tok string) http.Header {
		h := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Fetch-Site": {"same-origin"}, "Origin": {gw.base},
			"Accept": {"application/json"}}
		if tok != "" {
			h.Set("X-CSRF-Token", tok)
		}
		return h
	}
	tests := []struct {
		name, method, tok string
		wantStatus        int
		wantReason        string
	}{
		{"POST with Upgrade, no token", "POST", "", 403, "token-missing"},
		{"PUT with Upgrade, no token", "PUT", "", 403, "token-missing"},
		{"POST with Upgrade and its token", "POST", tok, 200, ""},
		{"GET handshake, no token", "GET", "", 200, ""},
		{"GET handshake with ?_method=DELETE, no token", "GET ?_method=DELETE", "", 403, "token-missing"},
		{"GET handshake with X-HTTP-Method-Override, no token", "GET override", "", 403, "token-missing"},
		{"GET handshake with ?_method=DELETE and its token", "GET ?_method=DELETE", tok, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.upstream.count()
			method, url, h := tt.method, gw.base+"/forms/socket", upgrade(tt.tok)
			switch method {
			case "GET ?_method=DELETE":
				method, url = "GET", url+"?_method=DELETE"
			case "GET override":
				method = "GET"
				h.Set("X-HTTP-Method-Override", "DELETE")
			}
			status, body := do(t, c, method, url, h, "")
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if reached := w.upstream.count() > before; reached != (tt.wantStatus == 200) {
				t.Errorf("upstream reached: got %v, want %v", reached, tt.wantStatus == 200)
			}
			if tt.wantReason != "" && !strings.Contains(body, `"reason":"`+tt.wantReason+`"`) {
				t.Errorf("got body %s, want reason %q", body, tt.wantReason)
			}
		})
	}
}

// Only a GET is a WebSocket handshake (RFC 6455), and no browser can send
// Upgrade on another method (a forbidden request header): a HEAD that
// carries "Upgrade: websocket" is an ordinary HEAD, forwarded without
// Upgrade, and the origin checks pass it as they pass any HEAD (the csrf
// package's reading, which the gateway shares). Its twin: the same
// headers on a GET, a handshake, are refused.
func TestUpgradeHeaderOnHEADIsNoHandshake(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	c := gw.client(w.web)
	h := http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Fetch-Site": {"cross-site"},
		"Origin": {"https://evil.example"}, "Accept": {"application/json"}}
	for _, tt := range []struct {
		method     string
		wantStatus int
	}{
		{"HEAD", http.StatusOK},
		{"GET", http.StatusForbidden},
	} {
		before := w.upstream.count()
		status, body := do(t, c, tt.method, gw.base+"/api/socket", h.Clone(), "")
		if status != tt.wantStatus {
			t.Errorf("%s: got status %d, want %d (body %s)", tt.method, status, tt.wantStatus, body)
		}
		if reached := w.upstream.count() > before; reached != (tt.wantStatus == http.StatusOK) {
			t.Errorf("%s: upstream reached: got %v, want %v", tt.method, reached, tt.wantStatus == http.StatusOK)
		}
	}
}
