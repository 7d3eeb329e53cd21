package gateway

import (
	"fmt"
	"net/http"
	"testing"
)

// headerLog is a ResponseWriter that records the header of every
// WriteHeader.
type headerLog struct {
	h   http.Header
	log []string
}

func (l *headerLog) Header() http.Header { return l.h }
func (l *headerLog) Write(b []byte) (int, error) {
	return len(b), nil
}
func (l *headerLog) WriteHeader(code int) {
	l.log = append(l.log, fmt.Sprintf("%d %v", code, l.h))
}

// keepHeaders, driven as ReverseProxy drives its ResponseWriter for two
// 103s and then a 200: the gateway's fields (several values, a name the
// upstream uses too) stay off the 103 and come first in the 200.
func TestKeepHeadersAcross1xx(t *testing.T) {
	l := &headerLog{h: http.Header{"Vary": {"Origin"}, "Set-Cookie": {"a=1", "b=2"}, "Cache-Control": {"no-store"}}}
	w := withKeptHeaders(l, nil)
	add := func(h http.Header) {
		for k, vv := range h {
			for _, v := range vv {
				w.Header().Add(k, v)
			}
		}
	}
	add(http.Header{"Link": {"</s.css>"}, "Vary": {"Accept"}})
	w.WriteHeader(103)
	clear(w.Header()) // ReverseProxy's Got1xxResponse
	// A second 1xx.
	add(http.Header{"Link": {"</t.js>"}, "Vary": {"Accept"}})
	w.WriteHeader(103)
	clear(w.Header())
	add(http.Header{"Content-Type": {"text/plain"}, "Vary": {"Cookie"}})
	w.WriteHeader(200)
	want := []string{
		"103 map[Link:[</s.css>] Vary:[Accept]]",
		"103 map[Link:[</t.js>] Vary:[Accept]]",
		"200 map[Cache-Control:[no-store] Content-Type:[text/plain] Set-Cookie:[a=1 b=2] Vary:[Origin Cookie]]",
	}
	if fmt.Sprint(l.log) != fmt.Sprint(want) {
		t.Fatalf("got\n%q\nwant\n%q", l.log, want)
	}

	// Without a 1xx nothing changes: the twin.
	l = &headerLog{h: http.Header{"Vary": {"Origin"}}}
	w = withKeptHeaders(l, nil)
	w.Header().Add("Vary", "Cookie")
	w.WriteHeader(200)
	if got := fmt.Sprint(l.log); got != "[200 map[Vary:[Origin Cookie]]]" {
		t.Fatalf("without a 1xx: %s", got)
	}
	// And an empty header is not wrapped at all.
	if _, ok := withKeptHeaders(&headerLog{h: http.Header{}}, nil).(*keepHeaders); ok {
		t.Fatal("a ResponseWriter without header fields was wrapped")
	}
}

// TestKeptHeadersNoMap: under the gateway's own server, withKeptHeaders
// leaves a response whose header nobody made unwrapped and without a
// map (the direct path's answer adopts the upstream's), and still wraps
// one the gateway set fields on, through the recorder as in the
// gateway; the fields of an empty map made before are no reason to wrap
// either.
func TestKeptHeadersNoMap(t *testing.T) {
	fresh := func() *h1Response { return &h1Response{conn: &h1Conn{}, contentLength: -1} }

	w := fresh()
	if got := withKeptHeaders(&recorder{ResponseWriter: w}, nil); got.(*recorder).ResponseWriter != w {
		t.Fatalf("no header: got %T, want the recorder unwrapped", got)
	}
	if w.handlerHeader != nil || w.calledHeader {
		t.Errorf("no header: a map was made (%v) or Header called (%v)", w.handlerHeader, w.calledHeader)
	}

	w = fresh()
	w.Header()
	if _, ok := withKeptHeaders(&recorder{ResponseWriter: w}, nil).(*keepHeaders); ok {
		t.Error("an empty header was wrapped")
	}

	w = fresh()
	w.Header().Set("Connection", "close")
	k, ok := withKeptHeaders(&recorder{ResponseWriter: w}, nil).(*keepHeaders)
	if !ok {
		t.Fatal("a header with fields was not wrapped")
	}
	if got := fmt.Sprint(k.own); got != "map[Connection:[close]]" {
		t.Errorf("kept %s, want the gateway's field", got)
	}
}
