package envoy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/forgeproof/forgeproof/authz/envoy"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
)

// TestCheck sends Envoy's questions to the service over a real socket,
// over mutual TLS as docs/integrations/envoy configures it, from the
// allowed proxy, and reads the answers as Envoy does. Every refused case
// has its allowed twin just before it.
func TestCheck(t *testing.T) {
	w := newWorld(t, nil)
	c := w.client(t, "127.0.0.1", w.envoy, false)
	const host, self, evil = "bank.example", "https://bank.example", "https://evil.example"
	json := "application/json"
	tests := []struct {
		name   string
		cr     *authv3.CheckRequest
		status int    // 0: allowed
		reason string // of a refusal
	}{
		{"service client POST", envoyCheck("POST", "/transfer", host, w.alice, "content-type", "application/json"), 0, ""},
		{"service client GET", envoyCheck("GET", "/balance?x=1", host, w.alice), 0, ""},

		{"same-origin form POST", envoyCheck("POST", "/transfer", host, w.alice, "sec-fetch-site", "same-origin", "sec-fetch-mode", "navigate", "origin", self, "content-type", "application/x-www-form-urlencoded"), 0, ""},
		{"cross-site form POST", envoyCheck("POST", "/transfer", host, w.alice, "sec-fetch-site", "cross-site", "sec-fetch-mode", "navigate", "origin", evil, "content-type", "application/x-www-form-urlencoded", "accept", json), 403, "cross-site"},

		{"legacy same-origin POST", envoyCheck("POST", "/transfer", host, w.alice, "origin", self), 0, ""},
		{"legacy cross-origin POST", envoyCheck("POST", "/transfer", host, w.alice, "origin", evil, "accept", json), 403, "origin-mismatch"},
		{"Origin: null", envoyCheck("POST", "/transfer", host, w.alice, "origin", "null", "accept", json), 403, "origin-null"},
		{"legacy Referer same-origin", envoyCheck("POST", "/transfer", host, w.alice, "referer", self+"/form"), 0, ""},
		{"legacy Referer cross-origin", envoyCheck("POST", "/transfer", host, w.alice, "referer", evil+"/attack", "accept", json), 403, "referer-mismatch"},

		{"text/plain JSON same-origin", envoyCheck("POST", "/api/transfer", host, w.alice, "sec-fetch-site", "same-origin", "sec-fetch-mode", "cors", "origin", self, "content-type", "text/plain"), 0, ""},
		{"text/plain JSON forgery", envoyCheck("POST", "/api/transfer", host, w.alice, "sec-fetch-site", "cross-site", "sec-fetch-mode", "no-cors", "origin", evil, "content-type", "text/plain", "accept", json), 403, "cross-site"},
		{"two Origins joined by Envoy", envoyCheck("POST", "/transfer", host, w.alice, "origin", self, "origin", evil, "accept", json), 403, "header-repeated"},

		{"revoked twin: alice's valid certificate", envoyCheck("POST", "/transfer", host, w.alice), 0, ""},
		{"revoked certificate", envoyCheck("POST", "/transfer", host, w.revoked, "accept", json), 403, "revoked"},
		{"identity not allowed", envoyCheck("POST", "/transfer", host, w.bob, "accept", json), 403, "common-name-denied"},
		{"no certificate", envoyCheck("POST", "/transfer", host, nil, "accept", json), 403, "identity-missing"},

		{"no route", envoyCheck("POST", "/transfer", "other.example", w.alice, "accept", json), 404, "no-route"},
		{"dot segments", envoyCheck("POST", "/a/../transfer", host, w.alice, "accept", json), 400, "path-invalid"},
		{"Host with two ports", envoyCheck("POST", "/transfer", "bank.example:1:2", w.alice, "accept", json), 400, "host-invalid"},
		{"CONNECT", envoyCheck("CONNECT", "/", host, w.alice, "accept", json), 405, "method-not-allowed"},

		// encode_raw_headers: header_map instead of headers, repeated
		// fields kept apart.
		{"header_map same-origin", raw(envoyCheck("POST", "/transfer", host, w.alice, "sec-fetch-site", "same-origin", "origin", self)), 0, ""},
		{"header_map cross-site", raw(envoyCheck("POST", "/transfer", host, w.alice, "sec-fetch-site", "cross-site", "origin", evil, "accept", json)), 403, "cross-site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Check(context.Background(), tt.cr)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			a := read(t, resp)
			if tt.status == 0 {
				if !a.allowed {
					t.Fatalf("got %d %s (%s), want allowed", a.status, a.reason, a.body)
				}
				return
			}
			if a.allowed {
				t.Fatalf("allowed, want %d %s", tt.status, tt.reason)
			}
			if a.status != tt.status || a.reason != tt.reason {
				t.Errorf("got %d %s, want %d %s (body %q)", a.status, a.reason, tt.status, tt.reason, a.body)
			}
			if ct := a.header["content-type"]; ct != "application/problem+json" {
				t.Errorf("content-type: got %q, want application/problem+json", ct)
			}
			if a.header["cache-control"] != "no-store" || a.header["x-content-type-options"] != "nosniff" {
				t.Errorf("denial headers: got %v, want cache-control: no-store and x-content-type-options: nosniff", a.header)
			}
		})
	}
}

