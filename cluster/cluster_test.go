//go:build cluster

// The cluster test: HAProxy (TCP mode, PROXY protocol v2, health checks
// on the admin listener's /readyz) in front of three "forgeproof serve"
// replicas (the real binary, built here) and one upstream, on loopback,
// under steady load from clients that hold real certificates and CSRF
// tokens. It runs the six scenarios of docs/scale-out.md and prints their
// figures. It is not part of "go test ./..." (build tag cluster); .ci/run
// runs it:
//
//	go test -tags cluster -count=1 -v ./cluster/
//
// Without haproxy on the PATH it skips, unless CI=true, where it fails.
package cluster_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/internal/freeport"
	"github.com/forgeproof/forgeproof/pki"
)

const (
	// watchInterval is the replicas' --watch-interval: the bound on how
	// long a changed file (CRL, key ring) takes to be loaded when file
	// events go missing.
	watchInterval = time.Second
	// shutdownDelay must exceed HAProxy's detection time (inter × fall).
	shutdownDelay = 1500 * time.Millisecond
	checkInter    = 200 * time.Millisecond
	// balancerIP is HAProxy's source address towards the replicas, the
	// only peer their PROXY protocol listeners trust. Clients connect
	// from other loopback addresses (clientIP).
	balancerIP = "127.0.0.2"
	workers    = 6
)

// clientIP is the loopback address client n connects from.
func clientIP(n int) string { return fmt.Sprintf("127.0.0.%d", 10+n) }

func TestCluster(t *testing.T) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("haproxy is not installed: .ci/run installs it (apt-get install haproxy)")
		}
		t.Skip("haproxy is not installed (apt-get install haproxy): skipping the cluster test")
	}
	c := newCluster(t)
	fig := &figures{}

	l := c.startLoad()
	time.Sleep(time.Second) // steady state before the scenarios
	l.phase("warm-up")

	c.scenarioTokens(fig)
	l.phase("1 token across replicas")

	c.scenarioRotation(fig, l)
	c.scenarioCRL(fig, l)
	c.scenarioRollingRestart(fig, l)
	c.scenarioKill(fig, l)
	l.stop()
	c.scenarioAddresses(fig, l)

	fig.print(t, l)
}

// ---- the cluster ----

type cluster struct {
	t        *testing.T
	dir      string
	bin      string
	ca       *pki.CA
	good     []*pki.Cert // the load's clients
	revoked  *pki.Cert   // revoked in scenario 3
	crl      *x509.RevocationList
	keys     map[string][]byte // key ring keys by name
	up       *upstream
	replicas []*replica
	feAll    string
	fe       []string // one frontend per replica
	stats    string   // HAProxy's stats socket
}

