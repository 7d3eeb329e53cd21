package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/forgeproof/forgeproof/internal/logtext"
	"github.com/forgeproof/forgeproof/internal/watch"
	"github.com/forgeproof/forgeproof/mtls"
)

// Options are the parts of a Gateway that are not configuration.
type Options struct {
	// Logger receives the access log (one line per request at Info),
	// handshake failures and upstream errors (Warn) and reload outcomes.
	// The lines a client can cause at will, one per connection (refused
	// or failed handshakes, PROXY protocol refusals, and the ErrorLog's
	// lines), are limited by kind, with a line counting those left out
	// (docs/gateway.md, Operations). If nil, nothing is logged.
	Logger *slog.Logger
	// ErrorLog is the http.Server error log (malformed requests and the
	// like). If nil, it is Logger's handler at Warn.
	ErrorLog *slog.Logger
	// LogTo, when Logger is nil, is where the gateway logs, in the format
	// and at the level the config's log section names (NewLogHandler).
	// forgeproof serve passes stderr. If both are nil, nothing is logged.
	LogTo io.Writer
	// Time returns the current time for the client certificate checks
	// (validity, CRL freshness, the re-check of open connections, see
	// mtls.ServerConfig.Time) and the reload times that /healthz and the
	// last-reload gauges show. If nil, time.Now is used.
	Time func() time.Time
	// Worker, when not nil, runs the gateway as a worker process of
	// "forgeproof serve" (Config.Workers): Listen takes its sockets from
	// it, and session tickets are sealed with keys shared by the workers.
	Worker *Worker
}

// A Gateway is a running (or ready to run) forgeproof gateway. Its
// methods are safe for concurrent use.
type Gateway struct {
	log     *slog.Logger
	errLog  *slog.Logger
	now     func() time.Time // Options.Time
	metrics *metrics
	state   atomic.Pointer[compiled]
	handler http.Handler
	// checksOff turns single checks off, for the tests' negative controls
	// only (set through export_test.go).
	checksOff checksOff
	// stallTickLate delays the first tick of every HTTP/2 stall guard
	// (stallGuard.start): tests only (set through export_test.go), to
	// show the stream's deadline holds for a guard that runs late.
	stallTickLate time.Duration
	// forwarded shares identity headers between the connections of a
	// client that reconnects (forwardedCache), across reloads.
	forwarded *forwardedCache
	// logLimit limits the log lines clients can cause at will
	// (loglimit.go).
	logLimit *logLimiter
	// tunnels are the open WebSockets, checked again after reloads and
	// expiries (tunnel.go).
	tunnels tunnelSet
	// worker is Options.Worker.
	worker *Worker

	mu        sync.Mutex
	listeners []net.Listener
	servers   []*http.Server
	h1s       []*h1Server // HTTP/1.x connections of servers[i]
	adminLn   net.Listener
	admin     *http.Server
	ready     atomic.Bool
	serveErr  chan error
	shutdown  bool
	// stopping is closed when Shutdown starts; it cuts Serve's
	// shutdown-delay short.
	stopping     chan struct{}
	stoppingOnce sync.Once
	// reloadMu serialises reloads, so two SIGHUPs cannot interleave.
	reloadMu sync.Mutex
	// loaded holds the contents' hashes of the running configuration's
	// files, read just before they were loaded: WatchFile starts from
	// them, so a change made before it started is not missed. Guarded by
	// reloadMu.
	loaded watch.Sums
	// loadedAt is when the running configuration was loaded. Guarded by
	// reloadMu.
	loadedAt time.Time
	// refused is the last reload when it was refused, nil when it
	// succeeded (or none happened yet): /healthz shows it.
	refused atomic.Pointer[refusedReload]
}

