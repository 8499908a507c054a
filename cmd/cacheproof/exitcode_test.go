package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cacheproof/cacheproof/harness"
	"github.com/cacheproof/cacheproof/profile"
	"github.com/cacheproof/cacheproof/sizing"
)

// TestExitCode: the error's type decides the exit code wherever it was
// wrapped; an error of no known type gets what the command chose.
func TestExitCode(t *testing.T) {
	cause := errors.New("cause")
	for _, c := range []struct {
		name      string
		err       error
		otherwise int
		want      int
	}{
		{"config", &harness.ConfigError{Err: cause}, exitEnvironment, exitUsage},
		{"wrapped config", fmt.Errorf("step 3: %w", &harness.ConfigError{Err: cause}), exitEnvironment, exitUsage},
		{"run environment", &harness.EnvError{Op: "start redis", Err: cause}, exitUsage, exitEnvironment},
		{"sizing environment", fmt.Errorf("calibrate: %w", &sizing.EnvError{Op: "INFO", Err: cause}), exitUsage, exitEnvironment},
		{"profile environment", fmt.Errorf("profile: %w", &profile.EnvError{Err: cause}), exitUsage, exitEnvironment},
		{"untyped, run", cause, exitEnvironment, exitEnvironment},
		{"untyped, size", cause, exitUsage, exitUsage},
	} {
		if got := exitCode(c.err, c.otherwise); got != c.want {
			t.Errorf("%s: exitCode(%v, %d) = %d, want %d", c.name, c.err, c.otherwise, got, c.want)
		}
	}
}
