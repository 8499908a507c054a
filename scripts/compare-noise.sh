#!/usr/bin/env bash
# How often `cacheproof compare` cries wolf, and how often it catches a real
# slowdown, on this machine. Runs the baseline N times unchanged (the A runs)
# and M times with a real slowdown (the B runs, interleaved with the A runs so
# a drift of the machine's load falls on both), all short and small, then:
#
#   single-run A/A  every ordered pair of A runs (N*(N-1) pairs: 8 runs give
#                   56), compared from their per-second windows;
#   single-run A/B  every A run as base against every B run as new (N*M);
#   set A/A         every split of the A runs into two halves, the first as
#                   base (C(N, N/2): 70 for 8 runs);
#   set A/B         every half of the A runs as base against all B runs.
#
# A false alarm is an A/A comparison that exits 1; a detection an A/B one
# that exits 1. The pairs reuse the same runs, so they are not independent
# trials: the ratios say how the method treats this machine's noise, not a
# rate with its own interval. The host timer probe's late share
# (client.host_timer.late_fraction) of every run is printed beside them.
#
# Usage: scripts/compare-noise.sh [A_RUNS] [B_RUNS]       (defaults 8 and 4)
# Environment:
#   BIN       cacheproof binary (default bin/cacheproof)
#   OUT       folder of the runs (default results/compare-noise); runs whose
#             report.json exists are reused, so a second call only compares
#   USERS     active users (default 2000)
#   WARMUP_S  warm-up seconds (default 10); DURATION_S recorded seconds (30)
#   SLOWDOWN  net (a network fault adding 1 ms to every command, through the
#             in-process Toxiproxy) or pool (a pool of 2 connections per bot
#             instance); default net
#   ONLY      runs: only make the runs; compare: only compare existing runs
set -euo pipefail
cd "$(dirname "$0")/.."
NA=${1:-8}
NB=${2:-4}
BIN=${BIN:-bin/cacheproof}
OUT=${OUT:-results/compare-noise}
USERS=${USERS:-2000}
WARMUP_S=${WARMUP_S:-10}
DURATION_S=${DURATION_S:-30}
SLOWDOWN=${SLOWDOWN:-net}
ONLY=${ONLY:-}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/cacheproof
mkdir -p "$OUT"

# The B scenario: the baseline file itself (same name and seed, so compare
# accepts the pair) with the slowdown added.
b_scenario="$OUT/b-$SLOWDOWN.yaml"
case "$SLOWDOWN" in
net)
	{
		cat scenarios/baseline.yaml
		echo "faults:"
		echo "  - {at: 0s, for: $((WARMUP_S + DURATION_S))s, kind: network, toxic: latency, latency: 1ms}"
	} >"$b_scenario"
	;;
pool)
	sed 's/^pool: {profile: production}$/pool: {profile: production, max_conns: 2, min_idle: 2}/' scenarios/baseline.yaml >"$b_scenario"
	grep -q 'max_conns: 2' "$b_scenario" || { echo "compare-noise: could not set max_conns in $b_scenario" >&2; exit 2; }
	;;
*)
	echo "compare-noise: SLOWDOWN must be net or pool, got $SLOWDOWN" >&2
	exit 2
	;;
esac

run_one() { # name scenario
	local dir="$OUT/$1"
	if [ -f "$dir/report.json" ]; then
		return
	fi
	echo "run $1 ($2)" >&2
	# Exit 1 (a target missed) is a finished run; anything above is not.
	local rc=0
	"$BIN" run -s "$2" --users "$USERS" --warmup "${WARMUP_S}s" --duration "${DURATION_S}s" -q -o "$dir" >"$OUT/$1.log" 2>&1 || rc=$?
	if [ "$rc" -gt 1 ] && [ "$rc" -ne 4 ]; then
		echo "compare-noise: run $1 exited $rc (see $OUT/$1.log)" >&2
		exit 3
	fi
}

if [ "$ONLY" != compare ]; then
	for i in $(seq 1 "$(( NA > NB ? NA : NB ))"); do
		[ "$i" -le "$NA" ] && run_one "a$i" baseline
		[ "$i" -le "$NB" ] && run_one "b-$SLOWDOWN$i" "$b_scenario"
	done
fi
[ "$ONLY" = runs ] && exit 0

python3 - "$BIN" "$OUT" "$NA" "$NB" "$SLOWDOWN" <<'PY'
import itertools, json, subprocess, sys
bin_, out, na, nb, slow = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
A = [f"{out}/a{i}/report.json" for i in range(1, na + 1)]
B = [f"{out}/b-{slow}{i}/report.json" for i in range(1, nb + 1)]

def host(path):
    r = json.load(open(path))
    h = (r.get("client") or {}).get("host_timer")
    lat = r["latency_ms"]["overall"]
    return (h["late_fraction"] if h else None), lat["p50"], lat["p99"]

def compare(base, new):
    p = subprocess.run([bin_, "compare", "--base", *base, "--new", *new, "--json"], capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"compare exited {p.returncode}: {p.stderr}")
    c = json.loads(p.stdout)
    return p.returncode, [r["metric"] for r in c["rows"] if r.get("verdict") == "regressed"], \
        [r["metric"] for r in c["rows"] if r.get("verdict") == "inconclusive"]

def tally(name, pairs, want):
    hits, why = 0, {}
    inconclusive = 0
    for base, new in pairs:
        rc, reg, inc = compare(base, new)
        hits += rc == 1
        inconclusive += bool(inc) and rc != 1
        for m in reg:
            why[m] = why.get(m, 0) + 1
    n = len(pairs)
    word = "false regressions" if want == "none" else "regressions detected"
    top = ", ".join(f"{m} {k}" for m, k in sorted(why.items(), key=lambda x: -x[1])[:4])
    print(f"{name:<16} {word} {hits}/{n} = {hits/n if n else 0:.3f}"
          f"   (pairs with an inconclusive row and no regression: {inconclusive}; rows regressed: {top or 'none'})")
    return hits, n

print(f"runs: {na} A (baseline), {nb} B (slowdown: {slow}); users and lengths as run; folder {out}")
for p in A + B:
    lf, p50, p99 = host(p)
    lfs = "n/a" if lf is None else f"{lf*100:.2f}%"
    print(f"  {p:<48} host timer late {lfs:>7}   p50 {p50:.3f} ms  p99 {p99:.3f} ms")
lfs = sorted(host(p)[0] for p in A + B if host(p)[0] is not None)
if lfs:
    print(f"host timer late share over the runs: min {lfs[0]*100:.2f}%, median {lfs[len(lfs)//2]*100:.2f}%, max {lfs[-1]*100:.2f}%")
print()
tally("single A/A", [([a], [b]) for a, b in itertools.permutations(A, 2)], "none")
if B:
    tally("single A/B", [([a], [b]) for a in A for b in B], "regress")
half = na // 2
if half >= 2:
    splits = [(list(s), [a for a in A if a not in s]) for s in itertools.combinations(A, half)]
    tally("sets A/A", splits, "none")
    if len(B) >= 2:
        tally("sets A/B", [(list(s), B) for s in itertools.combinations(A, half)], "regress")
PY
