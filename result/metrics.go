package result

import (
	"math"
)

// The metric table: every metric a run is judged, compared, merged and
// served by, one row each. Targets (resolveMetric), compare
// (report/compare.go), merge (the Merge methods in merge.go, checked
// against the rows' Combine by report's merge tests), the live Prometheus
// endpoint (report/live) and the HTML headline all read it, so adding a
// metric is one row here and, when it is a new figure, the field it reads
// (docs/architecture.md, "Adding a metric").

// Metric names read by more than their row.
const (
	MetricHitRate    = "hit_rate"
	MetricLatencyP99 = "latency_p99"
)

// Combine is how shard reports' values of a metric combine into the
// merged report's (report.Merge, through the Merge methods in merge.go).
type Combine string

const (
	// CombineSum: each shard counted its own share (requests, hits, errors).
	CombineSum Combine = "sum"
	// CombineMax: one Redis behind every shard, so each read the same
	// counter; the largest reading is the latest.
	CombineMax Combine = "max"
	// CombineHDR: latency histograms merged exactly, the figure read again
	// from the merged histogram.
	CombineHDR Combine = "hdr"
	// CombineRecompute: derived from merged parts (a hit rate from the
	// summed hits, misses and lookup errors; ops/s from the summed requests
	// over the merged recorded seconds).
	CombineRecompute Combine = "recompute"
	// CombineWorst: per fault, the slowest shard's recovery, the most
	// errors of one fault; the metric is then read off the merged faults.
	CombineWorst Combine = "worst"
)

// CompareRule is how compare judges a metric between two sets of runs.
type CompareRule struct {
	// Row names the compare row when it is not the metric's name
	// ("late_rate" for late).
	Row string
	// PerRequest judges a count as a share of the requests (its value
	// divided by users.requests; per second, the interval's count over its
	// operations), so a run with more load is not worse for having more of
	// them.
	PerRequest bool
	// Floor is the smallest change (in the row's unit) that can regress:
	// below it two runs of one load differ by chance.
	Floor float64
	// Strict regresses on any increase of the worst run (lost data is
	// never noise).
	Strict bool
	// Info rows are shown and never gate; Why says so on a row that
	// changed ("" : one sample).
	Info bool
	Why  string
	// PerSecond reads the metric's figure of one recorded second (nil:
	// read the interval's count over its operations for a PerRequest rule,
	// else none, and single runs cannot test it). Ratio says the seconds
	// combine as the sum of v over the sum of weight (a rate); otherwise
	// the median of v (a latency percentile).
	PerSecond func(row TimelineRow, dt float64) (v, weight float64, ok bool)
	Ratio     bool
	// Quantile is the latency percentile the row is (0: not a latency), for
	// the host timer noise check; LateStart marks the late-start rate,
	// judged against the host probe's own late share.
	Quantile  float64
	LateStart bool
	// Needs is a condition beyond the metric's own data for a run to have
	// a figure (nil: none).
	Needs func(*Result) bool
}

// Worse reports whether cur is worse than base beyond tol (relative) and
// the rule's floor, in the direction better ("lower" or "higher").
func (c CompareRule) Worse(better string, base, cur, tol float64) bool {
	delta := cur - base
	if better == "higher" {
		delta = base - cur
	}
	if c.Strict {
		return delta > 0
	}
	if delta <= c.Floor {
		return false
	}
	if base == 0 {
		return true // from nothing to something beyond the noise floor
	}
	return delta/math.Abs(base) > tol
}

