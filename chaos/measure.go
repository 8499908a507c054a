package chaos

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/result"
)

// Measurement holds what the run observed, for measuring fault events.
// Rows are the per-second timeline, as the report has it; Activity (optional) gives sub-second
// error and success instants; Dials (optional) are the cache manager's
// cumulative connection attempts at each row, ServerConns (optional) the
// servers' cumulative connections received (INFO
// total_connections_received, summed over restarts).
type Measurement struct {
	Rows        []result.TimelineRow
	Activity    *Activity
	Dials       []uint64
	ServerConns []uint64
	// LatencyP99Ms is the latency_p99 target (0: none, p99 recovery is not
	// measured). HitRateTarget is the hit_rate target as a fraction (0:
	// re-warm means back to the hit rate before the fault).
	LatencyP99Ms  float64
	HitRateTarget float64
	// RunEnd is the run's length; a fault that never recovered is measured
	// up to it.
	RunEnd time.Duration
	// Quiet is how long operations must succeed without an error to count
	// as recovered (default 1s).
	Quiet time.Duration
}

// beforeWindow is how far before a fault the hit rate baseline reaches.
const beforeWindow = 10 * time.Second

// minLookups is the fewest lookups a row needs for its hit rate to count.
const minLookups = 10

type span struct{ from, to time.Duration }

func (m *Measurement) rowSpan(i int) span {
	to := secs(m.Rows[i].T)
	from := time.Duration(0)
	if i > 0 {
		from = secs(m.Rows[i-1].T)
	}
	return span{from, to}
}

