package pool

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Hash and sorted-set commands on a real Redis: prefixed keys, the tier's
// TTL on every write (none for persistent), hits and misses counted, and a
// type clash reported as an error, never as a miss.
func TestHashAndSortedSet(t *testing.T) {
	d, m, ctx := standaloneWithTTL(t, TierAPI, 10*time.Second)

	if _, found, err := m.HGet(ctx, "profile:1", "name"); err != nil || found {
		t.Fatalf("HGet on an absent hash: found %v err %v", found, err)
	}
	if err := m.HSet(ctx, "profile:1", "name", "axe", TierAPI); err != nil {
		t.Fatal(err)
	}
	v, found, err := m.HGet(ctx, "profile:1", "name")
	if err != nil || !found || v != "axe" {
		t.Fatalf("HGet = %q %v %v", v, found, err)
	}
	if _, found, _ := m.HGet(ctx, "profile:1", "other"); found {
		t.Error("HGet of an absent field found it")
	}
	if ttl, _ := d.Do(ctx, "primary-0", "PTTL", "cacheproof:profile:1"); ttl.(int64) < 9000 {
		t.Errorf("HSet with the api tier left PTTL %v, want ~10000", ttl)
	}
	if err := m.HSet(ctx, "profile:2", "name", "lina", TierPersistent); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := d.Do(ctx, "primary-0", "TTL", "cacheproof:profile:2"); ttl.(int64) != -1 {
		t.Errorf("HSet with the persistent tier left TTL %v, want none (-1)", ttl)
	}

	if _, found, err := m.ZRange(ctx, "lb:1", 3); err != nil || found {
		t.Fatalf("ZRange on an absent set: found %v err %v", found, err)
	}
	if err := m.ZAdd(ctx, "lb:1", TierAPI, ZMember{"a", 1}, ZMember{"b", 3}, ZMember{"c", 2}, ZMember{"d", 0}); err != nil {
		t.Fatal(err)
	}
	top, found, err := m.ZRange(ctx, "lb:1", 3)
	if err != nil || !found || !slices.Equal(top, []string{"b", "c", "a"}) {
		t.Fatalf("ZRange top 3 = %v %v %v, want [b c a]", top, found, err)
	}
	if ttl, _ := d.Do(ctx, "primary-0", "PTTL", "cacheproof:lb:1"); ttl.(int64) < 9000 {
		t.Errorf("ZAdd with the api tier left PTTL %v", ttl)
	}

	// A string key read as a hash is WRONGTYPE: an error, not a miss.
	if err := m.Set(ctx, "plain", "x", TierAPI); err != nil {
		t.Fatal(err)
	}
	if _, found, err := m.HGet(ctx, "plain", "f"); err == nil || found {
		t.Errorf("HGet on a string: found %v err %v, want an error", found, err)
	}
	st := m.Stats()
	if st.Hits != 2 || st.Misses != 3 || st.Errors != 1 || st.Sets < 4 {
		t.Errorf("stats: hits %d misses %d errors %d sets %d, want 2 3 1 >=4", st.Hits, st.Misses, st.Errors, st.Sets)
	}
	seen := map[string]bool{}
	for _, cl := range m.CommandLatencies() {
		seen[cl.Command] = true
	}
	for _, c := range []string{"hget", "hset", "zadd", "zrange"} {
		if !seen[c] {
			t.Errorf("no client latency recorded for %s: %v", c, seen)
		}
	}
}

// A whole-value write on a real Redis: every field in one HSET (or member
// in one ZADD) with the key's TTL; Overwrite keeps fields the new value
// does not name, both replace modes drop them, and only ReplaceMulti goes
// through MULTI/EXEC (Redis's own command counts say which ran).
func TestWholeValueWrites(t *testing.T) {
	d, m, ctx := standaloneWithTTL(t, TierAPI, 10*time.Second)
	calls := func(cmd string) int64 {
		t.Helper()
		reply, err := d.Do(ctx, "primary-0", "INFO", "commandstats")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(reply.(string), "\n") {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls="); ok {
				n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
				return n
			}
		}
		return 0
	}
	hlen := func(key string) int64 {
		t.Helper()
		n, err := d.Do(ctx, "primary-0", "HLEN", "cacheproof:"+key)
		if err != nil {
			t.Fatal(err)
		}
		return n.(int64)
	}
	fields, vals := []string{"f0", "f1", "f2"}, []string{"a", "b", "c"}
	for _, c := range []struct {
		how       Replace
		wantLen   int64
		wantMulti int64
	}{{Overwrite, 4, 0}, {ReplaceMulti, 3, 1}, {ReplacePipeline, 3, 0}} {
		key := "surge:" + c.how.String()
		if err := m.HSet(ctx, key, "stale", "x", TierAPI); err != nil {
			t.Fatal(err)
		}
		before := calls("exec")
		if err := m.HSetAll(ctx, key, fields, vals, TierAPI, c.how); err != nil {
			t.Fatalf("%s: %v", c.how, err)
		}
		if got := hlen(key); got != c.wantLen {
			t.Errorf("%s: HLEN %d, want %d", c.how, got, c.wantLen)
		}
		if v, found, err := m.HGet(ctx, key, "f2"); err != nil || !found || v != "c" {
			t.Errorf("%s: f2 = %q %v %v", c.how, v, found, err)
		}
		if ttl, _ := d.Do(ctx, "primary-0", "PTTL", "cacheproof:"+key); ttl.(int64) < 9000 {
			t.Errorf("%s: PTTL %v, want ~10000", c.how, ttl)
		}
		if got := calls("exec") - before; got != c.wantMulti {
			t.Errorf("%s: %d EXEC, want %d", c.how, got, c.wantMulti)
		}
	}
	if err := m.ZAdd(ctx, "lb:w", TierAPI, ZMember{"old", 9}); err != nil {
		t.Fatal(err)
	}
	if err := m.ZAddAll(ctx, "lb:w", TierAPI, ReplaceMulti, ZMember{"a", 1}, ZMember{"b", 2}); err != nil {
		t.Fatal(err)
	}
	if top, found, err := m.ZRange(ctx, "lb:w", 5); err != nil || !found || !slices.Equal(top, []string{"b", "a"}) {
		t.Errorf("ZRange after a replacing ZAddAll = %v %v %v, want [b a]", top, found, err)
	}
	if err := m.HSetAll(ctx, "h", []string{"a"}, nil, TierAPI, Overwrite); err == nil {
		t.Error("HSetAll with fields and values of different lengths: no error")
	}
}
