//go:build !unix

package gateway

import "net"

// idleAlive reports whether an idle upstream connection can carry
// another request. Without a non-blocking peek, only bytes already read
// tell; a connection the upstream closed while idle fails the request,
// which is sent again when it may be (upstream.go).
func (pc *upConn) idleAlive(bool) bool { return pc.br.Buffered() == 0 }

// peekState is what idleAlive keeps per connection: nothing here.
type peekState struct{}

// readableNow reports whether a read on c would not wait: not known
// here, so never.
func readableNow(net.Conn) bool { return false }
