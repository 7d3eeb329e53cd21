package demo

import (
	"context"
	"log/slog"
	"sync"

	"github.com/forgeproof/forgeproof/internal/accesslog"
)

// maxAnswers bounds the answers kept: enough for the attack pages of a
// few tabs.
const maxAnswers = 256

// answers is a slog.Handler that keeps the gateway's access-log records
// so the attacker pages can say what the bank answered, and passes every
// record on to next (if any). It is safe for concurrent use.
type answers struct {
	kept *answerRing
	next slog.Handler // nil: records are kept, not passed on
}

// answerRing is the access-log records kept by an answers and every
// handler derived from it.
type answerRing struct {
	mu   sync.Mutex
	seq  uint64             // records seen so far
	ring []accesslog.Record // the last maxAnswers; record i is ring[i % maxAnswers]
}

func newAnswers(next slog.Handler) *answers {
	return &answers{kept: &answerRing{ring: make([]accesslog.Record, 0, maxAnswers)}, next: next}
}

// mark returns the number of records seen so far: find(mark, …) looks at
// later ones only.
func (a *answers) mark() uint64 {
	k := a.kept
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.seq
}

// find returns the first answer recorded after mark to method and path.
func (a *answers) find(mark uint64, method, path string) (accesslog.Record, bool) {
	k := a.kept
	k.mu.Lock()
	defer k.mu.Unlock()
	first := uint64(0)
	if k.seq > maxAnswers {
		first = k.seq - maxAnswers
	}
	for i := max(mark, first); i < k.seq; i++ {
		x := k.ring[i%maxAnswers]
		if x.Method == method && x.Path == path {
			return x, true
		}
	}
	return accesslog.Record{}, false
}

// add keeps x, in place of the oldest record once maxAnswers are kept.
func (k *answerRing) add(x accesslog.Record) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.ring) < maxAnswers {
		k.ring = append(k.ring, x)
	} else {
		k.ring[k.seq%maxAnswers] = x
	}
	k.seq++
}

// Enabled is true from Info up, the access log's level, whatever next's.
func (a *answers) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || (a.next != nil && a.next.Enabled(ctx, l))
}

func (a *answers) Handle(ctx context.Context, r slog.Record) error {
	if x, ok := accesslog.Parse(r); ok {
		a.kept.add(x)
	}
	if a.next != nil && a.next.Enabled(ctx, r.Level) {
		return a.next.Handle(ctx, r)
	}
	return nil
}

// WithAttrs and WithGroup apply to the records passed on; the access
// log's own attributes are on each record, so the copy kept here needs
// neither.
func (a *answers) WithAttrs(attrs []slog.Attr) slog.Handler {
	if a.next == nil {
		return a
	}
	return &answers{kept: a.kept, next: a.next.WithAttrs(attrs)}
}

func (a *answers) WithGroup(name string) slog.Handler {
	if a.next == nil {
		return a
	}
	return &answers{kept: a.kept, next: a.next.WithGroup(name)}
}
