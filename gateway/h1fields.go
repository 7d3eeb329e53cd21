package gateway

import (
	"bufio"
	"net/http"
	"net/textproto"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// writeFields writes h as net/http's Header.WriteSubset(bw, exclude)
// does, byte for byte: the fields sorted by name, a name that is not a
// valid field name left out, each value with CR and LF replaced by
// spaces and then trimmed. Unlike WriteSubset it takes no sorter from a
// sync.Pool, sorts the few fields of a common answer by insertion on the
// stack and writes the values with writeHeaderValue (reqwrite.go). A
// bufio.Writer ignores what is written after an error, as WriteSubset
// stops at one.
func writeFields(bw *bufio.Writer, h http.Header, exclude map[string]bool) {
	var stack [16]headerField
	kvs := stack[:0]
	for k, vv := range h {
		if !exclude[k] {
			kvs = append(kvs, headerField{k, vv})
		}
	}
	if len(kvs) <= len(stack) {
		// Names are distinct: any sort gives WriteSubset's order.
		for i := 1; i < len(kvs); i++ {
			for j := i; j > 0 && kvs[j].name < kvs[j-1].name; j-- {
				kvs[j], kvs[j-1] = kvs[j-1], kvs[j]
			}
		}
	} else {
		slices.SortFunc(kvs, func(a, b headerField) int { return strings.Compare(a.name, b.name) })
	}
	for _, kv := range kvs {
		if !httpguts.ValidHeaderFieldName(kv.name) {
			continue
		}
		for _, v := range kv.values {
			bw.WriteString(kv.name)
			bw.WriteString(": ")
			writeHeaderValue(bw, v)
			bw.WriteString("\r\n")
		}
	}
}

type headerField struct {
	name   string
	values []string
}

// adoptHeader makes h the header map of w's h1Response, in place of a
// copy: what copyHeaders(w.Header(), h) would do for a map it may keep,
// without a second map per answer. It adopts only where the copy would
// give the same map: w is an h1Response (or a recorder in front of one),
// its header is empty and not yet written, and every name in h is
// canonical with at least one value (copyHeaders leaves out a name with
// none). It reports whether it did; otherwise the caller copies.
//
// The caller hands h over: after the call it changes the header only
// through w.Header(), and before WriteHeader, as net/http's rule for a
// header changed after WriteHeader (a snapshot at WriteHeader) is kept
// by taking the snapshot on the first Header call after it instead (see
// h1Response.Header). Writers that keep header fields of their own
// (keepHeaders) are not unwrapped: their header is not empty.
func adoptHeader(w http.ResponseWriter, h http.Header) bool {
	for {
		switch rw := w.(type) {
		case *h1Response:
			return rw.adoptHeader(h)
		case *recorder:
			w = rw.ResponseWriter
		default:
			return false
		}
	}
}

func (w *h1Response) adoptHeader(h http.Header) bool {
	if w.wroteHeader || w.conn.hijacked || len(w.handlerHeader) != 0 || w.snapshot != nil {
		return false
	}
	for k, vv := range h {
		if len(vv) == 0 || textproto.CanonicalMIMEHeaderKey(k) != k {
			return false
		}
	}
	w.handlerHeader = h
	w.calledHeader = true
	w.adopted = true
	return true
}