type replica struct {
	name      string
	dir       string // its copy of the shared files, as a pod's volumes
	addr      string
	adminAddr string
	cmd       *exec.Cmd
	exited    chan error
	log       string
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{t: t, dir: t.TempDir(), keys: map[string][]byte{}}
	c.bin = filepath.Join(c.dir, "forgeproof")
	start := time.Now()
	build := exec.Command("go", "build", "-o", c.bin, "./cmd/forgeproof")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building forgeproof: %v\n%s", err, out)
	}
	t.Logf("built forgeproof in %v", time.Since(start).Round(time.Millisecond))

	ca, err := pki.NewCA(pki.CAOptions{CommonName: "cluster test CA"})
	if err != nil {
		t.Fatal(err)
	}
	c.ca = ca
	srv, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		cert, err := ca.IssueClient(pki.ClientOptions{SPIFFEID: fmt.Sprintf("spiffe://cluster.test/client-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		c.good = append(c.good, cert)
	}
	if c.revoked, err = ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://cluster.test/revoked"}); err != nil {
		t.Fatal(err)
	}
	crlDER, err := ca.CreateCRL(pki.CRLOptions{Number: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	if c.crl, err = x509.ParseRevocationList(crlDER); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"K1", "K2", "K3"} {
		c.keys[k] = csrf.GenerateKey()
	}
	certPEM := pki.EncodeCertsPEM(srv.Cert)
	keyPEM, err := pki.EncodeKeyPEM(srv.Key)
	if err != nil {
		t.Fatal(err)
	}
	c.up = newUpstream(t)

	for _, name := range []string{"a", "b", "c"} {
		r := &replica{name: name, dir: filepath.Join(c.dir, "replica-"+name), addr: freeAddr(t), adminAddr: freeAddr(t)}
		r.log = filepath.Join(c.dir, "replica-"+name+".log")
		if err := os.MkdirAll(filepath.Join(r.dir, ".tmp"), 0o700); err != nil {
			t.Fatal(err)
		}
		// The same files on every replica: what a Secret and a
		// ConfigMap give each pod. Only the ports differ, because the
		// replicas share one host here.
		c.put(r, "ca.pem", pki.EncodeCertsPEM(ca.Cert))
		c.put(r, "server.pem", certPEM)
		c.put(r, "server-key.pem", keyPEM)
		c.put(r, "crl.pem", pki.EncodeCRLPEM(crlDER))
		c.put(r, "csrf.key", c.ring("K1"))
		c.put(r, "forgeproof.yaml", []byte(fmt.Sprintf(replicaConfig, r.addr, balancerIP, c.up.addr, c.up.addr, r.adminAddr, shutdownDelay)))
		c.replicas = append(c.replicas, r)
	}
	for _, r := range c.replicas {
		c.start(r)
	}
	c.startHAProxy()
	return c
}

const replicaConfig = `listeners:
  - address: %s
    proxy-protocol: {trusted: [%s]}
    tls:
      cert-file: server.pem
      key-file: server-key.pem
      client-ca-files: [ca.pem]
      crl-files: [crl.pem]
tokens: {key-file: csrf.key}
routes:
  - {name: forms, path-prefix: /forms, upstream: "http://%s", allow: {any-verified: true}, csrf: {mode: origin-and-token}}
  - {name: api, path-prefix: /api, upstream: "http://%s", allow: {any-verified: true}}
admin: {address: "%s"}
log: {format: json}
limits: {shutdown-delay: %v, shutdown-grace: 10s}
`

// ring is a key file: the named keys, the first one active.
func (c *cluster) ring(names ...string) []byte {
	var b strings.Builder
	for i, n := range names {
		if i == 0 {
			b.WriteString("# active\n")
		} else if i == 1 {
			b.WriteString("# verify only\n")
		}
		b.WriteString(base64.StdEncoding.EncodeToString(c.keys[n]) + "\n")
	}
	return []byte(b.String())
}

// put writes a file into a replica's folder atomically (written aside,
// then renamed), as the kubelet swaps a projected volume.
func (c *cluster) put(r *replica, name string, data []byte) {
	c.t.Helper()
	tmp := filepath.Join(r.dir, ".tmp", name)
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(r.dir, name)); err != nil {
		c.t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func (c *cluster) start(r *replica) {
	c.t.Helper()
	logf, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	r.cmd = exec.Command(c.bin, "serve", "--config", filepath.Join(r.dir, "forgeproof.yaml"), "--watch-interval", watchInterval.String())
	r.cmd.Stderr = logf
	r.cmd.Stdout = logf
	if err := r.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	r.exited = make(chan error, 1)
	cmd := r.cmd
	go func() { r.exited <- cmd.Wait(); logf.Close() }()
	c.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	c.waitReady(r)
}

// waitReady polls the replica's /readyz, its readiness signal.
func (c *cluster) waitReady(r *replica) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.exited:
			log, _ := os.ReadFile(r.log)
			c.t.Fatalf("replica %s exited: %v\n%s", r.name, err, log)
		default:
		}
		resp, err := http.Get("http://" + r.adminAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("replica %s not ready after 30s", r.name)
}

// reloads returns the replica's count of successful reloads.
func (c *cluster) reloads(r *replica) int {
	c.t.Helper()
	resp, err := http.Get("http://" + r.adminAddr + "/metrics")
	if err != nil {
		c.t.Fatalf("replica %s metrics: %v", r.name, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), `forgeproof_gateway_reloads_total{outcome="success"} `); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// update writes a file to a replica and waits until the replica has
// reloaded it.
func (c *cluster) update(r *replica, name string, data []byte) {
	c.t.Helper()
	before := c.reloads(r)
	c.put(r, name, data)
	deadline := time.Now().Add(watchInterval + 10*time.Second)
	for c.reloads(r) == before {
		if time.Now().After(deadline) {
			c.t.Fatalf("replica %s did not reload %s", r.name, name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const haproxyConfig = `global
  maxconn 4000
  stats socket %[1]s mode 600 level admin
defaults
  mode tcp
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout check 1s
  retries 3
  option redispatch
  default-server send-proxy-v2 source %[2]s check inter %[3]dms fall 2 rise 2
`

func (c *cluster) startHAProxy() {
	c.t.Helper()
	c.stats = filepath.Join(c.dir, "haproxy.sock")
	var b strings.Builder
	fmt.Fprintf(&b, haproxyConfig, c.stats, balancerIP, checkInter.Milliseconds())
	backend := func(name string, rs []*replica) {
		c.feAddr(&b, name)
		fmt.Fprintf(&b, "backend be_%s\n  balance roundrobin\n  option httpchk GET /readyz\n  http-check expect status 200\n", name)
		for _, r := range rs {
			_, adminPort, _ := net.SplitHostPort(r.adminAddr)
			fmt.Fprintf(&b, "  server %s %s port %s\n", r.name, r.addr, adminPort)
		}
	}
	backend("all", c.replicas)
	for _, r := range c.replicas {
		backend(r.name, []*replica{r})
	}
	cfg := filepath.Join(c.dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		c.t.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", cfg).CombinedOutput(); err != nil {
		c.t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, b.String())
	}
	cmd := exec.Command("haproxy", "-db", "-f", cfg)
	logf, _ := os.Create(filepath.Join(c.dir, "haproxy.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for _, r := range c.replicas {
		c.waitUp(r)
	}
}

// feAddr adds a frontend on a free port and records its address.
func (c *cluster) feAddr(b *strings.Builder, name string) {
	a := freeAddr(c.t)
	fmt.Fprintf(b, "frontend fe_%s\n  bind %s\n  default_backend be_%s\n", name, a, name)
	if name == "all" {
		c.feAll = a
	} else {
		c.fe = append(c.fe, a)
	}
}

// status returns HAProxy's status of each server, by "backend/server".
func (c *cluster) status() map[string]string {
	conn, err := net.Dial("unix", c.stats)
	if err != nil {
		return nil
	}
	defer conn.Close()
	io.WriteString(conn, "show stat\n")
	data, _ := io.ReadAll(conn)
	out := map[string]string{}
	var col int
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(strings.TrimPrefix(line, "# "), ",")
		if strings.HasPrefix(line, "# ") {
			for i, name := range f {
				if name == "status" {
					col = i
				}
			}
			continue
		}
		if len(f) > col && col > 0 {
			out[f[0]+"/"+f[1]] = f[col]
		}
	}
	return out
}

// waitUp waits until HAProxy's health checks see r UP in every backend.
func (c *cluster) waitUp(r *replica) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		s := c.status()
		if s["be_all/"+r.name] == "UP" && s["be_"+r.name+"/"+r.name] == "UP" {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("HAProxy does not see replica %s UP: %v", r.name, c.status())
}

// ---- clients ----

// client returns an HTTP client with cert, connecting from clientIP(n).
func (c *cluster) client(cert *pki.Cert, n int, keepAlive bool) *http.Client {
	tc := cert.TLSCertificate()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP(n))}}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: c.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{tc}},
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 4,
	}
	c.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 15 * time.Second}
}

