package topology

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Ports are drawn at random from [portLow, portHigh) rather than taken from
// the kernel through :0, because a Redis cluster node also binds port+10000
// for its bus and both must fit below 65536. Drawing at random (instead of
// counting up from a base) keeps concurrent test binaries from walking into
// one another; a node that still loses the race to bind is started on a new
// port.
//
// A node must also get its port back when a fault restarts it, and while it
// is down nothing holds the port. Two things could take it then:
//   - any outgoing connection on the machine: the kernel gives connections
//     local ports from its ephemeral range (ip_local_port_range, 32768-60999
//     by default), and a connection's local port blocks a listener's bind.
//     So ports (and bus ports) are drawn outside that range whenever it
//     leaves room, which the default does below 22768.
//   - another cacheproof process picking ports: every port handed out is
//     also locked, for as long as this process holds it, in a lock file all
//     cacheproof processes of the user share (one byte per port, an
//     open-file-description lock, released by the kernel if the process
//     dies), and pickPort skips ports another process has locked.
//
// What is left (an unrelated program binding that very port while the node
// is down) makes the restart fail with an error that names the port and what
// holds it, never a node silently missing.
const (
	portLow     = 10000
	portHigh    = 55000
	busOffset   = 10000
	pickRetries = 500
	// minCandidates is the fewest ports outside the ephemeral range worth
	// restricting the draw to; with fewer, the whole range is used.
	minCandidates = 1000
)

// reserved holds the ports this process has handed out and not yet released,
// so two deployments in one test binary never pick the same port.
var reserved = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// pickPortFunc is pickPort; tests replace it to force a lost bind race.
var pickPortFunc = pickPort

// candidates lists the ports pickPort draws from, computed once.
var candidates = sync.OnceValue(func() []int {
	lo, hi, ok := ephemeralRange()
	return portCandidates(lo, hi, ok)
})

// portCandidates returns the ports p in [portLow, portHigh) such that
// neither p nor p+busOffset is in the ephemeral range [lo, hi]; when that
// leaves fewer than minCandidates (or the range is unknown), every port.
func portCandidates(lo, hi int, known bool) []int {
	var out []int
	if known {
		for p := portLow; p < portHigh; p++ {
			if (p < lo || p > hi) && (p+busOffset < lo || p+busOffset > hi) {
				out = append(out, p)
			}
		}
		if len(out) >= minCandidates {
			return out
		}
	}
	out = out[:0]
	for p := portLow; p < portHigh; p++ {
		out = append(out, p)
	}
	return out
}

// ephemeralRange reads the kernel's range of local ports for outgoing
// connections.
func ephemeralRange() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	return lo, hi, err1 == nil && err2 == nil && lo <= hi
}

// pickPort reserves a port whose cluster bus port is free as well.
func pickPort() (int, error) {
	cands := candidates()
	reserved.Lock()
	defer reserved.Unlock()
	for range pickRetries {
		p := cands[rand.IntN(len(cands))]
		if reserved.ports[p] || reserved.ports[p+busOffset] || reserved.ports[p-busOffset] {
			continue
		}
		if !canListen(p) || !canListen(p+busOffset) {
			continue
		}
		if !portLocks.lock(p) {
			continue // another cacheproof process holds it
		}
		reserved.ports[p] = true
		return p, nil
	}
	return 0, envErr("pick port", fmt.Errorf("no free 127.0.0.1 port pair (p, p+%d) among %d candidates in [%d, %d) after %d tries", busOffset, len(cands), portLow, portHigh, pickRetries))
}

// releasePort gives a port back once its node is gone for good.
func releasePort(p int) {
	reserved.Lock()
	delete(reserved.ports, p)
	portLocks.unlock(p)
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

// Open file description locks (Linux 3.15+): they belong to the open file,
// not the process, so they conflict with any other open of the file, and
// closing some other descriptor of it does not drop them.
const (
	fOFDGetlk = 36
	fOFDSetlk = 37
)

// portLockFile is shared by every cacheproof process of one user.
func portLockFile() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("cacheproof-ports-%d.lock", os.Getuid()))
}