// Metric is one row of the table. Name, Unit and Better describe it;
// Combine and Compare say how merge and compare treat it; Live and Help
// name the Prometheus counter that carries it while a run runs; Interval
// reads its count in one sampling interval. Value reads it off a Result;
// targets judge it through get, which also says when there is no data.
type Metric struct {
	Name    string
	Unit    string
	Better  string // "lower" or "higher": which direction is an improvement
	Combine Combine
	Compare *CompareRule // nil: compare shows no row for it
	// Live is the live endpoint's counter name (after "cacheproof_"), ""
	// for none; Help its help text. Only counts with an Interval have one.
	Live, Help string
	// Interval is the metric's count in one timeline row (nil: the
	// timeline has none).
	Interval func(TimelineRow) uint64
	// read is the figure as a Result holds it, data or not; noData says
	// why a run has no figure for a target ("" when it has one).
	read   func(*Result) float64
	noData func(*Result) string
	// get replaces read and noData for metrics whose value may be only a
	// lower bound (recovery times) or whose detail explains the value
	// (faults not injected).
	get func(r *Result) (v float64, exact, ok bool, detail string)
	// compareOnly metrics are rows of compare, not target names.
	compareOnly bool

	// tier is the cache tier a per-tier form names ("" for the others).
	tier string
	// window computes the metric over a multiset of sampling windows
	// (timeline rows), so its variance over time can be resampled
	// (confidence.go); nil for metrics the timeline cannot rebuild (counts
	// of events, per-tier figures, recovery times), which are judged as
	// exact.
	window windowStat
	// latency is the quantile name ("p99", "mean") of a latency metric
	// judged from intended start ("" for the others): a miss of one may be
	// explained by the machine's own noise (noise.go).
	latency string
	// everyRun: over several runs the target must hold in each (the worst
	// run decides, never the median): a fault that did not take effect in
	// one run of five is not a fault tested four times out of five.
	everyRun bool
}

// Value is the metric's figure in r as r holds it, whether or not r has
// data for it (0 then).
func (m Metric) Value(r *Result) float64 {
	if m.get != nil {
		v, _, _, _ := m.get(r)
		return v
	}
	return m.read(r)
}

// Observe is the metric's figure in r and whether r has data for it: what
// a target judges and compare sets side by side. exact is false when the
// true value is only known to be at least v (a fault that never
// recovered); detail explains missing data.
func (m Metric) Observe(r *Result) (v float64, exact, ok bool, detail string) {
	if m.get != nil {
		return m.get(r)
	}
	if d := m.noData(r); d != "" {
		return 0, true, false, d
	}
	return m.read(r), true, true, ""
}

// CompareValue is the figure compare judges: the metric's, per request
// for a PerRequest rule; ok is false when r has none.
func (m Metric) CompareValue(r *Result) (float64, bool) {
	v, _, ok, _ := m.Observe(r)
	c := m.Compare
	if c != nil && c.Needs != nil && !c.Needs(r) {
		return 0, false
	}
	if c != nil && c.PerRequest && ok {
		return perRequest(m.read(r), r)
	}
	return v, ok
}

// CompareRow is the name of the metric's compare row.
func (m Metric) CompareRow() string {
	if m.Compare != nil && m.Compare.Row != "" {
		return m.Compare.Row
	}
	return m.Name
}

// CompareSecond reads one recorded second for compare (ok false when the
// rule has no per-second figure or the second none).
func (m Metric) CompareSecond(row TimelineRow, dt float64) (v, weight float64, ok bool) {
	c := m.Compare
	switch {
	case c == nil:
		return 0, 0, false
	case c.PerSecond != nil:
		return c.PerSecond(row, dt)
	case c.PerRequest && m.Interval != nil:
		return float64(m.Interval(row)), float64(row.Ops), true
	}
	return 0, 0, false
}

// HasPerSecond reports whether single runs can test the metric over
// their seconds.
func (m Metric) HasPerSecond() bool {
	c := m.Compare
	return c != nil && (c.PerSecond != nil || c.PerRequest && m.Interval != nil)
}

// perRequest is a count as a share of r's requests; no data without
// requests.
func perRequest(n float64, r *Result) (float64, bool) {
	if r.Users.Requests == 0 {
		return 0, false
	}
	return n / float64(r.Users.Requests), true
}

// LookupMetric returns the table's row of that name (per-tier, per-family
// and other parametrised forms included).
func LookupMetric(name string) (Metric, bool) {
	m, err := resolveMetric(name)
	return m, err == nil
}

// Metrics returns the table's rows in order (compare's row order).
func Metrics() []Metric { return metricTable }

// metricIndex finds a row by name.
var metricIndex = func() map[string]int {
	idx := make(map[string]int, len(metricTable))
	for i, m := range metricTable {
		if _, dup := idx[m.Name]; dup {
			panic("result: metric " + m.Name + " twice in the table")
		}
		idx[m.Name] = i
	}
	return idx
}()

// rateFloor is the smallest change of a failure rate per request that
// counts in compare: one in ten thousand requests.
const rateFloor = 0.0001

