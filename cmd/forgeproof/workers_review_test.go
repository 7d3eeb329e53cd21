//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/syncbuf"
)

// reviewFreePort returns a loopback port free at the time of asking.
func reviewFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// reviewChildren returns the pids of this process's children.
func reviewChildren() []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) && f[0] != "Z" {
			pids = append(pids, pid)
		}
	}
	return pids
}

type reviewGateway struct {
	dir, config string
	pA, pB      int
	admin       string
	stderr      *syncbuf.Buffer
	pool        *x509.CertPool
}

// reviewListeners is a listeners block: A (require) and B
// (verify-if-given), in the order given.
func reviewListener(port int, mode string) string {
	return fmt.Sprintf(`  - address: "127.0.0.1:%d"
    tls:
      cert-file: "pki/server.pem"
      key-file: "pki/server-key.pem"
      client-ca-files: ["pki/ca.pem"]
      client-auth: %s
`, port, mode)
}

func (g *reviewGateway) write(t *testing.T, swapped bool) {
	t.Helper()
	a, b := reviewListener(g.pA, "require"), reviewListener(g.pB, "verify-if-given")
	if swapped {
		a, b = b, a
	}
	src, err := os.ReadFile(filepath.Join(g.dir, "init.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i, j := strings.Index(s, "listeners:"), strings.Index(s, "routes:")
	out := s[:i] + "listeners:\n" + a + b + "\n" + s[j:] + "\nworkers: 2\n"
	if err := os.WriteFile(g.config, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startReviewGateway runs "forgeproof serve" with workers: 2 in this
// process (the test binary is forgeproof to its workers, TestMain).
func startReviewGateway(t *testing.T) *reviewGateway {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream\n") }))
	t.Cleanup(up.Close)
	g := &reviewGateway{dir: t.TempDir(), pA: reviewFreePort(t), pB: reviewFreePort(t), stderr: &syncbuf.Buffer{}}
	g.admin = "127.0.0.1:" + strconv.Itoa(reviewFreePort(t))
	var so, se strings.Builder
	if code := run(context.Background(), []string{"init", "--dir", g.dir, "--upstream", up.URL, "--listen", "127.0.0.1:" + strconv.Itoa(g.pA), "--admin", g.admin}, &so, &se); code != 0 {
		t.Fatalf("init: %d %s", code, se.String())
	}
	g.config = filepath.Join(g.dir, "forgeproof.yaml")
	if err := os.Rename(g.config, filepath.Join(g.dir, "init.yaml")); err != nil {
		t.Fatal(err)
	}
	g.write(t, false)
	ca, err := os.ReadFile(filepath.Join(g.dir, "pki", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	g.pool = x509.NewCertPool()
	g.pool.AppendCertsFromPEM(ca)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, []string{"--config", g.config, "--watch=false"}, io.Discard, g.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not return within 30s of its context's end")
		}
	})
	g.waitReady(t)
	return g
}

func (g *reviewGateway) waitReady(t *testing.T) {
	t.Helper()
	waitFor(t, func() bool {
		resp, err := http.Get("http://" + g.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && len(reviewChildren()) == 2
	})
}

// TestReviewRestartedWorkerKeepsListenerPolicy: a worker started again
// after a crash reads the config file as it is now. When the listeners
// in the file have changed order since the master bound its sockets (a
// change the running workers refuse on reload: "restart to apply"), the
// new worker must not put listeners[0] of the new file (another port's
// TLS policy) on the socket bound for the old listeners[0]: it refuses
// to start, and port A (client-auth: require) keeps refusing clients
// without a certificate. With the file put back, it starts again.
func TestReviewRestartedWorkerKeepsListenerPolicy(t *testing.T) {
	g := startReviewGateway(t)
	noCert := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: g.pool, ServerName: "localhost"},
		DisableKeepAlives: true,
	}, Timeout: 5 * time.Second}
	probe := func() (answered int) {
		for range 40 {
			resp, err := noCert.Get(fmt.Sprintf("https://127.0.0.1:%d/", g.pA))
			if err == nil {
				resp.Body.Close()
				answered++
			}
		}
		return answered
	}
	if n := probe(); n != 0 {
		t.Fatalf("before: port A (require) answered %d of 40 requests without a client certificate", n)
	}
	g.write(t, true) // the same two listeners, in the other order
	before := reviewChildren()
	syscall.Kill(before[0], syscall.SIGKILL)
	waitFor(t, func() bool { return strings.Contains(g.stderr.String(), "the master bound") })
	if n := probe(); n != 0 {
		t.Errorf("after a worker restart: port A (client-auth: require) completed %d of 40 handshakes without a client certificate: the new worker serves listener B's policy on A's socket", n)
	}
	if resp, err := http.Get("http://" + g.admin + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a worker that cannot start: %v %v, want 503", resp, err)
	}
	g.write(t, false) // as the master started: the worker starts again
	g.waitReady(t)
	if n := probe(); n != 0 {
		t.Errorf("after the restart: port A answered %d of 40 requests without a client certificate", n)
	}
}

// TestReviewSIGHUPDuringWorkerStartKillsIt: the master forwards SIGHUP to
// every worker it has started, including one that has not yet installed
// its SIGHUP handler, whose default action ends the process.
func TestReviewSIGHUPDuringWorkerStartKillsIt(t *testing.T) {
	g := startReviewGateway(t)
	before := reviewChildren()
	syscall.Kill(before[0], syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		now := reviewChildren()
		if len(now) == 2 && now[0] != before[0] && now[1] != before[0] {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// The new worker is starting: a reload now (systemctl reload,
	// logrotate) is passed on to it.
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	time.Sleep(2 * time.Second)
	if strings.Contains(g.stderr.String(), "signal: hangup") {
		t.Errorf("a SIGHUP forwarded while a worker started killed it:\n%s", g.stderr.String())
	}
}
