package envoy

import (
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/forgeproof/forgeproof/pki"
)

// checkRequest is a CheckRequest as Envoy's HTTP filter sends it.
func checkRequest(method, path, host string, headers map[string]string) *authv3.CheckRequest {
	h := map[string]string{":method": method, ":path": path, ":authority": host, ":scheme": "https"}
	for k, v := range headers {
		h[k] = v
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: method, Path: path, Host: host, Scheme: "https", Protocol: "HTTP/1.1", Headers: h,
		}},
	}}
}

func TestReadRequest(t *testing.T) {
	ok := checkRequest("POST", "/transfer?x=1", "bank.example:8443", map[string]string{
		"origin": "https://bank.example:8443", "x_forwarded_client_cert": "By=evil", "cookie": "a=1; b=2",
	})
	rq, err := readRequest(ok)
	if err != nil {
		t.Fatalf("readRequest: %v", err)
	}
	if rq.method != "POST" || rq.target != "/transfer?x=1" || rq.host != "bank.example:8443" || rq.scheme != "https" {
		t.Errorf("got %q %q %q %q, want POST /transfer?x=1 bank.example:8443 https", rq.method, rq.target, rq.host, rq.scheme)
	}
	if got := rq.header.Get("Origin"); got != "https://bank.example:8443" {
		t.Errorf("Origin: got %q, want https://bank.example:8443", got)
	}
	if got := rq.header["X_forwarded_client_cert"]; len(got) != 1 || got[0] != "By=evil" {
		t.Errorf("the underscore spelling: got %q, want [By=evil]", got)
	}
	for k := range rq.header {
		if strings.HasPrefix(k, ":") {
			t.Errorf("pseudo-header %q is among the headers", k)
		}
	}

	// header_map (encode_raw_headers) keeps repeated fields apart.
	raw := checkRequest("POST", "/", "a.example", nil)
	hr := raw.Attributes.Request.Http
	hr.Headers = nil
	hr.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
		{Key: ":authority", RawValue: []byte("a.example")},
		{Key: "origin", RawValue: []byte("https://a.example")},
		{Key: "origin", RawValue: []byte("https://evil.example")},
	}}
	rq, err = readRequest(raw)
	if err != nil {
		t.Fatalf("readRequest(header_map): %v", err)
	}
	if got := rq.header.Values("Origin"); len(got) != 2 {
		t.Errorf("repeated Origin from header_map: got %q, want both", got)
	}
}

func TestReadRequestRefusals(t *testing.T) {
	with := func(f func(*authv3.CheckRequest)) *authv3.CheckRequest {
		cr := checkRequest("POST", "/", "a.example", map[string]string{"origin": "https://a.example"})
		f(cr)
		return cr
	}
	tests := []struct {
		name string
		cr   *authv3.CheckRequest
		want string // in the message
	}{
		{"nil", nil, "no attributes"},
		{"no attributes", &authv3.CheckRequest{}, "no attributes"},
		{"no http attributes (network filter)", with(func(cr *authv3.CheckRequest) { cr.Attributes.Request = nil }), "no attributes.request.http"},
		{"no method", with(func(cr *authv3.CheckRequest) {
			cr.Attributes.Request.Http.Method = ""
			delete(cr.Attributes.Request.Http.Headers, ":method")
		}), "no method"},
		{"no path", with(func(cr *authv3.CheckRequest) {
			cr.Attributes.Request.Http.Path = ""
			delete(cr.Attributes.Request.Http.Headers, ":path")
		}), "no path"},
		{"no host", with(func(cr *authv3.CheckRequest) {
			cr.Attributes.Request.Http.Host = ""
			delete(cr.Attributes.Request.Http.Headers, ":authority")
		}), "no host"},
		{"path and :path differ", with(func(cr *authv3.CheckRequest) { cr.Attributes.Request.Http.Headers[":path"] = "/admin" }), "differ"},
		{"host and :authority differ", with(func(cr *authv3.CheckRequest) { cr.Attributes.Request.Http.Headers[":authority"] = "b.example" }), "differ"},
		{"host header besides :authority", with(func(cr *authv3.CheckRequest) { cr.Attributes.Request.Http.Headers["host"] = "b.example" }), "host header"},
		{"huge path", with(func(cr *authv3.CheckRequest) { setPath(cr, "/"+strings.Repeat("a", maxTarget)) }), "longer than"},
		{"header value with CR LF", with(func(cr *authv3.CheckRequest) { cr.Attributes.Request.Http.Headers["x-a"] = "a\r\nclient-cert: :x:" }), "control characters"},
		{"header name with a space", with(func(cr *authv3.CheckRequest) { cr.Attributes.Request.Http.Headers["client cert"] = "x" }), "not a token"},
		{"headers and header_map", with(func(cr *authv3.CheckRequest) {
			cr.Attributes.Request.Http.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "origin", Value: "https://evil.example"}}}
		}), "both headers and header_map"},
		{"repeated pseudo-header", with(func(cr *authv3.CheckRequest) {
			hr := cr.Attributes.Request.Http
			hr.Headers = nil
			hr.Path = ""
			hr.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: ":path", Value: "/"}, {Key: ":path", Value: "/admin"}}}
		}), "repeated"},
		{"too many headers", with(func(cr *authv3.CheckRequest) {
			for i := range maxHeaders {
				cr.Attributes.Request.Http.Headers["x-h"+strings.Repeat("a", i)] = "v"
			}
		}), "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq, err := readRequest(tt.cr)
			if err == nil {
				t.Fatalf("got request %+v, want a refusal", rq)
			}
			if !strings.HasPrefix(err.Error(), "envoy: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want \"envoy: …%s…\"", err, tt.want)
			}
		})
	}
}

