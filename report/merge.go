package report

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/cacheproof/cacheproof/result"
)

// Merge combines the reports of shards of one load (cacheproof run --shard
// i/n on n machines against one Redis) into the report one machine would have
// written:
//
//   - latency histograms are merged exactly from their HDR encodings and
//     every summary is recomputed from them;
//   - client-side counters (requests, hits, misses, lookup errors, errors,
//     pool, integrity, origin calls, users) are summed, and so are active
//     users, since each shard drives its share of them; the population is
//     not: every shard's report carries the whole population it draws its
//     slice from, so it is taken once (and must agree);
//   - ops/s is the merged requests over the merged recorded seconds (the
//     recorded phases' span on the merged clock), never over duration_s,
//     whose warm-up the requests do not include;
//   - server figures come from the one shared Redis, so they take the largest
//     value seen by any shard instead of being summed;
//   - timelines are aligned on wall-clock time (each shard's started_at plus
//     t, to the second) and rows falling in the same second are combined;
//     per-second percentiles take the worst shard, an upper bound, because
//     per-second histograms are not stored;
//   - faults are matched by kind and start time (within 2 s) and combined; a
//     fault counts as injected when any shard injected it. Sharded, a fault
//     that acts on Redis runs in shard 0 alone and only its report lists it.
//
// The same report given twice (one shard twice, or two reports of one run:
// the same started_at and shard) is an error, not double the load. Targets
// are re-evaluated against the merged figures with the first report's
// target list.
func Merge(rs ...*result.Result) (*result.Result, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("merge: no reports")
	}
	for i, r := range rs {
		if r == nil {
			return nil, fmt.Errorf("merge: report %d is nil", i+1)
		}
		if err := CheckSchemaVersion(orDefault(r.SchemaVersion, result.SchemaVersion)); err != nil {
			return nil, fmt.Errorf("merge: report %d: %w", i+1, err)
		}
		if r.Scenario.Name != rs[0].Scenario.Name {
			return nil, fmt.Errorf("merge: report %d is scenario %q, report 1 is %q: only shards of one load can be merged",
				i+1, r.Scenario.Name, rs[0].Scenario.Name)
		}
		if r.Users.Population != rs[0].Users.Population {
			return nil, fmt.Errorf("merge: report %d draws from a population of %s, report 1 from %s: only shards of one load can be merged",
				i+1, formatCount(uint64(r.Users.Population)), formatCount(uint64(rs[0].Users.Population)))
		}
	}
	if err := duplicateReport(rs); err != nil {
		return nil, err
	}

	first := rs[0]
	m := &result.Result{
		SchemaVersion: result.SchemaVersion,
		Tool:          first.Tool,
		Scenario:      first.Scenario,
		StartedAt:     first.StartedAt,
		HDR:           map[string]string{},
		Errors:        map[string]uint64{},
		Origin:        map[string]result.OriginReport{},
		Cache: result.CacheReport{CacheCounts: result.CacheCounts{MissesByCause: map[string]uint64{}}, ByTier: map[string]result.CacheCounts{},
			ByFamily: map[string]result.CacheCounts{}},
		Pool:       result.PoolReport{Config: first.Pool.Config},
		MergedFrom: 0,
	}
	for _, r := range rs {
		if !r.StartedAt.IsZero() && (m.StartedAt.IsZero() || r.StartedAt.Before(m.StartedAt)) {
			m.StartedAt = r.StartedAt
		}
		m.MergedFrom += max(1, r.MergedFrom)
	}
	var end time.Time
	for _, r := range rs {
		e := r.StartedAt.Add(time.Duration(r.DurationS * float64(time.Second)))
		if e.After(end) {
			end = e
		}
		m.Interrupted = m.Interrupted || r.Interrupted
		if m.Aborted == nil && r.Aborted != nil {
			m.Aborted = r.Aborted // the first shard that stopped on a breach
		}
	}
	m.DurationS = math.Round(end.Sub(m.StartedAt).Seconds()*1000) / 1000
	m.ExitCode = 0

	if err := mergeHDR(m, rs); err != nil {
		return nil, err
	}
	for _, r := range rs {
		m.MergeCounters(r)
	}
	m.Client = result.MergeClients(m, rs)
	m.Timeline = mergeTimelines(m.StartedAt, rs)
	m.Phases = mergePhases(m.StartedAt, rs)
	m.Faults = mergeFaults(m.StartedAt, rs)
	m.Notes = append(m.Notes, fmt.Sprintf("merged from %d shard reports; per-second percentiles in the timeline are the worst shard's (an upper bound)", len(rs)))
	if m.Client.Bottleneck != "" {
		m.Notes = append(m.Notes, "not Redis: a load generator or its machine was the bottleneck: "+m.Client.Bottleneck)
	}
	m.SummariesFromHDR(true)
	for i := range m.Phases {
		if s, ok := m.Latency.ByPhase[m.Phases[i].Name]; ok {
			m.Phases[i].Latency = s
		}
	}
	m.Users.OpsPerSec = 0 // recomputed by Finalize over the merged recorded seconds
	m.Finalize(first.TargetSpecs())
	if m.Verdict == result.VerdictFail {
		m.ExitCode = 1
	}
	if m.Interrupted {
		m.ExitCode = 130
	}
	return m, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// duplicateReport finds a report given twice: the same shard twice, or two
