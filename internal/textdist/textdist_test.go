package textdist

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "abc", 0}, {"durration", "duration", 1}, {"hit_rat", "hit_rate", 1}, {"kitten", "sitting", 3}, {"", "abc", 3}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"duration", "users", "record"}
	if got := Closest("Durration", cands, 2); got != "duration" {
		t.Errorf("got %q", got)
	}
	if got := Closest("zzzzzz", cands, 2); got != "" {
		t.Errorf("nothing is close, got %q", got)
	}
}
