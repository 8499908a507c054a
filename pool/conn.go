//go:build linux

package pool

import (
	"context"
	"io"
	"net"
	"os"
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

// keepAlive is go-redis's default dialer's keep-alive (options.go).
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 3}

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

// viaDialer dials what addrs maps an address to (the address itself when
// it is not mapped), through dial (nil: a plain dialer with timeout).
// Without addrs it returns dial unchanged.
func viaDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), addrs map[string]string, timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if len(addrs) == 0 {
		return dial
	}
	if dial == nil {
		d := &net.Dialer{Timeout: timeout, KeepAliveConfig: keepAlive}
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := addrs[addr]; ok {
			addr = to
		}
		return dial(ctx, network, addr)
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
	return &rawConn{Conn: c, rc: rc}
}

// rawConn is a net.Conn whose Read, Write and health check make raw system
// calls. Addresses, deadlines and Close are the dialled connection's; the
// waits are its poller's, so deadlines and Close wake them as before.
type rawConn struct {
	net.Conn
	rc syscall.RawConn
}

func (c *rawConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := c.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait for the poller
			}
			n, errno = int(r), e
			return true
		}
	})
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

func (c *rawConn) Write(b []byte) (int, error) {
	var nn int
	var errno syscall.Errno
	err := c.rc.Write(func(fd uintptr) bool {
		for nn < len(b) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[nn])), uintptr(len(b)-nn))
			switch e {
			case 0:
				nn += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // the send buffer is full: wait for the poller
			default:
				errno = e
				return true
			}
		}
		return true
	})
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
func (c *rawConn) SyscallConn() (syscall.RawConn, error) { return peekConn{c.rc}, nil }

type peekConn struct{ syscall.RawConn }

func (p peekConn) Read(f func(fd uintptr) bool) error {
	empty := false
	if err := p.RawConn.Control(func(fd uintptr) {
		var b [1]byte
		_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1, syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		empty = e == syscall.EAGAIN
	}); err != nil {
		return err
	}
	if empty {
		return nil
	}
	return p.RawConn.Read(f)
}
