package chaos

import (
	"context"
	"errors"
	"time"

	"github.com/cacheproof/cacheproof/topology"
)

func init() { Register("network", func() Kind { return &network{} }) }

// network degrades the link between the cache manager and a node for for:,
// with a toxic on the in-process proxy in front of it (see Network): latency
// (latency, jitter), bandwidth (rate_kbps), reset_peer and timeout
// (timeout: 0s resets at once, or holds data until the fault ends), loss
// (loss: the share of segments lost, each resent after TCP's retransmission
// timeout, see lossToxic), or down (the proxy refuses connections).
// direction picks the stream: downstream (replies, the default), upstream
// (commands) or both.
type network struct {
	Toxic     string        `param:"toxic" values:"latency,bandwidth,reset_peer,timeout,loss,down"`
	Latency   time.Duration `param:"latency"`
	Jitter    time.Duration `param:"jitter"`
	RateKBps  int           `param:"rate_kbps"`
	Timeout   time.Duration `param:"timeout"`
	Direction string        `param:"direction" values:"upstream,downstream,both"`
	Loss      float64       `param:"loss"`
}

var _ Kind = (*network)(nil)

func (*network) Traits() Traits { return Traits{For: ForRequired, Proxy: true, LimitsNetwork: true} }

func (k *network) Validate(v *Validation) {
	if !v.Has("toxic") {
		v.Add("toxic", "required, one of %s", orList([]string{ToxicLatency, ToxicBandwidth, ToxicResetPeer, ToxicTimeout, ToxicLoss, ToxicDown}, "or"))
	}
	if k.Toxic == ToxicLoss && (k.Loss <= 0 || k.Loss >= 1) {
		v.Add("loss", "network loss toxic needs loss: the share of segments lost, more than 0 and less than 1 (e.g. 0.01); to cut traffic, use toxic: down")
	}
	if k.Toxic != ToxicLoss && v.Has("loss") {
		v.Add("loss", "fault network: loss applies only to toxic: loss")
	}
	if k.Toxic == ToxicLatency && k.Latency <= 0 {
		v.Add("latency", "network latency toxic needs latency: a positive delay, e.g. 20ms")
	}
	if k.Toxic != ToxicLatency && (v.Has("latency") || v.Has("jitter")) {
		v.Add("", "fault network: latency and jitter apply only to toxic: latency")
	}
	if k.Toxic == ToxicBandwidth && k.RateKBps <= 0 {
		v.Add("rate_kbps", "network bandwidth toxic needs rate_kbps: a positive number (to cut traffic, use toxic: down)")
	}
	if k.Toxic != ToxicBandwidth && v.Has("rate_kbps") {
		v.Add("rate_kbps", "fault network: rate_kbps applies only to toxic: bandwidth")
	}
	// timeout: 0s is meaningful: reset_peer resets at once, timeout holds
	// the data until the fault ends.
	resetOrTimeout := k.Toxic == ToxicResetPeer || k.Toxic == ToxicTimeout
	if resetOrTimeout && k.Timeout < 0 {
		v.Add("timeout", "must not be negative")
	}
	if !resetOrTimeout && v.Has("timeout") {
		v.Add("timeout", "fault network: timeout applies only to toxics reset_peer and timeout")
	}
	if shape := v.Site.Shape; shape != "" && shape != topology.ShapeStandalone && shape != topology.ShapeReplica {
		v.Add("kind", "fault network proxies one address; it supports standalone and replica topologies, not %s", shape)
	}
	if k.Toxic == ToxicLatency && k.Jitter > k.Latency {
		v.Add("jitter", "jitter %s is larger than latency %s: delays would go negative", k.Jitter, k.Latency)
	}
}

func (k *network) Inject(_ context.Context, t *Target) (func(context.Context) error, error) {
	if t.Network == nil {
		return nil, errors.New("network fault without a proxy: the cache manager does not go through one")
	}
	undo, err := t.Network.Apply(t.Node.Addr, Toxic{
		Type: k.Toxic, Latency: k.Latency, Jitter: k.Jitter, RateKBps: k.RateKBps, Timeout: k.Timeout, Direction: k.Direction, Loss: k.Loss,
	})
	if err != nil {
		return nil, err
	}
	t.Notef("toxic %s on the proxy in front of %s", k.Toxic, t.Node.Addr)
	return func(context.Context) error { return undo() }, nil
}
