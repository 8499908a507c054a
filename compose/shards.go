package compose

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ShardsOptions describe the compose project of a sharded load: one Redis
// and N generator containers, each running `cacheproof run --shard i/N`
// against it, then a merge of their reports.
type ShardsOptions struct {
	// N is the number of shards (generator containers), at least 1.
	N int
	// Server is the Redis the project starts (the scenario's; the zero
	// value keeps the cache layer's 256 MB, allkeys-lru).
	Server Server
	// RunArgs are further `cacheproof run` flags every shard gets, such as
	// --duration 10s; the scenario, shard, output folder and metrics
	// address are set by the project.
	RunArgs []string
	// Builtin names a built-in scenario the shards run (embedded in the
	// binary); "" runs the project's scenario.yaml (ShardsScenario).
	Builtin string
	// MetricsPort is where each shard serves /metrics inside its
	// container; 0 means 9090.
	MetricsPort int
}

// ShardsImage is the generator image the project builds from its
// Dockerfile (FROM scratch, the static cacheproof binary beside it), so
// nothing is pulled for the load itself.
const ShardsImage = "cacheproof/cacheproof-local:latest"

// GeneratorImageEnv overrides the generator image's name (ShardsImage by
// default), so two projects built at once on one engine (tests, CI) do not
// retag each other's image.
const GeneratorImageEnv = "GENERATOR_IMAGE"

// UserEnv is the uid:gid the generator containers run as; run.sh sets it
// to the caller's, so the reports written through the bind-mounted results
// folder belong to whoever ran the load (0:0 when unset).
const UserEnv = "CACHEPROOF_USER"

// generatorImage is the generator image as compose.yml names it.
const generatorImage = "${" + GeneratorImageEnv + ":-" + ShardsImage + "}"

// ShardsBinary is the file name the project's Dockerfile copies: the
// statically linked cacheproof binary, put beside the compose file.
const ShardsBinary = "cacheproof"

// ShardsScenario is the scenario's file name in the project folder.
const ShardsScenario = "scenario.yaml"

// ShardsFile is one file of the project: its path relative to the project
// folder, its content and its mode.
type ShardsFile struct {
	Path    string
	Content []byte
	Mode    uint32
}

// grafanaFiles are the dashboard and its provisioning, by their path in
// Files and in the project.
var grafanaFiles = [][2]string{
	{"grafana/cacheproof.json", "grafana/dashboards/cacheproof.json"},
	{"grafana/datasource.yml", "grafana/provisioning/datasources/prometheus.yml"},
	{"grafana/dashboards.yml", "grafana/provisioning/dashboards/cacheproof.yml"},
}

// ShardService names shard i's compose service.
func ShardService(i int) string { return fmt.Sprintf("shard-%d", i) }

// ShardReport is shard i's report inside the project folder.
func ShardReport(i int) string { return fmt.Sprintf("results/shard-%d/report.json", i) }

// MergedReport is the merged report inside the project folder.
const MergedReport = "results/merged/report.json"

// ShardArgs are the `cacheproof` arguments shard i of o runs in its
// container: the scenario against the project's Redis (an external one
// for the tool), its slice of the population, its report folder and its
// metrics endpoint. --allow-destructive lets shard 0 run the scenario's
// faults on a Redis the project owns.
func ShardArgs(o ShardsOptions, i int) []string {
	scenario := "/project/" + ShardsScenario
	if o.Builtin != "" {
		scenario = o.Builtin
	}
	args := []string{"run", "--scenario", scenario, "--set", "target.backend=external",
		"--shard", fmt.Sprintf("%d/%d", i, o.N), "--out", "/project/results/shard-" + fmt.Sprint(i),
		"--metrics-addr", fmt.Sprintf("0.0.0.0:%d", o.metricsPort()), "--progress", "lines", "--allow-destructive"}
	return append(args, o.RunArgs...)
}

