package profile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ErrRefused marks a command the profiler refused to send: only the read
// commands of readCommands leave it, so a bug (or a future edit) that
// tries to write to a production Redis fails here, before the wire.
var ErrRefused = errors.New("refused: not a read command the profiler may send")

// readCommands is the allow-list: every command the profiler sends, with
// the subcommands it may use where the command has writing ones (CONFIG
// SET, OBJECT is read-only but MEMORY has PURGE, CLUSTER has many). A
// command missing here is refused by the client's hook.
var readCommands = map[string][]string{
	"scan":        nil,
	"type":        nil,
	"pttl":        nil,
	"strlen":      nil,
	"hlen":        nil,
	"zcard":       nil,
	"scard":       nil,
	"llen":        nil,
	"hrandfield":  nil,
	"zrandmember": nil,
	"dbsize":      nil,
	"info":        nil,
	"ping":        nil,
	"role":        nil,
	"monitor":     nil,
	"hello":       nil, // go-redis's handshake (and AUTH inside it)
	"auth":        nil,
	"select":      nil,
	"readonly":    nil, // a cluster replica's read flag: no data written
	"memory":      {"usage"},
	"object":      {"freq", "idletime", "encoding"},
	"config":      {"get"},
	"cluster":     {"shards", "nodes", "info", "myid"},
	"client":      {"setinfo", "setname", "id", "info"}, // connection metadata, not data
	"command":     {"docs", "info", "count"},
}

// checkCommand returns nil when args is a command of the allow-list, else
// an error wrapping ErrRefused that names it.
func checkCommand(args []any) error {
	if len(args) == 0 {
		return fmt.Errorf("empty command: %w", ErrRefused)
	}
	name := strings.ToLower(fmt.Sprint(args[0]))
	subs, ok := readCommands[name]
	if !ok {
		return fmt.Errorf("%s: %w", strings.ToUpper(name), ErrRefused)
	}
	if subs == nil {
		return nil
	}
	if len(args) < 2 {
		return fmt.Errorf("%s without a subcommand: %w", strings.ToUpper(name), ErrRefused)
	}
	sub := strings.ToLower(fmt.Sprint(args[1]))
	for _, s := range subs {
		if s == sub {
			return nil
		}
	}
	return fmt.Errorf("%s %s: %w", strings.ToUpper(name), strings.ToUpper(sub), ErrRefused)
}

// guard is the go-redis hook that holds every command to the allow-list
// and to the rate limit before it is written to the connection.
type guard struct {
	limit *limiter
}

var _ redis.Hook = guard{}

func (g guard) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g guard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := checkCommand(cmd.Args()); err != nil {
			cmd.SetErr(err)
			return err
		}
		if err := g.limit.wait(ctx, 1); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (g guard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if err := checkCommand(c.Args()); err != nil {
				for _, c := range cmds {
					c.SetErr(err)
				}
				return err
			}
		}
		if err := g.limit.wait(ctx, len(cmds)); err != nil {
			return err
		}
		return next(ctx, cmds)
	}
}

// limiter paces the profiler's own commands to at most rate a second (a
// pipeline of n costs n), and can be slowed while the server's latency is
// up. It is a plain token bucket with a one-second burst.
type limiter struct {
	mu     sync.Mutex
	rate   float64 // commands a second now
	max    float64 // the configured ceiling
	tokens float64
	last   time.Time
	sent   int64
}

func newLimiter(rate float64) *limiter {
	return &limiter{rate: rate, max: rate, tokens: min(rate, 100), last: time.Now()}
}

// wait blocks until n commands may be sent, or ctx ends.
func (l *limiter) wait(ctx context.Context, n int) error {
	for {
		l.mu.Lock()
		now := time.Now()
		l.tokens = min(l.tokens+now.Sub(l.last).Seconds()*l.rate, max(l.rate, float64(n)))
		l.last = now
		if l.tokens >= float64(n) {
			l.tokens -= float64(n)
			l.sent += int64(n)
			l.mu.Unlock()
			return nil
		}
		need := time.Duration((float64(n) - l.tokens) / l.rate * float64(time.Second))
		l.mu.Unlock()
		t := time.NewTimer(max(need, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// scale sets the rate to f times the ceiling (f in (0, 1]).
func (l *limiter) scale(f float64) {
	l.mu.Lock()
	l.rate = max(l.max*f, 1)
	l.mu.Unlock()
}

// current returns the rate now and the commands sent so far.
func (l *limiter) current() (float64, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate, l.sent
}

// Options say how to reach Redis and how gently to read it.
type Options struct {
	// URL is redis://[user:password@]host:port[/db] or rediss:// for TLS
	// (AUTH with an ACL user or the default user's password).
	URL string
	// MaxOpsPerSec bounds the profiler's own commands (a pipeline of n
	// counts n), on each node it reads.
	MaxOpsPerSec float64
}

// node is one Redis node the profiler reads, behind the guard.
type node struct {
	addr  string
	c     *redis.Client
	opts  *redis.Options
	limit *limiter
}

// dial connects to addr with base's credentials and TLS, the guard in
// front of every command.
func dial(base *redis.Options, addr string, rate float64) *node {
	o := *base
	o.Addr = addr
	o.PoolSize = 2
	o.MaxRetries = 1
	o.DialTimeout = 3 * time.Second
	o.ReadTimeout = 5 * time.Second
	o.WriteTimeout = 3 * time.Second
	// RESP2: replies keep their flat shapes (HRANDFIELD WITHVALUES is a
	// flat list, as MONITOR's raw connection reads too).
	o.Protocol = 2
	o.DisableIdentity = true // no CLIENT SETINFO (older servers refuse it)
	// No CLIENT MAINT_NOTIFICATIONS: a connection setting the profiler
	// does not need, kept off the allow-list.
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if o.TLSConfig != nil {
		t := o.TLSConfig.Clone()
		if host, _, err := net.SplitHostPort(addr); err == nil && t.ServerName == "" {
			t.ServerName = host
		}
		o.TLSConfig = t
	}
	n := &node{addr: addr, opts: &o, limit: newLimiter(rate)}
	n.c = redis.NewClient(&o)
	n.c.AddHook(guard{limit: n.limit})
	return n
}

// do sends one command through the guard.
func (n *node) do(ctx context.Context, args ...any) *redis.Cmd { return n.c.Do(ctx, args...) }

func (n *node) close() error { return n.c.Close() }
