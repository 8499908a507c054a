package chaos

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
)

// Kind is one kind of fault: its parameters, their validation and defaults,
// and what it does to a deployment. A kind is one file (see docs/faults.md):
// a struct whose fields tagged `param:"name"` are the parameters a scenario
// entry of that kind may write, registered by name from an init function,
// as toxiproxy registers its toxics:
//
//	func init() { Register("client-kill", func() Kind { return &clientKill{} }) }
//
// The value new returns holds the parameters' defaults; every entry gets a
// fresh one with its written parameters set, so a Kind value is one entry.
//
// Parameter fields are string (a `values:"a,b"` tag enumerates what it
// accepts), time.Duration (written 20ms), int64 with `param:"name,size"`
// (bytes, written 64mb), float64 or int. A parameter name may belong to
// several kinds, with one type.
type Kind interface {
	// Traits says what the kind needs of the run and of the entry's shared
	// settings (for:, node:).
	Traits() Traits
	// Validate checks the parameters (set on the receiver; v.Has says
	// which the entry wrote) against the entry and the deployment, and
	// reports each problem with v.Add under the path the YAML spells
	// ("fraction", "for"). The shared settings, the parameters' types and
	// their enumerated values are checked before it.
	Validate(v *Validation)
	// Inject starts one occurrence on t.Node and returns how to end it.
	// end (nil: nothing to end) is called when the fault's for: has passed
	// or the run ends, also when Inject failed part-way, so it must undo
	// only what Inject did. Inject is called once per occurrence.
	Inject(ctx context.Context, t *Target) (end func(context.Context) error, err error)
}

// ForRule says whether a kind's entries take for:.
type ForRule int8

const (
	// ForOptional: for: is how long the fault lasts; left out or 0s, it
	// ends at once (a restart comes straight back).
	ForOptional ForRule = iota
	// ForRequired: the fault lasts; for: must be positive.
	ForRequired
	// ForNone: the fault is instantaneous; for: does not apply.
	ForNone
)

// Traits is what a kind needs of the run and of its entries' shared
// settings.
type Traits struct {
	For ForRule
	// OwnNode: the kind reads node: itself (failover: the replica to
	// promote; left out, the kind chooses). node: is then not defaulted to
	// the primary, and the runner resolves the primary only to name it in
	// the report.
	OwnNode bool
	// Sentinels: the kind may act on a sentinel node; otherwise it acts on
	// data nodes only.
	Sentinels bool
	// TrackWrites: acknowledged writes to the persistent tier are followed
	// from a little before the fault and read back after it: demotions and
	// failovers are where a cache layer loses them.
	TrackWrites bool
	// Proxy: the fault acts on the in-process proxy between the cache
	// manager and Redis, not on Redis. The manager then goes through the
	// proxy for the whole run, every shard of a sharded run plays the fault
	// on its own link, and an external Redis allows it without
	// --allow-destructive.
	Proxy bool
	// EmptiesNode: the node the fault acts on comes back empty unless the
	// deployment persists (restart). What the ledger remembers writing to
	// it before it went down is then wiped, not lost or cold.
	EmptiesNode bool
	// Rewarms: after the fault the bot finds Redis empty or its primary on
	// another node, and warms again where warming applies (restart,
	// failover).
	Rewarms bool
	// LimitsNetwork: the fault slows or cuts the link to Redis (network), so
	// a capacity step it was active in is limited by the network.
	LimitsNetwork bool
	// Protocol: the fault acts on the RESP-aware proxy (Protocol) rather
	// than on Toxiproxy's TCP proxy. It comes with Proxy (not on Redis,
	// every shard plays it, allowed on an external Redis); the cache
	// manager then dials every data node through the protocol proxy for
	// the whole run, and no TCP proxy is started for it.
	Protocol bool
	// Workload: the fault changes what the users look up during its
	// window (a hot key, a big key, keys that never exist): the kind is a
	// Perturber, and the run's schedule redirects a share of one family's
	// lookups over each occurrence's window. Like Proxy it does not change
	// Redis's state beyond what users do, so every shard plays it and an
	// external Redis allows it without --allow-destructive.
	Workload bool
	// NodeLinks: the fault cuts links between Redis nodes (and between
	// them and the clients), so the deployment must route them through
	// its gates (topology.Spec.NodeLinks, process backend) for the whole
	// run, and offer topology.Partitioner.
	NodeLinks bool
}

// NodePrimary names whichever node is primary when the fault starts.
const NodePrimary = "primary"

