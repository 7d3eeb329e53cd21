package gateway

import (
	"net/http"
	"slices"
)

// keepHeaders is what a route's proxy writes to when the gateway or its
// CSRF guard set answer header fields before the proxy ran: Connection:
// close after a chunked request, a pre-session cookie with
// Cache-Control: no-store, Vary. ReverseProxy, and the direct path after
// it, relay an upstream's 1xx answer by adding its fields to
// rw.Header(), writing the 1xx and clearing the map. Without keepHeaders
// the gateway's fields would go out on the 1xx and be missing from the
// final answer (a chunked request's connection kept open, a cookie in a
// shared cache). With it, a 1xx carries only its own fields and the final
// answer has the gateway's first, as without a 1xx.
type keepHeaders struct {
	http.ResponseWriter
	own      http.Header // the fields set before the proxy ran
	after1xx bool        // a 1xx cleared them from the map
}

// withKeptHeaders returns w, or w wrapped in a keepHeaders when it has
// header fields already (the common request has none: no cost). Under
// the gateway's own server it asks the h1Response, and does not call
// Header, which would make a map for nothing: the common answer adopts
// the upstream's header instead (adoptHeader). A map it has not made
// holds no fields, and Header's other effect (a snapshot at WriteHeader
// of a header the handler asked for) is the same for an empty map made
// later.
func withKeptHeaders(w http.ResponseWriter, checks *checksOff) http.ResponseWriter {
	if rw := h1ResponseOf(w); rw != nil && rw.handlerHeader == nil {
		return w
	}
	h := w.Header()
	if len(h) == 0 || checks.off(checkKeepHeaders) {
		return w
	}
	return &keepHeaders{ResponseWriter: w, own: h.Clone()}
}

func (k *keepHeaders) WriteHeader(code int) {
	h := k.ResponseWriter.Header()
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Before the first 1xx, h holds own's values, then the 1xx's
		// (added after them): send the 1xx's only. After it, the proxy
		// has cleared h, and own's values are no longer there.
		if !k.after1xx {
			for name, vv := range k.own {
				if rest := h[name][min(len(vv), len(h[name])):]; len(rest) > 0 {
					h[name] = rest
				} else {
					delete(h, name)
				}
			}
		}
		k.after1xx = true
		k.ResponseWriter.WriteHeader(code)
		return
	}
	k.restore()
	k.ResponseWriter.WriteHeader(code)
}

// restore puts own's fields back, first, after a 1xx cleared them.
func (k *keepHeaders) restore() {
	if !k.after1xx {
		return
	}
	k.after1xx = false
	h := k.ResponseWriter.Header()
	for name, vv := range k.own {
		h[name] = append(slices.Clip(vv), h[name]...)
	}
}

func (k *keepHeaders) Write(b []byte) (int, error) {
	k.restore() // an implicit 200
	return k.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (k *keepHeaders) Unwrap() http.ResponseWriter { return k.ResponseWriter }
