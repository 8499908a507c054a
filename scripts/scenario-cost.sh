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
# Usage: scripts/scenario-cost.sh [USERS] [DURATION] [extra `cacheproof run` flags]
# Environment: BIN (default bin/cacheproof), GOGC/GOMEMLIMIT/GOMAXPROCS as
# for any Go program (the report's client section says what was in effect);
# CACHEPROOF_STDCONN=1 (plain net.Conns, pool/conn.go) and
# CACHEPROOF_DISPATCH_TIMER=1 (a time.Timer dispatcher, engine/sleeper_linux.go)
# run one binary as it was before issue 13's I/O and dispatcher changes, for A/B.
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${1:-10000}; DURATION=${2:-60s}; shift $(( $# > 2 ? 2 : $# ))
BIN=${BIN:-bin/cacheproof}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/cacheproof
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
set +e
"$BIN" run -s baseline --users "$USERS" --warmup 10s --duration "$DURATION" --out "$out" --progress none -q "$@" >"$out/run.log" 2>&1
rc=$?
set -e
if [ ! -f "$out/report.json" ]; then
  cat "$out/run.log" >&2
  exit "$rc"
fi
python3 - "$out/report.json" "$USERS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c, s, u = r["client"], r["server"], r["users"]
started = max(u["commands"], 1)
print(f"baseline at {sys.argv[2]} users, {c['window_s']:.0f} s recorded, {u['ops_per_sec']:,.0f} ops/s, GOGC {c['gogc']} ({c['gogc_source']}), GOMAXPROCS {c['gomaxprocs']}")
w = max(c['window_s'], 1e-9)
print(f"  tool CPU per Redis command   {c['cpu_us_per_redis_command']:8.1f} µs   ({c['cpu_seconds']:.2f} s CPU, {c['cpu_seconds'] / w:.2f} cores)")
print(f"  redis CPU per command        {s['cpu_us_per_command']:8.1f} µs   ({s['cpu_seconds']:.2f} s CPU, {s['commands']:,} commands, {s['commands'] / w:,.0f}/s)")
print(f"  ratio tool / redis           {c['cpu_vs_redis']:8.2f}")
print(f"  tool peak RSS                {c['peak_rss_bytes'] / 2**20:8.1f} MiB")
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
