#!/usr/bin/env bash
# The load generator's own cost, measured in one run against the Redis it
# measures: the baseline scenario at USERS active users (default 10,000),
# recorded for DURATION (default 60s) after its prefill and a 10 s warm-up.
# Prints the tool's CPU per Redis command beside redis-server's own (both
# over the recorded phases, from the report's client and server sections),
# their ratio, the tool's peak RSS and the share of late and dropped
# commands. Ratios measured side by side, never a timed assertion: the two
# processes share this machine's cores.
#
# The yardstick, in the same script: redis-benchmark (50 clients, GET and
# SET) against its own redis-server, its client CPU over Redis's: the best
# unpipelined client measured on this machine, which the tool's ratio is
# held against (issue 28: at most the same).
#
# Usage: scripts/scenario-cost.sh [USERS] [DURATION] [extra `cacheproof run` flags]
# Environment: BIN (default bin/cacheproof), YARD_CLIENTS (redis-benchmark's
# clients for the yardstick, default 50; 1 has every command wake both
# sides, as the scenario's low rate does), GOGC/GOMEMLIMIT/GOMAXPROCS as
# for any Go program (the report's client section says what was in effect);
# CACHEPROOF_STDCONN=1 (plain net.Conns, pool/conn.go) and
# CACHEPROOF_DISPATCH_TIMER=1 (a time.Timer dispatcher, engine/sleeper_linux.go)
# run one binary as it was before issue 13's I/O and dispatcher changes, for A/B.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-10000}; DURATION=${2:-60s}; shift $(( $# > 2 ? 2 : $# ))
BIN=${BIN:-bin/cacheproof}
YARD_CLIENTS=${YARD_CLIENTS:-50}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/cacheproof
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
set +e
yard=none
if command -v redis-benchmark >/dev/null; then
  rdir=$(mktemp -d)
  rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$rdir" --daemonize no >"$rdir/log" 2>&1 &
  rpid=$!
  for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  rcpu() { python3 -c "import os; f=open('/proc/$rpid/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }
  TIMEFORMAT='%U %S'
  a=$(rcpu)
  { time redis-benchmark -p "$rport" -t set,get -c "$YARD_CLIENTS" -n 200000 -d 100 -r 100000 -q >/dev/null 2>&1 ; } 2>"$rdir/time"
  b=$(rcpu)
  read -r u s <"$rdir/time"
  yard=$(python3 -c "print(round(($u+$s)/max($b-$a,1e-9),2))")
  kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null || true
  rm -rf "$rdir"
fi
"$BIN" run -s baseline --users "$USERS" --warmup 10s --duration "$DURATION" --out "$out" --progress none -q "$@" >"$out/run.log" 2>&1
rc=$?
set -e
if [ ! -f "$out/report.json" ]; then
  cat "$out/run.log" >&2
  exit "$rc"
fi
python3 - "$out/report.json" "$USERS" "$yard" "$YARD_CLIENTS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
yard = sys.argv[3]
c, s, u = r["client"], r["server"], r["users"]
started = max(u["commands"], 1)
print(f"baseline at {sys.argv[2]} users, {c['window_s']:.0f} s recorded, {u['ops_per_sec']:,.0f} ops/s, GOGC {c['gogc']} ({c['gogc_source']}), GOMAXPROCS {c['gomaxprocs']}")
w = max(c['window_s'], 1e-9)
print(f"  tool CPU per Redis command   {c['cpu_us_per_redis_command']:8.1f} µs   ({c['cpu_seconds']:.2f} s CPU, {c['cpu_seconds'] / w:.2f} cores)")
print(f"  redis CPU per command        {s['cpu_us_per_command']:8.1f} µs   ({s['cpu_seconds']:.2f} s CPU, {s['commands']:,} commands, {s['commands'] / w:,.0f}/s)")
print(f"  ratio tool / redis           {c['cpu_vs_redis']:8.2f}   (redis-benchmark's client / redis in this script, {sys.argv[4]} clients: {yard}; goal: at most that)")
print(f"  tool peak RSS                {c['peak_rss_bytes'] / 2**20:8.1f} MiB")
sl = c.get("sched_latency")
if sl:
    print(f"  scheduling delay (tool)      p50 {sl['p50_ms']} ms, p99 {sl['p99_ms']} ms, p99.9 {sl['p999_ms']} ms, {100 * sl['over_1ms_fraction']:.2f}% over 1 ms")
rw = c.get("reply_wait")
if rw:
    print(f"  replies: network and Redis   p50 {rw['arrival_p50_ms']} ms, p99 {rw['arrival_p99_ms']} ms, p99.9 {rw['arrival_p999_ms']} ms   (write to the reply's arrival, kernel stamp)")
    print(f"  replies: the tool's wait     p50 {rw['wait_p50_ms']} ms, p99 {rw['wait_p99_ms']} ms, p99.9 {rw['wait_p999_ms']} ms, {100 * rw['wait_over_1ms_fraction']:.2f}% over 1 ms   ({rw['count']:,} round trips)")
print(f"  GC                           {c['gc_cycles']} cycles, pause p99 {c['gc_pause_p99_ms']} ms, {100 * c['gc_cpu_fraction']:.2f}% of CPU")
print(f"  late                         {100 * u['late'] / started:8.2f} %   ({u['late']:,} of {started:,}; {u.get('late_waiting_for_slot', 0):,} waited for a slot; host load {c.get('host_load_1m', 0):.2f})")
h = c.get("host_timer")
if h:
    print(f"  host timer (probe)           {100 * h['late_fraction']:8.2f} %   ({h['late']:,} of {h['wakes']:,} wake-ups over 1 ms late, worst {h['max_ms']} ms: this machine's floor under 'late')")
else:
    print(f"  host timer (probe)           not measured ({c.get('host_timer_note', '')})")
print(f"  dropped                      {u['dropped']:8,}")
print(f"  latency p99                  {r['latency_ms']['overall']['p99']:8.3f} ms   verdict {r['verdict']}")
if c.get("bottleneck"):
    print(f"  BOTTLENECK: {c['bottleneck']}")
PY
