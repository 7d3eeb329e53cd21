package authz

import (
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/logtext"
	"github.com/forgeproof/forgeproof/internal/problem"
)

// Headers the HTTP proxies set on their questions (see the package doc).
const (
	HeaderMethod     = "X-Forwarded-Method"
	HeaderURI        = "X-Forwarded-Uri"
	HeaderHost       = "X-Forwarded-Host"
	HeaderProto      = "X-Forwarded-Proto"
	HeaderFor        = "X-Forwarded-For"
	HeaderClientCert = "X-Forwarded-Tls-Client-Cert"
	// HeaderReason carries the reason code of a refusal in the answer.
	HeaderReason = "Forgeproof-Reason"
)

// ReasonDecisionChanged: nginx's second question about a refused request
// (see Handler) was allowed: the configuration changed in between (503).
const ReasonDecisionChanged = "decision-changed"

// forbidden turns every refusal's status into 403 (see Handler).
type forbidden struct{ http.ResponseWriter }

func (f forbidden) WriteHeader(code int) {
	if code >= 400 {
		code = http.StatusForbidden
	}
	f.ResponseWriter.WriteHeader(code)
}

// proxyHeaders are the question's headers that are not the client's:
// what the proxy says about the request, hop-by-hop headers and the
// question's own framing. Canonical keys.
var proxyHeaders = map[string]bool{
	HeaderMethod: true, HeaderURI: true, HeaderHost: true, HeaderProto: true, HeaderFor: true,
	HeaderClientCert: true, "X-Forwarded-Tls-Client-Cert-Info": true,
	"X-Forwarded-Port": true, "X-Forwarded-Prefix": true, "X-Forwarded-Server": true, "X-Real-Ip": true,
	"Forwarded": true, "Via": true, "Connection": true, "Keep-Alive": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Content-Length": true,
	// Upgrade is the client's: a WebSocket handshake is checked as the
	// unsafe request it is (cross-site WebSocket hijacking).
}

// Attributes reads the proxy's description of the original request from
// q, the question an HTTP proxy sent (see the package doc for the
// headers). It does not check who sent q: Handler does, first.
func Attributes(q *http.Request) (*gateway.Attributes, error) {
	h := q.Header
	one := func(name string) (string, error) {
		v := h[name]
		if len(v) > 1 {
			return "", errors.New(name + " is repeated")
		}
		if len(v) == 0 || v[0] == "" {
			return "", errors.New(name + " is missing")
		}
		return v[0], nil
	}
	a := &gateway.Attributes{Header: make(http.Header, len(h))}
	var err error
	if a.Method, err = one(HeaderMethod); err != nil {
		return nil, err
	}
	if a.URI, err = one(HeaderURI); err != nil {
		return nil, err
	}
	if a.Host, err = one(HeaderHost); err != nil {
		return nil, err
	}
	if a.Scheme, err = one(HeaderProto); err != nil {
		return nil, err
	}
	a.Scheme = strings.ToLower(a.Scheme)
	// Traefik's entry point says "wss" (or "ws") for a WebSocket
	// handshake, and its ForwardAuth drops the hop-by-hop Upgrade from
	// the question: the scheme is the only sign left that the GET is a
	// handshake, which must be checked as the unsafe request it is
	// (cross-site WebSocket hijacking).
	websocket := a.Scheme == "wss" || a.Scheme == "ws"
	switch a.Scheme {
	case "wss":
		a.Scheme = "https"
	case "ws":
		a.Scheme = "http"
	}
	if v := h.Values(HeaderFor); len(v) > 0 {
		a.RemoteAddr = clientAddr(v[len(v)-1])
	}
	certs := h[HeaderClientCert]
	if len(certs) > 1 {
		return nil, errors.New(HeaderClientCert + " is repeated")
	}
	if len(certs) == 1 && !unsetPlaceholder(certs[0]) {
		if a.Chain, err = ParseCertificates(certs[0]); err != nil {
			return nil, err
		}
	}
	for name, v := range h {
		if !proxyHeaders[name] {
			a.Header[name] = v
		}
	}
	if websocket && len(a.Header["Upgrade"]) == 0 {
		a.Header["Upgrade"] = []string{"websocket"}
	}
	return a, nil
}

// unsetPlaceholder reports whether v is a Caddy placeholder that Caddy
// left as it is because it has no value: the certificate placeholders of
// a connection without a client certificate.
func unsetPlaceholder(v string) bool {
	return strings.HasPrefix(v, "{http.request.tls.client.") && strings.HasSuffix(v, "}")
}

