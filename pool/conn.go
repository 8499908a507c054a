//go:build linux

package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The manager's connections make their read, write and health-check
// system calls raw (syscall.RawSyscall on the non-blocking socket, waiting
// for readiness in Go's network poller as net.Conn does), instead of through
// syscall.Syscall. The bytes, the waits, the deadlines and the errors are
// net.Conn's; what goes is the scheduler's bookkeeping around each call:
// entering a system call wakes the runtime's sysmon thread whenever the
// process was idle (every Redis command at a few thousand a second), and
// sysmon then polls every 20 µs for a millisecond; a call that takes over
// 20 µs (a loopback write delivers the packet to Redis inside it) may have
// its P handed to another thread. At the scenario's load those wake-ups cost
// more CPU than the calls (docs/performance.md, issue 13). None of these
// calls can block: the socket is non-blocking, so the poller does the
// waiting, exactly as for net.Conn.
//
// CACHEPROOF_STDCONN=1 in the environment dials plain net.Conns instead
// (for A/B measurements).

// stdConn is true when the environment asks for plain net.Conns.
var stdConn = os.Getenv("CACHEPROOF_STDCONN") == "1"

// rawDialer returns a go-redis Dialer that dials as go-redis's default one
// does without TLS (same timeout and keep-alive) and wraps the connection;
// nil (go-redis's own dialer) when stdConn is set.
func rawDialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if stdConn {
		return nil
	}
	d := &net.Dialer{Timeout: timeout, KeepAliveConfig: keepAlive}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return wrapConn(c), nil
	}
}

// wrapConn wraps c when it exposes its descriptor, else returns it.
func wrapConn(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return newRawConn(c, rc)
}

// rawConn is a net.Conn whose Read, Write and health check make raw system
// calls. Addresses, deadlines and Close are the dialled connection's; the
// waits are its poller's, so deadlines and Close wake them as before.
//
// The functions handed to the poller are built once per connection, not per
// call (a closure over a call's locals escapes to the heap: three small
// allocations a command), and take their buffer and return their results
// through the connection. That is safe because a pooled connection has one
// user at a time, and reads and writes each hold the descriptor's own lock
// while their function runs.
type rawConn struct {
	net.Conn
	rc syscall.RawConn

	rbuf    []byte // the buffer of the Read in progress
	rn      int
	rerrno  syscall.Errno
	readFn  func(fd uintptr) bool
	wbuf    []byte // the bytes of the Write in progress
	wn      int
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
	peek    *peekConn // what SyscallConn returns: the health check's peek
	// stamps, when not nil, reads with recvmsg(2) and keeps the kernel's
	// arrival time of what each read returned (EnableRxStamps).
	stamps *rxStamps

	// rd and wd are the read and write deadlines: the one on the socket and
	// the one asked for.
	rd, wd deadline
}

// deadline is one direction's deadline in Unix nanoseconds (0: none): the
// one set on the socket and the one last asked for.
type deadline struct{ set, want atomic.Int64 }

// deadlineSlack is how much earlier than asked a deadline may fall, as a
// fraction of the time left until it (1/64: 78 ms of a 5 s command
// timeout, 1.6 ms of 100 ms).
const deadlineSlack = 64

