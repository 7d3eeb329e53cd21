//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// workersTestConfig has two listeners: listener0 speaks TLS 1.3 only,
// listener1 TLS 1.2 too; routes api and v12 tell their requests apart
// in the metrics.
const workersTestConfig = `
workers: WORKERS
listeners:
  - address: "127.0.0.1:0"
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem]}
  - address: "127.0.0.1:0"
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem], min-version: "1.2"}
routes:
  - {name: api, path-prefix: /api, upstream: "UPSTREAM", allow: {any-verified: true}}
  - {name: v12, path-prefix: /v12, upstream: "UPSTREAM", allow: {any-verified: true}}
admin: {address: "127.0.0.1:0"}
limits: {shutdown-grace: 5s}
`

// workersWorld is a PKI, an upstream and a config file for serve.
type workersWorld struct {
	d       *pkitest.Dir
	cfgPath string
	client  *pki.Cert
	up      *httptest.Server
}

func newWorkersWorld(t *testing.T, workers, extra string) *workersWorld {
	t.Helper()
	d := pkitest.NewDir(t, nil)
	cli, err := d.CA.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://test.example/web"})
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "upstream") }))
	t.Cleanup(up.Close)
	w := &workersWorld{d: d, cfgPath: filepath.Join(d.Path, "gw.yaml"), client: cli, up: up}
	w.write(workers, extra)
	return w
}

// write writes the config with workers (no key when "") and extra YAML
// appended.
func (w *workersWorld) write(workers, extra string) {
	cfg := strings.Replace(workersTestConfig, "UPSTREAM", w.up.URL, 2)
	if workers == "" {
		cfg = strings.Replace(cfg, "workers: WORKERS\n", "", 1)
	} else {
		cfg = strings.Replace(cfg, "WORKERS", workers, 1)
	}
	w.d.Write("gw.yaml", []byte(cfg+extra))
}

// fresh returns a client that opens a new connection for each request
// (tls: the client's TLS config, nil for the usual one).
func (w *workersWorld) fresh(tc *tls.Config) *http.Client {
	if tc == nil {
		tc = w.client.ClientTLSConfig(w.d.CA)
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true},
		Timeout:   5 * time.Second,
	}
}

// get GETs url and returns the status and whether the TLS session was
// resumed.
func get(c *http.Client, url string) (int, bool, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.TLS != nil && resp.TLS.DidResume, nil
}

// logLines returns the JSON log lines of s.
func logLines(s string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// countLines counts the log lines whose msg starts with msg and whose worker attribute is
// worker (-1: lines without one, the master's or a single process's).
func countLines(s, msg string, worker int) int {
	n := 0
	for _, l := range logLines(s) {
		if m, _ := l["msg"].(string); !strings.HasPrefix(m, msg) {
			continue
		}
		w, has := l["worker"]
		if (worker < 0 && !has) || (has && w == float64(worker)) {
			n++
		}
	}
	return n
}

// masterLine returns the first "serving" line without a worker
// attribute.
func masterLine(t *testing.T, s string) map[string]any {
	t.Helper()
	for _, l := range logLines(s) {
		if _, has := l["worker"]; l["msg"] == "serving" && !has {
			return l
		}
	}
	t.Fatalf("no serving line of the master:\n%s", s)
	return nil
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricValue sums the samples of name whose labels include every one
// of labels (`worker="0"`, …); found is false when there is none.
func metricValue(metrics, name string, labels ...string) (sum float64, found bool) {
	for line := range strings.Lines(metrics) {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
			found = true
		}
	}
	return sum, found
}

// workerProcs returns the live worker processes whose parent is ppid,
// by worker number (from FORGEPROOF_WORKER in their environment).
func workerProcs(t *testing.T, ppid int) map[int]int {
	t.Helper()
	out := map[int]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parens.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 2 || f[0] == "Z" || f[0] == "X" || f[1] != strconv.Itoa(ppid) {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			continue
		}
		for v := range bytes.SplitSeq(env, []byte{0}) {
			if rest, ok := bytes.CutPrefix(v, []byte("FORGEPROOF_WORKER=")); ok {
				n, _ := strconv.Atoi(string(rest))
				out[n] = pid
			}
		}
	}
	return out
}

