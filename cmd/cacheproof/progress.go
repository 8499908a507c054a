package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/cacheproof/cacheproof/harness"
	"github.com/cacheproof/cacheproof/scenarios"
)

// progress shows a run's state: mpb bars on a terminal; on anything else (CI
// logs) one plain status line every few seconds, since bars would fill a log
// with carriage returns.
type progress struct {
	w     io.Writer
	mode  string // bars | lines | none
	quiet bool

	mu       sync.Mutex
	p        *mpb.Progress
	bar      *mpb.Bar
	last     harness.Sample
	lastLine time.Time
	every    time.Duration
}

func newProgress(w io.Writer, mode string, quiet bool, sc *scenarios.Scenario) *progress {
	pr := &progress{w: w, mode: mode, quiet: quiet, every: 5 * time.Second}
	if quiet {
		pr.mode = "none"
	}
	if pr.mode == "auto" {
		pr.mode = "lines"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			pr.mode = "bars"
		}
	}
	if pr.mode == "bars" {
		total := int64(sc.TotalDuration() / time.Second)
		pr.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithRefreshRate(200*time.Millisecond))
		pr.bar = pr.p.AddBar(max(total, 1),
			mpb.PrependDecorators(
				decor.Any(func(decor.Statistics) string { return pr.phase() }, decor.WCSyncSpaceR),
				decor.Any(func(st decor.Statistics) string {
					return fmt.Sprintf("%s/%s", time.Duration(st.Current)*time.Second, time.Duration(st.Total)*time.Second)
				}, decor.WCSyncSpace),
			),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return pr.figures() })),
		)
	}
	return pr
}

func (pr *progress) phase() string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.last.Phase == "" {
		return "starting"
	}
	return pr.last.Phase
}

func (pr *progress) figures() string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	r := pr.last.Row
	return fmt.Sprintf("%6.0f ops/s  p99 %6.2fms  hit %5.1f%%  errors %d  active %d", float64(r.Ops), r.P99, 100*r.HitRate, r.Errors, r.Active)
}

func (pr *progress) sample(s harness.Sample) {
	pr.mu.Lock()
	pr.last = s
	now := time.Now()
	printLine := pr.mode == "lines" && now.Sub(pr.lastLine) >= pr.every
	if printLine {
		pr.lastLine = now
	}
	pr.mu.Unlock()
	switch {
	case pr.bar != nil:
		pr.bar.SetCurrent(int64(s.Elapsed / time.Second))
	case printLine:
		r := s.Row
		recorded := "n/a"
		if s.Requests > 0 {
			recorded = fmt.Sprintf("%.1f%%", 100*s.HitRate)
		}
		fmt.Fprintf(pr.w, "[%4.0fs/%4.0fs] %-8s %6d ops/s  p99 %7.2fms  hit %5.1f%% (recorded %s)  errors %d  pool_timeouts %d  late %d  dropped %d  active %d\n",
			s.Elapsed.Seconds(), s.Total.Seconds(), s.Phase, r.Ops, r.P99, 100*r.HitRate, recorded, r.Errors, r.PoolTimeouts, r.Late, r.Dropped, r.Active)
	}
}

// logf prints harness messages above the bars (or as plain lines).
func (pr *progress) logf(format string, args ...any) {
	if pr.p != nil {
		pr.p.Write([]byte(fmt.Sprintf(format, args...) + "\n"))
		return
	}
	fmt.Fprintf(pr.w, format+"\n", args...)
}

func (pr *progress) done() {
	if pr.bar != nil {
		pr.bar.Abort(false)
		pr.p.Wait()
		pr.bar, pr.p = nil, nil
	}
}

// progressHelp is --progress's description, the same for run and capacity.
const progressHelp = "progress display: auto (bars on a terminal, lines otherwise), bars, lines, none"

// checkProgress refuses a --progress value that is none of progressHelp's.
func checkProgress(mode string, errf func(string, ...any)) int {
	switch mode {
	case "auto", "bars", "lines", "none":
		return next
	}
	errf("--progress: expected auto, bars, lines or none, got %q", mode)
	return exitUsage
}

// stepProgress shows the progress of a sequence of runs (capacity's
// steps), one display per run: a run's first sample opens it, the end of
// the run (stepDone) closes it, so each step's bar counts its own time.
type stepProgress struct {
	w     io.Writer
	mode  string
	quiet bool
	sc    *scenarios.Scenario // a step's scenario: every step has its phases

	mu  sync.Mutex
	cur *progress
}

func (sp *stepProgress) sample(s harness.Sample) {
	sp.mu.Lock()
	if sp.cur == nil {
		sp.cur = newProgress(sp.w, sp.mode, sp.quiet, sp.sc)
	}
	cur := sp.cur
	sp.mu.Unlock()
	cur.sample(s)
}

// stepDone closes the finished step's display, before its line is printed.
func (sp *stepProgress) stepDone() {
	sp.mu.Lock()
	cur := sp.cur
	sp.cur = nil
	sp.mu.Unlock()
	if cur != nil {
		cur.done()
	}
}
