package scan_test

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// wsServer is an mTLS service with a chat page whose scripts open
// WebSockets: /chat from an inline concatenation on location.host, /feed
// from a template literal in /app.js. A handshake is upgraded when it
// carries the client certificate and, if checkOrigin, when its Origin is
// the service's own; the upgraded connection is closed at once.
type wsServer struct {
	checkOrigin bool
	// refuseAll refuses every handshake (404), the same-origin one too.
	refuseAll bool
	// badAccept answers 101 with a wrong Sec-WebSocket-Accept.
	badAccept  bool
	handshakes *atomic.Int64
}

func (s *wsServer) start(t *testing.T, p *testPKI) *httptest.Server {
	if s.handshakes == nil {
		s.handshakes = new(atomic.Int64)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, `<!doctype html><title>chat</title><script src="/app.js"></script>
<script>const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chat");
const other = new WebSocket("wss://chat.elsewhere.example/socket");</script>`)
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, "const feed = new WebSocket(`wss://${location.host}/feed`);\n")
	})
	upgrade := func(w http.ResponseWriter, r *http.Request) {
		s.handshakes.Add(1)
		if s.refuseAll || !headerToken(r.Header, "Upgrade", "websocket") {
			http.NotFound(w, r)
			return
		}
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "certificate required", http.StatusUnauthorized)
			return
		}
		if s.checkOrigin && r.Header.Get("Origin") != "https://"+r.Host {
			http.Error(w, "cross-origin WebSocket refused", http.StatusForbidden)
			return
		}
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		accept := base64.StdEncoding.EncodeToString(sum[:])
		if s.badAccept {
			accept = "d3Jvbmc="
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept)
		rw.Flush()
	}
	mux.HandleFunc("GET /chat", upgrade)
	mux.HandleFunc("GET /feed", upgrade)
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func headerToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), token) {
				return true
			}
		}
	}
	return false
}

// TestWebSocketCrossSite: a service that upgrades a cross-site handshake
// is reported (for the sockets discovered in the page and its script, and
// one given as an endpoint); its twin that checks the Origin is not; a
// service that refuses the same-origin handshake too is inconclusive, not
// clean; a 101 a browser would reject is not an upgrade.
func TestWebSocketCrossSite(t *testing.T) {
	p := newTestPKI(t)
	tests := []struct {
		name      string
		srv       wsServer
		endpoints []scan.Endpoint
		discover  bool
		want      []string // URL paths reported as websocket-cross-site
		assessed  bool
		note      string // in every endpoint's note
	}{
		{"no origin check, discovered", wsServer{}, nil, true, []string{"/chat", "/feed"}, true, ""},
		{"origin checked, discovered", wsServer{checkOrigin: true}, nil, true, nil, true, ""},
		{"no origin check, given", wsServer{}, []scan.Endpoint{{Method: "WS", Path: "/chat"}}, false, []string{"/chat"}, true, ""},
		{"origin checked, given", wsServer{checkOrigin: true}, []scan.Endpoint{{Method: "ws", Path: "/feed"}}, false, nil, true, ""},
		{"same-origin refused: inconclusive", wsServer{refuseAll: true}, []scan.Endpoint{{Method: "WS", Path: "/chat"}}, false, nil, false, "inconclusive: the same-origin handshake answered 404"},
		{"wrong accept: not an upgrade", wsServer{badAccept: true}, []scan.Endpoint{{Method: "WS", Path: "/chat"}}, false, nil, false, "wrong Sec-WebSocket-Accept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.srv
			srv := s.start(t, p)
			eps := tt.endpoints
			if len(eps) > 0 && tt.name == "origin checked, given" {
				// The wss: spelling of the same endpoint.
				eps = []scan.Endpoint{{Method: "WS", Path: strings.Replace(srv.URL, "https://", "wss://", 1) + "/feed"}}
			}
			rep, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000,
				Endpoints: eps, Discover: tt.discover,
			})
			if tt.assessed && err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !tt.assessed && (err == nil || !strings.Contains(err.Error(), "no-baseline")) {
				t.Fatalf("Run: got %v, want a no-baseline error", err)
			}
			var got []string
			for _, f := range rep.Findings {
				if f.Rule == scan.RuleWebSocketCrossSite {
					got = append(got, f.URL[strings.LastIndex(f.URL, "/"):])
					if !strings.HasPrefix(f.URL, "wss://") || f.Method != "WS" || f.Severity != scan.SeverityHigh ||
						!strings.Contains(f.Reproduce, "-H 'Origin: https://attacker.invalid'") || !strings.Contains(f.Reproduce, "--http1.1") ||
						!strings.Contains(f.Fix, "Origin of every WebSocket handshake") {
						t.Errorf("finding: got %+v", f)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("websocket-cross-site at %v, want %v", got, tt.want)
			}
			var ws []scan.EndpointResult
			for _, e := range rep.Endpoints {
				if e.Method == "WS" {
					ws = append(ws, e)
				}
			}
			if len(ws) == 0 {
				t.Fatalf("no WS endpoint in %+v", rep.Endpoints)
			}
			for _, e := range ws {
				if e.Assessed != tt.assessed || !strings.Contains(e.Note, tt.note) {
					t.Errorf("endpoint %s: assessed %v, note %q; want %v, %q", e.URL, e.Assessed, e.Note, tt.assessed, tt.note)
				}
			}
			if tt.discover && !slices.ContainsFunc(rep.Notes, func(n string) bool {
				return strings.Contains(n, "names a WebSocket on another origin (wss://chat.elsewhere.example)")
			}) {
				t.Errorf("notes %q: want the WebSocket on another origin named", rep.Notes)
			}
		})
	}
}

// TestWebSocketExcluded: a discovered socket that matches --exclude gets
// no handshake at all.
func TestWebSocketExcluded(t *testing.T) {
	p := newTestPKI(t)
	s := &wsServer{}
	srv := s.start(t, p)
	rep, err := scan.Run(context.Background(), scan.Config{
		Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000, Discover: true, Exclude: []string{"^/(chat|feed)$"},
		Endpoints: []scan.Endpoint{{Method: "POST", Path: "/"}},
	})
	if err == nil {
		t.Logf("report: %+v", rep.Endpoints)
	}
	if n := s.handshakes.Load(); n != 0 {
		t.Errorf("got %d handshakes, want none", n)
	}
}