// go-redis sets the connection's deadlines three times a command: its
// health check clears both when it takes the connection from the pool
// (internal/pool.connCheck), then it sets the write and the read deadline
// to now plus the command timeout. Each set re-arms a runtime timer under
// the descriptor's lock, a cost per command of the order of the read
// itself (docs/performance.md). So:
//   - a cleared deadline is applied lazily, at the next Read or Write that
//     finds it still cleared (go-redis sets a new one before every command,
//     so it rarely is);
//   - a deadline later than the one on the socket by at most 1/64 of its
//     time left keeps the one on the socket;
//   - any other deadline (earlier, or later beyond the slack) is set at
//     once, so a deadline that should cut a blocked read short still does.
//
// A command therefore never waits longer than asked, and at most 1/64 of
// its timeout less.
func (c *rawConn) SetReadDeadline(t time.Time) error {
	if c.rd.keep(t) {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *rawConn) SetWriteDeadline(t time.Time) error {
	if c.wd.keep(t) {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *rawConn) SetDeadline(t time.Time) error {
	kr, kw := c.rd.keep(t), c.wd.keep(t)
	switch {
	case kr && kw:
		return nil
	case kr:
		return c.Conn.SetWriteDeadline(t)
	case kw:
		return c.Conn.SetReadDeadline(t)
	}
	return c.Conn.SetDeadline(t)
}

// keep records t as the deadline asked for and says whether the socket's
// may stand for it (the caller sets t on the socket when it may not, and
// keep has then recorded it as set).
func (d *deadline) keep(t time.Time) bool {
	want := unixNano(t)
	d.want.Store(want)
	if want == 0 {
		return true // cleared: applied by apply at the next Read or Write
	}
	if set := d.set.Load(); set != 0 && want >= set {
		if left := want - time.Now().UnixNano(); left > 0 && want-set <= left/deadlineSlack {
			return true
		}
	}
	d.set.Store(want)
	return false
}

// apply clears the socket's deadline when a clear was asked for since it
// was set; set is the connection's SetReadDeadline or SetWriteDeadline.
func (d *deadline) apply(set func(time.Time) error) error {
	if d.want.Load() != 0 || d.set.Load() == 0 {
		return nil
	}
	d.set.Store(0)
	return set(time.Time{})
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func newRawConn(c net.Conn, rc syscall.RawConn) *rawConn {
	r := &rawConn{Conn: c, rc: rc}
	r.readFn = r.read
	r.writeFn = r.write
	r.peek = newPeekConn(rc)
	return r
}

// rxStamps is a connection's receive timestamps: the message header and
// control buffer recvmsg(2) fills (kept here so a read allocates nothing),
// and the arrival time of the last bytes read.
type rxStamps struct {
	iov  syscall.Iovec
	msg  syscall.Msghdr
	oob  [64]byte
	last atomic.Int64 // Unix nanoseconds (CLOCK_REALTIME, as time.Now); 0 none yet
}

// EnableRxStamps asks the kernel to stamp each segment this connection
// receives with its arrival time (SO_TIMESTAMPNS), and its reads to keep
// that time (LastRx). Raw mode uses it to split a request's latency into
// the time until its reply was in the socket and the time until the tool
// read it. Not safe while the connection is in use: call it when dialled.
func (c *rawConn) EnableRxStamps() error {
	var serr error
	err := c.rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	})
	if err = errors.Join(err, serr); err != nil {
		return fmt.Errorf("pool: SO_TIMESTAMPNS: %w", err)
	}
	c.stamps = &rxStamps{}
	return nil
}

// LastRx is when the kernel received the last bytes a Read returned, in
// Unix nanoseconds; 0 when the connection keeps no stamps or that read had
// none.
func (c *rawConn) LastRx() int64 {
	if c.stamps == nil {
		return 0
	}
	return c.stamps.last.Load()
}

// recvStamped is read's recvmsg(2) with the arrival time taken from the
// SCM_TIMESTAMPNS control message (for TCP, that of the last segment the
// call copied from).
func (c *rawConn) recvStamped(fd uintptr, b []byte) (uintptr, syscall.Errno) {
	s := c.stamps
	s.iov.Base = &b[0]
	s.iov.SetLen(len(b))
	s.msg = syscall.Msghdr{Iov: &s.iov, Iovlen: 1, Control: &s.oob[0]}
	s.msg.SetControllen(len(s.oob))
	r, _, e := syscall.RawSyscall(syscall.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&s.msg)), 0)
	s.iov.Base = nil
	if e != 0 {
		return r, e
	}
	oob := s.oob[:s.msg.Controllen]
	// No stamp (the kernel enables stamping a moment after it is asked
	// for, so the first segments may have none) leaves 0, not a stale one.
	s.last.Store(0)
	for len(oob) >= syscall.SizeofCmsghdr {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		if h.Len < syscall.SizeofCmsghdr || int(h.Len) > len(oob) {
			break
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS && int(h.Len) >= syscall.SizeofCmsghdr+int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[syscall.SizeofCmsghdr]))
			s.last.Store(ts.Nano())
		}
		next := (int(h.Len) + 7) &^ 7 // CMSG_ALIGN
		if next >= len(oob) {
			break
		}
		oob = oob[next:]
	}
	return r, 0
}

