package gateway

// Reason codes of the gateway's own refusals. Authorization denials carry
// the mtls reason codes (identity-missing, identity-denied,
// spiffe-id-denied, …) and CSRF refusals the csrf ones (cross-site,
// origin-mismatch, token-missing, …).
const (
	// ReasonBrowserNotAllowed: the route does not serve browsers and the
	// request carries browser-only Fetch Metadata headers (403).
	ReasonBrowserNotAllowed = "browser-not-allowed"
	// ReasonNoRoute: no route matches the request's host and path (404).
	ReasonNoRoute = "no-route"
	// ReasonPathInvalid: the path has dot segments ("/a/../b"), which
	// could make the gateway and the upstream disagree on the route (400).
	ReasonPathInvalid = "path-invalid"
	// ReasonPathAmbiguous: a common upstream could read the path as
	// another route's (";params" removed, case folded, decoded again,
	// '\' as '/', trailing dots or spaces trimmed, …; see
	// docs/security-model.md), so the route's authorization would not be
	// the one that applies (400).
	ReasonPathAmbiguous = "path-ambiguous"
	// ReasonHostInvalid: the Host (or HTTP/2 :authority) is not one
	// host[:port], which upstreams could read as another host (400).
	ReasonHostInvalid = "host-invalid"
	// ReasonMethodNotAllowed: CONNECT, which a reverse proxy does not
	// tunnel (405).
	ReasonMethodNotAllowed = "method-not-allowed"
	// ReasonUpstreamUnavailable: the upstream could not be reached or
	// failed mid-response (502).
	ReasonUpstreamUnavailable = "upstream-unavailable"
	// ReasonUpstreamTimeout: the upstream did not answer in time (504).
	ReasonUpstreamTimeout = "upstream-timeout"
	// ReasonBodyTooLarge: the request body exceeds limits.max-body-bytes
	// (413).
	ReasonBodyTooLarge = "body-too-large"
)

// reasonClientGone is logged, with status 499, when the client went away
// before the upstream answered: nothing was sent, so it is no refusal.
const reasonClientGone = "client-gone"
