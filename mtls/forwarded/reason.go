package forwarded

import (
	"errors"
	"fmt"
	"strings"
)

// Reason is the stable, machine-readable code of a refusal: logs, metrics
// and problem bodies carry it, and clients may branch on it.
type Reason string

// ReasonInvalid: a trusted forwarder sent an identity header that does
// not parse, or headers that contradict each other. The request is
// refused with 400 rather than served as anonymous, because a forwarder
// we trust that sends garbage is misconfigured or compromised (fail
// closed).
const ReasonInvalid Reason = "forwarded-identity-invalid"

// An Error reports a malformed forwarded-identity header: which header,
// which element or list member (1-based, 0 when the header has a single
// value), which key (for x-forwarded-client-cert) and why. Its Reason is
// ReasonInvalid.
type Error struct {
	Reason  Reason // always ReasonInvalid
	Header  string // canonical header name, e.g. "X-Forwarded-Client-Cert"
	Element int    // 1-based element or list member; 0 when not applicable
	Key     string // XFCC key as written; "" when not applicable
	Detail  string // what is wrong, lowercase, user input quoted
}

// Error reads "forwarded: invalid ", the header, the element and the key
// when known, then the Detail, each after ": ".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "forwarded: invalid %s header", e.Header)
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

// ReasonOf returns the Reason of the *Error in err's chain, "" when there
// is none.
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