// portLocks locks, per port handed out, the bytes p and p+busOffset of the
// shared lock file, so another process's p, its bus port, or a port whose
// bus port is p all collide. Without the file (unwritable temp folder) it
// locks nothing and pickPort relies on the in-process map alone.
var portLocks = &portLocker{}

type portLocker struct {
	once sync.Once
	f    *os.File
}

func (l *portLocker) file() *os.File {
	l.once.Do(func() {
		f, err := os.OpenFile(portLockFile(), os.O_RDWR|os.O_CREATE, 0o600)
		if err == nil {
			l.f = f
		}
	})
	return l.f
}

func (l *portLocker) lock(p int) bool {
	f := l.file()
	if f == nil {
		return true
	}
	if !setByte(f, p, syscall.F_WRLCK) {
		return false
	}
	if !setByte(f, p+busOffset, syscall.F_WRLCK) {
		setByte(f, p, syscall.F_UNLCK)
		return false
	}
	return true
}

func (l *portLocker) unlock(p int) {
	if f := l.file(); f != nil {
		setByte(f, p, syscall.F_UNLCK)
		setByte(f, p+busOffset, syscall.F_UNLCK)
	}
}

func setByte(f *os.File, off int, typ int16) bool {
	lk := syscall.Flock_t{Type: typ, Whence: 0, Start: int64(off), Len: 1}
	return syscall.FcntlFlock(f.Fd(), fOFDSetlk, &lk) == nil
}

// portHolders describes the sockets on this machine bound to 127.0.0.1:port
// or any address at port (from /proc/net/tcp and tcp6), for an error that
// says why a node could not bind its port again: "LISTEN on 0.0.0.0" is a
// server someone started, "ESTABLISHED to 127.0.0.1:6379" an outgoing
// connection that drew the port as its local one.
func portHolders(port int) string {
	var found []string
	for _, path := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 4 {
				continue
			}
			laddr, lport, err1 := procAddr(fs[1])
			raddr, rport, err2 := procAddr(fs[2])
			if err1 != nil || err2 != nil || lport != port {
				continue
			}
			if laddr != "127.0.0.1" && laddr != "0.0.0.0" && laddr != "::" && laddr != "::1" && laddr != "::ffff:127.0.0.1" {
				continue
			}
			st := tcpStates[fs[3]]
			if st == "" {
				st = "state " + fs[3]
			}
			switch st {
			case "LISTEN":
				found = append(found, fmt.Sprintf("a listening socket on %s (another server)", laddr))
			case "TIME_WAIT":
				found = append(found, fmt.Sprintf("a TIME_WAIT connection to %s:%d", raddr, rport))
			default:
				found = append(found, fmt.Sprintf("a connection in %s to %s:%d using it as its local port", st, raddr, rport))
			}
		}
		_ = f.Close()
	}
	if len(found) == 0 {
		return "no socket holds it now (it was taken and released again)"
	}
	if len(found) > 3 {
		found = append(found[:3], fmt.Sprintf("and %d more", len(found)-3))
	}
	return "held by " + strings.Join(found, ", ")
}

var tcpStates = map[string]string{
	"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
	"06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}

// procAddr decodes "0100007F:1F90" (IPv4) or a 32-digit IPv6 address, as
// /proc/net/tcp writes them (each 32-bit word in host order, little-endian
// here), into an address and a port.
func procAddr(s string) (string, int, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return "", 0, errors.New("no port")
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return "", 0, err
	}
	if len(h) != 8 && len(h) != 32 {
		return "", 0, errors.New("bad address")
	}
	ip := make(net.IP, len(h)/2)
	for w := 0; w < len(h)/8; w++ {
		v, err := strconv.ParseUint(h[w*8:w*8+8], 16, 32)
		if err != nil {
			return "", 0, err
		}
		ip[w*4], ip[w*4+1], ip[w*4+2], ip[w*4+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	return ip.String(), int(port), nil
}