// alive reports whether pid is a process that has not exited.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// startWorkers runs serve in this process on w's config (with args) and
// waits until n workers log "serving".
func startWorkers(t *testing.T, w *workersWorld, n int, args ...string) (*serving, map[string]any) {
	t.Helper()
	sv := startServe(t, append([]string{"--config", w.cfgPath}, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", sv.stderr.String())
		}
	})
	waitFor(t, func() bool {
		if n == 1 {
			return true // startServe waited for its one serving line
		}
		for id := range n {
			if countLines(sv.stderr.String(), "serving", id) == 0 {
				return false
			}
		}
		return true
	})
	return sv, masterLine(t, sv.stderr.String())
}

// TestWorkersSpreadConnections: with workers: 2, forty new mTLS
// connections all succeed and the kernel spreads them over both workers
// (the master's /metrics has requests under worker="0" and worker="1");
// each worker and the master log "serving". Its twin, one process, has
// no worker label and one serving line.
func TestWorkersSpreadConnections(t *testing.T) {
	for _, tc := range []struct {
		workers string
		n       int
	}{{"2", 2}, {"1", 1}} {
		t.Run("workers="+tc.workers, func(t *testing.T) {
			w := newWorkersWorld(t, tc.workers, "")
			sv, master := startWorkers(t, w, tc.n)
			c := w.fresh(nil)
			for i := range 40 {
				if status, _, err := get(c, "https://"+sv.addrs.Listener+"/api/x"); err != nil || status != 200 {
					t.Fatalf("request %d: got %d, %v; want 200", i, status, err)
				}
			}
			_, metrics := httpGet(t, "http://"+sv.addrs.Admin+"/metrics")
			logs := sv.stderr.String()
			if tc.n == 1 {
				if v, _ := metricValue(metrics, "forgeproof_gateway_requests_total", `route="api"`); v != 40 {
					t.Errorf("requests_total: got %v, want 40\n%s", v, metrics)
				}
				if strings.Contains(metrics, `worker="`) {
					t.Errorf("one process's metrics have a worker label:\n%s", metrics)
				}
				if got := strings.Count(logs, `"msg":"serving"`); got != 1 || master["workers"] != nil {
					t.Errorf("got %d serving lines (%v), want one without workers:\n%s", got, master, logs)
				}
				return
			}
			total := 0.0
			for id := range 2 {
				v, _ := metricValue(metrics, "forgeproof_gateway_requests_total", `route="api"`, fmt.Sprintf(`worker="%d"`, id))
				if v == 0 {
					t.Errorf("worker %d served none of the 40 connections:\n%s", id, metrics)
				}
				total += v
				if got := countLines(logs, "serving", id); got != 1 {
					t.Errorf("worker %d: %d serving lines, want 1", id, got)
				}
			}
			if total != 40 {
				t.Errorf("requests_total over the workers: got %v, want 40", total)
			}
			if master["workers"] != float64(2) || master["listener0"] != sv.addrs.Listener || master["admin"] != sv.addrs.Admin {
				t.Errorf("master's serving line: %v", master)
			}
			if got := countLines(logs, "serving", -1); got != 1 {
				t.Errorf("%d serving lines without a worker, want the master's one", got)
			}
			// Run as /proc/self/exe, which the kernel names "exe", each
			// worker names itself for ps, top and pgrep.
			for id, pid := range workerProcs(t, os.Getpid()) {
				if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); string(comm) != "forgeproof\n" {
					t.Errorf("worker %d's name: %q, want forgeproof", id, comm)
				}
			}
		})
	}
}