// reports of one run (same started_at and shard, as an unsharded report
// named twice). Merged, it would count one load twice.
func duplicateReport(rs []*result.Result) error {
	shards := map[string]int{}
	runs := map[string]int{}
	for i, r := range rs {
		if r.Shard != "" {
			if j, ok := shards[r.Shard]; ok {
				return fmt.Errorf("merge: shard %s appears twice (reports %d and %d)", r.Shard, j+1, i+1)
			}
			shards[r.Shard] = i
		}
		if r.StartedAt.IsZero() {
			continue
		}
		key := r.StartedAt.UTC().Format(time.RFC3339Nano) + " " + r.Shard
		if j, ok := runs[key]; ok {
			return fmt.Errorf("merge: reports %d and %d are the same run (started %s): a report given twice would count its load twice",
				j+1, i+1, r.StartedAt.UTC().Format(time.RFC3339))
		}
		runs[key] = i
	}
	return nil
}

// mergeHDR merges every stored histogram key exactly.
func mergeHDR(m *result.Result, rs []*result.Result) error {
	merged := map[string]*hdrhistogram.Histogram{}
	for i, r := range rs {
		for _, key := range sortedKeys(r.HDR) {
			h, err := result.DecodeHDR(r.HDR[key])
			if err != nil {
				return fmt.Errorf("merge: report %d: hdr %q: %w", i+1, key, err)
			}
			dst, ok := merged[key]
			if !ok {
				dst = result.NewHistogram()
				merged[key] = dst
			}
			if dropped := dst.Merge(h); dropped > 0 {
				return fmt.Errorf("merge: report %d: hdr %q: %d values outside 1 µs..60 s", i+1, key, dropped)
			}
		}
	}
	for key, h := range merged {
		if err := m.SetHDR(key, h); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	return nil
}

// offset is the time between the merged start and r's start, in seconds.
func offset(start time.Time, r *result.Result) float64 {
	if r.StartedAt.IsZero() || start.IsZero() {
		return 0
	}
	return r.StartedAt.Sub(start).Seconds()
}

func mergeTimelines(start time.Time, rs []*result.Result) []result.TimelineRow {
	bySecond := map[int64]*result.TimelineRow{}
	tiers := map[int64]map[string]int{}
	for _, r := range rs {
		off := offset(start, r)
		for _, row := range r.Timeline {
			sec := int64(math.Round(row.T + off))
			d, ok := bySecond[sec]
			if !ok {
				d = &result.TimelineRow{T: float64(sec), Phase: row.Phase, ErrorsByKind: map[string]uint64{},
					HitRateByTier: map[string]float64{}, MissesByCause: map[string]uint64{}}
				bySecond[sec] = d
				tiers[sec] = map[string]int{}
			}
			for k := range row.HitRateByTier {
				tiers[sec][k]++
			}
			for k := range row.HitRateByFamily {
				tiers[sec]["family:"+k]++
			}
			d.Merge(row)
			d.Fault = strings.Join(unionFaults(d.Fault, row.Fault), ",")
		}
	}
	secs := make([]int64, 0, len(bySecond))
	for s := range bySecond {
		secs = append(secs, s)
	}
	sort.Slice(secs, func(i, j int) bool { return secs[i] < secs[j] })
	out := make([]result.TimelineRow, 0, len(secs))
	for _, s := range secs {
		d := bySecond[s]
		d.HitRate = result.LookupHitRate(d.Hits, d.Misses, d.LookupErrors)
		// Per-tier and per-family rates are averaged over shards: each shard's tier mix is
		// the same slice of one workload.
		for k, n := range tiers[s] {
			if fam, ok := strings.CutPrefix(k, "family:"); ok {
				d.HitRateByFamily[fam] /= float64(n)
				continue
			}
			d.HitRateByTier[k] /= float64(n)
		}
		out = append(out, *d)
	}
	return out
}

func unionFaults(a, b string) []string {
	set := map[string]bool{}
	for _, f := range append(splitFaults(a), splitFaults(b)...) {
		set[f] = true
	}
	return sortedKeys(set)
}

func mergePhases(start time.Time, rs []*result.Result) []result.PhaseReport {
	var out []result.PhaseReport
	idx := map[string]int{}
	for _, r := range rs {
		off := offset(start, r)
		for _, p := range r.Phases {
			i, ok := idx[p.Name]
			if !ok {
				idx[p.Name] = len(out)
				p.StartS += off
				p.EndS += off
				out = append(out, p)
				continue
			}
			p.StartS += off
			p.EndS += off
			out[i].Merge(p) // the latency is replaced from phase:<name> histograms when stored
		}
	}
	return out
}

// mergeFaults matches the same fault seen by several shards (same kind,
// start within 2 s on the merged clock) and combines what each saw: errors
// and writes are summed, recovery takes the slowest shard, hit rate the
// lowest.
func mergeFaults(start time.Time, rs []*result.Result) []result.FaultReport {
	var out []result.FaultReport
	for _, r := range rs {
		off := offset(start, r)
		for _, f := range r.Faults {
			f.StartS += off
			f.EndS += off
			match := -1
			for i := range out {
				if out[i].Kind == f.Kind && out[i].Node == f.Node && math.Abs(out[i].StartS-f.StartS) <= 2 {
					match = i
					break
				}
			}
			if match < 0 {
				f.ErrorsByKind = copyCounts(f.ErrorsByKind)
				f.Notes = append([]string(nil), f.Notes...)
				out = append(out, f)
				continue
			}
			out[match].Merge(f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartS < out[j].StartS })
	return out
}

func copyCounts(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	addCounts(out, m)
	return out
}
