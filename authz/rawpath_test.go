package authz_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/pki"
)

// TestNginxRawPathReadings: nginx's proxy_pass without a URI part
// forwards the request target as the client sent it, byte for byte,
// while Go's URL.EscapedPath drops the raw path when it has a byte Go
// would escape ('|', '"', '{', '\\', UTF-8) and re-encodes the decoded
// one, losing "%2F" and "%70". The readings that serve computes on the
// path it forwards must then be computed on what nginx forwards: a public
// path whose "%2F" an upstream keeps inside a segment (Go's ServeMux,
// Envoy) reaches another route's handler without an identity. Each has
// its refused twin without the extra byte (path-ambiguous already), and
// an allowed twin with the byte but no escape.
func TestNginxRawPathReadings(t *testing.T) {
	r := newRig(t)
	u := newWireUpstream(t)
	r.upstream = u.ln.Addr().String()
	r.startAuthz("../docs/integrations/nginx.md")
	r.startNginx(true)
	for _, tc := range []struct {
		target string
		status int
		reason string
	}{
		{"/public/rates|", 200, ""},   // allowed twin: '|' alone
		{"/public/r%C3%A9|", 200, ""}, // an escape that means the same to every reader
		{"/public%2Fapi/balance", 400, "path-ambiguous"},
		{"/public%2Fapi/balance|", 400, "path-ambiguous"},
		{"/public%2Fapi/balance\"", 400, "path-ambiguous"},
		{"/public%2Fapi/{x}", 400, "path-ambiguous"},
		{"/public%2Fapi/balance\xc3\xa9", 400, "path-ambiguous"},
		{"/%70ublic/rates", 400, "path-ambiguous"},
		{"/%70ublic/rates|", 400, "path-ambiguous"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			before := len(u.all())
			st, reason := r.sendRaw(nil, "GET "+tc.target+" HTTP/1.1\r\nHost: "+r.hostPort()+"\r\nConnection: close\r\n\r\n")
			got := u.all()[before:]
			if st != tc.status || reason != tc.reason {
				var lines []string
				for _, q := range got {
					lines = append(lines, q.line)
				}
				t.Fatalf("got %d %q, want %d %q; the upstream received %q", st, reason, tc.status, tc.reason, lines)
			}
			switch {
			case tc.status == 200 && (len(got) != 1 || got[0].line != "GET "+tc.target+" HTTP/1.1"): // proxy_http_version 1.1
				t.Fatalf("allowed, but the upstream received %v", got)
			case tc.status != 200 && len(got) != 0:
				t.Fatalf("refused, but the upstream received %q", got[0].line)
			}
		})
	}
}

// TestRawPathReadingsQuestion is TestNginxRawPathReadings without nginx:
// the question nginx sends for each target (X-Forwarded-Uri is
// $request_uri, as sent), answered by the decision service.
func TestRawPathReadingsQuestion(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md")
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	for _, tc := range []struct{ uri, reason string }{
		{"/public/rates|", ""},
		{"/public/rates?x=%2F|", ""},
		{"/public%2Fapi/balance|", "path-ambiguous"},
		{"/%70ublic/rates|?x=1", "path-ambiguous"},
	} {
		req, _ := http.NewRequest("GET", "http://"+r.authz+"/nginx", nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Uri", tc.uri)
		req.Header.Set("X-Forwarded-Host", "localhost")
		req.Header.Set("X-Forwarded-Proto", "https")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get(authz.HeaderReason); got != tc.reason || (tc.reason == "") != (resp.StatusCode == 200) {
			t.Errorf("%s: got %d %q, want reason %q", tc.uri, resp.StatusCode, got, tc.reason)
		}
	}
}

// wireUpstream records each request as it arrives on the wire: the
// request line and the headers, unparsed by net/http.
type wireUpstream struct {
	ln   net.Listener
	mu   sync.Mutex
	reqs []wireReq
}

type wireReq struct {
	line string
	h    textproto.MIMEHeader
	body string
}

func newWireUpstream(t *testing.T) *wireUpstream {
	u := &wireUpstream{}
	u.ln = serveTCP(t, func(c net.Conn) { u.serve(c) })
	return u
}

func (u *wireUpstream) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewReader(bufio.NewReader(c))
	line, err := tp.ReadLine()
	if err != nil {
		return
	}
	h, _ := tp.ReadMIMEHeader()
	var body []byte
	if n, err := strconv.Atoi(h.Get("Content-Length")); err == nil {
		body = make([]byte, n)
		io.ReadFull(tp.R, body)
	} else if h.Get("Transfer-Encoding") != "" {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		body, _ = io.ReadAll(tp.R)
	}
	u.mu.Lock()
	u.reqs = append(u.reqs, wireReq{line, h, string(body)})
	u.mu.Unlock()
	io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nupstream ok")
}

func (u *wireUpstream) all() []wireReq {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]wireReq(nil), u.reqs...)
}

// sendRaw writes raw (a whole HTTP/1.1 request, CRLFs included) to the
// proxy over TLS with cert and returns the status and reason code.
func (r *rig) sendRaw(cert *pki.Cert, raw string) (int, string) {
	r.t.Helper()
	cfg := &tls.Config{RootCAs: r.pki.CA.Pool(), ServerName: "localhost", NextProtos: []string{"http/1.1"}}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cert == nil {
			return &tls.Certificate{}, nil
		}
		c := cert.TLSCertificate()
		return &c, nil
	}
	c, err := tls.Dial("tcp", strings.TrimPrefix(r.base, "https://"), cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		r.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "no response: " + err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var p struct{ Reason string }
	json.Unmarshal(b, &p)
	if p.Reason == "" {
		p.Reason = resp.Header.Get("Forgeproof-Reason")
	}
	return resp.StatusCode, p.Reason
}

func (r *rig) hostPort() string { return strings.TrimPrefix(r.base, "https://") }
