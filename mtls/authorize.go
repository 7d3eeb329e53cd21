package mtls

import (
	"errors"
	"fmt"
)

// An Authorizer decides whether a verified identity may proceed: nil means
// yes, an error (a *DenialError from the constructors in this package)
// means no. Authorizers must be safe for concurrent use; all in this
// package are. A nil Authorizer denies everything (deny by default).
type Authorizer func(Identity) error

// Reason codes of a DenialError. They are stable: logs, metrics and 403
// problem bodies carry them.
const (
	// ReasonIdentityDenied: the identity is not allowed (the generic code,
	// used when no finer one applies, e.g. by AuthorizeAnyOf over mixed
	// matchers or by a nil Authorizer).
	ReasonIdentityDenied = "identity-denied"
	// ReasonNoIdentity: there is no verified identity at all (no client
	// certificate on the connection and none forwarded).
	ReasonNoIdentity = "identity-missing"
	// ReasonSPIFFEIDDenied: the SPIFFE ID (or its absence) is not allowed.
	ReasonSPIFFEIDDenied = "spiffe-id-denied"
	// ReasonTrustDomainDenied: the SPIFFE trust domain is not allowed.
	ReasonTrustDomainDenied = "trust-domain-denied"
	// ReasonDNSNameDenied: no DNS SAN is allowed.
	ReasonDNSNameDenied = "dns-name-denied"
	// ReasonCommonNameDenied: the subject common name is not allowed.
	ReasonCommonNameDenied = "common-name-denied"
	// ReasonOrganizationalUnitDenied: no subject OU is allowed.
	ReasonOrganizationalUnitDenied = "organizational-unit-denied"
	// ReasonSPKIDenied: the public key is not pinned.
	ReasonSPKIDenied = "spki-denied"
)

// DenialError is an authorization refusal. Reason is one of the Reason…
// constants; Detail says why in words, for logs (it may quote certificate
// fields, never request headers).
type DenialError struct {
	Reason string
	Detail string
}

func (e *DenialError) Error() string {
	if e.Detail == "" {
		return "mtls: " + e.Reason
	}
	return "mtls: " + e.Reason + ": " + e.Detail
}

func deny(reason, format string, args ...any) error {
	return &DenialError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// errNoIdentity is the denial of a request without a verified identity
// (the zero Identity).
func errNoIdentity() error {
	return &DenialError{Reason: ReasonNoIdentity, Detail: "no verified client certificate"}
}

// Authorize runs a on id; a nil Authorizer denies.
func (a Authorizer) Authorize(id Identity) error {
	if a == nil {
		return &DenialError{Reason: ReasonIdentityDenied, Detail: "no authorizer configured (deny by default)"}
	}
	return a(id)
}

// DenialReason returns the reason code of err if it is (or wraps) a
// *DenialError, else ReasonIdentityDenied for any other non-nil error, and
// "" for nil. A custom Authorizer may return any error: it still counts as
// a denial.
func DenialReason(err error) string {
	if err == nil {
		return ""
	}
	var d *DenialError
	if errors.As(err, &d) {
		return d.Reason
	}
	return ReasonIdentityDenied
}
