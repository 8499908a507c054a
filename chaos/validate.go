package chaos

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/textdist"
	"github.com/cacheproof/cacheproof/topology"
)

// Site is what validating a fault entry knows of the run it belongs to.
type Site struct {
	// Shape is the deployment's topology ("": unknown, and the rules about
	// shapes are skipped).
	Shape topology.Shape
	// Backend is who runs the nodes ("": unknown, and the rules about
	// backends are skipped).
	Backend topology.Backend
	// Nodes are the deployment's nodes by name and role (nil: node names
	// are not checked).
	Nodes []topology.Node
	// Total is the run's length (0: unknown).
	Total time.Duration
	// Families are the workload's key family names (nil: family names
	// are not checked), for the kinds that act on one (mass-expiry,
	// hot-key, big-key, penetration).
	Families []string
}

// family checks a kind's family parameter against the site's families.
func (c *Validation) family(name string) {
	if name == "" {
		c.Add("family", "required: the key family the fault acts on (stratz_profile, ...)")
		return
	}
	if c.Site.Families == nil {
		return
	}
	for _, f := range c.Site.Families {
		if f == name {
			return
		}
	}
	c.Add("family", "%s", unknownValue(name, c.Site.Families))
}

// redirect checks the two parameters of a kind that sends a fraction of a
// family's lookups somewhere else (hot-key, big-key, penetration): the
// family, and the fraction, required (need says what it is, with an
// example) and a share.
func (c *Validation) redirect(family string, fraction float64, need string) {
	c.family(family)
	if !c.Has("fraction") {
		c.Add("", "%s", need)
		return
	}
	c.share("fraction", fraction)
}

// share checks a share parameter: more than 0, at most 1.
func (c *Validation) share(name string, v float64) {
	if v <= 0 || v > 1 {
		c.Add(name, "%g out of range, expected more than 0 and at most 1", v)
	}
}

// Validation is a kind's view of one entry while it is validated, and
// where it reports what is wrong.
type Validation struct {
	Spec *Spec
	Site Site
	errs field.List
}

// Has reports whether the entry wrote parameter name, whatever its value.
func (c *Validation) Has(name string) bool {
	_, ok := c.Spec.Params[name]
	return ok
}

// Add reports a problem with the setting at path, as the YAML spells it
// below the entry ("fraction", "for"; "" for the entry as a whole). The
// message follows the setting's full path ("faults[2].fraction: ..."), so
// it need not repeat the setting's name.
func (c *Validation) Add(path, format string, args ...any) { c.errs.Add(path, format, args...) }

// Validate checks one fault entry against the run it belongs to: its kind,
// timing, node and repetition, and its kind's own parameters. Defaults
// should be filled first. The error is a field.List whose paths are
// relative to the entry ("kind", "for", "fraction"); nil when the entry is
// valid.
func Validate(s Spec, site Site) error {
	_, errs := check(s, site)
	return errs.Err()
}

// check validates s and returns its kind holding its parameters (nil when
// the kind is unknown).
func check(s Spec, site Site) (Kind, field.List) {
	c := &Validation{Spec: &s, Site: site}
	if s.Kind == "" {
		c.Add("kind", "required, one of %s", strings.Join(Kinds(), ", "))
		return nil, c.errs
	}
	r := registry[s.Kind]
	if r == nil {
		c.Add("kind", "%s", unknownValue(s.Kind, Kinds()))
		return nil, c.errs
	}
	k := r.new()
	typed := setParams(c, r, k)
	c.shared(r.traits)
	if typed {
		k.Validate(c)
	}
	return k, c.errs
}

// setParams stores the entry's parameters into k and checks that each
// belongs to the kind, has its type and, when enumerated, one of its
// values; false when one has the wrong type (the kind's own checks would
// then judge a zero it was not given).
func setParams(c *Validation, r *registered, k Kind) bool {
	s := c.Spec
	names := make([]string, 0, len(s.Params))
	for n := range s.Params {
		names = append(names, n)
	}
	sort.Strings(names)
	kv := reflect.ValueOf(k).Elem()
	typed := true
	for _, name := range names {
		p, ok := r.param(name)
		if !ok {
			if owners := kindsWith(name); len(owners) > 0 {
				c.Add(name, "fault %s takes no %s; it applies only to %s", s.Kind, name, orList(owners, "and"))
			} else {
				c.Add(name, "fault %s takes no %s", s.Kind, name)
			}
			continue
		}
		v := s.Params[name]
		if !set(kv.Field(p.field), p.typ, v) {
			c.Add(name, "expected %s, got %v (%T)", p.typ, v, v)
			typed = false
			continue
		}
		if p.values != nil && !contains(p.values, kv.Field(p.field).String()) {
			c.Add(name, "%s", unknownValue(kv.Field(p.field).String(), p.values))
		}
	}
	return typed
}

