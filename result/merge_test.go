package result

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// notMerged are the leaves no Merge method reaches, each for a reason; a
// counter added to a merged type without a merge rule is not here, and
// the tests below name it.
var notMerged = map[string]string{
	// The whole-run header, histograms and the sections report.Merge
	// aligns on the shards' clocks (timeline, phases, faults: their own
	// Merge methods, tested below) or rebuilds (targets, notes).
	"SchemaVersion": "written by Finalize", "Tool": "the first shard's", "Scenario": "the first shard's (checked equal)",
	"StartedAt": "the earliest, set by report.Merge", "DurationS": "the merged span, set by report.Merge",
	"Verdict": "re-judged", "Interrupted": "set by report.Merge", "Aborted": "set by report.Merge",
	"ExitCode": "set by report.Merge",
	"Targets":  "re-judged", "HDR": "merged exactly by report.Merge", "Timeline": "TimelineRow.Merge",
	"Phases": "PhaseReport.Merge", "Faults": "FaultReport.Merge", "Notes": "report.Merge's own",
	"Shard": "a merged report is no shard", "MergedFrom": "set by report.Merge",
	"Latency":    "recomputed from the merged histograms (CombineHDR)",
	"Client":     "each machine's own tool; not merged",
	"Prediction": "a single run's", "Repeat": "a single machine's repeated runs",
	// Rates recomputed from merged counts by Finalize.
	"Cache.HitRate": "recomputed", "Cache.AnsweredHitRate": "recomputed",
	"Cache.ByTier[k].HitRate": "recomputed", "Cache.ByTier[k].AnsweredHitRate": "recomputed",
	"Cache.ByFamily[k].HitRate": "recomputed", "Cache.ByFamily[k].AnsweredHitRate": "recomputed",
	"Server.HitRate": "recomputed", "Users.OpsPerSec": "recomputed over the merged recorded seconds",
	"Pool.Config":         "the first shard's, set by report.Merge",
	"Pool.CommandLatency": "recomputed from the merged histograms",
	"Origin[k].Latency":   "recomputed from the merged histogram (or the worst shard's without one)",
}

// TestMergeReachesEveryCounter fails when a field of a merged section
// (a counter, a gauge, a map of them) is changed by no merge rule: a new
// counter that compiles but is silently dropped from merged shard reports.
func TestMergeReachesEveryCounter(t *testing.T) {
	checkReached(t, func(dst, src *Result) { dst.MergeCounters(src) }, notMerged)
}

func TestTimelineRowMergeReachesEveryField(t *testing.T) {
	checkReached(t, func(dst, src *TimelineRow) { dst.Merge(*src) }, map[string]string{
		"T": "aligned by report.Merge", "Phase": "the first shard's", "Fault": "joined by report.Merge",
		"HitRate": "recomputed",
	})
}

func TestPhaseMergeReachesEveryField(t *testing.T) {
	checkReached(t, func(dst, src *PhaseReport) { dst.Merge(*src) }, map[string]string{
		"Name": "matched by report.Merge", "HitRate": "recomputed",
	})
}

func TestFaultMergeReachesEveryField(t *testing.T) {
	checkReached(t, func(dst, src *FaultReport) { dst.Merge(*src) }, map[string]string{
		"Kind": "matched", "Node": "matched", "Params": "the first shard's", "Occurrence": "the first shard's",
		"WriteCheck": "the first shard's (the one that ran the fault's check)", "Control": "the first shard's",
		"Warming": "the first shard's",
	})
}