// TestCheckIdentityHeaders: an allowed request reaches the upstream with
// forgeproof's identity headers only. Every client-sent copy (any case,
// '_' for '-', other products' names) is removed or replaced, and the
// names forgeproof sets are never also in headers_to_remove, which Envoy
// applies after setting: that would delete the identity itself.
func TestCheckIdentityHeaders(t *testing.T) {
	w := newWorld(t, func(cfg *gateway.Config) {
		cfg.Routes = append(cfg.Routes, gateway.Route{Name: "public", Host: "bank.example", PathPrefix: "/public",
			Allow: gateway.Allow{Unauthenticated: true}})
	})
	c := w.client(t, "127.0.0.1", w.envoy, false)
	forged := []string{
		"client-cert", ":Zm9yZ2Vk:",
		"client-cert-chain", ":Zm9yZ2Vk:",
		"x-forwarded-client-cert", "By=spiffe://evil;Hash=00;Subject=\"CN=admin\"",
		"x_forwarded_client_cert", "Subject=\"CN=admin\"",
		"client_cert", ":Zm9yZ2Vk:",
		"forgeproof-client-identity", "admin",
		"ssl_client_cert", "forged",
		"x-ssl-client-cert", "forged",
		"x-forwarded-tls-client-cert", "forged",
	}
	leaf := sha256.Sum256(w.alice.Cert.Raw)
	tests := []struct {
		name     string
		path     string
		cert     *pki.Cert
		identity bool // forgeproof's identity headers expected
	}{
		{"with a client certificate", "/transfer", w.alice, true},
		{"without a certificate, on a public route", "/public/rates", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := envoyCheck("POST", tt.path, "bank.example", tt.cert, forged...)
			resp, err := c.Check(context.Background(), cr)
			if err != nil {
				t.Fatal(err)
			}
			a := read(t, resp)
			if !a.allowed {
				t.Fatalf("got %d %s, want allowed", a.status, a.reason)
			}
			set := map[string]bool{}
			for _, h := range a.ok.GetHeaders() {
				set[h.GetHeader().GetKey()] = true
			}
			for _, k := range a.ok.GetHeadersToRemove() {
				if set[k] {
					t.Errorf("%q is both set and removed: Envoy removes after setting, so the identity would be lost", k)
				}
			}
			up := upstream(cr, a.ok)
			for k, v := range up {
				if !forwarded.IsHeader(k) && !strings.Contains(k, "_") && !strings.HasPrefix(k, "x-ssl") && k != "x-forwarded-tls-client-cert" {
					continue
				}
				if !set[k] {
					t.Errorf("client-sent %s: %q reaches the upstream", k, v)
				}
			}
			if !tt.identity {
				for k := range set {
					// X-Forwarded-For/-Host/-Proto are serve's, set on every answer.
					if forwarded.IsHeader(k) || strings.HasPrefix(k, "forgeproof-") {
						t.Errorf("identity header %s set without a certificate: %v", k, a.ok.GetHeaders())
					}
				}
				return
			}
			if got, want := up["client-cert"], ":"+b64(w.alice.Cert.Raw)+":"; got != want {
				t.Errorf("client-cert upstream: got %q, want alice's certificate", got)
			}
			if got := up["x-forwarded-client-cert"]; !strings.Contains(got, "Hash="+hex.EncodeToString(leaf[:])) || strings.Contains(got, "admin") {
				t.Errorf("x-forwarded-client-cert upstream: got %q, want alice's hash and nothing forged", got)
			}
			if got := up["forgeproof-client-identity"]; got == "admin" || got == "" {
				t.Errorf("forgeproof-client-identity upstream: got %q, want alice's", got)
			}
		})
	}

	// Negative control of the emulation: removing a name that is also set
	// loses the identity, as it would in Envoy.
	cr := envoyCheck("POST", "/transfer", "bank.example", w.alice, "client-cert", ":Zm9yZ2Vk:")
	bad := &authv3.OkHttpResponse{
		Headers:         []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "client-cert", Value: ":b2s=:"}, AppendAction: corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD}},
		HeadersToRemove: []string{"client-cert"},
	}
	if _, ok := upstream(cr, bad)["client-cert"]; ok {
		t.Error("the Envoy emulation keeps a header that is set and removed: it cannot catch that mistake")
	}
}

