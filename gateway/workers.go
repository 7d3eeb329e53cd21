package gateway

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"time"
)

// Workers is how many processes "forgeproof serve" runs, as nginx's
// worker_processes: above 1, a master binds the addresses and starts the
// workers, each a whole gateway with GOMAXPROCS an equal share of the
// cores, on sockets of its own sharing each port (SO_REUSEPORT). In YAML:
// a number from 1 to 256, or auto (one per core the process may use: Go's
// GOMAXPROCS, which follows a container's CPU limit; 1 off Linux). Limits
// count per worker. Changing it takes a restart. See docs/gateway.md,
// "Worker processes".
type Workers int

// WorkersAuto is Workers "auto".
const WorkersAuto Workers = -1

// maxWorkers bounds Workers: each is a process with its own connections
// and upstream pool.
const maxWorkers = 256

// Count is the number of worker processes w asks for: 1 when unset,
// GOMAXPROCS for auto.
func (w Workers) Count() int {
	switch {
	case w == WorkersAuto && runtime.GOOS != "linux":
		return 1 // workers need Linux: a config for both runs everywhere
	case w == WorkersAuto:
		return runtime.GOMAXPROCS(0)
	case w < 1:
		return 1
	}
	return int(w)
}

// UnmarshalText reads a number or "auto".
func (w *Workers) UnmarshalText(text []byte) error {
	if string(text) == "auto" {
		*w = WorkersAuto
		return nil
	}
	// Plain decimal, as every count in the config: no sign, no leading 0.
	n, err := strconv.Atoi(string(text))
	if err != nil || n < 1 || n > maxWorkers || text[0] < '1' || text[0] > '9' {
		return fmt.Errorf("%q: want auto or a number from 1 to %d", text, maxWorkers)
	}
	*w = Workers(n)
	return nil
}

// MarshalText returns "auto" or the number (1 when unset); it fails for
// a number out of range, as UnmarshalText would.
func (w Workers) MarshalText() ([]byte, error) {
	switch {
	case w == WorkersAuto:
		return []byte("auto"), nil
	case w < 0 || w > maxWorkers:
		return nil, fmt.Errorf("%d: want auto or a number from 1 to %d", int(w), maxWorkers)
	}
	return []byte(strconv.Itoa(w.Count())), nil
}

// setting is w as configured, unset being 1: what a reload compares
// (restartOnly). Not Count: a worker's GOMAXPROCS is its share of the
// cores, so auto counts differently there than in the master.
func (w Workers) setting() Workers {
	if w == 0 {
		return 1
	}
	return w
}

func (p *compiler) workers(cfg *Config) {
	switch w := cfg.Workers; {
	case w != WorkersAuto && (w < 0 || w > maxWorkers):
		p.add("workers", "%d: want auto or a number from 1 to %d", int(w), maxWorkers)
	case cfg.Authz != nil && (w == WorkersAuto || w > 1):
		// auto too, whatever this machine's count: a config valid on
		// one core must not fail on the next machine.
		p.add("workers", "forgeproof authz runs one process: remove workers (it is for forgeproof serve)")
	}
}

// Worker is what a worker process of "forgeproof serve" gets from its
// master (Options.Worker).
type Worker struct {
	// ID numbers the worker from 0. Every log line carries it as
	// "worker".
	ID int
	// Listeners are the bound sockets Listen uses instead of binding,
	// one per config listener, in order. Each listener's PROXY protocol
	// and TLS are set up on it as on a socket Listen binds.
	Listeners []net.Listener
	// Bound says, per socket, the address and PROXY protocol setting of
	// the config listener the master bound it for. Listen refuses a
	// config whose listeners differ (the file changed since the master
	// started; a running worker's reload refuses the same change), so
	// that no socket serves another listener's TLS policy.
	Bound []BoundListener
	// Admin, when not nil, serves the admin handler (/healthz, /readyz,
	// /metrics) for the master, which owns the config's admin address.
	Admin net.Listener
	// TicketSecret is the secret every worker of one master derives its
	// TLS session ticket keys from (ticketKeys), so that a client resumes
	// its session on whichever worker its next connection reaches: at
	// least 32 random bytes.
	TicketSecret []byte
}

