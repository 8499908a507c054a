package profile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/internal/redistext"
)

// Traffic is what INFO's deltas over the window say: the command mix, the
// rate and the server's hit rate, summed over the nodes read.
type Traffic struct {
	Window  time.Duration `json:"window"`
	OpsPerS float64       `json:"ops_per_s"`
	// Commands is each command's calls in the window, Mix its share.
	Commands map[string]int64   `json:"commands"`
	Mix      map[string]float64 `json:"mix"`
	// Hits and Misses are keyspace_hits/keyspace_misses in the window;
	// HitRate their ratio (-1 with no lookups).
	Hits    int64   `json:"hits"`
	Misses  int64   `json:"misses"`
	HitRate float64 `json:"hit_rate"`
	// Reads, Writes and Other count the window's calls by kind (Other:
	// scripts, connection and admin commands); WriteShare is
	// writes/(reads+writes).
	Reads  int64 `json:"reads"`
	Writes int64 `json:"writes"`
	// Deletes are the writes that delete keys (DEL, UNLINK calls).
	Deletes    int64   `json:"deletes"`
	Other      int64   `json:"other"`
	WriteShare float64 `json:"write_share"`
	// Evicted and Expired are evicted_keys and expired_keys in the window.
	Evicted int64 `json:"evicted"`
	Expired int64 `json:"expired"`
}

// snapshot is one node's INFO stats and commandstats.
type snapshot struct {
	at    time.Time
	calls map[string]int64
	stats map[string]string
}

func takeSnapshot(ctx context.Context, n *node) (snapshot, error) {
	text, err := n.c.Info(ctx, "stats", "commandstats").Result()
	if err != nil {
		return snapshot{}, fmt.Errorf("INFO on %s: %w", n.addr, err)
	}
	kv := redistext.ParseInfo(text)
	s := snapshot{at: time.Now(), calls: map[string]int64{}, stats: kv}
	for k, v := range kv {
		name, ok := strings.CutPrefix(k, "cmdstat_")
		if !ok {
			continue
		}
		for part := range strings.SplitSeq(v, ",") {
			if c, ok := strings.CutPrefix(part, "calls="); ok {
				s.calls[name], _ = strconv.ParseInt(c, 10, 64)
			}
		}
	}
	return s, nil
}

func statInt(kv map[string]string, k string) int64 {
	v, _ := strconv.ParseInt(kv[k], 10, 64)
	return v
}

// trafficOf turns the snapshots at the window's start and end into the
// traffic of the window, less own: the profiler's own commands in it
// (INFO at its ends, on every node; the probe's PINGs; MONITOR).
func trafficOf(start, end []snapshot, own map[string]int64) Traffic {
	t := Traffic{Commands: map[string]int64{}, Mix: map[string]float64{}, HitRate: -1}
	var window time.Duration
	own = maps.Clone(own)
	for i := range start {
		a, b := start[i], end[i]
		window = max(window, b.at.Sub(a.at))
		for name, c := range b.calls {
			d := c - a.calls[name]
			take := min(d, own[name])
			own[name] -= take
			if d -= take; d > 0 {
				t.Commands[name] += d
			}
		}
		t.Hits += statInt(b.stats, "keyspace_hits") - statInt(a.stats, "keyspace_hits")
		t.Misses += statInt(b.stats, "keyspace_misses") - statInt(a.stats, "keyspace_misses")
		t.Evicted += statInt(b.stats, "evicted_keys") - statInt(a.stats, "evicted_keys")
		t.Expired += statInt(b.stats, "expired_keys") - statInt(a.stats, "expired_keys")
	}
	t.Window = window
	var total int64
	for name, c := range t.Commands {
		total += c
		switch commandKind(name) {
		case kindRead:
			t.Reads += c
		case kindWrite:
			t.Writes += c
			if deleteCmds[name] {
				t.Deletes += c
			}
		default:
			t.Other += c
		}
	}
	for name, c := range t.Commands {
		t.Mix[name] = float64(c) / float64(max(total, 1))
	}
	if window > 0 {
		t.OpsPerS = float64(total) / window.Seconds()
	}
	if t.Hits+t.Misses > 0 {
		t.HitRate = float64(t.Hits) / float64(t.Hits+t.Misses)
	}
	if t.Reads+t.Writes > 0 {
		t.WriteShare = float64(t.Writes) / float64(t.Reads+t.Writes)
	}
	return t
}

// Command kinds for the mix and the observed stream.
const (
	kindOther = iota
	kindRead
	kindWrite
)

var (
	readCmds  = words("get mget getex getdel hget hmget hgetall hexists hstrlen hkeys hvals hlen zrange zrangebyscore zrevrange zrevrangebyscore zrangebylex zscore zmscore zrank zrevrank zcard zcount smembers sismember smismember scard srandmember lrange lindex llen exists strlen getrange ttl pttl type")
	writeCmds = words("set setex psetex setnx getset mset msetnx append incr incrby incrbyfloat decr decrby hset hsetnx hmset hdel hincrby hincrbyfloat zadd zrem zincrby zremrangebyrank zremrangebyscore sadd srem spop lpush rpush lpop rpop lrem ltrim lset del unlink persist rename")
	// ttlCmds set a key's expiry: a cache sends them beside the write they
	// belong to (HSET then EXPIRE in one pipeline), so they are not
	// commands of their own in the observed mix.
	ttlCmds = words("expire pexpire expireat pexpireat")
	// deleteCmds are the writes that remove their keys: a cache's
	// invalidations, replayed as the family's delete share.
	deleteCmds = words("del unlink")
)

func words(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.Fields(s) {
		out[w] = true
	}
	return out
}

// commandKind says whether a command (lower case, as commandstats names
// it) reads or writes keys, or neither (scripts, connection, admin).
func commandKind(name string) int {
	switch {
	case readCmds[name]:
		return kindRead
	case writeCmds[name]:
		return kindWrite
	}
	return kindOther
}

// topCommands lists a mix's commands from the largest share.
func topCommands(mix map[string]float64) []string {
	names := slices.Collect(maps.Keys(mix))
	sort.Slice(names, func(i, j int) bool {
		if mix[names[i]] != mix[names[j]] {
			return mix[names[i]] > mix[names[j]]
		}
		return names[i] < names[j]
	})
	return names
}
