package field

import (
	"errors"
	"fmt"
	"testing"
)

func TestMergeReRootsPaths(t *testing.T) {
	var inner List
	inner.Add("max_conns", "must be at least 1, got %d", 0)
	inner.Add(Index("families", 2)+".mean_size", "must be positive")
	var l List
	l.Merge("pool", inner.Err())
	l.Merge("faults[1]", Errorf("fraction", "must be in (0, 1]"))
	l.Merge("target", errors.New("plain"))
	l.Merge("nothing", nil)
	want := []string{"pool.max_conns", "pool.families[2].mean_size", "faults[1].fraction", "target"}
	if len(l) != len(want) {
		t.Fatalf("got %d errors: %v", len(l), l)
	}
	for i, e := range l {
		if e.Path != want[i] {
			t.Errorf("error %d path %q, want %q", i, e.Path, want[i])
		}
	}
	if got := l[0].Error(); got != "pool.max_conns: must be at least 1, got 0" {
		t.Errorf("message %q", got)
	}
	var asList List
	if !errors.As(fmt.Errorf("wrapped: %w", l.Err()), &asList) || len(asList) != 4 {
		t.Errorf("a wrapped List is not found by errors.As")
	}
	if (List{}).Err() != nil {
		t.Error("an empty list is an error")
	}
	if Join("", "a") != "a" || Join("a", "") != "a" || Join("a", "[0]") != "a[0]" {
		t.Error("Join")
	}
}

func TestOneOfAndDefaults(t *testing.T) {
	var l List
	l.OneOf("backend", "process", []string{"process", "external"})
	l.OneOf("backend", "proces", []string{"process", "external"})
	if len(l) != 1 || l[0].Msg != `unknown value "proces", expected one of process, external (did you mean "process"?)` {
		t.Errorf("OneOf: %v", l)
	}
	wrote := Keys{"min_idle": true}
	n, m := 0, 0
	Default(&n, wrote, "min_idle", 10) // written 0: kept
	Default(&m, wrote, "max_conns", 50)
	if n != 0 || m != 50 {
		t.Errorf("Default: written 0 became %d, unwritten became %d", n, m)
	}
	if !Given(wrote, "min_idle", 0) || Given(nil, "x", "") || !Given(nil, "x", "y") {
		t.Error("Given")
	}
}
