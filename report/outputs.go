package report

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cacheproof/cacheproof/result"
)

// Outputs says where WriteAll puts files. Dir receives report.json and
// report.html; JUnit and Markdown are written only when set (paths are used
// as given, not relative to Dir).
type Outputs struct {
	Dir      string
	JUnit    string
	Markdown string
	// HTML overrides the report.html path when set.
	HTML string
	// SkipJSON leaves report.json out (re-rendering an existing report).
	SkipJSON bool
}

// WriteAll writes every requested file and returns the paths written. Each
// file is written to a temporary name and renamed, so an interrupted write
// never leaves a truncated report behind. It writes what it can: a failed
// writer does not stop the others, and the errors are joined.
func WriteAll(r *result.Result, o Outputs) ([]string, error) {
	if r == nil {
		return nil, fmt.Errorf("write reports: nil result")
	}
	if o.Dir == "" {
		o.Dir = "."
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("write reports: %w", err)
	}
	var jobs []writeJob[*result.Result]
	if !o.SkipJSON {
		jobs = append(jobs, writeJob[*result.Result]{filepath.Join(o.Dir, "report.json"), WriteJSON})
	}
	html := o.HTML
	if html == "" {
		html = filepath.Join(o.Dir, "report.html")
	}
	jobs = append(jobs, writeJob[*result.Result]{html, WriteHTML})
	if o.JUnit != "" {
		jobs = append(jobs, writeJob[*result.Result]{o.JUnit, WriteJUnit})
	}
	if o.Markdown != "" {
		jobs = append(jobs, writeJob[*result.Result]{o.Markdown, WriteMarkdown})
	}
	return writeAll("write reports", r, jobs)
}

// writeJob is one file of a report and the writer that renders it.
type writeJob[T any] struct {
	path  string
	write func(io.Writer, T) error
}

// writeAll writes every job atomically. It writes what it can: a failed
// writer does not stop the others, and the errors are joined.
func writeAll[T any](what string, v T, jobs []writeJob[T]) ([]string, error) {
	var written []string
	var errs []error
	for _, j := range jobs {
		if err := writeFileAtomic(j.path, v, j.write); err != nil {
			errs = append(errs, err)
			continue
		}
		written = append(written, j.path)
	}
	if len(errs) > 0 {
		return written, fmt.Errorf("%s: %w", what, joinErrs(errs))
	}
	return written, nil
}

// writeFileAtomic renders v into a temporary file beside path and renames
// it into place, so an interrupted write never leaves a truncated report.
func writeFileAtomic[T any](path string, v T, write func(io.Writer, T) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := write(f, v); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func joinErrs(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// WriteFile writes one report file with the given writer (WriteJSON,
// WriteHTML, ...) atomically: a temporary file renamed into place.
func WriteFile(path string, r *result.Result, write func(io.Writer, *result.Result) error) error {
	if r == nil {
		return fmt.Errorf("%s: nil result", path)
	}
	return writeFileAtomic(path, r, write)
}
