package gateway_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

func TestReloadUnderLoadLosesNoRequest(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		c := gw.client(w.web)
		if i%2 == 1 {
			// Half the clients open a new connection (a new handshake)
			// for every request, so handshakes race the reloads too.
			c.Transport.(*http.Transport).DisableKeepAlives = true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(gw.base + "/api/x")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						ok.Add(1)
						continue
					}
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}

	// Each reload installs a new server certificate and a config with one
	// more route.
	var lastSerial string
	for i := 0; i < 20; i++ {
		srv := pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"localhost"}})
		if err := srv.Save(w.dir, fmt.Sprintf("server%d.pem", i), fmt.Sprintf("server%d-key.pem", i)); err != nil {
			t.Fatal(err)
		}
		cfg := w.config()
		cfg.Listeners[0].TLS.CertFile = w.path(fmt.Sprintf("server%d.pem", i))
		cfg.Listeners[0].TLS.KeyFile = w.path(fmt.Sprintf("server%d-key.pem", i))
		cfg.Routes = append(cfg.Routes, gateway.Route{Name: fmt.Sprintf("extra%d", i), PathPrefix: fmt.Sprintf("/extra%d", i), Upstream: w.upstream.URL, Allow: gateway.Allow{AnyVerified: true}})
		if err := gw.g.Reload(cfg); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		lastSerial = srv.Cert.SerialNumber.String()
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	if failed.Load() != 0 {
		t.Fatalf("got %d failed requests (first: %v), want 0; %d succeeded", failed.Load(), firstErr.Load(), ok.Load())
	}
	if ok.Load() == 0 {
		t.Fatal("no request succeeded")
	}
	// New connections see the last certificate and the last route.
	c := gw.client(w.web)
	resp, err := c.Get(gw.base + "/extra19/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("route added by the last reload: got status %d, want 200", resp.StatusCode)
	}
	if got := resp.TLS.PeerCertificates[0].SerialNumber.String(); got != lastSerial {
		t.Errorf("server certificate after reload: got serial %s, want %s", got, lastSerial)
	}
}

