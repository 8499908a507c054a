package workload

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/units"
)

func steady(d time.Duration, users int) []PhasePlan {
	return []PhasePlan{{Name: "steady", Duration: d, UsersStart: users, UsersEnd: users, Record: true}}
}

func collect(s *Schedule, limit int) []Command {
	var out []Command
	for c, ok := s.Next(); ok && len(out) < limit; c, ok = s.Next() {
		out = append(out, c)
	}
	return out
}

func TestScheduleIsDeterministicBySeed(t *testing.T) {
	phases := []PhasePlan{
		{Name: "warmup", Duration: 5 * time.Second, UsersStart: 500, UsersEnd: 500},
		{Name: "ramp", Duration: 10 * time.Second, UsersStart: 500, UsersEnd: 2000, Record: true},
	}
	set := Settings{Population: 100_000, ActiveUsers: 2000, SessionMean: units.Duration(5 * time.Second), CommandsPerUserPerMinute: 60}
	a := collect(mustNew(t, set, Run{Seed: 42}).Schedule(phases), 8_000)
	b := collect(mustNew(t, set, Run{Seed: 42}).Schedule(phases), 8_000)
	if len(a) < 8_000 {
		t.Fatalf("only %d commands", len(a))
	}
	if !reflect.DeepEqual(stripFamilies(a), stripFamilies(b)) {
		t.Fatal("same seed gave different schedules")
	}
	c := collect(mustNew(t, set, Run{Seed: 43}).Schedule(phases), 8_000)
	if reflect.DeepEqual(stripFamilies(a[:100]), stripFamilies(c[:100])) {
		t.Fatal("different seeds gave the same schedule")
	}
}

// stripFamilies replaces family pointers (which differ between models) by
// their names so schedules of two models can be compared.
func stripFamilies(cmds []Command) []any {
	type op struct {
		Kind     OpKind
		Fam, Key string
		Size     int
	}
	type cmd struct {
		At    time.Duration
		Phase int
		User  UserID
		Name  string
		Ops   []op
	}
	out := make([]any, len(cmds))
	for i, c := range cmds {
		x := cmd{At: c.At, Phase: c.Phase, User: c.User, Name: c.Name}
		for _, o := range c.Ops {
			x.Ops = append(x.Ops, op{o.Kind, o.Family.Name, o.Key, o.Size})
		}
		out[i] = x
	}
	return out
}

func interArrivalStats(cmds []Command) (mean, cv float64) {
	var sum, sq float64
	n := float64(len(cmds) - 1)
	for i := 1; i < len(cmds); i++ {
		d := (cmds[i].At - cmds[i-1].At).Seconds()
		sum += d
		sq += d * d
	}
	mean = sum / n
	return mean, math.Sqrt(sq/n-mean*mean) / mean
}

func TestPoissonArrivals(t *testing.T) {
	// 1,000 users at 60 commands/min = 1,000 commands/s.
	m := mustNew(t, Settings{Population: 100_000, ActiveUsers: 1000, CommandsPerUserPerMinute: 60}, Run{Seed: 7})
	cmds := collect(m.Schedule(steady(60*time.Second, 1000)), math.MaxInt)
	if n := len(cmds); math.Abs(float64(n)-60_000) > 4*math.Sqrt(60_000) {
		t.Errorf("%d commands in 60 s, want 60000 ± 4σ", n)
	}
	mean, cv := interArrivalStats(cmds)
	if math.Abs(mean-0.001)/0.001 > 0.02 {
		t.Errorf("mean inter-arrival %v s, want 1 ms ± 2%%", mean)
	}
	if math.Abs(cv-1) > 0.03 {
		t.Errorf("inter-arrival coefficient of variation %.3f, want 1 (exponential)", cv)
	}
	for i := 1; i < len(cmds); i++ {
		if cmds[i].At < cmds[i-1].At {
			t.Fatal("commands out of intended-start order")
		}
	}
}

func TestConstantArrivals(t *testing.T) {
	m := mustNew(t, Settings{Population: 10_000, ActiveUsers: 500, CommandsPerUserPerMinute: 120, Arrival: ArrivalConstant}, Run{Seed: 7})
	cmds := collect(m.Schedule(steady(10*time.Second, 500)), math.MaxInt)
	if len(cmds) != 10_000 {
		t.Errorf("%d commands, want exactly 10000", len(cmds))
	}
	mean, cv := interArrivalStats(cmds)
	if math.Abs(mean-0.001) > 1e-6 || cv > 1e-3 {
		t.Errorf("constant arrivals: mean %v cv %v, want 1 ms and 0", mean, cv)
	}
}

