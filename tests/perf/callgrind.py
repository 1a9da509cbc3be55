#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Instructions per packet under callgrind: the deterministic cost figure.

    callgrind.py [--scenario NAME...] [--programs cnmux,5tswap,io]
                 [--short S] [--long S] [--repeat N] [--jobs J] [--json FILE]
                 [--profile-dir DIR [--instr]]

Method. Each program (cnmux; dpdk-testpmd in 5tswap and io modes) runs under
`valgrind --tool=callgrind --separate-threads=yes` on the scenario's capture,
replayed with net_pcap infinite_rx=1 into net_null, with the same EAL
arguments as bench.py (plus --no-telemetry). It is stopped with SIGINT after
a short and after a long run. infinite_rx never returns an empty burst (the
pool always has room), so the forwarding lcore's thread executes only
bursts of 32 packets: its instruction count is

    I = start-up + per-packet cost x packets + shut-down

and instructions/packet = (I_long - I_short) / (packets_long - packets_short),
with packets as the program counted them (cnmux --stats-json "rx", testpmd's
final RX-packets). The forwarding thread is the one other than thread 1 that executed the most
instructions (thread 1, the main thread, with the EAL start-up and the
control loop or testpmd's statistics, is left out: its work depends on
wall-clock time, not on packets; the other EAL threads sleep).

What still depends on wall-clock time inside cnmux's worker is taken out:
the forwarding-list expiry sweep (cnm_ct_expire, run once per millisecond of
wall-clock time; under valgrind a millisecond is ~100 packets instead of
~10,000, so it would be counted ~100 times too often). Its inclusive cost is
subtracted. So is the write-back of a tracked connection's entry
(ct_writeback, which cnm_ct_touch calls only when the state changes or, at
most once per second per connection, to move the expiry; inclusive cost):
per packet it is
time-driven too (under valgrind a connection is seen ~50 times more rarely,
so nearly every hit writes back, natively one in hundreds). What was taken
out is reported per packet (refresh_excluded_per_packet): the figure is the
per-packet path with the refresh amortised to nothing, which is what a busy
connection costs natively.

Both runs of a program must get past one whole pass over the capture (every
connection opened) so that the first pass cancels out; --short is raised
until it does.

--repeat N runs the whole measurement N times and reports the spread.
"""
import argparse
import concurrent.futures as cf
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import perflib as P  # noqa: E402
import cg_instr as I  # noqa: E402

VALGRIND = ["valgrind", "--tool=callgrind", "--separate-threads=yes", "--dump-instr=no",
            "--fair-sched=yes"]
# work that depends on wall-clock time, not on packets (inclusive cost subtracted)
EXCLUDE = ["cnm_ct_expire", "cnm_ct_count", "cnm_ct_count_udp"]
# the write-back of a connection's entry (a state change, or an expiry that
# moved by >= 1 s: time-driven), out of line so that it can be found even
# when cnm_ct_touch is inlined (inclusive cost subtracted)
REFRESH = {"ct_writeback"}


def thread_files(prefix):
    """{path: total Ir} of callgrind's per-thread files."""
    out = {}
    for f in Path(prefix).parent.glob(Path(prefix).name + "*"):
        m = None
        try:
            with open(f, errors="replace") as fh:
                for line in fh:
                    if line.startswith("totals:") or line.startswith("summary:"):
                        m = int(line.split()[1])
                        if line.startswith("totals:"):
                            break
        except OSError:
            continue
        if m is not None:
            out[f] = m
    return out


def annotate(path, inclusive=False):
    r = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no",
                        "--inclusive=%s" % ("yes" if inclusive else "no"), str(path)],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    return rows, r.stdout


