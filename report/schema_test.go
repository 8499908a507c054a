package report_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/report"
	"github.com/cacheproof/cacheproof/report/reporttest"
	"github.com/cacheproof/cacheproof/result"
)

// TestEveryWrittenReportValidates writes the kinds of report the tool
// produces (a full run, a run without faults, an interrupted near-empty run,
// a merge of shards, a re-read fixture) through WriteJSON and WriteAll and
// validates each against docs/report.schema.json.
func TestEveryWrittenReportValidates(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	a := reporttest.Sample(reporttest.Options{Seconds: 30, Shard: "1/2", StartedAt: t0})
	b := reporttest.Sample(reporttest.Options{Seconds: 30, Shard: "2/2", Seed: 3, StartedAt: t0.Add(time.Second)})
	merged, err := report.Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	empty := &result.Result{Scenario: result.ScenarioInfo{Name: "smoke"}, StartedAt: t0, Interrupted: true, ExitCode: 130}
	empty.Finalize(result.LoadTargets(result.DefaultTargets()))
	never := reporttest.Sample(reporttest.Options{Seconds: 30})
	never.Faults[0].RecoveredAfterS, never.Faults[0].FirstErrorAfterS = nil, nil
	cases := map[string]*result.Result{
		"sample":    reporttest.Sample(reporttest.Options{Seconds: 30}),
		"no-faults": reporttest.Sample(reporttest.Options{Seconds: 30, NoFaults: true}),
		"merged":    merged,
		"empty":     empty,
		"never":     never,
		"fixture":   fixture(t),
		// Schema 1.2: verdicts, intervals and per-window latency in a
		// single run; a repeated run with runs and repeat.
		"windows": reporttest.Sample(reporttest.Options{Seconds: 30, NoFaults: true, WindowHists: true, HostLateFraction: 0.01}),
		"repeat":  repeatFixture(t),
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := report.WriteJSON(&buf, r); err != nil {
				t.Fatal(err)
			}
			if err := reporttest.ValidateJSON(buf.Bytes()); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if _, err := report.WriteAll(r, report.Outputs{Dir: dir}); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := reporttest.ValidateJSON(data); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSchemaRejectsBrokenReports(t *testing.T) {
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, reporttest.Sample(reporttest.Options{Seconds: 10})); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	for name, bad := range map[string]string{
		"verdict":  strings.Replace(good, `"verdict": "fail"`, `"verdict": "maybe"`, 1),
		"hit_rate": strings.Replace(good, `"hit_rate": 0.`, `"hit_rate": 1.`, 1),
		"missing":  strings.Replace(good, `"schema_version": "`+result.SchemaVersion+`",`, ``, 1),
	} {
		if bad == good {
			t.Fatalf("%s: replacement did not apply", name)
		}
		if err := reporttest.ValidateJSON([]byte(bad)); err == nil {
			t.Errorf("%s: broken report validated", name)
		}
	}
}

// TestSchemaDocumentsEveryField walks written reports beside
// docs/report.schema.json: every field of an object whose schema lists its
// properties must be listed there, so a field added to the Result is
// documented in the schema that consumers read, not only in Go.
func TestSchemaDocumentsEveryField(t *testing.T) {
	data, err := os.ReadFile(reporttest.SchemaPath())
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	full := reporttest.Sample(reporttest.Options{Seconds: 30})
	full.Server.LatencyStats = map[string]result.ServerLatency{"get": {Calls: 10, P50: 0.01, P99: 0.02, P999: 0.03}}
	full.Shard, full.MergedFrom = "0/2", 2
	for name, r := range map[string]*result.Result{"sample": full, "fixture": fixture(t)} {
		var buf bytes.Buffer
		if err := report.WriteJSON(&buf, r); err != nil {
			t.Fatal(err)
		}
		var inst any
		if err := json.Unmarshal(buf.Bytes(), &inst); err != nil {
			t.Fatal(err)
		}
		undocumented := map[string]bool{}
		walkSchema(schema, schema, inst, "$", undocumented)
		if len(undocumented) > 0 {
			paths := make([]string, 0, len(undocumented))
			for p := range undocumented {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			t.Errorf("%s: fields not in docs/report.schema.json: %s", name, strings.Join(paths, ", "))
		}
	}
}

// walkSchema follows $ref, properties, additionalProperties and items, and
// collects instance fields missing from an object schema's properties.
func walkSchema(root, node map[string]any, inst any, path string, missing map[string]bool) {
	if ref, ok := node["$ref"].(string); ok {
		def := strings.TrimPrefix(ref, "#/$defs/")
		node = root["$defs"].(map[string]any)[def].(map[string]any)
	}
	switch v := inst.(type) {
	case map[string]any:
		props, hasProps := node["properties"].(map[string]any)
		extra, hasExtra := node["additionalProperties"].(map[string]any)
		for k, child := range v {
			switch {
			case hasProps && props[k] != nil:
				walkSchema(root, props[k].(map[string]any), child, path+"."+k, missing)
			case hasExtra:
				walkSchema(root, extra, child, path+"."+k, missing)
			case hasProps:
				missing[path+"."+k] = true
			}
		}
	case []any:
		if items, ok := node["items"].(map[string]any); ok {
			for _, child := range v {
				walkSchema(root, items, child, path+"[]", missing)
			}
		}
	}
}
