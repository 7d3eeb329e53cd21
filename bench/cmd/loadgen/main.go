// Command loadgen drives an HTTPS server that requires a client
// certificate, with the load generator of forgeproof's benchmarks
// (package bench/load), and prints what it measured.
//
// Usage:
//
//	loadgen -addr 127.0.0.1:8443 -ca ca.pem -cert client.pem -key client-key.pem \
//	    [-server-name localhost] [-path /] [-mode keepalive|h2|full|resumed|latency]
//	    [-conns 64] [-h2-streams 8] [-duration 10s] [-warmup 2s] [-rate 1000] [-json]
//
// Modes: keepalive (requests/s at saturation over long-lived connections),
// h2 (the same over HTTP/2, -h2-streams concurrent streams per connection),
// full and resumed (TLS handshakes/s, a new connection per request), latency
// (percentiles at -rate requests/s, open loop, corrected for coordinated
// omission). Every connection negotiates TLS 1.3 with X25519. It exits 1
// when no request succeeded.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/forgeproof/forgeproof/bench/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: error: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	addr := fs.String("addr", "", "server address, host:port (required)")
	serverName := fs.String("server-name", "localhost", "TLS server name and Host header")
	path := fs.String("path", "/", "request path")
	caFile := fs.String("ca", "", "CA bundle that verifies the server (PEM, required)")
	certFile := fs.String("cert", "", "client certificate (PEM)")
	keyFile := fs.String("key", "", "client key (PEM)")
	mode := fs.String("mode", "keepalive", "keepalive, h2, full, resumed or latency")
	var opts load.Options
	fs.IntVar(&opts.Conns, "conns", 64, "concurrent connections")
	fs.DurationVar(&opts.Duration, "duration", 10*time.Second, "measured window")
	fs.DurationVar(&opts.Warmup, "warmup", 2*time.Second, "unmeasured load before the window")
	rate := fs.Float64("rate", 1000, "requests per second (latency mode)")
	h2Streams := fs.Int("h2-streams", 8, "concurrent streams per connection (h2 mode; -conns streams in all)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *addr == "" || *caFile == "" {
		return errors.New("-addr and -ca are required")
	}
	cfg, err := clientConfig(*serverName, *caFile, *certFile, *keyFile)
	if err != nil {
		return err
	}
	t := load.Target{Addr: *addr, TLS: cfg, Path: *path}

	var res load.Result
	switch *mode {
	case "keepalive":
		res, err = load.KeepAlive(ctx, t, opts)
	case "h2":
		res, err = load.KeepAliveH2(ctx, t, opts, *h2Streams)
	case "full":
		res, err = load.Handshakes(ctx, t, opts, false)
	case "resumed":
		res, err = load.Handshakes(ctx, t, opts, true)
	case "latency":
		res, err = load.Latency(ctx, t, *rate, opts)
	default:
		return fmt.Errorf("unknown mode %q: want keepalive, h2, full, resumed or latency", *mode)
	}
	if err != nil {
		return err
	}
	if res.OK == 0 {
		return fmt.Errorf("no request succeeded: %v", res)
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Println(res)
	return nil
}

func clientConfig(serverName, caFile, certFile, keyFile string) (*tls.Config, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %q", caFile)
	}
	cfg := &tls.Config{
		RootCAs:          roots,
		ServerName:       serverName,
		MinVersion:       tls.VersionTLS13,
		CurvePreferences: []tls.CurveID{tls.X25519},
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
