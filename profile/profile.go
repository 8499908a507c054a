package profile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cacheproof/cacheproof/internal/redistext"
	"github.com/cacheproof/cacheproof/pool"
)

// Config is what one profile reads and how gently.
type Config struct {
	Options
	// Sample is the number of keys to sample over every node (SampleSize
	// says how the default is chosen).
	Sample int
	// Duration is the traffic window (INFO deltas).
	Duration time.Duration
	// Observe, when positive, runs MONITOR for that long (within the
	// traffic window) to fit popularity and read/write shares; MaxLines
	// caps the lines it reads over every node.
	Observe  time.Duration
	MaxLines int
	Probe    ProbeOptions
	// Elems is how many fields or members of a hash or sorted set are read
	// for their sizes.
	Elems int
	// Logf prints progress (nil: silent).
	Logf func(format string, args ...any)
}

// Profile is what was found, and how sure: written as profile.json, shown
// in profile.html, and turned into a scenario by Scenario.
type Profile struct {
	URL        string        `json:"url"` // without its password
	Started    time.Time     `json:"started"`
	Took       time.Duration `json:"took"`
	Deployment Deployment    `json:"deployment"`
	// DBSize is the keys over every node read (DBSIZE) when the sample
	// starts.
	DBSize     int64 `json:"dbsize"`
	UsedMemory int64 `json:"used_memory"`
	LFULogFact int64 `json:"lfu_log_factor,omitempty"`
	Requested  int   `json:"sample_requested"`
	Sampled    int   `json:"sampled"`
	// Census says the sample read every key (SCAN went round on every
	// node): counts are exact, not scaled.
	Census      bool        `json:"census"`
	Unread      Unread      `json:"unread"`
	Probe       ProbeReport `json:"probe"`
	Traffic     Traffic     `json:"traffic"`
	Observation Observation `json:"observation"`
	Families    []Family    `json:"families"`
	// Explained is the share of the sampled keys, and of their memory, in
	// the families (the rest were patterns too rare to be one).
	ExplainedKeys float64  `json:"explained_keys"`
	ExplainedMem  float64  `json:"explained_memory"`
	OtherExamples []string `json:"other_examples,omitempty"`
	// OpsPerSec is the application's command rate the scenario is given
	// (observed commands when --observe ran, else INFO's reads and writes
	// less the misses' refills).
	OpsPerSec float64  `json:"ops_per_s"`
	Notes     []string `json:"notes"`
	// Stopped says why the profile ended early (the probe), "" if it did
	// not.
	Stopped string `json:"stopped,omitempty"`
	// CacheAge is how long the cache has held keys, when its keys say so:
	// the oldest sampled key's age in a family whose keys have not yet
	// lived their TTL (0: every family has turned over, so the cache is
	// older than its longest TTL, by how much unknown). CacheAgeBy names
	// the family it was read from.
	CacheAge   time.Duration `json:"cache_age"`
	CacheAgeBy string        `json:"cache_age_by,omitempty"`
	// Prefill is the history before the written scenario's recorded
	// phase, its prefill and warm-up together (the cache's age when the
	// profile's window opened, when known, so the recorded phase starts
	// from a cache of that age), and PrefillBy why.
	Prefill   time.Duration `json:"prefill"`
	PrefillBy string        `json:"prefill_by"`
	// oldestKey is the oldest sampled key's age over the families with
	// a TTL (a lower bound of the cache's age).
	oldestKey time.Duration
	// OwnCommands is how many commands the profiler sent (MONITOR's
	// connection aside), the load it put on the server.
	OwnCommands int64 `json:"own_commands"`
}

// Observation is what --observe saw.
type Observation struct {
	Enabled  bool          `json:"enabled"`
	Duration time.Duration `json:"duration"`
	Lines    int           `json:"lines"`
	Capped   bool          `json:"capped"`
	Accesses int           `json:"accesses"`
	// Unmatched counts accesses to keys of no family.
	Unmatched int `json:"unmatched"`
}

