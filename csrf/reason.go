package csrf

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/forgeproof/forgeproof/internal/problem"
)

// Reason is the stable, machine-readable code of a refusal. Reasons are part
// of the API: they appear in problem responses, metrics and logs, and will not
// change meaning.
type Reason string

// The reasons a request can be refused.
const (
	// ReasonCrossSite: Sec-Fetch-Site says cross-site.
	ReasonCrossSite Reason = "cross-site"
	// ReasonSameSite: Sec-Fetch-Site says same-site (another port or
	// subdomain of the same site) and same-site requests are not allowed.
	ReasonSameSite Reason = "same-site"
	// ReasonFetchSiteInvalid: Sec-Fetch-Site has a value no browser sends.
	ReasonFetchSiteInvalid Reason = "fetch-site-invalid"
	// ReasonOriginMismatch: the Origin is neither the request's own origin
	// nor a trusted origin.
	ReasonOriginMismatch Reason = "origin-mismatch"
	// ReasonOriginNull: the Origin is "null" (sandboxed frames, data: URLs,
	// some redirects): the sender's origin is hidden.
	ReasonOriginNull Reason = "origin-null"
	// ReasonOriginInvalid: the Origin is not of the form scheme://host[:port].
	ReasonOriginInvalid Reason = "origin-invalid"
	// ReasonRefererMismatch: with no Sec-Fetch-Site and no Origin, the
	// Referer's origin is neither the request's own origin nor trusted.
	ReasonRefererMismatch Reason = "referer-mismatch"
	// ReasonRefererInvalid: the Referer is not an absolute URL with a host.
	ReasonRefererInvalid Reason = "referer-invalid"
	// ReasonForwardedInvalid: a trusted proxy sent Forwarded or
	// X-Forwarded-Proto/-Host values that cannot be parsed, so the request's
	// own origin is unknown. Error.Header names the header and Error.Err
	// the cause ("unterminated quoted-string", "empty element", …).
	ReasonForwardedInvalid Reason = "forwarded-invalid"
	// ReasonForwardedConflict: a trusted proxy sent both Forwarded and
	// X-Forwarded-Proto/-Host, and they name different origins: the check
	// and an application that reads the other header would disagree.
	// Error.Err names both origins (not in the problem response, which
	// quotes nothing of the request).
	ReasonForwardedConflict Reason = "forwarded-conflict"
	// ReasonTokenMissing: a token is required and the request carries none.
	ReasonTokenMissing Reason = "token-missing"
	// ReasonTokenInvalid: the token is malformed, signed by an unknown key,
	// or minted for another binding (another session, certificate or
	// pre-session cookie).
	ReasonTokenInvalid Reason = "token-invalid"
	// ReasonBindingUnavailable: a token is required and the binding function
	// failed, or the pre-session cookie is missing.
	ReasonBindingUnavailable Reason = "binding-unavailable"
	// ReasonHeaderRepeated: Origin, Sec-Fetch-Site or Referer appears
	// more than once (separate lines, or values joined with a comma), so
	// the request has no single meaning: a check that reads the first copy
	// and an application that reads another would disagree. Browsers send
	// each at most once. Error.Header names the repeated header.
	ReasonHeaderRepeated Reason = "header-repeated"
	// ReasonNoKeys: a token is required by the mode but no key ring is set
	// (a configuration error; refused so it cannot go unnoticed).
	ReasonNoKeys Reason = "no-keys"
)

// Error is a refusal. Check returns it as an error; use [ReasonOf] or
// errors.As to get at it.
type Error struct {
	// Reason is the stable code of the refusal, one of the Reason
	// constants.
	Reason Reason
	// Header names the request header that decided ("Sec-Fetch-Site",
	// "Origin", "Referer", "X-CSRF-Token", …), or "" when none did.
	Header string
	// Value is that header's value as the client sent it. It is
	// attacker-controlled: quote or escape it before showing it anywhere.
	Value string
	// Err is the underlying cause when there is one (a token decoding
	// error, the binding function's error).
	Err error
}

