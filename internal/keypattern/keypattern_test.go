package keypattern

import (
	"strings"
	"testing"
)

func TestMatchWholeKey(t *testing.T) {
	cases := []struct {
		pattern, key string
		want         bool
	}{
		{"driver:{id}:loc", "driver:42:loc", true},
		{"driver:{id}:loc", "driver:42:eta", false},
		{"driver:{id}:loc", "driver::loc", false},         // a placeholder is at least one digit
		{"driver:{id}:loc", "driver:4a:loc", false},       // digits only
		{"driver:{id}:loc", "driver:42:loc:extra", false}, // the whole key, not a prefix
		{"stratz:profile:{steamId}", "stratz:profile:76561198000000001", true},
		{"meta:heroes", "meta:heroes", true},
		{"meta:heroes", "meta:heroes2", false},
		{"ratelimit:{discordId}:{command}", "ratelimit:123:link_account", true},
		{"ratelimit:{discordId}:{command}", "ratelimit:abc:profile", false},
		{"a{x}b{y}c", "a1b2c", true},
		{"a{x}b{y}c", "a1b2b3c", false}, // digits cannot hold 'b'
		{"{id}:loc", "7:loc", true},
	}
	for _, c := range cases {
		p, err := Parse(c.pattern, "command")
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.pattern, err)
		}
		if got := p.Match(c.key); got != c.want {
			t.Errorf("%q.Match(%q) = %v, want %v", c.pattern, c.key, got, c.want)
		}
	}
}

func TestParseRefusesMalformed(t *testing.T) {
	for pattern, want := range map[string]string{
		"":            "empty",
		"a b:{id}":    "whitespace",
		"a:{id":       "'{' without its '}'",
		"a:id}":       "'}' without its '{'",
		"a:}{id}":     "'}' without its '{'",
		"a:{}":        "must be a name",
		"a:{1x}":      "must be a name",
		"a:{x-y}":     "must be a name",
		"a:{id}{two}": "touch",
	} {
		_, err := Parse(pattern)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", pattern, err, want)
		}
	}
}

func TestFormatRoundTrips(t *testing.T) {
	p := MustParse("trip:{city}:quote:{id}")
	if got := p.Format("3", "17"); got != "trip:3:quote:17" || !p.Match(got) {
		t.Errorf("Format = %q (match %v)", got, p.Match(got))
	}
	if n := p.Names(); len(n) != 2 || n[0] != "city" || n[1] != "id" {
		t.Errorf("Names = %v", n)
	}
}

func TestOverlap(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"driver:{id}:loc", "driver:{id}:eta", false},
		{"product:{id}", "product:{id}:page", false}, // a digit never holds ':'
		{"meta:{id}", "meta:heroes", false},
		{"meta:{id}", "meta:7", true},
		{"stratz:{id}", "stratz:profile:{steamId}", false},
		{"cart:{discordId}", "cart:{id}", true},
		{"a{x}", "a{x}5", true}, // "a15" is both
		{"ratelimit:{discordId}:{command}", "ratelimit:{id}:profile", true},
		{"ratelimit:{discordId}:{command}", "ratelimit:{id}", false},
		{"x:{id}:y", "x:{id}:y", true},
	}
	for _, c := range cases {
		a, b := MustParse(c.a, "command"), MustParse(c.b, "command")
		ex, got := Overlap(a, b)
		if got != c.want {
			t.Errorf("Overlap(%q, %q) = %v (%q), want %v", c.a, c.b, got, ex, c.want)
			continue
		}
		if got && (!a.Match(ex) || !b.Match(ex)) {
			t.Errorf("Overlap(%q, %q) example %q is not matched by both", c.a, c.b, ex)
		}
		if ex2, got2 := Overlap(b, a); got2 != got {
			t.Errorf("Overlap is not symmetric for %q, %q (%q)", c.a, c.b, ex2)
		}
	}
}

func TestSetLooksUpByWholePattern(t *testing.T) {
	var s Set
	for _, p := range []string{"driver:{id}:loc", "driver:{id}:eta", "steam:avatar:{steamId}"} {
		if _, err := s.Add(MustParse(p)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Add(MustParse("driver:{n}:loc")); err == nil || !strings.Contains(err.Error(), `"driver:0:loc"`) {
		t.Errorf("Add of an overlapping pattern: %v, want an error with an example key", err)
	}
	for key, want := range map[string]int{"driver:9:loc": 0, "driver:9:eta": 1, "steam:avatar:765": 2, "driver:9": -1} {
		if got := s.Lookup(key); got != want {
			t.Errorf("Lookup(%q) = %d, want %d", key, got, want)
		}
	}
}
