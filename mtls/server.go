package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Server holds the TLS state of an mTLS server (server certificate,
// client CAs, CRLs) and hands out a tls.Config that verifies, checks
// revocation and authorizes every client certificate in VerifyConnection,
// on full and resumed handshakes alike. Reload swaps the state atomically:
// new handshakes see it at once, and open connections at their next
// request when served through Handler (or Check) with ConnContext, or
// through CheckConn.
//
// A Server is safe for concurrent use.
type Server struct {
	cfg    ServerConfig
	state  atomic.Pointer[state]
	reload sync.Mutex // one reload at a time
	base   *tls.Config
	now    func() time.Time
	// names caches the costly parts of connection identities (Check).
	names *namesCache
	// noRecheck turns the re-check of open connections off, for the
	// negative controls of tests only (export_test.go).
	noRecheck bool
}

// NewServer loads and validates the configuration. The error joins every
// problem (errors.Join), each an *Error with Reason ReasonInvalidConfig
// and the Field it is about (see ServerConfig).
func NewServer(cfg ServerConfig) (*Server, error) {
	cfg.Certificates = append([]KeyPair(nil), cfg.Certificates...)
	cfg.ClientCAs = append([]Source(nil), cfg.ClientCAs...)
	cfg.CRLs = append([]Source(nil), cfg.CRLs...)
	var prev *state
	if cfg.Replaces != nil {
		prev = cfg.Replaces.state.Load()
		cfg.Replaces = nil // no chain of old servers kept alive
	}
	s := &Server{cfg: cfg, now: time.Now, names: newNamesCache(maxCachedNames)}
	if cfg.Time != nil {
		s.now = cfg.Time
	}
	st, errs := load(&s.cfg, prev, s.now())
	if errs != nil {
		return nil, errors.Join(errs...)
	}
	s.state.Store(st)
	s.base = &tls.Config{
		MinVersion:         st.tlsConfig.MinVersion,
		CipherSuites:       st.tlsConfig.CipherSuites,
		NextProtos:         st.tlsConfig.NextProtos,
		GetConfigForClient: s.getConfigForClient,
		// Set so that http.Server.ServeTLS and tools that look for a
		// certificate find one; GetConfigForClient decides in practice.
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.state.Load().certs.getCertificate(hello)
		},
	}
	return s, nil
}

// TLSConfig returns the configuration to serve with (http.Server.TLSConfig,
// tls.NewListener). Every call returns the same *tls.Config; do not modify
// it. Session tickets work across reloads, and resumed sessions are checked
// against the current state.
func (s *Server) TLSConfig() *tls.Config { return s.base }

// Reload reads the files again and, if the new state is valid, makes new
// handshakes use it. On error the previous state stays in use and the
// error says why, as NewServer's does, with "mtls: reload: " at the start
// of each line. Values given in ServerConfig (not files) do not change.
func (s *Server) Reload() error {
	s.reload.Lock()
	defer s.reload.Unlock()
	st, errs := load(&s.cfg, s.state.Load(), s.now())
	if errs != nil {
		for i, e := range errs {
			errs[i] = reloadError{e}
		}
		return errors.Join(errs...)
	}
	s.state.Store(st)
	return nil
}

// VerifyChain verifies a client certificate chain (leaf first, then any
// intermediates the client sent) that reached this process some other way
// than a handshake with it, such as from a proxy that terminated TLS, with
// every check of a handshake: the chain to the client CAs, validity, key
// usage, revocation and ServerConfig.Authorizer. It returns the identity
// of the leaf, or an *Error with the reason a handshake would have been
// refused for. It is how a ServerConfig.VerifyOnly Server is used.
func (s *Server) VerifyChain(chain []*x509.Certificate) (Identity, error) {
	if len(chain) == 0 {
		return Identity{}, &Error{Reason: ReasonNoCertificate, Err: errNoCertificate}
	}
	st := s.state.Load()
	verified, err := s.verify(st, &tls.ConnectionState{PeerCertificates: chain}, true)
	if err != nil {
		return Identity{}, err
	}
	if st.trustDomains.bound(verified) {
		return spiffeOnly(s.names.identity(chain[0])), nil
	}
	return s.names.identity(chain[0]), nil
}

func (s *Server) getConfigForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	st := s.state.Load()
	c := st.tlsConfig.Clone()
	var addr net.Addr
	if hello.Conn != nil {
		addr = hello.Conn.RemoteAddr()
	}
	serverName := hello.ServerName
	c.VerifyConnection = func(cs tls.ConnectionState) error {
		herr := checkTicketSize(cs.PeerCertificates)
		if herr == nil {
			_, herr = s.verify(st, &cs, cs.DidResume)
		}
		if herr == nil {
			return nil
		}
		if f := s.cfg.OnHandshakeFailure; f != nil {
			var leaf *x509.Certificate
			if len(cs.PeerCertificates) > 0 {
				leaf = cs.PeerCertificates[0]
			}
			f(HandshakeFailure{Reason: herr.Reason, Err: herr, RemoteAddr: addr, ServerName: serverName, Certificate: leaf, Resumed: cs.DidResume})
		}
		return herr
	}
	return c, nil
}

