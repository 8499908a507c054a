package topology

import (
	"fmt"
	"os"
	"os/exec"
)

// RedisServerEnv names the environment variable that points at redis-server.
const RedisServerEnv = "CACHEPROOF_REDIS_SERVER"

// FindRedisServer returns the redis-server binary to run: explicit if given,
// then $CACHEPROOF_REDIS_SERVER, then redis-server on PATH. The error wraps
// ErrRedisServerNotFound (and is an *EnvError) so the caller can tell the
// user which package to install.
func FindRedisServer(explicit string) (string, error) {
	try := func(path, from string) (string, error) {
		p, err := exec.LookPath(path)
		if err != nil {
			return "", envErr("find redis-server", fmt.Errorf("%s %q: %w: %w", from, path, ErrRedisServerNotFound, err))
		}
		return p, nil
	}
	if explicit != "" {
		return try(explicit, "--redis-server")
	}
	if env := os.Getenv(RedisServerEnv); env != "" {
		return try(env, "$"+RedisServerEnv)
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", envErr("find redis-server", fmt.Errorf("not on PATH: %w", ErrRedisServerNotFound))
	}
	return p, nil
}
