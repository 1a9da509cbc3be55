#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Multi-core scaling of cnmux against dpdk-testpmd 5tswap (issue 7, item 6).
#
#   tests/perf/multicore.sh [-w "1 2 4 8 14"] [-s "udp_weighted_2 tcp_conns_1k tcp_conns_100k"]
#                           [-d SECONDS] [-p PAIRS] [-o OUTDIR]
#
# For each worker count N it runs bench.py --workers N: lcore 0 is the main
# lcore, lcores 1..N the workers (forwarding cores); net_pcap0 gets the
# scenario's capture N times (rx_pcap=F,rx_pcap=F,...: one RX queue per
# worker, each replayed endlessly with infinite_rx=1), cnmux and testpmd
# 5tswap alternate, PAIRS times. Each queue replays the same capture, so with
# TCP every worker tracks its own copy of the connections. It then prints the
# total Mpps and the speed-up over 1 worker of both, side by side, and writes
# OUTDIR/multicore.json (tests/perf/plot.py draws it).
#
# Needs: python3, and either this repository built (build/app/cnmux/cnmux)
# with dpdk-testpmd on the PATH, or the environment of a bundle's run.sh
# (tests/perf/make_bundle.sh): CNMUX, TESTPMD, EAL_EXTRA. Nothing else.
# The machine needs N+1 cores and memory for N copies of each capture
# (tcp_conns_100k: ~0.33 GB per worker; no hugepages needed: --no-huge).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
workers="1 2 4 8 14"
scen="udp_weighted_2 tcp_conns_1k tcp_conns_100k"
dur=5
pairs=3
out=""
while getopts w:s:d:p:o:h o; do
    case $o in
    w) workers=$OPTARG ;;
    s) scen=$OPTARG ;;
    d) dur=$OPTARG ;;
    p) pairs=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '3,25p' "$0"; exit 2 ;;
    esac
done
[ -n "$out" ] || out=$(pwd)/multicore-$(date +%Y%m%d-%H%M%S)
mkdir -p "$out/work"
py=$(command -v python3)
ncpu=$(getconf _NPROCESSORS_ONLN)
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -a)"
    echo "cpus: $ncpu"
    grep -m1 "model name" /proc/cpuinfo || true
    echo "cnmux: ${CNMUX:-repository build}"
    echo "testpmd: ${TESTPMD:-$(command -v dpdk-testpmd || echo none)}"
    echo "workers: $workers; scenarios: $scen; $dur s x $pairs pairs"
} | tee "$out/machine.txt"

for n in $workers; do
    if [ $((n + 1)) -gt "$ncpu" ]; then
        echo "# $n workers need $((n + 1)) cores, this machine has $ncpu: skipped"
        continue
    fi
    echo "# $n worker(s)"
    # shellcheck disable=SC2086
    "$py" "$here/bench.py" --workers "$n" --scenario $scen --modes 5tswap \
        --duration "$dur" --pairs "$pairs" --workdir "$out/work" \
        --json "$out/bench_w$n.json" 2>&1 | tee "$out/bench_w$n.log" || true
done

"$py" - "$out" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
res = {}
for f in sorted(out.glob("bench_w*.json")):
    d = json.loads(f.read_text())
    n = d["workers"]
    for name, s in d["scenarios"].items():
        for prog in ("cnmux", "testpmd-5tswap"):
            m = s.get("summary", {}).get(prog, {}).get("mpps_median")
            if m is not None:
                res.setdefault(name, {}).setdefault(prog, {})[n] = m * n
print()
print("total Mpps (median of the pairs) and speed-up over 1 worker")
print("%-16s %-8s %-22s %-22s %s" % ("scenario", "workers", "cnmux", "testpmd 5tswap", "cnmux/testpmd"))
table = {}
for name, progs in res.items():
    c, t = progs.get("cnmux", {}), progs.get("testpmd-5tswap", {})
    for n in sorted(set(c) | set(t)):
        cs = c[n] / c[1] if n in c and 1 in c else None
        ts = t[n] / t[1] if n in t and 1 in t else None
        f = lambda v, s: "%.2f (x%.2f)" % (v, s) if v is not None and s is not None else \
            ("%.2f" % v if v is not None else "-")
        print("%-16s %-8d %-22s %-22s %s" % (name, n, f(c.get(n), cs), f(t.get(n), ts),
              "%.2f" % (c[n] / t[n]) if n in c and n in t else "-"))
        table.setdefault(name, []).append({"workers": n, "cnmux_mpps": c.get(n), "testpmd_mpps": t.get(n),
                                           "cnmux_speedup": cs, "testpmd_speedup": ts})
(out / "multicore.json").write_text(json.dumps({"kind": "multicore", "scenarios": table}, indent=1))
print("results: %s" % (out / "multicore.json"))
EOF
