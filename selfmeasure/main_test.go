package selfmeasure

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain lets this test binary serve as the host timer probe, as
// cacheproof does, and fails the package if a probe's reader outlives its
// test.
func TestMain(m *testing.M) {
	HostProbeMain()
	goleak.VerifyTestMain(m)
}
