package capacity

import (
	"fmt"
	"math"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// finishKnob writes the answer of a knob sweep (max_conns at the scenario's
// load): the least value that held and the highest that failed.
// Its walk is the load search's (sweep), climbing while steps fail.
func finishKnob(c *result.Capacity, p Plan, pass, fail *result.CapacityStep, toolLimited bool, results map[float64]*result.Result) *result.Capacity {
	a := &c.Answer
	design := loadText(p, p.Design)
	load := fmt.Sprintf("%s users at %s commands/user/min", groupThousands(int64(p.Users)), trimFloat(p.PerUserPerMinute))
	if pass != nil {
		a.MinHolding, a.MaxUsers, a.MaxOpsPerSec = pass.Load, pass.Users, pass.OpsPerSec
		a.Headroom = math.Round(p.Design/pass.Load*100) / 100
	}
	a.DesignHolds = pass != nil && p.round(p.Design) >= pass.Load
	if fail != nil {
		a.FailLoad = fail.Load
		a.Broke, a.AlsoBroke = brokenTargets(fail.Targets)
	}
	var b strings.Builder
	switch {
	case pass == nil && fail == nil:
		// No step completed: the first one errored (Redis could not start)
		// or the search was interrupted. The caller reports the error; the
		// answer says only that nothing was measured.
		a.AtLeast = false
		fmt.Fprintf(&b, "no step completed: nothing is known about %s for %s", p.Vary, load)
	case toolLimited:
		_, why := ToolLimited(results[fail.Load])
		a.AtLeast, a.Limit = true, result.LimitTool
		a.Evidence = "the load generator or its machine was the bottleneck at " + loadText(p, fail.Load) + ": " + why
		fmt.Fprintf(&b, "cannot size %s: the tool could not apply %s", p.Vary, load)
		if pass != nil {
			fmt.Fprintf(&b, " (it held with %s)", loadText(p, pass.Load))
		}
	case pass == nil:
		a.Limit, a.Evidence = Diagnose(results[fail.Load], nil)
		fmt.Fprintf(&b, "no %s up to %s holds %s", p.Vary, loadText(p, fail.Load), load)
	case fail == nil:
		a.AtLeast, a.Limit = true, result.LimitNone
		a.Evidence = "every target held at every step, down to " + loadText(p, pass.Load)
		fmt.Fprintf(&b, "%s holds with as few as %s (the scenario's %s is %.2fx that)", load, loadText(p, pass.Load), design, a.Headroom)
	default:
		a.Limit, a.Evidence = Diagnose(results[fail.Load], results[pass.Load])
		fmt.Fprintf(&b, "%s needs %s %s (the scenario's %s is %.2fx that)", load, p.Vary, loadText(p, pass.Load), design, a.Headroom)
	}
	if a.Broke != nil && !toolLimited {
		fmt.Fprintf(&b, "; with %s, %s broke (%s against %s, %s)", loadText(p, a.FailLoad), a.Broke.Name, a.Broke.ObservedText, a.Broke.Expr, a.Broke.By)
	}
	if a.Limit != "" && a.Limit != result.LimitNone && a.Limit != result.LimitTool {
		fmt.Fprintf(&b, "; likely limit: %s", a.Limit)
	}
	if !a.DesignHolds && pass != nil {
		b.WriteString("; the scenario's setting does not hold")
	}
	a.Headline = b.String()
	c.Verdict = result.VerdictFail
	if a.DesignHolds {
		c.Verdict = result.VerdictPass
	}
	return c
}
