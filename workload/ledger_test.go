package workload

import (
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestLedgerClassifiesMisses(t *testing.T) {
	l := NewLedger()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if c := l.Classify("never", t0); c != MissCold {
		t.Errorf("never written: %v", c)
	}
	l.Wrote("api", t0, 300*time.Second)
	l.Wrote("persist", t0, 0)
	cases := []struct {
		key  string
		at   time.Duration
		want MissCause
	}{
		{"api", 10 * time.Second, MissEvicted},
		{"api", 298 * time.Second, MissEvicted},
		{"api", 299*time.Second + 100*time.Millisecond, MissExpired}, // within the 1 s slack
		{"api", 300 * time.Second, MissExpired},
		{"api", time.Hour, MissExpired},
		{"persist", 1000 * time.Hour, MissEvicted},
	}
	for _, c := range cases {
		if got := l.Classify(c.key, t0.Add(c.at)); got != c.want {
			t.Errorf("%s at +%v: %v, want %v", c.key, c.at, got, c.want)
		}
	}
	// A refresh pushes the expiry out; a rewrite replaces it.
	l.Touched("api", t0.Add(200*time.Second), 300*time.Second)
	if got := l.Classify("api", t0.Add(400*time.Second)); got != MissEvicted {
		t.Errorf("after touch: %v, want evicted", got)
	}
	l.Wrote("api", t0.Add(450*time.Second), time.Second)
	if got := l.Classify("api", t0.Add(452*time.Second)); got != MissExpired {
		t.Errorf("after short rewrite: %v, want expired", got)
	}
	// Touching a key never written does not invent it.
	l.Touched("ghost", t0, time.Minute)
	if got := l.Classify("ghost", t0.Add(time.Second)); got != MissCold {
		t.Errorf("touched ghost: %v, want cold", got)
	}
	l.Deleted("persist")
	if got := l.Classify("persist", t0); got != MissCold {
		t.Errorf("deleted: %v, want cold", got)
	}
	if l.Len() != 1 {
		t.Errorf("Len = %d, want 1", l.Len())
	}
	for c, s := range map[MissCause]string{MissCold: "cold", MissExpired: "expired", MissEvicted: "evicted", MissWiped: "wiped", 9: "unknown"} {
		if c.String() != s {
			t.Errorf("%d.String() = %q", c, c.String())
		}
	}
}

func TestLedgerSlackIsConfigurable(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	exact := NewLedgerWithOptions(LedgerOptions{ExpirySlack: -1})
	exact.Wrote("k", t0, 2*time.Second)
	if got := exact.Classify("k", t0.Add(1900*time.Millisecond)); got != MissEvicted {
		t.Errorf("no slack, before expiry: %v", got)
	}
	if got := exact.Classify("k", t0.Add(2*time.Second)); got != MissExpired {
		t.Errorf("no slack, at expiry: %v", got)
	}
	wide := NewLedgerWithOptions(LedgerOptions{ExpirySlack: 5 * time.Second})
	wide.Wrote("k", t0, 10*time.Second)
	if got := wide.Classify("k", t0.Add(5*time.Second)); got != MissExpired {
		t.Errorf("5 s slack: %v", got)
	}
}

func TestLedgerConcurrentUse(t *testing.T) {
	l := NewLedger()
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				k := "k:" + strconv.Itoa(w) + ":" + strconv.Itoa(i)
				l.Wrote(k, t0, time.Minute)
				l.Touched(k, t0, time.Hour)
				if l.Classify(k, t0.Add(30*time.Minute)) != MissEvicted {
					t.Error("lost a write")
					return
				}
				if i%2 == 0 {
					l.Deleted(k)
				}
			}
		}()
	}
	wg.Wait()
	if l.Len() != 8*2500 {
		t.Errorf("Len = %d, want %d", l.Len(), 8*2500)
	}
}

func TestLedgerMemoryPerKey(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a memory measurement: not under -short or -race")
	}
	const n = 400_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := NewLedger()
	t0 := time.Now()
	buf := []byte("stratz:profile:")
	for i := range n {
		l.Wrote(string(strconv.AppendInt(buf, int64(76561198000000000+i), 10)), t0, 5*time.Minute)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perKey := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("ledger: %.1f bytes per key (%d keys)", perKey, l.Len())
	// 10 million keys must fit well under 1 GB: under 64 bytes a key.
	if perKey > 64 {
		t.Errorf("%.1f bytes per key", perKey)
	}
	runtime.KeepAlive(l)
}

