package harness

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/cacheproof/cacheproof/bots"
	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// shifted hides the replayed history from the driver: commands after it
// come with their offsets and phase numbers as if the run began there.
type shifted struct {
	s    *workload.Schedule
	by   time.Duration
	peek *workload.Command
}

func (x *shifted) Next() (workload.Command, bool) {
	if x.peek != nil {
		c := *x.peek
		x.peek = nil
		return c, true
	}
	c, ok := x.s.Next()
	if ok {
		c.At -= x.by
		c.Phase--
	}
	return c, ok
}

func (x *shifted) Active() int { return x.s.Active() }

type prefillEntry struct {
	fam  *workload.Family
	at   time.Duration // virtual time of the last write (or TTL refresh)
	size int
	// fields are the fields a hash holds, or the members a sorted set's
	// writes added; filled marks a sorted set its read's miss filled.
	fields []string
	filled bool
}

// typed applies a write (of a field, or of the whole value), or a read's
// miss fill, of a hash field or sorted set to e (a fresh entry when the key was not alive): the key's TTL is
// set again (HSET and ZADD with EXPIRE), and the field or member added.
func typed(e prefillEntry, live bool, op *workload.Op, at time.Duration) prefillEntry {
	if !live {
		e = prefillEntry{fam: op.Family}
	}
	e.at, e.size = at, op.Size
	switch {
	case op.Kind == workload.OpHSetAll || op.Kind == workload.OpZAddAll:
		// A whole-value write sets every field or member the family
		// names (a replace drops the others: there are none), so the
		// members a fill would add are among them.
		e.fields = slices.Clone(op.Family.Names)
		e.filled = false
	case op.Field != "" && !slices.Contains(e.fields, op.Field):
		e.fields = append(e.fields, op.Field)
	case op.Field == "" && op.Family.Type == workload.TypeZSet:
		e.filled = true
	}
	return e
}

// alive reports whether key is in the replayed cache at virtual time at.
func alive(state map[string]prefillEntry, key string, life, at time.Duration) bool {
	e, ok := state[key]
	return ok && (life == 0 || at < e.at+life)
}

// prefillResult says what the replay left in the cache.
type prefillResult struct {
	commands int
	keys     int
	took     time.Duration
}

// prefill puts the cache in the state it would be in after `history` of
// the same workload, without spending that long: it replays the schedule's
// first `history` of commands in simulation (a read that would miss writes
// the key, touches refresh TTLs, deletes delete), then bulk-writes every key
// still alive at the end with its remaining TTL, oldest first so an LRU
// cache keeps what it would have kept. Expiries are then staggered as in
// production, instead of all falling due one TTL after a cold start, and
// the ledger knows when each key was "written", so misses classify as they
// would have.
//
// sched must have been built with a first phase of length history; the
// returned source continues with the phases after it.
func prefill(ctx context.Context, sched *workload.Schedule, history time.Duration, mgr *pool.Manager, ledger *workload.Ledger, ttl map[string]time.Duration, version func() uint32) (engine.Source, prefillResult, error) {
	began := time.Now()
	src := &shifted{s: sched, by: history}
	state := make(map[string]prefillEntry, 1<<16)
	var res prefillResult
	for {
		c, ok := sched.Next()
		if !ok {
			break
		}
		if c.Phase > 0 {
			c.At -= history
			c.Phase--
			src.peek = &c
			break
		}
		res.commands++
		if res.commands%65536 == 0 && ctx.Err() != nil {
			return nil, res, ctx.Err()
		}
		replay(state, &c, ttl)
	}
	n, err := writeAlive(ctx, state, history, mgr, ledger, ttl, version)
	if err != nil {
		return nil, res, err
	}
	res.keys = n
	res.took = time.Since(began)
	return src, res, nil
}

