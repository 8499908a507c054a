package scenarios

import (
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/cacheproof/cacheproof/internal/units"
	"github.com/cacheproof/cacheproof/result"
)

// Duration is a time.Duration written as "60s", "2m", "1h30m" or "250ms";
// a bare number is rejected (see units.Duration).
type Duration = units.Duration

// Size is a byte count written as Redis writes it, with Redis's meaning:
// 256mb is 268,435,456 bytes, 256m 256,000,000 (see units.Size). The same
// parser reads the seed's REDIS_MAX_MEMORY.
type Size = units.Size

// Target is one "metric: expression" line of the targets: section, with the
// position it was written at so validation can point at it. Validation
// parses the expression once and keeps it (TargetSpecs returns it).
//
// A target may also be written as a mapping, to stop the run once it is
// broken beyond recovery (result.AbortWatch):
//
//	error_rate: {expr: "< 1%", abort: true}
//	latency_p99: {expr: "< 50ms", abort_after: 30s}
type Target struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	// Abort and AbortAfter are the abort rule as written (abort: true, or
	// abort_after: 30s).
	Abort      bool     `json:"abort,omitempty"`
	AbortAfter Duration `json:"abort_after,omitempty"`
	Line       int      `json:"-"`
	Col        int      `json:"-"`
	// AbortLine and AbortCol are where the abort rule was written.
	AbortLine, AbortCol int `json:"-"`

	parsed result.Target // set by validation
}

// Targets keeps the order the scenario wrote them in, which is the order the
// console and reports show them.
type Targets []Target

// UnmarshalYAML reads a mapping of metric name to expression.
func (ts *Targets) UnmarshalYAML(node ast.Node) error {
	m, ok := node.(*ast.MappingNode)
	if !ok {
		if _, null := node.(*ast.NullNode); null {
			return nil
		}
		return units.NodeError(node, `expected a mapping of metric to expression, such as latency_p99: "< 5ms"`)
	}
	out := make(Targets, 0, len(m.Values))
	for _, kv := range m.Values {
		name, _ := units.Scalar(kv.Key)
		pos := kv.Key.GetToken().Position
		t := Target{Name: name, Line: pos.Line, Col: pos.Column}
		if mv, isMap := kv.Value.(*ast.MappingNode); isMap {
			if err := t.fromMapping(mv); err != nil {
				return err
			}
			out = append(out, t)
			continue
		}
		expr, ok := units.Scalar(kv.Value)
		if !ok {
			return units.NodeError(kv.Value, fmt.Sprintf("target %q: expected an expression such as \"< 5ms\" or \">= 95%%\", or a mapping {expr: ..., abort: true}", name))
		}
		t.Expr = expr
		out = append(out, t)
	}
	*ts = out
	return nil
}

// fromMapping reads a target written as {expr: "< 1%", abort: true} or
// {expr: ..., abort_after: 30s}.
func (t *Target) fromMapping(m *ast.MappingNode) error {
	hasExpr := false
	for _, kv := range m.Values {
		key, _ := units.Scalar(kv.Key)
		val, ok := units.Scalar(kv.Value)
		if !ok {
			return units.NodeError(kv.Value, fmt.Sprintf("target %q: %s: expected a value", t.Name, key))
		}
		switch key {
		case "expr":
			t.Expr, hasExpr = val, true
		case "abort":
			switch val {
			case "true":
				t.Abort = true
			case "false":
			default:
				return units.NodeError(kv.Value, fmt.Sprintf("target %q: abort: expected true or false, got %q", t.Name, val))
			}
			pos := kv.Key.GetToken().Position
			t.AbortLine, t.AbortCol = pos.Line, pos.Column
		case "abort_after":
			var d Duration
			if err := d.UnmarshalYAML(kv.Value); err != nil {
				return err
			}
			t.AbortAfter = d
			pos := kv.Key.GetToken().Position
			t.AbortLine, t.AbortCol = pos.Line, pos.Column
		default:
			return units.NodeError(kv.Key, fmt.Sprintf("target %q: unknown key %q, expected expr, abort or abort_after", t.Name, key))
		}
	}
	if !hasExpr {
		return units.NodeError(m, fmt.Sprintf("target %q: expr is required, such as expr: \"< 5ms\"", t.Name))
	}
	if t.Abort && t.AbortAfter != 0 {
		return units.NodeError(m, fmt.Sprintf("target %q: write abort: true or abort_after, not both", t.Name))
	}
	return nil
}

// Spec is the target as result takes it, with its abort rule.
func (t Target) Spec() result.TargetSpec {
	s := result.TargetSpec{Name: t.Name, Expr: t.Expr}
	if t.Abort || t.AbortAfter > 0 {
		s.Abort = &result.AbortRule{After: t.AbortAfter.D()}
	}
	return s
}

// MarshalYAML writes the targets back as a mapping, each as it was
// written: an expression, or a mapping with its abort rule.
func (ts Targets) MarshalYAML() (any, error) {
	ms := yaml.MapSlice{}
	for _, t := range ts {
		var v any = t.Expr
		switch {
		case t.AbortAfter > 0:
			v = yaml.MapSlice{{Key: "expr", Value: t.Expr}, {Key: "abort_after", Value: t.AbortAfter}}
		case t.Abort:
			v = yaml.MapSlice{{Key: "expr", Value: t.Expr}, {Key: "abort", Value: true}}
		}
		ms = append(ms, yaml.MapItem{Key: t.Name, Value: v})
	}
	return ms, nil
}
