package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// startCPUProfile writes a CPU profile of this process to path until the
// returned function is called. The load generator's own cost is part of
// every measurement, so a user who suspects the tool can see where it goes.
func startCPUProfile(path string) (func(), error) {
	return startRecording(path, "profile", pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// startTrace writes a Go execution trace of this process to path until the
// returned function is called: where a CPU profile says what the tool
// spends, the trace says when each goroutine waited to run, which is what
// makes a command start late (go tool trace -pprof=sched).
func startTrace(path string) (func(), error) {
	return startRecording(path, "trace", trace.Start, trace.Stop)
}

// startRecording creates path and runs start on it; the returned function
// stops the recording and closes the file.
func startRecording(path, what string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", what, err)
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", what, err)
	}
	return func() {
		stop()
		f.Close()
	}, nil
}

// writeHeapProfile writes the heap profile (every allocation since the start,
// sampled, and what is live now) to path; a failure is reported, not fatal:
// the run's report matters more than its profile.
func writeHeapProfile(path string, stderr io.Writer) {
	runtime.GC() // the live heap as of now, not of the last cycle
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "cacheproof run: --memprofile: %v\n", err)
	}
}