// scheduleFloor is the smallest change of the late, dropped or abandoned
// share of requests that counts in compare: one in a thousand requests.
// Starts miss their time with the machine's scheduling as failures do not
// (73 to 167 late starts of 170,000 requests, 0.04 % to 0.1 %, is the
// host's noise, not a regression of the cache), so the share must move by
// a tenth of a point to regress; a target (late == 0, dropped == 0) still
// judges every one.
const scheduleFloor = 0.001

// hitRateNoiseFloor is the smallest change of the hit or miss rate (in
// fractions: 0.05 percentage points) that counts in compare: below it, two
// runs of one load differ by chance.
const hitRateNoiseFloor = 0.0005

// HitRateCompare is the compare rule of the hit rate and of the miss rate
// that gates it.
var HitRateCompare = CompareRule{Floor: hitRateNoiseFloor, Ratio: true,
	PerSecond: func(w TimelineRow, _ float64) (float64, float64, bool) {
		return float64(w.Hits), float64(w.Hits + w.Misses + w.LookupErrors), true
	}}

// MissRateCompare is the miss rate's rule: 1 - hit rate, per second the
// misses and failed lookups over the lookups.
var MissRateCompare = CompareRule{Floor: hitRateNoiseFloor, Ratio: true,
	PerSecond: func(w TimelineRow, _ float64) (float64, float64, bool) {
		return float64(w.Misses + w.LookupErrors), float64(w.Hits + w.Misses + w.LookupErrors), true
	}}

var metricTable = buildTable()

