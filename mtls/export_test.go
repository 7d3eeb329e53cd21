package mtls

import "time"

// SetNow replaces the clock of s, for tests of time-dependent checks.
func SetNow(s *Server, now func() time.Time) { s.now = now }
