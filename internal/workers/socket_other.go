//go:build !linux

package workers

import (
	"errors"
	"net"
	"syscall"
)

// Supported reports whether workers can run here: they need Linux's
// SO_REUSEPORT, which spreads connections over sockets (elsewhere it
// does not, or not the same way), and its parent-death signal.
const Supported = false

func listenShared(addr string) (*net.TCPListener, error) {
	return nil, errors.New("worker processes need Linux")
}

func sameUser(c net.Conn) bool { return false }

func deathSignal() *syscall.SysProcAttr { return nil }

func isPipe(fd int) bool { return false }
