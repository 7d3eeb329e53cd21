package gateway

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/syncbuf"
	"github.com/forgeproof/forgeproof/internal/watch"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// pollWorld writes a config with its PKI to a folder and builds a gateway
// and runs its watcher with polls the test sends (no file events), so a
// test can poll itself, deterministically.
func pollWorld(tb testing.TB) (dir string, pw *polled, log *syncbuf.Buffer) {
	tb.Helper()
	dir = tb.TempDir()
	ca := pkitest.CA(tb)
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	write("ca.pem", pki.EncodeCertsPEM(ca.Cert))
	if err := pkitest.Server(tb, ca).Save(dir, "server.pem", "server-key.pem"); err != nil {
		tb.Fatal(err)
	}
	write("gw.yaml", []byte(`listeners:
  - address: "127.0.0.1:0"
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem]}
routes:
  - {name: api, upstream: "http://127.0.0.1:1", allow: {any-verified: true}}
admin: {address: "off"}
`))
	log = &syncbuf.Buffer{}
	path := filepath.Join(dir, "gw.yaml")
	g, err := NewFromFile(path, Options{Logger: slog.New(slog.NewJSONHandler(log, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	pw = &polled{g: g, path: path, tick: make(chan time.Time), looks: make(chan watch.Change)}
	w, onChange, err := g.watcher(path, WatchOptions{NoEvents: true}, func(o *watch.Options) {
		o.Tick = pw.tick
		o.OnLook = func(c watch.Change) { pw.looks <- c }
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx, onChange) }()
	tb.Cleanup(func() { cancel(); <-done })
	<-w.Ready()
	return dir, pw, log
}

// polled is a gateway's watcher driven by the test.
type polled struct {
	g     *Gateway
	path  string
	tick  chan time.Time
	looks chan watch.Change
}

// poll makes the watcher look at the files once and returns what it saw.
func (p *polled) poll() watch.Change {
	p.tick <- time.Now()
	return <-p.looks
}

// TestWatcherReloadsOnlyOnNewContents rewrites a file with the same
// bytes (a poll finds nothing to load), then with new ones (a poll
// reloads, naming that file only).
func TestWatcherReloadsOnlyOnNewContents(t *testing.T) {
	t.Parallel()
	dir, w, log := pollWorld(t)
	ca := filepath.Join(dir, "ca.pem")
	want := []string{ca, filepath.Join(dir, "gw.yaml"), filepath.Join(dir, "server-key.pem"), filepath.Join(dir, "server.pem")}
	got := slices.Sorted(maps.Keys(watch.HashFiles(w.g.watchList(w.path))))
	if !slices.Equal(got, want) {
		t.Fatalf("watched: got %v, want %v", got, want)
	}

	same, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, same, 0o600); err != nil {
		t.Fatal(err)
	}
	w.poll()
	if got := strings.Count(log.String(), `"msg":"reloaded"`); got != 0 {
		t.Fatalf("reloads after a write of the same bytes: got %v, want 0", got)
	}

	other := pkitest.CA(t)
	if err := os.WriteFile(ca, append(same, pki.EncodeCertsPEM(other.Cert)...), 0o600); err != nil {
		t.Fatal(err)
	}
	w.poll()
	if got := strings.Count(log.String(), `"msg":"reloaded","trigger":"poll","changed":["`+ca+`"]`); got != 1 {
		t.Fatalf("reloads after new contents: got %v, want 1; log:\n%s", got, log)
	}
	w.poll()
	if got := strings.Count(log.String(), `"msg":"reloaded"`); got != 1 {
		t.Fatalf("reloads after a second poll: got %v, want 1", got)
	}
}

// BenchmarkWatchPoll compares what a poll costs when nothing changed
// (hash the files) with reloading at every poll instead.
func BenchmarkWatchPoll(b *testing.B) {
	_, w, _ := pollWorld(b)
	b.Run("hash-unchanged", func(b *testing.B) {
		for b.Loop() {
			w.poll()
		}
	})
	b.Run("reload-always", func(b *testing.B) {
		for b.Loop() {
			if err := w.g.ReloadFile(w.path); err != nil {
				b.Fatal(err)
			}
		}
	})
}
