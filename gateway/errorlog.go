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
// errors mtls did not cause (a client that hung up, a protocol error),
// under the limit of its kind (serverLineKind): clients cause some of
// these at will, such as an HTTP/2 preface that is not one.
type serverErrorHandler struct {
	slog.Handler
	g *Gateway
}

func (h serverErrorHandler) Handle(ctx context.Context, r slog.Record) error {
	if refusedByMTLS(r.Message) {
		return nil
	}
	if !h.g.checksOff.off(checkLogLimit) && !h.g.logLimit.allow(h.Handler, r.Level, logKind{msg: serverLineKind(r.Message)}) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// serverLineKind is the kind of a server error line: its text up to the
// first digit or '[' after its first word (where an address or a count
// starts, so that "http: TLS handshake error from 192.0.2.1:5555: EOF"
// and one from another client are one kind; the first word is "http:"
// or "http2:"), at most 64 bytes.
func serverLineKind(msg string) string {
	first := max(strings.IndexByte(msg, ' '), 0)
	if i := strings.IndexAny(msg[first:], "0123456789["); i >= 0 {
		msg = msg[:first+i]
	}
	if len(msg) > 64 {
		msg = msg[:64]
	}
	return strings.TrimSpace(msg)
}

// refusedByMTLS reports whether msg is the server's line for a handshake
// mtls refused: "http: TLS handshake error from ADDR: mtls: …", the error
// itself starting with "mtls: ". Not merely containing it: crypto/tls
// quotes client-chosen text (the ALPN protocols it offered) into other
// handshake errors, and a client must not be able to silence those.
func refusedByMTLS(msg string) bool {
	rest, ok := strings.CutPrefix(msg, "http: TLS handshake error from ")
	if !ok {
		return false
	}
	// ADDR is host:port ("[::1]:5555" has colons but no ": ").
	_, cause, ok := strings.Cut(rest, ": ")
	return ok && strings.HasPrefix(cause, "mtls: ")
}

func (h serverErrorHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return serverErrorHandler{h.Handler.WithAttrs(as), h.g}
}

func (h serverErrorHandler) WithGroup(name string) slog.Handler {
	return serverErrorHandler{h.Handler.WithGroup(name), h.g}
}

// serverErrorLog is the *log.Logger an http.Server of g writes to.
func (g *Gateway) serverErrorLog() *slog.Logger {
	return slog.New(serverErrorHandler{g.errLog.Handler(), g})
}
