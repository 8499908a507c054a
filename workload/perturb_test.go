package workload

import (
	"math"
	"strings"
	"testing"
	"time"
)

func perturbed(t *testing.T, ps []Perturbation) []Command {
	t.Helper()
	g := goldenConfigs()["defaults"]
	s := mustNew(t, g.set, g.run).Schedule(g.phases)
	if err := s.Perturb(ps); err != nil {
		t.Fatal(err)
	}
	return collect(s, 20_000)
}

// A perturbation changes only the keys (and sizes) of its family's
// lookups inside its window, about its share of them; every command keeps
// its intended start, user and operations, so the load stays open-loop;
// and the same seed gives the same perturbed schedule.
func TestPerturbationKeepsTheSchedule(t *testing.T) {
	plain := perturbed(t, nil)
	for _, mode := range []PerturbMode{PerturbHotKey, PerturbBigKey, PerturbPenetration} {
		p := Perturbation{From: 2 * time.Second, To: 6 * time.Second, Mode: mode, Family: "stratz_profile", Share: 0.3, Size: 1 << 20}
		got := perturbed(t, []Perturbation{p})
		again := perturbed(t, []Perturbation{p})
		if renderSchedule(got) != renderSchedule(again) {
			t.Fatalf("%s: two schedules of one seed differ", mode)
		}
		if len(got) != len(plain) {
			t.Fatalf("%s: %d commands, want %d", mode, len(got), len(plain))
		}
		g := goldenConfigs()["defaults"]
		rp, err := mustNew(t, g.set, g.run).Resolve(p)
		if err != nil {
			t.Fatal(err)
		}
		var inWindow, moved, distinct int
		seen := map[string]bool{}
		for i, c := range got {
			o := plain[i]
			if c.At != o.At || c.User != o.User || c.Name != o.Name || len(c.Ops) != len(o.Ops) {
				t.Fatalf("%s: command %d is %v %d %s, want %v %d %s", mode, i, c.At, c.User, c.Name, o.At, o.User, o.Name)
			}
			for j, op := range c.Ops {
				was := o.Ops[j]
				if op.Kind != was.Kind || op.Family.Name != was.Family.Name {
					t.Fatalf("%s: command %d op %d changed kind or family", mode, i, j)
				}
				changed := op.Key != was.Key || op.Size != was.Size
				win := c.At >= p.From && c.At < p.To
				if changed && (!win || op.Family.Name != p.Family) {
					t.Fatalf("%s: command %d at %v changed %s outside the window or family", mode, i, c.At, op.Key)
				}
				if !win || op.Family.Name != p.Family || op.Kind != OpGetOrFetch {
					continue
				}
				inWindow++
				if rp.Affects(op.Key) {
					moved++
					seen[op.Key] = true
					if mode == PerturbBigKey && op.Size != 1<<20 {
						t.Fatalf("big key read with size %d", op.Size)
					}
				} else if rp.Affects(was.Key) {
					t.Fatalf("%s: an unperturbed lookup matches: %s", mode, was.Key)
				}
			}
		}
		distinct = len(seen)
		share := float64(moved) / float64(inWindow)
		// 0.3 of a few hundred lookups: 5 standard deviations of margin.
		sd := math.Sqrt(0.3 * 0.7 / float64(inWindow))
		if inWindow < 100 || math.Abs(share-0.3) > 5*sd {
			t.Fatalf("%s: %d of %d lookups in the window moved (%.3f), want about 0.3", mode, moved, inWindow, share)
		}
		switch mode {
		case PerturbPenetration:
			if distinct != moved {
				t.Fatalf("penetration: %d distinct keys of %d lookups, want each lookup its own key", distinct, moved)
			}
			for k := range seen {
				if !strings.HasPrefix(k, "stratz:profile:") {
					t.Fatalf("penetration key %s is not of the family's pattern", k)
				}
				break
			}
		default:
			if distinct != 1 {
				t.Fatalf("%s: %d distinct keys, want one", mode, distinct)
			}
		}
		t.Logf("%s: %d of %d lookups of stratz_profile in the window moved to %d keys", mode, moved, inWindow, distinct)
	}
}

// A perturbation of a family the model lacks, or a penetration of a family
// of one key, is refused with the family's name.
func TestPerturbRefuses(t *testing.T) {
	g := goldenConfigs()["defaults"]
	m := mustNew(t, g.set, g.run)
	for _, c := range []struct {
		p    Perturbation
		want string
	}{
		{Perturbation{Mode: PerturbHotKey, Family: "nosuch", Share: 1}, `no key family "nosuch"`},
		{Perturbation{Mode: PerturbPenetration, Family: "meta_heroes", Share: 1}, "has one key"},
	} {
		if err := m.Schedule(g.phases).Perturb([]Perturbation{c.p}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.p, err, c.want)
		}
	}
}
