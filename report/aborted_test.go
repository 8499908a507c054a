package report_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/result"
)

// A run stopped by a target's abort rule says so, with the reason, in the
// text and Markdown reports, and keeps it through JSON.
func TestAbortedRunIsShown(t *testing.T) {
	r := &result.Result{SchemaVersion: result.SchemaVersion, Aborted: &result.AbortReport{Target: "error_rate", Expr: "< 1%", AtS: 42, Reason: "error_rate is 20% so far"}}
	for name, write := range map[string]func(io.Writer, *result.Result) error{"text": report.WriteText, "markdown": report.WriteMarkdown} {
		var b bytes.Buffer
		if err := write(&b, r); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "at 42s: target") || !strings.Contains(b.String(), "error_rate is 20% so far") {
			t.Errorf("%s report does not show the abort:\n%s", name, b.String())
		}
	}
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	back, err := report.ReadJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	if back.Aborted == nil || *back.Aborted != *r.Aborted {
		t.Errorf("through JSON: %+v", back.Aborted)
	}
}
