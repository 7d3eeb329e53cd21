package browser

import (
	"context"
	"net/http"
	"strings"
)

// Request is what a Recorder saw of one request and its answer.
type Request struct {
	Method string
	Path   string // URL path and query, as sent
	Host   string

	// Origin is the Origin header, "" when absent (not the same as the
	// header value "null").
	Origin    string
	HasOrigin bool
	Referer   string

	// SecFetchSite, SecFetchMode and SecFetchDest are the Fetch Metadata
	// headers, "" when absent.
	SecFetchSite string
	SecFetchMode string
	SecFetchDest string

	ContentType string
	// Cookies are the names of the cookies sent; values are never kept.
	Cookies []string
	// CertCN is the common name of the client certificate presented on
	// the connection, "" when none was.
	CertCN string

	// Status is the status code the wrapped handler answered.
	Status int
}

// Recorder is net/http middleware that records every request it passes on
// and the status answered. It is safe for concurrent use.
type Recorder struct {
	next http.Handler
	log  journal[Request]
}

// NewRecorder returns a Recorder in front of next.
func NewRecorder(next http.Handler) *Recorder {
	return &Recorder{next: next}
}

// ServeHTTP records r after next has answered it, so that a waiter sees the
// request only once its effects are done.
func (rec *Recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	got := Request{
		Method:       r.Method,
		Path:         r.URL.RequestURI(),
		Host:         r.Host,
		Referer:      r.Header.Get("Referer"),
		SecFetchSite: r.Header.Get("Sec-Fetch-Site"),
		SecFetchMode: r.Header.Get("Sec-Fetch-Mode"),
		SecFetchDest: r.Header.Get("Sec-Fetch-Dest"),
		ContentType:  r.Header.Get("Content-Type"),
	}
	if v, ok := r.Header["Origin"]; ok && len(v) > 0 {
		got.Origin, got.HasOrigin = v[0], true
	}
	for _, c := range r.Cookies() {
		got.Cookies = append(got.Cookies, c.Name)
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		got.CertCN = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		got.Status = sw.status
		if got.Status == 0 {
			got.Status = http.StatusOK
		}
		rec.log.add(got)
	}()
	rec.next.ServeHTTP(sw, r)
}

// Requests returns a copy of what was recorded, oldest first.
func (rec *Recorder) Requests() []Request { return rec.log.all() }

// Mark returns a position in the record: Wait(ctx, mark, …) looks only at
// requests recorded after it.
func (rec *Recorder) Mark() int { return rec.log.mark() }

// Wait returns the first request recorded after mark for which match
// returns true, waiting for it until ctx ends.
func (rec *Recorder) Wait(ctx context.Context, mark int, match func(Request) bool) (Request, error) {
	return rec.log.wait(ctx, mark, "a request at the server", match)
}

// To matches requests by method and path (the query is ignored).
func To(method, path string) func(Request) bool {
	return func(r Request) bool {
		p, _, _ := strings.Cut(r.Path, "?")
		return r.Method == method && p == path
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the original writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
