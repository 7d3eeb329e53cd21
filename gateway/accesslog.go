package gateway

import (
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

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
	if x.reason == ReasonUpstreamUpgradeRefused {
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
		slog.String("method", r.Method),
		slog.String("host", r.Host),
		slog.String("path", r.URL.Path),
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
		attrs = append(attrs, slog.String("server_name", r.TLS.ServerName))
	}
	if x.reason != "" {
		attrs = append(attrs, slog.String("reason", string(x.reason)))
	}
	if x.preflight {
		// Let through without an identity: say so.
		attrs = append(attrs, slog.Bool("cors_preflight", true))
	}
	if x.hasIdentity {
		attrs = append(attrs,
			slog.String("identity", x.identity.String()),
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
