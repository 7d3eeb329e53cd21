package scan_test

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/scan"
)

// The scanner's limits on what it reads (docs/scanner.md, Flags).
const (
	headerLimit = 1 << 20
	cookieLimit = 180
)

// startTLS starts h as an HTTPS service on loopback that asks for the
// client certificate.
func startTLS(t *testing.T, p *testPKI, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// loginScan scans the service at base with discovery, logged in as alice
// with password, and as the attacker with attacker (nil: none).
func loginScan(p *testPKI, base, password string, attacker *scan.Login) (*scan.Report, error) {
	return scan.Run(context.Background(), scan.Config{
		Target: base + "/", TLS: p.clientTLS(), Rate: 1000, Verify: balance, Discover: true,
		Login:         &scan.Login{Path: "/login", Form: map[string]string{"username": "alice", "password": password}},
		AttackerLogin: attacker,
	})
}

// padding is n bytes of header lines (X-Pad-i: aaa…).
func padding(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "X-Pad-%d: %s\r\n", i, strings.Repeat("a", 1000))
	}
	return b.String()
}

// TestWebSocketHandshakeHeaderLimit: a handshake's answer whose header
// never ends (64 MiB of it) is cut at the header limit, with an error
// that names it, and the scanner stops reading: the service manages to
// write little of its flood. Its twin, a valid 101 with a header just
// under the limit, is upgraded (and reported as a cross-site socket).
func TestWebSocketHandshakeHeaderLimit(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		name  string
		flood bool
	}{
		{"under the limit", false},
		{"endless header", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var wrote atomic.Int64
			srv := startTLS(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/ws" {
					http.NotFound(w, r)
					return
				}
				sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					return
				}
				defer conn.Close()
				head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
					base64.StdEncoding.EncodeToString(sum[:]) + "\r\n"
				if !tt.flood {
					n, _ := conn.Write([]byte(head + padding(headerLimit-64<<10) + "\r\n"))
					wrote.Add(int64(n))
					return
				}
				conn.Write([]byte(head + "X-Flood: "))
				chunk := []byte(strings.Repeat("a", 64<<10))
				for range 1024 { // 64 MiB, never a line end
					n, err := conn.Write(chunk)
					wrote.Add(int64(n))
					if err != nil {
						return
					}
				}
			}))
			rep, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000,
				Endpoints: []scan.Endpoint{{Method: "WS", Path: "/ws"}},
			})
			if !tt.flood {
				if err != nil {
					t.Fatal(err)
				}
				if got := rulesOf(rep); !strings.Contains(strings.Join(got, " "), scan.RuleWebSocketCrossSite) {
					t.Fatalf("got findings %v, want %s", got, scan.RuleWebSocketCrossSite)
				}
				return
			}
			// Socket buffers hold a few MiB; the old reader took all 64.
			if n := wrote.Load(); n > 16<<20 {
				t.Fatalf("the service wrote %d bytes of its header flood: the scanner kept reading past its limit", n)
			}
			var se *scan.Error
			if !errors.As(err, &se) || se.Reason != scan.ReasonNoBaseline {
				t.Fatalf("got error %v, want reason %s", err, scan.ReasonNoBaseline)
			}
			want := fmt.Sprintf("GET %s/ws: reading the handshake's answer: its header is larger than %d bytes, the scanner's limit", srv.URL, headerLimit)
			if len(rep.Endpoints) != 1 || !strings.Contains(rep.Endpoints[0].Note, want) {
				t.Fatalf("got endpoints %+v, want a note with %q", rep.Endpoints, want)
			}
		})
	}
}

// TestResponseHeaderLimit: a start page whose header is larger than the
// limit is an error that names it; its twin just under the limit is read.
func TestResponseHeaderLimit(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		name string
		pad  int
		want string // in the error; "" for none
	}{
		{"under the limit", headerLimit - 64<<10, ""},
		{"over the limit", 2 * headerLimit, fmt.Sprintf("server response headers exceeded %d bytes", headerLimit)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pad := padding(tt.pad)
			srv := startTLS(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for l := range strings.SplitSeq(strings.TrimSpace(pad), "\r\n") {
					if r.URL.Path == "/" { // the start page, where a scan begins
						k, v, _ := strings.Cut(l, ": ")
						w.Header().Set(k, v)
					}
				}
				if r.Method == "POST" {
					http.Redirect(w, r, "/done", http.StatusSeeOther)
					return
				}
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, `<form method=post action="/t"><input name=to value=x></form>`)
			}))
			srv.Config.MaxHeaderBytes = 4 * headerLimit
			_, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000, Discover: true,
			})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "GET "+srv.URL+"/") {
				t.Fatalf("got error %v, want one naming GET %s/ and %q", err, srv.URL, tt.want)
			}
		})
	}
}