// Family is one inferred key family.
type Family struct {
	Name string `json:"name"`
	// Pattern names its placeholders after the word before each
	// ("user:{user_id}:cart"); ScenarioPattern is the pattern the written
	// scenario uses (the workload's {id}).
	Pattern         string `json:"pattern"`
	ScenarioPattern string `json:"scenario_pattern"`
	Placeholders    int    `json:"placeholders"`
	// Example is one sampled key of the family.
	Example string `json:"example"`
	Type    string `json:"type"`
	// Types counts the sampled keys by type, when they are mixed.
	Types   map[string]int `json:"types,omitempty"`
	Sampled int            `json:"sampled"`
	// Keys is the estimated count of keys (share of the sample times
	// DBSIZE) with its 95 % interval; Keyspace the key space the scenario
	// draws from (Keys, or larger when the TTL turnover says more ids
	// exist than are cached at once).
	Keys       float64 `json:"keys"`
	KeysLo     float64 `json:"keys_lo"`
	KeysHi     float64 `json:"keys_hi"`
	Keyspace   float64 `json:"keyspace"`
	KeyspaceBy string  `json:"keyspace_by"`
	MemShare   float64 `json:"memory_share"`
	// MeanMem is the mean MEMORY USAGE of a key (-1 when unread).
	MeanMem float64 `json:"mean_memory"`
	// Size is the fitted size of a string's value, a hash field's value or
	// a sorted set's member.
	Size SizeFit `json:"size"`
	// Len is the mean fields (hash) or members (zset, set, list) a key
	// holds.
	Len float64 `json:"len"`
	// Fields is a hash's fields when its keys share field names and hold
	// fewer than all of them (0: Len says it).
	Fields     int     `json:"fields,omitempty"`
	TTL        TTLFit  `json:"ttl"`
	Popularity ZipfFit `json:"popularity"`
	// Reads, Writes, Deletes, Fills and Scripts are the observed accesses
	// (Deletes: DEL or UNLINK, an invalidation; Fills: writes of a key
	// read just before, a miss's refill; Scripts: calls of scripts that
	// write, such as rate limits and compare-and-swaps).
	Reads   int `json:"reads"`
	Writes  int `json:"writes"`
	Deletes int `json:"deletes"`
	Fills   int `json:"fills"`
	Scripts int `json:"scripts"`
	// Weight is the family's share of the application's commands,
	// WriteShare the share of those that write (refills and deletes
	// excluded) and DeleteShare the share that delete.
	Weight      float64  `json:"weight"`
	WriteShare  float64  `json:"write_share"`
	DeleteShare float64  `json:"delete_share"`
	HitRate     float64  `json:"hit_rate"`
	Notes       []string `json:"notes,omitempty"`

	counts map[string]int // reads per key (observed)
}

// Run profiles the Redis at c.URL without writing to it.
func Run(ctx context.Context, c Config) (*Profile, error) {
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	start := time.Now()
	dep, nodes, err := connect(ctx, c.Options)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, n := range nodes {
			n.close()
		}
	}()
	p := &Profile{URL: redactURL(c.URL), Started: start.UTC(), Deployment: dep, Requested: c.Sample, Unread: Unread{}}
	c.Logf("profile: %s, %s, %d node(s), maxmemory %s, policy %s", dep.Shape, dep.Version, len(nodes), redistext.FormatMemory(dep.MaxMemory), dep.Policy)

	limits := make([]*limiter, len(nodes))
	for i, n := range nodes {
		limits[i] = n.limit
	}
	pr := &probe{n: nodes[0], limit: limits, o: c.Probe}
	if err := pr.baseline(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Go(func() { pr.run(ctx, cancel) })
	defer func() { cancel(nil); wg.Wait() }()

	if err := p.readServer(ctx, nodes); err != nil {
		return nil, err
	}

	// 1. Traffic: INFO deltas over the window, MONITOR inside it.
	accesses, err := p.watchTraffic(ctx, nodes, pr, c)
	if err != nil && context.Cause(ctx) == nil {
		return nil, err
	}
	// 2. Keyspace: the sample, after the window (our reads count as
	// keyspace hits, so they must not fall inside it).
	var keys []Key
	if context.Cause(ctx) == nil {
		keys, err = p.sample(ctx, nodes, c)
		if err != nil && context.Cause(ctx) == nil {
			return nil, err
		}
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		p.Stopped = cause.Error()
	}
	p.Probe = pr.report()
	if p.Stopped == "" && p.Probe.Stopped != "" {
		p.Stopped = p.Probe.Stopped
	}
	keys, hot := p.addHot(context.WithoutCancel(ctx), nodes, keys, accesses, c)
	p.build(keys, hot, accesses, c, time.Since(start))
	for _, n := range nodes {
		_, sent := n.limit.current()
		p.OwnCommands += sent
	}
	p.Took = time.Since(start).Round(time.Millisecond)
	return p, nil
}

