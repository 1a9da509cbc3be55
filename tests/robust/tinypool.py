#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Traffic and checks of tinypool_test.sh (a tiny mbuf pool).

    tinypool.py gen FILE N
        a pcap of N UDP frames to the service web (198.51.100.10:80)
    tinypool.py steady DIR IFACE SOCKET PREFIX POOL
        scenario A (pool barely above the private ring's 1023): the ring fills,
        then the pool runs dry at every burst
    tinypool.py transient DIR IFACE SOCKET PREFIX POOL
        scenario B (pool below the ring): dry while the ring holds the mbufs,
        back to normal once `cnmuxctl node add` of a MAC-less node makes the
        control lcore read the private ring again
    tinypool.py final DIR RUN
        checks the --stats-json, the final report and the log of run RUN
        against DIR/RUN.injected (frames written on the wire)

Every live scenario writes DIR/RUN.injected: the number of frames written.
The public port is net_pcap on a live interface: a frame that finds no mbuf
is consumed and counted in rx_nombuf (net_af_packet would leave it in the
kernel ring and count nothing).
"""
import json
import os
import sys
import time

from robustlib import (Checker, Ctl, Injector, Telemetry, TestFailure, eth_ipv4_udp,
                       wait_quiet, write_pcap)

VIP = "198.51.100.10"
SMAC = "02:00:cb:00:71:01"
DMAC = "02:00:c6:33:64:0a"
RING_CAP = 1023   # net_ring's ring: rte_ring_create(1024) holds 1023


def frames(n, base=0):
    out = []
    for i in range(base, base + n):
        src = "203.0.113.%d" % (1 + i % 250) if i % 2 else "100.64.%d.%d" % ((i >> 8) & 63, 1 + (i & 0xfe))
        out.append(eth_ipv4_udp(SMAC, DMAC, src, VIP, 1024 + (i * 7) % 60000, 80,
                                b"tinypool %08d" % i, ident=i))
    return out


def nombuf(tel):
    return tel.ethdev_stats(0)["rx_nombuf"]


def wire_dropped(iface):
    """Frames the veth could not hand to the other end (backlog full): they
    never reached cnmux's port, no DPDK counter can see them."""
    with open("/sys/class/net/%s/statistics/tx_dropped" % iface) as f:
        return int(f.read())


def record(d, run, n, wire):
    with open(os.path.join(d, run + ".injected"), "w") as f:
        f.write("%d %d\n" % (n, wire))


def responsive(ctl, tel, check, what):
    """Many control requests in a row, each answered."""
    t0 = time.monotonic()
    for _ in range(20):
        ctl.stats()
        ctl.req("service show", service="web")
        tel.ethdev_stats(0)
    check(True, "%s: 20 x (stats, service show, telemetry) answered in %.2f s"
          % (what, time.monotonic() - t0))


def steady(d, iface, sock, prefix, pool):
    check = Checker("steady")
    ctl = Ctl(sock)
    tel = Telemetry(prefix)
    inj = Injector(iface, ctl)
    injected = 0
    wire0 = wire_dropped(iface)
    # 1. fill the ring exactly, slowly: every frame received and forwarded
    fr = frames(RING_CAP)
    st = inj.send(fr, batch=100)
    injected += len(fr)
    check(st["forwarded"] == RING_CAP and st["dropped"] == 0,
          "ring filling: %d received, %d forwarded (ring holds %d), %d dropped"
          % (st["rx"], st["forwarded"], RING_CAP, st["dropped"]))
    nb0 = nombuf(tel)
    check(nb0 == 0, "no rx_nombuf while the ring fills (%d)" % nb0)
    # 2. the ring is full: %d mbufs left in the pool; bursts of 20000 frames
    burst = frames(20000, RING_CAP)
    t0 = time.monotonic()
    samples = []
    for i in range(0, len(burst), 2000):
        inj.send_raw(burst[i:i + 2000])
        injected += len(burst[i:i + 2000])
        st = ctl.stats()
        samples.append((st["rx"], st["drops"]["tx_full"], nombuf(tel)))
    st = wait_quiet(ctl)
    nb = nombuf(tel)
    print("burst of %d frames written in %.2f s; (rx, tx_full, rx_nombuf) while it ran: %s"
          % (len(burst), time.monotonic() - t0, samples[:5]))
    check(nb > 0, "rx_nombuf counted live (telemetry /ethdev/stats,0): %d" % nb)
    check(st["drops"]["tx_full"] > 0, "tx_full counted once the ring is full: %d"
          % st["drops"]["tx_full"])
    check(st["forwarded"] == RING_CAP, "forwarded stays at the ring's %d: %d"
          % (RING_CAP, st["forwarded"]))
    check(st["rx"] == st["forwarded"] + st["local"] + st["dropped"],
          "rx %d == forwarded %d + local %d + dropped %d"
          % (st["rx"], st["forwarded"], st["local"], st["dropped"]))
    responsive(ctl, tel, check, "pool dry, ring full")
    # 3. a trickle: the few mbufs the pool has go round (RX, TX refuses, freed)
    fr = frames(200, 30000)
    st2 = inj.send(fr, batch=5)
    injected += len(fr)
    check(st2["rx"] - st["rx"] == 200 and
          st2["drops"]["tx_full"] - st["drops"]["tx_full"] == 200,
          "trickle after the burst: 200 received, 200 more tx_full (the ring is still full)")
    record(d, "steady", injected, wire_dropped(iface) - wire0)
    return check.fails


def transient(d, iface, sock, prefix, pool):
    check = Checker("transient")
    ctl = Ctl(sock)
    tel = Telemetry(prefix)
    inj = Injector(iface, ctl)
    injected = 0
    wire0 = wire_dropped(iface)
    # 1. the private ring (never read: every node has a MAC, no health)
    # takes every mbuf the worker can get; then RX fails
    fr = frames(3000)
    inj.send_raw(fr[:1000])
    injected += 1000
    time.sleep(0.5)
    for i in range(1000, 3000, 100):
        inj.send_raw(fr[i:i + 100])
        time.sleep(0.01)
    injected += 2000
    st = wait_quiet(ctl)
    nb = nombuf(tel)
    check(st["forwarded"] <= pool and st["dropped"] == 0,
          "pool of %d, ring never read: %d received, %d forwarded (held by the ring), "
          "%d dropped" % (pool, st["rx"], st["forwarded"], st["dropped"]))
    check(nb > 0 and st["rx"] + nb <= injected,
          "RX out of mbufs: rx_nombuf %d (rx %d + rx_nombuf %d of %d written)"
          % (nb, st["rx"], nb, injected))
    # still dry: more frames, none received
    fr = frames(500, 3000)
    inj.send_raw(fr)
    injected += len(fr)
    time.sleep(1.0)
    st1 = wait_quiet(ctl)
    nb1 = nombuf(tel)
    check(st1["rx"] == st["rx"] and nb1 > nb,
          "still dry: 500 more frames, rx %d -> %d, rx_nombuf %d -> %d"
          % (st["rx"], st1["rx"], nb, nb1))
    responsive(ctl, tel, check, "pool dry")
    # 2. the mbufs come back: a node without a MAC makes the control lcore
    # read the private RX queues (ARP replies), which drains the ring
    r = ctl.req("node add", node={"name": "spare", "ip": "192.0.2.99"})
    print("node add spare (no MAC):", json.dumps(r.get("changes", {}))[:200])
    time.sleep(0.5)
    # 3. traffic flows again: every later frame received and forwarded
    fr = frames(2000, 10000)
    base = ctl.stats()
    nbb = nombuf(tel)
    for i in range(0, len(fr), 20):
        inj.send(fr[i:i + 20], batch=20)
        time.sleep(0.01)
    injected += len(fr)
    st2 = ctl.stats()
    nb2 = nombuf(tel)
    check(st2["forwarded"] - base["forwarded"] == len(fr) and nb2 == nbb,
          "after the mbufs came back: %d frames, %d forwarded, rx_nombuf %d -> %d"
          % (len(fr), st2["forwarded"] - base["forwarded"], nbb, nb2))
    # 4. informative: a burst faster than the control lcore drains the ring
    # (about 32 frames a millisecond) may run the pool dry again for a moment
    fr = frames(20000, 20000)
    t0 = time.monotonic()
    inj.send_raw(fr)
    dt = time.monotonic() - t0
    injected += len(fr)
    st3 = wait_quiet(ctl)
    nb3 = nombuf(tel)
    print("info: burst of %d frames in %.2f s (%.0f/s): %d received, rx_nombuf +%d"
          % (len(fr), dt, len(fr) / dt, st3["rx"] - st2["rx"], nb3 - nb2))
    fr = frames(1000, 50000)
    for i in range(0, len(fr), 20):
        inj.send(fr[i:i + 20], batch=20)
        time.sleep(0.01)
    injected += len(fr)
    st4 = ctl.stats()
    nb4 = nombuf(tel)
    check(st4["forwarded"] - st3["forwarded"] == len(fr) and nb4 == nb3,
          "after that burst: %d frames, %d forwarded, rx_nombuf %d -> %d"
          % (len(fr), st4["forwarded"] - st3["forwarded"], nb3, nb4))
    record(d, "transient", injected, wire_dropped(iface) - wire0)
    return check.fails


def final(d, run):
    check = Checker("final " + run)
    with open(os.path.join(d, run + ".json")) as f:
        s = json.load(f)
    with open(os.path.join(d, run + ".out")) as f:
        out = f.read()
    with open(os.path.join(d, run + ".err")) as f:
        err = f.read()
    inj_path = os.path.join(d, run + ".injected")
    injected, wire = None, 0
    if os.path.exists(inj_path):
        with open(inj_path) as f:
            v = f.read().split()
        injected, wire = int(v[0]), int(v[1]) if len(v) > 1 else 0
    check(s["rx"] == s["forwarded"] + s["local"] + s["dropped"],
          "%s: rx %d == forwarded %d + local %d + dropped %d"
          % (run, s["rx"], s["forwarded"], s["local"], s["dropped"]))
    check(s["rx_nombuf"] > 0, "%s: rx_nombuf %d in --stats-json" % (run, s["rx_nombuf"]))
    check(s["mbufs_in_use"] == 0, "%s: mbufs in use at exit: %d"
          % (run, s["mbufs_in_use"]))
    if injected is not None:
        got = s["rx"] + s["rx_nombuf"] + s["rx_missed"] + wire
        check(got == injected,
              "%s: every frame written is accounted for: rx %d + rx_nombuf %d + rx_missed %d "
              "(+ %d dropped by the veth) = %d, written %d"
              % (run, s["rx"], s["rx_nombuf"], s["rx_missed"], wire, got, injected))
    m = [ln for ln in out.splitlines() if "not received for want of mbufs" in ln]
    check(len(m) == 1 and m[0].split()[2] == str(s["rx_nombuf"]),
          "%s: final report: %s" % (run, m[0].strip() if m else "(no rx_nombuf line)"))
    m = [ln for ln in out.splitlines() if "back in the pool" in ln]
    ok = False
    if len(m) == 1:
        w = m[0].split()
        ok = w[1] == w[3] and "LEAK" not in m[0]
    check(ok, "%s: final report: %s" % (run, m[0].strip() if m else "(no mbufs line)"))
    san = [ln for ln in err.splitlines() if "Sanitizer" in ln or "runtime error" in ln]
    check(not san, "%s: no sanitizer report%s" % (run, (": " + san[0]) if san else ""))
    n_out, n_err = len(out.splitlines()), len(err.splitlines())
    check(n_err <= 20 and n_out <= 40,
          "%s: no per-packet log line: stdout %d lines, stderr %d lines, for %d frames"
          % (run, n_out, n_err, s["rx"] + s["rx_nombuf"]))
    return check.fails


def main():
    a = sys.argv[1:]
    try:
        if len(a) == 3 and a[0] == "gen":
            write_pcap(a[1], frames(int(a[2])))
            return 0
        if len(a) == 6 and a[0] in ("steady", "transient"):
            fn = steady if a[0] == "steady" else transient
            return 1 if fn(a[1], a[2], a[3], a[4], int(a[5])) else 0
        if len(a) == 3 and a[0] == "final":
            return 1 if final(a[1], a[2]) else 0
    except TestFailure as e:
        print("FAIL %s" % e)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
