package profile

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ProbeOptions say when the profiler yields to the server: a PING every
// Every on the first node; a probe slower than Rise times the baseline
// (the median of the first probes, before the profiler's own load) plus
// Slack halves the profiler's rate, and StopAfter such probes in a row at
// the lowest rate stop it.
type ProbeOptions struct {
	Every     time.Duration
	Rise      float64
	Slack     time.Duration
	StopAfter int
}

// DefaultProbe: 4x the baseline plus 2 ms, probed every 250 ms, stopping
// after 8 slow probes (2 s) at a sixteenth of the rate.
var DefaultProbe = ProbeOptions{Every: 250 * time.Millisecond, Rise: 4, Slack: 2 * time.Millisecond, StopAfter: 8}

// ProbeReport is what the probe saw and did.
type ProbeReport struct {
	BaselineMs float64 `json:"baseline_ms"`
	MaxMs      float64 `json:"max_ms"`
	Probes     int     `json:"probes"`
	Slow       int     `json:"slow"`
	Backoffs   int     `json:"backoffs"`
	Stopped    string  `json:"stopped,omitempty"`
}

// probe watches the server's latency while the profiler reads.
type probe struct {
	n     *node
	limit []*limiter
	o     ProbeOptions

	mu  sync.Mutex
	rep ProbeReport
}

// baseline measures the server's PING latency before any load of ours.
func (p *probe) baseline(ctx context.Context) error {
	var ds []float64
	for range 5 {
		d, err := p.ping(ctx)
		if err != nil {
			return &EnvError{fmt.Errorf("PING %s: %w", p.n.addr, err)}
		}
		ds = append(ds, d)
		time.Sleep(20 * time.Millisecond)
	}
	slices.Sort(ds)
	p.rep.BaselineMs = ds[len(ds)/2]
	return nil
}

func (p *probe) ping(ctx context.Context) (float64, error) {
	t := time.Now()
	err := p.n.do(ctx, "ping").Err()
	return float64(time.Since(t).Microseconds()) / 1000, err
}

// run probes until ctx ends; it calls stop with the reason when the
// server stays slow at the lowest rate.
func (p *probe) run(ctx context.Context, stop func(error)) {
	t := time.NewTicker(p.o.Every)
	defer t.Stop()
	scale, slowRun, okRun := 1.0, 0, 0
	limitMs := p.rep.BaselineMs*p.o.Rise + float64(p.o.Slack.Microseconds())/1000
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d, err := p.ping(ctx)
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.rep.Probes++
		p.rep.MaxMs = max(p.rep.MaxMs, d)
		slow := err != nil || d > limitMs
		if slow {
			p.rep.Slow++
			slowRun++
			okRun = 0
			if scale > 1.0/16 {
				scale /= 2
				p.rep.Backoffs++
				slowRun = 0 // counted again at the lowest rate
			} else if slowRun >= p.o.StopAfter {
				p.rep.Stopped = fmt.Sprintf("the server's PING latency stayed above %.2f ms (baseline %.2f ms) for %d probes at 1/16 of --max-ops-per-sec", limitMs, p.rep.BaselineMs, slowRun)
				p.mu.Unlock()
				stop(fmt.Errorf("%s", p.report().Stopped))
				return
			}
		} else {
			slowRun = 0
			okRun++
			if okRun >= 4 && scale < 1 {
				scale = min(1, scale*2)
				okRun = 0
			}
		}
		p.mu.Unlock()
		for _, l := range p.limit {
			l.scale(scale)
		}
	}
}

func (p *probe) report() ProbeReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rep
}
