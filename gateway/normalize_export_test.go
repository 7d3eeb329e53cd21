package gateway

// SetRequestChecks turns g's Host and path checks (host-invalid,
// path-ambiguous) on or off, for the tests' negative controls.
func SetRequestChecks(g *Gateway, on bool) { g.checksOff[checkRequests].Store(!on) }

// SetCanonicalNames turns Handler's canonicalisation of request field
// names on or off, for the tests' negative controls.
func SetCanonicalNames(g *Gateway, on bool) { g.checksOff[checkCanonicalNames].Store(!on) }
