package scan

import (
	"encoding/json"
	"fmt"
	"io"
)

// SARIF 2.1.0 (OASIS). Only the parts the scanner fills are modelled.

const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string              `json:"id"`
	Name                 string              `json:"name"`
	ShortDescription     sarifText           `json:"shortDescription"`
	FullDescription      sarifText           `json:"fullDescription"`
	Help                 sarifText           `json:"help"`
	DefaultConfiguration sarifConfiguration  `json:"defaultConfiguration"`
	Properties           sarifRuleProperties `json:"properties"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifRuleProperties struct {
	SecuritySeverity string   `json:"security-severity"`
	Tags             []string `json:"tags"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	ToolExecutionNotifs []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Message        sarifText          `json:"message"`
	Level          string             `json:"level"`
	Locations      []sarifLocation    `json:"locations,omitempty"`
	AssociatedRule *sarifReportingRef `json:"associatedRule,omitempty"`
}

// sarifReportingRef is a reportingDescriptorReference (§3.52).
type sarifReportingRef struct {
	ID    string `json:"id"`
	Index int    `json:"index"`
}

type sarifResult struct {
	RuleID    string `json:"ruleId"`
	RuleIndex int    `json:"ruleIndex"`
	// Kind is "fail" (absent) for findings and "open" for a family whose
	// answers proved nothing either way (§3.27.9); Level is then "none".
	Kind       string            `json:"kind,omitempty"`
	Level      string            `json:"level"`
	Message    sarifText         `json:"message"`
	Locations  []sarifLocation   `json:"locations"`
	Properties sarifResultProps  `json:"properties"`
	Partial    map[string]string `json:"partialFingerprints"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifResultProps struct {
	Severity string `json:"severity"`
	// SecuritySeverity is left out of "open" results, so that readers
	// that ignore kind (GitHub code scanning does not document it) do
	// not score an inconclusive family as a vulnerability.
	SecuritySeverity string `json:"security-severity,omitempty"`
	Confidence       string `json:"confidence"`
	Oracle           string `json:"oracle"`
	Method           string `json:"method,omitempty"`
	Cookie           string `json:"cookie,omitempty"`
	Probe            string `json:"probe,omitempty"`
	Reproduce        string `json:"reproduce,omitempty"`
	Fix              string `json:"fix,omitempty"`
}

// securitySeverity is the CVSS-like score GitHub code scanning reads.
var securitySeverity = map[Severity]string{
	SeverityCritical: "9.5", SeverityHigh: "8.0", SeverityMedium: "5.5", SeverityLow: "3.0", SeverityInfo: "0.0",
}

func sarifLevel(s Severity) string {
	switch {
	case s >= SeverityHigh:
		return "error"
	case s == SeverityMedium:
		return "warning"
	}
	return "note"
}

// WriteSARIF writes the report as a SARIF 2.1.0 log: every rule with its
// help and generic fix, one result per finding with the URL as its
// location and the fix for the recognised framework in its message and
// properties. A probe family that was inconclusive on an endpoint is a
// result of kind "open" (evaluated, not enough information to conclude)
// and level "none"; a family that was skipped is a tool execution
// notification (level "note") naming the rule and the endpoint, as are
// the report's notes.
func WriteSARIF(w io.Writer, r *Report, toolVersion string) error {
	d := sarifDriver{Name: "forgeproof-scan", InformationURI: "https://github.com/forgeproof/forgeproof", Version: toolVersion}
	index := map[string]int{}
	for i, rule := range Rules {
		index[rule.ID] = i
		d.Rules = append(d.Rules, sarifRule{
			ID: rule.ID, Name: rule.ID,
			ShortDescription:     sarifText{rule.Title},
			FullDescription:      sarifText{rule.Help},
			Help:                 sarifText{rule.Help + " Fix: " + Advice(rule.ID, FrameworkUnknown)},
			DefaultConfiguration: sarifConfiguration{sarifLevel(rule.Severity)},
			Properties:           sarifRuleProperties{securitySeverity[rule.Severity], []string{"security", "csrf"}},
		})
	}
	run := sarifRun{Tool: sarifTool{d}, Results: []sarifResult{}}
	inv := sarifInvocation{ExecutionSuccessful: true}
	for _, n := range r.Notes {
		inv.ToolExecutionNotifs = append(inv.ToolExecutionNotifs, sarifNotification{Message: sarifText{n}, Level: "note"})
	}
	for _, e := range r.Endpoints {
		for _, f := range e.Families {
			i, known := index[f.Rule]
			if !known {
				continue
			}
			loc := []sarifLocation{{sarifPhysical{sarifArtifact{e.URL}}}}
			switch f.Outcome {
			case OutcomeSkipped:
				inv.ToolExecutionNotifs = append(inv.ToolExecutionNotifs, sarifNotification{
					Message: sarifText{fmt.Sprintf("%s not tested on %s %s: %s", f.Rule, e.Method, e.URL, f.Reason)},
					Level:   "note", Locations: loc, AssociatedRule: &sarifReportingRef{f.Rule, i},
				})
			case OutcomeInconclusive:
				run.Results = append(run.Results, sarifResult{
					RuleID: f.Rule, RuleIndex: i, Kind: "open", Level: "none",
					Message:   sarifText{fmt.Sprintf("%s inconclusive on %s %s: %s", f.Rule, e.Method, e.URL, f.Reason)},
					Locations: loc,
					Properties: sarifResultProps{
						Severity: Rules[i].Severity.String(), Confidence: "inconclusive", Oracle: string(e.Oracle), Method: e.Method,
					},
					Partial: map[string]string{"forgeproof/v1": f.Rule + " " + e.Method + " " + e.URL + " open"},
				})
			}
		}
	}
	run.Invocations = []sarifInvocation{inv}
	for _, f := range r.Findings {
		msg := f.Title + ": " + f.Evidence
		if f.Fix != "" {
			msg += " Fix: " + f.Fix
		}
		run.Results = append(run.Results, sarifResult{
			RuleID: f.Rule, RuleIndex: index[f.Rule], Level: sarifLevel(f.Severity),
			Message:   sarifText{msg},
			Locations: []sarifLocation{{sarifPhysical{sarifArtifact{f.URL}}}},
			Properties: sarifResultProps{
				Severity: f.Severity.String(), SecuritySeverity: securitySeverity[f.Severity],
				Confidence: string(f.Confidence), Oracle: string(f.Oracle),
				Method: f.Method, Cookie: f.Cookie, Probe: f.Probe, Reproduce: f.Reproduce, Fix: f.Fix,
			},
			Partial: map[string]string{"forgeproof/v1": f.Rule + " " + f.Method + " " + f.URL + " " + f.Cookie},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}})
}
