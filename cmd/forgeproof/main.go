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
	"reflect"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/forgeproof/forgeproof/internal/workers"
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
	{"init", "write a gateway config, a dev PKI and a CSRF key for a service", runInit},
	{"demo", "run the attack-and-defence demo on this machine", runDemo},
	{"serve", "run the gateway in front of a service", runServe},
	{"authz", "answer nginx, Caddy, Traefik or Envoy: may this request pass", runAuthz},
	{"check-config", "validate a gateway or authz config file without serving", runCheckConfig},
	{"scan", "audit a live service for CSRF exposure", runScan},
	{"pki", "create a development CA and issue certificates", runPKI},
	{"version", "print the version of this build", runVersion},
}

// workerHUP catches SIGHUP in a worker of serve from the start: its
// master passes SIGHUP on at any moment, and the default action of one
// uncaught ends the process.
var workerHUP = make(chan os.Signal, 1)

func main() {
	isWorker := os.Getenv(workers.EnvWorker) != ""
	if isWorker {
		workers.CatchHUP(workerHUP)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks the command to stop; the next one kills the
	// process, as without a handler, so that a command that does not
	// watch ctx (check-config, pki) or one stuck in a drain can still be
	// stopped with Ctrl-C.
	go func() {
		<-ctx.Done()
		if !isWorker {
			stop()
		}
		// A worker of serve drains to the end: systemd signals every
		// process of a unit and its master passes the signal on too,
		// so a second one is no request to hurry. Its master kills it
		// when the drain overruns.
	}()
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
		if len(rest) > 1 {
			fmt.Fprintf(stderr, "forgeproof help: error: unexpected argument %q\n", rest[1])
			fmt.Fprintf(stderr, "forgeproof help: hint: run \"forgeproof help COMMAND\" for one command's flags\n")
			return 2
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
// exit status. Every line starts with "forgeproof CMD:", where CMD is the
// subcommand (with its own subcommand, "pki issue-client", when the
// message starts with it).
func exitCode(name string, err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		cmd, msg := commandPrefix(name, ue.msg)
		fmt.Fprintf(stderr, "forgeproof %s: error: %s\n", cmd, msg)
		if cmd == name {
			fmt.Fprintf(stderr, "forgeproof %s: hint: run \"forgeproof help %s\" for its flags\n", cmd, name)
		} else {
			// "help pki" lists pki's subcommands, not their flags; help
			// takes one command, so the subcommand's own --help it is.
			fmt.Fprintf(stderr, "forgeproof %s: hint: run \"forgeproof %s --help\" for its flags\n", cmd, cmd)
		}
		return 2
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			cmd, msg := commandPrefix(name, ee.err.Error())
			fmt.Fprintf(stderr, "forgeproof %s: error: %s\n", cmd, msg)
		}
		return ee.code
	}
	cmd, msg := commandPrefix(name, err.Error())
	fmt.Fprintf(stderr, "forgeproof %s: error: %s\n", cmd, msg)
	return 1
}

// commandPrefix splits a message that starts with the command's name
// ("serve: …", "pki issue-client: …") into the command and the rest; a
// message without it belongs to name.
func commandPrefix(name, msg string) (cmd, rest string) {
	if r, ok := strings.CutPrefix(msg, name+": "); ok {
		return name, r
	}
	if r, ok := strings.CutPrefix(msg, name+" "); ok {
		if sub, r, ok := strings.Cut(r, ": "); ok && sub != "" && !strings.ContainsAny(sub, " \"'") {
			return name + " " + sub, r
		}
	}
	return name, msg
}

// prefixed returns err with the message prefixed by cmd ("pki init: …")
// unless it has it already, keeping usage errors usage errors.
func prefixed(cmd string, err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) || strings.HasPrefix(err.Error(), cmd+": ") {
		return err
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return usageErrorf("%s: %s", cmd, ue.msg)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// newFlagSet returns a flag set for a subcommand that reports errors
// instead of exiting, and prints its usage (with an example) on --help.
// Go's flag package accepts -name, --name, --name=value and --name value.
func newFlagSet(name, usage string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("forgeproof "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "%s\n", usage)
		printFlags(stdout, fs)
	}
	return fs
}

// printFlags lists the flags of fs as flag.PrintDefaults does, but spelled
// --name, as docs/cli.md and the error messages spell them; nothing when
// fs has no flags.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprintf(w, "\nFlags:\n\n")
			first = false
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		line += "\n    \t" + strings.ReplaceAll(usage, "\n", "\n    \t")
		if !isZeroFlag(f) {
			def := f.DefValue
			if g, ok := f.Value.(flag.Getter); ok {
				if d, ok := g.Get().(time.Duration); ok {
					def = shortDuration(d) // "1m", as the docs write it, not "1m0s"
				}
			}
			if reflect.TypeOf(f.Value).String() == "*flag.stringValue" {
				def = strconv.Quote(def)
			}
			line += " (default " + def + ")"
		}
		fmt.Fprintln(w, line)
	})
}

// isZeroFlag reports whether f's default is its type's zero value, which
// flag.PrintDefaults leaves out ("(default false)").
func isZeroFlag(f *flag.Flag) (zero bool) {
	t := reflect.TypeOf(f.Value)
	var z reflect.Value
	if t.Kind() == reflect.Pointer {
		z = reflect.New(t.Elem())
	} else {
		z = reflect.Zero(t)
	}
	defer func() {
		if recover() != nil {
			zero = false // a String method that fails on the zero value
		}
	}()
	return f.DefValue == z.Interface().(flag.Value).String()
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
		return usageErrorf("%s: %s", cmdName(fs), flagError(fs, err))
	}
	if !allowArgs && fs.NArg() > 0 {
		return usageErrorf("%s: unexpected argument %q", cmdName(fs), fs.Arg(0))
	}
	return nil
}

// cmdName is the subcommand of a flag set from newFlagSet ("pki init").
func cmdName(fs *flag.FlagSet) string { return strings.TrimPrefix(fs.Name(), "forgeproof ") }

// flagRefs finds the flag names in the flag package's errors, which it
// spells with one dash ("-key") whatever the user typed.
var flagRefs = regexp.MustCompile(`(defined: |argument: |for flag |for )-+([A-Za-z0-9][A-Za-z0-9_.-]*)`)

// flagError rewrites an error of the flag package in our style: flags
// spelled --name, as the docs and the usage texts spell them, and the
// flag package's bare "parse error" replaced with what the flag wants.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if m := flagRefs.FindStringSubmatch(msg); m != nil && strings.HasSuffix(msg, ": parse error") {
		if want := flagWants(fs.Lookup(m[2])); want != "" {
			msg = strings.TrimSuffix(msg, "parse error") + want
		}
	}
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return "unknown flag --" + strings.TrimLeft(name, "-")
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return "--" + strings.TrimLeft(name, "-") + " needs a value"
	}
	return flagRefs.ReplaceAllString(strings.Replace(msg, " for flag ", " for ", 1), "$1--$2")
}

// flagWants says what values f takes, for its parse errors; "" when f
// is nil or of a type it does not know.
func flagWants(f *flag.Flag) string {
	if f == nil {
		return ""
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return "want true or false"
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return "want a duration such as 30s, 1m or 1h30m"
	case int, int64, uint, uint64:
		return "want a whole number"
	case float64:
		return "want a number"
	}
	return ""
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

// shortDuration is d without the zero units time.Duration.String ends
// with: "1m" for 1m0s, "2h" for 2h0m0s, "1h30m" for 1h30m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