func TestRampsFollowTheUserCount(t *testing.T) {
	// 0 -> 1,000 users over 60 s at 1 command/user/s, then 1,000 -> 0.
	phases := []PhasePlan{
		{Name: "up", Duration: 60 * time.Second, UsersStart: 0, UsersEnd: 1000, Record: true},
		{Name: "down", Duration: 60 * time.Second, UsersStart: 1000, UsersEnd: 0, Record: true},
	}
	m := mustNew(t, Settings{Population: 100_000, ActiveUsers: 1000, CommandsPerUserPerMinute: 60}, Run{Seed: 11})
	s := m.Schedule(phases)
	var count [4]float64 // per 30 s quarter
	activeAt := map[int]int{}
	for c, ok := s.Next(); ok; c, ok = s.Next() {
		q := int(c.At / (30 * time.Second))
		count[q]++
		if want := []int{0, 0, 1, 1}[q]; c.Phase != want {
			t.Fatalf("command at %v in phase %d, want %d", c.At, c.Phase, want)
		}
		activeAt[int(c.At/time.Second)] = s.Active()
	}
	// Integrated rate: quarters get 7,500, 22,500, 22,500, 7,500.
	for q, want := range []float64{7500, 22500, 22500, 7500} {
		if math.Abs(count[q]-want) > 5*math.Sqrt(want) {
			t.Errorf("quarter %d: %v commands, want %v", q, count[q], want)
		}
	}
	for sec, want := range map[int]int{10: 167, 30: 500, 59: 983, 90: 500, 110: 167} {
		if got := activeAt[sec]; math.Abs(float64(got-want)) > 20 {
			t.Errorf("at %d s %d users active, want about %d", sec, got, want)
		}
	}
	if _, ok := s.Next(); ok {
		t.Error("Next returned a command after the last phase")
	}
}

func TestPhasesWithoutUsersOrTimeAreSkipped(t *testing.T) {
	m := mustNew(t, Settings{Population: 10_000, ActiveUsers: 100, CommandsPerUserPerMinute: 60}, Run{Seed: 1})
	phases := []PhasePlan{
		{Name: "idle", Duration: 10 * time.Second},
		{Name: "empty", Duration: 0, UsersStart: 100, UsersEnd: 100},
		{Name: "run", Duration: 10 * time.Second, UsersStart: 100, UsersEnd: 100, Record: true},
	}
	cmds := collect(m.Schedule(phases), math.MaxInt)
	if len(cmds) < 800 {
		t.Fatalf("%d commands", len(cmds))
	}
	for _, c := range cmds {
		if c.Phase != 2 || c.At < 10*time.Second || c.At > 20*time.Second {
			t.Fatalf("command %v in phase %d", c.At, c.Phase)
		}
	}
	if _, ok := m.Schedule(nil).Next(); ok {
		t.Error("a schedule without phases issued a command")
	}
}

func TestSessionChurnMovesTheActiveSet(t *testing.T) {
	const active = 1000
	run := func(mean time.Duration) (overlap float64, distinct int) {
		m := mustNew(t, Settings{Population: 100_000, ActiveUsers: active, SessionMean: units.Duration(mean), CommandsPerUserPerMinute: 6}, Run{Seed: 3})
		s := m.Schedule(steady(30*time.Minute, active))
		s.Next()
		first := map[UserID]bool{}
		for _, u := range s.ActiveUsers(nil) {
			first[u] = true
		}
		if len(first) != active {
			t.Fatalf("%d distinct active users, want %d", len(first), active)
		}
		seen := map[UserID]bool{}
		for c, ok := s.Next(); ok; c, ok = s.Next() {
			seen[c.User] = true
			if s.Active() != active {
				t.Fatalf("active %d, want steady %d", s.Active(), active)
			}
		}
		still := 0
		for _, u := range s.ActiveUsers(nil) {
			if first[u] {
				still++
			}
		}
		return float64(still) / active, len(seen)
	}
	// With 5-minute sessions over 30 minutes only the zipf head stays.
	overlap, distinct := run(5 * time.Minute)
	if overlap > 0.5 {
		t.Errorf("%.0f%% of the first active users still active after 6 mean sessions", 100*overlap)
	}
	if distinct < 3*active {
		t.Errorf("only %d distinct users issued commands; the active set did not move", distinct)
	}
	// Sessions far longer than the run: the set stays put.
	if overlap, _ := run(1000 * time.Hour); overlap < 0.99 {
		t.Errorf("without churn only %.2f of the users stayed", overlap)
	}
}

