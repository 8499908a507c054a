package profile

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPlaceholdersByKind(t *testing.T) {
	for _, c := range []struct{ key, pattern, scenario string }{
		{"user:123:cart", "user:{user_id}:cart", "user:{user_id}:cart"},
		{"session:1234567890123456789", "session:{session_id}", "session:{session_id}"},
		{"img/ab12cd34ef/thumb.png", "img/{img_id}/thumb.png", "img/{img_id}/thumb.png"},
		{"order#550e8400-e29b-41d4-a716-446655440000|lines", "order#{order_id}|lines", "order#{order_id}|lines"},
		{"tok.QmFzZTY0SWRUb2tlbg9", "tok.{tok_id}", "tok.{tok_id}"},
		{"meta:heroes", "meta:heroes", "meta:heroes"},
		{"42:x", "{id}:x", "{id}:x"},
		{"a:1:b:2", "a:{a_id}:b:{b_id}", "a:{a_id}"},
	} {
		segs := split(c.key)
		gp := GroupedPattern{segs: segs}
		if got := render(segs); got != c.pattern {
			t.Errorf("%s: pattern %s, want %s", c.key, got, c.pattern)
		}
		if got := gp.scenarioPattern(); got != c.scenario {
			t.Errorf("%s: scenario pattern %s, want %s", c.key, got, c.scenario)
		}
	}
}

func TestInferMergesAlikeVariants(t *testing.T) {
	var keys []Key
	add := func(format string, n int, typ string, ttl int64, size float64) {
		for i := range n {
			keys = append(keys, Key{Key: fmt.Sprintf(format, 100+i), Type: typ, TTLms: ttl, Elem: size, Mem: int64(size) + 50})
		}
	}
	// Rate-limit counters per command: one family, whatever the tail.
	for _, c := range []string{"profile", "matches", "link_account", "settings_update"} {
		add("ratelimit:%d:"+c, 20, "string", 59_000, 1)
	}
	// Rare locale keys of one shape: merged into lang:{lang}.
	for _, l := range []string{"en", "fr", "de", "es"} {
		keys = append(keys, Key{Key: "lang:" + l, Type: "string", TTLms: -1, Elem: 300, Mem: 350})
	}
	// Two big constant keys of different sizes: kept apart.
	keys = append(keys, Key{Key: "meta:heroes", Type: "string", TTLms: 3_600_000, Elem: 51200, Mem: 52000},
		Key{Key: "meta:items", Type: "string", TTLms: 3_600_000, Elem: 30720, Mem: 31000})
	// Two families under one prefix, of different types: kept apart.
	add("user:%d:cart", 50, "string", 1_800_000, 512)
	add("user:%d:seen", 50, "zset", -1, 10)
	add("user:%d:prefs", 50, "hash", -1, 40)
	g := Infer(keys, DefaultMerge(len(keys)))
	var got []string
	for _, p := range g.Patterns {
		got = append(got, fmt.Sprintf("%s=%d", p.Pattern, len(p.Keys)))
	}
	slices.Sort(got)
	want := []string{"lang:{lang}=4", "meta:heroes=1", "meta:items=1", "ratelimit:{ratelimit_id}:{id}=80", "user:{user_id}:cart=50", "user:{user_id}:prefs=50", "user:{user_id}:seen=50"}
	if !slices.Equal(got, want) {
		t.Errorf("families\n got %v\nwant %v", got, want)
	}
	for _, p := range g.Patterns {
		for _, ki := range p.Keys {
			if i := g.Match(keys[ki].Key); g.Patterns[i].Pattern != p.Pattern {
				t.Errorf("Match(%s) = %s, want %s", keys[ki].Key, g.Patterns[i].Pattern, p.Pattern)
			}
		}
	}
	if i := g.Match("ratelimit:999:brand_new_command"); i < 0 || g.Patterns[i].Name != "ratelimit" {
		t.Errorf("a new command's counter matched %d", i)
	}
}

