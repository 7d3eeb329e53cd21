package gateway

import "time"

// SetStallTickLate makes the first tick of g's HTTP/2 stall guards run d
// late (call it before Listen), as on a machine too busy to run it on
// time.
func SetStallTickLate(g *Gateway, d time.Duration) { g.stallTickLate = d }
