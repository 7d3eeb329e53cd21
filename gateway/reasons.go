package gateway

// Reason is the stable, machine-readable code of a refusal: problem
// bodies, access logs and metric labels carry it. The gateway's own
// reasons are below; authorization denials and refused connections carry
// the mtls reasons (identity-missing, spiffe-id-denied, revoked, …), CSRF
// refusals the csrf ones (cross-site, token-missing, …) and refused
// forwarded identities forwarded's (forwarded-identity-invalid), each
// converted to a Reason with its text unchanged.
type Reason string

// Reason codes of the gateway's own refusals.
const (
	// ReasonBrowserNotAllowed: the route does not serve browsers and the
	// request carries browser-only Fetch Metadata headers (403).
	ReasonBrowserNotAllowed Reason = "browser-not-allowed"
	// ReasonNoRoute: no route matches the request's host and path (404).
	ReasonNoRoute Reason = "no-route"
	// ReasonPathInvalid: the path has dot segments ("/a/../b"), the
	// request target is no path ("a:admin/secret", "*" on a GET), or an
	// HTTP/2 :path has a space in its query, or the target a proxy asks
	// forgeproof authz about has one anywhere (the upstream's HTTP/1.1
	// request line would end the target there), which could make the
	// gateway and the upstream disagree on the route (400).
	ReasonPathInvalid Reason = "path-invalid"
	// ReasonPathAmbiguous: a common upstream could read the path as
	// another route's (";params" removed, case folded, decoded again,
	// '\' as '/', trailing dots or spaces trimmed, …; see
	// docs/security-model.md), so the route's authorization would not be
	// the one that applies (400).
	ReasonPathAmbiguous Reason = "path-ambiguous"
	// ReasonMethodInvalid: an HTTP/2 :method that is not a token, which
	// the upstream's HTTP/1.1 request line would read as another method
	// and target (400; see docs/security-model.md, CONNECT).
	ReasonMethodInvalid Reason = "method-invalid"
	// ReasonHostInvalid: the Host (or HTTP/2 :authority) is not one
	// host[:port], which upstreams could read as another host (400).
	ReasonHostInvalid Reason = "host-invalid"
	// ReasonAuthorityMismatch: an HTTP/2 request carries a Host header
	// that is not its :authority (or more than one), so the gateway and
	// an upstream could read different hosts (400; RFC 9113 §8.3.1).
	ReasonAuthorityMismatch Reason = "authority-mismatch"
	// ReasonFramingAmbiguous: an HTTP/1.1 request with both
	// Content-Length and Transfer-Encoding: chunked (request smuggling:
	// a server in front may have framed it by the Content-Length). The
	// gateway answers 400 and closes the connection (RFC 9112 §6.1).
	// Seen only on the gateway's own listeners: net/http deletes the
	// Content-Length before any handler runs, so Handler mounted on
	// another server cannot tell, and closes the connection after every
	// chunked request instead. Also an HTTP/2 request whose
	// Content-Length fields differ (Go's HTTP/2 server frames its body
	// by the first), or whose Content-Length is not a decimal length or
	// not its body's (Go's server reads the body as empty).
	ReasonFramingAmbiguous Reason = "framing-ambiguous"
	// ReasonForwardedInvalid: a trusted proxy (trusted-proxies) sent a
	// Forwarded, X-Forwarded-Proto or X-Forwarded-Host header that
	// cannot be parsed (an unterminated quote, an empty element, a
	// parameter twice in one element, an unknown proto, an invalid
	// host, …), so the request's origin is unknown (400). Decided on
	// every request from a trusted proxy, before the CSRF check, which
	// reads the headers alike and has the same code (csrf's).
	ReasonForwardedInvalid Reason = "forwarded-invalid"
	// ReasonForwardedConflict: a trusted proxy sent Forwarded and
	// X-Forwarded-Proto/-Host naming different origins (what one leaves
	// out taken from the connection and Host), as a proxy does that sets
	// X-Forwarded-* but passes the client's Forwarded on (Caddy's
	// default reverse_proxy, the usual nginx recipe): an upstream that
	// reads Forwarded first would build URLs with a host the client
	// chose (400). The same code as csrf's.
	ReasonForwardedConflict Reason = "forwarded-conflict"
	// ReasonHeaderUnremovable: forgeproof authz for an HTTP proxy (nginx,
	// Caddy, Traefik), which cannot remove headers per request, was asked
	// about a request carrying a header that serve would not forward
	// (another product's identity header, a name with '_', a path
	// override, an untrusted forwarding header) or an upgrade other than
	// a WebSocket handshake: forwarded as sent, the upstream could read
	// another identity, method, path or protocol (400).
	ReasonHeaderUnremovable Reason = "header-unremovable"
	// ReasonIdentityUnforwardable: the request's verified identity
	// cannot be written in identity-forwarding's format (RFC 9440 for an
	// identity a trusted forwarder passed on without its certificate;
	// XFCC for a control character, or for a backslash that XFCC readers
	// split differently in a DNS SAN or a URI SAN's query or opaque
	// part): forwarded without it, the upstream would take an
	// authenticated client for an anonymous one (403).
	ReasonIdentityUnforwardable Reason = "identity-unforwardable"
	// ReasonMethodNotAllowed: CONNECT, which a reverse proxy does not
	// tunnel, including HTTP/2's extended CONNECT (RFC 8441) (405).
	ReasonMethodNotAllowed Reason = "method-not-allowed"
	// ReasonUpstreamUnavailable: the upstream could not be reached or
	// failed mid-response (502).
	ReasonUpstreamUnavailable Reason = "upstream-unavailable"
	// ReasonUpstreamUpgradeRefused: the upstream answered 101 Switching
	// Protocols to a request the gateway did not forward as a WebSocket
	// handshake (or switched to another protocol); relaying it would
	// have made the connection a tunnel past every check (502).
	ReasonUpstreamUpgradeRefused Reason = "upstream-upgrade-refused"
	// ReasonUpstreamBusy: the request needed one more connection to its
	// upstream than limits.upstream-max-conns-per-host allows, and none
	// came free within limits.upstream-dial-timeout (503).
	ReasonUpstreamBusy Reason = "upstream-busy"
	// ReasonUpstreamTimeout: the upstream did not answer in time (504).
	ReasonUpstreamTimeout Reason = "upstream-timeout"
	// ReasonBodyTooLarge: the request body exceeds limits.max-body-bytes
	// (413).
	ReasonBodyTooLarge Reason = "body-too-large"
	// ReasonClientTimeout: the client stopped sending its request body
	// for limits.stall-timeout, or took longer than limits.read-timeout
	// (408).
	ReasonClientTimeout Reason = "client-timeout"
	// ReasonBodyInvalid: the request body could not be read to its end:
	// malformed chunked framing, or the client's connection ended before
	// the body did (400).
	ReasonBodyInvalid Reason = "body-invalid"
)

// reasonClientGone is logged, with status 499, when the client went away
// before the upstream answered: nothing was sent, so it is no refusal.
const reasonClientGone Reason = "client-gone"

// reasonClientStalled is logged, with the status sent, when an answer was
// cut off because its client took none of it for limits.stall-timeout:
// no refusal either.
const reasonClientStalled Reason = "client-stalled"
