package mtls

import "time"

// SetNow replaces the clock of s, for tests of time-dependent checks.
func SetNow(s *Server, now func() time.Time) { s.now = now }

// VerifiedChainHits returns how many handshakes of s's current state
// skipped x509.Verify, and how many chains its cache holds.
func VerifiedChainHits(s *Server) (hits int64, size int) {
	cc := s.state.Load().verified
	return cc.hits.Load(), cc.len()
}
