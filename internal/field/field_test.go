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
