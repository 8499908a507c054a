package result

import "testing"

// FuzzParseExpr: any string gives an expression or an error, never a panic;
// an accepted expression prints back to something that parses the same.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"< 5ms", "<= 5 ms", ">= 95%", "== 0", "< 10s", ">0.95", "!= 3", "< 1.5e3us", "<", "", "%", ">= -5%", "< 5 parsecs"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseExpr(s)
		if err != nil {
			return
		}
		e2, err := ParseExpr(e.String())
		if err != nil {
			t.Fatalf("%q parsed as %q which does not parse: %v", s, e.String(), err)
		}
		if e2.Op != e.Op {
			t.Fatalf("%q: op %q then %q", s, e.Op, e2.Op)
		}
	})
}
