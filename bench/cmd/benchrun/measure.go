package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/forgeproof/forgeproof/bench/internal/proc"
	"github.com/forgeproof/forgeproof/bench/load"
	"github.com/forgeproof/forgeproof/internal/freeport"
	"github.com/forgeproof/forgeproof/pki"
)

// The phases of a round, in order. Latency runs come last: their rate
// depends on the keep-alive saturation measured before.
const (
	phaseKeepAlive = "keepalive"
	phaseFull      = "full-handshake"
	phaseResumed   = "resumed-handshake"
	phaseLatency   = "latency"
	phaseH2        = "h2-keepalive"
)

var phases = []string{phaseKeepAlive, phaseFull, phaseResumed, phaseH2, phaseLatency}

// clientCN is the common name of the benchmark's client certificate; the
// forgeproof route allows exactly this name.
const clientCN = "bench client"

// running is a server under test that came up.
type running struct {
	kind   kind
	proc   *proc.Process
	target load.Target
}

func measure(ctx context.Context, c config) (*report, error) {
	dir, err := os.MkdirTemp("", "forgeproof-bench-")
	if err != nil {
		return nil, err
	}
	if c.keep {
		fmt.Fprintf(os.Stderr, "benchrun: working folder %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	f, client, err := mintPKI(dir)
	if err != nil {
		return nil, err
	}

	rep := newReport(c)
	upPort, err := freeport.Loopback()
	if err != nil {
		return nil, err
	}
	upstream := fmt.Sprintf("127.0.0.1:%d", upPort)
	up, err := proc.Start(dir, "upstream", nil, filepath.Join(c.bin, "upstream"), "-listen", upstream)
	if err != nil {
		return nil, err
	}
	defer up.Stop()
	if err := up.WaitTCP(ctx, upstream); err != nil {
		return nil, err
	}

	var servers []*running
	defer func() {
		for _, s := range servers {
			s.proc.Stop()
		}
	}()
	for _, name := range c.servers {
		k, _ := kindNamed(name)
		info := serverInfo{Name: k.name, About: k.about}
		s, err := startServer(ctx, c, k, f, client, upstream, &info)
		if err != nil {
			if c.strict {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			info.Skipped = err.Error()
			fmt.Fprintf(os.Stderr, "benchrun: skipping %s: %v\n", name, err)
		} else {
			servers = append(servers, s)
		}
		rep.Servers = append(rep.Servers, info)
	}
	if len(servers) == 0 {
		return nil, errors.New("no server under test could start")
	}

	opts := func(conns int, d time.Duration, cpu *time.Duration, p *proc.Process, m *machineUse) load.Options {
		var mu sync.Mutex
		var at time.Duration
		var before machineUse
		return load.Options{Conns: conns, Warmup: c.warmup, Duration: d, Window: func(open bool) {
			mu.Lock()
			defer mu.Unlock()
			if open {
				at = p.CPUTime()
				before = readMachineUse(up)
			} else {
				*cpu = p.CPUTime() - at
				*m = readMachineUse(up).minus(before)
			}
		}}
	}
	// runPhase measures s in at's phase and records the run as at says:
	// its round, or its pair.
	runPhase := func(at sample, s *running, rate float64) error {
		phase := at.Phase
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.proc.Exited(); err != nil {
			return err
		}
		var res load.Result
		var cpu time.Duration
		var m machineUse
		var err error
		switch phase {
		case phaseKeepAlive:
			res, err = load.KeepAlive(ctx, s.target, opts(c.conns, c.duration, &cpu, s.proc, &m))
		case phaseFull:
			res, err = load.Handshakes(ctx, s.target, opts(c.hsConns, c.duration, &cpu, s.proc, &m), false)
		case phaseResumed:
			res, err = load.Handshakes(ctx, s.target, opts(c.hsConns, c.duration, &cpu, s.proc, &m), true)
		case phaseH2:
			res, err = load.KeepAliveH2(ctx, s.target, opts(c.conns, c.duration, &cpu, s.proc, &m), c.h2Streams)
		case phaseLatency:
			res, err = load.Latency(ctx, s.target, rate, opts(c.latencyConn, c.latencyDur, &cpu, s.proc, &m))
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", s.kind.name, phase, err)
		}
		which := fmt.Sprintf("round %d", at.Round)
		if at.Pair > 0 {
			which = fmt.Sprintf("pair %d", at.Pair)
		}
		fmt.Fprintf(os.Stderr, "benchrun: %s %-10s %v, server CPU %v, %s\n", which, s.kind.name, res, cpu.Round(time.Millisecond), m.String(res.OK))
		at.Server, at.Result, at.ServerCPU, at.Machine = s.kind.name, res, cpu, m
		rep.Runs = append(rep.Runs, at)
		return nil
	}

	// Throughput phases: round after round, each server in turn.
	for round := range c.rounds {
		for _, phase := range []string{phaseKeepAlive, phaseFull, phaseResumed, phaseH2} {
			if !c.phases[phase] {
				continue
			}
			for _, s := range servers {
				if phase == phaseH2 && !s.kind.h2 {
					continue
				}
				if err := runPhase(sample{Phase: phase, Round: round + 1}, s, 0); err != nil {
					return nil, err
				}
			}
		}
	}
	// Paired runs for the targets (see pairedRuns).
	for _, at := range rep.pairedRuns(c.phases) {
		if err := runPhase(at, find(servers, at.Server), 0); err != nil {
			return nil, err
		}
	}
	rep.LatencyRate = c.latencyRate
	if rep.LatencyRate == 0 {
		rep.LatencyRate = rep.halfSaturation()
	}
	for round := range c.rounds {
		if !c.phases[phaseLatency] {
			break
		}
		for _, s := range servers {
			if err := runPhase(sample{Phase: phaseLatency, Round: round + 1}, s, rep.LatencyRate); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range servers {
		for i := range rep.Servers {
			if rep.Servers[i].Name == s.kind.name {
				rep.Servers[i].PeakRSS = s.proc.PeakRSS()
			}
		}
	}
	rep.finish()
	return rep, nil
}

// pairings are the comparisons measured in paired runs: the base
// server's rate in phase against ref's. All but the last are targets.
// forgeproof-base is not: it pairs a before with an after, and with the
// same binary under both names it is the control of the pairing itself
// (the pairs should read about 1.00×).
var pairings = []struct{ phase, ref string }{
	{phaseKeepAlive, "nginx"},
	{phaseKeepAlive, "caddy"},
	{phaseFull, "goproxy"},
	{phaseKeepAlive, "forgeproof-base"},
	{phaseKeepAlive, "forgeproof"}, // workers against one process
}

// pairedRuns lists the paired runs for the targets, in the order they
// run: pair after pair, the base server and the one each target judges
// it against back to back, the base first in odd pairs and second in
// even ones. A slow stretch of a shared machine (another guest on the
// host, tens of seconds long) then falls on both runs of a pair alike,
// where within a round the two are half a minute or more apart. A
// target whose phase is not selected, or whose server did not run, has
// no paired runs.
func (r *report) pairedRuns(selected map[string]bool) []sample {
	base := r.base()
	if base == "" {
		return nil
	}
	var out []sample
	for i := range r.Pairs {
		for _, t := range pairings {
			if !selected[t.phase] || !r.has(t.ref) || t.ref == base {
				continue
			}
			a, b := base, t.ref
			if i%2 == 1 {
				a, b = b, a
			}
			out = append(out, sample{Server: a, Phase: t.phase, Pair: i + 1}, sample{Server: b, Phase: t.phase, Pair: i + 1})
		}
	}
	return out
}

// find returns the running server named name, or nil.
func find(servers []*running, name string) *running {
	for _, s := range servers {
		if s.kind.name == name {
			return s
		}
	}
	return nil
}

// startServer starts one server and checks it before any measurement: it
// must answer a client with the certificate, and refuse one without.
func startServer(ctx context.Context, c config, k kind, f files, client *tls.Config, upstream string, info *serverInfo) (*running, error) {
	v, err := k.version(c.bin)
	if err != nil {
		return nil, err
	}
	info.Version = v
	port, err := freeport.Loopback()
	if err != nil {
		return nil, err
	}
	p, err := k.start(c.bin, f, port, upstream)
	if err != nil {
		return nil, err
	}
	s := &running{kind: k, proc: p, target: load.Target{Addr: fmt.Sprintf("127.0.0.1:%d", port), TLS: client}}
	if err := waitReady(ctx, s); err != nil {
		p.Stop()
		return nil, err
	}
	noCert := client.Clone()
	noCert.Certificates = nil
	if err := load.Probe(ctx, load.Target{Addr: s.target.Addr, TLS: noCert}); err == nil {
		p.Stop()
		return nil, errors.New("answered a client without a certificate: misconfigured, not comparable")
	}
	return s, nil
}

// waitReady probes the server until it answers 200, for up to 15s.
func waitReady(ctx context.Context, s *running) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := s.proc.Exited(); err != nil {
			return err
		}
		err := load.Probe(ctx, s.target)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not ready after 15s: %v; log: %s", err, proc.Tail(s.proc.Log, 600))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mintPKI creates the CA, the server certificate (localhost, 127.0.0.1)
// and the client certificate, all ECDSA P-256, with the project's pki
// package, and writes them to dir.
func mintPKI(dir string) (files, *tls.Config, error) {
	ca, err := pki.NewCA(pki.CAOptions{CommonName: "forgeproof bench CA"})
	if err != nil {
		return files{}, nil, err
	}
	srv, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		return files{}, nil, err
	}
	cl, err := ca.IssueClient(pki.ClientOptions{CommonName: clientCN})
	if err != nil {
		return files{}, nil, err
	}
	f := files{
		Dir: dir, CA: filepath.Join(dir, pki.CAFile),
		Cert: filepath.Join(dir, pki.ServerFile), Key: filepath.Join(dir, pki.ServerKeyFile),
		ClientCert: filepath.Join(dir, pki.ClientFile), ClientKey: filepath.Join(dir, pki.ClientKeyFile),
	}
	if err := ca.Save(dir); err != nil {
		return files{}, nil, err
	}
	if err := srv.Save(dir, pki.ServerFile, pki.ServerKeyFile); err != nil {
		return files{}, nil, err
	}
	if err := cl.Save(dir, pki.ClientFile, pki.ClientKeyFile); err != nil {
		return files{}, nil, err
	}
	client := cl.ClientTLSConfig(ca)
	client.ServerName = "localhost"
	// Every server negotiates the same thing: TLS 1.3 with X25519. (Go
	// servers would otherwise pick the post-quantum hybrid, which OpenSSL
	// 3.0 in nginx lacks, and the handshake rates would not compare.)
	client.MinVersion = tls.VersionTLS13
	client.CurvePreferences = []tls.CurveID{tls.X25519}
	return f, client, nil
}

func goVersion() string { return runtime.Version() }