def fn_costs(path):
    """{function name: [self cost, inclusive cost of the calls it makes]}
    from a callgrind file (fn= / cfn= / calls= lines, names compressed as
    "(id) name" then "(id)"). A function callgrind saw at several recursion
    levels (name'2) counts under its plain name."""
    names = {}
    out = {}
    cur = None
    in_call = False

    def name(v):
        v = v.strip()
        if v.startswith("("):
            i = v.index(")")
            k = v[1:i]
            if v[i + 1:].strip():
                names[k] = v[i + 1:].strip()
            return names.get(k, "")
        return v
    with open(path, errors="replace") as fh:
        for line in fh:
            c = line[:1]
            if c.isdigit() or c in "+-*":
                if cur is not None:
                    e = out.setdefault(cur, [0, 0])
                    e[1 if in_call else 0] += int(line.split()[-1])
                in_call = False
            elif line.startswith("fn="):
                cur = name(line[3:]).split("'")[0]
            elif line.startswith("cfn="):
                name(line[4:])
            elif line.startswith("calls="):
                in_call = True
    return out


def one_run(a, prog, sc, pcap, cfg, frames, dur, tag, work):
    """One run under callgrind: returns {instr, packets, ...}."""
    prefix = "cnmcg%d_%s" % (os.getpid(), tag)
    cgdir = work / tag
    cgdir.mkdir(exist_ok=True)
    log = cgdir / "log"
    sj = cgdir / "stats.json"
    if a.reuse and list(cgdir.glob("cg.*")) and (sj.exists() or prog != "cnmux"):
        return parse_run(prog, cgdir, sj, log, None, None)
    for f in cgdir.glob("cg.*"):
        f.unlink()
    once = sc.fill > 0
    mbufs = P.pool_size(frames, 1, once)
    cmax = cfg.get("conntrack", {}).get("max", 65536)
    log = cgdir / "log"
    sj = cgdir / "stats.json"
    vg = VALGRIND + ["--callgrind-out-file=%s/cg.%%p" % cgdir]
    if a.instr:
        vg = [x if x != "--dump-instr=no" else "--dump-instr=yes" for x in vg]
    if prog == "cnmux":
        mem = P.mem_mb(mbufs, cmax, 1)
        sock = str(cgdir / "ctl.sock")
        c = dict(cfg)
        c["control"] = {"socket": sock}
        (cgdir / "cfg.json").write_text(json.dumps(c))
        argv = vg + P.split_cmd(a.cnmux) + P.eal_args(pcap, 1, mem, prefix, a.eal_extra, valgrind=True,
                                                      once=once) + [
            "--", "--config", str(cgdir / "cfg.json"), "--stats-json", str(sj), "--mbufs", str(mbufs),
            "--quiet"]
        ready = r"worker\(s\)"
    else:
        mem = P.mem_mb(mbufs)
        argv = vg + P.split_cmd(a.testpmd) + P.eal_args(pcap, 1, mem, prefix, a.eal_extra, valgrind=True,
                                                        once=once) + [
            "--"] + P.testpmd_args(prog[8:], 1, mbufs, stats_period=1, cycles=False)
        ready = r"Rx-pps"
    P.cleanup_prefix(prefix)
    pr = P.Proc(argv, log)
    try:
        if not pr.wait_for(ready, 900):
            raise RuntimeError("%s did not start: %s" % (prog, pr.text()[-3000:]))
        t0 = time.monotonic()
        if prog == "cnmux":
            # one whole pass first (a capture replayed once: its fill)
            while True:
                # under valgrind on a loaded machine the control thread may
                # take longer than a while to get its turn: ask again
                try:
                    st = P.ctl_request(sock, {"cmd": "stats"}, timeout=120)
                except (TimeoutError, OSError):
                    if pr.p.poll() is not None or time.monotonic() - t0 > 3600:
                        raise
                    time.sleep(0.5)
                    continue
                if st.get("rx", 0) >= (sc.fill if once else frames):
                    break
                if pr.p.poll() is not None or time.monotonic() - t0 > 3600:
                    raise RuntimeError("cnmux: no traffic under valgrind")
                time.sleep(0.5)
            t0 = time.monotonic()
        # testpmd prints its first Rx-pps ~1 s after forwarding starts; it
        # keeps no connections: it needs no first pass
        time.sleep(dur)
        passed = time.monotonic() - t0
    finally:
        rc = pr.stop(timeout=600)
        P.cleanup_prefix(prefix)
    return parse_run(prog, cgdir, sj, log, passed, rc)


