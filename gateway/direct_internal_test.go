package gateway

import (
	"mime"
	"net/textproto"
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