func buildTable() []Metric {
	var t []Metric
	t = append(t, latencyRows("latency", "the run", func(r *Result) Summary { return r.Latency.Overall })...)
	t = append(t, latencyRows("service", "service time", func(r *Result) Summary { return r.Latency.Service })...)
	t = append(t,
		hitRateMetric(MetricHitRate, "the run", func(r *Result) (CacheCounts, bool) {
			return CacheCounts{Hits: r.Cache.Hits, Misses: r.Cache.Misses, LookupErrors: r.Cache.LookupErrors}, true
		}),
		// error_rate sits where compare shows it: after the hit rate.
		Metric{Name: "error_rate", Unit: UnitFraction, Better: "lower", Combine: CombineRecompute,
			read:   func(r *Result) float64 { v, _ := perRequest(float64(r.TotalErrors()), r); return v },
			noData: func(r *Result) string { return when(r.Users.Requests == 0, noOperations) },
			Compare: &CompareRule{Floor: rateFloor, Ratio: true,
				PerSecond: func(w TimelineRow, _ float64) (float64, float64, bool) {
					return float64(w.Errors), float64(w.Ops), true
				}}},
		count("pool_timeouts", func(r *Result) uint64 { return r.Pool.Timeouts }, func(w TimelineRow) uint64 { return w.PoolTimeouts },
			&CompareRule{Row: "pool_timeout_rate", PerRequest: true, Floor: rateFloor, Ratio: true},
			"pool_timeouts_total", "Times a caller gave up waiting for a pooled connection."),
		count("late", func(r *Result) uint64 { return r.Users.Late }, func(w TimelineRow) uint64 { return w.Late },
			&CompareRule{Row: "late_rate", PerRequest: true, Floor: scheduleFloor, Ratio: true, LateStart: true},
			"late_requests_total", "Requests started after their intended time."),
		count("dropped", func(r *Result) uint64 { return r.Users.Dropped }, func(w TimelineRow) uint64 { return w.Dropped },
			&CompareRule{Row: "dropped_rate", PerRequest: true, Floor: scheduleFloor, Ratio: true},
			"dropped_requests_total", "Requests the driver could not start at all."),
		count("abandoned", func(r *Result) uint64 { return r.Users.Abandoned }, func(w TimelineRow) uint64 { return w.Abandoned },
			&CompareRule{Row: "abandoned_rate", PerRequest: true, Floor: scheduleFloor, Ratio: true},
			"abandoned_operations_total", "Cache operations never attempted because their command's deadline had passed."),
		countOf("integrity_mismatches", func(r *Result) uint64 { return r.Integrity.Mismatches },
			func(r *Result) uint64 { return r.Integrity.Checked }, "no values were checked"),
		countOf("lost_writes", func(r *Result) uint64 { return r.Integrity.LostWrites },
			func(r *Result) uint64 { return r.Integrity.WritesTracked }, "no writes were tracked"),
		Metric{Name: "ops_per_sec", Unit: UnitRate, Better: "higher", Combine: CombineRecompute,
			read:   func(r *Result) float64 { return r.OpsPerSec() },
			noData: func(*Result) string { return "" },
			Compare: &CompareRule{Floor: 1, Ratio: true,
				Needs:     func(r *Result) bool { return r.Users.Requests > 0 && r.RecordedSeconds() > 0 },
				PerSecond: func(w TimelineRow, dt float64) (float64, float64, bool) { return float64(w.Ops), dt, true }}},
		// The layer (reports with one): a stale read served a user data an
		// update had replaced, so any increase gates, as lost writes do;
		// it is measured only where instances kept local copies. Rate-limit
		// denials and CAS conflicts follow the load's shape (how often a
		// user repeats a command, how many update one guild at once): a
		// change worth seeing, not a regression of the cache.
		layerCount("stale_reads", func(l *LayerReport) uint64 { return l.NearCache.StaleReads },
			func(l *LayerReport) uint64 { return l.NearCache.Hits }, &CompareRule{Strict: true}),
		layerCount("rate_limit_denied", func(l *LayerReport) uint64 { return l.RateLimit.Denied }, nil,
			&CompareRule{Info: true, Why: "not gated: follows the load's repeat rate"}),
		layerCount("cas_conflicts", func(l *LayerReport) uint64 { return l.CAS.Conflicts }, nil,
			&CompareRule{Info: true, Why: "not gated: follows the load's contention"}),
		layerCount("cas_gave_up", func(l *LayerReport) uint64 { return l.CAS.GaveUp }, nil,
			&CompareRule{Info: true, Why: "not gated: follows the load's contention"}),

		// Targets only.
		Metric{Name: "server_hit_rate", Unit: UnitFraction, Better: "higher", Combine: CombineRecompute,
			read: func(r *Result) float64 { return HitRate(r.Server.KeyspaceHits, r.Server.KeyspaceMisses) },
			noData: func(r *Result) string {
				return when(r.Server.KeyspaceHits+r.Server.KeyspaceMisses == 0, "no data: no keyspace lookups reported by Redis")
			}},
		count("errors", func(r *Result) uint64 { return r.TotalErrors() }, nil, nil, "", ""),
		count("unknown_writes", func(r *Result) uint64 { return r.Integrity.UnknownWrites }, nil, nil, "", ""),
		withCombine(count("evicted_keys", func(r *Result) uint64 { return r.Server.EvictedKeys }, func(w TimelineRow) uint64 { return w.EvictedKeys }, nil,
			"redis_evicted_keys_total", "Keys Redis evicted during the run."), CombineMax),
		// The origin behind the cache (the cache failure modes' measure):
		// its calls over the recorded seconds and its busiest second.
		// Both read the timeline, which report.Merge sums row by row.
		withCombine(count("origin_calls", func(r *Result) uint64 { return r.originCalls() }, func(w TimelineRow) uint64 { return w.OriginCalls }, nil,
			"origin_calls_total", "Calls the cache made to the simulated origin (misses fetched, warming)."), CombineRecompute),
		Metric{Name: "origin_peak_per_s", Unit: UnitRate, Better: "lower", Combine: CombineRecompute,
			read: func(r *Result) float64 { return r.originPeak() },
			noData: func(r *Result) string {
				return when(len(r.recordedRows()) == 0 || r.Users.Requests == 0, noOperations)
			}},
		withCombine(count("rejected_connections", func(r *Result) uint64 { return r.Server.RejectedConnections }, nil, nil, "", ""), CombineMax),
		Metric{Name: "error_budget", Unit: UnitCount, Better: "lower", Combine: CombineWorst, get: func(r *Result) (float64, bool, bool, string) {
			if missing := r.faultsNotMeasured(); missing != "" {
				return 0, true, false, missing
			}
			var worst uint64
			for _, f := range r.Faults {
				worst = max(worst, f.Errors())
			}
			return float64(worst), true, true, ""
		}},
		Metric{Name: FaultsNotInjected, Unit: UnitCount, Better: "lower", Combine: CombineWorst, everyRun: true, get: func(r *Result) (float64, bool, bool, string) {
			if len(r.Faults) == 0 {
				return 0, true, false, "no data: no faults planned"
			}
			n, detail := r.faultsNotInjected()
			return float64(n), true, true, detail
		}},
		Metric{Name: "recovery_time", Unit: UnitSeconds, Better: "lower", Combine: CombineWorst, get: func(r *Result) (float64, bool, bool, string) {
			return r.worstRecovery(func(f FaultReport) *float64 { return f.RecoveredAfterS }, "operations never succeeded again")
		}},
		Metric{Name: "p99_recovery_time", Unit: UnitSeconds, Better: "lower", Combine: CombineWorst, get: func(r *Result) (float64, bool, bool, string) {
			return r.worstRecovery(func(f FaultReport) *float64 { return f.P99RecoveredAfterS }, "p99 never came back under target")
		}},
	)
	return t
}

