package workers

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/forgeproof/forgeproof/gateway"
)

// EnvWorker names the environment variable that tells a process started
// by a master that it is worker number N, and that its master passed it
// the descriptors below.
const EnvWorker = "FORGEPROOF_WORKER"

// The descriptors a worker inherits (exec.Cmd.ExtraFiles start at 3).
const (
	fdSetup     = 3 // a pipe: the ticket secret, then the listeners (JSON)
	fdHUP       = 4 // a pipe: the worker writes a byte once it catches SIGHUP
	fdAdmin     = 5 // the admin socket the master asks
	fdListeners = 6 // one socket per config listener, in order
)

// CatchHUP makes a worker's SIGHUP go to c, and tells its master so: the
// master passes a SIGHUP on to a worker only then, since the default
// action of one uncaught ends the process. Call it first thing in main,
// in a worker only.
func CatchHUP(c chan<- os.Signal) {
	signal.Notify(c, syscall.SIGHUP)
	if !isPipe(fdHUP) {
		return // not started by a master: Inherited says so
	}
	f := os.NewFile(fdHUP, "SIGHUP pipe")
	f.Write([]byte{1}) // a master that has gone notices no more
	f.Close()
}

// secretBytes is the size of the ticket secret.
const secretBytes = 32

// maxSetup bounds what a worker reads from its setup pipe.
const maxSetup = 1 << 20

// ID returns the worker number the environment gives this process, and
// whether it is a worker at all.
func ID(getenv func(string) string) (id int, ok bool, err error) {
	v := getenv(EnvWorker)
	if v == "" {
		return 0, false, nil
	}
	id, err = strconv.Atoi(v)
	if err != nil || id < 0 {
		return 0, true, fmt.Errorf("%s=%q: want a worker number (forgeproof serve sets it for its worker processes only)", EnvWorker, v)
	}
	return id, true, nil
}

// Inherited returns what worker id's master passed it: the ticket
// secret, the listeners it bound and their sockets, and the admin socket
// (accepting only this user's processes).
func Inherited(id int) (*gateway.Worker, error) {
	w := &gateway.Worker{ID: id}
	if !isPipe(fdSetup) {
		// Not started by a master: the descriptors are whatever this
		// process opened (Go's runtime keeps cgroup files open), not
		// to be read or closed here.
		return nil, fmt.Errorf("no setup inherited (descriptor %d is not a pipe): %s is set by forgeproof serve for its worker processes only", fdSetup, EnvWorker)
	}
	f := os.NewFile(fdSetup, "setup pipe")
	setup, err := io.ReadAll(io.LimitReader(f, maxSetup))
	f.Close()
	if err != nil || len(setup) < secretBytes {
		return nil, fmt.Errorf("reading the setup its master passes on descriptor %d: %d bytes (%v): is this a worker of forgeproof serve?", fdSetup, len(setup), err)
	}
	w.TicketSecret = setup[:secretBytes]
	if err := json.Unmarshal(setup[secretBytes:], &w.Bound); err != nil {
		return nil, fmt.Errorf("reading the listeners its master passes: %w", err)
	}
	admin, err := fileListener(fdAdmin, "admin socket")
	if err != nil {
		return nil, err
	}
	w.Admin = peerChecked{admin}
	for i := range w.Bound {
		ln, err := fileListener(fdListeners+uintptr(i), fmt.Sprintf("listeners[%d] socket", i))
		if err != nil {
			return nil, err
		}
		w.Listeners = append(w.Listeners, ln)
	}
	return w, nil
}

func fileListener(fd uintptr, name string) (net.Listener, error) {
	f := os.NewFile(fd, name)
	defer f.Close() // FileListener holds a copy
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("the %s inherited (descriptor %d): %w", name, fd, err)
	}
	return ln, nil
}

// peerChecked accepts only connections from processes of this user.
type peerChecked struct{ net.Listener }

func (l peerChecked) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || sameUser(c) {
			return c, err
		}
		c.Close()
	}
}
