package gateway_test

import (
	"net/http"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// earlyHints answers every request with a 103 and then a 200.
const earlyHints = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" +
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

// An upstream's 1xx is relayed with its own fields only, and the
// gateway's fields set before proxying (here Connection: close after a
// chunked request) reach the final answer, on both proxy paths.
func TestInformationalKeepsGatewayHeaders(t *testing.T) {
	for _, tc := range []struct {
		name      string
		direct    bool
		keep      bool
		chunked   bool
		wantClose bool
	}{
		{"direct, chunked", true, true, true, true},
		{"ReverseProxy, chunked", false, true, true, true},
		{"direct, not chunked", true, true, false, false}, // the allowed twin
		{"ReverseProxy, not chunked", false, true, false, false},
		// The negative control: without keepHeaders the 103 takes the
		// gateway's Connection: close and the final answer loses it.
		{"direct, chunked, keep off", true, false, true, false},
		{"ReverseProxy, chunked, keep off", false, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRawUpstream(t, func(*http.Request) string { return earlyHints })
			w := newWorld(t)
			cfg := w.config()
			cfg.Routes = append([]gateway.Route{{Name: "early", PathPrefix: "/early", Upstream: up.URL,
				Allow: gateway.Allow{AnyVerified: true}, CSRF: gateway.RouteCSRF{InsecureOff: true}}}, cfg.Routes...)
			gw := w.start(cfg)
			gateway.SetDirectProxy(gw.g, tc.direct)
			gateway.SetKeepHeaders(gw.g, tc.keep)
			c := gw.dialRaw(t, w.web)
			if tc.chunked {
				c.send("POST /early/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
			} else {
				c.send("GET /early/x HTTP/1.1\r\nHost: localhost\r\n\r\n")
			}
			early, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if early.StatusCode != 103 || early.Header.Get("Link") != "</s.css>; rel=preload" {
				t.Fatalf("first answer %d %v, want the upstream's 103 with its Link", early.StatusCode, early.Header)
			}
			if tc.keep && early.Header["Connection"] != nil {
				t.Errorf("the 103 carries the gateway's Connection: %q", early.Header["Connection"])
			}
			final, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if final.StatusCode != 200 || final.Close != tc.wantClose {
				t.Fatalf("final answer %d, Connection: close %v, want 200 and %v (header %v)", final.StatusCode, final.Close, tc.wantClose, final.Header)
			}
			if final.Header.Get("Link") != "" {
				t.Errorf("the 103's Link reached the final answer")
			}
		})
	}
}