func BenchmarkLedger(b *testing.B) {
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "stratz:profile:" + strconv.Itoa(76561198000000000+i)
	}
	t0 := time.Now()
	b.Run("Wrote", func(b *testing.B) {
		l := NewLedger()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				l.Wrote(keys[i&(len(keys)-1)], t0, time.Minute)
				i++
			}
		})
	})
	b.Run("Classify", func(b *testing.B) {
		l := NewLedger()
		for _, k := range keys {
			l.Wrote(k, t0, time.Minute)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_ = l.Classify(keys[i&(len(keys)-1)], t0)
				i++
			}
		})
	})
}

// A read sent before a concurrent fill was acknowledged missed a key that did
// not exist yet: cold, not evicted.
func TestLedgerConcurrentFillIsCold(t *testing.T) {
	l := NewLedger()
	t0 := time.Now()
	l.Wrote("k", t0.Add(5*time.Millisecond), time.Minute)
	if got := l.Classify("k", t0); got != MissCold {
		t.Errorf("read sent before the write: %v, want cold", got)
	}
	if got := l.Classify("k", t0.Add(time.Second)); got != MissEvicted {
		t.Errorf("read sent after the write: %v, want evicted", got)
	}
}

// A fault that empties the cache (Wiped) makes a later miss of a key
// written before it "wiped": not cold (it was written), not evicted. A key
// written again after the wipe and then missed is judged on that write; a
// read before the wipe is not wiped; an expired key stays expired.
func TestLedgerWiped(t *testing.T) {
	l := NewLedger()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.Wrote("old", t0, 0)
	l.Wrote("short", t0, 2*time.Second)
	l.Wrote("again", t0, 0)
	l.Wiped(t0.Add(10 * time.Second))
	l.Wrote("again", t0.Add(20*time.Second), 0)
	l.Wiped(t0.Add(5 * time.Second)) // out of order: kept sorted, both count
	cases := []struct {
		key  string
		at   time.Duration
		want MissCause
	}{
		{"old", 3 * time.Second, MissEvicted}, // before any wipe
		{"old", 6 * time.Second, MissWiped},   // after the first
		{"old", time.Minute, MissWiped},
		{"short", time.Minute, MissExpired},
		{"again", time.Minute, MissEvicted}, // rewritten after the wipes
		{"never", time.Minute, MissCold},
	}
	for _, c := range cases {
		if got := l.Classify(c.key, t0.Add(c.at)); got != c.want {
			t.Errorf("%s at +%v: %v, want %v", c.key, c.at, got, c.want)
		}
	}
}

// TestLedgerClassifiesHashFields: a hash field never written misses cold
// though other fields of its key were written; a written field's miss is
// its key's (evicted, expired; cold again after the harness deleted the
// key).
func TestLedgerClassifiesHashFields(t *testing.T) {
	l := NewLedger()
	t0 := time.Now()
	l.WroteField("h", "f1", t0, time.Minute)
	if got := l.ClassifyField("h", "f2", t0.Add(time.Second)); got != MissCold {
		t.Errorf("field never written: %v, want cold", got)
	}
	if got := l.ClassifyField("h", "f1", t0.Add(time.Second)); got != MissEvicted {
		t.Errorf("written field gone before its TTL: %v, want evicted", got)
	}
	if got := l.ClassifyField("h", "f1", t0.Add(2*time.Minute)); got != MissExpired {
		t.Errorf("written field past the key's TTL: %v, want expired", got)
	}
	// Writing another field later extends the whole key's TTL.
	l.WroteField("h", "f2", t0.Add(50*time.Second), time.Minute)
	if got := l.ClassifyField("h", "f1", t0.Add(80*time.Second)); got != MissEvicted {
		t.Errorf("field of a key whose TTL a later HSET extended: %v, want evicted", got)
	}
	if got := l.ClassifyField("h", "f3", t0.Add(80*time.Second)); got != MissCold {
		t.Errorf("field never written of a live key: %v, want cold", got)
	}
	l.Deleted("h")
	if got := l.ClassifyField("h", "f1", t0.Add(90*time.Second)); got != MissCold {
		t.Errorf("field of a key the harness deleted: %v, want cold", got)
	}
}

