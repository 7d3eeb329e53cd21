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
type readDeadline struct {
	armed time.Time // the connection's read deadline; zero: none
	want  time.Time // the one its reads must have; zero: none
}

// set asks for deadline t (zero: none) at now, and reports whether the
// connection's deadline must be set to t; it then counts as armed. It
// need not be when the armed one is still ahead and no later than t.
func (d *readDeadline) set(t, now time.Time) bool {
	d.want = t
	if !d.armed.IsZero() && now.Before(d.armed) && (t.IsZero() || !t.Before(d.armed)) {
		return false
	}
	d.armed = t
	return true
}

// force notes that the connection's deadline is set to t now, whatever
// it was: a past deadline that interrupts, a handler's own, none.
func (d *readDeadline) force(t time.Time) { d.armed, d.want = t, t }

// retry is asked when a read timed out at now. It reports the deadline
// to arm before reading again, when the wanted one is later than the
// armed one and not reached; false means that the timeout is the
// wanted one's.
func (d *readDeadline) retry(now time.Time) (time.Time, bool) {
	if d.want.Equal(d.armed) || (!d.want.IsZero() && !now.Before(d.want)) {
		return time.Time{}, false
	}
	d.armed = d.want
	return d.want, true
}

// isDeadlineErr reports whether a read failed on its deadline.
func isDeadlineErr(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
