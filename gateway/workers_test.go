package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestWorkersYAML reads workers as a number from 1 to 256 or auto, and
// refuses anything else at the key's line; unset is one process.
func TestWorkersYAML(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		yaml  string
		count int
	}{
		{"workers: 2", 2},
		{"workers: 256", 256},
		{"workers: \"3\"", 3},
		{"workers: auto", runtime.GOMAXPROCS(0)},
		{"", 1},
		{"workers:", 1},
	} {
		cfg, err := gateway.ParseConfig("c.yaml", []byte("log: {level: info}\n"+tc.yaml+"\n"))
		if err != nil {
			t.Errorf("%q: got %v, want no error", tc.yaml, err)
			continue
		}
		want := tc.count
		if tc.yaml == "workers: auto" && runtime.GOOS != "linux" {
			want = 1 // workers need Linux
		}
		if got := cfg.Workers.Count(); got != want {
			t.Errorf("%q: Count() = %d, want %d", tc.yaml, got, want)
		}
	}
	for _, v := range []string{"0", "-1", "257", "two", "2.5", `""`, "AUTO", "true", "0x10", "02", "+2"} {
		_, err := gateway.ParseConfig("c.yaml", []byte("log: {level: info}\nworkers: "+v+"\n"))
		var errs gateway.ConfigErrors
		if !errors.As(err, &errs) || len(errs) != 1 {
			t.Errorf("workers: %s: got %v, want one ConfigError", v, err)
			continue
		}
		if e := errs[0]; e.Key != "workers" || e.Line != 2 || !strings.Contains(e.Error(), "c.yaml:2: workers: ") || !strings.Contains(e.Msg, "want auto or a number from 1 to 256") {
			t.Errorf("workers: %s: got %q (key %q, line %d), want it at c.yaml:2 workers", v, e.Error(), e.Key, e.Line)
		}
	}
}

// TestWorkersAuthz: forgeproof authz runs one process, so its config may
// not ask for more (auto included), and may say 1.
func TestWorkersAuthz(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	base := "admin: {address: off}\nroutes: [{allow: {any-verified: true}}]\nauthz: {address: \"127.0.0.1:0\", proxy: nginx, trusted-callers: [127.0.0.1], client-certificates: {ca-files: [" + w.path("ca.pem") + "]}}\n"
	for _, tc := range []struct{ workers, want string }{
		{"", ""},
		{"workers: 1\n", ""},
		{"workers: 2\n", "a.yaml:4: workers: forgeproof authz runs one process"},
		{"workers: auto\n", "a.yaml:4: workers: forgeproof authz runs one process"},
	} {
		cfg, err := gateway.ParseConfig("a.yaml", []byte(base+tc.workers))
		if err == nil {
			err = cfg.Validate()
		}
		if tc.want == "" && err != nil {
			t.Errorf("%q: got %v, want no error", tc.workers, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: got %v, want %q", tc.workers, err, tc.want)
		}
	}
}

// TestWorkersMarshalText: MarshalText reads back as the same setting,
// and refuses what UnmarshalText would.
func TestWorkersMarshalText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		w    gateway.Workers
		text string
	}{
		{1, "1"}, {2, "2"}, {256, "256"}, {gateway.WorkersAuto, "auto"}, {0, "1"},
	} {
		b, err := tc.w.MarshalText()
		if err != nil || string(b) != tc.text {
			t.Errorf("%d: got %q, %v, want %q", tc.w, b, err, tc.text)
			continue
		}
		var back gateway.Workers
		if err := back.UnmarshalText(b); err != nil || back.Count() != tc.w.Count() || (tc.w != 0 && back != tc.w) {
			t.Errorf("%d: %q read back as %d (%v)", tc.w, b, back, err)
		}
	}
	for _, w := range []gateway.Workers{257, -2} {
		if b, err := w.MarshalText(); err == nil {
			t.Errorf("%d: got %q, want an error", w, b)
		}
	}
}

