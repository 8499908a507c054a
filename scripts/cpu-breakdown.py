#!/usr/bin/env python3
"""Where the tool's CPU goes in a scenario run, from a perf call-graph
profile: each sample's stack is put in one bucket (go-redis's own code, its
write and read system calls, Go's scheduler, the dispatcher, the bot layer,
recording, verification, GC, ...) and the shares printed, biggest first.
docs/performance.md ("Where the scenario path's CPU goes") has the table.

Usage (during the recorded window of a run, PID the cacheproof process):
    perf record -F 1999 -g -p PID -o perf.data -- sleep 15
    perf script -i perf.data > perf.txt
    scripts/cpu-breakdown.py perf.txt [BUCKET]
With BUCKET (a name as printed), also the leaf functions inside it.
"""
import collections
import re
import sys


def samples(path):
    """Stacks (leaf first) of perf script's output."""
    out, cur = [], []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if not line.strip():
            if cur:
                out.append(cur)
            cur = []
            continue
        if not line.startswith((" ", "\t")):
            cur = []  # a sample's header line
            continue
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            cur.append(parts[1])
    if cur:
        out.append(cur)
    return out


def has(st, *subs):
    return any(s in f for f in st for s in subs)


def bucket(st):
    """The bucket of one stack; the order of the tests matters."""
    kernel = "kallsyms" in st[0]
    if has(st, "gcBgMarkWorker", "gcDrain", "bgsweep", "bgscavenge", "markroot", "gcAssist"):
        return "GC (mark, sweep, assists)"
    if has(st, "sysmon"):
        return "runtime sysmon"
    if has(st, "harness.(*sampler)", "harness.(*run).emit", "TakeInterval", "timeline", "selfmeasure", "harness.(*run).drive"):
        return "sampler/timeline/self-measure (1 Hz)"
    if has(st, "engine.(*Driver).execute", "engine.(*Driver).worker"):
        if has(st, "go-redis/v9"):
            if has(st, "sys_write", "ksys_write"):
                return "go-redis: write syscall (kernel)"
            if has(st, "sys_read", "ksys_read"):
                return "go-redis: read syscall (kernel)"
            if has(st, "sys_recvfrom", "connCheck", "checkSyscallConn", "peekConn"):
                return "go-redis: pool health peek (connCheck)"
            if has(st, "mallocgc", "memclrNoHeapPointers"):
                return "go-redis: allocation"
            if kernel:
                return "go-redis: other kernel (deadlines, park)"
            return "go-redis: user code"
        if has(st, "Driver).apply"):
            return "engine: recording (HDR, shards)"
        if has(st, "workload.Verify"):
            return "bots: value verification (xxhash)"
        if has(st, "context."):
            return "engine: per-command context"
        if has(st, "mallocgc"):
            return "ours: allocation"
        return "bots/engine/pool: other own code"
    if has(st, "engine.(*Driver).Run"):
        return "dispatcher (schedule, timerfd sleep, hand-off)"
    if has(st, "runtime.mcall", "runtime.park_m", "findRunnable", "runtime.schedule", "runtime.goexit0", "stopm", "startm", "wakep", "netpoll"):
        return "Go scheduler / netpoll (idle, park, wake)"
    if has(st, "runtime.morestack", "newstack"):
        return "stack growth"
    return "other"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    ss = samples(sys.argv[1])
    if not ss:
        sys.exit(f"{sys.argv[1]}: no call-graph samples (perf record -g?)")
    n = len(ss)
    c = collections.Counter(bucket(s) for s in ss)
    for k, v in c.most_common():
        print(f"{100 * v / n:5.1f}%  {k}")
    print(f"{n} samples")
    if len(sys.argv) > 2:
        leaves = collections.Counter(re.sub(r"\+0x[0-9a-f]+.*", "", s[0]) for s in ss if bucket(s) == sys.argv[2])
        print(f"--- leaves of {sys.argv[2]}")
        for k, v in leaves.most_common(40):
            print(f"{100 * v / n:5.2f}%  {k}")


if __name__ == "__main__":
    main()
