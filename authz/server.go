package authz

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
)

// Server runs the decision service of a Gateway whose config has an
// authz section, on authz.address.
type Server struct {
	g   *gateway.Gateway
	log *slog.Logger

	mu  sync.Mutex
	ln  net.Listener
	srv *http.Server
}

// NewServer returns the decision service of g; g's logger gets one line
// per question.
func NewServer(g *gateway.Gateway) *Server {
	return &Server{g: g, log: g.Logger()}
}

// Listen binds authz.address (":0" picks a free port, see Addr). With
// authz.tls the listener speaks mutual TLS. It refuses a config without
// an authz section, or whose authz.proxy is envoy (package authz/envoy
// serves that).
func (s *Server) Listen() error {
	proxy := s.g.AuthzProxy()
	switch proxy {
	case 0:
		return errors.New("authz: the config has no authz section")
	case gateway.ProxyEnvoy:
		return errors.New("authz: authz.proxy envoy is gRPC ext_authz: package authz/envoy serves it")
	}
	ln, err := net.Listen("tcp", s.g.AuthzAddress())
	if err != nil {
		return fmt.Errorf("authz: authz.address: %w", err)
	}
	srv := &http.Server{
		Handler:           Handler(s.g, s.log),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    256 << 10, // the client's headers plus a certificate chain
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if tc := s.g.AuthzTLSConfig(); tc != nil {
		srv.TLSConfig = tc
		ln = tls.NewListener(ln, tc)
	}
	s.mu.Lock()
	s.ln, s.srv = ln, srv
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

// Serve answers questions until ctx ends, then lets the questions in
// flight finish (for at most 10s: each is one decision) and returns. It
// calls Listen when it was not called.
func (s *Server) Serve(ctx context.Context) error {
	if s.Addr() == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return err
	}
	return nil
}
