package topology

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// infoAll reads INFO section from every node that up says is reachable
// (a stopped or paused node is skipped: asking it would only wait out a
// timeout), concurrently, through info. A node that fails is named in the
// joined error; the others are still returned, so a sampler keeps its
// figures while one node is down. Every backend's InfoAll is this with its
// own node type.
func infoAll[N any](ctx context.Context, nodes []N, up func(N) (name string, ok bool), section string, info func(ctx context.Context, name, section string) (map[string]string, error)) (map[string]map[string]string, error) {
	var (
		mu   sync.Mutex
		out  = make(map[string]map[string]string, len(nodes))
		errs []error
		wg   sync.WaitGroup
	)
	for _, n := range nodes {
		name, ok := up(n)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := info(ctx, name, section)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[name] = m
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// keepLogs saves what each node left for a failed run's reader into dir
// (dir "" means Spec.LogDir), through save, within timeout; a node whose
// save fails is named in the joined error and the others are still saved.
// Every backend's KeepLogs is this with its own node type and what it can
// keep (a process's log file, a container's output, an external node's
// INFO).
func keepLogs[N any](dir string, spec Spec, timeout time.Duration, nodes []N, save func(ctx context.Context, dir string, n N) error) error {
	if dir == "" {
		dir = spec.LogDir
	}
	if dir == "" {
		return errors.New("topology: keep logs: no folder given and Spec.LogDir is empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("topology: keep logs: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	for _, n := range nodes {
		if err := save(ctx, dir, n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("topology: keep logs: %w", err)
	}
	return nil
}

// nodesAtOnce asks every node at the same time, within timeout together,
// so that Nodes on a deployment with a stopped or paused node takes one
// timeout, not one per node. one must not fail: a node it cannot reach
// reports its last known role.
func nodesAtOnce[N any](nodes []N, timeout time.Duration, one func(context.Context, N) Node) []Node {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out := make([]Node, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = one(ctx, n)
		}()
	}
	wg.Wait()
	return out
}
