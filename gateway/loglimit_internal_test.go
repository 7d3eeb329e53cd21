package gateway

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLogLimiterKinds: each kind has its own burst; a kind's count left
// out is logged, exactly, at its next line after the interval (before
// it) or by flushDue once the interval is over, never before; a nil
// limiter allows everything (the negative control).
func TestLogLimiterKinds(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1e9, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	var buf strings.Builder
	h := slog.NewTextHandler(&buf, nil)
	l := newLogLimiter(clock)
	defer l.flush() // stops the timer
	a, b := logKind{"m", "l1", "x"}, logKind{"m", "l2", "x"}
	count := func(k logKind, n int) (allowed int) {
		for range n {
			if l.allow(h, slog.LevelWarn, k) {
				allowed++
			}
		}
		return allowed
	}
	if got := count(a, 100); got != logBurst {
		t.Errorf("a flood of 100: %d allowed, want %d", got, logBurst)
	}
	if got := count(b, 1); got != 1 {
		t.Errorf("another kind during the flood: %d allowed, want 1", got)
	}
	advance(logInterval - 1)
	l.flushDue()
	if got := count(a, 1); got != 0 || buf.Len() != 0 {
		t.Errorf("before the interval ends: %d allowed, log %q; want 0 and nothing", got, buf.String())
	}
	advance(1)
	if got := count(a, 1); got != 1 || !strings.Contains(buf.String(), "suppressed=91 ") || !strings.Contains(buf.String(), "listener=l1 reason=x") {
		t.Errorf("the next interval: %d allowed, log %q; want 1 and suppressed=91 for l1", got, buf.String())
	}
	buf.Reset()
	count(a, 20)
	advance(logInterval)
	l.flushDue() // the flood stopped: the timer's flush
	if got := buf.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "suppressed=11 ") || !strings.Contains(got, "level=WARN") {
		t.Errorf("flushDue: log %q, want one WARN line with suppressed=11", got)
	}
	// A Debug kind's summary is at Debug, the level of its lines (not
	// Info, a window's zero level); an Info kind's, at Info.
	for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
		buf.Reset()
		dh := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
		k := logKind{"m", "l3", level.String()}
		for range logBurst + 1 {
			l.allow(dh, level, k)
		}
		advance(logInterval)
		l.flushDue()
		if got := buf.String(); !strings.Contains(got, "level="+level.String()+" ") || !strings.Contains(got, "suppressed=1 ") {
			t.Errorf("a %v kind's summary: log %q, want it at %v with suppressed=1", level, got, level)
		}
	}
	var off *logLimiter
	for range 100 {
		if !off.allow(h, slog.LevelWarn, a) {
			t.Fatal("a nil limiter refused a line")
		}
	}
}

// TestLogLimiterBoundsKinds: kinds a client could vary (the servers'
// error lines) share one kind past logMaxKinds, so the map stays bounded.
func TestLogLimiterBoundsKinds(t *testing.T) {
	l := newLogLimiter(func() time.Time { return time.Unix(1e9, 0) })
	defer l.flush()
	h := slog.DiscardHandler
	for i := range 10 * logMaxKinds {
		l.allow(h, slog.LevelWarn, logKind{msg: fmt.Sprint("kind ", i)})
	}
	if n := len(l.kinds); n > logMaxKinds+1 {
		t.Errorf("%d kinds tracked, want at most %d", n, logMaxKinds+1)
	}
	if w := l.kinds[otherKind]; w == nil || w.logged != logBurst {
		t.Errorf("other kind: %+v, want the burst logged", w)
	}
}

// TestServerErrorLogLimited: a flood of one server error line from many
// clients (an HTTP/2 preface that is not one, from each) is one kind:
// the burst is logged; a line of another kind still is; with the limit
// off (the negative control) every line is.
func TestServerErrorLogLimited(t *testing.T) {
	for _, limited := range []bool{true, false} {
		var buf strings.Builder
		g := &Gateway{errLog: slog.New(slog.NewTextHandler(&buf, nil)), logLimit: newLogLimiter(func() time.Time { return time.Unix(1e9, 0) })}
		g.checksOff[checkLogLimit].Store(!limited)
		l := slog.NewLogLogger(g.serverErrorLog().Handler(), slog.LevelWarn)
		for i := range 100 {
			l.Printf("http2: server: error reading preface from client 192.0.2.%d:%d: bogus greeting %q", i%250, 40000+i, "x")
		}
		l.Printf("http: panic serving 192.0.2.1:5555: boom")
		g.logLimit.flush()
		want, wantLeftOut := 100, 0
		if limited {
			want, wantLeftOut = logBurst, 100-logBurst
		}
		got := strings.Count(buf.String(), "error reading preface from client 192.0.2.")
		if got != want || !strings.Contains(buf.String(), "panic serving") ||
			(wantLeftOut > 0) != strings.Contains(buf.String(), fmt.Sprintf(`suppressed_msg="http2: server: error reading preface from client" suppressed=%d `, wantLeftOut)) {
			t.Errorf("limited=%v: %d preface lines (want %d), want the panic and %d left out; log:\n%s", limited, got, want, wantLeftOut, buf.String())
		}
	}
	if k := serverLineKind("http: TLS handshake error from [::1]:5555: EOF"); k != "http: TLS handshake error from" {
		t.Errorf("serverLineKind: %q", k)
	}
}

// TestLogLimiterAfterFlush: after flush (Shutdown), a handshake still in
// flight is logged in full and arms no timer that would outlive the
// gateway; before it, the same flood is limited (the twin).
func TestLogLimiterAfterFlush(t *testing.T) {
	var buf strings.Builder
	h := slog.NewTextHandler(&buf, nil)
	l := newLogLimiter(time.Now)
	k := logKind{"m", "l", "x"}
	allowed := 0
	for range logBurst + 5 {
		if l.allow(h, slog.LevelWarn, k) {
			allowed++
		}
	}
	if allowed != logBurst {
		t.Errorf("before flush: %d of %d allowed, want %d", allowed, logBurst+5, logBurst)
	}
	l.flush()
	if !strings.Contains(buf.String(), "suppressed=5 ") {
		t.Errorf("flush: log %q, want suppressed=5", buf.String())
	}
	for i := range logBurst + 5 {
		if !l.allow(h, slog.LevelWarn, k) {
			t.Fatalf("after flush: line %d held back", i)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer != nil {
		t.Error("after flush: a timer is armed")
	}
}
