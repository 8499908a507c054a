package report

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// An A/B of one setting: `run --set target.redis.maxmemory=32mb` on one
// side and not (or another value) on the other records the values in
// scenario.overrides. Two sets of runs whose resolved scenarios are equal
// once the overridden paths are taken out are runs of one load but for
// those settings: compare shows them as the change under test and compares
// the rest, where it would otherwise refuse them as different loads for
// what the change itself moved (active users, recorded seconds).

// SettingChange is one scenario value that differs between the sides
// because a side set it on the command line: Base and New are each side's
// value (the scenario's own, from its resolved form, where the side did
// not set it; "" when the path is not in it).
type SettingChange struct {
	Path string `json:"path"`
	Base string `json:"base"`
	New  string `json:"new"`
}

// settingChanges are the overridden paths whose values differ between the
// sides (each side's first run speaks for it), in path order.
func settingChanges(base, cur *result.Result) []SettingChange {
	bo, co := overrideMap(base), overrideMap(cur)
	paths := map[string]bool{}
	for p := range bo {
		paths[p] = true
	}
	for p := range co {
		paths[p] = true
	}
	var out []SettingChange
	for _, p := range sortedKeys(paths) {
		b, ok := bo[p]
		if !ok {
			b = resolvedText(base, p)
		}
		c, ok := co[p]
		if !ok {
			c = resolvedText(cur, p)
		}
		if b != c {
			out = append(out, SettingChange{Path: p, Base: b, New: c})
		}
	}
	return out
}

func overrideMap(r *result.Result) map[string]string {
	m := map[string]string{}
	for _, o := range r.Scenario.Overrides {
		m[o.Path] = o.Value
	}
	return m
}

// overridesDiffer says how two runs of one side differ in their set
// values ("" when they do not).
func overridesDiffer(a, b *result.Result) string {
	if reflect.DeepEqual(overrideMap(a), overrideMap(b)) {
		return ""
	}
	return fmt.Sprintf("set values %s vs %s", overridesText(a), overridesText(b))
}

func overridesText(r *result.Result) string {
	if len(r.Scenario.Overrides) == 0 {
		return "none"
	}
	parts := make([]string, len(r.Scenario.Overrides))
	for i, o := range r.Scenario.Overrides {
		parts[i] = o.String()
	}
	return strings.Join(parts, " ")
}

// otherSettings are the paths (at most five, then "and K more") at which
// the two resolved scenarios differ once every overridden path of either
// side is taken out; nil when they agree, or when a side has no resolved
// scenario to compare.
func otherSettings(base, cur *result.Result) []string {
	b, c := plain(base.Scenario.Resolved), plain(cur.Scenario.Resolved)
	if b == nil || c == nil {
		return nil
	}
	for _, r := range []*result.Result{base, cur} {
		for _, o := range r.Scenario.Overrides {
			b, c = without(b, splitPath(o.Path)), without(c, splitPath(o.Path))
		}
	}
	var diffs []string
	diffPaths(b, c, "", &diffs)
	if len(diffs) > 5 {
		diffs = append(diffs[:5], fmt.Sprintf("and %d more", len(diffs)-5))
	}
	return diffs
}

// plain is v as JSON reads it back (maps, slices, strings, numbers), so a
// resolved scenario held as a Go struct and one read from a report compare
// alike; nil when v is nil or does not encode.
func plain(v any) any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

// splitPath splits "phases[1].duration" or "phases.1.duration" into its
// keys and indexes.
func splitPath(p string) []string {
	p = strings.NewReplacer("[", ".", "]", "").Replace(p)
	return strings.Split(strings.Trim(p, "."), ".")
}

// step is the value under one key or index of v (nil when absent).
func step(v any, k string) any {
	switch x := v.(type) {
	case map[string]any:
		return x[k]
	case []any:
		if i, err := strconv.Atoi(k); err == nil && i >= 0 && i < len(x) {
			return x[i]
		}
	}
	return nil
}

// without is v with the value at path removed (a copy along the path; v
// itself is not changed).
func without(v any, path []string) any {
	if len(path) == 0 {
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x[path[0]]; !ok {
			return v
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = e
		}
		if len(path) == 1 {
			delete(out, path[0])
		} else {
			out[path[0]] = without(x[path[0]], path[1:])
		}
		return out
	case []any:
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(x) {
			return v
		}
		out := append([]any(nil), x...)
		if len(path) == 1 {
			out[i] = nil
		} else {
			out[i] = without(x[i], path[1:])
		}
		return out
	}
	return v
}

// diffPaths appends the paths at which a and b differ.
func diffPaths(a, b any, at string, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			diffPaths(am[k], bm[k], joinPath(at, k), out)
		}
		return
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok && len(as) == len(bs) {
		for i := range as {
			diffPaths(as[i], bs[i], fmt.Sprintf("%s[%d]", at, i), out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, at)
	}
}

func joinPath(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

// resolvedText is the value at path in r's resolved scenario, as text
// ("" when absent).
func resolvedText(r *result.Result, path string) string {
	v := plain(r.Scenario.Resolved)
	for _, k := range splitPath(path) {
		v = step(v, k)
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

// settingChangeText is "target.redis.maxmemory 256mb → 32mb".
func settingChangeText(c SettingChange) string {
	or := func(s string) string {
		if s == "" {
			return "(unset)"
		}
		return s
	}
	return c.Path + " " + or(c.Base) + " → " + or(c.New)
}
