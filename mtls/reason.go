package mtls

import (
	"errors"
	"fmt"
)

// Reason is the stable, machine-readable code of a refusal: of a
// handshake (HandshakeFailure.Reason, the gateway's handshake metrics), of
// an open connection's certificate checked again, or of a request (403
// and 421 problem bodies). Reasons are part of the API and will not change
// meaning.
type Reason string

// Handshake reasons: the client certificate itself. An authorizer's
// denial in the handshake keeps its own reason (ReasonIdentityDenied or a
// finer one).
const (
	// ReasonNoCertificate: RequireClientCert and the client sent none
	// (or VerifyChain got an empty chain).
	ReasonNoCertificate Reason = "no-certificate"
	// ReasonUnknownAuthority: the chain does not lead to a current
	// client CA, or to none that may issue it: a CA bound to a trust
	// domain issued something else, a bound trust domain's SPIFFE ID
	// comes from another CA, or, while a trust domain is bound, a spiffe
	// URI SAN is no valid SPIFFE ID (Source.TrustDomain).
	ReasonUnknownAuthority Reason = "unknown-authority"
	// ReasonExpired: a certificate of the chain is past its NotAfter.
	ReasonExpired Reason = "expired"
	// ReasonNotYetValid: a certificate of the chain is before its
	// NotBefore.
	ReasonNotYetValid Reason = "not-yet-valid"
	// ReasonWrongKeyUsage: the chain is not for client authentication:
	// the leaf has no clientAuth extended key usage or no
	// digitalSignature, or the leaf or an intermediate has a key usage
	// with no bit set, or extended key usages without clientAuth
	// (anyExtendedKeyUsage does not count).
	ReasonWrongKeyUsage Reason = "wrong-key-usage"
	// ReasonBadCertificate: the chain breaks a rule crypto/x509 does not
	// check and OpenSSL does (an RSA key under 2048 bits, a name its
	// name constraints exclude), the leaf has a DNS SAN that is no host
	// name, or the chain is otherwise unusable (too large for a session
	// ticket, see the package doc).
	ReasonBadCertificate Reason = "bad-certificate"
	// ReasonRevoked: a CRL in use lists a certificate of the chain.
	ReasonRevoked Reason = "revoked"
	// ReasonCRLStale: a CRL covering the chain passed its NextUpdate (plus
	// CRLGracePeriod).
	ReasonCRLStale Reason = "crl-stale"
	// ReasonCRLMissing: CRLs are configured but none covers the issuer
	// (revocation checking fails closed).
	ReasonCRLMissing Reason = "crl-missing"
)

// Authorization reasons (Authorizer, Guard).
const (
	// ReasonIdentityDenied: the identity is not allowed (the generic code,
	// used when no finer one applies, e.g. by AuthorizeAnyOf over mixed
	// matchers, by a nil Authorizer, or for an error that is not an
	// *Error from a custom Authorizer).
	ReasonIdentityDenied Reason = "identity-denied"
	// ReasonNoIdentity: there is no verified identity at all (no client
	// certificate on the connection and none forwarded).
	ReasonNoIdentity Reason = "identity-missing"
	// ReasonSPIFFEIDDenied: the SPIFFE ID (or its absence) is not allowed.
	ReasonSPIFFEIDDenied Reason = "spiffe-id-denied"
	// ReasonTrustDomainDenied: the SPIFFE trust domain is not allowed.
	ReasonTrustDomainDenied Reason = "trust-domain-denied"
	// ReasonDNSNameDenied: no DNS SAN is allowed.
	ReasonDNSNameDenied Reason = "dns-name-denied"
	// ReasonCommonNameDenied: the subject common name is not allowed.
	ReasonCommonNameDenied Reason = "common-name-denied"
	// ReasonOrganizationalUnitDenied: no subject OU is allowed.
	ReasonOrganizationalUnitDenied Reason = "organizational-unit-denied"
	// ReasonSPKIDenied: the public key is not pinned.
	ReasonSPKIDenied Reason = "spki-denied"
	// ReasonMisdirected: Guard.CheckHost refused (421) a request whose
	// Host is not the TLS server name of its connection.
	ReasonMisdirected Reason = "misdirected-request"
)

// ReasonInvalidConfig is the reason of every problem NewServer and
// Reload find in a ServerConfig or in the files it names (Error.Field
// says which field), and of every argument the Authorize… constructors
// and ClientAuthMode's text methods refuse (no Field).
const ReasonInvalidConfig Reason = "invalid-config"

// Error is every refusal of this package: a handshake's, an open
// connection's (Server.Handler), an Authorizer's or Guard's; and every
// problem NewServer and Reload find in the configuration (Reason
// ReasonInvalidConfig, with its Field). Use ReasonOf or errors.As to get
// at it.
type Error struct {
	// Reason is the stable code: a refusal's, or ReasonInvalidConfig for
	// a configuration problem.
	Reason Reason
	// Field is the ServerConfig field a configuration problem is about,
	// written as in Go: "Certificates" (the list), "Certificates[1]",
	// "Certificates[1].CertFile", "Certificates[1].KeyFile",
	// "Certificates[1].Certificate", "ClientCAs", "ClientCAs[0]",
	// "CRLs[2]", "MinVersion". The text names any other field it
	// mentions the same way. Programs that read their own configuration
	// map it to their keys. Empty for refusals.
	Field string
	// Detail says why in words, for logs. It may quote certificate fields
	// and the request's Host, never other request headers.
	Detail string
	// Err is the underlying cause when there is one (x509's verification
	// error, a custom Authorizer's error).
	Err error
}

// Error reads "mtls: " and the Field (or, for a refusal, the Reason;
// nothing for a configuration problem without a Field, such as an
// authorizer constructor's), then the Detail and the Err, each after
// ": ".
func (e *Error) Error() string {
	s := "mtls: " + string(e.Reason)
	if e.Field != "" {
		s = "mtls: " + e.Field
	}
	if e.Reason == ReasonInvalidConfig && e.Field == "" && e.Detail != "" {
		s = "mtls: " + e.Detail
	} else if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err, the underlying cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the *Error in err's chain,
// ReasonIdentityDenied for any other non-nil error (a custom Authorizer
// may return any error: it still counts as a denial), and "" for nil.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonIdentityDenied
}

// configError is a configuration problem that no ServerConfig field
// holds: an authorizer constructor's argument, a ClientAuthMode.
func configError(format string, args ...any) *Error {
	return &Error{Reason: ReasonInvalidConfig, Detail: fmt.Sprintf(format, args...)}
}

// asError returns err as an *Error: itself when it is one, else wrapped
// with ReasonOf's reason.
func asError(err error) *Error {
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Reason: ReasonOf(err), Err: err}
}
