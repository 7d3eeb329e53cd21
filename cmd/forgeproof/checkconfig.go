package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/forgeproof/forgeproof/gateway"
)

const checkConfigUsage = `Usage: forgeproof check-config FILE

Validates a gateway config file without serving: YAML syntax, unknown or
duplicate keys, values, and the files it names (certificates, keys, CAs,
CRLs, the token key ring). Prints every problem as FILE:LINE: KEY: what is
wrong, on stderr, and exits 1; prints "ok" on stdout and exits 0 when the
config is sound, after a warning on stderr for each setting that weakens
a protection (an http:// trusted origin, report-only, insecure-...).
Exit status 2 on a usage error.

Example:

  forgeproof check-config /etc/forgeproof/gateway.yaml`

func runCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check-config", checkConfigUsage, stdout)
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	files := fs.Args()
	// The flag package stops at FILE; a flag after it ("FILE --help",
	// "FILE --bogus") is still a flag, not a second file.
	if len(files) > 1 && strings.HasPrefix(files[1], "-") && files[1] != "-" {
		if err := parseFlags(fs, files[1:], true); err != nil {
			return err
		}
		files = append(files[:1], fs.Args()...)
	}
	if len(files) != 1 {
		return usageErrorf("check-config: want exactly one config file, got %d arguments", len(files))
	}
	if files[0] == "" {
		return usageErrorf("check-config: the config file name is empty")
	}
	cfg, err := gateway.LoadConfig(files[0])
	if err != nil {
		return configFailure("check-config", err, stderr)
	}
	// Sound, but weaker than the defaults: said, not refused.
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "forgeproof check-config: warning: %v\n", w)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
