package report

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/result"
)

// page is the frame capacity.html and sizing.html share with a run's
// report.html: its styles, a header with the verdict badge, navigation to
// the page's sections and headline cards, so that the three documents a
// user opens side by side read alike. Each document fills one and renders
// its own sections between Head and Foot.
type page struct {
	Title   string // the browser tab's
	Heading string // the h1, after "cacheproof · "
	Verdict string // pass, fail or inconclusive: the badge's colour; "" for none
	Badge   string // the badge's text
	Meta    string // the line beside the heading
	Nav     []pageLink
	Cards   []pageCard
	Tool    result.ToolInfo
}

// pageLink is one entry of the navigation: the id of a section.
type pageLink struct{ ID, Label string }

// pageCard is one headline figure, as the run report's cards are.
type pageCard struct {
	Value, Label string
	Bad, Warn    bool
}

// reportCSS is the run report's style sheet, the one owner of how every
// HTML document looks.
func reportCSS() string {
	css := ""
	if _, rest, ok := strings.Cut(htmlTemplate, "<style>"); ok {
		css, _, _ = strings.Cut(rest, "</style>")
	}
	return css
}

var pageHead = template.Must(template.New("head").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{{.P.Title}}</title>
<style>{{.CSS}}
td.l,th.l{text-align:left}td,th{text-align:right}p.pass,td.pass{color:var(--ok);font-weight:600}p.fail,td.fail{color:var(--bad);font-weight:600}p.inconclusive,td.inconclusive{color:var(--warn);font-weight:600}.headline{font-size:16px;margin:10px 0}.wide{overflow-x:auto}
</style>
</head>
<body>
<main>
<header id="verdict" data-section="verdict">
  <h1>cacheproof · {{.P.Heading}}</h1>
  {{if .P.Badge}}<span class="verdict {{.P.Verdict}}">{{.P.Badge}}</span>{{end}}
  {{if .P.Meta}}<span class="meta">{{.P.Meta}}</span>{{end}}
</header>
{{if .P.Nav}}<nav>{{range .P.Nav}}<a href="#{{.ID}}">{{.Label}}</a>{{end}}</nav>{{end}}
{{if .P.Cards}}<div class="cards">{{range .P.Cards}}<div class="card{{if .Bad}} bad{{end}}{{if .Warn}} warn{{end}}"><b>{{.Value}}</b><span>{{.Label}}</span></div>{{end}}</div>{{end}}
`))

var pageFoot = template.Must(template.New("foot").Parse(`<footer>{{.Name}} {{.Version}}{{if .GoVersion}} ({{.GoVersion}}){{end}}</footer>
</main>
</body>
</html>
`))

// frame renders p's head (through the cards) and foot, for a document's
// template to put its sections between.
func (p page) frame() (head, foot template.HTML, err error) {
	var h, f bytes.Buffer
	if err := pageHead.Execute(&h, struct {
		P   page
		CSS template.CSS
	}{p, template.CSS(reportCSS())}); err != nil {
		return "", "", fmt.Errorf("page head: %w", err)
	}
	if err := pageFoot.Execute(&f, p.Tool); err != nil {
		return "", "", fmt.Errorf("page foot: %w", err)
	}
	return template.HTML(h.String()), template.HTML(f.String()), nil
}

// pageMeta is the line beside a document's heading: its description, when
// it started and how long it took.
func pageMeta(sc result.ScenarioInfo, started time.Time, durationS float64) string {
	var parts []string
	if sc.Description != "" {
		parts = append(parts, sc.Description)
	}
	if !started.IsZero() {
		parts = append(parts, "started "+started.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if durationS > 0 {
		parts = append(parts, formatSeconds(durationS))
	}
	for _, o := range sc.Overrides {
		parts = append(parts, "set "+o.String())
	}
	return strings.Join(parts, " · ")
}

// capacityPage is capacity.html's frame: the design point's verdict on the
// badge, the answer's figures on the cards.
func capacityPage(c *result.Capacity) page {
	a := c.Answer
	p := page{
		Title:   "cacheproof capacity: " + c.Scenario.Name,
		Heading: "capacity of " + c.Scenario.Name,
		Verdict: a.DesignVerdict,
		Badge:   "design point " + strings.ToUpper(capacityDesignStatus(a)),
		Meta:    pageMeta(c.Scenario, c.StartedAt, c.DurationS),
		Nav:     []pageLink{{"answer", "Answer"}, {"charts", "Charts"}, {"steps", "Steps"}},
		Tool:    c.Tool,
	}
	if p.Verdict == "" {
		p.Verdict = result.VerdictFail
		if a.DesignHolds {
			p.Verdict = result.VerdictPass
		}
	}
	unit := " " + c.Unit
	if c.Knob {
		v := "none"
		if a.MinHolding > 0 {
			v = formatNum(round(a.MinHolding, 3)) + unit
		}
		p.Cards = append(p.Cards, pageCard{Value: v, Label: "least " + c.Vary + " that holds", Bad: a.MinHolding == 0})
	} else {
		v := formatNum(round(a.MaxLoad, 3)) + unit
		if a.AtLeast {
			v = "≥ " + v
		}
		p.Cards = append(p.Cards,
			pageCard{Value: v, Label: "max sustainable load"},
			pageCard{Value: formatNum(round(a.Headroom, 2)) + "×", Label: "headroom over the design point", Bad: a.Headroom < 1, Warn: a.Headroom >= 1 && a.Headroom < 1.2})
	}
	p.Cards = append(p.Cards, pageCard{Value: formatThousands(a.MaxOpsPerSec, 0), Label: "ops/s where every target held"})
	if a.Broke != nil {
		p.Cards = append(p.Cards, pageCard{Value: a.Broke.Name, Label: "first to break: " + a.Broke.ObservedText, Bad: true})
	}
	if a.Limit != "" {
		p.Cards = append(p.Cards, pageCard{Value: a.Limit, Label: "likely limiting resource"})
	}
	if iv := a.Interval; iv != nil {
		p.Cards = append(p.Cards, pageCard{Value: iv.Confidence, Label: "confidence of the interval", Warn: iv.Confidence != "confirmed"})
	}
	p.Cards = append(p.Cards, pageCard{Value: fmt.Sprint(len(c.Steps)), Label: "steps run"})
	return p
}

// sizingPage is sizing.html's frame: whether the scenario's maxmemory
// reaches the hit-rate target with its own policy on the badge, the
// memory that needs and the working set on the cards.
func sizingPage(z *result.Sizing) page {
	p := page{
		Title:   "cacheproof size: " + z.Scenario.Name,
		Heading: "memory for " + z.Scenario.Name,
		Meta:    pageMeta(z.Scenario, z.StartedAt, z.DurationS),
		Nav:     []pageLink{{"needed", "Needed"}, {"curves", "Curves"}, {"calibration", "Calibration"}, {"curve", "Curve table"}, {"method", "Method"}},
		Tool:    z.Tool,
	}
	target := fmt.Sprintf("%.2f%%", 100*z.TargetHitRate)
	enough := z.Enough()
	switch {
	case z.MaxMemoryBytes == 0:
		p.Verdict, p.Badge = result.VerdictPass, "NO MAXMEMORY"
	case enough:
		p.Verdict, p.Badge = result.VerdictPass, MB(float64(z.MaxMemoryBytes))+" ENOUGH"
	default:
		p.Verdict, p.Badge = result.VerdictFail, MB(float64(z.MaxMemoryBytes))+" TOO SMALL"
	}
	for _, pol := range z.Policies {
		if pol.Policy != z.Policy {
			continue
		}
		p.Cards = append(p.Cards,
			pageCard{Value: neededText(pol.NeededBytes), Label: "maxmemory needed for " + target + " (" + pol.Policy + ")", Bad: pol.NeededBytes == nil},
			pageCard{Value: fmt.Sprintf("%.2f%%", 100*pol.AtMaxMemory), Label: "predicted hit rate at " + MB(float64(z.MaxMemoryBytes)), Bad: !enough})
	}
	p.Cards = append(p.Cards,
		pageCard{Value: MB(float64(z.WorkingSetBytes)), Label: "working set of an unbounded cache"},
		pageCard{Value: fmt.Sprintf("%.2f%%", 100*z.CeilingHitRate), Label: "ceiling: hit rate with unbounded memory", Bad: z.CeilingHitRate < z.TargetHitRate})
	return p
}
