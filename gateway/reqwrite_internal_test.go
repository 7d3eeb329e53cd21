package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"testing"
)

// writeBoth writes req with writeRequest and with (*http.Request).Write
// and returns both outputs and errors.
func writeBoth(req *http.Request) (own, std string, ownErr, stdErr error) {
	var a, b bytes.Buffer
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	bw := bufio.NewWriter(&a)
	ownErr = writeRequest(bw, req, new(fieldBuf))
	bw.Flush()
	if req.Body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	bw = bufio.NewWriter(&b)
	stdErr = req.Write(bw)
	bw.Flush()
	return a.String(), b.String(), ownErr, stdErr
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// writeRequest writes what (*http.Request).Write writes, for the
// requests it writes itself and for those it leaves to it.
func TestWriteRequestMatches(t *testing.T) {
	many := http.Header{}
	for i := range 40 {
		many[fmt.Sprintf("X-H%02d", 39-i)] = []string{fmt.Sprint(i)}
	}
	cases := []struct {
		name   string
		method string
		host   string
		url    string
		header http.Header
		own    bool // writeRequest writes it itself
		body   bool
		close  bool
	}{
		{name: "plain-get", method: "GET", host: "app.example", url: "http://10.0.0.1:8080/a/b?x=1&y=2", own: true,
			header: http.Header{"Accept": {"*/*"}, "Client-Cert": {":" + strings.Repeat("QUJD", 135) + ":"}, "X-Forwarded-For": {"127.0.0.1"}}},
		{name: "empty-method", method: "", host: "h", url: "http://h/", own: true},
		{name: "head", method: "HEAD", host: "h", url: "http://h/x", own: true},
		{name: "post-no-body", method: "POST", host: "h", url: "http://h/x", own: true},
		{name: "put-patch-delete", method: "PATCH", host: "h", url: "http://h/x", own: true},
		{name: "delete", method: "DELETE", host: "h", url: "http://h/x", own: true},
		{name: "options", method: "OPTIONS", host: "h", url: "http://h/x", own: true},
		{name: "host-from-url", method: "GET", host: "", url: "http://from-url:81/p", own: true},
		{name: "invalid-host-sent-empty", method: "GET", host: "bad host\x7f", url: "http://h/", own: true},
		{name: "escaped-path", method: "GET", host: "h", url: "http://h/a%2Fb/c%20d?q=%41", own: true},
		{name: "empty-path", method: "GET", host: "h", url: "http://h", own: true},
		{name: "force-query", method: "GET", host: "h", url: "http://h/p?", own: true},
		{name: "user-agent-set", method: "GET", host: "h", url: "http://h/", own: true, header: http.Header{"User-Agent": {"curl/8", "second"}}},
		{name: "user-agent-empty", method: "GET", host: "h", url: "http://h/", own: true, header: http.Header{"User-Agent": {""}}},
		{name: "user-agent-no-values", method: "GET", host: "h", url: "http://h/", own: true, header: http.Header{"User-Agent": nil}},
		{name: "user-agent-newlines", method: "GET", host: "h", url: "http://h/", own: true, header: http.Header{"User-Agent": {" a\r\nb \t"}}},
		{name: "values-trimmed-replaced", method: "GET", host: "h", url: "http://h/", own: true,
			header: http.Header{"A": {"  lead", "trail\t ", "mid\ndle", "cr\rlf\r\n", "\r\n", ""}, "B": {}}},
		{name: "excluded-names", method: "POST", host: "h", url: "http://h/", own: true,
			header: http.Header{"Host": {"other"}, "Content-Length": {"5"}, "Transfer-Encoding": {"chunked"}, "Trailer": {"X"}, "X": {"y"}}},
		{name: "invalid-names-dropped", method: "GET", host: "h", url: "http://h/", own: true,
			header: http.Header{"Bad Name": {"v"}, "Bad:Name": {"v"}, "": {"v"}, "Ok": {"v"}, "x-lower": {"v"}, "Ünicode": {"v"}}},
		{name: "connection-close-in-header", method: "GET", host: "h", url: "http://h/", own: true, header: http.Header{"Connection": {"close"}}},
		{name: "many-headers", method: "GET", host: "h", url: "http://h/", own: true, header: many},
		{name: "sort-order", method: "GET", host: "h", url: "http://h/", own: true,
			header: http.Header{"b": {"1"}, "B": {"2"}, "A-B": {"3"}, "A": {"4"}, "a": {"5"}, "Z": {"6"}, "A_": {"7"}}},
		// Left to Request.Write.
		{name: "close", method: "GET", host: "h", url: "http://h/", close: true},
		{name: "close-with-header", method: "GET", host: "h", url: "http://h/", close: true, header: http.Header{"Connection": {"keep-alive, close"}}},
		{name: "body", method: "POST", host: "h", url: "http://h/", body: true},
		{name: "unicode-host", method: "GET", host: "bücher.example", url: "http://h/"},
		{name: "ipv6-zone", method: "GET", host: "[fe80::1%25eth0]:80", url: "http://h/"},
		{name: "ipv6", method: "GET", host: "[::1]:80", url: "http://h/"},
		{name: "connect", method: "CONNECT", host: "h:443", url: "http://h:443"},
		{name: "ctl-in-uri", method: "GET", host: "h", url: "http://h/", own: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &http.Request{Method: c.method, Host: c.host, URL: mustURL(t, c.url), Header: c.header, Close: c.close}
			if req.Header == nil {
				req.Header = http.Header{}
			}
			if c.name == "ctl-in-uri" {
				req.URL.RawQuery = "a\x01b"
			}
			if c.body {
				req.Body = io.NopCloser(strings.NewReader("hello"))
				req.ContentLength = 5
			}
			if got := writesOwnHead(req); got != c.own && c.name != "ctl-in-uri" {
				t.Fatalf("writesOwnHead = %v, want %v", got, c.own)
			}
			own, std, ownErr, stdErr := writeBoth(req)
			if fmt.Sprint(ownErr) != fmt.Sprint(stdErr) {
				t.Fatalf("errors differ: own %v, Request.Write %v", ownErr, stdErr)
			}
			if own != std {
				t.Fatalf("bytes differ:\nown: %q\nstd: %q", own, std)
			}
			if c.name == "ctl-in-uri" && stdErr == nil {
				t.Fatal("the control character case wrote without an error: it tests nothing")
			}
		})
	}
}

