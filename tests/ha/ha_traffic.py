#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""High availability with packets (issue 6; docs/ha.md).

    ha_traffic.py CNMUX CNMUXCTL WORKDIR VETH

Run by ha_traffic_test.sh inside a network namespace holding three veth
pairs VETH1a/VETH1b .. VETH3a/VETH3b. Holder lbN (lb1 configured primary,
lb2 secondary, lb3 slave) has its public port on net_af_packet over VETHNa
and its private port on net_pcap, captured to WORKDIR/lbN[-restart].pcap;
frames are written on VETHNb. With HA_NETNS set (ha_traffic_test.sh),
holder lbN runs in the namespace HA_NETNS-lbN, which holds VETHNa (one
net_af_packet socket per namespace: DPDK's fanout group ids cannot collide,
see the shell script), and checkpoints over HA_NET.N; without it, every
holder is in this namespace and checkpoints over the loopback. Every decision is also checked against a model of the PDT lookup
(the client hash recomputed here, `cnmuxctl pdt show`).

1. Displaced connections, the primary replaced: 300 TCP connections (SYNs)
   are opened to service web through lb1 (the primary); web's node n1 is
   drained on lb1, which displaces the connections on n1 (the PDT alone
   would now send them elsewhere: the model says which). Once lb2's list
   holds every displaced connection (CONNS messages), and none of the others:
2. Replay through a slave: a fixed set of frames (many clients; services of
   the three policies; TCP and UDP) is written through lb3 (a slave), and
   also through lb2 and lb1: every frame reaches the node of the model, on
   every holder.
3. Failover: changes stream in through cnmuxctl (services on another VIP)
   while lb1 is killed (SIGKILL) at a random moment; lb2 takes over within
   the bound (time measured); every acknowledged change is on lb2 and lb3;
   their digests are equal; the same frames replayed through lb3 (and lb2)
   reach the same nodes as before.
4. The connections of (1) continue (ACK + data) through lb2: every one
   reaches the node its SYN reached through lb1; the displaced ones through
   lb2's list, the others by the PDT alone.
5. Displaced connections, a slave replaced: lb1 restarts and rejoins (a
   slave); 300 connections to web2 are opened through it; on the primary
   lb2, n1's weight in web2 goes 1 -> 4, which displaces some of them; once
   the secondary lb3 holds them (lb1 -> primary -> lb3), lb1 is killed and
   the connections continue through lb3, each on the node of its SYN. The
   digests of lb2 and lb3 agree at the end.
Environment: HA_SEED (random kill point).
"""
import json
import logging
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IP, TCP, UDP, Raw  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapio import read_pcap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "runtime"))
from persist_check import crc32c_update, fmix32  # noqa: E402  (the hash model)

CNMUX, CTL, WORK, VETH = sys.argv[1:5]
IDS = ["lb1", "lb2", "lb3"]
ROLE = {"lb1": "primary", "lb2": "secondary", "lb3": "slave"}
PORT = {"lb1": 7701, "lb2": 7702, "lb3": 7703}
NETNS = os.environ.get("HA_NETNS")
NET = os.environ.get("HA_NET")


def addr(h):
    """The holder's HA address: HA_NET.N (its own namespace) or the loopback."""
    return "%s.%d" % (NET, IDS.index(h) + 1) if NET else "127.0.0.1"


def in_ns(h):
    """The command prefix that runs a holder in its namespace (none without HA_NETNS)."""
    return ["ip", "netns", "exec", "%s-%s" % (NETNS, h)] if NETNS else []
FAILOVER_MS = 800
BOUND_MS = 1000
HASH_KEY = 0x5eed1e55
PDT_SIZE = 1024
ROUTER_MAC = "02:00:cb:00:71:01"
PUB_MAC = "02:00:c6:33:64:0a"
PAYLOAD = b"GET / HTTP/1.0\r\n\r\n"
BATCH = 200
DEADLINE_S = 90
N_CONNS = 300
N_REPLAY = 840

