package topology

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

// Ports are drawn at random from [portLow, portHigh) rather than taken from
// the kernel's ephemeral range through :0, because a Redis cluster node also
// binds port+10000 for its bus and both must fit below 65536. Drawing at
// random (instead of counting up from a base) keeps concurrent test binaries,
// which cannot see each other's reservations, from walking into one another;
// a node that still loses the race to bind is restarted on a new port.
const (
	portLow     = 20000
	portHigh    = 55000
	busOffset   = 10000
	pickRetries = 500
)

// reserved holds the ports this process has handed out and not yet released,
// so two deployments in one test binary never pick the same port.
var reserved = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// pickPortFunc is pickPort; tests replace it to force a lost bind race.
var pickPortFunc = pickPort

// pickPort reserves a port whose cluster bus port is free as well.
func pickPort() (int, error) {
	reserved.Lock()
	defer reserved.Unlock()
	for range pickRetries {
		p := portLow + rand.IntN(portHigh-portLow)
		if reserved.ports[p] || reserved.ports[p+busOffset] || reserved.ports[p-busOffset] {
			continue
		}
		if !canListen(p) || !canListen(p+busOffset) {
			continue
		}
		reserved.ports[p] = true
		return p, nil
	}
	return 0, envErr("pick port", fmt.Errorf("no free 127.0.0.1 port pair (p, p+%d) in [%d, %d) after %d tries", busOffset, portLow, portHigh, pickRetries))
}

// releasePort gives a port back once its node is gone for good.
func releasePort(p int) {
	reserved.Lock()
	delete(reserved.ports, p)
	reserved.Unlock()
}

func canListen(p int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}
