package gateway_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

func TestAccessLog(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	buf := &logBuffer{}
	g, err := gateway.New(w.config(), gateway.Options{Logger: slog.New(slog.NewJSONHandler(buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := startHandler(t, w, g)
	c := srv.client(w.web)
	do(t, c, "GET", srv.base+"/api/x", nil, "")
	do(t, c, "GET", srv.base+"/admin/x", nil, "")
	do(t, c, "POST", srv.base+"/api/x", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://other.example"}, "Referer": {"https://other.example/reset?token=secret"}}, "")
	srv.close()

	var requests []map[string]any
	for _, l := range buf.lines(t) {
		if l["msg"] == "request" {
			requests = append(requests, l)
		}
	}
	tests := []struct {
		route, decision, reason string
		status                  float64
	}{
		{"api", "allow", "", 200},
		{"admin", "deny", "spiffe-id-denied", 403},
		{"api", "deny", "cross-site", 403},
	}
	if len(requests) != len(tests) {
		t.Fatalf("got %d request lines, want %d: %v", len(requests), len(tests), requests)
	}
	for i, tt := range tests {
		l := requests[i]
		reason, _ := l["reason"].(string) // absent when allowed
		if l["route"] != tt.route || l["decision"] != tt.decision || l["status"] != tt.status || reason != tt.reason {
			t.Errorf("line %d: got %v, want route %s decision %s reason %q status %v", i, l, tt.route, tt.decision, tt.reason, tt.status)
		}
		// A CSRF refusal names the origin it refused, for trusted-origins.
		if wantOrigin := map[bool]any{true: "https://other.example", false: nil}[tt.reason == "cross-site"]; l["origin"] != wantOrigin {
			t.Errorf("line %d: origin %v, want %v", i, l["origin"], wantOrigin)
		}
		if tt.reason == "cross-site" && l["sec_fetch_site"] != "cross-site" {
			t.Errorf("line %d: sec_fetch_site %v, want cross-site", i, l["sec_fetch_site"])
		}
		// Of the Referer, the origin only: the page's query may hold a
		// secret.
		if wantReferer := map[bool]any{true: "https://other.example", false: nil}[tt.reason == "cross-site"]; l["referer_origin"] != wantReferer {
			t.Errorf("line %d: referer_origin %v, want %v", i, l["referer_origin"], wantReferer)
		}
		if l["identity"] != "spiffe://test.example/web" || l["identity_source"] != "connection" || l["spki_sha256"] == "" {
			t.Errorf("line %d: identity fields %v", i, l)
		}
	}
}
