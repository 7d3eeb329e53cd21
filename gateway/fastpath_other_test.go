//go:build !unix

package gateway_test

import (
	"sync"
	"syscall"
)

// socketReadable cannot look into the socket here: settle waits for the
// events it sees (connections accepted, bytes read, answers, closes) only.
func socketReadable(syscall.RawConn) bool { return false }

// readRecorded reads c into p and hands got what it read, with mu held.
func readRecorded(c *servedConn, p []byte, mu *sync.Mutex, got func([]byte)) (int, error) {
	n, err := c.conn.Read(p)
	mu.Lock()
	got(p[:n])
	mu.Unlock()
	return n, err
}
