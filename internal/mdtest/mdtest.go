// Package mdtest reads the repository's Markdown for the tests that keep
// the docs in step with the code: the pages a user reads (README.md and
// docs/), their prose and their fenced code blocks. It is for tests (and
// the benchmark harness, which runs docs/integrations/nginx.md's server
// block), never for the product, and Docs fails the test on error.
package mdtest

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// A Doc is a Markdown file of the repository.
type Doc struct {
	// Path is the file's path from the repository root, with slashes
	// ("README.md", "docs/gateway.md").
	Path string
	Text string
}

// Docs returns README.md, every .md file under docs/ and then the extra
// files named (paths from the root), read from root, the repository root
// as seen from the test's directory ("." for the root package, "../.."
// for cmd/forgeproof).
func Docs(tb testing.TB, root string, extra ...string) []Doc {
	tb.Helper()
	names := []string{"README.md"}
	err := fs.WalkDir(os.DirFS(root), "docs", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && path.Ext(p) == ".md" {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	var docs []Doc
	for _, name := range append(names, extra...) {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, Doc{Path: name, Text: string(b)})
	}
	return docs
}

// A Block is a fenced code block.
type Block struct {
	// Lang is the fence's info string: "yaml", "sh", or "".
	Lang string
	// Line is the line number of the opening fence, so Lines[k] is line
	// Line+1+k of the file.
	Line int
	// Lines are the block's lines, less the fence's indentation.
	Lines []string
}

// Text is the block's content.
func (b Block) Text() string { return strings.Join(b.Lines, "\n") }

// Blocks returns the fenced (```) code blocks of md, in order.
func Blocks(md string) []Block {
	var out []Block
	var cur *Block
	indent := ""
	for i, line := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			indent = line[:len(line)-len(strings.TrimLeft(line, " "))]
			cur = &Block{Lang: strings.TrimPrefix(trimmed, "```"), Line: i + 1}
		case cur == nil:
		case strings.HasPrefix(trimmed, "```"):
			out = append(out, *cur)
			cur = nil
		default:
			cur.Lines = append(cur.Lines, strings.TrimPrefix(line, indent))
		}
	}
	if cur != nil {
		out = append(out, *cur)
	}
	return out
}

// Prose returns md's lines with the fenced code blocks, fences included,
// blanked: line n of the file is Prose(md)[n-1], and no code is left in
// it to pass for a link, a heading or a command in the text.
func Prose(md string) []string {
	lines := strings.Split(md, "\n")
	in := false
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			in = !in
			lines[i] = ""
		} else if in {
			lines[i] = ""
		}
	}
	return lines
}

// OneBlock returns the text of the one fenced block of lang in the
// Markdown file at path; a file with none, or with more than one, fails
// the test.
func OneBlock(tb testing.TB, path, lang string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var found []Block
	for _, blk := range Blocks(string(b)) {
		if blk.Lang == lang {
			found = append(found, blk)
		}
	}
	if len(found) != 1 {
		tb.Fatalf("%s: %d ```%s blocks, want 1", path, len(found), lang)
	}
	return found[0].Text()
}

// Fill replaces, in a doc's block, each old string of pairs (old, new,
// old, new, …) by its new value; a block that no longer has one fails the
// test (the docs drifted).
func Fill(tb testing.TB, text string, pairs ...string) string {
	tb.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(text, pairs[i]) {
			tb.Fatalf("the docs' block has no %q any more: update the test with the docs", pairs[i])
		}
		text = strings.ReplaceAll(text, pairs[i], pairs[i+1])
	}
	return text
}
