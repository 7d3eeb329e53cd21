package mtls

import (
	"net/http"
	"time"

	"github.com/forgeproof/forgeproof/internal/watch"
)

// VerifiedChainHits returns how many handshakes of s's current state
// skipped x509.Verify, and how many chains its cache holds.
func VerifiedChainHits(s *Server) (hits int64, size int) {
	cc := s.state.Load().verified
	return cc.hits.Load(), cc.len()
}

// Watcher returns the watcher that Watch runs and what it calls on a
// change, with tune applied to its options, so tests can wait until it
// watches and drive its polls.
func Watcher(s *Server, tune func(*watch.Options)) (*watch.Watcher, func(watch.Change) error, error) {
	return s.watcher(tune)
}

// SetRecheck turns the re-check of open connections on or off, for the
// negative controls of tests.
func SetRecheck(s *Server, on bool) { s.noRecheck = !on }

// Generation returns the generation of the state s has loaded now.
func Generation(s *Server) uint64 { return s.state.Load().gen }

// LastCheck returns the generation and the until of the last check of
// r's connection (zero when none).
func LastCheck(r *http.Request) (gen uint64, until time.Time) {
	c, _ := r.Context().Value(connKey{}).(*ConnCache)
	if c == nil {
		return 0, time.Time{}
	}
	if v := c.checked.Load(); v != nil {
		return v.gen, v.until
	}
	return 0, time.Time{}
}
