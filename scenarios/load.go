package scenarios

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/cacheproof/cacheproof/internal/textdist"
	"github.com/cacheproof/cacheproof/internal/units"
)

//go:embed *.yaml
var builtin embed.FS

// Error is one problem in a scenario file, with where it is and what was
// expected. Error() is the one-line "file:line:col: message" form that
// editors and CI annotators understand.
type Error struct {
	File    string
	Line    int
	Col     int
	Msg     string
	Snippet string // the offending source lines with a caret, when known
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
}

// ErrorList is every problem found in one file, in source order.
type ErrorList []*Error

func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// IsInvalid reports whether err is a scenario problem (exit code 2) rather
// than, say, an unreadable file system.
func IsInvalid(err error) bool {
	var e *Error
	var l ErrorList
	var se *SetError
	return errors.As(err, &e) || errors.As(err, &l) || errors.As(err, &se)
}

// Builtins lists the embedded scenario names.
func Builtins() []string {
	entries, _ := builtin.ReadDir(".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// Resolve loads a scenario from a path, or from the built-in set when no file
// of that name exists ("baseline" and "baseline.yaml" both name the embedded
// baseline scenario).
//
// sets are values set on the command line (ParseSet), written into the
// document before it is decoded and validated like the file's own.
func Resolve(nameOrPath string, sets ...Set) (*Scenario, error) {
	return ResolveWith(nameOrPath, Options{Sets: sets})
}

// Options are what a scenario is loaded with beside its file.
type Options struct {
	// Sets are the command line's --set values (ParseSet), applied last.
	Sets []Set
	// Getenv reads the seed's REDIS_* variables (env.go), applied before
	// the sets; nil reads none (a run passes os.Getenv).
	Getenv func(string) string
}

// ResolveWith is Resolve with the environment: see Options.
func ResolveWith(nameOrPath string, o Options) (*Scenario, error) {
	// A folder of that name (the capacity/ package beside the built-in
	// capacity scenario) is not a scenario file.
	if fi, err := os.Stat(nameOrPath); err == nil && !fi.IsDir() {
		return LoadWith(nameOrPath, o)
	}
	dir := filepath.Dir(nameOrPath)
	if dir == "." || dir == "scenarios" {
		base := strings.TrimSuffix(filepath.Base(nameOrPath), ".yaml")
		if data, err := builtin.ReadFile(base + ".yaml"); err == nil {
			return LoadBytesWith("builtin:"+base, data, o)
		}
	}
	return nil, &Error{File: nameOrPath, Msg: fmt.Sprintf("no such file, and no built-in scenario of that name (built-in: %s)", strings.Join(Builtins(), ", "))}
}

// Load reads, strictly decodes, defaults and validates one scenario file.
func Load(path string, sets ...Set) (*Scenario, error) {
	return LoadWith(path, Options{Sets: sets})
}

// LoadWith is Load with the environment: see Options.
func LoadWith(path string, o Options) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read scenario: %v", err)}
	}
	return LoadBytesWith(path, data, o)
}

// LoadBytesWith is LoadBytes with the environment. The scenario is loaded
// once without it, to know which variables concern it (those naming an
// external Redis's nodes apply only where the file names none), then again
// with the variables' sets before the command line's, so each is decoded
// and validated as the file's own and an error in it names the variable.
func LoadBytesWith(file string, data []byte, o Options) (*Scenario, error) {
	s, err := LoadBytes(file, data, o.Sets...)
	if err != nil || o.Getenv == nil {
		return s, err
	}
	env, err := envSets(s, o.Getenv)
	if err != nil {
		return nil, err
	}
	if len(env) == 0 {
		return s, nil
	}
	return LoadBytes(file, data, append(env, o.Sets...)...)
}

