package pool

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/units"
)

// Settings' paths are the YAML's, relative to the pool: section.
func TestSettingsValidateNamesTheKey(t *testing.T) {
	neg, zero, big := -1, 0, 500
	sec := units.Duration(0)
	for path, s := range map[string]Settings{
		"profile":               {Profile: "staging"},
		"min_idle":              {Profile: DefaultProfile, MinIdle: &neg},
		"max_conns":             {Profile: DefaultProfile, MaxConns: &zero},
		"max_retries":           {Profile: DefaultProfile, MaxRetries: &big},
		"pool_timeout":          {Profile: DefaultProfile, PoolTimeout: &sec},
		"ttl.warm":              {Profile: DefaultProfile, TTL: map[string]units.Duration{"warm": units.Duration(time.Second)}},
		"ttl.persistent":        {Profile: DefaultProfile, TTL: map[string]units.Duration{"persistent": units.Duration(time.Second)}},
		"ttl.api":               {Profile: DefaultProfile, TTL: map[string]units.Duration{"api": 0}},
		"health_check_interval": {Profile: DefaultProfile, HealthCheckInterval: func() *units.Duration { d := units.Duration(-1); return &d }()},
	} {
		var l field.List
		if err := s.Validate(); !errors.As(err, &l) || !slices.ContainsFunc(l, func(e *field.Error) bool { return e.Path == path }) {
			t.Errorf("%s: Validate() = %v", path, err)
		}
	}
	var s Settings
	s.Defaults()
	if s.Profile != DefaultProfile || s.Validate() != nil {
		t.Errorf("defaults: %+v, %v", s, s.Validate())
	}
}

// Config is the profile with the written overrides; a written 0 is kept
// (max_retries: 0 is no retry, which Config spells -1).
func TestSettingsConfig(t *testing.T) {
	zero, ten := 0, 10
	hc := units.Duration(0)
	cfg, err := Settings{Profile: ProfileDevelopment, MinIdle: &zero, MaxConns: &ten, MaxRetries: &zero, HealthCheckInterval: &hc,
		TTL: map[string]units.Duration{"api": units.Duration(time.Minute)}}.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Profile != ProfileDevelopment || cfg.MinConnections != 0 || cfg.MaxConnections != 10 || cfg.MaxRetries != -1 ||
		cfg.HealthCheckInterval != 0 || cfg.TTL[TierAPI] != time.Minute || cfg.TTL[TierMeta] != time.Hour {
		t.Errorf("Config() = %+v", cfg)
	}
	if cfg, _ := (Settings{}).Config(); cfg.Profile != DefaultProfile || cfg.MaxConnections != 50 {
		t.Errorf("unset profile: %+v", cfg)
	}
}
