package harness

import (
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cacheproof/cacheproof/result"
)

// wireTimer times raw mode's requests the way redis-benchmark does, beside
// the call latency raw mode reports: from the write that sends a request to
// the first read that returns bytes of its reply (redis-benchmark's
// writeHandler sets the start at a request's first write, its readHandler
// takes the latency at the first read event, before parsing).
//
// The two clocks differ by what the client does around the wire: taking a
// connection from the pool, building and encoding the command before the
// write; parsing, returning the connection and looping after the read.
// redis-benchmark's event loop does that work too, and its requests wait
// for it, but its latency does not count it (at 50 clients and 150,000
// requests a second every request cycles in 0.33 ms by Little's law, while
// redis-benchmark reports a median of about 0.16 ms). Comparing raw mode's
// call latency with redis-benchmark's therefore holds the tool to a
// stricter clock than the yardstick's; the wire latency is the like for
// like comparison, and the call latency what a caller of the cache sees.
//
// Each connection keeps its own histogram (a pooled connection has one
// user at a time, so recording needs no lock); take merges and resets them
// between tests, when no request is in flight.
type wireTimer struct {
	mu    sync.Mutex
	conns []*wireConn
}

// rxStamper is a connection that can say when the kernel received what it
// last read (pool's raw-syscall connections, SO_TIMESTAMPNS).
type rxStamper interface {
	EnableRxStamps() error
	LastRx() int64
}

// wireTimes is one test's requests on the wire, and where the connections
// kept arrival stamps, each request split at its reply's arrival in the
// socket: Arrival (write to arrival: the network and Redis) and Wake
// (arrival to the read that returned it: the tool's own wait to run).
type wireTimes struct {
	Wire, Arrival, Wake *hdrhistogram.Histogram
}

// wrap is a pool.Config.WrapConn: it times c's requests.
func (w *wireTimer) wrap(c net.Conn) net.Conn {
	wc := &wireConn{Conn: c, h: result.NewHistogram()}
	if st, ok := c.(rxStamper); ok && st.EnableRxStamps() == nil {
		wc.st, wc.ha, wc.hw = st, result.NewHistogram(), result.NewHistogram()
	}
	if sc, ok := c.(syscall.Conn); ok {
		// go-redis's health check of a pooled connection peeks at its
		// descriptor; keep that reachable through the wrapper.
		wc.sc = sc
	}
	w.mu.Lock()
	w.conns = append(w.conns, wc)
	w.mu.Unlock()
	if wc.sc != nil {
		return &wireSyscallConn{wc}
	}
	return wc
}

// take returns every connection's requests since the last take, merged,
// and starts the next test's from nothing. Only between tests. Arrival and
// Wake are nil unless every connection kept arrival stamps.
func (w *wireTimer) take() wireTimes {
	t := wireTimes{Wire: result.NewHistogram(), Arrival: result.NewHistogram(), Wake: result.NewHistogram()}
	w.mu.Lock()
	defer w.mu.Unlock()
	stamped := len(w.conns) > 0
	for _, c := range w.conns {
		t.Wire.Merge(c.h)
		c.h.Reset()
		c.sent = 0
		if c.st == nil {
			stamped = false
			continue
		}
		t.Arrival.Merge(c.ha)
		t.Wake.Merge(c.hw)
		c.ha.Reset()
		c.hw.Reset()
	}
	if !stamped {
		t.Arrival, t.Wake = nil, nil
	}
	return t
}

// wireConn is one timed connection.
type wireConn struct {
	net.Conn
	sc syscall.Conn
	h  *hdrhistogram.Histogram
	// st, when not nil, stamps arrivals; ha and hw then take each
	// request's write-to-arrival and arrival-to-read times.
	st     rxStamper
	ha, hw *hdrhistogram.Histogram
	// sent is when the request awaiting its reply was first written
	// (Unix nanoseconds), 0 when none is.
	sent int64
}

func (c *wireConn) Write(b []byte) (int, error) {
	if c.sent == 0 {
		c.sent = time.Now().UnixNano()
	}
	return c.Conn.Write(b)
}

func (c *wireConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	switch {
	case n > 0 && c.sent != 0:
		now := time.Now().UnixNano()
		_ = c.h.RecordValue(max((now-c.sent)/1e3, 1))
		if c.st != nil {
			// The kernel's clock and time.Now are both CLOCK_REALTIME; an
			// arrival outside [sent, now] (a stamp missing, a clock step)
			// is clamped rather than dropped, so the counts stay equal.
			rx := min(max(c.st.LastRx(), c.sent), now)
			_ = c.ha.RecordValue(max((rx-c.sent)/1e3, 1))
			_ = c.hw.RecordValue(max((now-rx)/1e3, 1))
		}
		c.sent = 0
	case err != nil:
		// A request whose reply never came is not timed.
		c.sent = 0
	}
	return n, err
}

// wireSyscallConn is a wireConn over a connection that exposes its
// descriptor.
type wireSyscallConn struct{ *wireConn }

func (c *wireSyscallConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }
