package pool

import (
	"net"
	"sync"
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
// Each connection records into its own histograms under its own lock, so
// recording is uncontended and Take may run while requests are in flight.
type ReplyTimer struct {
	mu    sync.Mutex
	conns []*timedConn
	// retired holds what closed connections recorded since the last Take.
	retired ReplyTimes
	// stamped is set once a connection keeps arrival stamps.
	stamped bool
}

// ReplyTimes is what a ReplyTimer recorded between two Takes, in
// microseconds. Arrival and Wait are nil when no connection kept arrival
// stamps; their counts are the stamped requests only.
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
	tc := &timedConn{Conn: c, t: w, rt: newReplyTimes()}
	if st, ok := c.(rxStamper); ok && st.EnableRxStamps() == nil {
		tc.st = st
	}
	w.mu.Lock()
	w.conns = append(w.conns, tc)
	w.stamped = w.stamped || tc.st != nil
	w.mu.Unlock()
	if sc, ok := c.(syscall.Conn); ok {
		// go-redis's health check of a pooled connection peeks at its
		// descriptor; keep that reachable through the wrapper.
		return &timedSyscallConn{tc, sc}
	}
	return tc
}

// Take returns what every connection recorded since the last Take, merged,
// and starts again from nothing.
func (w *ReplyTimer) Take() ReplyTimes {
	t := newReplyTimes()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.retired.Wire != nil {
		t.merge(w.retired)
	}
	w.retired = ReplyTimes{}
	live := w.conns[:0]
	for _, c := range w.conns {
		c.mu.Lock()
		t.merge(c.rt)
		c.rt.reset()
		closed := c.closed
		c.mu.Unlock()
		if !closed {
			live = append(live, c)
		}
	}
	clear(w.conns[len(live):])
	w.conns = live
	if !w.stamped {
		t.Arrival, t.Wait = nil, nil
	}
	return t
}

func (t *ReplyTimes) merge(o ReplyTimes) {
	t.Wire.Merge(o.Wire)
	t.Arrival.Merge(o.Arrival)
	t.Wait.Merge(o.Wait)
}

func (t *ReplyTimes) reset() {
	t.Wire.Reset()
	t.Arrival.Reset()
	t.Wait.Reset()
}

// timedConn is one timed connection.
type timedConn struct {
	net.Conn
	t  *ReplyTimer
	st rxStamper // nil: no arrival stamps

	mu     sync.Mutex // rt and closed, against Take
	rt     ReplyTimes
	closed bool
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
		c.mu.Lock()
		_ = c.rt.Wire.RecordValue(max((now-c.sent)/1e3, 1))
		// The kernel's stamp and time.Now are both CLOCK_REALTIME. A read
		// without a stamp (the kernel starts stamping a moment after it
		// is asked to) is left out of the split; a stamp outside
		// [sent, now] (a clock step) is clamped into it.
		if rx != 0 {
			rx = min(max(rx, c.sent), now)
			_ = c.rt.Arrival.RecordValue(max((rx-c.sent)/1e3, 1))
			_ = c.rt.Wait.RecordValue(max((now-rx)/1e3, 1))
		}
		c.mu.Unlock()
		c.sent = 0
	case err != nil:
		// A request whose reply never came is not timed.
		c.sent = 0
	}
	return n, err
}

// Close closes the connection; what it recorded stays for the next Take.
// (The connection's lock is let go before the timer's is taken: Take holds
// the timer's while it takes each connection's.)
func (c *timedConn) Close() error {
	c.mu.Lock()
	was := c.closed
	rt := c.rt
	if !was {
		c.closed = true
		c.rt = newReplyTimes()
	}
	c.mu.Unlock()
	if !was {
		c.t.mu.Lock()
		if c.t.retired.Wire == nil {
			c.t.retired = newReplyTimes()
		}
		c.t.retired.merge(rt)
		c.t.mu.Unlock()
	}
	return c.Conn.Close()
}

// timedSyscallConn is a timedConn over a connection that exposes its
// descriptor.
type timedSyscallConn struct {
	*timedConn
	sc syscall.Conn
}

func (c *timedSyscallConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }
