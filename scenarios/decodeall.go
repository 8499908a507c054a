package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// maxErrors bounds the problems one file reports: past it, the rest are
// likely consequences of the first.
const maxErrors = 20

// syntaxErrors is every syntax error of data the parser can get past, in
// one pass: goccy's parser stops at the first, so the line it names is
// blanked and the file parsed again, until it parses or an error repeats.
// A blanked line can make the lines after it wrong too (an unterminated
// flow mapping), so the parse stops at the first error that is not on a
// later line than the one before it.
func syntaxErrors(file string, data []byte, first error) error {
	e := yamlErr(file, first)
	var one *Error
	if !errors.As(e, &one) || one.Line == 0 {
		return e
	}
	list := ErrorList{one}
	cur := bytes.Clone(data)
	for len(list) < maxErrors {
		cur = blankLine(cur, list[len(list)-1].Line)
		_, err := parser.ParseBytes(cur, 0)
		if err == nil {
			break
		}
		var next *Error
		if !errors.As(yamlErr(file, err), &next) || next.Line <= list[len(list)-1].Line {
			break
		}
		list = append(list, next)
	}
	if len(list) == 1 {
		return one
	}
	return list
}

// blankLine replaces line n (1-based) of data by spaces, keeping every
// other line where it was.
func blankLine(data []byte, n int) []byte {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if n < 1 || n > len(lines) {
		return data
	}
	l := lines[n-1]
	body := bytes.TrimRight(l, "\r\n")
	lines[n-1] = append(bytes.Repeat([]byte(" "), len(body)), l[len(body):]...)
	return bytes.Join(lines, nil)
}

// decodeErrors is every decoding problem of the file (an unknown field, a
// wrong type) in one pass, first the one the strict decode of data found:
// goccy's decoder stops at the first, so the entry holding it is removed
// from the syntax tree f and the tree decoded again. pruned are the YAML
// paths of the removed entries, whose validation findings would only
// repeat the problem.
func decodeErrors(file string, data []byte, f *ast.File, first error) (ErrorList, []string) {
	e := yamlErr(file, first)
	var one *Error
	if !errors.As(e, &one) {
		return ErrorList{{File: file, Msg: e.Error()}}, nil
	}
	list := ErrorList{one}
	var pruned []string
	if f == nil || len(f.Docs) == 0 {
		return list, nil
	}
	body := &f.Docs[0].Body
	seen := map[[2]int]bool{}
	for len(list) < maxErrors {
		last := list[len(list)-1]
		if last.Line == 0 || seen[[2]int{last.Line, last.Col}] {
			break
		}
		seen[[2]int{last.Line, last.Col}] = true
		path, ok := pruneAt(body, "$", last.Line, last.Col)
		if !ok {
			break
		}
		pruned = append(pruned, path)
		var s Scenario
		n := *body
		err := guarded(data, func() error { return yaml.NodeToValue(n, &s, yaml.Strict()) })
		if err == nil {
			break
		}
		var next *Error
		if !errors.As(yamlErr(file, err), &next) {
			break
		}
		list = append(list, next)
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Line != list[j].Line {
			return list[i].Line < list[j].Line
		}
		return list[i].Col < list[j].Col
	})
	return list, pruned
}

// pruneAt removes from the tree at *n the innermost mapping entry or list
// element that holds a token at line:col, returning its path.
func pruneAt(n *ast.Node, path string, line, col int) (string, bool) {
	switch v := (*n).(type) {
	case *ast.MappingNode:
		for i, kv := range v.Values {
			if !holds(kv, line, col) {
				continue
			}
			p := path + "." + keyText(kv)
			if inner, ok := pruneAt(&kv.Value, p, line, col); ok {
				return inner, true
			}
			v.Values = append(v.Values[:i:i], v.Values[i+1:]...)
			return p, true
		}
	case *ast.MappingValueNode:
		if holds(v, line, col) {
			p := path + "." + keyText(v)
			if inner, ok := pruneAt(&v.Value, p, line, col); ok {
				return inner, true
			}
			*n = ast.Mapping(v.GetToken(), false)
			return p, true
		}
	case *ast.SequenceNode:
		for i := range v.Values {
			if !holds(v.Values[i], line, col) {
				continue
			}
			p := fmt.Sprintf("%s[%d]", path, i)
			if inner, ok := pruneAt(&v.Values[i], p, line, col); ok {
				return inner, true
			}
			v.Values = append(v.Values[:i:i], v.Values[i+1:]...)
			if len(v.Entries) > i {
				v.Entries = append(v.Entries[:i:i], v.Entries[i+1:]...)
			}
			return p, true
		}
	case *ast.TagNode:
		return pruneAt(&v.Value, path, line, col)
	case *ast.AnchorNode:
		return pruneAt(&v.Value, path, line, col)
	}
	return "", false
}

func keyText(kv *ast.MappingValueNode) string {
	if k, ok := kv.Key.(ast.ScalarNode); ok {
		return fmt.Sprint(k.GetValue())
	}
	return strings.TrimSpace(kv.Key.String())
}

// holds reports whether a token of the subtree at n is at line:col.
func holds(n ast.Node, line, col int) bool {
	found := false
	ast.Walk(visitFunc(func(m ast.Node) {
		if tk := m.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line == line && tk.Position.Column == col {
			found = true
		}
		if kv, ok := m.(*ast.MappingValueNode); ok {
			if tk := kv.Key.GetToken(); tk != nil && tk.Position != nil && tk.Position.Line == line && tk.Position.Column == col {
				found = true
			}
		}
	}), n)
	return found
}

type visitFunc func(ast.Node)

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	f(n)
	return f
}

// underAny reports whether a finding's path is at or below one of paths.
func underAny(path string, paths []string) bool {
	for _, p := range paths {
		if path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[") {
			return true
		}
	}
	return false
}
