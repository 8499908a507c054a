package scenarios

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/cacheproof/cacheproof/result"
)

// Duration is a time.Duration written as "60s", "2m", "1h30m" or "250ms".
// A bare number is rejected: "60" could mean seconds or milliseconds, and a
// load test that runs 1000 times longer than intended is an expensive typo.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML decodes from the node so errors keep their line and column.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	s, ok := scalarString(node)
	if !ok {
		return nodeErr(node, "expected a duration such as 60s, 2m or 250ms")
	}
	if s == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return nodeErr(node, fmt.Sprintf("expected a duration such as 60s, 2m or 250ms, got %q", s))
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back in Go notation.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalJSON writes "1m0s" rather than nanoseconds so resolved scenarios in
// reports read like the YAML that produced them.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Size is a byte count written as Redis writes it: 256mb, 1gb, 512kb, 100b or
// a plain number of bytes. Redis units are binary (1mb = 1048576 bytes).
type Size int64

// ParseSize parses a Redis-style size.
func ParseSize(s string) (Size, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}, {"b", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			mult = u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("expected a size such as 256mb, 1gb or 2048, got %q", s)
	}
	return Size(n * float64(mult)), nil
}

// UnmarshalYAML decodes "256mb" or 268435456.
func (z *Size) UnmarshalYAML(node ast.Node) error {
	s, ok := scalarString(node)
	if !ok {
		return nodeErr(node, "expected a size such as 256mb, 1gb or 2048")
	}
	v, err := ParseSize(s)
	if err != nil {
		return nodeErr(node, err.Error())
	}
	*z = v
	return nil
}

// String formats the size the way redis.conf accepts it.
func (z Size) String() string {
	switch {
	case z == 0:
		return "0"
	case z%(1<<30) == 0:
		return fmt.Sprintf("%dgb", z>>30)
	case z%(1<<20) == 0:
		return fmt.Sprintf("%dmb", z>>20)
	case z%(1<<10) == 0:
		return fmt.Sprintf("%dkb", z>>10)
	}
	return strconv.FormatInt(int64(z), 10)
}

// MarshalYAML writes the Redis notation.
func (z Size) MarshalYAML() (any, error) { return z.String(), nil }

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
		return nodeErr(node, `expected a mapping of metric to expression, such as latency_p99: "< 5ms"`)
	}
	out := make(Targets, 0, len(m.Values))
	for _, kv := range m.Values {
		name, _ := scalarString(kv.Key)
		expr, ok := scalarString(kv.Value)
		if !ok {
			return nodeErr(kv.Value, fmt.Sprintf("target %q: expected an expression such as \"< 5ms\" or \">= 95%%\"", name))
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

func scalarString(node ast.Node) (string, bool) {
	switch n := node.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return n.GetToken().Value, true
	case *ast.LiteralNode:
		return n.Value.Value, true
	}
	return "", false
}

// nodeErr makes an error goccy reports with the node's line and column.
func nodeErr(node ast.Node, msg string) error {
	return &yaml.SyntaxError{Message: msg, Token: node.GetToken()}
}
