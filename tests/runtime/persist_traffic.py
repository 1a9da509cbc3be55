#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Traffic of the run-time persistence test (tests/runtime/persist_test.sh).

    persist_traffic.py gen DIR
        choose the connections (deterministic): DIR/conns.json
    persist_traffic.py send DIR PHASE IFACE CNMUXCTL SOCKET
        build the frames of PHASE (1, 2 or 3), write them to the interface
        IFACE in batches, and after each batch wait (poll, generous deadline)
        until `cnmuxctl -j stats` counts them as received; append what was
        sent to DIR/sent.json (one record per frame: phase, kind, connection,
        IP packet in hex).

Phase 1: the SYN of every "old" connection.
Phase 2: for every old connection an ACK with a little payload (the
         connection goes on), and the SYN of every "new" connection, mixed.
Phase 3: a FIN+ACK for every CLOSE_EVERY-th old and new connection.
Phase 4: the client reuses the ports of the old connections closed in phase 3
         (within their closing timeout): a new SYN ("resyn", another ISN)
         from each. It opens a new connection, to be placed by the PDT of now.
Phase 5: a FIN+ACK ("refin") of each of those new connections.

PHASE may list several phases (3,4,5): they are sent by one process, one
after the other, so that phase 4 follows phase 3 closely.
"""
import json
import logging
import os
import random
import socket
import subprocess
import sys
import time

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, TCP, Raw  # noqa: E402

VIP = "198.51.100.10"
VPORT = 80
N_OLD = 2000
N_NEW = 2000
CLOSE_EVERY = 5
BATCH = 200
SRC_MAC = "02:00:cb:00:71:01"   # the router in front of cnmux
DST_MAC = "02:00:c6:33:64:0a"   # cnmux's public port (not checked by cnmux)
PAYLOAD = b"GET / HTTP/1.0\r\n\r\n"
BATCH_DEADLINE_S = 120


def gen(d):
    rnd = random.Random(20240503)
    seen = set()
    conns = []
    while len(conns) < N_OLD + N_NEW:
        if rnd.random() < 0.5:
            src = "203.0.113.%d" % rnd.randint(1, 254)
        else:
            # 100.64.0.0/10
            v = (100 << 24) | (64 << 16) | rnd.randint(1, (1 << 22) - 2)
            src = socket.inet_ntoa(v.to_bytes(4, "big"))
        sport = rnd.randint(1024, 65535)
        if (src, sport) in seen:
            continue
        seen.add((src, sport))
        conns.append({"id": len(conns), "src": src, "sport": sport,
                      "isn": rnd.randint(0, 2**32 - 1),
                      "old": len(conns) < N_OLD})
    with open(os.path.join(d, "conns.json"), "w") as f:
        json.dump(conns, f)


def reisn(c):
    """ISN of the connection that reuses c's port."""
    return (c["isn"] + 0x40000000) & 0xffffffff


def frame(c, kind):
    isn = c["isn"]
    ip = IP(src=c["src"], dst=VIP, ttl=64, id=(c["id"] * 7 + len(kind)) & 0xffff)
    if kind == "syn":
        l4 = TCP(sport=c["sport"], dport=VPORT, flags="S", seq=isn, window=64240)
    elif kind == "data":
        l4 = TCP(sport=c["sport"], dport=VPORT, flags="PA", seq=(isn + 1) & 0xffffffff,
                 ack=1000 + c["id"], window=502) / Raw(PAYLOAD)
    elif kind == "fin":
        seq = isn + 1 + (len(PAYLOAD) if c["old"] else 0)
        l4 = TCP(sport=c["sport"], dport=VPORT, flags="FA", seq=seq & 0xffffffff,
                 ack=1000 + c["id"], window=502)
    elif kind == "resyn":
        l4 = TCP(sport=c["sport"], dport=VPORT, flags="S", seq=reisn(c), window=64240)
    elif kind == "refin":
        l4 = TCP(sport=c["sport"], dport=VPORT, flags="FA", seq=(reisn(c) + 1) & 0xffffffff,
                 ack=2000 + c["id"], window=502)
    else:
        raise ValueError(kind)
    return bytes(Ether(src=SRC_MAC, dst=DST_MAC) / ip / l4)


def phase_frames(conns, phase):
    old = [c for c in conns if c["old"]]
    new = [c for c in conns if not c["old"]]
    if phase == 1:
        out = [(c, "syn") for c in old]
    elif phase == 2:
        out = [(c, "data") for c in old] + [(c, "syn") for c in new]
        random.Random(7).shuffle(out)
    elif phase == 3:
        out = [(c, "fin") for c in old[::CLOSE_EVERY]] + [(c, "fin") for c in new[::CLOSE_EVERY]]
    elif phase == 4:
        out = [(c, "resyn") for c in old[::CLOSE_EVERY]]
    elif phase == 5:
        out = [(c, "refin") for c in old[::CLOSE_EVERY]]
    else:
        raise ValueError(phase)
    return out


def rx_count(ctl, sock):
    r = subprocess.run([ctl, "-s", sock, "-j", "stats"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError("cnmuxctl stats: rc %d: %s" % (r.returncode, r.stderr.strip()))
    return json.loads(r.stdout)["rx"]


def wait_rx(ctl, sock, want):
    deadline = time.monotonic() + BATCH_DEADLINE_S
    delay = 0.01
    while True:
        rx = rx_count(ctl, sock)
        if rx >= want:
            return rx
        if time.monotonic() > deadline:
            raise RuntimeError("rx stuck at %d, expected %d after %d s"
                               % (rx, want, BATCH_DEADLINE_S))
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


def send(d, phase, iface, ctl, sock):
    with open(os.path.join(d, "conns.json")) as f:
        conns = json.load(f)
    frames = [(c, kind, frame(c, kind)) for c, kind in phase_frames(conns, phase)]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    base = rx_count(ctl, sock)
    sent = 0
    t0 = time.monotonic()
    for i in range(0, len(frames), BATCH):
        for _, _, fr in frames[i:i + BATCH]:
            s.send(fr)
            sent += 1
        wait_rx(ctl, sock, base + sent)
    s.close()
    rx = rx_count(ctl, sock)
    path = os.path.join(d, "sent.json")
    recs = []
    if os.path.exists(path):
        with open(path) as f:
            recs = json.load(f)
    for c, kind, fr in frames:
        recs.append({"phase": phase, "kind": kind, "conn": c["id"], "ip": fr[14:].hex()})
    with open(path, "w") as f:
        json.dump(recs, f)
    print("phase %d: %d frames sent, rx %d -> %d, %.1f s"
          % (phase, sent, base, rx, time.monotonic() - t0))
    if rx != base + sent:
        print("phase %d: rx grew by %d, expected %d" % (phase, rx - base, sent), file=sys.stderr)
        return 1
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        gen(sys.argv[2])
        return 0
    if len(sys.argv) == 7 and sys.argv[1] == "send":
        for phase in sys.argv[3].split(","):
            rc = send(sys.argv[2], int(phase), sys.argv[4], sys.argv[5], sys.argv[6])
            if rc:
                return rc
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