// read is one non-blocking read(2) into rbuf; false asks the poller to wait
// for the socket to be readable and call it again.
func (c *rawConn) read(fd uintptr) bool {
	b := c.rbuf
	for {
		var r uintptr
		var e syscall.Errno
		if c.stamps != nil {
			r, e = c.recvStamped(fd, b)
		} else {
			r, _, e = syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		}
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for the poller
		}
		c.rn, c.rerrno = int(r), e
		return true
	}
}

func (c *rawConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := c.rd.apply(c.Conn.SetReadDeadline); err != nil {
		return 0, err
	}
	c.rbuf, c.rn, c.rerrno = b, 0, 0
	err := c.rc.Read(c.readFn)
	n, errno := c.rn, c.rerrno
	c.rbuf = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case errno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", errno))
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// write writes what is left of wbuf with write(2); false asks the poller to
// wait until the socket's send buffer has room and call it again.
func (c *rawConn) write(fd uintptr) bool {
	b := c.wbuf
	for c.wn < len(b) {
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[c.wn])), uintptr(len(b)-c.wn))
		switch e {
		case 0:
			c.wn += int(r)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // the send buffer is full: wait for the poller
		default:
			c.werrno = e
			return true
		}
	}
	return true
}

func (c *rawConn) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if err := c.wd.apply(c.Conn.SetWriteDeadline); err != nil {
		return 0, err
	}
	c.wbuf, c.wn, c.werrno = b, 0, 0
	err := c.rc.Write(c.writeFn)
	nn, errno := c.wn, c.werrno
	c.wbuf = nil
	switch {
	case err != nil:
		return nn, c.opError("write", err)
	case errno != 0:
		return nn, c.opError("write", os.NewSyscallError("write", errno))
	}
	return nn, nil
}

// opError shapes an error as net.Conn's: a *net.OpError with the
// connection's addresses (the raw conn's own errors already are one, for
// its "raw-read"/"raw-write").
func (c *rawConn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// SyscallConn serves go-redis's health check (internal/pool connCheck, run
// on every connection taken from the pool): it calls Read with a function
// that peeks one byte (recvfrom MSG_PEEK|MSG_DONTWAIT) and calls the
// connection healthy when there is nothing to read (EAGAIN), unhealthy on
// EOF, an error or unexpected data. peekConn makes that peek raw and, when
// it finds nothing to read, returns without calling the function, which
// leaves go-redis's verdict at healthy: the verdict its own peek gives for
// EAGAIN. Anything else (EOF, data, an error) calls the function, which
// peeks again and decides as before.
func (c *rawConn) SyscallConn() (syscall.RawConn, error) { return c.peek, nil }

// peekConn is built once per connection, with its Control function, so the
// health check allocates nothing per command.
type peekConn struct {
	syscall.RawConn
	empty  bool
	peekFn func(fd uintptr)
}

func newPeekConn(rc syscall.RawConn) *peekConn {
	p := &peekConn{RawConn: rc}
	p.peekFn = p.peek
	return p
}

// peek looks for one byte without taking it (recvfrom MSG_PEEK|MSG_DONTWAIT).
func (p *peekConn) peek(fd uintptr) {
	var b [1]byte
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1, syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	p.empty = e == syscall.EAGAIN
}

func (p *peekConn) Read(f func(fd uintptr) bool) error {
	p.empty = false
	if err := p.RawConn.Control(p.peekFn); err != nil {
		return err
	}
	if p.empty {
		return nil
	}
	return p.RawConn.Read(f)
}