NODES = [{"name": "n%d" % i, "ip": "192.0.2.%d" % i, "mac": "02:00:00:00:00:%02x" % i}
         for i in range(1, 5)]
BY_MAC = {n["mac"]: n["name"] for n in NODES}
SERVICES = [
    {"name": "web", "vip": "198.51.100.1", "ports": ["80/tcp"], "policy": "weighted",
     "nodes": {"n1": 1, "n2": 1, "n3": 1}},
    {"name": "web2", "vip": "198.51.100.5", "ports": ["80/tcp"], "policy": "weighted",
     "nodes": {"n1": 1, "n2": 1, "n3": 1, "n4": 1}},
    {"name": "st", "vip": "198.51.100.2", "ports": ["443/tcp", "53/udp"], "policy": "sticky",
     "nodes": {"n1": 1, "n2": 1, "n3": 2, "n4": 1}},
    {"name": "wild", "vip": "198.51.100.3", "protocols": ["tcp", "udp"],
     "policy": "sticky-wild", "nodes": {"n2": 1, "n3": 2, "n4": 1}},
    {"name": "dns", "vip": "198.51.100.4", "ports": ["53/udp"], "policy": "weighted",
     "nodes": {"n1": 2, "n2": 1, "n4": 1}},
]
SVC = {s["name"]: s for s in SERVICES}

SEED = int(os.environ.get("HA_SEED", str(int(time.time()) % 100000)))
rnd = random.Random(SEED)
procs = {}
gen = {h: 0 for h in IDS}
cap = {}
inj = {}
failures = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    failures.append(msg)


