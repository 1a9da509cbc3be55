#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The forwarding list's hits taken frame by frame decide as the burst's
bulk lookup does.

    conn_eager_test.py CNMUX_BINARY

A worker takes a TCP frame whose connection the list holds in its eager
loop (one lookup, cnm_decide_conn4()) while the list's table holds at most
CNM_CT_GET4_MAX (8,192) IPv4 entries, and leaves it to the burst's bulk
lookup (conn_track()) past that, or whenever header checksums are verified
(verify_checksum: every frame goes the staged way). One capture is replayed
twice, once each way, and the two runs must agree frame for frame (the
private port's output, byte for byte and in order) and counter for counter.

The capture, in order:
  1. 300 connections opened (SYN, then ACK), TCP to two services on four
     nodes, UDP frames between them;
  2. data frames of all 300 at random (hits), with frames of another shape
     (IPv4 options) amid them, and FIN or RST on 100 of them;
  3. 64 frames later, a pure SYN on each closed connection's port (a new
     connection on a reused port: placed again, recorded anew);
  4. 9,000 more connections opened: the table passes 8,192 entries;
  5. data frames of the first 300 again: the bulk lookup's, in both runs.
The first run takes the hits of phases 1-3 in the eager loop. Its output
cannot show that (it must not differ); the instruction counts do
(docs/performance.md, "Session 11"). What this test catches is an eager hit
that decides or accounts differently from the bulk lookup: it failed when
the eager hit's cnm_ct_touch4() was left out.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check import read_pcap  # noqa: E402

from scapy.all import IP, TCP, UDP, Ether, IPOption_NOP, wrpcap  # noqa: E402

LB_MAC = "02:00:00:00:00:01"
CLIENT_MAC = "02:00:00:00:00:02"
WEB = "198.51.100.10"
API = "198.51.100.20"
FAILED = []


def check(cond, what):
    if not cond:
        FAILED.append(what)
        print("FAIL: " + what)


