package load_test

import (
	"io"
	"log"
)

// quietLog discards the server's log: the refused handshakes of the
// negative controls are expected.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
