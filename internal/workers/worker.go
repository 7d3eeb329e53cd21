package workers

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/forgeproof/forgeproof/gateway"
)

// EnvWorker names the environment variable that tells a process started
// by a master that it is worker number N, and that its master passed it
// the descriptors below.
const EnvWorker = "FORGEPROOF_WORKER"

// The descriptors a worker inherits (exec.Cmd.ExtraFiles start at 3).
const (
	fdSecret    = 3 // a pipe holding the session ticket secret
	fdAdmin     = 4 // the admin socket the master asks
	fdListeners = 5 // one socket per config listener, in order
)

// secretBytes is the size of the ticket secret.
const secretBytes = 32

// ID returns the worker number and listener count the environment gives
// this process, and whether it is a worker at all.
func ID(getenv func(string) string) (id, listeners int, ok bool, err error) {
	v := getenv(EnvWorker)
	if v == "" {
		return 0, 0, false, nil
	}
	a, b, _ := strings.Cut(v, ",")
	id, err1 := strconv.Atoi(a)
	listeners, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || id < 0 || listeners < 0 || listeners > maxListeners {
		return 0, 0, true, fmt.Errorf("%s=%q: want a worker number and a listener count (forgeproof serve sets it for its worker processes only)", EnvWorker, v)
	}
	return id, listeners, true, nil
}

// maxListeners bounds the descriptors a worker takes as listeners.
const maxListeners = 1024

// envValue is EnvWorker's value for worker id.
func envValue(id, listeners int) string {
	return strconv.Itoa(id) + "," + strconv.Itoa(listeners)
}

// Inherited returns what worker id's master passed it for listeners
// sockets: the ticket secret, the admin socket (accepting only this
// user's processes) and the listeners' sockets.
func Inherited(id, listeners int) (*gateway.Worker, error) {
	w := &gateway.Worker{ID: id}
	f := os.NewFile(fdSecret, "ticket secret")
	if f == nil {
		return nil, errors.New("no ticket secret inherited")
	}
	secret, err := io.ReadAll(io.LimitReader(f, secretBytes+1))
	f.Close()
	if err != nil || len(secret) != secretBytes {
		return nil, fmt.Errorf("the ticket secret inherited is %d bytes (%v), want %d", len(secret), err, secretBytes)
	}
	w.TicketSecret = secret
	admin, err := fileListener(fdAdmin, "admin socket")
	if err != nil {
		return nil, err
	}
	w.Admin = peerChecked{admin}
	for i := range listeners {
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
	if f == nil {
		return nil, fmt.Errorf("no %s inherited (descriptor %d)", name, fd)
	}
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