// New validates cfg, loads the files it names and returns a Gateway ready
// to Listen. The error is a ConfigErrors listing every problem.
func New(cfg *Config, opts Options) (*Gateway, error) {
	if cfg == nil {
		return nil, errNilConfig()
	}
	if w := opts.Worker; w != nil && len(w.TicketSecret) < 32 {
		// Keys derived from less would be guessable: fail closed.
		return nil, fmt.Errorf("gateway: the worker's ticket secret has %d bytes, want at least 32", len(w.TicketSecret))
	}
	g := &Gateway{log: opts.Logger, errLog: opts.ErrorLog, now: opts.Time, stopping: make(chan struct{}), forwarded: newForwardedCache(maxSharedForwarded)}
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil && opts.LogTo != nil {
		// An invalid log section fails compile below, before anything
		// is logged.
		g.log = slog.New(NewLogHandler(opts.LogTo, cfg.Log))
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if w := opts.Worker; w != nil {
		g.worker = w
		g.log = g.log.With("worker", w.ID)
		if g.errLog != nil {
			g.errLog = g.errLog.With("worker", w.ID)
		}
	}
	if g.errLog == nil {
		g.errLog = g.log
	}
	g.metrics = newMetrics()
	g.logLimit = newLogLimiter(g.now)
	sums := watch.HashFiles(cfg.Files()) // before compile reads them
	c, err := compile(cfg, g.hooks(), nil)
	if err != nil {
		return nil, err
	}
	g.loaded = sums
	g.state.Store(c)
	g.logWarnings(cfg)
	g.metrics.observeCertificates(c)
	g.loadedAt = g.now()
	g.metrics.observeReload(true, g.loadedAt)
	g.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.checksOff.off(checkCanonicalNames) {
			r = withCanonicalHeader(r)
		}
		g.serveHTTP(w, r, -1)
	})
	return g, nil
}

// NewFromFile reads the config file at path (as LoadConfig does) and
// returns New's Gateway for it, checking the config and reading the files
// it names once. Pass the same path to ReloadFile and WatchFile.
func NewFromFile(path string, opts Options) (*Gateway, error) {
	sum := watch.HashFile(path)
	cfg, err := readConfig(path) // New validates
	if err != nil {
		return nil, err
	}
	g, err := New(cfg, opts)
	if err != nil {
		return nil, err
	}
	g.loaded[watch.Abs(path)] = sum
	return g, nil
}

// Config returns the configuration the gateway serves (New's, or the
// last reload's). It must not be modified.
func (g *Gateway) Config() *Config { return g.state.Load().cfg }

// Logger returns the logger the gateway writes to (Options.Logger, or the
// one it built for Options.LogTo), for the caller's own lines.
func (g *Gateway) Logger() *slog.Logger { return g.log }

