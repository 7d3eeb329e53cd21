package gateway

import (
	"encoding/hex"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/forgeproof/forgeproof/mtls"
)

// finish writes the access-log line and the request metrics of one
// request, which took elapsed.
func (g *Gateway) finish(r *http.Request, rec *recorder, x *exchange, elapsed time.Duration) {
	if x.reason == "" && answerStalled(x.conn) {
		x.reason = reasonClientStalled
	}
	if x.reason == "" && rec.kept != nil {
		if why := rec.kept.refused.Load(); why != nil {
			x.reason = *why // a WebSocket closed by its re-check
		}
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
		if x.reason == reasonClientGone {
			status = 499 // nginx's "client closed request": nothing was sent
		}
	}
	routeName := ""
	var rm *routeMetrics
	if x.route != nil {
		routeName = x.route.name
		// The route's children, kept on the route: no lookup by name.
		if rm = x.route.metrics.Load(); rm == nil {
			rm = g.metrics.route(routeName)
			x.route.metrics.Store(rm)
		}
	} else {
		rm = g.metrics.route("")
	}
	g.metrics.observeRoute(rm, routeName, status, elapsed.Seconds())
	if x.authzDenied {
		g.metrics.authzDenials.WithLabelValues(routeName, string(x.reason)).Inc()
	}
	if x.reason == ReasonUpstreamUpgradeRefused || x.reason == ReasonUpstreamBusy {
		g.metrics.upstreamRefusals.WithLabelValues(routeName, string(x.reason)).Inc()
	}
	if d := x.dropped; d != (dropped{}) {
		g.metrics.countDropped(routeName, d)
	}
	if x.csrfReason != "" {
		mode := "enforced"
		if !x.csrfEnforced {
			mode = "report-only"
		}
		g.metrics.csrfRefusals.WithLabelValues(routeName, x.csrfReason, mode).Inc()
	}

	if !g.log.Enabled(r.Context(), slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", logText(r.Method, logMaxName)),
		slog.String("host", logText(r.Host, logMaxName)),
		slog.String("path", logText(r.URL.Path, logMaxPath)),
		slog.String("route", routeName),
		slog.Int("status", status),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", elapsed),
		slog.String("peer", r.RemoteAddr),
		slog.String("proto", r.Proto),
		slog.String("decision", x.decision),
	}
	if r.TLS != nil {
		// The connection's SNI: with the peer address, which connection
		// a request came on (HTTP/2 reuses one across host names).
		attrs = append(attrs, slog.String("server_name", logText(r.TLS.ServerName, logMaxName)))
	}
	if x.reason != "" {
		attrs = append(attrs, slog.String("reason", string(x.reason)))
	}
	if x.csrfReason != "" {
		// What the CSRF check read: the origin to add to trusted-origins
		// (or the attacker's page) is otherwise nowhere in the log. Of
		// the Referer, its origin only: a page's path and query may hold
		// secrets (a reset link's token), as the request's query may.
		if v := r.Header.Get("Origin"); v != "" {
			attrs = append(attrs, slog.String("origin", logValue(v)))
		}
		if v := r.Header.Get("Sec-Fetch-Site"); v != "" {
			attrs = append(attrs, slog.String("sec_fetch_site", logValue(v)))
		}
		if v := r.Header.Get("Referer"); v != "" {
			attrs = append(attrs, slog.String("referer_origin", logValue(refererOrigin(v))))
		}
	}
	if x.preflight {
		// Let through without an identity: say so.
		attrs = append(attrs, slog.Bool("cors_preflight", true))
	}
	if x.hasIdentity {
		attrs = append(attrs,
			slog.String("identity", logText(x.identity.String(), logMaxIdentity)),
			slog.String("identity_source", identitySource(*x.identity)),
			slog.String("spki_sha256", spkiHex(*x.identity)))
	}
	g.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// identitySource is how the access log says where an identity came from.
func identitySource(id mtls.Identity) string {
	if id.Forwarded {
		return "forwarded"
	}
	return "connection"
}

// spkiHex is the identity's SPKI SHA-256 in hexadecimal, or "" when
// unknown (a forwarded identity without its certificate).
func spkiHex(id mtls.Identity) string {
	if id.SPKISHA256 == ([32]byte{}) {
		return ""
	}
	return hex.EncodeToString(id.SPKISHA256[:])
}

// refererOrigin is the scheme://host[:port] of a Referer, or
// "(not a URL)".
func refererOrigin(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "(not a URL)"
	}
	return u.Scheme + "://" + u.Host
}

// logValue is logText for a client-sent header value: at most 256 bytes.
func logValue(v string) string { return logText(v, 256) }

// Caps of the client-chosen values logText writes to the log.
const (
	logMaxPath     = 2048 // nginx's large_client_header_buffers is 8k for the whole line
	logMaxName     = 256  // host names (Host, SNI: a DNS name is at most 253), methods
	logMaxIdentity = 1024 // a certificate subject or SPIFFE ID
)

// logText makes a client-chosen value (a path, a Host, an SNI, a
// certificate subject) safe for either log format: at most max bytes
// (then cut at a character boundary and ended with "…"), and with every
// byte or character that is not printable written as a Go escape
// (strconv.Quote's, without the outer quotes: \n, \x1b, \x7f,
// \u009b, \u202e, a byte of invalid UTF-8 as \xNN), and so a
// backslash as \\ and a quote as \", so that an escape in the log
// always stands for what the client sent. slog's text handler quotes such
// values itself, but its JSON handler writes DEL, the C1 controls (U+009B
// is CSI to terminals that read 8-bit controls) and bidirectional
// overrides raw: a value read in a terminal (jq, less -R, kubectl logs)
// could recolour or rewrite what is shown. The usual value, printable
// ASCII without a backslash, is returned as it is, with no allocation.
func logText(s string, max int) string {
	clean := len(s) <= max
	for i := 0; i < len(s) && clean; i++ {
		clean = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\'
	}
	if clean {
		return s
	}
	cut := false
	if len(s) > max {
		// Not inside a character: back to its first byte, at most
		// UTFMax-1 bytes back; else the bytes are no character (cut at
		// max), and backing over a run of them would drop what came
		// before ("/admin" and 2048 bytes 0x80 logged as "/admi…").
		n := max
		for i := 1; i < utf8.UTFMax && n > 0 && !utf8.RuneStart(s[n]); i++ {
			n--
		}
		if !utf8.RuneStart(s[n]) {
			n = max
		}
		s, cut = s[:n], true
	}
	q := strconv.Quote(s)
	q = q[1 : len(q)-1]
	if cut {
		q += "…"
	}
	return q
}

// serialHex is a certificate serial number as "forgeproof pki" prints it
// and "forgeproof pki revoke --serial" takes it (0x-hex).
func serialHex(n *big.Int) string {
	if n == nil {
		return ""
	}
	return "0x" + n.Text(16)
}
