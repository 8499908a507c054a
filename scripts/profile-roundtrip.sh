#!/usr/bin/env bash
# profile-roundtrip.sh: does `cacheproof profile` recover the load it reads?
# Two loads of the tool's own (profile/testdata/roundtrip-families.yaml: a
# cache of defined families with a hash and a sorted set; and
# roundtrip-baseline.yaml: the seed's baseline with few users) each run
# against a redis-server on 127.0.0.1 while the profiler reads it with
# --observe (profile/roundtrip_test.go). For each, the side-by-side table
# (original -> profiled: patterns, types, live keys -> estimated, mean
# sizes, TTLs, command weights, zipf exponents), then `cacheproof size` on
# the profiled scenario and on the original one at the run's maxmemory,
# beside the hit rate the original run measured (issue 25: within 2 points).
#
#   scripts/profile-roundtrip.sh [USERS] [WINDOW]
#   BIN=./bin/cacheproof scripts/profile-roundtrip.sh 300 30s
set -euo pipefail
BIN=${BIN:-./bin/cacheproof}
USERS=${1:-300}
WINDOW=${2:-30s}
OUT=${OUT:-results/profile-roundtrip-$(date -u +%Y%m%dT%H%M%SZ)}
GO=${GO:-go}
mkdir -p "$OUT"
echo "== go test -run TestRoundTrip ./profile/ (users $USERS, window and --observe $WINDOW; files in $OUT)" >&2
CACHEPROOF_RT_USERS=$USERS CACHEPROOF_RT_WINDOW=$WINDOW CACHEPROOF_RT_OUT=$PWD/$OUT \
  "$GO" test -count=1 -timeout 20m -run '^TestRoundTrip$' ./profile/ >"$OUT/test.log" 2>&1 || {
  echo "profile-roundtrip: the round-trip test failed (its log: $OUT/test.log); the tables below are what it measured" >&2
}
for name in families baseline; do
  d=$OUT/$name
  [ -f "$d/table.txt" ] || { echo "profile-roundtrip: no table for $name" >&2; continue; }
  cat "$d/table.txt"
  # The original as a scenario `size` can read: the load ran on an external
  # redis-server the test started; size only needs the workload and the
  # server's settings. Every key is simulated (--sample-rate 1): SHARDS'
  # key sampling moves a small family's figure by 10 points or more (the
  # baseline's profiled opendota_profile read 93.6 % sampled, 81.5 % whole).
  sed -E '/^  addrs:/d; s/backend: external/backend: process/' "$d/original.yaml" >"$d/original-process.yaml"
  maxmem=$(sed -nE 's/.*maxmemory: *([0-9]+[a-z]*).*/\1/p' "$d/original.yaml" | head -1)
  for which in profiled original-process; do
    "$BIN" size -s "$d/$which.yaml" --sample-rate 1 --at "$maxmem" --policy allkeys-lru --no-what-ifs --points 2 -o "$d/size-$which" -q >/dev/null 2>"$d/size-$which.log" || [ $? -eq 1 ] ||
      echo "profile-roundtrip: size on $d/$which.yaml failed (see $d/size-$which.log)" >&2
  done
  python3 - "$d" "$maxmem" <<'PY'
import json, sys, re
d, maxmem = sys.argv[1], sys.argv[2]
m = re.match(r"(\d+)([a-z]*)", maxmem)
mult = {"": 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30}[m.group(2)]
at = int(m.group(1)) * mult
r = json.load(open(f"{d}/report.json"))
measured = r["cache"]["answered_hit_rate"]
def point(which):
    try:
        z = json.load(open(f"{d}/size-{which}/sizing.json"))
    except OSError:
        return None
    for pol in z["policies"]:
        if pol["policy"] == "allkeys-lru":
            for p in pol["curve"]:
                if p["maxmemory_bytes"] == at:
                    return p
    return None
def predicted(which):
    p = point(which)
    return None if p is None else p["hit_rate"]
p_prof, p_orig = predicted("profiled"), predicted("original-process")
# Family by family (the profiled families are named after their patterns,
# which for these loads are the original names): where the gap comes from.
fams = r["cache"].get("by_family") or {}
pp, po = point("profiled") or {}, point("original-process") or {}
if fams:
    print(f"{'hit rate by family':20} {'lookups':>8} {'measured':>9} {'size(orig)':>11} {'size(prof)':>11}")
    for name in sorted(fams):
        v = fams[name]
        n = v["hits"] + v["misses"]
        if n == 0:
            continue
        def cell(pt):
            fs = pt.get("families", {})
            # a profiled family is named after its pattern: page:{id}:html is page_html
            key = name if name in fs else next((k for k in sorted(fs) if k.startswith(name + "_")), None)
            return "n/a" if key is None else f"{100*fs[key]:.1f} %"
        print(f"{name:20} {n:8d} {100*v['hit_rate']:8.1f} % {cell(po):>11} {cell(pp):>11}")
fmt = lambda x: "n/a" if x is None else f"{100*x:.2f} %"
diff = lambda x: "" if x is None else f" ({100*(x-measured):+.2f} points)"
print(f"size at {maxmem}: on the profiled scenario {fmt(p_prof)}{diff(p_prof)}, on the original {fmt(p_orig)}{diff(p_orig)}; the original run measured {100*measured:.2f} %")
print()
PY
done
echo "reports, profiles and scenarios in $OUT" >&2
