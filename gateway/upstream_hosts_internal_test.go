package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// Requests to two upstream hosts through one transport, alternating and
// in runs, each reach their own host (the transport remembers the last
// host's pool) and reuse that host's connections.
func TestUpstreamTransportHosts(t *testing.T) {
	conns := map[string]map[string]bool{}
	newHost := func(name string) *httptest.Server {
		conns[name] = map[string]bool{}
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conns[name][r.RemoteAddr] = true // one request at a time: no race
			io.WriteString(w, name)
		}))
	}
	a, b := newHost("a"), newHost("b")
	defer a.Close()
	defer b.Close()
	tr := newUpstreamTransport(Limits{UpstreamMaxIdleConnsPerHost: 4}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	for i, name := range []string{"a", "b", "a", "a", "b", "b", "a", "b"} {
		srv := a
		if name == "b" {
			srv = b
		}
		u, _ := url.Parse(srv.URL + "/")
		req := &http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{}}
		res, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("request %d to %s: %v", i, name, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(body) != name {
			t.Fatalf("request %d for %s reached %q", i, name, body)
		}
	}
	for name, seen := range conns {
		if len(seen) != 1 {
			t.Errorf("host %s saw %d connections, want 1 (reused)", name, len(seen))
		}
	}
}
