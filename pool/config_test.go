package pool

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
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

// readEnvFile reads KEY=VALUE lines and the expected error variable from a
// "# error: NAME" comment.
func readEnvFile(t *testing.T, path string) (map[string]string, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	want := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "# error:"); ok {
			want = strings.TrimSpace(rest)
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	return env, want
}

func TestWithEnvFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/env/*.env")
	if len(files) < 5 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			env, wantVar := readEnvFile(t, path)
			base, _ := ProfileConfig(ProfileDevelopment)
			got, err := base.WithEnv(func(k string) string { return env[k] })
			if wantVar != "" {
				if err == nil || !strings.Contains(err.Error(), "environment variable "+wantVar) {
					t.Fatalf("error = %v, want one naming %s", err, wantVar)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The seed's env turns development into production's numbers.
			if got.Addrs[0] != "redis:6379" || got.MinConnections != 10 || got.MaxConnections != 50 ||
				got.MaxMemory != 256<<20 || got.HealthCheckInterval != 30*time.Second ||
				got.TTL[TierAPI] != 300*time.Second || got.TTL[TierMeta] != time.Hour {
				t.Errorf("seed env gave %+v", got)
			}
		})
	}
}

func TestWithEnvLayering(t *testing.T) {
	base, _ := ProfileConfig(ProfileDevelopment)
	base.Addrs = []string{"10.0.0.1:7000"}
	env := map[string]string{
		"REDIS_PORT": "7001", "REDIS_PASSWORD": "s3cret", "REDIS_MAX_MEMORY": "64mb",
		"REDIS_TTL_SESSION": "90s", "REDIS_COMMAND_TIMEOUT": "250",
	}
	got, err := base.WithEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got.Addrs[0] != "10.0.0.1:7001" || got.Password != "s3cret" || got.MaxMemory != 64<<20 ||
		got.TTL[TierSession] != 90*time.Second || got.CommandTimeout != 250*time.Millisecond {
		t.Errorf("got %+v", got)
	}
	if base.Addrs[0] != "10.0.0.1:7000" || base.TTL[TierSession] != 1800*time.Second {
		t.Error("WithEnv modified its receiver")
	}
	// Redaction, in the struct and in the report JSON.
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

// REDIS_MAX_MEMORY is read as Redis reads maxmemory (redistext.ParseMemory,
// the parser a scenario's sizes use too): mb is 1024*1024, m is 1000*1000.
func TestMaxMemoryEnvHasRedisUnits(t *testing.T) {
	base, _ := ProfileConfig(ProfileDevelopment)
	for in, want := range map[string]int64{"268435456": 268435456, "256mb": 256 << 20, "256m": 256_000_000, "1gb": 1 << 30, "1G": 1_000_000_000, "100kb": 100 << 10} {
		got, err := base.WithEnv(func(k string) string { return map[string]string{"REDIS_MAX_MEMORY": in}[k] })
		if err != nil || got.MaxMemory != want {
			t.Errorf("REDIS_MAX_MEMORY=%s: MaxMemory %d, %v; want %d", in, got.MaxMemory, err, want)
		}
	}
	for _, in := range []string{"-1", "12 parsecs", "mb", "1.5mb", "256 mb"} {
		if _, err := base.WithEnv(func(k string) string { return map[string]string{"REDIS_MAX_MEMORY": in}[k] }); err == nil || !strings.Contains(err.Error(), "REDIS_MAX_MEMORY") {
			t.Errorf("REDIS_MAX_MEMORY=%s: %v, want an error naming the variable", in, err)
		}
	}
}