// infoSpan is the stretch a row's server counters cover: from the previous
// INFO reading to this one. A fault injected at a sampling tick lands in the
// row read just after it, whose T may precede the fault's start.
func (m *Measurement) infoSpan(i int) span {
	at := func(j int) float64 {
		if m.Rows[j].InfoT > 0 {
			return m.Rows[j].InfoT
		}
		return m.Rows[j].T
	}
	from := time.Duration(0)
	if i > 0 {
		from = secs(at(i - 1))
	}
	return span{from, secs(at(i))}
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func roundS(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// seconds returns a pointer to v, for the nullable *AfterS fields.
func seconds(v float64) *float64 { return &v }

// hitRate is hits / (hits + notHit), 0 without lookups.
func hitRate(hits, notHit uint64) float64 {
	if hits+notHit == 0 {
		return 0
	}
	return float64(hits) / float64(hits+notHit)
}

// Report measures one event into the report's fault section (Warming,
// the bot layer's, is left for it). Times are seconds since the run
// started (StartS, EndS) or since the fault started (the *AfterS fields);
// a nil pointer means "never happened during the run": no error seen,
// never recovered, p99 never back under target, never re-warmed.
// Injected, Occurrence and Planned say what the figures stand for: targets about recovery may only pass on occurrences
// that took effect, and only when every planned one did. An occurrence that
// never started is reported at its planned slot with no figures at all:
// there is nothing to measure, and the run around an empty slot is not a
// fault's effect.
func (m *Measurement) Report(ev Event) result.FaultReport { return m.report(ev, m.RunEnd) }

// report measures one event up to horizon: the start of the next fault
// (Reports) or the run's end. What happens after the next fault began is
// that fault's effect, not this one's: without the bound, a restart's
// lowest hit rate was the next restart's dip.
func (m *Measurement) report(ev Event, horizon time.Duration) result.FaultReport {
	quiet := m.Quiet
	if quiet <= 0 {
		quiet = time.Second
	}
	start, end := ev.Start, ev.End
	if !ev.NotStarted && (!ev.Ended || end < start) {
		end = m.RunEnd
	}
	fr := result.FaultReport{
		Kind:         ev.Fault.Kind,
		Node:         ev.Node,
		Params:       ev.Fault.ReportParams(),
		StartS:       roundS(start),
		EndS:         roundS(end),
		Injected:     ev.Injected && !ev.NotStarted,
		Occurrence:   ev.N + 1,
		Planned:      max(ev.Planned, ev.N+1),
		ErrorsByKind: map[string]uint64{},
		Notes:        append([]string(nil), ev.Notes...),
	}
	if ev.NotStarted {
		return fr
	}
	if !ev.Injected {
		fr.Notes = append(fr.Notes, "the fault did not take effect; figures show the run around its slot")
	}

	errEnd := m.measureErrors(&fr, start, end, horizon)
	m.measureWorst(&fr, start, end, errEnd, horizon)
	m.measureP99(&fr, end, horizon)
	m.measureHitRate(&fr, start, end, errEnd, horizon)
	m.measureEffects(&fr, start, end, errEnd)
	if ev.Lost != nil {
		lostWrites(&fr, ev)
	}
	if ev.Mode != nil {
		m.measureCacheMode(&fr, ev, start, end, horizon)
	}
	return fr
}

// measureCacheMode completes a cache failure mode's section (the key
// watch's figures are in ev.Mode) with the timeline's: origin calls per
// second before the fault and at its peak second, Redis's CPU and the
// bytes it sent per second before and during, and the hit rate during.
// Before is the 10 s before the fault, its rows with no fault active.
// During is from the fault's start until one row after its end (the
// stampede of keys that expire at the end of a second lands in the next
// row), bounded by the next fault.
func (m *Measurement) measureCacheMode(fr *result.FaultReport, ev Event, start, end, horizon time.Duration) {
	mode := *ev.Mode
	duringEnd := min(end+time.Second, max(horizon, end))
	var bDT, bOrigin, bCPU, bNet float64
	var dDT, dCPU, dNet float64
	var hits, notHit uint64
	// Before is the rows of the 10 s before the fault with no fault
	// active (another fault's stampede is not this one's baseline), or all
	// of them when every one had one.
	quiet := false
	for i := range m.Rows {
		if sp := m.rowSpan(i); sp.to <= start && sp.from >= start-beforeWindow && m.Rows[i].Fault == "" {
			quiet = true
		}
	}
	for i := range m.Rows {
		sp := m.rowSpan(i)
		r := m.Rows[i]
		dt := (sp.to - sp.from).Seconds()
		if dt <= 0 {
			continue
		}
		switch {
		case sp.to <= start && sp.from >= start-beforeWindow:
			if quiet && r.Fault != "" {
				continue
			}
			bDT += dt
			bOrigin += float64(r.OriginCalls)
			bCPU += r.ServerCPUS
			bNet += float64(r.ServerNetOutBytes)
		case sp.to > start && sp.from < duringEnd:
			dDT += dt
			dCPU += r.ServerCPUS
			dNet += float64(r.ServerNetOutBytes)
			mode.OriginCalls += r.OriginCalls
			if ps := float64(r.OriginCalls) / dt; ps > mode.OriginCallsPeakPerS {
				mode.OriginCallsPeakPerS, mode.OriginCallsPeakAtS = ps, r.T
			}
			hits += r.Hits
			notHit += r.Misses + r.LookupErrors
		}
	}
	if bDT > 0 {
		mode.OriginCallsPerSBefore = bOrigin / bDT
		mode.RedisCPUBefore = bCPU / bDT
		mode.NetOutBytesPerSBefore = bNet / bDT
	}
	if dDT > 0 {
		mode.RedisCPUDuring = dCPU / dDT
		mode.NetOutBytesPerSDuring = dNet / dDT
	}
	mode.HitRateDuring = hitRate(hits, notHit)
	mode.SingleFlightHeld = mode.AffectedKeysFetched > 0 && mode.Instances > 0 && mode.MaxFetchesPerKey <= uint64(mode.Instances)
	fr.CacheMode = &mode
	fr.Notes = append(fr.Notes, cacheModeSummary(fr.Kind, &mode))
}

// cacheModeSummary is the one-line reading of a cache failure mode.
func cacheModeSummary(kind string, c *result.CacheModeReport) string {
	s := fmt.Sprintf("origin calls %.1f/s before, peak %.0f/s at %.0fs, %d during; Redis CPU %.2f -> %.2f s/s; sent %s/s -> %s/s",
		c.OriginCallsPerSBefore, c.OriginCallsPeakPerS, c.OriginCallsPeakAtS, c.OriginCalls,
		c.RedisCPUBefore, c.RedisCPUDuring, fmtBytes(int64(c.NetOutBytesPerSBefore)), fmtBytes(int64(c.NetOutBytesPerSDuring)))
	if c.Affected.Lookups > 0 {
		s += fmt.Sprintf("; affected keys p99 %.2f ms over %d lookups, other keys p99 %.2f ms over %d", c.Affected.P99Ms, c.Affected.Lookups, c.Other.P99Ms, c.Other.Lookups)
	}
	if c.AffectedKeysFetched > 0 && kind != "penetration" {
		held := "held"
		if !c.SingleFlightHeld {
			held = "did not hold"
		}
		s += fmt.Sprintf("; single-flight %s: %d origin fetches for %d keys (at most %d of one key, %d bot instances)", held, c.AffectedFetches, c.AffectedKeysFetched, c.MaxFetchesPerKey, c.Instances)
	}
	return s
}

// measureErrors measures the recovery (from the fault's end until
// operations succeed again) and the errors from the fault's start until
// then, and returns when the errors' stretch ends.
func (m *Measurement) measureErrors(fr *result.FaultReport, start, end, horizon time.Duration) (errEnd time.Duration) {
	quiet := m.Quiet
	if quiet <= 0 {
		quiet = time.Second
	}
	// Recovery: from the fault's end until operations succeed again.
	recAt, recovered := m.recoveredAt(end, quiet)
	if recovered {
		fr.RecoveredAfterS = seconds(roundS(recAt - end))
	}
	errEnd = horizon
	if recovered {
		errEnd = min(max(recAt, end), max(horizon, end))
	}

	// Errors during the fault and until recovery, and the first of them.
	for i := range m.Rows {
		sp := m.rowSpan(i)
		if sp.to < start || sp.from > errEnd {
			continue
		}
		for k, n := range m.Rows[i].ErrorsByKind {
			// Origin (fetch) failures come from the simulated upstream at
			// its own rate, not from the fault; they stay in the run's
			// errors but are not charged to the fault or its error budget.
			if k == originErrorKind {
				continue
			}
			fr.ErrorsByKind[k] += n
		}
	}
	fr.OOMErrors = fr.ErrorsByKind["oom"]
	if first, ok := m.firstError(start, errEnd); ok {
		fr.FirstErrorAfterS = seconds(roundS(first - start))
	}
	return errEnd
}

// measureWorst finds the worst interval p99 and operation users saw.
func (m *Measurement) measureWorst(fr *result.FaultReport, start, end, errEnd, horizon time.Duration) {
	// The worst the users saw, from the fault's start until one interval
	// after its effect (the fault, and its errors) ended.
	worstEnd := min(max(end, errEnd)+time.Second, max(horizon, end))
	for i := range m.Rows {
		sp := m.rowSpan(i)
		r := m.Rows[i]
		if sp.to <= start || sp.from >= worstEnd || r.Ops == 0 {
			continue
		}
		fr.WorstP99Ms = max(fr.WorstP99Ms, r.P99)
		fr.WorstMaxMs = max(fr.WorstMaxMs, r.Max)
	}
}

// measureP99 finds when p99 was back under the latency_p99 target.
func (m *Measurement) measureP99(fr *result.FaultReport, end, horizon time.Duration) {
	// p99 back under target: the first interval ending after the fault's
	// end whose p99 is under the target.
	if m.LatencyP99Ms > 0 {
		for i := range m.Rows {
			sp := m.rowSpan(i)
			r := m.Rows[i]
			if sp.to <= end || r.Ops == 0 {
				continue
			}
			if sp.to > horizon && sp.from >= horizon {
				break
			}
			if r.P99 < m.LatencyP99Ms {
				fr.P99RecoveredAfterS = seconds(roundS(max(0, sp.from-end)))
				break
			}
		}
	} else {
		fr.Notes = append(fr.Notes, "no latency_p99 target: p99 recovery not measured")
	}
}

// measureHitRate measures the hit rate before the fault, its re-warm, its
// lowest and the hits the dip cost.
func (m *Measurement) measureHitRate(fr *result.FaultReport, start, end, errEnd, horizon time.Duration) {
	// Hit rate: before, lowest, and the time to re-warm. A failed lookup
	// (the cache gave no answer) counts as not hit, as the hit_rate target
	// judges it: an outage whose lookups all fail is a hit rate of 0, not a
	// second with too few lookups to count.
	var bh, bm uint64
	for i := range m.Rows {
		sp := m.rowSpan(i)
		if sp.to <= start && sp.from >= start-beforeWindow {
			bh += m.Rows[i].Hits
			bm += m.Rows[i].Misses + m.Rows[i].LookupErrors
		}
	}
	fr.HitRateBefore = hitRate(bh, bm)
	threshold := fr.HitRateBefore
	if m.HitRateTarget > 0 && (bh+bm == 0 || m.HitRateTarget < threshold) {
		threshold = m.HitRateTarget
	}
	rewarmAt := horizon
	if threshold > 0 {
		if i, ok := m.firstRowAtLeast(threshold, end, horizon); ok {
			sp := m.rowSpan(i)
			fr.RewarmS = seconds(roundS(max(0, sp.from-end)))
			rewarmAt = max(sp.to, end)
		}
	}
	fr.HitRateMin = math.NaN()
	dipEnd := min(max(rewarmAt, errEnd), max(horizon, end))
	for i := range m.Rows {
		sp := m.rowSpan(i)
		r := m.Rows[i]
		if sp.to < start || sp.from >= dipEnd || r.Hits+r.Misses+r.LookupErrors < minLookups {
			continue
		}
		if math.IsNaN(fr.HitRateMin) || r.HitRate < fr.HitRateMin {
			fr.HitRateMin = r.HitRate
		}
	}
	if math.IsNaN(fr.HitRateMin) {
		fr.HitRateMin = 0
	}
	m.measureDip(fr, bh+bm, start, end, dipEnd, horizon)
}

// measureDip measures how fast most of the dip was won back and the hits
// it cost; lookups is how many the baseline before the fault had.
func (m *Measurement) measureDip(fr *result.FaultReport, lookups uint64, start, end, dipEnd, horizon time.Duration) {
	// Most of the dip won back, and the hits the dip cost.
	if before := fr.HitRateBefore; before > 0 && lookups > 0 {
		if fr.HitRateMin < before {
			t90 := fr.HitRateMin + 0.9*(before-fr.HitRateMin)
			if i, ok := m.firstRowAtLeast(t90, end, horizon); ok {
				fr.Rewarm90S = seconds(roundS(max(0, m.rowSpan(i).from-end)))
			}
		} else {
			fr.Rewarm90S = seconds(0)
		}
		var lost float64
		for i := range m.Rows {
			sp := m.rowSpan(i)
			r := m.Rows[i]
			if sp.to <= start || sp.from >= dipEnd {
				continue
			}
			if exp := before * float64(r.Hits+r.Misses+r.LookupErrors); exp > float64(r.Hits) {
				lost += exp - float64(r.Hits)
			}
		}
		fr.HitsLost = uint64(math.Round(lost))
	}
	if fr.RewarmS == nil && horizon < m.RunEnd {
		fr.Notes = append(fr.Notes, fmt.Sprintf("the next fault began %s after this one ended: re-warm and the dip are measured until then", (horizon-end).Round(time.Second)))
	}
}

// measureEffects counts evictions and reconnects from the fault's start to
// its recovery.
func (m *Measurement) measureEffects(fr *result.FaultReport, start, end, errEnd time.Duration) {
	// Evictions and reconnects from the fault's start to its recovery (one
	// more interval, since INFO is read at the end of an interval).
	effectEnd := max(end, errEnd) + time.Second
	first, last := -1, -1
	for i := range m.Rows {
		sp := m.infoSpan(i)
		if sp.to < start || sp.from > effectEnd {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
		fr.Evictions += m.Rows[i].EvictedKeys
	}
	// Reconnects: the client's dials, or the servers' accepted
	// connections when those saw more (a dial the client's hooks miss).
	// The baseline is one row earlier: the sample at the fault's start may
	// be read just after the fault already broke and replaced connections.
	base := max(first-1, 0)
	fr.Reconnects = max(growth(m.Dials, base, last), growth(m.ServerConns, base, last))
}

// lostWrites puts the event's lost-write check, and its control's, into
// the report.
func lostWrites(fr *result.FaultReport, ev Event) {
	fr.LostWrites = ev.Lost.Lost
	fr.UnknownWrites = ev.Lost.Unknown
	fr.AckedAfterStart = ev.Lost.AckedAfterStart
	fr.Notes = append(fr.Notes, lostSummary(ev.Lost))
	fr.WriteCheck, fr.Control = writeCheck(ev.Lost), writeCheck(ev.Control)
	fr.Notes = append(fr.Notes, "writes not found, by cause: "+CauseSummary(ev.Lost))
	if ev.Control != nil {
		fr.Notes = append(fr.Notes, fmt.Sprintf("control window (%.1fs with no fault, from %.1fs): %s", ev.Control.Window.Seconds(), ev.Control.Start.Seconds(), CauseSummary(ev.Control)))
	}
}

// growth is how much a cumulative series grew over rows first..last; 0
// when no row falls in the fault's span (last < first), as for a fault
// slot after the last sample.
func growth(series []uint64, first, last int) uint64 {
	if first < 0 || last < first || last >= len(series) {
		return 0
	}
	before := uint64(0)
	if first > 0 {
		before = series[first-1]
	}
	if series[last] < before {
		return 0
	}
	return series[last] - before
}

func lostSummary(l *LostWrites) string {
	s := "writes tracked " + itoa(l.Tracked) + ": acknowledged " + itoa(l.Acked) + ", refused " + itoa(l.Failed) +
		", unknown " + itoa(l.Unknown) + ", lost " + itoa(l.Lost) + " over " + itoa(uint64(l.Keys)) + " keys"
	if l.Reads > 0 || l.LostSeenByRead > 0 {
		s += "; reads observed " + itoa(l.Reads)
		if l.LostSeenByRead > 0 {
			s += ", " + itoa(l.LostSeenByRead) + " of the lost writes seen only by those reads (refilled by the read-back)"
		}
	}
	if l.FailedApplied > 0 {
		s += ", " + itoa(l.FailedApplied) + " reported failed but found applied"
	}
	if l.ReadErrors > 0 {
		s += ", " + itoa(l.ReadErrors) + " keys unreadable"
	}
	if l.Untracked > 0 {
		s += ", " + itoa(l.Untracked) + " writes beyond the tracking bound"
	}
	if l.UntrackedReads > 0 {
		s += ", " + itoa(l.UntrackedReads) + " reads beyond the tracking bound"
	}
	return s
}

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func (m *Measurement) recoveredAt(end, quiet time.Duration) (time.Duration, bool) {
	if m.Activity != nil {
		return m.Activity.RecoveredAt(end, m.RunEnd, quiet)
	}
	for i := range m.Rows {
		sp := m.rowSpan(i)
		if sp.to <= end {
			continue
		}
		if m.Rows[i].Ops > 0 && m.Rows[i].Errors == 0 {
			return max(sp.from, end), true
		}
	}
	return 0, false
}

func (m *Measurement) firstError(from, to time.Duration) (time.Duration, bool) {
	if m.Activity != nil {
		return m.Activity.FirstError(from, to+m.Activity.Resolution())
	}
	for i := range m.Rows {
		sp := m.rowSpan(i)
		if sp.to < from || sp.from > to {
			continue
		}
		if m.Rows[i].Errors > 0 {
			return max(sp.from, from), true
		}
	}
	return 0, false
}

// firstRowAtLeast is the first row after end and before horizon, with
// enough lookups to count, whose hit rate reaches threshold.
func (m *Measurement) firstRowAtLeast(threshold float64, end, horizon time.Duration) (int, bool) {
	for i := range m.Rows {
		sp := m.rowSpan(i)
		r := m.Rows[i]
		if sp.to <= end || r.Hits+r.Misses+r.LookupErrors < minLookups {
			continue
		}
		if sp.from >= horizon {
			break
		}
		if r.HitRate >= threshold-1e-9 {
			return i, true
		}
	}
	return 0, false
}

// Reports measures every event, each up to the start of the next fault
// that took effect after it (or the run's end).
func (m *Measurement) Reports(evs []Event) []result.FaultReport {
	out := make([]result.FaultReport, 0, len(evs))
	for _, ev := range evs {
		horizon := m.RunEnd
		for _, o := range evs {
			if o.NotStarted || !o.Injected || o.Start <= ev.Start {
				continue
			}
			// A fault still running (or its repetition) when the next
			// begins keeps its own window until it ended.
			horizon = min(horizon, max(o.Start, ev.End))
		}
		out = append(out, m.report(ev, horizon))
	}
	return out
}

// MissingByCause sums every fault check's writes not found, by cause
// (nil when no event tracked writes).
func MissingByCause(evs []Event) map[Cause]uint64 {
	var out map[Cause]uint64
	for _, ev := range evs {
		if ev.Lost == nil {
			continue
		}
		if out == nil {
			out = map[Cause]uint64{}
		}
		for _, c := range Causes {
			out[c] += ev.Lost.Count(c)
		}
	}
	return out
}

// CauseSummary is one line of a check's counts by cause, against the
// writes it acknowledged: "replication 0, evicted 3, expired 0, fill
// overwrite 12, stale read 1 of 1,234 acknowledged".
func CauseSummary(l *LostWrites) string {
	parts := make([]string, 0, len(Causes))
	for _, c := range Causes {
		parts = append(parts, strings.ReplaceAll(string(c), "_", " ")+" "+itoa(l.Count(c)))
	}
	s := strings.Join(parts, ", ") + " of " + itoa(l.Acked) + " acknowledged"
	if !l.EvictionsWatched {
		s += " (evictions not watched: an eviction counts as replication)"
	}
	return s
}

// Integrity sums the lost-write checks of every event, for the report's
// integrity section.
func Integrity(evs []Event) (lost, unknown, tracked uint64) {
	for _, ev := range evs {
		if ev.Lost != nil {
			lost += ev.Lost.Lost
			unknown += ev.Lost.Unknown
			tracked += ev.Lost.Tracked
		}
	}
	return lost, unknown, tracked
}

// originErrorKind is the error kind of a failed origin fetch (pool.KindFetch).
const originErrorKind = "fetch"

// writeCheck puts one lost-write check into the report: every cause, in
// order, even at zero, so a reader sees what was looked for.
func writeCheck(l *LostWrites) *result.WriteCheck {
	if l == nil {
		return nil
	}
	w := &result.WriteCheck{StartS: l.Start.Seconds(), WindowS: l.Window.Seconds(), Acked: l.Acked, Fills: l.Fills, Reads: l.Reads,
		EvictionsNotified: l.Evictions, EvictionsWatched: l.EvictionsWatched}
	for _, c := range Causes {
		lc := result.LostWriteCause{Cause: string(c), Counts: c == CauseReplication, Count: l.Count(c), Examples: []string{}}
		if t := l.ByCause[c]; t != nil {
			lc.Examples = append(lc.Examples, t.Examples...)
		}
		w.Causes = append(w.Causes, lc)
	}
	return w
}
