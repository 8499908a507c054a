package workload

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/units"
)

func TestSettingsDefaults(t *testing.T) {
	s := Settings{Population: 1000, Origins: map[string]OriginSettings{
		"stratz": {Latency: units.Duration(160 * time.Millisecond), Wrote: field.Keys{"latency": true}},
		"steam":  {Wrote: field.Keys{"error_rate": true}},
	}, Families: []FamilySettings{{Name: "stratz_profile", Popularity: &PopularitySettings{Kind: PopZipf}}}}
	s.Defaults()
	if s.ActiveUsers != 1000 || s.Guilds != 20 || s.Zipf != DefaultZipf || s.Arrival != ArrivalPoisson || s.SessionMean.D() != DefaultSessionMean {
		t.Errorf("defaults: %+v", s)
	}
	// A written latency without p99 keeps the default tail's shape (stratz:
	// 80ms median, 400ms p99), a written error_rate: 0 stays 0.
	if o := s.Origins["stratz"]; o.P99.D() != 800*time.Millisecond || o.ErrorRate != 0.005 {
		t.Errorf("stratz: %+v", o)
	}
	if o := s.Origins["steam"]; o.ErrorRate != 0 || o.Latency.D() != 60*time.Millisecond {
		t.Errorf("steam: %+v", o)
	}
	if f := s.Families[0]; f.MeanSize != 2048 || *f.Weight != 30 || f.Popularity.Exponent != DefaultZipf {
		t.Errorf("family: %+v", f)
	}
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}

func TestSettingsValidateNamesTheKey(t *testing.T) {
	zero := 0.0
	base := func() Settings {
		s := Settings{}
		s.Defaults()
		return s
	}
	for path, mut := range map[string]func(*Settings){
		"active_users": func(s *Settings) { s.ActiveUsers = 0 },
		"population":   func(s *Settings) { s.Population = MaxPopulation + 1 },
		"prefill":      func(s *Settings) { s.Prefill = units.Duration(25 * time.Hour) },
		"families[0].popularity": func(s *Settings) {
			s.Families = []FamilySettings{{Name: "session", Popularity: &PopularitySettings{Kind: PopUniform}}}
		},
		"families[0].mean_size":     func(s *Settings) { s.Families = []FamilySettings{{Name: "session", MeanSize: MaxMeanSize + 1}} },
		"origins.stratz.error_rate": func(s *Settings) { s.Origins = map[string]OriginSettings{"stratz": {ErrorRate: 2}} },
		"families": func(s *Settings) {
			for _, f := range DefaultFamilies() {
				s.Families = append(s.Families, FamilySettings{Name: f.Name, Weight: &zero})
			}
		},
	} {
		s := base()
		mut(&s)
		var l field.List
		if err := s.Validate(); !errors.As(err, &l) || !slices.ContainsFunc(l, func(e *field.Error) bool { return e.Path == path }) {
			t.Errorf("%s: Validate() = %v", path, err)
		}
	}
}

// Config carries the settings over; weight: 0 turns a command off, which
// FamilyOverride spells as a negative weight. Validate (which New calls)
// holds settings built in Go to a scenario's rules and paths.
func TestSettingsConfig(t *testing.T) {
	zero := 0.0
	s := Settings{Families: []FamilySettings{{Name: "meta_items", Weight: &zero}}}
	s.Defaults()
	cfg := s.Config(Run{Seed: 3})
	if cfg.Population != DefaultPopulation || len(cfg.Families) != 1 || cfg.Families[0].Weight >= 0 || cfg.Families[0].MeanSize != 30*kib || cfg.Seed != 3 {
		t.Errorf("Config() = %+v", cfg)
	}
	if err := Validate(s, Run{Seed: 3}); err != nil {
		t.Error(err)
	}
	s.Zipf = 7
	if _, err := New(s, Run{}); err == nil || !strings.Contains(err.Error(), "zipf: 7 out of range") {
		t.Errorf("zipf 7: %v", err)
	}
}
