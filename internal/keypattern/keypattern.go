// Package keypattern is the one matcher of cache keys to the key families
// they belong to. A pattern is literal text with {name} placeholders
// ("driver:{id}:loc", "stratz:profile:{steamId}",
// "ratelimit:{discordId}:{command}"); a key belongs to a pattern when the
// whole key matches it, not when it merely starts with the text before the
// first placeholder, so "driver:{id}:loc" and "driver:{id}:eta" are two
// families and a TTL rule or a per-family figure never goes to the wrong
// one.
//
// A placeholder stands for one or more decimal digits (every id the
// workload binds is a number: a user's, a guild's, the n-th key of a key
// space); a placeholder named as a word (Parse's words) stands for one or
// more letters, digits, '_' or '-' (the rate-limit counters' {command}).
// Because the classes are this narrow, two patterns overlap only when some
// key the workload could write matches both (Overlap), and validation
// refuses exactly those pairs.
//
// workload (validation, key formatting), pool (the per-family TTL rules)
// and harness (the TTL each family really gets) all use it, so the rule a
// key is filed by has one owner.
package keypattern

import (
	"fmt"
	"strings"
)

// Pattern is a parsed key pattern. The zero Pattern matches only the empty
// key; use Parse.
type Pattern struct {
	text string
	// lits are the literal parts around the placeholders: len(names)+1
	// strings, lits[0] before the first placeholder, lits[len] after the
	// last.
	lits  []string
	names []string
	words []bool // per placeholder: word class (else digits)
}

// Parse compiles a key pattern. words names the placeholders that stand
// for words rather than numbers. It refuses whitespace, an unmatched brace,
// an empty or malformed placeholder name, and two placeholders with nothing
// between them (their values could not be told apart).
func Parse(text string, words ...string) (Pattern, error) {
	if text == "" {
		return Pattern{}, fmt.Errorf("key pattern is empty")
	}
	if strings.ContainsAny(text, " \t\r\n") {
		return Pattern{}, fmt.Errorf("key pattern %q holds whitespace", text)
	}
	p := Pattern{text: text}
	rest := text
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return Pattern{}, fmt.Errorf("key pattern %q has a '}' without its '{'", text)
			}
			p.lits = append(p.lits, rest)
			break
		}
		if strings.IndexByte(rest[:i], '}') >= 0 {
			return Pattern{}, fmt.Errorf("key pattern %q has a '}' without its '{'", text)
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return Pattern{}, fmt.Errorf("key pattern %q has a '{' without its '}'", text)
		}
		name := rest[i+1 : i+j]
		if !validName(name) {
			return Pattern{}, fmt.Errorf("key pattern %q: placeholder {%s} must be a name (a letter, then letters, digits or '_')", text, name)
		}
		if i == 0 && len(p.names) > 0 {
			return Pattern{}, fmt.Errorf("key pattern %q: placeholders {%s} and {%s} touch; put a separator between them", text, p.names[len(p.names)-1], name)
		}
		p.lits = append(p.lits, rest[:i])
		p.names = append(p.names, name)
		word := false
		for _, w := range words {
			word = word || w == name
		}
		p.words = append(p.words, word)
		rest = rest[i+j+1:]
	}
	return p, nil
}

// MustParse is Parse for patterns written in the code (the seed's
// catalogue); it panics on a bad one.
func MustParse(text string, words ...string) Pattern {
	p, err := Parse(text, words...)
	if err != nil {
		panic(err)
	}
	return p
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		default:
			return false
		}
	}
	return true
}

// String returns the pattern as written.
func (p Pattern) String() string { return p.text }

// Names returns the placeholders' names in order, without braces.
func (p Pattern) Names() []string { return append([]string(nil), p.names...) }

// Literal returns the i-th literal part: 0 is the text before the first
// placeholder, NumPlaceholders() the text after the last.
func (p Pattern) Literal(i int) string { return p.lits[i] }

// NumPlaceholders is the number of placeholders.
func (p Pattern) NumPlaceholders() int { return len(p.names) }

// inClass reports whether c may stand in placeholder i's value.
func (p Pattern) inClass(i int, c byte) bool {
	if c >= '0' && c <= '9' {
		return true
	}
	return p.words[i] && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-')
}

// Match reports whether the whole key matches the pattern.
func (p Pattern) Match(key string) bool {
	if len(p.lits) == 0 {
		return key == ""
	}
	if !strings.HasPrefix(key, p.lits[0]) || !strings.HasSuffix(key, p.lits[len(p.lits)-1]) {
		return false
	}
	if len(p.names) == 0 {
		return key == p.lits[0]
	}
	return p.matchFrom(key[len(p.lits[0]):], 0)
}

