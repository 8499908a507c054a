package harness

import (
	"strings"
	"testing"
)

// producersScenario is a small cache with two producers beside its users:
// a fleet writing each of 200 driver locations every second (± 200 ms) and
// a job rewriting a city's 50-zone surge hash whole, in MULTI, 10 times a
// second; the users read both and the driver ids sit mid-key.
const producersScenario = `
name: producers
seed: 4
workload:
  population: 20000
  active_users: 100
  commands_per_user_per_minute: 60
  instances: 2
  catalogue: none
  families:
    - name: driver_location
      key: "driver:{driverId}:loc"
      keys: 200
      ttl: 30s
      size_dist: fixed
      mean_size: 64b
      weight: 50
      producer: {every: 1s, jitter: 200ms}
    - name: driver_eta
      key: "driver:{driverId}:eta"
      keys: 200
      ttl: 2m
      mean_size: 100b
      weight: 20
    - name: surge
      key: "surge:{city}"
      keys: 5
      type: hash
      fields: 50
      write: replace_multi
      tier: meta
      size_dist: fixed
      mean_size: 16b
      weight: 30
      producer: {rate: 10}
phases:
  - {name: warmup, duration: 1s, record: false}
  - {name: steady, duration: 3s}
`

// Producers' writes reach Redis at their own rate, as their operation
// (SET; DEL + HSET of every field in MULTI/EXEC), count in the load and
// the latency by op, and the report says which requests were the
// producers' and which the users'.
func TestProducersInARun(t *testing.T) {
	needRedis(t)
	res := runYAML(t, "producers.yaml", producersScenario)
	u := res.Users
	loc, surge := u.Producers["driver_location"], u.Producers["surge"]
	if len(u.Producers) != 2 {
		t.Fatalf("producers %+v, want driver_location and surge", u.Producers)
	}
	if loc.Schedule != "every 1s ± 200ms" || loc.Write != "set" || surge.Schedule != "10/s" || surge.Write != "hset_all replace_multi" {
		t.Errorf("producers say %+v and %+v", loc, surge)
	}
	// 200 keys a second over the 3 recorded seconds; 10 a second, Poisson.
	if loc.Writes < 450 || loc.Writes > 750 || loc.Errors != 0 {
		t.Errorf("driver_location: %d writes (%d errors), want about 600 and none", loc.Writes, loc.Errors)
	}
	if surge.Writes < 10 || surge.Writes > 60 || surge.Errors != 0 {
		t.Errorf("surge: %d writes (%d errors), want about 30 and none", surge.Writes, surge.Errors)
	}
	if loc.WritesPerSec < 150 || loc.WritesPerSec > 250 {
		t.Errorf("driver_location at %.1f writes/s, want about 200", loc.WritesPerSec)
	}
	if u.UserRequests == 0 || u.UserRequests+loc.Writes+surge.Writes != u.Requests {
		t.Errorf("users' requests %d + producers' %d + %d != requests %d", u.UserRequests, loc.Writes, surge.Writes, u.Requests)
	}
	if s := res.Latency.ByOp["hset_all"]; s.Count < int64(surge.Writes) {
		t.Errorf("by_op hset_all has %d samples for %d surge writes", s.Count, surge.Writes)
	}
	// Redis's own counts: every surge write was a MULTI/EXEC with a DEL.
	if ls := res.Server.LatencyStats; ls != nil {
		if ls["exec"].Calls < surge.Writes || ls["del"].Calls < surge.Writes {
			t.Errorf("redis saw %d EXEC and %d DEL for %d replacing surge writes", ls["exec"].Calls, ls["del"].Calls, surge.Writes)
		}
	} else {
		t.Error("no latency stats from redis-server (7.0 or later has them)")
	}
	note, whole := false, false
	for _, n := range res.Notes {
		note = note || strings.HasPrefix(n, "producers (writers that are not users) sent")
		whole = whole || n == "family surge writes its whole value (write: replace_multi): DEL and one HSET of its 50 fields in MULTI/EXEC (readers see the old value or the new)"
	}
	if !note || !whole {
		t.Errorf("no producers note (%v) or surge's whole-write note (%v) in %q", note, whole, res.Notes)
	}
	if c := res.Cache.ByFamily["driver_location"]; c.Hits == 0 {
		t.Errorf("riders never found a location the fleet wrote: %+v", c)
	}
}
