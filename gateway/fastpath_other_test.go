//go:build !unix

package gateway_test

import "syscall"

// socketReadable cannot look into the socket here: settle waits for the
// events it sees (connections accepted, bytes read, answers, closes) only.
func socketReadable(syscall.RawConn) bool { return false }
