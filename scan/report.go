package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/forgeproof/forgeproof/internal/printable"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// TextOptions tune WriteText.
type TextOptions struct {
	// Color uses ANSI colours for severities: set it only when the output
	// is a terminal.
	Color bool
}

var severityColor = map[Severity]string{
	SeverityCritical: "\x1b[1;35m",
	SeverityHigh:     "\x1b[1;31m",
	SeverityMedium:   "\x1b[33m",
	SeverityLow:      "\x1b[36m",
	SeverityInfo:     "\x1b[2m",
}

// WriteText writes the report for people.
//
// It goes to a terminal, and much of it is the service's (URLs, cookie
// names and attributes, Location headers, notes that quote errors): a
// field that holds control characters, bytes that are not UTF-8 or
// bidirectional formatting characters is written quoted, as %q would
// (internal/printable), so that no service can clear the screen, plant a
// hyperlink or make a line read otherwise than it is.
func WriteText(w io.Writer, r *Report, opts TextOptions) error {
	q := printable.Quote
	var b strings.Builder
	fmt.Fprintf(&b, "forgeproof scan of %s\n", q(r.Target))
	assessed := 0
	for _, e := range r.Endpoints {
		if e.Assessed {
			assessed++
		}
	}
	fmt.Fprintf(&b, "%s (%d assessed), %s, %s\n\n", plural(len(r.Endpoints), "endpoint"), assessed, plural(r.Requests, "request"), r.Duration.Round(1e6))
	if fw := r.Framework; fw != nil {
		fmt.Fprintf(&b, "framework: %s (%s); fixes are written for it\n\n", q(string(fw.Name)), q(fw.Evidence))
	}
	for _, e := range r.Endpoints {
		state := "assessed by " + oracleText(e.Oracle)
		if !e.Assessed {
			state = "NOT assessed"
		}
		fmt.Fprintf(&b, "  %-6s %s  [%s, %s]\n", q(e.Method), q(e.URL), q(e.Source), state)
		if e.Verification != "" {
			fmt.Fprintf(&b, "         verification (discovered): %s\n", q(e.Verification))
		}
		if e.Note != "" {
			fmt.Fprintf(&b, "         note: %s\n", q(e.Note))
		}
		if e.Assessed { // else the note says why nothing was sent
			writeFamilies(&b, e.Families)
		}
	}
	if len(r.Findings) == 0 {
		b.WriteString("\nNo findings.\n")
	} else {
		fmt.Fprintf(&b, "\n%s:\n", plural(len(r.Findings), "finding"))
	}
	for _, f := range r.Findings {
		sev := strings.ToUpper(f.Severity.String())
		if opts.Color {
			sev = severityColor[f.Severity] + sev + "\x1b[0m"
		}
		loc := q(f.URL)
		if f.Method != "" {
			loc = q(f.Method) + " " + q(f.URL)
		}
		if f.Cookie != "" {
			loc = "cookie " + q(f.Cookie) + " (set by " + q(f.URL) + ")"
		}
		fmt.Fprintf(&b, "\n%s [%s] %s\n", sev, q(f.Rule), q(f.Title))
		fmt.Fprintf(&b, "  at:         %s\n", loc)
		fmt.Fprintf(&b, "  confidence: %s (%s)\n", f.Confidence, oracleText(f.Oracle))
		if f.Probe != "" {
			fmt.Fprintf(&b, "  probe:      %s\n", q(f.Probe))
		}
		fmt.Fprintf(&b, "  evidence:   %s\n", q(f.Evidence))
		if f.Reproduce != "" {
			fmt.Fprintf(&b, "  reproduce:  %s\n", q(f.Reproduce))
		}
		if f.Fix != "" {
			fmt.Fprintf(&b, "  fix:        %s\n", q(f.Fix))
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", q(n))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeFamilies lists the skipped and inconclusive families, those with
// the same outcome and reason on one line.
func writeFamilies(b *strings.Builder, fs []FamilyResult) {
	type key struct {
		o Outcome
		r string
	}
	var order []key
	rules := map[key][]string{}
	for _, f := range fs {
		if f.Outcome != OutcomeSkipped && f.Outcome != OutcomeInconclusive {
			continue
		}
		k := key{f.Outcome, f.Reason}
		if _, ok := rules[k]; !ok {
			order = append(order, k)
		}
		rules[k] = append(rules[k], f.Rule)
	}
	for _, k := range order {
		fmt.Fprintf(b, "         %s %s: %s\n", k.o, printable.Quote(strings.Join(rules[k], ", ")), printable.Quote(k.r))
	}
}

// oracleText is how the text report names an oracle.
func oracleText(o Oracle) string {
	if o == OracleDiscovered {
		return "verification (discovered)"
	}
	return string(o)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