// TestWorkersResumeSessions: a client resumes its TLS session on every
// new connection after the first, over TLS 1.3 and TLS 1.2, while its
// connections reach both workers: some resumed on a worker that did not
// issue their ticket, so the workers share the ticket keys.
func TestWorkersResumeSessions(t *testing.T) {
	w := newWorkersWorld(t, "2", "")
	sv, master := startWorkers(t, w, 2)
	for _, tc := range []struct {
		name, addr, route string
		max               uint16
	}{
		{"TLS 1.3", sv.addrs.Listener, "api", tls.VersionTLS13},
		{"TLS 1.2", master["listener1"].(string), "v12", tls.VersionTLS12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc2 := w.client.ClientTLSConfig(w.d.CA)
			tc2.MaxVersion = tc.max
			tc2.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			c := w.fresh(tc2)
			url := "https://" + tc.addr + "/" + tc.route + "/x"
			if status, resumed, err := get(c, url); err != nil || status != 200 || resumed {
				t.Fatalf("first connection: got %d resumed=%v (%v), want 200 on a full handshake", status, resumed, err)
			}
			for i := range 30 {
				resp, err := c.Get(url)
				if err != nil {
					t.Fatalf("connection %d: %v", i+2, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !resp.TLS.DidResume || resp.TLS.Version != tc.max {
					t.Fatalf("connection %d: got %d resumed=%v version %x, want 200 resumed on %x", i+2, resp.StatusCode, resp.TLS.DidResume, resp.TLS.Version, tc.max)
				}
			}
			_, metrics := httpGet(t, "http://"+sv.addrs.Admin+"/metrics")
			for id := range 2 {
				if v, _ := metricValue(metrics, "forgeproof_gateway_requests_total", `route="`+tc.route+`"`, fmt.Sprintf(`worker="%d"`, id)); v == 0 {
					t.Errorf("worker %d served none of the 31 connections: no resumption across workers shown\n%s", id, metrics)
				}
			}
		})
	}
}

// TestWorkersRestartKilledWorker: a worker killed with SIGKILL is started
// again (logged, counted in worker_restarts_total, serving once more and
// getting connections), and requests keep succeeding meanwhile: a
// connection the kill reset succeeds when tried again.
func TestWorkersRestartKilledWorker(t *testing.T) {
	w := newWorkersWorld(t, "2", "")
	sv, _ := startWorkers(t, w, 2, "--watch=false")
	pids := workerProcs(t, os.Getpid())
	if len(pids) != 2 {
		t.Fatalf("worker processes: got %v, want 2", pids)
	}
	url := "https://" + sv.addrs.Listener + "/api/x"
	c := w.fresh(nil)

	// Requests all along; each may be tried again after the kill.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	served, retried := 0, 0
	var failed error
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			var err error
			for try := range 5 {
				var status int
				if status, _, err = get(c, url); err == nil && status != 200 {
					err = fmt.Errorf("status %d", status)
				}
				if err == nil {
					break
				}
				mu.Lock()
				retried++
				mu.Unlock()
				time.Sleep(time.Duration(try+1) * 50 * time.Millisecond)
			}
			mu.Lock()
			if err != nil && failed == nil {
				failed = err
			}
			served++
			mu.Unlock()
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return served >= 5 })

	if err := syscall.Kill(pids[1], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return countLines(sv.stderr.String(), "worker exited while serving: starting it again", 1) == 1 &&
			countLines(sv.stderr.String(), "serving", 1) == 2
	})
	var again map[int]int
	waitFor(t, func() bool { again = workerProcs(t, os.Getpid()); return len(again) == 2 })
	if again[0] != pids[0] || again[1] == pids[1] {
		t.Errorf("worker processes: before %v, after %v; want worker 1 alone new", pids, again)
	}
	for _, l := range logLines(sv.stderr.String()) {
		if l["msg"] == "worker exited while serving: starting it again" && (l["worker"] != float64(1) || l["error"] != "signal: killed") {
			t.Errorf("exit line: %v, want worker 1 killed", l)
		}
	}
	// Enough new connections after the restart that the new worker 1
	// gets some.
	mu.Lock()
	after := served
	mu.Unlock()
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return served >= after+30 })
	close(stop)
	wg.Wait()
	stop = make(chan struct{})
	mu.Lock()
	if failed != nil {
		t.Errorf("a request failed five times around the kill: %v", failed)
	}
	t.Logf("%d requests, %d tried again", served, retried)
	mu.Unlock()

	_, metrics := httpGet(t, "http://"+sv.addrs.Admin+"/metrics")
	if v, _ := metricValue(metrics, "forgeproof_gateway_worker_restarts_total", `worker="1"`); v != 1 {
		t.Errorf(`worker_restarts_total{worker="1"}: got %v, want 1`+"\n%s", v, metrics)
	}
	if v, _ := metricValue(metrics, "forgeproof_gateway_worker_restarts_total", `worker="0"`); v != 0 {
		t.Errorf(`worker_restarts_total{worker="0"}: got %v, want 0`, v)
	}
	if v, _ := metricValue(metrics, "forgeproof_gateway_requests_total", `route="api"`, `worker="1"`); v == 0 {
		t.Errorf("the new worker 1 got no connections:\n%s", metrics)
	}
}