// redactURL drops a URL's password.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// readServer reads DBSIZE, memory and the LFU log factor over the nodes.
func (p *Profile) readServer(ctx context.Context, nodes []*node) error {
	for _, n := range nodes {
		size, err := n.c.DBSize(ctx).Result()
		if err != nil {
			return &EnvError{fmt.Errorf("DBSIZE on %s: %w", n.addr, err)}
		}
		p.DBSize += size
		text, err := n.c.Info(ctx, "memory").Result()
		if err == nil {
			p.UsedMemory += statInt(redistext.ParseInfo(text), "used_memory")
		}
	}
	if isLFU(p.Deployment.Policy) {
		p.LFULogFact = 10
		if v, err := nodes[0].c.ConfigGet(ctx, "lfu-log-factor").Result(); err == nil {
			if f, err := strconv.ParseInt(v["lfu-log-factor"], 10, 64); err == nil {
				p.LFULogFact = f
			}
		} else {
			p.Unread.add("CONFIG GET", err)
			p.Notes = append(p.Notes, "lfu-log-factor could not be read (CONFIG GET refused): Redis's default 10 assumed")
		}
	}
	return nil
}

func isLFU(policy string) bool { return policy == "allkeys-lfu" || policy == "volatile-lfu" }

// watchTraffic takes INFO at both ends of the window and, with --observe,
// runs MONITOR on every node inside it.
func (p *Profile) watchTraffic(ctx context.Context, nodes []*node, pr *probe, c Config) ([]Access, error) {
	probesBefore := pr.report().Probes
	start := make([]snapshot, len(nodes))
	for i, n := range nodes {
		s, err := takeSnapshot(ctx, n)
		if err != nil {
			return nil, &EnvError{err}
		}
		start[i] = s
	}
	c.Logf("profile: traffic window %s (INFO commandstats, stats)", c.Duration)
	var mu sync.Mutex
	var accesses []Access
	var obsErr error
	var wg sync.WaitGroup
	if c.Observe > 0 {
		p.Observation = Observation{Enabled: true, Duration: min(c.Observe, c.Duration)}
		perNode := max(1, c.MaxLines/len(nodes))
		for _, n := range nodes {
			wg.Go(func() {
				lines, err := observe(ctx, n, p.Observation.Duration, perNode, func(a Access) {
					mu.Lock()
					accesses = append(accesses, a)
					mu.Unlock()
				})
				mu.Lock()
				p.Observation.Lines += lines
				if lines >= perNode {
					p.Observation.Capped = true
				}
				if err != nil && obsErr == nil {
					obsErr = err
				}
				mu.Unlock()
			})
		}
	}
	t := time.NewTimer(c.Duration)
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	t.Stop()
	wg.Wait()
	end := make([]snapshot, len(nodes))
	for i, n := range nodes {
		s, err := takeSnapshot(context.WithoutCancel(ctx), n)
		if err != nil {
			return accesses, &EnvError{err}
		}
		end[i] = s
	}
	own := map[string]int64{"info": int64(len(nodes)), "ping": int64(pr.report().Probes - probesBefore)}
	if c.Observe > 0 {
		own["monitor"] = int64(len(nodes))
	}
	p.Traffic = trafficOf(start, end, own)
	if obsErr != nil {
		p.Unread.add("MONITOR", obsErr)
		p.Notes = append(p.Notes, "MONITOR failed ("+obsErr.Error()+"): popularity from OBJECT FREQ/IDLETIME instead")
	}
	if p.Observation.Capped {
		p.Notes = append(p.Notes, fmt.Sprintf("MONITOR stopped at its cap of %d lines before the observation's end", c.MaxLines))
	}
	p.Observation.Accesses = len(accesses)
	return accesses, nil
}

// sample reads the keyspace sample over the nodes.
func (p *Profile) sample(ctx context.Context, nodes []*node, c Config) ([]Key, error) {
	sizes := make([]int64, len(nodes))
	for i, n := range nodes {
		s, err := n.c.DBSize(ctx).Result()
		if err != nil {
			return nil, &EnvError{fmt.Errorf("DBSIZE on %s: %w", n.addr, err)}
		}
		sizes[i] = s
	}
	// The keys counted now, at the sample, are what its shares scale to
	// (the count before the traffic window is older by its length).
	p.DBSize = 0
	for _, s := range sizes {
		p.DBSize += s
	}
	shares := sampleShares(sizes, c.Sample)
	o := SampleOptions{Keys: c.Sample, Elems: c.Elems, LFU: isLFU(p.Deployment.Policy)}
	var all []Key
	census := true
	for i, n := range nodes {
		if shares[i] == 0 {
			continue
		}
		c.Logf("profile: sampling up to %d of the %d keys on %s (at most %.0f commands/s)", shares[i], sizes[i], n.addr, c.MaxOpsPerSec)
		ks, complete, err := sampleNode(ctx, n, shares[i], o, p.Unread)
		all = append(all, ks...)
		census = census && complete
		if err != nil {
			return all, &EnvError{err}
		}
	}
	sortKeys(all)
	p.Sampled = len(all)
	p.Census = census
	return all, nil
}

