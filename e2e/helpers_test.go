package e2e_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/internal/browser"
)

// startBrowser starts a browser for the test and stops it at cleanup; the
// browser's own output is printed only when the test fails.
func startBrowser(t *testing.T, tools browser.Tools, p browser.Profile) *browser.Browser {
	t.Helper()
	return startBrowserWith(t, browser.Options{Tools: tools, Profile: p})
}

// startBrowserWith is startBrowser with every option; opts.Output is the
// test's own.
func startBrowserWith(t *testing.T, opts browser.Options) *browser.Browser {
	t.Helper()
	var out lockedBuffer
	opts.Output = &out
	b, err := browser.Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("start browser: %v\n%s", err, out.String())
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close browser: %v", err)
		}
		if t.Failed() {
			t.Logf("browser output:\n%s", out.String())
		}
	})
	return b
}

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
	srv := &http.Server{Handler: h, ErrorLog: discardLog}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// discardLog drops the server's own log: Chromium's speculative
// pre-connects end in harmless "TLS handshake error … EOF" lines.
var discardLog = log.New(io.Discard, "", 0)

// waitCtx bounds a wait for the browser's request.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), browser.DefaultActionTimeout)
	t.Cleanup(cancel)
	return ctx
}

// lockedBuffer keeps the browser's output, less the dbus complaints that
// a container without a session bus produces by the dozen.
type lockedBuffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	line []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.line = append(b.line, p...)
	for {
		i := bytes.IndexByte(b.line, '\n')
		if i < 0 {
			break
		}
		line := b.line[:i+1]
		if !bytes.Contains(line, []byte("dbus")) && b.buf.Len() < 64<<10 {
			b.buf.Write(line)
		}
		b.line = b.line[i+1:]
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String() + string(b.line)
}
