package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/compose"
	"github.com/cacheproof/cacheproof/result"
)

// shardedScenario is a small load with a fault that acts on Redis: sharded,
// shard 0 alone must run it.
const shardedScenario = `
name: sharded-equivalence
seed: 11
workload: {population: 3000, active_users: 90, commands_per_user_per_minute: 120}
phases:
  - {name: warmup, duration: 1s, record: false}
  - {name: steady, duration: 3s}
faults:
  - {at: 2s, kind: client-kill}
targets:
  latency_p99: "< 60s"
  hit_rate: ">= 0%"
`

// startRedisServer starts a scratch redis-server on a free port of
// 127.0.0.1 and stops it when the test ends.
func startRedisServer(t *testing.T) int {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("SKIP: no redis-server on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return port
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d did not answer PING", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runAgainst runs the binary with REDIS_HOST/REDIS_PORT naming port;
// exit 0 or 1 (a target missed) is a complete measurement.
func runAgainst(t *testing.T, port int, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "REDIS_HOST=127.0.0.1", "REDIS_PORT="+strconv.Itoa(port))
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == exitTargetMiss {
		return
	}
	if err != nil {
		t.Errorf("cacheproof %s: %v\n%s\n%s", strings.Join(args, " "), err, so.String(), se.String())
	}
}

// inProject rewrites the container's paths (/project/...) to dir and the
// metrics address to a free port of 127.0.0.1, so the compose project's own
// arguments run here as processes.
func inProject(dir string, args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "/project/"):
			a = filepath.Join(dir, strings.TrimPrefix(a, "/project/"))
		case strings.HasPrefix(a, "0.0.0.0:"):
			a = "127.0.0.1:0"
		}
		out[i] = a
	}
	return out
}

