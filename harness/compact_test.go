package harness

import (
	"strings"
	"testing"

	"github.com/cacheproof/cacheproof/result"
)

// A 5,000-second run with a fault at 2,000-2,030 s: compaction keeps the
// last hour and the fault's neighbourhood per second, folds the rest ten
// rows at a time, and loses no operation, hit or lookup on the way.
func TestCompactFoldsOldRowsAwayFromFaults(t *testing.T) {
	s := &sampler{}
	ops, hits := feedRows(s, 5000, "steady", 2000, 2030)
	gotOps, gotHits, histN := rowTotals(s.rows)
	prev := 0.0
	for i, r := range s.rows {
		if r.T <= prev {
			t.Fatalf("row %d at %.0f s after %.0f s", i, r.T, prev)
		}
		span := r.SpanS
		if span == 0 {
			span = 1
		}
		if r.T-prev != span {
			t.Errorf("row at %.0f s spans %.0f s, previous row at %.0f s", r.T, span, prev)
		}
		if s.dials[i] != uint64(r.T) || s.conns[i] != uint64(2*r.T) {
			t.Errorf("row at %.0f s: dials %d conns %d, want the counters as of its end", r.T, s.dials[i], s.conns[i])
		}
		near := r.T >= 2000-compactGuardBefore && r.T <= 2030+compactGuardAfter
		recent := r.T > 5000-compactAfter
		if (near || recent) && r.SpanS > 1 {
			t.Errorf("row at %.0f s folded (span %.0f s) though it is near a fault or in the last hour", r.T, r.SpanS)
		}
		prev = r.T
	}
	if gotOps != ops || gotHits != hits || histN != int64(ops) {
		t.Errorf("ops %d hits %d histogram %d after compaction, want %d, %d, %d", gotOps, gotHits, histN, ops, hits, ops)
	}
	// 1,400 s before the horizon, less the ~390 s kept around the fault,
	// folded ten to one.
	if len(s.rows) > 3600+400+140 || s.cmp.folded < 900 {
		t.Errorf("%d rows kept, %d folded: compaction did not bound the timeline", len(s.rows), s.cmp.folded)
	}
	if s.cmp.compactNote() == "" {
		t.Error("no note for the report though rows were folded")
	}
}

func TestCompactRowsKeepsCounts(t *testing.T) {
	rows := []result.TimelineRow{
		{T: 11, Phase: "p", Ops: 10, Hits: 8, Misses: 2, P50: 1, P99: 3, Max: 4, UsedMemory: 5, PoolTotal: 4, ServerCommands: 7, ServerCPUS: 0.1, OriginCalls: 2, ServerNetOutBytes: 100, HitRateByFamily: map[string]float64{"a": 0.8}},
		{T: 12, Phase: "p", Ops: 30, Hits: 30, P50: 2, P99: 9, Max: 12, UsedMemory: 3, PoolTotal: 6, ServerCommands: 3, ServerCPUS: 0.2, OriginCalls: 3, ServerNetOutBytes: 50, Fault: "x", HitRateByFamily: map[string]float64{"a": 1}},
	}
	c := result.CompactRows(rows, 10)
	if c.T != 12 || c.SpanS != 2 || c.Ops != 40 || c.Hits != 38 || c.Misses != 2 || c.ServerCommands != 10 || c.OriginCalls != 5 || c.ServerNetOutBytes != 150 {
		t.Errorf("counts: %+v", c)
	}
	if c.P99 != 9 || c.Max != 12 || c.P50 != 1.75 || c.UsedMemory != 5 || c.PoolTotal != 5 || c.Fault != "x" {
		t.Errorf("tails, gauges or faults: %+v", c)
	}
	if c.HitRate != 0.95 || c.HitRateByFamily["a"] != 0.9 {
		t.Errorf("hit rates %v %v, want 0.95 and the family's mean 0.9", c.HitRate, c.HitRateByFamily)
	}
}