// TestCheckReportOnly: a route in report-only mode lets a forgery
// through and says why in the dynamic metadata, for Envoy's access log;
// its twin, the same route enforcing, refuses it.
func TestCheckReportOnly(t *testing.T) {
	forgery := func(w *world) *authv3.CheckRequest {
		return envoyCheck("POST", "/transfer", "bank.example", w.alice, "sec-fetch-site", "cross-site", "origin", "https://evil.example")
	}
	w := newWorld(t, nil)
	if a := read(t, mustCheck(t, w.client(t, "127.0.0.1", w.envoy, false), forgery(w))); a.allowed || a.reason != "cross-site" {
		t.Fatalf("enforcing: got allowed=%v %s, want cross-site", a.allowed, a.reason)
	}
	w = newWorld(t, func(cfg *gateway.Config) { cfg.Routes[0].CSRF.ReportOnly = true })
	resp := mustCheck(t, w.client(t, "127.0.0.1", w.envoy, false), forgery(w))
	if a := read(t, resp); !a.allowed {
		t.Fatalf("report-only: got %d %s, want allowed", a.status, a.reason)
	}
	if got := resp.GetDynamicMetadata().GetFields()[envoy.MetadataReason].GetStringValue(); got != "cross-site" {
		t.Errorf("report-only: dynamic metadata reason %q, want cross-site", got)
	}
}

