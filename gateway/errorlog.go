package gateway

import (
	"context"
	"log/slog"
	"strings"
)

// serverErrorHandler is the http.Servers' error log. It drops the
// server's "http: TLS handshake error" line for a handshake that mtls
// refused (the error starts with "mtls: "): the OnHandshakeFailure hook
// has logged it already, with its reason code and the certificate, and one
// refusal is one log line. Every other line passes, including handshake
// errors mtls did not cause (a client that hung up, a protocol error).
type serverErrorHandler struct{ slog.Handler }

func (h serverErrorHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "http: TLS handshake error from ") && strings.Contains(r.Message, ": mtls: ") {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h serverErrorHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return serverErrorHandler{h.Handler.WithAttrs(as)}
}

func (h serverErrorHandler) WithGroup(name string) slog.Handler {
	return serverErrorHandler{h.Handler.WithGroup(name)}
}

// serverErrorLog is the *log.Logger an http.Server of g writes to.
func (g *Gateway) serverErrorLog() *slog.Logger {
	return slog.New(serverErrorHandler{g.errLog.Handler()})
}
