package harness

import (
	"github.com/cacheproof/cacheproof/chaos"
	"github.com/cacheproof/cacheproof/engine"
	"github.com/cacheproof/cacheproof/pool"
	"github.com/cacheproof/cacheproof/topology"
	"github.com/cacheproof/cacheproof/workload"
)

// The harness's seams are small interfaces, each declared beside its one
// user: the sampler's infoSource (sampler.go), the server statistics'
// statsControl (serverstats.go); the engine's Source (engine/dispatch.go)
// and Executor, the bot layer's Cache (bots/bots.go, checked there). The
// real parts fill them; these checks say so at compile time, so a change
// to pool, topology or workload that breaks one fails the build here
// rather than at a call site.
var (
	_ chaos.Reader = (*pool.Manager)(nil) // lost-write read-backs

	_ infoSource   = topology.InfoSource(nil)
	_ statsControl = topology.Deployment(nil)

	_ engine.Source = (*workload.Schedule)(nil)
	_ engine.Source = (*shifted)(nil)
)
