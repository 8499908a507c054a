package topology

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/cacheproof/cacheproof/internal/field"
	"github.com/cacheproof/cacheproof/internal/redistext"
	"github.com/cacheproof/cacheproof/internal/units"
)

func TestSettingsDefaultsAndValidate(t *testing.T) {
	var s Settings
	s.Defaults()
	if s.Backend != "process" || s.Topology != "standalone" || s.Redis.MaxMemory != DefaultMaxMemory || s.Redis.MaxMemoryPolicy != DefaultMaxMemoryPolicy || s.Validate() != nil {
		t.Fatalf("defaults: %+v, %v", s, s.Validate())
	}
	s = Settings{Backend: "container", Topology: "sentinel"}
	s.Defaults()
	if s.Image != DefaultImage || s.Replicas != 1 || s.MasterName != DefaultMasterName {
		t.Errorf("container sentinel defaults: %+v", s)
	}
	// A written 0 stays, and is judged as written.
	s = Settings{Topology: "replica", Wrote: field.Keys{"replicas": true}, Redis: RedisSettings{Wrote: field.Keys{"maxmemory": true}}}
	s.Defaults()
	if s.Replicas != 0 || s.Redis.MaxMemory != 0 {
		t.Errorf("written zeros replaced: %+v", s)
	}
	for path, bad := range map[string]Settings{
		"backend":                {Backend: "kubernetes", Topology: "standalone"},
		"topology":               {Backend: "process", Topology: "mesh"},
		"redis.maxmemory_policy": {Backend: "process", Topology: "standalone", Redis: RedisSettings{MaxMemoryPolicy: "lru"}},
		"redis.maxmemory":        {Backend: "process", Topology: "standalone", Redis: RedisSettings{MaxMemory: units.Size(100 << 10)}},
		"replicas":               {Backend: "process", Topology: "standalone", Replicas: 2},
		"addrs":                  {Backend: "process", Topology: "standalone", Addrs: []string{"127.0.0.1:6379"}},
		"sentinel_addrs":         {Backend: "external", Topology: "sentinel", Replicas: 1},
		"image":                  {Backend: "process", Topology: "standalone", Image: "redis:7"},
	} {
		var l field.List
		if err := bad.Validate(); !errors.As(err, &l) || !slices.ContainsFunc(l, func(e *field.Error) bool { return e.Path == path }) {
			t.Errorf("%s: Validate() = %v", path, err)
		}
	}
}

func TestPlannedNodes(t *testing.T) {
	names := func(ns []Node) string { return fmt.Sprint(ns) }
	if got := names(PlannedNodes(ShapeStandalone, 3)); got != "[{primary-0  primary}]" {
		t.Errorf("standalone: %s", got)
	}
	sen := PlannedNodes(ShapeSentinel, 0)
	if len(sen) != 5 || sen[1].Name != "replica-1" || sen[4].Name != "sentinel-2" || sen[4].Role != RoleSentinel {
		t.Errorf("sentinel: %v", sen)
	}
	cl := PlannedNodes(ShapeCluster, 4)
	if len(cl) != 6 || cl[0].Name != "node-0" || cl[2].Role != RolePrimary || cl[3].Role != RoleReplica {
		t.Errorf("cluster: %v", cl)
	}
	if PlannedNodes("mesh", 1) != nil {
		t.Error("unknown shape has nodes")
	}
}

// The nodes Start names are the ones PlannedNodes lists.
func TestPlannedNodesAreStartedNodes(t *testing.T) {
	requireRedis(t)
	d := startT(t, Spec{Shape: ShapeReplica, Replicas: 2})
	want := PlannedNodes(ShapeReplica, 2)
	got := d.Nodes()
	if len(got) != len(want) {
		t.Fatalf("started %v, planned %v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Role != want[i].Role {
			t.Errorf("node %d: started %s/%s, planned %s/%s", i, got[i].Name, got[i].Role, want[i].Name, want[i].Role)
		}
	}
}

// redistext.ParseMemory reads a size as the redis-server on this machine
// does: every size it accepts, CONFIG SET maxmemory accepts with the same
// number of bytes, and what Redis refuses it refuses. ("mb", which Redis
// 7.0 reads as 0, no limit, ParseMemory refuses on purpose.)
func TestMemorySizesAsRedisReadsThem(t *testing.T) {
	requireRedis(t)
	d := startT(t, Spec{})
	ctx := ctxT(t)
	for _, in := range []string{"2048", "100b", "1k", "1kb", "1kB", "1m", "1M", "1mb", "1MB", "256m", "256mb", "1g", "1gb", "3GB", "0"} {
		want, err := redistext.ParseMemory(in)
		if err != nil {
			t.Errorf("ParseMemory(%q): %v", in, err)
			continue
		}
		if _, err := d.Do(ctx, PrimaryName, "CONFIG", "SET", "maxmemory", in); err != nil {
			t.Errorf("CONFIG SET maxmemory %s: %v", in, err)
			continue
		}
		reply, err := d.Do(ctx, PrimaryName, "CONFIG", "GET", "maxmemory")
		if err != nil {
			t.Fatal(err)
		}
		if got := configValue(reply); got != strconv.FormatInt(want, 10) {
			t.Errorf("%s: Redis holds %s bytes, ParseMemory says %d", in, got, want)
		}
	}
	for _, in := range []string{"1.5mb", "1 mb", "-1", "0x10", "1tb"} {
		if _, err := redistext.ParseMemory(in); err == nil {
			t.Errorf("ParseMemory(%q) accepted", in)
		}
		if _, err := d.Do(ctx, PrimaryName, "CONFIG", "SET", "maxmemory", in); err == nil {
			t.Errorf("Redis accepted maxmemory %q", in)
		}
	}
	_, _ = d.Do(ctx, PrimaryName, "CONFIG", "SET", "maxmemory", "0")
}

// configValue is the value of a one-parameter CONFIG GET reply (RESP2 list
// or RESP3 map).
func configValue(reply any) string {
	switch r := reply.(type) {
	case []any:
		if len(r) == 2 {
			return fmt.Sprint(r[1])
		}
	case map[any]any:
		for _, v := range r {
			return fmt.Sprint(v)
		}
	case map[string]any:
		for _, v := range r {
			return fmt.Sprint(v)
		}
	}
	return fmt.Sprint(reply)
}

// TestOwnsNodes: every backend but external starts its own nodes, and a
// backend left out defaults to one that does.
func TestOwnsNodes(t *testing.T) {
	want := map[Backend]bool{BackendProcess: true, BackendContainer: true, BackendExternal: false}
	for _, b := range Backends {
		w, ok := want[b]
		if !ok {
			t.Fatalf("backend %q: no expectation; say whether the tool owns its nodes", b)
		}
		if got := (Settings{Backend: string(b)}).OwnsNodes(); got != w {
			t.Errorf("backend %q: OwnsNodes = %v, want %v", b, got, w)
		}
	}
	var s Settings
	s.Defaults()
	if !s.OwnsNodes() {
		t.Errorf("default backend %q: OwnsNodes = false, want true", s.Backend)
	}
}
