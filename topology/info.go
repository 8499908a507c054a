package topology

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
)

// infoAll reads INFO from the named nodes concurrently. A node that fails is
// named in the joined error; the others are still returned, so a sampler
// keeps its figures while one node is down.
func infoAll(ctx context.Context, names []string, read func(ctx context.Context, name string) (map[string]string, error)) (map[string]map[string]string, error) {
	var (
		mu   sync.Mutex
		out  = make(map[string]map[string]string, len(names))
		errs []error
		wg   sync.WaitGroup
	)
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := read(ctx, name)
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

// keepLogsDir resolves the folder KeepLogs writes into (dir, else
// Spec.LogDir) and creates it.
func keepLogsDir(dir string, spec Spec) (string, error) {
	if dir == "" {
		dir = spec.LogDir
	}
	if dir == "" {
		return "", errors.New("topology: keep logs: no folder given and Spec.LogDir is empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("topology: keep logs: %w", err)
	}
	return dir, nil
}
