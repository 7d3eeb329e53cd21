package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/forgeproof/forgeproof/internal/demo"
	"github.com/forgeproof/forgeproof/internal/openfolder"
	"github.com/forgeproof/forgeproof/internal/shellquote"
	"github.com/forgeproof/forgeproof/pki"
)

// demoUsage names the demo's files from demo.FileNames, the list the
// demo writes by, so that it cannot miss one.
var demoUsage = `Usage: forgeproof demo [--listen ADDR] [--dir DIR] [--insecure-no-csrf] [flags]

Runs the attack and the defence on this machine: a tiny bank behind the
forgeproof gateway on https://localhost:8443, and an attacker site on
another site (http://127.0.0.2:8444) and on another port of the same site
(https://localhost:8445) whose pages make your browser forge requests to the
bank. Import client.p12 (empty password) into your browser, open the bank,
then the attacker's pages, and watch the balances.

The development PKI and the CSRF token key are created in DIR on the
first run and reused afterwards:

` + wrapWords(demo.FileNames(), "  ", 76) + `

With --dir, a .gitignore that keeps the keys out of git is written there
too, unless DIR has one. Stop with Ctrl-C.

Examples:

  forgeproof demo
  forgeproof demo --reset                     # new CA and certificates
  forgeproof demo --insecure-no-csrf          # the same attacks succeed
  forgeproof demo --listen localhost:9443 --dir ./demo-pki
  forgeproof demo --self-test                 # check, print and exit`

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", demoUsage, stdout)
	listen := fs.String("listen", demo.DefaultListen, "the bank's (gateway's) `address`; loopback only")
	dir := fs.String("dir", "", "the PKI `folder` (default: forgeproof/demo in the user's cache folder)")
	attacker := fs.String("attacker", "127.0.0.2:8444", "the cross-site attacker's `address`")
	sibling := fs.String("sibling", "localhost:8445", "the same-site attacker's `address`: the bank's host, another port (with --listen on another host: port 8445 of that host)")
	insecure := fs.Bool("insecure-no-csrf", false, "turn the CSRF guard off: forged requests succeed (the negative control)")
	quiet := fs.Bool("quiet", false, "do not print the gateway's access log on stderr")
	selfTest := fs.Bool("self-test", false, "send a service request and the forgeries, print what happened, and exit (1 if unexpected)")
	reset := fs.Bool("reset", false, "delete the demo's files in the PKI folder first: a new CA and new certificates (import client.p12 and ca.pem again)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	siblingSet := false
	fs.Visit(func(f *flag.Flag) { siblingSet = siblingSet || f.Name == "sibling" })
	if host, port, err := net.SplitHostPort(*listen); err == nil && host != "" && !siblingSet {
		// The same-site attacker is same-site only on the bank's host.
		if port != "0" {
			port = "8445"
		}
		*sibling = net.JoinHostPort(host, port)
	}
	for _, f := range []struct{ flag, addr string }{{"--listen", *listen}, {"--attacker", *attacker}, {"--sibling", *sibling}} {
		if err := checkDemoAddr(f.addr); err != nil {
			return usageErrorf("demo: invalid %s %q: %v", f.flag, f.addr, err)
		}
	}
	if lh, sh := demoHost(*listen), demoHost(*sibling); !strings.EqualFold(lh, sh) {
		return usageErrorf("demo: invalid --sibling %q: the same-site attacker must be on the bank's host (%s), on another port: %s is another site", *sibling, lh, sh)
	}
	ignored := gitignoreOurs // nothing to say: the cache folder gets none
	if *dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("no cache folder for the demo PKI (%v): pass --dir", err)
		}
		*dir = filepath.Join(cache, "forgeproof", "demo")
	} else {
		// Refused before anything is written (the demo's own check comes
		// after the .gitignore).
		if err := openfolder.Check(filepath.Join(*dir, pki.CAKeyFile)); err != nil {
			return err
		}
		// A folder of the user's choosing may be in a git work tree; the
		// cache folder is not.
		if err := os.MkdirAll(*dir, 0o700); err != nil {
			return err
		}
		var err error
		if ignored, err = writeGitignore(*dir); err != nil {
			return err
		}
	}
	if *reset {
		removed, err := demo.ResetPKI(*dir)
		if err != nil {
			return err
		}
		if len(removed) > 0 {
			fmt.Fprintf(stderr, "forgeproof demo: reset: deleted %s from %s\n", strings.Join(removed, " "), *dir)
		}
	}
	var logger *slog.Logger
	if !*quiet && !*selfTest {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	r, err := demo.Start(ctx, demo.Options{
		Dir:            *dir,
		Listen:         *listen,
		AttackerAddr:   *attacker,
		SiblingAddr:    *sibling,
		InsecureNoCSRF: *insecure,
		Logger:         logger,
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w (is another demo running? choose other ports with --listen, --attacker and --sibling)", err)
	}
	if errors.Is(err, demo.ErrStalePKI) {
		return fmt.Errorf("%w (the folder is %s)", err, *dir)
	}
	if err != nil {
		return err
	}
	if r.ClientRevoked {
		// Caught here, not at the first handshake: every browser and curl
		// with this certificate would be refused with a bare TLS alert.
		cerr := r.Close()
		return errors.Join(fmt.Errorf("the client certificate %s is revoked (%s lists it): browsers and curl presenting it would be refused at the handshake; "+
			"start afresh with --reset (a new CA and certificates: import client.p12 and ca.pem again), or delete %s",
			r.Files.Client, r.Files.CRL, r.Files.Dir), cerr)
	}
	printDemo(stdout, r, ignored.note(*dir))
	if *selfTest {
		return demoSelfTest(ctx, stdout, r)
	}
	fmt.Fprintf(stderr, "forgeproof demo: running; press Ctrl-C to stop\n")
	select {
	case <-ctx.Done():
	case <-r.Done():
	}
	err = r.Close()
	fmt.Fprintf(stderr, "forgeproof demo: stopped\n")
	return err
}

func demoSelfTest(ctx context.Context, stdout io.Writer, r *demo.Running) error {
	results, err := r.SelfCheck(ctx)
	cerr := r.Close()
	fmt.Fprintln(stdout)
	bad := 0
	for _, res := range results {
		fmt.Fprintln(stdout, res)
		if !res.OK {
			bad++
		}
	}
	if err := errors.Join(err, cerr); err != nil {
		return err
	}
	if bad > 0 {
		return &exitError{1, fmt.Errorf("self-test: %d of %d checks did not behave as expected", bad, len(results))}
	}
	fmt.Fprintf(stdout, "self-test passed: %d checks\n", len(results))
	return nil
}

// printDemo prints where everything is; gitignore is the note on the
// PKI folder's .gitignore, if any.
func printDemo(w io.Writer, r *demo.Running, gitignore string) {
	mode := "ON"
	if r.InsecureNoCSRF {
		mode = "OFF (--insecure-no-csrf): forged requests will move money"
	}
	f := r.Files
	fmt.Fprintf(w, "forgeproof demo: CSRF protection %s\n\n", mode)
	fmt.Fprintf(w, "  bank, behind forgeproof:   %s/\n", r.URL)
	fmt.Fprintf(w, "  attacker, another site:    %s/\n", r.AttackerURL)
	fmt.Fprintf(w, "  attacker, same site:       %s/\n", r.SiblingURL)
	fmt.Fprintf(w, "  import into your browser:  %s (empty password); trust %s for https\n", f.ClientP12, f.CA)
	if len(r.Created) > 0 {
		fmt.Fprintf(w, "  created in %s: %s\n", f.Dir, strings.Join(r.Created, " "))
	}
	if gitignore != "" {
		fmt.Fprintf(w, "  %s\n", gitignore)
	}
	if slices.Contains(r.Renewed, "client.p12") {
		fmt.Fprintf(w, "  note: the client certificate was issued again (the old one was unusable or about to expire): import client.p12 into your browser again\n")
	}
	certs := fmt.Sprintf("--cacert %s --cert %s --key %s", shellquote.Quote(f.CA), shellquote.Quote(f.Client), shellquote.Quote(f.ClientKey))
	fmt.Fprintf(w, "\nA service client (succeeds):\n\n  curl %s -H 'Content-Type: application/json' -d '{\"to\":\"bob\",\"amount\":5}' %s/api/transfers\n", certs, r.URL)
	outcome := "refused with 403, reason cross-site"
	if r.InsecureNoCSRF {
		outcome = "succeeds, because the guard is off"
	}
	fmt.Fprintf(w, "\nA forged cross-site request, as a browser sends it (%s):\n\n  curl %s -H 'Origin: %s' -H 'Sec-Fetch-Site: cross-site' -d 'to=mallory&amount=100' %s/transfer\n",
		outcome, certs, r.AttackerURL, r.URL)
}

// wrapWords joins words with spaces into lines of at most width bytes
// (a longer word has a line to itself), each starting with indent.
func wrapWords(words []string, indent string, width int) string {
	var b strings.Builder
	line := 0
	for _, w := range words {
		switch {
		case line == 0:
		case line+1+len(w) > width:
			b.WriteString("\n")
			line = 0
		default:
			b.WriteString(" ")
			line++
		}
		if line == 0 {
			b.WriteString(indent)
			line = len(indent)
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

// checkDemoAddr checks a demo address: host:port on loopback (an empty
// host means localhost).
func checkDemoAddr(addr string) error {
	if err := checkListen(addr, false); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip, err := netip.ParseAddr(host); host != "" && host != "localhost" && (err != nil || !ip.IsLoopback()) {
		return errors.New("the demo serves on loopback only: use localhost, 127.0.0.1 or ::1")
	}
	return nil
}

// demoHost is a checked demo address's host; an empty one means localhost.
func demoHost(addr string) string {
	if host, _, _ := net.SplitHostPort(addr); host != "" {
		return host
	}
	return "localhost"
}