// LoadBytes is Load for data already in memory; file names it in errors.
// A problem in a set value is named by its flag (--set PATH=VALUE: ...)
// instead of a line and column.
func LoadBytes(file string, data []byte, sets ...Set) (*Scenario, error) {
	d, err := decode(file, data, sets)
	if err != nil {
		return nil, err
	}
	s, f := d.s, d.f
	s.File = file
	s.Sets = sets
	s.Defaults()
	errs := s.validate()
	if len(errs) == 0 && len(d.errs) == 0 {
		return s, nil
	}
	var fromSets ErrorList
	out := d.errs
	for _, e := range errs {
		e.File = file
		if st, ok := setOf(sets, e.path); ok && e.Line == 0 {
			fromSets = append(fromSets, &Error{File: setName(st), Msg: e.Msg})
			continue
		}
		if e.Line == 0 && e.path != "" {
			if e.section {
				e.Line, e.Col = sectionPosition(f, e.path)
			} else {
				e.Line, e.Col = position(f, e.path)
			}
		}
		if d.repeats(e) {
			continue
		}
		out = append(out, &Error{File: e.File, Line: e.Line, Col: e.Col, Msg: e.Msg})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return nil, append(fromSets, out...)
}

// decoded is a file decoded as far as it could be: the scenario from its
// syntax tree with every entry that failed to decode removed, and the
// problems those entries had, each at its line.
type decoded struct {
	s      *Scenario
	f      *ast.File
	errs   ErrorList // the decoding problems (unknown fields, wrong types)
	pruned []string  // the YAML paths of the entries removed for them
}

// repeats reports whether a validation finding only repeats a decoding
// problem: it is about an entry removed for one (a required name whose
// wrong-typed value was removed), or on the same line as one.
func (d *decoded) repeats(e *problem) bool {
	if len(d.errs) == 0 {
		return false
	}
	if e.path != "" && underAny(e.path, d.pruned) {
		return true
	}
	for _, p := range d.pruned {
		leaf := p[strings.LastIndexAny(p, ".[")+1:]
		if strings.HasPrefix(p, e.path) && strings.HasPrefix(e.Msg, strings.TrimSuffix(leaf, "]")+":") {
			return true
		}
	}
	for _, de := range d.errs {
		if e.Line > 0 && e.Line == de.Line {
			return true
		}
	}
	return false
}

func decode(file string, data []byte, sets []Set) (*decoded, error) {
	if len(bytes.TrimSpace(data)) == 0 && len(sets) == 0 {
		return nil, &Error{File: file, Msg: "empty scenario: expected at least a name"}
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, syntaxErrors(file, data, err)
	}
	d := &decoded{f: f}
	var s Scenario
	var doc map[string]any
	if err := strictDecode(data, &s); err != nil {
		// Every problem in one pass: the entries that fail are removed
		// from the tree, which is then decoded for validation.
		d.errs, d.pruned = decodeErrors(file, data, f, err)
	}
	if len(sets) == 0 && len(d.errs) == 0 {
		if err := guarded(data, func() error { return yaml.Unmarshal(data, &doc) }); err != nil {
			return nil, yamlErr(file, err)
		}
	} else {
		// The sets are written into the file's syntax tree and decoded
		// from it.
		owner, err := applySets(f, sets)
		if err != nil {
			if len(d.errs) > 0 {
				return nil, d.errs
			}
			return nil, err
		}
		s = Scenario{}
		body := f.Docs[0].Body
		for _, dst := range []any{&s, &doc} {
			opts := []yaml.DecodeOption{}
			if dst == any(&s) {
				opts = append(opts, yaml.Strict())
			}
			if err := guarded(data, func() error { return yaml.NodeToValue(body, dst, opts...) }); err != nil {
				if len(d.errs) > 0 {
					return nil, d.errs
				}
				return nil, setErr(file, err, owner)
			}
		}
	}
	s.noteWritten(doc)
	d.s = &s
	return d, nil
}

// noteWritten records, for each struct decoded from a mapping of the file,
// which keys that mapping wrote; doc is the same file decoded generically
// (anchors and merge keys resolved, as in the strict decode). Lists line up
// index for index with the strict decode's.
func (s *Scenario) noteWritten(doc map[string]any) {
	s.wrote = keysOf(doc)
	t := mapping(doc["target"])
	s.Target.Wrote = keysOf(t)
	s.Target.Redis.Wrote = keysOf(mapping(t["redis"]))
	s.Pool.Wrote = keysOf(mapping(doc["pool"]))
	w := mapping(doc["workload"])
	s.Workload.Wrote = keysOf(w)
	s.Workload.RateLimit.Wrote = keysOf(mapping(w["rate_limit"]))
	for i, m := range mappings(w["families"], len(s.Workload.Families)) {
		f := &s.Workload.Families[i]
		f.Wrote = keysOf(m)
		if f.Popularity != nil {
			f.Popularity.Wrote = keysOf(mapping(m["popularity"]))
		}
	}
	origins := mapping(w["origins"])
	for name, o := range s.Workload.Origins {
		o.Wrote = keysOf(mapping(origins[name]))
		s.Workload.Origins[name] = o
	}
	s.Driver.wrote = keysOf(mapping(doc["driver"]))
	if s.Capacity != nil {
		s.Capacity.wrote = keysOf(mapping(doc["capacity"]))
	}
	for i, m := range mappings(doc["phases"], len(s.Phases)) {
		s.Phases[i].wrote = keysOf(m)
	}
	for i, m := range mappings(doc["faults"], len(s.Faults)) {
		s.Faults[i].wrote = keysOf(m)
	}
}

func mapping(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// mappings is the list v as mappings, cut to n entries.
func mappings(v any, n int) []map[string]any {
	l, _ := v.([]any)
	out := make([]map[string]any, 0, n)
	for i := 0; i < len(l) && i < n; i++ {
		out = append(out, mapping(l[i]))
	}
	return out
}

func keysOf(m map[string]any) keySet {
	ks := keySet{}
	for k, v := range m {
		if v != nil {
			ks[k] = true
		}
	}
	return ks
}

// strictDecode is goccy's strict decoding, with its panics turned into
// errors: fuzzing found inputs (a tag with no value, "key:\n !0") on which
// the library dereferences nil, and bad input must get exit code 2, not a
// crash.
func strictDecode(data []byte, s *Scenario) error {
	return guarded(data, func() error { return yaml.UnmarshalWithOptions(data, s, yaml.Strict()) })
}

// guarded runs decode, turning a decoder panic into an error that points at
// the first tag of data when there is one.
func guarded(data []byte, decode func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("the YAML could not be decoded (a tag or value the decoder cannot handle; %v)", r)
			err = errors.New(msg)
			// Point at the first tag, the construct that trips the decoder.
			for _, tk := range lexer.Tokenize(string(data)) {
				if tk.Type == token.TagType {
					err = &yaml.SyntaxError{Message: msg, Token: tk}
					break
				}
			}
		}
	}()
	return decode()
}

