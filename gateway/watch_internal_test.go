package gateway

import (
	"bytes"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// pollWorld writes a config with its PKI to a folder and builds a gateway
// and a watcher (no file events, no loop) for it, so a test can call
// check itself, deterministically.
func pollWorld(tb testing.TB) (dir string, w *watcher, log *bytes.Buffer) {
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
	log = &bytes.Buffer{}
	path := filepath.Join(dir, "gw.yaml")
	g, err := NewFromFile(path, Options{Logger: slog.New(slog.NewJSONHandler(log, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	w = &watcher{g: g, path: path, dirs: map[string]bool{}}
	w.refresh(maps.Clone(g.loaded))
	return dir, w, log
}

// TestWatcherReloadsOnlyOnNewContents rewrites a file with the same
// bytes (a poll finds nothing to load), then with new ones (a poll
// reloads, naming that file only).
func TestWatcherReloadsOnlyOnNewContents(t *testing.T) {
	dir, w, log := pollWorld(t)
	ca := filepath.Join(dir, "ca.pem")
	if got, want := slices.Sorted(maps.Keys(w.sums)), []string{ca, filepath.Join(dir, "gw.yaml"), filepath.Join(dir, "server-key.pem"), filepath.Join(dir, "server.pem")}; !slices.Equal(got, want) {
		t.Fatalf("watched: got %v, want %v", got, want)
	}

	same, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, same, 0o600); err != nil {
		t.Fatal(err)
	}
	w.check("poll")
	if got := strings.Count(log.String(), `"msg":"reloaded"`); got != 0 {
		t.Fatalf("reloads after a write of the same bytes: got %v, want 0", got)
	}

	other := pkitest.CA(t)
	if err := os.WriteFile(ca, append(same, pki.EncodeCertsPEM(other.Cert)...), 0o600); err != nil {
		t.Fatal(err)
	}
	w.check("poll")
	if got := strings.Count(log.String(), `"msg":"reloaded","trigger":"poll","changed":["`+ca+`"]`); got != 1 {
		t.Fatalf("reloads after new contents: got %v, want 1; log:\n%s", got, log)
	}
	w.check("poll")
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
			w.check("poll")
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
