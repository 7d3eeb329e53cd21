//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/freeport"
	"github.com/forgeproof/forgeproof/internal/syncbuf"
)

type policyGateway struct {
	dir, config string
	pA, pB      int
	admin       string
	stderr      *syncbuf.Buffer
	pool        *x509.CertPool
}

// policyListeners is a listeners block: A (require) and B
// (verify-if-given), in the order given.
func policyListener(port int, mode string) string {
	return fmt.Sprintf(`  - address: "127.0.0.1:%d"
    tls:
      cert-file: "pki/server.pem"
      key-file: "pki/server-key.pem"
      client-ca-files: ["pki/ca.pem"]
      client-auth: %s
`, port, mode)
}

func (g *policyGateway) write(t *testing.T, swapped bool) {
	t.Helper()
	a, b := policyListener(g.pA, "require"), policyListener(g.pB, "verify-if-given")
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

// startPolicyGateway runs "forgeproof serve" with workers: 2 in this
// process (the test binary is forgeproof to its workers, TestMain).
func startPolicyGateway(t *testing.T) *policyGateway {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream\n") }))
	t.Cleanup(up.Close)
	g := &policyGateway{dir: t.TempDir(), pA: policyPort(t), pB: policyPort(t), stderr: &syncbuf.Buffer{}}
	g.admin = "127.0.0.1:" + strconv.Itoa(policyPort(t))
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

func (g *policyGateway) waitReady(t *testing.T) {
	t.Helper()
	waitFor(t, func() bool {
		resp, err := http.Get("http://" + g.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && len(policyWorkers(t)) == 2
	})
}

// TestWorkersRestartKeepsListenerPolicy: a worker started again
// after a crash reads the config file as it is now. When the listeners
// in the file have changed order since the master bound its sockets (a
// change the running workers refuse on reload: "restart to apply"), the
// new worker must not put listeners[0] of the new file (another port's
// TLS policy) on the socket bound for the old listeners[0]: it refuses
// to start, and port A (client-auth: require) keeps refusing clients
// without a certificate. With the file put back, it starts again.
func TestWorkersRestartKeepsListenerPolicy(t *testing.T) {
	g := startPolicyGateway(t)
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
	before := policyWorkers(t)
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

// policyPort returns a loopback port free at the time of asking.
func policyPort(t *testing.T) int {
	t.Helper()
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// policyWorkers returns the pids of this process's workers, by number.
func policyWorkers(t *testing.T) []int {
	var pids []int
	for _, pid := range workerProcs(t, os.Getpid()) {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}
