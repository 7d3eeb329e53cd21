package gateway

import (
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
)

// connCheck is the outcome of verifying a connection's client
// certificate again (mtls.Server.Recheck).
type connCheck struct {
	mtls.Checked
	// refused is why the certificate was refused; a refused connection
	// stays refused (it is closed after the refusal anyway).
	refused *mtls.Error
}

// recheckOff turns the re-check off, for the negative control of the
// tests only (SetRecheck).
var recheckOff atomic.Bool

// recheck verifies the client certificate of r's connection again when
// the listener's TLS state changed since it was last verified (a reload:
// new CAs, CRLs) or its last verification may have run out (a
// certificate in the chain expired, a CRL went stale), and returns the
// refusal a new handshake would get, nil when the certificate is still
// accepted. The first request of a connection verifies it too: which
// state the handshake used is not known here (a reload may have come
// between the handshake and the request). When nothing changed this is
// two atomic loads and two comparisons; a verification after a change
// runs once per connection, as its requests wait for it.
func recheck(r *http.Request, lt *listenerTLS, now time.Time) *mtls.Error {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || lt.server == nil {
		return nil // no certificate: no identity to withdraw
	}
	ci, _ := r.Context().Value(connKey{}).(*connIdentity)
	if ci == nil {
		return nil // Gateway.Handler behind a listener of one's own
	}
	if v := ci.checked.Load(); v != nil && (v.refused != nil || !v.Expired(lt.server, now)) {
		return v.refused
	}
	if recheckOff.Load() {
		return nil
	}
	ci.checkMu.Lock()
	defer ci.checkMu.Unlock()
	if v := ci.checked.Load(); v != nil && (v.refused != nil || !v.Expired(lt.server, now)) {
		return v.refused // another request of the connection just checked
	}
	checked, err := lt.server.Recheck(r.TLS)
	v := &connCheck{Checked: checked}
	if err != nil && !errors.As(err, &v.refused) {
		// Recheck returns only HandshakeErrors; fail closed all the same.
		v.refused = &mtls.Error{Reason: mtls.ReasonBadCertificate, Err: err}
	}
	ci.checked.Store(v)
	return v.refused
}

// refuseConnection answers a request whose connection's certificate the
// re-check refused: 403 with the reason a new handshake would get, and
// Connection: close, so that the client has to handshake again (and is
// refused there). It is counted and logged as a refused handshake of the
// listener, with open_connection=true in the log.
func (g *Gateway) refuseConnection(w http.ResponseWriter, r *http.Request, x *exchange, listener string, herr *mtls.Error) {
	g.metrics.handshakeFailures.WithLabelValues(listener, string(herr.Reason)).Inc()
	leaf := r.TLS.PeerCertificates[0]
	g.log.Warn("client certificate refused on an open connection", "listener", listener, "reason", herr.Reason,
		"peer", r.RemoteAddr, "server_name", r.TLS.ServerName, "open_connection", true, "error", herr.Err,
		"subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String())
	w.Header().Set("Connection", "close")
	g.refuse(w, r, x, http.StatusForbidden, Reason(herr.Reason), "client certificate refused",
		"the connection's client certificate is no longer accepted (checked again after a reload or an expiry); open a new connection")
}
