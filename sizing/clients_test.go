package sizing

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPoolInUseMatchesALIFOPool checks poolInUse's closed form against a
// LIFO pool driven by Poisson requests with exponential holds: the mean,
// over many windows, of how many distinct connections served a request in
// each. The two agree within 5 % (plus 0.05 for the sampling) from a pool
// that is idle most of the time to one that is busy all of it.
func TestPoolInUseMatchesALIFOPool(t *testing.T) {
	for _, c := range []struct{ rate, hold, window float64 }{
		{100, 100e-6, 3}, {426, 200e-6, 3}, {2500, 300e-6, 3}, {20000, 500e-6, 3}, {5, 1e-3, 3},
	} {
		want := lifoPool(c.rate, c.hold, c.window, 400, rand.New(rand.NewPCG(1, 2)))
		got := poolInUse(c.rate, c.hold, c.window)
		t.Logf("rate %g/s, hold %g ms: model %.3f connections in use, simulated LIFO pool %.3f", c.rate, c.hold*1e3, got, want)
		if math.Abs(got-want) > 0.05*want+0.05 {
			t.Errorf("rate %g/s, hold %g ms: poolInUse %.3f, a simulated LIFO pool %.3f", c.rate, c.hold*1e3, got, want)
		}
	}
	// More requests never use fewer connections.
	prev := 0.0
	for r := 1.0; r < 1e5; r *= 1.5 {
		u := poolInUse(r, 200e-6, 3)
		if u < prev-1e-9 {
			t.Fatalf("rate %g: %.4f connections, fewer than %.4f at a lower rate", r, u, prev)
		}
		prev = u
	}
	if got := poolInUse(0, 1e-3, 3); got != 0 {
		t.Errorf("no requests: %v connections in use, want 0", got)
	}
}

// lifoPool simulates windows of a LIFO connection pool and returns the
// mean number of distinct connections that served in a window.
func lifoPool(rate, hold, window float64, windows int, rng *rand.Rand) float64 {
	var idle []int // stack of idle connection ids, last returned on top
	var busyUntil []float64
	var busyConn []int
	conns := 0
	total := 0
	now := 0.0
	for w := range windows + 1 {
		end := float64(w+1) * window
		used := map[int]bool{}
		for {
			now += rng.ExpFloat64() / rate
			if now >= end {
				now = end
				break
			}
			// return the connections whose requests are done, in order
			for {
				i := -1
				for j, u := range busyUntil {
					if u <= now && (i < 0 || u < busyUntil[i]) {
						i = j
					}
				}
				if i < 0 {
					break
				}
				idle = append(idle, busyConn[i])
				busyUntil = slices.Delete(busyUntil, i, i+1)
				busyConn = slices.Delete(busyConn, i, i+1)
			}
			var c int
			if len(idle) > 0 {
				c, idle = idle[len(idle)-1], idle[:len(idle)-1]
			} else {
				c = conns
				conns++
			}
			used[c] = true
			busyUntil = append(busyUntil, now+rng.ExpFloat64()*hold)
			busyConn = append(busyConn, c)
		}
		if w > 0 { // the first window warms the pool
			total += len(used)
		}
	}
	return float64(total) / float64(windows)
}
