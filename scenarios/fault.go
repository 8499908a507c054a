package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/internal/units"
)

// Fault is one entry of the fault timeline. The settings every kind shares
// are typed here; the kind's own parameters (mode, fraction, toxic,
// latency, ...) are chaos's: each kind declares them in its file, with
// their types, defaults and validation (see docs/faults.md), and the loader
// decodes the keys a kind declares into Params. Of the shared settings, 0
// is accepted where it means something (at: 0s, the run's start; for: 0s
// on restart, back at once) and rejected where it cannot (for: 0s on a
// fault that lasts, every: 0s, count: 0).
type Fault struct {
	At   Duration `yaml:"at" json:"at"`
	For  Duration `yaml:"for,omitempty" json:"for,omitempty"`
	Kind string   `yaml:"kind" json:"kind"`
	Node string   `yaml:"node,omitempty" json:"node,omitempty"`

	// Repeat: with Every > 0 the fault starts at At, At+Every, At+2*Every,
	// ..., Count times in all. An unwritten count repeats until the run ends
	// (Count 0 in the resolved scenario); a written one must be at least 1,
	// since "count: 0" reads as "never".
	Every Duration `yaml:"every,omitempty" json:"every,omitempty"`
	Count int      `yaml:"count,omitempty" json:"count,omitempty"`

	// Params are the kind's parameters the file wrote (and, once defaulted,
	// the kind's defaults that are not zero) by name, typed as
	// chaos.ParamOf says: string, time.Duration, int64 bytes, float64 or
	// int. A name present was written, whatever its value.
	Params map[string]any `yaml:"-" json:"-"`

	wrote keySet
}

// Spec is the entry as chaos takes it: the one translation of a scenario's
// fault entry, which validation here and harness, building a run's faults,
// both use.
func (f Fault) Spec() chaos.Spec {
	return chaos.Spec{Kind: f.Kind, At: f.At.D(), For: f.For.D(), Node: f.Node, Every: f.Every.D(), Count: f.Count, Params: f.Params, Wrote: f.wrote}
}

// ActsOnRedis reports whether the entry's kind changes Redis itself (every
// kind but those that act on the in-process proxy): what an external Redis
// refuses without --allow-destructive.
func (f Fault) ActsOnRedis() bool {
	t, _ := chaos.TraitsOf(f.Kind)
	return !t.Proxy
}

// defaults fills what the entry left out with its kind's defaults: the node
// and the parameters whose default is not zero (chaos.Defaults).
func (f *Fault) defaults() {
	s := f.Spec()
	chaos.Defaults(&s)
	f.Node, f.Params = s.Node, s.Params
}

// faultParamNames are the keys a fault entry may hold beyond the shared
// settings, for did-you-mean hints on an unknown key.
func faultParamNames() []string { return chaos.ParamNames() }

// faultEntry is the type the loader decodes one fault entry into: the
// shared settings as Fault has them, then a pointer field (nil: not
// written) for each parameter any kind declares. Decoding into it is
// goccy's strict decoding, so an unknown key, a wrong type or a bad
// duration is reported at its line and column, as in every other section.
type faultEntry struct {
	typ    reflect.Type
	shared []int    // Fault's field index of the entry's field i
	params []string // the parameter of the entry's field len(shared)+j
}

var faultEntryType = sync.OnceValue(func() faultEntry {
	var e faultEntry
	var fields []reflect.StructField
	ft := reflect.TypeFor[Fault]()
	for i := 0; i < ft.NumField(); i++ {
		f := ft.Field(i)
		if tag := f.Tag.Get("yaml"); f.IsExported() && tag != "" && tag != "-" {
			fields = append(fields, reflect.StructField{Name: f.Name, Type: f.Type, Tag: reflect.StructTag(`yaml:"` + tag + `"`)})
			e.shared = append(e.shared, i)
		}
	}
	for j, name := range chaos.ParamNames() {
		t, _ := chaos.ParamOf(name)
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("P%d", j), Type: paramType(t), Tag: reflect.StructTag(`yaml:"` + name + `,omitempty"`)})
		e.params = append(e.params, name)
	}
	e.typ = reflect.StructOf(fields)
	return e
})