def frames():
    rng = random.Random(15)
    out = []
    conns = []
    for i in range(300):
        src = "10.1.%d.%d" % (i // 250, 1 + i % 250)
        vip, dport = (WEB, 80) if i % 3 else (API, 8080)
        conns.append((src, vip, 10000 + i, dport))

    def tcp(c, flags, opts=False, data=b""):
        src, vip, sport, dport = c
        ip = IP(src=src, dst=vip, options=[IPOption_NOP()] * 4) if opts else IP(src=src, dst=vip)
        return Ether(src=CLIENT_MAC, dst=LB_MAC) / ip / TCP(sport=sport, dport=dport,
                                                           flags=flags, seq=1, ack=1) / data

    def udp(i):
        return (Ether(src=CLIENT_MAC, dst=LB_MAC) / IP(src="10.2.0.%d" % (1 + i % 200), dst=WEB)
                / UDP(sport=20000 + i, dport=53) / b"q")

    for i, c in enumerate(conns):
        out.append(tcp(c, "S"))
        if i % 10 == 0:
            out.append(udp(i))
    for c in conns:
        out.append(tcp(c, "A"))
    closed = rng.sample(range(300), 100)
    for n in range(2000):
        c = conns[rng.randrange(300)]
        out.append(tcp(c, "PA", opts=(n % 97 == 0), data=b"data"))
        if n % 50 == 0:
            out.append(udp(n))
    for j, i in enumerate(closed):
        out.append(tcp(conns[i], "FA" if j % 2 else "R"))
    for n in range(64):
        out.append(tcp(conns[rng.randrange(300)], "PA", data=b"gap"))
    for i in closed:
        out.append(tcp(conns[i], "S"))
    for i in range(9000):
        out.append(Ether(src=CLIENT_MAC, dst=LB_MAC) /
                   IP(src="10.3.%d.%d" % (i // 250, 1 + i % 250), dst=WEB) /
                   TCP(sport=40000 + i % 20000, dport=80, flags="S"))
    for n in range(2000):
        out.append(tcp(conns[rng.randrange(300)], "PA", data=b"late"))
    return out


def config(verify):
    nodes = [{"name": "n%d" % i, "ip": "192.0.2.%d" % (11 + i),
              "mac": "02:00:c0:00:02:%02x" % (11 + i)} for i in range(4)]
    return {
        "ports": {"public": "net_pcap0", "private": ["net_pcap1"]},
        "nodes": nodes,
        "services": [
            {"name": "web", "vip": WEB, "ports": ["80/tcp", "53/udp"], "policy": "weighted",
             "nodes": {"n0": 1, "n1": 1, "n2": 1, "n3": 1}},
            {"name": "api", "vip": API, "ports": ["8080/tcp"], "policy": "weighted",
             "nodes": {"n0": 1, "n1": 2, "n2": 3}},
        ],
        "conntrack": {"max": 20000, "timeout_s": 3600, "syn_s": 3600, "closing_s": 600},
        "verify_checksum": verify,
    }


def run(binary, work, tag, verify):
    d = os.path.join(work, tag)
    os.mkdir(d)
    cfg = os.path.join(d, "config.json")
    with open(cfg, "w") as f:
        json.dump(config(verify), f)
    prefix = "cnmux_conn_eager_%s_%d" % (tag, os.getpid())
    cmd = [binary, "--no-huge", "-m", "512", "--no-pci", "-l", "0,1", "--file-prefix", prefix,
           "--log-level=lib.eal:error",
           "--vdev", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (os.path.join(work, "in.pcap"),
                                                          os.path.join(d, "public.pcap")),
           "--vdev", "net_pcap1,tx_pcap=%s" % os.path.join(d, "private.pcap"),
           "--", "--config", cfg, "--idle-exit", "500",
           "--stats-json", os.path.join(d, "stats.json")]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        for base in ("/var/run/dpdk", os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"),
                                                   "dpdk")):
            shutil.rmtree(os.path.join(base, prefix), ignore_errors=True)
    if r.returncode != 0:
        print(r.stdout[-3000:] + r.stderr[-3000:])
        raise SystemExit("conn_eager: cnmux (%s) exited with %d" % (tag, r.returncode))
    with open(os.path.join(d, "stats.json")) as f:
        stats = json.load(f)
    return read_pcap(os.path.join(d, "private.pcap")), stats


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: conn_eager_test.py CNMUX_BINARY")
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="cnmux_conn_eager.")
    try:
        fr = frames()
        wrpcap(os.path.join(work, "in.pcap"), fr)
        eager, se = run(binary, work, "eager", False)
        staged, ss = run(binary, work, "staged", True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = len(fr)
    check(se["rx"] == n and ss["rx"] == n, "rx %d and %d, not the %d frames sent"
          % (se["rx"], ss["rx"], n))
    check(se["dropped"] == 0 and ss["dropped"] == 0, "drops: %d and %d"
          % (se["dropped"], ss["dropped"]))
    check(len(eager) == n and len(staged) == n, "forwarded %d and %d of %d"
          % (len(eager), len(staged), n))
    diff = [i for i, (a, b) in enumerate(zip(eager, staged)) if a != b]
    check(not diff, "%d frames differ between the two runs, the first at #%s"
          % (len(diff), diff[:1]))
    for k in ("forwarded", "conn_hit", "conn_new", "conn_stale", "conn_full", "conn_active",
              "fast_path", "udp_hit", "udp_new"):
        check(se.get(k) == ss.get(k), "%s: %s eager, %s staged" % (k, se.get(k), ss.get(k)))
    # what the capture holds: 300 + 9,000 SYNs recorded, 100 again on reuse;
    # every ACK and data frame a hit, and a SYN of a reused port is not
    want_new = 300 + 100 + 9000
    want_hit = 300 + 2000 + 100 + 64 + 2000
    check(se["conn_new"] == want_new, "conn_new %d, want %d" % (se["conn_new"], want_new))
    check(se["conn_hit"] == want_hit, "conn_hit %d, want %d" % (se["conn_hit"], want_hit))
    check(se["conn_active"] == 9300, "conn_active %d, want 9300" % se["conn_active"])
    # each of the first 300 connections keeps one node throughout, and the
    # four nodes all have some
    nodes = {}
    for f, out in zip(fr, eager):
        if TCP in f and 10000 <= f[TCP].sport < 10300:
            nodes.setdefault((f[IP].src, f[TCP].sport), set()).add(out[:6])
    check(len(nodes) == 300, "%d of the 300 connections seen" % len(nodes))
    check(all(len(v) == 1 for v in nodes.values()), "%d connections moved between nodes"
          % sum(len(v) > 1 for v in nodes.values()))
    check(len(set().union(*nodes.values())) == 4, "the connections are on %d nodes, not 4"
          % len(set().union(*nodes.values())))
    if FAILED:
        print("conn_eager: %d failure(s)" % len(FAILED))
        sys.exit(1)
    print("conn_eager: %d frames, both ways alike (conn_hit %d, conn_new %d)"
          % (n, se["conn_hit"], se["conn_new"]))


if __name__ == "__main__":
    main()
