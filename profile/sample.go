package profile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Key is one sampled key and what the profiler read of it.
type Key struct {
	Key  string `json:"key"`
	Type string `json:"type"`
	// Mem is MEMORY USAGE in bytes, -1 when it could not be read.
	Mem int64 `json:"mem"`
	// TTLms is PTTL: -1 for a key without expiry.
	TTLms int64 `json:"ttl_ms"`
	// Freq is OBJECT FREQ (LFU policies), Idle OBJECT IDLETIME in seconds
	// (the others); -1 when not read.
	Freq int64 `json:"freq"`
	Idle int64 `json:"idle"`
	// Len is the string's length, the hash's fields, the set's members.
	Len int64 `json:"len"`
	// Elem is the mean size of the sampled field values (hash) or members
	// (zset, set), -1 when not read; for a string its length.
	Elem float64 `json:"elem"`
	// Names are the sampled field names of a hash (HRANDFIELD).
	Names []string `json:"-"`
}

// Unread counts, per command, the replies that could not be read and why
// (the first error's text): MEMORY USAGE denied by an ACL, OBJECT FREQ
// without an LFU policy, ...
type Unread map[string]*UnreadEntry

// UnreadEntry is one command the profiler could not read.
type UnreadEntry struct {
	Count int    `json:"count"`
	Why   string `json:"why"`
}

func (u Unread) add(cmd string, err error) {
	e := u[cmd]
	if e == nil {
		e = &UnreadEntry{Why: err.Error()}
		u[cmd] = e
	}
	e.Count++
}

// SampleOptions bound the keyspace sample.
type SampleOptions struct {
	// Keys is the sample's size over every node (each node's share in
	// proportion to its DBSIZE).
	Keys int
	// Elems is how many fields/members of a hash or sorted set are read to
	// measure their sizes (HRANDFIELD/ZRANDMEMBER).
	Elems int
	// LFU says the policy is an LFU one: OBJECT FREQ is read, else OBJECT
	// IDLETIME.
	LFU bool
}

// sampleNode reads up to want keys of one node by SCAN, pipelined in
// batches. SCAN walks the hash table's buckets, whose order is unrelated
// to the keys' names, so its first keys are close to a uniform sample.
// complete says SCAN came back to cursor 0: every key was read, the
// sample is a census.
func sampleNode(ctx context.Context, n *node, want int, o SampleOptions, unread Unread) (out []Key, complete bool, err error) {
	seen := map[string]bool{}
	var cursor uint64
	for len(out) < want {
		var keys []string
		keys, cursor, err = n.c.Scan(ctx, cursor, "", 200).Result()
		if err != nil {
			if ctx.Err() != nil {
				return out, false, nil
			}
			return out, false, fmt.Errorf("SCAN on %s: %w", n.addr, err)
		}
		var batch []string
		for _, k := range keys {
			if !seen[k] && len(out)+len(batch) < want {
				seen[k] = true
				batch = append(batch, k)
			}
		}
		for len(batch) > 0 {
			b := batch[:min(len(batch), 50)]
			batch = batch[len(b):]
			ks, err := readKeys(ctx, n, b, o, unread)
			out = append(out, ks...)
			if err != nil {
				if ctx.Err() != nil {
					return out, false, nil
				}
				return out, false, err
			}
		}
		if cursor == 0 {
			return out, true, nil
		}
	}
	return out, false, nil
}

