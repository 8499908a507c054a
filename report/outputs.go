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
	type job struct {
		path  string
		write func(io.Writer, *result.Result) error
	}
	var jobs []job
	if !o.SkipJSON {
		jobs = append(jobs, job{filepath.Join(o.Dir, "report.json"), WriteJSON})
	}
	html := o.HTML
	if html == "" {
		html = filepath.Join(o.Dir, "report.html")
	}
	jobs = append(jobs, job{html, WriteHTML})
	if o.JUnit != "" {
		jobs = append(jobs, job{o.JUnit, WriteJUnit})
	}
	if o.Markdown != "" {
		jobs = append(jobs, job{o.Markdown, WriteMarkdown})
	}
	var written []string
	var errs []error
	for _, j := range jobs {
		if err := writeFileAtomic(j.path, r, j.write); err != nil {
			errs = append(errs, err)
			continue
		}
		written = append(written, j.path)
	}
	if len(errs) > 0 {
		return written, fmt.Errorf("write reports: %w", joinErrs(errs))
	}
	return written, nil
}

func writeFileAtomic(path string, r *result.Result, write func(io.Writer, *result.Result) error) error {
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
	if err := write(f, r); err != nil {
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
