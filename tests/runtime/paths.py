#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Traffic, capture and checks of paths_test.sh (redundant private paths).

    paths.py K PUB_IFACE SOCKET PUB_MAC BRIDGE_SIDE_IFACES(comma) NODE_MACS(comma)

Runs in the LB namespace while cnmux runs with K private ports (net_af_packet
on the cnmux side of K veth pairs whose other ends are ports of one bridge,
the nodes' namespaces on the same bridge). A thread captures, on the bridge
side of each path, what cnmux sent on it. Every injected frame is UDP to the
VIP and carries its phase, flow and number in its payload, so each captured
frame is attributed to a phase, a flow, a path (where it was seen) and a node
(its destination MAC).

Phases:
  spread   F flows x 2 frames: every frame forwarded and captured; one flow,
           one path; the paths' shares even; every node's frames on every
           path; `path show` forwarded per path == frames captured per path.
  fail     a steady stream over all flows; the bridge side of the last path
           goes down: path show says it is down after a few rounds; what was
           lost is only what was sent to that path before it was taken out
           (in flight); frames sent after that all arrive, on the other paths;
           the flows of the other paths kept their path.
  back     the bridge side comes up: the path is up again, the flows are on
           the paths they had in `spread`.
  Throughout: no flow changes node.
"""
import json
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "robust"))
from robustlib import (Checker, Ctl, Injector, TestFailure, eth_ipv4_udp,  # noqa: E402
                       parse_ipv4_l4, poll, wait_quiet)

VIP = "198.51.100.10"
SMAC = "02:00:cb:00:71:01"
FLOWS = 900
PACKET_OUTGOING = 4
MAGIC = b"CNMP"


class Capture(threading.Thread):
    """Frames that arrive on each bridge-side interface from cnmux."""

    def __init__(self, ifaces):
        super().__init__(daemon=True)
        self.socks = {}
        for i, name in enumerate(ifaces):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
            s.bind((name, 0))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
            s.setblocking(False)
            self.socks[s] = i
        self.got = []        # (path, phase, flow, seq, node mac)
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
                        # ENETDOWN: its interface went down (the fail phase);
                        # the socket works again once it is up
                        break
                    if addr[2] == PACKET_OUTGOING:
                        continue
                    if fr[12:14] == b"\x81\x00":   # an 802.1Q tag: kept by cnmux
                        fr = fr[:12] + fr[16:]
                    p = parse_ipv4_l4(fr)
                    if p is None or p[3] != VIP or p[4] != 17:
                        continue
                    pl = p[7]
                    if len(pl) < 16 or pl[:4] != MAGIC:
                        continue
                    phase, flow, seq = struct.unpack("!4sII", pl[4:16])
                    with self.lock:
                        self.got.append((self.socks[s], phase.decode().strip(), flow, seq,
                                         p[0]))

    def phase(self, tag):
        with self.lock:
            return [g[:1] + g[2:] for g in self.got if g[1] == tag]


def frame(tag, flow, seq, pub_mac, vlan=None):
    src = "203.0.113.%d" % (1 + flow % 200)
    sport = 20000 + flow
    pl = MAGIC + struct.pack("!4sII", tag.encode().ljust(4), flow, seq) + bytes(16)
    fr = eth_ipv4_udp(SMAC, pub_mac, src, VIP, sport, 80, pl, ident=seq & 0xffff)
    if vlan is not None:
        # tagged: not the worker's fast shape, the general parser's flow
        fr = fr[:12] + struct.pack("!HH", 0x8100, vlan) + fr[12:]
    return fr


def paths(ctl):
    return ctl.req("path show")["paths"]


def main():
    k = int(sys.argv[1])
    pub, sock, pub_mac = sys.argv[2], sys.argv[3], sys.argv[4]
    bridge_side = sys.argv[5].split(",")[:k]
    node_macs = sys.argv[6].split(",")
    ck = Checker("paths%d" % k)
    t0 = time.monotonic()

    def at(what):
        print("  [%.1f s] %s" % (time.monotonic() - t0, what), flush=True)
    ctl = Ctl(sock)
    inj = Injector(pub, ctl, batch=300)
    cap = Capture(bridge_side)
    cap.start()

    ps = ctl.req("path show")
    ck(ps["spread"] and ps["probing"] and len(ps["paths"]) == k and
       all(p["up"] for p in ps["paths"]),
       "%d paths: spread on, probing on, every path up: %s" %
       (k, [(p["index"], p["up"], p["why"]) for p in ps["paths"]]))
    # the probes are answered on every path
    poll(lambda: all(p["answers"] > 0 for p in paths(ctl)), deadline=30,
         what="an answer to a probe on every path")
    ck(True, "every path's probes are answered: %s" % [p["answers"] for p in paths(ctl)])

    # ------------------------------------------------------------ spread
    at("spread")
    before = paths(ctl)
    st0 = ctl.stats()
    frames = [frame("sprd", f, s, pub_mac) for s in range(2) for f in range(FLOWS)]
    inj.send(frames)
    st1 = wait_quiet(ctl)
    fwd = st1["forwarded"] - st0["forwarded"]
    ck(fwd == len(frames) and st1["dropped"] == st0["dropped"],
       "spread: %d frames in, forwarded +%d, dropped +%d"
       % (len(frames), fwd, st1["dropped"] - st0["dropped"]))
    poll(lambda: len(cap.phase("sprd")) >= len(frames), deadline=30,
         what="the %d frames of spread on the bridge" % len(frames))
    time.sleep(0.3)
    got = cap.phase("sprd")
    after = paths(ctl)
    ck(len(got) == len(frames), "spread: %d frames captured on the bridge side of the paths"
       % len(got))
    flow_path, flow_node, per_path, per_node_path = {}, {}, [0] * k, {}
    split = 0
    for path, flow, _seq, node in got:
        if flow_path.setdefault(flow, path) != path:
            split += 1
        flow_node.setdefault(flow, set()).add(node)
        per_path[path] += 1
        per_node_path[(node, path)] = per_node_path.get((node, path), 0) + 1
    ck(split == 0 and len(flow_path) == FLOWS,
       "spread: each of %d flows kept one path (%d frames on another path)"
       % (len(flow_path), split))
    share = len(frames) / k
    ck(all(abs(c - share) <= 0.15 * share for c in per_path),
       "spread: frames per path %s, each within 15%% of %d" % (per_path, share))
    nodes = sorted({n for (n, _p) in per_node_path})
    ck(len(nodes) == len(node_macs) and
       all(per_node_path.get((n, p), 0) > 0 for n in nodes for p in range(k)),
       "spread: every node's frames on every path: %s"
       % {n: [per_node_path.get((n, p), 0) for p in range(k)] for n in nodes})
    counted = [a["forwarded"] - b["forwarded"] for a, b in zip(after, before)]
    ck(counted == per_path,
       "spread: path show's forwarded per path %s == captured per path %s" % (counted, per_path))

    # ------------------------------------------------------------ vlan
    # the general shape (802.1Q tagged): spread by the same rules
    at("vlan")
    before = paths(ctl)
    vflows = 300
    frames = [frame("vlan", f, s, pub_mac, vlan=100) for s in range(2) for f in range(vflows)]
    inj.send(frames)
    wait_quiet(ctl)
    poll(lambda: len(cap.phase("vlan")) >= len(frames), deadline=30,
         what="the %d tagged frames on the bridge" % len(frames))
    time.sleep(0.2)
    got = cap.phase("vlan")
    after = paths(ctl)
    vpath, vsplit, vper = {}, 0, [0] * k
    for path, flow, _seq, _node in got:
        if vpath.setdefault(flow, path) != path:
            vsplit += 1
        vper[path] += 1
    counted = [a["forwarded"] - b["forwarded"] for a, b in zip(after, before)]
    share = len(frames) / k
    ck(len(got) == len(frames) and vsplit == 0 and
       all(abs(c - share) <= 0.25 * share for c in vper) and counted == vper,
       "vlan: %d tagged frames captured, %d flows on one path each (%d off), per path %s "
       "(within 25%% of %d), path show %s" % (len(got), len(vpath), vsplit, vper, share, counted))

    # ------------------------------------------------------------ fail
    at("fail")
    victim = k - 1
    rate_sent = []          # (time, flow, seq)
    stop = threading.Event()

    def sender():
        seq = 0
        while not stop.is_set():
            t = time.monotonic()
            batch = []
            for _ in range(50):
                f = seq % FLOWS
                batch.append(frame("fail", f, seq, pub_mac))
                rate_sent.append((t, f, seq))
                seq += 1
            inj.send_raw(batch)
            time.sleep(0.02)

    th = threading.Thread(target=sender, daemon=True)
    th.start()
    time.sleep(0.5)
    t_down = time.monotonic()
    subprocess.run(["ip", "link", "set", bridge_side[victim], "down"], check=True)
    poll(lambda: not paths(ctl)[victim]["up"], deadline=30,
         what="path %d down in path show" % victim)
    t_out = time.monotonic()
    p = paths(ctl)[victim]
    ck(p["why"] == "no probed node answered" and p["downs"] == 1,
       "fail: path %d taken out %.2f s after its bridge side went down: why '%s', downs %d"
       % (victim, t_out - t_down, p["why"], p["downs"]))
    time.sleep(1.0)
    stop.set()
    th.join()
    wait_quiet(ctl)
    time.sleep(0.5)
    got = cap.phase("fail")
    seen = {seq for (_p, _f, seq, _n) in got}
    lost = [(t, f, s) for (t, f, s) in rate_sent if s not in seen]
    lost_other = [x for x in lost if flow_path[x[1]] != victim]
    lost_late = [x for x in lost if x[0] > t_out + 0.3]
    window = [x for x in rate_sent if flow_path[x[1]] == victim and t_down - 0.1 <= x[0] <= t_out]
    ck(not lost_other and not lost_late and len(lost) <= len(window) + 100,
       "fail: %d of %d frames lost, all of flows on path %d sent before it was taken out "
       "(%d such frames sent in the window; of other paths' flows: %d; after: %d)"
       % (len(lost), len(rate_sent), victim, len(window), len(lost_other), len(lost_late)))
    late = [g for g in got if g[2] > max((s for (t, _f, s) in rate_sent if t <= t_out + 0.3),
                                           default=0)]
    moved = sum(1 for (path, flow, _s, _n) in got
                if flow_path[flow] != victim and path != flow_path[flow])
    ck(moved == 0 and late and all(g[0] != victim for g in late),
       "fail: flows of the other paths kept their path (%d moved); after the path went "
       "out, %d frames arrived, none on path %d" % (moved, len(late), victim))
    for path, flow, _s, node in got:
        flow_node.setdefault(flow, set()).add(node)

    # ------------------------------------------------------------ back
    at("back")
    subprocess.run(["ip", "link", "set", bridge_side[victim], "up"], check=True)
    t_up = time.monotonic()
    poll(lambda: paths(ctl)[victim]["up"], deadline=30, what="path %d up again" % victim)
    p = paths(ctl)[victim]
    ck(p["ups"] == 1 and p["why"] == "",
       "back: path %d up again %.2f s after its bridge side came up (ups %d)"
       % (victim, time.monotonic() - t_up, p["ups"]))
    time.sleep(0.3)
    before = paths(ctl)
    frames = [frame("back", f, f, pub_mac) for f in range(FLOWS)]
    inj.send(frames)
    wait_quiet(ctl)
    poll(lambda: len(cap.phase("back")) >= len(frames), deadline=30,
         what="the %d frames of back on the bridge" % len(frames))
    time.sleep(0.2)
    got = cap.phase("back")
    after = paths(ctl)
    same = sum(1 for (path, flow, _s, _n) in got if path == flow_path[flow])
    ck(len(got) == FLOWS and same == FLOWS,
       "back: %d frames captured, %d flows on the path they had before the failure"
       % (len(got), same))
    per_path = [sum(1 for g in got if g[0] == i) for i in range(k)]
    counted = [a["forwarded"] - b["forwarded"] for a, b in zip(after, before)]
    ck(counted == per_path, "back: path show's forwarded per path %s == captured %s"
       % (counted, per_path))
    for path, flow, _s, node in got:
        flow_node.setdefault(flow, set()).add(node)
    changed = [f for f, n in flow_node.items() if len(n) != 1]
    ck(not changed, "no flow changed node across the phases (%d did)" % len(changed))

    # the counters of telemetry's sibling: the control's JSON is what both print
    print(json.dumps(ctl.req("path show"), sort_keys=True))
    cap.stop = True
    return ck.fails


if __name__ == "__main__":
    try:
        sys.exit(1 if main() else 0)
    except TestFailure as e:
        print("FAIL %s" % e)
        sys.exit(1)
