package chaos

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/cacheproof/cacheproof/topology"
)

func init() { Register("readonly", func() Kind { return &readonly{} }) }

// readonly demotes a node to a replica for for:, with REPLICAOF towards an
// address this process holds open but that never completes a handshake (it
// accepts and closes every connection). A Redis 7 replica keeps its dataset
// until a full sync from its new primary succeeds, so nothing is lost, no
// other process can take the port meanwhile, and writes get READONLY.
// REPLICAOF NO ONE (or back to its former primary, for a node that was a
// replica) ends it. Acknowledged writes are tracked through it.
type readonly struct{}

var _ Kind = (*readonly)(nil)

func (*readonly) Traits() Traits { return Traits{For: ForRequired, TrackWrites: true} }

func (*readonly) Validate(v *Validation) {
	if v.Site.Shape == topology.ShapeCluster {
		v.Add("kind", "fault readonly (REPLICAOF) is not possible on a cluster node; use failover")
	}
}

func (*readonly) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
	d := &demotion{t: t}
	err := d.start(ctx)
	return d.end, err
}

// demotion is one occurrence: what it changed, so the end undoes only that.
type demotion struct {
	t          *Target
	ln         net.Listener
	wg         sync.WaitGroup
	demoted    bool
	origMaster string // host port, when the node was a replica
}

func (d *demotion) start(ctx context.Context) error {
	dep, node := d.t.Deployment, d.t.Node.Name
	inf, err := dep.Info(ctx, node, "replication")
	if err != nil {
		return err
	}
	if inf["role"] == "slave" {
		d.origMaster = inf["master_host"] + " " + inf["master_port"]
	}
	d.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the throwaway primary: %w", err)
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			c, err := d.ln.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	host, port, _ := net.SplitHostPort(d.ln.Addr().String())
	if _, err := dep.Do(ctx, node, "REPLICAOF", host, port); err != nil {
		return err
	}
	d.demoted = true
	d.t.Notef("REPLICAOF %s %s on %s (an address that never completes a sync)", host, port, node)
	return nil
}

func (d *demotion) end(ctx context.Context) error {
	dep, node := d.t.Deployment, d.t.Node.Name
	var err error
	if d.demoted {
		if d.origMaster != "" {
			host, port, _ := strings.Cut(d.origMaster, " ")
			_, err = dep.Do(ctx, node, "REPLICAOF", host, port)
		} else {
			_, err = dep.Do(ctx, node, "REPLICAOF", "NO", "ONE")
		}
	}
	if d.ln != nil {
		_ = d.ln.Close()
		d.wg.Wait()
	}
	return err
}
