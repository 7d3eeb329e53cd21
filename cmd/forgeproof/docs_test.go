package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/mdtest"
)

// pkiSubcommands are the subcommands of "forgeproof pki".
var pkiSubcommands = []string{"init", "issue-server", "issue-client", "revoke"}

// commandFlags returns, for every command ("pki issue-client" for pki's),
// the names of the flags its flag.FlagSet defines, read from what the
// FlagSet prints for --help (printFlags: one "  --name" line per flag).
func commandFlags(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	var names [][]string
	for _, c := range commands {
		if c.name == "pki" {
			for _, sub := range pkiSubcommands {
				names = append(names, []string{"pki", sub})
			}
			continue
		}
		names = append(names, []string{c.name})
	}
	for _, n := range names {
		var stdout, stderr bytes.Buffer
		args := append(n, "--help")
		if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("forgeproof %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
		}
		var flags []string
		for _, m := range flagLine.FindAllStringSubmatch(stdout.String(), -1) {
			flags = append(flags, m[1])
		}
		out[strings.Join(n, " ")] = flags
	}
	return out
}

// A docCommand is a "forgeproof CMD [SUB] [args]" line of the docs.
type docCommand struct {
	where string // file:line
	words []string
}

var (
	inlineCode = regexp.MustCompile("`([^`]+)`")
	// A command at the start of a line (after "$ "), or after && ; ( or
	// |; its words are separated by one space (two or more end it, as in
	// a listing of commands with their summaries).
	invocation = regexp.MustCompile(`(?:^\s*(?:\$ )?|&& |; |\( |\| )(?:forgeproof|go run \./cmd/forgeproof|\./forgeproof) ([a-z][a-z-]*(?: [^\s|;&#<>()]+)*)`)
)

// docCommands returns the command lines of the docs: in code blocks, and
// in inline code spans that start with "forgeproof". Continued lines
// (ending in \) are joined; words stop at a shell separator or comment.
func docCommands(t *testing.T) []docCommand {
	t.Helper()
	var out []docCommand
	add := func(where, candidate string) {
		for _, m := range invocation.FindAllStringSubmatch(candidate, -1) {
			words := strings.Fields(m[1])
			if slices.ContainsFunc(words, func(w string) bool { return strings.HasSuffix(w, ":") }) {
				continue // a message ("forgeproof serve: error: …"), not a command
			}
			out = append(out, docCommand{where, words})
		}
	}
	for _, doc := range mdtest.Docs(t, "../..") {
		at := func(n int) string { return doc.Path + ":" + strconv.Itoa(n) }
		for i, line := range mdtest.Prose(doc.Text) {
			for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
				if strings.HasPrefix(m[1], "forgeproof ") {
					add(at(i+1), m[1])
				}
			}
		}
		for _, b := range mdtest.Blocks(doc.Text) {
			if b.Lang == "yaml" || b.Lang == "go" || b.Lang == "json" || b.Lang == "html" {
				continue // comments there may mention a command in prose
			}
			for i := 0; i < len(b.Lines); i++ {
				n, line := b.Line+1+i, b.Lines[i]
				for strings.HasSuffix(line, `\`) && i+1 < len(b.Lines) {
					i++
					line = strings.TrimSuffix(line, `\`) + " " + b.Lines[i]
				}
				if c, _, ok := strings.Cut(line, " #"); ok {
					line = c
				}
				add(at(n), line)
			}
		}
	}
	return out
}

// TestDocsCommandsAndFlagsExist fails when the docs show a command, a pki
// subcommand or a flag that the binary does not have (issue 12: the docs
// must not drift from the code). Placeholders (CMD, COMMAND, "…") are
// skipped.
func TestDocsCommandsAndFlagsExist(t *testing.T) {
	flags := commandFlags(t)
	cmds := docCommands(t)
	if len(cmds) < 30 {
		t.Fatalf("found only %d command lines in the docs: is the parser broken?", len(cmds))
	}
	for _, c := range cmds {
		name := c.words[0]
		if name == "help" || strings.ToUpper(name) == name {
			continue
		}
		if !slices.ContainsFunc(commands, func(x command) bool { return x.name == name }) {
			t.Errorf("%s: forgeproof %s: no such command", c.where, name)
			continue
		}
		args := c.words[1:]
		if name == "pki" {
			if len(args) == 0 || strings.HasPrefix(args[0], "-") {
				continue // "forgeproof pki --help", or pki in general
			}
			if !slices.Contains(pkiSubcommands, args[0]) {
				if args[0] != "init|issue-server|issue-client|revoke" && strings.ToUpper(args[0]) != args[0] {
					t.Errorf("%s: forgeproof pki %s: no such subcommand", c.where, args[0])
				}
				continue
			}
			name, args = "pki "+args[0], args[1:]
		}
		for _, a := range args {
			if !strings.HasPrefix(a, "--") || a == "--" {
				continue
			}
			f, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			f = strings.TrimRight(f, ".,:;`'\"")
			if f == "help" || f == "" {
				continue
			}
			if !slices.Contains(flags[name], f) {
				t.Errorf("%s: forgeproof %s --%s: no such flag (it has %s)", c.where, name, f, strings.Join(flags[name], ", "))
			}
		}
	}
}

// TestDocsCommandsExercised: every command the docs show, and every flag
// they show it with, is run by some testscript script (testdata/*.txt:
// "exec forgeproof CMD … --flag"), so a documented invocation is one the
// tests run, not only one that parses.
func TestDocsCommandsExercised(t *testing.T) {
	scripts, err := filepath.Glob("testdata/*.txt*")
	if err != nil {
		t.Fatal(err)
	}
	exec := regexp.MustCompile(`exec forgeproof ([a-z-]+)((?: [^\s&]+)*)`)
	ran := map[string]bool{}
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range exec.FindAllStringSubmatch(string(b), -1) {
			name, words := m[1], strings.Fields(m[2])
			if name == "pki" && len(words) > 0 {
				name += " " + words[0]
			}
			ran[name] = true
			for _, w := range words {
				if f, ok := strings.CutPrefix(w, "--"); ok {
					f, _, _ = strings.Cut(f, "=")
					ran[name+" --"+f] = true
				}
			}
		}
	}
	if len(ran) < 50 {
		t.Fatalf("found %d commands and flags in the scripts: is the scan broken?", len(ran))
	}
	for _, c := range docCommands(t) {
		name, args := c.words[0], c.words[1:]
		if name == "help" || strings.ToUpper(name) == name {
			continue
		}
		if name == "pki" && len(args) > 0 && slices.Contains(pkiSubcommands, args[0]) {
			name, args = name+" "+args[0], args[1:]
		}
		if !ran[name] {
			t.Errorf("%s: forgeproof %s: no script runs it", c.where, name)
		}
		for _, a := range args {
			f, ok := strings.CutPrefix(a, "--")
			if !ok || f == "" || f == "help" {
				continue
			}
			f, _, _ = strings.Cut(f, "=")
			f = strings.TrimRight(f, ".,:;`'\"")
			if !ran[name+" --"+f] {
				t.Errorf("%s: forgeproof %s --%s: no script runs it with this flag", c.where, name, f)
			}
		}
	}
}
