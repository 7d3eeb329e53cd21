package envoy_test

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	networkingv1alpha3 "istio.io/api/networking/v1alpha3"
	securityv1beta1 "istio.io/api/security/v1beta1"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/mdtest"
)

// docsDir is the folder of the Envoy integration's files, which the docs
// (docs/integrations/envoy.md) show and these tests use.
var docsDir = filepath.Join("..", "..", "docs", "integrations", "envoy")

// decodeYAML reads a YAML file into a protobuf message as Envoy and
// Istio read theirs: YAML to JSON, then protojson, which refuses unknown
// fields and resolves every typed_config "@type" against the types
// linked into this test.
func decodeYAML(t *testing.T, path string, msg proto.Message) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decodeYAMLBytes(t, path, b, msg)
}

func decodeYAMLBytes(t *testing.T, name string, b []byte, msg proto.Message) {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := protojson.Unmarshal(j, msg); err != nil {
		t.Fatalf("%s: does not decode as %s: %v", name, msg.ProtoReflect().Descriptor().FullName(), err)
	}
}

// TestEnvoyConfig decodes docs/integrations/envoy/envoy.yaml into
// Envoy's bootstrap type, runs Envoy's own field validation rules
// (protoc-gen-validate), and checks that it asks the service that
// forgeproof.yaml configures, the way forgeproof needs: gRPC ext_authz v3
// with the peer certificate, no request body, failing closed, over mutual
// TLS. It does not run Envoy (not installable here).
func TestEnvoyConfig(t *testing.T) {
	var bs bootstrapv3.Bootstrap
	decodeYAML(t, filepath.Join(docsDir, "envoy.yaml"), &bs)
	validateDeep(t, "envoy.yaml", &bs)
	// The files it names are minted by newWorld, which serves it in the
	// other tests; here its keys are read.
	cfg, err := gateway.ParseConfig("forgeproof.yaml", mustRead(t, filepath.Join(docsDir, "forgeproof.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Authz == nil || cfg.Authz.Proxy != gateway.ProxyEnvoy {
		t.Fatalf("forgeproof.yaml: authz.proxy is not %q", gateway.ProxyEnvoy)
	}
	_, authzPort, err := net.SplitHostPort(cfg.Authz.Address)
	if err != nil {
		t.Fatalf("forgeproof.yaml: authz.address: %v", err)
	}

	var extAuthz *extauthzv3.ExtAuthz
	var hcm *hcmv3.HttpConnectionManager
	for _, l := range bs.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			var dtls tlsv3.DownstreamTlsContext
			if err := fc.GetTransportSocket().GetTypedConfig().UnmarshalTo(&dtls); err != nil {
				t.Errorf("listener %s: no DownstreamTlsContext: %v", l.GetName(), err)
			} else if dtls.GetCommonTlsContext().GetValidationContext().GetTrustedCa() == nil {
				t.Errorf("listener %s: client certificates are not verified (no trusted_ca)", l.GetName())
			}
			for _, f := range fc.GetFilters() {
				hcm = new(hcmv3.HttpConnectionManager)
				if err := f.GetTypedConfig().UnmarshalTo(hcm); err != nil {
					t.Fatalf("filter %s: %v", f.GetName(), err)
				}
				for _, hf := range hcm.GetHttpFilters() {
					if hf.GetName() != "envoy.filters.http.ext_authz" {
						continue
					}
					extAuthz = new(extauthzv3.ExtAuthz)
					if err := hf.GetTypedConfig().UnmarshalTo(extAuthz); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	if extAuthz == nil {
		t.Fatal("envoy.yaml has no envoy.filters.http.ext_authz filter")
	}
	if hcm.GetForwardClientCertDetails() != hcmv3.HttpConnectionManager_SANITIZE {
		t.Errorf("forward_client_cert_details: got %v, want SANITIZE (the client's XFCC must not reach forgeproof as Envoy's)", hcm.GetForwardClientCertDetails())
	}
	// Envoy's ConnectionManagerUtility::mutateRequestHeaders, before any
	// filter: without use_remote_address a client's X-Forwarded-Proto is
	// kept, and an HTTP/1.1 request's :scheme (attributes.request.http.scheme)
	// is taken from it.
	if !hcm.GetUseRemoteAddress().GetValue() || hcm.GetXffNumTrustedHops() != 0 {
		t.Errorf("use_remote_address: got %v with xff_num_trusted_hops %d, want true with 0 (Envoy sets X-Forwarded-Proto, not the client)",
			hcm.GetUseRemoteAddress().GetValue(), hcm.GetXffNumTrustedHops())
	}
	if f := hcm.GetHttpFilters(); len(f) == 0 || f[len(f)-1].GetName() != "envoy.filters.http.router" || f[0].GetName() != "envoy.filters.http.ext_authz" {
		t.Errorf("http_filters: ext_authz must come first and the router last")
	}
	switch {
	case !extAuthz.GetIncludePeerCertificate():
		t.Error("ext_authz: include_peer_certificate is not true: forgeproof would see no client certificate")
	case extAuthz.GetWithRequestBody() != nil:
		t.Error("ext_authz: with_request_body is set: forgeproof decides on headers, and buffering bodies costs memory")
	case extAuthz.GetFailureModeAllow():
		t.Error("ext_authz: failure_mode_allow is true: requests would pass unchecked when forgeproof is down")
	case extAuthz.GetAllowedHeaders() != nil || extAuthz.GetDisallowedHeaders() != nil:
		// Without Origin, Sec-Fetch-Site and Referer a browser's request
		// looks like a program's, which the origin check lets through;
		// and only a header forgeproof sees can it have removed.
		t.Error("ext_authz: allowed_headers or disallowed_headers is set: forgeproof must see every client header")
	case extAuthz.GetDecoderHeaderMutationRules() != nil:
		// With rules, Envoy ignores (or fails on, disallow_is_error) the
		// removals and sets they do not allow, x-envoy-* by default
		// (allow_envoy): a client's x-envoy-original-path would stay.
		t.Error("ext_authz: decoder_header_mutation_rules is set: Envoy may silently skip forgeproof's headers to set and remove")
	case extAuthz.GetTransportApiVersion().String() != "V3":
		t.Errorf("ext_authz: transport_api_version: got %v, want V3", extAuthz.GetTransportApiVersion())
	case extAuthz.GetGrpcService().GetEnvoyGrpc() == nil:
		t.Error("ext_authz: not a gRPC service (envoy_grpc)")
	}

	clusterName := extAuthz.GetGrpcService().GetEnvoyGrpc().GetClusterName()
	var cl *clusterv3.Cluster
	for _, c := range bs.GetStaticResources().GetClusters() {
		if c.GetName() == clusterName {
			cl = c
		}
	}
	if cl == nil {
		t.Fatalf("envoy.yaml: no cluster %q for the ext_authz service", clusterName)
	}
	var ports []string
	for _, e := range cl.GetLoadAssignment().GetEndpoints() {
		for _, lb := range e.GetLbEndpoints() {
			ports = append(ports, strconv.Itoa(int(lb.GetEndpoint().GetAddress().GetSocketAddress().GetPortValue())))
		}
	}
	if len(ports) != 1 || ports[0] != authzPort {
		t.Errorf("cluster %s: ports %v, want forgeproof.yaml's authz.address port %s", clusterName, ports, authzPort)
	}
	var hpo httpv3.HttpProtocolOptions
	if err := cl.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&hpo); err != nil ||
		hpo.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Errorf("cluster %s: not HTTP/2 (explicit_http_config.http2_protocol_options): gRPC needs it", clusterName)
	}
	if cfg.Authz.TLS != nil {
		var utls tlsv3.UpstreamTlsContext
		if err := cl.GetTransportSocket().GetTypedConfig().UnmarshalTo(&utls); err != nil {
			t.Fatalf("cluster %s: forgeproof.yaml has authz.tls but Envoy does not speak TLS to it: %v", clusterName, err)
		}
		if len(utls.GetCommonTlsContext().GetTlsCertificates()) == 0 {
			t.Errorf("cluster %s: Envoy presents no certificate, but forgeproof.yaml's authz.tls.allow wants one", clusterName)
		}
	}
}

// validateDeep runs Envoy's validation rules (protoc-gen-validate) on m
// and on every message packed in an Any inside it (typed_config), as
// Envoy does when it loads them; m's own ValidateAll does not look inside
// an Any.
func validateDeep(t *testing.T, name string, m proto.Message) {
	t.Helper()
	check := func(m protoreflect.Message) {
		if v, ok := m.Interface().(interface{ ValidateAll() error }); ok {
			if err := v.ValidateAll(); err != nil {
				t.Errorf("%s: Envoy's validation rules refuse it: %v", name, err)
			}
		}
	}
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if a, ok := m.Interface().(*anypb.Any); ok {
			inner, err := a.UnmarshalNew()
			if err != nil {
				t.Errorf("%s: %s: %v", name, a.GetTypeUrl(), err)
				return
			}
			check(inner.ProtoReflect())
			walk(inner.ProtoReflect())
			return
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				for i := 0; i < v.List().Len(); i++ {
					walk(v.List().Get(i).Message())
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(mv.Message())
					return true
				})
			case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
				walk(v.Message())
			}
			return true
		})
	}
	check(m.ProtoReflect())
	walk(m.ProtoReflect())
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIstioConfig decodes the documents of
// docs/integrations/envoy/istio.yaml into Istio's own API types (strictly:
// an unknown or misspelt field fails) and checks that they fit together
// and with forgeproof.yaml: the CUSTOM policy names the extension provider,
// the provider's port is authz.address's, the EnvoyFilter turns on
// include_peer_certificate in a valid ExtAuthz, and the policy, the patch
// and the Gateway select the same workload. It does not run Istio.
func TestIstioConfig(t *testing.T) {
	cfg, err := gateway.ParseConfig("forgeproof.yaml", mustRead(t, filepath.Join(docsDir, "forgeproof.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	_, authzPort, _ := net.SplitHostPort(cfg.Authz.Address)

	dec := yaml.NewDecoder(bytes.NewReader(mustRead(t, filepath.Join(docsDir, "istio.yaml"))))
	var docs []map[string]any
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("istio.yaml: %v", err)
		}
		docs = append(docs, doc)
	}
	if len(docs) != 5 {
		t.Fatalf("istio.yaml: %d documents, want 5 (mesh config, CUSTOM AuthorizationPolicy, EnvoyFilter, Gateway, ALLOW AuthorizationPolicy)", len(docs))
	}
	sub := func(name string, v any, msg proto.Message) {
		t.Helper()
		b, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		decodeYAMLBytes(t, "istio.yaml: "+name, b, msg)
	}
	kind := func(doc map[string]any, apiVersion, kind string) {
		t.Helper()
		if doc["apiVersion"] != apiVersion || doc["kind"] != kind {
			t.Errorf("istio.yaml: got %v %v, want %s %s", doc["apiVersion"], doc["kind"], apiVersion, kind)
		}
	}

	var mesh meshv1alpha1.MeshConfig
	sub("meshConfig", docs[0]["meshConfig"], &mesh)
	var provider *meshv1alpha1.MeshConfig_ExtensionProvider
	for _, p := range mesh.GetExtensionProviders() {
		provider = p
	}
	grpcProvider := provider.GetEnvoyExtAuthzGrpc()
	switch {
	case grpcProvider == nil:
		t.Fatal("istio.yaml: the extension provider is not envoyExtAuthzGrpc")
	case strconv.Itoa(int(grpcProvider.GetPort())) != authzPort:
		t.Errorf("istio.yaml: provider port %d, want forgeproof.yaml's authz.address port %s", grpcProvider.GetPort(), authzPort)
	case grpcProvider.GetFailOpen():
		t.Error("istio.yaml: failOpen: requests would pass unchecked when forgeproof is down")
	case grpcProvider.GetIncludeRequestBodyInCheck() != nil:
		t.Error("istio.yaml: includeRequestBodyInCheck: forgeproof decides on headers")
	}

	kind(docs[1], "security.istio.io/v1", "AuthorizationPolicy")
	var policy securityv1beta1.AuthorizationPolicy
	sub("AuthorizationPolicy", docs[1]["spec"], &policy)
	if policy.GetAction() != securityv1beta1.AuthorizationPolicy_CUSTOM || policy.GetProvider().GetName() != provider.GetName() {
		t.Errorf("istio.yaml: AuthorizationPolicy: action %v provider %q, want CUSTOM %q", policy.GetAction(), policy.GetProvider().GetName(), provider.GetName())
	}

	kind(docs[2], "networking.istio.io/v1alpha3", "EnvoyFilter")
	var patch networkingv1alpha3.EnvoyFilter
	sub("EnvoyFilter", docs[2]["spec"], &patch)
	if len(patch.GetConfigPatches()) != 1 {
		t.Fatalf("istio.yaml: EnvoyFilter: %d patches, want 1", len(patch.GetConfigPatches()))
	}
	cp := patch.GetConfigPatches()[0]
	if cp.GetMatch().GetListener().GetFilterChain().GetFilter().GetSubFilter().GetName() != "envoy.filters.http.ext_authz" ||
		cp.GetPatch().GetOperation() != networkingv1alpha3.EnvoyFilter_Patch_MERGE {
		t.Errorf("istio.yaml: EnvoyFilter does not MERGE into envoy.filters.http.ext_authz")
	}
	value, err := protojson.Marshal(cp.GetPatch().GetValue())
	if err != nil {
		t.Fatal(err)
	}
	var hf hcmv3.HttpFilter
	if err := protojson.Unmarshal(value, &hf); err != nil {
		t.Fatalf("istio.yaml: EnvoyFilter patch value is not an HttpFilter: %v", err)
	}
	var ea extauthzv3.ExtAuthz // merged into the filter Istio makes: partial, but well-formed
	if err := hf.GetTypedConfig().UnmarshalTo(&ea); err != nil || !ea.GetIncludePeerCertificate() {
		t.Errorf("istio.yaml: EnvoyFilter does not set include_peer_certificate in an ExtAuthz (%v)", err)
	}
	validateDeep(t, "istio.yaml: EnvoyFilter patch", &ea)

	kind(docs[3], "networking.istio.io/v1", "Gateway")
	var gw networkingv1alpha3.Gateway
	sub("Gateway", docs[3]["spec"], &gw)
	for _, s := range gw.GetServers() {
		if s.GetTls().GetMode() != networkingv1alpha3.ServerTLSSettings_OPTIONAL_MUTUAL {
			t.Errorf("istio.yaml: Gateway server %s: TLS mode %v, want OPTIONAL_MUTUAL", s.GetPort().GetName(), s.GetTls().GetMode())
		}
	}

	kind(docs[4], "security.istio.io/v1", "AuthorizationPolicy")
	var callers securityv1beta1.AuthorizationPolicy
	sub("AuthorizationPolicy (callers)", docs[4]["spec"], &callers)
	var principals, ports []string
	for _, r := range callers.GetRules() {
		for _, f := range r.GetFrom() {
			principals = append(principals, f.GetSource().GetPrincipals()...)
		}
		for _, to := range r.GetTo() {
			ports = append(ports, to.GetOperation().GetPorts()...)
		}
	}
	if callers.GetAction() != securityv1beta1.AuthorizationPolicy_ALLOW || len(principals) == 0 || !slices.Equal(ports, []string{authzPort}) {
		t.Errorf("istio.yaml: the callers' policy: action %v, principals %v, ports %v; want ALLOW, the gateway's principal, port %s",
			callers.GetAction(), principals, ports, authzPort)
	}

	sel := policy.GetSelector().GetMatchLabels()
	if !maps.Equal(sel, patch.GetWorkloadSelector().GetLabels()) || !maps.Equal(sel, gw.GetSelector()) {
		t.Errorf("istio.yaml: the policy (%v), the EnvoyFilter (%v) and the Gateway (%v) select different workloads",
			sel, patch.GetWorkloadSelector().GetLabels(), gw.GetSelector())
	}
}

// TestEnvoyDocShowsFiles keeps docs/integrations/envoy.md in step with
// the files the other tests use: the block under each file's heading is
// a yaml block and that file, byte for byte.
func TestEnvoyDocShowsFiles(t *testing.T) {
	doc := string(mustRead(t, filepath.Join(docsDir, "..", "envoy.md")))
	prose, blocks := mdtest.Prose(doc), mdtest.Blocks(doc)
	for _, name := range []string{"forgeproof.yaml", "envoy.yaml", "istio.yaml", "istio-authz.yaml"} {
		heading := "### `envoy/" + name + "`"
		at := slices.Index(prose, heading) + 1 // its line number
		if at == 0 {
			t.Errorf("envoy.md: no heading %q", heading)
			continue
		}
		// The first block after the heading, before the next one.
		i := slices.IndexFunc(blocks, func(b mdtest.Block) bool { return b.Line > at })
		if i < 0 || blocks[i].Lang != "yaml" || slices.ContainsFunc(prose[at:blocks[i].Line-1], isHeading) {
			t.Errorf("envoy.md: no yaml block under %q", heading)
			continue
		}
		if want := string(mustRead(t, filepath.Join(docsDir, name))); blocks[i].Text()+"\n" != want {
			t.Errorf("envoy.md shows a %s that differs from docs/integrations/envoy/%s: copy the file into the page", name, name)
		}
	}
}

func isHeading(line string) bool { return strings.HasPrefix(line, "#") }