// clientAddr is the last address of an X-Forwarded-For value as
// "ip:port" (port 0 when the proxy sent only the IP), or "" when it is
// not an address.
func clientAddr(xff string) string {
	if i := strings.LastIndexByte(xff, ','); i >= 0 {
		xff = xff[i+1:]
	}
	xff = strings.TrimSpace(xff)
	if ip, err := netip.ParseAddr(xff); err == nil {
		return netip.AddrPortFrom(ip, 0).String()
	}
	if ap, err := netip.ParseAddrPort(xff); err == nil {
		return ap.String()
	}
	return ""
}

// Handler answers the questions of the HTTP proxy g's config names
// (authz.proxy) on every path: 403 caller-untrusted to anyone but a
// trusted proxy, 400 authz-request-invalid when the question does not
// describe a request, else the decision: 200 with the headers to set
// upstream, or the refusal "forgeproof serve" would give. log, if not
// nil, gets one line per question.
//
// For nginx, whose auth_request relays only 401 and 403, every refusal
// is answered 403 (with the Forgeproof-Reason header); nginx's
// error_page then asks again on a path ending in "/refusal", which gets
// the refusal's real status and problem document, or 503
// ReasonDecisionChanged when a reload let the request through in between
// (docs/integrations/nginx.md).
func Handler(g *gateway.Gateway, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	proxy := g.AuthzProxy() // a reload cannot change it
	return http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		// nginx's auth_request relays only 401 and 403 (any other status
		// becomes its 500): its question gets 403 for every refusal, and
		// the error_page's second question, on .../refusal, the real one.
		nginxRefusal := false
		if proxy == gateway.ProxyNginx {
			if strings.HasSuffix(q.URL.Path, "/refusal") {
				nginxRefusal = true
			} else {
				w = forbidden{w}
			}
		}
		if d := g.CallerAllowed(q.RemoteAddr, q.TLS); d != nil {
			log.Warn("authz: question from an untrusted caller refused", "peer", q.RemoteAddr, "reason", d.Reason, "error", logtext.Error(d.Cause))
			w.Header().Set(HeaderReason, string(d.Reason))
			d.WriteProblem(w, q)
			return
		}
		a, err := Attributes(q)
		if err != nil {
			log.Warn("authz: malformed question refused", "peer", q.RemoteAddr, "error", logtext.Error(err))
			w.Header().Set(HeaderReason, string(gateway.ReasonAuthzRequestInvalid))
			problem.Write(w, q, problem.Details{Status: http.StatusBadRequest, Reason: string(gateway.ReasonAuthzRequestInvalid),
				Title: "invalid request description", Detail: "the proxy's description of the request is malformed: check its configuration against docs/integrations/"})
			return
		}
		d := g.Decide(a)
		// The path without the query, as serve's access log: a query may
		// carry secrets (OAuth codes, access tokens, URL signatures).
		uriPath, _, _ := strings.Cut(a.URI, "?")
		attrs := []any{"method", logtext.Clean(a.Method, logtext.MaxName), "host", logtext.Clean(a.Host, logtext.MaxName), "uri", logtext.Clean(uriPath, logtext.MaxPath), "route", d.Route, "status", d.Status}
		if d.Reason != "" {
			attrs = append(attrs, "reason", d.Reason)
		}
		if d.Identity != nil {
			attrs = append(attrs, "identity", logtext.Clean(d.Identity.String(), logtext.MaxIdentity))
		}
		if d.Cause != nil {
			attrs = append(attrs, "error", logtext.Error(d.Cause))
		}
		if !d.Allowed {
			log.Info("authz: deny", attrs...)
			w.Header().Set(HeaderReason, string(d.Reason))
			// The client's Accept decides between JSON and text, as serve.
			d.WriteProblem(w, &http.Request{Header: a.Header})
			return
		}
		if nginxRefusal {
			// Allowed now, refused a moment ago: a reload in between.
			problem.Write(w, q, problem.Details{Status: http.StatusServiceUnavailable, Reason: string(ReasonDecisionChanged),
				Title: "the decision changed", Detail: "the configuration was reloaded while the request was being refused: send it again"})
			return
		}
		log.Info("authz: allow", attrs...)
		if proxy == gateway.ProxyCaddy {
			// Caddy 2.6's copy_headers copies a header the answer lacks
			// as the literal text of its placeholder: every header
			// forgeproof may set is in the answer, empty when unset.
			for _, name := range d.Remove[:gateway.NumIdentityHeaders] {
				w.Header()[name] = []string{""}
			}
		}
		for name, v := range d.Set {
			w.Header()[name] = v
		}
		if d.Reason != "" {
			w.Header().Set(HeaderReason, string(d.Reason)) // report-only
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	})
}
