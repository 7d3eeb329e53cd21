package mtls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/forgeproof/forgeproof/internal/openfolder"
	"github.com/forgeproof/forgeproof/internal/pemutil"
	"github.com/forgeproof/forgeproof/internal/regfile"
)

// ClientAuthMode says whether a server requires a client certificate.
type ClientAuthMode int

const (
	// RequireClientCert refuses handshakes without a valid client
	// certificate. For services that only programs call.
	RequireClientCert ClientAuthMode = iota
	// VerifyClientCertIfGiven asks for a certificate and verifies it when
	// one is sent, but lets clients without one connect. For hosts that
	// also serve browsers: CORS preflights never carry a certificate, so
	// enforce identity per route with Guard instead.
	VerifyClientCertIfGiven
)

// MarshalText returns the name of m, "require" or "verify-if-given"; it
// fails for a mode that is not one of the constants.
func (m ClientAuthMode) MarshalText() ([]byte, error) {
	switch m {
	case RequireClientCert:
		return []byte("require"), nil
	case VerifyClientCertIfGiven:
		return []byte("verify-if-given"), nil
	}
	return nil, configError("invalid client auth mode %d", int(m))
}

// UnmarshalText sets m from its name, "require" or "verify-if-given", for
// configuration files and flags.
func (m *ClientAuthMode) UnmarshalText(text []byte) error {
	switch string(text) {
	case "require":
		*m = RequireClientCert
	case "verify-if-given":
		*m = VerifyClientCertIfGiven
	default:
		return configError("unknown client auth mode %q: want require or verify-if-given", text)
	}
	return nil
}

// ServerConfig configures NewServer. The certificates, client CAs and
// CRLs come from sources: files, which Reload (and Watch) read again, or
// values, which stay fixed. NewServer and Reload report every problem at
// once (errors.Join), each an *Error whose Field names the field it is
// about, one line each: "mtls: ClientCAs[1]: cannot read "ca.pem": no
// such file or directory", "mtls: Certificates[0].KeyFile: …". Programs
// that read their own configuration map Error.Field to their keys.
type ServerConfig struct {
	// Certificates are the server certificates: the handshake presents
	// the one whose DNS names match the client's SNI (an exact name
	// first, then a "*." wildcard of one label), else the first, the
	// default, also when the client sends no SNI. Two certificates for
	// one name are refused. At least one is required, unless VerifyOnly.
	Certificates []KeyPair

	// ClientCAs are PEM bundles of the CAs that issue client
	// certificates (CERTIFICATE blocks only, so that a key pasted into
	// one is noticed; every certificate must be a CA); at least one.
	// They are one pool: any of them may issue any name, SPIFFE IDs of
	// any trust domain included, unless a source binds its CAs to a
	// trust domain (Source.TrustDomain), as go-spiffe's x509svid.Verify
	// takes a bundle per trust domain:
	//
	//   - A chain through a bound CA (the anchor, or any CA of the chain
	//     with the same key: a renewed or cross-signed certificate of
	//     it) must end in an X509-SVID of its trust domain; any other
	//     client certificate it issued, one without a SPIFFE ID
	//     included, is refused. The SVID's identity is its SPIFFE ID
	//     alone (Identity.SPIFFEOnly): its DNS SANs, email addresses,
	//     common name, organization and OUs are left out, and the
	//     authorizers of those names deny it.
	//   - A bound trust domain is reserved: a client certificate with a
	//     spiffe URI SAN naming it (its SPIFFE ID or a second URI) is
	//     refused unless its chain passes through one of that trust
	//     domain's CAs; and one with a spiffe URI SAN that is no valid
	//     SPIFFE ID (upper case, a port, user info, no authority),
	//     whose trust domain depends on who reads it, is refused.
	//   - Unbound CAs issue everything else, as before.
	//
	// Such a refusal is ReasonUnknownAuthority, its text naming the CA
	// and the trust domain. A CA's key in a bound and an unbound source
	// is an error; one CA in sources bound to several trust domains
	// issues all of them. To trust a partner's CA only for its own IDs,
	// bind it, or bind your own trust domain to your CAs (or both); a
	// URI name constraint in the CA certificate naming its trust
	// domain, which the Server enforces, does the same from the CA's
	// side.
	ClientCAs []Source

	// CRLs are certificate revocation lists, DER or PEM (several X509 CRL
	// blocks). Each must be signed by one of the client CAs, and covers
	// the certificates that CA's key issued: after a CA is re-keyed (a
	// new CA certificate with the same name), each key needs its own CRL,
	// and a CRL signed by the new key does not cover what the old key
	// issued. A CA's second certificate for the same key (renewed or
	// cross-signed) shares its CRL. When any CRL is configured, a chain
	// with a certificate whose issuer has no CRL (the client
	// certificate's, or an intermediate's, client CAs issued by another
	// client CA included) is refused (ReasonCRLMissing): revocation
	// checking fails closed. With no CRLs, nothing is checked for
	// revocation. A CRL whose ThisUpdate is more than five minutes ahead
	// of Time (clocks drift) is not yet valid and refused, as OpenSSL
	// refuses it: NewServer fails, and Reload keeps the CRL in use.
	CRLs []Source
	// CRLGracePeriod lets a CRL be used for this long after its NextUpdate.
	// After that (or at once, when zero) the CRL is stale and every
	// certificate it covers is refused (ReasonCRLStale), until a fresh
	// CRL is loaded.
	CRLGracePeriod time.Duration
	// InsecureAllowStaleCRL keeps using a CRL however old it is. A stale
	// CRL misses every revocation made since it was issued.
	InsecureAllowStaleCRL bool
	// InsecureAllowOpenFolders reads the key, client CA and CRL files
	// even when their folder, or one above it, is one that others
	// may write and that is not sticky (a shared 0777 folder, a
	// disk-backed emptyDir): anyone who may write there can rename a file
	// of their own over the one named, and add their CA, drop a
	// revocation or replace the server's key. Without it such a file is
	// an error at NewServer and on every Reload (the state in use stays);
	// the message names the folder and the chmod that closes it.
	// Sticky folders (/tmp, Kubernetes' Secret and ConfigMap volumes)
	// and folders only the owner's group may write pass. Nothing is
	// checked on Windows.
	InsecureAllowOpenFolders bool
	// Replaces, if set, is the Server this one takes over from (for
	// programs that build a new Server on each reload instead of calling
	// Reload): a CRL older than the one it uses for the same CA is
	// refused, as Reload refuses it, so swapped files cannot roll
	// revocations back. NewServer keeps no reference to it.
	Replaces *Server

	// ClientAuth is RequireClientCert (the zero value) or
	// VerifyClientCertIfGiven.
	ClientAuth ClientAuthMode
	// MinVersion is tls.VersionTLS13 (when zero) or tls.VersionTLS12.
	// TLS 1.2 gets only ECDHE cipher suites with AES-GCM or
	// ChaCha20-Poly1305 (Mozilla's intermediate profile), whatever
	// GODEBUG says: no AES-CBC, no static RSA key exchange, no 3DES.
	MinVersion uint16
	// NextProtos is the ALPN list; if nil, h2 and http/1.1.
	NextProtos []string

	// Authorizer runs in the handshake, after the chain, validity, key
	// usage and revocation checks, on full and resumed handshakes alike.
	// If nil, every verified certificate is accepted at the TLS layer
	// (authorize per route with Guard).
	Authorizer Authorizer

	// OnHandshakeFailure, if set, is called for every handshake that this
	// package refuses, with the reason and the peer address. The library
	// never logs: this is where logs and metrics get it. It must be safe
	// for concurrent use and should return quickly.
	OnHandshakeFailure func(HandshakeFailure)

	// ReloadInterval makes Watch read the files every interval and reload
	// when their contents changed, which catches what file events miss
	// (network filesystems), or when the last reload was refused (a
	// retry); zero disables polling while file events work.
	ReloadInterval time.Duration
	// OnReload, if set, is called by Watch after every reload it starts,
	// with nil or the reason the new state was rejected (the old one stays).
	OnReload func(error)

	// VerifyOnly builds a Server without a server certificate that only
	// verifies chains handed to VerifyChain: for a decision service
	// behind a proxy that terminates TLS itself and passes the client
	// certificate on. Its TLSConfig refuses every handshake. Setting a
	// server certificate as well is an error.
	VerifyOnly bool

	// Time returns the current time, for the checks that depend on it
	// (certificate validity, CRL freshness, re-checks of open
	// connections). If nil, time.Now is used. As tls.Config.Time, it is
	// for tests and for systems whose clock is not the wall clock.
	Time func() time.Time
}

