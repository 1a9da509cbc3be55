#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Plot the benchmark results: Mpps per lcore (bench.py) and instructions per
packet (callgrind.py) per scenario, cnmux against testpmd; with
--multicore, the speed-up over one worker (multicore.sh).

    plot.py [--bench build/perf/bench.json] [--callgrind build/perf/callgrind.json]
            [--multicore DIR/multicore.json] [-o tests/perf/results/performance.png]
"""
import argparse
import json
import sys
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ORDER = ["udp_weighted_2", "udp_weighted_64", "tcp_conns_1k", "tcp_conns_100k", "tcp_conns_1m", "tcp_conns_1m_ha",
         "services_10k", "sticky_wild_mix", "local_10pct"]
COLORS = {"cnmux": "#d62728", "testpmd-5tswap": "#1f77b4", "testpmd-mac": "#6baed6",
          "testpmd-io": "#c6dbef"}


def ordered(names):
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def bars(ax, scen, progs, value, err=None, ylabel="", title=""):
    w = 0.8 / max(1, len(progs))
    for k, p in enumerate(progs):
        xs, ys, lo, hi = [], [], [], []
        for i, s in enumerate(scen):
            v = value(s, p)
            if v is None:
                continue
            xs.append(i + (k - (len(progs) - 1) / 2) * w)
            ys.append(v)
            if err:
                a, b = err(s, p)
                lo.append(v - a)
                hi.append(b - v)
        if not xs:
            continue
        ax.bar(xs, ys, w, label=p, color=COLORS.get(p), edgecolor="black", linewidth=0.4,
               yerr=[lo, hi] if err else None, capsize=2)
        for x, y in zip(xs, ys):
            ax.text(x, y, ("%.1f" % y) if y < 100 else "%.0f" % y, ha="center", va="bottom",
                    fontsize=6, rotation=90)
    ax.set_xticks(range(len(scen)))
    ax.set_xticklabels(scen, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=str(REPO / "build/perf/bench.json"))
    ap.add_argument("--callgrind", default=str(REPO / "build/perf/callgrind.json"))
    ap.add_argument("--multicore")
    ap.add_argument("-o", "--output", default=str(REPO / "tests/perf/results/performance.png"))
    a = ap.parse_args()
    bench = json.loads(Path(a.bench).read_text()) if Path(a.bench).exists() else None
    cg = json.loads(Path(a.callgrind).read_text()) if Path(a.callgrind).exists() else None
    mc = json.loads(Path(a.multicore).read_text()) if a.multicore else None
    panels = [x for x in (bench, cg, mc) if x]
    if not panels:
        print("plot.py: no results (%s, %s)" % (a.bench, a.callgrind), file=sys.stderr)
        return 1
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 4.2 * len(panels)))
    if len(panels) == 1:
        axes = [axes]
    ai = 0
    if bench:
        sc = [n for n in ordered(bench["scenarios"])
              if bench["scenarios"][n].get("summary", {}).get("cnmux", {}).get("mpps_median")]
        progs = [p for p in ("cnmux", "testpmd-5tswap", "testpmd-mac", "testpmd-io")
                 if any(p in s.get("summary", {}) for s in bench["scenarios"].values())]

        def val(s, p):
            return bench["scenarios"][s].get("summary", {}).get(p, {}).get("mpps_median")

        def err(s, p):
            d = bench["scenarios"][s]["summary"][p]
            return d["mpps_min"], d["mpps_max"]
        m = bench.get("machine", {})
        bars(axes[ai], sc, progs, val, err, "Mpps per lcore",
             "Mpps per lcore, median of %d pairs (min-max); %s, %s CPUs; %d worker(s)" % (
                 bench.get("pairs", 0), m.get("cpu", "?"), m.get("cpus", "?"), bench.get("workers", 1)))
        ai += 1
    if cg:
        sc = ordered(cg["summary"])
        progs = [p for p in ("cnmux", "testpmd-5tswap", "testpmd-io")
                 if any(p in s for s in cg["summary"].values())]

        def val2(s, p):
            return cg["summary"][s].get(p, {}).get("ipp")
        bars(axes[ai], sc, progs, val2, None, "instructions / packet",
             "Instructions per packet under callgrind (forwarding thread, difference of two runs)")
        ai += 1
    if mc:
        ax = axes[ai]
        for name, rows in mc["scenarios"].items():
            n = [r["workers"] for r in rows]
            for prog, key, ls in (("cnmux", "cnmux_speedup", "-"), ("testpmd 5tswap", "testpmd_speedup", "--")):
                y = [r[key] for r in rows]
                if all(v is not None for v in y):
                    ax.plot(n, y, ls, marker="o", label="%s %s" % (prog, name))
        top = max(r["workers"] for rows in mc["scenarios"].values() for r in rows)
        ax.plot([1, top], [1, top], ":", color="grey", label="linear")
        ax.set_xlabel("worker lcores")
        ax.set_ylabel("speed-up over 1 worker")
        ax.set_title("Multi-core scaling", fontsize=10)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(a.output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.output, dpi=110)
    print("plot: %s" % a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
