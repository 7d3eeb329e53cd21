package mdtest_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/mdtest"
)

const page = "# Title\n" +
	"See [a](a.md).\n" +
	"```yaml\n" +
	"listeners: []\n" +
	"```\n" +
	"- a step:\n" +
	"\n" +
	"  ```sh\n" +
	"  forgeproof serve \\\n" +
	"    --config x.yaml\n" +
	"  ```\n" +
	"```\n" +
	"[not a link](b.md)\n" +
	"```\n" +
	"end"

func TestBlocks(t *testing.T) {
	got := mdtest.Blocks(page)
	want := []mdtest.Block{
		{Lang: "yaml", Line: 3, Lines: []string{"listeners: []"}},
		{Lang: "sh", Line: 8, Lines: []string{"forgeproof serve \\", "  --config x.yaml"}},
		{Lang: "", Line: 12, Lines: []string{"[not a link](b.md)"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	lines := strings.Split(page, "\n")
	for _, b := range got {
		for k, l := range b.Lines {
			if !strings.HasSuffix(lines[b.Line+k], l) {
				t.Errorf("block at line %d: Lines[%d] = %q, but line %d is %q", b.Line, k, l, b.Line+1+k, lines[b.Line+k])
			}
		}
	}
	if got := mdtest.Blocks("```go\nunclosed"); len(got) != 1 || got[0].Text() != "unclosed" {
		t.Errorf("an unclosed block: got %#v, want its one line", got)
	}
}

func TestProse(t *testing.T) {
	got := mdtest.Prose(page)
	want := []string{"# Title", "See [a](a.md).", "", "", "", "- a step:", "", "", "", "", "", "", "", "", "end"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDocs(t *testing.T) {
	docs := mdtest.Docs(t, "../..", "BENCHMARKS.md")
	paths := map[string]bool{}
	for _, d := range docs {
		paths[d.Path] = true
		if d.Text == "" {
			t.Errorf("%s: empty", d.Path)
		}
	}
	for _, p := range []string{"README.md", "docs/gateway.md", "docs/integrations/nginx.md", "BENCHMARKS.md"} {
		if !paths[p] {
			t.Errorf("Docs does not return %s (got %d files)", p, len(docs))
		}
	}
	if docs[0].Path != "README.md" || docs[len(docs)-1].Path != "BENCHMARKS.md" {
		t.Errorf("got %s first and %s last, want README.md and the extra file", docs[0].Path, docs[len(docs)-1].Path)
	}
}
