//go:build unix

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestServeReloadRefusesFIFO: a reload whose config names a named pipe
// (or /dev/zero) as the server certificate is refused at once with a
// message that says so, and the next sound reload is applied. Before,
// the reload blocked in open(2) on the pipe for good: no log line, no
// later reload, and SIGTERM's drain never finished.
func TestServeReloadRefusesFIFO(t *testing.T) {
	d := pkitest.NewDir(t, nil)
	dir, ca := d.Path, d.CA
	cli, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://test.example/web"})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream") }))
	defer up.Close()
	fifo := filepath.Join(dir, "fifo.pem")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip(err)
	}

	cfgPath := filepath.Join(dir, "gw.yaml")
	good := strings.Replace(serveTestConfig, "UPSTREAM", up.URL, 1)
	write := func(data string) {
		t.Helper()
		if err := os.WriteFile(cfgPath, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(good)
	sv := startServe(t, "--config", cfgPath, "--watch=false")
	defer sv.stop()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cli.ClientTLSConfig(ca)}, Timeout: 5 * time.Second}
	status := func(path string) int {
		resp, err := c.Get("https://localhost" + sv.addrs.Listener[strings.LastIndex(sv.addrs.Listener, ":"):] + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	for _, bad := range []struct{ file, want string }{
		{fifo, "is a named pipe (FIFO), not a regular file"},
		{os.DevNull, "is a character device, not a regular file"},
	} {
		before := strings.Count(sv.stderr.String(), "reload refused")
		write(strings.Replace(good, "cert-file: server.pem", "cert-file: "+bad.file, 1))
		syscall.Kill(os.Getpid(), syscall.SIGHUP)
		waitFor(t, func() bool { return strings.Count(sv.stderr.String(), "reload refused") > before })
		if log := sv.stderr.String(); !strings.Contains(log, "listeners[0].tls.cert-file: cannot read \\\""+bad.file+"\\\": "+bad.want) {
			t.Errorf("%s: the refusal does not say %q:\n%s", bad.file, bad.want, log)
		}
		if got := status("/api/x"); got != 200 {
			t.Fatalf("after a refused reload: got %d, want 200", got)
		}
	}

	// The twin: a sound config, with one more route, is applied.
	write(strings.Replace(good, "admin:", "  - {name: new, path-prefix: /new, upstream: \""+up.URL+"\", allow: {any-verified: true}}\nadmin:", 1))
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, func() bool { return status("/new/x") == 200 })
}