// secretOf is a ticket secret of n bytes b.
func secretOf(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// startWorker runs a gateway for cfg as worker id of a master that shares
// secret, on sockets of its own (127.0.0.1:0), one per listener.
func startWorker(t *testing.T, w *world, cfg *gateway.Config, id int, secret []byte, opts gateway.Options) *running {
	t.Helper()
	opts.Worker = &gateway.Worker{ID: id, TicketSecret: secret, Listeners: workerSockets(t, len(cfg.Listeners)), Bound: boundOf(cfg)}
	g, err := gateway.New(cfg, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return startHandler(t, w, g)
}

// workerSockets binds n listeners on loopback, closed when the test ends.
func workerSockets(t *testing.T, n int) []net.Listener {
	t.Helper()
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		lns = append(lns, ln)
	}
	return lns
}

// getIdentity fetches /api/x from gw with c and returns whether the
// connection resumed a session and the identity the upstream was given.
func getIdentity(t *testing.T, c *http.Client, gw *running) (resumed bool, identity string) {
	t.Helper()
	resumed, identity, _ = getIdentityVersion(t, c, gw)
	return resumed, identity
}

// getIdentityVersion is getIdentity with the connection's TLS version.
func getIdentityVersion(t *testing.T, c *http.Client, gw *running) (resumed bool, identity string, version uint16) {
	t.Helper()
	url := strings.Replace(gw.base, "127.0.0.1", "localhost", 1) + "/api/x"
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: got %d (%s), want 200", url, resp.StatusCode, b)
	}
	return resp.TLS.DidResume, strings.Join(mustJSON(t, string(b)).Header[gateway.HeaderClientIdentity], ","), resp.TLS.Version
}

// TestWorkerTicketResumption: a client that got its session ticket from
// one worker resumes on another of the same master (the same ticket
// secret) and is served as itself; with another secret (another master,
// or crypto/tls's own random keys) it makes a full handshake, and is
// served too. For TLS 1.3 and 1.2 tickets.
func TestWorkerTicketResumption(t *testing.T) {
	t.Parallel()
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			cfg := w.config()
			cfg.Listeners[0].TLS.MinVersion = gateway.TLSVersion(tls.VersionTLS12)
			a := startWorker(t, w, cfg, 0, secretOf(1, 32), gateway.Options{})
			b := startWorker(t, w, cfg, 1, secretOf(1, 32), gateway.Options{})
			other := startWorker(t, w, cfg, 1, secretOf(2, 32), gateway.Options{})
			client := func() *http.Client {
				c := resumingClient(t, w, w.web)
				c.Transport.(*http.Transport).TLSClientConfig.MaxVersion = version
				return c
			}
			for _, tc := range []struct {
				name   string
				to     *running
				resume bool
			}{
				{"same secret", b, true},
				{"another secret", other, false},
			} {
				c := client()
				if resumed, id := getIdentity(t, c, a); resumed || id != "spiffe://test.example/web" {
					t.Fatalf("%s: first connection: resumed=%v identity %q, want a full handshake as web", tc.name, resumed, id)
				}
				resumed, id, v := getIdentityVersion(t, c, tc.to)
				if resumed != tc.resume || id != "spiffe://test.example/web" || v != version {
					t.Errorf("%s: second worker: resumed=%v identity %q over %s, want resumed=%v as web over %s", tc.name, resumed, id, tls.VersionName(v), tc.resume, tls.VersionName(version))
				}
			}
		})
	}
}

