package gateway_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// A Config built in Go may be nil or zero: New and Validate return
// ConfigErrors saying what is missing, never panic. The nil *Config is
// refused by name; its twin, the zero Config, lists the required keys.
func TestNewNilAndZeroConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  *gateway.Config
		want string
	}{
		{"nil", nil, "no configuration (a nil *Config): build a Config, or read one with LoadConfig"},
		{"zero", &gateway.Config{}, "listeners: at least one listener is required\nroutes: at least one route is required"},
		{"zero listener and route", &gateway.Config{Listeners: []gateway.Listener{{}}, Routes: []gateway.Route{{}}},
			"listeners[0].address: is required"},
		{"forwarder naming nobody", &gateway.Config{TrustedForwarders: []gateway.Forwarder{{}}},
			"trusted-forwarders[0]: names no forwarder: set addresses, spiffe-ids or both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, opts := range []gateway.Options{{}, {LogTo: &bytes.Buffer{}}} {
				g, err := gateway.New(tt.cfg, opts)
				var ces gateway.ConfigErrors
				if g != nil || !errors.As(err, &ces) || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
					t.Errorf("New: got %v, %v; want ConfigErrors containing %q", g, err, tt.want)
				}
			}
			if err := tt.cfg.Validate(); err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
				t.Errorf("Validate: got %v, want %q", err, tt.want)
			}
			_ = tt.cfg.Warnings()
			_ = tt.cfg.Files()
		})
	}
}

// Reload(nil) is refused as New(nil) is, and the configuration in force
// keeps serving; its twin, a reload to a Config, is taken.
func TestReloadNilConfig(t *testing.T) {
	w := newWorld(t)
	r := w.start(w.config())
	err := r.g.Reload(nil)
	var ces gateway.ConfigErrors
	if !errors.As(err, &ces) || !strings.Contains(err.Error(), "a nil *Config") {
		t.Fatalf("Reload(nil): got %v, want ConfigErrors naming the nil *Config", err)
	}
	if code, _ := do(t, r.client(w.web), "GET", r.base+"/api/x", nil, ""); code != 200 {
		t.Fatalf("after Reload(nil): got %d, want 200 from the configuration in force", code)
	}
	if err := r.g.Reload(w.config()); err != nil {
		t.Fatalf("Reload(Config): %v", err)
	}
}
