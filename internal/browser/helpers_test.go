package browser_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"testing"

	"github.com/forgeproof/forgeproof/internal/browser"
)

// serve runs h on addr (loopback, port 0) until the test ends, over TLS
// when cfg is not nil. It returns the port.
func serve(t *testing.T, addr string, cfg *tls.Config, h http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// waitCtx bounds a wait for a recorded request.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), browser.DefaultActionTimeout)
	t.Cleanup(cancel)
	return ctx
}
