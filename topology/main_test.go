package topology

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaks a goroutine (a forgotten
// launcher thread or client pool would show up here). When the package is run
// as the orphan-test helper, it does the helper's job instead.
func TestMain(m *testing.M) {
	if runOrphanHelper() {
		return
	}
	// The reaper image cannot be pulled on an offline machine; every test
	// removes its own containers in Close.
	if os.Getenv(ReaperEnv) == "" {
		_ = os.Setenv(ReaperEnv, "true")
	}
	goleak.VerifyTestMain(m)
}
