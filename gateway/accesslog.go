package gateway

import (
	"encoding/hex"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/forgeproof/forgeproof/internal/logtext"
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
		slog.String("method", logtext.Clean(r.Method, logtext.MaxName)),
		slog.String("host", logtext.Clean(r.Host, logtext.MaxName)),
		slog.String("path", logtext.Clean(r.URL.Path, logtext.MaxPath)),
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
		attrs = append(attrs, slog.String("server_name", logtext.Clean(r.TLS.ServerName, logtext.MaxName)))
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
			slog.String("identity", logtext.Clean(x.identity.String(), logtext.MaxIdentity)),
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

// logValue is logtext.Clean for a client-sent header value: at most 256
// bytes.
func logValue(v string) string { return logtext.Clean(v, 256) }

// serialHex is a certificate serial number as "forgeproof pki" prints it
// and "forgeproof pki revoke --serial" takes it (0x-hex).
func serialHex(n *big.Int) string {
	if n == nil {
		return ""
	}
	return "0x" + n.Text(16)
}
