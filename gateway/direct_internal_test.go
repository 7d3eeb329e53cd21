package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"reflect"
	"slices"
	"testing"
)

// FuzzCanonicalIs: canonicalIs(s, name) is CanonicalMIMEHeaderKey(s) ==
// name, for the name itself and for any other.
func FuzzCanonicalIs(f *testing.F) {
	for _, s := range []string{"keep-alive", "X-Named", "x_under", "TE", "accept-LANGUAGE", "a b", "\x80x", "", "-a-"} {
		f.Add(s, "Keep-Alive")
	}
	f.Fuzz(func(t *testing.T, s, name string) {
		want := textproto.CanonicalMIMEHeaderKey(s)
		if !canonicalIs(s, want) {
			t.Errorf("canonicalIs(%q, %q) = false, want true", s, want)
		}
		if got := canonicalIs(s, name); got != (want == name) {
			t.Errorf("canonicalIs(%q, %q) = %v, want %v", s, name, got, want == name)
		}
	})
}

// FuzzEventStreamTest: the cheap test streaming makes before it parses a
// Content-Type never misses one mime.ParseMediaType reads as
// text/event-stream.
func FuzzEventStreamTest(f *testing.F) {
	for _, s := range []string{"text/event-stream", "Text/Event-Stream; charset=utf-8", " text/event-stream ;", "\u00a0TEXT/EVENT-STREAM", "text/event-stream; a=1; a=2", "text/plain", "text/event-streamx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		if base, _, _ := mime.ParseMediaType(ct); base == "text/event-stream" && !containsFoldASCII(ct, "text/event-stream") {
			t.Errorf("%q is an event stream to mime.ParseMediaType, not to containsFoldASCII", ct)
		}
	})
}

// TestSetXForwarded: setXForwarded sets what ProxyRequest.SetXForwarded
// sets.
func TestSetXForwarded(t *testing.T) {
	for _, tt := range []struct {
		name, remote string
		tls          bool
		prior        []string
	}{
		{"plain", "192.0.2.1:1234", false, nil},
		{"tls", "[2001:db8::1]:443", true, nil},
		{"prior values", "192.0.2.1:1234", true, []string{"10.0.0.1", "10.0.0.2, 10.0.0.3"}},
		{"no port", "192.0.2.1", true, []string{"10.0.0.1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := &http.Request{RemoteAddr: tt.remote, Host: "app.example", Header: http.Header{}}
			if tt.tls {
				in.TLS = &tls.ConnectionState{}
			}
			// setXForwardedConn on a new connection, then on the same
			// connection again (its values cached), then after a request
			// with another Host (the cache replaced).
			cf := &connState{}
			headers := [5]http.Header{}
			for i := range headers {
				h := http.Header{"Accept": {"*/*"}}
				if tt.prior != nil {
					h["X-Forwarded-For"] = slices.Clone(tt.prior)
				}
				pr := &httputil.ProxyRequest{In: in, Out: &http.Request{Header: h}}
				switch i {
				case 0:
					pr.SetXForwarded()
				case 1:
					setXForwarded(pr)
				case 4:
					other := *in
					other.Host = "other.example"
					setXForwardedConn(&httputil.ProxyRequest{In: &other, Out: &http.Request{Header: http.Header{}}}, cf)
					fallthrough
				default:
					setXForwardedConn(pr, cf)
				}
				headers[i] = h
			}
			for i, h := range headers[1:] {
				if !reflect.DeepEqual(h, headers[0]) {
					t.Errorf("call %d: got %v, want %v", i+1, h, headers[0])
				}
				for name, v := range h {
					if cap(v) != len(v) {
						t.Errorf("call %d: %s has room to append in place (len %d, cap %d)", i+1, name, len(v), cap(v))
					}
				}
			}
		})
	}
}

