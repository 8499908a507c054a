package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Network is an in-process Toxiproxy with one proxy per Redis data node.
// It is placed between the cache manager and Redis for the whole run when a
// scenario has a fault that acts on it (the network kind), so that a toxic
// can be added and removed without the manager reconnecting to another
// address. It runs inside the tool (no toxiproxy-server binary, no HTTP
// API) and listens on loopback.
type Network struct {
	server *toxiproxy.ApiServer

	mu      sync.Mutex
	proxies map[string]*toxiproxy.Proxy // by upstream address
	order   []string                    // upstream addresses, in creation order
	toxics  int                         // name counter
	closed  bool
}

// NewNetwork starts one proxy on 127.0.0.1 for every upstream address.
func NewNetwork(upstreams []string) (*Network, error) {
	m := toxiproxy.NewMetricsContainer(nil)
	n := &Network{
		server:  toxiproxy.NewServer(m, zerolog.Nop()),
		proxies: map[string]*toxiproxy.Proxy{},
	}
	for i, up := range upstreams {
		if _, dup := n.proxies[up]; dup {
			continue
		}
		p := toxiproxy.NewProxy(n.server, fmt.Sprintf("redis-%d", i), "127.0.0.1:0", up)
		if err := p.Start(); err != nil {
			n.Close()
			return nil, fmt.Errorf("chaos: start proxy for %s: %w", up, err)
		}
		n.proxies[up] = p
		n.order = append(n.order, up)
	}
	return n, nil
}

// Addr returns the proxy address that stands for upstream, or upstream
// itself when it is not proxied.
func (n *Network) Addr(upstream string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p, ok := n.proxies[upstream]; ok {
		p.Lock()
		defer p.Unlock()
		return p.Listen
	}
	return upstream
}

// Addrs maps every address through Addr.
func (n *Network) Addrs(upstreams []string) []string {
	out := make([]string, len(upstreams))
	for i, a := range upstreams {
		out[i] = n.Addr(a)
	}
	return out
}

func (n *Network) proxy(upstream string) (*toxiproxy.Proxy, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errors.New("chaos: network is closed")
	}
	p, ok := n.proxies[upstream]
	if !ok {
		have := append([]string(nil), n.order...)
		sort.Strings(have)
		return nil, fmt.Errorf("chaos: %s is not proxied (proxied: %s)", upstream, strings.Join(have, ", "))
	}
	return p, nil
}

// The toxics Apply knows (toxiproxy's, and down).
const (
	ToxicLatency   = "latency"
	ToxicBandwidth = "bandwidth"
	ToxicResetPeer = "reset_peer"
	ToxicTimeout   = "timeout"
	ToxicLoss      = "loss"
	ToxicDown      = "down"
)

// Toxic is a network condition to apply to one proxy.
type Toxic struct {
	Type      string        // latency | bandwidth | reset_peer | timeout | loss | down
	Latency   time.Duration // latency
	Jitter    time.Duration // latency
	RateKBps  int           // bandwidth
	Timeout   time.Duration // reset_peer, timeout (0: hold data until removed)
	Direction string        // upstream | downstream | both ("" = downstream)
	Loss      float64       // loss: the share of segments lost
}

// Apply adds the toxic to the proxy of upstream and returns a function that
// removes it. "down" stops the proxy (every connection through it is
// closed, new ones are refused) and the undo starts it again on the same
// address.
func (n *Network) Apply(upstream string, t Toxic) (undo func() error, err error) {
	p, err := n.proxy(upstream)
	if err != nil {
		return nil, err
	}
	if t.Type == ToxicDown {
		p.Lock()
		listen := p.Listen
		p.Unlock()
		p.Stop()
		return func() error {
			p.Lock()
			p.Listen = listen
			p.Unlock()
			if err := p.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
				return fmt.Errorf("chaos: restart proxy on %s: %w", listen, err)
			}
			return nil
		}, nil
	}
	attrs, err := toxicAttributes(t)
	if err != nil {
		return nil, err
	}
	var streams []string
	switch t.Direction {
	case "", "downstream":
		streams = []string{"downstream"}
	case "upstream":
		streams = []string{"upstream"}
	case "both":
		streams = []string{"upstream", "downstream"}
	default:
		return nil, fmt.Errorf("chaos: toxic direction %q: expected upstream, downstream or both", t.Direction)
	}
	var names []string
	undo = func() error {
		var errs []error
		for _, name := range names {
			if err := p.Toxics.RemoveToxic(context.Background(), name); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
				errs = append(errs, fmt.Errorf("chaos: remove toxic %s: %w", name, err))
			}
		}
		return errors.Join(errs...)
	}
	for _, stream := range streams {
		n.mu.Lock()
		n.toxics++
		name := fmt.Sprintf("%s_%s_%d", t.Type, stream, n.toxics)
		n.mu.Unlock()
		body := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, t.Type, stream, attrs)
		if _, err := p.Toxics.AddToxicJson(strings.NewReader(body)); err != nil {
			_ = undo()
			return nil, fmt.Errorf("chaos: add %s toxic: %w", t.Type, err)
		}
		names = append(names, name)
	}
	return undo, nil
}

func toxicAttributes(t Toxic) (string, error) {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	switch t.Type {
	case ToxicLatency:
		return fmt.Sprintf(`{"latency":%d,"jitter":%d}`, ms(t.Latency), ms(t.Jitter)), nil
	case ToxicBandwidth:
		if t.RateKBps <= 0 {
			return "", errors.New("chaos: bandwidth toxic needs a positive rate")
		}
		return fmt.Sprintf(`{"rate":%d}`, t.RateKBps), nil
	case ToxicResetPeer, ToxicTimeout:
		return fmt.Sprintf(`{"timeout":%d}`, ms(t.Timeout)), nil
	case ToxicLoss:
		if t.Loss <= 0 || t.Loss >= 1 {
			return "", errors.New("chaos: loss toxic needs a share of segments lost between 0 and 1")
		}
		return fmt.Sprintf(`{"probability":%g,"rto_ms":200}`, t.Loss), nil
	}
	return "", fmt.Errorf("chaos: unknown toxic %q", t.Type)
}

// Close stops every proxy and closes every connection through them.
func (n *Network) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	ps := make([]*toxiproxy.Proxy, 0, len(n.proxies))
	for _, up := range n.order {
		ps = append(ps, n.proxies[up])
	}
	n.mu.Unlock()
	for _, p := range ps {
		p.Toxics.ResetToxics(context.Background())
		p.Stop()
	}
}

// dialable reports whether addr accepts TCP connections (for tests and
// notes: a proxy that is down refuses).
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
