//go:build linux

package pool

import (
	"net"
	"sync"
	"syscall"
	"testing"
)

// ReplyTimer counts each request once, whether Take runs between requests,
// during them or after the connection closed, and splits a stamped reply's
// time at its arrival inside the request's wire time.
func TestReplyTimer(t *testing.T) {
	timer := ReplyTimer{KeepWire: true}
	c := timer.Wrap(dialRaw(t))
	if _, ok := c.(syscall.Conn); !ok {
		t.Fatal("the wrapper hides the descriptor go-redis's health check peeks at")
	}
	ping := func(c net.Conn) {
		t.Helper()
		if _, err := c.Write([]byte("PING\r\n")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		if n, err := c.Read(buf); err != nil || string(buf[:n]) != "+PONG\r\n" {
			t.Fatalf("PING: %q %v", buf[:n], err)
		}
	}
	ping(c) // the kernel may not stamp the first reply yet
	timer.Take()

	// Take racing the requests: every request is in exactly one Take.
	const n = 400
	var total int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
				total += timer.Take().Wire.TotalCount()
			}
		}
	}()
	for range n {
		ping(c)
	}
	close(done)
	wg.Wait()
	rt := timer.Take()
	if total += rt.Wire.TotalCount(); total != n {
		t.Fatalf("%d requests timed, want %d", total, n)
	}

	for range 20 {
		ping(c)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	rt = timer.Take()
	if got := rt.Wire.TotalCount(); got != 20 {
		t.Fatalf("after Close: %d requests, want the 20 the connection made", got)
	}
	if rt.Arrival == nil || rt.Arrival.TotalCount() != 20 || rt.Wait.TotalCount() != 20 {
		t.Fatalf("arrival split: %+v", rt)
	}
	if rt.Arrival.Max() > rt.Wire.Max() || rt.Wait.Max() > rt.Wire.Max() || rt.Arrival.Mean() < 2 {
		t.Errorf("split not inside the wire time: arrival max %d mean %.1f, wait max %d, wire max %d µs",
			rt.Arrival.Max(), rt.Arrival.Mean(), rt.Wait.Max(), rt.Wire.Max())
	}
	if rt = timer.Take(); rt.Wire.TotalCount() != 0 {
		t.Errorf("a closed connection counted twice: %d", rt.Wire.TotalCount())
	}
}
