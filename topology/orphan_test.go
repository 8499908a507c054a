package topology

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const orphanHelperEnv = "CACHEPROOF_TOPOLOGY_ORPHAN_HELPER"

// runOrphanHelper is the child side of TestNoOrphansWhenToolIsKilled. It
// starts a replica deployment from a goroutine whose OS thread is then
// destroyed (so a child forked from that thread would die at once), prints
// the redis-server pids and ports, and waits to be SIGKILLed.
func runOrphanHelper() bool {
	dir := os.Getenv(orphanHelperEnv)
	if dir == "" {
		return false
	}
	// Keep the main goroutine on the main thread, so the goroutine below runs
	// on another thread: the runtime never destroys the main thread, and the
	// test would prove nothing if the start happened there.
	runtime.LockOSThread()
	type result struct {
		d   Deployment
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// Locked and never unlocked: the runtime destroys this thread when the
		// goroutine returns, which would fire Pdeathsig for anything forked
		// from it.
		runtime.LockOSThread()
		d, err := Start(context.Background(), Spec{Shape: ShapeReplica, Dir: dir})
		ch <- result{d, err}
	}()
	r := <-ch
	if r.err != nil {
		fmt.Println("ERROR", r.err)
		os.Exit(1)
	}
	time.Sleep(300 * time.Millisecond) // give a wrongly placed Pdeathsig time to fire
	var fields []string
	for _, n := range r.d.(*procDeployment).nodes {
		fields = append(fields, strconv.Itoa(n.cmd.Process.Pid), n.addr())
	}
	fmt.Println("READY", strings.Join(fields, " "))
	select {} // until SIGKILL
}

func TestNoOrphansWhenToolIsKilled(t *testing.T) {
	if _, err := FindRedisServer(""); err != nil {
		t.Skip(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// Become the subreaper of our descendants, so the redis-servers orphaned by
	// the helper's death are reparented to this process and reaped below
	// instead of lingering as zombies under an init that may not reap.
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Logf("PR_SET_CHILD_SUBREAPER: %v (zombies are left to init)", errno)
	}
	dir := t.TempDir()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), orphanHelperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY ") {
		t.Fatalf("helper did not get ready: %q %v", line, err)
	}
	f := strings.Fields(strings.TrimPrefix(line, "READY "))
	if len(f) != 4 {
		t.Fatalf("helper reported %q, want two pid/address pairs", line)
	}
	var pids []int
	for i := 0; i < len(f); i += 2 {
		pid, _ := strconv.Atoi(f[i])
		pids = append(pids, pid)
		// Alive and answering although the thread that asked for the start is gone.
		c := redis.NewClient(&redis.Options{Addr: f[i+1], MaxRetries: -1})
		err := c.Ping(context.Background()).Err()
		_ = c.Close()
		if err != nil {
			t.Fatalf("redis-server pid %d at %s does not answer before the tool dies: %v", pid, f[i+1], err)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	for _, pid := range pids {
		deadline := time.Now().Add(10 * time.Second)
		for {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
			if !alive(pid) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redis-server pid %d outlived the SIGKILLed tool by 10 s", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// alive reports whether pid runs; a zombie waiting for init to reap it counts
// as gone.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
