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