// Handler returns the gateway's request handler: routing, authorization,
// CSRF checks and proxying. Listen and Serve use it; it is exported for
// embedding the gateway behind a listener of one's own: the client
// identity is then the one in the request context (mtls.Server.Handler
// stores it), else that of a connection crypto/tls verified
// (mtls.IdentityFromTLS), and open connections are not re-checked.
// Nor can it refuse an HTTP/1.1 request with both Content-Length and
// Transfer-Encoding (ReasonFramingAmbiguous), which net/http hands it
// as a plain chunked request: the gateway's own listeners read the
// framing from the connection. It forwards such a request and closes
// the connection after it, as after every chunked HTTP/1.1 request, so
// nothing after its body is read as another request. A request whose
// header map holds a field name not in canonical form (set by hand, or
// by a server not built on net/http) is handled with the names made
// canonical, values of names that differ only in case merged: every
// check looks names up in canonical form, so an "origin" or "upgrade"
// would otherwise pass them unseen.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Listen binds every listener and the admin listener. Addresses ending in
// ":0" get a free port: see Addrs and AdminAddr. Listen does not serve;
// call Serve. It returns an error, and binds nothing, when an address
// cannot be bound, when called a second time, or after Shutdown.
func (g *Gateway) Listen() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.listeners != nil {
		return errors.New("gateway: already listening")
	}
	if g.shutdown {
		return errors.New("gateway: shut down")
	}
	c := g.state.Load()
	// Not nil, even without listeners (forgeproof authz): Listen and
	// Serve tell "listening" by it.
	lns := make([]net.Listener, 0, len(c.cfg.Listeners))
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	if w := g.worker; w != nil {
		if err := w.checkBound(c.cfg.Listeners); err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
	}
	for i, l := range c.cfg.Listeners {
		var ln net.Listener
		if g.worker != nil {
			ln = g.worker.Listeners[i]
		} else {
			var err error
			ln, err = net.Listen("tcp", l.Address)
			if err != nil {
				closeAll()
				return fmt.Errorf("gateway: listeners[%d].address %q: %w", i, l.Address, err)
			}
		}
		if l.ProxyProtocol != nil {
			ln = newProxyListener(ln, g, i, l.Address)
		}
		lns = append(lns, ln)
	}
	if g.worker != nil {
		// The master owns the admin address and asks the workers.
		g.adminLn = g.worker.Admin
	} else if a := c.cfg.Admin.Address; a != "off" {
		if a == "" {
			a = DefaultAdminAddress
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			closeAll()
			return fmt.Errorf("gateway: admin.address %q: %w", a, err)
		}
		g.adminLn = ln
	}
	g.listeners = lns
	if strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		// Go then announces extended CONNECT (RFC 8441), and browsers
		// send WebSockets over HTTP/2 as CONNECT, which serveHTTP refuses.
		g.log.Warn("GODEBUG=http2xconnect=1: browsers will try WebSockets over HTTP/2 (extended CONNECT), which the gateway refuses with 405; unset it so that they use HTTP/1.1")
	}
	for i := range lns {
		srv := g.newServer(i, c.limits)
		g.servers = append(g.servers, srv)
		h1 := newH1Server(srv)
		h1.checks = &g.checksOff
		h1.stall = stallConfig{c.limits.StallTimeout, g.metrics}
		h1.writeTimeout = c.limits.WriteTimeout // not srv's (streamWriteTimeout)
		h1.handshakeFailed = g.handshakeFailed(c.cfg.Listeners[i].Address)
		h1.stallTickLate = g.stallTickLate
		g.h1s = append(g.h1s, h1)
	}
	g.setTicketKeys(g.now())
	if g.adminLn != nil {
		g.admin = &http.Server{
			Handler:           g.adminHandler(),
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       time.Minute,
			ErrorLog:          slog.NewLogLogger(g.errLog.Handler(), slog.LevelWarn),
		}
	}
	return nil
}

// newServer builds the http.Server of listener i. Its TLS configuration
// is looked up per handshake, so a reload applies to new connections at
// once; open keep-alive connections are verified again under the new
// state at their next request (mtls.Server.Check, in serveHTTP).
func (g *Gateway) newServer(i int, l Limits) *http.Server {
	// Both protocols are served; which one a connection speaks is the
	// ALPN list of the listener's current TLS config (Listener.HTTP2).
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	return &http.Server{
		Protocols: &protocols,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: l.HTTP2MaxConcurrentStreams,
			SendPingTimeout:      l.HTTP2ReadIdleTimeout,
			PingTimeout:          l.HTTP2PingTimeout,
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g.serveHTTP(w, r, i)
		}),
		// "OPTIONS *" reaches serveHTTP, whose framing checks come
		// before its answer (serveOptionsStar).
		DisableGeneralOptionsHandler: true,
		ReadHeaderTimeout:            l.ReadHeaderTimeout,
		ReadTimeout:                  l.ReadTimeout,
		// Go's HTTP/2 server gives each stream a write deadline this far
		// from its start; the stall guard moves it for handlers that run
		// longer (stallGuard). The gateway's HTTP/1.1 server has the
		// configured write-timeout of its own (h1Server.writeTimeout).
		WriteTimeout:   streamWriteTimeout(l),
		IdleTimeout:    l.IdleTimeout,
		MaxHeaderBytes: l.MaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(g.serverErrorLog().Handler(), slog.LevelWarn),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			// The gateway's state of the connection, which holds the
			// cache of mtls.Server.CheckConn (any of the listener's
			// Servers: it is not tied to one) and of its forwarded
			// headers.
			cf := &connState{}
			cf.framing, _ = c.(*framingConn) // nil for HTTP/2
			return context.WithValue(ctx, connKey{}, cf)
		},
		TLSConfig: &tls.Config{
			// Only what makes http.Server.Serve set up HTTP/2: each
			// handshake uses the listener's own list (GetConfigForClient).
			NextProtos: []string{"h2", "http/1.1"},
			GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
				// The mtls.Server's own per-handshake config carries the
				// verification (VerifyConnection); crypto/tls does not
				// follow a second GetConfigForClient, so call it here.
				return g.state.Load().listeners[i].config.GetConfigForClient(hello)
			},
		},
	}
}

