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
