package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/forgeproof/forgeproof/csrf"
)

// isPreflight reports whether r has the shape of a CORS preflight: an
// OPTIONS request with Origin and Access-Control-Request-Method, no body,
// no Upgrade and no method override naming an unsafe method (an upstream
// that honours X-HTTP-Method-Override or _method on every method would
// read it as a DELETE from nobody; browsers never add one to a
// preflight). Anyone can send these headers; what makes letting them
// through safe is what servePreflight does with them, not the shape.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions &&
		r.Header.Get("Origin") != "" &&
		r.Header.Get("Access-Control-Request-Method") != "" &&
		r.ContentLength == 0 && len(r.TransferEncoding) == 0 &&
		r.Header.Get("Upgrade") == "" &&
		!csrf.UnsafeMethodOverride(r)
}

// preflightCredentials are the request headers that carry credentials,
// which browsers never send on a preflight: a preflight is forwarded
// without them, so that the upstream's answer to a request that passed
// without a certificate never depends on someone's session.
var preflightCredentials = [...]string{"Cookie", "Authorization"}

// servePreflight sends a CORS preflight to the route's upstream without
// an identity: browsers never present a client certificate on a
// preflight, so none is asked for and none is forwarded, even when the
// connection has one (the upstream's CORS answer must not depend on who
// asks). The CSRF guard is skipped (OPTIONS is a safe method, and no
// token is minted), and only the CORS part of the answer goes back
// (trimPreflightResponse), so an upstream that serves OPTIONS with the
// handler of another method leaks nothing to a caller without a
// certificate.
func (g *Gateway) servePreflight(w http.ResponseWriter, r *http.Request, x *exchange, rt *route) {
	x.preflight = true
	ctx := context.WithValue(r.Context(), exchangeKey{}, x)
	rt.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// trimPreflightResponse keeps, of the upstream's answer to a preflight,
// the status and the headers a browser reads from it (Access-Control-*
// and Vary), and drops the body.
func trimPreflightResponse(resp *http.Response) {
	kept := http.Header{}
	for name, v := range resp.Header {
		if strings.HasPrefix(name, "Access-Control-") || name == "Vary" {
			kept[name] = v
		}
	}
	resp.Header = kept
	resp.Body.Close()
	resp.Body = http.NoBody
	resp.ContentLength = 0
	resp.Trailer = nil
}