// Sweep bounds the ledger to the keys that may still be alive: keys whose
// TTL passed over a minute ago leave the map, and a miss on one is still
// expired (not cold); a key never written stays cold but for the filter's
// rare false positive.
func TestLedgerSweepKeepsExpiredKeysExpired(t *testing.T) {
	l := NewLedger()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const n = 20000
	for i := 0; i < n; i++ {
		l.Wrote("short:"+strconv.Itoa(i), t0, 10*time.Second)
		l.Wrote("keep:"+strconv.Itoa(i), t0, 0)
		l.Wrote("long:"+strconv.Itoa(i), t0, time.Hour)
	}
	if moved := l.Sweep(t0.Add(30 * time.Second)); moved != 0 {
		t.Fatalf("swept %d keys whose TTL passed 20 s ago, want none before a minute", moved)
	}
	if moved := l.Sweep(t0.Add(2 * time.Minute)); moved != n || l.Len() != 2*n || l.Swept() != n {
		t.Fatalf("swept %d (total %d), %d keys left; want %d swept and %d left", moved, l.Swept(), l.Len(), n, 2*n)
	}
	at := t0.Add(3 * time.Minute)
	falseExpired := 0
	for i := 0; i < n; i++ {
		if c := l.Classify("short:"+strconv.Itoa(i), at); c != MissExpired {
			t.Fatalf("swept key short:%d: %v, want expired", i, c)
		}
		if c := l.Classify("long:"+strconv.Itoa(i), at); c != MissEvicted {
			t.Fatalf("live key long:%d: %v, want evicted", i, c)
		}
		if l.Classify("never:"+strconv.Itoa(i), at) != MissCold {
			falseExpired++
		}
	}
	if falseExpired > n/1000 {
		t.Errorf("%d of %d never-written keys read as expired", falseExpired, n)
	}
	// Written again after its sweep: classified from the map.
	l.Wrote("short:1", at, time.Hour)
	if c := l.Classify("short:1", at.Add(time.Second)); c != MissEvicted {
		t.Errorf("rewritten key: %v, want evicted", c)
	}
}

// Entries with no TTL (persistent keys, hash fields) leave the map an hour
// after their last write, so a day-long soak's ledger holds only what was
// written in the last hour or may still be alive; a miss on one is then
// classified as from the map: evicted, wiped after a later wipe, and a
// swept field as its key's miss, never cold.
func TestLedgerSweepsNoTTLEntriesAfterAnHour(t *testing.T) {
	l := NewLedger()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const n = 20000
	for i := 0; i < n; i++ {
		l.Wrote("keep:"+strconv.Itoa(i), t0, 0)
		l.WroteField("h:"+strconv.Itoa(i), "f", t0, 0)
	}
	l.Wrote("keep:fresh", t0.Add(50*time.Minute), 0)
	if moved := l.Sweep(t0.Add(59 * time.Minute)); moved != 0 {
		t.Fatalf("swept %d entries written 59 minutes ago, want none before an hour", moved)
	}
	if moved := l.Sweep(t0.Add(61 * time.Minute)); moved != 3*n || l.Len() != 1 || l.SweptIdle() != 3*n {
		t.Fatalf("swept %d (idle %d), %d left; want %d swept and keep:fresh left", moved, l.SweptIdle(), l.Len(), 3*n)
	}
	at := t0.Add(62 * time.Minute)
	falseHits := 0
	for i := 0; i < n; i++ {
		if c := l.Classify("keep:"+strconv.Itoa(i), at); c != MissEvicted {
			t.Fatalf("swept persistent key keep:%d: %v, want evicted", i, c)
		}
		if c := l.ClassifyField("h:"+strconv.Itoa(i), "f", at); c != MissEvicted {
			t.Fatalf("swept field of h:%d: %v, want its key's miss, evicted", i, c)
		}
		if l.Classify("never:"+strconv.Itoa(i), at) != MissCold {
			falseHits++
		}
	}
	if falseHits > n/1000 {
		t.Errorf("%d of %d never-written keys not cold", falseHits, n)
	}
	if c := l.ClassifyField("h:1", "other", at); c != MissCold {
		t.Errorf("field never written of a swept hash: %v, want cold", c)
	}
	l.Wiped(t0.Add(61*time.Minute + 30*time.Second))
	if c := l.Classify("keep:1", at); c != MissWiped {
		t.Errorf("swept key missed after a wipe that followed its sweep: %v, want wiped", c)
	}
	l.Wrote("keep:2", at, 0)
	if c := l.Classify("keep:2", at); c != MissCold {
		t.Errorf("key rewritten at the read's time: %v, want cold (from the map)", c)
	}
}
