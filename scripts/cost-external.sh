#!/usr/bin/env bash
# The load generator's CPU per Redis command against redis-server's, measured
# from outside the tool, so any cacheproof binary (one from before the report
# measured itself too) can be compared side by side: a redis-server on
# loopback, the baseline workload at USERS users against it as an external
# target, and over a window after the prefill the tool's utime+stime from
# /proc beside Redis's used_cpu_* and total_commands_processed from INFO.
#
# Usage: scripts/cost-external.sh BIN USERS SECONDS [ENV=VALUE ...]
#   e.g. scripts/cost-external.sh bin/cacheproof 10000 35 GOMAXPROCS=1
set -euo pipefail
BIN=$1; USERS=$2; SECS=$3; shift 3
[ "$SECS" -ge 25 ] || { echo "SECONDS must be at least 25 (12 s prefill + a window)" >&2; exit 2; }
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
  --maxmemory 256mb --maxmemory-policy allkeys-lru --daemonize no >"$dir/redis.log" 2>&1 &
rpid=$!
tpid=
trap '[ -n "$tpid" ] && kill "$tpid" 2>/dev/null; kill $rpid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
cat >"$dir/ext.yaml" <<Y
name: cost-external
target: {backend: external, addrs: ["127.0.0.1:$port"]}
workload: {population: 1000000, active_users: $USERS, zipf: 1.1, prefill: 10m}
pool: {profile: production, min_idle: 10, max_conns: 50}
phases:
  - {name: steady, duration: ${SECS}s}
Y
env "$@" "$BIN" run -s "$dir/ext.yaml" --out "$dir/out" --progress none -q >"$dir/run.log" 2>&1 &
tpid=$!
cpu() { awk '{print $14+$15}' "/proc/$tpid/stat"; }
rcpu() { redis-cli -p "$port" info cpu | awk -F: '/used_cpu_(sys|user):/{s+=$2} END{printf "%.3f", s}'; }
rcmds() { redis-cli -p "$port" info stats | awk -F: '/total_commands_processed/{print $2+0}'; }
sleep 12 # prefill
t0=$(cpu); r0=$(rcpu); c0=$(rcmds)
sleep $((SECS - 17))
t1=$(cpu); r1=$(rcpu); c1=$(rcmds)
wait "$tpid" || true
tpid=
python3 - "$t0" "$t1" "$r0" "$r1" "$c0" "$c1" "$(getconf CLK_TCK)" "$dir/out/report.json" <<'PY'
import json, sys
t0, t1, r0, r1 = map(float, sys.argv[1:5]); c0, c1, hz = map(int, sys.argv[5:8])
t, r, n = (t1 - t0) / hz, r1 - r0, c1 - c0
print(f"commands={n} tool_cpu={t:.2f}s redis_cpu={r:.2f}s tool_us_per_cmd={t / n * 1e6:.1f} redis_us_per_cmd={r / n * 1e6:.1f} ratio={t / r:.2f}")
try:
    rep = json.load(open(sys.argv[8])); u = rep["users"]
    print(f"late={100 * u['late'] / max(u['commands'], 1):.2f}% dropped={u['dropped']} p99={rep['latency_ms']['overall']['p99']}ms ops/s={u['ops_per_sec']}")
except OSError:
    print("no report written")
PY
