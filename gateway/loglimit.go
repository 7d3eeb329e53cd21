package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Lines a client can make the gateway log at will, one per connection
// (refused and failed TLS handshakes, PROXY protocol refusals, the
// servers' error log), are limited by kind: the first logBurst of a kind
// in a logInterval are logged in full, the rest only counted, and one
// line then says how many were left out. The metrics still count every
// handshake failure and PROXY protocol refusal; the servers' error lines
// have none, only the counts left out. (One client looping failed handshakes made about 400 to 2,500
// lines a second.)
const (
	logBurst    = 10
	logInterval = 10 * time.Second
	// logMaxKinds bounds the kinds tracked: the servers' error lines
	// are keyed by their text (serverLineKind), which a client may
	// vary; past the bound they share one kind.
	logMaxKinds = 256
)

// A logKind is what a limit applies to: a message, on a listener, with a
// reason code (each may be empty).
type logKind struct{ msg, listener, reason string }

// otherKind is the kind of lines once logMaxKinds kinds are tracked.
var otherKind = logKind{msg: "other"}

type logWindow struct {
	start      time.Time
	logged     int
	suppressed int
	level      slog.Level
	h          slog.Handler // where the summary goes
}

// A logLimiter limits lines by kind (see logBurst). A nil one allows
// every line.
type logLimiter struct {
	now   func() time.Time
	mu    sync.Mutex
	kinds map[logKind]*logWindow
	// timer logs the summaries of a flood that stopped (flush); armed
	// by the first line left out, so an idle gateway runs none.
	timer *time.Timer
	// closed: flush ran (shutdown); later lines, of handshakes still
	// in flight, are logged in full, and no timer outlives the gateway.
	closed bool
}

func newLogLimiter(now func() time.Time) *logLimiter {
	return &logLimiter{now: now, kinds: make(map[logKind]*logWindow)}
}

// allow reports whether a line of kind k at level may go to h now. It
// first logs the count left out of k's last interval, when that ended.
func (l *logLimiter) allow(h slog.Handler, level slog.Level, k logKind) bool {
	if l == nil {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return true
	}
	w := l.kinds[k]
	if w == nil {
		if len(l.kinds) >= logMaxKinds {
			l.expire(now)
		}
		if len(l.kinds) >= logMaxKinds {
			k = otherKind
			w = l.kinds[k]
		}
	}
	if w != nil && !now.Before(w.start.Add(logInterval)) {
		l.summarise(k, w)
		w = nil
	}
	if w == nil {
		// level too: the zero value is Info, which a Debug kind's
		// summary would take.
		w = &logWindow{start: now, level: level}
		l.kinds[k] = w
	}
	w.level, w.h = max(w.level, level), h
	if w.logged < logBurst {
		w.logged++
		return true
	}
	w.suppressed++
	if l.timer == nil {
		l.timer = time.AfterFunc(logInterval, l.flushDue)
	}
	return false
}

// expire forgets the kinds whose interval ended, logging their counts.
// l.mu is held.
func (l *logLimiter) expire(now time.Time) {
	for k, w := range l.kinds {
		if !now.Before(w.start.Add(logInterval)) {
			l.summarise(k, w)
			delete(l.kinds, k)
		}
	}
}

// flushDue logs the counts of the intervals that ended (the timer's).
func (l *logLimiter) flushDue() {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	l.expire(now)
	for _, w := range l.kinds {
		if w.suppressed > 0 { // an interval not over by l.now (a test's clock)
			l.timer = time.AfterFunc(logInterval, l.flushDue)
			break
		}
	}
}

// flush logs every count not yet logged (at shutdown), and stops the
// timer.
func (l *logLimiter) flush() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	for k, w := range l.kinds {
		l.summarise(k, w)
		delete(l.kinds, k)
	}
}

// summarise logs how many lines of k were left out of w, if any. l.mu
// is held.
func (l *logLimiter) summarise(k logKind, w *logWindow) {
	if w.suppressed == 0 {
		return
	}
	r := slog.NewRecord(l.now(), w.level, "log lines suppressed", 0)
	r.AddAttrs(slog.String("suppressed_msg", k.msg))
	if k.listener != "" {
		r.AddAttrs(slog.String("listener", k.listener))
	}
	if k.reason != "" {
		r.AddAttrs(slog.String("reason", k.reason))
	}
	r.AddAttrs(slog.Int("suppressed", w.suppressed), slog.String("since", w.start.Format(time.RFC3339)),
		slog.Int("logged", w.logged), slog.String("interval", logInterval.String()))
	w.suppressed = 0
	if w.h.Enabled(context.Background(), w.level) {
		w.h.Handle(context.Background(), r)
	}
}

// logs reports whether a line msg at level, of kind {msg, listener,
// reason}, is to be logged now: its level is on and the limit lets it
// through (else it is counted). Asked before the line's attributes are
// built, which a flood would build in vain.
func (g *Gateway) logs(level slog.Level, listener, reason, msg string) bool {
	if !g.log.Enabled(context.Background(), level) {
		return false
	}
	return g.checksOff.off(checkLogLimit) || g.logLimit.allow(g.log.Handler(), level, logKind{msg, listener, reason})
}