func TestActiveUsersAreZipfSkewed(t *testing.T) {
	// The most popular user of a zipf-1.1 population is redrawn at once
	// whenever their session ends, so they are active almost all the time;
	// a user in the tail almost never is.
	m := mustNew(t, Settings{Population: 100_000, ActiveUsers: 1000, SessionMean: units.Duration(time.Minute), CommandsPerUserPerMinute: 1}, Run{Seed: 8})
	head := UserID(m.userPerm.at(0))
	tail := UserID(m.userPerm.at(99_999))
	s := m.Schedule(steady(30*time.Minute, 1000))
	headActive, tailActive, samples := 0, 0, 0
	next := time.Minute
	for c, ok := s.Next(); ok; c, ok = s.Next() {
		if c.At < next {
			continue
		}
		next += time.Minute
		samples++
		for _, u := range s.ActiveUsers(nil) {
			headActive += b2i(u == head)
			tailActive += b2i(u == tail)
		}
	}
	if samples < 20 || float64(headActive) < 0.9*float64(samples) || tailActive > samples/10 {
		t.Errorf("head user active in %d of %d samples, tail user in %d", headActive, samples, tailActive)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestShardingIsDisjointAndCovering(t *testing.T) {
	const pop, shards = 30_001, 3
	owner := make([]int, pop)
	for i := range owner {
		owner[i] = -1
	}
	total := 0
	var models []*Model
	for sh := range shards {
		m := mustNew(t, Settings{Population: pop, ActiveUsers: 500, SessionMean: units.Duration(10 * time.Second)}, Run{Shard: sh, Shards: shards, Seed: 1})
		models = append(models, m)
		total += m.shardSize()
		s := m.Schedule(steady(2*time.Minute, 500))
		for c, ok := s.Next(); ok; c, ok = s.Next() {
			if int(c.User)%shards != sh {
				t.Fatalf("shard %d issued a command for user %d", sh, c.User)
			}
			if o := owner[c.User]; o != -1 && o != sh {
				t.Fatalf("user %d in shards %d and %d", c.User, o, sh)
			}
			owner[c.User] = sh
		}
	}
	if total != pop {
		t.Errorf("shard sizes add up to %d, want the population %d", total, pop)
	}
	a, _ := models[0].Schedule(steady(time.Minute, 10)).Next()
	b, _ := models[1].Schedule(steady(time.Minute, 10)).Next()
	if a.At == b.At {
		t.Error("shards issue commands in lock-step")
	}
	if models[0].User(123) != models[1].User(123) {
		t.Error("a user's ids differ between shards")
	}
	for id := range pop {
		n := 0
		for _, m := range models {
			n += b2i(m.inShard(id))
		}
		if n != 1 {
			t.Fatalf("user %d is in %d shards", id, n)
		}
	}
}

// The sequences of the seed's commands with every feature off (the
// features' forms are checked against these in features_test.go).
func TestCommandsAreRealisticOpSequences(t *testing.T) {
	m := mustNew(t, Settings{Population: 100_000, ActiveUsers: 1000, CommandsPerUserPerMinute: 60, Features: featuresOff()}, Run{Seed: 2})
	cmds := collect(m.Schedule(steady(30*time.Second, 1000)), math.MaxInt)
	names := map[string]int{}
	other := 0
	for _, c := range cmds {
		names[c.Name]++
		u := m.User(c.User)
		sess := m.Key(m.Family("session"), u.DiscordID)
		if len(c.Ops) < 4 || c.Ops[0].Kind != OpGet || c.Ops[0].Key != sess || c.Ops[1].Kind != OpTouch || c.Ops[1].Key != sess {
			t.Fatalf("%s does not start with session read and refresh: %+v", c.Name, c.Ops)
		}
		if c.Ops[2].Key != m.Key(m.Family("user_connected"), u.DiscordID) || c.Ops[3].Key != m.Key(m.Family("guild_locale"), u.GuildID) {
			t.Fatalf("%s does not read the user's settings: %+v", c.Name, c.Ops[2:4])
		}
		for _, o := range c.Ops {
			if o.Family != m.Family(o.Family.Name) {
				t.Fatal("op family is not the model's own")
			}
			if o.Kind != OpDel && o.Kind != OpTouch && o.Size < MinValueSize {
				t.Fatalf("op %+v has no value size", o)
			}
			if o.Family.Name == "stratz_profile" && o.Kind == OpGetOrFetch && o.Key != m.Key(o.Family, u.SteamID) {
				other++
			}
		}
		switch c.Name {
		case "settings_update":
			if last := c.Ops[len(c.Ops)-1]; last.Kind != OpSet || last.Family.Name != "guild_locale" {
				t.Fatalf("settings_update ends with %+v", last)
			}
		case "link_account":
			if c.Ops[4].Kind != OpSet || c.Ops[4].Family.Name != "user_connected" || c.Ops[5].Kind != OpDel {
				t.Fatalf("link_account ops %+v", c.Ops[4:])
			}
		case "matches":
			if c.Ops[4].Family.Name != "stratz_matches" || c.Ops[5].Key != "meta:heroes" {
				t.Fatalf("matches ops %+v", c.Ops[4:])
			}
		}
	}
	// The mix follows the default weights (profile 30 %, matches 25 %, ...).
	total := float64(len(cmds))
	for _, f := range m.Families() {
		got, want := float64(names[f.Command])/total, f.Weight/100
		if math.Abs(got-want) > 0.01 {
			t.Errorf("command %s: share %.3f, want %.3f", f.Command, got, want)
		}
	}
	// About 30 % of profile lookups are for another player.
	if share := float64(other) / float64(names["profile"]); math.Abs(share-0.3) > 0.03 {
		t.Errorf("share of profile lookups for other players %.3f, want 0.3", share)
	}
}
