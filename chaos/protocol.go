package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Protocol is an in-process RESP-aware proxy, one listener per Redis data
// node, that the cache manager's connections go through for the whole run
// when a scenario has a protocol fault (Traits.Protocol). Between faults it
// forwards every command and every reply unchanged. While a fault is on, it
// reads each command's name and key (chaos/resp.go) and, for the commands
// the fault matches at its rate, answers in Redis's place (an error reply,
// a redirect), holds the reply back (a delay), or sends part of the reply
// and breaks the connection (a cut). Unlike a TCP proxy it knows where a
// reply ends, so it can fail one command of a pipeline and not the others.
//
// Clients keep dialling the nodes' own addresses: the pool maps each to its
// proxy when it dials (pool.Config.DialAddrs, DialAddrs here), so the
// addresses a cluster or a sentinel announces, and a MOVED reply names, are
// proxied too.
type Protocol struct {
	mu     sync.Mutex
	nodes  map[string]*respNode // by the node's address
	order  []string
	closed bool
}

// ProtocolOptions configure NewProtocol.
type ProtocolOptions struct {
	// Addrs are the data nodes' addresses, as clients know them.
	Addrs []string
	// Upstream is where the proxy of addr dials (nil: addr itself), so the
	// protocol proxy can sit in front of the network proxy when a run has
	// both kinds of fault.
	Upstream func(addr string) string
	// DialTimeout bounds the proxy's dial to its node (default 5s).
	DialTimeout time.Duration
}

// NewProtocol starts one proxy on 127.0.0.1 for every address.
func NewProtocol(o ProtocolOptions) (*Protocol, error) {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	p := &Protocol{nodes: map[string]*respNode{}}
	for _, a := range o.Addrs {
		if _, dup := p.nodes[a]; dup {
			continue
		}
		up := a
		if o.Upstream != nil {
			up = o.Upstream(a)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("chaos: start the protocol proxy for %s: %w", a, err)
		}
		n := &respNode{addr: a, upstream: up, ln: ln, dialTimeout: o.DialTimeout, conns: map[*respConn]struct{}{}}
		p.nodes[a] = n
		p.order = append(p.order, a)
		n.wg.Add(1)
		go n.accept()
	}
	return p, nil
}

// Addr returns the proxy address that stands for addr, or addr itself when
// it is not proxied.
func (p *Protocol) Addr(addr string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.nodes[addr]; ok {
		return n.ln.Addr().String()
	}
	return addr
}

// DialAddrs maps every proxied node's address to its proxy's, for the
// pool's dialer.
func (p *Protocol) DialAddrs() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]string, len(p.nodes))
	for a, n := range p.nodes {
		out[a] = n.ln.Addr().String()
	}
	return out
}

// Close stops every listener, closes every connection through the proxy and
// waits for their goroutines. A nil Protocol is closed.
func (p *Protocol) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	ns := make([]*respNode, 0, len(p.nodes))
	for _, a := range p.order {
		ns = append(ns, p.nodes[a])
	}
	p.mu.Unlock()
	for _, n := range ns {
		n.close()
	}
}

// Apply puts rule on the proxy of addr until the returned undo is called.
// Rules on one node are tried in the order they were applied; the first
// that fires on a command acts on it.
func (p *Protocol) Apply(addr string, rule *Rule) (undo func(), err error) {
	if err := rule.check(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	n, ok := p.nodes[addr]
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, errors.New("chaos: the protocol proxy is closed")
	}
	if !ok {
		have := append([]string(nil), p.order...)
		sort.Strings(have)
		return nil, fmt.Errorf("chaos: %s is not behind the protocol proxy (proxied: %s)", addr, strings.Join(have, ", "))
	}
	n.mu.Lock()
	rs := append(slices.Clone(n.rules), rule)
	n.rules = rs
	n.published.Store(&rs)
	n.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			n.mu.Lock()
			rs := slices.DeleteFunc(slices.Clone(n.rules), func(r *Rule) bool { return r == rule })
			n.rules = rs
			n.published.Store(&rs)
			n.mu.Unlock()
		})
	}, nil
}

