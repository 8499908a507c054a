#!/usr/bin/env python3
"""size-corpus.py: is `cacheproof size` right on caches unlike the baseline?

For every scenario of a corpus folder (sizing/testdata/corpus: policies,
skews, value sizes, TTL mixes, instances that differ), it first predicts
(`cacheproof size`, no run data) the hit rate at three maxmemory sizes - a
quarter, a half and three quarters of the scenario's working set, rounded
to whole MiB - overall and per family, then runs the scenario for real
RUNS times at each size. The measured side is the median of the runs'
answered hit rates (hits / (hits + misses): a failed lookup never reached
Redis), with their spread (min-max). It prints one row per scenario and
size, and one per family that takes at least 10 % of the lookups, with the
gap in points (measured - predicted; positive: the prediction is on the
safe side), and the host's noise (the runs' client.host figures). A gap
over 1 point is marked with '!'.

  scripts/size-corpus.py [--runs 3] [--out DIR] [--only NAME,...] [--sizes NAME=MB/MB,...] [--args "..."] CORPUS_DIR

Exit 0 when every point is within 1 point, 1 when not, 2 on bad usage.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHARES = (0.25, 0.5, 0.75)
BOUND = 1.0  # percentage points
MIN_SHARE = 0.10  # families with at least this share of lookups are bounded


def sh(cmd, **kw):
    return subprocess.run(cmd, check=False, **kw)


def size(binary, scen, policy, out, at=None, extra=()):
    cmd = [binary, "size", "-s", scen, "--policy", policy, "--no-what-ifs", "-o", out, "-q"]
    if at:
        cmd += ["--at", ",".join(f"{m}mb" for m in at), "--points", "2"]
    else:
        cmd += ["--points", "4"]
    cmd += list(extra)
    p = sh(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"size-corpus: {' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return json.load(open(os.path.join(out, "sizing.json")))


def policy_of(path):
    for line in open(path):
        if "maxmemory_policy:" in line:
            return line.split("maxmemory_policy:")[1].strip(" }\n").split(",")[0].strip()
    return "allkeys-lru"


def with_maxmemory(src, dst, mb):
    import re
    text = open(src).read()
    text, n = re.subn(r"maxmemory: *[0-9]+[a-zA-Z]*", f"maxmemory: {mb}mb", text, count=1)
    if n != 1:
        sys.exit(f"size-corpus: {src}: no 'maxmemory: N' to replace")
    open(dst, "w").write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=time.strftime("results/size-corpus-%Y%m%dT%H%M%SZ", time.gmtime()))
    ap.add_argument("--only", default="")
    ap.add_argument("--sizes", default="", help="NAME=MB[/MB...],... : run only these sizes of these caches (default: a quarter, a half and three quarters of each working set)")
    ap.add_argument("--args", default="", help="flags given to both size and run (e.g. --duration 20s)")
    ap.add_argument("--bin", default=os.environ.get("BIN", "./bin/cacheproof"))
    ap.add_argument("--with-conns", action="store_true", help="also predict each point with the connections its runs held (the median of their server.connected_clients, size --conns): the base's share of a gap")
    ap.add_argument("--no-run", action="store_true", help="with --reuse: tabulate the runs already there, run none")
    ap.add_argument("--reuse", action="store_true", help="keep the runs already in --out (predict again, run only what is missing)")
    a = ap.parse_args()
    if not os.path.isdir(a.corpus) or a.runs < 1:
        print(f"size-corpus: {a.corpus}: not a folder of scenarios (or --runs < 1)", file=sys.stderr)
        return 2
    extra = a.args.split()
    names = sorted(f[:-5] for f in os.listdir(a.corpus) if f.endswith(".yaml"))
    if a.only:
        want = a.only.split(",")
        names = [n for n in names if n in want]
    os.makedirs(a.out, exist_ok=True)
    rows, worst, noise = [], 0.0, []
    for name in names:
        src = os.path.join(a.corpus, name + ".yaml")
        pol = policy_of(src)
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        ws = size(a.bin, src, pol, os.path.join(d, "size-ws"), extra=extra)["working_set_bytes"]
        sizes = sorted({max(1, round(s * ws / (1 << 20))) for s in SHARES})
        for spec in filter(None, a.sizes.split(",")):
            n, _, mbs = spec.partition("=")
            if n == name:
                sizes = sorted(int(m) for m in mbs.split("/"))
        pinned = os.path.join(d, "sizes.json")
        if a.reuse and os.path.exists(pinned):
            # The sizes the kept runs were made at (a changed model moves
            # the working set a little; the runs stay comparable).
            sizes = json.load(open(pinned))
        json.dump(sizes, open(pinned, "w"))
        z = size(a.bin, src, pol, os.path.join(d, "size"), at=sizes, extra=extra)
        curve = {p["maxmemory_bytes"]: p for q in z["policies"] if q["policy"] == pol for p in q["curve"]}
        for mb in sizes:
            pred = curve[mb << 20]
            scen = os.path.join(d, f"scenario-{mb}mb.yaml")
            with_maxmemory(src, scen, mb)
            runs = []
            for i in range(a.runs):
                rd = os.path.join(d, f"run-{mb}mb-{i + 1}")
                if a.reuse and os.path.exists(os.path.join(rd, "report.json")):
                    runs.append(json.load(open(os.path.join(rd, "report.json"))))
                    continue
                if a.no_run:
                    continue
                print(f"== {name} {pol} {mb} MiB run {i + 1}/{a.runs} (load average {open('/proc/loadavg').read().split()[0]})", file=sys.stderr, flush=True)
                sh([a.bin, "run", "-s", scen, "-o", rd, "--progress", "none", "-q"] + extra,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                try:
                    runs.append(json.load(open(os.path.join(rd, "report.json"))))
                except OSError:
                    print(f"size-corpus: {rd}: no report", file=sys.stderr)
            if not runs:
                continue
            for r in runs:
                h = r.get("client", {})
                noise.append((h.get("host_load_1m", 0), h.get("host_timer", {}).get("late_fraction", 0), h.get("host_timer", {}).get("max_ms", 0)))
            lookups = {}
            for r in runs:
                for f, c in r["cache"]["by_family"].items():
                    lookups[f] = lookups.get(f, 0) + c["hits"] + c["misses"]
            total = sum(lookups.values()) or 1
            fams = sorted(f for f, n in lookups.items() if n / total >= MIN_SHARE)
            errs = sum(r["cache"]["lookup_errors"] for r in runs)
            zc = None
            if a.with_conns:
                conns = round(statistics.median(r["server"]["connected_clients"] for r in runs))
                zz = size(a.bin, src, pol, os.path.join(d, f"size-{mb}mb-conns"), at=[mb], extra=extra + ["--conns", str(conns)])
                zc = ([p for q in zz["policies"] if q["policy"] == pol for p in q["curve"] if p["maxmemory_bytes"] == mb << 20][0], conns)
            allk = sum(r["cache"]["hits"] + r["cache"]["misses"] + r["cache"]["lookup_errors"] for r in runs)
            for fam in [None] + fams:
                if fam is None:
                    p = pred["hit_rate"]
                    m = [r["cache"]["answered_hit_rate"] for r in runs]
                else:
                    p = pred["families"].get(fam)
                    m = [r["cache"]["by_family"][fam]["answered_hit_rate"] for r in runs if fam in r["cache"]["by_family"]]
                    if p is None or not m:
                        continue
                med = statistics.median(m)
                gap = 100 * (med - p)
                pc = ""
                if zc:
                    q = zc[0]["hit_rate"] if fam is None else zc[0]["families"].get(fam)
                    if q is not None:
                        pc = f"{100 * q:.2f}% ({100 * (med - q):+.2f})" + (f" [{zc[1]}]" if fam is None else "")
                worst = max(worst, abs(gap))
                rows.append((name if fam is None else "", pol if fam is None else "", mb, 100 * mb * (1 << 20) / ws,
                             "all" if fam is None else f"{fam} ({100 * lookups[fam] / total:.0f}%)",
                             100 * p, 100 * med, 100 * min(m), 100 * max(m), gap,
                             f"{errs}/{allk}" if fam is None else "", pc))
    hdr = f"| {'scenario':<16} | {'policy':<15} | {'maxmemory':>9} | {'of ws':>5} | {'family (lookups)':<22} | {'predicted':>9} | {'measured (median)':>17} | {'spread':>13} | {'gap (pt)':>8} | {'lookup errors':>13} |"
    if a.with_conns:
        hdr += f" {'with the runs conns (gap) [conns]':<33} |"
    lines = [hdr, "|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|"]
    for n, pol, mb, share, fam, p, med, lo, hi, gap, e, pc in rows:
        flag = " !" if abs(gap) > BOUND else "  "
        lines.append(f"| {n:<16} | {pol:<15} | {mb:>6} MiB | {share:>4.0f}% | {fam:<22} | {p:>8.2f}% | {med:>16.2f}% | {lo:>5.2f}-{hi:>5.2f}% | {gap:>+6.2f}{flag} | {e:>13} |" + (f" {pc:<33} |" if a.with_conns else ""))
    table = "\n".join(lines)
    print(table)
    if noise:
        loads = [x[0] for x in noise]
        late = [x[1] for x in noise]
        print(f"\nhost noise over {len(noise)} runs (report.json client.host_*): load average {min(loads):.2f}-{max(loads):.2f} (median {statistics.median(loads):.2f}); "
              f"probe wake-ups over 1 ms late {100 * min(late):.2f}-{100 * max(late):.2f}% (median {100 * statistics.median(late):.2f}%), worst {max(x[2] for x in noise):.1f} ms")
    print(f"largest gap {worst:.2f} points ({'within' if worst <= BOUND else 'OUTSIDE'} the {BOUND:g}-point bound); reports in {a.out}")
    open(os.path.join(a.out, "table.md"), "w").write(table + "\n")
    return 0 if worst <= BOUND else 1


if __name__ == "__main__":
    sys.exit(main())