// Spec is one fault entry as a scenario writes it: the settings every kind
// shares, and the kind's own parameters.
type Spec struct {
	Kind string
	At   time.Duration
	For  time.Duration
	// Node is the node to act on: "primary" (whichever is primary when the
	// fault starts) or a topology node name (replica-1, node-3, ...).
	Node string
	// Every > 0 repeats the fault every Every, Count occurrences in all
	// (Count 0: until the run ends).
	Every time.Duration
	Count int
	// Params are the kind's own parameters by name, as the YAML spells them
	// (mode, fraction, toxic, ...), typed as ParamOf says. A name present
	// was given, whatever its value.
	Params map[string]any
	// Wrote names the shared settings (for, node, every, count) the
	// scenario file wrote, so a written zero can be told from one left out.
	// nil: a setting counts as written when it is not zero (a spec built in
	// Go).
	Wrote field.Keys
}

// ParamType is how a kind's parameter is written in a scenario, and which Go
// type carries it in Spec.Params.
type ParamType int8

// The parameter types.
const (
	TypeString   ParamType = iota + 1 // string
	TypeDuration                      // time.Duration, written 20ms
	TypeSize                          // int64 bytes, written 64mb (binary units, as Redis)
	TypeNumber                        // float64
	TypeInt                           // int
	TypeList                          // []string, written [EVALSHA, GET]
)

func (t ParamType) String() string {
	switch t {
	case TypeString:
		return "a string"
	case TypeDuration:
		return "a duration such as 20ms"
	case TypeSize:
		return "a size such as 64mb"
	case TypeNumber:
		return "a number"
	case TypeInt:
		return "a whole number"
	case TypeList:
		return "a list of words such as [GET, EVALSHA]"
	}
	return "a value"
}

// param is one parameter of a kind, found from its struct tags.
type param struct {
	name   string
	typ    ParamType
	values []string // the values a string parameter accepts (nil: any)
	field  int      // the struct field's index
}

type registered struct {
	name   string
	new    func() Kind
	params []param
	traits Traits
}

var (
	registry   = map[string]*registered{}
	paramTypes = map[string]ParamType{}
)

// Register makes a kind known under name, as scenario files spell it. new
// returns a fresh value holding the parameters' defaults. Register panics
// on a second kind of the same name, on a parameter field it cannot type,
// and on a parameter name another kind declares with another type: these
// are mistakes in the kind's file, found when the program starts.
func Register(name string, new func() Kind) {
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("chaos: fault kind %q registered twice", name))
	}
	k := new()
	v := reflect.ValueOf(k)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("chaos: fault kind %q: new must return a pointer to a struct, not %T", name, k))
	}
	st := v.Elem().Type()
	r := &registered{name: name, new: new, traits: k.Traits()}
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		tag, ok := f.Tag.Lookup("param")
		if !ok {
			continue
		}
		pname, opt, _ := strings.Cut(tag, ",")
		p := param{name: pname, field: i}
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			p.typ = TypeDuration
		case f.Type.Kind() == reflect.Int64 && opt == "size":
			p.typ = TypeSize
		case f.Type.Kind() == reflect.String:
			p.typ = TypeString
		case f.Type.Kind() == reflect.Float64:
			p.typ = TypeNumber
		case f.Type.Kind() == reflect.Int:
			p.typ = TypeInt
		case f.Type == reflect.TypeFor[[]string]():
			p.typ = TypeList
		default:
			panic(fmt.Sprintf("chaos: fault kind %q: parameter %s has type %s (want string, time.Duration, int64 with ,size, float64, int or []string)", name, pname, f.Type))
		}
		if vals := f.Tag.Get("values"); vals != "" {
			if p.typ != TypeString {
				panic(fmt.Sprintf("chaos: fault kind %q: values on non-string parameter %s", name, pname))
			}
			p.values = strings.Split(vals, ",")
		}
		if pname == "" || isShared(pname) {
			panic(fmt.Sprintf("chaos: fault kind %q: parameter name %q is empty or a shared setting", name, pname))
		}
		if _, dup := r.param(pname); dup {
			panic(fmt.Sprintf("chaos: fault kind %q: parameter %s declared twice", name, pname))
		}
		if t, seen := paramTypes[pname]; seen && t != p.typ {
			panic(fmt.Sprintf("chaos: fault kind %q: parameter %s is %s in another kind", name, pname, t))
		}
		r.params = append(r.params, p)
	}
	for _, p := range r.params {
		paramTypes[p.name] = p.typ
	}
	registry[name] = r
}

