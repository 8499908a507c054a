package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// One pass reports every decoding problem (wrong types, unknown fields) and
// every validation finding of a file, each at its line and column, without
// the findings that only repeat a decoding problem.
func TestEveryProblemInOnePass(t *testing.T) {
	src := `name: multi
workload:
  active_users: many
  zipff: 1.1
pool: {max_conns: 50, min_idel: 3}
phases:
  - {name: warm, duration: 5x, record: false}
  - {name: steady, duration: 60s}
faults:
  - {at: 10s, kind: restrat}
  - {at: 10s, for: 5s, kind: memory-pressure, fraction: half}
targets:
  hit_rat: ">= 95%"
`
	_, err := LoadBytes("m.yaml", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %v, want a list", err)
	}
	want := []string{
		`m.yaml:3:17: expected a whole number`,
		`m.yaml:4:3: unknown field "zipff"`,
		`m.yaml:5:23: unknown field "min_idel"`,
		`m.yaml:7:28: expected a duration`,
		`m.yaml:10:21: faults[0].kind: unknown value "restrat"`,
		`m.yaml:11:57: expected a number such as 0.5`,
		`m.yaml:13:3: unknown target metric "hit_rat"`,
	}
	if len(list) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(list), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(list[i].Error(), w) {
			t.Errorf("problem %d: %s\nwant it to start %q", i, list[i], w)
		}
	}
}

// Syntax errors the parser can get past are reported together: the line of
// each is blanked and the file parsed again.
func TestEverySyntaxErrorInOnePass(t *testing.T) {
	src := "name: syn\nphases:\n  - name: a\n    duration: \"60s\ntargets:\n  hit_rate: >= 95%\n"
	_, err := LoadBytes("s.yaml", []byte(src))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 2 || list[0].Line != 4 || list[1].Line != 6 {
		t.Fatalf("got %v, want the errors of lines 4 and 6", err)
	}
	// One error alone stays one error, with its snippet.
	_, err = LoadBytes("s.yaml", []byte("name: x\nphases: [\n"))
	var one *Error
	if !errors.As(err, &one) || one.Line == 0 {
		t.Fatalf("got %v (%T), want one positioned error", err, err)
	}
}

// A file with more problems than maxErrors stops there instead of listing
// consequences.
func TestProblemsAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: many\nworkload:\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, "  unknown_%d: 1\n", i)
	}
	_, err := LoadBytes("b.yaml", []byte(b.String()))
	var list ErrorList
	if !errors.As(err, &list) || len(list) != maxErrors {
		t.Fatalf("got %d problems, want %d", len(list), maxErrors)
	}
}
