package scenarios

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/pool"
)

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

// externalDev is a scenario on an external Redis it does not name, with
// the development profile: every variable applies to it.
const externalDev = "name: s\ntarget: {backend: external}\npool: {profile: development}\n"

// The seed's .env block turns development into production's numbers, as
// scenario values; each bad value is refused naming its variable.
func TestEnvFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/env/*.env")
	if len(files) < 5 {
		t.Fatalf("fixtures missing: %v", files)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			env, wantVar := readEnvFile(t, path)
			s, err := LoadBytesWith("s.yaml", []byte(externalDev), Options{Getenv: func(k string) string { return env[k] }})
			if wantVar != "" {
				if err == nil || !strings.Contains(err.Error(), "environment variable "+wantVar) || !IsInvalid(err) {
					t.Fatalf("error = %v, want a scenario error naming %s", err, wantVar)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := s.Pool.Config()
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Target.Addrs) != 1 || s.Target.Addrs[0] != "redis:6379" || cfg.MinConnections != 10 || cfg.MaxConnections != 50 ||
				s.Target.Redis.MaxMemory != 256<<20 || cfg.HealthCheckInterval != 30*time.Second ||
				cfg.TTL[pool.TierAPI] != 300*time.Second || cfg.TTL[pool.TierMeta] != time.Hour {
				t.Errorf("seed env gave target %+v, pool %+v", s.Target, cfg)
			}
		})
	}
}

// The environment is applied once, to the scenario: its values are
// recorded as overrides with their source, a --set flag wins over a
// variable, a variable over the file, and a password never reaches the
// report.
func TestEnvIsScenarioValues(t *testing.T) {
	env := map[string]string{
		"REDIS_PORT": "7001", "REDIS_PASSWORD": "s3cret", "REDIS_MAX_MEMORY": "64mb",
		"REDIS_TTL_SESSION": "90", "REDIS_COMMAND_TIMEOUT": "250", "REDIS_MAX_CONNECTIONS": "40",
	}
	src := "name: s\ntarget: {backend: external, redis: {maxmemory: 256mb}}\npool: {max_conns: 30}\n"
	s, err := LoadBytesWith("s.yaml", []byte(src), Options{Getenv: func(k string) string { return env[k] }, Sets: []Set{mustSet(t, "pool.max_conns=20")}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := s.Pool.Config()
	if s.Target.Addrs[0] != "127.0.0.1:7001" || s.Target.Password != "s3cret" || s.Target.Redis.MaxMemory != 64<<20 ||
		cfg.TTL[pool.TierSession] != 90*time.Second || cfg.CommandTimeout != 250*time.Millisecond || cfg.MaxConnections != 20 {
		t.Errorf("target %+v, pool %+v", s.Target, cfg)
	}
	got := map[string]Set{}
	for _, o := range s.Info().Overrides {
		got[o.Path+" "+o.Source] = o
	}
	for _, want := range []Set{
		{Path: "target.redis.maxmemory", Value: "64mb", Source: "env REDIS_MAX_MEMORY"},
		{Path: "target.password", Value: "***", Source: "env REDIS_PASSWORD"},
		{Path: "pool.command_timeout", Value: "250ms", Source: "env REDIS_COMMAND_TIMEOUT"},
		{Path: "pool.max_conns", Value: "20"},
	} {
		if o := got[want.Path+" "+want.Source]; o != want {
			t.Errorf("override %s (%s) = %+v, want %+v", want.Path, want.Source, o, want)
		}
	}
	// The flag comes last, so it wins where both set a path.
	if ov := s.Info().Overrides; ov[len(ov)-1].Source != "" {
		t.Errorf("overrides %v: the --set flag is not last", ov)
	}
}

// The variables that say where Redis is concern only an external target
// that names none of its nodes; a tool-started Redis ignores them.
func TestEnvWhereOnlyForExternal(t *testing.T) {
	env := map[string]string{"REDIS_HOST": "cache.internal", "REDIS_PASSWORD": "pw", "REDIS_MAX_MEMORY": "64mb"}
	getenv := func(k string) string { return env[k] }
	s, err := LoadBytesWith("s.yaml", []byte("name: s\n"), Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Target.Addrs) != 0 || s.Target.Password != "" || s.Target.Redis.MaxMemory != 64<<20 {
		t.Errorf("process target %+v: want no address or password from the environment, its maxmemory", s.Target)
	}
	s, err = LoadBytesWith("s.yaml", []byte("name: s\ntarget: {backend: external, addrs: [\"a:1\"], password: mine}\n"), Options{Getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	if s.Target.Addrs[0] != "a:1" || s.Target.Password != "mine" {
		t.Errorf("external target %+v: the file's nodes were overridden", s.Target)
	}
}

// A bad value is the variable's error, with the setting it stands for.
func TestEnvErrorNamesTheVariable(t *testing.T) {
	env := map[string]string{"REDIS_MAX_MEMORY": "12 parsecs"}
	_, err := LoadBytesWith("s.yaml", []byte("name: s\n"), Options{Getenv: func(k string) string { return env[k] }})
	var se *SetError
	var l ErrorList
	if err == nil || !(errors.As(err, &se) || errors.As(err, &l)) || !strings.Contains(err.Error(), "environment variable REDIS_MAX_MEMORY (target.redis.maxmemory=") {
		t.Fatalf("error = %v", err)
	}
}

// REDIS_MAX_MEMORY is read as a scenario's maxmemory, Redis's units: mb is
// 1024*1024, m is 1000*1000.
func TestMaxMemoryEnvHasRedisUnits(t *testing.T) {
	for in, want := range map[string]int64{"268435456": 268435456, "256mb": 256 << 20, "256m": 256_000_000, "1gb": 1 << 30, "1G": 1_000_000_000, "2048kb": 2 << 20} {
		s, err := LoadBytesWith("s.yaml", []byte("name: s\n"), Options{Getenv: func(k string) string { return map[string]string{"REDIS_MAX_MEMORY": in}[k] }})
		if err != nil || int64(s.Target.Redis.MaxMemory) != want {
			t.Errorf("REDIS_MAX_MEMORY=%s: %v; want %d", in, err, want)
		}
	}
	for _, in := range []string{"-1", "12 parsecs", "mb", "1.5mb", "256 mb", "100kb"} {
		if _, err := LoadBytesWith("s.yaml", []byte("name: s\n"), Options{Getenv: func(k string) string { return map[string]string{"REDIS_MAX_MEMORY": in}[k] }}); err == nil || !strings.Contains(err.Error(), "REDIS_MAX_MEMORY") {
			t.Errorf("REDIS_MAX_MEMORY=%s: %v, want an error naming the variable", in, err)
		}
	}
}

// The README's table names every variable the loader reads, with the
// setting it stands for.
func TestEnvVarsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range EnvVars() {
		name, path := v[0], v[1]
		var row string
		for _, line := range strings.Split(string(readme), "\n") {
			if strings.HasPrefix(line, "| ") && strings.Contains(line, "`"+name+"`") {
				row = line
			}
		}
		if row == "" || !strings.Contains(row, "`"+path) {
			t.Errorf("README has no row naming %s with %s: %q", name, path, row)
		}
	}
}
