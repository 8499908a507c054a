package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// This file draws the report's charts as inline SVG on the server side, so
// report.html needs no script, no font and no network to show them, and they
// print as vectors.

type series struct {
	name  string
	color string
	x, y  []float64 // NaN in y breaks the line (no data in that interval)
	dash  bool
	width float64
}

type band struct {
	from, to float64
	label    string
}

type hline struct {
	y     float64
	label string
	color string
}

type chart struct {
	title  string
	yLabel string
	width  int
	height int
	logY   bool
	yMin   float64 // used when fixY is set
	yMax   float64
	fixY   bool
	xMin   float64
	xMax   float64
	bands  []band
	hlines []hline
	yFmt   func(float64) string
	xFmt   func(float64) string
	xTicks []float64 // overrides automatic x ticks
	series []series
	empty  string // message when there is nothing to draw
}

const (
	marginL = 64
	marginR = 16
	marginT = 44
	marginB = 30
)

// palette is readable on screen and on a grey-scale printout (distinct
// lightness as well as hue).
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"}

func colorAt(i int) string { return palette[i%len(palette)] }

// render draws the chart. Output is deterministic for a given input.
func (c chart) render() template.HTML {
	if c.width == 0 {
		c.width = 920
	}
	if c.height == 0 {
		c.height = 260
	}
	if c.yFmt == nil {
		c.yFmt = func(v float64) string { return formatNum(round(v, 3)) }
	}
	if c.xFmt == nil {
		c.xFmt = formatClock
		if _, hi := c.xRange(); hi < 120 {
			c.xFmt = func(v float64) string { return formatNum(round(v, 1)) + "s" }
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		c.width, c.height, esc(c.title))
	fmt.Fprintf(&b, `<text x="4" y="16" class="ct">%s</text>`, esc(c.title))

	lo, hi, ok := c.yRange()
	xlo, xhi := c.xRange()
	if !ok || xhi <= xlo {
		msg := c.empty
		if msg == "" {
			msg = "no data"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="empty">%s</text></svg>`, c.width/2, c.height/2, esc(msg))
		return template.HTML(b.String())
	}
	pw, ph := float64(c.width-marginL-marginR), float64(c.height-marginT-marginB)
	sx := func(x float64) float64 { return marginL + (x-xlo)/(xhi-xlo)*pw }
	sy := func(y float64) float64 {
		if c.logY {
			y = math.Log10(math.Max(y, lo))
			return marginT + ph - (y-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*ph
		}
		return marginT + ph - (y-lo)/(hi-lo)*ph
	}

	// Legend, left to right under the title.
	lx := 4.0
	for _, s := range c.series {
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="5 3"`
		}
		fmt.Fprintf(&b, `<line x1="%.0f" y1="30" x2="%.0f" y2="30" stroke="%s" stroke-width="3"%s/><text x="%.0f" y="34" class="lg">%s</text>`,
			lx, lx+18, s.color, dash, lx+22, esc(s.name))
		lx += 22 + 7*float64(len([]rune(s.name))) + 16
	}
	if len(c.bands) > 0 {
		fmt.Fprintf(&b, `<rect x="%.0f" y="24" width="18" height="10" class="band"/><text x="%.0f" y="34" class="lg">fault</text>`, lx, lx+22)
	}

	// Fault bands behind everything.
	for _, bd := range c.bands {
		x0, x1 := sx(math.Max(bd.from, xlo)), sx(math.Min(math.Max(bd.to, bd.from+(xhi-xlo)/400), xhi))
		if x1 < marginL || x0 > marginL+pw {
			continue
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%.0f" class="band"><title>%s</title></rect>`,
			x0, marginT, math.Max(x1-x0, 1.5), ph, esc(bd.label))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="bl">%s</text>`, x0+2, marginT+10, esc(bd.label))
	}

	// Grid and axes.
	for _, t := range c.yTickValues(lo, hi) {
		y := sy(t)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.0f" y2="%.1f" class="grid"/><text x="%d" y="%.1f" class="yt">%s</text>`,
			marginL, y, marginL+pw, y, marginL-4, y+4, esc(c.yFmt(t)))
	}
	xt := c.xTicks
	if xt == nil {
		xt = timeTicks(xlo, xhi)
	}
	for _, t := range xt {
		if t < xlo || t > xhi {
			continue
		}
		x := sx(t)
		anchor := ""
		if x > marginL+pw-30 {
			anchor = ` style="text-anchor:end"`
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.0f" class="grid"/><text x="%.1f" y="%.0f" class="xt"%s>%s</text>`,
			x, marginT, x, marginT+ph, x, marginT+ph+16, anchor, esc(c.xFmt(t)))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" class="frame"/>`, marginL, marginT, pw, ph)
	if c.yLabel != "" {
		fmt.Fprintf(&b, `<text x="12" y="%.0f" class="yl" transform="rotate(-90 12 %.0f)">%s</text>`,
			marginT+ph/2, marginT+ph/2, esc(c.yLabel))
	}

	for _, h := range c.hlines {
		if h.y < lo || h.y > hi {
			continue
		}
		y := sy(h.y)
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.0f" y2="%.1f" stroke="%s" class="target"/><text x="%.0f" y="%.1f" class="tl" fill="%s">%s</text>`,
			marginL, y, marginL+pw, y, h.color, marginL+pw-4, y-3, h.color, esc(h.label))
	}

	for _, s := range c.series {
		var d strings.Builder
		pen := false
		for i := range s.x {
			if i >= len(s.y) || math.IsNaN(s.y[i]) || math.IsInf(s.y[i], 0) || (c.logY && s.y[i] <= 0) {
				pen = false
				continue
			}
			cmd := 'L'
			if !pen {
				cmd = 'M'
			}
			fmt.Fprintf(&d, "%c%.1f %.1f", cmd, sx(s.x[i]), sy(math.Min(math.Max(s.y[i], lo), hi)))
			pen = true
		}
		if d.Len() == 0 {
			continue
		}
		w := s.width
		if w == 0 {
			w = 1.6
		}
		dash := ""
		if s.dash {
			dash = ` stroke-dasharray="5 3"`
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="%.1f" stroke-linejoin="round"%s><title>%s</title></path>`,
			d.String(), s.color, w, dash, esc(s.name))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func (c chart) xRange() (float64, float64) {
	if c.xMax > c.xMin {
		return c.xMin, c.xMax
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range c.series {
		for _, x := range s.x {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	return lo, hi
}

// yRange finds the plotted range: fixed, or the data's range padded, with a
// log scale clamped to positive values.
func (c chart) yRange() (lo, hi float64, ok bool) {
	if c.fixY {
		return c.yMin, c.yMax, true
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range c.series {
		for _, y := range s.y {
			if math.IsNaN(y) || math.IsInf(y, 0) || (c.logY && y <= 0) {
				continue
			}
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
	}
	for _, h := range c.hlines {
		if !c.logY || h.y > 0 {
			hi = math.Max(hi, h.y*1.1)
			lo = math.Min(lo, h.y)
		}
	}
	if math.IsInf(lo, 1) {
		return 0, 0, false
	}
	if c.logY {
		lo = math.Pow(10, math.Floor(math.Log10(lo)))
		hi = math.Pow(10, math.Ceil(math.Log10(hi)))
		if hi <= lo {
			hi = lo * 10
		}
		return lo, hi, true
	}
	if lo > 0 {
		lo = 0
	}
	if hi <= lo {
		hi = lo + 1
	}
	ticks := niceTicks(lo, hi, 5)
	return lo, ticks[len(ticks)-1], true
}

func (c chart) yTickValues(lo, hi float64) []float64 {
	if !c.logY {
		return niceTicks(lo, hi, 5)
	}
	var out []float64
	decades := math.Log10(hi) - math.Log10(lo)
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		mults := []float64{1}
		if decades <= 2 {
			mults = []float64{1, 2, 5}
		}
		for _, m := range mults {
			if v := base * m; v >= lo*0.999 && v <= hi*1.001 {
				out = append(out, v)
			}
		}
	}
	return out
}

// niceTicks returns about n round tick values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	span := hi - lo
	if span <= 0 {
		return []float64{lo}
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	start := math.Floor(lo/step) * step
	var out []float64
	for v := start; v < hi+step*0.999; v += step {
		out = append(out, round(v, 9))
	}
	return out
}

// timeTicks picks round second intervals for a time axis.
func timeTicks(lo, hi float64) []float64 {
	span := hi - lo
	step := 3600.0
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		if span/s <= 10 {
			step = s
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		out = append(out, v)
	}
	return out
}

// formatClock renders seconds since start as "45s", "2:30" or "1:02:00".
func formatClock(s float64) string {
	t := int(math.Round(s))
	switch {
	case t < 120:
		return fmt.Sprintf("%ds", t)
	case t < 3600:
		return fmt.Sprintf("%d:%02d", t/60, t%60)
	}
	return fmt.Sprintf("%d:%02d:%02d", t/3600, t/60%60, t%60)
}

func esc(s string) string { return html.EscapeString(s) }
