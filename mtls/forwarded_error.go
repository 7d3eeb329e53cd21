package mtls

import (
	"fmt"
	"strings"
)

// Reason codes of the forwarded-identity refusals. They are stable: logs,
// metrics and clients may branch on them.
const (
	// ReasonForwardedIdentityInvalid: a trusted forwarder sent an identity
	// header that does not parse, or headers that contradict each other.
	// The request is refused with 400 rather than served as anonymous,
	// because a forwarder we trust that sends garbage is misconfigured or
	// compromised (fail closed).
	ReasonForwardedIdentityInvalid = "forwarded-identity-invalid"
)

// A HeaderError reports a malformed forwarded-identity header: which
// header, which element or list member (1-based, 0 when the header has a
// single value), which key (for x-forwarded-client-cert) and why. Its
// reason code (ReasonCode) is always ReasonForwardedIdentityInvalid.
type HeaderError struct {
	Header  string // canonical header name, e.g. "X-Forwarded-Client-Cert"
	Element int    // 1-based element or list member; 0 when not applicable
	Key     string // XFCC key as written; "" when not applicable
	Detail  string // what is wrong, lowercase, user input quoted
}

func (e *HeaderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mtls: invalid %s header", e.Header)
	if e.Element > 0 {
		fmt.Fprintf(&b, ": element %d", e.Element)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ": key %q", e.Key)
	}
	b.WriteString(": ")
	b.WriteString(e.Detail)
	return b.String()
}

// ReasonCode returns ReasonForwardedIdentityInvalid.
func (e *HeaderError) ReasonCode() string { return ReasonForwardedIdentityInvalid }