// The actions a Rule takes on a command it fires on.
const (
	// ActError answers with Rule.Reply as an error reply; the command is
	// not sent to Redis.
	ActError = "error"
	// ActRedirect answers with "-MOVED <slot> <node>" or "-ASK ..." naming
	// the node the command was sent to; the command is not sent.
	ActRedirect = "redirect"
	// ActDelay sends the command and holds its reply until Rule.Delay (plus
	// up to Rule.Jitter) after the command arrived. Replies to the commands
	// pipelined behind it wait too, as behind a slow command in Redis.
	ActDelay = "delay"
	// ActTruncate sends the command, writes the first half of its reply and
	// closes the connection; ActReset does the same with a TCP reset.
	ActTruncate = "truncate"
	ActReset    = "reset"
)

// handshake are the commands a rule without Commands leaves alone: a
// connection's set-up and the cluster client's discovery, which a fault on
// the traffic should not turn into a failure to connect.
var handshake = map[string]bool{
	"HELLO": true, "AUTH": true, "CLIENT": true, "SELECT": true, "READONLY": true, "READWRITE": true,
	"ASKING": true, "QUIT": true, "RESET": true, "CLUSTER": true, "COMMAND": true,
}

// Rule is one protocol fault on one node: which commands it acts on, at
// what rate, and what it does to them. It counts the commands it matched
// and those it fired on.
type Rule struct {
	Action string
	// Reply is the error reply without its '-' and CRLF ("LOADING Redis is
	// loading the dataset in memory"), for ActError.
	Reply string
	// Redirect is "MOVED" or "ASK", for ActRedirect.
	Redirect string
	// Delay and Jitter, for ActDelay.
	Delay, Jitter time.Duration
	// Fraction is the share of matching commands the rule fires on, more
	// than 0 and at most 1.
	Fraction float64
	// Commands are the command names the rule matches, in upper case
	// (empty: every command but the connection's handshake).
	Commands []string

	matched, fired atomic.Uint64
}

func (r *Rule) check() error {
	switch r.Action {
	case ActError:
		if r.Reply == "" {
			return errors.New("chaos: an error rule needs a reply")
		}
	case ActRedirect:
		if r.Redirect != "MOVED" && r.Redirect != "ASK" {
			return fmt.Errorf("chaos: redirect %q: expected MOVED or ASK", r.Redirect)
		}
	case ActDelay:
		if r.Delay <= 0 {
			return errors.New("chaos: a delay rule needs a positive delay")
		}
	case ActTruncate, ActReset:
	default:
		return fmt.Errorf("chaos: unknown protocol action %q", r.Action)
	}
	if r.Fraction <= 0 || r.Fraction > 1 {
		return fmt.Errorf("chaos: rule fraction %g out of (0, 1]", r.Fraction)
	}
	return nil
}

// Counts are how many commands the rule matched (by name) and how many of
// those it acted on, so far.
func (r *Rule) Counts() (matched, fired uint64) { return r.matched.Load(), r.fired.Load() }

// matches reports whether the rule applies to a command named name.
func (r *Rule) matches(name string) bool {
	if len(r.Commands) == 0 {
		return !handshake[name]
	}
	return slices.Contains(r.Commands, name)
}

// respNode is the proxy of one node.
type respNode struct {
	addr, upstream string
	ln             net.Listener
	dialTimeout    time.Duration

	mu        sync.Mutex
	rules     []*Rule                 // under mu; never changed in place
	published atomic.Pointer[[]*Rule] // a copy of rules, read without the lock
	conns     map[*respConn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

func (n *respNode) accept() {
	defer n.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			return
		}
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			_ = c.Close()
			return
		}
		rc := &respConn{n: n, client: c}
		n.conns[rc] = struct{}{}
		n.wg.Add(1)
		n.mu.Unlock()
		go rc.serve()
	}
}

