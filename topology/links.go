package topology

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Clients names the deployment's clients (every connection that does not
// come from one of its nodes: the cache manager under test) as one end of a
// link, beside the node names.
const Clients = "clients"

// Partitioner cuts links between the nodes of a deployment, and between
// them and the clients, one direction at a time. A deployment started with
// Spec.NodeLinks on the process backend has it.
type Partitioner interface {
	// Cut stops the bytes from one end to the other (node names, or
	// Clients) on every connection between them, open or new, until heal
	// is called. Bytes the other way still flow on connections already
	// open; a new connection between the two ends is held until neither
	// direction is cut, as TCP cannot open one across a one-way
	// partition. Cuts of the same link add up: the link opens again when
	// every cut is healed. heal is idempotent.
	Cut(from, to string) (heal func(), err error)
}

// links is the process backend's node links: one gate per address a node
// announces to the others (its port and, in a cluster, its bus port). Every
// node is told the others' gates (replicaof, sentinel monitor, the
// announce-ip/-port settings), so every connection a node opens to another
// passes through the gate of the one it reaches; clients are told the same
// addresses (sentinels and CLUSTER SLOTS name the announced ones). A gate
// finds which node opened a connection from the socket's owner (see
// connOwner) and holds the bytes of a cut direction.
type links struct {
	// owner names the node whose process holds a socket inode ("" for a
	// socket of no node: a client).
	owner func(inode uint64) string

	mu    sync.Mutex
	cond  *sync.Cond
	cuts  map[[2]string]int // (from, to) -> active cuts
	gates []*gate
	done  bool
}

func newLinks(owner func(inode uint64) string) *links {
	l := &links{owner: owner, cuts: map[[2]string]int{}}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// gate is one listener in front of one node's port (or bus port).
type gate struct {
	l        *links
	node     string
	ln       net.Listener
	upstream string // set once the node's port is known
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

// open starts a gate for node on a free loopback port; its upstream is set
// by route once the node's own port is known.
func (l *links) open(node string) (*gate, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, envErr("open node link gate for "+node, err)
	}
	g := &gate{l: l, node: node, ln: ln, conns: map[net.Conn]struct{}{}}
	l.mu.Lock()
	l.gates = append(l.gates, g)
	l.mu.Unlock()
	go g.serve()
	return g, nil
}

func (g *gate) port() int { return g.ln.Addr().(*net.TCPAddr).Port }

func (g *gate) addr() string { return g.ln.Addr().String() }

// route sets where the gate forwards to.
func (g *gate) route(upstream string) {
	g.mu.Lock()
	g.upstream = upstream
	g.mu.Unlock()
}

func (g *gate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		go g.relay(c)
	}
}

// relay forwards one connection, holding each direction while it is cut.
func (g *gate) relay(in net.Conn) {
	from := Clients
	if ino, err := connInode(in.RemoteAddr().String(), in.LocalAddr().String()); err == nil {
		if n := g.l.owner(ino); n != "" {
			from = n
		}
	}
	// A connection cannot open across a partition, in either direction.
	if !g.l.waitOpen(from, g.node, true) {
		_ = in.Close()
		return
	}
	g.mu.Lock()
	up := g.upstream
	g.mu.Unlock()
	out, err := net.Dial("tcp", up)
	if err != nil {
		_ = in.Close()
		return
	}
	if !g.track(in, out) {
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); g.l.pump(out, in, from, g.node) }()
	go func() { defer wg.Done(); g.l.pump(in, out, g.node, from) }()
	wg.Wait()
	g.untrack(in, out)
}

