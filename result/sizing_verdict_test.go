package result

import "testing"

func TestSizingEnough(t *testing.T) {
	z := &Sizing{TargetHitRate: 0.95, MaxMemoryBytes: 1 << 27, Policy: "allkeys-lru",
		Policies: []SizingPolicy{{Policy: "allkeys-lru", AtMaxMemory: 0.94}, {Policy: "allkeys-lfu", AtMaxMemory: 0.96}}}
	if z.Enough() {
		t.Error("94% at the scenario's own policy is not enough for 95% (another policy's 96% does not count)")
	}
	z.Policies[0].AtMaxMemory = 0.95
	if !z.Enough() {
		t.Error("95% reaches 95%")
	}
	z.Policies[0].AtMaxMemory, z.MaxMemoryBytes = 0.5, 0
	if !z.Enough() {
		t.Error("no maxmemory: unbounded, enough")
	}
}
