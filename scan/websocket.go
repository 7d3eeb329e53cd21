package scan

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/ascii"
)

// A WebSocket endpoint is an Endpoint with Method "WS" and the socket's
// URL (ws:, wss:, or http(s): of the target, or a path) as its Path. It
// is probed with handshakes only: the scanner never sends a message.
const methodWS = "WS"

// wsGUID is RFC 6455's constant for Sec-WebSocket-Accept.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsToHTTP maps a ws: or wss: URL to the http: or https: URL of the same
// origin, the form the scanner keeps; other references are unchanged.
func wsToHTTP(ref string) string {
	lower := strings.ToLower(ref)
	switch {
	case strings.HasPrefix(lower, "wss://"):
		return "https://" + ref[len("wss://"):]
	case strings.HasPrefix(lower, "ws://"):
		return "http://" + ref[len("ws://"):]
	}
	return ref
}

// httpToWS is the ws: or wss: URL of an http: or https: one, for reports.
func httpToWS(u *url.URL) string {
	c := cloneURL(u)
	switch c.Scheme {
	case "https":
		c.Scheme = "wss"
	case "http":
		c.Scheme = "ws"
	}
	return c.String()
}

// Handshake header sets. Chromium sends no Fetch Metadata on a WebSocket
// handshake (checked with Chromium 156: e2e's
// TestCrossSiteWebSocketCarriesCertificate), only Origin; from another
// site it attaches the SameSite=None cookies and presents the client
// certificate.
var (
	ctxWSSameOrigin = browserContext{"same-origin WebSocket handshake (new WebSocket on the service's own page)", func(h http.Header, t *url.URL) {
		h.Set("Origin", origin(t))
	}, cookiesAll}
	ctxWSCrossSite = browserContext{"cross-site WebSocket handshake (new WebSocket on another site's page)", func(h http.Header, t *url.URL) {
		h.Set("Origin", attackerOrigin)
	}, cookiesCrossSiteSubresource}
)

// wsRequest is a WebSocket handshake to u in context c.
func wsRequest(u *url.URL, c browserContext, j *jar, target *url.URL, anonymous bool) *request {
	r := &request{Method: "GET", URL: cloneURL(u), Header: http.Header{}, Anonymous: anonymous}
	r.Header.Set("User-Agent", userAgent)
	r.Header.Set("Pragma", "no-cache")
	r.Header.Set("Cache-Control", "no-cache")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	c.headers(r.Header, target)
	if j != nil && !anonymous {
		r.Cookies = j.pick(c.cookies)
	}
	return r
}

// wsAnswer is what a handshake got.
type wsAnswer struct {
	status   int
	upgraded bool   // 101 with a valid Sec-WebSocket-Accept: a browser opens the socket
	why      string // why it is not upgraded, for notes and evidence
}

// handshake sends a WebSocket opening handshake (one HTTP/1.1 GET with
// the Upgrade headers, as browsers send it) and reads the answer's status
// line and headers; the connection is closed at once, no message is ever
// sent. It is subject to the same scope, rate and request cap as send.
func (s *sender) handshake(ctx context.Context, r *request) (*wsAnswer, error) {
	if !sameOrigin(r.URL, s.target) {
		return nil, fmt.Errorf("%w: %s", errScope, r.URL.Redacted())
	}
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	rand.Read(key)
	r.Header.Set("Sec-WebSocket-Key", base64.StdEncoding.EncodeToString(key))

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	conn, err := s.dialHTTP1(ctx, r.URL, r.Anonymous)
	if err != nil {
		if parent.Err() != nil {
			return nil, fmt.Errorf("%w: %v", errCanceled, parent.Err())
		}
		return nil, err
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", r.URL.String(), nil)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if len(r.Cookies) > 0 {
		req.Header.Set("Cookie", cookieHeader(r.Cookies))
	}
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("GET %s: writing the handshake: %v", r.URL.Redacted(), err)
	}
	// ReadResponse has no header limit: a hostile service could send
	// headers until the timeout, all kept in memory.
	lim := &io.LimitedReader{R: conn, N: maxHeader}
	resp, err := http.ReadResponse(bufio.NewReader(lim), req)
	if err != nil {
		if lim.N <= 0 {
			err = fmt.Errorf("its header is larger than %d bytes, the scanner's limit", maxHeader)
		}
		if parent.Err() != nil {
			return nil, fmt.Errorf("%w: %v", errCanceled, parent.Err())
		}
		err = s.late(ctx, err)
		return nil, fmt.Errorf("GET %s: reading the handshake's answer: %v", r.URL.Redacted(), err)
	}
	lim.N = maxBody
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	a := &wsAnswer{status: resp.StatusCode}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + wsGUID))
	switch {
	case resp.StatusCode != http.StatusSwitchingProtocols:
		a.why = fmt.Sprintf("answered %d, not 101", resp.StatusCode)
	case !headerHas(resp.Header, "Upgrade", "websocket"):
		a.why = "answered 101 without Upgrade: websocket"
	case resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]):
		a.why = "answered 101 with a wrong Sec-WebSocket-Accept (a browser fails the connection)"
	default:
		a.upgraded = true
	}
	return a, nil
}

