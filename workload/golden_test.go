package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/units"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden from the current schedule")

// renderSchedule is a schedule as text, one line per operation, every field
// of Command and Op included (the ones added for issue 16 too), so that two
// schedules that render the same issue the same operations.
func renderSchedule(cmds []Command) string {
	var b strings.Builder
	for _, c := range cmds {
		fmt.Fprintf(&b, "%d %d %d %s i%d\n", c.At, c.Phase, c.User, c.Name, c.Instance)
		for _, o := range c.Ops {
			fmt.Fprintf(&b, "  %s %s %s %d keys=%v sizes=%v field=%q\n", o.Kind, o.Family.Name, o.Key, o.Size, o.Keys, o.Sizes, o.Field)
		}
	}
	return b.String()
}

// goldenConfigs are the schedules pinned by testdata/schedule-seed.golden:
// the defaults, overrides of sizes, popularity and weights, a ramp and a
// shard.
func goldenConfigs() map[string]struct {
	set    Settings
	run    Run
	phases []PhasePlan
} {
	ramp := []PhasePlan{
		{Name: "warmup", Duration: 5 * time.Second, UsersStart: 100, UsersEnd: 300},
		{Name: "steady", Duration: 20 * time.Second, UsersStart: 300, UsersEnd: 300, Record: true},
	}
	return map[string]struct {
		set    Settings
		run    Run
		phases []PhasePlan
	}{
		"defaults": {Settings{ActiveUsers: 2000}, Run{Seed: 7}, steady(10*time.Second, 2000)},
		"overrides": {Settings{Population: 50_000, ActiveUsers: 300, CommandsPerUserPerMinute: 30, SessionMean: units.Duration(3 * time.Second),
			Families: []FamilySettings{
				{Name: "stratz_profile", MeanSize: 4096, Popularity: &PopularitySettings{Kind: PopHotspot, HotFraction: 0.1, HotShare: 0.8}},
				{Name: "meta_items", Weight: new(0.0)},
				{Name: "guild_locale", Weight: new(20.0)},
				{Name: "user_connected", Weight: new(20.0)},
			}}, Run{Seed: 9}, ramp},
		"shard": {Settings{Population: 20_000, ActiveUsers: 400, CommandsPerUserPerMinute: 60, Arrival: ArrivalConstant}, Run{Seed: 3, Shard: 1, Shards: 3}, steady(5*time.Second, 134)},
	}
}

// goldenDigest renders each golden configuration's schedule (at most 20,000
// commands) and returns "name sha256" lines plus the first commands of the
// defaults in full, for a readable diff when the digest moves.
func goldenDigest(t *testing.T, build func(Settings, Run) *Model) string {
	var b strings.Builder
	for _, name := range []string{"defaults", "overrides", "shard"} {
		g := goldenConfigs()[name]
		cmds := collect(build(g.set, g.run).Schedule(g.phases), 20_000)
		sum := sha256.Sum256([]byte(renderSchedule(cmds)))
		fmt.Fprintf(&b, "%s %d %s\n", name, len(cmds), hex.EncodeToString(sum[:]))
	}
	g := goldenConfigs()["defaults"]
	b.WriteString(renderSchedule(collect(build(g.set, g.run).Schedule(g.phases), 40)))
	return b.String()
}

// With every feature of issue 16 off, one instance and no families of the
// user's own, the schedule issues exactly what it issued before them: the
// same operations, keys and sizes for the same seed (the golden file was
// written by the code before issue 16).
func TestScheduleWithFeaturesOffIsUnchanged(t *testing.T) {
	got := goldenDigest(t, func(s Settings, r Run) *Model { return mustNew(t, seedOnly(s), r) })
	const path = "testdata/schedule-seed.golden"
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("schedule changed at line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("schedule changed: %d lines, want %d", len(gl), len(wl))
	}
}

// seedOnly is s as the schedule was before issue 16: every feature off, one
// bot instance, the seed's catalogue alone.
func seedOnly(s Settings) Settings {
	s.Features = featuresOff()
	s.Instances = 1
	return s
}
