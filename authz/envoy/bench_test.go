package envoy_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/peer"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/authz/envoy"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
)

// BenchmarkDecision is the cost of one decision as each transport asks
// it: a same-origin form POST (the CSRF check runs) from a client whose
// certificate is verified against the CA and CRL and authorized by its
// common name, allowed with its identity headers. http is package authz's
// handler (the question nginx, Caddy and Traefik send), grpc Envoy's
// CheckRequest to Server.Check, both in process; grpc-loopback is the
// same CheckRequest over a real gRPC connection on loopback (client and
// server CPU, protobuf and HTTP/2 included).
func BenchmarkDecision(b *testing.B) {
	w := newWorld(b, func(cfg *gateway.Config) { cfg.Authz.TLS = nil })
	pemText := string(pki.EncodeCertsPEM(w.alice.Cert))
	client := []string{"origin", "https://bank.example", "sec-fetch-site", "same-origin", "sec-fetch-mode", "navigate",
		"content-type", "application/x-www-form-urlencoded", "cookie", "session=abc", "accept", "text/html"}

	b.Run("path=http", func(b *testing.B) {
		h := authz.Handler(w.g, nil)
		q := httptest.NewRequest("GET", "http://127.0.0.1/envoy", nil)
		q.RemoteAddr = "127.0.0.1:40000"
		for i := 0; i+1 < len(client); i += 2 {
			q.Header.Set(client[i], client[i+1])
		}
		for k, v := range map[string]string{
			authz.HeaderMethod: "POST", authz.HeaderURI: "/transfer", authz.HeaderHost: "bank.example",
			authz.HeaderProto: "https", authz.HeaderFor: "198.51.100.7", authz.HeaderClientCert: url.PathEscape(pemText),
		} {
			q.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, q)
		if rec.Code != http.StatusOK {
			b.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
		}
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, q)
		}
	})

	cr := envoyCheck("POST", "/transfer", "bank.example", w.alice, client...)
	b.Run("path=grpc", func(b *testing.B) {
		srv := envoy.NewServer(w.g)
		ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
		if a := read(b, mustCheckIn(b, srv, ctx, cr)); !a.allowed {
			b.Fatalf("got %d %s, want allowed", a.status, a.reason)
		}
		b.ReportAllocs()
		for b.Loop() {
			srv.Check(ctx, cr)
		}
	})

	b.Run("path=grpc-loopback", func(b *testing.B) {
		c := w.client(b, "127.0.0.1", nil, true)
		if a := read(b, mustCheck(b, c, cr)); !a.allowed {
			b.Fatalf("got %d %s, want allowed", a.status, a.reason)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Check(context.Background(), cr); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustCheckIn(tb testing.TB, srv *envoy.Server, ctx context.Context, cr *authv3.CheckRequest) *authv3.CheckResponse {
	tb.Helper()
	resp, err := srv.Check(ctx, cr)
	if err != nil {
		tb.Fatal(err)
	}
	return resp
}
