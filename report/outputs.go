package report

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cacheproof/cacheproof/result"
)

// WriteAll writes a run's report folder (RunReport.WriteAll): report.json,
// report.html, and JUnit and Markdown where o says.
func WriteAll(r *result.Result, o Outputs) ([]string, error) { return RunReport.WriteAll(r, o) }

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
