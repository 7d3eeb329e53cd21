package envoy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/logtext"
	"github.com/forgeproof/forgeproof/internal/problem"
)

// Server is the ext_authz gRPC service of a Gateway whose config has an
// authz section: it answers Envoy's Check calls with the gateway's
// decisions (gateway.Gateway.Decide), the same decisions "forgeproof
// serve" makes and package authz gives nginx, Caddy and Traefik.
//
// A Server is safe for concurrent use; a reload of the gateway applies to
// the next call.
type Server struct {
	authv3.UnimplementedAuthorizationServer

	g   *gateway.Gateway
	log *slog.Logger

	mu sync.Mutex
	ln net.Listener
	gs *grpc.Server
}

// NewServer returns the ext_authz service of g; g's logger gets one line
// per question, as from package authz.
func NewServer(g *gateway.Gateway) *Server {
	return &Server{g: g, log: g.Logger()}
}

// Check answers one CheckRequest. Every answer is a CheckResponse, never
// a gRPC error, so that Envoy sends the client the status and problem
// document forgeproof chose rather than its own:
//
//   - a caller that is not a trusted proxy (authz.trusted-callers,
//     authz.tls) gets Denied 403, reason caller-untrusted, and its
//     question is not read;
//   - a question with missing or malformed attributes (no
//     attributes.request.http, no method, path or host, a certificate
//     that is not URL-encoded PEM, control characters in a header) gets
//     Denied 400, reason authz-request-invalid, with the attribute named
//     in the detail;
//   - otherwise the gateway decides: OK with the identity headers to set
//     and the client's identity headers to remove, or Denied with the
//     refusal's status, reason and problem document.
//
// Denials carry the reason in the Forgeproof-Reason header, in the gRPC
// status message and in the dynamic metadata (MetadataReason).
func (s *Server) Check(ctx context.Context, cr *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	remote, state := caller(ctx)
	if d := s.g.CallerAllowed(remote, state); d != nil {
		s.log.Warn("authz: question from an untrusted caller refused", "peer", remote, "reason", d.Reason, "error", logtext.Error(d.Cause))
		return deny(acceptOf(cr), d.Status, string(d.Reason), d.WriteProblem), nil
	}
	a, aerr := attributes(cr)
	if aerr != nil {
		s.log.Warn("authz: malformed question refused", "peer", remote, "error", logtext.Error(aerr))
		return deny(acceptOf(cr), http.StatusBadRequest, string(gateway.ReasonAuthzRequestInvalid), problemWriter(problem.Details{
			Status: http.StatusBadRequest, Reason: string(gateway.ReasonAuthzRequestInvalid),
			Title: "invalid request description", Detail: "Envoy's CheckRequest is malformed: " + aerr.msg + " (check the ext_authz filter against docs/integrations/envoy.md)",
		})), nil
	}
	d := s.g.Decide(a)
	// The path without the query, as serve's access log: a query may
	// carry secrets (OAuth codes, access tokens, URL signatures).
	uriPath, _, _ := strings.Cut(a.URI, "?")
	attrs := []any{"method", logtext.Clean(a.Method, logtext.MaxName), "host", logtext.Clean(a.Host, logtext.MaxName), "uri", logtext.Clean(uriPath, logtext.MaxPath), "route", d.Route, "status", d.Status, "reason", d.Reason}
	if d.Identity != nil {
		attrs = append(attrs, "identity", logtext.Clean(d.Identity.String(), logtext.MaxIdentity))
	}
	if d.Cause != nil {
		attrs = append(attrs, "error", logtext.Error(d.Cause))
	}
	if !d.Allowed {
		s.log.Info("authz: deny", attrs...)
		return deny(a.Header["Accept"], d.Status, string(d.Reason), d.WriteProblem), nil
	}
	s.log.Info("authz: allow", attrs...)
	return allow(d.Set, d.Remove, string(d.Reason)), nil
}

// attributes describes the request of a CheckRequest for the decision.
func attributes(cr *authv3.CheckRequest) (*gateway.Attributes, *attributeError) {
	rq, aerr := readRequest(cr)
	if aerr != nil {
		return nil, aerr
	}
	chain, err := authz.ParseCertificates(rq.cert)
	if err != nil {
		return nil, invalid("attributes.source.certificate: %s", strings.TrimPrefix(err.Error(), "certificate header: "))
	}
	return &gateway.Attributes{
		Method:     rq.method,
		URI:        rq.target,
		Host:       rq.host,
		Scheme:     rq.scheme,
		Header:     rq.header,
		RemoteAddr: rq.remoteAddr,
		Chain:      chain,
	}, nil
}

// acceptOf is the client's Accept header in a CheckRequest, read
// directly, so that a refusal before the request is read is JSON for
// clients that want JSON too.
func acceptOf(cr *authv3.CheckRequest) []string {
	h := cr.GetAttributes().GetRequest().GetHttp()
	if v, ok := h.GetHeaders()["accept"]; ok {
		return []string{v}
	}
	var out []string
	for _, hv := range h.GetHeaderMap().GetHeaders() {
		if hv.GetKey() == "accept" {
			out = append(out, string(hv.GetRawValue())+hv.GetValue())
		}
	}
	return out
}

// caller is the gRPC caller as gateway.Gateway.CallerAllowed takes it:
// the TCP peer ("" when unknown, which no trusted-callers entry matches)
// and the TLS connection state, nil without TLS.
func caller(ctx context.Context) (string, *tls.ConnectionState) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "", nil
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		st := ti.State
		return p.Addr.String(), &st
	}
	return p.Addr.String(), nil
}

// Listen binds authz.address (":0" picks a free port, see Addr). With
// authz.tls the service speaks mutual TLS (gateway.Gateway.AuthzTLSConfig,
// HTTP/2 by ALPN); without it, plaintext HTTP/2, which Envoy's gRPC
// client speaks to a cluster without a transport socket, and
// authz.trusted-callers carries the trust. It refuses a config without an
// authz section, or whose authz.proxy is not envoy: the gateway decides
// for the proxy the config names (for nginx, Caddy and Traefik it refuses
// requests with headers they cannot remove, where Envoy removes them),
// and package authz serves those over HTTP.
func (s *Server) Listen() error {
	switch proxy := s.g.AuthzProxy(); proxy {
	case 0:
		return errors.New("authz: the config has no authz section")
	case gateway.ProxyEnvoy:
	default:
		return fmt.Errorf("authz: authz.proxy %s is not envoy: package authz serves it over HTTP", proxy)
	}
	ln, err := net.Listen("tcp", s.g.AuthzAddress())
	if err != nil {
		return fmt.Errorf("authz: authz.address: %w", err)
	}
	opts := []grpc.ServerOption{
		// A question is a few KiB: headers and a certificate.
		grpc.MaxRecvMsgSize(1 << 20),
		grpc.ConnectionTimeout(10 * time.Second),
		// Envoy keeps its connection to the service open and pings it.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}
	if tc := s.g.AuthzTLSConfig(); tc != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	gs := grpc.NewServer(opts...)
	authv3.RegisterAuthorizationServer(gs, s)
	s.mu.Lock()
	s.ln, s.gs = ln, gs
	s.mu.Unlock()
	return nil
}

// Addr is the bound address, nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve answers Check calls until ctx ends, then lets the calls in flight
// finish (for at most 10s) and returns. It calls Listen when it was not
// called.
func (s *Server) Serve(ctx context.Context) error {
	if s.Addr() == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	gs, ln := s.gs, s.ln
	s.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		gs.Stop()
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