func (n *respNode) close() {
	n.mu.Lock()
	n.closed = true
	conns := make([]*respConn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	_ = n.ln.Close()
	for _, c := range conns {
		c.closeBoth(false)
	}
	n.wg.Wait()
}

// pick is the rule that fires on cmd (named name), if any. A redirect
// rule matches only commands with a key: a redirect names the key's slot.
func (n *respNode) pick(cmd *command, name string) *Rule {
	rs := n.published.Load()
	if rs == nil {
		return nil
	}
	for _, r := range *rs {
		if !r.matches(name) || (r.Action == ActRedirect && cmd.firstKey() == nil) {
			continue
		}
		r.matched.Add(1)
		if r.Fraction >= 1 || rand.Float64() < r.Fraction {
			r.fired.Add(1)
			return r
		}
	}
	return nil
}

// respConn is one client connection through the proxy and its own
// connection to the node. Commands are read and forwarded by serve; the
// replies go back in order through replies, which a queue of pending
// entries keeps in step: one entry per command, telling it whether to read
// the node's reply (and what to do to it) or to answer itself.
type respConn struct {
	n            *respNode
	client, up   net.Conn
	closeOnce    sync.Once
	repliesEnded chan struct{}
}

// pending is what replies does for one command.
type pending struct {
	at    time.Time // when the command arrived
	reply []byte    // answer this instead of reading the node's reply
	rule  *Rule     // act on the node's reply (delay, cut); nil: forward it
	// passthrough: the connection entered pub/sub; from here on bytes are
	// copied both ways unread.
	passthrough bool
}

func (c *respConn) serve() {
	defer c.n.wg.Done()
	defer func() {
		c.n.mu.Lock()
		delete(c.n.conns, c)
		c.n.mu.Unlock()
	}()
	up, err := net.DialTimeout("tcp", c.n.upstream, c.n.dialTimeout)
	if err != nil {
		_ = c.client.Close()
		return
	}
	c.n.mu.Lock()
	c.up = up
	closed := c.n.closed
	c.n.mu.Unlock()
	if closed {
		// close may have closed the client before up was set.
		_ = up.Close()
		_ = c.client.Close()
		return
	}
	queue := newPendingQueue()
	c.repliesEnded = make(chan struct{})
	go c.replies(queue)
	c.commands(queue)
	<-c.repliesEnded
}

// commands reads the client's commands, decides each one's fate and
// forwards those Redis must see.
func (c *respConn) commands(queue *pendingQueue) {
	defer queue.close()
	br := bufio.NewReaderSize(c.client, 32<<10)
	uw := bufio.NewWriterSize(c.up, 32<<10)
	for {
		cmd, err := readCommand(br)
		if err != nil {
			_ = uw.Flush()
			return
		}
		name := cmd.name()
		switch name {
		case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR":
			// Replies no longer answer commands one for one (under RESP3
			// even the confirmation is a push): copy the rest both ways
			// unread, with no fault.
			if _, err := uw.Write(cmd.raw); err != nil || uw.Flush() != nil {
				return
			}
			queue.push(pending{passthrough: true})
			_, _ = br.WriteTo(c.up)
			return
		}
		p := pending{at: time.Now()}
		if r := c.n.pick(cmd, name); r != nil {
			switch r.Action {
			case ActError:
				p.reply = []byte("-" + r.Reply + "\r\n")
			case ActRedirect:
				p.reply = fmt.Appendf(nil, "-%s %d %s\r\n", r.Redirect, hashSlot(cmd.firstKey()), c.n.addr)
			default:
				p.rule = r
			}
		}
		if p.reply == nil {
			if _, err := uw.Write(cmd.raw); err != nil {
				return
			}
		}
		queue.push(p)
		if br.Buffered() == 0 {
			if uw.Flush() != nil {
				return
			}
		}
	}
}

// replies sends the client, in order, each command's reply: the node's,
// or the proxy's own.
func (c *respConn) replies(queue *pendingQueue) {
	defer close(c.repliesEnded)
	defer c.closeBoth(false)
	ur := bufio.NewReaderSize(c.up, 32<<10)
	cw := bufio.NewWriterSize(c.client, 32<<10)
	var buf []byte
	for {
		p, ok := queue.pop()
		if !ok {
			break
		}
		switch {
		case p.passthrough:
			if cw.Flush() != nil {
				return
			}
			_, _ = ur.WriteTo(c.client)
			return
		case p.reply != nil:
			if _, err := cw.Write(p.reply); err != nil {
				return
			}
		default:
			var err error
			for {
				buf, err = readFrame(ur, buf[:0])
				if err != nil || len(buf) == 0 || buf[0] != '>' {
					break
				}
				// A RESP3 push (an invalidation) answers no command.
				if _, err = cw.Write(buf); err != nil {
					break
				}
			}
			if err != nil {
				return
			}
			if p.rule != nil {
				if cw.Flush() != nil {
					return
				}
				switch p.rule.Action {
				case ActDelay:
					d := p.rule.Delay
					if p.rule.Jitter > 0 {
						d += rand.N(p.rule.Jitter + 1)
					}
					time.Sleep(time.Until(p.at.Add(d)))
				case ActTruncate, ActReset:
					// Half the reply, at least a byte and never all of it,
					// then the connection breaks.
					_, _ = c.client.Write(buf[:max(1, len(buf)/2)])
					c.closeBoth(p.rule.Action == ActReset)
					for _, more := queue.pop(); more; _, more = queue.pop() {
					}
					return
				}
			}
			if _, err := cw.Write(buf); err != nil {
				return
			}
		}
		if queue.empty() || ur.Buffered() == 0 {
			if cw.Flush() != nil {
				return
			}
		}
	}
	_ = cw.Flush()
}

// pendingQueue is a connection's replies to come, in order. Pushing never
// waits: a client may pipeline any number of commands before it reads a
// reply, and a proxy that stopped reading commands while the client's
// socket is full of replies it has not read yet would deadlock with it
// (Redis buffers its replies for the same reason).
type pendingQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	items  []pending
	head   int
	closed bool
}