// TestWorkersDownNotReady: while a worker cannot be started again (its
// config file broke after it started; it was killed), the master's
// /readyz is 503 naming it and /healthz 200 saying so under its number;
// once the file is sound again the worker comes back and both are plain
// "ok" again. The twin is the state before the kill.
func TestWorkersDownNotReady(t *testing.T) {
	w := newWorkersWorld(t, "2", "")
	sv, _ := startWorkers(t, w, 2, "--watch=false")
	admin := "http://" + sv.addrs.Admin
	if status, body := httpGet(t, admin+"/readyz"); status != 200 || body != "ok\n" {
		t.Fatalf("readyz before: got %d %q, want 200 ok", status, body)
	}
	if status, body := httpGet(t, admin+"/healthz"); status != 200 || body != "ok\n" {
		t.Fatalf("healthz before: got %d %q, want 200 ok", status, body)
	}
	pids := workerProcs(t, os.Getpid())
	good, _ := os.ReadFile(w.cfgPath)
	w.d.Write("gw.yaml", []byte("routes: [\n"))
	if err := syscall.Kill(pids[1], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Worker 1 fails to start with the broken file, again and again.
	waitFor(t, func() bool {
		return countLines(sv.stderr.String(), "worker exited while serving: starting it again", 1) >= 2
	})
	var readyz, healthz string
	waitFor(t, func() bool {
		var rs, hs int
		rs, readyz = httpGet(t, admin+"/readyz")
		hs, healthz = httpGet(t, admin+"/healthz")
		return rs == 503 && readyz == "not ready: worker 1\n" && hs == 200 &&
			strings.HasPrefix(healthz, "ok\nworker 1: ") && !strings.Contains(healthz, "worker 0")
	})
	t.Logf("while down: readyz %q, healthz %q", readyz, healthz)
	w.d.Write("gw.yaml", good)
	waitFor(t, func() bool {
		rs, rb := httpGet(t, admin+"/readyz")
		hs, hb := httpGet(t, admin+"/healthz")
		return rs == 200 && rb == "ok\n" && hs == 200 && hb == "ok\n"
	})
	if got := countLines(sv.stderr.String(), "serving", 1); got != 2 {
		t.Errorf("worker 1: %d serving lines, want 2", got)
	}
}

// TestWorkersSIGHUP: SIGHUP to the master reaches every worker, which
// reloads a sound config; a broken one is refused by each, both keep
// serving, and the master's /healthz shows the refusal under each
// worker's number.
func TestWorkersSIGHUP(t *testing.T) {
	w := newWorkersWorld(t, "2", "")
	sv, _ := startWorkers(t, w, 2, "--watch=false")
	c := w.fresh(nil)
	status := func(path string) int {
		s, _, err := get(c, "https://"+sv.addrs.Listener+path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return s
	}
	if got := status("/new/x"); got != 404 {
		t.Fatalf("before the reload: got %d, want 404", got)
	}
	w.write("2", "")
	data, _ := os.ReadFile(w.cfgPath)
	data = bytes.Replace(data, []byte("admin:"), []byte("  - {name: new, path-prefix: /new, upstream: \""+w.up.URL+"\", allow: {any-verified: true}}\nadmin:"), 1)
	w.d.Write("gw.yaml", data)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, func() bool {
		s := sv.stderr.String()
		return countLines(s, "reloaded", 0) == 1 && countLines(s, "reloaded", 1) == 1
	})
	// Both workers serve the new route: forty new connections reach both.
	for i := range 40 {
		if got := status("/new/x"); got != 200 {
			t.Fatalf("after the reload, request %d: got %d, want 200", i, got)
		}
	}
	_, metrics := httpGet(t, "http://"+sv.addrs.Admin+"/metrics")
	for id := range 2 {
		if v, _ := metricValue(metrics, "forgeproof_gateway_requests_total", `route="new"`, fmt.Sprintf(`worker="%d"`, id)); v == 0 {
			t.Errorf("worker %d served no request of the new route:\n%s", id, metrics)
		}
	}

	w.d.Write("gw.yaml", []byte("routes: [\n"))
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, func() bool {
		s := sv.stderr.String()
		return countLines(s, "reload refused", 0) == 1 && countLines(s, "reload refused", 1) == 1
	})
	for range 10 {
		if got := status("/new/x"); got != 200 {
			t.Fatalf("after a refused reload: got %d, want 200", got)
		}
	}
	hs, healthz := httpGet(t, "http://"+sv.addrs.Admin+"/healthz")
	if hs != 200 || !strings.Contains(healthz, "worker 0: last reload refused") || !strings.Contains(healthz, "worker 1: last reload refused") {
		t.Errorf("healthz after a refused reload: got %d\n%s\nwant 200 with each worker's refusal", hs, healthz)
	}
	if rs, rb := httpGet(t, "http://"+sv.addrs.Admin+"/readyz"); rs != 200 {
		t.Errorf("readyz after a refused reload: got %d %q, want 200", rs, rb)
	}
	for id := range 2 {
		if got := countLines(sv.stderr.String(), "worker exited while serving: starting it again", id); got != 0 {
			t.Errorf("worker %d exited %d times", id, got)
		}
	}
}

