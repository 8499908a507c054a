//go:build linux

package pool

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheproof/cacheproof/topology"
)

// The raw connection speaks to a real redis-server as net.Conn does: a
// request and its reply, a read deadline that expires as a net.Error
// timeout, EOF once the server closes the connection.
func TestRawConnBehavesAsNetConn(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	ep := d.Endpoints()
	dial := rawDialer(time.Second)
	if dial == nil {
		t.Skip("CACHEPROOF_STDCONN=1: plain net.Conns")
	}
	c, err := dial(ctxT(t), "tcp", ep.Addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*rawConn); !ok {
		t.Fatalf("dialled %T, want *rawConn", c)
	}
	if ep.Password != "" {
		t.Skip("the deployment wants AUTH")
	}
	read := func() string {
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		return string(buf[:n])
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "+PONG\r\n" {
		t.Fatalf("PING replied %q", got)
	}
	// Nothing to read: the deadline expires as net.Conn's does.
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	_, err = c.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "i/o timeout") {
		t.Fatalf("Read past the deadline: %v, want a net.Error timeout", err)
	}
	if ErrorKind(err) != KindTimeout {
		t.Errorf("ErrorKind = %q, want %q", ErrorKind(err), KindTimeout)
	}
	if el := time.Since(start); el < 40*time.Millisecond || el > 2*time.Second {
		t.Errorf("deadline expired after %v, want about 50 ms", el)
	}
	_ = c.SetReadDeadline(time.Time{})
	// QUIT: the server replies and closes; the next read is EOF.
	if _, err := c.Write([]byte("QUIT\r\n")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "+OK\r\n" {
		t.Fatalf("QUIT replied %q", got)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 8)); ErrorKind(err) != KindConnectionReset {
		t.Fatalf("Read after the server closed: %v (kind %q), want EOF", err, ErrorKind(err))
	}
}

// Values far larger than a socket buffer go out and come back whole (the
// write waits in the poller when the send buffer is full).
func TestRawConnLargeValues(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	m := newManager(t, testConfig(t, d.Endpoints()))
	val := strings.Repeat("0123456789abcdef", 1<<17) // 2 MiB
	ctx := ctxT(t)
	if err := m.Set(ctx, "raw:big", val, TierPersistent); err != nil {
		t.Fatal(err)
	}
	got, found, err := m.Get(ctx, "raw:big")
	if err != nil || !found || got != val {
		t.Fatalf("Get: found %v, err %v, %d bytes back of %d", found, err, len(got), len(val))
	}
}

// go-redis's health check still finds a connection the server closed while
// it sat in the pool (the raw peek, conn.go), so the next command gets a
// fresh connection instead of the dead one's EOF: with retries off, the
// Get after CLIENT KILL succeeds only if the check ran and saw the close.
func TestRawConnHealthCheckSeesKilledConnection(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	ep := d.Endpoints()
	cfg := testConfig(t, ep)
	cfg.MaxRetries = -1
	cfg.MinConnections, cfg.MaxConnections = 1, 1
	m := newManager(t, cfg)
	ctx := ctxT(t)
	if err := m.Set(ctx, "raw:k", "v", TierPersistent); err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(&redis.Options{Addr: ep.Addrs[0], Username: ep.Username, Password: ep.Password, TLSConfig: ep.TLS})
	defer admin.Close()
	for round := range 3 {
		// Kill every client but the admin connection (SKIPME).
		n, err := admin.ClientKillByFilter(ctx, "TYPE", "normal").Result()
		if err != nil || n < 1 {
			t.Fatalf("round %d: CLIENT KILL: %d killed, %v", round, n, err)
		}
		time.Sleep(50 * time.Millisecond) // the FIN arrives
		if _, found, err := m.Get(ctx, "raw:k"); err != nil || !found {
			t.Fatalf("round %d: Get after CLIENT KILL: found %v, err %v (kind %q): the health check missed the closed connection", round, found, err, ErrorKind(err))
		}
	}
}

// A deadline is kept only when the new one is later by at most 1/64 of its
// time left; earlier and much later deadlines are set at once, a cleared one
// at the next Read or Write.
func TestKeepDeadline(t *testing.T) {
	now := time.Now()
	var d deadline
	if d.keep(now.Add(5 * time.Second)) {
		t.Fatal("the first deadline was kept as if one were set")
	}
	for _, c := range []struct {
		name string
		t    time.Time
		keep bool
	}{
		{"10 ms later of 5 s", now.Add(5*time.Second + 10*time.Millisecond), true},
		{"1 s later", now.Add(6 * time.Second), false},
		{"earlier", now.Add(2 * time.Second), false},
		{"cleared", time.Time{}, true},
		{"set again within the slack", now.Add(2*time.Second + time.Millisecond), true},
	} {
		if got := d.keep(c.t); got != c.keep {
			t.Errorf("%s: keep %v, want %v", c.name, got, c.keep)
		}
	}
	// A clear still pending at the next I/O is applied then.
	var cleared []time.Time
	set := func(t time.Time) error { cleared = append(cleared, t); return nil }
	if err := d.apply(set); err != nil || len(cleared) != 0 {
		t.Fatalf("applied %v with a deadline asked for", cleared)
	}
	d.keep(time.Time{})
	if err := d.apply(set); err != nil || len(cleared) != 1 || !cleared[0].IsZero() {
		t.Fatalf("the pending clear was not applied: %v", cleared)
	}
	if d.set.Load() != 0 {
		t.Error("the socket's deadline is still recorded after the clear")
	}
}