// streamWriteTimeout is the write deadline Go's HTTP/2 server gives each
// stream from its start: two stall timeouts (limits.stall-timeout), or
// limits.write-timeout when that is shorter. The stall guard moves it out
// of the way of a handler that runs past half a stall timeout, and back
// to a stall timeout ahead when the handler returns (stallGuard): so the
// last part of an answer, which the server writes after the handler
// returned, cannot wait for its client forever. Two timeouts, not one:
// Go's timer and the guard's first tick are not ordered, and a tick that
// ran late (a busy machine) by more than the margin, a timeout and a
// half, would find the stream of a handler that still legitimately waits
// (a slow upstream, a body) reset; the end of a short answer is held no
// longer than a stall in the middle of one is (one to two periods). A
// stream whose timer exists from its start can have it moved safely even
// after the stream has ended (the server then finds it stopped); one
// without would get a timer for a stream long gone. (With checkOwnServer
// off, a test-only switch, net/http serves HTTP/1.x and reads this as the
// whole answer's bound.)
func streamWriteTimeout(l Limits) time.Duration {
	s, w := l.StallTimeout, l.WriteTimeout
	if s <= 0 || (w > 0 && s >= w) {
		return w // no guard, or write-timeout's bound (not movable)
	}
	d := 2 * s
	if d < s {
		d = math.MaxInt64 // a stall timeout of centuries
	}
	if w > 0 && w < d {
		d = w // the answer's bound, which the guard keeps (stallGuard.bound)
	}
	return d
}

// hooks connects compiled configurations to the gateway's logs and
// metrics.
func (g *Gateway) hooks() hooks {
	return hooks{
		log:                g.log,
		now:                g.now,
		forwarded:          g.forwarded,
		checksOff:          &g.checksOff,
		onHandshakeFailure: g.handshakeRefused,
	}
}

// handshakeRefused logs and counts a handshake refused for its client
// certificate.
func (g *Gateway) handshakeRefused(listener string, f mtls.HandshakeFailure) {
	g.metrics.handshakeFailures.WithLabelValues(listener, string(f.Reason)).Inc()
	const msg = "TLS handshake refused"
	if !g.logs(slog.LevelWarn, listener, string(f.Reason), msg) {
		return
	}
	attrs := []any{"listener", listener, "reason", f.Reason, "peer", addrString(f.RemoteAddr), "server_name", logtext.Clean(f.ServerName, logtext.MaxName), "resumed", f.Resumed, "error", logtext.Error(f.Err)}
	if f.Certificate != nil {
		attrs = append(attrs, "subject", logtext.Clean(f.Certificate.Subject.String(), logtext.MaxIdentity), "serial", serialHex(f.Certificate.SerialNumber))
	}
	g.log.Warn(msg, attrs...)
}