// TestCheckUntrustedCaller: only the configured proxy may ask. Each
// refused caller differs from the allowed one (envoy's certificate from
// 127.0.0.1, first) in one thing.
func TestCheckUntrustedCaller(t *testing.T) {
	w := newWorld(t, nil)
	cr := envoyCheck("POST", "/transfer", "bank.example", w.alice)
	if a := read(t, mustCheck(t, w.client(t, "127.0.0.1", w.envoy, false), cr)); !a.allowed {
		t.Fatalf("the allowed proxy: got %d %s, want allowed", a.status, a.reason)
	}

	// Another loopback address, the proxy's certificate: the question is
	// answered, and refused.
	a := read(t, mustCheck(t, w.client(t, "127.0.0.2", w.envoy, false), cr))
	if a.allowed || a.status != 403 || a.reason != string(gateway.ReasonCallerUntrusted) {
		t.Errorf("from 127.0.0.2: got allowed=%v %d %s, want 403 caller-untrusted", a.allowed, a.status, a.reason)
	}
	// The refusal is the gateway's (Gateway.CallerAllowed), which the
	// HTTP transport sends too.
	want := httptest.NewRecorder()
	w.g.CallerAllowed("127.0.0.2:1", nil).WriteProblem(want, &http.Request{Header: http.Header{}})
	if a.body != want.Body.String() {
		t.Errorf("from 127.0.0.2: body %q, want the gateway's refusal %q", a.body, want.Body.String())
	}

	// A certificate of the proxy CA that authz.tls.allow does not name,
	// no certificate, or no TLS: the handshake fails, no answer at all.
	for _, tt := range []struct {
		name  string
		cert  *pki.Cert
		plain bool
	}{
		{"mallory's certificate", w.mallory, false},
		{"no certificate", nil, false},
		{"plaintext", nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := w.client(t, "127.0.0.1", tt.cert, tt.plain).Check(context.Background(), cr)
			if err == nil {
				t.Fatalf("got an answer %v, want the connection refused", resp)
			}
			if status.Code(err) != codes.Unavailable {
				t.Errorf("got %v, want Unavailable (handshake refused)", err)
			}
		})
	}

	// Without authz.tls, trusted-callers alone: plaintext from 127.0.0.1
	// is answered, from 127.0.0.2 refused.
	w = newWorld(t, func(cfg *gateway.Config) { cfg.Authz.TLS = nil })
	cr = envoyCheck("POST", "/transfer", "bank.example", w.alice)
	if a := read(t, mustCheck(t, w.client(t, "127.0.0.1", nil, true), cr)); !a.allowed {
		t.Errorf("plaintext from 127.0.0.1 without authz.tls: got %d %s, want allowed", a.status, a.reason)
	}
	if a := read(t, mustCheck(t, w.client(t, "127.0.0.2", nil, true), cr)); a.allowed || a.reason != string(gateway.ReasonCallerUntrusted) {
		t.Errorf("plaintext from 127.0.0.2 without authz.tls: got allowed=%v %s, want caller-untrusted", a.allowed, a.reason)
	}
}