// readKeys reads one batch of keys in two pipelines: what every key has
// (TYPE, MEMORY USAGE, PTTL, OBJECT FREQ|IDLETIME), then what its type
// has (STRLEN, HLEN + HRANDFIELD, ZCARD + ZRANDMEMBER, SCARD, LLEN).
func readKeys(ctx context.Context, n *node, keys []string, o SampleOptions, unread Unread) ([]Key, error) {
	p := n.c.Pipeline()
	type first struct{ typ, mem, ttl, obj *redis.Cmd }
	cmds := make([]first, len(keys))
	objSub := "idletime"
	if o.LFU {
		objSub = "freq"
	}
	for i, k := range keys {
		cmds[i] = first{p.Do(ctx, "type", k), p.Do(ctx, "memory", "usage", k), p.Do(ctx, "pttl", k), p.Do(ctx, "object", objSub, k)}
	}
	if _, err := p.Exec(ctx); err != nil && !isReplyErr(err) {
		return nil, fmt.Errorf("read keys on %s: %w", n.addr, err)
	}
	out := make([]Key, 0, len(keys))
	for i, k := range keys {
		c := cmds[i]
		typ, err := c.typ.Text()
		if err != nil {
			unread.add("TYPE", err)
			continue
		}
		if typ == "none" {
			continue // expired or deleted since SCAN
		}
		kk := Key{Key: k, Type: typ, Mem: -1, TTLms: -1, Freq: -1, Idle: -1, Elem: -1}
		if v, err := c.mem.Int64(); err == nil {
			kk.Mem = v
		} else {
			unread.add("MEMORY USAGE", err)
		}
		if v, err := c.ttl.Int64(); err == nil {
			if v == -2 {
				continue
			}
			kk.TTLms = v
		} else {
			unread.add("PTTL", err)
		}
		if v, err := c.obj.Int64(); err == nil {
			if o.LFU {
				kk.Freq = v
			} else {
				kk.Idle = v
			}
		} else {
			unread.add("OBJECT "+strings.ToUpper(objSub), err)
		}
		out = append(out, kk)
	}
	p = n.c.Pipeline()
	type second struct{ n, elems, gone *redis.Cmd }
	sc := make([]second, len(out))
	elems := max(o.Elems, 1)
	for i, k := range out {
		// A key that expires between the two pipelines reads as empty
		// (STRLEN 0): its PTTL, read again after, says it is gone.
		switch k.Type {
		case "string":
			sc[i].n = p.Do(ctx, "strlen", k.Key)
		case "hash":
			sc[i].n = p.Do(ctx, "hlen", k.Key)
			sc[i].elems = p.Do(ctx, "hrandfield", k.Key, elems, "withvalues")
		case "zset":
			sc[i].n = p.Do(ctx, "zcard", k.Key)
			sc[i].elems = p.Do(ctx, "zrandmember", k.Key, elems)
		case "set":
			sc[i].n = p.Do(ctx, "scard", k.Key)
		case "list":
			sc[i].n = p.Do(ctx, "llen", k.Key)
		}
		sc[i].gone = p.Do(ctx, "pttl", k.Key)
	}
	if _, err := p.Exec(ctx); err != nil && !isReplyErr(err) {
		return out, fmt.Errorf("read key sizes on %s: %w", n.addr, err)
	}
	kept := make([]Key, 0, len(out))
	for i := range out {
		k := &out[i]
		if v, err := sc[i].gone.Int64(); err == nil && v == -2 {
			continue
		}
		if sc[i].n != nil {
			if v, err := sc[i].n.Int64(); err == nil {
				k.Len = v
			} else {
				unread.add(strings.ToUpper(fmt.Sprint(sc[i].n.Args()[0])), err)
			}
		}
		if k.Type == "string" {
			k.Elem = float64(k.Len)
		}
		kept = append(kept, *k)
		if sc[i].elems == nil {
			continue
		}
		vals, err := sc[i].elems.StringSlice()
		if err != nil {
			unread.add(strings.ToUpper(fmt.Sprint(sc[i].elems.Args()[0])), err)
			continue
		}
		k = &kept[len(kept)-1]
		if k.Type == "hash" {
			k.Names = everyOther(append([]string{""}, vals...)) // field, value, ...: the fields
			vals = everyOther(vals)                             // and the values
		}
		if len(vals) > 0 {
			sum := 0
			for _, v := range vals {
				sum += len(v)
			}
			k.Elem = float64(sum) / float64(len(vals))
		}
	}
	return kept, nil
}

// everyOther returns the odd elements (a WITHVALUES reply's values).
func everyOther(s []string) []string {
	var out []string
	for i := 1; i < len(s); i += 2 {
		out = append(out, s[i])
	}
	return out
}

// isReplyErr reports whether err is a reply of the server (a command it
// refused: NOPERM, an LFU-only OBJECT FREQ) rather than a broken
// connection; a pipeline returns the first command's error.
func isReplyErr(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, ErrRefused)
}

// sampleShares splits want over the nodes in proportion to their DBSIZE,
// each at least one key when it has any.
func sampleShares(sizes []int64, want int) []int {
	var total int64
	for _, s := range sizes {
		total += s
	}
	out := make([]int, len(sizes))
	if total == 0 {
		return out
	}
	for i, s := range sizes {
		if s > 0 {
			out[i] = max(1, int(float64(want)*float64(s)/float64(total)+0.5))
		}
	}
	return out
}

// sortKeys orders a sample by key, so the report and its tests do not
// depend on the order SCAN visited the nodes.
func sortKeys(ks []Key) { sort.Slice(ks, func(i, j int) bool { return ks[i].Key < ks[j].Key }) }
