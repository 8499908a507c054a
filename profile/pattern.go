package profile

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// delimiters split a key into segments.
const delimiters = ":./-_#|"

// uuidRE finds UUIDs before the key is split (their own '-' is a
// delimiter).
var uuidRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// segment is one piece of a key: a constant, a delimiter, or a varying
// id (Var) named after what precedes it.
type segment struct {
	Text string
	Var  bool
	Kind string // number | hex | uuid | snowflake | base64 | value (merged constants)
}

// idKind says what kind of id a segment is, or "" for a constant word:
// numbers (snowflakes when 17 to 20 digits), hex of at least 8 digits
// with a digit in it, and base64-like tokens of at least 12 characters
// mixing cases or letters and digits.
func idKind(s string) string {
	if s == "" {
		return ""
	}
	digits, lower, upper, hex, other := 0, 0, 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			hex++
		case c >= 'a' && c <= 'z':
			lower++
			if c <= 'f' {
				hex++
			}
		case c >= 'A' && c <= 'Z':
			upper++
			if c <= 'F' {
				hex++
			}
		case c == '+' || c == '=':
		default:
			other++
		}
	}
	n := len(s)
	switch {
	case other > 0:
		return ""
	case digits == n && n >= 17 && n <= 20:
		return "snowflake"
	case digits == n:
		return "number"
	case hex == n && n >= 8 && digits > 0 && (lower == 0 || upper == 0):
		return "hex"
	case n >= 12 && digits > 0 && (lower > 0 || upper > 0):
		return "base64"
	case n >= 16 && lower > 0 && upper > 0:
		return "base64"
	}
	return ""
}

// split cuts a key into segments, the ids among them marked Var.
func split(key string) []segment {
	var out []segment
	rest := key
	for rest != "" {
		if loc := uuidRE.FindStringIndex(rest); loc != nil && loc[0] == 0 {
			out = append(out, segment{Text: rest[:loc[1]], Var: true, Kind: "uuid"})
			rest = rest[loc[1]:]
			continue
		}
		if strings.IndexByte(delimiters, rest[0]) >= 0 {
			out = append(out, segment{Text: rest[:1]})
			rest = rest[1:]
			continue
		}
		end := strings.IndexAny(rest, delimiters)
		if end < 0 {
			end = len(rest)
		}
		// A UUID starting inside this word ends it early.
		if loc := uuidRE.FindStringIndex(rest[:min(len(rest), end+36)]); loc != nil && loc[0] > 0 && loc[0] < end {
			end = loc[0]
		}
		w := rest[:end]
		k := idKind(w)
		out = append(out, segment{Text: w, Var: k != "", Kind: k})
		rest = rest[end:]
	}
	return out
}

// shape is a pattern's skeleton: constants kept, each id as "\x00", so
// keys of one family share it.
func shape(segs []segment) string {
	var b strings.Builder
	for _, s := range segs {
		if s.Var {
			b.WriteByte(0)
		} else {
			b.WriteString(s.Text)
		}
	}
	return b.String()
}

// render writes a pattern with its placeholders named after the constant
// word before each ("user:{user_id}:cart"), or {id} when none precedes;
// a name used twice gets a number.
func render(segs []segment) string {
	var b strings.Builder
	names := varNames(segs)
	v := 0
	for _, s := range segs {
		if !s.Var {
			b.WriteString(s.Text)
			continue
		}
		b.WriteString("{" + names[v] + "}")
		v++
	}
	return b.String()
}

// varNames names a pattern's placeholders, in order: after the constant
// word before each ("user" -> user_id; a merged word keeps the word:
// lang), else id; a name used twice gets a number.
func varNames(segs []segment) []string {
	var out []string
	used := map[string]int{}
	for i, s := range segs {
		if !s.Var {
			continue
		}
		name := "id"
		for j := i - 1; j >= 0; j-- {
			if segs[j].Var {
				break
			}
			if w := segs[j].Text; len(w) > 1 || !strings.ContainsAny(w, delimiters) {
				if word := ident(w); word != "" {
					name = word + "_id"
					if s.Kind == "value" {
						name = word
					}
				}
				break
			}
		}
		used[name]++
		if used[name] > 1 {
			name = fmt.Sprintf("%s%d", name, used[name])
		}
		out = append(out, name)
	}
	return out
}

// ident is w as an identifier: lower-case letters, digits and '_'.
func ident(w string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(w) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9' && b.Len() > 0:
			b.WriteRune(c)
		case b.Len() > 0:
			b.WriteByte('_')
		}
	}
	return strings.Trim(b.String(), "_")
}

// familyName names a family after its constant words
// ("user:{user_id}:cart" -> "user_cart").
func familyName(segs []segment) string {
	var words []string
	for _, s := range segs {
		if s.Var || strings.ContainsAny(s.Text, delimiters) && len(s.Text) == 1 {
			continue
		}
		if w := ident(s.Text); w != "" {
			words = append(words, w)
		}
	}
	name := strings.Join(words, "_")
	if name == "" || name[0] < 'a' || name[0] > 'z' {
		name = "keys_" + name
	}
	return strings.TrimRight(name, "_")
}

