package chaos

import (
	"context"
	"time"
)

func init() { Register("pause", func() Kind { return &pause{Mode: "sigstop"} }) }

// pause freezes a node for for:. Mode sigstop (the default) stops the
// process (SIGSTOP, then SIGCONT; docker pause on the container backend;
// CLIENT PAUSE ALL on an external Redis, which the tool cannot signal):
// clients stall. Modes client-pause-write and client-pause-all send CLIENT
// PAUSE WRITE or ALL: writes, or every command, wait. Either way the pause
// is set to end by itself when for: has passed (a timer, or Redis's own
// pause timeout), so a tool that dies mid-fault does not leave Redis frozen,
// and the fault's end lifts it (early, when the run ends first).
type pause struct {
	Mode string `param:"mode" values:"sigstop,client-pause-write,client-pause-all"`
}

var _ Kind = (*pause)(nil)

func (*pause) Traits() Traits { return Traits{For: ForRequired, Sentinels: true} }

func (*pause) Validate(*Validation) {}

func (k *pause) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
	node, dep, dur := t.Node.Name, t.Deployment, max(t.Fault.For, time.Millisecond)
	switch k.Mode {
	case "client-pause-write", "client-pause-all":
		what := "WRITE"
		if k.Mode == "client-pause-all" {
			what = "ALL"
		}
		if _, err := dep.Do(ctx, node, "CLIENT", "PAUSE", dur.Milliseconds(), what); err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			_, err := dep.Do(ctx, node, "CLIENT", "UNPAUSE")
			return err
		}, nil
	default:
		if err := dep.PauseFor(ctx, node, dur); err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { return dep.Resume(ctx, node) }, nil
	}
}
