package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestRequestMetricsCounted: the request counter and duration histogram,
// whose children the gateway caches per route and status code, count
// every request under its own route and code, across routes and codes
// and on repeated use of a cached child.
func TestRequestMetricsCounted(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	web, anon := gw.client(w.web), gw.client(nil)
	requests := []struct {
		name   string
		c      *http.Client
		path   string
		times  int
		status int
	}{
		{"allowed", web, "/api/x", 3, 200},
		{"identity refused", web, "/admin/x", 2, 403},
		{"no identity", anon, "/api/x", 1, 403},
		{"no route", web, "/nowhere", 2, 404},
		{"public", anon, "/public/x", 1, 200},
	}
	for _, rq := range requests {
		for range rq.times {
			if status, body := do(t, rq.c, "GET", gw.base+rq.path, nil, ""); status != rq.status {
				t.Fatalf("%s: got status %d, want %d (body %s)", rq.name, status, rq.status, body)
			}
		}
	}
	_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
	for _, want := range []string{
		`forgeproof_gateway_requests_total{code="200",route="api"} 3`,
		`forgeproof_gateway_requests_total{code="403",route="admin"} 2`,
		`forgeproof_gateway_requests_total{code="403",route="api"} 1`,
		`forgeproof_gateway_requests_total{code="404",route=""} 2`,
		`forgeproof_gateway_requests_total{code="200",route="public"} 1`,
		`forgeproof_gateway_request_duration_seconds_count{route="api"} 4`,
		`forgeproof_gateway_request_duration_seconds_count{route="admin"} 2`,
		`forgeproof_gateway_request_duration_seconds_count{route=""} 2`,
		`forgeproof_gateway_request_duration_seconds_count{route="public"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, `code="200",route="admin"`) {
		t.Error(`got a 200 counted for route "admin", want none`)
	}
	if n := strings.Count(metrics, "forgeproof_gateway_requests_total{"); n != 5 {
		t.Errorf("got %d request counters, want 5:\n%s", n, grep(metrics, "forgeproof_gateway_requests_total"))
	}
}

func grep(s, substr string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			fmt.Fprint(&b, line)
		}
	}
	return b.String()
}