// group is the keys of one shape.
type group struct {
	segs []segment
	keys []int // indexes into the sample
}

// Grouping is the sample's keys grouped into families: each pattern and
// the indexes of its keys; Other holds the keys of patterns too rare to be
// a family.
type Grouping struct {
	Patterns []GroupedPattern
	Other    []int

	byShape map[string]int
}

// GroupedPattern is one inferred pattern.
type GroupedPattern struct {
	Pattern string
	Name    string
	Vars    int
	Keys    []int
	segs    []segment
}

// tailStart is the index of a pattern's constant tail of more than one
// segment after its last id ("link", "_", "account" in
// "ratelimit:{id}:link_account"), or 0 when it has none.
func tailStart(segs []segment) int {
	last := -1
	for i, s := range segs {
		if s.Var {
			last = i
		}
	}
	if last < 0 || last+3 > len(segs) || !strings.ContainsAny(segs[last+1].Text, delimiters) {
		return 0
	}
	return last + 2
}

// alike reports whether the groups' keys look like one family split by a
// word: one type, TTLs within 5 % of each other's largest, mean sizes
// within 25 % ("ratelimit:{id}:profile", "ratelimit:{id}:matches", ...
// are one family of counters; "meta:heroes" and "meta:items", 50 and 30
// KiB, are two keys).
func alike(keys []Key, groups map[string]*group, shapes []string) bool {
	var typ string
	var ttlLo, ttlHi, sizeLo, sizeHi float64 = math.Inf(1), -1, math.Inf(1), -1
	for i, sh := range shapes {
		g := groups[sh]
		var maxTTL int64 = -1
		var size float64
		for _, ki := range g.keys {
			k := keys[ki]
			if i == 0 && typ == "" {
				typ = k.Type
			}
			if k.Type != typ {
				return false
			}
			maxTTL = max(maxTTL, k.TTLms)
			size += max(k.Elem, 0)
		}
		size /= float64(len(g.keys))
		ttlLo, ttlHi = math.Min(ttlLo, float64(maxTTL)), math.Max(ttlHi, float64(maxTTL))
		sizeLo, sizeHi = math.Min(sizeLo, size), math.Max(sizeHi, size)
	}
	switch {
	case (ttlLo < 0) != (ttlHi < 0):
		return false // some expire, some do not
	case ttlLo >= 0 && ttlLo < 0.85*ttlHi:
		return false
	}
	return sizeLo >= 0.75*sizeHi
}

// MergeOptions say when a pattern is a family of its own: at least
// MinKeys sampled keys or MinMemShare of the sampled memory; patterns of
// one shape that differ in one constant word, at least MinVariants of
// them, are merged with that word a placeholder ("lang:en", "lang:fr",
// "lang:de" -> "lang:{lang}").
type MergeOptions struct {
	MinKeys     int
	MinMemShare float64
	MinVariants int
	// Hot are single keys the observed traffic reads often: each is a
	// family however small.
	Hot map[string]bool
}

// DefaultMerge keeps a pattern seen in 0.1 % of the sample (at least 3
// keys) or holding 0.5 % of the memory.
func DefaultMerge(sample int) MergeOptions {
	return MergeOptions{MinKeys: max(3, sample/1000), MinMemShare: 0.005, MinVariants: 3}
}