var unknownField = regexp.MustCompile(`unknown field "([^"]+)"`)

// yamlErr turns a goccy error into an *Error with position, a friendlier
// message and, for unknown fields, a did-you-mean suggestion.
func yamlErr(file string, err error) error {
	var ye yaml.Error
	if !errors.As(err, &ye) {
		return &Error{File: file, Msg: err.Error()}
	}
	out := &Error{File: file, Msg: ye.GetMessage(), Snippet: snippet(ye)}
	if tk := ye.GetToken(); tk != nil && tk.Position != nil {
		out.Line, out.Col = tk.Position.Line, tk.Position.Column
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		out.Msg = fmt.Sprintf("expected %s, got %s", kindName(te.DstType), kindName(te.SrcType))
		if te.Token != nil {
			out.Msg += fmt.Sprintf(" (%q)", te.Token.Value)
		}
	}
	if m := unknownField.FindStringSubmatch(out.Msg); m != nil {
		if s := suggest(m[1], fieldNames()); s != "" {
			out.Msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
	}
	return out
}

// setErr is a decoding error of the document with the sets written in:
// named by the set whose value it is in, else at its line and column.
func setErr(file string, err error, owner map[*token.Token]Set) error {
	e := yamlErr(file, err)
	var ye yaml.Error
	if errors.As(err, &ye) {
		if st, ok := owner[ye.GetToken()]; ok {
			var one *Error
			if errors.As(e, &one) {
				return &SetError{Set: st, Msg: one.Msg}
			}
		}
	}
	return e
}

func snippet(ye yaml.Error) string {
	full := ye.FormatError(false, true)
	if i := strings.IndexByte(full, '\n'); i >= 0 {
		return full[i+1:]
	}
	return ""
}

func kindName(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	case reflect.Ptr:
		return kindName(t.Elem())
	}
	return t.String()
}

// fieldNames collects every YAML key the Scenario type accepts, for
// did-you-mean suggestions.
func fieldNames() []string {
	seen := map[string]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Ptr || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == "" || name == "-" || seen[name] {
				continue
			}
			seen[name] = true
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(Scenario{}))
	for _, n := range faultParamNames() {
		seen[n] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// suggest returns the candidate a typo most plausibly meant, or "".
func suggest(word string, candidates []string) string { return textdist.Suggest(word, candidates) }

// position finds the line and column of a YAML path such as
// "$.phases[1].duration"; when the exact node is absent (a missing field), it
// walks up to the closest parent that exists.
// sectionPosition is where the top-level section key (path "$.targets") is
// written: a finding about the whole section points at its key, where
// position would give its first entry. position's answer when the key is
// not found.
func sectionPosition(f *ast.File, path string) (int, int) {
	key, ok := strings.CutPrefix(path, "$.")
	if ok && f != nil && len(f.Docs) > 0 {
		if m, ok := f.Docs[0].Body.(*ast.MappingNode); ok {
			for _, kv := range m.Values {
				if k, _ := units.Scalar(kv.Key); k == key {
					if tk := kv.Key.GetToken(); tk != nil && tk.Position != nil {
						return tk.Position.Line, tk.Position.Column
					}
				}
			}
		}
	}
	return position(f, path)
}

func position(f *ast.File, path string) (int, int) {
	if f == nil {
		return 0, 0
	}
	for p := path; p != "" && p != "$"; p = parentPath(p) {
		yp, err := yaml.PathString(p)
		if err != nil {
			continue
		}
		n, err := yp.FilterFile(f)
		if err != nil || n == nil {
			continue
		}
		tk := n.GetToken()
		if tk == nil || tk.Position == nil {
			continue
		}
		// For a mapping value, point at its key so the caret lands on the field name.
		if mv, ok := n.(*ast.MappingValueNode); ok {
			tk = mv.Key.GetToken()
		}
		return tk.Position.Line, tk.Position.Column
	}
	if len(f.Docs) > 0 && f.Docs[0].Body != nil {
		if tk := f.Docs[0].Body.GetToken(); tk != nil && tk.Position != nil {
			return tk.Position.Line, 1
		}
	}
	return 1, 1
}

func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndex(p, "["); i > 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndex(p, "."); i > 0 {
		return p[:i]
	}
	return ""
}
