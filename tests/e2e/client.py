#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Clients of the e2e tests (run in the client namespace). Each prints JSON.

  client.py udp VIP PORT SRC SOCKETS DATAGRAMS [SPORT]
      SOCKETS UDP sockets bound to SRC (the first to SPORT when given, the
      others to ports the kernel picks); each sends DATAGRAMS datagrams to
      VIP:PORT, one at a time, and records which node echoed each (a lost
      one is sent again, up to 3 times)
      -> {"sockets": [{"src": "A:P", "nodes": {"node1": 5}, "lost": 0}, ...]}

  client.py udpconv VIP PORT SRC SOCKETS INTERVAL_MS STOPFILE
      SOCKETS long-lived UDP conversations: each socket (bound to SRC, a
      port the kernel picks) sends a datagram every INTERVAL_MS to VIP:PORT
      until STOPFILE exists, and records the nodes that echoed, in order
      -> {"sockets": [{"src": "A:P", "first": "node1", "nodes": {"node1": 90},
                       "switches": 0, "sent": 95, "answered": 90}, ...]}

  client.py stream VIP PORT SRC STOPFILE PROGRESSFILE [RATE [MAXSECONDS [TIMEOUT]]]
      one TCP connection from SRC to VIP:PORT (server.py's byte counter):
      reads the node's name, sends RATE bytes/s (default 2000000) until
      STOPFILE exists (or MAXSECONDS, default 120; a send or read blocked
      for TIMEOUT seconds, default 10, fails it), shuts its side down and
      reads the server's count. PROGRESSFILE is rewritten every 0.1 s with
      {"node", "sent", "sport"} so that a test can watch it
      -> {"node", "sport", "sent", "server_count", "ok", "error"}
"""
import json
import os
import socket
import sys
import time


def udp(vip, port, src, nsock, ndgram, sport=0):
    out = []
    for i in range(nsock):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, sport if i == 0 else 0))
        s.settimeout(1.0)
        nodes, lost = {}, 0
        for j in range(ndgram):
            msg = ("%d-%d" % (i, j)).encode()
            for _ in range(3):
                s.sendto(msg, (vip, port))
                try:
                    while True:
                        data, peer = s.recvfrom(2048)
                        # only the answer to this datagram, from the VIP
                        if peer[0] == vip and data.endswith(b" " + msg):
                            break
                except socket.timeout:
                    lost += 1
                    continue
                name = data.split(b" ", 1)[0].decode()
                nodes[name] = nodes.get(name, 0) + 1
                break
        out.append({"src": "%s:%d" % s.getsockname(), "nodes": nodes, "lost": lost})
        s.close()
    print(json.dumps({"sockets": out}))


def udpconv(vip, port, src, nsock, interval_ms, stopfile):
    socks = []
    for i in range(nsock):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setblocking(False)
        socks.append({"s": s, "src": "%s:%d" % s.getsockname(), "first": None, "last": None,
                      "nodes": {}, "switches": 0, "sent": 0, "answered": 0})
    n = 0
    while not os.path.exists(stopfile) and n < 100000:
        for c in socks:
            c["s"].sendto(("%s %d" % (c["src"], n)).encode(), (vip, port))
            c["sent"] += 1
        deadline = time.monotonic() + interval_ms / 1000.0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            time.sleep(min(left, 0.002))
            for c in socks:
                while True:
                    try:
                        data, peer = c["s"].recvfrom(2048)
                    except BlockingIOError:
                        break
                    if peer[0] != vip:
                        continue
                    name = data.split(b" ", 1)[0].decode()
                    c["answered"] += 1
                    c["nodes"][name] = c["nodes"].get(name, 0) + 1
                    if c["first"] is None:
                        c["first"] = name
                    elif name != c["last"]:
                        c["switches"] += 1
                    c["last"] = name
        n += 1
    for c in socks:
        c["s"].close()
        del c["s"], c["last"]
    print(json.dumps({"sockets": socks}))


def write_progress(path, d):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(d, f)
    os.replace(tmp, path)


def stream(vip, port, src, stopfile, progress, rate=2000000, maxs=120.0, timeout=10.0):
    res = {"node": None, "sport": 0, "sent": 0, "server_count": None, "ok": False,
           "error": None}
    chunk = b"x" * 8192
    try:
        s = socket.create_connection((vip, port), timeout=5, source_address=(src, 0))
        res["sport"] = s.getsockname()[1]
        f = s.makefile("rb")
        res["node"] = f.readline().decode().strip()
        s.settimeout(timeout)
        start = last = time.monotonic()
        write_progress(progress, res)
        while not os.path.exists(stopfile) and time.monotonic() - start < maxs:
            now = time.monotonic()
            # keep to RATE: send what is due, then sleep a little
            due = int((now - start) * rate) - res["sent"]
            while due > 0:
                n = s.send(chunk[:min(due, len(chunk))])
                res["sent"] += n
                due -= n
            if now - last >= 0.1:
                write_progress(progress, res)
                last = now
            time.sleep(0.005)
        write_progress(progress, res)
        s.shutdown(socket.SHUT_WR)
        line = f.readline().decode().split()
        if len(line) == 2 and line[0] == "bytes":
            res["server_count"] = int(line[1])
        res["ok"] = res["server_count"] == res["sent"]
    except OSError as e:
        res["error"] = "%s: %s" % (type(e).__name__, e)
    write_progress(progress, res)
    print(json.dumps(res))
    sys.exit(0 if res["ok"] else 1)


def main():
    a = sys.argv[1:]
    if len(a) in (6, 7) and a[0] == "udp":
        udp(a[1], int(a[2]), a[3], int(a[4]), int(a[5]), int(a[6]) if len(a) == 7 else 0)
    elif len(a) == 7 and a[0] == "udpconv":
        udpconv(a[1], int(a[2]), a[3], int(a[4]), int(a[5]), a[6])
    elif len(a) in (6, 7, 8, 9) and a[0] == "stream":
        stream(a[1], int(a[2]), a[3], a[4], a[5],
               int(a[6]) if len(a) > 6 else 2000000, float(a[7]) if len(a) > 7 else 120.0,
               float(a[8]) if len(a) > 8 else 10.0)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
