package browser

import (
	"context"
	"log/slog"
	"strings"
)

// Access is one access-log record of the forgeproof gateway: the request
// as the gateway saw it and what it decided.
type Access struct {
	Method, Path string
	Status       int
	// Decision and Reason are the gateway's verdict and its stable reason
	// code ("cross-site", "token-missing", …; "" when allowed).
	Decision, Reason string
	// Identity names the verified client certificate (its SPIFFE ID or
	// subject), "" when none was presented.
	Identity string
	// Host is the request's Host (HTTP/2: :authority); Proto its
	// protocol ("HTTP/1.1", "HTTP/2.0"); ServerName the TLS server name
	// (SNI) of the connection it came on, and Peer that connection's
	// client address: together they tell which connection carried it.
	Host, Proto, ServerName, Peer string
}

// AccessLog is a slog.Handler that keeps the gateway's access-log records
// (message "request") so that a test can wait for the gateway to have
// handled a request. Give it to the gateway as
// slog.New(accessLog). It is safe for concurrent use.
type AccessLog struct {
	log journal[Access]
}

// Enabled reports whether the level is Info or above: the access log's.
func (a *AccessLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

// Handle keeps access-log records and drops everything else.
func (a *AccessLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "request" {
		return nil
	}
	var x Access
	r.Attrs(func(at slog.Attr) bool {
		v := at.Value.Resolve()
		switch at.Key {
		case "method":
			x.Method = v.String()
		case "path":
			x.Path = v.String()
		case "status":
			x.Status = int(v.Int64())
		case "decision":
			x.Decision = v.String()
		case "reason":
			x.Reason = v.String()
		case "identity":
			x.Identity = v.String()
		case "host":
			x.Host = v.String()
		case "proto":
			x.Proto = v.String()
		case "server_name":
			x.ServerName = v.String()
		case "peer":
			x.Peer = v.String()
		}
		return true
	})
	a.log.add(x)
	return nil
}

// WithAttrs returns a itself: the access log's own attributes are all it
// needs.
func (a *AccessLog) WithAttrs([]slog.Attr) slog.Handler { return a }

// WithGroup returns a itself.
func (a *AccessLog) WithGroup(string) slog.Handler { return a }

// Records returns a copy of the records kept so far, oldest first.
func (a *AccessLog) Records() []Access { return a.log.all() }

// Mark returns a position in the log: Wait(ctx, mark, …) looks only at
// records kept after it.
func (a *AccessLog) Mark() int { return a.log.mark() }

// Wait returns the first record after mark that match accepts, waiting
// for it until ctx ends.
func (a *AccessLog) Wait(ctx context.Context, mark int, match func(Access) bool) (Access, error) {
	return a.log.wait(ctx, mark, "the gateway's access log", match)
}

// Handled matches access records by method and path (the query is
// ignored).
func Handled(method, path string) func(Access) bool {
	path, _, _ = strings.Cut(path, "?")
	return func(a Access) bool { return a.Method == method && a.Path == path }
}
