// Command fpgateway serves a forgeproof gateway configuration through the
// gateway package's Go API, as `forgeproof serve --config FILE` does, and
// can write a CPU profile of the run: the benchmarks use it to profile the
// gateway under load without touching the forgeproof binary.
//
// Usage:
//
//	fpgateway -config FILE [-cpuprofile FILE] [-memprofile FILE]
//
// It stops on SIGTERM or SIGINT, writing the profiles first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/forgeproof/forgeproof/gateway"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "fpgateway: error: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fpgateway", flag.ContinueOnError)
	config := fs.String("config", "", "gateway configuration (YAML, as for forgeproof serve)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile at exit to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *config == "" {
		return errors.New("-config is required")
	}
	cfg, err := gateway.LoadConfig(*config)
	if err != nil {
		return err
	}
	log := slog.New(gateway.NewLogHandler(os.Stderr, cfg.Log))
	g, err := gateway.New(cfg, gateway.Options{Logger: log})
	if err != nil {
		return err
	}
	if err := g.Listen(); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		defer func() {
			f, err := os.Create(*memProfile)
			if err != nil {
				return
			}
			defer f.Close()
			runtime.GC()
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
		}()
	}
	// Serve drains and returns when ctx ends (SIGTERM).
	return g.Serve(ctx)
}
