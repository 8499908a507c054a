package topology

import (
	"errors"
	"os/exec"
	"runtime"
	"sync"
)

// launcher starts child processes from one OS thread that lives as long as
// the deployment.
//
// Linux delivers the parent-death signal (Pdeathsig) when the *thread* that
// forked a child exits, not when the process does. Go moves goroutines
// between threads and retires idle ones, so a redis-server started from an
// arbitrary goroutine could be SIGKILLed at a random moment. Forking from a
// goroutine locked to its thread, and keeping that goroutine alive until
// every child is gone, makes the signal fire exactly when the tool dies.
type launcher struct {
	reqs chan launchReq
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

type launchReq struct {
	cmd *exec.Cmd
	res chan error
}

var errLauncherClosed = errors.New("launcher closed")

func newLauncher() *launcher {
	l := &launcher{reqs: make(chan launchReq), quit: make(chan struct{}), done: make(chan struct{})}
	go l.loop()
	return l
}

func (l *launcher) loop() {
	// Never unlocked on purpose: when this goroutine returns, the runtime ends
	// the thread with it. That only happens in close, after every child exited.
	runtime.LockOSThread()
	defer close(l.done)
	for {
		select {
		case r := <-l.reqs:
			r.res <- r.cmd.Start()
		case <-l.quit:
			return
		}
	}
}

// start runs cmd.Start on the launcher's thread.
func (l *launcher) start(cmd *exec.Cmd) error {
	r := launchReq{cmd: cmd, res: make(chan error, 1)}
	select {
	case l.reqs <- r:
		return <-r.res
	case <-l.quit:
		return errLauncherClosed
	}
}

// close ends the launcher thread. Call it only after every child has exited,
// or their parent-death signal fires.
func (l *launcher) close() {
	l.once.Do(func() { close(l.quit) })
	<-l.done
}
