package selfmeasure

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cacheproof/cacheproof/result"
)

// The host timer probe measures how late this machine wakes a thread that
// asked to sleep until a given time, with nothing of the tool in the way:
// a second process (this binary, re-executed) with one Go thread that
// sleeps with nanosleep at random moments, about hostProbeRate times a
// second, and counts the wake-ups that came over 1 ms late.
//
// It answers a question the tool cannot answer about itself: when commands
// start late (users.late), was it the tool or the machine? On a virtual
// machine an idle vCPU can take milliseconds to be scheduled again, and a
// C program sleeping in clock_nanosleep at 1,000 wake-ups a second on the
// 2-core machine this was built on found 0.16 % to 1.3 % of its wake-ups
// over 1 ms late, worst 4 to 16 ms (docs/performance.md). A tool whose late
// share is no higher than that probe's measured the machine's clock, not
// its own; the report says so instead of blaming the tool or Redis.
//
// The probe costs about 200 wake-ups a second (well under 1 % of a core),
// is its own process so that the tool's goroutines, garbage collector and
// CPU use do not delay it, and dies with the tool (parent-death signal, and
// a failed write to the tool's pipe).
const (
	hostProbeEnv  = "CACHEPROOF_HOST_PROBE"
	hostProbeRate = 200 // wake-ups a second, Poisson
	// hostProbeEvery is how often the probe reports its cumulative counts.
	hostProbeEvery = 100 * time.Millisecond
)

// HostProbeBounds are the delays the probe counts wake-ups over; the
// fourth (1 ms) is the engine's lateThreshold (users.late).
var HostProbeBounds = [...]time.Duration{100 * time.Microsecond, 200 * time.Microsecond, 500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond}

const hostProbeLateBound = 3 // index of time.Millisecond in HostProbeBounds

// probeSupported is set by HostProbeMain: only a binary that calls it can
// be re-executed as the probe (any other would run itself again).
var probeSupported atomic.Bool

// HostProbeMain must be the first call in main of a program that runs the
// harness. Started as the host timer probe (by the harness, through the
// environment), the process measures the host and exits here; otherwise it
// returns at once and the harness may start the probe for its runs. A
// program that does not call it runs without the probe, and its reports
// say so.
func HostProbeMain() {
	if os.Getenv(hostProbeEnv) != "1" {
		probeSupported.Store(true)
		return
	}
	runtime.GOMAXPROCS(1) // one thread runs Go code: the probe's
	os.Exit(runHostProbe(os.Stdout, nil))
}

// hostTimerCounts are the probe's cumulative counts.
type hostTimerCounts struct {
	wakes uint64
	over  [len(HostProbeBounds)]uint64
	// maxNs is the latest wake-up since the previous report (per report,
	// so the tool can take the worst within its window).
	maxNs int64
}

func (c hostTimerCounts) String() string {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(c.wakes, 10))
	for _, n := range c.over {
		b.WriteByte(' ')
		b.WriteString(strconv.FormatUint(n, 10))
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(c.maxNs, 10))
	return b.String()
}

func parseHostTimerCounts(line string) (hostTimerCounts, error) {
	var c hostTimerCounts
	f := strings.Fields(line)
	if len(f) != len(c.over)+2 {
		return c, fmt.Errorf("host probe: %d fields in %q, want %d", len(f), line, len(c.over)+2)
	}
	var err error
	if c.wakes, err = strconv.ParseUint(f[0], 10, 64); err != nil {
		return c, fmt.Errorf("host probe: %w", err)
	}
	for i := range c.over {
		if c.over[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
			return c, fmt.Errorf("host probe: %w", err)
		}
	}
	if c.maxNs, err = strconv.ParseInt(f[len(f)-1], 10, 64); err != nil {
		return c, fmt.Errorf("host probe: %w", err)
	}
	return c, nil
}

// runHostProbe is the probe process's body: sleep, count, report, until a
// write to out fails (the tool is gone) or stop is closed (tests).
func runHostProbe(out io.Writer, stop <-chan struct{}) int {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	var c hostTimerCounts
	w := bufio.NewWriter(out)
	nextReport := time.Now().Add(hostProbeEvery)
	for {
		select {
		case <-stop:
			return 0
		default:
		}
		gap := time.Duration(r.ExpFloat64() * float64(time.Second/hostProbeRate))
		want := time.Now().Add(gap)
		// nanosleep, not time.Sleep: Go's timers in an idle process wake
		// from an epoll_wait whose timeout is whole milliseconds, which
		// would make every short sleep look 1 ms late.
		ts := syscall.NsecToTimespec(int64(gap))
		for {
			var rem syscall.Timespec
			if err := syscall.Nanosleep(&ts, &rem); err != syscall.EINTR {
				break
			}
			ts = rem
		}
		late := time.Since(want)
		c.wakes++
		for i, b := range HostProbeBounds {
			if late > b {
				c.over[i]++
			}
		}
		c.maxNs = max(c.maxNs, int64(late))
		if now := time.Now(); !now.Before(nextReport) {
			nextReport = now.Add(hostProbeEvery)
			fmt.Fprintln(w, c.String())
			if err := w.Flush(); err != nil {
				return 0
			}
			c.maxNs = 0
		}
	}
}

