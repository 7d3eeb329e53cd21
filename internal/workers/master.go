package workers

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// A Master starts, watches and stops the worker processes. Set its
// fields, call Listen, then Run.
type Master struct {
	// Workers is how many worker processes run.
	Workers int
	// Listeners are the config's listeners, in order.
	Listeners []gateway.BoundListener
	// Admin is the admin listener's address; "" for none.
	Admin string
	// Command returns the command that runs one worker ("forgeproof
	// serve" with its own arguments); Run adds the environment variable
	// and descriptors that make it worker id, and stdout and stderr
	// unless set.
	Command func(id int) *exec.Cmd
	// StopTimeout bounds a drain: a worker still running this long
	// after SIGTERM is killed.
	StopTimeout time.Duration
	// Log receives the master's lines.
	Log *slog.Logger

	secret   []byte
	addrs    []string     // the listeners' bound addresses, ":0" resolved
	first    [][]*os.File // the sockets bound by Listen, by worker
	adminLn  net.Listener // the admin listener
	mu       sync.Mutex   // guards procs
	procs    []*proc      // by worker number
	restarts *prometheus.CounterVec
	catching chan *proc    // a worker that catches SIGHUP now (CatchHUP)
	stopping chan struct{} // closed when Run starts to drain
	stopOnce sync.Once
}

// proc is one worker's current process.
type proc struct {
	cmd     *exec.Cmd
	admin   string // its admin socket, in the abstract namespace
	started time.Time
	running bool
	// catching is set once the worker catches SIGHUP (CatchHUP); a
	// SIGHUP for it before then waits in pendingHUP.
	catching, pendingHUP bool
}

// Listen binds every worker's sockets on each listener address, and the
// admin address: an address that cannot be bound fails here, before any
// worker starts.
func (m *Master) Listen() error {
	if !Supported {
		return errors.New("workers: worker processes need Linux (SO_REUSEPORT); set workers to 1")
	}
	if m.Workers < 1 {
		return fmt.Errorf("workers: %d worker processes", m.Workers)
	}
	m.secret = make([]byte, secretBytes)
	rand.Read(m.secret)
	m.stopping = make(chan struct{})
	m.procs = make([]*proc, m.Workers)
	m.first = make([][]*os.File, m.Workers)
	for _, l := range m.Listeners {
		m.addrs = append(m.addrs, l.Address)
	}
	for w := range m.Workers {
		files, err := m.bind()
		if err != nil {
			m.closeFirst()
			return err
		}
		m.first[w] = files
	}
	if m.Admin != "" {
		ln, err := net.Listen("tcp", m.Admin)
		if err != nil {
			m.closeFirst()
			return fmt.Errorf("admin.address %q: %w", m.Admin, err)
		}
		m.adminLn = ln
	}
	return nil
}

// Addrs returns the listeners' bound addresses, after Listen.
func (m *Master) Addrs() []string { return m.addrs }

// AdminAddr returns the admin listener's address, or nil without one.
func (m *Master) AdminAddr() net.Addr {
	if m.adminLn == nil {
		return nil
	}
	return m.adminLn.Addr()
}

// bind binds one worker's sockets, one per listener. The first bind of
// an address ending in ":0" gets a free port; later ones (the other
// workers, and workers started again) bind that port.
func (m *Master) bind() ([]*os.File, error) {
	var files []*os.File
	for i, a := range m.addrs {
		ln, err := listenShared(a)
		if err == nil {
			host, _, _ := net.SplitHostPort(a)
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			m.addrs[i] = net.JoinHostPort(host, port)
			var f *os.File
			f, err = ln.File()
			ln.Close()
			files = append(files, f)
		}
		if err != nil {
			closeFiles(files)
			return nil, fmt.Errorf("listeners[%d].address %q: %w", i, a, err)
		}
	}
	return files, nil
}

func (m *Master) closeFirst() {
	for _, files := range m.first {
		closeFiles(files)
	}
	m.first = nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// exit is a worker process that ended.
type exit struct {
	id  int
	p   *proc
	err error
}

// Run starts the workers and serves the admin listener until ctx ends,
// then drains: the master's /readyz turns 503, every worker gets SIGTERM
// (and drains as a single gateway does) and Run returns when all have
// exited, nil when every one exited cleanly. SIGHUP (hup) is passed on
// to every worker. A worker that dies while serving is started again
// after 100ms, and after pauses doubling up to 30s while it keeps dying
// within 10s of its start.
func (m *Master) Run(ctx context.Context, hup <-chan os.Signal) error {
	m.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "forgeproof_gateway_worker_restarts_total",
		Help: "Worker processes started again after they exited while serving, by worker.",
	}, []string{"worker"})
	own := prometheus.NewRegistry()
	own.MustRegister(m.restarts)
	var admin *http.Server
	if m.adminLn != nil {
		admin = &http.Server{
			Handler:           m.adminHandler(own),
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       time.Minute,
			ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
		}
		go admin.Serve(m.adminLn)
		defer admin.Close()
	}

	exits := make(chan exit)
	restart := make(chan int)
	m.catching = make(chan *proc)
	pause := make([]time.Duration, m.Workers)
	// later asks for worker id's start after its pause, unless the drain
	// begins first.
	later := func(id int) {
		time.AfterFunc(pause[id], func() {
			select {
			case restart <- id:
			case <-m.stopping:
			}
		})
	}
	stopped := false
	var stopTimer <-chan time.Time
	var errs []error
	for id := range m.Workers {
		err := m.start(id, m.first[id], exits)
		m.first[id] = nil // start closed them
		if err != nil {
			// Those started drain, and Run waits for them.
			m.closeFirst()
			errs = append(errs, err)
			stopped = true
			m.stop(&stopTimer)
			if m.running() == 0 {
				return errors.Join(errs...)
			}
			break
		}
	}
	for {
		select {
		case <-hup:
			m.signalAll(syscall.SIGHUP)
		case p := <-m.catching:
			m.mu.Lock()
			p.catching = true
			if p.pendingHUP && p.running {
				p.pendingHUP = false
				p.cmd.Process.Signal(syscall.SIGHUP)
			}
			m.mu.Unlock()
		case <-ctx.Done():
			ctx = context.Background() // Done only once
			if !stopped {
				stopped = true
				m.stop(&stopTimer)
				if m.running() == 0 {
					return errors.Join(errs...)
				}
			}
		case <-stopTimer:
			m.Log.Error("workers still running after the drain's time: killing them", "stop_timeout", m.StopTimeout.String())
			m.signalAll(syscall.SIGKILL)
			stopTimer = nil
		case e := <-exits:
			m.mu.Lock()
			e.p.running = false
			m.mu.Unlock()
			if stopped {
				if e.err != nil {
					errs = append(errs, fmt.Errorf("worker %d: %w", e.id, e.err))
				}
				if m.running() == 0 {
					return errors.Join(errs...)
				}
				continue
			}
			lived := time.Since(e.p.started)
			if lived > 10*time.Second || pause[e.id] == 0 {
				pause[e.id] = 100 * time.Millisecond
			} else {
				pause[e.id] = min(2*pause[e.id], 30*time.Second)
			}
			m.Log.Error("worker exited while serving: starting it again", "worker", e.id, "error", exitText(e.err), "after", pause[e.id].String())
			later(e.id)
		case id := <-restart:
			if stopped {
				continue
			}
			files, err := m.bind()
			if err == nil {
				err = m.start(id, files, exits)
			}
			if err != nil {
				m.Log.Error("worker could not be started again", "worker", id, "error", err)
				pause[id] = min(max(2*pause[id], 100*time.Millisecond), 30*time.Second)
				later(id)
				continue
			}
			m.restarts.WithLabelValues(strconv.Itoa(id)).Inc()
		}
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// start runs worker id with the listener sockets files (which it closes
// in this process: the worker holds them from then on, and they close
// when it exits, so new connections go to the other workers' sockets).
func (m *Master) start(id int, files []*os.File, exits chan<- exit) error {
	defer closeFiles(files)
	setupR, setupW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer setupR.Close()
	// The secret and the listeners: well under the pipe's buffer.
	setup, err := json.Marshal(m.Listeners)
	if err == nil {
		_, err = setupW.Write(append(slices.Clone(m.secret), setup...))
	}
	setupW.Close()
	if err != nil {
		return err
	}
	name := "@forgeproof-worker-" + strconv.Itoa(os.Getpid()) + "-" + rand.Text()[:12] + "-" + strconv.Itoa(id)
	ln, err := net.Listen("unix", name)
	if err != nil {
		return fmt.Errorf("worker %d: admin socket: %w", id, err)
	}
	adminF, err := ln.(*net.UnixListener).File()
	ln.Close()
	if err != nil {
		return fmt.Errorf("worker %d: admin socket: %w", id, err)
	}
	defer adminF.Close()
	hupR, hupW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer hupW.Close()

	cmd := m.Command(id)
	cmd.ExtraFiles = append([]*os.File{setupR, hupW, adminF}, files...)
	cmd.Env = append(cmd.Environ(), EnvWorker+"="+strconv.Itoa(id), "GOMAXPROCS="+strconv.Itoa(workerProcs(m.Workers)))
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		// GOMEMLIMIT bounds the process it is given to: the workers
		// share the master's.
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+strconv.FormatInt(limit/int64(m.Workers), 10))
	}
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	cmd.SysProcAttr = deathSignal()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("worker %d: %w", id, err)
	}
	p := &proc{cmd: cmd, admin: name, started: time.Now(), running: true}
	m.mu.Lock()
	m.procs[id] = p
	m.mu.Unlock()
	go func() {
		// One byte once it catches SIGHUP; end of file if it exits first.
		defer hupR.Close()
		if n, _ := hupR.Read(make([]byte, 1)); n == 1 {
			select {
			case m.catching <- p:
			case <-m.stopping:
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		exits <- exit{id, p, err}
	}()
	return nil
}

// workerProcs is each worker's GOMAXPROCS: an equal share of the cores
// this process may use, at least one.
func workerProcs(workers int) int {
	return max(1, runtime.GOMAXPROCS(0)/workers)
}

// stop starts the drain: readiness off, SIGTERM to every worker, and the
// timer after which the rest are killed.
func (m *Master) stop(timer *<-chan time.Time) {
	m.stopOnce.Do(func() { close(m.stopping) })
	m.signalAll(syscall.SIGTERM)
	if timer != nil && m.StopTimeout > 0 {
		*timer = time.After(m.StopTimeout)
	}
}

// signalAll sends sig to every running worker; a SIGHUP waits for a
// worker that does not catch it yet.
func (m *Master) signalAll(sig os.Signal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.procs {
		switch {
		case p == nil || !p.running:
		case sig == syscall.SIGHUP && !p.catching:
			p.pendingHUP = true
		default:
			p.cmd.Process.Signal(sig)
		}
	}
}

func (m *Master) running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, p := range m.procs {
		if p != nil && p.running {
			n++
		}
	}
	return n
}

// errNotRunning is the answer for a worker that is being started again.
var errNotRunning = errors.New("not running")

// dial connects to worker id's admin socket.
func (m *Master) dial(ctx context.Context, id int) (net.Conn, error) {
	m.mu.Lock()
	p := m.procs[id]
	m.mu.Unlock()
	if p == nil || !p.running {
		return nil, errNotRunning
	}
	var d net.Dialer
	return d.DialContext(ctx, "unix", p.admin)
}

// askTimeout bounds each question the admin listener asks a worker.
const askTimeout = 2 * time.Second

// adminHandler serves the master's admin listener: /healthz, /readyz and
// /metrics, each answered from the workers' own.
func (m *Master) adminHandler(own prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// The process is up: 200, as a single gateway answers; what a
		// worker says beyond "ok" (a refused reload), or that it does
		// not answer, follows under its number.
		var b strings.Builder
		b.WriteString("ok\n")
		for id, a := range m.askAll(r.Context(), "/healthz") {
			if a.err != nil {
				fmt.Fprintf(&b, "worker %d: %v\n", id, a.err)
			} else if rest := strings.TrimPrefix(a.body, "ok\n"); rest != "" {
				fmt.Fprintf(&b, "worker %d: %s", id, rest)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, b.String())
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		var not []string
		select {
		case <-m.stopping:
			not = append(not, "draining")
		default:
			for id, a := range m.askAll(r.Context(), "/readyz") {
				if a.err != nil || a.status != http.StatusOK {
					not = append(not, fmt.Sprintf("worker %d", id))
				}
			}
		}
		if len(not) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "not ready: "+strings.Join(not, ", ")+"\n")
			return
		}
		io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(metricsGatherer(m.Workers, m.dial, own, askTimeout), promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}))
	return mux
}

// answer is what a worker's admin handler answered.
type answer struct {
	status int
	body   string
	err    error
}

// askAll GETs path from every worker's admin socket, at once.
func (m *Master) askAll(ctx context.Context, path string) []answer {
	out := make([]answer, m.Workers)
	var wg sync.WaitGroup
	for id := range out {
		wg.Go(func() { out[id] = m.ask(ctx, id, path) })
	}
	wg.Wait()
	return out
}

func (m *Master) ask(ctx context.Context, id int, path string) answer {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	c := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return m.dial(ctx, id) },
		DisableKeepAlives: true,
	}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://worker"+path, nil)
	resp, err := c.Do(req)
	if errors.Is(err, errNotRunning) {
		return answer{err: errNotRunning}
	}
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return answer{status: resp.StatusCode, body: string(body), err: err}
}
