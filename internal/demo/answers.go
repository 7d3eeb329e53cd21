package demo

import (
	"context"
	"log/slog"
	"sync"
)

// An Answer is what the gateway answered to one request, as its access
// log recorded it.
type Answer struct {
	Method, Path string
	Status       int
	// Decision is "allow", "deny" or "report-only"; Reason the refusal's
	// reason code ("" when allowed).
	Decision, Reason string
}

// maxAnswers bounds the answers kept: enough for the attack pages of a
// few tabs.
const maxAnswers = 256

// answers is a slog.Handler that keeps the gateway's access-log records
// (message "request") so the attacker pages can say what the bank
// answered, and passes every record on to next (if any). It is safe for
// concurrent use.
type answers struct {
	next slog.Handler

	mu   sync.Mutex
	seq  uint64   // records seen so far
	ring []Answer // the last maxAnswers, ring[(i) % maxAnswers] is record i
}

func newAnswers(next slog.Handler) *answers {
	return &answers{next: next, ring: make([]Answer, 0, maxAnswers)}
}

// mark returns the number of records seen so far: find(mark, …) looks at
// later ones only.
func (a *answers) mark() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seq
}

// find returns the first answer recorded after mark to method and path.
func (a *answers) find(mark uint64, method, path string) (Answer, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	first := uint64(0)
	if a.seq > maxAnswers {
		first = a.seq - maxAnswers
	}
	for i := max(mark, first); i < a.seq; i++ {
		x := a.ring[i%maxAnswers]
		if x.Method == method && x.Path == path {
			return x, true
		}
	}
	return Answer{}, false
}

func (a *answers) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || (a.next != nil && a.next.Enabled(ctx, l))
}

func (a *answers) Handle(ctx context.Context, r slog.Record) error {
	a.record(r)
	if a.next != nil && a.next.Enabled(ctx, r.Level) {
		return a.next.Handle(ctx, r)
	}
	return nil
}

// record keeps r if it is an access-log record.
func (a *answers) record(r slog.Record) {
	if r.Message != "request" {
		return
	}
	var x Answer
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
		}
		return true
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.ring) < maxAnswers {
		a.ring = append(a.ring, x)
	} else {
		a.ring[a.seq%maxAnswers] = x
	}
	a.seq++
}

// WithAttrs and WithGroup apply to the records passed on; the access
// log's own attributes are on each record, so the copy kept here needs
// neither.
func (a *answers) WithAttrs(attrs []slog.Attr) slog.Handler {
	if a.next == nil {
		return a
	}
	return &withNext{a, a.next.WithAttrs(attrs)}
}

func (a *answers) WithGroup(name string) slog.Handler {
	if a.next == nil {
		return a
	}
	return &withNext{a, a.next.WithGroup(name)}
}

// withNext records into a shared answers and passes records to its own
// derived next handler.
type withNext struct {
	a    *answers
	next slog.Handler
}

func (w *withNext) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || w.next.Enabled(ctx, l)
}

func (w *withNext) Handle(ctx context.Context, r slog.Record) error {
	w.a.record(r)
	if w.next.Enabled(ctx, r.Level) {
		return w.next.Handle(ctx, r)
	}
	return nil
}

func (w *withNext) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &withNext{w.a, w.next.WithAttrs(attrs)}
}

func (w *withNext) WithGroup(name string) slog.Handler {
	return &withNext{w.a, w.next.WithGroup(name)}
}