// MergeArgs are the merge step's `cacheproof` arguments; it exits on the
// merged verdict as a single run would (run.sh ends with its code).
func MergeArgs(o ShardsOptions) []string {
	args := []string{"merge"}
	for i := 0; i < o.N; i++ {
		args = append(args, "/project/"+ShardReport(i))
	}
	return append(args, "-o", "/project/"+MergedReport, "--html", "/project/results/merged/report.html", "--verdict-exit")
}

func (o ShardsOptions) metricsPort() int {
	if o.MetricsPort == 0 {
		return 9090
	}
	return o.MetricsPort
}

// Shards writes the compose project of a sharded load: compose.yml (Redis,
// shard-0..N-1, the merge step, and Prometheus and Grafana under the
// "dashboards" profile), the generator's Dockerfile, prometheus.yml
// scraping every shard, Grafana's provisioning with the dashboard, and
// run.sh, which builds, runs the shards, merges and tears down. The
// scenario file (unless Builtin) and the static binary are the caller's to
// put beside them (ShardsScenario, ShardsBinary).
func Shards(o ShardsOptions) ([]ShardsFile, error) {
	if o.N < 1 {
		return nil, fmt.Errorf("compose shards: need at least 1 shard, got %d", o.N)
	}
	files := []ShardsFile{
		{Path: "compose.yml", Content: []byte(shardsCompose(o)), Mode: 0o644},
		{Path: "Dockerfile", Content: []byte(shardsDockerfile), Mode: 0o644},
		{Path: "prometheus.yml", Content: []byte(PrometheusConfig(o)), Mode: 0o644},
		{Path: "run.sh", Content: []byte(shardsRunScript(o)), Mode: 0o755},
	}
	for _, g := range grafanaFiles {
		b, err := Files.ReadFile(g[0])
		if err != nil {
			return nil, fmt.Errorf("compose shards: read %s: %w", g[0], err)
		}
		files = append(files, ShardsFile{Path: g[1], Content: b, Mode: 0o644})
	}
	return files, nil
}

// shardsDockerfile is the generator image: the statically linked binary
// and nothing else, as .ci/docker.sh builds Redis's, so building it pulls
// nothing. WORKDIR makes /tmp (the host timer probe and Go's temp files).
const shardsDockerfile = `# cacheproof's load generator, FROM scratch: the statically linked binary
# beside this file (CGO_ENABLED=0 go build -o cacheproof ./cmd/cacheproof)
# and nothing else, so building it pulls no image.
FROM scratch
COPY cacheproof /cacheproof
WORKDIR /tmp
WORKDIR /project
ENV TMPDIR=/tmp
ENTRYPOINT ["/cacheproof"]
`

// jsonList writes a string list as a YAML flow sequence (JSON is YAML).
func jsonList(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}

// redisArgs is the project's Redis command line: the scenario's settings,
// reachable from the shards' containers, no snapshots.
func redisArgs(s Server) []string {
	mm, pol := s.MaxMemory, s.Policy
	if mm == "" {
		mm = "256mb"
	}
	if pol == "" {
		pol = "allkeys-lru"
	}
	args := []string{"redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no",
		"--maxmemory", mm, "--maxmemory-policy", pol}
	keys := slices.Sorted(maps.Keys(s.Config))
	for _, k := range keys {
		args = append(args, "--"+k, s.Config[k])
	}
	return args
}

