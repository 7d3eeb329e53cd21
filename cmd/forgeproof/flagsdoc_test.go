package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/mdtest"
)

// flagLine matches a flag in a --help listing ("  --name value").
var flagLine = regexp.MustCompile(`(?m)^  --([a-z0-9][a-z0-9-]*)`)

// flagDocs is the page of docs/ that documents a command's flags, when
// docs/cli.md points there.
var flagDocs = map[string]string{
	"scan": "scanner.md",
	"demo": "demo.md",
}

// TestFlagsDocumented keeps the docs and the flags in step: every flag a
// command's --help lists is named (--name) in docs/cli.md or the
// command's own page, so a new flag cannot ship undocumented; and every
// flag those pages name exists, so a renamed one cannot stay documented.
func TestFlagsDocumented(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("../../docs/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cli := read("cli.md")
	var invocations [][]string
	for _, c := range commands {
		switch c.name {
		case "version":
		case "pki":
			for _, sub := range []string{"init", "issue-server", "issue-client", "revoke"} {
				invocations = append(invocations, []string{"pki", sub})
			}
		default:
			invocations = append(invocations, []string{c.name})
		}
	}
	known := map[string]bool{"help": true}
	for _, inv := range invocations {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), append(inv, "--help"), &stdout, &stderr); code != 0 {
			t.Fatalf("%v --help: exit %d: %s", inv, code, stderr.String())
		}
		docs := cli
		if f, ok := flagDocs[inv[0]]; ok {
			docs += read(f)
		}
		flags := flagLine.FindAllStringSubmatch(stdout.String(), -1)
		if len(flags) == 0 && inv[0] != "check-config" {
			t.Errorf("%v --help lists no flags", inv)
		}
		for _, m := range flags {
			known[m[1]] = true
			if !regexp.MustCompile(`--` + regexp.QuoteMeta(m[1]) + `([^a-z0-9-]|$)`).MatchString(docs) {
				t.Errorf("forgeproof %s: flag --%s is not documented (docs/cli.md %s)", strings.Join(inv, " "), m[1], flagDocs[inv[0]])
			}
		}
	}
	// And the other way: every --name in the prose of these pages
	// (code spans; not the shell examples) is a flag of some command.
	code, flag := regexp.MustCompile("`[^`]+`"), regexp.MustCompile(`(?:^|[\s(\[])--([a-z0-9][a-z0-9-]*)`)
	for _, name := range []string{"cli.md", "demo.md", "scanner.md"} {
		for i, line := range mdtest.Prose(read(name)) {
			for _, span := range code.FindAllString(line, -1) {
				for _, m := range flag.FindAllStringSubmatch(strings.Trim(span, "`"), -1) {
					if !known[m[1]] {
						t.Errorf("docs/%s:%d: --%s is no flag of any command", name, i+1, m[1])
					}
				}
			}
		}
	}
}

// TestCommandsListed: the list of commands at the top of docs/cli.md
// names every command of the dispatch table (authz was missing from it).
func TestCommandsListed(t *testing.T) {
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(b), "```\n")
	list, _, _ := strings.Cut(rest, "```")
	for _, c := range append(commands, command{name: "help"}) {
		if !regexp.MustCompile(`(?m)^forgeproof ` + regexp.QuoteMeta(c.name) + ` `).MatchString(list) {
			t.Errorf("docs/cli.md: the list of commands at the top does not name %q", c.name)
		}
	}
}
