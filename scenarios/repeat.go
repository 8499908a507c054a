package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

// Repeat is the scenario's repeat: (and run's --repeat): how many runs of
// the load one verdict is judged from. "" or "1" is one run; "N" (2–20) N
// runs, each with its own Redis and prefill; "auto" adds runs while a
// target is inconclusive, up to DefaultAutoRuns ("auto:N" sets the cap).
//
//	repeat: 3
//	repeat: auto
type Repeat string

// DefaultAutoRuns is repeat: auto's cap on runs.
const DefaultAutoRuns = 5

// MaxRepeat bounds repeat: a verdict needs a handful of runs, not a soak.
const MaxRepeat = 20

// RepeatPlan is a parsed Repeat.
type RepeatPlan struct {
	Runs int  // fixed: the number of runs; auto: the cap
	Auto bool // add runs only while a target is inconclusive
}

// Parse reads a Repeat; "" is one run.
func (r Repeat) Parse() (RepeatPlan, error) {
	s := strings.TrimSpace(string(r))
	if s == "" {
		return RepeatPlan{Runs: 1}, nil
	}
	if rest, ok := strings.CutPrefix(s, "auto"); ok {
		if rest == "" {
			return RepeatPlan{Runs: DefaultAutoRuns, Auto: true}, nil
		}
		n, err := strconv.Atoi(strings.TrimPrefix(rest, ":"))
		if !strings.HasPrefix(rest, ":") || err != nil || n < 2 || n > MaxRepeat {
			return RepeatPlan{}, fmt.Errorf("expected auto or auto:N with N from 2 to %d (the most runs auto may make), got %q", MaxRepeat, s)
		}
		return RepeatPlan{Runs: n, Auto: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxRepeat {
		return RepeatPlan{}, fmt.Errorf("expected a number of runs from 1 to %d, auto, or auto:N, got %q", MaxRepeat, s)
	}
	return RepeatPlan{Runs: n}, nil
}
