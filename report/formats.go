package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"

	"github.com/cacheproof/cacheproof/result"
)

// Format names one rendering of a document.
type Format string

// The formats a document may be rendered in. JSON and HTML are the report
// folder's files; Text is the console's summary; JUnit and Markdown are
// written where a command's --junit and --markdown say.
const (
	JSON     Format = "json"
	HTML     Format = "html"
	Text     Format = "text"
	JUnit    Format = "junit"
	Markdown Format = "markdown"
)

// Document is one kind of result the tool writes with its renderings: the
// table of document × format, registered once below for a run's report,
// a capacity search's and a sizing's. Every command writes its files
// through it (WriteAll for the report folder, Write for the console), so a
// new format or document is one entry here, not a new function per pair.
// A nil result is refused here, once: the writers in the table (WriteJSON,
// WriteCapacityText, ...) take a result that is there.
type Document[T any] struct {
	// Name says what is written, in errors: "run report".
	Name string
	// Stem names the folder's files: report.json and report.html.
	Stem    string
	formats map[Format]func(io.Writer, T) error
}

// The documents and the formats each has.
var (
	RunReport = Document[*result.Result]{Name: "run report", Stem: "report", formats: map[Format]func(io.Writer, *result.Result) error{
		JSON: WriteJSON, HTML: WriteHTML, Text: WriteText, JUnit: WriteJUnit, Markdown: WriteMarkdown}}
	CapacityReport = Document[*result.Capacity]{Name: "capacity report", Stem: "capacity", formats: map[Format]func(io.Writer, *result.Capacity) error{
		JSON: WriteCapacityJSON, HTML: WriteCapacityHTML, Text: WriteCapacityText, JUnit: WriteCapacityJUnit, Markdown: WriteCapacityMarkdown}}
	SizingReport = Document[*result.Sizing]{Name: "sizing report", Stem: "sizing", formats: map[Format]func(io.Writer, *result.Sizing) error{
		JSON: WriteSizingJSON, HTML: WriteSizingHTML, Text: WriteSizingText}}
)

// Formats lists the formats d has, in a fixed order.
func (d Document[T]) Formats() []Format {
	var out []Format
	for _, f := range []Format{JSON, HTML, Text, JUnit, Markdown} {
		if d.formats[f] != nil {
			out = append(out, f)
		}
	}
	return out
}

// Has reports whether d can be rendered in f.
func (d Document[T]) Has(f Format) bool { return d.formats[f] != nil }

// Write renders v in format f.
func (d Document[T]) Write(w io.Writer, f Format, v T) error {
	write := d.formats[f]
	if write == nil {
		return fmt.Errorf("write %s: no %s rendering (it has %v)", d.Name, f, d.Formats())
	}
	if isNil(v) {
		return fmt.Errorf("write %s: nil result", d.Name)
	}
	return write(w, v)
}

// WriteFile renders v in format f into path atomically: a temporary file
// renamed into place, so an interrupted write never leaves a truncated
// report behind.
func (d Document[T]) WriteFile(path string, f Format, v T) error {
	write := d.formats[f]
	if write == nil {
		return fmt.Errorf("%s: %s has no %s rendering", path, d.Name, f)
	}
	if isNil(v) {
		return fmt.Errorf("%s: nil result", path)
	}
	return writeFileAtomic(path, v, write)
}

// Outputs says where WriteAll puts files. Dir receives <stem>.json and
// <stem>.html; JUnit and Markdown are written only when set (paths are
// used as given, not relative to Dir).
type Outputs struct {
	Dir      string
	JUnit    string
	Markdown string
	// HTML overrides the <stem>.html path when set.
	HTML string
	// SkipJSON leaves <stem>.json out (re-rendering an existing report).
	SkipJSON bool
}

// WriteAll writes every requested file of v and returns the paths written,
// each atomically. It writes what it can: a failed writer does not stop
// the others, and the errors are joined. Asking for a format the document
// does not have (JUnit of a sizing) is an error before anything is
// written.
func (d Document[T]) WriteAll(v T, o Outputs) ([]string, error) {
	what := "write " + d.Name
	if isNil(v) {
		return nil, fmt.Errorf("%s: nil result", what)
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	html := o.HTML
	if html == "" {
		html = filepath.Join(o.Dir, d.Stem+".html")
	}
	var jobs []writeJob[T]
	for _, j := range []struct {
		f    Format
		path string
		want bool
	}{
		{JSON, filepath.Join(o.Dir, d.Stem+".json"), !o.SkipJSON},
		{HTML, html, true},
		{JUnit, o.JUnit, o.JUnit != ""},
		{Markdown, o.Markdown, o.Markdown != ""},
	} {
		if !j.want {
			continue
		}
		if !d.Has(j.f) {
			return nil, fmt.Errorf("%s: no %s rendering (it has %v)", what, j.f, d.Formats())
		}
		jobs = append(jobs, writeJob[T]{j.path, d.formats[j.f]})
	}
	return writeAll(what, v, jobs)
}

// isNil reports whether v, a pointer to a result, is nil.
func isNil[T any](v T) bool {
	rv := reflect.ValueOf(any(v))
	return !rv.IsValid() || rv.Kind() == reflect.Pointer && rv.IsNil()
}
