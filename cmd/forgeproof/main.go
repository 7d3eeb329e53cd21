// Command forgeproof is the gateway, scanner, demo and development PKI of
// the forgeproof project. See "forgeproof help".
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// A command is one subcommand. Its run function parses its own flags (with
// newFlagSet) and returns nil, a usage error (exit 2), an exitError with
// its own status, or any other error (exit 1).
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the dispatch table; each subcommand lives in its own file.
var commands = []command{
	{"demo", "run the attack-and-defence demo on this machine", runDemo},
	{"serve", "run the gateway in front of a service", runServe},
	{"check-config", "validate a gateway config file without serving", runCheckConfig},
	{"scan", "audit a live service for CSRF exposure", runScan},
	{"pki", "create a development CA and issue certificates", runPKI},
	{"version", "print the version of this build", runVersion},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		printUsage(stdout)
		return 0
	case "help":
		if len(rest) == 0 {
			printUsage(stdout)
			return 0
		}
		name, rest = rest[0], []string{"--help"}
	}
	for _, c := range commands {
		if c.name == name {
			return exitCode(c.name, c.run(ctx, rest, stdout, stderr), stderr)
		}
	}
	fmt.Fprintf(stderr, "forgeproof: error: unknown command %q\n", name)
	fmt.Fprintf(stderr, "forgeproof: hint: run \"forgeproof help\" for the list of commands\n")
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "forgeproof stops cross-site request forgery where mutual TLS cannot.\n\n")
	fmt.Fprintf(w, "Usage:\n\n  forgeproof <command> [flags]\n\nCommands:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"forgeproof help <command>\" or \"forgeproof <command> --help\" for its flags.\n")
}

// usageError marks a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{fmt.Sprintf(format, a...)}
}

// exitError carries a specific exit status (scan uses 1 and 3). A nil err
// exits with the status and prints nothing.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitCode prints err (if any) from the subcommand name and maps it to an
// exit status.
func exitCode(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "forgeproof: error: %s\n", ue.msg)
		fmt.Fprintf(stderr, "forgeproof: hint: run \"forgeproof help %s\" for its flags\n", name)
		return 2
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "forgeproof: error: %s\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "forgeproof: error: %s\n", err)
	return 1
}

// newFlagSet returns a flag set for a subcommand that reports errors
// instead of exiting, and prints its usage (with an example) on --help.
// Go's flag package accepts -name, --name, --name=value and --name value.
func newFlagSet(name, usage string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("forgeproof "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "%s\n\nFlags:\n\n", usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseFlags parses args with fs. On --help it prints the usage and returns
// flag.ErrHelp (exit 0); any other mistake becomes a usage error. Positional
// arguments are refused unless allowArgs.
func parseFlags(fs *flag.FlagSet, args []string, allowArgs bool) error {
	// The flag package prints the usage on every parse error; we want it on
	// --help only, and a one-line error otherwise.
	printUsage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = printUsage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage()
			return flag.ErrHelp
		}
		return usageErrorf("%s: %v", fs.Name(), err)
	}
	if !allowArgs && fs.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "Usage: forgeproof version\n\nPrints the version of this build.\n\nExample:\n\n  forgeproof version", stdout)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "forgeproof %s\n", version())
	return nil
}

// version is the module version, else the VCS revision, else "devel".
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return "devel-" + rev + dirty
	}
	return "devel"
}
