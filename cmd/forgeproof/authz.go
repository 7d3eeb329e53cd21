package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/authz/envoy"
	"github.com/forgeproof/forgeproof/gateway"
)

const authzUsage = `Usage: forgeproof authz --config FILE [--watch=false] [--watch-interval DURATION]

Runs the decision service for a proxy that terminates TLS itself: nginx
(auth_request), Caddy (forward_auth) or Traefik (ForwardAuth) over HTTP,
or Envoy and Istio (ext_authz v3) over gRPC, asks it about every request
and forwards, or refuses, as it answers. It makes the decision
"forgeproof serve" would make (routes, client certificate identities,
CSRF), answers with the identity headers to set upstream or a refusal
with the same problem document and reason code as serve.

The config is a gateway config with an authz section (address, proxy,
trusted-callers, tls, client-certificates, header-tokens) and no
listeners; docs/integrations/ has one with the proxy's configuration per
proxy. Only trusted proxies may ask. "forgeproof check-config FILE"
checks it.

Reload and logs as for serve: the config and the files it names are
reloaded when they change and on SIGHUP; one log line per question on
stderr. SIGTERM or SIGINT stops after the questions in flight.

Exit status: 0 after a clean stop, 1 on a config or runtime error, 2 on
a usage error.

Example:

  forgeproof check-config authz.yaml && forgeproof authz --config authz.yaml`

// decisionService is what the authz transports have in common: the HTTP
// service of package authz and Envoy's gRPC service.
type decisionService interface {
	Listen() error
	Addr() net.Addr
	Serve(context.Context) error
}

func runAuthz(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("authz", authzUsage, stdout)
	configPath := fs.String("config", "", "the decision service's YAML config `file` (required)")
	watchOptions := watchFlags(fs, "authz")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	watchOpts, err := watchOptions()
	if err != nil {
		return err
	}
	if *configPath == "" {
		return usageErrorf("authz: --config FILE is required (docs/integrations/ has examples)")
	}
	g, err := gateway.NewFromFile(*configPath, gateway.Options{LogTo: stderr})
	if err != nil {
		return configFailure("authz", err, stderr)
	}
	if g.AuthzProxy() == 0 {
		return usageErrorf("authz: %s has no authz section: it configures the gateway; run \"forgeproof serve --config %s\", or add authz (docs/integrations/)", *configPath, *configPath)
	}
	logger := g.Logger()
	var s decisionService = authz.NewServer(g)
	if g.AuthzProxy() == gateway.ProxyEnvoy {
		s = envoy.NewServer(g) // gRPC ext_authz
	}
	if err := s.Listen(); err != nil {
		return fmt.Errorf("authz: %s: %s%s", *configPath, strings.TrimPrefix(err.Error(), "authz: "), listenHint(err))
	}
	if err := g.Listen(); err != nil { // the admin listener
		return fmt.Errorf("authz: %s: %s%s", *configPath, strings.TrimPrefix(err.Error(), "gateway: "), listenHint(err))
	}
	attrs := []any{"config", *configPath, "proxy", g.AuthzProxy(), "address", s.Addr().String(), "watch", !watchOpts.NoEvents}
	if a := g.AdminAddr(); a != nil {
		attrs = append(attrs, "admin", a.String())
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	logger.Info("deciding", attrs...)

	serveCtx, cancel := context.WithCancel(ctx)
	defer startReloads(serveCtx, cancel, g, *configPath, hup, watchOpts)()
	errc := make(chan error, 1)
	go func() { errc <- g.Serve(serveCtx) }() // admin: /healthz, /readyz, /metrics
	err = s.Serve(serveCtx)
	cancel()
	if gerr := <-errc; err == nil && !errors.Is(gerr, context.DeadlineExceeded) {
		err = gerr
	}
	if err != nil {
		return fmt.Errorf("authz: %w", err)
	}
	logger.Info("stopped, exiting")
	return nil
}
