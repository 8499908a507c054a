package capacity

import (
	"fmt"
	"math"
	"strings"

	"github.com/cacheproof/cacheproof/result"
)

// finishKnob writes the answer of a knob sweep (max_conns at the scenario's
// load): the least value that held (hp) and the highest that failed (lf).
// Its walk is the load search's, climbing while steps fail.
func (s *searcher) finishKnob(hp, lf *atLoad, tool bool) {
	c, p := s.c, s.p
	a := &c.Answer
	design := loadText(p, p.Design)
	load := fmt.Sprintf("%s users at %s commands/user/min", groupThousands(int64(p.Users)), trimFloat(p.PerUserPerMinute))
	passSt, passRes := s.rep(hp)
	failSt, failRes := s.rep(lf)
	if hp != nil {
		a.MinHolding, a.MaxUsers, a.MaxOpsPerSec = hp.load, passSt.Users, passSt.OpsPerSec
		a.Headroom = math.Round(p.Design/hp.load*100) / 100
	}
	if lf != nil {
		a.FailLoad = lf.load
		if !tool && s.verdict(lf) == result.VerdictFail {
			a.Broke, a.AlsoBroke = brokenTargets(failSt.Targets)
			if s.anyLoad != nil {
				a.Broke, a.AlsoBroke = s.anyLoad.first(failSt.Targets)
			}
		}
	}
	var b strings.Builder
	switch {
	case hp == nil && lf == nil:
		// No step completed: the first one errored (Redis could not start)
		// or the search was interrupted. The caller reports the error; the
		// answer says only that nothing was measured.
		fmt.Fprintf(&b, "no step completed: nothing is known about %s for %s", p.Vary, load)
	case tool:
		a.AtLeast, a.Limit = true, result.LimitTool
		a.Evidence = "the load generator or its machine was the bottleneck at " + loadText(p, lf.load) + ": " + failSt.ToolWhy
		fmt.Fprintf(&b, "cannot size %s: the tool could not apply %s", p.Vary, load)
		if hp != nil {
			fmt.Fprintf(&b, " (it held with %s)", loadText(p, hp.load))
		}
	case s.anyLoad != nil && a.Broke != nil:
		a.FailsAtAnyLoad, a.Limit, a.Evidence = true, result.LimitAnyLoad, s.anyLoad.evidence
		fmt.Fprintf(&b, "fails at any %s: %s %s, not a %s limit (%s)", p.Vary, a.Broke.Name, a.Broke.Expr, p.Vary, a.Evidence)
	case hp == nil:
		a.Limit, a.Evidence = Diagnose(failRes, nil)
		fmt.Fprintf(&b, "no %s up to %s holds %s", p.Vary, loadText(p, lf.load), load)
	case lf == nil:
		a.AtLeast, a.Limit = true, result.LimitNone
		a.Evidence = "every target held at every step, down to " + loadText(p, hp.load)
		fmt.Fprintf(&b, "%s holds with as few as %s (the scenario's %s is %.2fx that)", load, loadText(p, hp.load), design, a.Headroom)
	default:
		a.Limit, a.Evidence = Diagnose(failRes, passRes)
		fmt.Fprintf(&b, "%s needs %s %s (the scenario's %s is %.2fx that)", load, p.Vary, loadText(p, hp.load), design, a.Headroom)
	}
	if a.Broke != nil && !tool && !a.FailsAtAnyLoad {
		fmt.Fprintf(&b, "; with %s, %s broke (%s against %s, %s)", loadText(p, a.FailLoad), a.Broke.Name, a.Broke.ObservedText, a.Broke.Expr, a.Broke.By)
	}
	writeLimitAndInterval(&b, p, a, "the least that holds", true)
	if a.Unfinished {
		fmt.Fprintf(&b, "; unfinished: the search ran out of its %d steps", p.MaxSteps)
	}
	if len(c.Steps) > 0 && a.DesignVerdict != result.VerdictPass {
		fmt.Fprintf(&b, "; the scenario's %s %s", design, s.designText(a.DesignVerdict))
	}
	a.Headline = b.String()
}
