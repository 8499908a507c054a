package pool

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cacheproof/cacheproof/result"
)

// ReplyTimer times the requests on the connections it wraps (set it as
// Config.WrapConn): from the write that sends a request to the first read
// that returns bytes of its reply, and, where the connection can say when
// the kernel received that reply (this package's raw-syscall connections,
// SO_TIMESTAMPNS), split there: Arrival, write to arrival, is the network
// and Redis; Wait, arrival to the read, is the client's own wait to run
// the goroutine the reply woke. The Wait is the part of every latency the
// tool records that is the tool's, measured per request rather than
// sampled as the runtime's scheduling delay is.
//
// The Wire time is how redis-benchmark times its requests (its
// writeHandler starts the clock at a request's first write, its
// readHandler stops it at the first read event, before parsing), so raw
// mode can show both tools on one clock; it still differs from
// redis-benchmark's in where each client's queue falls: Go reads a reply
// only when its goroutine runs, so the wait for a thread lies inside the
// wire time, while redis-benchmark's event loop spends its queue between a
// reply and the next write, outside its clock (docs/performance.md).
//
// The connections record into one set of histograms under one lock: a
// set per connection would cost ~140 KiB a histogram for every one of a
// run's hundred-odd connections, and at most GOMAXPROCS goroutines record
// at once, each for tens of nanoseconds. Take may run while requests are in
// flight; a connection that closes has already recorded what it timed.
type ReplyTimer struct {
	// KeepWire also keeps each request's whole wire time (raw mode's
	// comparison with redis-benchmark); a run reads only the split, and
	// without it Take's Wire is nil.
	KeepWire bool

	mu      sync.Mutex
	rt      ReplyTimes // nil histograms until the first record
	stamped atomic.Bool
}

// ReplyTimes is what a ReplyTimer recorded between two Takes, in
// microseconds. Wire is nil unless the timer keeps it; Arrival and Wait are
// nil when no connection kept arrival stamps, and their counts are the
// stamped requests only.
type ReplyTimes struct {
	Wire, Arrival, Wait *hdrhistogram.Histogram
}

// rxStamper is a connection that can say when the kernel received what it
// last read (rawConn).
type rxStamper interface {
	EnableRxStamps() error
	LastRx() int64
}

func newReplyTimes() ReplyTimes {
	return ReplyTimes{Wire: result.NewHistogram(), Arrival: result.NewHistogram(), Wait: result.NewHistogram()}
}

// Wrap is a Config.WrapConn: it times c's requests.
func (w *ReplyTimer) Wrap(c net.Conn) net.Conn {
	tc := &timedConn{Conn: c, t: w}
	if st, ok := c.(rxStamper); ok && st.EnableRxStamps() == nil {
		tc.st = st
		w.stamped.Store(true)
	}
	if sc, ok := c.(syscall.Conn); ok {
		// go-redis's health check of a pooled connection peeks at its
		// descriptor; keep that reachable through the wrapper.
		return &timedSyscallConn{tc, sc}
	}
	return tc
}

// Take returns what every connection recorded since the last Take and
// starts again from nothing.
func (w *ReplyTimer) Take() ReplyTimes {
	fresh := newReplyTimes()
	w.mu.Lock()
	t := w.rt
	w.rt = fresh
	w.mu.Unlock()
	if t.Wire == nil {
		t = newReplyTimes()
	}
	if !w.KeepWire {
		t.Wire = nil
	}
	if !w.stamped.Load() {
		t.Arrival, t.Wait = nil, nil
	}
	return t
}

// record adds one request: its write to read, and with a stamp, write to
// arrival and arrival to read (Unix nanoseconds).
func (w *ReplyTimer) record(sent, rx, now int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rt.Wire == nil {
		w.rt = newReplyTimes()
	}
	if w.KeepWire {
		_ = w.rt.Wire.RecordValue(max((now-sent)/1e3, 1))
	}
	if rx != 0 {
		_ = w.rt.Arrival.RecordValue(max((rx-sent)/1e3, 1))
		_ = w.rt.Wait.RecordValue(max((now-rx)/1e3, 1))
	}
}

// timedConn is one timed connection.
type timedConn struct {
	net.Conn
	t  *ReplyTimer
	st rxStamper // nil: no arrival stamps
	// sent is when the request awaiting its reply was first written
	// (Unix nanoseconds), 0 when none is. Only the connection's user
	// touches it.
	sent int64
}

func (c *timedConn) Write(b []byte) (int, error) {
	if c.sent == 0 {
		c.sent = time.Now().UnixNano()
	}
	return c.Conn.Write(b)
}

func (c *timedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	switch {
	case n > 0 && c.sent != 0:
		now := time.Now().UnixNano()
		rx := int64(0)
		if c.st != nil {
			rx = c.st.LastRx()
		}
		// The kernel's stamp and time.Now are both CLOCK_REALTIME. A read
		// without a stamp (the kernel starts stamping a moment after it
		// is asked to) is left out of the split; a stamp outside
		// [sent, now] (a clock step) is clamped into it.
		if rx != 0 {
			rx = min(max(rx, c.sent), now)
		}
		c.t.record(c.sent, rx, now)
		c.sent = 0
	case err != nil:
		// A request whose reply never came is not timed.
		c.sent = 0
	}
	return n, err
}

// timedSyscallConn is a timedConn over a connection that exposes its
// descriptor.
type timedSyscallConn struct {
	*timedConn
	sc syscall.Conn
}

func (c *timedSyscallConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }
