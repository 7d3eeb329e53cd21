package load_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/bench/load"
	"github.com/forgeproof/forgeproof/pki"
)

// server is an HTTPS server on loopback that requires a client
// certificate from ca, and counts the TCP connections it accepted.
type server struct {
	addr  string
	conns atomic.Int64
}

func startServer(t *testing.T, ca *pki.CA, cfg func(*tls.Config), h http.HandlerFunc) *server {
	t.Helper()
	cert, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg := cert.ServerTLSConfig(ca)
	if cfg != nil {
		cfg(tlsCfg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String()}
	hs := &http.Server{
		Handler:   h,
		TLSConfig: tlsCfg,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.conns.Add(1)
			}
		},
		ErrorLog: quietLog(),
	}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	return s
}

func ok(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) }

type fixture struct {
	ca     *pki.CA
	client *tls.Config
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ca.IssueClient(pki.ClientOptions{CommonName: "bench client"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := cl.ClientTLSConfig(ca)
	cfg.ServerName = "localhost"
	cfg.MinVersion = tls.VersionTLS13
	return fixture{ca: ca, client: cfg}
}

var short = load.Options{Conns: 4, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond}

func TestKeepAlive(t *testing.T) {
	f := newFixture(t)
	noCert := f.client.Clone()
	noCert.Certificates = nil
	forbidden := func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }

	tests := []struct {
		name    string
		client  *tls.Config
		handler http.HandlerFunc
		wantOK  bool
	}{
		{name: "client certificate presented", client: f.client, handler: ok, wantOK: true},
		{name: "no client certificate: refused at the handshake", client: noCert, handler: ok, wantOK: false},
		{name: "status other than 200 is an error", client: f.client, handler: forbidden, wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, f.ca, nil, tc.handler)
			res, err := load.KeepAlive(context.Background(), load.Target{Addr: s.addr, TLS: tc.client}, short)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.OK > 0 && res.Errors == 0; got != tc.wantOK {
				t.Errorf("succeeded: got %v, want %v (%v)", got, tc.wantOK, res)
			}
			if !tc.wantOK && (res.Errors == 0 || res.FirstError == "") {
				t.Errorf("errors: got %d (%q), want some", res.Errors, res.FirstError)
			}
			if tc.wantOK {
				// Keep-alive: one connection per worker, not one per request.
				if got := s.conns.Load(); got > int64(short.Conns) {
					t.Errorf("server connections: got %d, want at most %d", got, short.Conns)
				}
			}
		})
	}
}

func TestHandshakes(t *testing.T) {
	f := newFixture(t)
	noTickets := func(c *tls.Config) { c.SessionTicketsDisabled = true }
	tests := []struct {
		name        string
		serverCfg   func(*tls.Config)
		resume      bool
		wantResumed bool
	}{
		{name: "full handshakes never resume", resume: false, wantResumed: false},
		{name: "resumed handshakes resume", resume: true, wantResumed: true},
		{name: "resumption offered, server has tickets off", serverCfg: noTickets, resume: true, wantResumed: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, f.ca, tc.serverCfg, ok)
			res, err := load.Handshakes(context.Background(), load.Target{Addr: s.addr, TLS: f.client}, short, tc.resume)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK == 0 || res.Errors != 0 {
				t.Fatalf("got %v, want successes and no errors", res)
			}
			// A new connection per request: the server saw at least as
			// many connections as requests were answered.
			if got := s.conns.Load(); got < res.OK {
				t.Errorf("server connections: got %d, want at least %d", got, res.OK)
			}
			if got := res.ResumedFraction() > 0.5; got != tc.wantResumed {
				t.Errorf("mostly resumed: got %v, want %v (%v)", got, tc.wantResumed, res)
			}
			if !tc.wantResumed && res.Resumed != 0 {
				t.Errorf("resumed: got %d, want 0", res.Resumed)
			}
		})
	}
}

