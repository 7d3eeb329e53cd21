package authz_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/internal/syncbuf"
)

// TestLogLeavesQueryOut: the line logged per question names the
// request's path, as serve's access log does, and not its query, which
// carries secrets (OAuth codes, access tokens, signed-URL signatures) that
// serve never logs. Both an allowed and a refused question; the twin is
// the path, which is logged.
func TestLogLeavesQueryOut(t *testing.T) {
	g := traefikGateway(t)
	var buf syncbuf.Buffer
	srv := httptest.NewServer(authz.Handler(g, slog.New(slog.NewJSONHandler(&buf, nil))))
	defer srv.Close()
	c := &http.Client{Timeout: 10 * time.Second}
	for _, site := range []string{"same-origin", "cross-site"} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("X-Forwarded-Method", "POST")
		req.Header.Set("X-Forwarded-Uri", "/oauth/callback?code=SECRETCODE&access_token=SECRETTOKEN")
		req.Header.Set("X-Forwarded-Host", "bank.test")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Sec-Fetch-Site", site)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	log := buf.String()
	if n := strings.Count(log, `"uri":"/oauth/callback"`); n != 2 {
		t.Errorf("want the path in both lines, got %d: %s", n, log)
	}
	if strings.Contains(log, "SECRET") {
		t.Errorf("the log has the query: %s", log)
	}
}