// TestWorkersDrain: cancelling serve's context (SIGTERM) turns the
// master's /readyz 503 at once, while the workers still serve during
// limits.shutdown-delay; each worker and the master log "drained,
// exiting", serve returns nil and no worker process remains.
func TestWorkersDrain(t *testing.T) {
	w := newWorkersWorld(t, "2", "limits: {shutdown-delay: 2s}\n")
	// The config has limits already: merge.
	data, _ := os.ReadFile(w.cfgPath)
	data = bytes.Replace(data, []byte("limits: {shutdown-grace: 5s}\nlimits: {shutdown-delay: 2s}\n"), []byte("limits: {shutdown-grace: 5s, shutdown-delay: 2s}\n"), 1)
	w.d.Write("gw.yaml", data)
	sv, _ := startWorkers(t, w, 2)
	admin := "http://" + sv.addrs.Admin
	if status, body := httpGet(t, admin+"/readyz"); status != 200 || body != "ok\n" {
		t.Fatalf("readyz before the drain: got %d %q, want 200 ok", status, body)
	}
	if len(workerProcs(t, os.Getpid())) != 2 {
		t.Fatal("no two worker processes")
	}
	stopped := make(chan struct{})
	go func() { sv.stop(); close(stopped) }()
	// A /readyz that asked the workers as the drain began may name one
	// of them; the ones after say "draining".
	waitFor(t, func() bool {
		status, body := httpGet(t, admin+"/readyz")
		return status == 503 && body == "not ready: draining\n"
	})
	// Still in the delay: the listeners serve.
	c := w.fresh(nil)
	for i := range 10 {
		if status, _, err := get(c, "https://"+sv.addrs.Listener+"/api/x"); err != nil || status != 200 {
			t.Errorf("request %d during shutdown-delay: got %d, %v; want 200", i, status, err)
		}
	}
	select {
	case <-stopped:
		t.Fatal("serve returned before shutdown-delay ended")
	default:
	}
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return")
	}
	logs := sv.stderr.String()
	for _, id := range []int{0, 1, -1} {
		if got := countLines(logs, "drained, exiting", id); got != 1 {
			t.Errorf("worker %d (-1: master): %d drain lines, want 1\n%s", id, got, logs)
		}
	}
	if p := workerProcs(t, os.Getpid()); len(p) != 0 {
		t.Errorf("worker processes remain: %v", p)
	}
}