// tierTTLs are the pool's tiers and their TTLs (pool owns them).
func tierTTLs() map[string]time.Duration {
	cfg, err := pool.ProfileConfig(pool.ProfileProduction)
	out := map[string]time.Duration{}
	if err != nil {
		return out
	}
	for t, d := range cfg.TTL {
		out[string(t)] = d
	}
	return out
}

// build turns the sample and the observed accesses into families;
// elapsed is how long the profile has watched the server (its window and
// the sample).
func (p *Profile) build(keys []Key, hot map[string]bool, accesses []Access, c Config, elapsed time.Duration) {
	mo := DefaultMerge(len(keys))
	mo.Hot = hot
	g := Infer(keys, mo)
	var totalMem float64
	for _, k := range keys {
		totalMem += float64(max(k.Mem, 0))
	}
	tiers := tierTTLs()
	scale := 1.0
	if len(keys) > 0 && !p.Census {
		scale = float64(p.DBSize) / float64(max(p.Sampled, 1))
	}
	var explained, explainedMem float64
	for _, gp := range g.Patterns {
		f := Family{Name: gp.Name, Pattern: gp.Pattern, ScenarioPattern: gp.scenarioPattern(), Placeholders: gp.Vars, Example: keys[gp.Keys[0]].Key, Sampled: len(gp.Keys), Types: map[string]int{}, counts: map[string]int{}, HitRate: -1}
		var sizes []float64
		var ttls, idle, freq []int64
		var mem float64
		memN := 0
		var lenSum float64
		names := map[string]bool{}
		for _, i := range gp.Keys {
			k := keys[i]
			for _, n := range k.Names {
				names[n] = true
			}
			f.Types[k.Type]++
			if k.Mem >= 0 {
				mem += float64(k.Mem)
				memN++
			}
			if k.Elem >= 0 {
				sizes = append(sizes, k.Elem)
			}
			lenSum += float64(k.Len)
			ttls = append(ttls, k.TTLms)
			if k.Idle >= 0 {
				idle = append(idle, k.Idle)
			}
			if k.Freq >= 0 {
				freq = append(freq, k.Freq)
			}
		}
		f.Type = majority(f.Types)
		if len(f.Types) == 1 {
			f.Types = nil
		} else {
			f.Notes = append(f.Notes, fmt.Sprintf("keys of mixed types %v: written as %s", f.Types, f.Type))
		}
		f.Len = lenSum / float64(len(gp.Keys))
		// A cache that fills a hash a field at a time holds fewer fields
		// than the hash has: when the keys share their field names, the
		// names seen over the family count the fields.
		if f.Type == "hash" && len(names) > int(math.Ceil(f.Len)) && len(names) <= len(gp.Keys)/2 {
			f.Notes = append(f.Notes, fmt.Sprintf("fields: %d distinct field names over the sampled keys, which hold %.1f on average (filled a field at a time)", len(names), f.Len))
			f.Fields = len(names)
		}
		f.MeanMem = -1
		if memN > 0 {
			f.MeanMem = mem / float64(memN)
		}
		if totalMem > 0 {
			f.MemShare = mem / totalMem
		}
		f.Size = fitSizes(sizes)
		if f.Size.Kind == "lognormal" && math.Abs(f.Size.Sigma-0.5) > 0.15 {
			f.Notes = append(f.Notes, fmt.Sprintf("sizes are lognormal with sigma %.2f; the workload draws them with sigma 0.5 around the same mean", f.Size.Sigma))
		}
		f.TTL = fitTTL(ttls, tiers)
		if s := f.TTL.NoTTLShare; s > 0.05 && s < 0.95 {
			f.Notes = append(f.Notes, fmt.Sprintf("%.0f %% of its keys have no TTL: written as the majority's", 100*s))
		}
		if gp.Vars == 0 {
			f.Keys, f.KeysLo, f.KeysHi = 1, 1, 1
		} else {
			f.Keys = float64(len(gp.Keys)) * scale
			f.KeysLo, f.KeysHi = f.Keys, f.Keys
			if !p.Census {
				lo, hi := ShareCI(len(gp.Keys), max(p.Sampled, len(gp.Keys)))
				f.KeysLo, f.KeysHi = lo*float64(p.DBSize), hi*float64(p.DBSize)
			}
		}
		switch {
		case gp.Vars == 0:
		case len(freq) > 0:
			f.Popularity = fitZipfFreq(freq, float64(max(p.LFULogFact, 1)), scale)
		default:
			f.Popularity = fitZipfIdle(idle, scale)
		}
		explained += float64(len(gp.Keys))
		explainedMem += mem
		p.Families = append(p.Families, f)
	}
	if len(keys) > 0 {
		p.ExplainedKeys = explained / float64(len(keys))
	}
	if totalMem > 0 {
		p.ExplainedMem = explainedMem / totalMem
	}
	for i, ki := range g.Other {
		if i == 10 {
			break
		}
		p.OtherExamples = append(p.OtherExamples, keys[ki].Key)
	}
	p.attribute(&g, accesses)
	p.weigh(keys, &g)
	p.cacheAge(elapsed)
	for i := range p.Families {
		p.keyspaceOf(&p.Families[i], elapsed)
	}
	p.notes(c)
}

