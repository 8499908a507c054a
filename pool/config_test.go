package pool

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestProfilesCarryTheSeedValues(t *testing.T) {
	dev, err := ProfileConfig("development")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := ProfileConfig("production")
	if err != nil {
		t.Fatal(err)
	}
	if dev.MinConnections != 5 || dev.MaxConnections != 20 || dev.MaxMemory != 128<<20 ||
		dev.HealthCheckInterval != time.Minute || dev.EnableSentinel {
		t.Errorf("development = %+v", dev)
	}
	if prod.MinConnections != 10 || prod.MaxConnections != 50 || prod.MaxMemory != 256<<20 ||
		prod.HealthCheckInterval != 30*time.Second || !prod.EnableSentinel {
		t.Errorf("production = %+v", prod)
	}
	for _, c := range []Config{dev, prod} {
		if c.ConnectionTimeout != 5*time.Second || c.MaxMemoryPolicy != "allkeys-lru" ||
			c.TTL[TierAPI] != 300*time.Second || c.TTL[TierSession] != 1800*time.Second ||
			c.TTL[TierMeta] != time.Hour || c.TTL[TierPersistent] != 0 {
			t.Errorf("%s = %+v", c.Profile, c)
		}
	}
	if err := dev.Validate(); err != nil {
		t.Errorf("development does not validate: %v", err)
	}
	// Production keeps the seed's enableSentinel, so it needs sentinels.
	if err := prod.Validate(); err == nil || !strings.Contains(err.Error(), "SentinelAddrs") {
		t.Errorf("production without sentinels: %v", err)
	}
	if _, err := ProfileConfig("staging"); err == nil || !strings.Contains(err.Error(), "development, production") {
		t.Errorf("unknown profile error = %v", err)
	}
	// Profiles do not share maps.
	dev.TTL[TierAPI] = time.Second
	if again, _ := ProfileConfig("development"); again.TTL[TierAPI] != 300*time.Second {
		t.Error("ProfileConfig returned a shared TTL map")
	}
}

func TestValidateNamesTheField(t *testing.T) {
	base, _ := ProfileConfig(ProfileDevelopment)
	cases := []struct {
		field string
		mut   func(*Config)
	}{
		{"MinConnections", func(c *Config) { c.MinConnections = 30 }},
		{"MaxConnections", func(c *Config) { c.MaxConnections = 0 }},
		{"MaxMemoryPolicy", func(c *Config) { c.MaxMemoryPolicy = "lru" }},
		{"Addrs[0]", func(c *Config) { c.Addrs = []string{"localhost"} }},
		{"Addrs", func(c *Config) { c.Addrs = nil }},
		{"TTL.persistent", func(c *Config) { c.TTL[TierPersistent] = time.Second }},
		{"TTL.meta", func(c *Config) { delete(c.TTL, TierMeta) }},
		{"TTL.api", func(c *Config) { c.TTL[TierAPI] = 0 }},
		{"CommandTimeout", func(c *Config) { c.CommandTimeout = 0 }},
		{"MinRetryBackoff", func(c *Config) { c.MinRetryBackoff = time.Hour }},
		{"MasterName", func(c *Config) { c.EnableSentinel = true; c.SentinelAddrs = []string{"127.0.0.1:26379"} }},
		{"Cluster", func(c *Config) {
			c.EnableSentinel, c.Cluster, c.MasterName = true, true, "m"
			c.SentinelAddrs = []string{"127.0.0.1:26379"}
		}},
		{"Profile", func(c *Config) { c.Profile = "prod" }},
	}
	for _, tc := range cases {
		c := base.clone()
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "pool config "+tc.field+":") {
			t.Errorf("%s: Validate() = %v", tc.field, err)
		}
	}
}

func TestParseTier(t *testing.T) {
	for _, s := range []string{"api", "Session", " meta ", "persistent"} {
		if _, err := ParseTier(s); err != nil {
			t.Errorf("ParseTier(%q): %v", s, err)
		}
	}
	if _, err := ParseTier("hot"); err == nil || !strings.Contains(err.Error(), "api, session, meta, persistent") {
		t.Errorf("ParseTier(hot) = %v", err)
	}
	// A tier's array slot is its position in Tiers, the one list of them.
	if len(Tiers) != NumTiers || len(TierNames()) != NumTiers {
		t.Fatalf("%d tiers, %d names, NumTiers %d", len(Tiers), len(TierNames()), NumTiers)
	}
	for i, tier := range Tiers {
		if tier.index() != i || TierNames()[i] != string(tier) {
			t.Errorf("tier %s: slot %d, position %d", tier, tier.index(), i)
		}
	}
}

// A Config never carries its password into a report: Redacted and the
// report JSON both hide it, without changing the Config itself.
func TestConfigRedactsPassword(t *testing.T) {
	got, _ := ProfileConfig(ProfileDevelopment)
	got.Password, got.CommandTimeout = "s3cret", 250*time.Millisecond
	if r := got.Redacted(); r.Password != "***" || got.Password != "s3cret" {
		t.Errorf("Redacted = %q (original %q)", r.Password, got.Password)
	}
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), `"ttl_s":{`) ||
		!strings.Contains(string(b), `"command_timeout_s":0.25`) {
		t.Errorf("report JSON = %s", b)
	}
}
