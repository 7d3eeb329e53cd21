package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// adminHandler serves the admin listener: /healthz (the process is up,
// and what the last reload refused), /readyz (serving and not draining)
// and /metrics (Prometheus).
func (g *Gateway) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		// A refused reload leaves the previous configuration serving:
		// the process is alive and a restart would not load the refused
		// files either (it would fail to start), so the status stays 200
		// and the body says what was refused.
		w.Write([]byte("ok\n" + g.refused.Load().String()))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !g.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", g.metrics.handler())
	return mux
}

// refusedReload is a reload that was refused: when, the attributes of
// its log line (config, trigger, changed) and the error.
type refusedReload struct {
	at, loaded time.Time // the refusal; the load of the configuration in use
	attrs      []any     // key, value pairs
	err        error
}

// String is the refusal as /healthz shows it after "ok"; "" for nil.
func (f *refusedReload) String() string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "last reload refused at %s; the configuration loaded at %s keeps serving\n",
		f.at.UTC().Format(time.RFC3339), f.loaded.UTC().Format(time.RFC3339))
	for i := 0; i+1 < len(f.attrs); i += 2 {
		v := f.attrs[i+1]
		if files, ok := v.([]string); ok {
			v = strings.Join(files, " ")
		}
		fmt.Fprintf(&b, "%v: %v\n", f.attrs[i], v)
	}
	// ConfigErrors has one problem a line: indent the ones after the first.
	fmt.Fprintf(&b, "error: %s\n", strings.ReplaceAll(f.err.Error(), "\n", "\n  "))
	return b.String()
}
