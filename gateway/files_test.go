package gateway_test

import (
	"slices"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

func TestConfigFiles(t *testing.T) {
	t.Parallel()
	cfg := &gateway.Config{
		Listeners: []gateway.Listener{
			{TLS: gateway.ListenerTLS{CertFile: "a.pem", KeyFile: "a.key", ClientCAFiles: []string{"ca.pem"}, CRLFiles: []string{"crl.pem"}}},
			{TLS: gateway.ListenerTLS{CertFile: "a.pem", KeyFile: "a.key", ClientCAFiles: []string{"ca.pem", "ca2.pem"}}},
			{TLS: gateway.ListenerTLS{Certificates: []gateway.ServerCertificate{{CertFile: "b.pem", KeyFile: "b.key"}, {CertFile: "a.pem", KeyFile: "a.key"}, {CertFile: "c.pem", KeyFile: "c.key"}}, ClientCAFiles: []string{"ca.pem"}}},
		},
		Tokens: gateway.Tokens{KeyFile: "csrf.keys"},
		Routes: []gateway.Route{
			{Upstream: "https://u"},
			{Upstream: "https://v", UpstreamCAFile: "up-ca.pem"},
			{Upstream: "https://w", UpstreamCAFile: "up-ca.pem", UpstreamCertFile: "gw.pem", UpstreamKeyFile: "gw-key.pem", UpstreamServerName: "svc.internal"},
		},
	}
	got := cfg.Files()
	want := []string{"a.pem", "a.key", "ca.pem", "crl.pem", "ca2.pem", "b.pem", "b.key", "c.pem", "c.key", "csrf.keys", "up-ca.pem", "gw.pem", "gw-key.pem"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := (&gateway.Config{}).Files(); len(got) != 0 {
		t.Errorf("empty config: got %q, want none", got)
	}
}
