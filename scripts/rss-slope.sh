#!/usr/bin/env bash
# The tool's memory over a long run: runs a scenario (default the seed's
# baseline) for DURATION of recorded load, samples the process's VmRSS and
# (with HEAPDIR) its live Go heap every INTERVAL, and prints the RSS slope per hour
# fitted over the recorded load (least squares, warm-up and prefill
# excluded) with the samples. A flat tool has a slope near zero; issue 28's
# bar is a 24-hour soak at 10k users under 150 MB.
#
# With HEAPDIR set, the run serves its live endpoint (--metrics-addr) and a
# heap profile is taken and kept at each sample (forcing a collection each
# time, which moves the RSS it measures); compare two with
#   go tool pprof -sample_index=inuse_space -top -base HEAPDIR/heap-1.pb.gz HEAPDIR/heap-N.pb.gz
#
# Usage: scripts/rss-slope.sh [DURATION] [INTERVAL] [SCENARIO] [extra run flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
D=${1:-10m}; I=${2:-15}; S=${3:-baseline}
shift $(( $# < 3 ? $# : 3 ))
BIN=${BIN:-bin/cacheproof}
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/cacheproof
out=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
live=()
[ -n "${HEAPDIR:-}" ] && live=(--metrics-addr "127.0.0.1:$port")
"$BIN" run -s "$S" --duration "$D" --out "$out/report" "${live[@]}" "$@" >"$out/run.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$out"' EXIT
start=$(date +%s.%N)
echo "t_s rss_mib heap_mib" >"$out/samples"
n=0
while kill -0 "$pid" 2>/dev/null; do
	sleep "$I"
	rss=$(awk '/^VmRSS/ {print $2/1024}' "/proc/$pid/status" 2>/dev/null) || break
	[ -n "$rss" ] || break
	n=$((n + 1))
	heap=NaN
	if [ -n "${HEAPDIR:-}" ] && curl -fsS -o "$out/heap.pb.gz" "http://127.0.0.1:$port/debug/pprof/heap?gc=1" 2>/dev/null; then
		heap=$(go tool pprof -sample_index=inuse_space -top "$out/heap.pb.gz" 2>/dev/null | awk '/^Showing nodes accounting/ {v=$(NF-1); print v; exit}')
		mkdir -p "$HEAPDIR" && cp "$out/heap.pb.gz" "$HEAPDIR/heap-$n.pb.gz"
	fi
	echo "$(python3 -c "print(round($(date +%s.%N)-$start,1))") $rss $heap" >>"$out/samples"
done
wait "$pid" || true
python3 - "$out" <<'PY'
import json, sys, re
d = sys.argv[1]
rows = [l.split() for l in open(f"{d}/samples").read().splitlines()[1:]]
rep = json.load(open(f"{d}/report/report.json"))
# The recorded load's start in wall seconds since the process started:
# prefill and warm-up come first; samples before it are excluded.
phases = rep.get("phases", [])
rec = [p for p in phases if p.get("recorded")]
first = min((p["start_s"] for p in rec), default=0)
total = max((p["end_s"] for p in phases), default=0)
t = [float(r[0]) for r in rows]
rss = [float(r[1]) for r in rows]
# The run's t=0 is after prefill: align the last sample with the load's end.
offset = t[-1] - total if t else 0
pts = [(ti, ri) for ti, ri in zip(t, rss) if ti - offset >= first]
def unit(v):
    m = re.match(r"([0-9.]+)([kMG]?B)", v or "")
    if not m: return float("nan")
    return float(m.group(1)) * {"kB": 1/1024, "MB": 1, "GB": 1024, "B": 1/2**20}[m.group(2)]
heap = [unit(r[2]) for r in rows]
print("t_s     rss_MiB  live_heap_MiB")
for ti, ri, hi in zip(t, rss, heap):
    print(f"{ti:7.1f} {ri:8.1f} {hi:10.1f}")
if len(pts) >= 3:
    n = len(pts); mx = sum(p[0] for p in pts) / n; my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx * 3600
    print(f"RSS slope over the recorded load: {slope:+.1f} MiB/hour ({n} samples from {pts[0][1]:.1f} to {pts[-1][1]:.1f} MiB); peak RSS {rep['client']['peak_rss_bytes']/2**20:.1f} MiB; host load {rep['client'].get('host_load_1m', 0)}")
else:
    print("too few samples in the recorded load for a slope")
PY
