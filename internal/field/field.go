// Package field is the error type every domain package (pool, workload,
// topology, chaos) returns when one of its settings is wrong. Each package
// owns the validation of its own settings; an error names the setting by its
// path as the scenario file spells it ("pool.max_conns",
// "faults[2].fraction", "workload.families[1].mean_size"), so the scenarios
// package can map it to file:line:column without knowing the rule.
//
// Keys, Default and Given are what the same packages need to own their
// defaults: a settings struct records which keys the file wrote, and a
// default fills only a key left out, never a 0 written on purpose.
package field

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cacheproof/cacheproof/internal/textdist"
)

// Error is one invalid setting.
type Error struct {
	// Path is the setting's path in the scenario's YAML: dotted keys, list
	// elements as [i]. Empty when the error is about the whole section.
	Path string
	// Msg says what was expected, in the words of the YAML ("must be at
	// least 1", "expected one of: kill, shutdown").
	Msg string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errorf returns an *Error for path.
func Errorf(path, format string, args ...any) *Error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// List collects every problem of a section, so a user sees them all at once.
type List []*Error

// Add appends an error for path.
func (l *List) Add(path, format string, args ...any) {
	*l = append(*l, Errorf(path, format, args...))
}

// Merge appends err's field errors under prefix: an *Error or a List is
// re-rooted (prefix "pool" turns "max_conns" into "pool.max_conns"); any
// other error becomes an error of prefix itself.
func (l *List) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var list List
	var one *Error
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			*l = append(*l, &Error{Path: Join(prefix, e.Path), Msg: e.Msg})
		}
	case errors.As(err, &one):
		*l = append(*l, &Error{Path: Join(prefix, one.Path), Msg: one.Msg})
	default:
		*l = append(*l, &Error{Path: prefix, Msg: err.Error()})
	}
}

// OneOf adds an error for path unless v is one of allowed, naming the
// allowed values and, where one is a plausible typo's target, suggesting it.
func (l *List) OneOf(path, v string, allowed []string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	msg := fmt.Sprintf("unknown value %q, expected one of %s", v, strings.Join(allowed, ", "))
	if s := textdist.Suggest(v, allowed); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	l.Add(path, "%s", msg)
}

// Err returns the list as an error, or nil when it is empty.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func (l List) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Join appends a key or an index ("[2]") to a path.
func Join(prefix, path string) string {
	switch {
	case prefix == "":
		return path
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	}
	return prefix + "." + path
}

// Index is the path of element i of the list at path.
func Index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// Keys is the set of keys one YAML mapping of a settings file gave a value
// (a null value, "key: ~", counts as not given). A settings struct carries
// it so that its owner can tell a key left out, which takes the default,
// from a key written as 0, 0s or "", which is validated as written and never
// replaced. The scenario loader fills it; a struct built in Go has none, and
// there a zero value counts as left out.
type Keys map[string]bool

// Unset reports whether the key was left out and v, its value, is zero: the
// case in which a default applies.
func Unset[T comparable](wrote Keys, key string, v T) bool {
	var zero T
	return v == zero && !wrote[key]
}

// Default gives *v its default def when the key was left out (see Unset).
func Default[T comparable](v *T, wrote Keys, key string, def T) {
	if Unset(wrote, key, *v) {
		*v = def
	}
}

// Given reports whether a setting was given: written in the file, whatever
// its value, or (for a struct built in Go) not zero.
func Given[T comparable](wrote Keys, key string, v T) bool { return !Unset(wrote, key, v) }
