package gateway

import (
	"crypto/tls"
	"mime"
	"net/http"
	"net/http/httputil"
	"net/textproto"
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
			headers := [2]http.Header{}
			for i := range headers {
				h := http.Header{"Accept": {"*/*"}}
				if tt.prior != nil {
					h["X-Forwarded-For"] = slices.Clone(tt.prior)
				}
				pr := &httputil.ProxyRequest{In: in, Out: &http.Request{Header: h}}
				if i == 0 {
					pr.SetXForwarded()
				} else {
					setXForwarded(pr)
				}
				headers[i] = h
			}
			if !reflect.DeepEqual(headers[0], headers[1]) {
				t.Errorf("got %v, want %v", headers[1], headers[0])
			}
		})
	}
}