// matchFrom matches s against placeholder i and everything after it. A
// placeholder's class never holds the literal's separators in practice
// (':'), so the backtracking is shallow.
func (p Pattern) matchFrom(s string, i int) bool {
	if i == len(p.names) {
		return s == ""
	}
	next := p.lits[i+1]
	for n := 0; n < len(s) && p.inClass(i, s[n]); n++ {
		if rest := s[n+1:]; strings.HasPrefix(rest, next) && p.matchFrom(rest[len(next):], i+1) {
			return true
		}
	}
	return false
}

// Format fills the placeholders with vals in order (numbers for digit
// placeholders). It panics when the count differs: a caller's bug.
func (p Pattern) Format(vals ...string) string {
	if len(vals) != len(p.names) {
		panic(fmt.Sprintf("keypattern: %q has %d placeholders, got %d values", p.text, len(p.names), len(vals)))
	}
	var b strings.Builder
	for i, v := range vals {
		b.WriteString(p.lits[i])
		b.WriteString(v)
	}
	b.WriteString(p.lits[len(vals)])
	return b.String()
}

// atom is one position of a pattern as a tiny automaton: a literal byte,
// or one character of placeholder ph's class, repeated when star.
type atom struct {
	lit  byte
	ph   int // -1 for a literal
	star bool
}

func (p Pattern) atoms() []atom {
	var out []atom
	for i, l := range p.lits {
		for k := 0; k < len(l); k++ {
			out = append(out, atom{lit: l[k], ph: -1})
		}
		if i < len(p.names) {
			out = append(out, atom{ph: i}, atom{ph: i, star: true})
		}
	}
	return out
}

func (p Pattern) accepts(a atom, c byte) bool {
	if a.ph < 0 {
		return a.lit == c
	}
	return p.inClass(a.ph, c)
}

// step is the positions of as reached by reading c from any of ps: past a
// literal or a placeholder's first character, or staying on a starred one.
func (p Pattern) step(as []atom, ps []int, c byte) []int {
	var out []int
	for _, i := range ps {
		switch {
		case i == len(as) || !p.accepts(as[i], c):
		case as[i].star:
			out = append(out, i)
		default:
			out = append(out, i+1)
		}
	}
	return out
}

// closure is the positions reachable from i without reading a byte
// (skipping starred atoms).
func closure(as []atom, i int) []int {
	out := []int{i}
	for i < len(as) && as[i].star {
		i++
		out = append(out, i)
	}
	return out
}

// Overlap reports whether some key matches both a and b, and returns the
// shortest such key (to show in an error). It searches the product of the
// two patterns' automata breadth first, so the example is a key the
// workload could really write ("driver:0:loc").
func Overlap(a, b Pattern) (string, bool) {
	x, y := a.atoms(), b.atoms()
	type state struct{ i, j int }
	type visit struct {
		from state
		c    byte
	}
	seen := map[state]visit{}
	start := state{0, 0}
	seen[start] = visit{from: state{-1, -1}}
	queue := []state{start}
	example := func(s state) string {
		var rev []byte
		for s != start {
			v := seen[s]
			rev = append(rev, v.c)
			s = v.from
		}
		for l, r := 0, len(rev)-1; l < r; l, r = l+1, r-1 {
			rev[l], rev[r] = rev[r], rev[l]
		}
		return string(rev)
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		ci, cj := closure(x, s.i), closure(y, s.j)
		if ci[len(ci)-1] == len(x) && cj[len(cj)-1] == len(y) {
			return example(s), true
		}
		for c := 0; c < 256; c++ {
			for _, ni := range a.step(x, ci, byte(c)) {
				for _, nj := range b.step(y, cj, byte(c)) {
					ns := state{ni, nj}
					if _, ok := seen[ns]; !ok {
						seen[ns] = visit{from: s, c: byte(c)}
						queue = append(queue, ns)
					}
				}
			}
		}
	}
	return "", false
}

// Set is a list of patterns that no key matches two of, looked up by key:
// the per-family rules (a TTL, a family's figures) a key is filed under.
type Set struct {
	pats []Pattern
}

// Add appends p and returns its index, or an error naming the pattern it
// overlaps (with a key both match).
func (s *Set) Add(p Pattern) (int, error) {
	for _, q := range s.pats {
		if ex, ok := Overlap(p, q); ok {
			return -1, fmt.Errorf("key pattern %q overlaps %q: a key such as %q matches both", p.text, q.text, ex)
		}
	}
	s.pats = append(s.pats, p)
	return len(s.pats) - 1, nil
}

// Len is the number of patterns.
func (s *Set) Len() int { return len(s.pats) }

// Lookup returns the index of the pattern key matches, or -1.
func (s *Set) Lookup(key string) int {
	for i, p := range s.pats {
		if p.Match(key) {
			return i
		}
	}
	return -1
}
