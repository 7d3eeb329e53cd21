// Package browsertest is what every real-browser test does first: find
// the tools, or skip, or fail, as browser.RequireEnv says; and the
// WebSocket endpoint their servers offer the browser.
package browsertest

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/forgeproof/forgeproof/internal/browser"
)

// Tools returns the browser tools (Chromium from browser.BrowserEnv or
// PATH, certutil, pk12util). It skips the test when they are missing or
// in -short mode, unless browser.RequireEnv is "require" (CI), which
// makes a missing tool a failure; "skip" skips the test, and any other
// value fails it, so that a typo cannot skip a required run silently.
func Tools(tb testing.TB) browser.Tools {
	tb.Helper()
	var required bool
	switch v := os.Getenv(browser.RequireEnv); v {
	case "":
	case "require":
		required = true
	case "skip":
		tb.Skipf("browser test skipped: %s=skip", browser.RequireEnv)
	default:
		tb.Fatalf("%s=%q: want \"require\", \"skip\" or nothing", browser.RequireEnv, v)
	}
	if testing.Short() && !required {
		tb.Skip("browser test skipped in -short mode")
	}
	tools, err := browser.FindTools(os.Getenv(browser.BrowserEnv))
	if err != nil {
		if required {
			tb.Fatalf("%v (%s=require)", err, browser.RequireEnv)
		}
		tb.Skipf("%v; %s", err, browser.InstallHint)
	}
	return tools
}

// AcceptWebSocket answers any WebSocket handshake with 101 Switching
// Protocols and closes the connection: browser tests look at the
// handshake that arrived, not at a conversation.
func AcceptWebSocket(w http.ResponseWriter, r *http.Request) {
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]))
	rw.Flush()
}
