package scan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
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
func WriteText(w io.Writer, r *Report, opts TextOptions) error {
	var b strings.Builder
	fmt.Fprintf(&b, "forgeproof scan of %s\n", r.Target)
	assessed := 0
	for _, e := range r.Endpoints {
		if e.Assessed {
			assessed++
		}
	}
	fmt.Fprintf(&b, "%s (%d assessed), %s, %s\n\n", plural(len(r.Endpoints), "endpoint"), assessed, plural(r.Requests, "request"), r.Duration.Round(1e6))
	if fw := r.Framework; fw != nil {
		fmt.Fprintf(&b, "framework: %s (%s); fixes are written for it\n\n", fw.Name, fw.Evidence)
	}
	for _, e := range r.Endpoints {
		state := "assessed by " + oracleText(e.Oracle)
		if !e.Assessed {
			state = "NOT assessed"
		}
		fmt.Fprintf(&b, "  %-6s %s  [%s, %s]\n", e.Method, e.URL, e.Source, state)
		if e.Verification != "" {
			fmt.Fprintf(&b, "         verification (discovered): %s\n", e.Verification)
		}
		if e.Note != "" {
			fmt.Fprintf(&b, "         note: %s\n", e.Note)
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
		loc := f.URL
		if f.Method != "" {
			loc = f.Method + " " + f.URL
		}
		if f.Cookie != "" {
			loc = "cookie " + f.Cookie + " (set by " + f.URL + ")"
		}
		fmt.Fprintf(&b, "\n%s [%s] %s\n", sev, f.Rule, f.Title)
		fmt.Fprintf(&b, "  at:         %s\n", loc)
		fmt.Fprintf(&b, "  confidence: %s (%s)\n", f.Confidence, oracleText(f.Oracle))
		if f.Probe != "" {
			fmt.Fprintf(&b, "  probe:      %s\n", f.Probe)
		}
		fmt.Fprintf(&b, "  evidence:   %s\n", f.Evidence)
		if f.Reproduce != "" {
			fmt.Fprintf(&b, "  reproduce:  %s\n", f.Reproduce)
		}
		if f.Fix != "" {
			fmt.Fprintf(&b, "  fix:        %s\n", f.Fix)
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
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
		fmt.Fprintf(b, "         %s %s: %s\n", k.o, strings.Join(rules[k], ", "), k.r)
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
