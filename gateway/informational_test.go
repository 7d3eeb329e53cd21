package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// earlyHints answers every request with a 103 and then a 200.
const earlyHints = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" +
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

// earlyHintsGateway starts a gateway whose route /early goes to an
// upstream that answers with earlyHints, on the direct proxy path or
// through ReverseProxy.
func earlyHintsGateway(t *testing.T, direct bool) (*world, *running) {
	t.Helper()
	up := newRawUpstream(t, func(*http.Request) string { return earlyHints })
	w := newWorld(t)
	cfg := w.config()
	cfg.Routes = append([]gateway.Route{{Name: "early", PathPrefix: "/early", Upstream: up.URL,
		Allow: gateway.Allow{AnyVerified: true}, CSRF: gateway.RouteCSRF{InsecureOff: true}}}, cfg.Routes...)
	gw := w.start(cfg)
	gateway.SetDirectProxy(gw.g, direct)
	return w, gw
}

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
			w, gw := earlyHintsGateway(t, tc.direct)
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

// TestInformationalNotToHTTP10 (redteam finding): an upstream's 1xx
// (103 Early Hints) was relayed to an HTTP/1.0 client as
// "HTTP/1.0 103 Early Hints", which RFC 9110 §15.2 forbids: HTTP/1.0
// knows no 1xx, so such a client (or a proxy in front speaking HTTP/1.0)
// reads the 103 as the answer and, on a kept-alive connection, the real
// answer as the next request's. An HTTP/1.0 client now gets the final
// answers only, one per request, on both proxy paths; the twin: an
// HTTP/1.1 client still gets the 103 first.
func TestInformationalNotToHTTP10(t *testing.T) {
	for _, tc := range []struct {
		name   string
		direct bool
		proto  string
		want   []int // statuses in order, as an HTTP/1.1 reader reads them
	}{
		{"direct, HTTP/1.0", true, "HTTP/1.0", []int{200, 200}},
		{"ReverseProxy, HTTP/1.0", false, "HTTP/1.0", []int{200, 200}},
		{"direct, HTTP/1.1", true, "HTTP/1.1", []int{103, 200, 103, 200}},
		{"ReverseProxy, HTTP/1.1", false, "HTTP/1.1", []int{103, 200, 103, 200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, gw := earlyHintsGateway(t, tc.direct)
			c := gw.dialRaw(t, w.web)
			req := "GET /early/x " + tc.proto + "\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n"
			c.send(req + req)
			for i, want := range tc.want {
				resp, err := http.ReadResponse(c.br, nil)
				if err != nil {
					t.Fatalf("answer %d: %v", i, err)
				}
				if resp.StatusCode != want {
					t.Fatalf("answer %d: got %d, want %d", i, resp.StatusCode, want)
				}
				io.Copy(io.Discard, resp.Body)
			}
		})
	}
}

// TestInformationalSetCookie: on a route with cookie settings, an
// upstream's 1xx (103 Early Hints) goes out without its Set-Cookie, which
// would otherwise pass unhardened (browsers do not store it:
// TestInformationalCookiesInBrowser), while the final answer's cookie is
// hardened; on both proxy paths, over HTTP/1.1 and HTTP/2. Negative
// control: the route without cookie settings relays the 103's Set-Cookie
// as sent, which shows the client would see it.
func TestInformationalSetCookie(t *testing.T) {
	const answer = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\nSet-Cookie: session=early; Path=/\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nSet-Cookie: session=final; Path=/\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
	up := newRawUpstream(t, func(*http.Request) string { return answer })
	w := newWorld(t)
	cfg := w.config()
	cfg.Routes = append([]gateway.Route{
		{Name: "hardened", PathPrefix: "/hardened", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true},
			Cookies: gateway.Cookies{Secure: true, SameSite: gateway.SameSiteLax, HostPrefix: "session"}},
		{Name: "plain", PathPrefix: "/plain", Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}},
	}, cfg.Routes...)
	gw := w.start(cfg)
	h2 := h2Conn(t, gw, "localhost", w.web)
	h1 := h1Conn(t, gw, "localhost", w.web)
	for _, tc := range []struct {
		name         string
		path         string
		want1xx      []string
		wantFinal    []string
		direct, use2 bool
	}{
		{"hardened, direct, HTTP/1.1", "/hardened/x", nil, []string{"__Host-session=final; Path=/; Secure; SameSite=Lax"}, true, false},
		{"hardened, ReverseProxy, HTTP/1.1", "/hardened/x", nil, []string{"__Host-session=final; Path=/; Secure; SameSite=Lax"}, false, false},
		{"hardened, HTTP/2", "/hardened/x", nil, []string{"__Host-session=final; Path=/; Secure; SameSite=Lax"}, true, true},
		{"negative control: plain, direct, HTTP/1.1", "/plain/x", []string{"session=early; Path=/"}, []string{"session=final; Path=/"}, true, false},
		{"negative control: plain, HTTP/2", "/plain/x", []string{"session=early; Path=/"}, []string{"session=final; Path=/"}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gateway.SetDirectProxy(gw.g, tc.direct)
			var got1xx [][]string
			trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
				got1xx = append(got1xx, h["Set-Cookie"])
				return nil
			}}
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", "https://localhost"+tc.path, nil)
			var rt http.RoundTripper = h1
			if tc.use2 {
				rt = h2
			}
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if len(got1xx) != 1 {
				t.Fatalf("got %d 1xx answers, want the upstream's 103", len(got1xx))
			}
			if !slices.Equal(got1xx[0], tc.want1xx) {
				t.Errorf("103's Set-Cookie %q, want %q", got1xx[0], tc.want1xx)
			}
			if got := resp.Header["Set-Cookie"]; !slices.Equal(got, tc.wantFinal) {
				t.Errorf("final Set-Cookie %q, want %q", got, tc.wantFinal)
			}
		})
	}
}
