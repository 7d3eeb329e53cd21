package forwarded

import (
	"net/http"
	"slices"
)

// forwardedHeaders are the normalised names (see normaliseHeaderName) that
// StripHeaders deletes. Keep HeaderNames' doc in step,
// and IsHeader's length bounds (the shortest and longest here).
var forwardedHeaders = []string{
	"client-cert",                      // RFC 9440
	"client-cert-chain",                // RFC 9440
	"x-forwarded-client-cert",          // Envoy, Istio, forgeproof serve
	"forgeproof-client-identity",       // forgeproof serve (a readable name)
	"x-ssl-client-cert",                // nginx and HAProxy conventions
	"x-client-cert",                    // common ad hoc name
	"x-forwarded-tls-client-cert",      // Traefik
	"x-forwarded-tls-client-cert-info", // Traefik
}

// HeaderNames returns the names of the headers that
// StripHeaders deletes, in normalised form (lower case, with every
// character other than a letter or digit written as '-'):
//
//   - client-cert, client-cert-chain: RFC 9440, which forgeproof emits;
//   - x-forwarded-client-cert: Envoy's XFCC, which forgeproof emits;
//   - forgeproof-client-identity: the identity's name, which forgeproof
//     serve adds for logs and simple backends;
//   - x-ssl-client-cert, x-client-cert, x-forwarded-tls-client-cert,
//     x-forwarded-tls-client-cert-info: names other proxies (nginx,
//     HAProxy, Traefik) use for the same purpose. forgeproof neither reads
//     nor writes them, but a backend behind it might trust them, so a
//     client must not be able to send them through.
func HeaderNames() []string { return slices.Clone(forwardedHeaders) }

// IsHeader reports whether name, in any case and with '_' (or any
// other punctuation) in place of '-', is one of HeaderNames.
func IsHeader(name string) bool {
	// This runs on every header of every request: normalise into a stack
	// buffer, and skip names shorter or longer than any we strip (most
	// headers, Host, Accept, User-Agent, are shorter).
	var buf [len("x-forwarded-tls-client-cert-info")]byte
	if len(name) < len("client-cert") || len(name) > len(buf) {
		return false
	}
	n := normaliseHeaderName(buf[:0], name)
	for _, f := range forwardedHeaders {
		if string(n) == f {
			return true
		}
	}
	return false
}

// StripHeaders deletes from h every header that claims a client
// identity (HeaderNames), under any spelling: Go canonicalises
// only hyphenated names, so X_Forwarded_Client_Cert, client_cert and
// CLIENT-CERT arrive as separate keys that a CGI-style backend or another
// proxy may still read as the real header. A gateway calls it on every
// request before it adds its own identity headers. It returns how many
// header keys it deleted.
func StripHeaders(h http.Header) int {
	n := 0
	for name := range h {
		if IsHeader(name) {
			delete(h, name)
			n++
		}
	}
	return n
}

// normaliseHeaderName appends to dst name lower-cased, with every byte that
// is not a letter or digit mapped to '-', so that the spellings a backend
// could conflate compare equal.
func normaliseHeaderName(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			dst = append(dst, c)
		default:
			dst = append(dst, '-')
		}
	}
	return dst
}
