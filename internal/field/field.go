// Package field is the error type every domain package (pool, workload,
// topology, chaos) returns when one of its settings is wrong. Each package
// owns the validation of its own settings; an error names the setting by its
// path as the scenario file spells it ("pool.max_conns",
// "faults[2].fraction", "workload.families[1].mean_size"), so the scenarios
// package can map it to file:line:column without knowing the rule.
package field

import (
	"errors"
	"fmt"
	"strings"
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
