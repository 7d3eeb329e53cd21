package browser

import (
	"context"
	"log/slog"
	"strings"

	"github.com/forgeproof/forgeproof/internal/accesslog"
)

// Access is one access-log record of the forgeproof gateway: the request
// as the gateway saw it and what it decided.
type Access = accesslog.Record

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
	if x, ok := accesslog.Parse(r); ok {
		a.log.add(x)
	}
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
