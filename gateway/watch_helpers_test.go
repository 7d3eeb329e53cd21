package gateway_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/syncbuf"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// fileWorld is the gateway fixture (world) with a config file on disk,
// for tests that change files under a running gateway.
type fileWorld struct {
	*world
	t   *testing.T
	srv *pki.Cert // the server certificate written last
	// config is the config file start serves; "" means gw.yaml in dir.
	config string
}

// watchConfig names its files relatively, as operators do. UP is the
// upstream's URL.
const watchConfig = `listeners:
  - address: "127.0.0.1:0"
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem], client-auth: verify-if-given}
routes:
  - {name: api, path-prefix: /api, upstream: "UP", allow: {any-verified: true}}
admin: {address: "off"}
limits: {shutdown-grace: 5s}
`

func newFileWorld(t *testing.T) *fileWorld {
	t.Helper()
	w := &fileWorld{world: newWorld(t), t: t}
	w.srv = w.pki.Server
	w.writeConfig(watchConfig)
	return w
}

func (w *fileWorld) writeConfig(cfg string) {
	w.t.Helper()
	w.write("gw.yaml", []byte(strings.ReplaceAll(cfg, "UP", w.upstream.URL)))
}

// newServerCert mints a server certificate that is not yet on disk.
func (w *fileWorld) newServerCert() *pki.Cert {
	return pkitest.ServerWith(w.t, w.ca, serverOptions())
}

func keyPEM(t *testing.T, c *pki.Cert) []byte {
	t.Helper()
	k, err := pki.EncodeKeyPEM(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// watching is a gateway built from fileWorld's config file, serving, and
// watching it unless told not to.
type watching struct {
	*fileWorld
	g      *gateway.Gateway
	addr   string
	log    *logBuffer
	reload chan string // WatchOptions.Reload
}

// start serves the config file with a JSON logger and runs WatchFile
// with opts (Reload is set here) unless watch is false, until the test
// ends.
func (w *fileWorld) start(watch bool, opts gateway.WatchOptions) *watching {
	w.t.Helper()
	log := &logBuffer{}
	config := w.config
	if config == "" {
		config = w.path("gw.yaml")
	}
	g, err := gateway.NewFromFile(config, gateway.Options{Logger: slog.New(slog.NewJSONHandler(log, nil))})
	if err != nil {
		w.t.Fatalf("NewFromFile: %v", err)
	}
	if err := g.Listen(); err != nil {
		w.t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	w.t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() { defer wg.Done(); g.Serve(ctx) }()
	r := &watching{fileWorld: w, g: g, addr: g.Addrs()[0].String(), log: log, reload: make(chan string)}
	if watch {
		opts.Reload = r.reload
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.WatchFile(ctx, config, opts); err != context.Canceled {
				w.t.Errorf("WatchFile: got %v, want %v", err, context.Canceled)
			}
		}()
	}
	return r
}

// serial returns the serial of the server certificate a new TLS
// connection sees, or the handshake's error.
func (r *watching) serial() (string, error) {
	conn, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: r.ca.Pool(), ServerName: "localhost"})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

// get sends GET path on a new connection with client's certificate and
// returns the status, or the error.
func (r *watching) get(client *pki.Cert, path string) (int, error) {
	cfg := &tls.Config{RootCAs: r.ca.Pool(), ServerName: "localhost"}
	if client != nil {
		tc := client.TLSCertificate()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get("https://" + r.addr + path)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// waitSerial waits until a new connection sees the certificate c.
func (r *watching) waitSerial(c *pki.Cert) {
	r.t.Helper()
	want := c.Cert.SerialNumber.String()
	eventually(r.t, "new connections see serial "+want, func() (bool, string) {
		got, err := r.serial()
		if err != nil {
			return false, err.Error()
		}
		return got == want, "serial " + got
	})
}

// wantSerial fails unless a new connection sees the certificate c now.
func (r *watching) wantSerial(c *pki.Cert) {
	r.t.Helper()
	got, err := r.serial()
	if err != nil {
		r.t.Fatalf("handshake: %v", err)
	}
	if want := c.Cert.SerialNumber.String(); got != want {
		r.t.Fatalf("serial: got %v, want %v", got, want)
	}
}

// waitReloads waits until the log holds n reload lines and returns them.
func (r *watching) waitReloads(n int) []map[string]any {
	r.t.Helper()
	var lines []map[string]any
	eventually(r.t, fmt.Sprintf("%d reload log lines", n), func() (bool, string) {
		lines = r.log.reloads()
		return len(lines) >= n, fmt.Sprintf("%d: %v", len(lines), lines)
	})
	return lines
}

// eventually polls cond every 20ms for up to 10s and fails with what it
// saw last.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s; last saw %s", what, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuffer collects the gateway's JSON log lines: the logger writes
// while the test reads.
type logBuffer struct{ syncbuf.Buffer }

// lines returns every line, decoded; a line that is not JSON fails t.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	b := bytes.TrimSpace([]byte(l.String()))
	if len(b) == 0 {
		return nil // nothing logged yet
	}
	var out []map[string]any
	for _, line := range bytes.Split(b, []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// reloads returns the reload outcome lines, oldest first.
func (l *logBuffer) reloads() []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		if msg, _ := m["msg"].(string); msg == "reloaded" || strings.HasPrefix(msg, "reload refused") {
			out = append(out, m)
		}
	}
	return out
}
