package gateway

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// idleUpstreamConns counts the idle connections of tr's own pools.
func idleUpstreamConns(tr *upstreamTransport) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, hp := range tr.hosts {
		hp.mu.Lock()
		n += len(hp.idle)
		hp.mu.Unlock()
	}
	return n
}

// A reload retires the old configuration's transports with
// CloseIdleConnections while requests are still in flight on them. The
// connection of a request that finishes after that is closed, as
// net/http's Transport closes connections that go idle after
// CloseIdleConnections: kept, it sat in a pool no request will ever use
// again, holding an upstream socket (and a file descriptor beside the
// new configuration's own cap) until upstream-idle-conn-timeout, so that
// reloads repeated under load piled up idle upstream connections. Before,
// it was kept. The twin: without the retirement, the connection is kept
// for reuse, and a request after it resumes pooling.
func TestUpstreamRetiredPoolKeepsNoConn(t *testing.T) {
	for _, retire := range []bool{true, false} {
		arrived, gate := make(chan struct{}), make(chan struct{})
		srv, accepted := gatedUpstream(t, arrived, gate)
		tr := newUpstreamTransport(Limits{UpstreamMaxConnsPerHost: 4, UpstreamDialTimeout: 30 * time.Second, UpstreamMaxIdleConnsPerHost: 4, UpstreamIdleConnTimeout: time.Hour}, &http.Transport{}, nil)
		errc := make(chan error, 1)
		go func() { errc <- capGet(t, tr, srv, false) }()
		<-arrived // in flight on tr
		if retire {
			tr.CloseIdleConnections() // what a reload does to the old configuration
		}
		close(gate)
		if err := <-errc; err != nil {
			t.Fatalf("retire %v: %v", retire, err)
		}
		want := 1
		if retire {
			want = 0
		}
		if n := idleUpstreamConns(tr); n != want {
			t.Errorf("retire %v: %d idle upstream connections after the answer, want %d", retire, n, want)
		}
		// A request after it is served and its connection pooled
		// (net/http's Transport, too, pools again once it is used).
		if err := retireGet(tr, srv.URL+"/free"); err != nil {
			t.Fatalf("retire %v: next request: %v", retire, err)
		}
		if n := idleUpstreamConns(tr); n != 1 {
			t.Errorf("retire %v: %d idle upstream connections after the next request, want 1", retire, n)
		}
		if got := accepted.Load(); got != int32(2-want) {
			t.Errorf("retire %v: upstream accepted %d connections, want %d", retire, got, 2-want)
		}
		tr.CloseIdleConnections()
	}
}

// retireGet sends a GET for rawURL through tr and reads its answer.
func retireGet(tr *upstreamTransport, rawURL string) error {
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		return err
	}
	res, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body)
	return res.Body.Close()
}
