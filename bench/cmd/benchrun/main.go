// Command benchrun runs the gateway comparison of forgeproof's benchmarks:
// it mints a development PKI, starts a tiny upstream and every server under
// test on loopback (forgeproof serve, a bare Go reverse proxy, nginx and
// Caddy; nginx-cert is nginx forwarding the client's certificate upstream
// as forgeproof does, nginx-authz nginx asking forgeproof authz with
// auth_request; for diagnosis, goproxy-pool is the bare proxy with a
// buffer pool, goloop the standard library's parsers and crypto/tls
// without a server or proxy around them, goloop-rp ReverseProxy without
// net/http's server; an unknown -servers name prints the list),
// checks that each one refuses a client without a certificate,
// then measures them in alternation (A B C D A B C D …) and writes the
// tables as Markdown, with the raw runs as JSON. After the rounds it
// measures forgeproof and each server a throughput target compares it
// with in -pairs back-to-back pairs, alternating which runs first; the
// targets take the median of the pairs' ratios.
//
// Usage:
//
//	benchrun -bin DIR [-servers forgeproof,goproxy,nginx,caddy] [-rounds 5] [-pairs 8]
//	    [-duration 10s] [-warmup 2s] [-latency-rate 0] [-out FILE] [-json FILE]
//	benchrun -bin DIR -smoke
//	benchrun -bin DIR -servers forgeproof-api,goproxy -profile DIR
//	benchrun -bin DIR -servers forgeproof-base,forgeproof,goproxy-pool
//
// DIR holds the binaries forgeproof, fpgateway, goproxy and upstream
// (bench/run.sh builds them), and forgeproof-base when that server is
// asked for (a forgeproof built from another commit, to compare before
// and after in one run); nginx and caddy are found on PATH. A server that cannot
// run here is skipped with the reason in the report, except in -strict
// mode. -smoke runs every phase once and one pair, very briefly, to
// prove the harness works; its numbers mean nothing.
//
// nginx-authz runs the nginx blocks of docs/integrations/nginx.md, read
// at run time from -nginx-doc (by default the repository's page as seen
// from bench/, where run.sh runs benchrun).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchrun: error: %v\n", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	bin         string
	servers     []string
	phases      map[string]bool
	rounds      int
	pairs       int
	duration    time.Duration
	warmup      time.Duration
	conns       int
	hsConns     int
	h2Streams   int
	latencyConn int
	latencyRate float64
	latencyDur  time.Duration
	out, json   string
	smoke       bool
	strict      bool
	keep        bool
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("benchrun", flag.ContinueOnError)
	fs.StringVar(&c.bin, "bin", "", "folder holding the forgeproof, fpgateway, goproxy and upstream binaries (required)")
	servers := fs.String("servers", "forgeproof,goproxy,nginx,caddy", "servers to compare, in the order runs alternate")
	phaseList := fs.String("phases", strings.Join(phases, ","), "phases to run")
	fs.IntVar(&c.rounds, "rounds", 5, "rounds: each server runs each phase once per round")
	fs.IntVar(&c.pairs, "pairs", 8, "paired runs for the targets: forgeproof and the server a target compares it with, back to back, alternating which goes first (even, so that each goes first as often; 0: judge the targets from the rounds)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured window of each run")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load before each window")
	fs.IntVar(&c.conns, "conns", 64, "keep-alive connections at saturation")
	fs.IntVar(&c.hsConns, "handshake-conns", 16, "concurrent workers in the handshake runs")
	fs.IntVar(&c.h2Streams, "h2-streams", 8, "concurrent streams per connection in the HTTP/2 keep-alive runs (-conns streams in all)")
	fs.IntVar(&c.latencyConn, "latency-conns", 64, "keep-alive connections in the latency runs")
	fs.Float64Var(&c.latencyRate, "latency-rate", 0, "requests per second in the latency runs; 0 means half of the bare Go proxy's keep-alive saturation (median)")
	fs.DurationVar(&c.latencyDur, "latency-duration", 0, "measured window of the latency runs; 0 means -duration")
	fs.StringVar(&c.out, "out", "", "write the Markdown tables to this file (default stdout)")
	fs.StringVar(&c.json, "json", "", "write every run as JSON to this file")
	fs.BoolVar(&c.smoke, "smoke", false, "one brief round of every phase and one pair, to check the harness (numbers mean nothing)")
	fs.BoolVar(&c.strict, "strict", false, "fail when a server cannot run, instead of skipping it")
	fs.StringVar(&profileDir, "profile", "", "folder for CPU and allocation profiles of forgeproof-api (the gateway served through its Go API) and the CPU profiles of goproxy and goproxy-pool")
	fs.StringVar(&nginxDoc, "nginx-doc", "../docs/integrations/nginx.md", "the page whose nginx blocks nginx-authz runs (the default is the repository's, from bench/)")
	fs.BoolVar(&c.keep, "keep", false, "keep the working folder (configurations, logs) and print its path")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.bin == "" {
		return c, errors.New("-bin is required")
	}
	for _, s := range strings.Split(*servers, ",") {
		s = strings.TrimSpace(s)
		if _, ok := kindNamed(s); !ok {
			return c, fmt.Errorf("unknown server %q: want one of %s", s, kindNames())
		}
		c.servers = append(c.servers, s)
	}
	c.phases = map[string]bool{}
	for _, ph := range strings.Split(*phaseList, ",") {
		ph = strings.TrimSpace(ph)
		if !slices.Contains(phases, ph) {
			return c, fmt.Errorf("unknown phase %q: want %s", ph, strings.Join(phases, ", "))
		}
		c.phases[ph] = true
	}
	if c.smoke {
		c.rounds, c.pairs, c.duration, c.warmup, c.latencyDur = 1, 1, 300*time.Millisecond, 100*time.Millisecond, 300*time.Millisecond
		c.conns, c.hsConns, c.latencyConn = 8, 4, 8
		if c.latencyRate == 0 {
			c.latencyRate = 200
		}
	}
	if c.latencyDur == 0 {
		c.latencyDur = c.duration
	}
	if c.rounds < 1 || c.pairs < 0 || c.duration <= 0 || c.conns < 1 || c.hsConns < 1 || c.latencyConn < 1 || c.latencyRate < 0 || c.h2Streams < 1 {
		return c, errors.New("-rounds, -duration and the connection counts must be positive, -pairs and -latency-rate not negative")
	}
	return c, nil
}

func run(ctx context.Context, args []string) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	rep, err := measure(ctx, c)
	if err != nil {
		return err
	}
	if c.json != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.json, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	md := rep.markdown()
	if c.out == "" {
		_, err = os.Stdout.WriteString(md)
		return err
	}
	return os.WriteFile(c.out, []byte(md), 0o644)
}
