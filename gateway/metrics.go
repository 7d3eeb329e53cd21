package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the gateway's Prometheus metrics, in a registry of its own
// (several gateways in one process, as in tests, do not collide).
type metrics struct {
	reg               *prometheus.Registry
	requests          *prometheus.CounterVec
	duration          *prometheus.HistogramVec
	inFlight          prometheus.Gauge
	csrfRefusals      *prometheus.CounterVec
	authzDenials      *prometheus.CounterVec
	handshakeFailures *prometheus.CounterVec
	headersDropped    *prometheus.CounterVec
	upstreamRefusals  *prometheus.CounterVec
	ambiguous         *prometheus.CounterVec
	proxyRefusals     *prometheus.CounterVec
	certNotAfter      *prometheus.GaugeVec
	crlNextUpdate     *prometheus.GaugeVec
	upstreamNotAfter  *prometheus.GaugeVec
	csrfKeys          *prometheus.GaugeVec // forgeproof_gateway_csrf_key_info
	reloads           *prometheus.CounterVec
	reloadSuccessful  prometheus.Gauge
	reloadSuccessTime prometheus.Gauge
	connections       *prometheus.CounterVec
	stalls            *prometheus.CounterVec

	// routes caches, by route name, the children of requests and
	// duration that every request updates (see routeMetrics).
	routes sync.Map // string → *routeMetrics
}

// routeMetrics are one route's children of the request metrics.
// WithLabelValues hashes the label values and takes a lock on every call;
// a request only needs a map lookup here. Children stay valid because
// requests and duration are never reset.
type routeMetrics struct {
	duration prometheus.Observer
	codes    [len(statusLabels)]atomic.Pointer[counter] // by status code
}

type counter struct{ prometheus.Counter }

// route returns the cached children of route name.
func (m *metrics) route(name string) *routeMetrics {
	if rm, ok := m.routes.Load(name); ok {
		return rm.(*routeMetrics)
	}
	rm, _ := m.routes.LoadOrStore(name, &routeMetrics{duration: m.duration.WithLabelValues(name)})
	return rm.(*routeMetrics)
}

// observe counts one request of the route with the status code and its
// duration.
func (m *metrics) observe(route string, status int, seconds float64) {
	m.observeRoute(m.route(route), route, status, seconds)
}

// observeRoute is observe with the route's children (m.route(route)) at
// hand.
func (m *metrics) observeRoute(rm *routeMetrics, route string, status int, seconds float64) {
	rm.duration.Observe(seconds)
	if status < 0 || status >= len(rm.codes) {
		m.requests.WithLabelValues(route, statusLabel(status)).Inc()
		return
	}
	c := rm.codes[status].Load()
	if c == nil {
		c = &counter{m.requests.WithLabelValues(route, statusLabel(status))}
		rm.codes[status].Store(c)
	}
	c.Inc()
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: counterVec("forgeproof_gateway_requests_total",
			"Requests answered, by route and HTTP status code (route is empty when none matched).",
			"route", "code"),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "forgeproof_gateway_request_duration_seconds",
			Help:    "Time from reading the request headers to the end of the response, by route.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forgeproof_gateway_requests_in_flight",
			Help: "Requests being served now.",
		}),
		csrfRefusals: counterVec("forgeproof_gateway_csrf_refusals_total",
			"Requests the CSRF guard refused, by route, reason code and mode (enforced, or report-only: let through).",
			"route", "reason", "mode"),
		authzDenials: counterVec("forgeproof_gateway_authorization_denials_total",
			"Requests refused because the client identity may not call the route, by route and reason code.",
			"route", "reason"),
		handshakeFailures: counterVec("forgeproof_gateway_tls_handshake_failures_total",
			"Failed TLS handshakes (a refused client certificate, or a failed negotiation: tls-version, no-shared-cipher, no-shared-alpn, server-certificate-refused, tls-protocol-error, not-tls, client-closed, handshake-timeout), and requests on open connections whose client certificate a re-check after a reload or an expiry refused (the connection is closed), by listener address and reason.",
			"listener", "reason"),
		upstreamRefusals: counterVec("forgeproof_gateway_upstream_refusals_total",
			"Upstream answers the gateway refused to relay, and requests it did not send, by route and reason code (upstream-upgrade-refused: a 101 the gateway did not ask for; upstream-busy: no connection free under limits.upstream-max-conns-per-host).",
			"route", "reason"),
		headersDropped: counterVec("forgeproof_gateway_request_headers_dropped_total",
			"Client request headers not forwarded, by route and kind: underscore (a name with '_' or other punctuation), identity-like (another product's identity header), upgrade (an Upgrade that is not a WebSocket handshake, HTTP2-Settings), forwarding (a path override such as X-Original-URL, or a forwarding header such as X-Real-IP from a peer that is not a trusted proxy).",
			"route", "kind"),
		ambiguous: counterVec("forgeproof_gateway_ambiguous_requests_total",
			"Requests refused before routing because an upstream could read their method, path or Host as another route's (path-invalid, path-ambiguous, method-invalid, host-invalid, authority-mismatch) or their body framing otherwise (framing-ambiguous), requests whose trusted proxy's forwarding headers are malformed or name two origins (forwarded-invalid, forwarded-conflict), and questions about requests with headers an HTTP proxy would forward but serve would not (header-unremovable), by reason code.",
			"reason"),
		proxyRefusals: counterVec("forgeproof_gateway_proxy_protocol_refusals_total",
			"Connections a PROXY protocol listener refused before the TLS handshake (untrusted peer, header missing or invalid), by listener address and reason.",
			"listener", "reason"),
		certNotAfter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "forgeproof_gateway_certificate_not_after_timestamp_seconds",
			Help: "Expiry (Unix time) of the earliest-expiring certificate of each kind (server, client-ca) on each listener.",
		}, []string{"listener", "kind"}),
		crlNextUpdate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "forgeproof_gateway_crl_next_update_timestamp_seconds",
			Help: "Next update (Unix time) of the earliest-stale CRL on each listener: past it (plus the listener's crl-grace-period) every client certificate the CRL covers is refused (crl-stale).",
		}, []string{"listener"}),
		upstreamNotAfter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "forgeproof_gateway_upstream_certificate_not_after_timestamp_seconds",
			Help: "Expiry (Unix time) of the client certificate each route presents to its https upstream (upstream-cert-file).",
		}, []string{"route"}),
		csrfKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "forgeproof_gateway_csrf_key_info",
			Help: "The CSRF token keys in use (tokens.key-file), 1 per key: its key ID (8 hex digits, as tokens carry it; it reveals nothing of the key) and its role (active: signs new tokens; verify: only verifies). Replicas that show the same series have loaded the same key ring.",
		}, []string{"key_id", "role"}),
		reloads: counterVec("forgeproof_gateway_reloads_total",
			"Configuration reloads, by outcome (success, failure).",
			"outcome"),
		reloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forgeproof_gateway_config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded (1; also at start-up) or was refused (0: the previous configuration keeps serving, /healthz on the admin listener says why).",
		}),
		reloadSuccessTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "forgeproof_gateway_config_last_reload_success_timestamp_seconds",
			Help: "When (Unix time) the configuration in use was loaded: at start-up or by the last successful reload.",
		}),
		stalls: counterVec("forgeproof_gateway_client_stalls_total",
			"Requests given up on because their client stalled for limits.stall-timeout, by protocol (http/1.1, h2) and direction: body (it sent none of the request body it started: answered 408) or answer (it took none of the answer being sent: the connection closed, or on HTTP/2 the stream reset).",
			"protocol", "direction"),
		connections: counterVec("forgeproof_gateway_connections_total",
			"Client connections that carried at least one request, by listener address and protocol (http/1.1, h2).",
			"listener", "protocol"),
	}
	m.reg.MustRegister(m.requests, m.duration, m.inFlight, m.csrfRefusals, m.authzDenials,
		m.handshakeFailures, m.headersDropped, m.upstreamRefusals, m.ambiguous, m.proxyRefusals, m.certNotAfter, m.crlNextUpdate, m.upstreamNotAfter, m.csrfKeys, m.reloads, m.reloadSuccessful, m.reloadSuccessTime, m.connections, m.stalls,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, o := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(o) // export zeros, so rate() works from the start
	}
	for _, r := range []Reason{ReasonPathInvalid, ReasonPathAmbiguous, ReasonMethodInvalid, ReasonHostInvalid, ReasonAuthorityMismatch, ReasonFramingAmbiguous, ReasonForwardedInvalid, ReasonForwardedConflict, ReasonHeaderUnremovable} {
		m.ambiguous.WithLabelValues(string(r))
	}
	return m
}

