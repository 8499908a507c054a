#!/usr/bin/env bash
# How often the same load gets the same verdict: N single runs of the
# baseline, then N runs with --repeat auto, at the same load, back to back
# on one machine. Prints each run's verdict, its p99 with the interval the
# verdict was decided from, the host timer probe's late share (how noisy
# the machine was), and the tallies: a single run's pass/fail/inconclusive
# beside --repeat auto's, and auto's runs per verdict. Counts from one
# invocation, never a timed assertion (make bench prints them; the figures
# in docs/performance.md name the invocation that produced them).
#
# Usage: scripts/verdict-spread.sh [N] [USERS] [DURATION] [extra `cacheproof run` flags]
# Defaults: N=5, USERS=10000, DURATION=60s (warm-up 10 s).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}; USERS=${2:-10000}; DURATION=${3:-60s}; shift $(( $# > 3 ? 3 : $# ))
BIN=${BIN:-bin/cacheproof}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/cacheproof
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for mode in single auto; do
  for i in $(seq 1 "$N"); do
    args=()
    [ "$mode" = auto ] && args=(--repeat auto --repeat-budget 6m)
    "$BIN" run -s baseline --users "$USERS" --warmup 10s --duration "$DURATION" \
      --out "$out/$mode-$i" --progress none -q "${args[@]}" "$@" >"$out/$mode-$i.log" 2>&1 || true
  done
done
python3 - "$out" "$N" <<'PY'
import json, os, sys
out, n = sys.argv[1], int(sys.argv[2])
for mode in ("single", "auto"):
    tally, runs = {}, []
    print(f"{mode}:")
    for i in range(1, n + 1):
        p = os.path.join(out, f"{mode}-{i}", "report.json")
        if not os.path.exists(p):
            print(f"  {i}: no report"); tally["error"] = tally.get("error", 0) + 1; continue
        r = json.load(open(p))
        v = r["verdict"]; tally[v] = tally.get(v, 0) + 1
        t = next((t for t in r["targets"] if t["name"] == "latency_p99"), None)
        iv = t.get("interval") if t else None
        ivs = f"[{iv['low']:.2f} – {iv['high']:.2f}]" if iv else ""
        rep = r.get("repeat") or {}
        nr = len(rep.get("runs", [])) or 1
        runs.append(nr)
        hosts = [x.get("host_late_fraction") for x in rep.get("runs", [])] or [((r.get("client") or {}).get("host_timer") or {}).get("late_fraction")]
        hs = " ".join("n/a" if h is None else f"{100*h:.2f}%" for h in hosts)
        print(f"  {i}: {v:12s} p99 {t['observed'] if t else float('nan'):.3f} ms {ivs:18s} runs {nr}  host late {hs}")
    print("  verdicts: " + ", ".join(f"{k} {v}/{n}" for k, v in sorted(tally.items())) +
          (f"; runs per verdict: mean {sum(runs)/len(runs):.1f}, max {max(runs)}" if runs and mode == "auto" else ""))
PY
