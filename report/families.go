package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// Key families everywhere tiers are: a cache whose own families all sit
// in one tier ("api") shows which of them fails only here. Every writer
// shows the busiest familyTopN families by traffic and says how many more
// there are; the verdict line names the families that break a target.

// familyTopN is how many families a summary shows, busiest first.
const familyTopN = 8

// familyFigures are one key family's lookups and, when the run recorded
// it, its operations' latency (Latency.Count 0 otherwise).
type familyFigures struct {
	Name    string
	C       result.CacheCounts
	Latency result.Summary
}

// traffic is what families are ranked by: the operations whose latency
// was recorded, or the lookups when the run recorded no latency per
// family.
func (f familyFigures) traffic() uint64 {
	if f.Latency.Count > 0 {
		return uint64(f.Latency.Count)
	}
	return f.C.Hits + f.C.Misses + f.C.LookupErrors
}

// lookups are the family's cache lookups.
func (f familyFigures) lookups() uint64 { return f.C.Hits + f.C.Misses + f.C.LookupErrors }

// families are r's key families, busiest first (ties by name).
func families(r *result.Result) []familyFigures {
	names := map[string]bool{}
	for k := range r.Cache.ByFamily {
		names[k] = true
	}
	for k := range r.Latency.ByFamily {
		names[k] = true
	}
	out := make([]familyFigures, 0, len(names))
	for _, k := range sortedKeys(names) {
		out = append(out, familyFigures{Name: k, C: r.Cache.ByFamily[k], Latency: r.Latency.ByFamily[k]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].traffic() > out[j].traffic() })
	return out
}

// topFamilies are the busiest n families and how many more there are.
func topFamilies(r *result.Result, n int) ([]familyFigures, int) {
	fs := families(r)
	if len(fs) <= n {
		return fs, 0
	}
	return fs[:n], len(fs) - n
}

// familyText is one family's figures: "hit rate 97.2% of 12,345 lookups,
// p99 1.2ms (n=20,001)".
func familyText(f familyFigures) string {
	var parts []string
	if f.lookups() > 0 {
		parts = append(parts, fmt.Sprintf("hit rate %s of %s lookups", hitRateText(f.C), formatCount(f.lookups())))
	}
	if f.Latency.Count > 0 {
		parts = append(parts, fmt.Sprintf("p99 %s (n=%s)", formatMs(f.Latency.P99), formatCount(uint64(f.Latency.Count))))
	}
	return strings.Join(parts, ", ")
}

// moreText is "and K more" for the families beyond the shown ones.
func moreText(more int) string {
	if more == 0 {
		return ""
	}
	return fmt.Sprintf("and %d more (report.json)", more)
}

// familyForm is the per-family form of a run-wide target's metric
// (hit_rate.family.F, latency_p99.family.F), or "" when it has none.
func familyForm(name, family string) string {
	if strings.Contains(name, ".") {
		return ""
	}
	if name == result.MetricHitRate || strings.HasPrefix(name, "latency_") {
		return name + ".family." + family
	}
	return ""
}

// breakingFamilies names, busiest first, the families that break a
// target: the family of a failed per-family target, and every family whose
// own figure breaks a failed run-wide hit-rate or latency target's bound
// (judged as the target would judge a per-family target; a family with
// no data for it is not named).
func breakingFamilies(r *result.Result) []string {
	failed := map[string]result.Target{}
	for i, t := range r.TargetSpecs() {
		if r.Targets[i].Outcome() == result.VerdictFail {
			failed[t.Name] = t
		}
	}
	if len(failed) == 0 {
		return nil
	}
	var out []string
	for _, f := range families(r) {
		if breaks(r, f.Name, failed) {
			out = append(out, f.Name)
		}
	}
	return out
}

func breaks(r *result.Result, family string, failed map[string]result.Target) bool {
	for name, t := range failed {
		if _, fam, ok := strings.Cut(name, ".family."); ok {
			if fam == family {
				return true
			}
			continue
		}
		form := familyForm(name, family)
		if form == "" {
			continue
		}
		pt, err := result.ParseTarget(result.TargetSpec{Name: form, Expr: t.Text})
		if err != nil {
			continue
		}
		tr := result.Evaluate(r, []result.Target{pt})[0]
		if !tr.Pass && tr.Unit != "" && !strings.HasPrefix(tr.Detail, "no data") {
			return true
		}
	}
	return false
}

// breakingText is the verdict line's naming of the families that break a
// target: " in families a, b and 3 more", " in all 10 families" ("" when
// none).
func breakingText(r *result.Result, quote func(string) string) string {
	fs := breakingFamilies(r)
	if len(fs) == 0 {
		return ""
	}
	if all := len(families(r)); len(fs) == all && all > 1 {
		return fmt.Sprintf(" in all %d families", all)
	}
	word := "families"
	if len(fs) == 1 {
		word = "family"
	}
	shown, more := fs, 0
	if len(fs) > familyTopN {
		shown, more = fs[:familyTopN], len(fs)-familyTopN
	}
	q := make([]string, len(shown))
	for i, f := range shown {
		q[i] = quote(f)
	}
	s := " in " + word + " " + strings.Join(q, ", ")
	if more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// familyRows are compare's rows of the base's busiest key families: each
// family's hit rate and, where either side recorded it, its p99. They are
// shown, not gated: the run's own hit rate and latency gate, and sixteen
// more tests would raise the chance of a regression by chance; a family
// worse beyond the tolerance says so in its note, which is where a run's
// change landed.
func (cp comparer) familyRows() []CompareRow {
	var out []CompareRow
	top, _ := topFamilies(cp.base[0], familyTopN)
	if len(top) < 2 {
		return nil // one family is the run itself
	}
	p99, _ := result.LookupMetric(result.MetricLatencyP99)
	for _, f := range top {
		for _, form := range []struct {
			name  string
			floor float64
		}{
			{familyForm(result.MetricHitRate, f.Name), result.HitRateCompare.Floor},
			{familyForm(result.MetricLatencyP99, f.Name), p99.Compare.Floor},
		} {
			m, ok := result.LookupMetric(form.name)
			if !ok {
				continue
			}
			s := compareSpec{name: form.name, unit: m.Unit, better: m.Better, get: m.CompareValue,
				rule: result.CompareRule{Info: true, Floor: form.floor}}
			row, ok := cp.row(s)
			if !ok {
				continue
			}
			row.Note = ""
			switch {
			case row.BaseText == "n/a" || row.CurText == "n/a":
				row.Note = "in one report only; not gated"
			case s.worse(row.Base, row.Cur, cp.o.MaxRegression):
				row.Note = "worse beyond the tolerance; the run's own figure gates"
			}
			out = append(out, row)
		}
	}
	return out
}
