package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/workers"
)

const serveUsage = `Usage: forgeproof serve [--config FILE] [--watch=false] [--watch-interval DURATION]

Runs the gateway in front of a service: terminates mutual TLS, authorizes
client certificate identities per route, refuses forged browser requests
and forwards the verified identity to the upstream. Without --config it
reads ./forgeproof.yaml, which "forgeproof init --upstream URL" writes.
Every config key is described in docs/gateway.md and, with its default,
in the example config examples/forgeproof.yaml of the source tree; run
"forgeproof check-config FILE" to check a config.

Logs (JSON or text, one line per request) go to stderr.

Reload: the config file with its certificates, keys, CAs, CRLs and token
keys is reloaded when any of these files changes (file events, and a poll
every --watch-interval that compares contents, for filesystems whose
events go missing) and on SIGHUP, with or without --watch. A config with
errors, or a certificate whose key has not been written yet, is refused
and the running one keeps serving; each attempt is logged with its
trigger. SIGTERM or SIGINT drains: /readyz answers 503 at once, the
listeners serve limits.shutdown-delay more (so load balancers stop
sending first), then accept no new connections; in-flight requests get
limits.shutdown-grace to finish.

With "workers: N" (or auto) in the config, this process is the master of
N worker processes that share the listeners' ports: send it the signals;
it passes them on (docs/gateway.md, "Worker processes").

Exit status: 0 after a clean drain, 1 on a config or runtime error (or
when the drain timed out), 2 on a usage error.

Examples:

  forgeproof init --upstream http://127.0.0.1:8080 && forgeproof serve
  forgeproof check-config gateway.yaml && forgeproof serve --config gateway.yaml`

// serveGCPercent is the garbage collector's setting (GOGC) of "forgeproof
// serve" when its environment sets none. A gateway's live heap is small
// (a few MiB: configuration, caches, connections), so at Go's default of
// 100 it collects often for the garbage each request leaves; 200 halves
// how often, for a few MiB more peak memory. Measured in
// docs/performance.md, which names this value (TestServeGCDocumented);
// GOGC and GOMEMLIMIT in the environment still decide when set.
const serveGCPercent = 200

// defaultGC sets serveGCPercent unless the environment sets GOGC.
func defaultGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveUsage, stdout)
	configPath := fs.String("config", "", "the gateway's YAML config `file` (default: ./forgeproof.yaml)")
	watchOptions := watchFlags(fs, "serve")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	watchOpts, err := watchOptions()
	if err != nil {
		return err
	}
	if *configPath == "" && flagSet(fs, "config") {
		// --config= is a mistake, not a request for the default file.
		return usageErrorf("serve: --config needs a value")
	}
	if *configPath == "" {
		if _, err := os.Stat(defaultConfigFile); err != nil {
			return usageErrorf("serve: no --config given and no ./%s here: run \"forgeproof init --upstream URL\" to write one, or pass --config FILE", defaultConfigFile)
		}
		*configPath = defaultConfigFile
	}
	opts := gateway.Options{LogTo: stderr}
	id, isWorker, err := workers.ID(os.Getenv)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// SIGHUP is caught from here on (a worker's from the start of main:
	// its master passes one on at any moment): its default action ends
	// the process. One during the start reloads once serving.
	hup := make(chan os.Signal, 1)
	cmd := "serve"
	if isWorker {
		hup = workerHUP
		cmd = fmt.Sprintf("serve: worker %d", id)
	}
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if isWorker {
		if opts.Worker, err = workers.Inherited(id); err != nil {
			return fmt.Errorf("%s: %w", cmd, err)
		}
	}
	g, err := gateway.NewFromFile(*configPath, opts)
	if err != nil {
		return configFailure(cmd, err, stderr)
	}
	if cfg := g.Config(); !isWorker && cfg.Workers.Count() > 1 {
		// The gateway checked the config and its files; the workers
		// serve it.
		return runMaster(ctx, *configPath, cfg, args, hup, stderr)
	}
	defaultGC(os.Getenv)
	if g.AuthzProxy() != 0 {
		return usageErrorf("serve: %s has an authz section: it configures the decision service; run \"forgeproof authz --config %s\"", *configPath, *configPath)
	}
	logger := g.Logger()
	if err := g.Listen(); err != nil {
		// "gateway: admin.address …: bind: address already in use":
		// the message names the config key at fault.
		return fmt.Errorf("%s: %s: %s%s", cmd, *configPath, strings.TrimPrefix(err.Error(), "gateway: "), listenHint(err))
	}
	attrs := []any{"config", *configPath, "watch", !watchOpts.NoEvents, "watch_interval", watchOpts.Interval.String()}
	for i, a := range g.Addrs() {
		attrs = append(attrs, fmt.Sprintf("listener%d", i), a.String())
	}
	if a := g.AdminAddr(); a != nil {
		attrs = append(attrs, "admin", a.String())
	}
	logger.Info("serving", attrs...)

	serveCtx, cancel := context.WithCancel(ctx)
	defer startReloads(serveCtx, cancel, g, *configPath, hup, watchOpts)()

	err = g.Serve(serveCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("serve: the shutdown grace period ran out with requests still in flight")
	}
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("drained, exiting")
	return nil
}

