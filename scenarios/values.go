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
type Target struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	Line int    `json:"-"`
	Col  int    `json:"-"`

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
		expr, ok := units.Scalar(kv.Value)
		if !ok {
			return units.NodeError(kv.Value, fmt.Sprintf("target %q: expected an expression such as \"< 5ms\" or \">= 95%%\"", name))
		}
		pos := kv.Key.GetToken().Position
		out = append(out, Target{Name: name, Expr: expr, Line: pos.Line, Col: pos.Column})
	}
	*ts = out
	return nil
}

// MarshalYAML writes the targets back as a mapping.
func (ts Targets) MarshalYAML() (any, error) {
	ms := yaml.MapSlice{}
	for _, t := range ts {
		ms = append(ms, yaml.MapItem{Key: t.Name, Value: t.Expr})
	}
	return ms, nil
}