def key_file():
    """The key every holder shares (ha.key_file): 32 random bytes, mode 0600."""
    path = os.path.join(WORK, "ha.key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32))
        os.close(fd)
    return path


def sock(h):
    return os.path.join(WORK, h + ".sock")


def veth(h, end):
    return "%s%d%s" % (VETH, IDS.index(h) + 1, end)


def start(h):
    tag = "" if gen[h] == 0 else "-restart%d" % gen[h]
    gen[h] += 1
    cap[h] = os.path.join(WORK, h + tag + ".pcap")
    cfg = {
        "ports": {"public": "net_af_packet0", "private": ["net_pcap1"]},
        "conntrack": {"syn_s": 600, "timeout_s": 600},
        "nodes": NODES,
        "services": SERVICES,
        "pdt_size": PDT_SIZE,
        "hash_key": "0x%08x" % HASH_KEY,
        "control": {"socket": sock(h)},
        "ha": {"id": h, "listen": "%s:%d" % (addr(h), PORT[h]), "role": ROLE[h],
               "peers": [{"id": p, "address": "%s:%d" % (addr(p), PORT[p])}
                         for p in IDS if p != h],
               "heartbeat_ms": 100, "failover_ms": FAILOVER_MS, "ack_timeout_ms": 500,
               "key_file": key_file()},
    }
    path = os.path.join(WORK, h + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    out = open(os.path.join(WORK, h + tag + ".out"), "w")
    # `ip netns exec` execs cnmux: the pid, and SIGKILL, are cnmux's own
    procs[h] = subprocess.Popen(
        in_ns(h) + [CNMUX, "--no-huge", "-m", "512", "--no-pci", "-l", "0,1",
         "--file-prefix", os.environ.get("HA_PREFIX", "cnmhat%d" % os.getpid()) + h,
         "--log-level=lib.eal:error", "--log-level=cnm.ha:info",
         "--vdev", "net_af_packet0,iface=%s,qpairs=1,framecnt=2048" % veth(h, "a"),
         "--vdev", "net_pcap1,tx_pcap=%s" % cap[h],
         "--", "--config", path, "--quiet"],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


def kill(h):
    procs[h].send_signal(signal.SIGKILL)
    procs[h].wait()
    inj.pop(h, None)


def ctl(h, *args, timeout=20):
    try:
        r = subprocess.run([CTL, "-s", sock(h), "-j"] + list(args), capture_output=True,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    try:
        return json.loads(r.stdout) if r.stdout.strip() else None
    except ValueError:
        return None


def status(h):
    return ctl(h, "ha", "status", timeout=5)


def wait_for(what, fn, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    fail("timed out (%d s) waiting for %s" % (timeout, what))
    return None


def converged(hosts, primary=None):
    sts = [status(h) for h in hosts]
    if any(s is None for s in sts):
        return None
    keys = {(s["epoch"], s["seq"], s["digest"]) for s in sts}
    prim = {s["primary"] for s in sts}
    if len(keys) != 1 or len(prim) != 1 or None in prim:
        return None
    if primary is not None and prim != {primary}:
        return None
    return sts


def show(sts):
    for s in sts:
        print("  %-4s %-9s epoch %d seq %d digest %s primary %s secondary %s rejected %s" % (
            s["id"], s["role"], s["epoch"], s["seq"], s["digest"], s["primary"],
            s["secondary"], {k: v for k, v in s["rejected"].items() if v} or "none"),
            flush=True)


# ---- the model: which node the PDT alone gives a client ----------------------
def pdt(h, svc):
    r = ctl(h, "pdt", "show", svc, "0", str(PDT_SIZE))
    if r is None or not r.get("ok") or len(r["entries"]) != PDT_SIZE:
        fail("pdt show %s on %s: %s" % (svc, h, r))
        return None
    return r["entries"]


def model(table, svc, src, sport):
    h = crc32c_update(HASH_KEY, socket.inet_aton(src))
    if SVC[svc]["policy"] == "weighted":
        h = crc32c_update(h, struct.pack(">H", sport))
    return table[fmix32(h) & (PDT_SIZE - 1)]


# ---- frames in, captures out ---------------------------------------------------
def rx(h):
    r = ctl(h, "stats")
    if r is None or "rx" not in r:
        raise RuntimeError("cnmuxctl stats on %s: %s" % (h, r))
    return r["rx"]


def send(h, frames):
    """Write the frames (bytes) through holder h; returns {IP packet hex: node} of what
    its private port forwarded (waits, polling, until every frame is there)."""
    if h not in inj:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((veth(h, "b"), 0))
        inj[h] = s
    s = inj[h]
    n0 = len(read_pcap(cap[h], partial_ok=True))
    base = rx(h)
    for i in range(0, len(frames), BATCH):
        for fr in frames[i:i + BATCH]:
            s.send(fr)
        end = time.time() + DEADLINE_S
        want = base + min(i + BATCH, len(frames))
        delay = 0.01
        while rx(h) < want:
            if time.time() > end:
                raise RuntimeError("%s: rx stuck below %d after %d s" % (h, want, DEADLINE_S))
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
    want = {fr[14:].hex() for fr in frames}
    end = time.time() + DEADLINE_S
    while True:
        got = {}
        for rec in read_pcap(cap[h], partial_ok=True)[n0:]:
            if len(rec) < 34 or rec[12:14] != b"\x08\x00":
                continue
            tot = struct.unpack(">H", rec[16:18])[0]
            ip = rec[14:14 + tot].hex()
            mac = ":".join("%02x" % b for b in rec[:6])
            if ip in got:
                fail("%s forwarded one frame twice" % h)
            got[ip] = BY_MAC.get(mac, "?" + mac)
        if want <= set(got):
            return got
        if time.time() > end:
            st = ctl(h, "stats")
            fail("%s forwarded %d of %d frames (drops %s)" % (
                h, len(want & set(got)), len(want),
                {k: v for k, v in (st or {}).get("drops", {}).items() if v}))
            return got
        time.sleep(0.1)


def l2(pkt):
    return bytes(Ether(src=ROUTER_MAC, dst=PUB_MAC) / pkt)


def clients(n, seed, svc, vip):
    rnd = random.Random(seed)
    seen, out = set(), []
    while len(out) < n:
        src = "10.%d.%d.%d" % (rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(1, 254))
        sport = rnd.randint(1024, 65535)
        if (src, sport) not in seen:
            seen.add((src, sport))
            out.append({"src": src, "sport": sport, "svc": svc, "vip": vip,
                        "isn": rnd.randint(0, 2 ** 32 - 1), "id": len(out)})
    return out


def syn(c):
    return l2(IP(src=c["src"], dst=c["vip"], id=c["id"]) /
              TCP(sport=c["sport"], dport=80, flags="S", seq=c["isn"], window=64240))


def data(c):
    return l2(IP(src=c["src"], dst=c["vip"], id=c["id"] + 1) /
              TCP(sport=c["sport"], dport=80, flags="PA", seq=(c["isn"] + 1) & 0xffffffff,
                  ack=1000 + c["id"], window=502) / Raw(PAYLOAD))


def replay_set():
    """Frames of many clients for every policy, TCP and UDP; TCP without SYN, so
    that nothing is recorded in a forwarding list: each follows the PDT."""
    rnd = random.Random(6)
    kinds = [("web", "198.51.100.1", "tcp", 80), ("web2", "198.51.100.5", "tcp", 80),
             ("st", "198.51.100.2", "tcp", 443), ("st", "198.51.100.2", "udp", 53),
             ("wild", "198.51.100.3", "tcp", None), ("wild", "198.51.100.3", "udp", None),
             ("dns", "198.51.100.4", "udp", 53)]
    out = []
    for i in range(N_REPLAY):
        svc, vip, proto, port = kinds[i % len(kinds)]
        src = "172.%d.%d.%d" % (16 + rnd.randint(0, 15), rnd.randint(0, 255),
                                rnd.randint(1, 254))
        sport = rnd.randint(1024, 65535)
        dport = port if port is not None else rnd.randint(1, 65535)
        ip = IP(src=src, dst=vip, id=i)
        l4 = (TCP(sport=sport, dport=dport, flags="A", seq=rnd.randint(0, 2 ** 32 - 1),
                  ack=rnd.randint(0, 2 ** 32 - 1)) / Raw(b"x" * (i % 50))
              if proto == "tcp" else UDP(sport=sport, dport=dport) / Raw(b"q" * (i % 40)))
        fr = l2(ip / l4)
        out.append({"svc": svc, "src": src, "sport": sport, "frame": fr, "ip": fr[14:].hex()})
    return out


def replay(h, R, tables, tag):
    t0 = time.time()
    got = send(h, [r["frame"] for r in R])
    res = {r["ip"]: got.get(r["ip"]) for r in R}
    bad = [(r["svc"], r["src"], r["sport"], res[r["ip"]], model(tables[r["svc"]], r["svc"],
                                                                r["src"], r["sport"]))
           for r in R if res[r["ip"]] != model(tables[r["svc"]], r["svc"], r["src"], r["sport"])]
    if bad:
        fail("%s: replay through %s: %d of %d frames not on the model's node "
             "(svc, client, port, got, model): %s" % (tag, h, len(bad), len(R), bad[:4]))
    by = {}
    for r in R:
        by.setdefault(r["svc"], {}).setdefault(res[r["ip"]], 0)
        by[r["svc"]][res[r["ip"]]] += 1
    print("%s: %d frames through %s in %.1f s, every one on the model's node; by service "
          "and node %s" % (tag, len(R), h, time.time() - t0, by), flush=True)
    return res


def tables_of(h):
    return {s: pdt(h, s) for s in SVC}


def conns_of(h, svc):
    r = ctl(h, "conns", "show", "--service", svc, "--max", "10000")
    if r is None or not r.get("ok"):
        return None
    return {c["client"]: c["node"] for c in r["conns"]}


def displaced_round(tag, A, B, primary, svc, change, opened_hook=None):
    """Connections opened through A, displaced by `change` on the primary,
    checkpointed to B, A killed, continued through B."""
    C = clients(N_CONNS, 1000 + int(tag), svc, SVC[svc]["vip"])
    before = pdt(primary, svc)
    got = send(A, [syn(c) for c in C])
    syn_node = {c["id"]: got.get(syn(c)[14:].hex()) for c in C}
    bad = [c["id"] for c in C if syn_node[c["id"]] != model(before, svc, c["src"], c["sport"])]
    if bad:
        fail("%s: %d SYNs through %s not on the model's node" % (tag, len(bad), A))
    onA = conns_of(A, svc) or {}
    if len(onA) != N_CONNS:
        fail("%s: %s tracks %d connections of %s, expected %d" % (tag, A, len(onA), svc, N_CONNS))
    r = ctl(primary, *change)
    t_change = time.time()
    if r is None or not r.get("ok"):
        fail("%s: %s on %s: %s" % (tag, " ".join(change), primary, r))
        return None
    after = pdt(primary, svc)
    if after is None:
        return None
    moved = sum(1 for x, y in zip(before, after) if x != y)
    disp = [c for c in C if model(after, svc, c["src"], c["sport"]) != syn_node[c["id"]]]
    stay = [c for c in C if c not in disp]
    key = {c["id"]: "%s:%d" % (c["src"], c["sport"]) for c in C}
    print("%s: %d connections opened through %s (by node %s); `%s` on %s moved %d of %d PDT "
          "entries and displaced %d of them" % (
              tag, N_CONNS, A, count_by(syn_node.values()), " ".join(change), primary, moved,
              PDT_SIZE, len(disp)), flush=True)
    if not disp or not stay:
        fail("%s: %d displaced, %d not: the scenario needs both" % (tag, len(disp), len(stay)))
        return None

    def checkpointed():
        on = conns_of(B, svc)
        if on is None:
            return None
        if all(on.get(key[c["id"]]) == syn_node[c["id"]] for c in disp):
            return on
        return None
    onB = wait_for("%s: %s holding %s's displaced connections" % (tag, B, A), checkpointed, 30)
    if onB is None:
        on = conns_of(B, svc) or {}
        print("  %s holds %d of them; counters A %s B %s" % (
            B, sum(1 for c in disp if on.get(key[c["id"]]) == syn_node[c["id"]]),
            (status(A) or {}).get("counters"), (status(B) or {}).get("counters")))
        return None
    t_ckpt = time.time() - t_change
    extra = [key[c["id"]] for c in stay if key[c["id"]] in onB]
    if extra:
        fail("%s: %s holds %d connections that were not displaced" % (tag, B, len(extra)))
    print("%s: %s holds all %d displaced connections on their nodes %.2f s after the change "
          "(CONNS: %s sent %d, %s received %d, inserted %d); none of the %d others" % (
              tag, B, len(disp), t_ckpt, A, status(A)["counters"]["conns_sent"], B,
              status(B)["counters"]["conns_received"], status(B)["counters"]["conns_inserted"],
              len(stay)), flush=True)
    if opened_hook is not None:
        if not opened_hook():
            return None
    else:
        kill(A)
        print("%s: SIGKILL %s" % (tag, A), flush=True)
    got = send(B, [data(c) for c in C])
    cont = {c["id"]: got.get(data(c)[14:].hex()) for c in C}
    wrong_d = [(key[c["id"]], syn_node[c["id"]], cont[c["id"]]) for c in disp
               if cont[c["id"]] != syn_node[c["id"]]]
    wrong_s = [(key[c["id"]], syn_node[c["id"]], cont[c["id"]]) for c in stay
               if cont[c["id"]] != syn_node[c["id"]]]
    if wrong_d:
        fail("%s: %d of %d displaced connections left their node through %s "
             "(client, SYN's node, now): %s" % (tag, len(wrong_d), len(disp), B, wrong_d[:4]))
    if wrong_s:
        fail("%s: %d of %d connections not displaced left their node through %s: %s"
             % (tag, len(wrong_s), len(stay), B, wrong_s[:4]))
    print("%s: continued through %s: %d of %d displaced connections on their SYN's node "
          "(the PDT alone would have moved them), %d of %d others on their node by the PDT"
          % (tag, B, len(disp) - len(wrong_d), len(disp), len(stay) - len(wrong_s), len(stay)),
          flush=True)
    return len(disp)


def count_by(values):
    out = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: str(kv[0])))


def main():
    t_start = time.time()
    print("ha_traffic: seed %d (HA_SEED)" % SEED, flush=True)
    for h in IDS:
        start(h)
    sts = wait_for("three holders agreeing, lb1 primary", lambda: converged(IDS, "lb1"), 60)
    if sts is None:
        return
    show(sts)
    R = replay_set()

    # ---- 1 to 4: the primary lb1 is the interface node replaced; failover
    res = {}

    def failover():
        # 2: the same frames through the slave lb3 (and lb2, lb1) before
        sts = converged(IDS, "lb1")
        if sts is None:
            fail("2: holders do not agree before the kill")
            return False
        tables = tables_of("lb3")
        for h in ["lb3", "lb2", "lb1"]:
            res[h, "before"] = replay(h, R, tables, "2")
        for h in ["lb2", "lb1"]:
            diff = sum(1 for k in res["lb3", "before"] if res[h, "before"][k] !=
                       res["lb3", "before"][k])
            if diff:
                fail("2: %d frames reached another node through %s than through lb3"
                     % (diff, h))
        # 3: failover, with changes streaming in (services on another VIP,
        # which the replayed frames do not use), lb1 killed at a random point
        acked, st = [], {"target": "lb1", "stop": False, "i": 0}

        def stream():
            while not st["stop"] and st["i"] < 300:
                st["i"] += 1
                k = st["i"]
                r = ctl(st["target"], "service", "add", "s%d" % k, "198.51.100.99",
                        "%d/tcp" % (10000 + k), "weighted", "n1=1", "n2=%d" % (k % 3 + 1),
                        timeout=5)
                if r is not None and r.get("ok"):
                    acked.append(k)
                elif r is None or "not the primary" not in r.get("error", ""):
                    time.sleep(0.02)
        th = threading.Thread(target=stream)
        th.start()
        time.sleep(rnd.uniform(0.2, 1.5))
        procs["lb1"].send_signal(signal.SIGKILL)
        t_kill = time.time()
        k_kill = st["i"]
        procs["lb1"].wait()
        inj.pop("lb1", None)
        # lb2 became primary after the previous status call read its role
        # (that call started at t_seen_not) and before the call that saw it
        # ended (t_primary): a cnmuxctl call on a loaded machine or in the
        # ASan build takes hundreds of ms, which the bound must not count
        t_primary = None
        t_seen_not = t_kill
        while time.time() - t_kill < 10:
            t_call = time.time()
            s = status("lb2")
            if s is not None and s["role"] == "primary":
                t_primary = time.time()
                st["target"] = "lb2"
                break
            t_seen_not = t_call
            time.sleep(0.01)
        time.sleep(0.5)
        st["stop"] = True
        th.join()
        if t_primary is None:
            fail("3: lb2 never became primary")
            return False
        s2 = status("lb2")
        took = (t_primary - t_kill) * 1000
        took_min = (t_seen_not - t_kill) * 1000
        print("3: SIGKILL lb1 (the primary, the connections' interface node) during change "
              "%d; lb2 primary %.0f to %.0f ms later (it says the primary was silent %d ms; "
              "bound %d ms)" % (k_kill, took_min, took, s2["last_takeover_ms"], BOUND_MS),
              flush=True)
        if s2["last_takeover_ms"] > BOUND_MS or took_min > BOUND_MS + 300:
            fail("3: takeover took %.0f to %.0f ms (silence %d ms), bound %d"
                 % (took_min, took, s2["last_takeover_ms"], BOUND_MS))
        sts = wait_for("lb2 and lb3 agreeing", lambda: converged(["lb2", "lb3"], "lb2"), 20)
        if sts is None:
            return False
        show(sts)
        for h in ["lb2", "lb3"]:
            r = ctl(h, "service", "show")
            have = {x["name"] for x in r["services"]} if r and r.get("ok") else set()
            missing = [k for k in acked if "s%d" % k not in have]
            if missing:
                fail("3: %s lacks acknowledged changes %s" % (h, missing[:10]))
        print("3: %d changes streamed, %d acknowledged, all on lb2 and lb3; digests equal "
              "after failover: %s" % (st["i"], len(acked), sts[0]["digest"]), flush=True)
        tables2 = tables_of("lb3")
        if tables2 != tables:
            fail("3: lb3's PDTs changed across the failover")
        for h in ["lb3", "lb2"]:
            res[h, "after"] = replay(h, R, tables2, "3")
            diff = [k for k in res["lb3", "before"] if res[h, "after"][k] !=
                    res["lb3", "before"][k]]
            if diff:
                fail("3: %d of %d frames replayed through %s after the failover reached "
                     "another node than through lb3 before" % (len(diff), len(R), h))
            else:
                print("3: all %d frames replayed through %s after the failover reached the "
                      "same node as through the slave lb3 before it" % (len(R), h), flush=True)
        return True

    n1 = displaced_round("1", "lb1", "lb2", "lb1", "web", ["node", "drain", "n1", "web"],
                         opened_hook=failover)
    if n1 is None:
        return

    # ---- 5: a slave is the interface node replaced
    start("lb1")
    sts = wait_for("lb1 rejoining", lambda: converged(IDS, "lb2"), 60)
    if sts is None:
        return
    show(sts)
    role = {s["id"]: s["role"] for s in sts}
    slave = [h for h in IDS if role[h] == "slave"]
    other = [h for h in IDS if role[h] == "secondary"]
    if not slave or not other:
        fail("5: roles %s: no slave or no secondary" % role)
        return
    n2 = displaced_round("5", slave[0], other[0], "lb2", "web2",
                         ["node", "weight", "n1", "web2", "4"])
    live = [h for h in IDS if procs[h].poll() is None]
    sts = wait_for("%s agreeing at the end" % live, lambda: converged(live, "lb2"), 20)
    if sts is not None:
        show(sts)
        print("5: digests equal at the end on %s: %s" % (live, sts[0]["digest"]))
    print("ha_traffic: displaced connections continued on their node: %s (primary replaced), "
          "%s (slave replaced); %.0f s in all" % (n1, n2, time.time() - t_start), flush=True)


try:
    main()
except Exception as e:  # a crash of the test is a failure, with its reason
    import traceback
    traceback.print_exc()
    fail("%s: %s" % (type(e).__name__, e))
finally:
    live = [h for h, p in procs.items() if p.poll() is None]
    for h in live:
        procs[h].send_signal(signal.SIGTERM)
    for h, p in procs.items():
        try:
            rc = p.wait(timeout=20)
            if h in live and rc != 0:
                fail("%s exited with status %d after SIGTERM" % (h, rc))
        except subprocess.TimeoutExpired:
            p.kill()
            fail("%s did not stop within 20 s of SIGTERM" % h)
    for f in sorted(os.listdir(WORK)):
        if f.endswith(".out"):
            with open(os.path.join(WORK, f)) as fh:
                if any("Sanitizer" in ln or "runtime error:" in ln for ln in fh):
                    fail("a sanitizer report in %s" % f)
    if failures:
        for f in sorted(os.listdir(WORK)):
            if f.endswith(".out"):
                print("--- %s (tail)" % f)
                with open(os.path.join(WORK, f)) as fh:
                    print("".join(fh.readlines()[-15:]))
        print("ha_traffic: %d failure(s)" % len(failures))
        sys.exit(1)
    print("ha_traffic: ok")