func newPendingQueue() *pendingQueue {
	q := &pendingQueue{}
	q.cond.L = &q.mu
	return q
}

func (q *pendingQueue) push(p pending) {
	q.mu.Lock()
	q.items = append(q.items, p)
	q.mu.Unlock()
	q.cond.Signal()
}

// close says no more will be pushed; pop returns what is left, then false.
func (q *pendingQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// pop waits for the next entry; false once the queue is closed and empty.
func (q *pendingQueue) pop() (pending, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.items) && !q.closed {
		q.cond.Wait()
	}
	if q.head == len(q.items) {
		return pending{}, false
	}
	p := q.items[q.head]
	q.items[q.head] = pending{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return p, true
}

func (q *pendingQueue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.head == len(q.items)
}

// closeBoth closes the client's connection (with a TCP reset when reset is
// true) and the node's.
func (c *respConn) closeBoth(reset bool) {
	c.closeOnce.Do(func() {
		if tc, ok := c.client.(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0)
		}
		_ = c.client.Close()
		c.n.mu.Lock()
		up := c.up
		c.n.mu.Unlock()
		if up != nil {
			_ = up.Close()
		}
	})
}

// validateMatch checks the parameters every protocol kind shares: fraction
// (the share of matching commands the fault acts on) and commands (which
// commands it matches).
func validateMatch(v *Validation, fraction float64, commands []string) {
	if fraction <= 0 || fraction > 1 {
		v.Add("fraction", "%g out of range, expected more than 0 and at most 1 (the share of matching commands)", fraction)
	}
	for i, c := range commands {
		if c == "" || strings.ContainsAny(c, " \t\r\n") {
			v.Add(fmt.Sprintf("commands[%d]", i), "%q is not a command name (expected one word such as EVALSHA)", c)
		}
	}
}

// upperAll is the command names as the proxy compares them.
func upperAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToUpper(n)
	}
	return out
}

// injectRule puts rule on the protocol proxy in front of t.Node for one
// occurrence; the end takes it off and notes how many commands it acted on.
// what describes the rule for the notes ("-LOADING replies").
func injectRule(t *Target, rule *Rule, what string) (func(context.Context) error, error) {
	if t.Protocol == nil {
		return nil, errors.New("protocol fault without a protocol proxy: the cache manager does not go through one")
	}
	undo, err := t.Protocol.Apply(t.Node.Addr, rule)
	if err != nil {
		return nil, err
	}
	scope := "every command but the connection's handshake"
	if len(rule.Commands) > 0 {
		scope = strings.Join(rule.Commands, ", ")
	}
	t.Notef("protocol proxy in front of %s (%s): %s on %g of %s", t.Node.Name, t.Node.Addr, what, rule.Fraction, scope)
	return func(context.Context) error {
		undo()
		matched, fired := rule.Counts()
		t.Notef("%s on %d of %d matching commands", what, fired, matched)
		return nil
	}, nil
}
