#!/usr/bin/env bash
# Side-by-side speed check, in one run against one local redis-server:
# redis-benchmark (Debian's redis-tools) and cacheproof's raw mode with the
# same clients, requests, value size and keyspace; then cacheproof with
# auto-pipelining. Prints ops/s, p50/p99 and client CPU per operation for
# each, and the ratios. Client CPU is user+system time of the client process
# (bash's `time` for redis-benchmark, getrusage inside cacheproof); Redis's
# CPU per operation over the same client's run (/proc/PID/stat) is printed
# beside it, and their ratio: what any client costs against the server on
# this machine, the yardstick for the scenario driver's own cpu_vs_redis
# (scripts/scenario-cost.sh).
#
# Latency is compared at p50, p99 and p99.9: redis-benchmark's own
# percentile distribution (--precision 3, not --csv, which stops at p99)
# beside raw mode's HDR histograms, on two clocks: raw's call (from the
# call into the client to its return) and the wire (from the request's
# write to the first read of its reply), which is redis-benchmark's own
# clock (pool/replytimer.go says what each counts); the wire time is split at
# the reply's arrival in the socket (the kernel's SO_TIMESTAMPNS stamp) into
# the network and Redis, and the tool's own wait to read it. Redis's run-queue wait (the time its
# threads were ready but had no CPU, /proc/PID/task/*/schedstat) is printed
# per client: on a machine where client and server share the CPUs, a
# client that keeps both busy delays Redis itself, and every in-flight
# request waits with it; that wait is the tail's main source here
# (docs/performance.md).
#
# Usage: scripts/bench-compare.sh [CLIENTS] [REQUESTS] [VALUE_SIZE] [KEYSPACE]
set -euo pipefail
cd "$(dirname "$0")/.."
C=${1:-50}; N=${2:-200000}; D=${3:-100}; R=${4:-100000}
BIN=${BIN:-bin/cacheproof}
command -v redis-benchmark >/dev/null || { echo "redis-benchmark missing: apt-get install -y redis-tools" >&2; exit 3; }
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/cacheproof

dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 16379)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "redis-server 127.0.0.1:$port  clients=$C requests=$N value=${D}B keyspace=$R  ($(nproc) cores; client and server share them)"

