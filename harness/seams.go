package harness

import (
	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// The harness's seams are small interfaces, each declared beside its one
// user: the driver's cache (driver.go), the sampler's infoSource
// (sampler.go), the server statistics' statsControl (serverstats.go), the
// driver's command source (prefill.go). The real parts fill them; these
// checks say so at compile time, so a change to pool, topology or workload
// that breaks one fails the build here rather than at a call site.
var (
	_ cache        = (*pool.Manager)(nil)
	_ chaos.Reader = (*pool.Manager)(nil) // lost-write read-backs

	_ infoSource   = topology.InfoSource(nil)
	_ statsControl = topology.Deployment(nil)

	_ source = (*workload.Schedule)(nil)
	_ source = (*shifted)(nil)
)