// Infer groups sampled keys into families by their patterns.
func Infer(keys []Key, o MergeOptions) Grouping {
	groups := map[string]*group{}
	var order []string
	for i, k := range keys {
		segs := split(k.Key)
		sh := shape(segs)
		g := groups[sh]
		if g == nil {
			g = &group{segs: segs}
			groups[sh] = g
			order = append(order, sh)
		}
		g.keys = append(g.keys, i)
	}
	// Merge constant words that vary among rare groups of one shape.
	for changed := true; changed; {
		changed = false
		buckets := map[string][]string{} // shape with one constant blanked -> shapes
		for _, sh := range order {
			g := groups[sh]
			if g == nil {
				continue
			}
			for i, s := range g.segs {
				if s.Var || (len(s.Text) == 1 && strings.ContainsAny(s.Text, delimiters)) {
					continue
				}
				segs := append([]segment(nil), g.segs...)
				segs[i] = segment{Var: true, Kind: "value", Text: s.Text}
				key := fmt.Sprintf("%d|%s", i, shape(segs))
				buckets[key] = append(buckets[key], sh)
			}
			// The constant tail after the last id, whatever its words
			// ("ratelimit:{id}:link_account" beside "ratelimit:{id}:profile").
			if t := tailStart(g.segs); t > 0 {
				segs := append(append([]segment(nil), g.segs[:t]...), segment{Var: true, Kind: "value"})
				key := fmt.Sprintf("%d|%s", t, shape(segs))
				if !slices.Contains(buckets[key], sh) {
					buckets[key] = append(buckets[key], sh)
				}
			}
		}
		for _, b := range slices.Sorted(maps.Keys(buckets)) {
			members := buckets[b]
			live := members[:0:0]
			for _, m := range members {
				if groups[m] != nil {
					live = append(live, m)
				}
			}
			// A variant left out of an earlier merge joins the merged
			// group when alike, whatever its count.
			need := o.MinVariants
			_, blanked, _ := strings.Cut(b, "|")
			if groups[blanked] != nil && !slices.Contains(live, blanked) {
				live = append(live, blanked)
				need = 2
			}
			if len(live) < need || !alike(keys, groups, live) {
				continue
			}
			var pos int
			fmt.Sscanf(b, "%d|", &pos)
			first := groups[live[0]]
			segs := append([]segment(nil), first.segs...)
			if pos < len(segs) {
				segs[pos] = segment{Var: true, Kind: "value", Text: segs[pos].Text}
			}
			if t := tailStart(first.segs); t == pos && t > 0 && len(segs) > t+1 {
				segs = append(segs[:t], segment{Var: true, Kind: "value"})
			}
			merged := &group{segs: segs}
			for _, m := range live {
				merged.keys = append(merged.keys, groups[m].keys...)
				delete(groups, m)
			}
			sh := shape(segs)
			if g := groups[sh]; g != nil {
				g.keys = append(g.keys, merged.keys...)
			} else {
				groups[sh] = merged
				if !slices.Contains(order, sh) {
					order = append(order, sh)
				}
			}
			changed = true
		}
	}
	var totalMem int64
	for _, k := range keys {
		totalMem += max(k.Mem, 0)
	}
	var out Grouping
	names := map[string]int{}
	for _, sh := range order {
		g := groups[sh]
		if g == nil {
			continue
		}
		var mem int64
		for _, i := range g.keys {
			mem += max(keys[i].Mem, 0)
		}
		vars := 0
		for _, s := range g.segs {
			if s.Var {
				vars++
			}
		}
		memShare := 0.0
		if totalMem > 0 {
			memShare = float64(mem) / float64(totalMem)
		}
		// A constant key (no placeholder) is one key: a family when it is
		// big enough; a varying pattern needs keys.
		hot := vars == 0 && len(g.keys) == 1 && o.Hot[keys[g.keys[0]].Key]
		if len(g.keys) < o.MinKeys && memShare < o.MinMemShare && !(vars == 0 && memShare >= o.MinMemShare/5) && !hot {
			out.Other = append(out.Other, g.keys...)
			continue
		}
		name := familyName(g.segs)
		names[name]++
		if names[name] > 1 {
			name = fmt.Sprintf("%s_%d", name, names[name])
		}
		sort.Ints(g.keys)
		out.Patterns = append(out.Patterns, GroupedPattern{Pattern: render(g.segs), Name: name, Vars: vars, Keys: g.keys, segs: g.segs})
	}
	sort.Slice(out.Patterns, func(i, j int) bool {
		if len(out.Patterns[i].Keys) != len(out.Patterns[j].Keys) {
			return len(out.Patterns[i].Keys) > len(out.Patterns[j].Keys)
		}
		return out.Patterns[i].Pattern < out.Patterns[j].Pattern
	})
	sort.Ints(out.Other)
	return out
}

// Match returns the index of the pattern a key is of, or -1: its shape
// is one of a pattern's, or it matches one segment for segment (a merged
// word placeholder matching any word). The observer uses it to attribute
// commands to families.
func (g *Grouping) Match(key string) int {
	if g.byShape == nil {
		g.byShape = map[string]int{}
		for i, p := range g.Patterns {
			g.byShape[shape(p.segs)] = i
		}
	}
	segs := split(key)
	if i, ok := g.byShape[shape(segs)]; ok {
		return i
	}
	for i, p := range g.Patterns {
		n := len(p.segs)
		tail := n > 0 && p.segs[n-1].Var && p.segs[n-1].Kind == "value"
		if len(segs) != n && !(tail && len(segs) > n) {
			continue
		}
		ok := true
		for j, s := range p.segs {
			t := segs[j]
			switch {
			case s.Var && s.Kind == "value":
				ok = true
			case s.Var:
				ok = t.Var
			default:
				ok = !t.Var && t.Text == s.Text
			}
			if !ok {
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

// scenarioPattern is the pattern as the workload takes it: one
// placeholder (a family's keys vary by one), named as found
// ("user:{user_id}:cart"); a pattern that varies more than once has the
// span from its first id to its last as that one placeholder
// ("ratelimit:{ratelimit_id}:{id}" -> "ratelimit:{ratelimit_id}").
func (p GroupedPattern) scenarioPattern() string {
	var b strings.Builder
	placed := false
	lastVar := -1
	for i, s := range p.segs {
		if s.Var {
			lastVar = i
		}
	}
	names := varNames(p.segs)
	for i, s := range p.segs {
		switch {
		case !s.Var && (!placed || i > lastVar):
			b.WriteString(s.Text)
		case s.Var && !placed:
			b.WriteString("{" + names[0] + "}")
			placed = true
		}
	}
	return b.String()
}
