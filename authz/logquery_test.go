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

// TestLogEscapesClientValues: the method, host and path a proxy relays
// are the client's, logged as serve logs them: a control character or a
// bidirectional override is written as an escape, never raw (a JSON log
// read in a terminal), and an overlong path is cut. The twin, a plain
// path, is logged as sent.
func TestLogEscapesClientValues(t *testing.T) {
	g := traefikGateway(t)
	var buf syncbuf.Buffer
	srv := httptest.NewServer(authz.Handler(g, slog.New(slog.NewJSONHandler(&buf, nil))))
	defer srv.Close()
	c := &http.Client{Timeout: 10 * time.Second}
	for _, uri := range []string{"/plain/path", "/x\u009b31m\u202eevil", "/long/" + strings.Repeat("a", 5000)} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("X-Forwarded-Method", "POST")
		req.Header.Set("X-Forwarded-Uri", uri)
		req.Header.Set("X-Forwarded-Host", "bank.test")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	log := buf.String()
	if !strings.Contains(log, `"uri":"/plain/path"`) {
		t.Errorf("the plain path is not logged as sent: %s", log)
	}
	if strings.ContainsAny(log, "\u009b\u202e") {
		t.Errorf("a raw control character or override in the log: %q", log)
	}
	if !strings.Contains(log, `/x\\u009b31m\\u202eevil`) {
		t.Errorf("the path's escapes are not in the log: %s", log)
	}
	if strings.Contains(log, strings.Repeat("a", 3000)) {
		t.Errorf("the overlong path is not cut")
	}
}