// mint fetches a fresh CSRF token through addr: the gateway hands it to
// the upstream, which sends it back.
func mint(cl *http.Client, addr string) (string, error) {
	resp, err := cl.Get("https://" + addr + "/forms/mint")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", &statusError{resp.StatusCode, string(b)}
	}
	return string(b), nil
}

// submit posts a form with token through addr. The Idempotency-Key
// makes net/http retry it on a keep-alive connection that a draining
// replica closed just as it was sent, as it does for a GET.
func submit(cl *http.Client, addr, token string) error {
	req, _ := http.NewRequest("POST", "https://"+addr+"/forms/submit", strings.NewReader("x=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-CSRF-Token", token)
	req.Header.Set("Idempotency-Key", strconv.FormatInt(time.Now().UnixNano(), 36))
	return check(cl.Do(req))
}

func get(cl *http.Client, addr, path string) error {
	return check(cl.Get("https://" + addr + path))
}

func check(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return &statusError{resp.StatusCode, string(b)}
	}
	return nil
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return fmt.Sprintf("status %d: %.200s", e.code, e.body) }

func refused(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == 403
}

// ---- the load ----

type load struct {
	c                            *cluster
	sent, ok, failed, refusedN   atomic.Int64
	stopc                        chan struct{}
	wg                           sync.WaitGroup
	mu                           sync.Mutex
	failTimes                    []time.Time
	errs                         []string
	phases                       []phaseFigures
	lastSent, lastFailed, lastRf int64
	lastAt                       time.Time
}

type phaseFigures struct {
	name                  string
	sent, failed, refused int64
	seconds               float64
}

// startLoad runs the steady load: workers clients through the all
// frontend, half on keep-alive connections, half opening a connection
// per request, each from its own address, each doing mint, submit and a
// plain GET in a loop.
func (c *cluster) startLoad() *load {
	l := &load{c: c, stopc: make(chan struct{}), lastAt: time.Now()}
	for i := 0; i < workers; i++ {
		cl := c.client(c.good[i%len(c.good)], i, i%2 == 0)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stopc:
					return
				default:
				}
				tok, err := mint(cl, c.feAll)
				l.count(err)
				if err == nil {
					l.count(submit(cl, c.feAll, tok))
				}
				l.count(get(cl, c.feAll, "/api/work"))
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) count(err error) {
	l.sent.Add(1)
	switch {
	case err == nil:
		l.ok.Add(1)
		return
	case refused(err):
		l.refusedN.Add(1)
	default:
		l.failed.Add(1)
	}
	l.mu.Lock()
	l.failTimes = append(l.failTimes, time.Now())
	if len(l.errs) < 20 {
		l.errs = append(l.errs, err.Error())
	}
	l.mu.Unlock()
}

// phase closes a phase of the load and returns its figures.
func (l *load) phase(name string) phaseFigures {
	s, f, r := l.sent.Load(), l.failed.Load(), l.refusedN.Load()
	p := phaseFigures{name, s - l.lastSent, f - l.lastFailed, r - l.lastRf, time.Since(l.lastAt).Seconds()}
	l.lastSent, l.lastFailed, l.lastRf, l.lastAt = s, f, r, time.Now()
	l.phases = append(l.phases, p)
	return p
}

// mustBeClean fails the test when the phase had a failed or refused
// request.
func (l *load) mustBeClean(p phaseFigures) {
	if p.failed != 0 || p.refused != 0 {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.c.t.Errorf("%s: %d failed, %d refused of %d legitimate requests, want 0; errors: %q", p.name, p.failed, p.refused, p.sent, l.errs)
	}
	l.mu.Lock()
	l.errs = nil
	l.mu.Unlock()
}

func (l *load) stop() {
	close(l.stopc)
	l.wg.Wait()
}

// ---- scenarios ----

// figures are the measurements printed at the end.
type figures struct {
	lines []string
}

func (f *figures) add(format string, a ...any) { f.lines = append(f.lines, fmt.Sprintf(format, a...)) }

func (f *figures) print(t *testing.T, l *load) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n== cluster figures (3 replicas behind HAProxy, %d load clients) ==\n", workers)
	fmt.Fprintf(&b, "%-34s %9s %7s %8s %7s\n", "load phase", "requests", "failed", "refused", "seconds")
	for _, p := range l.phases {
		fmt.Fprintf(&b, "%-34s %9d %7d %8d %7.1f\n", p.name, p.sent, p.failed, p.refused, p.seconds)
	}
	fmt.Fprintf(&b, "%-34s %9d %7d %8d\n", "total", l.sent.Load(), l.failed.Load(), l.refusedN.Load())
	for _, line := range f.lines {
		b.WriteString(line + "\n")
	}
	fmt.Print(b.String())
}

// scenarioTokens (1): a token minted through replica A verifies through
// B and C; the same token from another client (binding) or altered is
// refused everywhere (the twins that show the check is real).
func (c *cluster) scenarioTokens(fig *figures) {
	t := c.t
	alice := c.client(c.good[0], 20, false)
	bob := c.client(c.good[1], 21, false)
	tok, err := mint(alice, c.fe[0])
	if err != nil {
		t.Fatalf("1: mint via replica a: %v", err)
	}
	for i, fe := range c.fe {
		if err := submit(alice, fe, tok); err != nil {
			t.Errorf("1: token minted via a, submitted via %s: %v, want 200", c.replicas[i].name, err)
		}
		if err := submit(bob, fe, tok); !refused(err) {
			t.Errorf("1: a's token from another client via %s: %v, want 403", c.replicas[i].name, err)
		}
		if err := submit(alice, fe, altered(tok)); !refused(err) {
			t.Errorf("1: an altered token via %s: %v, want 403", c.replicas[i].name, err)
		}
	}
	fig.add("1 token minted via a: accepted via a, b, c; another client's use and an altered token refused via a, b, c")
}