// hotShare is the share of the observed accesses a single key of no
// family needs to be read and made a family of its own.
const hotShare = 0.01

// addHot reads the keys of no pattern in the sample that the observed
// traffic reads often (a constant key such as "meta:current_patch": one
// key of thousands is rarely sampled, yet may take a share of the
// commands) and adds them to the sample, marked hot.
func (p *Profile) addHot(ctx context.Context, nodes []*node, keys []Key, accesses []Access, c Config) ([]Key, map[string]bool) {
	if len(accesses) == 0 {
		return keys, nil
	}
	g := Infer(keys, DefaultMerge(len(keys)))
	counts := map[string]int{}
	for _, a := range accesses {
		if g.Match(a.Key) < 0 {
			counts[a.Key]++
		}
	}
	sampled := map[string]bool{}
	for _, k := range keys {
		sampled[k.Key] = true
	}
	var want []string
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		if float64(counts[k]) >= hotShare*float64(len(accesses)) && !sampled[k] && len(want) < 100 {
			if segs := split(k); shape(segs) == k { // a constant key
				want = append(want, k)
			}
		}
	}
	hot := map[string]bool{}
	for _, k := range keys {
		hot[k.Key] = counts[k.Key] >= 1 && float64(counts[k.Key]) >= hotShare*float64(len(accesses))
	}
	if len(want) == 0 {
		return keys, hot
	}
	o := SampleOptions{Elems: c.Elems, LFU: isLFU(p.Deployment.Policy)}
	for _, n := range nodes {
		found, err := readKeys(ctx, n, want, o, Unread{}) // a cluster's other nodes answer MOVED: not counted as unread
		if err != nil {
			continue
		}
		for _, k := range found {
			if !sampled[k.Key] {
				sampled[k.Key], hot[k.Key] = true, true
				keys = append(keys, k)
			}
		}
	}
	sortKeys(keys)
	p.Notes = append(p.Notes, fmt.Sprintf("%d single key(s) read often by the observed traffic but not in the sample were read and made families: %s", len(want), strings.Join(want, ", ")))
	return keys, hot
}

// majority is the most common type.
func majority(types map[string]int) string {
	best, n := "", -1
	for t, c := range types {
		if c > n || (c == n && t < best) {
			best, n = t, c
		}
	}
	return best
}

// attribute assigns the observed accesses to families: reads per key for
// popularity, reads, writes and refills for the mix.
func (p *Profile) attribute(g *Grouping, accesses []Access) {
	if len(accesses) == 0 {
		return
	}
	type last struct {
		client string
		at     float64
	}
	lastRead := map[string]last{}
	for _, a := range accesses {
		i := g.Match(a.Key)
		if i < 0 {
			p.Observation.Unmatched++
			continue
		}
		f := &p.Families[i]
		switch {
		case a.Delete:
			// An invalidation: the key is gone, so a write after it is
			// no refill of this read.
			f.Deletes++
			delete(lastRead, a.Key)
		case a.Script && a.Write:
			f.Scripts++
		case a.Write:
			// A write of a key read just before (by any of the client's
			// pooled connections) is the read's miss being refilled.
			if l, ok := lastRead[a.Key]; ok && a.At-l.at < 1 {
				f.Fills++
				delete(lastRead, a.Key)
			} else {
				f.Writes++
			}
		default:
			f.Reads++
			f.counts[a.Key]++
			lastRead[a.Key] = last{a.Client, a.At}
		}
	}
	for i := range p.Families {
		f := &p.Families[i]
		if f.Placeholders == 0 || f.Reads == 0 {
			continue
		}
		z := fitZipfJoint(countsOf(f.counts), int(math.Round(f.Keys)))
		f.Popularity = fitHotspot(z, countsOf(f.counts), z.Keyspace)
	}
}