func shardsCompose(o ShardsOptions) string {
	image := seedImage
	if o.Server.Image != "" {
		image = "${" + ImageEnv + ":-" + o.Server.Image + "}"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# A sharded cacheproof load: %d generator containers, each running one slice
# of the population (--shard i/%d) against one Redis, then a merge of their
# reports. Written by 'cacheproof compose shards'; run it with ./run.sh, which
# drives docker compose v2 or docker-compose v1 (1.28 or later) alike. By hand
# (v1: docker-compose for docker compose, and wait for redis's healthcheck
# yourself, as v1 has no up --wait):
#
#   docker compose build && docker compose up -d --wait redis
#   docker compose up --no-deps %s
#   docker compose --profile merge run --rm merge
#   docker compose --profile dashboards up -d prometheus grafana   # optional
#
# No version: key: both v1 (1.27 and later) and v2 read this as the Compose
# Specification (profiles, depends_on conditions, pull_policy).
services:
  redis:
    image: %s
    command: %s
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      timeout: 3s
      retries: 30
`, o.N, o.N, strings.Join(serviceNames(o.N), " "), image, jsonList(redisArgs(o.Server)))
	// The generator runs as the caller (run.sh sets UserEnv) so the reports
	// in the bind-mounted results folder are theirs; /tmp is a tmpfs
	// (mode 1777) since the FROM scratch image's /tmp belongs to root.
	runAs := fmt.Sprintf(`    user: "${%s:-0:0}"
    tmpfs: [/tmp]
`, UserEnv)
	for i := 0; i < o.N; i++ {
		fmt.Fprintf(&b, `  %s:
    image: %s
`, ShardService(i), generatorImage)
		if i == 0 {
			b.WriteString("    build: {context: ., dockerfile: Dockerfile}\n")
		} else {
			b.WriteString("    pull_policy: never\n")
		}
		volumes := []string{"./results:/project/results"}
		if o.Builtin == "" {
			volumes = append(volumes, "./"+ShardsScenario+":/project/"+ShardsScenario+":ro")
		}
		fmt.Fprintf(&b, `    command: %s
    environment: {REDIS_HOST: redis, REDIS_PORT: "6379"}
    volumes: %s
%s    depends_on: {redis: {condition: service_healthy}}
`, jsonList(ShardArgs(o, i)), jsonList(volumes), runAs)
	}
	fmt.Fprintf(&b, `  merge:
    image: %s
    pull_policy: never
    profiles: [merge]
    command: %s
    volumes: ["./results:/project/results"]
%s  prometheus:
    image: ${PROMETHEUS_IMAGE:-prom/prometheus:latest}
    profiles: [dashboards]
    command: ["--config.file=/etc/prometheus/prometheus.yml"]
    volumes: ["./prometheus.yml:/etc/prometheus/prometheus.yml:ro"]
    ports: ["127.0.0.1:9090:9090"]
  grafana:
    image: ${GRAFANA_IMAGE:-grafana/grafana:latest}
    profiles: [dashboards]
    environment: {GF_AUTH_ANONYMOUS_ENABLED: "true", GF_AUTH_ANONYMOUS_ORG_ROLE: Viewer}
    volumes:
      - ./grafana/provisioning:/etc/grafana/provisioning:ro
      - ./grafana/dashboards:/var/lib/grafana/dashboards:ro
    ports: ["127.0.0.1:3000:3000"]
    depends_on: [prometheus]
`, generatorImage, jsonList(MergeArgs(o)), runAs)
	return b.String()
}

func serviceNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = ShardService(i)
	}
	return out
}

// PrometheusConfig scrapes every shard's /metrics every 5 s; each series
// carries its shard label from the tool itself (--shard i/n).
func PrometheusConfig(o ShardsOptions) string {
	targets := make([]string, o.N)
	for i := range targets {
		targets[i] = fmt.Sprintf("%s:%d", ShardService(i), o.metricsPort())
	}
	return fmt.Sprintf(`# Prometheus for a sharded cacheproof load: every shard's /metrics.
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: cacheproof
    metrics_path: /metrics
    static_configs:
      - targets: %s
`, jsonList(targets))
}

// RedisReadyTimeout bounds run.sh's wait for the Redis container's
// healthcheck, in seconds.
const RedisReadyTimeout = 60

// shardsRunScript is run.sh. It finds docker compose v2 or docker-compose
// v1 and drives both the same way: v1 has no `up --wait`, so the wait on
// Redis's healthcheck is the script's own (docker inspect), and neither
// flavour's attached `up` returns the shards' exit codes, so the script
// reads them and refuses to merge a shard that did not finish a
// measurement (0 pass, 1 target missed, 4 inconclusive are finished ones).
// The project is removed on any exit, Ctrl-C included, unless KEEP=1.
func shardsRunScript(o ShardsOptions) string {
	shards := strings.Join(serviceNames(o.N), " ")
	return fmt.Sprintf(`#!/bin/sh
# Runs the sharded load of compose.yml: builds the generator image (FROM
# scratch, nothing pulled), starts Redis and waits for its healthcheck, runs
# the %[1]d shards together, merges their reports into %[2]s
# and removes the project's containers, network and volumes (also when
# interrupted). Drives docker compose v2 or docker-compose v1 (1.28 or later).
#
#   ./run.sh        the load; exits with the merge's code (0 pass, 1 a target
#                   missed, 4 inconclusive), 3 when a step fails
#   ./run.sh down   removes what a KEEP=1 run left
#
# REDIS_IMAGE picks the Redis image (e.g. cacheproof/redis-local:7 from
# .ci/docker.sh); %[3]s names the generator image built here;
# KEEP=1 keeps the containers; DASHBOARDS=1 also starts Prometheus and
# Grafana (http://127.0.0.1:3000), whose images must be present or
# pullable: the load itself needs neither.
set -eu
cd "$(dirname "$0")"
if docker compose version >/dev/null 2>&1; then
	compose() { docker compose "$@"; }
	flavour="docker compose $(docker compose version --short 2>/dev/null || echo v2)"
elif command -v docker-compose >/dev/null 2>&1; then
	compose() { docker-compose "$@"; }
	flavour="docker-compose $(docker-compose version --short 2>/dev/null || echo v1)"
else
	echo "run.sh: neither 'docker compose' (v2) nor 'docker-compose' (v1) is installed" >&2
	exit 3
fi
: "${%[4]s:=$(id -u):$(id -g)}"
export %[4]s
down() { compose --profile merge --profile dashboards down -v --remove-orphans; }
if [ "${1:-}" = down ]; then
	down
	exit 0
fi
fail() {
	echo "run.sh: $*" >&2
	exit 3
}
cleanup() { if [ "${KEEP:-0}" != 1 ]; then down >/dev/null 2>&1 || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# container SERVICE: the id of the service's container, running or not.
container() {
	id=$(compose ps -a -q "$1")
	[ -n "$id" ] || fail "no container for $1"
	echo "$id"
}

echo "run.sh: using $flavour"
compose build || fail "building the generator image failed"
compose up -d redis || fail "starting redis failed"
redis=$(container redis)
waited=0
while :; do
	state=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$redis")
	case $state in
	healthy) break ;;
	unhealthy | exited | dead)
		compose logs redis >&2
		fail "redis is $state"
		;;
	esac
	waited=$((waited + 1))
	if [ "$waited" -gt %[5]d ]; then
		compose logs redis >&2
		fail "redis not healthy after %[5]d s (state: $state)"
	fi
	sleep 1
done
echo "run.sh: redis healthy after ${waited} s"
if [ "${DASHBOARDS:-0}" = 1 ]; then compose --profile dashboards up -d prometheus grafana; fi
compose up --no-deps %[6]s || fail "compose up of the shards failed"
unfinished=""
for s in %[6]s; do
	id=$(container "$s")
	code=$(docker inspect -f '{{.State.ExitCode}}' "$id") || fail "cannot read $s's exit code"
	case $code in
	0 | 1 | 4) ;;
	*) unfinished="$unfinished $s (exit $code)" ;;
	esac
done
[ -z "$unfinished" ] || fail "not merged: shards without a finished measurement:$unfinished; their output is above"
code=0
compose --profile merge run --rm merge || code=$?
exit $code
`, o.N, MergedReport, GeneratorImageEnv, UserEnv, RedisReadyTimeout, shards)
}
