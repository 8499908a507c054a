package pool

import "sync"

// flightGroup collapses concurrent get-or-fetch misses on one key into one
// origin call. Unlike x/sync/singleflight it tells the leader from the
// joiners (Outcome.Fetched vs Shared), lets a joiner stop waiting when its
// own context ends, and exposes the number of joiners to tests. It is only
// touched on misses, so its mutex is off the hit path.
type flightGroup struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done    chan struct{}
	val     string
	err     error
	joiners int // guarded by flightGroup.mu
}

// join returns the call in flight for key, creating it (leader=true) when
// there is none.
func (g *flightGroup) join(key string) (c *flightCall, leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		c.joiners++
		return c, false
	}
	if g.calls == nil {
		g.calls = make(map[string]*flightCall)
	}
	c = &flightCall{done: make(chan struct{})}
	g.calls[key] = c
	return c, true
}

// finish publishes the leader's result and releases the joiners. Later
// callers start a new call.
func (g *flightGroup) finish(key string, c *flightCall, val string, err error) {
	g.mu.Lock()
	if g.calls[key] == c {
		delete(g.calls, key)
	}
	g.mu.Unlock()
	c.val, c.err = val, err
	close(c.done)
}

// joinersOf reports how many callers wait on key's call (tests use it to
// release a fetch only once every caller has joined).
func (g *flightGroup) joinersOf(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.joiners
	}
	return 0
}
