package scenarios

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/cacheproof/cacheproof/result"
)

// Set is one scenario value set on the command line (`run --set
// target.redis.maxmemory=32mb`): its path as the file would nest it and the
// value as YAML. It is result.Override, the shape a report records it in,
// so that compare can show the values two runs set differently.
type Set = result.Override

// ParseSet reads one --set argument, PATH=VALUE. The path is dotted
// (`workload.active_users`), a list entry by its index (`phases[1].duration`
// or `phases.1.duration`); the value is YAML (`32mb`, `500`, `"50%"`,
// `{kind: zipf, s: 1.2}`).
func ParseSet(arg string) (Set, error) {
	path, value, ok := strings.Cut(arg, "=")
	path = strings.TrimSpace(path)
	switch {
	case !ok:
		return Set{}, fmt.Errorf("--set %s: expected PATH=VALUE, such as --set target.redis.maxmemory=32mb", arg)
	case path == "":
		return Set{}, fmt.Errorf("--set %s: the path before '=' is empty, expected one such as target.redis.maxmemory", arg)
	case strings.TrimSpace(value) == "":
		return Set{}, fmt.Errorf("--set %s: the value after '=' is empty (write '' for an empty string)", arg)
	}
	return Set{Path: path, Value: value}, nil
}

// SetError is a --set value (or an environment variable's) the scenario
// refused: it names the flag as the user wrote it (or the variable), where
// a file's error names its line and column.
type SetError struct {
	Set Set
	Msg string
}

func (e *SetError) Error() string { return setName(e.Set) + ": " + e.Msg }

// setPath splits a --set path into its mapping keys and list indexes:
// "phases[1].duration" and "phases.1.duration" are both
// ["phases", "1", "duration"].
func setPath(p string) ([]string, error) {
	p = strings.ReplaceAll(strings.ReplaceAll(p, "[", "."), "]", "")
	segs := strings.Split(p, ".")
	for _, s := range segs {
		if s == "" {
			return nil, errors.New("an empty segment in the path, expected keys joined by '.', such as target.redis.maxmemory")
		}
	}
	return segs, nil
}

// applySets writes each set into the file's syntax tree before it is
// decoded, so a set value is decoded, defaulted and validated exactly as
// if the file had written it. The nodes a set adds carry no position
// (line 0); the returned map attributes each of their tokens to its set,
// for the errors the decoder finds in them.
func applySets(f *ast.File, sets []Set) (map[*token.Token]Set, error) {
	owner := map[*token.Token]Set{}
	if len(sets) == 0 {
		return owner, nil
	}
	if len(f.Docs) == 0 {
		f.Docs = append(f.Docs, &ast.DocumentNode{BaseNode: &ast.BaseNode{}})
	}
	doc := f.Docs[0]
	if doc.Body == nil {
		doc.Body = ast.Mapping(token.New("{", "{", &token.Position{}), true)
	}
	for _, s := range sets {
		segs, err := setPath(s.Path)
		if err != nil {
			return nil, &SetError{Set: s, Msg: err.Error()}
		}
		if err := checkSetPath(segs); err != nil {
			return nil, &SetError{Set: s, Msg: err.Error()}
		}
		val, err := parseNode(valueText(s.Value))
		if err != nil {
			return nil, &SetError{Set: s, Msg: "the value is not YAML: " + err.Error()}
		}
		placed, err := setNode(&doc.Body, segs, val)
		if err != nil {
			return nil, &SetError{Set: s, Msg: err.Error()}
		}
		ast.Walk(tokenOwner{owner: owner, set: s}, placed)
	}
	return owner, nil
}

// tokenOwner records the tokens of a set's nodes, with no position: they
// are not in the file.
type tokenOwner struct {
	owner map[*token.Token]Set
	set   Set
}

func (v tokenOwner) Visit(n ast.Node) ast.Visitor {
	if tk := n.GetToken(); tk != nil {
		v.owner[tk] = v.set
	}
	if mv, ok := n.(*ast.MappingValueNode); ok {
		if tk := mv.Key.GetToken(); tk != nil {
			v.owner[tk] = v.set
		}
	}
	return v
}

// valueText is a set's value as YAML: as written, except that a value
// YAML would read as a block scalar's header (a target's ">= 95%") or not
// read at all is taken as the string it is, as a shell user means it.
func valueText(v string) string {
	t := strings.TrimSpace(v)
	if strings.HasPrefix(t, ">") || strings.HasPrefix(t, "|") {
		return strconv.Quote(t)
	}
	if _, err := parser.ParseBytes([]byte(v), 0); err != nil {
		return strconv.Quote(t)
	}
	return v
}

// parseNode parses YAML text into one node whose tokens carry no position.
func parseNode(text string) (ast.Node, error) {
	f, err := parser.ParseBytes([]byte(text), 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			return nil, errors.New(ye.GetMessage())
		}
		return nil, err
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil, errors.New("no value")
	}
	body := f.Docs[0].Body
	ast.Walk(unposition{}, body)
	return body, nil
}

// unposition clears the positions of a set's tokens, which are not in the
// file: an error in them is reported against the --set flag instead.
type unposition struct{}

func (unposition) Visit(n ast.Node) ast.Visitor {
	if tk := n.GetToken(); tk != nil {
		tk.Position = &token.Position{}
	}
	if mv, ok := n.(*ast.MappingValueNode); ok {
		if tk := mv.Key.GetToken(); tk != nil {
			tk.Position = &token.Position{}
		}
	}
	return unposition{}
}