// maxPeerCertBytes is the most the client's certificates may take in a
// handshake, each counted with the 5 bytes of its framing. crypto/tls
// puts them in the session ticket it sends at the end of the handshake,
// whose length field holds at most 65,535 bytes (about 130 go to the
// encryption and other session fields), and a client offers the ticket
// back in a ClientHello whose extensions, the ticket among them, must fit
// in 65,535 bytes too (a Go client fails to connect otherwise; a key
// share of X25519MLKEM768 alone takes 1,216). Past the first, sending the
// ticket fails and crypto/tls drops the connection with an encoding
// error, no alert and no reason; refused in VerifyConnection instead, the
// client gets bad_certificate and OnHandshakeFailure the reason.
const maxPeerCertBytes = 60000

// checkTicketSize refuses client certificates that take more than
// maxPeerCertBytes.
func checkTicketSize(certs []*x509.Certificate) *Error {
	n := 0
	for _, c := range certs {
		n += len(c.Raw) + 5
	}
	if n <= maxPeerCertBytes {
		return nil
	}
	return &Error{Reason: ReasonBadCertificate, Err: fmt.Errorf("the client's certificates (%d) take %d bytes with their framing, more than the %d a session ticket can carry", len(certs), n, maxPeerCertBytes)}
}

// verify runs every check on the client certificate of a connection
// against st and returns the verified chain (nil when the client sent no
// certificate and may do without). With cached, a chain verified against
// st before for the same presented certificates is taken from st's cache
// (see chainCache).
func (s *Server) verify(st *state, cs *tls.ConnectionState, cached bool) ([]*x509.Certificate, *Error) {
	if len(cs.PeerCertificates) == 0 {
		if s.cfg.ClientAuth == VerifyClientCertIfGiven {
			return nil, nil // no identity; Guard enforces per route
		}
		return nil, &Error{Reason: ReasonNoCertificate, Err: errNoCertificate}
	}
	now := s.now()
	leaf := cs.PeerCertificates[0]
	// A resumed session presents the certificates of its full handshake:
	// if their chain was verified against this state's CAs, only the
	// signatures are not checked again (chainCache.get checks the
	// validity period); revocation and authorization follow as always.
	var chain []*x509.Certificate
	if cached {
		chain = st.verified.get(cs.PeerCertificates, now)
	}
	if chain == nil {
		opts := x509.VerifyOptions{
			Roots:       st.roots,
			CurrentTime: now,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if len(cs.PeerCertificates) > 1 {
			opts.Intermediates = x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
		}
		chains, err := leaf.Verify(opts)
		if err != nil {
			return nil, &Error{Reason: classify(err, leaf, now), Err: explainUnhandled(err, cs.PeerCertificates, st.cas)}
		}
		// The client's key signs the handshake (CertificateVerify), which
		// a key usage extension without digitalSignature does not allow
		// (RFC 5280 §4.2.1.3). x509 checks extended key usages only.
		if ku := leaf.KeyUsage; ku != 0 && ku&x509.KeyUsageDigitalSignature == 0 {
			return nil, &Error{Reason: ReasonWrongKeyUsage, Err: errNoDigitalSignature}
		}
		// The first chain that passes the checks x509 leaves out, the
		// trust domain bindings and revocation: a path through a revoked
		// cross-certificate must not refuse a certificate that another
		// path, through a client CA trusted in its own right, verifies
		// (path validation succeeds on any valid path), whatever the
		// order of the client CAs. When
		// none does, the first revocation refusal of a chain that passed
		// the policy, else the first policy refusal.
		var herr, rerr *Error
		var revoked []*x509.Certificate
		for _, c := range chains {
			e := checkChainPolicy(c)
			if e == nil {
				e = st.trustDomains.check(c)
			}
			if e != nil {
				if herr == nil {
					herr = e
				}
				continue
			}
			if e := st.checkRevocation(c, now); e != nil {
				if rerr == nil {
					rerr, revoked = e, c
				}
				continue
			}
			chain = c
			break
		}
		if chain == nil {
			if rerr != nil {
				st.verified.put(cs.PeerCertificates, revoked) // refused again from the cache
				return nil, rerr
			}
			return nil, herr
		}
		st.verified.put(cs.PeerCertificates, chain)
	} else if herr := st.checkRevocation(chain, now); herr != nil {
		return nil, herr
	}
	if s.cfg.Authorizer != nil {
		id := NewIdentity(leaf)
		if st.trustDomains.bound(chain) {
			id = spiffeOnly(id)
		}
		if err := s.cfg.Authorizer(id); err != nil {
			return nil, asError(err)
		}
	}
	return chain, nil
}
