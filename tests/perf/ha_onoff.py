#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""cnmux alone, HA off vs on, with 1M tracked connections (issue 17, item 4).

    ha_onoff.py [--rounds N] [--duration S] [--cnmux BIN] [--before BIN] [--workdir DIR]

Alternates bench.py's run_cnmux over tcp_conns_1m (HA off) and
tcp_conns_1m_ha (HA on: a primary whose peer never answers, so the
displaced-connection checkpoint runs every 200 ms), and, with --before, HA
on with another cnmux binary; every other round in reverse order. Prints
the Mpps per lcore of each, median (min-max). No testpmd: bench.py
--scenario tcp_conns_1m tcp_conns_1m_ha gives the same with it.
"""
import argparse
import statistics
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import perflib as P  # noqa: E402
import bench as B    # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--cnmux", default=P.find_cnmux())
    ap.add_argument("--before", help="another cnmux binary, run with HA on")
    ap.add_argument("--workdir", default="build/perf/ha_onoff")
    a = ap.parse_args()
    work = Path(a.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    runs = [("HA off", a.cnmux, "tcp_conns_1m"), ("HA on", a.cnmux, "tcp_conns_1m_ha")]
    if a.before:
        runs.append(("HA on, before", a.before, "tcp_conns_1m_ha"))
    res = {}
    for k in range(a.rounds):
        for tag, binary, name in (runs if k % 2 == 0 else runs[::-1]):
            o = types.SimpleNamespace(cnmux=binary, workers=1, lcores=None, eal_extra=[],
                                      warm=1.0, duration=a.duration)
            sc = P.SCENARIOS[name]
            pcap, cfg, frames = sc.build(work)
            r = B.run_cnmux(o, sc, pcap, cfg, frames, "%s_%d" % (name, k), work)
            if not r.get("ok"):
                print("%s round %d FAILED: %s" % (tag, k, r.get("error", "")[:500]), flush=True)
                continue
            print("%-14s round %d: %.3f Mpps/lcore, conns %d, dropped %d" % (
                tag, k, r["mpps_per_lcore"], r["conn_active"], r["dropped"]), flush=True)
            res.setdefault(tag, []).append(r["mpps_per_lcore"])
    for tag, v in res.items():
        print("%-14s %.2f (%.2f-%.2f) Mpps/lcore, %d runs" % (tag, statistics.median(v), min(v), max(v), len(v)))
    return 0 if len(res) == len(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
