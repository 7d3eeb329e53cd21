package mtls

import (
	"time"

	"github.com/forgeproof/forgeproof/internal/watch"
)

// SetNow replaces the clock of s, for tests of time-dependent checks.
func SetNow(s *Server, now func() time.Time) { s.now = now }

// VerifiedChainHits returns how many handshakes of s's current state
// skipped x509.Verify, and how many chains its cache holds.
func VerifiedChainHits(s *Server) (hits int64, size int) {
	cc := s.state.Load().verified
	return cc.hits.Load(), cc.len()
}

// Watcher returns the watcher that Watch runs and what it calls on a
// change, with tune applied to its options, so tests can wait until it
// watches and drive its polls.
func Watcher(s *Server, tune func(*watch.Options)) (*watch.Watcher, func(watch.Change), error) {
	return s.watcher(tune)
}