// checkReached merges filled values into zero and filled ones (dst 0 ←
// src 7, 9 ← 7, 7 ← 9: sums and maxima, minima, "nil wins" and "earliest"
// each change dst in one of them) and fails for every leaf of T that no
// run changed and that exempt does not name (a path names its subtree).
func checkReached[T any](t *testing.T, merge func(dst, src *T), exempt map[string]string) {
	t.Helper()
	reached := map[string]bool{}
	var all []string
	for _, run := range []struct{ dst, src int }{{0, 7}, {9, 7}, {7, 9}} {
		var dst, src T
		if run.dst != 0 {
			fill(reflect.ValueOf(&dst).Elem(), run.dst)
		}
		fill(reflect.ValueOf(&src).Elem(), run.src)
		before := leaves(reflect.ValueOf(&dst).Elem())
		merge(&dst, &src)
		after := leaves(reflect.ValueOf(&dst).Elem())
		if all == nil {
			all = sortedKeys(leaves(reflect.ValueOf(&src).Elem()))
		}
		for p, v := range after {
			if before[p] != v {
				reached[p] = true
			}
		}
	}
	var missed []string
	for _, p := range all {
		if !reached[p] && !isExempt(p, exempt) {
			missed = append(missed, p)
		}
	}
	if len(missed) > 0 {
		var zero T
		t.Errorf("%T: no merge rule reaches %s (add one in merge.go, or name it with its reason in the test's exemptions)",
			zero, strings.Join(missed, ", "))
	}
	for p := range exempt {
		if !slicesHasPrefix(all, p) {
			t.Errorf("exemption %q names no field", p)
		}
	}
}

func isExempt(path string, exempt map[string]string) bool {
	for p := range exempt {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}

func slicesHasPrefix(paths []string, p string) bool {
	for _, x := range paths {
		if x == p || strings.HasPrefix(x, p+".") || strings.HasPrefix(x, p+"[") {
			return true
		}
	}
	return false
}

var timeType = reflect.TypeOf(time.Time{})

// fill sets every leaf of v to n (strings to "sn", bools true), maps and
// slices to one element, pointers to a filled value.
func fill(v reflect.Value, n int) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Unix(int64(n), 0)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), n)
		v.Set(p)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		k.SetString("k")
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), n)
		v.Set(s)
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), n)
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(n))
	case reflect.Uint64, reflect.Uint32, reflect.Uint:
		v.SetUint(uint64(n))
	case reflect.Float64:
		v.SetFloat(float64(n))
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Interface:
		v.Set(reflect.ValueOf(n))
	}
}

// leaves maps every leaf's path ("Cache.ByTier[k].Hits") to its value as
// text; a nil pointer, map or slice counts as its zero leaves.
func leaves(v reflect.Value) map[string]string {
	out := map[string]string{}
	walk(v, "", out)
	return out
}

func walk(v reflect.Value, path string, out map[string]string) {
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			out[path] = fmt.Sprint(v.Interface())
			return
		}
		for i := 0; i < v.NumField(); i++ {
			switch f := v.Type().Field(i); {
			case f.Anonymous:
				walk(v.Field(i), path, out) // promoted, as JSON writes them
			case f.IsExported():
				walk(v.Field(i), join(f.Name), out)
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			walk(reflect.New(v.Type().Elem()).Elem(), path, out)
			out[path+"<nil>"] = "nil"
			return
		}
		walk(v.Elem(), path, out)
	case reflect.Map:
		if v.Len() == 0 {
			walk(reflect.New(v.Type().Elem()).Elem(), path+"[k]", out)
			return
		}
		for _, k := range v.MapKeys() {
			walk(v.MapIndex(k), path+"["+k.String()+"]", out)
		}
	case reflect.Slice, reflect.Array:
		if v.Len() == 0 {
			if v.Kind() == reflect.Slice {
				walk(reflect.New(v.Type().Elem()).Elem(), path+"[0]", out)
			}
			return
		}
		for i := 0; i < v.Len(); i++ {
			walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	default:
		out[path] = fmt.Sprint(v.Interface())
	}
}

// TestMergeFollowsTheTable checks every metric of the table whose Combine
// is a sum or a maximum against what merging two shards does to it.
func TestMergeFollowsTheTable(t *testing.T) {
	var a, b, m Result
	fill(reflect.ValueOf(&a).Elem(), 7)
	fill(reflect.ValueOf(&b).Elem(), 9)
	m.MergeCounters(&a)
	m.MergeCounters(&b)
	checked := 0
	for _, x := range Metrics() {
		var want float64
		switch x.Combine {
		case CombineSum:
			want = x.Value(&a) + x.Value(&b)
		case CombineMax:
			want = max(x.Value(&a), x.Value(&b))
		default:
			continue // recomputed from merged parts, histograms or faults
		}
		checked++
		if got := x.Value(&m); got != want || want == 0 {
			t.Errorf("%s (%s): merged %v, want %v", x.Name, x.Combine, got, want)
		}
	}
	if checked < 10 {
		t.Errorf("only %d metrics checked", checked)
	}
}