func TestFits(t *testing.T) {
	fixed := fitSizes([]float64{512, 512, 512, 512})
	if fixed.Kind != "fixed" || fixed.Mean != 512 || fixed.KS != 0 {
		t.Errorf("fixed sizes fitted as %+v", fixed)
	}
	var uni []float64
	for i := range 1000 {
		uni = append(uni, 1024+float64(i)*2.048)
	}
	if f := fitSizes(uni); f.Kind != "uniform" || f.KS > 0.02 {
		t.Errorf("uniform sizes fitted as %+v", f)
	}
	for _, c := range []struct {
		maxMs int64
		ttl   time.Duration
		tier  string
	}{
		{299_400, 300 * time.Second, "api"},
		{599_100, 10 * time.Minute, ""},
		{36_800, 37 * time.Second, ""},
		{119_950, 2 * time.Minute, ""},
	} {
		f := fitTTL([]int64{c.maxMs / 2, c.maxMs, -1}, tierTTLs())
		if f.TTL != c.ttl || f.Tier != c.tier || f.NoTTLShare < 0.33 || f.NoTTLShare > 0.34 {
			t.Errorf("max PTTL %d ms: %+v, want %s %q", c.maxMs, f, c.ttl, c.tier)
		}
	}
	// A 30-minute TTL whose oldest sampled key is ten minutes old has
	// not turned over; one with a key a second from expiry has.
	young := fitTTL([]int64{1_799_000, 1_500_000, 1_200_000}, tierTTLs())
	if young.TTL != 30*time.Minute || young.OldestAge() != 10*time.Minute || young.turnedOver() {
		t.Errorf("keys written within the last 10 of a 30-minute TTL: %+v (oldest %s, turned over %v)", young, young.OldestAge(), young.turnedOver())
	}
	if old := fitTTL([]int64{1_799_000, 900_000, 1_000}, tierTTLs()); !old.turnedOver() {
		t.Errorf("a key a second from its expiry, yet not turned over: %+v", old)
	}
	if none := fitTTL([]int64{-1, -1}, tierTTLs()); none.turnedOver() || none.OldestAge() != 0 {
		t.Errorf("keys without TTL read as turned over: %+v", none)
	}
	// A hash filled a field at a time keeps its rarely read keys alive
	// longer than one family-wide rewrite share says (each read of a
	// field it lacks restarts its TTL), so the same cached count means
	// fewer ids; with one field there is nothing to fill and the two
	// agree.
	pop := ZipfFit{Kind: "zipf", Exponent: 1.1}
	mix := func(fields int) opMix { return opMix{read: 0.97, write: 0.03, fields: fields} }
	flat, ok1 := keyspace(3400, 130, 5*time.Minute, pop, mix(0))
	filled, ok8 := keyspace(3400, 130, 5*time.Minute, pop, mix(8))
	one, _ := keyspace(3400, 130, 5*time.Minute, pop, mix(1))
	if !ok1 || !ok8 || filled >= flat || one != flat {
		t.Errorf("key space of 3,400 cached keys: %.0f with one share, %.0f filled over 8 fields, %.0f over 1 field", flat, filled, one)
	}
	if n := SampleSize(0.02); n != 9604 {
		t.Errorf("SampleSize(2%%) = %d, want 9604 (1.96^2 / 0.02^2)", n)
	}
	// A zipf exponent recovered from a simulated stream of the same shape
	// as an observation: 3,000 reads over 5,000 keys.
	counts := simulateCounts(5000, 1.1, 3000, 99)
	z := fitZipf(counts, 5000)
	if z.Exponent < 1.0 || z.Exponent > 1.2 {
		t.Errorf("zipf 1.1 fitted as %+v", z)
	}
	if h := fitHotspot(z, counts, 5000); h.Kind != "zipf" {
		t.Errorf("a zipf stream taken for a hotspot: %+v", h)
	}
	// A hotspot (80 % of reads on 5 % of 2,000 keys) is told from a zipf.
	hot := simulateHotspot(2000, 0.05, 0.8, 3000, 7)
	if h := fitHotspot(fitZipf(hot, 2000), hot, 2000); h.Kind != "hotspot" || h.HotFraction != 0.05 || h.HotShare < 0.7 || h.HotShare > 0.9 {
		t.Errorf("hotspot 5 %%/80 %% fitted as %+v", h)
	}
}

