#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Traffic and checks of txfull_test.sh (a TX queue nobody drains).

    txfull.py gen FILE N
        a pcap of N frames: 9 in 10 to the service web (198.51.100.10:80/udp),
        1 in 10 to an address with no service (dropped: no_service)
    txfull.py live DIR IFACE SOCKET PID N
        N frames of the same mix written on IFACE in batches of 500; after each
        batch, once rx has caught up: forwarded == min(to-service, 1023),
        tx_full == to-service - forwarded, no_service == the others
    txfull.py final DIR RUN N [BASELINE_RUN]
        the --stats-json of RUN against the N frames of the mix; tx_full per
        service, per (service, node) and per node adding up to the global one
"""
import json
import os
import sys
import time

from robustlib import (Checker, Ctl, Injector, TestFailure, eth_ipv4_udp, proc_cpu_s,
                       write_pcap)

VIP = "198.51.100.10"
NOSVC = "198.51.100.99"
SMAC = "02:00:cb:00:71:01"
DMAC = "02:00:c6:33:64:0a"
RING_CAP = 1023
NODE_MACS = {"02:00:c0:00:02:0b": "node1", "02:00:c0:00:02:0c": "node2",
             "02:00:c0:00:02:0d": "node3"}


def to_service(i):
    return i % 10 != 9


def frames(n, base=0):
    out = []
    for i in range(base, base + n):
        src = "203.0.113.%d" % (1 + i % 250)
        out.append(eth_ipv4_udp(SMAC, DMAC, src, VIP if to_service(i) else NOSVC,
                                1024 + (i * 13) % 60000, 80, b"txfull %08d" % i, ident=i))
    return out


def n_service(n):
    return sum(1 for i in range(n) if to_service(i))


def live(d, iface, sock, pid, n):
    check = Checker("live")
    ctl = Ctl(sock)
    inj = Injector(iface, ctl)
    fr = frames(n)
    base = ctl.stats()
    cpu0, t0 = proc_cpu_s(pid), time.monotonic()
    bad = []
    for i in range(0, n, 500):
        st = inj.send(fr[i:i + 500], batch=500)
        k = min(i + 500, n)
        svc = n_service(k)
        want_fwd = min(svc, RING_CAP)
        got = (st["forwarded"] - base["forwarded"], st["drops"]["tx_full"] - base["drops"]["tx_full"],
               st["drops"]["no_service"] - base["drops"]["no_service"])
        if got != (want_fwd, svc - want_fwd, k - svc):
            bad.append((k, got, (want_fwd, svc - want_fwd, k - svc)))
    dt, cpu = time.monotonic() - t0, proc_cpu_s(pid) - cpu0
    check(not bad, "after each batch of 500: (forwarded, tx_full, no_service) as expected%s"
          % ("" if not bad else ": first mismatch at %d frames: got %s, expected %s" % bad[0]))
    st = ctl.stats()
    check(st["rx"] == st["forwarded"] + st["local"] + st["dropped"],
          "rx %d == forwarded %d + local %d + dropped %d"
          % (st["rx"], st["forwarded"], st["local"], st["dropped"]))
    print("%d frames in %.1f s (every batch received before the next was written); cnmux "
          "used %.1f s of CPU meanwhile" % (n, dt, cpu))
    check(dt < 300, "live injection of %d frames finished in %.1f s (bound 300 s)" % (n, dt))
    return check.fails


def final(d, run, n, baseline=None):
    check = Checker("final " + run)
    with open(os.path.join(d, run + ".json")) as f:
        s = json.load(f)
    with open(os.path.join(d, run + ".out")) as f:
        out = f.read()
    with open(os.path.join(d, run + ".err")) as f:
        err = f.read()
    svc = n_service(n)
    tx_full = s["drops"]["tx_full"]
    check(s["rx"] == n, "%s: rx %d of %d frames" % (run, s["rx"], n))
    check(s["forwarded"] == RING_CAP, "%s: forwarded %d == the ring's capacity %d"
          % (run, s["forwarded"], RING_CAP))
    check(tx_full == svc - RING_CAP,
          "%s: tx_full %d == frames to the service %d - forwarded %d"
          % (run, tx_full, svc, RING_CAP))
    check(s["drops"]["no_service"] == n - svc, "%s: no_service %d == %d"
          % (run, s["drops"]["no_service"], n - svc))
    others = {k: v for k, v in s["drops"].items() if v and k not in ("tx_full", "no_service")}
    check(not others, "%s: no other drop reason %s" % (run, others or ""))
    check(s["rx"] == s["forwarded"] + s["local"] + s["dropped"],
          "%s: rx %d == forwarded %d + local %d + dropped %d"
          % (run, s["rx"], s["forwarded"], s["local"], s["dropped"]))
    check(s["services"]["web"]["packets"] == svc,
          "%s: service web counts every frame that matched it: %d"
          % (run, s["services"]["web"]["packets"]))
    node_pkts = sum(v["packets"] for v in s["nodes"].values())
    check(node_pkts == RING_CAP, "%s: the nodes count only what TX took: %d" % (run, node_pkts))
    # drops per service, pair and node (issue 14): every tx_full is web's,
    # and its pairs' and nodes' add up to it, each pair's its node's
    web = s["services"]["web"]
    check(web["drops"]["tx_full"] == tx_full,
          "%s: web's tx_full %d, global %d" % (run, web["drops"]["tx_full"], tx_full))
    pairs = {n: m["drops"].get("tx_full", 0) for n, m in web["nodes"].items()}
    check(sum(pairs.values()) == tx_full and sum(1 for v in pairs.values() if v) >= 2,
          "%s: web's pairs' tx_full %r, global %d" % (run, pairs, tx_full))
    check(all(s["nodes"][n]["drops"]["tx_full"] == v for n, v in pairs.items()),
          "%s: nodes' tx_full %r, pairs' %r"
          % (run, {n: v["drops"]["tx_full"] for n, v in s["nodes"].items()}, pairs))
    check(s["rx_nombuf"] == 0 and s["mbufs_in_use"] == 0,
          "%s: unsent mbufs freed: tx_full %d with a pool of 4096, rx_nombuf %d, "
          "mbufs in use at exit %d" % (run, tx_full, s["rx_nombuf"], s["mbufs_in_use"]))
    san = [ln for ln in err.splitlines() if "Sanitizer" in ln or "runtime error" in ln]
    check(not san, "%s: no sanitizer report%s" % (run, (": " + san[0]) if san else ""))
    n_out, n_err = len(out.splitlines()), len(err.splitlines())
    check(n_err <= 20 and n_out <= 40,
          "%s: no per-packet log line: stdout %d lines, stderr %d lines, %d frames not sent"
          % (run, n_out, n_err, tx_full))
    cpp = s["busy_cycles"] / max(s["rx"], 1)
    msg = "%s: %.0f busy cycles per packet" % (run, cpp)
    if baseline:
        with open(os.path.join(d, baseline + ".json")) as f:
            b = json.load(f)
        msg += " (baseline %s, every frame taken by TX: %.0f)" % (
            baseline, b["busy_cycles"] / max(b["rx"], 1))
    # Reported, not asserted: busy cycles are wall time, so a loaded
    # machine that preempts the worker inside a burst lifts them without
    # bound (seen: 204,997 in a CI run beside other work, against a bound of
    # 200,000 that was meant to catch a retry loop). A retry loop on a queue
    # nobody drains is caught without a clock: the run would not end
    # (--idle-exit, the 300 s bound) and tx_full / forwarded would not be
    # exact (checked above).
    print("info " + msg)
    return check.fails


def main():
    a = sys.argv[1:]
    try:
        if len(a) == 3 and a[0] == "gen":
            write_pcap(a[1], frames(int(a[2])))
            return 0
        if len(a) == 6 and a[0] == "live":
            return 1 if live(a[1], a[2], a[3], int(a[4]), int(a[5])) else 0
        if len(a) in (4, 5) and a[0] == "final":
            return 1 if final(a[1], a[2], int(a[3]), a[4] if len(a) == 5 else None) else 0
    except TestFailure as e:
        print("FAIL %s" % e)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