// A simulated day (86,400 one-second rows, a fault at 30,000-30,030 s):
// the timeline keeps the last hour per second, the five before it at ten
// seconds a row and everything older at a minute, except the fault's
// neighbourhood, which stays per second; no operation, hit or sample is
// lost, and the row count, what the tool's memory for the timeline grows
// with, stays near 3,600 + 1,800 + 1,080 instead of 86,400 (or 11,880 at
// ten seconds a row).
func TestCompactBoundsADay(t *testing.T) {
	s := &sampler{}
	const day = 86400
	ops, hits := feedRows(s, day, "soak", 30000, 30030)
	gotOps, gotHits, histN := rowTotals(s.rows)
	prev := 0.0
	for i, r := range s.rows {
		span := max(r.SpanS, 1)
		if r.T-prev != span {
			t.Fatalf("row %d at %.0f s spans %.0f s, previous row at %.0f s", i, r.T, span, prev)
		}
		if s.dials[i] != uint64(r.T) || s.conns[i] != uint64(2*r.T) {
			t.Fatalf("row at %.0f s: dials %d conns %d, want the counters as of its end", r.T, s.dials[i], s.conns[i])
		}
		age := day - r.T
		near := r.T >= 30000-compactGuardBefore && r.T <= 30030+compactGuardAfter
		switch {
		case near && span > 1:
			t.Errorf("row at %.0f s near the fault folded to %.0f s", r.T, span)
		case age < compactAfter && span > 1:
			t.Errorf("row at %.0f s, in the last hour, folded to %.0f s", r.T, span)
		case age >= compactAfter+compactSpan && age < compactOldAfter && !near && span != compactSpan:
			t.Errorf("row at %.0f s, %.0f s old, spans %.0f s, want %d", r.T, age, span, compactSpan)
		case age >= compactOldAfter+compactOldSpan && !near && span != compactOldSpan && r.T-compactOldSpan > 30030+compactGuardAfter:
			t.Errorf("row at %.0f s, %.0f s old, spans %.0f s, want %.0f", r.T, age, span, compactOldSpan)
		}
		prev = r.T
	}
	if gotOps != ops || gotHits != hits || histN != int64(ops) {
		t.Errorf("ops %d hits %d histogram %d after compaction, want %d, %d, %d", gotOps, gotHits, histN, ops, hits, ops)
	}
	if len(s.rows) > 3600+1800+1080+400 {
		t.Errorf("%d rows kept of a day: want about 6,500", len(s.rows))
	}
	if note := s.cmp.compactNote(); !strings.Contains(note, "60 s each") {
		t.Errorf("note %q does not say rows were folded to minutes", note)
	}
	t.Logf("%d rows kept of %d; note: %s", len(s.rows), day, s.cmp.compactNote())
}

// feedRows samples secs one-second rows into s as a run does, compacting
// when the sampler says so, with a restart fault from faultFrom to faultTo
// (seconds, inclusive); it returns the operations and hits fed.
func feedRows(s *sampler, secs int, phase string, faultFrom, faultTo int) (ops, hits uint64) {
	for sec := 1; sec <= secs; sec++ {
		row := result.TimelineRow{T: float64(sec), Phase: phase, Ops: uint64(sec % 7), Hits: uint64(sec % 5), Misses: 1,
			LatencyHist: result.WindowHist{{100, int32(sec % 7)}}}
		if sec >= faultFrom && sec <= faultTo {
			row.Fault = "restart"
		}
		ops += row.Ops
		hits += row.Hits
		s.rows = append(s.rows, row)
		s.dials = append(s.dials, uint64(sec))
		s.conns = append(s.conns, uint64(2*sec))
		if s.cmp.noteRow(&s.rows[len(s.rows)-1]) {
			s.compact()
		}
	}
	return ops, hits
}

// rowTotals adds up the rows' operations, hits and latency-histogram
// counts: what folding must keep.
func rowTotals(rows []result.TimelineRow) (ops, hits uint64, histN int64) {
	for _, r := range rows {
		ops += r.Ops
		hits += r.Hits
		for _, b := range r.LatencyHist {
			histN += int64(b[1])
		}
	}
	return ops, hits, histN
}
