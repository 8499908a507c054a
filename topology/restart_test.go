package topology

import (
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A node stopped from outside is gone before this process reaps it. Start in
// that gap must not take the unreaped process for a live node and return
// with nothing listening (the CI flake of the external-backend test, whose
// "supervisor" Start came right after an external SHUTDOWN).
func TestStartWaitsForANodeThatIsExiting(t *testing.T) {
	requireRedis(t)
	reapHook = func() { time.Sleep(500 * time.Millisecond) }
	d := startT(t, Spec{})
	t.Cleanup(func() { reapHook = func() {} }) // after Close (cleanups run last-in first-out)
	ctx := ctxT(t)
	addr := d.Endpoints().Addrs[0]
	_, _ = d.Do(ctx, "primary-0", "SHUTDOWN", "NOSAVE") // the connection drops: no reply
	if err := d.Start(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	if err := pingWithin(d, "primary-0", time.Second); err != nil {
		t.Fatalf("Start returned but primary-0 does not answer: %v", err)
	}
	if got := d.Endpoints().Addrs[0]; got != addr {
		t.Fatalf("restarted on %s, was %s", got, addr)
	}
}

// Ports (and cluster bus ports) are drawn outside the kernel's range for
// outgoing connections, so no connection on the machine can take a port
// while its node is down for a restart.
func TestPortsAvoidTheEphemeralRange(t *testing.T) {
	lo, hi, ok := ephemeralRange()
	if !ok {
		t.Skip("no /proc/sys/net/ipv4/ip_local_port_range")
	}
	var picked []int
	defer func() {
		for _, p := range picked {
			releasePort(p)
		}
	}()
	for range 200 {
		p, err := pickPort()
		if err != nil {
			t.Fatal(err)
		}
		picked = append(picked, p)
		if hi-lo < 40000 && ((p >= lo && p <= hi) || (p+busOffset >= lo && p+busOffset <= hi)) {
			t.Fatalf("picked %d (bus %d) inside the ephemeral range %d-%d", p, p+busOffset, lo, hi)
		}
	}

	// Known answers: the default range leaves [10000, 22768); a range that
	// covers almost everything leaves too little, and all ports are used.
	c := portCandidates(32768, 60999, true)
	if len(c) != 12768 || c[0] != 10000 || c[len(c)-1] != 22767 {
		t.Errorf("default range: %d candidates %d..%d, want 12768 from 10000 to 22767", len(c), c[0], c[len(c)-1])
	}
	if c := portCandidates(1024, 65535, true); len(c) != portHigh-portLow {
		t.Errorf("wide range: %d candidates, want all %d", len(c), portHigh-portLow)
	}
}

// A port handed out is locked in the file every cacheproof process shares,
// port and bus port, until it is released: another process's pickPort
// skips it even while its node is down.
func TestPickedPortIsLockedForOtherProcesses(t *testing.T) {
	p, err := pickPort()
	if err != nil {
		t.Fatal(err)
	}
	// An open file description of our own plays the other process: OFD
	// locks conflict across descriptions, even within one process.
	other, err := os.OpenFile(portLockFile(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, b := range []int{p, p + busOffset} {
		if setByte(other, b, syscall.F_WRLCK) {
			t.Errorf("another process could lock byte %d of a port handed out", b)
			setByte(other, b, syscall.F_UNLCK)
		}
	}
	releasePort(p)
	if !setByte(other, p, syscall.F_WRLCK) || !setByte(other, p+busOffset, syscall.F_WRLCK) {
		t.Fatalf("port %d still locked after release", p)
	}
	// Held by "the other process" now: pickPort in this one never returns it.
	for range 50 {
		q, err := pickPort()
		if err != nil {
			t.Fatal(err)
		}
		releasePort(q)
		if q == p || q == p+busOffset || q+busOffset == p {
			t.Fatalf("pickPort returned %d, locked by another process", q)
		}
	}
}

// When something else binds a node's port while the node is down, the
// restart fails with an error that names the port and what holds it; once
// the port is free again, the node comes back on it.
func TestRestartOnATakenPortFailsLoudly(t *testing.T) {
	requireRedis(t)
	d := startT(t, Spec{})
	ctx := ctxT(t)
	addr := d.Endpoints().Addrs[0]
	_, portStr, _ := net.SplitHostPort(addr)
	if err := d.Stop(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the stopped node's port: %v", err)
	}
	err = d.Start(ctx, "primary-0")
	_ = l.Close()
	if err == nil {
		t.Fatal("Start succeeded on a port someone else listens on")
	}
	if !errors.As(err, new(*EnvError)) || !strings.Contains(err.Error(), "port "+portStr) || !strings.Contains(err.Error(), "listening socket on 127.0.0.1") {
		t.Fatalf("error %q: want an EnvError naming port %s and the listening socket holding it", err, portStr)
	}
	if err := d.Start(ctx, "primary-0"); err != nil {
		t.Fatalf("Start after the port was freed: %v", err)
	}
	if got := d.Endpoints().Addrs[0]; got != addr {
		t.Fatalf("restarted on %s, was %s", got, addr)
	}
	mustDo(t, d, "primary-0", "PING")
}

// portHolders decodes /proc/net/tcp: a listener of our own on a port shows
// as a listening socket.
func TestPortHoldersSeesAListener(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if got := portHolders(port); !strings.Contains(got, "listening socket on 127.0.0.1") {
		t.Fatalf("portHolders(%d) = %q", port, got)
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().(*net.TCPAddr).Port
	if got := portHolders(local); !strings.Contains(got, "ESTABLISHED to 127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("portHolders(%d) = %q, want the outgoing connection", local, got)
	}
}
