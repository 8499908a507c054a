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

// wrap is a pool.Config.WrapConn: it times c's requests.
func (w *wireTimer) wrap(c net.Conn) net.Conn {
	wc := &wireConn{Conn: c, h: result.NewHistogram()}
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

// take returns every connection's requests since the last take as one
// histogram, and starts the next test's from nothing. Only between tests.
func (w *wireTimer) take() *hdrhistogram.Histogram {
	all := result.NewHistogram()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range w.conns {
		all.Merge(c.h)
		c.h.Reset()
		c.sent = 0
	}
	return all
}

// wireConn is one timed connection.
type wireConn struct {
	net.Conn
	sc syscall.Conn
	h  *hdrhistogram.Histogram
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
		_ = c.h.RecordValue(max((time.Now().UnixNano()-c.sent)/1e3, 1))
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
