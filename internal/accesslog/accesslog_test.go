package accesslog_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/accesslog"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// records keeps what Parse reads from the access-log records it is
// handed.
type records struct {
	mu  sync.Mutex
	got []accesslog.Record
}

func (h *records) Enabled(context.Context, slog.Level) bool { return true }
func (h *records) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *records) WithGroup(string) slog.Handler            { return h }
func (h *records) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if x, ok := accesslog.Parse(r); ok {
		h.got = append(h.got, x)
	}
	return nil
}

// TestParseGatewayRecords reads back what a real gateway logs, so that
// the keys Parse knows cannot drift from the ones the gateway writes: an
// allowed request with a client certificate, and its refused twin (a
// cross-site POST).
func TestParseGatewayRecords(t *testing.T) {
	ca := pkitest.CA(t)
	dir := pkitest.NewDir(t, ca)
	client := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(up.Close)

	var h records
	g, err := gateway.New(&gateway.Config{
		Listeners: []gateway.Listener{{
			Address: "127.0.0.1:0",
			TLS: gateway.ListenerTLS{
				CertFile:      dir.File(pki.ServerFile),
				KeyFile:       dir.File(pki.ServerKeyFile),
				ClientCAFiles: []string{dir.File(pki.CAFile)},
			},
		}},
		Routes: []gateway.Route{{Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}}},
		Admin:  gateway.Admin{Address: "off"},
	}, gateway.Options{Logger: slog.New(&h)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	_, port, _ := strings.Cut(g.Addrs()[0].String(), ":")
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: client.ClientTLSConfig(ca)}}
	for _, req := range []struct{ method, site string }{{"GET", ""}, {"POST", "cross-site"}} {
		r, err := http.NewRequest(req.method, "https://localhost:"+port+"/x?q=1", strings.NewReader("a=b"))
		if err != nil {
			t.Fatal(err)
		}
		if req.site != "" {
			r.Header.Set("Sec-Fetch-Site", req.site)
			r.Header.Set("Origin", "https://evil.example")
		}
		resp, err := c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) != 2 {
		t.Fatalf("got %d access-log records, want 2: %+v", len(h.got), h.got)
	}
	for i, want := range []accesslog.Record{
		{Method: "GET", Path: "/x", Status: 200, Decision: "allow"},
		{Method: "POST", Path: "/x", Status: 403, Decision: "deny", Reason: "cross-site"},
	} {
		got := h.got[i]
		if got.Method != want.Method || got.Path != want.Path || got.Status != want.Status || got.Decision != want.Decision || got.Reason != want.Reason {
			t.Errorf("record %d: got %+v, want %+v", i, got, want)
		}
		if got.Identity != "CN=alice" || got.Proto != "HTTP/1.1" || got.ServerName != "localhost" ||
			got.Host != "localhost:"+port || !strings.HasPrefix(got.Peer, "127.0.0.1:") {
			t.Errorf("record %d: got %+v, want alice's identity, HTTP/1.1, SNI localhost, the Host and the peer", i, got)
		}
	}
}

// TestParseOtherRecords: a record with another message is not an
// access-log record, whatever its attributes.
func TestParseOtherRecords(t *testing.T) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "handshake failed", 0)
	r.AddAttrs(slog.String("method", "GET"), slog.Int("status", 400))
	if x, ok := accesslog.Parse(r); ok {
		t.Errorf("got %+v, want not an access-log record", x)
	}
	r = slog.NewRecord(time.Now(), slog.LevelInfo, accesslog.Message, 0)
	r.AddAttrs(slog.String("method", "GET"), slog.Int("status", 400), slog.String("unknown", "x"))
	if x, ok := accesslog.Parse(r); !ok || x.Method != "GET" || x.Status != 400 {
		t.Errorf("got %+v %v, want GET 400", x, ok)
	}
}
