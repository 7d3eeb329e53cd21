package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"time"
)

// Generation identifies the state the Server has loaded now (certificate,
// client CAs, CRLs). Every successful Reload changes it; a failed one does
// not. Generations are unique in the process, also across Servers (one
// that replaces another never repeats its numbers), and never 0. Reading
// it is one atomic load: compare it on every request with the generation
// a connection was last checked under (Checked.Generation) and call
// Recheck when it differs.
func (s *Server) Generation() uint64 { return s.state.Load().gen }

// Checked says under which state Recheck accepted a connection's client
// certificate and until when that answer holds. The zero Checked has
// expired (no generation is 0): a connection not checked yet is checked.
type Checked struct {
	// Generation is the Server state the certificate was checked
	// against; when Server.Generation differs, check again.
	Generation uint64
	// Until is the earliest time the answer can change without a reload:
	// the earliest NotAfter in the verified chain or, unless stale CRLs
	// are allowed, the time a CRL it was checked against goes stale
	// (NextUpdate plus CRLGracePeriod). After it, check again. Zero when
	// the connection has no certificate (nothing expires).
	Until time.Time
}

// Expired reports whether the answer may have changed: the Server's
// generation is not c.Generation, or now is past c.Until.
func (c Checked) Expired(s *Server, now time.Time) bool {
	return c.Generation != s.Generation() || (!c.Until.IsZero() && now.After(c.Until))
}

// Recheck verifies the client certificate of an established connection
// again, against the state the Server has loaded now, exactly as
// VerifyConnection does on a handshake: chain to a current client CA,
// validity of every certificate now, clientAuth key usage, revocation by
// the current CRLs and policy, then ServerConfig.Authorizer. It returns
// the *Error (with the same reason code) that a new handshake
// with this certificate would get, but does not call OnHandshakeFailure:
// the caller decides what to do with the connection (refuse its request,
// close it) and how to report it.
//
// TLS verifies a certificate once per connection; a keep-alive
// connection opened before a reload that revoked its certificate, removed
// its CA or withdrew its authorization, or one whose certificate has
// expired since, would otherwise keep being served. A chain verified
// against the current state before comes from the Server's cache of
// verified chains, so a Recheck costs a hash of the certificates and the
// revocation and authorization checks; call it when Checked.Expired says
// so, not on every request.
//
// A connection without a certificate passes when the Server's ClientAuth
// allows that (VerifyClientCertIfGiven), with a zero Checked.Until.
func (s *Server) Recheck(cs *tls.ConnectionState) (Checked, error) {
	if cs == nil {
		return Checked{}, &Error{Reason: ReasonNoCertificate, Err: errNoCertificate}
	}
	st := s.state.Load()
	chain, herr := s.verify(st, cs, true)
	if herr != nil {
		return Checked{}, herr
	}
	return Checked{Generation: st.gen, Until: st.until(chain)}, nil
}

// until is Checked.Until for a chain verified against st.
func (st *state) until(chain []*x509.Certificate) time.Time {
	var t time.Time
	earlier := func(u time.Time) {
		if t.IsZero() || u.Before(t) {
			t = u
		}
	}
	for _, c := range chain {
		earlier(c.NotAfter)
	}
	if st.allowStale || len(chain) == 0 {
		return t
	}
	// The CRLs checkRevocation consults for this chain.
	for i := 0; i+1 < len(chain); i++ {
		if c := st.crls[crlKey(chain[i+1])]; c != nil {
			earlier(c.list.NextUpdate.Add(st.crlGrace))
		}
	}
	if c := st.anchorCRLs[string(chain[len(chain)-1].Raw)]; c != nil {
		earlier(c.list.NextUpdate.Add(st.crlGrace))
	}
	return t
}
