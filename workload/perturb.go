package workload

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// PerturbMode is how a Perturbation changes a family's lookups.
type PerturbMode uint8

const (
	// PerturbHotKey sends the share to one key: a celebrity's profile, a
	// key every command reads.
	PerturbHotKey PerturbMode = iota + 1
	// PerturbBigKey sends the share to one key whose value is Size bytes:
	// a value of megabytes read by many.
	PerturbBigKey
	// PerturbPenetration sends the share to keys that never exist: each
	// lookup a number of the family's pattern no user, guild or key space
	// has (AbsentBase and above, drawn anew each time), so each misses and
	// goes to the origin.
	PerturbPenetration
)

func (m PerturbMode) String() string {
	switch m {
	case PerturbHotKey:
		return "hot key"
	case PerturbBigKey:
		return "big key"
	case PerturbPenetration:
		return "penetration"
	}
	return "none"
}

// AbsentBase is where the numbers of a penetration's keys start: above
// every id the model draws (steamIds, snowflakes and key spaces are below
// 10^18), so a key built from it was never written by anyone but the
// penetration itself, and is drawn anew on every lookup.
const AbsentBase uint64 = 1 << 62

// Perturbation changes what users look up during a window of the run, as a
// cache failure mode's fault asks (hot key, big key, penetration): a share
// of the lookups of one family go elsewhere. The schedule's arrivals are
// untouched (the same commands at the same intended starts, so the load
// stays open-loop and nothing is held back), and the draws that pick the
// lookups it changes come from a stream of their own, a function of the
// seed: without a perturbation the schedule is what it was, command for
// command, and with one it is the same on every run of the seed.
type Perturbation struct {
	// From and To are the window, offsets of the schedule's clock (the
	// run's start; a prefill's history shifts them).
	From, To time.Duration
	Mode     PerturbMode
	// Family is the family whose single-key lookups are redirected (an
	// MGET's keys are left alone).
	Family string
	// Share is the share of the family's lookups in the window that are
	// redirected (0 < Share <= 1).
	Share float64
	// Key is the hot or big key ("": Model.Resolve gives the family's key
	// of number 1); unused by a penetration.
	Key string
	// Size is the big key's value size in bytes (0: the family's size of
	// Key).
	Size int

	fam      *Family
	pre, suf string // a penetration's key around its number
}

// Resolve fills what p leaves to the model: the hot or big key (the
// family's key of number 1, its pattern itself for a family of one key),
// the big key's size (the family's size of that key), and a penetration's
// key pattern for Affects. The error names a family the model does not
// have, or a penetration of a family of one key (no number could be
// absent).
func (m *Model) Resolve(p Perturbation) (Perturbation, error) {
	f := m.Family(p.Family)
	if f == nil {
		return p, fmt.Errorf("%s: no key family %q", p.Mode, p.Family)
	}
	p.fam = f
	if p.Mode == PerturbPenetration {
		pre, suf, ph := bindPattern(f.KeyPattern, f.Keys > 0)
		if ph == phNone {
			return p, fmt.Errorf("penetration: family %s has one key (%s), no number that could be absent", f.Name, f.KeyPattern)
		}
		p.pre, p.suf, p.Key = pre, suf, ""
		return p, nil
	}
	if p.Key == "" {
		p.Key = m.Key(f, 1)
	}
	if p.Size == 0 {
		p.Size = m.Size(f, p.Key)
	}
	return p, nil
}

// Affects reports whether key is one of those the perturbation sends
// lookups to: the hot or big key, or any key of a penetration (the
// family's pattern with a number at AbsentBase or above). p must come from
// Resolve.
func (p Perturbation) Affects(key string) bool {
	if p.Mode != PerturbPenetration {
		return key == p.Key
	}
	if len(key) <= len(p.pre)+len(p.suf) || !strings.HasPrefix(key, p.pre) || !strings.HasSuffix(key, p.suf) {
		return false
	}
	n, err := strconv.ParseUint(key[len(p.pre):len(key)-len(p.suf)], 10, 64)
	return err == nil && n >= AbsentBase
}

// Perturb makes the schedule apply ps (nil: none), each resolved by the
// model (Resolve). Call it before the first Next.
func (s *Schedule) Perturb(ps []Perturbation) error {
	s.perts = s.perts[:0]
	for _, p := range ps {
		r, err := s.m.Resolve(p)
		if err != nil {
			return fmt.Errorf("perturb: %w", err)
		}
		s.perts = append(s.perts, r)
	}
	if len(s.perts) > 0 && s.pert == nil {
		seed := s.m.seed ^ splitmix64(uint64(s.m.cfg.Shard)<<32|uint64(s.m.cfg.Shards))
		s.pert = rand.New(rand.NewPCG(seed, 0x9e27))
	}
	return nil
}

// perturb redirects the lookups of c that an active perturbation takes.
// Only single-key reads of the perturbed family change; c.Ops is the
// command's own (cmdBuf), its Keys slices shared and left alone.
func (s *Schedule) perturb(c *Command) {
	for i := range s.perts {
		p := &s.perts[i]
		if c.At < p.From || c.At >= p.To {
			continue
		}
		for j := range c.Ops {
			op := &c.Ops[j]
			if op.Family != p.fam || !lookup(op.Kind) || len(op.Keys) > 0 {
				continue
			}
			if s.pert.Float64() >= p.Share {
				continue
			}
			switch p.Mode {
			case PerturbHotKey:
				op.Key, op.Size = p.Key, p.Size
			case PerturbBigKey:
				op.Key, op.Size = p.Key, p.Size
			case PerturbPenetration:
				op.Key = joinKey(p.pre, AbsentBase+s.pert.Uint64()>>2, p.suf)
				op.Size = s.m.Size(p.fam, op.Key)
			}
		}
	}
}

// lookup reports whether a perturbation may redirect an operation of kind
// k: a read of one key that a user's command makes to look something up
// (not a CAS, whose read is part of a write, nor a session read, which
// creates the user's session).
func lookup(k OpKind) bool {
	switch k {
	case OpGetOrFetch, OpGet, OpHGet, OpZRange:
		return true
	}
	return false
}
