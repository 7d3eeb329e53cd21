package gateway_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestWarningsLogged: the gateway logs a weakening setting when it
// loads a config, at start and on a reload, and nothing for its twin.
func TestWarningsLogged(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	warnings := func(buf *logBuffer) (out []string) {
		for _, l := range buf.lines(t) {
			if l["msg"] == "config: this setting weakens a protection" {
				out = append(out, l["warning"].(string))
			}
		}
		return out
	}

	cfg := w.config()
	cfg.Routes = cfg.Routes[:1] // api only: no insecure-off route
	buf := &logBuffer{}
	g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if got := warnings(buf); len(got) != 0 {
		t.Fatalf("sound config: warnings %q", got)
	}

	weak := w.config()
	weak.Routes = weak.Routes[:1]
	weak.Routes[0].CSRF.TrustedOrigins = []string{"http://intranet.example"}
	if err := g.Reload(weak); err != nil {
		t.Fatal(err)
	}
	got := warnings(buf)
	if len(got) != 1 || !strings.Contains(got[0], `routes[0].csrf.trusted-origins[0]: "http://intranet.example" is served over plain http`) {
		t.Fatalf("after reload: warnings %q", got)
	}

	buf2 := &logBuffer{}
	if _, err := gateway.New(weak, gateway.Options{Logger: slog.New(slog.NewJSONHandler(buf2, nil))}); err != nil {
		t.Fatal(err)
	}
	if got := warnings(buf2); len(got) != 1 {
		t.Fatalf("at start: warnings %q", got)
	}
}