func TestMonitorLine(t *testing.T) {
	at, client, args := monitorLine(`+1700000000.123456 [0 127.0.0.1:5555] "HSET" "product:1" "f\"1" "a\x00b"` + "\r\n")
	if at != 1700000000.123456 || client != "0 127.0.0.1:5555" || !slices.Equal(args, []string{"HSET", "product:1", `f"1`, "a\x00b"}) {
		t.Errorf("parsed %v %q %q", at, client, args)
	}
	if got := commandKeys("evalsha", []string{"abc", "2", "k1", "k2", "arg"}); !slices.Equal(got, []string{"k1", "k2"}) {
		t.Errorf("evalsha keys %v", got)
	}
	if got := commandKeys("mset", []string{"a", "1", "b", "2"}); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("mset keys %v", got)
	}
}

func TestTrafficDeltas(t *testing.T) {
	at := time.Unix(1000, 0)
	start := []snapshot{{at: at, calls: map[string]int64{"get": 100, "set": 10, "info": 5, "ping": 2},
		stats: map[string]string{"keyspace_hits": "80", "keyspace_misses": "20", "evicted_keys": "0"}}}
	end := []snapshot{{at: at.Add(10 * time.Second), calls: map[string]int64{"get": 1100, "set": 110, "info": 6, "ping": 42, "del": 5},
		stats: map[string]string{"keyspace_hits": "880", "keyspace_misses": "220", "evicted_keys": "3"}}}
	tr := trafficOf(start, end, map[string]int64{"info": 1, "ping": 40})
	want := map[string]int64{"get": 1000, "set": 100, "del": 5}
	if len(tr.Commands) != len(want) {
		t.Errorf("commands %v, want %v (the profiler's INFO and PINGs taken out)", tr.Commands, want)
	}
	for k, v := range want {
		if tr.Commands[k] != v {
			t.Errorf("%s: %d calls, want %d", k, tr.Commands[k], v)
		}
	}
	if tr.HitRate != 0.8 || tr.Reads != 1000 || tr.Writes != 105 || tr.Evicted != 3 || tr.OpsPerS != 110.5 {
		t.Errorf("traffic %+v", tr)
	}
}

// Families under one prefix with the id in the middle are written as they
// are found, and the scenario loads (the workload matches whole
// patterns).
func TestScenarioWithMidKeyPatterns(t *testing.T) {
	var keys []Key
	for i := range 200 {
		keys = append(keys,
			Key{Key: fmt.Sprintf("user:%d:cart", 1000+i), Type: "string", Mem: 600, TTLms: 1_700_000, Elem: 512, Idle: int64(i % 7), Freq: -1},
			Key{Key: fmt.Sprintf("user:%d:prefs", 1000+i), Type: "hash", Mem: 400, TTLms: -1, Elem: 40, Len: 6, Idle: int64(i % 5), Freq: -1},
			Key{Key: fmt.Sprintf("ratelimit:%d:cmd%d", 1000+i, i%4), Type: "string", Mem: 60, TTLms: 59_000, Elem: 1, Idle: 0, Freq: -1})
	}
	p := &Profile{DBSize: int64(len(keys)), Sampled: len(keys), Census: true, Deployment: Deployment{MaxMemory: 64 << 20, Policy: "allkeys-lru"},
		Traffic: Traffic{HitRate: 0.9, Reads: 900, Writes: 100, Window: 10 * time.Second}, Unread: Unread{}}
	p.build(keys, nil, nil, Config{}, 0)
	text, err := p.Scenario(DefaultScenario)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	for _, want := range []string{`key: "user:{user_id}:cart"`, `key: "user:{user_id}:prefs"`, `key: "ratelimit:{ratelimit_id}"`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("scenario lacks %s:\n%s", want, text)
		}
	}
}