// hostProbe is the tool's side of a running probe process.
type hostProbe struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	last   hostTimerCounts
	ok     bool  // at least one report arrived
	winMax int64 // the latest wake-up since markWindow
	reader sync.WaitGroup
	once   sync.Once
	// why is set when the probe could not run: the report says why there
	// is no host figure rather than leaving it out silently.
	why string
}

// startHostProbe starts the probe process; it never fails the run (the
// probe is evidence about the machine, not part of the measurement): when
// it cannot start, the returned probe says why.
func startHostProbe() *hostProbe {
	p := &hostProbe{}
	if runtime.GOOS != "linux" {
		p.why = "the host timer probe runs on Linux only"
		return p
	}
	if !probeSupported.Load() {
		p.why = "the program running the harness does not serve as the host timer probe (selfmeasure.HostProbeMain)"
		return p
	}
	exe, err := os.Executable()
	if err != nil {
		p.why = "host timer probe: " + err.Error()
		return p
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), hostProbeEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		p.why = "host timer probe: " + err.Error()
		return p
	}
	// Linux sends the parent-death signal when the thread that forked the
	// child exits (topology/launcher.go): fork from a locked thread that
	// lives until the child is gone.
	started := make(chan error, 1)
	p.reader.Add(1)
	go func() {
		defer p.reader.Done()
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c, err := parseHostTimerCounts(sc.Text())
			if err != nil {
				continue
			}
			p.mu.Lock()
			p.last, p.ok = c, true
			p.winMax = max(p.winMax, c.maxNs)
			p.mu.Unlock()
		}
		_ = cmd.Wait()
	}()
	if err := <-started; err != nil {
		p.reader.Wait()
		p.why = "host timer probe: " + err.Error()
		return p
	}
	p.cmd = cmd
	return p
}

// snapshot returns the probe's last cumulative counts, with maxNs the
// latest wake-up since the previous snapshot with reset (ok false before
// its first report). A window starts with a reset snapshot.
func (p *hostProbe) snapshot(reset bool) (hostTimerCounts, bool) {
	if p == nil {
		return hostTimerCounts{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.last
	c.maxNs = p.winMax
	if reset {
		p.winMax = 0
		// A window that opens before the probe's first report (a
		// scenario whose first phase is recorded opens it as the probe
		// starts) starts from zero: the probe's counts are cumulative
		// from its own start, which is the window's, give or take the
		// process's start-up.
		if !p.ok && p.cmd != nil {
			return hostTimerCounts{}, true
		}
	}
	return c, p.ok
}

// close ends the probe process and waits for it.
func (p *hostProbe) close() {
	if p == nil || p.cmd == nil {
		return
	}
	p.once.Do(func() {
		_ = p.cmd.Process.Kill()
		p.reader.Wait()
	})
}

// hostTimerReport is what the probe saw between two snapshots.
func hostTimerReport(a, b hostTimerCounts) *result.HostTimer {
	if b.wakes <= a.wakes {
		return nil
	}
	n := b.wakes - a.wakes
	h := &result.HostTimer{Wakes: n, Late: b.over[hostProbeLateBound] - a.over[hostProbeLateBound]}
	h.LateFraction = roundFrac(float64(h.Late) / float64(n))
	for i, bound := range HostProbeBounds {
		h.Over = append(h.Over, result.HostTimerBound{OverUs: bound.Microseconds(), Wakes: b.over[i] - a.over[i]})
	}
	// b's maximum is the latest wake-up reported since a's snapshot: the
	// window's, give or take the probe's 100 ms reporting period.
	h.MaxMs = float64(int64(float64(b.maxNs)/1e3+0.5)) / 1e3
	return h
}

func roundFrac(f float64) float64 {
	return float64(int64(f*1e6+0.5)) / 1e6
}

// HostProbe is the host timer probe for measurements outside a run (raw
// mode): one probe process for all of them, each measured over its own
// window, so a figure from a noisy machine says how noisy it was.
type HostProbe struct{ p *hostProbe }

// StartHostProbe starts the probe process (see startHostProbe; it needs a
// program that calls HostProbeMain). Close it when done.
func StartHostProbe() *HostProbe { return &HostProbe{startHostProbe()} }

// Window opens a window now; the returned function closes it and gives
// what the probe saw in it, or why it saw nothing. The probe reports every
// 100 ms, so a window is as exact as that.
func (h *HostProbe) Window() func() (*result.HostTimer, string) {
	a, okA := h.p.snapshot(true)
	return func() (*result.HostTimer, string) {
		b, okB := h.p.snapshot(false)
		switch {
		case h.p.why != "":
			return nil, h.p.why
		case !okA || !okB:
			return nil, "the host timer probe reported nothing over the window"
		}
		if t := hostTimerReport(a, b); t != nil {
			return t, ""
		}
		return nil, "the host timer probe woke no time in the window"
	}
}

// Close ends the probe process.
func (h *HostProbe) Close() { h.p.close() }