// latencyRows are the rows latency_<q> (or service_<q>) of one summary,
// every quantile; compare shows p50 to max of the run's latency and p99 of
// the service time.
func latencyRows(kind, what string, pick func(*Result) Summary) []Metric {
	var out []Metric
	for _, qn := range quantileOrder {
		m := summaryMetric(what, func(r *Result) (Summary, bool) { return pick(r), true }, quantiles[qn])
		m.Name = kind + "_" + qn
		if kind == "latency" {
			m.window, m.latency = latencyWindow(qn), qn
			if qn != "mean" {
				m.Compare = &CompareRule{Floor: 0.01, Info: qn == "max", Quantile: quantileLevel[qn], PerSecond: perSecondLatency[qn]}
			}
		} else if qn == "p99" {
			m.Compare = &CompareRule{Floor: 0.01, Quantile: 0.99}
		}
		out = append(out, m)
	}
	return out
}

// quantileLevel is each compared percentile's level, for the host noise
// check (max: none).
var quantileLevel = map[string]float64{"p50": 0.5, "p90": 0.9, "p99": 0.99, "p999": 0.999, "max": 0}

// perSecondLatency reads a second's percentile, in a second with
// operations (p90 has no per-second figure in the timeline).
var perSecondLatency = map[string]func(TimelineRow, float64) (float64, float64, bool){
	"p50":  func(w TimelineRow, _ float64) (float64, float64, bool) { return w.P50, 1, w.Ops > 0 },
	"p99":  func(w TimelineRow, _ float64) (float64, float64, bool) { return w.P99, 1, w.Ops > 0 },
	"p999": func(w TimelineRow, _ float64) (float64, float64, bool) { return w.P999, 1, w.Ops > 0 },
	"max":  func(w TimelineRow, _ float64) (float64, float64, bool) { return w.Max, 1, w.Ops > 0 },
}

func withCombine(m Metric, c Combine) Metric {
	m.Combine = c
	return m
}

// layerCount is a count of the layer section, in reports with one (and,
// when looked is set, in which some of what it counts happened); a compare
// row, not a target.
func layerCount(name string, f, looked func(*LayerReport) uint64, rule *CompareRule) Metric {
	return Metric{Name: name, Unit: UnitCount, Better: "lower", Combine: CombineSum, Compare: rule, compareOnly: true,
		read: func(r *Result) float64 {
			if r.Layer == nil {
				return 0
			}
			return float64(f(r.Layer))
		},
		noData: func(r *Result) string {
			l := r.Layer
			return when(l == nil || r.Users.Requests == 0 || (looked != nil && looked(l) == 0), "no data: no layer figures")
		}}
}

// originCalls sums the origin calls of the recorded timeline rows.
func (r *Result) originCalls() uint64 {
	var n uint64
	for _, row := range r.recordedRows() {
		n += row.OriginCalls
	}
	return n
}

// originPeak is the most origin calls per second of any recorded row: a
// stampede's height, which a run's total hides.
func (r *Result) originPeak() float64 {
	var peak, prev float64
	recorded := map[*TimelineRow]bool{}
	for _, row := range r.recordedRows() {
		recorded[row] = true
	}
	for i := range r.Timeline {
		row := &r.Timeline[i]
		dt := row.T - prev
		prev = row.T
		if recorded[row] && dt > 0 {
			peak = max(peak, float64(row.OriginCalls)/dt)
		}
	}
	return peak
}

// when returns detail when cond holds, else "".
func when(cond bool, detail string) string {
	if cond {
		return detail
	}
	return ""
}