// Error reads "csrf: ", the Reason, then the Header and its Value (quoted)
// and the Err, each after ": ". The Value is the client's: escape the
// message before showing it in HTML.
func (e *Error) Error() string {
	s := "csrf: " + string(e.Reason)
	switch {
	case e.Header != "" && e.Value != "":
		s += fmt.Sprintf(": %s %q", e.Header, e.Value)
	case e.Header != "":
		s += ": in " + e.Header
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns Err, so that errors.Is and errors.As see the cause
// (ErrFormTooLarge, the binding function's error).
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason of the *Error in err's chain, and whether
// there was one.
func ReasonOf(err error) (Reason, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason, true
	}
	return "", false
}

// problemTitle is the human summary of a refusal by the origin checks in
// problem responses. A token refusal has its own (tokenTitle): the
// request passed the origin checks, so it is not called cross-site.
const problemTitle = "refused as a possible cross-site request forgery"

// title is the human summary of a refusal for r.
func (r Reason) title() string {
	switch r {
	case ReasonTokenMissing:
		return "refused: the request carries no CSRF token"
	case ReasonTokenInvalid:
		return "refused: the CSRF token is not valid"
	case ReasonBindingUnavailable, ReasonNoKeys:
		return "refused: the CSRF token cannot be checked"
	}
	return problemTitle
}

// WriteProblem is the default [DenyHandler]: it answers 403 with an RFC
// 9457 problem document (application/problem+json) when the client
// accepts JSON, plain text otherwise, both carrying the reason code, a
// title and a detail that depend on the reason only, and "Vary: Accept"
// and "Cache-Control: no-store". A DenyHandler that rewords some reasons
// can hand the others to it.
func WriteProblem(w http.ResponseWriter, r *http.Request, err *Error) {
	if err == nil {
		err = &Error{}
	}
	problem.Write(w, r, problem.Details{
		Status: http.StatusForbidden,
		Reason: string(err.Reason),
		Title:  err.Reason.title(),
		Detail: err.detail(),
	})
}

// detail explains e in problem responses without quoting the request.
func (e *Error) detail() string {
	if e.Reason == ReasonTokenMissing && errors.Is(e.Err, ErrFormTooLarge) {
		return ErrFormTooLarge.Error()
	}
	return e.Reason.detail()
}

// detail explains a reason in problem responses without quoting the
// request: attacker-controlled values never reach the response body.
func (r Reason) detail() string {
	switch r {
	case ReasonCrossSite:
		return "the browser reports that this request comes from another site"
	case ReasonSameSite:
		return "the browser reports that this request comes from another origin of the same site"
	case ReasonFetchSiteInvalid:
		return "the Sec-Fetch-Site header has an unknown value"
	case ReasonOriginMismatch:
		return "the Origin header is not this service's origin nor a trusted one"
	case ReasonOriginNull:
		return "the Origin header is null: the sender hid its origin"
	case ReasonOriginInvalid:
		return "the Origin header is malformed"
	case ReasonRefererMismatch:
		return "the Referer header is not from this service's origin nor a trusted one"
	case ReasonRefererInvalid:
		return "the Referer header is malformed"
	case ReasonForwardedInvalid:
		return "a trusted proxy sent a malformed Forwarded or X-Forwarded header"
	case ReasonForwardedConflict:
		return "a trusted proxy sent Forwarded and X-Forwarded headers that name different origins"
	case ReasonTokenMissing:
		return "the request passed the origin checks, but this service also requires a CSRF token and the page that sent it did not include one: " +
			"put the token the server issued into the form as the csrf_token field, or into the " + HeaderName + " header of fetch requests"
	case ReasonTokenInvalid:
		return "the CSRF token is not this session's, was altered, or was signed with a key the server no longer has; " +
			"a page loaded before a sign-in or sign-out carries a token for the old session: reload the page and send it again"
	case ReasonBindingUnavailable:
		return "the token is bound to a session or a pre-session cookie, and the request carries neither"
	case ReasonNoKeys:
		return "a CSRF token is required but the server has no token keys"
	case ReasonHeaderRepeated:
		return "the request carries Origin, Sec-Fetch-Site or Referer more than once"
	}
	return ""
}
