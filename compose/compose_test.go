package compose

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

type composeFile struct {
	Services map[string]struct {
		Image       string   `yaml:"image"`
		Command     any      `yaml:"command"`
		Ports       []string `yaml:"ports"`
		Volumes     []string `yaml:"volumes"`
		Healthcheck *struct {
			Test     []string `yaml:"test"`
			Interval string   `yaml:"interval"`
			Timeout  string   `yaml:"timeout"`
			Retries  int      `yaml:"retries"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func load(t *testing.T, name string) composeFile {
	t.Helper()
	b, err := Files.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

func TestStandaloneIsTheSeedBlock(t *testing.T) {
	f := load(t, "standalone.yml")
	r, ok := f.Services["redis"]
	if !ok || len(f.Services) != 1 {
		t.Fatalf("services = %v, want exactly redis", f.Services)
	}
	if r.Image != "${REDIS_IMAGE:-redis:7-alpine}" {
		t.Errorf("image = %q", r.Image)
	}
	if r.Command != "redis-server --maxmemory 256mb --maxmemory-policy allkeys-lru" {
		t.Errorf("command = %q", r.Command)
	}
	if len(r.Ports) != 1 || r.Ports[0] != "6379:6379" || len(r.Volumes) != 1 || r.Volumes[0] != "redis_data:/data" {
		t.Errorf("ports %v volumes %v", r.Ports, r.Volumes)
	}
	h := r.Healthcheck
	if h == nil || strings.Join(h.Test, " ") != "CMD redis-cli ping" || h.Interval != "5s" || h.Timeout != "3s" || h.Retries != 5 {
		t.Errorf("healthcheck = %+v", h)
	}
	if _, ok := f.Volumes["redis_data"]; !ok {
		t.Errorf("volume redis_data not declared: %v", f.Volumes)
	}
}

func TestSentinelAndClusterShapes(t *testing.T) {
	s := load(t, "sentinel.yml")
	for _, name := range []string{"redis-primary", "redis-replica", "sentinel-1", "sentinel-2", "sentinel-3"} {
		svc, ok := s.Services[name]
		if !ok {
			t.Fatalf("sentinel.yml lacks %s", name)
		}
		if svc.Image != "${REDIS_IMAGE:-redis:7-alpine}" {
			t.Errorf("%s image = %q", name, svc.Image)
		}
	}
	if cmd, _ := s.Services["redis-replica"].Command.(string); !strings.Contains(cmd, "--replicaof redis-primary 6379") {
		t.Errorf("replica command = %q", cmd)
	}
	conf, _ := Files.ReadFile("sentinel.conf")
	if !bytes.Contains(conf, []byte("sentinel monitor mymaster redis-primary 6379 2")) {
		t.Errorf("sentinel.conf does not monitor redis-primary with quorum 2")
	}

	c := load(t, "cluster.yml")
	nodes := 0
	for name, svc := range c.Services {
		if strings.HasPrefix(name, "redis-node-") {
			nodes++
			if cmd, _ := svc.Command.(string); !strings.Contains(cmd, "--cluster-enabled yes") {
				t.Errorf("%s command = %q", name, cmd)
			}
		}
	}
	initCmd, _ := c.Services["cluster-init"].Command.(string)
	if nodes != 6 || !strings.Contains(initCmd, "--cluster-replicas 1") {
		t.Fatalf("cluster.yml: %d nodes, init %q", nodes, initCmd)
	}
}

func TestFileFor(t *testing.T) {
	for _, s := range Shapes() {
		name, b, err := FileFor(s)
		if err != nil || len(b) == 0 || filepath.Ext(name) != ".yml" {
			t.Errorf("FileFor(%s) = %s, %d bytes, %v", s, name, len(b), err)
		}
	}
	if _, _, err := FileFor("mesh"); err == nil {
		t.Error("FileFor(mesh) must fail")
	}
}

// composeCommand finds `docker compose` (v2) or `docker-compose` (v1).
func composeCommand() []string {
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	return nil
}

// TestComposeConfig runs `docker compose config` on every file, with the
// default image and with REDIS_IMAGE overriding it. It needs no engine.
func TestComposeConfig(t *testing.T) {
	cc := composeCommand()
	if cc == nil {
		t.Skip("SKIP: neither `docker compose` nor `docker-compose` is installed (.ci/docker.sh installs docker-compose)")
	}
	for _, name := range []string{"standalone.yml", "sentinel.yml", "cluster.yml"} {
		for _, img := range []string{"", "example.test/redis:custom"} {
			args := append(cc[1:], "-f", name, "config")
			cmd := exec.Command(cc[0], args...)
			// An empty REDIS_IMAGE must fall back to the default too.
			cmd.Env = append(os.Environ(), ImageEnv+"="+img)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s config (REDIS_IMAGE=%q): %v\n%s", name, img, err, out)
			}
			want := "redis:7-alpine"
			if img != "" {
				want = img
			}
			if !bytes.Contains(out, []byte("image: "+want)) {
				t.Errorf("%s with REDIS_IMAGE=%q: resolved config lacks image %s:\n%s", name, img, want, out)
			}
		}
	}
}

func TestBundles(t *testing.T) {
	for _, target := range Targets() {
		files, err := Bundle(target)
		if err != nil || len(files) == 0 {
			t.Fatalf("Bundle(%s) = %v, %v", target, files, err)
		}
		for _, f := range files {
			if b, err := Files.ReadFile(f); err != nil || len(b) == 0 {
				t.Errorf("Bundle(%s): %s is not embedded: %v", target, f, err)
			}
		}
	}
	if files, _ := Bundle("sentinel"); len(files) != 2 || files[1] != "sentinel.conf" {
		t.Errorf("sentinel bundle = %v, want sentinel.yml and sentinel.conf", files)
	}
	if _, err := Bundle("mesh"); err == nil {
		t.Error("Bundle(mesh) must fail")
	}
	if _, _, err := FileFor(K8s); err == nil {
		t.Error("k8s is not a compose shape")
	}
}

// Render replaces the seed's Redis settings in every file that has them and
// leaves the rest of the file as it is; the zero Server keeps the file.
func TestRenderReplacesTheSeedSettings(t *testing.T) {
	for _, name := range []string{"standalone.yml", "sentinel.yml", "cluster.yml"} {
		b, _ := Files.ReadFile(name)
		if got := Render(b, Server{}); !bytes.Equal(got, b) {
			t.Errorf("%s: the zero Server changed the file", name)
		}
		got := Render(b, Server{MaxMemory: "32mb", Policy: "volatile-ttl", Image: "redis:7.2"})
		if bytes.Contains(got, []byte("256mb")) || !bytes.Contains(got, []byte("--maxmemory 32mb --maxmemory-policy volatile-ttl")) || !bytes.Contains(got, []byte("${REDIS_IMAGE:-redis:7.2}")) {
			t.Errorf("%s not rendered:\n%s", name, got)
		}
		var f composeFile
		if err := yaml.Unmarshal(got, &f); err != nil || len(f.Services) == 0 {
			t.Errorf("%s rendered is not a compose file: %v", name, err)
		}
	}
}