// TestWorkerTicketRotation: when the period turns, a ticket sealed before
// still resumes, and new tickets are sealed with the new period's key
// (seen from a worker whose clock is a period behind: it opens tickets of
// its next period, not of the one after). Also when the period turns
// between Listen and Serve.
func TestWorkerTicketRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	secret := secretOf(3, 32)
	// Clocks ahead of the real one (the certificates are valid from five
	// minutes ago): turn is a period boundary more than a day away.
	const day = 24 * time.Hour
	turn := time.Now().Add(day + 10*time.Minute).Truncate(day).Add(day)
	behindClock := &clock{now: turn.Add(-day - time.Minute)}
	behind := startWorker(t, w, cfg, 9, secret, gateway.Options{Time: behindClock.Now})
	// sealsForBehind says whether a new ticket of gw resumes on behind.
	sealsForBehind := func(gw *running) bool {
		c := resumingClient(t, w, w.web)
		if resumed, _ := getIdentity(t, c, gw); resumed {
			t.Fatal("a new client resumed")
		}
		resumed, _ := getIdentity(t, c, behind)
		return resumed
	}

	t.Run("while serving", func(t *testing.T) {
		ck := &clock{now: turn.Add(-time.Minute)}
		gw := startWorker(t, w, cfg, 0, secret, gateway.Options{Time: ck.Now})
		if !sealsForBehind(gw) {
			t.Fatal("before the turn: a ticket of this period did not resume on a worker a period behind")
		}
		old := resumingClient(t, w, w.web)
		getIdentity(t, old, gw)
		ck.Advance(2 * time.Minute)
		eventually(t, "new tickets sealed with the new period's key", func() (bool, string) {
			return !sealsForBehind(gw), "tickets of the old period"
		})
		if resumed, id := getIdentity(t, old, gw); !resumed || id != "spiffe://test.example/web" {
			t.Errorf("a ticket of the previous period: resumed=%v identity %q, want resumed as web", resumed, id)
		}
		fresh := resumingClient(t, w, w.web)
		getIdentity(t, fresh, gw)
		if resumed, _ := getIdentity(t, fresh, gw); !resumed {
			t.Error("a ticket of the new period did not resume")
		}
	})

	t.Run("between Listen and Serve", func(t *testing.T) {
		ck := &clock{now: turn.Add(-time.Minute)}
		g, err := gateway.New(cfg, gateway.Options{Time: ck.Now, Worker: &gateway.Worker{ID: 0, TicketSecret: secret, Listeners: workerSockets(t, 1), Bound: boundOf(cfg)}})
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Listen(); err != nil {
			t.Fatal(err)
		}
		ck.Advance(2 * time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Serve(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		gw := &running{g: g, w: w, base: "https://" + g.Addrs()[0].String()}
		eventually(t, "new tickets sealed with the new period's key", func() (bool, string) {
			return !sealsForBehind(gw), "tickets of the period of Listen"
		})
	})
}

// TestWorkerListen: a worker serves on the sockets it is given, one per
// listener (PROXY protocol included), and its admin handler on
// Worker.Admin; it binds neither the listeners' addresses nor the
// config's admin address, which its master owns.
func TestWorkerListen(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := w.config()
	cfg.Admin.Address = taken.Addr().String()
	secret := secretOf(4, 32)

	t.Run("socket count", func(t *testing.T) {
		for _, n := range []int{0, 2} {
			g, err := gateway.New(cfg, gateway.Options{Worker: &gateway.Worker{TicketSecret: secret, Listeners: workerSockets(t, n), Bound: boundOf(cfg)}})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Listen(); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("the worker has %d listener sockets for 1 bound listeners", n)) {
				t.Errorf("%d sockets: got %v, want the count refused", n, err)
			}
		}
	})

	t.Run("listeners the master bound", func(t *testing.T) {
		// A config changed since the master bound the sockets (another
		// address first, PROXY protocol turned on) is refused: each
		// socket serves the listener it was bound for. The same config
		// is the twin.
		moved := boundOf(cfg)
		moved[0].Address = "127.0.0.1:1"
		proxied := boundOf(cfg)
		proxied[0].ProxyProtocol = true
		for _, tc := range []struct {
			name  string
			bound []gateway.BoundListener
			want  string
		}{
			{"same", boundOf(cfg), ""},
			{"address", moved, `listeners[0].address "` + cfg.Listeners[0].Address + `": the master bound "127.0.0.1:1"`},
			{"proxy protocol", proxied, "listeners[0].proxy-protocol: turned on or off"},
			{"count", append(boundOf(cfg), boundOf(cfg)...), "the config has 1 listeners, the master bound 2"},
		} {
			g, err := gateway.New(cfg, gateway.Options{Worker: &gateway.Worker{TicketSecret: secret, Listeners: workerSockets(t, len(tc.bound)), Bound: tc.bound}})
			if err != nil {
				t.Fatal(err)
			}
			err = g.Listen()
			if tc.want == "" {
				if err != nil {
					t.Errorf("%s: %v, want it served", tc.name, err)
				}
				g.Shutdown(context.Background())
				continue
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
			}
		}
	})

	t.Run("admin", func(t *testing.T) {
		admin := workerSockets(t, 1)[0]
		gw := startWorker(t, w, cfg, 0, secret, gateway.Options{})
		if gw.admin != "" {
			t.Errorf("without Worker.Admin: admin at %s, want none", gw.admin)
		}
		// The config's listener address is not bound either.
		cfg2 := w.config()
		cfg2.Listeners[0].Address = workerSockets(t, 1)[0].Addr().String() // bound, by the test
		cfg2.Admin.Address = taken.Addr().String()
		g, err := gateway.New(cfg2, gateway.Options{Worker: &gateway.Worker{ID: 1, TicketSecret: secret, Listeners: workerSockets(t, 1), Bound: boundOf(cfg2), Admin: admin}})
		if err != nil {
			t.Fatal(err)
		}
		gw = startHandler(t, w, g)
		if got, want := g.AdminAddr().String(), admin.Addr().String(); got != want {
			t.Fatalf("admin at %s, want Worker.Admin's %s", got, want)
		}
		eventually(t, "/readyz 200", func() (bool, string) {
			resp, err := http.Get(gw.admin + "/readyz")
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, resp.Status
		})
		if status, body := do(t, gw.client(w.web), "GET", gw.base+"/api/x", nil, ""); status != http.StatusOK {
			t.Fatalf("request: got %d (%s), want 200", status, body)
		}
		if m := metricsText(t, gw); !strings.Contains(m, "forgeproof_gateway_") {
			t.Errorf("/metrics on Worker.Admin: got %.200q, want the gateway's metrics", m)
		}
	})

	t.Run("PROXY protocol", func(t *testing.T) {
		cfg := w.config()
		cfg.Listeners[0].ProxyProtocol = &gateway.ProxyProtocol{Trusted: []string{"127.0.0.1"}}
		buf := &logBuffer{}
		gw := startWorker(t, w, cfg, 2, secret, gateway.Options{Logger: slog.New(slog.NewJSONHandler(buf, nil))})
		status, body := do(t, gw.proxyClient(v1("203.0.113.7:40001")), "GET", gw.base+"/api/pp", nil, "")
		if status != http.StatusOK {
			t.Fatalf("got %d (%s), want 200", status, body)
		}
		if got := mustJSON(t, body).Header["X-Forwarded-For"]; len(got) != 1 || got[0] != "203.0.113.7" {
			t.Errorf("upstream X-Forwarded-For: got %q, want the PROXY header's 203.0.113.7", got)
		}
		// The twin: no header is refused (the socket is wrapped).
		if _, err := gw.proxyClient(raw("")).Get(gw.base + "/api/none"); err == nil {
			t.Error("a connection without a PROXY header was served")
		}
	})
}

