package chaos

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/topology"
)

// mustFaults builds faults from specs (spec i is entry i), failing the test
// on an invalid one.
func mustFaults(t testing.TB, specs ...Spec) []Fault {
	t.Helper()
	fs, err := New(specs, Site{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return fs
}

func mustFault(t testing.TB, s Spec) Fault { t.Helper(); return mustFaults(t, s)[0] }

// echo is a kind defined in this one file, as a new kind would be: it is
// validated, defaulted, planned, played and reported with no change
// anywhere else.
type echo struct {
	Message string        `param:"message"`
	Delay   time.Duration `param:"delay"`
	Loud    string        `param:"loudness" values:"quiet,loud"`
}

var _ Kind = (*echo)(nil)

func init() { Register("test-echo", func() Kind { return &echo{Message: "hello", Loud: "quiet"} }) }

func (*echo) Traits() Traits { return Traits{For: ForNone, Rewarms: true} }

func (k *echo) Validate(v *Validation) {
	if k.Message == "" {
		v.Add("message", "test-echo message: must not be empty")
	}
}

func (k *echo) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
	time.Sleep(k.Delay)
	reply, err := t.Deployment.Do(ctx, t.Node.Name, "ECHO", k.Message)
	if err != nil {
		return nil, err
	}
	t.Notef("%s echoed %v (%s)", t.Node.Name, reply, k.Loud)
	return nil, nil
}

func TestKindInOneFile(t *testing.T) {
	spec := Spec{Kind: "test-echo", At: 50 * time.Millisecond, Params: map[string]any{"delay": 10 * time.Millisecond}}
	if err := Validate(spec, Site{Total: time.Second}); err != nil {
		t.Fatal(err)
	}
	d := startT(t, topology.ShapeStandalone)
	fs := mustFaults(t, spec)
	if got := fs[0].String(); got != "test-echo(quiet) of primary at 50ms" {
		t.Errorf("String() = %q", got)
	}
	evs := runFaults(t, d, nil, fs, 300*time.Millisecond)
	if len(evs) != 1 || !evs[0].Injected || evs[0].Node != "primary-0" || !strings.Contains(strings.Join(evs[0].Notes, ";"), "echoed hello (quiet)") {
		t.Fatalf("events %+v", evs)
	}
	fm := (&Measurement{RunEnd: 300 * time.Millisecond}).Report(evs[0])
	if fm.Kind != "test-echo" || fm.Params["message"] != "hello" || fm.Params["delay_ms"] != 10.0 || fm.Params["loudness"] != "quiet" {
		t.Errorf("measure: %+v", fm)
	}
	if !contains(Kinds(), "test-echo") {
		t.Errorf("Kinds() = %v", Kinds())
	}
	// A trait the kind's file declares is what the rest of the tool reads.
	if tr, ok := TraitsOf("test-echo"); !ok || !tr.Rewarms || tr.EmptiesNode || tr.LimitsNetwork || !fs[0].Traits().Rewarms {
		t.Errorf("TraitsOf(test-echo) = %+v %v, fault's %+v", tr, ok, fs[0].Traits())
	}
	if typ, ok := ParamOf("delay"); !ok || typ != TypeDuration {
		t.Errorf("ParamOf(delay) = %v %v", typ, ok)
	}
	err := Validate(Spec{Kind: "test-echo", Params: map[string]any{"message": ""}}, Site{})
	if !hasFieldErr(err, "message", "must not be empty") {
		t.Errorf("the kind's own check: %v", err)
	}
}

func hasFieldErr(err error, path, text string) bool {
	var l field.List
	if !errors.As(err, &l) {
		return false
	}
	for _, e := range l {
		if e.Path == path && strings.Contains(e.Msg, text) {
			return true
		}
	}
	return false
}

// Every rule a scenario's fault entry is held to, with the path it is
// reported under (relative to the entry).
func TestValidate(t *testing.T) {
	replica := Site{Shape: topology.ShapeReplica, Total: time.Minute, Nodes: []topology.Node{
		{Name: "primary-0", Role: topology.RolePrimary}, {Name: "replica-1", Role: topology.RoleReplica}, {Name: "replica-2", Role: topology.RoleReplica}}}
	sentinel := Site{Shape: topology.ShapeSentinel, Total: time.Minute, Nodes: []topology.Node{
		{Name: "primary-0", Role: topology.RolePrimary}, {Name: "replica-1", Role: topology.RoleReplica}, {Name: "sentinel-0", Role: topology.RoleSentinel}}}
	standalone := Site{Shape: topology.ShapeStandalone, Total: time.Minute}
	cluster := Site{Shape: topology.ShapeCluster, Total: time.Minute}
	p := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		name       string
		spec       Spec
		site       Site
		path, text string // "" text: valid
	}{
		{"valid restart", Spec{Kind: "restart", At: time.Second, Node: "replica-2", Params: p("mode", "kill")}, replica, "", ""},
		{"valid memory", Spec{Kind: "memory-pressure", For: time.Second, Params: p("maxmemory", int64(64<<20), "ballast", int64(0))}, standalone, "", ""},
		{"valid network", Spec{Kind: "network", For: time.Second, Params: p("toxic", "timeout", "timeout", time.Duration(0))}, replica, "", ""},
		{"valid failover", Spec{Kind: "failover", At: time.Second}, cluster, "", ""},
		{"no kind", Spec{}, standalone, "kind", "required, one of big-key, client-kill, failover"},
		{"unknown kind", Spec{Kind: "restrat"}, standalone, "kind", `unknown value "restrat", expected one of big-key, client-kill, failover`},
		{"did you mean", Spec{Kind: "restrat"}, standalone, "kind", `(did you mean "restart"?)`},
		{"another kind's param", Spec{Kind: "restart", Params: p("fraction", 0.5)}, standalone, "fraction", "fault restart takes no fraction; it applies only to big-key, hot-key, mass-expiry, memory-pressure"},
		{"mode on readonly", Spec{Kind: "readonly", For: time.Second, Params: p("mode", "kill")}, standalone, "mode", "fault readonly takes no mode; it applies only to pause and restart"},
		{"bad mode", Spec{Kind: "restart", Params: p("mode", "gentle")}, standalone, "mode", `unknown value "gentle", expected one of graceful, kill`},
		{"wrong type", Spec{Kind: "memory-pressure", For: time.Second, Params: p("fraction", "half")}, standalone, "fraction", "expected a number"},
		{"pause needs for", Spec{Kind: "pause"}, standalone, "for", "fault pause needs for: (how long it lasts)"},
		{"instantaneous", Spec{Kind: "client-kill", Wrote: map[string]bool{"for": true}}, standalone, "for", "fault client-kill is instantaneous; for: does not apply"},
		{"after the end", Spec{Kind: "restart", At: 2 * time.Minute}, standalone, "at", "starts after the run ends (1m0s of phases)"},
		{"beyond the end", Spec{Kind: "pause", At: 50 * time.Second, For: 20 * time.Second}, standalone, "for", "runs until 1m10s, after the run ends (1m0s)"},
		{"negative at", Spec{Kind: "restart", At: -time.Second}, standalone, "at", "must not be negative"},
		{"empty node", Spec{Kind: "restart", Wrote: map[string]bool{"node": true}}, standalone, "node", "node is empty"},
		{"missing node", Spec{Kind: "restart", Node: "replica-3"}, replica, "node", `node "replica-3" does not exist in a replica deployment (expected primary, primary-0 or replica-1..replica-2)`},
		{"sentinel node", Spec{Kind: "readonly", For: time.Second, Node: "sentinel-0"}, sentinel, "node", "fault readonly acts on a data node, not on sentinel-0"},
		{"sentinel restart", Spec{Kind: "restart", Node: "sentinel-0"}, sentinel, "", ""},
		{"zero every", Spec{Kind: "client-kill", Wrote: map[string]bool{"every": true}}, standalone, "every", "every: 0s cannot repeat anything"},
		{"zero count", Spec{Kind: "client-kill", Every: time.Second, Wrote: map[string]bool{"count": true}}, standalone, "count", "count: 0 would never start it"},
		{"count without every", Spec{Kind: "client-kill", Count: 2}, standalone, "count", "count needs every:"},
		{"overlap", Spec{Kind: "pause", For: 5 * time.Second, Every: 2 * time.Second}, standalone, "every", "repetitions would overlap"},
		{"memory needs one", Spec{Kind: "memory-pressure", For: time.Second}, standalone, "", "memory-pressure needs exactly one of maxmemory"},
		{"memory zero limit", Spec{Kind: "memory-pressure", For: time.Second, Params: p("maxmemory", int64(0))}, standalone, "maxmemory", "0 would lift the limit"},
		{"memory fraction", Spec{Kind: "memory-pressure", For: time.Second, Params: p("fraction", 1.5)}, standalone, "fraction", "1.5 out of range"},
		{"ballast on cluster", Spec{Kind: "memory-pressure", For: time.Second, Params: p("fraction", 0.5, "ballast", int64(1<<20))}, cluster, "ballast", "lower maxmemory alone on a cluster"},
		{"failover standalone", Spec{Kind: "failover"}, standalone, "kind", "fault failover needs topology sentinel or cluster (this scenario's is standalone)"},
		{"failover node on sentinel", Spec{Kind: "failover", Node: "replica-1"}, sentinel, "node", "the sentinels choose the new primary"},
		{"readonly on cluster", Spec{Kind: "readonly", For: time.Second}, cluster, "kind", "not possible on a cluster node"},
		{"network needs a toxic", Spec{Kind: "network", For: time.Second}, standalone, "toxic", "required, one of latency, bandwidth, reset_peer, timeout, loss or down"},
		{"network latency", Spec{Kind: "network", For: time.Second, Params: p("toxic", "latency")}, standalone, "latency", "network latency toxic needs latency"},
		{"jitter on reset_peer", Spec{Kind: "network", For: time.Second, Params: p("toxic", "reset_peer", "jitter", time.Millisecond)}, standalone, "", "latency and jitter apply only to toxic: latency"},
		{"bandwidth rate", Spec{Kind: "network", For: time.Second, Params: p("toxic", "bandwidth", "rate_kbps", 0)}, standalone, "rate_kbps", "needs rate_kbps: a positive number"},
		{"timeout on latency", Spec{Kind: "network", For: time.Second, Params: p("toxic", "latency", "latency", time.Millisecond, "timeout", time.Second)}, standalone, "timeout", "timeout applies only to toxics reset_peer and timeout"},
		{"direction", Spec{Kind: "network", For: time.Second, Params: p("toxic", "down", "direction", "sideways")}, standalone, "direction", `unknown value "sideways", expected one of upstream, downstream, both`},
		{"network on cluster", Spec{Kind: "network", For: time.Second, Params: p("toxic", "down")}, cluster, "kind", "supports standalone and replica topologies, not cluster"},
		{"valid protocol error", Spec{Kind: "protocol-error", For: time.Second, Params: p("error", "busy", "fraction", 0.1, "commands", []any{"EVALSHA"})}, cluster, "", ""},
		{"protocol error needs one", Spec{Kind: "protocol-error", For: time.Second}, standalone, "error", "required, one of busy, clusterdown, loading, masterdown, oom, readonly or tryagain"},
		{"protocol unknown error", Spec{Kind: "protocol-error", For: time.Second, Params: p("error", "ERR")}, standalone, "error", `unknown value "ERR"`},
		{"protocol fraction", Spec{Kind: "protocol-cut", For: time.Second, Params: p("fraction", 0.0)}, standalone, "fraction", "0 out of range, expected more than 0 and at most 1"},
		{"protocol commands", Spec{Kind: "protocol-redirect", For: time.Second, Params: p("commands", []any{"GET", "EVAL SHA"})}, cluster, "commands[1]", `"EVAL SHA" is not a command name`},
		{"protocol commands type", Spec{Kind: "protocol-redirect", For: time.Second, Params: p("commands", "GET")}, cluster, "commands", "expected a list of words"},
		{"protocol delay", Spec{Kind: "protocol-delay", For: time.Second}, standalone, "delay", "required: a positive delay"},
		{"protocol needs for", Spec{Kind: "protocol-delay", Params: p("delay", time.Millisecond)}, standalone, "for", "needs for:"},
		{"valid network loss", Spec{Kind: "network", For: time.Second, Params: p("toxic", "loss", "loss", 0.01, "direction", "both")}, standalone, "", ""},
		{"network loss range", Spec{Kind: "network", For: time.Second, Params: p("toxic", "loss", "loss", 1.0)}, standalone, "loss", "more than 0 and less than 1"},
		{"loss on latency", Spec{Kind: "network", For: time.Second, Params: p("toxic", "latency", "latency", time.Millisecond, "loss", 0.1)}, standalone, "loss", "loss applies only to toxic: loss"},
		{"valid mass expiry", Spec{Kind: "mass-expiry", For: time.Second, Params: p("family", "stratz_profile", "fraction", 0.5)}, withFamilies(standalone), "", ""},
		{"mass expiry needs for", Spec{Kind: "mass-expiry", Params: p("family", "stratz_profile")}, standalone, "for", "needs for:"},
		{"mass expiry family", Spec{Kind: "mass-expiry", For: time.Second, Params: p("family", "stratz_profil")}, withFamilies(standalone), "family", `unknown value "stratz_profil", expected one of stratz_profile, meta_heroes (did you mean "stratz_profile"?)`},
		{"mass expiry no family", Spec{Kind: "mass-expiry", For: time.Second}, standalone, "family", "required: the key family"},
		{"mass expiry fraction", Spec{Kind: "mass-expiry", For: time.Second, Params: p("family", "meta_heroes", "fraction", 0.0)}, standalone, "fraction", "0 out of range"},
		{"valid hot key", Spec{Kind: "hot-key", For: time.Second, Params: p("family", "stratz_profile", "fraction", 0.5, "key", "stratz:profile:42")}, withFamilies(cluster), "", ""},
		{"hot key needs fraction", Spec{Kind: "hot-key", For: time.Second, Params: p("family", "stratz_profile")}, standalone, "", "hot-key needs fraction"},
		{"big key size", Spec{Kind: "big-key", For: time.Second, Params: p("family", "stratz_profile", "fraction", 0.1, "value_size", int64(0))}, standalone, "value_size", "0 out of range"},
		{"valid big key", Spec{Kind: "big-key", For: time.Second, Params: p("family", "stratz_profile", "fraction", 0.1)}, standalone, "", ""},
		{"penetration fraction", Spec{Kind: "penetration", For: time.Second, Params: p("family", "stratz_profile", "fraction", 2.0)}, standalone, "fraction", "2 out of range"},
		{"valid partition", Spec{Kind: "partition", For: time.Second, Params: p("peers", []any{"sentinel-0"}, "direction", "inbound", "clients", "node")}, sentinel, "", ""},
		{"partition standalone", Spec{Kind: "partition", For: time.Second}, standalone, "kind", "topology standalone has one node"},
		{"partition external", Spec{Kind: "partition", For: time.Second}, Site{Shape: topology.ShapeSentinel, Backend: topology.BackendExternal}, "kind", "on an external deployment, use network"},
		{"partition container", Spec{Kind: "partition", For: time.Second}, Site{Shape: topology.ShapeReplica, Backend: topology.BackendContainer}, "", ""},
		{"partition peer unknown", Spec{Kind: "partition", For: time.Second, Params: p("peers", []any{"replica-1", "replica-9"})}, replica, "peers[1]", `node "replica-9" does not exist`},
		{"partition peer itself", Spec{Kind: "partition", For: time.Second, Node: "replica-1", Params: p("peers", []any{"replica-1"})}, replica, "peers[0]", "replica-1 is the node being cut off"},
		{"partition clients as a peer", Spec{Kind: "partition", For: time.Second, Params: p("peers", []any{"clients"})}, replica, "peers[0]", "where the clients stand is clients:"},
		{"partition clients", Spec{Kind: "partition", For: time.Second, Params: p("clients", "primary")}, replica, "clients", `unknown value "primary", expected one of all, node, peers`},
		{"partition needs for", Spec{Kind: "partition"}, replica, "for", "needs for:"},
		{"jitter over latency", Spec{Kind: "network", For: time.Second, Params: p("toxic", "latency", "latency", time.Millisecond, "jitter", 2*time.Millisecond)}, standalone, "jitter", "delays would go negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.spec
			Defaults(&s)
			err := Validate(s, c.site)
			if c.text == "" {
				if err != nil {
					t.Fatalf("valid entry refused: %v", err)
				}
				return
			}
			if !hasFieldErr(err, c.path, c.text) {
				t.Errorf("got %v\nwant at %q: %q", err, c.path, c.text)
			}
		})
	}
}

