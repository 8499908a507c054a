package chaos

import (
	"context"
	"maps"
	"slices"
	"strings"
)

func init() { Register("protocol-error", func() Kind { return &protocolError{Fraction: 1} }) }

// protocolError answers, for for:, a share of the commands sent to a node
// (fraction, of those named in commands or of every command) with one of
// the error replies Redis gives when it cannot serve them, without sending
// them to Redis: -LOADING (a restarted node reading its RDB), -BUSY (a slow
// Lua script), -OOM (maxmemory reached under noeviction), -MASTERDOWN (a
// replica cut from its primary), -TRYAGAIN (a multi-key command during
// resharding), -CLUSTERDOWN, -READONLY (a demoted primary). It proves how
// the cache layer classifies, retries and survives each, and what it costs
// in hit rate, without having to bring Redis into that state.
type protocolError struct {
	Error    string   `param:"error" values:"loading,busy,oom,masterdown,tryagain,clusterdown,readonly"`
	Fraction float64  `param:"fraction"`
	Commands []string `param:"commands"`
}

var _ Kind = (*protocolError)(nil)

// errorReplies are Redis's own texts for each error (as server.c and
// cluster.c write them).
var errorReplies = map[string]string{
	"loading":     "LOADING Redis is loading the dataset in memory",
	"busy":        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
	"oom":         "OOM command not allowed when used memory > 'maxmemory'.",
	"masterdown":  "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
	"tryagain":    "TRYAGAIN Multiple keys request during rehashing of slot",
	"clusterdown": "CLUSTERDOWN The cluster is down",
	"readonly":    "READONLY You can't write against a read only replica.",
}

func (*protocolError) Traits() Traits {
	return Traits{For: ForRequired, Proxy: true, Protocol: true, TrackWrites: true}
}

func (k *protocolError) Validate(v *Validation) {
	if !v.Has("error") {
		v.Add("error", "required, one of %s", orList(slices.Sorted(maps.Keys(errorReplies)), "or"))
	}
	validateMatch(v, k.Fraction, k.Commands)
}

func (k *protocolError) Inject(_ context.Context, t *Target) (func(context.Context) error, error) {
	reply := errorReplies[k.Error]
	word, _, _ := strings.Cut(reply, " ")
	return injectRule(t, &Rule{Action: ActError, Reply: reply, Fraction: k.Fraction, Commands: upperAll(k.Commands)}, "-"+word+" replies")
}
