package pool

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cacheproof/cacheproof/topology"
	"github.com/redis/go-redis/v9"
)

func TestErrorKindStatic(t *testing.T) {
	cases := map[string]error{
		"":                         nil,
		KindPoolTimeout:            fmt.Errorf("wrapped: %w", redis.ErrPoolTimeout),
		KindPoolExhausted:          redis.ErrPoolExhausted,
		KindClosed:                 redis.ErrClosed,
		KindCanceled:               context.Canceled,
		KindTimeout:                context.DeadlineExceeded,
		KindFetch:                  &FetchError{Key: "k", Err: context.Canceled},
		KindOther:                  errors.New("something else"),
		KindConnectionRefused + "": errors.New("dial tcp 127.0.0.1:1: connect: connection refused"),
	}
	for want, err := range cases {
		if got := ErrorKind(err); got != want {
			t.Errorf("ErrorKind(%v) = %q, want %q", err, got, want)
		}
	}
	if ErrorKind(redis.Nil) != "" {
		t.Error("a miss is not an error")
	}
	for prefix, want := range map[string]string{
		"READONLY You can't write against a read only replica.":   KindReadOnly,
		"OOM command not allowed when used memory > 'maxmemory'.": KindOOM,
		"LOADING Redis is loading the dataset in memory":          KindLoading,
		"MOVED 3999 127.0.0.1:6381":                               KindMovedAsk,
		"ASK 3999 127.0.0.1:6381":                                 KindMovedAsk,
		"CLUSTERDOWN The cluster is down":                         KindClusterDown,
		"BUSY Redis is busy running a script.":                    KindBusy,
		"TRYAGAIN Multiple keys request during rehashing of slot": KindTryAgain,
		"MASTERDOWN Link with MASTER is down":                     KindMasterDown,
	} {
		if got := ErrorKind(fmt.Errorf("pool: set: %w", errors.New(prefix))); got != want {
			t.Errorf("ErrorKind(%q) = %q, want %q", prefix, got, want)
		}
	}
}

func TestErrorKindFromRealRedis(t *testing.T) {
	d := startTopo(t, topology.ShapeStandalone)
	cfg := testConfig(t, d.Endpoints())
	cfg.MaxConnections, cfg.MinConnections = 1, 0
	cfg.PoolTimeout = 100 * time.Millisecond
	cfg.MaxRetries = -1
	m := newManager(t, cfg)
	ctx := ctxT(t)

	// OOM under noeviction with a tiny maxmemory.
	if _, err := d.Do(ctx, "primary-0", "CONFIG", "SET", "maxmemory-policy", "noeviction"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Do(ctx, "primary-0", "CONFIG", "SET", "maxmemory", "1"); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(ctx, "k", "v", TierAPI); ErrorKind(err) != KindOOM {
		t.Errorf("Set over maxmemory: %v (kind %q), want oom", err, ErrorKind(err))
	}
	if _, err := d.Do(ctx, "primary-0", "CONFIG", "SET", "maxmemory", "0"); err != nil {
		t.Fatal(err)
	}

	// Pool timeout: the only connection is busy in a blocking pop.
	blocked := make(chan error, 1)
	go func() { blocked <- m.Client().BLPop(ctx, time.Second, "never").Err() }()
	eventually(t, 5*time.Second, "the blocking pop to hold the connection", func() bool {
		return m.Stats().Pool.IdleConns == 0 && m.Stats().Pool.TotalConns == 1
	})
	time.Sleep(50 * time.Millisecond)
	_, _, err := m.Get(ctx, "k")
	if ErrorKind(err) != KindPoolTimeout {
		t.Errorf("Get with the pool exhausted: %v (kind %q), want pool_timeout", err, ErrorKind(err))
	}
	<-blocked
	s := m.Stats()
	if s.Pool.Timeouts == 0 || s.CommandErrors[KindPoolTimeout] == 0 || s.CommandErrors[KindOOM] == 0 {
		t.Errorf("stats pool=%+v errors=%v", s.Pool, s.CommandErrors)
	}

	// A canceled context is "canceled", an expired one "timeout".
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := m.Get(cctx, "k"); ErrorKind(err) != KindCanceled {
		t.Errorf("canceled: %v (kind %q)", err, ErrorKind(err))
	}
	if err := d.Pause(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	tctx, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	_, _, err = m.Get(tctx, "k")
	cancel2()
	if err := d.Resume(ctx, "primary-0"); err != nil {
		t.Fatal(err)
	}
	if ErrorKind(err) != KindTimeout {
		t.Errorf("paused server: %v (kind %q), want timeout", err, ErrorKind(err))
	}
}
