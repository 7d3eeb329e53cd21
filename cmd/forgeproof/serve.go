package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/forgeproof/forgeproof/gateway"
)

const serveUsage = `Usage: forgeproof serve --config FILE

Runs the gateway in front of a service: terminates mutual TLS, authorizes
client certificate identities per route, refuses forged browser requests
and forwards the verified identity to the upstream. Every config key is
documented in the README and in examples/forgeproof.yaml.

Logs (JSON or text, one line per request) go to stderr. SIGHUP reloads the
config file with its certificates, CAs, CRLs and token keys; a config with
errors is refused and the running one keeps serving. SIGTERM or SIGINT
drains: no new connections, in-flight requests get limits.shutdown-grace
to finish.

Exit status: 0 after a clean drain, 1 on a config or runtime error (or
when the drain timed out), 2 on a usage error.

Example:

  forgeproof check-config gateway.yaml && forgeproof serve --config gateway.yaml`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveUsage, stdout)
	configPath := fs.String("config", "", "the gateway's YAML config `file` (required)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *configPath == "" {
		return usageErrorf("serve: --config is required")
	}
	cfg, err := gateway.LoadConfig(*configPath)
	if err != nil {
		return configFailure(err, stderr)
	}
	logger := slog.New(gateway.NewLogHandler(stderr, cfg.Log))
	g, err := gateway.New(cfg, gateway.Options{Logger: logger})
	if err != nil {
		return configFailure(err, stderr)
	}
	if err := g.Listen(); err != nil {
		return err
	}
	attrs := []any{"config", *configPath}
	for i, a := range g.Addrs() {
		attrs = append(attrs, fmt.Sprintf("listener%d", i), a.String())
	}
	if a := g.AdminAddr(); a != nil {
		attrs = append(attrs, "admin", a.String())
	}
	logger.Info("serving", attrs...)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	serveCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			select {
			case <-hup:
				logger.Info("SIGHUP: reloading", "config", *configPath)
				g.ReloadFile(*configPath) // logs and counts its outcome
			case <-serveCtx.Done():
				return
			}
		}
	}()

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

// configFailure prints every problem of a config on its own line and
// returns an exit status 1 with a summary.
func configFailure(err error, stderr io.Writer) error {
	var errs gateway.ConfigErrors
	if !errors.As(err, &errs) {
		return err
	}
	for _, e := range errs {
		fmt.Fprintf(stderr, "forgeproof: error: %s\n", e)
	}
	noun := "problems"
	if len(errs) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(stderr, "forgeproof: %d config %s; nothing is served\n", len(errs), noun)
	return &exitError{code: 1}
}
