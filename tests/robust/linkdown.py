#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Traffic, capture and checks of linkdown_test.sh (private links going down).

    linkdown.py one DIR IFACE SOCKET RUN
        one private tap (cnmp0): up, down (drops.link_down), up again
    linkdown.py two DIR IFACE SOCKET RUN
        two private taps (cnmp0, cnmp1): cnmp1 down moves its nodes to cnmp0,
        up moves them back; both down: link_down; both up: as at the start

Runs inside cnmux's network namespace. A thread captures what cnmux sends on
the taps (raw AF_PACKET sockets on the kernel side of each tap: what DPDK
writes to a tap arrives there; the socket survives the interface going down
and up). Every injected frame carries its phase and number in its payload,
so each captured frame is attributed to a phase, a node (destination MAC)
and a tap (where it was seen; source MAC: the DPDK port's MAC).
"""
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time

from robustlib import (Checker, Ctl, Injector, TestFailure, eth_ipv4_udp,
                       parse_ipv4_l4, poll)

VIP = "198.51.100.10"
SMAC = "02:00:cb:00:71:01"
DMAC = "02:00:c6:33:64:0a"
TAP_MAC = {"cnmp0": "02:00:00:00:aa:00", "cnmp1": "02:00:00:00:aa:01"}
NODES = ["node1", "node2", "node3", "node4"]      # ids 0..3, in config order
NODE_MAC = {"node1": "02:00:c0:00:02:0b", "node2": "02:00:c0:00:02:0c",
            "node3": "02:00:c0:00:02:0d", "node4": "02:00:c0:00:02:0e"}
MAC_NODE = {v: k for k, v in NODE_MAC.items()}
N = 800
PACKET_OUTGOING = 4


class Capture(threading.Thread):
    def __init__(self, ifaces):
        super().__init__(daemon=True)
        self.socks = {}
        for i in ifaces:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
            s.bind((i, 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            s.setblocking(False)
            self.socks[s] = i
        self.frames = []     # (iface, frame)
        self.lock = threading.Lock()
        self.stop = False

    def run(self):
        while not self.stop:
            r, _, _ = select.select(list(self.socks), [], [], 0.05)
            for s in r:
                while True:
                    try:
                        fr, addr = s.recvfrom(65535)
                    except BlockingIOError:
                        break
                    except OSError:
                        break    # ENETDOWN once when the interface goes down
                    if addr[2] == PACKET_OUTGOING:
                        continue
                    with self.lock:
                        self.frames.append((self.socks[s], fr))

    def phase(self, tag):
        """{(iface, src mac, node): count} of the captured frames of a phase."""
        out = {}
        with self.lock:
            frames = list(self.frames)
        for iface, fr in frames:
            p = parse_ipv4_l4(fr)
            if p is None or not p[7].startswith(b"ld "):
                continue
            if p[7].split()[1].decode() != tag:
                continue
            k = (iface, p[1], MAC_NODE.get(p[0], p[0]))
            out[k] = out.get(k, 0) + 1
        return out


def frames(tag, n):
    out = []
    for i in range(n):
        src = "203.0.113.%d" % (1 + i % 250)
        out.append(eth_ipv4_udp(SMAC, DMAC, src, VIP, 1024 + (i * 37) % 60000, 53,
                                b"ld %s %d" % (tag.encode(), i), ident=i))
    return out


class Run:
    def __init__(self, d, iface, sock, run, taps):
        self.d, self.run, self.taps = d, run, taps
        self.ctl = Ctl(sock)
        self.inj = Injector(iface, self.ctl, batch=200)
        self.cap = Capture(taps)
        self.cap.start()
        self.check = Checker(run)

    def log_count(self, text):
        with open(os.path.join(self.d, self.run + ".out")) as f:
            return f.read().count(text)

    def link(self, tap, state):
        """ip link set TAP STATE, then wait for cnmux's path manager to say so."""
        port = self.taps.index(tap)
        text = "private port %d link %s" % (port, state)
        before = self.log_count(text)
        t0 = time.monotonic()
        subprocess.run(["ip", "link", "set", tap, state], check=True)
        poll(lambda: self.log_count(text) > before, what="'%s' in cnmux's output" % text)
        print("ip link set %s %s: cnmux says '%s' after %.2f s"
              % (tap, state, text, time.monotonic() - t0))

    def ports(self):
        """node -> private port (None: no port up; node show says 65535)."""
        r = self.ctl.req("node show")
        return {n["name"]: n["private_port"] if n["private_port"] < len(self.taps) else None
                for n in r["nodes"]}

    def phase(self, tag, want_tap_of_node, linkdown=False):
        """Inject N frames; check where they went. want_tap_of_node: node -> tap
        (None: every frame dropped as link_down)."""
        ck = self.check
        b = self.ctl.stats()
        self.inj.send(frames(tag, N))
        a = self.ctl.stats()
        fwd = a["forwarded"] - b["forwarded"]
        ld = a["drops"]["link_down"] - b["drops"]["link_down"]
        drp = a["dropped"] - b["dropped"]
        if linkdown:
            ck(fwd == 0 and ld == N and drp == N,
               "%s: %d frames: forwarded +%d, dropped +%d, link_down +%d" % (tag, N, fwd, drp, ld))
            time.sleep(0.3)
            got = self.cap.phase(tag)
            ck(not got, "%s: nothing on the taps (%s)" % (tag, got or "none"))
            return
        ck(fwd == N and drp == 0,
           "%s: %d frames: forwarded +%d, dropped +%d" % (tag, N, fwd, drp))
        per_node = {n: a["nodes"][n]["packets"] - b["nodes"][n]["packets"] for n in NODES}
        # the capture: wait until every frame has been seen
        poll(lambda: sum(self.cap.phase(tag).values()) >= N, deadline=60,
             what="the %d frames of %s on the taps" % (N, tag))
        time.sleep(0.2)
        got = self.cap.phase(tag)
        bad = {k: v for k, v in got.items()
               if k[0] != want_tap_of_node.get(k[2]) or k[1] != TAP_MAC[k[0]]}
        seen = {}
        for (tap, _, node), v in got.items():
            seen[node] = seen.get(node, 0) + v
        ck(sum(got.values()) == N and not bad and seen == {n: v for n, v in per_node.items() if v},
           "%s: captured %d frames, every one on its node's tap, from that tap's MAC: %s"
           % (tag, sum(got.values()), ", ".join("%s->%s %d" % (k[2], k[0], v)
                                                 for k, v in sorted(got.items(), key=lambda x: x[0][2]))))
        if bad:
            print("  wrong: %s" % bad)
        ck(all(per_node[n] > 0 for n in want_tap_of_node),
           "%s: every node got traffic (node counters %s)" % (tag, per_node))


def one(d, iface, sock, run):
    r = Run(d, iface, sock, run, ["cnmp0"])
    ck = r.check
    every = {n: "cnmp0" for n in NODES}
    r.phase("up1", every)
    r.link("cnmp0", "down")
    ck(set(r.ports().values()) == {None}, "node show: no private port for any node: %s"
       % r.ports())
    r.phase("down", None, linkdown=True)
    r.link("cnmp0", "up")
    ck(set(r.ports().values()) == {0}, "node show: every node on private port 0 again: %s"
       % r.ports())
    r.phase("up2", every)
    return ck.fails


def two(d, iface, sock, run):
    r = Run(d, iface, sock, run, ["cnmp0", "cnmp1"])
    ck = r.check
    own = {n: "cnmp%d" % (i % 2) for i, n in enumerate(NODES)}
    ck(r.ports() == {n: i % 2 for i, n in enumerate(NODES)},
       "node show: nodes spread over the private ports by id: %s" % r.ports())
    r.phase("both", own)
    r.link("cnmp1", "down")
    ck(set(r.ports().values()) == {0}, "node show: every node on private port 0: %s"
       % r.ports())
    r.phase("p1down", {n: "cnmp0" for n in NODES})
    r.link("cnmp1", "up")
    ck(r.ports() == {n: i % 2 for i, n in enumerate(NODES)},
       "node show: back on their own ports: %s" % r.ports())
    r.phase("p1up", own)
    r.link("cnmp0", "down")
    r.phase("p0down", {n: "cnmp1" for n in NODES})
    r.link("cnmp1", "down")
    r.phase("alldown", None, linkdown=True)
    r.link("cnmp0", "up")
    r.link("cnmp1", "up")
    r.phase("allup", own)
    return ck.fails


def final(d, run, want_link_down):
    ck = Checker("final " + run)
    with open(os.path.join(d, run + ".json")) as f:
        s = json.load(f)
    others = {k: v for k, v in s["drops"].items() if v and k != "link_down"}
    ck(s["drops"]["link_down"] == want_link_down and not others,
       "%s: drops.link_down %d (expected %d), no other drop %s"
       % (run, s["drops"]["link_down"], want_link_down, others or ""))
    ck(s["rx"] == s["forwarded"] + s["local"] + s["dropped"],
       "%s: rx %d == forwarded %d + local %d + dropped %d"
       % (run, s["rx"], s["forwarded"], s["local"], s["dropped"]))
    ck(s["mbufs_in_use"] == 0, "%s: every mbuf back in the pool" % run)
    return ck.fails


def main():
    a = sys.argv[1:]
    try:
        if len(a) == 5 and a[0] in ("one", "two"):
            return 1 if (one if a[0] == "one" else two)(a[1], a[2], a[3], a[4]) else 0
        if len(a) == 4 and a[0] == "final":
            return 1 if final(a[1], a[2], int(a[3])) else 0
    except TestFailure as e:
        print("FAIL %s" % e)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
