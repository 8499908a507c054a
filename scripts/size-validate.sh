#!/usr/bin/env bash
# size-validate.sh: is `cacheproof size` right on this machine? It predicts
# the hit rate of a scenario at three maxmemory sizes, runs the scenario
# for real at each, and prints predicted and measured side by side with the
# difference in percentage points (issue 15: within 1 point).
#
# The bound is judged on the answered hit rate, hits / (hits + misses): a
# lookup that failed (a pool timeout when the machine is starved of CPU)
# never reached Redis, and no model of Redis's memory predicts it. The
# measured hit rate (failed lookups as misses) and its difference are
# printed beside it, with the share of lookups that failed and the load
# average before each run.
#
# A second prediction per size takes the one input a run measures that
# size cannot know: how many connections Redis held (INFO
# connected_clients over the recorded phases; a starved machine opens every
# pool's max_conns, a quiet one fewer), as `run --predict` does.
#
#   scripts/size-validate.sh [SCENARIO] [SIZE_MB...]
#   BIN=./bin/cacheproof ARGS="--duration 60s --warmup 10s" scripts/size-validate.sh baseline 64 128 256
#
# SCENARIO is a built-in name (scenarios/NAME.yaml) or a file; each run
# uses a copy of it with only maxmemory changed. ARGS go to both `size` and
# `run` (the same --duration/--warmup/--users give the same stream).
set -euo pipefail
BIN=${BIN:-./bin/cacheproof}
SCENARIO=${1:-baseline}
shift || true
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(64 128 256)
ARGS=${ARGS:---duration 60s --warmup 10s}
OUT=${OUT:-results/size-validate-$(date -u +%Y%m%dT%H%M%SZ)}
src=$SCENARIO
[ -f "$src" ] || src=scenarios/$SCENARIO.yaml
[ -f "$src" ] || { echo "size-validate: no scenario file $SCENARIO or scenarios/$SCENARIO.yaml" >&2; exit 2; }
mkdir -p "$OUT"
at=""
for m in "${SIZES[@]}"; do
  sed -E "s/maxmemory: *[0-9]+[a-zA-Z]*/maxmemory: ${m}mb/" "$src" > "$OUT/scenario-${m}mb.yaml"
  at="${at:+$at,}${m}mb"
done
policy=$(sed -nE 's/.*maxmemory_policy: *([a-z-]+).*/\1/p' "$src" | head -1)
policy=${policy:-allkeys-lru}

echo "== cacheproof size -s $src $ARGS --at $at --policy $policy" >&2
start=$(date +%s)
# shellcheck disable=SC2086
"$BIN" size -s "$src" $ARGS --at "$at" --policy "$policy" --no-what-ifs -o "$OUT/size" -q >&2 || [ $? -eq 1 ] # 1: the target is missed
echo "   ($(( $(date +%s) - start )) s)" >&2
for m in "${SIZES[@]}"; do
  echo "== cacheproof run -s $OUT/scenario-${m}mb.yaml $ARGS (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  cut -d' ' -f1-3 /proc/loadavg > "$OUT/loadavg-${m}mb"
  # shellcheck disable=SC2086
  "$BIN" run -s "$OUT/scenario-${m}mb.yaml" $ARGS -o "$OUT/run-${m}mb" --progress none -q >&2 || true
done

for m in "${SIZES[@]}"; do
  conns=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
rec = {p["name"] for p in r["phases"] if p["recorded"]}
v = [x["connected_clients"] for x in r["timeline"] if x["phase"] in rec and x["connected_clients"] > 0]
print(round(sum(v) / len(v)) if v else 0)' "$OUT/run-${m}mb/report.json")
  echo "$conns" > "$OUT/conns-${m}mb"
  [ "$conns" -gt 0 ] || continue
  # shellcheck disable=SC2086
  "$BIN" size -s "$src" $ARGS --at "${m}mb" --policy "$policy" --no-what-ifs --conns "$conns" --points 2 -o "$OUT/size-conns-${m}mb" -q >/dev/null 2>&1 || [ $? -eq 1 ]
done

python3 - "$OUT" "$policy" "${SIZES[@]}" <<'PY'
import json, sys
out, policy, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
z = json.load(open(f"{out}/size/sizing.json"))
curve = {p["maxmemory_bytes"]: p for pol in z["policies"] if pol["policy"] == policy for p in pol["curve"]}
print(f"{'maxmemory':>10} {'predicted':>10} {'measured':>10} {'answered':>10} {'diff':>7} {'ans.diff':>8} {'lookup errors':>18} {'load avg':>15} {'conns':>6} {'pred@conns':>10} {'ans.diff':>8}")
worst = worst_m = 0.0
starved = []
for m in sizes:
    r = json.load(open(f"{out}/run-{m}mb/report.json"))
    c = r["cache"]
    pred = curve[m << 20]["hit_rate"]
    diff, ans = 100 * (c["hit_rate"] - pred), 100 * (c["answered_hit_rate"] - pred)
    worst, worst_m = max(worst, abs(ans)), max(worst_m, abs(diff))
    lookups = c["hits"] + c["misses"] + c["lookup_errors"]
    errs = f"{c['lookup_errors']} ({100 * c['lookup_errors'] / max(lookups, 1):.2f}%)"
    load = open(f"{out}/loadavg-{m}mb").read().strip()
    conns = int(open(f"{out}/conns-{m}mb").read())
    pc, pcd = "", ""
    try:
        zc = json.load(open(f"{out}/size-conns-{m}mb/sizing.json"))
        p2 = [p["hit_rate"] for pol in zc["policies"] if pol["policy"] == policy for p in pol["curve"] if p["maxmemory_bytes"] == m << 20][0]
        pc, pcd = f"{100*p2:.2f}%", f"{100*(c['answered_hit_rate']-p2):+.2f}"
    except (OSError, IndexError):
        pass
    print(f"{m:>7} MB {100*pred:>9.2f}% {100*c['hit_rate']:>9.2f}% {100*c['answered_hit_rate']:>9.2f}% {diff:>+7.2f} {ans:>+8.2f} {errs:>18} {load:>15} {conns:>6} {pc:>10} {pcd:>8}")
    if c["lookup_errors"] > 0.02 * lookups:
        starved.append(f"{m} MB")
if starved:
    print(f"the runs at {', '.join(starved)} failed over 2% of their lookups (CPU-starved): their comparison is not the model's; run again on a quieter machine")
print(f"largest difference {worst:.2f} points on the answered hit rate ({'within' if worst <= 1 else 'OUTSIDE'} the 1-point bound), {worst_m:.2f} on the measured one; reports in {out}")
PY