// openFolder returns why file must not be trusted: it is in a folder
// that others may write (see InsecureAllowOpenFolders), unless cfg
// allows that.
func (cfg *ServerConfig) openFolder(file string) error {
	if cfg.InsecureAllowOpenFolders || file == "" {
		return nil
	}
	return openfolder.Check(file)
}

// Source is certificate material: the File it is read from, again on
// every Reload, or fixed Data. Exactly one is set.
type Source struct {
	// File is the path of a file, read again on every Reload.
	File string
	// Data is the material itself (PEM, or DER for a CRL), used as is
	// for the life of the Server.
	Data []byte
	// TrustDomain, for a source of ClientCAs only, binds its CAs to one
	// SPIFFE trust domain ("partner.example" or
	// "spiffe://partner.example"); see ServerConfig.ClientCAs.
	TrustDomain string
}

// read returns the source's bytes.
func (s Source) read() ([]byte, error) {
	switch {
	case s.File != "" && s.Data != nil:
		return nil, errors.New("set File or Data, not both")
	case s.File != "":
		data, err := regfile.ReadFile(s.File, 0)
		if err != nil {
			return nil, fmt.Errorf("cannot read %q: %w", s.File, pemutil.PathErr(err))
		}
		return data, nil
	case len(s.Data) == 0:
		return nil, errors.New("empty: set File or Data")
	}
	return s.Data, nil
}

// what names the source in messages: its file, quoted, or "data".
func (s Source) what() string {
	if s.File != "" {
		return strconv.Quote(s.File)
	}
	return "data"
}

// KeyPair is a server certificate (PEM, with any intermediates after it)
// and its private key (ECDSA, RSA or Ed25519): files, which Reload reads
// again, or a Certificate value. Setting both is an error.
type KeyPair struct {
	// CertFile and KeyFile are the PEM files of the certificate chain
	// and of its key, read again on every Reload.
	CertFile, KeyFile string
	// Certificate is a certificate and key already loaded, used as is
	// for the life of the Server.
	Certificate *tls.Certificate
}