// handshakeFailed returns the report of listener's handshakes that failed
// without mtls refusing them (mtls.HandshakeReason): each is counted with
// its reason. A certificate crypto/tls refused itself (bad-certificate)
// is logged as mtls's refusals are; a failed negotiation (tls-version,
// no-shared-cipher, no-shared-alpn, server-certificate-refused,
// tls-protocol-error) at Info, since its client cannot connect and an
// operator may want to know, but a scanner makes many; what clients that
// are not trying TLS do (not-tls, client-closed, handshake-timeout: port
// scanners, TCP health checks, browsers' unused pre-connections) at Debug,
// as nginx (info, below its default) and Caddy (debug) log them.
func (g *Gateway) handshakeFailed(listener string) handshakeReporter {
	return func(tc *tls.Conn, reason mtls.Reason, err error) {
		cs := tc.ConnectionState()
		if reason == mtls.ReasonBadCertificate {
			f := mtls.HandshakeFailure{Reason: reason, Err: err, RemoteAddr: tc.RemoteAddr(), ServerName: cs.ServerName}
			if len(cs.PeerCertificates) > 0 {
				f.Certificate = cs.PeerCertificates[0]
			}
			g.handshakeRefused(listener, f)
			return
		}
		g.metrics.handshakeFailures.WithLabelValues(listener, string(reason)).Inc()
		level := slog.LevelInfo
		switch reason {
		case mtls.ReasonNotTLS, mtls.ReasonClientClosed, mtls.ReasonHandshakeTimeout:
			level = slog.LevelDebug
		}
		// Asked before the arguments are built: not-tls and client-closed
		// (every TCP health check) are at Debug, mostly off.
		const msg = "TLS handshake failed"
		if g.logs(level, listener, string(reason), msg) {
			g.log.Log(context.Background(), level, msg, "listener", listener, "reason", reason, "peer", addrString(tc.RemoteAddr()), "server_name", logtext.Clean(cs.ServerName, logtext.MaxName), "error", logtext.Error(err))
		}
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Addrs returns the bound address of each listener, in config order, or
// nil before Listen.
func (g *Gateway) Addrs() []net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []net.Addr
	for _, ln := range g.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

// AdminAddr returns the bound address of the admin listener, or nil
// before Listen or when it is off.
func (g *Gateway) AdminAddr() net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.adminLn == nil {
		return nil
	}
	return g.adminLn.Addr()
}

// Serve listens (unless Listen was called) and serves until ctx ends, then
// shuts down gracefully: /readyz turns 503 at once, the listeners keep
// serving for limits.shutdown-delay (so that load balancers stop sending
// first; a call to Shutdown cuts it short), then they stop accepting
// connections and in-flight requests get up to limits.shutdown-grace
// before the rest are closed. It returns nil after a clean drain, the
// error of a listener that failed, or, when the grace period ran out, an
// error for which errors.Is(err, context.DeadlineExceeded) is true. A
// second call, while or after serving, returns an error.
func (g *Gateway) Serve(ctx context.Context) error {
	g.mu.Lock()
	listening := g.listeners != nil
	g.mu.Unlock()
	if !listening {
		if err := g.Listen(); err != nil {
			return err
		}
	}
	g.mu.Lock()
	if g.serveErr != nil {
		g.mu.Unlock()
		return errors.New("gateway: already serving")
	}
	errc := make(chan error, len(g.servers)+1)
	g.serveErr = errc
	for i, srv := range g.servers {
		// tls.NewListener, with the handshake done before Accept so
		// that HTTP/1.x connections get a framingConn.
		ln := newTLSListener(g.listeners[i], srv, g.h1s[i])
		go func() { errc <- srv.Serve(ln) }()
	}
	if g.admin != nil {
		go func() { errc <- g.admin.Serve(g.adminLn) }()
	}
	g.mu.Unlock()
	if g.worker != nil {
		go g.rotateTicketKeys()
	}
	g.ready.Store(true)

	var err error
	select {
	case <-ctx.Done():
		g.ready.Store(false)
		if d := g.state.Load().limits.ShutdownDelay; d > 0 {
			// Keep-alive connections end now: idle ones close, busy ones
			// after their response (Connection: close). Their clients
			// reconnect through the balancer, which sends them to this
			// replica only until it sees /readyz fail.
			g.mu.Lock()
			for i, srv := range g.servers {
				srv.SetKeepAlivesEnabled(false)
				g.h1s[i].SetKeepAlivesEnabled(false)
			}
			g.mu.Unlock()
			g.log.Info("stopping: readiness is false; the listeners close after limits.shutdown-delay", "shutdown_delay", d.String())
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-g.stopping:
				t.Stop()
			}
		}
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil // someone called Shutdown
		}
	}
	grace := g.state.Load().limits.ShutdownGrace
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if serr := g.Shutdown(sctx); err == nil {
		err = serr
	}
	return err
}

