package bots

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/workload"
)

// After a restart empties a real redis-server, an instance re-warms the
// hash and sorted-set keys it had read, not only its strings: each hash
// with the fields it read, each sorted set with its fill, under the
// manager's key prefix and the family's TTL. Read again through the
// driver, every one is a hit, the hashes' values verify, and nothing is
// refilled.
func TestWarmingRewarmsHashAndZSet(t *testing.T) {
	ctx := context.Background()
	dep, cfg := standaloneRedis(t)
	cfg.KeyPrefix = "wt:"
	mgr, err := pool.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Shutdown(ctx)

	fams := []workload.Family{
		{Name: "profile_hash", KeyPattern: "ph:{id}", Keys: 50, Tier: "api", Type: workload.TypeHash, Fields: 8, MeanSize: 128, Source: workload.SourceInternal, Defined: true},
		{Name: "board", KeyPattern: "board:{id}", Keys: 20, Tier: "api", Type: workload.TypeZSet, Members: 20, MeanSize: 128, Source: workload.SourceInternal, Defined: true, Index: 1},
		{Name: "plain", KeyPattern: "plain:{id}", Keys: 20, Tier: "api", MeanSize: 128, Source: workload.SourceInternal, Defined: true, Index: 2},
	}
	fh, fz, fs := &fams[0], &fams[1], &fams[2]
	ttl := map[string]time.Duration{}
	for _, f := range fams {
		ttl[f.Name] = cfg.TTL[pool.Tier(f.Tier)]
	}
	d := New(Options{
		Cache:  mgr,
		Origin: workload.NewOrigin(map[string]workload.OriginConfig{workload.SourceInternal: {Latency: 200 * time.Microsecond}}, 1),
		Ledger: workload.NewLedger(),
		TTL:    ttl,
	})
	d.stats = newLayerStats()
	d.insts = []instance{{c: mgr, hot: newHotSet(64)}}
	d.SetStart(time.Now())

	// Ten hashes read at one field each, the first at a second field too;
	// five sorted sets; three strings.
	var ops []workload.Op
	for i := range 10 {
		ops = append(ops, workload.Op{Kind: workload.OpHGet, Family: fh, Key: fmt.Sprintf("ph:%d", i), Field: fmt.Sprintf("f%d", i%8), Size: 128})
	}
	ops = append(ops, workload.Op{Kind: workload.OpHGet, Family: fh, Key: "ph:0", Field: "f5", Size: 128})
	for i := range 5 {
		ops = append(ops, workload.Op{Kind: workload.OpZRange, Family: fz, Key: fmt.Sprintf("board:%d", i), Size: 128})
	}
	for i := range 3 {
		ops = append(ops, workload.Op{Kind: workload.OpGetOrFetch, Family: fs, Key: fmt.Sprintf("plain:%d", i), Size: 128})
	}
	const wantKeys, wantLoads = 18, 19 // 10 hashes (11 fields), 5 sets, 3 strings
	// readAll reads every op through an engine driving the layer, as the
	// bot's commands do, and returns what it recorded.
	readAll := func() engine.Counts {
		e := engine.New(engine.Options{
			Exec: d, Phases: []engine.Phase{{Name: "reads", Recorded: true, End: time.Hour}}, Families: len(fams), Shards: 1,
			DropAfter: time.Minute, OpTimeout: time.Minute, MaxInflight: 1,
		})
		e.SetStart(time.Now())
		e.Run(make(chan struct{}), &engine.Commands{List: []workload.Command{{Ops: ops}}})
		e.Wait()
		c, _ := e.Recorder().Totals()
		return c
	}
	hits := func(c engine.Counts) (hit, other int) {
		for t := range c.Hits {
			hit += int(c.Hits[t])
			other += int(c.Misses[t] + c.LookupErrs[t])
		}
		return
	}

	// The first reads miss and the driver fills them; the second hit.
	if h, o := hits(readAll()); h != 0 || o != len(ops) {
		t.Fatalf("first reads of an empty Redis: %d hits, %d others; want 0, %d", h, o, len(ops))
	}
	if rec := readAll(); len(rec.Errors) != 0 || rec.Mismatches != 0 {
		t.Fatalf("second reads: errors %v, mismatches %d", rec.Errors, rec.Mismatches)
	} else if h, _ := hits(rec); h != len(ops) {
		t.Fatalf("second reads: %d hits of %d", h, len(ops))
	}

	if err := dep.Stop(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	if err := dep.Start(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	if n, err := dep.Do(ctx, "primary-0", "DBSIZE"); err != nil || n.(int64) != 0 {
		t.Fatalf("after the restart: DBSIZE %v %v, want 0", n, err)
	}
	// The bot's next commands reconnect its pool (the restart broke every
	// pooled connection); warming starts after that.
	for i := 0; mgr.Client().Ping(ctx).Err() != nil; i++ {
		if i == 50 {
			t.Fatal("the manager never reconnected")
		}
		time.Sleep(20 * time.Millisecond)
	}

	w := d.warm(ctx, 0, "restart @0s", 0, nil)
	t.Logf("warming: %+v", w)
	if w.hot != wantKeys || w.keys != wantKeys || w.loads != wantLoads || w.loadErrs != 0 || w.writeErrs != 0 || w.metaKeys != 0 {
		t.Errorf("warming: hot %d keys %d loads %d (load errors %d, write errors %d); want hot and keys %d, loads %d, no errors",
			w.hot, w.keys, w.loads, w.loadErrs, w.writeErrs, wantKeys, wantLoads)
	}
	if len(d.stats.warms) != 1 {
		t.Errorf("warmings recorded: %d, want 1", len(d.stats.warms))
	}
	if n, err := dep.Do(ctx, "primary-0", "DBSIZE"); err != nil || n.(int64) != wantKeys {
		t.Errorf("after warming: DBSIZE %v %v, want %d", n, err, wantKeys)
	}
	apiTTL := cfg.TTL[pool.TierAPI]
	for _, c := range []struct{ key, typ string }{{"wt:ph:0", "hash"}, {"wt:ph:9", "hash"}, {"wt:board:4", "zset"}, {"wt:plain:2", "string"}} {
		if typ, err := dep.Do(ctx, "primary-0", "TYPE", c.key); err != nil || typ != c.typ {
			t.Errorf("%s: TYPE %v %v, want %s", c.key, typ, err, c.typ)
		}
		ms, err := dep.Do(ctx, "primary-0", "PTTL", c.key)
		if p, _ := ms.(int64); err != nil || p <= 0 || time.Duration(p)*time.Millisecond > apiTTL || time.Duration(p)*time.Millisecond < apiTTL-time.Minute {
			t.Errorf("%s: PTTL %v %v, want close to the api tier's %s", c.key, ms, err, apiTTL)
		}
	}
	if n, err := dep.Do(ctx, "primary-0", "HLEN", "wt:ph:0"); err != nil || n.(int64) != 2 {
		t.Errorf("wt:ph:0: HLEN %v %v, want its 2 fields read", n, err)
	}
	if n, err := dep.Do(ctx, "primary-0", "ZCARD", "wt:board:0"); err != nil || n.(int64) != int64(len(ZSetFill(fz))) {
		t.Errorf("wt:board:0: ZCARD %v %v, want the fill's %d", n, err, len(ZSetFill(fz)))
	}

	setsBefore := mgr.Stats().Sets
	rec := readAll()
	h, o := hits(rec)
	t.Logf("read back: %d hits, %d others, %d checked, %d mismatches, errors %v", h, o, rec.Checked, rec.Mismatches, rec.Errors)
	if h != len(ops) || o != 0 {
		t.Errorf("read back after warming: %d hits, %d others of %d reads; want every read a hit", h, o, len(ops))
	}
	// Hash fields and strings carry versioned values: all 14 verified.
	if rec.Checked != 14 || rec.Mismatches != 0 || len(rec.Errors) != 0 {
		t.Errorf("read back: %d verified (want 14), %d mismatches, errors %v", rec.Checked, rec.Mismatches, rec.Errors)
	}
	if s := mgr.Stats().Sets; s != setsBefore {
		t.Errorf("read back refilled %d keys: warming left them out", s-setsBefore)
	}
	top, found, err := mgr.ZRange(ctx, "board:3", zrangeTop)
	want := make([]string, 0, zrangeTop)
	for _, m := range ZSetFill(fz)[:zrangeTop] {
		want = append(want, m.Member)
	}
	if err != nil || !found || !slices.Equal(top, want) {
		t.Errorf("board:3 top %d: %v %v %v, want the fill's %v", zrangeTop, top, found, err, want)
	}
}
