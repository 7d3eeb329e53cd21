package gateway

import (
	"bufio"
	"net/http"
	"net/textproto"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// writeRequest writes req's head to bw as (*http.Request).Write writes
// it, byte for byte, for a request without a body (what the upstream
// exchange sends that way), its fields sorted in buf (the upstream
// connection's); anything else it leaves to (*http.Request).Write.
//
// Why: under keep-alive load, Request.Write spent about 3 µs of the
// gateway's CPU per request, most of it in writing the header: a sort
// through a sync.Pool and a comparison function, and a strings.Replacer
// run over every value, the forwarded certificate's 540 bytes among
// them (bench/NOTES.md). Here writeFields (h1proxied.go) sorts the names
// in buf and copies a value as it is when it has nothing to replace or
// trim.
// TestWriteRequestMatches and FuzzWriteRequest compare the two writers.
func writeRequest(bw *bufio.Writer, req *http.Request, buf *fieldBuf) error {
	if !writesOwnHead(req) {
		return req.Write(bw)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	// Request.Write: httpguts.PunycodeHostPort leaves an ASCII host as it
	// is (writesOwnHead sent the others away); an invalid Host is sent
	// empty (not to a proxy); removeZone changes only "[" hosts, also
	// sent away.
	if !httpguts.ValidHostHeader(host) {
		host = ""
	}
	ruri := req.URL.RequestURI()
	if containsCTL(ruri) {
		return req.Write(bw) // its error
	}
	method := req.Method
	if method == "" {
		method = "GET"
	}
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(ruri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")

	userAgent := "Go-http-client/1.1" // net/http's defaultUserAgent
	if v, ok := req.Header["User-Agent"]; ok {
		userAgent = ""
		if len(v) > 0 {
			userAgent = v[0] // req.Header.Get("User-Agent")
		}
	}
	if userAgent != "" {
		bw.WriteString("User-Agent: ")
		writeHeaderValue(bw, userAgent)
		bw.WriteString("\r\n")
	}
	// The transfer writer's header for no body: "Content-Length: 0" for
	// the methods many servers expect one with.
	switch method {
	case "POST", "PUT", "PATCH":
		bw.WriteString("Content-Length: 0\r\n")
	}

	// Header.writeSubset with net/http's reqWriteExcludeHeader.
	writeFields(bw, req.Header, reqWriteExclude, buf)
	_, err := bw.WriteString("\r\n")
	return err
}

// writesOwnHead reports whether writeRequest writes req itself: no body,
// no Connection: close to add, no trace to report to, a host that
// Request.Write would not rewrite, and not the CONNECT form whose target
// is the host.
func writesOwnHead(req *http.Request) bool {
	if req.Body != nil || req.ContentLength != 0 || len(req.TransferEncoding) != 0 || req.Close || req.URL == nil {
		return false
	}
	if req.Method == "CONNECT" && req.URL.Path == "" {
		return false
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			return false // Request.Write converts it to Punycode
		}
	}
	if strings.HasPrefix(host, "[") {
		return false // Request.Write removes an IPv6 zone
	}
	return !clientTraced(req.Context())
}

// headerNewlineToSpace is net/http's.
var headerNewlineToSpace = strings.NewReplacer("\n", " ", "\r", " ")

// writeHeaderValue writes v as net/http's header writer does: CR and LF
// turned into spaces, then spaces and tabs trimmed at both ends.
func writeHeaderValue(bw *bufio.Writer, v string) {
	if strings.IndexByte(v, '\n') >= 0 || strings.IndexByte(v, '\r') >= 0 {
		v = headerNewlineToSpace.Replace(v)
	}
	bw.WriteString(textproto.TrimString(v))
}

// reqWriteExclude is net/http's reqWriteExcludeHeader: the fields
// Request.Write writes itself or leaves out.
func reqWriteExclude(name string) bool {
	switch name {
	case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// containsCTL is net/http's stringContainsCTLByte.
func containsCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < ' ' || b == 0x7f {
			return true
		}
	}
	return false
}
