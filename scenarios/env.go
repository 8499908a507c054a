package scenarios

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The seed's cache layer reads its configuration from REDIS_* environment
// variables. A run reads them once, here, as scenario values: each
// variable is a set of the scenario path it stands for (REDIS_MAX_MEMORY
// is target.redis.maxmemory), written into the document before it is
// decoded and validated, exactly as a --set flag is. So the Redis the tool
// starts and the cache manager's configuration see the same value, a bad
// value is the variable's error (exit 2), and the report records it among
// the overrides with its source ("env REDIS_MAX_MEMORY").
//
// The variables that say where Redis is (host, port, user, password,
// sentinels) describe someone else's deployment: they apply to an external
// target that does not name its own, and are ignored by the backends that
// start Redis themselves (the manager connects to the deployment the run
// started). The tuning variables apply to every target and take
// precedence over the file; a --set flag takes precedence over both.

// envVar is one of the seed's variables: the scenario path it sets, when it
// applies and how its text becomes that path's YAML value.
type envVar struct {
	name string
	path string
	// applies says whether the variable concerns this scenario, as loaded
	// without the environment.
	applies func(s *Scenario) bool
	// value is the YAML value for path; ok false sets nothing.
	value func(v string, getenv func(string) string) (yaml string, ok bool, err error)
}

// envVars are the variables, in the order their sets are applied.
var envVars = []envVar{
	{"REDIS_HOST", "target.addrs", namesNoNodes, hostPort},
	// REDIS_PORT is read with REDIS_HOST (alone, with 127.0.0.1); here it
	// is only checked.
	{"REDIS_PORT", "target.addrs", namesNoNodes, checkPort},
	{"REDIS_USERNAME", "target.username", func(s *Scenario) bool { return external(s) && s.Target.Username == "" }, quoted},
	{"REDIS_PASSWORD", "target.password", func(s *Scenario) bool { return external(s) && s.Target.Password == "" }, quoted},
	{"REDIS_ENABLE_SENTINEL", "target.topology", func(s *Scenario) bool { return namesNoNodes(s) && !s.Target.Wrote["topology"] }, sentinelShape},
	{"REDIS_SENTINEL_ADDRS", "target.sentinel_addrs", func(s *Scenario) bool { return external(s) && len(s.Target.SentinelAddrs) == 0 }, list},
	{"REDIS_MASTER_NAME", "target.master_name", func(s *Scenario) bool { return external(s) && !s.Target.Wrote["master_name"] }, quoted},
	{"REDIS_MAX_MEMORY", "target.redis.maxmemory", always, quoted},
	{"REDIS_MAX_MEMORY_POLICY", "target.redis.maxmemory_policy", always, quoted},
	{"REDIS_MIN_CONNECTIONS", "pool.min_idle", always, whole},
	{"REDIS_MAX_CONNECTIONS", "pool.max_conns", always, whole},
	{"REDIS_CONNECTION_TIMEOUT", "pool.connect_timeout", always, duration(time.Millisecond)},
	{"REDIS_COMMAND_TIMEOUT", "pool.command_timeout", always, duration(time.Millisecond)},
	{"REDIS_POOL_TIMEOUT", "pool.pool_timeout", always, duration(time.Millisecond)},
	{"REDIS_HEALTH_CHECK_INTERVAL", "pool.health_check_interval", always, duration(time.Millisecond)},
	{"REDIS_TTL_API", "pool.ttl.api", always, duration(time.Second)},
	{"REDIS_TTL_SESSION", "pool.ttl.session", always, duration(time.Second)},
	{"REDIS_TTL_META", "pool.ttl.meta", always, duration(time.Second)},
	{"REDIS_KEY_PREFIX", "pool.key_prefix", always, quoted},
}

// EnvVars lists the environment variables a run reads, each with the
// scenario path it sets, for help texts and the documentation.
func EnvVars() [][2]string {
	out := make([][2]string, len(envVars))
	for i, e := range envVars {
		out[i] = [2]string{e.name, e.path}
	}
	return out
}