func setPath(cr *authv3.CheckRequest, p string) {
	cr.Attributes.Request.Http.Path = p
	cr.Attributes.Request.Http.Headers[":path"] = p
}

// FuzzAttributes: any CheckRequest (the certificate string, the path,
// the header map, raw or not) is read without panicking; what is read has
// canonical header names, no pseudo-headers, a method, path and host, and
// a certificate only when the string holds one.
func FuzzAttributes(f *testing.F) {
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		f.Fatal(err)
	}
	cli, err := ca.IssueClient(pki.ClientOptions{CommonName: "alice"})
	if err != nil {
		f.Fatal(err)
	}
	pemText := string(pki.EncodeCertsPEM(cli.Cert))
	f.Add(url.PathEscape(pemText), "POST", "/transfer", "bank.example", "origin", "https://bank.example", ":path", "/transfer", false)
	f.Add(url.QueryEscape(pemText), "", "", "", ":authority", "a.example", "host", "b.example", true)
	f.Add("%zz", "GET", "/", "", "x_forwarded_client_cert", "By=x", "Host", "a.example", false)
	f.Add(pemText+pemText, "GET", "/", "a", "accept", "application/json", "client-cert", ":eA==:", false)
	f.Fuzz(func(t *testing.T, cert, method, path, host, k1, v1, k2, v2 string, raw bool) {
		hr := &authv3.AttributeContext_HttpRequest{Method: method, Path: path, Host: host}
		if raw {
			hr.HeaderMap = &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: k1, RawValue: []byte(v1)}, {Key: k2, Value: v2}}}
		} else {
			hr.Headers = map[string]string{k1: v1, k2: v2}
		}
		a, err := attributes(&authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source:  &authv3.AttributeContext_Peer{Certificate: cert},
			Request: &authv3.AttributeContext_Request{Http: hr},
		}})
		if err != nil {
			if err.msg == "" {
				t.Fatal("a refusal that says nothing")
			}
			return
		}
		if a.Method == "" || a.URI == "" || a.Host == "" {
			t.Fatalf("read without a method, path or host: %+v", a)
		}
		if (len(a.Chain) > 0) != (strings.TrimSpace(cert) != "") {
			t.Fatalf("certificate %q read as %d certificates", cert, len(a.Chain))
		}
		for k := range a.Header {
			if k != textproto.CanonicalMIMEHeaderKey(k) || strings.HasPrefix(k, ":") || k == "Host" {
				t.Fatalf("header %q read", k)
			}
		}
	})
}
