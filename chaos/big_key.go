package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/cacheproof/cacheproof/workload"
)

func init() { Register("big-key", func() Kind { return &bigKey{Size: 1 << 20} }) }

// bigKey writes one value of size bytes (default 1mb) at the fault's start
// and sends a fraction of one family's lookups to it for for:. Each read
// moves the whole value: Redis's CPU and network, and the head-of-line
// wait of the other keys' commands behind it on the same connections and
// the same single thread, are what it proves. The key is deleted at the
// end.
type bigKey struct {
	Family   string  `param:"family"`
	Fraction float64 `param:"fraction"`
	Key      string  `param:"key"`
	Size     int64   `param:"value_size,size"`
}

var _ Kind = (*bigKey)(nil)
var _ Perturber = (*bigKey)(nil)

func (*bigKey) Traits() Traits { return Traits{For: ForRequired, Workload: true} }

// maxBigValue bounds the big key: Redis's proto-max-bulk-len default.
const maxBigValue = 512 << 20

func (k *bigKey) Validate(v *Validation) {
	v.redirect(k.Family, k.Fraction, "big-key needs fraction: the share of the family's lookups that read the big key (e.g. 0.1)")
	if k.Size <= 0 || k.Size > maxBigValue {
		v.Add("value_size", "%d out of range, expected a size from 1b to 512mb", k.Size)
	}
}

func (k *bigKey) Perturbation() workload.Perturbation {
	return workload.Perturbation{Mode: workload.PerturbBigKey, Family: k.Family, Share: k.Fraction, Key: k.Key, Size: int(k.Size)}
}

func (k *bigKey) Inject(ctx context.Context, t *Target) (func(context.Context) error, error) {
	if t.Model == nil {
		return nil, fmt.Errorf("big-key needs the run's workload model")
	}
	p, err := t.Model.Resolve(k.Perturbation())
	if err != nil {
		return nil, err
	}
	// A valid value of the workload's (checksum and version), so every
	// read of it verifies; it outlives the window by a minute at most.
	val := workload.Value(p.Key, 1, p.Size)
	ttl := t.Fault.For + time.Minute
	node, err := t.doKey(ctx, "SET", t.KeyPrefix+p.Key, val, "PX", ttl.Milliseconds())
	if err != nil {
		return nil, fmt.Errorf("big-key: SET %s (%s): %w", p.Key, fmtBytes(int64(p.Size)), err)
	}
	mode := t.cacheMode()
	mode.Keys, mode.ValueBytes, mode.Instances = 1, int64(p.Size), t.Model.Instances()
	watchEnd, err := watchPerturbation(t, p, "big key")
	end := func(ectx context.Context) error {
		var werr error
		if watchEnd != nil {
			werr = watchEnd(ectx)
		}
		if _, err := t.Deployment.Do(ectx, node, "UNLINK", t.KeyPrefix+p.Key); err != nil {
			return fmt.Errorf("big-key: UNLINK %s: %w", p.Key, err)
		}
		return werr
	}
	return end, err
}