// envSets are the sets the environment makes of s (loaded without it).
// Unset or empty variables set nothing; a value that cannot be the
// setting's (a port of "x", a timeout of "soon") is an error naming the
// variable.
func envSets(s *Scenario, getenv func(string) string) ([]Set, error) {
	var sets []Set
	for _, e := range envVars {
		v := strings.TrimSpace(getenv(e.name))
		if v == "" {
			continue
		}
		val, ok, err := e.value(v, getenv)
		if err != nil {
			return nil, &SetError{Set: Set{Path: e.path, Value: v, Source: "env " + e.name}, Msg: err.Error()}
		}
		if ok && e.applies(s) {
			sets = append(sets, Set{Path: e.path, Value: val, Source: "env " + e.name})
		}
	}
	// A port given without a host is the default host's.
	if strings.TrimSpace(getenv("REDIS_HOST")) == "" && strings.TrimSpace(getenv("REDIS_PORT")) != "" && namesNoNodes(s) {
		val, _, _ := hostPort("127.0.0.1", getenv)
		sets = append(sets, Set{Path: "target.addrs", Value: val, Source: "env REDIS_PORT"})
	}
	return sets, nil
}

func always(*Scenario) bool { return true }

// external: the target is a Redis someone else runs.
func external(s *Scenario) bool { return !s.Target.OwnsNodes() }

// namesNoNodes: an external target whose file names none of its nodes.
func namesNoNodes(s *Scenario) bool {
	return external(s) && len(s.Target.Addrs) == 0 && len(s.Target.SentinelAddrs) == 0
}

// quoted is the text as a YAML string, whatever it looks like: plain when
// YAML reads it as that string (64mb, allkeys-lru), in quotes otherwise.
func quoted(v string, _ func(string) string) (string, bool, error) {
	if plainString.MatchString(v) && !yamlWords[strings.ToLower(v)] {
		return v, true, nil
	}
	return strconv.Quote(v), true, nil
}

// plainString is text YAML reads as a plain scalar of the same characters.
var plainString = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_./@-]*$`)

// yamlWords are plain scalars YAML reads as something else than a string.
var yamlWords = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "null": true, "y": true, "n": true}

func whole(v string, _ func(string) string) (string, bool, error) {
	if _, err := strconv.Atoi(v); err != nil {
		return "", false, fmt.Errorf("want a whole number, got %q", v)
	}
	return v, true, nil
}

// duration reads a bare number in the seed's unit (ms for timeouts and the
// health interval, s for TTLs) or a Go duration ("30s").
func duration(unit time.Duration) func(string, func(string) string) (string, bool, error) {
	return func(v string, _ func(string) string) (string, bool, error) {
		d, err := time.ParseDuration(v)
		if n, nerr := strconv.ParseInt(v, 10, 64); nerr == nil {
			d, err = time.Duration(n)*unit, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("want a number (unit %v) or a duration like 30s, got %q", unit, v)
		}
		if d < 0 {
			return "", false, fmt.Errorf("must be >= 0, got %q", v)
		}
		return d.String(), true, nil
	}
}

// hostPort is [host:port] from REDIS_HOST and REDIS_PORT (default 6379,
// checked by checkPort).
func hostPort(host string, getenv func(string) string) (string, bool, error) {
	port := strings.TrimSpace(getenv("REDIS_PORT"))
	if port == "" {
		port = "6379"
	}
	return "[" + strconv.Quote(net.JoinHostPort(host, port)) + "]", true, nil
}

// checkPort refuses a port outside 1..65535; the set is hostPort's.
func checkPort(v string, _ func(string) string) (string, bool, error) {
	if p, err := strconv.Atoi(v); err != nil || p < 1 || p > 65535 {
		return "", false, fmt.Errorf("want a port 1..65535, got %q", v)
	}
	return "", false, nil
}

func sentinelShape(v string, _ func(string) string) (string, bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return "", false, fmt.Errorf("want true or false, got %q", v)
	}
	return "sentinel", b, nil
}

// list is a comma-separated list as a YAML list of strings.
func list(v string, _ func(string) string) (string, bool, error) {
	var items []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			items = append(items, strconv.Quote(p))
		}
	}
	return "[" + strings.Join(items, ", ") + "]", len(items) > 0, nil
}

// setName names a set in an error: the flag as the user wrote it, or the
// environment variable with the setting it stands for. A password's value
// is never shown.
func setName(st Set) string {
	if st.Source == "" {
		return "--set " + st.Path + "=" + st.Value
	}
	st = redactSet(st)
	return "environment variable " + strings.TrimPrefix(st.Source, "env ") + " (" + st.Path + "=" + st.Value + ")"
}

// redactSet is st as a report or a message may show it: a password's value
// becomes "***".
func redactSet(st Set) Set {
	if st.Path == "target.password" || strings.HasSuffix(st.Path, ".password") {
		st.Value = "***"
	}
	return st
}