// headerHas reports whether a comma-separated header holds token. Only
// spaces and tabs surround a token, and case folds in ASCII only, as
// browsers read it: strings.EqualFold would take "websocKet" (Kelvin sign)
// for "websocket", and an answer a browser fails for an upgrade.
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for p := range strings.SplitSeq(v, ",") {
			if ascii.EqualFold(strings.Trim(p, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// dialHTTP1 opens a connection to u's host for one HTTP/1.1 exchange:
// TLS for https (with the victim's configuration, or the anonymous one),
// offering http/1.1 only, as browsers do for a WebSocket.
func (s *sender) dialHTTP1(ctx context.Context, u *url.URL, anonymous bool) (net.Conn, error) {
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "https" {
		return conn, nil
	}
	cfg := s.victimTLS
	if anonymous {
		cfg = s.anonTLS
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// probeWebSocket tests one WebSocket endpoint: the same-origin handshake
// is the baseline; a cross-site one that is upgraded too is a finding.
func (sc *scanner) probeWebSocket(ctx context.Context, e *Endpoint) (bool, error) {
	u, _ := resolve(sc.target, wsToHTTP(e.Path)) // validated
	res := EndpointResult{Method: methodWS, URL: httpToWS(u), Source: e.source}
	defer func() { sc.report.Endpoints = append(sc.report.Endpoints, res) }()
	sc.progress("testing WebSocket %s", httpToWS(u))

	base, err := sc.send.handshake(ctx, wsRequest(u, ctxWSSameOrigin, sc.victim, sc.target, false))
	if err != nil {
		if fatal(err) {
			return false, err
		}
		res.Note = "the same-origin handshake failed: " + err.Error()
		return false, nil
	}
	if !base.upgraded {
		// Nothing to compare with: a refusal of the forgery would prove
		// nothing (inconclusive), and neither would an upgrade.
		res.Note = "inconclusive: the same-origin handshake " + base.why + ", so a cross-site one cannot be judged (is the path right, or does the socket need a session?)"
		return false, nil
	}
	res.Assessed, res.Oracle = true, OracleObserved

	r := wsRequest(u, ctxWSCrossSite, sc.victim, sc.target, false)
	cross, err := sc.send.handshake(ctx, r)
	if err != nil {
		if fatal(err) {
			return true, err
		}
		sc.note("WS %s: the cross-site handshake failed: %v", httpToWS(u), err)
		return true, nil
	}
	if !cross.upgraded {
		return true, nil
	}
	carried := "the client certificate"
	if len(r.Cookies) > 0 {
		var names []string
		for _, c := range r.Cookies {
			names = append(names, c.Name)
		}
		carried += " and the cookies " + strings.Join(names, ", ")
	} else {
		carried += " and no cookie"
	}
	if !sc.hasClientCert() {
		carried = strings.Replace(carried, "the client certificate", "no client certificate (none configured)", 1)
	}
	evidence := fmt.Sprintf("A %s from Origin %s carrying %s was upgraded (101 Switching Protocols with a valid Sec-WebSocket-Accept), like the same-origin handshake: a page on any site can open this socket as the user, send messages on it and read the answers.", ctxWSCrossSite.name, attackerOrigin, carried)
	// Does the socket need credentials at all? A socket that opens for
	// anyone may serve nothing private; say so, the finding stands.
	anon, err := sc.send.handshake(ctx, wsRequest(u, ctxWSCrossSite, nil, sc.target, true))
	if err != nil && fatal(err) {
		return true, err
	}
	if err == nil && anon.upgraded {
		evidence += " It also opened with no client certificate and no cookie: if the socket serves nothing private to the user, the risk is low."
	}
	args := append([]string{"--http1.1"}, sc.cfg.CurlTLSArgs...)
	sc.add(newFinding(RuleWebSocketCrossSite, Confirmed, OracleObserved, Finding{
		Method:    methodWS,
		URL:       httpToWS(u),
		Probe:     ctxWSCrossSite.name,
		Evidence:  evidence,
		Reproduce: curlCommand(r, args),
	}))
	return true, nil
}

// WebSocket URLs in pages and scripts: absolute ws: and wss: URLs, and
// the first argument of new WebSocket(…) when it is a string, a template
// or a concatenation built on location.host.
var (
	wsAbsolute    = regexp.MustCompile(`(?i)\bwss?://[^\s"'` + "`" + `<>\\)]+`)
	wsConstructor = regexp.MustCompile(`new\s+WebSocket\s*\(`)
	jsString      = regexp.MustCompile(`"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|` + "`([^`]*)`")
	jsTemplateVar = regexp.MustCompile(`\$\{\s*(?:window\.|document\.|self\.)?location\.(host|hostname|port|protocol)\s*\}`)
)

// maxWebSocketURLs bounds the WebSocket URLs taken from one page.
const maxWebSocketURLs = 20

// findWebSockets returns the WebSocket URLs that body (an HTML page or a
// script served at page) names, as http(s) URLs resolved against page.
// It reads the source as text: it finds literal URLs and the common ways
// of building one from location, not every way a script can compute it
// (the browser mode sees the sockets a page really opens).
func findWebSockets(body []byte, page *url.URL) []*url.URL {
	var refs []string
	for _, m := range wsAbsolute.FindAll(body, maxWebSocketURLs) {
		refs = append(refs, strings.TrimRight(string(m), ".,;"))
	}
	src := string(body)
	for _, loc := range wsConstructor.FindAllStringIndex(src, maxWebSocketURLs) {
		if ref, ok := wsArgument(src[loc[1]:], page); ok {
			refs = append(refs, ref)
		}
	}
	seen := map[string]bool{}
	var out []*url.URL
	for _, ref := range refs {
		u, err := page.Parse(wsToHTTP(ref))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(u.String(), "${") {
			continue
		}
		u.Fragment, u.RawFragment = "", ""
		if !seen[u.String()] {
			seen[u.String()] = true
			out = append(out, u)
		}
	}
	return out
}

// wsArgument reads the first argument of new WebSocket( from rest: a
// string or template literal (location.* in templates replaced by the
// page's), or an expression that uses location.host and one string
// literal that starts with "/" (the path).
func wsArgument(rest string, page *url.URL) (string, bool) {
	// The argument ends at the first top-level "," or ")".
	depth, end := 0, len(rest)
	inStr := byte(0)
scan:
	for i := 0; i < len(rest) && i < 1000; i++ {
		c := rest[i]
		switch {
		case inStr != 0:
			if c == '\\' {
				i++
			} else if c == inStr {
				inStr = 0
			}
		case c == '"' || c == '\'' || c == '`':
			inStr = c
		case c == '(' || c == '[' || c == '{':
			depth++
		case (c == ')' || c == ']' || c == '}') && depth > 0:
			depth--
		case (c == ')' || c == ',') && depth == 0:
			end = i
			break scan
		}
		if i == 999 {
			return "", false
		}
	}
	arg := strings.TrimSpace(rest[:end])
	lits := jsString.FindAllStringSubmatch(arg, -1)
	if len(lits) == 1 && lits[0][0] == arg {
		s := lits[0][1] + lits[0][2] + lits[0][3]
		s = jsTemplateVar.ReplaceAllStringFunc(s, func(m string) string {
			switch jsTemplateVar.FindStringSubmatch(m)[1] {
			case "host":
				return page.Host
			case "hostname":
				return page.Hostname()
			case "port":
				return page.Port()
			}
			return page.Scheme + ":"
		})
		if i := strings.LastIndex(s, "}"); strings.Contains(s, "${") && strings.Contains(lits[0][0], "location.host") {
			// `${proto}://${location.host}/ws`: a computed scheme before
			// the host, taken as the page's.
			switch rest := s[i+1:]; {
			case strings.HasPrefix(rest, "://"):
				s = page.Scheme + rest // wsToHTTP's form
			case strings.HasPrefix(rest, "/"):
				s = rest
			}
		}
		if strings.Contains(s, "${") {
			return "", false // built from values the page alone knows
		}
		return s, true
	}
	if !strings.Contains(arg, "location.host") {
		return "", false
	}
	for _, l := range lits {
		if s := l[1] + l[2] + l[3]; strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
			return s, true
		}
	}
	return "", false
}