// TestCookieFlood: a service that sets hundreds of new cookies on every
// page gets back at most the jar's limit in any request, a note says so,
// and the posture findings stay within five per kept cookie. Its twin
// sets exactly the limit: every cookie comes back, no note.
func TestCookieFlood(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		name    string
		perPage int
		pages   int
		flood   bool
	}{
		{"at the limit", cookieLimit, 1, false},
		{"new names on every page", 300, 10, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			most := 0 // cookies in the largest Cookie header received
			srv := startTLS(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				most = max(most, len(r.Cookies()))
				mu.Unlock()
				if r.Method == "POST" {
					http.Redirect(w, r, "/done", http.StatusSeeOther)
					return
				}
				if r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, "/p") {
					for i := range tt.perPage {
						w.Header().Add("Set-Cookie", fmt.Sprintf("sess%s-%d=1; Path=/", strings.Trim(r.URL.Path, "/"), i))
					}
				}
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, `<form method=post action="/t"><input name=to value=x></form>`)
				if r.URL.Path == "/" {
					for i := 1; i < tt.pages; i++ {
						fmt.Fprintf(w, `<a href="/p%d">%d</a>`, i, i)
					}
				}
			}))
			srv.Config.MaxHeaderBytes = 4 << 20
			rep, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000, Discover: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			noted := strings.Contains(strings.Join(rep.Notes, "\n"), fmt.Sprintf("the service set more than %d cookies: the scanner kept the first %d", cookieLimit, cookieLimit))
			if !tt.flood {
				// Negative control: the cookies do come back.
				if most != cookieLimit || noted {
					t.Fatalf("got %d cookies back (noted %v), want all %d and no note", most, noted, cookieLimit)
				}
				return
			}
			if most != cookieLimit || !noted {
				t.Fatalf("got %d cookies back (noted %v), want %d and a note: %q", most, noted, cookieLimit, rep.Notes)
			}
			if n := len(rep.Findings); n > 5*cookieLimit+10 {
				t.Fatalf("got %d findings for %d kept cookies", n, cookieLimit)
			}
		})
	}
}

// TestTimeoutNamed: an answer that never completes (its header sent,
// its body never ended) fails once the request's timeout passes, with an
// error that names that timeout; its twin, which ends the body, is read.
func TestTimeoutNamed(t *testing.T) {
	p := newTestPKI(t)
	for _, stall := range []bool{false, true} {
		t.Run(fmt.Sprintf("stall=%v", stall), func(t *testing.T) {
			// The stalled answer ends when the test does, not when the
			// scanner gives up: a handler that returned then would end
			// the chunked body, and a client whose timeout closes the
			// connection (TLS close_notify first) can still read that
			// end and take the answer as complete.
			release := make(chan struct{})
			srv := startTLS(t, p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == "POST" {
					http.Redirect(w, r, "/done", http.StatusSeeOther)
					return
				}
				w.Header().Set("Content-Type", "text/html")
				fmt.Fprint(w, `<form method=post action="/t"><input name=to value=x></form>`)
				if stall {
					http.NewResponseController(w).Flush()
					<-release
				}
			}))
			t.Cleanup(func() { close(release) }) // before srv.Close, which waits for the handler
			// The stalled twin's timeout is short, so that it ends
			// sooner; the other's is long, so that a loaded machine
			// cannot fail it (each of its requests must finish within).
			timeout := time.Minute
			if stall {
				timeout = 3 * time.Second
			}
			_, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000, Discover: true, Timeout: timeout,
			})
			if !stall {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			// The timeout is named whichever phase it cut (on a loaded
			// machine it may pass before the header is read).
			want := "no complete answer within the 3s timeout (--timeout)"
			var se *scan.Error
			if !errors.As(err, &se) || se.Reason != scan.ReasonUnreachable || !strings.Contains(err.Error(), "GET "+srv.URL+"/: ") || !strings.Contains(err.Error(), want) {
				t.Fatalf("got error %v, want reason %s, GET %s/ and %q", err, scan.ReasonUnreachable, srv.URL, want)
			}
		})
	}
}
