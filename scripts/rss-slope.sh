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
# Usage: [KEEP=DIR] [HEAPDIR=DIR] scripts/rss-slope.sh [DURATION] [INTERVAL] [SCENARIO] [extra run flags...]
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
# KEEP=DIR keeps the run's report and the samples (a soak's report is
# worth keeping); the exit status is the fit's, not the cleanup's (a kill
# of the process that already ended made it 1).
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -r "$out/report" "$out/samples" "$out/run.log" "$KEEP/" 2>/dev/null || true; fi; rm -rf "$out"' EXIT
start=$(date +%s.%N)
echo "t_s rss_mib heap_mib epoch_s goroutines" >"$out/samples"
n=0
while kill -0 "$pid" 2>/dev/null; do
	sleep "$I"
	rss=$(awk '/^VmRSS/ {print $2/1024}' "/proc/$pid/status" 2>/dev/null) || break
	[ -n "$rss" ] || break
	n=$((n + 1))
	heap=NaN
	gor=NaN
	if [ -n "${HEAPDIR:-}" ] && curl -fsS -o "$out/heap.pb.gz" "http://127.0.0.1:$port/debug/pprof/heap?gc=1" 2>/dev/null; then
		heap=$(go tool pprof -sample_index=inuse_space -top "$out/heap.pb.gz" 2>/dev/null | awk '/^Showing nodes accounting/ {v=$(NF-1); print v; exit}')
		mkdir -p "$HEAPDIR" && cp "$out/heap.pb.gz" "$HEAPDIR/heap-$n.pb.gz"
		gor=$(curl -fsS "http://127.0.0.1:$port/debug/pprof/goroutine?debug=1" 2>/dev/null | awk '/^goroutine profile:/ {print $NF; exit}')
		[ -n "$gor" ] || gor=NaN
	fi
	now=$(date +%s.%N)
	echo "$(python3 -c "print(round($now-$start,1))") $rss $heap $now $gor" >>"$out/samples"
done
wait "$pid" || true
python3 - "$out" <<'PY'
import json, sys, re, datetime
d = sys.argv[1]
rows = [l.split() for l in open(f"{d}/samples").read().splitlines()[1:]]
rep = json.load(open(f"{d}/report/report.json"))
# The recorded load in wall-clock time: started_at is the load's t=0
# (after prefill); phases count from it. Samples before the first recorded
# phase (warm-up, prefill) and after the last phase's end (draining,
# building and writing the report, which allocates tens of MB at once) are
# excluded from the slope.
phases = rep.get("phases", [])
rec = [p for p in phases if p.get("recorded")]
t0 = datetime.datetime.fromisoformat(rep["started_at"].replace("Z", "+00:00")).timestamp()
first = t0 + min((p["start_s"] for p in rec), default=0)
last = t0 + max((p["end_s"] for p in phases), default=0)
t = [float(r[0]) for r in rows]
rss = [float(r[1]) for r in rows]
ep = [float(r[3]) for r in rows]
pts = [(ti, ri) for ti, ri, e in zip(t, rss, ep) if first <= e <= last]
def unit(v):
    m = re.match(r"([0-9.]+)([kMG]?B)", v or "")
    if not m: return float("nan")
    return float(m.group(1)) * {"kB": 1/1024, "MB": 1, "GB": 1024, "B": 1/2**20}[m.group(2)]
heap = [unit(r[2]) for r in rows]
print("t_s     rss_MiB  live_heap_MiB goroutines  (* = in the recorded load)")
for ti, ri, hi, e, r in zip(t, rss, heap, ep, rows):
    print(f"{ti:7.1f} {ri:8.1f} {hi:10.1f} {r[4]:>10} {'*' if first <= e <= last else ''}")
def fit(p):
    n = len(p); mx = sum(q[0] for q in p) / n; my = sum(q[1] for q in p) / n
    sxx = sum((q[0] - mx) ** 2 for q in p)
    return sum((q[0] - mx) * (q[1] - my) for q in p) / sxx * 3600
if len(pts) >= 3:
    slope = fit(pts)
    half = [q for q in pts if q[0] >= (pts[0][0] + pts[-1][0]) / 2]
    hs = f"; second half {fit(half):+.1f} MiB/hour" if len(half) >= 3 else ""
    print(f"RSS slope over the recorded load: {slope:+.1f} MiB/hour ({len(pts)} samples from {pts[0][1]:.1f} to {pts[-1][1]:.1f} MiB, max {max(q[1] for q in pts):.1f}{hs}); peak RSS {rep['client']['peak_rss_bytes']/2**20:.1f} MiB; host load {rep['client'].get('host_load_1m', 0)}")
else:
    print("too few samples in the recorded load for a slope")
PY