func (g *gate) track(cs ...net.Conn) bool {
	g.l.mu.Lock()
	done := g.l.done
	g.l.mu.Unlock()
	if done {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	g.mu.Lock()
	for _, c := range cs {
		g.conns[c] = struct{}{}
	}
	g.mu.Unlock()
	return true
}

func (g *gate) untrack(cs ...net.Conn) {
	g.mu.Lock()
	for _, c := range cs {
		delete(g.conns, c)
		_ = c.Close()
	}
	g.mu.Unlock()
}

func (g *gate) close() {
	_ = g.ln.Close()
	g.mu.Lock()
	for c := range g.conns {
		_ = c.Close()
	}
	g.mu.Unlock()
}

// pump copies src to dst, the bytes from one end to the other. A chunk read
// while that direction is cut waits until it heals: the sender's socket
// fills and it stalls, as over a link that drops its packets (TCP resends
// them once the link is back). A half-close is passed on.
func (l *links) pump(dst, src net.Conn, from, to string) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !l.waitOpen(from, to, false) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				_ = src.Close()
				return
			}
		}
		if err != nil {
			if tc, ok := dst.(*net.TCPConn); ok && errors.Is(err, io.EOF) {
				_ = tc.CloseWrite()
			} else {
				_ = dst.Close()
			}
			return
		}
	}
}

// waitOpen waits until from -> to is not cut (and, with both, neither is
// to -> from); false when the links were closed meanwhile.
func (l *links) waitOpen(from, to string, both bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for !l.done && (l.cuts[[2]string{from, to}] > 0 || (both && l.cuts[[2]string{to, from}] > 0)) {
		l.cond.Wait()
	}
	return !l.done
}

// Cut implements Partitioner.
func (l *links) Cut(from, to string) (func(), error) {
	if from == to {
		return nil, fmt.Errorf("topology: cut %s from itself", from)
	}
	k := [2]string{from, to}
	l.mu.Lock()
	if l.done {
		l.mu.Unlock()
		return nil, errors.New("topology: node links are closed")
	}
	l.cuts[k]++
	l.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			if l.cuts[k]--; l.cuts[k] <= 0 {
				delete(l.cuts, k)
			}
			l.cond.Broadcast()
			l.mu.Unlock()
		})
	}, nil
}

// close stops every gate and releases every held byte.
func (l *links) close() {
	l.mu.Lock()
	l.done = true
	gates := l.gates
	l.cond.Broadcast()
	l.mu.Unlock()
	for _, g := range gates {
		g.close()
	}
}

// connInode finds the inode of the socket at the other end of a connection
// the gate accepted: the socket whose local address is the gate's peer and
// whose remote address is the gate. Both ends are on this host's loopback,
// so /proc/net/tcp lists it (decoded as portHolders does).
func connInode(peer, gate string) (uint64, error) {
	p, err := netip.ParseAddrPort(peer)
	if err != nil {
		return 0, err
	}
	g, err := netip.ParseAddrPort(gate)
	if err != nil {
		return 0, err
	}
	for _, path := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if ino, ok, err := findSocket(path, p, g); err != nil || ok {
			return ino, err
		}
	}
	return 0, fmt.Errorf("no socket %s -> %s in /proc/net/tcp", peer, gate)
}

func findSocket(path string, local, remote netip.AddrPort) (uint64, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, nil
	}
	defer f.Close()
	same := func(field string, want netip.AddrPort) bool {
		ip, port, err := procAddr(field)
		if err != nil || port != int(want.Port()) {
			return false
		}
		a, err := netip.ParseAddr(ip)
		return err == nil && a.Unmap() == want.Addr().Unmap()
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fs := strings.Fields(sc.Text())
		if len(fs) < 10 || !same(fs[1], local) || !same(fs[2], remote) {
			continue
		}
		ino, err := strconv.ParseUint(fs[9], 10, 64)
		return ino, err == nil, err
	}
	return 0, false, sc.Err()
}

// holdsSocket reports whether process pid has the socket inode open.
func holdsSocket(pid int, inode uint64) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := "socket:[" + strconv.FormatUint(inode, 10) + "]"
	for _, e := range ents {
		if t, err := os.Readlink(dir + "/" + e.Name()); err == nil && t == want {
			return true
		}
	}
	return false
}