// Shutdown drains the gateway: /readyz turns 503 at once, listeners stop
// accepting, idle connections close, and in-flight requests may finish
// until ctx ends; then remaining connections are closed and an error
// wrapping ctx's (errors.Is) is returned. Open WebSockets are closed once
// the listeners are drained. The admin listener closes last.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.ready.Store(false)
	g.stoppingOnce.Do(func() { close(g.stopping) })
	g.mu.Lock()
	g.shutdown = true
	servers, h1s, admin := g.servers, g.h1s, g.admin
	g.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// HTTP/2 connections and the listener (srv), HTTP/1.x
			// connections (h1s[i]), both drained together.
			h1err := make(chan error, 1)
			go func() { h1err <- h1s[i].Shutdown(ctx) }()
			err := srv.Shutdown(ctx)
			if err2 := <-h1err; err == nil {
				err = err2
			}
			if err != nil {
				srv.Close()
				h1s[i].Close()
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	// WebSockets are hijacked connections, which no server closes: the
	// gateway keeps them (tunnel.go), and closing them ends its re-check
	// ticker too.
	for _, t := range g.tunnels.list(false) {
		t.Close()
	}
	if admin != nil {
		admin.Close()
	}
	g.mu.Lock()
	if g.serveErr == nil {
		// Listen was called but not Serve: the listeners are ours to close.
		for _, ln := range g.listeners {
			ln.Close()
		}
		if g.adminLn != nil {
			g.adminLn.Close()
		}
	}
	g.mu.Unlock()
	g.state.Load().closeIdle()
	g.logLimit.flush() // the counts of lines left out so far
	return errors.Join(errs...)
}

// Reload validates cfg and, when it is sound, makes it the configuration
// of every new request and TLS handshake; requests in flight finish with
// the old one. Certificates, CAs, CRLs and the token key ring are read
// again from their files. When cfg has any problem the old configuration
// keeps serving and the error (ConfigErrors) says why. Listener and admin
// addresses and the number of listeners cannot change without a restart
// (such a reload is refused); the server timeouts, max-header-bytes and
// the log settings change only at a restart (a warning is logged).
func (g *Gateway) Reload(cfg *Config) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	return g.report(g.reload(cfg), nil)
}

// ReloadFile reads the config file at path (as LoadConfig does) and
// reloads it (Reload, which validates it). A file that does not load
// counts as a failed reload, and the old configuration keeps serving.
func (g *Gateway) ReloadFile(path string) error { return g.reloadFile(path, nil) }

// reloadFile is ReloadFile with more attributes for its log line (what
// triggered it).
func (g *Gateway) reloadFile(path string, attrs []any) error {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	sum := watch.HashFile(path)
	cfg, err := readConfig(path) // reload validates: the files are read once
	if err == nil {
		err = g.reload(cfg)
	}
	if err == nil {
		g.loaded[watch.Abs(path)] = sum
	}
	return g.report(err, append(attrs, "config", path))
}

// report logs, counts and keeps (for /healthz and the last-reload
// gauges) the outcome of a reload. Called with reloadMu held.
func (g *Gateway) report(err error, attrs []any) error {
	outcome := "success"
	if err != nil {
		outcome = "failure"
		g.log.Error("reload refused, the previous configuration keeps serving", append(attrs, "error", err)...)
		g.refused.Store(&refusedReload{at: g.now(), loaded: g.loadedAt, attrs: attrs, err: err})
	} else {
		g.log.Info("reloaded", attrs...)
		g.loadedAt = g.now()
		g.refused.Store(nil)
	}
	g.metrics.reloads.WithLabelValues(outcome).Inc()
	g.metrics.observeReload(err == nil, g.loadedAt)
	return err
}