// shared are the settings every entry has, outside Params.
var shared = []string{"at", "for", "kind", "node", "every", "count"}

func isShared(name string) bool {
	for _, s := range shared {
		if s == name {
			return true
		}
	}
	return false
}

// Kinds lists the registered kind names, sorted: the one list of fault
// kinds (scenarios uses it for errors and did-you-mean hints).
func Kinds() []string {
	return slices.Sorted(maps.Keys(registry))
}

// TraitsOf returns the traits of kind, when it is registered.
func TraitsOf(kind string) (Traits, bool) {
	r := registry[kind]
	if r == nil {
		return Traits{}, false
	}
	return r.traits, true
}

// ParamOf says how the parameter name is written and typed, when some kind
// declares it.
func ParamOf(name string) (ParamType, bool) {
	t, ok := paramTypes[name]
	return t, ok
}

// ParamNames lists every kind's parameter names, sorted.
func ParamNames() []string {
	return slices.Sorted(maps.Keys(paramTypes))
}

// ParamsOf lists the parameters kind declares, in its order (nil for an
// unknown kind).
func ParamsOf(kind string) []string {
	r := registry[kind]
	if r == nil {
		return nil
	}
	out := make([]string, len(r.params))
	for i, p := range r.params {
		out[i] = p.name
	}
	return out
}

// kindsWith lists the kinds that declare parameter name, sorted.
func kindsWith(name string) []string {
	var out []string
	for _, k := range Kinds() {
		for _, p := range registry[k].params {
			if p.name == name {
				out = append(out, k)
			}
		}
	}
	return out
}

func (r *registered) param(name string) (param, bool) {
	for _, p := range r.params {
		if p.name == name {
			return p, true
		}
	}
	return param{}, false
}

// Defaults fills what the entry left out: node: with the primary (unless
// the kind reads node: itself) and every parameter whose default, the value
// the kind's new returns, is not zero (restart's mode: graceful). A value
// written, even a zero, is never replaced. An unknown kind is left alone.
func Defaults(s *Spec) {
	r := registry[s.Kind]
	if r == nil {
		return
	}
	if s.Node == "" && !s.Wrote["node"] && !r.traits.OwnNode {
		s.Node = NodePrimary
	}
	proto := reflect.ValueOf(r.new()).Elem()
	for _, p := range r.params {
		if _, given := s.Params[p.name]; given {
			continue
		}
		if f := proto.Field(p.field); !f.IsZero() {
			if s.Params == nil {
				s.Params = map[string]any{}
			}
			s.Params[p.name] = canonical(p.typ, f)
		}
	}
}

// canonical is a field's value as Spec.Params carries it.
func canonical(t ParamType, f reflect.Value) any {
	switch t {
	case TypeString:
		return f.String()
	case TypeDuration:
		return time.Duration(f.Int())
	case TypeSize:
		return f.Int()
	case TypeNumber:
		return f.Float()
	case TypeInt:
		return int(f.Int())
	case TypeList:
		return append([]string(nil), f.Interface().([]string)...)
	}
	return f.Interface()
}

// set stores v, a parameter value of type t, into the field f; false when v
// does not have a type t accepts.
func set(f reflect.Value, t ParamType, v any) bool {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return false
	}
	switch t {
	case TypeString:
		if rv.Kind() != reflect.String {
			return false
		}
		f.SetString(rv.String())
	case TypeDuration:
		d, ok := v.(time.Duration)
		if !ok {
			return false
		}
		f.SetInt(int64(d))
	case TypeSize, TypeInt:
		if _, isDur := v.(time.Duration); isDur {
			return false
		}
		switch {
		case rv.CanInt():
			f.SetInt(rv.Int())
		case rv.CanUint() && rv.Uint() <= 1<<62:
			f.SetInt(int64(rv.Uint()))
		default:
			return false
		}
	case TypeList:
		var out []string
		switch x := v.(type) {
		case []string:
			out = append(out, x...)
		case []any:
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return false
				}
				out = append(out, s)
			}
		default:
			return false
		}
		f.Set(reflect.ValueOf(out))
	case TypeNumber:
		switch {
		case rv.CanFloat():
			f.SetFloat(rv.Float())
		case rv.CanInt():
			if _, isDur := v.(time.Duration); isDur {
				return false
			}
			f.SetFloat(float64(rv.Int()))
		default:
			return false
		}
	default:
		return false
	}
	return true
}