// forgeproofCmd runs this test binary as the forgeproof command (TestMain
// maps the name to main) in a process of its own.
func forgeproofCmd(t *testing.T, stderr *os.File, args ...string) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Args[0] = "forgeproof"
	cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	// Files, not pipes: Wait would wait for workers that outlive the
	// master to close a pipe's end.
	cmd.Stdout = nil
	cmd.Stderr = stderr
	return cmd
}

// TestWorkersMasterKilled: a master killed with SIGKILL (no drain of its
// own) leaves no worker behind: the kernel sends each SIGTERM
// (Pdeathsig) and they drain and exit. Before the kill, they serve.
func TestWorkersMasterKilled(t *testing.T) {
	w := newWorkersWorld(t, "2", "")
	logf, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	logs := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	cmd := forgeproofCmd(t, logf, "serve", "--config", w.cfgPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	waitFor(t, func() bool { return countLines(logs(), "serving", 0) == 1 && countLines(logs(), "serving", 1) == 1 })
	pids := workerProcs(t, cmd.Process.Pid)
	if len(pids) != 2 {
		t.Fatalf("worker processes of the master: %v, want 2", pids)
	}
	t.Cleanup(func() {
		// Workers the kernel did not stop (the test failed) outlive it
		// otherwise.
		for _, pid := range pids {
			if alive(pid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	c := w.fresh(nil)
	addr := masterLine(t, logs())["listener0"].(string)
	if status, _, err := get(c, "https://"+addr+"/api/x"); err != nil || status != 200 {
		t.Fatalf("with the master alive: got %d, %v; want 200", status, err)
	}
	for _, pid := range pids {
		if !alive(pid) {
			t.Fatalf("worker %d is not running before the master is killed", pid)
		}
	}

	killed = true
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, func() bool { return !alive(pids[0]) && !alive(pids[1]) })
	for id := range 2 {
		if got := countLines(logs(), "drained, exiting", id); got != 1 {
			t.Errorf("worker %d: %d drain lines, want 1 (it drains on the kernel's SIGTERM)\n%s", id, got, logs())
		}
	}
}

// TestWorkersStartupErrors: a listener or admin port already taken fails
// serve before any worker starts, naming the key, and the same config
// serves once the port is free; FORGEPROOF_WORKER set by hand fails
// clearly with status 1.
func TestWorkersStartupErrors(t *testing.T) {
	for _, key := range []string{"listeners[1].address", "admin.address"} {
		t.Run(key, func(t *testing.T) {
			w := newWorkersWorld(t, "2", "")
			taken, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer taken.Close()
			data, _ := os.ReadFile(w.cfgPath)
			var n int
			re := regexp.MustCompile(`127\.0\.0\.1:0`)
			data = re.ReplaceAllFunc(data, func(b []byte) []byte {
				n++
				if (key == "listeners[1].address" && n == 2) || (key == "admin.address" && n == 3) {
					return []byte(taken.Addr().String())
				}
				return b
			})
			w.d.Write("gw.yaml", data)
			var stderr bytes.Buffer
			if code := run(context.Background(), []string{"serve", "--config", w.cfgPath}, io.Discard, &stderr); code != 1 {
				t.Errorf("exit status: got %d, want 1", code)
			}
			want := fmt.Sprintf("%s %q: ", key, taken.Addr().String())
			if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "address already in use") {
				t.Errorf("stderr: got\n%s\nwant %s…address already in use", stderr.String(), want)
			}
			if strings.Contains(stderr.String(), `"msg":"serving"`) {
				t.Errorf("serving logged:\n%s", stderr.String())
			}
			if p := workerProcs(t, os.Getpid()); len(p) != 0 {
				t.Errorf("worker processes started: %v", p)
			}

			// The twin: the port free, the same config serves.
			taken.Close()
			sv, _ := startWorkers(t, w, 2)
			sv.stop()
		})
	}

	for _, tc := range []struct{ env, want string }{
		{"garbage", `forgeproof serve: error: FORGEPROOF_WORKER="garbage": want a worker number`},
		{"-1", `FORGEPROOF_WORKER="-1": want a worker number`},
		{"0", "forgeproof serve: error: worker 0: no setup inherited (descriptor 3 is not a pipe): FORGEPROOF_WORKER is set by forgeproof serve for its worker processes only"},
	} {
		t.Run("FORGEPROOF_WORKER="+tc.env, func(t *testing.T) {
			w := newWorkersWorld(t, "2", "")
			logf, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer logf.Close()
			cmd := forgeproofCmd(t, logf, "serve", "--config", w.cfgPath)
			cmd.Env = append(cmd.Env, "FORGEPROOF_WORKER="+tc.env)
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("serve did not exit")
			}
			b, _ := os.ReadFile(logf.Name())
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("got %v, want exit status 1", err)
			}
			if !strings.Contains(string(b), tc.want) || strings.Contains(string(b), `"msg":"serving"`) {
				t.Errorf("stderr: got\n%s\nwant %q and no serving", b, tc.want)
			}
		})
	}
}

// TestWorkersCheckConfig: check-config refuses a workers value out of
// range or not a number, naming the key; its twins pass.
func TestWorkersCheckConfig(t *testing.T) {
	w := newWorkersWorld(t, "", "")
	for _, tc := range []struct {
		value string
		ok    bool
	}{
		{"0", false}, {"many", false}, {"300", false}, {"-1", false}, {"257", false}, {`""`, false},
		{"1", true}, {"2", true}, {"256", true}, {"auto", true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			w.write(tc.value, "")
			var stderr bytes.Buffer
			code := run(context.Background(), []string{"check-config", w.cfgPath}, io.Discard, &stderr)
			if tc.ok {
				if code != 0 {
					t.Errorf("exit status %d, want 0:\n%s", code, stderr.String())
				}
				return
			}
			if code != 1 || !regexp.MustCompile(`(?m)error: .*\bworkers\b`).MatchString(stderr.String()) {
				t.Errorf("exit status %d, want 1 with an error naming workers:\n%s", code, stderr.String())
			}
		})
	}
}

// TestWorkersSIGHUPWhileStarting sends the master SIGHUP every few
// milliseconds while its workers start: none dies of it (a SIGHUP for a
// worker that does not catch it yet waits until it does), and each
// reloads once serving. Its twin without the storm is TestWorkersSIGHUP.
func TestWorkersSIGHUPWhileStarting(t *testing.T) {
	w := newWorkersWorld(t, "2", "")
	// This process's own catch: SIGHUP would end it before serve
	// catches it.
	keep := make(chan os.Signal, 1)
	signal.Notify(keep, syscall.SIGHUP)
	defer signal.Stop(keep)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		for ctx.Err() == nil {
			syscall.Kill(os.Getpid(), syscall.SIGHUP)
			time.Sleep(2 * time.Millisecond)
		}
	})
	sv, _ := startWorkers(t, w, 2, "--watch=false")
	waitFor(t, func() bool {
		s := sv.stderr.String()
		return countLines(s, "reloaded", 0) > 0 && countLines(s, "reloaded", 1) > 0
	})
	cancel()
	wg.Wait()
	for id := range 2 {
		if n := countLines(sv.stderr.String(), "worker exited", id); n > 0 {
			t.Errorf("worker %d exited %d times", id, n)
		}
	}
}
