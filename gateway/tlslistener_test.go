package gateway_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// listenerWorld starts a gateway whose log (access log, hooks and the
// http.Server error log) goes to the returned buffer.
func listenerWorld(t *testing.T, limits gateway.Limits) (*world, *running, *logBuffer) {
	t.Helper()
	w := newWorld(t)
	cfg := w.config()
	limits.ShutdownGrace = cfg.Limits.ShutdownGrace
	cfg.Limits = limits
	logs := &logBuffer{}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug} // client-closed, not-tls, handshake-timeout
	return w, w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logs, opts))}), logs
}

// waitLog waits until the log has a line containing sub (the gateway
// logs a failed handshake after closing the connection).
func waitLog(t *testing.T, logs *logBuffer, sub string) {
	t.Helper()
	eventually(t, fmt.Sprintf("a log line with %q", sub), func() (bool, string) {
		s := logs.String()
		return strings.Contains(s, sub), "\n" + s
	})
}

// TestListenerHandshakeFailures: the gateway's listener runs the TLS
// handshake where http.Server did and handles its failures as it does,
// with a reason code: a client speaking plain HTTP gets net/http's 400
// and a "TLS handshake failed" line (not-tls); a client that hangs up
// one too (client-closed); a certificate mtls refuses is logged once, by
// the handshake hook, with its reason (errorlog.go drops the server's
// line for it). The twin: a good certificate is served over HTTP/1.1 and
// HTTP/2. (TestHandshakeProtocolFailures has every protocol reason.)
func TestListenerHandshakeFailures(t *testing.T) {
	t.Parallel()
	w, gw, logs := listenerWorld(t, gateway.Limits{})
	addr := strings.TrimPrefix(gw.base, "https://")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "GET /public/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain HTTP: got %v, %v; want 400", resp, err)
	}
	conn.Close()
	waitLog(t, logs, `"msg":"TLS handshake failed","listener":"127.0.0.1:0","reason":"not-tls","peer":"`+conn.LocalAddr().String()+`","server_name":"","error":"client sent an HTTP request to an HTTPS server"`)

	conn, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	waitLog(t, logs, `"reason":"client-closed","peer":"`+conn.LocalAddr().String()+`","server_name":"","error":"EOF"`)

	other := pkitest.SPIFFE(t, pkitest.CA(t), "spiffe://other.example/x") // another CA: refused at the handshake
	oc := other.TLSCertificate()
	c := gw.client(nil)
	c.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &oc, nil }
	if _, err := c.Get(gw.base + "/public/x"); err == nil {
		t.Fatal("a certificate of another CA was accepted")
	}
	waitLog(t, logs, `"msg":"TLS handshake refused"`)
	// The serial as "forgeproof pki" prints it and "pki revoke --serial" takes it.
	if want := `"serial":"0x` + other.Cert.SerialNumber.Text(16) + `"`; !strings.Contains(logs.String(), want) {
		t.Errorf("the refusal does not log %s: %s", want, grepLines(logs.String(), "TLS handshake refused"))
	}
	if l := grepLines(grepLines(logs.String(), "TLS handshake error"), "mtls: "); l != "" {
		t.Errorf("the refusal was logged twice: %s", l)
	}

	for _, proto := range []string{"http/1.1", "h2"} {
		c := gw.client(w.web)
		tr := c.Transport.(*http.Transport)
		tr.TLSClientConfig.NextProtos = []string{proto}
		tr.ForceAttemptHTTP2 = proto == "h2"
		// The SNI's name (localhost): an HTTP/2 connection with a
		// certificate serves only it (421 otherwise).
		resp, err := c.Get(strings.Replace(gw.base, "127.0.0.1", "localhost", 1) + "/api/x")
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		resp.Body.Close()
		if want := map[string]int{"http/1.1": 1, "h2": 2}[proto]; resp.StatusCode != 200 || resp.ProtoMajor != want || resp.TLS == nil {
			t.Errorf("%s: got %d over %s, want 200 over HTTP/%d", proto, resp.StatusCode, resp.Proto, want)
		}
	}
}

// TestListenerHandshakeTimeout: a client that connects and sends nothing
// is cut off after http.Server's handshake limit (here the read header
// timeout) and logged, as http.Server would, with reason
// handshake-timeout.
func TestListenerHandshakeTimeout(t *testing.T) {
	t.Parallel()
	_, gw, logs := listenerWorld(t, gateway.Limits{ReadHeaderTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", strings.TrimPrefix(gw.base, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes, want the connection closed", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the gateway did not close the silent connection: %v", err)
	}
	waitLog(t, logs, `"reason":"handshake-timeout","peer":"`+conn.LocalAddr().String()+`","server_name":"","error":"read tcp`)
}

// TestListenerCloseEndsHandshakes: Shutdown closes the connections still
// in their TLS handshake (the listener holds them until then), and
// nothing is accepted after it.
func TestListenerCloseEndsHandshakes(t *testing.T) {
	t.Parallel()
	// No handshake limit that could close it first.
	_, gw, logs := listenerWorld(t, gateway.Limits{ReadHeaderTimeout: time.Hour})
	addr := strings.TrimPrefix(gw.base, "https://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard only
	// A full round trip on another connection: the silent one has been
	// accepted by then (one accept loop, in order).
	c := gw.client(nil)
	if status, _ := do(t, c, "GET", gw.base+"/public/x", nil, ""); status != 200 {
		t.Fatalf("got %d, want 200", status)
	}
	c.Transport.(*http.Transport).CloseIdleConnections()
	gw.close()
	if n, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes, want the connection closed", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("Shutdown left the handshaking connection open: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		t.Errorf("a connection was accepted after Shutdown")
	}
	if strings.Contains(logs.String(), "TLS handshake") {
		t.Errorf("a handshake ended by Shutdown was logged:\n%s", logs)
	}
}