func mustReadReport(t *testing.T, path string) *result.Result {
	t.Helper()
	r, err := readReport(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// singleRun runs the scenario in one process against a fresh Redis, with
// the arguments a shard gets but --shard.
func singleRun(t *testing.T, scenario string, runArgs []string) *result.Result {
	t.Helper()
	port := startRedisServer(t)
	out := filepath.Join(t.TempDir(), "single")
	args := append([]string{"run", "--scenario", scenario, "--set", "target.backend=external", "--out", out,
		"--progress", "none", "-q", "--allow-destructive"}, runArgs...)
	runAgainst(t, port, args...)
	return mustReadReport(t, filepath.Join(out, "report.json"))
}

// The sharded arithmetic without Docker: the compose project's own shard
// and merge arguments run as N=3 processes of the built binary against one
// local redis-server, and the merged report adds up to a single-process
// run of the same scenario and seed.
func TestShardedRunAddsUpToOneRun(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: runs four loads of 4 s each")
	}
	dir := t.TempDir()
	scenario := filepath.Join(dir, compose.ShardsScenario)
	if err := os.WriteFile(scenario, []byte(shardedScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	o := compose.ShardsOptions{N: 3}
	single := singleRun(t, scenario, o.RunArgs)

	port := startRedisServer(t)
	var wg sync.WaitGroup
	for i := 0; i < o.N; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runAgainst(t, port, append(inProject(dir, compose.ShardArgs(o, i)), "-q", "--progress", "none")...)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	runAgainst(t, port, inProject(dir, compose.MergeArgs(o))...)
	shards := make([]*result.Result, o.N)
	for i := range shards {
		shards[i] = mustReadReport(t, filepath.Join(dir, compose.ShardReport(i)))
	}
	merged := mustReadReport(t, filepath.Join(dir, compose.MergedReport))
	checkAddsUp(t, single, merged, shards)
}

// checkAddsUp compares a merged sharded report with a single run of the
// same scenario and seed: what is exact (population, active users, the
// merge's sums, HDR counts, faults run once) must be equal; what the
// shards draw from their own random streams (commands, requests per
// family, hits and misses) within five standard deviations of sampling.
func checkAddsUp(t *testing.T, single, merged *result.Result, shards []*result.Result) {
	t.Helper()
	t.Logf("single: %s", addsUpLine(single))
	t.Logf("merged: %s", addsUpLine(merged))
	if merged.MergedFrom != len(shards) || merged.Users.Population != single.Users.Population || merged.Users.Active != single.Users.Active {
		t.Errorf("merged from %d, population %d, active %d; want %d shards of population %d, %d active",
			merged.MergedFrom, merged.Users.Population, merged.Users.Active, len(shards), single.Users.Population, single.Users.Active)
	}
	var requests, commands, hits, misses uint64
	var count int64
	for _, s := range shards {
		requests += s.Users.Requests
		commands += s.Users.Commands
		hits += s.Cache.Hits
		misses += s.Cache.Misses
		count += s.Latency.Overall.Count
	}
	if merged.Users.Requests != requests || merged.Users.Commands != commands || merged.Cache.Hits != hits || merged.Cache.Misses != misses {
		t.Errorf("merged requests %d commands %d hits %d misses %d, not the shards' sums %d %d %d %d",
			merged.Users.Requests, merged.Users.Commands, merged.Cache.Hits, merged.Cache.Misses, requests, commands, hits, misses)
	}
	for _, r := range []*result.Result{single, merged} {
		if uint64(r.Latency.Overall.Count) != r.Users.Requests {
			t.Errorf("HDR count %d, requests %d: every request is in the histogram once", r.Latency.Overall.Count, r.Users.Requests)
		}
	}
	if merged.Latency.Overall.Count != count {
		t.Errorf("merged HDR count %d, shards' %d", merged.Latency.Overall.Count, count)
	}
	// Commands arrive as a Poisson stream; a family's requests are a
	// compound one (a command makes several), so their spread is widened
	// by the requests per command.
	poisson(t, "commands", float64(single.Users.Commands), float64(merged.Users.Commands), 1)
	perCommand := math.Max(1, float64(single.Users.Requests)/math.Max(1, float64(single.Users.Commands)))
	poisson(t, "requests", float64(single.Users.Requests), float64(merged.Users.Requests), perCommand)
	for fam, s := range single.Latency.ByFamily {
		m := merged.Latency.ByFamily[fam]
		poisson(t, "requests of family "+fam, float64(s.Count), float64(m.Count), perCommand)
	}
	if len(merged.Latency.ByFamily) != len(single.Latency.ByFamily) {
		t.Errorf("families: merged %d, single %d", len(merged.Latency.ByFamily), len(single.Latency.ByFamily))
	}
	ns, nm := float64(single.Cache.Hits+single.Cache.Misses), float64(merged.Cache.Hits+merged.Cache.Misses)
	p := (float64(single.Cache.Hits) + float64(merged.Cache.Hits)) / (ns + nm)
	if sd := math.Sqrt(p * (1 - p) * (1/ns + 1/nm)); math.Abs(single.Cache.HitRate-merged.Cache.HitRate) > 5*sd {
		t.Errorf("hit rate: single %.4f, merged %.4f: more than 5 sd (%.4f) apart", single.Cache.HitRate, merged.Cache.HitRate, sd)
	}
	// The fault acts on the one Redis: run once (by shard 0), listed once.
	if got, want := faultKinds(merged), faultKinds(single); got != want {
		t.Errorf("merged faults %q, single run's %q", got, want)
	}
	for i, s := range shards {
		if kinds := faultKinds(s); (i == 0) != (kinds != "") {
			t.Errorf("shard %d ran faults %q; only shard 0 runs a fault that acts on Redis", i, kinds)
		}
	}
	if len(merged.Client.Shards) != len(shards) {
		t.Errorf("merged client.shards has %d entries, want one per shard", len(merged.Client.Shards))
	}
}

// poisson fails when a and b, two counts of one stream of independent
// arrivals each of weight k, lie more than five standard deviations apart.
func poisson(t *testing.T, what string, a, b, k float64) {
	t.Helper()
	if sd := math.Sqrt((a + b) * k); math.Abs(a-b) > 5*sd {
		t.Errorf("%s: single %.0f, merged %.0f: more than 5 sd (%.0f) apart", what, a, b, sd)
	}
}

func faultKinds(r *result.Result) string {
	var kinds []string
	for _, f := range r.Faults {
		if f.Injected {
			kinds = append(kinds, f.Kind)
		}
	}
	slices.Sort(kinds)
	return strings.Join(kinds, ",")
}

func addsUpLine(r *result.Result) string {
	return fmt.Sprintf("population %d, active %d, commands %d, requests %d (HDR %d), hits %d, misses %d, hit rate %.2f%%, p99 %.2fms, faults %q",
		r.Users.Population, r.Users.Active, r.Users.Commands, r.Users.Requests, r.Latency.Overall.Count, r.Cache.Hits, r.Cache.Misses,
		100*r.Cache.HitRate, r.Latency.Overall.P99, faultKinds(r))
}

// The same on Docker: `cacheproof compose shards 3` writes the project, its
// run.sh builds the FROM scratch generator image, runs the three shard
// containers against one Redis container and merges; the merged report
// adds up to a single-process run, and every container, network and the
// image the test built are gone afterwards. run.sh drives docker compose
// v2 or docker-compose v1 (Debian 12 ships only v1). Skips, saying why,
// without an engine, a compose client or a local Redis image
// (.ci/docker.sh builds one). Prometheus and Grafana (the "dashboards"
// profile) are not started: their images cannot be pulled offline, and
// the load and the merge need neither.
func TestShardedComposeProjectAddsUp(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: builds an image and runs four loads")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("SKIP: no Docker engine reachable (docker info: %v: %s)", err, strings.TrimSpace(string(out)))
	}
	if exec.Command("docker", "compose", "version").Run() != nil {
		if _, err := exec.LookPath("docker-compose"); err != nil {
			t.Skip("SKIP: neither `docker compose` (v2) nor `docker-compose` (v1) is installed (.ci/docker.sh installs docker-compose)")
		}
	}
	image := os.Getenv("CACHEPROOF_REDIS_IMAGE")
	if image == "" {
		image = "cacheproof/redis-local:7"
	}
	if err := exec.Command("docker", "image", "inspect", image).Run(); err != nil {
		t.Skipf("SKIP: Redis image %s is not present and cannot be pulled offline (.ci/docker.sh builds it)", image)
	}
	work := t.TempDir()
	static := filepath.Join(work, "cacheproof-static")
	build := exec.Command("go", "build", "-o", static, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	scenario := filepath.Join(work, "s.yaml")
	if err := os.WriteFile(scenario, []byte(shardedScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	// Names of this run alone, so a concurrent run on the same engine
	// neither shares nor removes them.
	project := fmt.Sprintf("cacheproof-shards-test-%d", os.Getpid())
	generator := "cacheproof/cacheproof-local:test-" + strconv.Itoa(os.Getpid())
	dir := filepath.Join(work, project)
	if code, stdout, stderr := runCmd(composeCmd, "shards", "3", "-s", scenario, "--binary", static, "--out", dir); code != exitOK {
		t.Fatalf("compose shards: exit %d\n%s\n%s", code, stdout, stderr)
	}
	env := append(os.Environ(), compose.ImageEnv+"="+image, compose.GeneratorImageEnv+"="+generator,
		"COMPOSE_PROJECT_NAME="+project, "DASHBOARDS=0", "KEEP=0")
	t.Cleanup(func() { removeComposeProject(t, dir, env, project, generator) })
	t.Log("the dashboards profile (Prometheus, Grafana) is not started: its images cannot be pulled offline, and the load needs neither")
	// A bound on the whole script (four 4 s loads, a build, container
	// starts): past it, TERM lets run.sh's trap tear the project down, and
	// the cleanup's run.sh down removes what is left either way.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, filepath.Join(dir, "run.sh"))
	run.Cancel = func() error { return run.Process.Signal(syscall.SIGTERM) }
	run.WaitDelay = time.Minute
	run.Env = env
	start := time.Now()
	out, err := run.CombinedOutput()
	t.Logf("run.sh took %s; %s", time.Since(start).Round(time.Second), grepLines(out, "run.sh:"))
	if ee, ok := err.(*exec.ExitError); err != nil && !(ok && (ee.ExitCode() == exitTargetMiss || ee.ExitCode() == exitInconclusive)) {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	shards := make([]*result.Result, 3)
	for i := range shards {
		shards[i] = mustReadReport(t, filepath.Join(dir, compose.ShardReport(i)))
	}
	merged := mustReadReport(t, filepath.Join(dir, compose.MergedReport))
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if want := mergedExit(merged); code != want {
		t.Errorf("run.sh exited %d on a %s merged report; want %d, as run would", code, merged.Verdict, want)
	}
	if left := projectContainers(t, project); left != "" {
		t.Errorf("run.sh left containers of %s: %s", project, left)
	}
	checkAddsUp(t, singleRun(t, scenario, nil), merged, shards)
}

// removeComposeProject removes what a run of the project may have left
// (run.sh down; the generator image) and fails the test if any container
// of the project is still there.
func removeComposeProject(t *testing.T, dir string, env []string, project, generator string) {
	t.Helper()
	down := exec.Command(filepath.Join(dir, "run.sh"), "down")
	down.Env = env
	if out, err := down.CombinedOutput(); err != nil {
		t.Errorf("run.sh down: %v\n%s", err, out)
	}
	if out, err := exec.Command("docker", "image", "rm", "-f", generator).CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "No such image") {
		t.Errorf("remove %s: %v\n%s", generator, err, out)
	}
	if left := projectContainers(t, project); left != "" {
		t.Errorf("containers of %s left after run.sh down: %s", project, left)
	}
}

// projectContainers lists the containers, running or not, that compose
// (v1 or v2) labelled as the project's.
func projectContainers(t *testing.T, project string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=com.docker.compose.project="+project).Output()
	if err != nil {
		t.Errorf("docker ps: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// grepLines keeps the lines of out that hold s.
func grepLines(out []byte, s string) string {
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, s) {
			keep = append(keep, strings.TrimSpace(l))
		}
	}
	return strings.Join(keep, "; ")
}

func composeCmd(args []string, o, e *bytes.Buffer) int { return composeMain(args, o, e) }

// compose shards: usage errors exit 2 with a reason; a dynamically linked
// binary is refused (the image is FROM scratch); with a static one the
// project is written, binary and scenario beside it, and never over an
// existing one.
func TestComposeShardsWritesTheProject(t *testing.T) {
	dir := t.TempDir()
	scenario := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(scenario, []byte(shardedScenario), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"shards", "-s", scenario, "--out", dir}, "want the number of shards"},
		{[]string{"shards", "zero", "-s", scenario, "--out", dir}, "N must be a number of shards"},
		{[]string{"shards", "3", "--out", dir}, "--scenario and --out are required"},
		{[]string{"shards", "3", "-s", scenario, "--out", dir, "--binary", binary}, "dynamically linked"},
	} {
		code, _, stderr := runCmd(composeCmd, c.args...)
		if code != exitUsage || !strings.Contains(stderr, c.want) {
			t.Errorf("compose %v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	hello := filepath.Join(dir, "hello")
	src := filepath.Join(dir, "hello.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", hello, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "project")
	args := []string{"shards", "3", "-s", scenario, "--out", out, "--binary", hello, "--set", "workload.active_users=60", "--run-arg=--duration=2s"}
	if code, stdout, stderr := runCmd(composeCmd, args...); code != exitOK || !strings.Contains(stdout, "3 shards of sharded-equivalence") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, f := range []string{"compose.yml", "Dockerfile", "prometheus.yml", "run.sh", compose.ShardsBinary, compose.ShardsScenario,
		"grafana/dashboards/cacheproof.json", "grafana/provisioning/datasources/prometheus.yml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("project lacks %s: %v", f, err)
		}
	}
	yml, _ := os.ReadFile(filepath.Join(out, "compose.yml"))
	if !strings.Contains(string(yml), `"--set","workload.active_users=60","--duration=2s"`) {
		t.Errorf("the shards do not get --set and --run-arg:\n%s", yml)
	}
	if code, _, stderr := runCmd(composeCmd, args...); code != exitUsage || !strings.Contains(stderr, "already holds a compose.yml") {
		t.Errorf("second write: exit %d, %q", code, stderr)
	}
}
