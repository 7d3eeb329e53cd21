package gateway

import (
	"errors"
	"os"
	"time"
)

// A readDeadline is a connection's read deadline, changed lazily: a
// deadline later than the one the connection has (armed), while that
// one is still ahead, is only noted (want), and a read that times out
// before it arms it and reads again (retry). A keep-alive connection's
// idle wait and an upstream exchange each give the connection a deadline
// a little later than the last one; setting it costs a runtime timer
// update, two clock reads and a lock per request, where the lazy way
// costs one clock read, and an early timeout about once per timeout
// period.
//
// Timeouts fire as before: never later (the armed deadline is never
// later than the wanted one), and never earlier (a read that times out
// before the wanted deadline reads again). Whoever holds the connection
// calls set, force and retry under one lock; a deadline set on the
// connection without them (an interruption's past deadline) must be
// told apart by the caller before it calls retry.
//
// A deadline forced while a read is blocked (a handler's own, from
// another goroutine) may come after that read timed out early and
// before it asks retry: gen, which counts the changes of the
// connection's deadline, tells retry so (the read notes it when it
// starts), and the read goes on under the forced deadline as it would
// have had the earlier one not fired first.
type readDeadline struct {
	armed time.Time // the connection's read deadline; zero: none
	want  time.Time // the one its reads must have; zero: none
	gen   uint32    // counts the changes of armed (set, force, retry)
}

// set asks for deadline t (zero: none) at now, and reports whether the
// connection's deadline must be set to t; it then counts as armed. It
// need not be when the connection has t already, or when the armed one
// is still ahead and no later than t.
func (d *readDeadline) set(t, now time.Time) bool {
	d.want = t
	if t.Equal(d.armed) {
		// Most often no deadline at all: no timeouts configured.
		return false
	}
	if !d.armed.IsZero() && now.Before(d.armed) && (t.IsZero() || !t.Before(d.armed)) {
		return false
	}
	d.armed = t
	d.gen++
	return true
}

// wantNone notes that the connection's reads want no deadline, and
// leaves the armed one on: a read that times out on it reads again with
// none (retry). It is set(zero, now) for a caller that knows the armed
// deadline to be still ahead at now, where set would only note it.
func (d *readDeadline) wantNone() { d.want = time.Time{} }

// force notes that the connection's deadline is set to t now, whatever
// it was: a past deadline that interrupts, a handler's own, none.
func (d *readDeadline) force(t time.Time) {
	d.armed, d.want = t, t
	d.gen++
}

// retry is asked when a read that started at generation gen (d.gen
// then) timed out at now. It reports the deadline to arm before reading
// again: the wanted one, when it is later than the armed one and not
// reached; or the armed one, when it was changed since the read started
// and is not reached (the timeout was its predecessor's). False means
// that the timeout is the wanted one's. A read that reads again starts
// at d.gen after retry, so it retries at most once per change.
func (d *readDeadline) retry(now time.Time, gen uint32) (time.Time, bool) {
	if gen != d.gen && (d.armed.IsZero() || now.Before(d.armed)) {
		return d.armed, true
	}
	if d.want.Equal(d.armed) || (!d.want.IsZero() && !now.Before(d.want)) {
		return time.Time{}, false
	}
	d.armed = d.want
	d.gen++
	return d.want, true
}

// isDeadlineErr reports whether a read failed on its deadline.
func isDeadlineErr(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
