package chaos

import (
	"sync/atomic"
	"time"
)

// DefaultResolution is the bucket width of an Activity. Recovery is often
// shorter than a second (a restart of an empty Redis takes a few hundred
// milliseconds), so the per-second timeline alone would round it to 0 or 1.
const DefaultResolution = 100 * time.Millisecond

// Activity counts completed operations and errors in fine time buckets, and
// keeps the first and last error instant of every bucket. The driver calls
// Record once per cache operation; it is lock-free, so it costs a few atomic
// adds on the hot path.
type Activity struct {
	res     time.Duration
	ops     []atomic.Uint64
	errs    []atomic.Uint64
	firstNs []atomic.Int64 // offset+1 of the first error in the bucket (0: none)
	lastNs  []atomic.Int64 // offset+1 of the last error in the bucket (0: none)
}

// NewActivity covers span (the run's length plus slack for draining);
// operations after it land in the last bucket.
func NewActivity(span, res time.Duration) *Activity {
	if res <= 0 {
		res = DefaultResolution
	}
	n := int(span/res) + 1
	return &Activity{
		res:     res,
		ops:     make([]atomic.Uint64, n),
		errs:    make([]atomic.Uint64, n),
		firstNs: make([]atomic.Int64, n),
		lastNs:  make([]atomic.Int64, n),
	}
}

func (a *Activity) bucket(at time.Duration) int {
	i := int(at / a.res)
	if i < 0 {
		return 0
	}
	if i >= len(a.ops) {
		return len(a.ops) - 1
	}
	return i
}

// Record adds one operation that completed at offset at (since the run
// started); failed says whether it returned an error.
func (a *Activity) Record(at time.Duration, failed bool) {
	if a == nil {
		return
	}
	i := a.bucket(at)
	a.ops[i].Add(1)
	if !failed {
		return
	}
	a.errs[i].Add(1)
	v := int64(at) + 1
	for {
		cur := a.firstNs[i].Load()
		if (cur != 0 && cur <= v) || a.firstNs[i].CompareAndSwap(cur, v) {
			break
		}
	}
	for {
		cur := a.lastNs[i].Load()
		if cur >= v || a.lastNs[i].CompareAndSwap(cur, v) {
			break
		}
	}
}

// Resolution is the bucket width.
func (a *Activity) Resolution() time.Duration { return a.res }

// FirstError returns the first error at or after from and before to.
func (a *Activity) FirstError(from, to time.Duration) (time.Duration, bool) {
	for i := a.bucket(from); i <= a.bucket(to); i++ {
		if a.errs[i].Load() == 0 {
			continue
		}
		// The bucket's first error may precede from; then the bucket still
		// holds a later one only if its last error is after from.
		f := time.Duration(a.firstNs[i].Load() - 1)
		l := time.Duration(a.lastNs[i].Load() - 1)
		switch {
		case f >= from && f < to:
			return f, true
		case l >= from && l < to:
			return from, true
		}
	}
	return 0, false
}

// RecoveredAt returns the instant, at or after from, after which operations
// succeed again: the first stretch of quiet (at least one completed
// operation and no errors for the whole stretch) starts there. It is the
// last error before that stretch, or from when none came after from. ok is
// false when no such stretch began before to.
func (a *Activity) RecoveredAt(from, to, quiet time.Duration) (time.Duration, bool) {
	need := int(quiet / a.res)
	if need < 1 {
		need = 1
	}
	start := a.bucket(from)
	end := a.bucket(to)
	lastErr := from
	for i := start; i <= end; i++ {
		if a.errs[i].Load() > 0 {
			if l := time.Duration(a.lastNs[i].Load() - 1); l > lastErr {
				lastErr = l
			}
			continue
		}
		// Bucket i is error-free: is it the start of a quiet stretch?
		var ops uint64
		clean := true
		j := i
		for ; j < i+need && j <= end; j++ {
			if a.errs[j].Load() > 0 {
				clean = false
				break
			}
			ops += a.ops[j].Load()
		}
		if !clean {
			i = j - 1 // resume at the erroring bucket
			continue
		}
		if j < i+need {
			return 0, false // the window ended before the stretch did
		}
		if ops > 0 {
			return lastErr, true
		}
	}
	return 0, false
}

// Ops returns operations and errors between from and to (whole buckets).
func (a *Activity) Ops(from, to time.Duration) (ops, errs uint64) {
	for i := a.bucket(from); i <= a.bucket(to); i++ {
		ops += a.ops[i].Load()
		errs += a.errs[i].Load()
	}
	return ops, errs
}
