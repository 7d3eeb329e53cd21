package gateway_test

import (
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"github.com/forgeproof/forgeproof/gateway"
)

// h2Exchange is one HTTP/2 request sent frame by frame on a connection
// of its own, to the raw upstream u: HEADERS with fields (ending the
// stream when there is no data and no trailer), DATA frames, then a
// trailer. It returns the gateway's answer and the bytes of the upstream
// connections opened for it (a refused request opens none; a forwarded
// one's request is read whole before the upstream answers, so its bytes
// are all there once the answer is).
func h2Exchange(t *testing.T, gw *running, u *rawUpstream, fields, trailer []string, data ...string) (h2Answer, string) {
	t.Helper()
	before := len(u.snapshot())
	h := dialH2Raw(t, gw, "localhost", gw.w.web)
	end := len(data) == 0 && trailer == nil
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block(fields...), EndStream: end, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	for i, d := range data {
		if err := h.fr.WriteData(1, i == len(data)-1 && trailer == nil, []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	if trailer != nil {
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block(trailer...), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := h.answer(1)
	if err != nil {
		t.Fatalf("%q: %v", fields, err)
	}
	h.conn.Close()
	var got strings.Builder
	for _, c := range u.snapshot()[before:] {
		got.Write(c.bytes)
	}
	return a, got.String()
}

// h2Req is the pseudo-header fields of a request for path on localhost,
// and more.
func h2Req(method, path string, more ...string) []string {
	return append([]string{":method", method, ":scheme", "https", ":authority", "localhost", ":path", path}, more...)
}

// TestHTTP2ContentLengthFraming: an HTTP/2 request whose content-length
// is not a decimal length, or announces a body that the HEADERS frame's
// END_STREAM says is not there, is malformed (RFC 9113 §8.1.1) and
// refused with 400 framing-ambiguous before it reaches the upstream. Go's
// server reads such a field as 0 (or the body as empty), and the
// upstream would get "Content-Length: 0" and no body for a request that
// declared one; HTTP/1.1's reader refuses the first kind. The twins, a
// length that matches the DATA, a zero length with END_STREAM and no
// field at all, are forwarded with their bodies. Negative control: with
// the request checks off, the malformed requests reach the upstream with
// no body.
func TestHTTP2ContentLengthFraming(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		fields  []string
		data    []string // none: the HEADERS frame ends the stream, or (open) nothing follows it
		open    bool     // HEADERS does not end the stream, and no DATA is sent
		refused bool
		want    string // in what the upstream receives, when forwarded
		end     string // what the upstream receives last (the body), when forwarded
	}{
		{"leading space", h2Req("POST", "/public/x", "content-length", " 3"), nil, true, true, "Content-Length: 0\r\n", "\r\n\r\n"},
		{"trailing space", h2Req("POST", "/public/x", "content-length", "3 "), nil, true, true, "Content-Length: 0\r\n", "\r\n\r\n"},
		{"plus sign", h2Req("POST", "/public/x", "content-length", "+3"), nil, true, true, "Content-Length: 0\r\n", "\r\n\r\n"},
		{"empty", h2Req("POST", "/public/x", "content-length", ""), nil, true, true, "Content-Length: 0\r\n", "\r\n\r\n"},
		{"hexadecimal", h2Req("POST", "/public/x", "content-length", "0x3"), nil, true, true, "Content-Length: 0\r\n", "\r\n\r\n"},
		{"beyond int64", h2Req("POST", "/public/x", "content-length", "99999999999999999999"), nil, true, true, "Content-Length: 0\r\n", "\r\n\r\n"},
		{"length, stream ended by HEADERS", h2Req("POST", "/public/x", "content-length", "5"), nil, false, true, "Content-Length: 0\r\n", "\r\n\r\n"},
		{"twin: length of the DATA", h2Req("POST", "/public/x", "content-length", "3"), []string{"abc"}, false, false, "Content-Length: 3\r\n", "\r\n\r\nabc"},
		{"twin: leading zeros", h2Req("POST", "/public/x", "content-length", "003"), []string{"a", "bc"}, false, false, "Content-Length: 3\r\n", "\r\n\r\nabc"},
		{"twin: zero, stream ended by HEADERS", h2Req("POST", "/public/x", "content-length", "0"), nil, false, false, "Content-Length: 0\r\n", "\r\n\r\n"},
		{"twin: no length, DATA", h2Req("POST", "/public/x"), []string{"abc"}, false, false, "Transfer-Encoding: chunked\r\n", "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
		{"twin: no length, stream ended by HEADERS", h2Req("POST", "/public/x"), nil, false, false, "Content-Length: 0\r\n", "\r\n\r\n"},
	}
	send := func(t *testing.T, gw *running, u *rawUpstream, fields []string, data []string, open bool) (h2Answer, string) {
		if !open {
			return h2Exchange(t, gw, u, fields, nil, data...)
		}
		// HEADERS without END_STREAM and nothing after: deterministic,
		// as a DATA frame that Go's server reads before the handler
		// answers resets the stream instead.
		before := len(u.snapshot())
		h := dialH2Raw(t, gw, "localhost", gw.w.web)
		if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: h.block(fields...), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		a, err := h.answer(1)
		if err != nil {
			t.Fatal(err)
		}
		h.conn.Close()
		var got strings.Builder
		for _, c := range u.snapshot()[before:] {
			got.Write(c.bytes)
		}
		return a, got.String()
	}
	_, gw, u := rawWorld(t, respondOK)
	for _, tc := range cases {
		a, got := send(t, gw, u, tc.fields, tc.data, tc.open)
		if tc.refused {
			if a.status != 400 || !strings.Contains(a.body, "framing-ambiguous") || got != "" {
				t.Errorf("%s: got %d %q, upstream %q; want 400 framing-ambiguous and nothing upstream", tc.name, a.status, a.body, got)
			}
			continue
		}
		if a.status != 200 || !strings.Contains(got, tc.want) || !strings.HasSuffix(got, tc.end) {
			t.Errorf("%s: got %d %q, upstream %q; want 200, %q and then %q", tc.name, a.status, a.body, got, tc.want, tc.end)
		}
	}

	t.Run("negative control", func(t *testing.T) {
		_, gw, u := rawWorld(t, respondOK)
		gateway.SetRequestChecks(gw.g, false)
		for _, tc := range cases {
			if !tc.refused {
				continue
			}
			a, got := send(t, gw, u, tc.fields, tc.data, tc.open)
			if a.status != 200 || !strings.Contains(got, tc.want) || !strings.HasSuffix(got, tc.end) {
				t.Errorf("%s without the checks: got %d %q, upstream %q; want 200, %q and no body", tc.name, a.status, a.body, got, tc.want)
			}
		}
	})
}

// TestHTTP2MalformedFields: HTTP/2 header fields that an HTTP/1.1
// upstream would read otherwise, or that RFC 9113 §8.2 makes malformed,
// never reach it: upper case in a name, a name with a space or colon,
// CR, LF or NUL in a value (a request line or field of its own once
// written as HTTP/1.1), pseudo-header fields after regular ones,
// duplicated or unknown, a :path that is not a path, a :scheme that is
// neither http nor https, and connection-specific fields (Connection,
// Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE other than
// "trailers"). Go's server resets the stream (PROTOCOL_ERROR) or answers
// 400. Each has an allowed twin, forwarded as the gateway read it.
func TestHTTP2MalformedFields(t *testing.T) {
	t.Parallel()
	_, gw, u := rawWorld(t, respondOK)
	smuggled := "\r\nGET /admin/x HTTP/1.1\r\nHost: localhost\r\n\r\n"
	for _, tc := range []struct {
		name   string
		fields []string
		reset  bool   // a reset (PROTOCOL_ERROR) rather than a 400
		want   string // in what the upstream receives, "" when refused
	}{
		{"upper-case name", h2Req("GET", "/public/x", "X-Probe", "1"), true, ""},
		{"twin: lower-case name", h2Req("GET", "/public/x", "x-probe", "1"), false, "\r\nX-Probe: 1\r\n"},
		{"space in a name", h2Req("GET", "/public/x", "x probe", "1"), true, ""},
		{"colon in a name", h2Req("GET", "/public/x", "x:probe", "1"), true, ""},
		{"CR LF in a value", h2Req("GET", "/public/x", "x-probe", "1"+smuggled), true, ""},
		{"LF in a value", h2Req("GET", "/public/x", "x-probe", "1\nGET /admin/x HTTP/1.1"), true, ""},
		{"CR in a value", h2Req("GET", "/public/x", "x-probe", "1\rx"), true, ""},
		{"NUL in a value", h2Req("GET", "/public/x", "x-probe", "1\x00x"), true, ""},
		{"CR LF in :path", h2Req("GET", "/public/x HTTP/1.1"+smuggled+"GET /public/y"), true, ""},
		{"CR LF in :method", h2Req("GET /admin/x HTTP/1.1"+smuggled+"GET", "/public/x"), true, ""},
		{"pseudo-header after a regular field", []string{":method", "GET", ":scheme", "https", "x-probe", "1", ":authority", "localhost", ":path", "/public/x"}, true, ""},
		{"two :path", h2Req("GET", "/public/x", ":path", "/admin/x"), true, ""},
		{"two :method", h2Req("GET", "/public/x", ":method", "POST"), true, ""},
		{"two :authority", h2Req("GET", "/public/x", ":authority", "localhost"), true, ""},
		{"unknown pseudo-header", h2Req("GET", "/public/x", ":probe", "1"), true, ""},
		{"empty :path", h2Req("GET", ""), true, ""},
		{":path without a slash", h2Req("GET", "public/x"), true, ""},
		{":scheme neither http nor https", []string{":method", "GET", ":scheme", "ftp", ":authority", "localhost", ":path", "/public/x"}, true, ""},
		{"connection", h2Req("GET", "/public/x", "connection", "x-probe"), false, ""},
		{"keep-alive", h2Req("GET", "/public/x", "keep-alive", "1"), false, ""},
		{"proxy-connection", h2Req("GET", "/public/x", "proxy-connection", "keep-alive"), false, ""},
		{"transfer-encoding", h2Req("POST", "/public/x", "transfer-encoding", "chunked"), false, ""},
		{"upgrade", h2Req("GET", "/public/x", "upgrade", "h2c"), false, ""},
		{"te other than trailers", h2Req("GET", "/public/x", "te", "gzip"), false, ""},
		{"twin: te trailers", h2Req("GET", "/public/x", "te", "trailers"), false, "\r\nTe: trailers\r\n"},
		{"twin: absolute :path", h2Req("GET", "https://localhost/public/x"), false, "GET /public/x HTTP/1.1\r\n"},
	} {
		a, got := h2Exchange(t, gw, u, tc.fields, nil)
		switch {
		case tc.want != "":
			if a.status != 200 || !strings.Contains(got, tc.want) {
				t.Errorf("%s: got %d %q, upstream %q; want 200 and %q", tc.name, a.status, a.body, got, tc.want)
			}
		case tc.reset:
			if a.reset != http2.ErrCodeProtocol || got != "" {
				t.Errorf("%s: got %d %v, upstream %q; want PROTOCOL_ERROR and nothing upstream", tc.name, a.status, a.reset, got)
			}
		default:
			if a.status != 400 || got != "" {
				t.Errorf("%s: got %d %v, upstream %q; want 400 and nothing upstream", tc.name, a.status, a.reset, got)
			}
		}
	}
}

// TestHTTP2TrailersAndCookies: an HTTP/2 request's trailer (HEADERS after
// DATA), declared in a trailer field or not, never reaches the upstream:
// identity names in it (Client-Cert, Forgeproof-Client-Identity,
// X-Forwarded-Client-Cert) would bypass the header filter at an upstream
// that merges trailers into headers. The request itself is forwarded,
// its body whole. One with a pseudo-header in its trailer is malformed
// and reset. Cookie fields split into crumbs (RFC 9113 §8.2.3, as
// browsers send them) reach the HTTP/1.1 upstream as one Cookie line
// joined with "; ", the cookies the CSRF check and its session binding
// read; a single cookie field is the twin.
func TestHTTP2TrailersAndCookies(t *testing.T) {
	t.Parallel()
	_, gw, u := rawWorld(t, respondOK)
	forged := []string{
		"client-cert", ":Zm9yZ2Vk:",
		"forgeproof-client-identity", "spiffe://test.example/forged",
		"x-forwarded-client-cert", "URI=spiffe://test.example/forged",
		"x-forwarded-for", "192.0.2.66",
	}
	for _, tc := range []struct {
		name    string
		fields  []string
		trailer []string
	}{
		{"undeclared", h2Req("POST", "/public/x"), forged},
		{"declared", h2Req("POST", "/public/x", "trailer", "client-cert, forgeproof-client-identity, x-forwarded-client-cert, x-forwarded-for"), forged},
		{"declared, with a length", h2Req("POST", "/public/x", "content-length", "5", "trailer", "client-cert, forgeproof-client-identity, x-forwarded-client-cert, x-forwarded-for"), forged},
	} {
		a, got := h2Exchange(t, gw, u, tc.fields, tc.trailer, "hello")
		if a.status != 200 || !strings.Contains(got, "hello") {
			t.Errorf("trailer %s: got %d %q, upstream %q; want 200 with the body", tc.name, a.status, a.body, got)
		}
		for _, bad := range []string{"Zm9yZ2Vk", "forged", "192.0.2.66", "Trailer"} {
			if strings.Contains(got, bad) {
				t.Errorf("trailer %s: upstream got %q: %q", tc.name, bad, got)
			}
		}
	}
	a, _ := h2Exchange(t, gw, u, h2Req("POST", "/public/x"), []string{":path", "/admin/x"}, "hello")
	if a.reset != http2.ErrCodeProtocol {
		t.Errorf("pseudo-header in the trailer: got %d %v, want PROTOCOL_ERROR", a.status, a.reset)
	}

	for _, tc := range []struct {
		name   string
		fields []string
	}{
		{"cookie crumbs", h2Req("GET", "/public/x", "cookie", "a=1", "accept", "*/*", "cookie", "session=s1", "cookie", "b=2")},
		{"twin: one cookie field", h2Req("GET", "/public/x", "cookie", "a=1; session=s1; b=2")},
	} {
		a, got := h2Exchange(t, gw, u, tc.fields, nil)
		if a.status != 200 || strings.Count(got, "\r\nCookie: ") != 1 || !strings.Contains(got, "\r\nCookie: a=1; session=s1; b=2\r\n") {
			t.Errorf("%s: got %d, upstream %q; want one line \"Cookie: a=1; session=s1; b=2\"", tc.name, a.status, got)
		}
	}
}
