package scan

import (
	"fmt"
	"strings"
	"time"
)

// Severity ranks a finding. The zero value is SeverityInfo.
type Severity int

// Severities, lowest first: the order AtLeast and --fail-on compare in.
const (
	SeverityInfo Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns the severity's name ("info", …, "critical"), or
// "severity(n)" for a value that is none of the constants.
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity parses a severity name (info, low, medium, high, critical).
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(s, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("invalid severity %q: want one of %s", s, strings.Join(severityNames[:], ", "))
}

// MarshalText encodes the severity by name, as String does (it never
// fails, even for a value out of range).
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Confidence says how a finding was established.
type Confidence string

const (
	// Confirmed: the state change was observed through the verification
	// request, or the finding is a property of a response header or cookie
	// that was observed directly.
	Confirmed Confidence = "confirmed"
	// Inferred: the forged request got the same answer as a legitimate
	// one (status, redirect target and a similar body), but no state
	// change was observed because no verification request was configured
	// or it did not react to the legitimate request either.
	Inferred Confidence = "inferred"
)

// Oracle names what decided a probe's outcome.
type Oracle string

const (
	OracleVerification Oracle = "verification" // the user's verification request changed
	// OracleDiscovered: a value the scanner found on its own (on a start
	// page or a same-origin JSON GET) changed with the legitimate request
	// and not with a harmless reload, and judged the probes as the
	// verification request does. Shown as "verification (discovered)".
	OracleDiscovered Oracle = "verification-discovered"
	OracleBaseline   Oracle = "baseline" // compared with the legitimate baseline response
	OracleObserved   Oracle = "observed" // a header or cookie attribute seen directly
)

// A Finding is one issue on one endpoint (or one cookie, or one URL for
// CORS): the scanner reports each rule at most once per location.
type Finding struct {
	Rule       string     `json:"rule"`
	Title      string     `json:"title"`
	Severity   Severity   `json:"severity"`
	Confidence Confidence `json:"confidence"`
	Oracle     Oracle     `json:"oracle"`
	// Method and URL locate the finding; for a cookie, URL is the page
	// that set it and Cookie names it.
	Method string `json:"method,omitempty"`
	URL    string `json:"url"`
	Cookie string `json:"cookie,omitempty"`
	// Probe names the request variant that succeeded (for example
	// "cross-site form POST, multipart").
	Probe string `json:"probe,omitempty"`
	// Evidence explains what was seen, in one or two sentences.
	Evidence string `json:"evidence"`
	// Reproduce is a curl command that sends the same request, with the
	// certificate flags and with secrets (cookie values, tokens,
	// passwords) replaced by REDACTED.
	Reproduce string `json:"reproduce,omitempty"`
	// Fix says what to change, for the framework the scan recognised
	// (Report.Framework) when it did: see Advice.
	Fix string `json:"fix,omitempty"`
}

// Outcome says what became of one probe family on one endpoint.
type Outcome string

const (
	OutcomeFound        Outcome = "found"        // a probe was accepted: a finding
	OutcomeRefused      Outcome = "refused"      // every probe was refused
	OutcomeSkipped      Outcome = "skipped"      // not sent; Reason says why
	OutcomeInconclusive Outcome = "inconclusive" // sent, but the answers prove nothing either way; Reason says why
)

// A FamilyResult is the outcome of one rule's probes on one endpoint.
// Its JSON name is "family", not "rule", so that a search of a report for
// a finding's "rule" never matches a family that was merely tested.
type FamilyResult struct {
	Rule    string  `json:"family"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
}

// EndpointResult says whether an endpoint could be assessed.
type EndpointResult struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Source is "flag", "file", "discovered" (forms and WebSockets in
	// the crawled pages) or "browser" (requests and WebSockets a page's
	// scripts sent in Config.Browser).
	Source string `json:"source"`
	// Assessed is false when the legitimate baseline request was refused
	// or failed, so no forgery could be judged; Note says why.
	Assessed bool   `json:"assessed"`
	Oracle   Oracle `json:"oracle,omitempty"`
	// Verification names the value that judged the probes when Oracle is
	// OracleDiscovered (for example "GET https://…/api/groups /count").
	Verification string `json:"verification,omitempty"`
	Note         string `json:"note,omitempty"`
	// Families lists every probe family of the endpoint with its outcome:
	// those skipped or inconclusive say why.
	Families []FamilyResult `json:"families,omitempty"`
}

// A Report is the outcome of a scan.
type Report struct {
	Target    string           `json:"target"`      // the target URL
	Started   time.Time        `json:"started"`     // when the scan began
	Duration  time.Duration    `json:"duration_ns"` // how long it ran
	Requests  int              `json:"requests"`    // requests sent to the target
	Endpoints []EndpointResult `json:"endpoints"`   // every endpoint, assessed or not
	Findings  []Finding        `json:"findings"`
	// Framework is the server framework recognised from the responses
	// (nil if none), which Finding.Fix is written for.
	Framework *FrameworkHint `json:"framework,omitempty"`
	// Notes are things the operator should know that are not findings
	// (a probe that could not run, a discovered form that was skipped).
	Notes []string `json:"notes,omitempty"`
}

// AtLeast counts the findings of severity s or higher.
func (r *Report) AtLeast(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity >= s {
			n++
		}
	}
	return n
}