// TestCheckMalformed: questions with missing or malformed attributes get
// a clear refusal with a stable reason, never a crash or an allow; each
// has the well-formed twin first.
func TestCheckMalformed(t *testing.T) {
	w := newWorld(t, nil)
	c := w.client(t, "127.0.0.1", w.envoy, false)
	good := func() *authv3.CheckRequest {
		return envoyCheck("POST", "/transfer", "bank.example", w.alice, "accept", "application/json")
	}
	if a := read(t, mustCheck(t, c, good())); !a.allowed {
		t.Fatalf("well-formed twin: got %d %s, want allowed", a.status, a.reason)
	}
	edit := func(f func(cr *authv3.CheckRequest)) *authv3.CheckRequest {
		cr := good()
		f(cr)
		return cr
	}
	hr := func(cr *authv3.CheckRequest) *authv3.AttributeContext_HttpRequest { return cr.Attributes.Request.Http }
	const invalid = "authz-request-invalid"
	tests := []struct {
		name   string
		cr     *authv3.CheckRequest
		status int
		reason string
		detail string // in the body
	}{
		{"empty CheckRequest", &authv3.CheckRequest{}, 400, invalid, "no attributes"},
		{"no http attributes", edit(func(cr *authv3.CheckRequest) { cr.Attributes.Request = nil }), 400, invalid, "no attributes.request.http"},
		{"bad URL-encoding of the certificate", edit(func(cr *authv3.CheckRequest) { cr.Attributes.Source.Certificate = "%zz" }), 400, invalid, "certificate: invalid URL escape"},
		{"certificate not PEM", edit(func(cr *authv3.CheckRequest) { cr.Attributes.Source.Certificate = "hello" }), 400, invalid, "certificate: neither PEM nor base64 DER"},
		{"certificate PEM of garbage", edit(func(cr *authv3.CheckRequest) {
			cr.Attributes.Source.Certificate = envoyEscape("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
		}), 400, invalid, "certificate: certificate 1 does not parse"},
		{"missing host", edit(func(cr *authv3.CheckRequest) { hr(cr).Host = ""; delete(hr(cr).Headers, ":authority") }), 400, invalid, "no host"},
		{"missing method", edit(func(cr *authv3.CheckRequest) { hr(cr).Method = ""; delete(hr(cr).Headers, ":method") }), 400, invalid, "no method"},
		{"missing path", edit(func(cr *authv3.CheckRequest) { hr(cr).Path = ""; delete(hr(cr).Headers, ":path") }), 400, invalid, "no path"},
		{"path and :path differ", edit(func(cr *authv3.CheckRequest) { hr(cr).Headers[":path"] = "/admin" }), 400, invalid, "differ"},
		{"absolute-form path", edit(func(cr *authv3.CheckRequest) { setPath(cr, "https://evil.example/transfer") }), 400, invalid, "origin form"},
		{"asterisk path", edit(func(cr *authv3.CheckRequest) { setPath(cr, "*") }), 400, invalid, "origin form"},
		{"relative path", edit(func(cr *authv3.CheckRequest) { setPath(cr, "transfer") }), 400, invalid, "origin form"},
		{"bad percent-encoding in the path", edit(func(cr *authv3.CheckRequest) { setPath(cr, "/trans%zzfer") }), 400, invalid, "does not parse"},
		{"path with a control character", edit(func(cr *authv3.CheckRequest) { setPath(cr, "/a\x7fb") }), 400, invalid, "does not parse"},
		{"huge path", edit(func(cr *authv3.CheckRequest) { setPath(cr, "/"+strings.Repeat("a", 20000)) }), 400, invalid, "longer than"},
		{"method not a token", edit(func(cr *authv3.CheckRequest) { hr(cr).Method = "PO ST"; hr(cr).Headers[":method"] = "PO ST" }), 400, invalid, "not a token"},
		{"header with CR LF", edit(func(cr *authv3.CheckRequest) { hr(cr).Headers["x-a"] = "1\r\nclient-cert: :eA==:" }), 400, invalid, "control characters"},
		{"host with a space", edit(func(cr *authv3.CheckRequest) {
			hr(cr).Host = "bank.example x"
			hr(cr).Headers[":authority"] = hr(cr).Host
		}), 400, "host-invalid", ""},
		{"scheme ftp", edit(func(cr *authv3.CheckRequest) { hr(cr).Scheme = "ftp"; hr(cr).Headers[":scheme"] = "ftp" }), 400, invalid, "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := read(t, mustCheck(t, c, tt.cr))
			if a.allowed {
				t.Fatal("allowed, want a refusal")
			}
			if a.status != tt.status || a.reason != tt.reason {
				t.Errorf("got %d %s, want %d %s (body %q)", a.status, a.reason, tt.status, tt.reason, a.body)
			}
			if !strings.Contains(a.body, tt.detail) {
				t.Errorf("body %q does not say %q", a.body, tt.detail)
			}
		})
	}
}

// raw turns a CheckRequest's headers into header_map, as Envoy sends
// them with encode_raw_headers: true.
func raw(cr *authv3.CheckRequest) *authv3.CheckRequest {
	hr := cr.Attributes.Request.Http
	hr.HeaderMap = &corev3.HeaderMap{}
	keys := make([]string, 0, len(hr.Headers))
	for k := range hr.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		hr.HeaderMap.Headers = append(hr.HeaderMap.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(hr.Headers[k])})
	}
	hr.Headers = nil
	return cr
}

func setPath(cr *authv3.CheckRequest, p string) {
	cr.Attributes.Request.Http.Path = p
	cr.Attributes.Request.Http.Headers[":path"] = p
}

func mustCheck(t testing.TB, c authv3.AuthorizationClient, cr *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	resp, err := c.Check(context.Background(), cr)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return resp
}