func (g *Gateway) reload(cfg *Config) error {
	if cfg == nil {
		return errNilConfig()
	}
	old := g.state.Load()
	if err := sameAddresses(old.cfg, cfg); err != nil {
		return err
	}
	sums := watch.HashFiles(cfg.Files()) // before compile reads them
	c, err := compile(cfg, g.hooks(), old)
	if err != nil {
		return err
	}
	g.loaded = sums
	g.state.Store(c)
	g.metrics.observeCertificates(c)
	g.logWarnings(cfg)
	for _, key := range restartOnly(old.cfg, cfg) {
		g.log.Warn("reload: this setting changed but applies only after a restart", "key", key)
	}
	// Idle upstream connections of the old transport are closed after the
	// swap; in-flight requests keep theirs until they finish.
	old.closeIdle()
	// Open WebSockets have no next request to be checked at.
	g.recheckTunnels(nil)
	return nil
}

// logWarnings logs what Config.Warnings finds in a config just loaded.
func (g *Gateway) logWarnings(cfg *Config) {
	for _, w := range cfg.Warnings() {
		g.log.Warn("config: this setting weakens a protection", "warning", w.Error())
	}
}

// sameAddresses refuses reloads that would need new sockets.
func sameAddresses(old, cfg *Config) error {
	p := &compiler{cfg: cfg}
	if len(cfg.Listeners) != len(old.Listeners) {
		p.add("listeners", "the number of listeners changed from %d to %d: restart to apply", len(old.Listeners), len(cfg.Listeners))
	} else {
		for i := range cfg.Listeners {
			if cfg.Listeners[i].Address != old.Listeners[i].Address {
				p.add(fmt.Sprintf("listeners[%d].address", i), "changed from %q to %q: restart to apply", old.Listeners[i].Address, cfg.Listeners[i].Address)
			}
			if (cfg.Listeners[i].ProxyProtocol == nil) != (old.Listeners[i].ProxyProtocol == nil) {
				p.add(fmt.Sprintf("listeners[%d].proxy-protocol", i), "turned on or off: restart to apply")
			}
		}
	}
	switch a, b := old.Authz, cfg.Authz; {
	case (a == nil) != (b == nil):
		p.add("authz", "added or removed: a config is for serve or for authz; restart to apply")
	case a == nil:
	case a.Address != b.Address:
		p.add("authz.address", "changed from %q to %q: restart to apply", a.Address, b.Address)
	case a.Proxy != b.Proxy:
		p.add("authz.proxy", "changed from %q to %q: restart to apply", a.Proxy, b.Proxy)
	case (a.TLS == nil) != (b.TLS == nil):
		p.add("authz.tls", "turned on or off: restart to apply")
	}
	if cfg.Admin != old.Admin {
		p.add("admin", "changed: restart to apply")
	}
	return p.err()
}

// restartOnly lists the settings that differ between old and cfg but are
// fixed when the listeners start (the http.Server limits, the log set-up
// of the binary).
func restartOnly(old, cfg *Config) []string {
	var keys []string
	o, n := old.Limits.withDefaults(), cfg.Limits.withDefaults()
	for _, f := range []struct {
		key     string
		changed bool
	}{
		{"limits.read-header-timeout", o.ReadHeaderTimeout != n.ReadHeaderTimeout},
		{"limits.read-timeout", o.ReadTimeout != n.ReadTimeout},
		{"limits.write-timeout", o.WriteTimeout != n.WriteTimeout},
		{"limits.idle-timeout", o.IdleTimeout != n.IdleTimeout},
		{"limits.stall-timeout", o.StallTimeout != n.StallTimeout},
		{"limits.max-header-bytes", o.MaxHeaderBytes != n.MaxHeaderBytes},
		{"limits.http2-max-concurrent-streams", o.HTTP2MaxConcurrentStreams != n.HTTP2MaxConcurrentStreams},
		{"limits.http2-read-idle-timeout", o.HTTP2ReadIdleTimeout != n.HTTP2ReadIdleTimeout},
		{"limits.http2-ping-timeout", o.HTTP2PingTimeout != n.HTTP2PingTimeout},
		{"log", old.Log != cfg.Log},
		{"workers", old.Workers.setting() != cfg.Workers.setting()},
	} {
		if f.changed {
			keys = append(keys, f.key)
		}
	}
	return keys
}
