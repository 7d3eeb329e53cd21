package envoy_test

import (
	"context"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/authz/envoy"
	"github.com/forgeproof/forgeproof/gateway"
)

// TestListenRefusesOtherProxies: the Envoy service refuses, with the key
// and the package that serves it, a config whose authz.proxy is nginx,
// caddy or traefik: their decisions refuse headers those proxies cannot
// remove (header-unremovable) where Envoy would remove them, and a
// config written for one proxy answering another is a mistake to report
// at start, as package authz reports proxy: envoy. It binds nothing then.
// The allowed twin: the same config with proxy: envoy listens.
func TestListenRefusesOtherProxies(t *testing.T) {
	for _, proxy := range []gateway.Proxy{gateway.ProxyNginx, gateway.ProxyCaddy, gateway.ProxyTraefik, gateway.ProxyEnvoy} {
		t.Run(proxy.String(), func(t *testing.T) {
			w := newGateway(t, func(cfg *gateway.Config) { cfg.Authz.Proxy = proxy })
			s := envoy.NewServer(w.g)
			err := s.Listen()
			if proxy == gateway.ProxyEnvoy {
				if err != nil {
					t.Fatalf("proxy envoy: got %v, want it to listen", err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				if err := s.Serve(ctx); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := "authz: authz.proxy " + proxy.String() + " is not envoy: package authz serves it over HTTP"
			if err == nil || err.Error() != want {
				t.Fatalf("got %v, want %q", err, want)
			}
			if a := s.Addr(); a != nil {
				t.Errorf("refused, but bound %s", a)
			}
			if err := s.Serve(context.Background()); err == nil || !strings.Contains(err.Error(), "is not envoy") {
				t.Errorf("Serve: got %v, want the same refusal", err)
			}
		})
	}
}
