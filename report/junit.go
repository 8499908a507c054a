package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// JUnit XML, the dialect Jenkins, GitLab and GitHub test reporters read: one
// test suite per run, one test case per target.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out,omitempty"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes JUnit XML with one test case per target. A failed case's
// message is the expression and the observed value ("latency_p99 < 5ms:
// observed 7.2ms"), which is what CI shows in its test summary. An
// inconclusive target is a failure of type "inconclusive" whose text is
// the evidence: a gate that cannot tell is not a pass. A repeated run's
// mode, runs and stop reason are suite properties.
func WriteJUnit(w io.Writer, r *result.Result) error {
	name := "cacheproof." + nameOr(r.Scenario.Name)
	secs := fmt.Sprintf("%.3f", r.DurationS)
	s := junitSuite{Name: name, Time: secs, Tests: len(r.Targets)}
	if !r.StartedAt.IsZero() {
		s.Timestamp = r.StartedAt.UTC().Format("2006-01-02T15:04:05")
	}
	s.Properties = []junitProperty{
		{"verdict", r.Verdict},
		{"schema_version", r.SchemaVersion},
		{"interrupted", fmt.Sprint(r.Interrupted)},
		{"requests", fmt.Sprint(r.Users.Requests)},
	}
	if r.Shard != "" {
		s.Properties = append(s.Properties, junitProperty{"shard", r.Shard})
	}
	if _, undecided := verdictCounts(r.Targets); undecided > 0 {
		s.Properties = append(s.Properties, junitProperty{"targets_inconclusive", fmt.Sprint(undecided)})
	}
	if rep := r.Repeat; rep != nil {
		s.Properties = append(s.Properties,
			junitProperty{"repeat_mode", rep.Mode},
			junitProperty{"repeat_runs", fmt.Sprint(len(rep.Runs))},
			junitProperty{"repeat_max_runs", fmt.Sprint(rep.MaxRuns)},
			junitProperty{"repeat_stop_reason", rep.StopReason},
			junitProperty{"repeat_representative", fmt.Sprint(rep.Representative)},
			junitProperty{"repeat_run_verdicts", runVerdicts(rep)})
		if rep.BudgetS > 0 {
			s.Properties = append(s.Properties, junitProperty{"repeat_budget_s", formatNum(round(rep.BudgetS, 3))})
		}
	}
	for _, t := range r.Targets {
		c := junitCase{Name: t.Name + " " + t.Expr, Classname: name, Time: secs,
			SystemOut: strings.Join(targetFacts(t), "\n")}
		switch t.Outcome() {
		case result.VerdictFail:
			s.Failures++
			msg := fmt.Sprintf("%s %s: observed %s", t.Name, t.Expr, t.ObservedText)
			c.Failure = &junitFailure{Message: msg, Type: "TargetMissed", Text: strings.Join(append([]string{msg}, targetFacts(t)[1:]...), "\n")}
		case result.VerdictInconclusive:
			// Undecided is not a pass: CI must not go green on it, so it is
			// a failure, of its own type, with the evidence as its text.
			s.Failures++
			msg := fmt.Sprintf("%s %s: inconclusive, observed %s", t.Name, t.Expr, t.ObservedText)
			if iv := intervalText(t); iv != "" {
				msg += " " + iv
			}
			c.Failure = &junitFailure{Message: msg, Type: result.VerdictInconclusive, Text: strings.Join(append([]string{msg}, targetFacts(t)[1:]...), "\n")}
		}
		s.Cases = append(s.Cases, c)
	}
	if r.Interrupted {
		// An interrupted run is not a verdict on the cache: report it as an
		// error so CI does not mistake partial figures for a pass.
		s.Errors++
		s.Tests++
		s.Cases = append(s.Cases, junitCase{Name: "run completed", Classname: name, Time: secs,
			Failure: &junitFailure{Message: "run interrupted: results are partial", Type: "Interrupted"}})
	}
	var sum strings.Builder
	if err := WriteText(&sum, r); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	s.SystemOut = sum.String()
	doc := junitSuites{Name: "cacheproof", Tests: s.Tests, Failures: s.Failures + s.Errors, Time: secs, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit report: %w", err)
	}
	return nil
}

// targetFacts are a target's lines for its test case output: the observed
// value with its interval, each run's value, the detail and the evidence.
func targetFacts(t result.TargetResult) []string {
	obs := "observed " + t.ObservedText
	if iv := intervalText(t); iv != "" {
		obs += " " + iv
	}
	facts := []string{obs}
	if t.Interval != nil && t.Interval.Method != "" {
		facts = append(facts, "interval: "+t.Interval.Method)
	}
	if v := runsValues(t); v != "" {
		facts = append(facts, "runs: "+v)
	}
	if t.Detail != "" {
		facts = append(facts, t.Detail)
	}
	if t.Evidence != "" {
		facts = append(facts, "why: "+t.Evidence)
	}
	return facts
}
