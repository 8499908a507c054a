package capacity

import (
	"cmp"
	"slices"

	"github.com/cacheproof/cacheproof/result"
)

// AttachPrediction writes a maxmemory sweep's prediction into c: the
// curve (sorted by size) and, per step, the predicted hit rate at the
// step's size: the curve's point there, else the straight line between its
// neighbours (the curve is computed at every step's size, so that is only
// for a curve made without them). A step outside the curve has none.
func AttachPrediction(c *result.Capacity, p *result.CapacityPrediction) {
	if c == nil || p == nil {
		return
	}
	slices.SortFunc(p.Curve, func(a, b result.SizingPoint) int { return cmp.Compare(a.MaxMemoryBytes, b.MaxMemoryBytes) })
	c.Prediction = p
	for i := range c.Steps {
		st := &c.Steps[i]
		if v, ok := predictedAt(p.Curve, st.Load); ok {
			st.PredictedHitRate = &v
		}
	}
}

// predictedAt is the curve's hit rate at size, interpolated between the
// points around it.
func predictedAt(curve []result.SizingPoint, size float64) (float64, bool) {
	for i, pt := range curve {
		x := float64(pt.MaxMemoryBytes)
		switch {
		case x == size:
			return pt.HitRate, true
		case x > size && i > 0:
			prev := curve[i-1]
			px := float64(prev.MaxMemoryBytes)
			return prev.HitRate + (pt.HitRate-prev.HitRate)*(size-px)/(x-px), true
		case x > size:
			return 0, false
		}
	}
	return 0, false
}
