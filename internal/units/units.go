// Package units holds the value types of the settings a scenario file
// writes, shared by the packages that own those settings (pool, workload,
// topology) and by scenarios, which decodes the file into them: a Duration
// that refuses bare numbers and a Size read as Redis reads memory sizes.
// Both decode from the YAML node, so a bad value is reported at its line
// and column.
package units

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/cacheproof/cacheproof/internal/redistext"
)

// Duration is a time.Duration written as "60s", "2m", "1h30m" or "250ms".
// A bare number is rejected: "60" could mean seconds or milliseconds, and a
// load test that runs 1000 times longer than intended is an expensive typo.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML decodes from the node so errors keep their line and column.
func (d *Duration) UnmarshalYAML(node ast.Node) error {
	s, ok := Scalar(node)
	if !ok {
		return NodeError(node, "expected a duration such as 60s, 2m or 250ms")
	}
	if s == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return NodeError(node, fmt.Sprintf("expected a duration such as 60s, 2m or 250ms, got %q", s))
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

// Size is a byte count written as Redis writes it: 256mb, 1gb, 512kb, 100b
// or a plain number of bytes, with Redis's meaning: kb, mb and gb are powers
// of 1024, k, m and g powers of 1000 (256m is 256,000,000 bytes). The value
// is passed on to Redis, so it must mean what Redis will make of it; the
// parser is redistext.ParseMemory, the one REDIS_MAX_MEMORY goes through.
type Size int64

// ParseSize parses a size as Redis does (see Size).
func ParseSize(s string) (Size, error) {
	n, err := redistext.ParseMemory(s)
	return Size(n), err
}

// UnmarshalYAML decodes "256mb" or 268435456.
func (z *Size) UnmarshalYAML(node ast.Node) error {
	s, ok := Scalar(node)
	if !ok {
		return NodeError(node, "expected a size such as 256mb, 1gb or 2048")
	}
	v, err := ParseSize(s)
	if err != nil {
		return NodeError(node, err.Error())
	}
	*z = v
	return nil
}

// String formats the size the way redis.conf accepts it, in the largest
// binary unit that holds it exactly ("256mb", "1536kb", "1000").
func (z Size) String() string { return redistext.FormatMemory(int64(z)) }

// MarshalYAML writes the Redis notation.
func (z Size) MarshalYAML() (any, error) { return z.String(), nil }

// ParsePercent reads a share written as a percentage ("50%", "50 %") or
// as a plain number ("0.5", "500"); percent says which, and v is the
// percentage's fraction (50% is 0.5) or the number as written. It is the
// one reader of the "%" notation: a fault's fraction, capacity's
// precision, compare's gates and size's hit-rate target go through it, as
// the targets' ">= 95%" does, so every place that takes a share takes it
// the same way. Whether a plain number may exceed 1 is each caller's rule.
func ParsePercent(s string) (v float64, percent bool, err error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, false, fmt.Errorf("empty: expected a percentage such as 50%% or a number such as 0.5")
	}
	t, percent = strings.CutSuffix(t, "%")
	v, err = strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, fmt.Errorf("%q: expected a percentage such as 50%% or a number such as 0.5", s)
	}
	if percent {
		v /= 100
	}
	return v, percent, nil
}

// Number is a number a setting may also write as a percentage: 0.5 or
// 50% (ParsePercent), so a fraction reads as the targets' ">= 95%" does.
type Number float64

// UnmarshalYAML decodes 0.5 or "50%" from the node, at its line and column.
func (n *Number) UnmarshalYAML(node ast.Node) error {
	s, ok := Scalar(node)
	if !ok {
		return NodeError(node, "expected a number such as 0.5 or a percentage such as 50%")
	}
	v, _, err := ParsePercent(s)
	if err != nil {
		return NodeError(node, fmt.Sprintf("expected a number such as 0.5 or a percentage such as 50%%, got %q", s))
	}
	*n = Number(v)
	return nil
}

// Scalar returns the text of a scalar node (string, number, boolean or
// literal block), for decoders that read values as written.
func Scalar(node ast.Node) (string, bool) {
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

// NodeError is an error goccy reports with the node's line and column.
func NodeError(node ast.Node, msg string) error {
	return &yaml.SyntaxError{Message: msg, Token: node.GetToken()}
}
