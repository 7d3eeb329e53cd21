package envoy_test

import (
	"context"
	"net"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/peer"

	"github.com/forgeproof/forgeproof/authz/envoy"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
)

// FuzzCheck feeds Check what Envoy could send and a hostile client
// controls (the certificate string, the path, the host and header fields,
// in headers or header_map) through the whole decision, in process, as
// the trusted proxy. It must never panic, every answer is OK or Denied
// with a status and a reason, and an OK never lets a client-sent identity
// header reach the upstream under Envoy's rules (set, then remove).
func FuzzCheck(f *testing.F) {
	w := newWorld(f, func(cfg *gateway.Config) { cfg.Authz.TLS = nil })
	srv := envoy.NewServer(w.g)
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	alice := envoyEscape(string(pki.EncodeCertsPEM(w.alice.Cert)))
	revoked := envoyEscape(string(pki.EncodeCertsPEM(w.revoked.Cert)))
	for _, s := range []struct {
		cert, method, path, host, k1, v1, k2, v2 string
		raw                                      bool
	}{
		{alice, "POST", "/transfer", "bank.example", "origin", "https://bank.example", "sec-fetch-site", "same-origin", false},
		{alice, "POST", "/transfer", "bank.example", "origin", "https://evil.example", "sec-fetch-site", "cross-site", true},
		{alice, "POST", "/transfer", "bank.example", "client-cert", ":Zm9yZ2Vk:", "x_forwarded_client_cert", "Hash=00", false},
		{alice, "GET", "/a/../b", "bank.example:1:2", "origin", "null", "referer", "https://evil.example/", false},
		{revoked, "POST", "/transfer", "bank.example", "content-type", "text/plain", "", "", false},
		{"%zz", "POST", "*", "", ":path", "/admin", ":authority", "evil.example", true},
		{"", "PO ST", "https://evil.example/x", "bank.example", "x-a", "1\r\n2", "Host", "other.example", false},
	} {
		f.Add(s.cert, s.method, s.path, s.host, s.k1, s.v1, s.k2, s.v2, s.raw)
	}
	f.Fuzz(func(t *testing.T, cert, method, path, host, k1, v1, k2, v2 string, raw bool) {
		hr := &authv3.AttributeContext_HttpRequest{Method: method, Path: path, Host: host, Scheme: "https"}
		headers := map[string]string{":method": method, ":path": path, ":authority": host}
		if raw {
			hr.HeaderMap = &corev3.HeaderMap{}
			for _, kv := range [][2]string{{":method", method}, {":path", path}, {":authority", host}, {k1, v1}, {k2, v2}} {
				hr.HeaderMap.Headers = append(hr.HeaderMap.Headers, &corev3.HeaderValue{Key: kv[0], RawValue: []byte(kv[1])})
			}
		} else {
			headers[k1], headers[k2] = v1, v2
			hr.Headers = headers
		}
		cr := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source:  &authv3.AttributeContext_Peer{Certificate: cert},
			Request: &authv3.AttributeContext_Request{Http: hr},
		}}
		resp, err := srv.Check(ctx, cr)
		if err != nil {
			t.Fatalf("Check returned an error, not an answer: %v", err)
		}
		a := read(t, resp)
		if !a.allowed {
			if a.status < 400 || a.reason == "" {
				t.Fatalf("denial without a status or reason: %d %q %q", a.status, a.reason, a.body)
			}
			return
		}
		set := map[string]bool{}
		for _, h := range a.ok.GetHeaders() {
			set[h.GetHeader().GetKey()] = true
		}
		sent := map[string]string{}
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}} {
			sent[strings.ToLower(kv[0])] = kv[1]
		}
		hr.Headers = sent // what the upstream would get, before the answer
		for k := range upstream(cr, a.ok) {
			if forwarded.IsHeader(k) && !set[k] {
				t.Fatalf("client-sent identity header %q survives an OK answer (%v)", k, a.ok)
			}
		}
		for _, k := range a.ok.GetHeadersToRemove() {
			if set[k] {
				t.Fatalf("%q is set and removed", k)
			}
		}
	})
}
