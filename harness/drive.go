package harness

import (
	"context"
	"time"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/selfmeasure"
)

// startLoad starts the clock, the tool's self-measurement, the fault
// timeline and the dispatcher.
func (r *run) startLoad() {
	r.o.logf("driving %d users (population %d) for %s", peakUsers(r.plans), r.s.Workload.Population, r.total)
	start := time.Now()
	r.d.SetStart(start)
	r.bots.SetStart(start)
	r.res.StartedAt = start.UTC()
	r.client = selfmeasure.StartCollector(start, r.phases, r.replies)
	r.bots.WatchFaults() // before the timeline, which tells it of faults
	if r.runner != nil {
		r.runner.Start(start)
	}
	r.stop = make(chan struct{})
	r.dispatched = make(chan struct{})
	go func() {
		defer close(r.dispatched)
		r.d.Run(r.stop, r.src)
	}()
}

// stopLoad ends the fault timeline and the self-measurement (both may have
// been stopped already).
func (r *run) stopLoad() {
	if r.runner != nil {
		r.runner.Stop()
	}
	r.client.Stop()
	r.client.Close()
}

// drive samples every interval until the schedule is dispatched or ctx is
// cancelled (then dispatching stops and the run is marked interrupted).
func (r *run) drive(ctx context.Context) {
	ticker := time.NewTicker(r.o.SampleInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			r.interrupted = true
			close(r.stop)
			return
		case <-r.dispatched:
			return
		case now := <-ticker.C:
			if r.observeAbort(r.emit(now)) {
				close(r.stop)
				return
			}
		}
	}
}

// emit takes one timeline row, reports it and returns it.
func (r *run) emit(now time.Time) result.TimelineRow {
	smp := r.smp
	// INFO must be read even after an interrupt, so not under ctx.
	row, iv := smp.sample(context.Background(), now)
	if r.o.OnSample != nil {
		r.o.OnSample(Sample{Row: row, Interval: iv.Latency, Service: iv.Service, FamilyLatency: smp.familyLatency(iv), Elapsed: now.Sub(r.d.Start()), Total: r.total, Phase: row.Phase,
			Requests: smp.reqs, HitRate: result.LookupHitRate(smp.hits, smp.misses, smp.lookupErrs), Errors: smp.errs})
	}
	return row
}

// drain lets in-flight commands finish within DrainTimeout, then abandons
// them; ends the faults still in effect and finishes their read-backs while
// the deployment and the manager are still up; and takes the last sample.
func (r *run) drain() {
	<-r.dispatched
	drained := make(chan struct{})
	go func() { r.d.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(r.o.DrainTimeout):
		r.abandon()
		<-drained
	}
	if r.runner != nil {
		r.runner.Stop()
	}
	r.bots.StopWarming(r.o.DrainTimeout)
	r.client.Finish()
	r.end = time.Now()
	r.emit(r.end)
}