// TestLatencyCountsQueueing checks the correction for coordinated
// omission: a server that takes 20ms per request on one connection can
// answer 50 requests a second. Below that rate latencies stay near the
// service time and every request finishes; above it, requests queue and
// the latency of the late ones (measured from when they were due) grows
// far beyond the service time. A generator that timed requests from when
// it sent them would report about 20ms in both cases.
func TestLatencyCountsQueueing(t *testing.T) {
	const service = 20 * time.Millisecond
	f := newFixture(t)
	s := startServer(t, f.ca, nil, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(service)
		ok(w, r)
	})
	target := load.Target{Addr: s.addr, TLS: f.client}
	opts := load.Options{Conns: 1, Duration: 500 * time.Millisecond}

	below, err := load.Latency(context.Background(), target, 10, opts)
	if err != nil {
		t.Fatal(err)
	}
	if below.Errors != 0 || below.Unfinished != 0 || below.OK != 5 {
		t.Errorf("below capacity: got %v, want 5 ok, no errors, nothing unfinished", below)
	}
	if below.Latency.P50 < service {
		t.Errorf("below capacity: p50 %v, want at least the service time %v", below.Latency.P50, service)
	}

	above, err := load.Latency(context.Background(), target, 200, opts)
	if err != nil {
		t.Fatal(err)
	}
	// 100 requests due within 500ms, at most 50 answered per second: the
	// last ones are due at ~500ms and cannot finish before ~2s.
	if above.Latency.Max < 500*time.Millisecond {
		t.Errorf("above capacity: max %v, want at least 500ms (%v)", above.Latency.Max, above)
	}
	if above.Latency.N != 100 {
		t.Errorf("above capacity: samples got %d, want 100 (late ones included)", above.Latency.N)
	}
}

func TestLatencyRefusesBadRate(t *testing.T) {
	f := newFixture(t)
	for _, rate := range []float64{0, -1} {
		if _, err := load.Latency(context.Background(), load.Target{Addr: "127.0.0.1:1", TLS: f.client}, rate, short); err == nil {
			t.Errorf("rate %v: got no error, want one", rate)
		}
	}
}

func TestTargetNeedsAddrAndTLS(t *testing.T) {
	if _, err := load.KeepAlive(context.Background(), load.Target{}, short); err == nil {
		t.Error("empty target: got no error, want one")
	}
}

func TestSummarise(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var d []time.Duration
		for _, n := range ns {
			d = append(d, time.Duration(n)*time.Millisecond)
		}
		return d
	}
	hundred := make([]time.Duration, 0, 1000)
	for i := 1000; i >= 1; i-- {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		name    string
		samples []time.Duration
		want    load.Percentiles
	}{
		{name: "empty", samples: nil, want: load.Percentiles{}},
		{name: "one", samples: ms(7), want: load.Percentiles{N: 1, P50: 7 * time.Millisecond, P99: 7 * time.Millisecond, P999: 7 * time.Millisecond, Max: 7 * time.Millisecond}},
		{name: "four unsorted", samples: ms(4, 1, 3, 2), want: load.Percentiles{N: 4, P50: 2 * time.Millisecond, P99: 4 * time.Millisecond, P999: 4 * time.Millisecond, Max: 4 * time.Millisecond}},
		{name: "1..1000 reversed", samples: hundred, want: load.Percentiles{N: 1000, P50: 500 * time.Millisecond, P99: 990 * time.Millisecond, P999: 999 * time.Millisecond, Max: 1000 * time.Millisecond}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := load.Summarise(tc.samples); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	f := newFixture(t)
	s := startServer(t, f.ca, nil, ok)
	noCert := f.client.Clone()
	noCert.Certificates = nil
	tests := []struct {
		name   string
		client *tls.Config
		wantOK bool
	}{
		{name: "with a client certificate", client: f.client, wantOK: true},
		{name: "without one", client: noCert, wantOK: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := load.Probe(context.Background(), load.Target{Addr: s.addr, TLS: tc.client})
			if got := err == nil; got != tc.wantOK {
				t.Errorf("succeeded: got %v (%v), want %v", got, err, tc.wantOK)
			}
		})
	}
}

// TestWindowHook checks that the hook sees the window open, then close,
// once each, and that the run returns only after both.
func TestWindowHook(t *testing.T) {
	f := newFixture(t)
	s := startServer(t, f.ca, nil, ok)
	var calls []bool
	var mu sync.Mutex
	opts := short
	opts.Window = func(open bool) {
		mu.Lock()
		calls = append(calls, open)
		mu.Unlock()
	}
	if _, err := load.KeepAlive(context.Background(), load.Target{Addr: s.addr, TLS: f.client}, opts); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || !calls[0] || calls[1] {
		t.Errorf("hook calls: got %v, want [true false]", calls)
	}
}
