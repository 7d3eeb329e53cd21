package gateway

import "time"

// SetStallTickLate makes the first tick of g's HTTP/2 stall guards run d
// late (call it before Listen), as on a machine too busy to run it on
// time.
func SetStallTickLate(g *Gateway, d time.Duration) { g.stallTickLate = d }

// H1Conns is how many HTTP/1.x connections g's servers hold: one leaves
// once it is closed (its close_notify written or given up on), or
// hijacked.
func H1Conns(g *Gateway) int {
	g.mu.Lock()
	h1s := g.h1s
	g.mu.Unlock()
	n := 0
	for _, s := range h1s {
		s.mu.Lock()
		n += len(s.conns)
		s.mu.Unlock()
	}
	return n
}
