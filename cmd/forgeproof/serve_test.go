package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/syncbuf"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

const serveTestConfig = `
listeners:
  - address: "127.0.0.1:0"
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem]}
routes:
  - {name: api, path-prefix: /api, upstream: "UPSTREAM", allow: {any-verified: true}}
admin: {address: "127.0.0.1:0"}
limits: {shutdown-grace: 5s}
`

// TestServeReloadsOnSIGHUP runs "forgeproof serve" in this process and
// sends the process SIGHUP: a sound new config is applied, a broken one
// is refused while the old one keeps serving, and cancelling the context
// (as SIGTERM does) drains and returns nil.
func TestServeReloadsOnSIGHUP(t *testing.T) {
	d := pkitest.NewDir(t, nil)
	dir, ca := d.Path, d.CA
	cli, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://test.example/web"})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream") }))
	defer up.Close()

	cfgPath := filepath.Join(dir, "gw.yaml")
	writeConfig := func(extra string) {
		t.Helper()
		data := strings.Replace(serveTestConfig, "UPSTREAM", up.URL, 1) + extra
		if err := os.WriteFile(cfgPath, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("")

	// SIGHUP alone: file events would reload the config as soon as it is
	// written (TestServeWatchesFiles).
	sv := startServe(t, "--config", cfgPath, "--watch=false")
	stderr, addrs := sv.stderr, sv.addrs
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cli.ClientTLSConfig(ca)}, Timeout: 5 * time.Second}
	status := func(path string) int {
		resp, err := c.Get("https://localhost" + addrs.Listener[strings.LastIndex(addrs.Listener, ":"):] + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("/new/x"); got != 404 {
		t.Fatalf("before reload: got %d, want 404", got)
	}

	// A sound config with one more route.
	writeConfig("")
	data, _ := os.ReadFile(cfgPath)
	data = bytes.Replace(data, []byte("admin:"), []byte("  - {name: new, path-prefix: /new, upstream: \""+up.URL+"\", allow: {any-verified: true}}\nadmin:"), 1)
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, func() bool { return status("/new/x") == 200 })

	// A broken config is refused; the running one keeps serving.
	if err := os.WriteFile(cfgPath, []byte("routes: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(stderr.String(), "reload refused") })
	if got := status("/new/x"); got != 200 {
		t.Fatalf("after a refused reload: got %d, want 200", got)
	}
	resp, err := http.Get("http://" + addrs.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`forgeproof_gateway_reloads_total{outcome="success"} 1`, `forgeproof_gateway_reloads_total{outcome="failure"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	sv.stop()
	if !strings.Contains(stderr.String(), "drained, exiting") {
		t.Errorf("log lacks the drain line:\n%s", stderr.String())
	}
}

// TestServeWatchesFiles rotates the server certificate by rewriting its
// files under two "forgeproof serve" runs: the default one picks it up by
// itself and logs the trigger; its twin with --watch=false keeps the old
// certificate until SIGHUP.
func TestServeWatchesFiles(t *testing.T) {
	d := pkitest.NewDir(t, nil)
	dir, ca, old := d.Path, d.CA, d.Server
	cfgPath := filepath.Join(dir, "gw.yaml")
	cfg := strings.Replace(serveTestConfig, "UPSTREAM", "http://127.0.0.1:1", 1)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	watching := startServe(t, "--config", cfgPath)
	still := startServe(t, "--config", cfgPath, "--watch=false")
	serial := func(sv *serving) string {
		conn, err := tls.Dial("tcp", sv.addrs.Listener, &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	for _, line := range []string{`"watch":true,"watch_interval":"1m0s"`, `"watch":false,"watch_interval":"0s"`} {
		if !strings.Contains(watching.stderr.String()+still.stderr.String(), line) {
			t.Errorf("serving lines lack %s", line)
		}
	}

	next := d.RotateServer()
	want := next.Cert.SerialNumber.String()
	// The new certificate is served a moment before the reload is
	// logged: wait for both.
	const fileReload, hupReload = `"msg":"reloaded","trigger":"file"`, `"msg":"reloaded","trigger":"SIGHUP"`
	waitFor(t, func() bool { return serial(watching) == want && strings.Contains(watching.stderr.String(), fileReload) })
	if got := serial(still); got != old.Cert.SerialNumber.String() {
		t.Fatalf("--watch=false before SIGHUP: got serial %v, want the old %v", got, old.Cert.SerialNumber)
	}
	if strings.Contains(still.stderr.String(), "reload") {
		t.Fatalf("--watch=false reloaded without SIGHUP:\n%s", still.stderr.String())
	}

	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, func() bool { return serial(still) == want && strings.Contains(still.stderr.String(), hupReload) })
}

// serving is a "forgeproof serve" run in this process.
type serving struct {
	stderr *syncbuf.Buffer
	addrs  struct {
		Listener string `json:"listener0"`
		Admin    string `json:"admin"`
	}
	stop func() // cancels its context (as SIGTERM does) and checks it drained
}

// startServe runs "forgeproof serve args" until stop or the end of the
// test, once its "serving" log line names the bound addresses.
func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sv := &serving{stderr: &syncbuf.Buffer{}}
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, args, io.Discard, sv.stderr) }()
	var once sync.Once
	sv.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve after the context ended: got %v, want nil", err)
			}
		})
	}
	t.Cleanup(sv.stop)
	waitFor(t, func() bool {
		sc := bufio.NewScanner(strings.NewReader(sv.stderr.String()))
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"msg":"serving"`) {
				return json.Unmarshal(sc.Bytes(), &sv.addrs) == nil
			}
		}
		return false
	})
	return sv
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServeFlagExitCodes pins the exit status of serve's flag mistakes
// (2) beside their twins that pass the flags and fail on the missing
// config (1).
func TestServeFlagExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"negative interval", []string{"--watch-interval", "-1s"}, 2, "--watch-interval -1s: want 0 (no polling) or at least 1s"},
		{"interval below a second", []string{"--watch-interval=999ms"}, 2, "--watch-interval 999ms: want 0 (no polling) or at least 1s"},
		{"unparsable interval", []string{"--watch-interval", "soon"}, 2, `invalid value "soon" for --watch-interval`},
		{"unparsable watch", []string{"--watch=maybe"}, 2, `invalid boolean value "maybe" for --watch`},
		{"no polling", []string{"--watch-interval", "0"}, 1, "no such file or directory"},
		{"one second", []string{"--watch-interval", "1s"}, 1, "no such file or directory"},
		{"watch off", []string{"--watch=false"}, 1, "no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"serve", "--config", filepath.Join(t.TempDir(), "missing.yaml")}, tc.args...)
			if got := run(context.Background(), args, io.Discard, &stderr); got != tc.wantCode {
				t.Errorf("exit status: got %v, want %v", got, tc.wantCode)
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr.String(), tc.wantErr)
			}
		})
	}
}

// TestServeGCDocumented: docs/performance.md gives serve's GOGC default
// as it is.
func TestServeGCDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("`forgeproof serve` runs with `GOGC=%d` unless", serveGCPercent),
		fmt.Sprintf("`forgeproof serve` as shipped (%d)", serveGCPercent),
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("docs/performance.md lacks %q", want)
		}
	}
}

// TestServeGCDefault: serve sets its GOGC default only when the
// environment sets none.
func TestServeGCDefault(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	for _, tc := range []struct {
		name, env string
		want      int
	}{
		{"no GOGC: the default", "", serveGCPercent},
		{"GOGC set: left alone", "50", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			defaultGC(func(k string) string {
				if k == "GOGC" {
					return tc.env
				}
				return ""
			})
			if got := debug.SetGCPercent(100); got != tc.want {
				t.Errorf("got GOGC %d, want %d", got, tc.want)
			}
		})
	}
}
