package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRedisLogHoldsBackRepeats(t *testing.T) {
	var buf bytes.Buffer
	l := newRedisLog(&buf)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	for i := range 500 {
		l.Printf(ctx, "redis: dial %s: connection refused", "127.0.0.1:6379")
		if i%100 == 0 {
			l.Printf(ctx, "redis: conn[%d] stale", i)
		}
		now = now.Add(10 * time.Millisecond) // 5 s in all
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("500 repeats of two messages within 5 s printed %d lines, want 2 (one each):\n%s", len(lines), buf.String())
	}
	now = now.Add(redisLogEvery)
	l.Printf(ctx, "redis: dial %s: connection refused", "127.0.0.1:6379")
	last := strings.TrimSpace(buf.String())
	last = last[strings.LastIndexByte(last, '\n')+1:]
	if !strings.Contains(last, "and 499 more like it") {
		t.Fatalf("after %s the repeat says %q; want the count of the 499 held back", redisLogEvery, last)
	}
}
