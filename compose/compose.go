// Package compose owns the docker compose files an SRE uses to run, outside
// cacheproof, the same Redis shapes the tool starts itself: standalone (the
// cache layer's own compose block), primary+replica+3 sentinels, and a
// six-node cluster. The files are embedded so the command can hand them out;
// README.md says how to use them and how CI builds its local Redis image.
package compose

import (
	"embed"
	"fmt"
	"sort"
)

// Files holds the compose files, the sentinel config template and README.md.
//
//go:embed *.yml sentinel.conf README.md
var Files embed.FS

// ImageEnv is the variable every compose file reads its image from
// (${REDIS_IMAGE:-redis:7-alpine}).
const ImageEnv = "REDIS_IMAGE"

// byShape maps topology shape names to compose files. The replica shape is
// served by sentinel.yml, which holds a primary and a replica.
var byShape = map[string]string{
	"standalone": "standalone.yml",
	"replica":    "sentinel.yml",
	"sentinel":   "sentinel.yml",
	"cluster":    "cluster.yml",
}

// FileFor returns the compose file for a topology shape.
func FileFor(shape string) (name string, content []byte, err error) {
	name, ok := byShape[shape]
	if !ok {
		return "", nil, fmt.Errorf("compose: no compose file for shape %q (have %v)", shape, Shapes())
	}
	content, err = Files.ReadFile(name)
	if err != nil {
		return "", nil, fmt.Errorf("compose: read %s: %w", name, err)
	}
	return name, content, nil
}

// Shapes lists the shapes that have a compose file.
func Shapes() []string {
	out := make([]string, 0, len(byShape))
	for s := range byShape {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