// replay applies one command of the history to the replayed cache.
func replay(state map[string]prefillEntry, c *workload.Command, ttl map[string]time.Duration) {
	for i := range c.Ops {
		op := &c.Ops[i]
		k := op.Kind
		if k.Limits() {
			// Counters live one window and hold integers: nothing a
			// replay should leave behind.
			continue
		}
		if k == workload.OpMGet {
			for j, key := range op.Keys {
				f := engine.KeyFamily(op, j)
				if !alive(state, key, ttl[f.Name], c.At) {
					state[key] = prefillEntry{fam: f, at: c.At, size: op.Sizes[j]}
				}
			}
			continue
		}
		life := ttl[op.Family.Name]
		live := alive(state, op.Key, life, c.At)
		if t := op.Family.Type; t == workload.TypeHash || t == workload.TypeZSet {
			e := state[op.Key]
			switch {
			case k.Deletes():
				delete(state, op.Key)
			case k.Writes():
				state[op.Key] = typed(e, live, op, c.At)
			case k.Reads() && (!live || (op.Field != "" && !slices.Contains(e.fields, op.Field))):
				// A read that would miss (the key, or a hash field it does
				// not hold) fills what it read.
				state[op.Key] = typed(e, live, op, c.At)
			}
			continue
		}
		switch {
		case k.Deletes():
			delete(state, op.Key)
		case k.Writes():
			state[op.Key] = prefillEntry{fam: op.Family, at: c.At, size: op.Size}
		case k.Refreshes() && live:
			e := state[op.Key]
			e.at = c.At
			state[op.Key] = e
		case k.Reads() && !live:
			// A read that would miss fills the key (cache-aside).
			state[op.Key] = prefillEntry{fam: op.Family, at: c.At, size: op.Size}
		}
		if k == workload.OpUpdate {
			// The keys an update makes obsolete are deleted.
			for _, key := range op.Keys {
				delete(state, key)
			}
		}
	}
}

// writeAlive bulk-writes every key of state still alive at history's end,
// with its remaining TTL, oldest first, and tells the ledger when each was
// written; it returns how many it wrote.
func writeAlive(ctx context.Context, state map[string]prefillEntry, history time.Duration, mgr *pool.Manager, ledger *workload.Ledger, ttl map[string]time.Duration, version func() uint32) (int, error) {
	type kv struct {
		key string
		e   prefillEntry
		rem time.Duration
	}
	alive := make([]kv, 0, len(state))
	for k, e := range state {
		life := ttl[e.fam.Name]
		var rem time.Duration
		if life > 0 {
			rem = e.at + life - history
			if rem < time.Millisecond {
				continue
			}
		}
		alive = append(alive, kv{k, e, rem})
	}
	clear(state)
	sort.Slice(alive, func(i, j int) bool { return alive[i].e.at < alive[j].e.at })

	now := time.Now()
	const batch = 512
	items := make([]pool.Item, 0, batch)
	flush := func() error {
		if len(items) == 0 {
			return nil
		}
		err := mgr.SetBatch(ctx, items, batch)
		items = items[:0]
		return err
	}
	add := func(it pool.Item) error {
		items = append(items, it)
		if len(items) == batch {
			if err := flush(); err != nil {
				return fmt.Errorf("prefill: %w", err)
			}
		}
		return nil
	}
	for _, a := range alive {
		written := now.Add(a.e.at - history)
		life := ttl[a.e.fam.Name]
		switch a.e.fam.Type {
		case workload.TypeHash:
			// Every field the hash holds at the history's end, each as its
			// own HSET (the key's TTL set with each).
			for _, f := range a.e.fields {
				if err := add(pool.Item{Key: a.key, Field: f, Val: workload.Value(a.key, version(), a.e.size), TTL: a.rem}); err != nil {
					return 0, err
				}
				ledger.WroteField(a.key, f, written, life)
			}
			continue
		case workload.TypeZSet:
			// The members its fill and its writes left.
			var members []pool.ZMember
			if a.e.filled {
				members = bots.ZSetFill(a.e.fam)
			}
			for _, m := range a.e.fields {
				members = append(members, pool.ZMember{Member: m, Score: float64(version())})
			}
			if err := add(pool.Item{Key: a.key, Members: members, TTL: a.rem}); err != nil {
				return 0, err
			}
		default:
			if err := add(pool.Item{Key: a.key, Val: workload.Value(a.key, version(), a.e.size), TTL: a.rem}); err != nil {
				return 0, err
			}
		}
		ledger.Wrote(a.key, written, life)
	}
	if err := flush(); err != nil {
		return 0, fmt.Errorf("prefill: %w", err)
	}
	return len(alive), nil
}