// A cleared deadline reaches the socket before the next read: with no
// deadline asked for since, a read that waits longer than the old deadline
// does not time out.
func TestClearedDeadlineReachesTheSocket(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	ep := d.Endpoints()
	dial := rawDialer(time.Second)
	if dial == nil || ep.Password != "" {
		t.Skip("plain net.Conns or AUTH")
	}
	c, err := dial(ctxT(t), "tcp", ep.Addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_ = c.SetDeadline(time.Time{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = c.Write([]byte("PING\r\n"))
	}()
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "+PONG\r\n" {
		t.Fatalf("read after a clear: %q %v, want +PONG (the 100 ms deadline was cleared)", buf[:n], err)
	}
}

// Through the manager, a command timeout still expires on time after
// thousands of commands whose deadlines were coalesced: DEBUG SLEEP holds
// Redis past the 300 ms timeout and the Get fails as a timeout, no sooner
// than 1/64 of the timeout early.
func TestCoalescedDeadlinesStillExpire(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.CommandTimeout = 300 * time.Millisecond
	cfg.MaxRetries = -1
	m := newManager(t, cfg)
	ctx := ctxT(t)
	for i := 0; i < 2000; i++ {
		if _, _, err := m.Get(ctx, "dl:k"); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- m.Client().Do(context.Background(), "DEBUG", "SLEEP", "1.5").Err() }()
	time.Sleep(100 * time.Millisecond) // the sleep is running
	start := time.Now()
	_, _, err := m.Get(ctx, "dl:k")
	el := time.Since(start)
	if ErrorKind(err) != KindTimeout {
		t.Fatalf("Get while Redis sleeps: %v (kind %q), want a timeout", err, ErrorKind(err))
	}
	if min := 300*time.Millisecond - 300*time.Millisecond/deadlineSlack - 5*time.Millisecond; el < min {
		t.Errorf("timed out after %v, before the %v the timeout allows", el, min)
	}
	<-errc
}

// With arrival stamps on, a read still returns the reply whole and keeps
// the kernel's arrival time of it: after the request was written, no later
// than the read returned, and new for each reply.
func TestRawConnRxStamps(t *testing.T) {
	c := dialRaw(t)
	defer c.Close()
	rc := c.(*rawConn)
	if rc.LastRx() != 0 {
		t.Fatal("a stamp before stamps were enabled")
	}
	if err := rc.EnableRxStamps(); err != nil {
		t.Fatal(err)
	}
	// Stamping starts a moment after it is asked for: the first reply may
	// have none (LastRx 0 then, never a stale stamp).
	var prev int64
	for i := range 4 {
		sent := time.Now().UnixNano()
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		got := time.Now().UnixNano()
		if err != nil || string(buf[:n]) != "+PONG\r\n" {
			t.Fatalf("PING %d replied %q, %v", i, buf[:n], err)
		}
		rx := rc.LastRx()
		if i == 0 {
			if rx != 0 && (rx < sent || rx > got) {
				t.Fatalf("first PING: arrival %d outside [sent %d, read %d]", rx, sent, got)
			}
			continue
		}
		if rx < sent || rx > got || rx <= prev {
			t.Fatalf("PING %d: arrival %d outside [sent %d, read %d] or not after the last %d", i, rx, sent, got, prev)
		}
		prev = rx
	}
}

// dialRaw starts a standalone redis-server and dials it as the manager
// does; it skips when connections are plain (CACHEPROOF_STDCONN=1) or the
// deployment wants AUTH (the callers speak RESP by hand).
func dialRaw(t *testing.T) net.Conn {
	t.Helper()
	d := startTopo(t, topology.ShapeStandalone)
	ep := d.Endpoints()
	dial := rawDialer(time.Second)
	if dial == nil {
		t.Skip("CACHEPROOF_STDCONN=1: plain net.Conns")
	}
	if ep.Password != "" {
		t.Skip("the deployment wants AUTH")
	}
	c, err := dial(ctxT(t), "tcp", ep.Addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	return c
}
