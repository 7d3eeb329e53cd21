package gateway

// The h1Server's shortcuts for a proxied answer: its header written
// without net/http's sorter, the upstream's header map taken over
// instead of copied, and the connection's idle body buffer lent to the
// direct path's body copy. Each keeps net/http's bytes on the wire
// (h1server_equiv_test.go, fastpath_test.go).

import (
	"bufio"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// writeFields writes h as net/http's Header.WriteSubset(bw, exclude)
// does (a name is excluded where exclude, when not nil, is true), byte
// for byte: the fields sorted by name, a name that is not a
// valid field name left out, each value with CR and LF replaced by
// spaces and then trimmed. Unlike WriteSubset it takes no sorter from a
// sync.Pool, sorts the few fields of a common answer by insertion in
// buf (see fieldBuf) and writes the values with writeHeaderValue
// (reqwrite.go); the fixed exclusions are switches, not maps to hash
// every name for. A bufio.Writer ignores what is written after an error,
// as WriteSubset stops at one.
func writeFields(bw *bufio.Writer, h http.Header, exclude func(name string) bool, buf *fieldBuf) {
	kvs := (*buf)[:0]
	for k, vv := range h {
		if exclude == nil || !exclude(k) {
			kvs = append(kvs, headerField{k, vv})
		}
	}
	if len(kvs) <= maxInsertionSorted {
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
	if cap(kvs) > maxKeptFields {
		*buf = nil // left to the garbage collector, header and all
		return
	}
	clear(kvs) // no header kept alive by the connection
	*buf = kvs[:0]
}

// A fieldBuf is the memory writeFields sorts a header's fields in, kept
// by a connection from one header to the next (h1Conn.fields,
// upConn.fields), as it grows to the largest header it sorted, up to
// maxKeptFields. A local array would be cleared on every call: 1280
// bytes of stack for 32 fields, which under keep-alive load cost more
// than the sort itself (bench/NOTES.md, session 8). The zero value is
// ready.
type fieldBuf []headerField

// maxInsertionSorted is the most fields writeFields sorts by insertion,
// the few of a common answer; more are sorted with slices.SortFunc.
const maxInsertionSorted = 32

// maxKeptFields bounds the fields a fieldBuf keeps room for after a
// header (5 KiB): one of thousands of small fields (a client's request
// within the default 64 KiB holds some ten thousand, an upstream's
// answer far more) would otherwise leave hundreds of KiB on the
// connection that wrote it, for as long as it lives (an upstream one in
// the pool, a client's kept alive).
const maxKeptFields = 128

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
	rw := h1ResponseOf(w)
	return rw != nil && rw.adoptHeader(h, false)
}

// adoptParsedHeader is adoptHeader for a header as http.ReadResponse
// returns it, from which fields were only deleted since, or had their
// values replaced by as many: every name in it is what
// CanonicalMIMEHeaderKey makes of it and has a value
// (FuzzReadResponseHeaderCanonical), so the check of each name, about
// half of adoptHeader's time under load (bench/NOTES.md), is skipped.
func adoptParsedHeader(w http.ResponseWriter, h http.Header) bool {
	rw := h1ResponseOf(w)
	return rw != nil && rw.adoptHeader(h, true)
}

// h1ResponseOf is the h1Response w is, or is a recorder in front of;
// nil for any other writer.
func h1ResponseOf(w http.ResponseWriter) *h1Response {
	for {
		switch rw := w.(type) {
		case *h1Response:
			return rw
		case *recorder:
			w = rw.ResponseWriter
		default:
			return nil
		}
	}
}

func (w *h1Response) adoptHeader(h http.Header, parsed bool) bool {
	if w.wroteHeader || w.conn.hijacked || len(w.handlerHeader) != 0 || w.snapshot != nil {
		return false
	}
	if !parsed && !headerCanonical(h, true) {
		return false
	}
	w.handlerHeader = h
	w.calledHeader = true
	w.adopted = true
	return true
}

// copyScratch returns memory the direct path may copy an answer's body
// through in place of a 32 KiB buffer from copyBuffers (which costs a
// channel operation on a lock shared by every request, twice): the
// connection's body buffer, which a response no longer uses once its
// header is on the wire with the body going straight to the connection
// (committed, no body buffer in use). Only for an unchunked body of
// length bytes that fits in it: the sizes of the reads then change
// nothing the client sees (chunks would), and a larger body would take
// more reads and writes than with 32 KiB. Otherwise nil.
func copyScratch(w http.ResponseWriter, length int64) []byte {
	if rw := h1ResponseOf(w); rw != nil {
		return rw.copyScratch(length)
	}
	return nil
}

func (w *h1Response) copyScratch(length int64) []byte {
	if !w.committed || w.w != nil || w.chunking || w.conn.hijacked || length < 0 {
		return nil
	}
	b := w.conn.bodyBuf.AvailableBuffer()
	if int64(cap(b)) <= length {
		return nil
	}
	return b[:cap(b)]
}