# redis-server's user+system CPU so far, in seconds.
redis_cpu() { python3 -c "import os,sys; f=open('/proc/$rpid/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }

# Nanoseconds redis-server's threads spent ready to run but waiting for a
# CPU so far (schedstat's second field, summed over its threads).
redis_wait() { cat /proc/$rpid/task/*/schedstat 2>/dev/null | awk '{w += $2} END {printf "%.0f", w}'; }

# redis-benchmark: its text output has the percentile distribution per test.
TIMEFORMAT='%U %S'
w0=$(redis_wait)
r0=$(redis_cpu)
{ time redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -c "$C" -n "$N" -d "$D" -r "$R" --precision 3 >"$dir/rb.txt" 2>/dev/null ; } 2>"$dir/rb.time"
w1=$(redis_wait)
read -r u s <"$dir/rb.time"
rb_cpu_us=$(python3 -c "print(($u+$s)*1e6/(2*$N))")
r1=$(redis_cpu)
# The same with 4 requests in flight per connection (-P 4): what
# auto-pipelining with 4x callers per connection should be held against.
{ time redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -c "$C" -n "$N" -d "$D" -r "$R" -P 4 --precision 3 >"$dir/rbp.txt" 2>/dev/null ; } 2>"$dir/rbp.time"
read -r u s <"$dir/rbp.time"
rbp_cpu_us=$(python3 -c "print(($u+$s)*1e6/(2*$N))")
r2=$(redis_cpu)
w2=$(redis_wait)

# cacheproof's clients, each followed by Redis's CPU and run-queue wait:
# raw mode through the manager; the same through a plain go-redis client
# (--no-manager: the client library's own floor); auto-pipelining; and raw
# mode held open-loop to 0.95x redis-benchmark's rate (the slower of its
# SET and GET), latency measured from each request's due time.
rate=$(python3 -c "
import re,sys
r=[float(x) for x in re.findall(r'throughput summary: ([0-9.]+) requests per second', open('$dir/rb.txt').read())]
print(int(0.95*min(r)))")
run() { # NAME FILE ARGS...
	local name=$1 file=$2; shift 2
	"$BIN" raw --addr "127.0.0.1:$port" -d "$D" -r "$R" -t set,get --json "$@" >"$dir/$file.json"
	echo "$name|$file|$(redis_cpu)|$(redis_wait)" >>"$dir/runs"
}
: >"$dir/runs"
run "cacheproof raw" cp -c "$C" -n "$N"
run "cacheproof raw --no-manager (plain go-redis)" cpn -c "$C" -n "$N" --no-manager
run "cacheproof raw --auto-pipeline (4 callers/conn)" cpa -c "$((C*4))" --conns "$C" -n "$N" --auto-pipeline
run "cacheproof raw --rate $rate (open loop)" cpr -c "$C" -n "$N" --rate "$rate"

python3 - "$dir" "$rb_cpu_us" "$rbp_cpu_us" "$N" "$r0" "$r1" "$r2" "$w0" "$w1" "$w2" "$C" <<'PY'
import json, math, re, sys
d, rb_cpu, rbp_cpu, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
n_clients = int(sys.argv[11])
r = [float(x) for x in sys.argv[5:8]]
wait = [int(x) for x in sys.argv[8:11]]
runs = [line.rstrip("\n").split("|") for line in open(f"{d}/runs")]
r += [float(x[2]) for x in runs]
wait += [int(x[3]) for x in runs]
# Redis's CPU per operation while each client ran (set and get together).
srv = [(r[i + 1] - r[i]) * 1e6 / (2 * n) for i in range(len(r) - 1)]
def rbload(p):
    """Each test's rps and p50/p99/p99.9 (ms) from redis-benchmark's text:
    the first latency whose cumulative count reaches the rank."""
    out, test, dist = {}, None, []
    for line in open(p).read().replace("\r", "\n").splitlines():
        if m := re.match(r"====== (\S+) ======", line.strip()):
            test, dist = m.group(1).lower(), []
            out[test] = {}
        elif test and (m := re.match(r"\s*[0-9.]+% <= ([0-9.]+) milliseconds \(cumulative count (\d+)\)", line)) and "percentile" in out[test].get("_sec", "percentile"):
            dist.append((float(m.group(1)), int(m.group(2))))
        elif test and line.startswith("Cumulative distribution"):
            out[test]["_sec"] = "cumulative"
            total = dist[-1][1] if dist else 0
            for q, name in ((0.5, "p50"), (0.99, "p99"), (0.999, "p999")):
                rank = max(1, math.ceil(q * total))
                out[test][name] = next((ms for ms, c in dist if c >= rank), float("nan"))
        elif test and re.match(r"\s+[0-9.]+(\s+[0-9.]+){5}\s*$", line) and "avg" not in out[test]:
            out[test]["avg"] = float(line.split()[0])  # the latency summary's first column
        elif test and (m := re.search(r"throughput summary: ([0-9.]+) requests per second", line)):
            out[test]["rps"] = float(m.group(1))
    return out
rb, rbp = rbload(f"{d}/rb.txt"), rbload(f"{d}/rbp.txt")
cps = {name: {x["test"]: x for x in map(json.loads, open(f"{d}/{f}.json"))} for name, f, _, _ in runs}
names = [x[0] for x in runs]
raw, plain, pipe, held = (cps[x] for x in names)
W = 46
print(f"{'test':4} {'tool':{W}} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'cpu us/op':>10}")
cpu_all = {"redis-benchmark": rb_cpu, "redis-benchmark -P 4": rbp_cpu}
for name in names:
    cpu_all[name] = sum(cps[name][t]["cpu_per_op_us"] for t in ("set", "get")) / 2
for t in ("set", "get"):
    r, rp = rb[t], rbp[t]
    for name, row, cpu in (("redis-benchmark", r, rb_cpu), ("redis-benchmark -P 4", rp, rbp_cpu)):
        print(f"{t:4} {name:{W}} {row['rps']:9.0f} {row['p50']:8.3f} {row['p99']:8.3f} {row['p999']:9.3f} {cpu:10.2f}")
    for name in names:
        x = cps[name][t]
        print(f"{t:4} {name:{W}} {x['ops_per_sec']:9.0f} {x['latency_ms']['p50']:8.3f} {x['latency_ms']['p99']:8.3f} {x['latency_ms']['p999']:9.3f} {x['cpu_per_op_us']:10.2f}")
        if (w := x.get("wire_latency_ms")) and not x.get("rate"):
            print(f"{t:4} {'  on the wire (redis-benchmark clock)':{W}} {'':9} {w['p50']:8.3f} {w['p99']:8.3f} {w['p999']:9.3f}")
        if (a := x.get("arrival_latency_ms")) and (k := x.get("wake_latency_ms")) and not x.get("rate"):
            print(f"{t:4} {'    until the reply arrived (network, Redis)':{W}} {'':9} {a['p50']:8.3f} {a['p99']:8.3f} {a['p999']:9.3f}")
            print(f"{t:4} {'    then until read (the tool waiting to run)':{W}} {'':9} {k['p50']:8.3f} {k['p99']:8.3f} {k['p999']:9.3f}")
    print(f"     ops/s   raw / redis-benchmark {raw[t]['ops_per_sec']/r['rps']:.2f} (goal >= 0.95);  plain go-redis / redis-benchmark {plain[t]['ops_per_sec']/r['rps']:.2f};  auto-pipeline / redis-benchmark {pipe[t]['ops_per_sec']/r['rps']:.2f} (goal >= 1);  auto-pipeline / redis-benchmark -P 4 {pipe[t]['ops_per_sec']/rp['rps']:.2f}")
    h = held[t]
    print(f"     open loop: held to {h['rate']:.0f}/s, sent {h['ops_per_sec']:.0f}/s ({h['ops_per_sec']/h['rate']:.2f}); from due time p99 {h['latency_ms']['p99']:.3f} ms, sent to answered p99 {h['service_latency_ms']['p99']:.3f} ms")
    ht = raw[t].get("host_timer")
    print(f"     this machine while raw ran (host timer probe): " + (f"{100 * ht['late_fraction']:.2f} % of {ht['wakes']} wake-ups over 1 ms late, worst {ht['max_ms']:.1f} ms" if ht else "not measured: " + raw[t].get("host_timer_note", "")))
    sl = raw[t].get("sched_latency") or {}
    print(f"     raw's own scheduling delay p99 {sl.get('p99_ms', float('nan')):.3f} ms, p99.9 {sl.get('p999_ms', float('nan')):.3f} ms (GOMAXPROCS {raw[t].get('gomaxprocs')}, {raw[t].get('gomaxprocs_source')}); {raw[t].get('gc_cycles', 0)} collections took {100 * raw[t].get('gc_cpu_s', 0) / max(raw[t]['cpu_s'], 1e-9):.1f} % of its CPU")
    w = raw[t].get("wire_latency_ms") or {"p99": float("nan"), "p999": float("nan")}
    print(f"     tail    on the wire (write to first reply byte, as redis-benchmark times): raw / redis-benchmark p99 {w['p99']/r['p99']:.2f} (goal <= 1.5), p99.9 {w['p999']/r['p999']:.2f} (goal <= 2)")
    if (a := raw[t].get("arrival_latency_ms")):
        print(f"             split at the reply's arrival (kernel stamp): network and Redis p99 {a['p99']:.3f} ms ({a['p99']/r['p99']:.2f}x redis-benchmark's whole p99), p99.9 {a['p999']:.3f} ms; the tool's own wait to read it p99 {raw[t]['wake_latency_ms']['p99']:.3f} ms")
    print(f"             raw's call clock (pool, encode, parse included) / redis-benchmark p99 {raw[t]['latency_ms']['p99']/r['p99']:.2f}, p99.9 {raw[t]['latency_ms']['p999']/r['p999']:.2f}; plain go-redis p99 {plain[t]['latency_ms']['p99']/r['p99']:.2f}")
    print(f"             mean latency against each request's whole cycle (Little's law: {n_clients} clients / ops/s): redis-benchmark {r.get('avg', float('nan')):.3f} of {1e3*n_clients/r['rps']:.3f} ms, raw {raw[t]['latency_ms']['mean']:.3f} of {1e3*n_clients/raw[t]['ops_per_sec']:.3f} ms (what a clock leaves out of the cycle is client-side wait it does not count)")
    print(f"     cpu/op  raw / redis-benchmark {raw[t]['cpu_per_op_us']/rb_cpu:.2f} (goal <= 1.5); plain go-redis / redis-benchmark {plain[t]['cpu_per_op_us']/rb_cpu:.2f}")
print()
print("client CPU against Redis's in the same run (set and get together; redis-server's CPU from /proc while each client ran):")
print(f"{'tool':{W}} {'client us/op':>12} {'redis us/op':>12} {'client/redis':>13}")
for name, s_us in zip(cpu_all, srv):
    print(f"{name:{W}} {cpu_all[name]:12.2f} {s_us:12.2f} {cpu_all[name] / s_us:13.2f}")
print()
print("redis-server's threads waiting for a CPU while each client ran (schedstat run-queue wait; set and get together):")
print(f"{'tool':{W}} {'ms waited':>10} {'us per 1k ops':>14}")
for name, a, b in zip(cpu_all, wait, wait[1:]):
    print(f"{name:{W}} {(b - a) / 1e6:10.1f} {(b - a) / 1e3 / (2 * n / 1000):14.1f}")
PY