func TestBadReloadKeepsOldConfig(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfgPath := w.write("gw.yaml", []byte("listeners: [}\n"))
	gw := w.start(w.config())
	c := gw.client(w.web)

	moved := w.config()
	moved.Listeners[0].Address = "127.0.0.1:1"
	noCert := w.config()
	noCert.Listeners[0].TLS.CertFile = w.path("missing.pem")
	noRoutes := w.config()
	noRoutes.Routes = nil

	tests := []struct {
		name    string
		reload  func() error
		wantErr string
	}{
		{"missing certificate file", func() error { return gw.g.Reload(noCert) }, "listeners[0].tls.cert-file"},
		{"no routes", func() error { return gw.g.Reload(noRoutes) }, "routes: at least one route is required"},
		{"listener address changed", func() error { return gw.g.Reload(moved) }, "restart to apply"},
		{"malformed YAML file", func() error { return gw.g.ReloadFile(cfgPath) }, "gw.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.reload()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if status, body := do(t, c, "GET", gw.base+"/api/x", nil, ""); status != 200 {
				t.Fatalf("old config stopped serving: got status %d (%s)", status, body)
			}
		})
	}
	// Allowed twin: a sound reload is accepted.
	if err := gw.g.Reload(w.config()); err != nil {
		t.Fatalf("sound reload: %v", err)
	}
	_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
	for _, want := range []string{
		`forgeproof_gateway_reloads_total{outcome="failure"} 4`,
		`forgeproof_gateway_reloads_total{outcome="success"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestGracefulDrain(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	c := gw.client(w.web)
	// A warm-up request proves the path works and leaves an idle
	// keep-alive connection, which the drain must close.
	if status, _ := do(t, c, "GET", gw.base+"/api/warm", nil, ""); status != 200 {
		t.Fatalf("warm-up: got status %d", status)
	}

	result := make(chan int, 1)
	go func() {
		resp, err := gw.client(w.web).Get(gw.base + "/api/slow?sleep=1500ms")
		if err != nil {
			result <- -1
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	<-w.upstream.sleeping // the slow request is in flight

	gw.stop() // what SIGTERM does in the binary
	// While draining, /readyz says so.
	deadline := time.Now().Add(2 * time.Second)
	for {
		resp, err := http.Get(gw.admin + "/readyz")
		if err != nil {
			t.Fatalf("/readyz while draining: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		status := resp.StatusCode
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: got %d while draining, want 503", status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := <-result; got != 200 {
		t.Fatalf("in-flight request: got %d, want 200", got)
	}
	if err := <-gw.done; err != nil {
		t.Fatalf("Serve: got %v, want nil after a clean drain", err)
	}
	gw.done <- nil // for the cleanup
	// New connections are refused once drained.
	cfg := &tls.Config{RootCAs: w.ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{w.web.TLSCertificate()}}
	if conn, err := tls.Dial("tcp", strings.TrimPrefix(gw.base, "https://"), cfg); err == nil {
		conn.Close()
		t.Fatal("a new connection was accepted after the drain")
	}
}

func TestDrainGraceExpires(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	go func() {
		resp, err := gw.client(w.web).Get(gw.base + "/api/slow?sleep=30s")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-w.upstream.sleeping
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := gw.g.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: got %v, want %v", err, context.DeadlineExceeded)
	}
}

// TestReloadPicksUpNewCRL: revoking a certificate and reloading refuses
// it on the next handshake; its twin (another client) keeps working.
func TestReloadPicksUpNewCRL(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.Listeners[0].TLS.CRLFiles = []string{w.crl("crl.pem")} // revokes nothing
	gw := w.start(cfg)
	fresh := func(cert *pki.Cert) error {
		resp, err := gw.client(cert).Get(gw.base + "/api/x") // a new connection: a new handshake
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := fresh(w.web); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	crlPath := w.crl("crl.pem", w.web.Cert.SerialNumber)
	if err := gw.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	crl, err := pki.LoadCRL(filepath.Dir(crlPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh(w.web); err == nil {
		t.Error("revoked certificate accepted after the reload")
	}
	if err := fresh(w.admin); err != nil {
		t.Errorf("a certificate that is not revoked: %v", err)
	}
	_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
	for _, want := range []string{
		`forgeproof_gateway_tls_handshake_failures_total{listener="127.0.0.1:0",reason="revoked"} 1`,
		`forgeproof_gateway_certificate_not_after_timestamp_seconds{kind="server",listener="127.0.0.1:0"}`,
		`forgeproof_gateway_certificate_not_after_timestamp_seconds{kind="client-ca",listener="127.0.0.1:0"}`,
		// The new CRL's next update, to alert on before it goes stale.
		fmt.Sprintf(`forgeproof_gateway_crl_next_update_timestamp_seconds{listener="127.0.0.1:0"} %v`, float64(crl.NextUpdate.Unix())),
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestHealthAfterRefusedReload: a refused reload leaves /healthz at 200
// (a liveness probe must not restart a process that serves the previous
// configuration, which a restart could not load) but its body names what
// was refused, and the last-reload gauges say so as Prometheus's own
// prometheus_config_last_reload_* do. The allowed twins: a fresh gateway
// and one after a sound reload answer a bare "ok" and the gauge 1.
func TestHealthAfterRefusedReload(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	clock := newClock()
	gw := w.startWith(w.config(), gateway.Options{Time: clock.Now})
	const (
		successful = "forgeproof_gateway_config_last_reload_successful"
		successAt  = "forgeproof_gateway_config_last_reload_success_timestamp_seconds"
	)
	check := func(name, wantBody string, wantOK bool, wantAt time.Time, wantInBody ...string) {
		t.Helper()
		status, body := do(t, http.DefaultClient, "GET", gw.admin+"/healthz", nil, "")
		if status != http.StatusOK {
			t.Errorf("%s: /healthz: got status %d, want 200", name, status)
		}
		if wantBody != "" && body != wantBody {
			t.Errorf("%s: /healthz: got body %q, want %q", name, body, wantBody)
		}
		if !strings.HasPrefix(body, "ok\n") {
			t.Errorf("%s: /healthz: got body %q, want it to start with \"ok\\n\"", name, body)
		}
		for _, s := range wantInBody {
			if !strings.Contains(body, s) {
				t.Errorf("%s: /healthz: got body %q, want it to contain %q", name, body, s)
			}
		}
		metrics := metricsText(t, gw)
		want := successful + " 0"
		if wantOK {
			want = successful + " 1"
		}
		if !strings.Contains(metrics, "\n"+want+"\n") {
			t.Errorf("%s: metrics lack %q", name, want)
		}
		if got := metricValue(t, gw, successAt); got != float64(wantAt.Unix()) {
			t.Errorf("%s: %s: got %v, want %v", name, successAt, got, wantAt.Unix())
		}
	}
	started := clock.Now()
	check("fresh gateway", "ok\n", true, started)

	clock.Advance(time.Minute)
	refusedAt := clock.Now()
	cfgPath := w.write("gw.yaml", []byte(`listeners:
  - address: "127.0.0.1:0"
    tls: {cert-file: missing.pem, key-file: server-key.pem, client-ca-files: [ca.pem], client-auth: verify-if-given}
routes:
  - {name: api, path-prefix: /api, upstream: "`+w.upstream.URL+`", allow: {any-verified: true}}
admin: {address: "127.0.0.1:0"}
`))
	if err := gw.g.ReloadFile(cfgPath); err == nil {
		t.Fatal("reload of a config naming a missing certificate: got nil, want an error")
	}
	check("after a refused reload", "", false, started,
		"last reload refused at "+refusedAt.UTC().Format(time.RFC3339),
		"the configuration loaded at "+started.UTC().Format(time.RFC3339)+" keeps serving",
		"config: "+cfgPath,
		"error: "+cfgPath+":3: listeners[0].tls.cert-file",
		"missing.pem")
	c := gw.client(w.web)
	if status, body := do(t, c, "GET", gw.base+"/api/x", nil, ""); status != 200 {
		t.Fatalf("old config stopped serving: got status %d (%s)", status, body)
	}

	clock.Advance(time.Minute)
	if err := gw.g.Reload(w.config()); err != nil {
		t.Fatalf("sound reload: %v", err)
	}
	check("after a sound reload", "ok\n", true, clock.Now())
}
