package mtls

import (
	"fmt"
)

// An Authorizer decides whether a verified identity may proceed: nil means
// yes, an error (an *Error from the constructors in this package)
// means no. Authorizers must be safe for concurrent use; all in this
// package are. A nil Authorizer denies everything (deny by default).
type Authorizer func(Identity) error

func deny(reason Reason, format string, args ...any) error {
	return &Error{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// errNoIdentity is the denial of a request without a verified identity
// (the zero Identity).
func errNoIdentity() error {
	return &Error{Reason: ReasonNoIdentity, Detail: "no verified client certificate"}
}

// authorize runs a on id; a nil Authorizer denies.
func authorize(a Authorizer, id Identity) error {
	if a == nil {
		return &Error{Reason: ReasonIdentityDenied, Detail: "no authorizer configured (deny by default)"}
	}
	return a(id)
}
