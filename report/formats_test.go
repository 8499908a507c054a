package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
)

// The table of document × format: every document has its folder's report.JSON
// and report.HTML and the console's text; a run and a capacity search also report.JUnit
// and report.Markdown; a format a document lacks is refused before anything is
// written, by name.
func TestDocumentFormats(t *testing.T) {
	for _, tc := range []struct {
		name string
		has  []report.Format
		got  []report.Format
	}{
		{"run", []report.Format{report.JSON, report.HTML, report.Text, report.JUnit, report.Markdown}, report.RunReport.Formats()},
		{"capacity", []report.Format{report.JSON, report.HTML, report.Text, report.JUnit, report.Markdown}, report.CapacityReport.Formats()},
		{"sizing", []report.Format{report.JSON, report.HTML, report.Text}, report.SizingReport.Formats()},
	} {
		if len(tc.got) != len(tc.has) {
			t.Errorf("%s has %v, want %v", tc.name, tc.got, tc.has)
		}
	}
	dir := t.TempDir()
	z := &result.Sizing{Scenario: result.ScenarioInfo{Name: "s"}}
	files, err := report.SizingReport.WriteAll(z, report.Outputs{Dir: dir})
	if err != nil || len(files) != 2 || filepath.Base(files[0]) != "sizing.json" || filepath.Base(files[1]) != "sizing.html" {
		t.Fatalf("sizing files %v, %v", files, err)
	}
	junit := filepath.Join(dir, "junit.xml")
	if _, err := report.SizingReport.WriteAll(z, report.Outputs{Dir: dir, JUnit: junit}); err == nil || !strings.Contains(err.Error(), "no junit rendering") {
		t.Errorf("sizing --junit: %v", err)
	}
	if _, err := os.Stat(junit); err == nil {
		t.Error("a refused format left a file")
	}
	var b bytes.Buffer
	if err := report.SizingReport.Write(&b, report.Markdown, z); err == nil {
		t.Error("SizingReport.Write(Markdown) did not fail")
	}
	if err := report.CapacityReport.Write(&b, report.Text, nil); err == nil {
		t.Error("a nil capacity was rendered")
	}
	if _, err := report.RunReport.WriteAll(nil, report.Outputs{Dir: dir}); err == nil || !strings.Contains(err.Error(), "nil result") {
		t.Errorf("nil run: %v", err)
	}
}
