package workload

// These tests check the model against a real redis-server (Debian's package,
// found via $CACHEPROOF_REDIS_SERVER or PATH) on 127.0.0.1. They speak RESP
// over a plain net.Conn so that package workload stays free of any Redis
// client library, as the design requires.

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

type respConn struct {
	c net.Conn
	r *bufio.Reader
}

// startRedis runs a private redis-server on a free loopback port in a temp
// dir and stops it when the test ends.
func startRedis(t *testing.T, args ...string) *respConn {
	t.Helper()
	bin := os.Getenv("CACHEPROOF_REDIS_SERVER")
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Skipf("redis-server not available (%v); install Debian's redis-server", err)
	}
	var conn *respConn
	for attempt := 0; attempt < 3 && conn == nil; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		dir := t.TempDir()
		full := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "yes"}, args...)
		cmd := exec.Command(path, full...)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond)
			if err == nil {
				rc := &respConn{c: c, r: bufio.NewReader(c)}
				if v, err := rc.do("PING"); err == nil && v == "PONG" {
					t.Cleanup(func() { c.Close() })
					conn = rc
					break
				}
				c.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if conn == nil {
		t.Fatal("redis-server did not answer PING")
	}
	return conn
}

// do sends one command and reads its reply: string, int64, nil, []any, or
// an error for a RESP error reply.
func (r *respConn) do(args ...string) (any, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := r.c.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	return r.read()
}

func (r *respConn) read() (any, error) {
	line, err := r.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return nil, errors.New(line[1:])
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, _ := strconv.Atoi(line[1:])
		out := make([]any, 0, max(n, 0))
		for range n {
			v, err := r.read()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("bad reply %q", line)
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (r *respConn) must(t *testing.T, args ...string) any {
	t.Helper()
	v, err := r.do(args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// infoInt reads one integer field of INFO.
func (r *respConn) infoInt(t *testing.T, field string) int64 {
	t.Helper()
	info := r.must(t, "INFO", "stats").(string)
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatalf("INFO has no %s", field)
	return 0
}

func TestValuesSurviveRedisAndTamperingIsCaught(t *testing.T) {
	r := startRedis(t)
	m := mustNew(t, Settings{Population: 1000}, Run{Seed: 4})
	u := m.User(7)
	for _, f := range m.Families() {
		key := m.Key(&f, u.SteamID)
		val := Value(key, 12, m.Size(&f, key))
		r.must(t, "SET", key, val)
		got, _ := r.must(t, "GET", key).(string)
		if ver, err := Verify(key, got); err != nil || ver != 12 {
			t.Errorf("%s: after a Redis round trip Verify = %d, %v", key, ver, err)
		}
	}
	// A byte changed behind the manager's back.
	key := m.Key(m.Family("stratz_profile"), u.SteamID)
	r.must(t, "SETRANGE", key, "100", "#")
	got, _ := r.must(t, "GET", key).(string)
	if _, err := Verify(key, got); !errors.Is(err, ErrIntegrity) {
		t.Errorf("SETRANGE corruption not caught: %v", err)
	}
	// Another key's value copied over this one.
	other := m.Key(m.Family("stratz_profile"), m.User(8).SteamID)
	r.must(t, "SET", other, Value(other, 12, 2048))
	r.must(t, "COPY", other, key, "REPLACE")
	got, _ = r.must(t, "GET", key).(string)
	if _, err := Verify(key, got); !errors.Is(err, ErrIntegrity) {
		t.Errorf("swapped value not caught: %v", err)
	}
}

func TestLedgerAgreesWithRedisExpiryAndEviction(t *testing.T) {
	r := startRedis(t, "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
	l := NewLedgerWithOptions(LedgerOptions{ExpirySlack: 50 * time.Millisecond})

	// Expired: a 150 ms TTL, read once Redis has dropped it.
	l.Wrote("short", time.Now(), 150*time.Millisecond)
	r.must(t, "SET", "short", Value("short", 1, 100), "PX", "150")
	time.Sleep(300 * time.Millisecond)
	for deadline := time.Now().Add(10 * time.Second); r.must(t, "GET", "short") != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("short-TTL key never expired")
		}
	}
	if c := l.Classify("short", time.Now()); c != MissExpired {
		t.Errorf("short-TTL miss classified %v, want expired", c)
	}
	if n := r.infoInt(t, "expired_keys"); n != 1 {
		t.Errorf("redis expired_keys = %d, want 1", n)
	}

	// Evicted: 400 values of 50 KB (20 MB) into 4 MB, TTL one hour.
	const n = 400
	for i := range n {
		k := "meta:blob:" + strconv.Itoa(i)
		l.Wrote(k, time.Now(), time.Hour)
		r.must(t, "SET", k, Value(k, 1, 50*1024), "EX", "3600")
	}
	// EXISTS, not GET, to find the misses: a 50 KB reply would grow the
	// client's output buffer and could evict more while we look.
	evicted := r.infoInt(t, "evicted_keys")
	causes := map[MissCause]int64{}
	var survivor string
	for i := range n {
		k := "meta:blob:" + strconv.Itoa(i)
		if r.must(t, "EXISTS", k) == int64(0) {
			causes[l.Classify(k, time.Now())]++
		} else {
			survivor = k
		}
	}
	if evicted < n/2 || survivor == "" {
		t.Fatalf("redis evicted %d of %d keys", evicted, n)
	}
	if causes[MissEvicted] != evicted || causes[MissExpired] != 0 || causes[MissCold] != 0 {
		t.Errorf("misses by cause %v, redis evicted_keys %d", causes, evicted)
	}
	if v, _ := r.must(t, "GET", survivor).(string); v == "" {
		t.Error("survivor vanished")
	} else if _, err := Verify(survivor, v); err != nil {
		t.Errorf("surviving value: %v", err)
	}

	// Cold: never written.
	if v := r.must(t, "GET", "never"); v != nil || l.Classify("never", time.Now()) != MissCold {
		t.Error("never-written key not cold")
	}
}
