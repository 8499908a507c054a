package harness

import (
	"errors"
	"slices"
	"strings"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/topology"
)

// startProtocolProxy puts the RESP-aware proxy (chaos.Protocol) between the
// cache manager and every data node when a fault acts on the protocol
// (chaos.Traits.Protocol), as connect puts Toxiproxy in front of Redis for a
// network fault: for the whole run, so a fault starts and ends without the
// manager reconnecting elsewhere. The manager keeps the nodes' own addresses
// and dials each through its proxy (pool.Config.DialAddrs), so the nodes a
// cluster or a sentinel announces, and a MOVED reply names, are proxied as
// well as the seeds. With a network fault too, the protocol proxy reaches
// each node through the network proxy.
func (r *run) startProtocolProxy(ep topology.Endpoints) error {
	if !chaos.NeedsProtocol(r.faults) {
		return nil
	}
	if r.pcfg.TLS != nil {
		return &ConfigError{Err: errors.New("protocol faults need a plain-text link to Redis: the protocol proxy cannot read TLS")}
	}
	addrs := slices.Clone(ep.Addrs)
	for _, n := range r.dep.Nodes() {
		if n.Role != topology.RoleSentinel && !slices.Contains(addrs, n.Addr) {
			addrs = append(addrs, n.Addr)
		}
	}
	o := chaos.ProtocolOptions{Addrs: addrs, DialTimeout: r.pcfg.ConnectionTimeout}
	if r.network != nil {
		o.Upstream = r.network.Addr
	}
	p, err := chaos.NewProtocol(o)
	if err != nil {
		return &EnvError{Op: "start the protocol proxy", Err: err}
	}
	r.protocol = p
	r.pcfg.DialAddrs = p.DialAddrs()
	via := make([]string, len(addrs))
	for i, a := range addrs {
		via[i] = a + " via " + p.Addr(a)
	}
	r.o.logf("cache manager goes through the protocol proxy: %s", strings.Join(via, ", "))
	return nil
}
