package gateway

// The log limit (loglimit.go), for the tests.
const (
	LogBurst    = logBurst
	LogInterval = logInterval
)

// SetLogLimit turns the limit of the log lines clients can cause on or
// off in g, for the tests' negative controls.
func SetLogLimit(g *Gateway, on bool) { g.checksOff[checkLogLimit].Store(!on) }