// altered changes one character of tok's MAC, always to another one
// (replacing the last two with "AA" left a token that ended in "AA"
// as it was, about once in a thousand runs).
func altered(tok string) string {
	b := []byte(tok)
	i := len(b) - 3 // six bits of the tag, none of them padding
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// scenarioRotation (2): the two-step key roll, one replica at a time,
// under load: zero refused; a token of the old key keeps working until
// the old key is removed. Then the one-step roll, the negative control:
// refusals.
func (c *cluster) scenarioRotation(fig *figures, l *load) {
	t := c.t
	alice := c.client(c.good[0], 22, false)
	old, err := mint(alice, c.fe[0])
	if err != nil {
		t.Fatal(err)
	}
	oldWorks := func(step string, want bool) {
		for i, fe := range c.fe {
			err := submit(alice, fe, old)
			if want && err != nil || !want && !refused(err) {
				t.Errorf("2 %s: old-key token via %s: %v, want accepted=%v", step, c.replicas[i].name, err, want)
			}
		}
	}
	start := time.Now()
	for _, r := range c.replicas {
		c.update(r, "csrf.key", c.ring("K1", "K2")) // K2 verify-only
	}
	oldWorks("add K2 verify-only", true)
	for _, r := range c.replicas {
		c.update(r, "csrf.key", c.ring("K2", "K1")) // K2 signs
	}
	oldWorks("make K2 active", true)
	// Tokens signed by K1 go out of use (in production: the longest a
	// page stays open; here: the load's, which submits at once).
	time.Sleep(200 * time.Millisecond)
	for _, r := range c.replicas {
		c.update(r, "csrf.key", c.ring("K2"))
	}
	oldWorks("remove K1", false)
	p := l.phase("2 key rotation, two-step roll")
	l.mustBeClean(p)
	fig.add("2 two-step key roll (3 steps x 3 replicas, one at a time): %.1fs, %d requests, %d refused; old-key token accepted until K1 was removed, then refused", time.Since(start).Seconds(), p.sent, p.refused)

	// Negative control: a one-step roll (K3 alone, active at once) on
	// replica a while b and c know only K2.
	c.update(c.replicas[0], "csrf.key", c.ring("K3"))
	tok, err := mint(alice, c.fe[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := submit(alice, c.fe[1], tok); !refused(err) {
		t.Errorf("2 one-step roll: a K3 token via b: %v, want 403", err)
	}
	time.Sleep(time.Second)
	c.update(c.replicas[0], "csrf.key", c.ring("K2", "K3"))
	time.Sleep(200 * time.Millisecond)
	n := l.phase("2 one-step roll (negative control)")
	if n.refused == 0 {
		t.Errorf("2 one-step roll: no legitimate request was refused: the control shows nothing")
	}
	l.mu.Lock()
	l.errs = nil
	l.mu.Unlock()
	fig.add("2 one-step roll on one replica (negative control): %d of %d requests refused in %.1fs", n.refused, n.sent, n.seconds)
}

// scenarioCRL (3): a CRL revoking a client is written to every replica's
// files; each refuses it within the watch interval, on new connections
// and on a keep-alive connection opened before.
func (c *cluster) scenarioCRL(fig *figures, l *load) {
	t := c.t
	type probe struct {
		name  string
		first atomic.Int64 // ns after the write of the first refusal
	}
	var probes []*probe
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written atomic.Int64
	for i, fe := range c.fe {
		// An open connection, through replica i's frontend, used for
		// every request (raw HTTP/1.1 over one TLS connection).
		conn, err := (&tls.Dialer{
			NetDialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(clientIP(30 + i))}},
			Config:    &tls.Config{RootCAs: c.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{c.revoked.TLSCertificate()}},
		}).Dial("tcp", fe)
		if err != nil {
			t.Fatalf("3: dial %s: %v", fe, err)
		}
		br := bufio.NewReader(conn)
		open := func() error {
			if _, err := io.WriteString(conn, "GET /api/crl HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
				return err
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return &statusError{resp.StatusCode, ""}
			}
			return nil
		}
		if err := open(); err != nil {
			t.Fatalf("3: revoked client before the CRL, open connection via %s: %v, want 200", c.replicas[i].name, err)
		}
		fresh := c.client(c.revoked, 33+i, false)
		if err := get(fresh, fe, "/api/crl"); err != nil {
			t.Fatalf("3: revoked client before the CRL, new connection via %s: %v, want 200", c.replicas[i].name, err)
		}
		for _, kind := range []struct {
			name string
			do   func() error
		}{{"open keep-alive connection", open}, {"new connections", func() error { return get(fresh, fe, "/api/crl") }}} {
			p := &probe{name: c.replicas[i].name + ", " + kind.name}
			probes = append(probes, p)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					w := written.Load()
					err := kind.do()
					if err != nil && w != 0 {
						p.first.Store(time.Now().UnixNano() - w)
						return
					}
					if err != nil {
						t.Errorf("3: %s: %v before the CRL was written", p.name, err)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			}()
		}
		defer conn.Close()
	}
	der, err := c.ca.Revoke(c.crl, c.revoked.Cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	written.Store(time.Now().UnixNano())
	for _, r := range c.replicas {
		c.put(r, "crl.pem", pki.EncodeCRLPEM(der))
	}
	deadline := time.After(watchInterval + 5*time.Second)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-deadline:
		close(stop)
		<-done
	}
	var worst time.Duration
	for _, p := range probes {
		d := time.Duration(p.first.Load())
		if d == 0 {
			t.Errorf("3: %s: the revoked client was never refused", p.name)
			continue
		}
		worst = max(worst, d)
		fig.add("3 CRL written: revoked client refused by %-35s after %v", p.name, d.Round(time.Millisecond))
	}
	// The bound: a missed file event is caught by the next poll (the
	// watch interval); events wait 0.5s for writes to settle; the rest
	// is slack for a loaded machine.
	if worst > watchInterval+2*time.Second {
		t.Errorf("3: slowest refusal after %v, want within the watch interval %v (+2s)", worst, watchInterval)
	}
	p := l.phase("3 CRL update")
	l.mustBeClean(p)
	fig.add("3 CRL update: every replica refused the revoked client within %v (watch interval %v); legitimate clients: %d requests, %d refused", worst.Round(time.Millisecond), watchInterval, p.sent, p.refused)
}

// scenarioRollingRestart (4): SIGTERM, wait, start, one replica at a
// time, under load: zero failed requests.
func (c *cluster) scenarioRollingRestart(fig *figures, l *load) {
	t := c.t
	start := time.Now()
	for _, r := range c.replicas {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if err := <-r.exited; err != nil {
			log, _ := os.ReadFile(r.log)
			t.Fatalf("4: replica %s after SIGTERM: %v\n%.2000s", r.name, err, log)
		}
		c.start(r)
		c.waitUp(r)
	}
	p := l.phase("4 rolling restart")
	l.mustBeClean(p)
	fig.add("4 rolling restart of 3 replicas (SIGTERM, exit, start, UP in HAProxy): %.1fs, %d requests, %d failed", time.Since(start).Seconds(), p.sent, p.failed)
}

// scenarioKill (5): SIGKILL one replica under load: failures only for
// its in-flight requests, then none.
func (c *cluster) scenarioKill(fig *figures, l *load) {
	t := c.t
	l.phase("(between 4 and 5)")
	r := c.replicas[1]
	killed := time.Now()
	r.cmd.Process.Kill()
	<-r.exited
	// HAProxy sees it DOWN after inter x fall; until then new
	// connections to it fail to connect and are redispatched.
	time.Sleep(3 * time.Second)
	p := l.phase("5 SIGKILL of one replica")
	l.mu.Lock()
	var window time.Duration
	var after int
	for _, ft := range l.failTimes {
		if ft.After(killed) {
			after++
			window = max(window, ft.Sub(killed))
		}
	}
	errs := l.errs
	l.errs = nil
	l.mu.Unlock()
	if p.failed > workers {
		t.Errorf("5: %d requests failed, want at most %d (one in flight per client): %q", p.failed, workers, errs)
	}
	if p.refused != 0 {
		t.Errorf("5: %d requests refused: %q", p.refused, errs)
	}
	if window > 2*time.Second {
		t.Errorf("5: failures went on %v after the kill", window)
	}
	fig.add("5 SIGKILL of replica b: %d failed of %d requests, last failure %v after the kill, none after (%.1fs watched); errors: %q", p.failed, p.sent, window.Round(time.Millisecond), p.seconds, errs)
	c.start(r)
	c.waitUp(r)
}

// scenarioAddresses (6): every request the upstream saw names a client
// address in X-Forwarded-For, never HAProxy's; so does every access-log
// line. The twin: a peer other than HAProxy sending a PROXY header
// directly to a replica is refused, while the same header from HAProxy's
// address is believed.
func (c *cluster) scenarioAddresses(fig *figures, l *load) {
	t := c.t
	clients := map[string]bool{}
	for n := 0; n < 40; n++ {
		clients[clientIP(n)] = true
	}
	seen := c.up.forwardedFor()
	var total int
	for a, n := range seen {
		total += n
		if !clients[a] {
			t.Errorf("6: upstream saw X-Forwarded-For %q %d times, not a client address", a, n)
		}
	}
	if total == 0 {
		t.Fatal("6: the upstream saw no request")
	}
	var lines, bad int
	for _, r := range c.replicas {
		f, err := os.Open(r.log)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil || m["msg"] != "request" {
				continue
			}
			peer, _ := m["peer"].(string)
			host, _, _ := net.SplitHostPort(peer)
			lines++
			if !clients[host] {
				bad++
				if bad < 5 {
					t.Errorf("6: replica %s access log peer %q is not a client address", r.name, peer)
				}
			}
		}
		f.Close()
	}
	if lines == 0 {
		t.Fatal("6: no access-log line found")
	}

	// The twin and the refusal, on replica a directly.
	r := c.replicas[0]
	spoof := func(from string) error {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		tr := &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				conn, err := d.DialContext(ctx, network, addr)
				if err == nil {
					_, port, _ := net.SplitHostPort(addr)
					_, err = fmt.Fprintf(conn, "PROXY TCP4 203.0.113.9 127.0.0.1 5555 %s\r\n", port)
				}
				return conn, err
			},
			TLSClientConfig:   &tls.Config{RootCAs: c.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{c.good[0].TLSCertificate()}},
			DisableKeepAlives: true,
		}
		return get(&http.Client{Transport: tr, Timeout: 10 * time.Second}, r.addr, "/api/spoof")
	}
	if err := spoof(clientIP(39)); err == nil {
		t.Error("6: a PROXY header from a client (not HAProxy) was accepted")
	}
	if err := spoof(balancerIP); err != nil {
		t.Errorf("6: the same header from HAProxy's address: %v, want 200", err)
	}
	if n := c.up.forwardedFor()["203.0.113.9"]; n != 1 {
		t.Errorf("6: upstream saw the spoofed address %d times, want 1 (from the trusted address only)", n)
	}
	log, _ := os.ReadFile(r.log)
	if !strings.Contains(string(log), `"reason":"proxy-untrusted-peer","peer":"`+clientIP(39)) {
		t.Errorf("6: the refused peer is not in replica a's log")
	}
	fig.add("6 client addresses: upstream saw %d requests from %d client addresses, none from HAProxy (%s); %d access-log lines, %d not a client's; a PROXY header sent by a client directly was refused (proxy-untrusted-peer), from HAProxy's address believed", total, len(seen)-boolInt(seen["203.0.113.9"] > 0), balancerIP, lines, bad)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ---- the upstream ----

type upstream struct {
	addr string
	mu   sync.Mutex
	xff  map[string]int
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func newUpstream(t *testing.T) *upstream {
	u := &upstream{xff: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		xff := r.Header.Get("X-Forwarded-For")
		if a, err := netip.ParseAddr(xff); err == nil {
			xff = a.String()
		}
		u.mu.Lock()
		u.xff[xff]++
		u.mu.Unlock()
		if r.URL.Path == "/forms/mint" {
			tok := r.Header.Get("Forgeproof-Csrf-Token")
			if !tokenRE.MatchString(tok) {
				http.Error(w, "no token from the gateway", 500)
				return
			}
			io.WriteString(w, tok)
			return
		}
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return u
}

func (u *upstream) forwardedFor() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]int, len(u.xff))
	for k, v := range u.xff {
		out[k] = v
	}
	return out
}
