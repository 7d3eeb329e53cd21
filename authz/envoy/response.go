package envoy

import (
	"bytes"
	"net/http"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/problem"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// MetadataReason is the key of the reason code in the dynamic metadata of
// a denial (and of a request a report-only route let through), which
// Envoy stores under the filter's name: an access log can print it with
// %DYNAMIC_METADATA(envoy.filters.http.ext_authz:reason)%.
const MetadataReason = "reason"

// allow answers OK: Envoy sets every header of set on the upstream
// request (replacing the client's copies of the same name) and removes
// the headers named in strip (canonical names, as in
// gateway.Decision.Remove), except the names it sets. Envoy applies
// removals after setting, so removing a name that is also set would
// remove the forwarded identity itself. Envoy matches names in any case;
// its own are lower case. reportOnly is the reason a report-only route
// let the request through despite, "" when none: it goes into the
// dynamic metadata, for Envoy's access log.
//
// The identity headers (the first gateway.NumIdentityHeaders of strip)
// are removed whether or not the question showed them: Envoy sends only
// the headers its allowed_headers matches and disallowed_headers does
// not (Envoy Gateway's headersToExtAuth, the Gateway API's
// allowedHeaders), so a client's Client-Cert may reach the upstream
// without having reached forgeproof. The other names of strip come from
// the question's headers.
func allow(set http.Header, strip []string, reportOnly string) *authv3.CheckResponse {
	ok := &authv3.OkHttpResponse{}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names) // a stable answer, for logs and tests
	for _, k := range names {
		lk := lower(k)
		ok.Headers = append(ok.Headers, &corev3.HeaderValueOption{
			Header: &corev3.HeaderValue{Key: lk, Value: strings.Join(set[k], ", ")},
			// Every forwarded identity header is a list (RFC 9440 §2,
			// XFCC), so its values joined with commas mean the same as
			// separate lines.
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	for _, ck := range strip {
		if _, setIt := set[ck]; setIt {
			continue
		}
		ok.HeadersToRemove = append(ok.HeadersToRemove, lower(ck))
	}
	sort.Strings(ok.HeadersToRemove)
	resp := &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(code.Code_OK)},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}
	if reportOnly != "" {
		resp.DynamicMetadata = &structpb.Struct{Fields: map[string]*structpb.Value{
			MetadataReason: structpb.NewStringValue(reportOnly),
		}}
	}
	return resp
}

// lowerNames are the lower-case names of the headers an answer sets, so
// that writing them costs nothing.
var lowerNames = map[string]string{}

func init() {
	for _, n := range []string{forwarded.HeaderClientCert, forwarded.HeaderClientCertChain, forwarded.HeaderXFCC,
		gateway.HeaderClientIdentity, gateway.HeaderCSRFToken, authz.HeaderReason,
		"Content-Type", "Cache-Control", "X-Content-Type-Options", "Vary"} {
		lowerNames[n] = strings.ToLower(n)
	}
}

// lower is the lower-case form of a canonical header name.
func lower(name string) string {
	if l, ok := lowerNames[name]; ok {
		return l
	}
	return strings.ToLower(name)
}

// deny answers Denied: Envoy sends the client status with the body and
// headers that write renders for a request with the client's Accept
// header (a problem document: JSON when accept asks for it, text
// otherwise), and the upstream receives nothing. reason goes into the
// gRPC status message and the dynamic metadata, for Envoy's logs.
func deny(accept []string, status int, reason string, write func(http.ResponseWriter, *http.Request)) *authv3.CheckResponse {
	w := &bodyWriter{header: http.Header{}}
	write(w, &http.Request{Header: http.Header{"Accept": accept}})
	w.header.Set(authz.HeaderReason, reason) // as package authz answers
	names := make([]string, 0, len(w.header))
	for k := range w.header {
		names = append(names, k)
	}
	sort.Strings(names)
	denied := &authv3.DeniedHttpResponse{
		Status: &typev3.HttpStatus{Code: typev3.StatusCode(status)},
		Body:   w.body.String(),
	}
	for _, k := range names {
		denied.Headers = append(denied.Headers, &corev3.HeaderValueOption{
			Header:       &corev3.HeaderValue{Key: lower(k), Value: strings.Join(w.header[k], ", ")},
			AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD,
		})
	}
	return &authv3.CheckResponse{
		Status:       &rpcstatus.Status{Code: int32(code.Code_PERMISSION_DENIED), Message: reason},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: denied},
		DynamicMetadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			MetadataReason: structpb.NewStringValue(reason),
		}},
	}
}

// problemWriter renders d, for deny.
func problemWriter(d problem.Details) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) { problem.Write(w, r, d) }
}

// bodyWriter is the http.ResponseWriter problem.Write renders into.
type bodyWriter struct {
	header http.Header
	body   bytes.Buffer
}

func (w *bodyWriter) Header() http.Header         { return w.header }
func (w *bodyWriter) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *bodyWriter) WriteHeader(int)             {}