// setNode puts val at segs below *at, replacing what is there or adding the
// missing mapping keys. It returns the node that now holds the set's value
// with its key (the mapping entry, or val itself), whose tokens are the
// set's.
func setNode(at *ast.Node, segs []string, val ast.Node) (ast.Node, error) {
	if len(segs) == 0 {
		*at = val
		return val, nil
	}
	switch n := (*at).(type) {
	case *ast.MappingNode:
		for _, kv := range n.Values {
			if k, _ := kv.Key.(ast.ScalarNode); k != nil && fmt.Sprint(k.GetValue()) == segs[0] {
				if len(segs) == 1 {
					// The entry is the set's now, key included: a
					// finding about it (a target's, which points at its
					// key) names the flag, not the file's line.
					kv.Key = ast.String(token.New(segs[0], segs[0], &token.Position{}))
					kv.Value = val
					return kv, nil
				}
				return setNode(&kv.Value, segs[1:], val)
			}
		}
		entry := mappingValue(segs[0], nested(segs[1:], val))
		n.Values = append(n.Values, entry)
		return entry, nil
	case *ast.SequenceNode:
		i, err := strconv.Atoi(segs[0])
		if err != nil || i < 0 || i >= len(n.Values) {
			return nil, fmt.Errorf("%q: expected an index of the list's %d entries (0 to %d)", segs[0], len(n.Values), len(n.Values)-1)
		}
		return setNode(&n.Values[i], segs[1:], val)
	case *ast.AliasNode, *ast.AnchorNode:
		return nil, errors.New("the path goes through a YAML anchor or alias; set a value the file writes out")
	case *ast.NullNode, nil:
		*at = nested(segs, val)
		return *at, nil
	case *ast.TagNode:
		return setNode(&n.Value, segs, val)
	}
	return nil, fmt.Errorf("%q is below a value that is neither a mapping nor a list", segs[0])
}

// nested is val below the mapping keys segs, as the file would nest it.
func nested(segs []string, val ast.Node) ast.Node {
	v := val
	for i := len(segs) - 1; i >= 0; i-- {
		v = ast.Mapping(token.New("{", "{", &token.Position{}), true, mappingValue(segs[i], v))
	}
	return v
}

func mappingValue(key string, v ast.Node) *ast.MappingValueNode {
	pos := &token.Position{}
	return ast.MappingValue(token.New(":", ":", pos), ast.String(token.New(key, key, pos)), v)
}

// checkSetPath refuses a path the Scenario type has no field for, with a
// did-you-mean over the known paths. A map's keys (workload.origins,
// targets) and a fault's kind-specific parameters are not known here: the
// decoder and validation judge those.
func checkSetPath(segs []string) error {
	t := reflect.TypeFor[Scenario]()
	for i, seg := range segs {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t == reflect.TypeFor[Fault]() || t == reflect.TypeFor[Targets]() {
			return nil
		}
		switch t.Kind() {
		case reflect.Slice:
			if _, err := strconv.Atoi(seg); err != nil {
				return fmt.Errorf("%s is a list: expected an index after it, such as %s[0]", strings.Join(segs[:i], "."), strings.Join(segs[:i], "."))
			}
			t = t.Elem()
			continue
		case reflect.Map:
			return nil
		case reflect.Struct:
		default:
			return nil
		}
		f, ok := yamlField(t, seg)
		if !ok {
			msg := fmt.Sprintf("unknown setting %q", strings.Join(segs, "."))
			if s := suggest(strings.Join(segs, "."), knownPaths()); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			return errors.New(msg)
		}
		t = f.Type
	}
	return nil
}

// yamlField is t's field the YAML key name decodes into (inline structs
// included).
func yamlField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		if tag[0] == name && name != "-" {
			return f, true
		}
		if len(tag) > 1 && tag[1] == "inline" && f.Type.Kind() == reflect.Struct {
			if g, ok := yamlField(f.Type, name); ok {
				return g, true
			}
		}
	}
	return reflect.StructField{}, false
}

// knownPaths are the dotted paths of every setting the Scenario type has
// (a list entry's as [0]), for did-you-mean hints.
func knownPaths() []string {
	var out []string
	var walk func(t reflect.Type, prefix string, depth int)
	walk = func(t reflect.Type, prefix string, depth int) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Slice {
			walk(t.Elem(), prefix+"[0]", depth)
			return
		}
		if t.Kind() != reflect.Struct || depth > 6 {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			out = append(out, p)
			walk(f.Type, p, depth+1)
		}
	}
	walk(reflect.TypeFor[Scenario](), "", 0)
	sort.Strings(out)
	return out
}

// setOf is the set a validation finding at path (such as
// "$.target.redis.maxmemory") concerns: the one whose path is it or holds
// it, the last given winning as it does when applied.
func setOf(sets []Set, path string) (Set, bool) {
	p := strings.TrimPrefix(path, "$.")
	for i := len(sets) - 1; i >= 0; i-- {
		segs, err := setPath(sets[i].Path)
		if err != nil {
			continue
		}
		sp := strings.Join(segs, ".")
		q := strings.ReplaceAll(strings.ReplaceAll(p, "[", "."), "]", "")
		if q == sp || strings.HasPrefix(q, sp+".") {
			return sets[i], true
		}
	}
	return Set{}, false
}