// TestDirectProxyApplies: the direct path takes the common request, so
// that fastpath_test.go's comparisons compare it with ReverseProxy (were
// applies always false, they would compare ReverseProxy with itself and
// pass); each request it leaves to ReverseProxy has its taken twin.
func TestDirectProxyApplies(t *testing.T) {
	if queryReencoded() {
		t.Skip("GODEBUG names urlmaxqueryparams: ReverseProxy serves every request")
	}
	plain, _ := url.Parse("http://127.0.0.1:8080")
	tlsUp, _ := url.Parse("https://127.0.0.1:8443")
	live, cancel := context.WithCancel(context.Background()) // as under a server
	defer cancel()
	tests := []struct {
		name     string
		upstream *url.URL
		ctx      context.Context
		header   http.Header
		off      []check // the checks turned off
		want     bool
	}{
		{"common request", plain, live, http.Header{"Connection": {"keep-alive"}, "Accept": {"*/*"}}, nil, true},
		{"Upgrade header", plain, live, http.Header{"Upgrade": {"websocket"}}, nil, false},
		{"Connection names upgrade", plain, live, http.Header{"Connection": {"keep-alive, Upgrade"}}, nil, false},
		{"TLS upstream", tlsUp, live, nil, nil, false},
		{"context that cannot end", plain, context.Background(), nil, nil, false},
		{"direct path off", plain, live, nil, []check{checkDirectProxy}, false},
		{"own upstream connections off", plain, live, nil, []check{checkFastUpstream}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var off checksOff
			for _, c := range tt.off {
				off[c].Store(true)
			}
			p := &directProxy{rt: &route{upstream: tt.upstream}, c: &compiled{checksOff: &off}}
			req := httptest.NewRequestWithContext(tt.ctx, "GET", "/x", nil)
			maps.Copy(req.Header, tt.header)
			if got := p.applies(req); got != tt.want {
				t.Errorf("applies = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestTakeUpstreamHeader: under the gateway's own HTTP/1.x server (an
// h1Response, or a recorder in front of one) a connection's upstream
// header map is handed out again, emptied; a request that needs more
// than one group's fields, a map that has grown past one, a hijacked
// connection and any other ResponseWriter get none (nil: the caller
// makes a new map).
func TestTakeUpstreamHeader(t *testing.T) {
	c := &h1Conn{}
	w := &recorder{ResponseWriter: &h1Response{conn: c}}
	first := takeUpstreamHeader(w, 7)
	if first == nil || len(first) != 0 {
		t.Fatalf("first map %v, want an empty one", first)
	}
	first["X-First"] = []string{"1"}
	second := takeUpstreamHeader(w, 7)
	if reflect.ValueOf(second).UnsafePointer() != reflect.ValueOf(first).UnsafePointer() {
		t.Fatal("the connection's map was not handed out again")
	}
	if len(second) != 0 {
		t.Fatalf("the map handed out again holds %v, want it empty", second)
	}
	if got := takeUpstreamHeader(w, maxReusedHeaderFields+1); got != nil || c.upHeader != nil {
		t.Errorf("a request of %d fields: got %v, connection keeps %v; want neither", maxReusedHeaderFields+1, got, c.upHeader)
	}
	grown := takeUpstreamHeader(w, 1)
	for i := range maxReusedHeaderFields + 1 {
		grown[fmt.Sprint("X-", i)] = nil
	}
	if got := takeUpstreamHeader(w, 1); got != nil || c.upHeader != nil {
		t.Errorf("after a grown map: got %v, connection keeps %v; want neither", got, c.upHeader)
	}
	if got := takeUpstreamHeader(w, 1); got == nil {
		t.Error("no map after the grown one was let go")
	}
	c.hijacked = true
	if got := takeUpstreamHeader(w, 1); got != nil {
		t.Errorf("hijacked connection: got %v, want nil", got)
	}
	if got := takeUpstreamHeader(httptest.NewRecorder(), 1); got != nil {
		t.Errorf("another ResponseWriter: got %v, want nil", got)
	}
}

// TestUpstreamHeaderEmptyWhileIdle: the connection's upstream header
// map, reused from one request to the next (takeUpstreamHeader), is
// emptied when the handler of its request returns, so that a connection
// waiting idle for its next request holds none of the last one's values
// (here a cookie and Authorization), as its fieldBuf holds none. The
// map is still reused: the next request finds it, empty, and the
// direct path builds its upstream header in it.
func TestUpstreamHeaderEmptyWhileIdle(t *testing.T) {
	if queryReencoded() {
		t.Skip("GODEBUG names urlmaxqueryparams: ReverseProxy serves every request")
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Cookie")+r.Header.Get("Authorization"))
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	tr := newUpstreamTransport(Limits{}, &http.Transport{}, nil)
	defer tr.CloseIdleConnections()
	p := newProxy(&route{upstream: u}, tr, &compiled{}, slog.New(slog.DiscardHandler))

	// What the connection's map held when each request came, and the
	// map its upstream header was built in, sent after the handler's
	// work. The exchange is the gateway's (serveHTTP's), whose room for
	// added fields lets the direct path take the connection's map.
	type seen struct {
		came string
		used http.Header
	}
	seenc := make(chan seen, 2)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := h1ResponseOf(w).conn
		came := fmt.Sprintf("made %v, values %v", c.upHeader != nil, c.upHeader)
		p.ServeHTTP(w, r.WithContext(&exchangeContext{Context: r.Context(), x: &exchange{}}))
		seenc <- seen{came, c.upHeader}
	})
	client, server := tcpPair(t)
	go newH1Server(&http.Server{Handler: h}).ServeConn(server)
	br := bufio.NewReader(client)
	var came []string
	var used []http.Header
	for i, want := range []string{"session=secretBearer secret", "other=1"} {
		req := "GET / HTTP/1.1\r\nHost: a.test\r\nCookie: session=secret\r\nAuthorization: Bearer secret\r\n\r\n"
		if i == 1 {
			req = "GET / HTTP/1.1\r\nHost: a.test\r\nCookie: other=1\r\n\r\n"
		}
		io.WriteString(client, req)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || string(body) != want {
			t.Fatalf("request %d: upstream saw %q, %v, want %q", i, body, err, want)
		}
		s := <-seenc
		came, used = append(came, s.came), append(used, s.used)
	}
	if want := "made false, values map[]"; came[0] != want {
		t.Errorf("a new connection's map: %s, want %s", came[0], want)
	}
	if used[0] == nil || reflect.ValueOf(used[1]).UnsafePointer() != reflect.ValueOf(used[0]).UnsafePointer() {
		t.Fatal("the direct path did not build the second request's upstream header in the first one's map")
	}
	if want := "made true, values map[]"; came[1] != want {
		t.Errorf("the idle connection's map after the handler returned: %s, want %s", came[1], want)
	}
}
