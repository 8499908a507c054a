package workload

import (
	"testing"
)

// mustNew is New for a test's settings, resolved first (see newResolved).
func mustNew(t testing.TB, s Settings, r Run) *Model {
	t.Helper()
	m, err := newResolved(s, r)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newResolved is New for a test's settings: the fields a test leaves zero
// are the keys a scenario leaves out, given their defaults by
// Settings.Defaults as a scenario's are at load.
func newResolved(s Settings, r Run) (*Model, error) {
	s.Defaults()
	return New(s, r)
}

// validateResolved is Validate for a test's settings, resolved as by
// newResolved.
func validateResolved(s Settings, r Run) error {
	s.Defaults()
	return Validate(s, r)
}

// featuresOff is every switch of the seed's layer written off (with the
// seed's catalogue, an unwritten switch is on).
func featuresOff() FeatureSettings { return writtenFeatures(Features{}) }

// writtenFeatures is f's switches, each written (on or off).
func writtenFeatures(f Features) FeatureSettings {
	return FeatureSettings{RateLimit: new(f.RateLimit), SessionGetAndExtend: new(f.SessionGetAndExtend), CAS: new(f.CAS), MGet: new(f.MGet), Invalidation: new(f.Invalidation)}
}