def parse_run(prog, cgdir, sj, log, passed, rc):
    text = log.read_text(errors="replace") if log.exists() else ""
    files = thread_files(cgdir / "cg.")
    if not files:
        raise RuntimeError("%s: no callgrind output: %s" % (prog, text[-3000:]))
    # thread 1 is the main thread (EAL start-up, control loop / testpmd's
    # statistics): never the forwarding one, even when it executed more
    cand = {f: v for f, v in files.items() if not str(f).endswith("-01")} or files
    worker = max(cand, key=cand.get)
    instr = files[worker]
    costs = fn_costs(worker) if prog == "cnmux" else {}
    def inclusive(fns):
        # LTO may rename a local function (ct_writeback.lto_priv.0)
        return sum(sum(v) for k, v in costs.items() if k.split(".")[0] in fns)
    excluded = inclusive(set(EXCLUDE))
    refresh = inclusive(REFRESH)
    if prog == "cnmux":
        js = json.loads(sj.read_text())
        packets = js["rx"]
        extra = {"conn_active": js["conn_active"], "conn_full": js["conn_full"],
                 "dropped": js["dropped"], "exit": rc}
    else:
        t = P.parse_testpmd(text)
        packets = t["rx"]
        extra = {"exit": rc}
        if packets is None:
            raise RuntimeError("%s: no RX-packets: %s" % (prog, text[-3000:]))
    res = {"instr": instr, "excluded": excluded, "refresh": refresh, "packets": packets, "seconds": passed,
           "worker_file": str(worker), "threads": {str(k.name): v for k, v in files.items()}}
    res.update(extra)
    return res


def instr_listing(m, wf, dp):
    """cg_instr.py's listing of each function of the cnmux binary that costs
    a packet one instruction or more (self cost, long run - short run)."""
    binary = None
    with open(wf, errors="replace") as f:
        for ln in f:
            if ln.startswith("cmd:"):
                binary = ln.split()[1]
                break
    lc = I.of_binary(I.costs(wf), binary)
    sc = I.of_binary(I.costs(m["short"]["worker_file"]), binary)
    funcs = {}
    for k in lc:
        f = k.split(".")[0]
        funcs[f] = funcs.get(f, 0) + sum(lc[k].values()) - sum(sc.get(k, {}).values())
    out = []
    for f, v in sorted(funcs.items(), key=lambda x: -x[1]):
        if v / dp >= 1:
            out.append(I.listing(binary, f, I.merged(lc, f), I.merged(sc, f), dp))
    return "%s cnmux (%s), %d packets: per instruction\n\n%s" % (m["scenario"], binary, dp, "\n".join(out))


