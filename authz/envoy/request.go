package envoy

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
	"strings"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/net/http/httpguts"
)

// Limits on what a CheckRequest may carry. Envoy's own defaults are lower
// (60 KiB of request headers); a request past them was not sent by a
// sane proxy and is refused rather than decided.
const (
	maxTarget  = 16 << 10 // bytes of :path
	maxHeaders = 256      // header fields
)

// request is what Envoy says about the original request: the inputs of
// the decision, taken from the CheckRequest and checked for shape.
type request struct {
	method string
	target string // origin-form request target: path and query, as Envoy forwards it (normalize_path, merge_slashes)
	host   string
	scheme string      // "https" or "http" as Envoy saw it; "" when not said
	header http.Header // canonical names; Envoy's are their lower case
	// cert is attributes.source.certificate as sent: the URL-encoded PEM
	// of the client certificate Envoy verified, "" when there was none.
	cert string
	// remoteAddr is the client's address (attributes.source.address) as
	// "ip:port", "" when Envoy sent no IP address: the downstream
	// connection's peer (or PROXY protocol source), never an address
	// Envoy read from X-Forwarded-For.
	remoteAddr string
}

// attributeError is a CheckRequest this package refuses to decide, with
// a message that names the attribute but holds none of the client's
// values (it goes into the problem document). It is answered as the decision
// core answers a malformed description from any proxy: 400 with the
// reason authz-request-invalid.
type attributeError struct{ msg string }

func (e *attributeError) Error() string { return "envoy: " + e.msg }

func missing(format string, args ...any) *attributeError {
	return &attributeError{fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *attributeError {
	return &attributeError{fmt.Sprintf(format, args...)}
}

// pseudoNames are the pseudo-headers readRequest reads, in its order.
var pseudoNames = [4]string{":method", ":path", ":authority", ":scheme"}

// readRequest takes the request attributes out of a CheckRequest, as
// Envoy's HTTP ext_authz filter fills them: method, path (with query),
// host and lower-case headers in attributes.request.http (headers, or
// header_map with encode_raw_headers), the pseudo-headers among the
// headers too, and the client certificate in attributes.source.certificate
// (include_peer_certificate). Nothing is guessed: a missing or malformed
// attribute is an *attributeError, and the request is refused.
func readRequest(cr *authv3.CheckRequest) (*request, *attributeError) {
	attrs := cr.GetAttributes()
	if attrs == nil {
		return nil, missing("the CheckRequest has no attributes")
	}
	h := attrs.GetRequest().GetHttp()
	if h == nil {
		// A network (L4) ext_authz filter, or a caller that is not
		// Envoy's HTTP filter: there is no request to decide on.
		return nil, missing("the CheckRequest has no attributes.request.http (is this Envoy's HTTP ext_authz filter?)")
	}
	raw := h.GetHeaderMap().GetHeaders()
	n := len(raw) + len(h.GetHeaders())
	switch {
	case len(raw) > 0 && len(h.GetHeaders()) > 0:
		return nil, invalid("the request has both headers and header_map: which one did the client send?")
	case n > maxHeaders:
		return nil, invalid("the request has more than %d headers", maxHeaders)
	}
	rq := &request{
		header: make(http.Header, n),
		cert:   attrs.GetSource().GetCertificate(),
	}
	if sa := attrs.GetSource().GetAddress().GetSocketAddress(); sa != nil {
		if ip, err := netip.ParseAddr(sa.GetAddress()); err == nil {
			rq.remoteAddr = netip.AddrPortFrom(ip, uint16(sa.GetPortValue())).String()
		}
	}
	// The pseudo-headers the decision reads: :method, :path, :authority,
	// :scheme. Others (:protocol) are not read.
	var pseudo [4]string
	var seen [4]bool
	// One backing array for the values, as net/textproto does: a
	// header's slice is capped, so a repeated one is copied, not
	// overwritten.
	vals := make([]string, 0, n)
	add := func(key, value string) *attributeError {
		if strings.HasPrefix(key, ":") {
			i := slices.Index(pseudoNames[:], key)
			if i < 0 {
				return nil
			}
			if seen[i] {
				return invalid("a pseudo-header is repeated")
			}
			pseudo[i], seen[i] = value, true
			return nil
		}
		if !httpguts.ValidHeaderFieldName(key) {
			return invalid("a header name is not a token")
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			return invalid("a header value has control characters")
		}
		ck := textproto.CanonicalMIMEHeaderKey(key)
		if old, ok := rq.header[ck]; ok {
			rq.header[ck] = append(old, value)
			return nil
		}
		vals = append(vals, value)
		rq.header[ck] = vals[len(vals)-1 : len(vals) : len(vals)]
		return nil
	}
	for _, hv := range raw {
		v := hv.GetValue()
		if rv := hv.GetRawValue(); len(rv) > 0 {
			v = string(rv)
		}
		if err := add(hv.GetKey(), v); err != nil {
			return nil, err
		}
	}
	for k, v := range h.GetHeaders() {
		if err := add(k, v); err != nil {
			return nil, err
		}
	}

	var err *attributeError
	if rq.method, err = pick("method", h.GetMethod(), pseudo[0]); err != nil {
		return nil, err
	}
	if rq.target, err = pick("path", h.GetPath(), pseudo[1]); err != nil {
		return nil, err
	}
	if rq.host, err = pick("host", h.GetHost(), pseudo[2]); err != nil {
		return nil, err
	}
	if rq.scheme, err = pick("scheme", h.GetScheme(), pseudo[3]); err != nil {
		return nil, err
	}
	if hosts := rq.header["Host"]; len(hosts) > 0 {
		// Envoy turns an HTTP/1.1 Host into :authority; a host header
		// beside it is a second answer to "which host?".
		if len(hosts) > 1 || rq.host != "" && hosts[0] != rq.host {
			return nil, invalid("the request has a host header besides attributes.request.http.host")
		}
		rq.host = hosts[0]
		delete(rq.header, "Host")
	}
	switch {
	case rq.method == "":
		return nil, missing("attributes.request.http has no method")
	case rq.target == "":
		return nil, missing("attributes.request.http has no path")
	case len(rq.target) > maxTarget:
		return nil, invalid("the path is longer than %d bytes", maxTarget)
	case rq.host == "":
		return nil, missing("attributes.request.http has no host (nor :authority)")
	}
	// The method, path and host are checked by the decision itself, as
	// for every proxy: "forgeproof serve" would refuse the same ones.
	return rq, nil
}

// pick returns the attribute, or the pseudo-header when the attribute is
// empty; both set and different is an error (two meanings of one request).
func pick(name, attr, pseudo string) (string, *attributeError) {
	switch {
	case attr == "":
		return pseudo, nil
	case pseudo != "" && pseudo != attr:
		return "", invalid("attributes.request.http.%s and its pseudo-header differ", name)
	}
	return attr, nil
}
