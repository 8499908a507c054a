package result

// Enough reports whether the scenario's maxmemory reaches the target hit
// rate with the scenario's own policy, as predicted: size's verdict (exit
// 0, else 1) and the badge of sizing.html. A scenario without a maxmemory
// (0: unbounded) is enough; its curve is still computed.
func (z *Sizing) Enough() bool {
	if z.MaxMemoryBytes == 0 {
		return true
	}
	for _, p := range z.Policies {
		if p.Policy == z.Policy && p.AtMaxMemory < z.TargetHitRate {
			return false
		}
	}
	return true
}
