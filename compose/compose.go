// Package compose owns the files an SRE uses to run, outside cacheproof, the
// same Redis shapes the tool starts itself: docker compose files for
// standalone (the cache layer's own compose block), primary+replica+3
// sentinels and a six-node cluster, and the Kubernetes manifests of a
// sharded load. The files are embedded so `cacheproof compose` can hand them
// out; README.md says how to use them and how CI builds its local Redis image.
package compose

import (
	"embed"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Files holds the compose files, the sentinel config template, the k8s/
// folder, the Grafana dashboard (grafana/) and README.md, under their names
// in this folder.
//
//go:embed *.yml sentinel.conf README.md k8s grafana
var Files embed.FS

// ImageEnv is the variable every compose file reads its image from
// (${REDIS_IMAGE:-redis:7-alpine}).
const ImageEnv = "REDIS_IMAGE"

// K8s names the Kubernetes bundle among the targets.
const K8s = "k8s"

// bundles maps every target (a topology shape, or k8s) to the files it
// needs, the one to apply first. The replica shape is served by
// sentinel.yml, which holds a primary and a replica.
var bundles = map[string][]string{
	"standalone": {"standalone.yml"},
	"replica":    {"sentinel.yml", "sentinel.conf"},
	"sentinel":   {"sentinel.yml", "sentinel.conf"},
	"cluster":    {"cluster.yml"},
	K8s:          {"k8s/shards.yaml", "k8s/Dockerfile", "k8s/SHARDING.md"},
}

// Bundle lists the files a target needs, by their names in Files: the main
// one first, then the ones it reads or documents.
func Bundle(target string) ([]string, error) {
	files, ok := bundles[target]
	if !ok {
		return nil, fmt.Errorf("compose: no files for %q (have %v)", target, Targets())
	}
	return append([]string(nil), files...), nil
}

// Targets lists every target with files: the shapes and k8s.
func Targets() []string {
	return slices.Sorted(maps.Keys(bundles))
}

// FileFor returns the compose file for a topology shape.
func FileFor(shape string) (name string, content []byte, err error) {
	files, ok := bundles[shape]
	if !ok || shape == K8s {
		return "", nil, fmt.Errorf("compose: no compose file for shape %q (have %v)", shape, Shapes())
	}
	name = files[0]
	content, err = Files.ReadFile(name)
	if err != nil {
		return "", nil, fmt.Errorf("compose: read %s: %w", name, err)
	}
	return name, content, nil
}

// Shapes lists the shapes that have a compose file.
func Shapes() []string {
	var out []string
	for _, t := range Targets() {
		if t != K8s {
			out = append(out, t)
		}
	}
	return out
}

// seedServer is the Redis settings every compose file is written with: the
// cache layer's own design (256 MB, allkeys-lru).
const seedServer = "--maxmemory 256mb --maxmemory-policy allkeys-lru"

// seedImage is the image every compose file defaults to.
const seedImage = "${" + ImageEnv + ":-redis:7-alpine}"

// Server is the Redis a compose file starts, as a scenario's target
// describes it; the zero value keeps the files' own (the seed's design).
type Server struct {
	MaxMemory string            // redis.conf notation, "32mb"; "" keeps 256mb
	Policy    string            // maxmemory-policy; "" keeps allkeys-lru
	Config    map[string]string // further redis.conf directives, each passed as --key value
	Image     string            // the default image; "" keeps redis:7-alpine ($REDIS_IMAGE still wins)
}

// Render is a file of a bundle with its Redis settings replaced by s's, so
// that `cacheproof compose -s SCENARIO` hands out the Redis the scenario
// describes instead of the seed's 256 MB. Files without Redis settings
// (sentinel.conf, the k8s bundle) are returned as they are.
func Render(content []byte, s Server) []byte {
	text := string(content)
	mm, pol := s.MaxMemory, s.Policy
	if mm == "" {
		mm = "256mb"
	}
	if pol == "" {
		pol = "allkeys-lru"
	}
	args := "--maxmemory " + mm + " --maxmemory-policy " + pol
	keys := slices.Sorted(maps.Keys(s.Config))
	for _, k := range keys {
		args += " --" + k + " " + quoteArg(s.Config[k])
	}
	text = strings.ReplaceAll(text, seedServer, args)
	if s.Image != "" {
		text = strings.ReplaceAll(text, seedImage, "${"+ImageEnv+":-"+s.Image+"}")
	}
	return []byte(text)
}

// quoteArg quotes a directive's value for a compose command line when it
// holds a space.
func quoteArg(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"'") {
		return "'" + strings.ReplaceAll(v, "'", `'"'"'`) + "'"
	}
	return v
}
