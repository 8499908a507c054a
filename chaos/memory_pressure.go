package chaos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cacheproof/cacheproof/topology"
)

func init() { Register("memory-pressure", func() Kind { return &memoryPressure{} }) }

// memoryPressure lowers a node's maxmemory for for:, to a size (maxmemory)
// or to a fraction of its used_memory when the fault starts, after writing
// ballast bytes of keys under BallastPrefix when asked; at the end the
// ballast is deleted and maxmemory restored. Clients see evictions and a
// falling hit rate, or OOM errors under noeviction.
type memoryPressure struct {
	MaxMemory int64   `param:"maxmemory,size"`
	Fraction  float64 `param:"fraction"`
	Ballast   int64   `param:"ballast,size"`
}

var _ Kind = (*memoryPressure)(nil)

// BallastPrefix is the prefix of the keys a memory-pressure fault writes to
// take memory away from the cache; they are deleted when the fault ends.
const BallastPrefix = "cacheproof:ballast:"

const ballastChunk = 512 << 10

func (*memoryPressure) Traits() Traits { return Traits{For: ForRequired} }

func (k *memoryPressure) Validate(v *Validation) {
	hasMax, hasFrac := v.Has("maxmemory"), v.Has("fraction")
	if hasMax == hasFrac {
		v.Add("", "memory-pressure needs exactly one of maxmemory (e.g. 64mb) or fraction (of current use, e.g. 0.5)")
	}
	if hasMax && k.MaxMemory <= 0 {
		v.Add("maxmemory", "0 would lift the limit, the opposite of pressure; expected a size such as 64mb")
	}
	if hasFrac && (k.Fraction <= 0 || k.Fraction >= 1) {
		v.Add("fraction", "%g out of range, expected more than 0 and less than 1", k.Fraction)
	}
	// ballast: 0 is no ballast.
	if k.Ballast != 0 && v.Site.Shape == topology.ShapeCluster {
		v.Add("ballast", "memory-pressure ballast is written to one node, which a cluster would redirect (MOVED); lower maxmemory alone on a cluster")
	}
}

func (k *memoryPressure) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
	s := &squeeze{k: k, t: t}
	err := s.start(ctx)
	return s.end, err
}

// squeeze is one occurrence: what it changed, so the end undoes only that.
type squeeze struct {
	k         *memoryPressure
	t         *Target
	orig      string // maxmemory before the fault, as CONFIG GET said
	changed   bool
	ballastN  int
	ballastOK int64
}

func (s *squeeze) start(ctx context.Context) error {
	dep, node := s.t.Deployment, s.t.Node.Name
	mem, err := dep.Info(ctx, node, "memory")
	if err != nil {
		return err
	}
	used, _ := strconv.ParseInt(mem["used_memory"], 10, 64)
	v, err := dep.Do(ctx, node, "CONFIG", "GET", "maxmemory")
	if err != nil {
		return err
	}
	orig, err := configValue(v, "maxmemory")
	if err != nil {
		return err
	}
	s.orig = orig
	if s.k.Ballast > 0 {
		payload := strings.Repeat("b", ballastChunk)
		for written := int64(0); written < s.k.Ballast; written += ballastChunk {
			chunk := payload
			if rest := s.k.Ballast - written; rest < ballastChunk {
				chunk = payload[:rest]
			}
			key := BallastPrefix + strconv.Itoa(s.ballastN)
			s.ballastN++
			if _, err := dep.Do(ctx, node, "SET", key, chunk); err != nil {
				s.t.Notef("ballast stopped after %s: %v", fmtBytes(s.ballastOK), err)
				break
			}
			s.ballastOK += int64(len(chunk))
		}
		if s.ballastOK > 0 {
			s.t.Notef("wrote %s of ballast in %d keys under %s", fmtBytes(s.ballastOK), s.ballastN, BallastPrefix)
		}
	}
	limit := s.k.MaxMemory
	if s.k.Fraction > 0 {
		limit = int64(float64(used) * s.k.Fraction)
	}
	// maxmemory 0 means "no limit" to Redis; the smallest real limit is 1.
	limit = max(limit, 1<<20)
	if _, err := dep.Do(ctx, node, "CONFIG", "SET", "maxmemory", strconv.FormatInt(limit, 10)); err != nil {
		return err
	}
	s.changed = true
	// Say what the new limit is measured against: "128mb -> 10.2mb (used
	// 20.5mb)" read as if maxmemory had been halved, when it was set to a
	// share of the memory in use.
	how := fmt.Sprintf("set to %s", fmtBytes(limit))
	if s.k.Fraction > 0 {
		how = fmt.Sprintf("set to %s, %g of the %s in use", fmtBytes(limit), s.k.Fraction, fmtBytes(used))
	} else {
		how += fmt.Sprintf(" (%s in use)", fmtBytes(used))
	}
	s.t.Notef("maxmemory lowered from %s: %s", fmtBytesStr(orig), how)
	return nil
}

func (s *squeeze) end(ctx context.Context) error {
	dep, node := s.t.Deployment, s.t.Node.Name
	var errs []error
	for i := 0; i < s.ballastN; {
		args := []any{"UNLINK"}
		for ; i < s.ballastN && len(args) < 257; i++ {
			args = append(args, BallastPrefix+strconv.Itoa(i))
		}
		if _, err := dep.Do(ctx, node, args...); err != nil {
			errs = append(errs, fmt.Errorf("delete ballast: %w", err))
			break
		}
	}
	if s.changed {
		if _, err := dep.Do(ctx, node, "CONFIG", "SET", "maxmemory", s.orig); err != nil {
			errs = append(errs, fmt.Errorf("restore maxmemory %s: %w", s.orig, err))
		}
	}
	return errors.Join(errs...)
}