// paramType is the Go type a parameter is decoded into: the file's
// notations for durations and sizes are the scenario's.
func paramType(t chaos.ParamType) reflect.Type {
	switch t {
	case chaos.TypeDuration:
		return reflect.TypeFor[*Duration]()
	case chaos.TypeSize:
		return reflect.TypeFor[*Size]()
	case chaos.TypeNumber:
		// 0.5 or 50%, as a target's percentage is written.
		return reflect.TypeFor[*units.Number]()
	case chaos.TypeInt:
		return reflect.TypeFor[*int]()
	case chaos.TypeList:
		return reflect.TypeFor[*[]string]()
	}
	return reflect.TypeFor[*string]()
}

// UnmarshalYAML decodes one fault entry (see faultEntry).
func (f *Fault) UnmarshalYAML(_ context.Context, unmarshal func(any) error) error {
	e := faultEntryType()
	v := reflect.New(e.typ)
	if err := unmarshal(v.Interface()); err != nil {
		return err
	}
	var out Fault
	ov := reflect.ValueOf(&out).Elem()
	for i, idx := range e.shared {
		ov.Field(idx).Set(v.Elem().Field(i))
	}
	for j, name := range e.params {
		p := v.Elem().Field(len(e.shared) + j)
		if p.IsNil() {
			continue
		}
		if out.Params == nil {
			out.Params = map[string]any{}
		}
		switch x := p.Elem().Interface().(type) {
		case Duration:
			out.Params[name] = x.D()
		case Size:
			out.Params[name] = int64(x)
		case units.Number:
			out.Params[name] = float64(x)
		default:
			out.Params[name] = x
		}
	}
	*f = out
	return nil
}

// paramNames is the order the entry's parameters are written back in: the
// kind's, then any other (an invalid entry's) by name.
func (f Fault) paramNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range chaos.ParamsOf(f.Kind) {
		if _, ok := f.Params[n]; ok {
			out = append(out, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range f.Params {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// param is a parameter's value as the file would write it.
func param(v any) any {
	if d, ok := v.(time.Duration); ok {
		return Duration(d)
	}
	return v
}

// MarshalJSON writes the entry flat, as the file does: the shared settings
// and the kind's parameters side by side, zeros written included.
func (f Fault) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	put := func(k string, v any) error {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		vj, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(kj)
		b.WriteByte(':')
		b.Write(vj)
		return nil
	}
	type kv struct {
		k    string
		v    any
		keep bool
	}
	fields := []kv{{"at", f.At, true}, {"for", f.For, f.For != 0}, {"kind", f.Kind, true}, {"node", f.Node, f.Node != ""}}
	for _, n := range f.paramNames() {
		fields = append(fields, kv{n, param(f.Params[n]), true})
	}
	fields = append(fields, kv{"every", f.Every, f.Every != 0}, kv{"count", f.Count, f.Count != 0})
	for _, x := range fields {
		if !x.keep {
			continue
		}
		if err := put(x.k, x.v); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// MarshalYAML writes the entry back as the file would.
func (f Fault) MarshalYAML() (any, error) {
	ms := yaml.MapSlice{{Key: "at", Value: f.At}}
	if f.For != 0 {
		ms = append(ms, yaml.MapItem{Key: "for", Value: f.For})
	}
	ms = append(ms, yaml.MapItem{Key: "kind", Value: f.Kind})
	if f.Node != "" {
		ms = append(ms, yaml.MapItem{Key: "node", Value: f.Node})
	}
	for _, n := range f.paramNames() {
		v := param(f.Params[n])
		if z, ok := v.(int64); ok {
			if t, _ := chaos.ParamOf(n); t == chaos.TypeSize {
				v = Size(z)
			}
		}
		ms = append(ms, yaml.MapItem{Key: n, Value: v})
	}
	if f.Every != 0 {
		ms = append(ms, yaml.MapItem{Key: "every", Value: f.Every})
	}
	if f.Count != 0 {
		ms = append(ms, yaml.MapItem{Key: "count", Value: f.Count})
	}
	return ms, nil
}
