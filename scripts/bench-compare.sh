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

# redis-benchmark: --csv gives rps and latency percentiles per test.
TIMEFORMAT='%U %S'
r0=$(redis_cpu)
{ time redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -c "$C" -n "$N" -d "$D" -r "$R" --csv >"$dir/rb.csv" 2>/dev/null ; } 2>"$dir/rb.time"
read -r u s <"$dir/rb.time"
rb_cpu_us=$(python3 -c "print(($u+$s)*1e6/(2*$N))")
r1=$(redis_cpu)
# The same with 4 requests in flight per connection (-P 4): what
# auto-pipelining with 4x callers per connection should be held against.
{ time redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -c "$C" -n "$N" -d "$D" -r "$R" -P 4 --csv >"$dir/rbp.csv" 2>/dev/null ; } 2>"$dir/rbp.time"
read -r u s <"$dir/rbp.time"
rbp_cpu_us=$(python3 -c "print(($u+$s)*1e6/(2*$N))")
r2=$(redis_cpu)

"$BIN" raw --addr "127.0.0.1:$port" -c "$C" -n "$N" -d "$D" -r "$R" -t set,get --json >"$dir/cp.json"
r3=$(redis_cpu)
"$BIN" raw --addr "127.0.0.1:$port" -c "$((C*4))" --conns "$C" -n "$N" -d "$D" -r "$R" -t set,get --auto-pipeline --json >"$dir/cpa.json"
r4=$(redis_cpu)

python3 - "$dir" "$rb_cpu_us" "$rbp_cpu_us" "$N" "$r0" "$r1" "$r2" "$r3" "$r4" <<'PY'
import csv, json, sys
d, rb_cpu, rbp_cpu, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
r = [float(x) for x in sys.argv[5:10]]
# Redis's CPU per operation while each client ran (set and get together).
srv = [(r[i + 1] - r[i]) * 1e6 / (2 * n) for i in range(4)]
def rbload(p):
    return {row["test"].lower(): row for row in csv.DictReader(open(p))}
rb, rbp = rbload(f"{d}/rb.csv"), rbload(f"{d}/rbp.csv")
def load(p):
    return {r["test"]: r for r in map(json.loads, open(p))}
cp, cpa = load(f"{d}/cp.json"), load(f"{d}/cpa.json")
W = 46
print(f"{'test':4} {'tool':{W}} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu us/op':>10}")
cpu_all = {"redis-benchmark": rb_cpu, "redis-benchmark -P 4": rbp_cpu}
for name, p in (("cacheproof raw", cp), ("cacheproof raw --auto-pipeline (4 callers/conn)", cpa)):
    cpu_all[name] = sum(p[t]["cpu_per_op_us"] for t in ("set", "get")) / 2
for t in ("set", "get"):
    r, rp = rb[t], rbp[t]
    for name, row, cpu in (("redis-benchmark", r, rb_cpu), ("redis-benchmark -P 4", rp, rbp_cpu)):
        print(f"{t:4} {name:{W}} {float(row['rps']):9.0f} {float(row['p50_latency_ms']):8.3f} {float(row['p99_latency_ms']):8.3f} {cpu:10.2f}")
    for name, x in (("cacheproof raw", cp[t]), ("cacheproof raw --auto-pipeline (4 callers/conn)", cpa[t])):
        print(f"{t:4} {name:{W}} {x['ops_per_sec']:9.0f} {x['latency_ms']['p50']:8.3f} {x['latency_ms']['p99']:8.3f} {x['cpu_per_op_us']:10.2f}")
    print(f"     ops/s   raw / redis-benchmark {cp[t]['ops_per_sec']/float(r['rps']):.2f};  auto-pipeline / redis-benchmark {cpa[t]['ops_per_sec']/float(r['rps']):.2f} (goal >= 1);  auto-pipeline / redis-benchmark -P 4 {cpa[t]['ops_per_sec']/float(rp['rps']):.2f}")
    print(f"     cpu/op  raw / redis-benchmark {cp[t]['cpu_per_op_us']/rb_cpu:.2f} (goal <= 1.5)")
print()
print("client CPU against Redis's in the same run (set and get together; redis-server's CPU from /proc while each client ran):")
print(f"{'tool':{W}} {'client us/op':>12} {'redis us/op':>12} {'client/redis':>13}")
for name, s_us in zip(cpu_all, srv):
    print(f"{name:{W}} {cpu_all[name]:12.2f} {s_us:12.2f} {cpu_all[name] / s_us:13.2f}")
PY