// A request with a client trace goes to Request.Write, which reports to
// it; one without is written directly (the negative control of the
// trace case: the same request without a trace).
func TestWriteRequestTrace(t *testing.T) {
	req := &http.Request{Method: "GET", Host: "h", URL: mustURL(t, "http://h/"), Header: http.Header{"A": {"b"}}}
	if !writesOwnHead(req) {
		t.Fatal("a request without a trace was not written directly")
	}
	var fields []string
	trace := &httptrace.ClientTrace{WroteHeaderField: func(k string, _ []string) { fields = append(fields, k) }}
	req = req.WithContext(httptrace.WithClientTrace(context.Background(), trace))
	if writesOwnHead(req) {
		t.Fatal("a request with a trace was written directly")
	}
	if _, _, err, _ := writeBoth(req); err != nil {
		t.Fatal(err)
	}
	if len(fields) == 0 {
		t.Fatal("the trace saw no header field")
	}
}

// FuzzWriteRequest: for any method, host, target and header, writeRequest
// writes what Request.Write writes, or fails as it does.
func FuzzWriteRequest(f *testing.F) {
	f.Add("GET", "h", "/p?q=1", "Accept", "*/*", "User-Agent", "x", false)
	f.Add("POST", "", "/a%2Fb", "X", " a\r\nb ", "Client-Cert", ":QUJD:", false)
	f.Add("", "bad host", "/", "Bad Name", "v", "user-agent", "", true)
	f.Add("CONNECT", "h:443", "", "Host", "x", "Trailer", "y", false)
	f.Fuzz(func(t *testing.T, method, host, target, k1, v1, k2, v2 string, closeConn bool) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			u = &url.URL{Path: target}
		}
		u.Host = "upstream:8080"
		req := &http.Request{Method: method, Host: host, URL: u, Close: closeConn,
			Header: http.Header{k1: {v1}, k2: {v2, v1}}}
		own, std, ownErr, stdErr := writeBoth(req)
		if fmt.Sprint(ownErr) != fmt.Sprint(stdErr) {
			t.Fatalf("errors differ: own %v, Request.Write %v", ownErr, stdErr)
		}
		if own != std {
			t.Fatalf("bytes differ:\nown: %q\nstd: %q", own, std)
		}
	})
}

// clientTraced finds a trace wherever it is: on the request's own
// context (found once per connection), on a context over it, or on any
// other; a request's context without one is written directly.
func TestClientTraced(t *testing.T) {
	trace := &httptrace.ClientTrace{WroteHeaderField: func(string, []string) {}}
	untraced := newTestReqCtx()
	traced := &h1ReqCtx{Context: httptrace.WithClientTrace(context.Background(), trace), traced: true}
	cases := []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"own-context", untraced, false},
		{"exchange-on-own-context", &exchangeContext{Context: untraced, x: &exchange{}}, false},
		{"trace-on-own-context", httptrace.WithClientTrace(untraced, trace), true},
		{"trace-under-own-context", traced, true},
		{"exchange-on-traced-own-context", &exchangeContext{Context: traced, x: &exchange{}}, true},
		{"plain-context", context.Background(), false},
		{"plain-traced", httptrace.WithClientTrace(context.Background(), trace), true},
	}
	for _, c := range cases {
		if got := clientTraced(c.ctx); got != c.want {
			t.Errorf("%s: clientTraced = %v, want %v", c.name, got, c.want)
		}
	}
}