// withFamilies is site with two key families, so family names are checked.
func withFamilies(s Site) Site {
	s.Families = []string{"stratz_profile", "meta_heroes"}
	return s
}

// New reports every invalid entry under faults[i], the paths scenarios maps
// to a line and column.
func TestNewReportsEntryPaths(t *testing.T) {
	_, err := New([]Spec{{Kind: "restart"}, {Kind: "pause"}, {Kind: "meteor"}}, Site{})
	if !hasFieldErr(err, "faults[1].for", "needs for:") || !hasFieldErr(err, "faults[2].kind", "meteor") {
		t.Errorf("New: %v", err)
	}
}

// Defaults fills the node and the kinds' non-zero defaults, never over a
// written value.
func TestDefaults(t *testing.T) {
	s := Spec{Kind: "pause"}
	Defaults(&s)
	if s.Node != NodePrimary || s.Params["mode"] != "sigstop" {
		t.Errorf("pause defaults: %+v", s)
	}
	s = Spec{Kind: "restart", Params: map[string]any{"mode": ""}, Wrote: map[string]bool{"node": true}}
	Defaults(&s)
	if s.Node != "" || s.Params["mode"] != "" {
		t.Errorf("written values replaced: %+v", s)
	}
	s = Spec{Kind: "memory-pressure"}
	Defaults(&s)
	if len(s.Params) != 0 {
		t.Errorf("zero defaults written: %v", s.Params)
	}
}

