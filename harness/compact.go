package harness

import (
	"fmt"

	"github.com/cacheproof/cacheproof/result"
)

// The sampler's memory over a long run: one timeline row a second (with its
// latency histogram and per-tier and per-family maps, a few kB) would grow
// a 24-hour soak's tool by hundreds of MB and its report.json alike. Rows
// older than compactAfter are folded compactSpan at a time
// (result.CompactRows), except around faults: a row within compactGuardBefore
// before a faulted row or compactGuardAfter after one keeps its second, so
// every fault is still measured per second (time to first error, recovery,
// re-warm and the hit rate before it).
const (
	compactAfter       = 3600.0 // seconds: the last hour stays per second
	compactSpan        = 10     // rows folded into one
	compactGuardBefore = 60.0   // seconds kept per second before a fault
	compactGuardAfter  = 300.0  // and after one, for its recovery
	compactEvery       = 60     // rows appended between passes
	// Rows older than compactOldAfter are folded again, to compactOldSpan
	// seconds each (issue 28 item 5): at ten seconds a row, a 24-hour soak
	// still kept ~12,000 rows (3,600 + 82,800 / 10) of a few kB each; with
	// minute rows past six hours it keeps 3,600 + 1,800 + 1,080 = 6,480,
	// and every further hour adds 60.
	compactOldAfter = 6 * 3600.0
	compactOldSpan  = 60.0
)

// compactor remembers what the sampler has folded so far.
type compactor struct {
	done     int       // rows[:done] are final at ten seconds: folded or kept
	doneOld  int       // rows[:doneOld] are final at a minute
	pending  int       // rows appended since the last pass
	faultTs  []float64 // T of every faulted row, ascending
	folded   int       // rows folded away (for the report's note)
	compacts int       // rows they were folded into
	// minuteRows are those of compactOldSpan seconds among them
	minuteRows int
}

// noteRow records a newly appended row; it returns true when a pass is due.
func (c *compactor) noteRow(row *result.TimelineRow) bool {
	if row.Fault != "" {
		c.faultTs = append(c.faultTs, row.T)
	}
	c.pending++
	return c.pending >= compactEvery
}

// guarded reports whether a row at t lies near a faulted row.
func (c *compactor) guarded(t float64) bool {
	for i := len(c.faultTs) - 1; i >= 0; i-- {
		f := c.faultTs[i]
		if f < t-compactGuardAfter {
			return false
		}
		if f <= t+compactGuardBefore {
			return true
		}
	}
	return false
}

// compact folds the sampler's rows older than compactAfter, in place, with
// dials and conns (cumulative counters: each folded row keeps the last).
func (s *sampler) compact() {
	c := &s.cmp
	c.pending = 0
	n := len(s.rows)
	if n == 0 {
		return
	}
	horizon := s.rows[n-1].T - compactAfter
	out := c.done
	i := c.done
	for i < n && s.rows[i].T < horizon {
		if c.guarded(s.rows[i].T) {
			s.keepRow(out, i)
			out, i = out+1, i+1
			continue
		}
		j := i
		for j < n && j-i < compactSpan && s.rows[j].T < horizon && s.rows[j].Phase == s.rows[i].Phase && !c.guarded(s.rows[j].T) {
			j++
		}
		if j-i < compactSpan && j < n && s.rows[j].T >= horizon {
			break // a partial chunk at the horizon: wait for the rest
		}
		prevT := s.rows[i].T - 1
		if out > 0 {
			prevT = s.rows[out-1].T
		}
		folded := result.CompactRows(s.rows[i:j], prevT)
		s.rows[out], s.dials[out], s.conns[out] = folded, s.dials[j-1], s.conns[j-1]
		c.folded += j - i
		c.compacts++
		out, i = out+1, j
	}
	c.done = out
	if out != i {
		s.rows = append(s.rows[:out], s.rows[i:]...)
		s.dials = append(s.dials[:out], s.dials[i:]...)
		s.conns = append(s.conns[:out], s.conns[i:]...)
	}
	s.compactOld()
}

// compactOld folds the ten-second rows older than compactOldAfter into rows
// of compactOldSpan seconds, in place; rows kept per second near faults
// stay as they are.
func (s *sampler) compactOld() {
	c := &s.cmp
	n := c.done // only rows final at ten seconds are folded again
	if n == 0 {
		return
	}
	horizon := s.rows[len(s.rows)-1].T - compactOldAfter
	foldable := func(k int) bool { return s.rows[k].SpanS > 1 && !c.guarded(s.rows[k].T) }
	out, i := c.doneOld, c.doneOld
	for i < n && s.rows[i].T < horizon {
		if !foldable(i) {
			s.keepRow(out, i)
			out, i = out+1, i+1
			continue
		}
		prevT := s.rows[i].T - s.rows[i].SpanS
		if out > 0 {
			prevT = s.rows[out-1].T
		}
		j := i
		for j < n && s.rows[j].T < horizon && s.rows[j].Phase == s.rows[i].Phase && foldable(j) && s.rows[j].T-prevT <= compactOldSpan+0.5 {
			j++
		}
		if (j == n || s.rows[j].T >= horizon) && s.rows[j-1].T-prevT < compactOldSpan-0.5 {
			break // a partial minute at the horizon: wait for the rest
		}
		if j-i == 1 {
			s.keepRow(out, i)
		} else {
			folded := result.CompactRows(s.rows[i:j], prevT)
			s.rows[out], s.dials[out], s.conns[out] = folded, s.dials[j-1], s.conns[j-1]
			c.compacts -= j - i - 1 // the ten-second rows it replaces were counted
			c.minuteRows++
		}
		out, i = out+1, j
	}
	c.doneOld = out
	if out == i {
		return
	}
	removed := i - out
	s.rows = append(s.rows[:out], s.rows[i:]...)
	s.dials = append(s.dials[:out], s.dials[i:]...)
	s.conns = append(s.conns[:out], s.conns[i:]...)
	c.done -= removed
}

// keepRow moves row i to position out unchanged.
func (s *sampler) keepRow(out, i int) {
	if out != i {
		s.rows[out], s.dials[out], s.conns[out] = s.rows[i], s.dials[i], s.conns[i]
	}
}

// compactNote says what compaction did, for the report's notes ("" when
// nothing was folded).
func (c *compactor) compactNote() string {
	if c.folded == 0 {
		return ""
	}
	rows := fmt.Sprintf("%d rows of %d s (span_s)", c.compacts, compactSpan)
	if c.minuteRows > 0 {
		rows = fmt.Sprintf("%d rows (span_s): %d s each, and %.0f s each (%d of them) past %.0f hours", c.compacts, compactSpan, compactOldSpan, c.minuteRows, compactOldAfter/3600)
	}
	return fmt.Sprintf("timeline: %d one-second rows older than an hour, away from faults, were folded into %s to keep the tool's memory and the report bounded: totals and fault measurements keep their figures, and target intervals resample those rows as windows of their span",
		c.folded, rows)
}
