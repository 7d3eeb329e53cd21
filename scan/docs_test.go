package scan_test

import (
	"os"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// TestRulesDocumented keeps docs/scanner.md's rule table in step with
// scan.Rules: every rule has a row (its ID in backquotes at the start of
// a table row), with its severity.
func TestRulesDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/scanner.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // rule ID → its table row
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cell, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " |")
		for _, id := range strings.Split(cell, ", ") {
			rows[strings.Trim(id, "`")] = line
		}
	}
	for _, r := range scan.Rules {
		row, ok := rows[r.ID]
		if !ok {
			t.Errorf("rule %s has no row in docs/scanner.md", r.ID)
			continue
		}
		if !strings.Contains(row, strings.ToLower(r.Severity.String())) {
			t.Errorf("rule %s: row %q does not give its severity %s", r.ID, row, r.Severity)
		}
	}
}
