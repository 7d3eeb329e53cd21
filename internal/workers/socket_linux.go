package workers

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Supported reports whether workers can run here.
const Supported = true

// listenShared binds addr with SO_REUSEPORT, so that every worker's
// socket on it gets a share of the new connections. Only sockets of the
// same user may join (the kernel checks), so no other user's process can
// take connections from them.
func listenShared(addr string) (*net.TCPListener, error) {
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("SO_REUSEPORT: %w", serr)
		}
		return nil
	}}
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// sameUser reports whether the process at the other end of c runs as
// this process's user (SO_PEERCRED): the admin socket of a worker is in
// the abstract namespace, which any local process may connect to.
func sameUser(c net.Conn) bool {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return false
	}
	return int(cred.Uid) == os.Getuid()
}

// deathSignal makes the kernel send a worker SIGTERM (a drain) when its
// master dies without stopping it.
func deathSignal() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// isPipe reports whether descriptor fd is open on a pipe.
func isPipe(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO
}

// A worker runs its master's binary as /proc/self/exe, which the kernel
// names "exe": what ps, top and pgrep show by default. It takes the name
// forgeproof instead. In init: package initialisation runs on the main
// thread, whose name is the process's.
func init() {
	if os.Getenv(EnvWorker) != "" {
		name := []byte("forgeproof\x00")
		unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&name[0])), 0, 0, 0)
	}
}