// A mistake in a kind's file stops the program at start, not a run.
func TestRegisterRefusesMistakes(t *testing.T) {
	type badType struct {
		echo
		N uint8 `param:"n"`
	}
	type clash struct {
		echo
		Fraction string `param:"fraction"`
	}
	for name, f := range map[string]func(){
		"duplicate":     func() { Register("restart", func() Kind { return &restart{} }) },
		"not a pointer": func() { Register("test-value", func() Kind { return valueKind{} }) },
		"bad type":      func() { Register("test-bad-type", func() Kind { return &badType{} }) },
		"type clash":    func() { Register("test-clash", func() Kind { return &clash{} }) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	for _, k := range []string{"client-kill", "failover", "memory-pressure", "network", "pause", "readonly", "restart"} {
		if !contains(Kinds(), k) {
			t.Errorf("kind %s not registered: %v", k, Kinds())
		}
	}
}

type valueKind struct{}

var _ Kind = valueKind{} // a Kind, but Register needs a pointer to a struct

func (valueKind) Traits() Traits       { return Traits{} }
func (valueKind) Validate(*Validation) {}
func (valueKind) Inject(context.Context, *Target) (func(context.Context) error, error) {
	return nil, nil
}

// TestKindTraits: the kinds whose effects the harness and capacity react to
// declare them (docs/faults.md): the rest of the tool reads these traits,
// not kind names, so a kind that forgets one goes unnoticed there.
func TestKindTraits(t *testing.T) {
	want := map[string]Traits{
		"restart":  {EmptiesNode: true, Rewarms: true},
		"failover": {Rewarms: true},
		"network":  {LimitsNetwork: true},
		// partition cuts links: capacity names the network as the limit.
		"partition": {LimitsNetwork: true},
	}
	for _, k := range Kinds() {
		tr, _ := TraitsOf(k)
		w := want[k]
		if tr.EmptiesNode != w.EmptiesNode || tr.Rewarms != w.Rewarms || tr.LimitsNetwork != w.LimitsNetwork {
			if k == "test-echo" {
				continue
			}
			t.Errorf("%s: EmptiesNode %v Rewarms %v LimitsNetwork %v, want %v %v %v",
				k, tr.EmptiesNode, tr.Rewarms, tr.LimitsNetwork, w.EmptiesNode, w.Rewarms, w.LimitsNetwork)
		}
	}
}