// listenHint says how to bind a port under 1024 without root, when
// that is why listening failed ("bind: permission denied" alone does
// not say).
func listenHint(err error) string {
	if !errors.Is(err, syscall.EACCES) {
		return ""
	}
	return " (ports under 1024 need root or CAP_NET_BIND_SERVICE: " +
		"sudo setcap cap_net_bind_service=+ep $(command -v forgeproof), " +
		"AmbientCapabilities=CAP_NET_BIND_SERVICE in a systemd unit, or a port of 1024 or more)"
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// watchFlags defines --watch and --watch-interval (serve and authz) on
// fs; the function it returns, called after parsing, checks them and
// gives the reload options for startReloads.
func watchFlags(fs *flag.FlagSet, cmd string) func() (gateway.WatchOptions, error) {
	watch := fs.Bool("watch", true, "reload when the config file or a file it names changes (false: on SIGHUP only)")
	interval := fs.Duration("watch-interval", gateway.DefaultWatchInterval, "with --watch, also compare the files' contents this often (0: never; else at least 1s)")
	return func() (gateway.WatchOptions, error) {
		if *interval < 0 || (*interval > 0 && *interval < time.Second) {
			// A poll reads and hashes every file: far below a second it
			// would keep a core busy for nothing.
			return gateway.WatchOptions{}, usageErrorf("%s: --watch-interval %v: want 0 (no polling) or at least 1s", cmd, *interval)
		}
		if !*watch {
			return gateway.WatchOptions{NoEvents: true}, nil
		}
		return gateway.WatchOptions{Interval: *interval}, nil
	}
}

// startReloads reloads g from path on every SIGHUP (hup) and, per opts,
// when the files change, through WatchFile's one loop, which logs and
// counts each outcome; until ctx ends. The function it returns cancels
// ctx (with cancel) and waits for the loop to end.
func startReloads(ctx context.Context, cancel context.CancelFunc, g *gateway.Gateway, path string, hup <-chan os.Signal, opts gateway.WatchOptions) func() {
	var wg sync.WaitGroup
	reloads := make(chan string)
	opts.Reload = reloads
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-hup:
				select {
				case reloads <- "SIGHUP":
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		g.WatchFile(ctx, path, opts) // returns when ctx ends
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// configFailure prints every problem of a config on its own line, as
// "forgeproof CMD: error: FILE:LINE: KEY: …", and returns an exit status
// 1 with a summary.
func configFailure(cmd string, err error, stderr io.Writer) error {
	var errs gateway.ConfigErrors
	if !errors.As(err, &errs) {
		return err
	}
	for _, e := range errs {
		fmt.Fprintf(stderr, "forgeproof %s: error: %s\n", cmd, e)
	}
	noun := "problems"
	if len(errs) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(stderr, "forgeproof %s: %d config %s; nothing is served\n", cmd, len(errs), noun)
	return &exitError{code: 1}
}

// runMaster runs the config's worker processes (workers.Master): each is
// this binary's "forgeproof serve" again, told by the environment that it
// is a worker. The workers log their own lines; the master logs its own
// and serves the admin listener.
func runMaster(ctx context.Context, path string, cfg *gateway.Config, args []string, hup <-chan os.Signal, stderr io.Writer) error {
	logger := slog.New(gateway.NewLogHandler(stderr, cfg.Log))
	m := &workers.Master{
		Workers: cfg.Workers.Count(),
		Command: func(int) *exec.Cmd {
			// /proc/self/exe: the binary this master runs, even after
			// an upgrade replaced the file (workers started again must
			// speak its protocol). Named forgeproof whatever this one's
			// name: the tests' binary runs main by that name.
			cmd := exec.Command("/proc/self/exe", append([]string{"serve"}, args...)...)
			cmd.Args[0] = "forgeproof"
			cmd.Stderr = stderr
			return cmd
		},
		Log: logger,
	}
	for _, l := range cfg.Listeners {
		m.Listeners = append(m.Listeners, gateway.BoundListener{Address: l.Address, ProxyProtocol: l.ProxyProtocol != nil})
	}
	switch a := cfg.Admin.Address; a {
	case "off":
	case "":
		m.Admin = gateway.DefaultAdminAddress
	default:
		m.Admin = a
	}
	grace := cfg.Limits.ShutdownGrace
	if grace == 0 {
		grace = gateway.DefaultShutdownGrace
	}
	// Each worker drains on its own within these; the margin is for its
	// exit.
	m.StopTimeout = cfg.Limits.ShutdownDelay + grace + 10*time.Second
	if err := m.Listen(); err != nil {
		return fmt.Errorf("serve: %s: %s%s", path, err, listenHint(err))
	}
	attrs := []any{"config", path, "workers", m.Workers}
	for i, a := range m.Addrs() {
		attrs = append(attrs, fmt.Sprintf("listener%d", i), a)
	}
	if a := m.AdminAddr(); a != nil {
		attrs = append(attrs, "admin", a.String())
	}
	logger.Info("serving", attrs...)
	if err := m.Run(ctx, hup); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("drained, exiting")
	return nil
}
