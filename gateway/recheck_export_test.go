package gateway

// SetRecheck turns the refusal of open connections whose certificate the
// re-check refused on or off in g, for the tests' negative controls.
func SetRecheck(g *Gateway, on bool) { g.checksOff[checkRecheck].Store(!on) }