// BoundListener is a config listener as the master of the workers read
// it (Worker.Bound).
type BoundListener struct {
	Address       string `json:"address"`
	ProxyProtocol bool   `json:"proxy_protocol"`
}

// checkBound refuses a config whose listeners are not those w's sockets
// were bound for.
func (w *Worker) checkBound(ls []Listener) error {
	if len(w.Listeners) != len(w.Bound) {
		return fmt.Errorf("the worker has %d listener sockets for %d bound listeners", len(w.Listeners), len(w.Bound))
	}
	if len(w.Bound) != len(ls) {
		return fmt.Errorf("the config has %d listeners, the master bound %d (the file changed since forgeproof serve started: restart it to apply)", len(ls), len(w.Bound))
	}
	for i, l := range ls {
		b := w.Bound[i]
		if l.Address != b.Address {
			return fmt.Errorf("listeners[%d].address %q: the master bound %q (the file changed since forgeproof serve started: restart it to apply)", i, l.Address, b.Address)
		}
		if (l.ProxyProtocol != nil) != b.ProxyProtocol {
			return fmt.Errorf("listeners[%d].proxy-protocol: turned on or off since forgeproof serve started: restart it to apply", i)
		}
	}
	return nil
}

// Ticket keys rotate as crypto/tls's own do: a new key seals tickets
// each day, and a key opens them for a week (TLS 1.3 tickets live at
// most seven days, RFC 8446 §4.6.1).
const (
	ticketKeyPeriod = 24 * time.Hour
	ticketKeyDays   = 7
)

// ticketKeyCheck is how often rotateTicketKeys looks at the clock (a
// variable for the tests).
var ticketKeyCheck = time.Minute

// ticketKeys returns listener's session ticket keys at now, derived from
// secret: the key of now's period first (it seals), then the next
// period's (for a worker whose clock turned first; it opens only) and the
// past week's. Each listener has keys of its own, as each has a
// crypto/tls config of its own in one process: a ticket one listener
// sealed is no ticket to another.
func ticketKeys(secret []byte, listener int, now time.Time) [][32]byte {
	period := now.Unix() / int64(ticketKeyPeriod/time.Second)
	keys := make([][32]byte, 0, ticketKeyDays+2)
	add := func(p int64) {
		info := "forgeproof session ticket key " + strconv.Itoa(listener) + " " + strconv.FormatInt(p, 10)
		k, err := hkdf.Key(sha256.New, secret, nil, info, 32)
		if err != nil {
			panic(err) // only for lengths over 255 hash sizes
		}
		keys = append(keys, [32]byte(k))
	}
	add(period)
	add(period + 1)
	for d := int64(1); d <= ticketKeyDays; d++ {
		add(period - d)
	}
	return keys
}

// setTicketKeys gives every listener the session ticket keys of now, when
// the gateway is a worker (else crypto/tls makes and rotates its own).
// The keys go on the server's base config: the per-handshake configs
// (GetConfigForClient) set none, so crypto/tls uses the base's. Called
// with g.mu held.
func (g *Gateway) setTicketKeys(now time.Time) {
	if g.worker == nil {
		return
	}
	for i, srv := range g.servers {
		srv.TLSConfig.SetSessionTicketKeys(ticketKeys(g.worker.TicketSecret, i, now))
	}
}

// rotateTicketKeys sets the day's ticket keys when the day turns, until
// the gateway shuts down. Checked each minute: a worker may seal with
// the new key up to a minute before another does, which opens it with
// the next period's key it already holds.
func (g *Gateway) rotateTicketKeys() {
	t := time.NewTicker(ticketKeyCheck)
	defer t.Stop()
	// Listen set the keys of its own period, which may have ended since:
	// start from none, so the first tick sets now's.
	last := int64(-1 << 63)
	for {
		select {
		case <-g.stopping:
			return
		case <-t.C:
		}
		now := g.now()
		if p := now.Unix() / int64(ticketKeyPeriod/time.Second); p != last {
			last = p
			g.mu.Lock()
			g.setTicketKeys(now)
			g.mu.Unlock()
		}
	}
}
