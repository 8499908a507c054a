package selfmeasure

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The probe's body, run in this process for 300 ms: it sleeps about 200
// times a second and reports cumulative counts every 100 ms, each line
// parseable, counts never going down and the bounds nested (a wake-up over
// 1 ms is also over 500 µs).
func TestHostProbeReports(t *testing.T) {
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	done := make(chan int)
	go func() { done <- runHostProbe(pw, stop) }()
	var lines []hostTimerCounts
	sc := bufio.NewScanner(pr)
	deadline := time.After(300 * time.Millisecond)
read:
	for sc.Scan() {
		c, err := parseHostTimerCounts(sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, c)
		select {
		case <-deadline:
			break read
		default:
		}
	}
	close(stop)
	go func() { _, _ = io.Copy(io.Discard, pr) }() // let a last write finish
	<-done
	_ = pw.Close()
	if len(lines) < 2 {
		t.Fatalf("%d reports in 300 ms, want at least 2", len(lines))
	}
	last := lines[len(lines)-1]
	if last.wakes < 20 || last.wakes > 200 {
		t.Errorf("%d wake-ups in about 300 ms, want about 60", last.wakes)
	}
	for i := 1; i < len(lines); i++ {
		if lines[i].wakes < lines[i-1].wakes {
			t.Errorf("wake-ups went down: %d then %d", lines[i-1].wakes, lines[i].wakes)
		}
	}
	for i := 1; i < len(last.over); i++ {
		if last.over[i] > last.over[i-1] {
			t.Errorf("over %v: %d > over %v: %d", HostProbeBounds[i], last.over[i], HostProbeBounds[i-1], last.over[i-1])
		}
	}
	if last.over[0] > last.wakes {
		t.Errorf("%d late of %d wake-ups", last.over[0], last.wakes)
	}
}

// The window's figures are differences of the cumulative counts, with the
// share over 1 ms as users.late counts it.
func TestHostTimerReport(t *testing.T) {
	a, _ := parseHostTimerCounts("1000 500 100 20 5 2 1 0 3000000")
	b, _ := parseHostTimerCounts("3000 1500 300 60 25 10 1 0 2500000")
	h := hostTimerReport(a, b)
	if h == nil || h.Wakes != 2000 || h.Late != 20 || h.LateFraction != 0.01 || h.MaxMs != 2.5 {
		t.Fatalf("report %+v", h)
	}
	if len(h.Over) != len(HostProbeBounds) || h.Over[3].OverUs != 1000 || h.Over[3].Wakes != 20 {
		t.Errorf("bounds %+v", h.Over)
	}
	if hostTimerReport(b, b) != nil {
		t.Error("a window without wake-ups has a report")
	}
	if _, err := parseHostTimerCounts("1 2 3"); err == nil || !strings.Contains(err.Error(), "fields") {
		t.Errorf("short line: %v", err)
	}
}

// The probe process starts (this test binary serves as one: TestMain calls
// HostProbeMain), reports within a second, and is gone after close.
func TestHostProbeProcess(t *testing.T) {
	p := startHostProbe()
	if p.why != "" || p.cmd == nil {
		t.Fatalf("probe did not start: %s", p.why)
	}
	pid := p.cmd.Process.Pid
	deadline := time.Now().Add(3 * time.Second)
	for {
		if c, ok := p.snapshot(false); ok && c.wakes > 0 {
			break
		}
		if time.Now().After(deadline) {
			p.close()
			t.Fatal("no report from the probe within 3 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.close()
	p.close() // twice is harmless
	if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err == nil {
		t.Errorf("probe %d still exists after close", pid)
	}
}

// BenchmarkHostProbeFloor is the machine's own floor beside the engine's
// BenchmarkDispatchLate: the host timer probe's body for as long as one of
// its drives (2 s), its share of wake-ups over 1 ms late. A dispatcher
// cannot start commands on time more often than the host wakes a sleeping
// thread on time.
//
//	go test -run '^$' -bench 'DispatchLate|HostProbeFloor' ./engine/ ./selfmeasure/
func BenchmarkHostProbeFloor(b *testing.B) {
	b.Run("host-probe", func(b *testing.B) {
		var late, n float64
		for range b.N {
			pr, pw := io.Pipe()
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { runHostProbe(pw, stop); _ = pw.Close(); close(done) }()
			var last hostTimerCounts
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				sc := bufio.NewScanner(pr)
				for sc.Scan() {
					if c, err := parseHostTimerCounts(sc.Text()); err == nil {
						last = c
					}
				}
			}()
			time.Sleep(2 * time.Second)
			close(stop)
			<-done
			<-readDone
			late += float64(last.over[hostProbeLateBound])
			n += float64(last.wakes)
		}
		b.ReportMetric(100*late/max(n, 1), "late%")
	})
}