// TestWorkerTicketSecret: a worker's ticket secret has at least 32
// bytes; less would make guessable keys.
func TestWorkerTicketSecret(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, tc := range []struct {
		secret []byte
		ok     bool
	}{
		{nil, false}, {secretOf(1, 31), false}, {secretOf(1, 32), true}, {secretOf(1, 64), true},
	} {
		_, err := gateway.New(w.config(), gateway.Options{Worker: &gateway.Worker{TicketSecret: tc.secret, Listeners: workerSockets(t, 1), Bound: boundOf(w.config())}})
		if tc.ok != (err == nil) {
			t.Errorf("%d bytes: got %v, want ok=%v", len(tc.secret), err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("ticket secret has %d bytes, want at least 32", len(tc.secret))) {
			t.Errorf("%d bytes: got %v", len(tc.secret), err)
		}
	}
}

// TestWorkerLogs: every line of a worker, its access log and its reload
// lines included, says which worker wrote it; a gateway that is no
// worker's has no such attribute.
func TestWorkerLogs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, id := range []int{-1, 0, 3} {
		buf := &logBuffer{}
		opts := gateway.Options{Logger: slog.New(slog.NewJSONHandler(buf, nil))}
		var gw *running
		if id < 0 {
			gw = w.startWith(w.config(), opts)
		} else {
			gw = startWorker(t, w, w.config(), id, secretOf(5, 32), opts)
		}
		do(t, gw.client(w.web), "GET", gw.base+"/api/logs", nil, "")
		if err := gw.g.Reload(w.config()); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the access log line", func() (bool, string) {
			return strings.Contains(buf.String(), `"path":"/api/logs"`), buf.String()
		})
		lines := buf.lines(t)
		msgs := map[string]bool{}
		for _, l := range lines {
			msgs[l["msg"].(string)] = true
			got, has := l["worker"]
			switch {
			case id < 0 && has:
				t.Errorf("no worker: line %v has worker", l)
			case id >= 0 && got != float64(id):
				t.Errorf("worker %d: line %v has worker %v", id, l, got)
			}
		}
		if !msgs["request"] || !msgs["reloaded"] {
			t.Errorf("worker %d: got the lines %v, want request and reloaded among them", id, msgs)
		}
	}
}