// countDropped counts the headers not forwarded from one request.
func (m *metrics) countDropped(route string, d dropped) {
	for _, k := range [...]struct {
		kind string
		n    int
	}{{dropUnderscore, d.underscore}, {dropIdentityLike, d.identityLike}, {dropUpgrade, d.upgrade}, {dropForwarding, d.forwarding}} {
		if k.n > 0 {
			m.headersDropped.WithLabelValues(route, k.kind).Add(float64(k.n))
		}
	}
}

// counterVec makes a counter with the given labels.
func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// observeReload sets the last-reload gauges: whether the last load of a
// configuration succeeded, and when the one in use was loaded.
func (m *metrics) observeReload(ok bool, loaded time.Time) {
	if ok {
		m.reloadSuccessful.Set(1)
	} else {
		m.reloadSuccessful.Set(0)
	}
	m.reloadSuccessTime.Set(float64(loaded.Unix()))
}

// observeCertificates sets the expiry gauges and the key ring gauge from
// a configuration.
func (m *metrics) observeCertificates(c *compiled) {
	m.certNotAfter.Reset()
	for i, l := range c.listeners {
		name := c.cfg.Listeners[i].Address
		if !l.notAfter.IsZero() {
			m.certNotAfter.WithLabelValues(name, "server").Set(float64(l.notAfter.Unix()))
		}
		if !l.caNotAfter.IsZero() {
			m.certNotAfter.WithLabelValues(name, "client-ca").Set(float64(l.caNotAfter.Unix()))
		}
	}
	m.crlNextUpdate.Reset()
	for i, l := range c.listeners {
		if !l.crlNext.IsZero() {
			m.crlNextUpdate.WithLabelValues(c.cfg.Listeners[i].Address).Set(float64(l.crlNext.Unix()))
		}
	}
	m.csrfKeys.Reset()
	if c.keyRing != nil {
		for i, id := range c.keyRing.KeyIDs() {
			role := "verify"
			if i == 0 {
				role = "active"
			}
			m.csrfKeys.WithLabelValues(id, role).Set(1)
		}
	}
	m.upstreamNotAfter.Reset()
	for _, rt := range c.routes {
		if cert := rt.upstreamTLS.cert; cert != nil && cert.Leaf != nil {
			m.upstreamNotAfter.WithLabelValues(rt.name).Set(float64(cert.Leaf.NotAfter.Unix()))
		}
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusLabels are the "code" label values of the HTTP status codes,
// made once rather than per request.
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// stalled counts a request given up on for a stall (stall.go): protocol
// "http/1.1" or "h2", direction "body" or "answer".
func (m *metrics) stalled(protocol, direction string) {
	m.stalls.WithLabelValues(protocol, direction).Inc()
}