func countsOf(m map[string]int) []int {
	out := make([]int, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	return out
}

// weigh gives each family its share of the commands and its write share,
// and the scenario its rate: from the observed accesses when --observe
// ran, else from INFO's mix with each family's share guessed from its
// keys' idle times (or LFU counters).
func (p *Profile) weigh(keys []Key, g *Grouping) {
	var total float64
	if p.Observation.Accesses > 0 {
		for i := range p.Families {
			f := &p.Families[i]
			cmds := float64(f.Reads + f.Writes + f.Scripts + f.Deletes)
			total += cmds
			if cmds > 0 {
				f.WriteShare = float64(f.Writes+f.Scripts) / cmds
				f.DeleteShare = float64(f.Deletes) / cmds
			}
			if f.Reads > 0 {
				f.HitRate = 1 - float64(f.Fills)/float64(f.Reads)
			}
		}
		for i := range p.Families {
			f := &p.Families[i]
			if total > 0 {
				f.Weight = float64(f.Reads+f.Writes+f.Scripts+f.Deletes) / total
			}
		}
		if p.Observation.Duration > 0 {
			p.OpsPerSec = total / p.Observation.Duration.Seconds()
		}
		return
	}
	t := p.Traffic
	p.OpsPerSec = float64(t.Reads+max(0, t.Writes-t.Misses)) / math.Max(t.Window.Seconds(), 1e-9)
	scale := float64(p.DBSize) / math.Max(float64(p.Sampled), 1)
	if p.Census {
		scale = 1
	}
	for i, gp := range g.Patterns {
		f := &p.Families[i]
		var rate float64
		for _, ki := range gp.Keys {
			k := keys[ki]
			switch {
			case k.Freq >= 0:
				d := math.Max(float64(k.Freq)-5, 0)
				rate += float64(p.LFULogFact)*d*d/2 + d + 1
			case k.Idle >= 0:
				rate += 1 / (float64(k.Idle) + 0.5)
			}
		}
		if f.Placeholders > 0 {
			rate *= scale
		}
		f.Weight = rate
		total += rate
		if t.Reads+t.Writes > 0 {
			// The server's deletes (DEL, UNLINK calls) are apportioned to
			// every family alike, as its writes are: only --observe says
			// whose keys they delete.
			den := float64(t.Reads + max(0, t.Writes-t.Misses))
			f.WriteShare = math.Max(0, float64(t.Writes-t.Deletes-t.Misses)) / den
			f.DeleteShare = float64(t.Deletes) / den
		}
	}
	for i := range p.Families {
		if total > 0 {
			p.Families[i].Weight /= total
		}
	}
}

// notes says what the profile could not measure and what it assumed.
func (p *Profile) notes(c Config) {
	if p.Observation.Accesses == 0 {
		p.Notes = append(p.Notes, "popularity and each family's share of the commands are estimated from the sampled keys' OBJECT IDLETIME (or FREQ under LFU) and INFO's command mix, not observed: rough; --observe D measures them with MONITOR")
	}
	switch {
	case p.Census:
		p.Notes = append(p.Notes, fmt.Sprintf("the sample read every key (%d): counts are exact as of the sample", p.Sampled))
	case p.Sampled < p.Requested:
		p.Notes = append(p.Notes, fmt.Sprintf("sampled %d keys of the %d asked for", p.Sampled, p.Requested))
	}
	for name, u := range p.Unread {
		p.Notes = append(p.Notes, fmt.Sprintf("%s could not be read for %d key(s): %s", name, u.Count, u.Why))
	}
	if p.Traffic.Evicted > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("the server evicted %d keys in the window: it is at maxmemory, so cached key counts are bounded by memory and the key spaces may be larger than estimated", p.Traffic.Evicted))
	}
	sort.Strings(p.Notes)
}
