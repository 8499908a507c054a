package topology

import "testing"

func TestShapesSmoke(t *testing.T) {
	for _, s := range []Shape{ShapeReplica, ShapeSentinel, ShapeCluster} {
		t.Run(string(s), func(t *testing.T) {
			d := startT(t, Spec{Shape: s})
			p, err := d.Primary(ctxT(t))
			t.Logf("%v %v %v", d.Nodes(), p, err)
		})
	}
}