def measure(a, prog, name, rep, work):
    sc = P.SCENARIOS[name]
    pcap, cfg, frames = sc.build(work)
    for attempt in range(3):
        short = one_run(a, prog, sc, pcap, cfg, frames, a.short, "%s_%s_r%d_short" % (name, prog, rep), work)
        long = one_run(a, prog, sc, pcap, cfg, frames, a.long * (1 + attempt),
                       "%s_%s_r%d_long" % (name, prog, rep), work)
        dp = long["packets"] - short["packets"]
        if sc.fill and long["packets"] >= frames:
            raise RuntimeError("%s %s: the long run reached the end of the capture (%d frames): "
                               "shorten --long" % (name, prog, frames))
        # the difference must be a good part of the long run (a stalled run
        # under valgrind's scheduler gives too few packets): else again; a
        # capture replayed once: of the long run's measured part
        if dp >= 0.3 * (long["packets"] - (sc.fill if prog == "cnmux" else 0)):
            break
    dr = long["refresh"] - short["refresh"]
    di = (long["instr"] - long["excluded"] - long["refresh"]) - (
        short["instr"] - short["excluded"] - short["refresh"])
    ipp = di / dp if dp > 0 else None
    return {"scenario": name, "program": prog, "rep": rep, "ipp": ipp, "short": short, "long": long,
            "delta_packets": dp, "delta_instr": di,
            "refresh_per_packet": dr / dp if dp > 0 else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", nargs="+", choices=sorted(P.SCENARIOS), metavar="NAME",
                    default=["udp_weighted_2", "tcp_conns_1k", "services_10k", "local_10pct"])
    ap.add_argument("--programs", default="cnmux,5tswap,io",
                    help="cnmux and testpmd modes (default cnmux,5tswap,io)")
    ap.add_argument("--short", type=float, default=4.0, help="seconds of the short run (default 4)")
    ap.add_argument("--long", type=float, default=12.0, help="seconds of the long run (default 12)")
    ap.add_argument("--repeat", type=int, default=1, help="measure each N times (default 1)")
    ap.add_argument("--jobs", type=int, default=1, help="valgrind runs at once (default 1)")
    ap.add_argument("--json", help="results file (default build/perf/callgrind.json)")
    ap.add_argument("--profile-dir", help="write callgrind_annotate's output for the worker "
                    "thread of each long run (first repeat) here, and its top 15 functions")
    ap.add_argument("--instr", action="store_true", help="with --profile-dir: also each cnmux "
                    "function's instructions with their cost per packet (SCEN_cnmux.instr.txt, "
                    "cg_instr.py; valgrind --dump-instr=yes, which leaves the counts as they are)")
    ap.add_argument("--workdir", help="captures and callgrind files (default: temporary)")
    ap.add_argument("--reuse", action="store_true", help="recompute from the callgrind files "
                    "already in --workdir instead of running (after a change of this script)")
    ap.add_argument("--merge", help="an earlier results file: its figures for the scenarios and "
                    "programs not measured now are kept (e.g. testpmd's, measured once)")
    ap.add_argument("--cnmux", default=P.find_cnmux())
    ap.add_argument("--testpmd", default=P.find_testpmd())
    ap.add_argument("--eal-extra", default=os.environ.get("EAL_EXTRA", ""))
    a = ap.parse_args()
    a.eal_extra = a.eal_extra.split()
    progs = ["cnmux" if p == "cnmux" else "testpmd-" + p for p in a.programs.split(",") if p]
    tmp = None
    if a.workdir:
        work = Path(a.workdir).resolve()
        work.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="cnmux-cg-")
        work = Path(tmp.name)
    out_json = Path(a.json) if a.json else P.REPO / "build/perf/callgrind.json"
    for name in a.scenario:
        P.SCENARIOS[name].build(work)
    a.cnmux, cnmux_sha = P.snapshot(a.cnmux, work, "cnmux")
    a.testpmd, testpmd_sha = P.snapshot(a.testpmd, work, "testpmd")

    jobs = [(p, n, r) for r in range(a.repeat) for n in a.scenario for p in progs]
    results = []
    failed = []
    try:
        with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
            futs = {ex.submit(measure, a, p, n, r, work): (p, n, r) for p, n, r in jobs}
            for f in cf.as_completed(futs):
                p, n, r = futs[f]
                try:
                    m = f.result()
                except Exception as e:  # noqa: BLE001
                    failed.append("%s %s: %s" % (n, p, e))
                    print("FAILED %s %s rep %d: %s" % (n, p, r, str(e)[:800]), flush=True)
                    continue
                results.append(m)
                print("%-16s %-15s rep %d: %.2f instructions/packet (%d packets, %d instructions)" % (
                    n, p, r, m["ipp"] or -1, m["delta_packets"], m["delta_instr"]), flush=True)
    finally:
        P.Proc.kill_all()

    summary = {}
    print()
    print("%-16s %-15s %-12s %s" % ("scenario", "program", "instr/pkt", "repeats (spread)"))
    for n in a.scenario:
        summary[n] = {}
        for p in progs:
            v = [m["ipp"] for m in results if m["scenario"] == n and m["program"] == p and m["ipp"]]
            if not v:
                continue
            spread = (max(v) - min(v)) / (sum(v) / len(v)) if len(v) > 1 else None
            rf = [m["refresh_per_packet"] for m in results if m["scenario"] == n and
                  m["program"] == p and m.get("refresh_per_packet") is not None]
            summary[n][p] = {"ipp": sum(v) / len(v), "values": v, "spread": spread,
                             "refresh_excluded_per_packet": sum(rf) / len(rf) if rf else 0}
            print("%-16s %-15s %-12.2f %s%s" % (n, p, sum(v) / len(v), " ".join("%.2f" % x for x in v),
                  " (%.3f%%)" % (100 * spread) if spread is not None else ""))
        if "cnmux" in summary[n] and "testpmd-5tswap" in summary[n]:
            r = summary[n]["cnmux"]["ipp"] / summary[n]["testpmd-5tswap"]["ipp"]
            summary[n]["ratio_5tswap"] = r
            print("%-16s %-15s %.2f" % ("", "cnmux/5tswap", r))

    if a.profile_dir:
        pd = Path(a.profile_dir)
        pd.mkdir(parents=True, exist_ok=True)
        for m in results:
            if m["rep"] != 0:
                continue
            wf = Path(m["long"]["worker_file"])
            base = "%s_%s" % (m["scenario"], m["program"])
            rows_l, text = annotate(wf)
            rows_s, _ = annotate(Path(m["short"]["worker_file"]))
            (pd / (base + ".annotate.txt")).write_text(text)
            # per packet: (long - short) / (packets long - packets short), self cost
            d = {}
            for ir, fn in rows_l:
                d[fn] = d.get(fn, 0) + ir
            for ir, fn in rows_s:
                d[fn] = d.get(fn, 0) - ir
            dp = m["delta_packets"]
            top = sorted(d.items(), key=lambda x: -x[1])[:15]
            lines = ["%8.2f  %s" % (v / dp, fn) for fn, v in top]
            (pd / (base + ".top15.txt")).write_text(
                "%s %s: instructions per packet by function (self cost, forwarding thread, "
                "long run - short run, %d packets; total %.2f before the exclusions)\n%s\n" % (
                    m["scenario"], m["program"], dp, sum(d.values()) / dp, "\n".join(lines)))
            if a.instr and m["program"] == "cnmux":
                (pd / (base + ".instr.txt")).write_text(instr_listing(m, wf, dp))
    if a.merge:
        # results of earlier runs for the (scenario, program) pairs not measured now
        old = json.loads(Path(a.merge).read_text())
        for n, progs_old in old.get("summary", {}).items():
            for p, v in progs_old.items():
                if p != "ratio_5tswap" and p not in summary.get(n, {}):
                    summary.setdefault(n, {})[p] = dict(v, merged_from=str(a.merge))
        for n, sm in summary.items():
            if "cnmux" in sm and "testpmd-5tswap" in sm:
                sm["ratio_5tswap"] = sm["cnmux"]["ipp"] / sm["testpmd-5tswap"]["ipp"]
    out = {"kind": "callgrind", "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "git": P.git_describe(), "cnmux_sha256": cnmux_sha, "testpmd_sha256": testpmd_sha,
           "short_s": a.short, "long_s": a.long, "summary": summary, "runs": results}
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(out, indent=1))
    print("results: %s" % out_json)
    if tmp is not None:
        tmp.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        P.Proc.kill_all()
        sys.exit(130)
