package gateway

// SetRecheck turns the re-check of open connections' certificates on or
// off, for the tests' negative controls. Not for parallel tests.
func SetRecheck(on bool) { recheckOff.Store(!on) }