// shared checks the settings every entry has: timing against the run, the
// node, for: as the kind takes it, and repetition.
func (c *Validation) shared(t Traits) {
	s, total := c.Spec, c.Site.Total
	if s.At < 0 {
		c.Add("at", "must not be negative")
	} else if total > 0 && s.At >= total {
		c.Add("at", "fault %s at %s starts after the run ends (%s of phases)", s.Kind, s.At, total)
	}
	if s.For < 0 {
		c.Add("for", "must not be negative")
	} else if total > 0 && s.At < total && s.At+s.For > total {
		c.Add("for", "fault %s runs until %s, after the run ends (%s)", s.Kind, s.At+s.For, total)
	}
	switch t.For {
	case ForRequired:
		if s.For <= 0 {
			c.Add("for", "fault %s needs for: (how long it lasts), e.g. for: 10s", s.Kind)
		}
	case ForNone:
		if field.Given(s.Wrote, "for", s.For) {
			c.Add("for", "fault %s is instantaneous; for: does not apply", s.Kind)
		}
	}
	if s.Node == "" && s.Wrote["node"] {
		c.Add("node", "fault %s: node is empty; name a node, or leave node out", s.Kind)
	}
	if s.Node != "" && s.Node != NodePrimary && c.Site.Nodes != nil {
		n, ok := findNode(c.Site.Nodes, s.Node)
		switch {
		case !ok:
			c.Add("node", "node %q does not exist in a %s deployment (expected %s)", s.Node, c.Site.Shape, nodeHint(c.Site.Nodes))
		case n.Role == topology.RoleSentinel && !t.Sentinels:
			c.Add("node", "fault %s acts on a data node, not on %s", s.Kind, s.Node)
		}
	}
	switch {
	case s.Every < 0 || s.Count < 0:
		c.Add("", "fault %s: every and count must not be negative", s.Kind)
	case s.Every == 0 && s.Wrote["every"]:
		c.Add("every", "fault %s: every: 0s cannot repeat anything; expected a positive interval (leave every out for a single occurrence)", s.Kind)
	case s.Count == 0 && s.Wrote["count"]:
		c.Add("count", "fault %s: count: 0 would never start it; expected at least 1 (leave count out to repeat until the run ends)", s.Kind)
	case s.Count > 0 && s.Every == 0:
		c.Add("count", "fault %s: count needs every: (the repeat interval)", s.Kind)
	}
	// A written count whose last occurrence falls past the run's end can
	// never be injected in full, so its recovery targets could never pass
	// ("fewer occurrences than planned"): refuse it at load time instead.
	if s.Count > 0 && s.Every > 0 && total > 0 && s.At < total {
		last := s.At + time.Duration(s.Count-1)*s.Every
		switch {
		case last >= total:
			c.Add("count", "fault %s: count %d puts its last occurrence at %s, after the run ends (%s of phases); at most %d fit", s.Kind, s.Count, last, total, fitting(s.At, s.Every, s.For, total))
		case last+s.For > total:
			c.Add("count", "fault %s: count %d puts its last occurrence at %s, lasting until %s, after the run ends (%s); at most %d fit", s.Kind, s.Count, last, last+s.For, total, fitting(s.At, s.Every, s.For, total))
		}
	}
	if s.Every > 0 && s.Every < s.For {
		c.Add("every", "fault %s repeats every %s but lasts %s; repetitions would overlap", s.Kind, s.Every, s.For)
	}
}

// fitting is how many occurrences of a fault starting at at, repeating every
// every and lasting for, start and end within a run of total.
func fitting(at, every, dur, total time.Duration) int {
	n := 0
	for t := at; t+dur <= total && t < total; t += every {
		n++
	}
	return n
}

func findNode(nodes []topology.Node, name string) (topology.Node, bool) {
	for _, n := range nodes {
		if n.Name == name {
			return n, true
		}
	}
	return topology.Node{}, false
}

// nodeHint lists the names a node may take: "primary, primary-0 or
// replica-1..replica-2" (runs of numbered names are shortened).
func nodeHint(nodes []topology.Node) string {
	names := []string{NodePrimary}
	for i := 0; i < len(nodes); {
		base, n, ok := numbered(nodes[i].Name)
		j := i + 1
		for ok && j < len(nodes) {
			b, m, ok2 := numbered(nodes[j].Name)
			if !ok2 || b != base || m != n+(j-i) {
				break
			}
			j++
		}
		if j-i > 1 {
			names = append(names, nodes[i].Name+".."+nodes[j-1].Name)
		} else {
			names = append(names, nodes[i].Name)
		}
		i = j
	}
	return orList(names, "or")
}

// numbered splits "replica-2" into "replica" and 2.
func numbered(name string) (string, int, bool) {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(name[i+1:])
	return name[:i], n, err == nil
}

// orList joins "a, b and c" (conj "and") or "a, b or c".
func orList(items []string, conj string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + conj + " " + items[len(items)-1]
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// unknownValue is the message for a value not in allowed, with a
// did-you-mean where one fits.
func unknownValue(v string, allowed []string) string {
	msg := fmt.Sprintf("unknown value %q, expected one of %s", v, strings.Join(allowed, ", "))
	limit := 2
	if len(v) > 8 {
		limit = 3
	}
	if s := textdist.Closest(v, allowed, limit); s != "" && v != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}
