#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The cnmux benchmark: cnmux and dpdk-testpmd side by side.

    bench.py [--quick] [--duration S] [--pairs N] [--scenario NAME...]
             [--workers N] [--modes io,mac,5tswap] [--json FILE] [--workdir DIR]
             [--huge PAGES | --huge-dir DIR]

For each scenario it generates a capture and a configuration (perflib.py),
then runs, N times, an alternating pair: cnmux, then testpmd in each mode
(io, mac, 5tswap), on the same EAL arguments, the same vdevs
(net_pcap0 with infinite_rx=1 as the source, net_null0 as the sink, net_null1
as cnmux's local port) and the same mbuf pool size; the next pair runs the
other way round. It prints, per scenario and program, the per-lcore Mpps
(median of the pairs, min-max), the cycles per packet each program reports
itself, the wall-clock cycles per packet (TSC rate / per-lcore packet rate)
and the ratio cnmux / testpmd 5tswap (median of the pairs' ratios).

Rates are steady-state: cnmux's is the difference of two `stats` requests on
its control socket D seconds apart, taken after one whole pass over the
capture (every connection opened); testpmd's is the mean of its --stats-period
1 Rx-pps samples after the first full second.

Memory: --no-huge by default (each mbuf then takes a 4 KiB page of its own,
and the net_pcap replay's copy from the stored frames misses the TLB on
almost every frame, in both programs). --huge PAGES runs both on 2 MiB
hugepages, reserved and given back by this script (root); --huge-dir DIR
on pages the caller set up. docs/performance.md ("Session 10") says what
changes.

--quick: one short pair of udp_weighted_2 (cnmux and testpmd 5tswap): exit 0
when both ran and produced numbers. It never fails on performance.
"""
import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import perflib as P  # noqa: E402


class HugePages:
    """--huge: 2 MiB pages reserved (at least @pages) and a hugetlbfs of this
    run's own, mounted under @work. close() unmounts it and sets the number
    of reserved pages back to what it was."""
    NR = Path("/proc/sys/vm/nr_hugepages")

    def __init__(self, work, pages):
        self.old = int(self.NR.read_text())
        self.mnt = None
        if self.old < pages:
            self.NR.write_text(str(pages))
        free = 0
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("HugePages_Free:"):
                free = int(line.split()[1])
        if free < pages:
            self.close()
            raise SystemExit("--huge %d: only %d hugepages free after asking for them" % (pages, free))
        mnt = work / ("huge%d" % os.getpid())
        mnt.mkdir(exist_ok=True)
        r = subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M", "nodev", str(mnt)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.close()
            raise SystemExit("--huge: cannot mount hugetlbfs on %s: %s" % (mnt, r.stderr.strip()))
        self.mnt = str(mnt)

    def close(self):
        if self.mnt:
            for f in Path(self.mnt).iterdir():
                f.unlink()
            subprocess.run(["umount", self.mnt], check=False)
            os.rmdir(self.mnt)
            self.mnt = None
        self.NR.write_text(str(self.old))


def run_cnmux(a, sc, pcap, cfg, frames, run_id, work):
    prefix = "cnmb%d_%s" % (os.getpid(), run_id)
    sock = str(work / ("ctl%d.sock" % os.getpid()))
    cfg = dict(cfg)
    cfg["control"] = {"socket": sock}
    cfgp = work / ("%s.run.json" % sc.name)
    cfgp.write_text(json.dumps(cfg))
    sj = work / ("%s.stats.json" % run_id)
    once = sc.fill > 0
    mbufs = P.pool_size(frames, a.workers, once)
    cmax = cfg.get("conntrack", {}).get("max", 65536)
    mem = P.mem_mb(mbufs, cmax, a.workers)
    argv = P.split_cmd(a.cnmux) + P.eal_args(pcap, a.workers, mem, prefix, a.eal_extra, lcores=a.lcores,
                                            once=once, huge_dir=a.huge_dir) + [
        "--", "--config", str(cfgp), "--stats-json", str(sj), "--mbufs", str(mbufs), "--quiet"]
    P.cleanup_prefix(prefix)
    pr = P.Proc(argv, work / ("%s.log" % run_id))
    res = {"program": "cnmux", "ok": False}
    try:
        if not pr.wait_for(r"worker\(s\)", 600):
            res["error"] = "cnmux did not start: " + pr.text()[-2000:]
            return res
        # warm-up: one whole pass over the capture on every queue (every
        # connection opened), and at least `warm` seconds; a capture
        # replayed once: its fill on every queue, and `warm` seconds
        t_end = time.monotonic() + 1800
        t_min = time.monotonic() + a.warm
        ready = (sc.fill if once else frames) * a.workers
        while True:
            st = P.ctl_request(sock, {"cmd": "stats"}, timeout=30)
            if st.get("rx", 0) >= ready and time.monotonic() >= t_min:
                break
            if time.monotonic() > t_end or pr.p.poll() is not None:
                res["error"] = "no traffic: %s" % st
                return res
            time.sleep(0.1)
        t1 = time.monotonic()
        s1 = P.ctl_request(sock, {"cmd": "stats"})
        t1 = (t1 + time.monotonic()) / 2
        if once:
            # the window ends after `duration` seconds or before the end of
            # the capture, whichever comes first (a window past the end
            # would count idle polls)
            last = 0.9 * frames * a.workers
            while time.monotonic() < t1 + a.duration:
                time.sleep(0.1)
                if P.ctl_request(sock, {"cmd": "stats"})["rx"] >= last:
                    break
        else:
            time.sleep(a.duration)
        t2 = time.monotonic()
        s2 = P.ctl_request(sock, {"cmd": "stats"})
        t2 = (t2 + time.monotonic()) / 2
        if once and s2["rx"] >= frames * a.workers:
            res["error"] = "the window reached the end of the capture (rx %d of %d)" % (
                s2["rx"], frames * a.workers)
            return res
    finally:
        rc = pr.stop()
        P.cleanup_prefix(prefix)
    try:
        js = json.loads(sj.read_text())
    except (OSError, ValueError):
        res["error"] = "no --stats-json (exit %s): %s" % (rc, pr.text()[-2000:])
        return res
    pps = (s2["rx"] - s1["rx"]) / (t2 - t1)
    res.update({
        "ok": rc == 0 and pps > 0,
        "exit": rc,
        "pps": pps,
        "mpps_per_lcore": pps / a.workers / 1e6,
        "cycles_per_packet": js["busy_cycles"] / js["rx"] if js["rx"] else None,
        "rx": js["rx"], "forwarded": js["forwarded"], "local": js["local"],
        "dropped": js["dropped"],
        "window_dropped": s2["dropped"] - s1["dropped"],
        "conn_active": s2["conn_active"], "conn_full": js["conn_full"],
        "conn_hit": js["conn_hit"], "rx_nombuf": js.get("rx_nombuf"),
        "elapsed_s": js["elapsed_ms"] / 1000.0,
    })
    if rc != 0:
        res["error"] = "cnmux exited %s" % rc
    return res


def run_testpmd(a, mode, sc, pcap, frames, run_id, work):
    prefix = "cnmt%d_%s" % (os.getpid(), run_id)
    once = sc.fill > 0
    mbufs = P.pool_size(frames, a.workers, once)
    mem = P.mem_mb(mbufs)
    argv = P.split_cmd(a.testpmd) + P.eal_args(pcap, a.workers, mem, prefix, a.eal_extra, lcores=a.lcores,
                                               once=once, huge_dir=a.huge_dir) + [
        "--"] + P.testpmd_args(mode, a.workers, mbufs)
    P.cleanup_prefix(prefix)
    pr = P.Proc(argv, work / ("%s.log" % run_id))
    res = {"program": "testpmd-" + mode, "ok": False}
    # one Rx-pps line per port and period; the first period's is 0
    warm_periods = max(1, math.ceil(a.warm))
    periods = 1 + warm_periods + max(1, round(a.duration))
    try:
        if not pr.wait_for(r"Rx-pps", 600):
            res["error"] = "testpmd did not start: " + pr.text()[-2000:]
            return res
        if once:
            # until a period shows the whole capture read on port 0
            t_end = time.monotonic() + 1800
            while time.monotonic() < t_end and pr.p.poll() is None:
                at = [x for x in P.parse_testpmd(pr.text())["rx_at"] if x is not None]
                if at and at[-1] >= frames * a.workers:
                    break
                time.sleep(0.5)
        else:
            pr.wait_for(r"NIC statistics for port 0", periods + 30, count=periods + 1)
    finally:
        rc = pr.stop()
        P.cleanup_prefix(prefix)
    t = P.parse_testpmd(pr.text())
    if once:
        # a capture replayed once: the periods wholly inside its measured
        # part (after the fill, before the end), on port 0 of every queue
        at = t["rx_at"]
        samples = [t["pps"][i] for i in range(1, len(at))
                   if at[i - 1] is not None and at[i] is not None and
                   at[i - 1] >= sc.fill * a.workers and at[i] < frames * a.workers]
    else:
        samples = t["pps"][1 + warm_periods:]
    if not samples:
        res["error"] = "no Rx-pps samples (exit %s): %s" % (rc, pr.text()[-2000:])
        return res
    pps = sum(samples) / len(samples)
    res.update({"ok": pps > 0, "exit": rc, "pps": pps, "pps_samples": samples,
                "mpps_per_lcore": pps / a.workers / 1e6,
                "cycles_per_packet": t["cycles_per_packet"], "tsc_mhz": t["tsc_mhz"],
                "rx": t["rx"]})
    return res


def fmt_range(v, f="%.2f"):
    v = [x for x in v if x is not None]
    if not v:
        return "-"
    return (f + " (" + f + "-" + f + ")") % (P.median(v), min(v), max(v))


def machine():
    info = {"host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count()}
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one short pair of udp_weighted_2 (a smoke test)")
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds per run (default 5)")
    ap.add_argument("--warm", type=float, default=1.0, help="seconds of warm-up before measuring (default 1)")
    ap.add_argument("--pairs", type=int, default=3, help="alternating pairs per scenario (default 3)")
    ap.add_argument("--scenario", nargs="+", choices=sorted(P.SCENARIOS), metavar="NAME",
                    help="scenarios (default: all): " + ", ".join(P.SCENARIOS))
    ap.add_argument("--workers", type=int, default=1, help="worker lcores / RX queues (default 1)")
    ap.add_argument("--lcores", help="EAL lcore list (default 0-WORKERS; '0@0,1@1,2@1' maps "
                    "lcores to CPUs: --lcores)")
    ap.add_argument("--modes", default="io,mac,5tswap", help="testpmd modes (default io,mac,5tswap)")
    ap.add_argument("--json", help="results file (default build/perf/bench.json)")
    ap.add_argument("--workdir", help="captures, configs and logs (default: a temporary directory)")
    ap.add_argument("--merge", help="an earlier results file: its scenarios not measured now are kept")
    ap.add_argument("--cnmux", default=P.find_cnmux(), help="cnmux binary or command prefix")
    ap.add_argument("--testpmd", default=P.find_testpmd(), help="dpdk-testpmd binary or command prefix")
    ap.add_argument("--eal-extra", default=os.environ.get("EAL_EXTRA", ""),
                    help="extra EAL arguments for both programs (e.g. '-d PMD.so ...')")
    ap.add_argument("--huge", type=int, metavar="PAGES",
                    help="both programs take their memory from 2 MiB hugepages instead of "
                    "--no-huge: at least PAGES reserved (as root) and a hugetlbfs of this run's "
                    "own mounted in the workdir, both given back at the end")
    ap.add_argument("--huge-dir", help="as --huge, from a hugetlbfs already mounted (and its "
                    "pages reserved) by the caller")
    a = ap.parse_args()
    a.eal_extra = a.eal_extra.split()
    if a.quick:
        a.scenario = a.scenario or ["udp_weighted_2"]
        a.pairs = 1
        a.duration = min(a.duration, 1.0)
        a.warm = min(a.warm, 0.3)
        a.modes = "5tswap"
    scen = a.scenario or list(P.SCENARIOS)
    for prog in (a.cnmux, a.testpmd):
        exe = P.split_cmd(prog)[-1] if prog.split() else prog
        if not shutil.which(exe):
            if os.environ.get("CI") == "true":   # tests/lib/testenv.sh: no skip in CI
                print("FAIL: %s not found (set --cnmux / --testpmd, CNMUX / TESTPMD; "
                      "CI=true: a suite that cannot run fails)" % exe)
                return 1
            print("SKIP: %s not found (set --cnmux / --testpmd, CNMUX / TESTPMD)" % exe)
            return 77
    modes = [m for m in a.modes.split(",") if m]
    if "5tswap" not in modes:
        modes.append("5tswap")

    tmp = None
    if a.workdir:
        work = Path(a.workdir).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cnmux-bench-")
        work = Path(tmp.name)
    out_json = Path(a.json) if a.json else (P.REPO / "build/perf/bench.json")
    if a.quick and not a.json:
        out_json = work / "bench.json"

    a.cnmux, cnmux_sha = P.snapshot(a.cnmux, work, "cnmux")
    a.testpmd, testpmd_sha = P.snapshot(a.testpmd, work, "testpmd")
    results = {"kind": "bench", "git": P.git_describe(), "cnmux_sha256": cnmux_sha, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "machine": machine(),
               "workers": a.workers, "duration_s": a.duration, "pairs": a.pairs,
               "cnmux": a.cnmux, "testpmd": a.testpmd, "scenarios": {}}
    broken = []
    huge = None
    try:
        if a.huge:
            huge = HugePages(work, a.huge)
            a.huge_dir = huge.mnt
        results["memory"] = ("hugepages (2 MiB, %s)" % a.huge_dir) if a.huge_dir else "--no-huge"
        print("# memory: %s" % results["memory"], flush=True)
        for name in scen:
            sc = P.SCENARIOS[name]
            t0 = time.monotonic()
            pcap, cfg, frames = sc.build(work)
            print("# %s: %s (%d frames, generated in %.1f s)" % (name, sc.desc, frames,
                  time.monotonic() - t0), flush=True)
            runs = {"cnmux": []}
            for m in modes:
                runs["testpmd-" + m] = []
            for k in range(a.pairs):
                order = ["cnmux"] + ["testpmd-" + m for m in modes]
                if k % 2:
                    order.reverse()
                for prog in order:
                    rid = "%s_%d_%s" % (name, k, prog)
                    if prog == "cnmux":
                        r = run_cnmux(a, sc, pcap, cfg, frames, rid, work)
                    else:
                        r = run_testpmd(a, prog[8:], sc, pcap, frames, rid, work)
                    runs[prog].append(r)
                    if not r["ok"]:
                        broken.append("%s %s: %s" % (name, prog, r.get("error", "no numbers")))
                        print("  %-15s pair %d FAILED: %s" % (prog, k, r.get("error", "")[:500]), flush=True)
                    else:
                        extra = ""
                        if prog == "cnmux":
                            extra = " conns %d full %d dropped %d" % (r["conn_active"], r["conn_full"], r["dropped"])
                        print("  %-15s pair %d: %.3f Mpps/lcore, %s cycles/packet%s" % (
                            prog, k, r["mpps_per_lcore"],
                            "%.1f" % r["cycles_per_packet"] if r["cycles_per_packet"] else "-", extra),
                            flush=True)
            results["scenarios"][name] = {"desc": sc.desc, "frames": frames, "runs": runs}
    finally:
        P.Proc.kill_all()
        if huge:
            huge.close()

    # summary
    tsc = [r.get("tsc_mhz") for s in results["scenarios"].values() for k, v in s["runs"].items()
           for r in v if r.get("tsc_mhz")]
    tsc_mhz = P.median(tsc) if tsc else None
    results["tsc_mhz"] = tsc_mhz
    print()
    print("%d worker(s), %g s per run, %d pair(s); %s; Mpps per lcore: median (min-max)"
          % (a.workers, a.duration, a.pairs, results["machine"].get("cpu", "?")))
    print("cyc/pkt: as each program reports it (cnmux: busy_cycles/rx, without rte_eth_rx_burst;")
    print("testpmd --record-core-cycles: with it); wall cyc/pkt: TSC %s MHz / per-lcore rate" %
          (tsc_mhz or "?"))
    print("%-16s %-15s %-24s %-9s %s" % ("scenario", "program", "Mpps/lcore", "cyc/pkt", "wall cyc/pkt"))
    for name, s in results["scenarios"].items():
        summ = {}
        for prog, rs in s["runs"].items():
            ok = [r for r in rs if r["ok"]]
            mp = [r["mpps_per_lcore"] for r in ok]
            cy = [r["cycles_per_packet"] for r in ok if r["cycles_per_packet"]]
            wall = [tsc_mhz / r["mpps_per_lcore"] for r in ok] if tsc_mhz else []
            summ[prog] = {"mpps_median": P.median(mp), "mpps_min": min(mp) if mp else None,
                          "mpps_max": max(mp) if mp else None,
                          "cycles_per_packet_median": P.median(cy),
                          "wall_cycles_per_packet_median": P.median(wall)}
            print("%-16s %-15s %-24s %-9s %s" % (name, prog, fmt_range(mp, "%.2f"),
                  "%.0f" % P.median(cy) if cy else "-", "%.0f" % P.median(wall) if wall else "-"))
        ratios = [c["mpps_per_lcore"] / t["mpps_per_lcore"]
                  for c, t in zip(s["runs"]["cnmux"], s["runs"]["testpmd-5tswap"]) if c["ok"] and t["ok"]]
        summ["ratio_5tswap"] = {"median": P.median(ratios), "min": min(ratios) if ratios else None,
                                "max": max(ratios) if ratios else None}
        s["summary"] = summ
        print("%-16s %-15s %s" % ("", "cnmux/5tswap", fmt_range(ratios, "%.2f")))
    if a.merge:
        # scenarios of an earlier results file that this run did not measure
        old = json.loads(Path(a.merge).read_text())
        for name, s in old.get("scenarios", {}).items():
            if name not in results["scenarios"]:
                results["scenarios"][name] = dict(s, merged_from=str(a.merge))
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(results, indent=1))
    print("results: %s" % out_json)
    if tmp is not None:
        tmp.cleanup()
    if broken:
        print("BROKEN:\n  " + "\n  ".join(broken), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        P.Proc.kill_all()
        sys.exit(130)