// TestWorkersReloadWarning: a reload that changes workers says that it
// applies only after a restart; one that keeps it does not.
func TestWorkersReloadWarning(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, tc := range []struct {
		from, to gateway.Workers
		warn     bool
	}{
		{1, 2, true},
		{1, 1, false},
		{0, 1, false},
		{2, gateway.WorkersAuto, true},
	} {
		buf := &logBuffer{}
		cfg := w.config()
		cfg.Workers = tc.from
		g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(buf, nil))})
		if err != nil {
			t.Fatal(err)
		}
		next := w.config()
		next.Workers = tc.to
		if err := g.Reload(next); err != nil {
			t.Fatal(err)
		}
		var keys []any
		for _, l := range buf.lines(t) {
			if l["msg"] == "reload: this setting changed but applies only after a restart" {
				keys = append(keys, l["key"])
			}
		}
		if want := tc.warn; want != (len(keys) == 1 && keys[0] == "workers") || (!want && len(keys) != 0) {
			t.Errorf("%d to %d: restart-only warnings for %v, want workers: %v", tc.from, tc.to, keys, want)
		}
	}
}

// boundOf is what a master passes for cfg's listeners.
func boundOf(cfg *gateway.Config) []gateway.BoundListener {
	var out []gateway.BoundListener
	for _, l := range cfg.Listeners {
		out = append(out, gateway.BoundListener{Address: l.Address, ProxyProtocol: l.ProxyProtocol != nil})
	}
	return out
}

// TestWorkerTicketPerListener: a ticket one listener sealed resumes on
// the same listener of another worker of the master, but not on another
// listener (each has keys of its own, as in one process, so that a
// session made under one listener's TLS policy is not resumed under
// another's).
func TestWorkerTicketPerListener(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.Listeners = append(cfg.Listeners, cfg.Listeners[0])
	secret := secretOf(5, 32)
	a := startWorker(t, w, cfg, 0, secret, gateway.Options{})
	b := startWorker(t, w, cfg, 1, secret, gateway.Options{})
	b1 := &running{g: b.g, w: w, base: "https://" + b.g.Addrs()[1].String()}
	a1 := &running{g: a.g, w: w, base: "https://" + a.g.Addrs()[1].String()}

	c := resumingClient(t, w, w.web)
	getIdentity(t, c, a1)
	if resumed, _ := getIdentity(t, c, b1); !resumed {
		t.Fatal("a ticket of listener 1 did not resume on listener 1 of another worker")
	}
	c = resumingClient(t, w, w.web)
	getIdentity(t, c, a)
	if resumed, id := getIdentity(t, c, b1); resumed || id != "spiffe://test.example/web" {
		t.Errorf("a ticket of listener 0 on listener 1: resumed=%v identity %q, want a full handshake as web", resumed, id)
	}
}
