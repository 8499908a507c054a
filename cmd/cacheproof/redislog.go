package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisLogEvery is how often a repeated go-redis message is printed again,
// with the count of the copies held back since.
const redisLogEvery = 10 * time.Second

// redisLog is the logger cacheproof gives go-redis. During a fault go-redis
// logs every failed dial and every stale pooled connection it drops — at
// 10,000 users, hundreds of identical lines a second that bury the progress
// display and the verdict. The errors themselves are counted by kind in the
// report, so here each distinct message (by its format) is printed once, and
// then at most once per redisLogEvery with how many were held back.
type redisLog struct {
	mu   sync.Mutex
	w    io.Writer
	now  func() time.Time
	seen map[string]*logLine
}

type logLine struct {
	last time.Time
	held int
}

func newRedisLog(w io.Writer) *redisLog {
	return &redisLog{w: w, now: time.Now, seen: make(map[string]*logLine)}
}

// Printf implements go-redis's internal.Logging.
func (l *redisLog) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	ln, ok := l.seen[format]
	if !ok {
		ln = &logLine{}
		l.seen[format] = ln
	} else if now.Sub(ln.last) < redisLogEvery {
		ln.held++
		return
	}
	msg := strings.TrimRight(fmt.Sprintf(format, v...), "\n")
	if ln.held > 0 {
		msg += fmt.Sprintf(" (and %d more like it in the last %s)", ln.held, now.Sub(ln.last).Round(time.Second))
	}
	ln.last, ln.held = now, 0
	fmt.Fprintf(l.w, "cacheproof: redis client: %s\n", msg)
}

// quietRedisLogs installs the deduplicating logger for the process.
func quietRedisLogs(w io.Writer) { redis.SetLogger(newRedisLog(w)) }
