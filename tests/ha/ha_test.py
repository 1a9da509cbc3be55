#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""High availability with real processes (issue 6; docs/ha.md).

    ha_test.py CNMUX CNMUXCTL WORKDIR

Three cnmux processes on loopback, lb1 (configured primary), lb2 (secondary),
lb3 (slave), each with its own --file-prefix, control socket and net_null
ports, checkpointing to each other over 127.0.0.1.

1. changes stream in through cnmuxctl (one new service each, so that every
   change stays visible) while lb1 is killed with SIGKILL at a random moment:
   lb2 takes over within the bound (measured from the kill and printed);
   every change that got "ok" is on the new primary and on every copy; all
   digests agree.
2. lb1 restarts and rejoins as a replica after a full snapshot: the epoch
   does not move, lb2 stays primary, the digests agree.
3. a slave that misses messages (SIGSTOP for longer than failover_ms, changes
   meanwhile, SIGCONT) catches up by snapshot (its counter shows it).
4. bad checkpoint messages written to a holder's port (corrupted checksum,
   unknown version, bad magic, truncated; and, posing as the primary, a delta
   of an old epoch, a duplicate and one after a gap) are rejected and counted
   by reason, and change nothing: the digests still agree afterwards.
5. displaced connections: lb3 replays 300 SYNs to web at start (net_pcap)
   and tracks them; web's node n1 is drained on the primary, so lb3's
   connections on n1 are displaced (the PDT sends those clients elsewhere
   now): they reach the other holders' forwarding lists with the same node
   (CONNS, relayed by the primary).
Environment: HA_SEED (random kill point).
"""
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

CNMUX, CTL, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
SEED = int(os.environ.get("HA_SEED", str(int(time.time()) % 100000)))
rnd = random.Random(SEED)
IDS = ["lb1", "lb2", "lb3"]
ROLE = {"lb1": "primary", "lb2": "secondary", "lb3": "slave"}


def free_ports(n):
    """n TCP ports of the loopback that nothing listens on now, drawn at random
    outside the kernel's ephemeral range (which the holders' own outgoing
    connections take their source ports from), each checked by binding it:
    not a fixed range, which two runs, or a run and anything else on the
    machine, could share."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    pool = range(10000, lo) if lo - 10000 >= 1000 else range(hi + 1, 65536)
    r = random.Random()     # not the seeded one: HA_SEED fixes the kill point only
    ports = []
    while len(ports) < n:
        p = r.choice(pool)
        if p in ports:
            continue
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", p))
            ports.append(p)
        except OSError:
            pass
        finally:
            s.close()
    return ports


PORT = dict(zip(IDS, free_ports(len(IDS))))
FAILOVER_MS = 800
BOUND_MS = 1000
procs = {}
failures = []


def sock(h):
    return os.path.join(WORK, h + ".sock")


def write_config(h):
    cfg = {
        "ports": {"public": "net_pcap0" if h == "lb3" else "net_null0",
                  "private": ["net_null1"]},
        "conntrack": {"syn_s": 600},
        "nodes": [{"name": "n%d" % i, "ip": "192.0.2.%d" % i,
                   "mac": "02:00:00:00:00:%02x" % i} for i in range(1, 5)],
        "services": [{"name": "web", "vip": "198.51.100.1", "ports": ["80/tcp"],
                      "policy": "weighted", "nodes": {"n1": 1, "n2": 1, "n3": 1}}],
        "pdt_size": 1024,
        "control": {"socket": sock(h)},
        "ha": {"id": h, "listen": "127.0.0.1:%d" % PORT[h], "role": ROLE[h],
               "peers": [{"id": p, "address": "127.0.0.1:%d" % PORT[p]}
                         for p in IDS if p != h],
               "heartbeat_ms": 100, "failover_ms": FAILOVER_MS, "ack_timeout_ms": 500},
    }
    path = os.path.join(WORK, h + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


def start(h, tag=""):
    path = write_config(h)
    out = open(os.path.join(WORK, h + tag + ".out"), "w")
    p = subprocess.Popen(
        [CNMUX, "--no-huge", "-m", "256", "--no-pci", "-l", "0,1",
         "--file-prefix", os.environ.get("HA_PREFIX", "cnmha%d" % os.getpid()) + h, "--log-level=lib.eal:error",
         "--log-level=cnm.ha:info",
         "--vdev", ("net_pcap0,rx_pcap=%s" % os.path.join(WORK, "syn.pcap") if h == "lb3"
                    else "net_null0,no-rx=1"),
         "--vdev", "net_null1,no-rx=1",
         "--", "--config", path, "--quiet"],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    procs[h] = p
    return p


def ctl(h, *args, timeout=10):
    r = subprocess.run([CTL, "-s", sock(h), "-j"] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    try:
        return json.loads(r.stdout) if r.stdout.strip() else None
    except ValueError:
        return None


def status(h):
    try:
        return ctl(h, "ha", "status", timeout=5)
    except subprocess.TimeoutExpired:
        return None


def fail(msg):
    print("FAIL: " + msg, flush=True)
    failures.append(msg)


def wait_for(what, fn, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    fail("timed out waiting for " + what)
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


def services(h):
    r = ctl(h, "service", "show")
    if r is None or not r.get("ok"):
        return None
    return {s["name"]: {n["name"]: n["weight"] for n in s["nodes"]} for s in r["services"]}


def change(i, h):
    """Add service s<i>; returns the response (None when no answer)."""
    return ctl(h, "service", "add", "s%d" % i, "198.51.100.10", "%d/tcp" % (10000 + i),
               "weighted", "n1=1", "n2=%d" % (i % 3 + 1))


def crc32c(data, crc=0xffffffff):
    """CRC32-C as DPDK's rte_hash_crc() computes it (no final inversion)."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


def frame(t, epoch, seq, payload=b"", flags=0, version=1):
    h = b"CNHA" + struct.pack("<BBHIQQI", version, t, flags, len(payload), epoch, seq, 0)
    return h[:28] + struct.pack("<I", crc32c(payload, crc32c(h))) + payload


def inject(h, data, hold=0.3):
    c = socket.create_connection(("127.0.0.1", PORT[h]), timeout=5)
    c.sendall(data)
    time.sleep(hold)
    c.close()


def write_syns():
    from scapy.all import IP, TCP, Ether, wrpcap
    frames = [Ether(src="02:00:00:00:01:01", dst="02:00:00:00:00:fe") /
              IP(src="203.0.113.%d" % (1 + i // 200), dst="198.51.100.1") /
              TCP(sport=20000 + i, dport=80, flags="S") for i in range(300)]
    wrpcap(os.path.join(WORK, "syn.pcap"), frames)


def conns_by_client(h, node=None):
    args = ["conns", "show", "--max", "10000"] + (["--node", node] if node else [])
    r = ctl(h, *args)
    if r is None or not r.get("ok"):
        return None
    return {c["client"]: c["node"] for c in r["conns"]}


def main():
    write_syns()
    print("ha_test: seed %d, ports %s" % (SEED, PORT), flush=True)
    for h in IDS:
        start(h)
    sts = wait_for("three holders agreeing, lb1 primary",
                   lambda: converged(IDS, "lb1"), 15)
    if sts is None:
        return
    show(sts)

    # ---- 1: a stream of changes, the primary killed at a random point
    # (a thread sends the changes one after the other to the current target;
    # the kill may land anywhere: before, inside or after one)
    acked, refused, unacked = [], [], []
    state = {"target": "lb1", "stop": False, "i": 0}

    def stream():
        while not state["stop"] and state["i"] < 400:
            state["i"] += 1
            k = state["i"]
            r = change(k, state["target"])
            if r is not None and r.get("ok"):
                acked.append(k)
            elif r is not None and "not the primary" in r.get("error", ""):
                refused.append(k)
            else:
                unacked.append((k, r.get("error") if r else "no answer"))
                time.sleep(0.02)

    th = threading.Thread(target=stream)
    th.start()
    time.sleep(rnd.uniform(0.3, 2.0))
    procs["lb1"].send_signal(signal.SIGKILL)
    t_kill = time.time()
    print("1: SIGKILL lb1 during change %d" % state["i"], flush=True)
    t_primary = None
    while time.time() - t_kill < 5:
        s = status("lb2")
        if s is not None and s["role"] == "primary":
            t_primary = time.time()
            state["target"] = "lb2"
            break
        time.sleep(0.01)
    time.sleep(1.0)
    state["stop"] = True
    th.join()
    if t_primary is None:
        fail("lb2 never became primary")
        return
    took = (t_primary - t_kill) * 1000
    s2 = status("lb2")
    print("1: takeover %.0f ms after SIGKILL (lb2 says the primary was silent %d ms; bound %d ms)"
          % (took, s2["last_takeover_ms"], BOUND_MS), flush=True)
    if s2["last_takeover_ms"] > BOUND_MS or took > BOUND_MS + 150:
        fail("takeover took %.0f ms (silence %d ms), bound %d" % (took, s2["last_takeover_ms"],
                                                                BOUND_MS))
    print("1: %d changes acknowledged, %d refused (not the primary), %d not acknowledged %s"
          % (len(acked), len(refused), len(unacked), unacked[:3]), flush=True)
    sts = wait_for("lb2 and lb3 agreeing", lambda: converged(["lb2", "lb3"], "lb2"), 10)
    if sts is None:
        return
    show(sts)
    for h in ["lb2", "lb3"]:
        sv = services(h)
        missing = [j for j in acked if sv is None or "s%d" % j not in sv or
                   sv["s%d" % j].get("n2") != j % 3 + 1]
        if missing:
            fail("%s lacks acknowledged changes %s" % (h, missing))
        else:
            print("1: %s holds all %d acknowledged changes" % (h, len(acked)), flush=True)
    epoch = sts[0]["epoch"]

    # ---- 2: the old primary comes back
    start("lb1", "-restart")
    sts = wait_for("lb1 rejoining", lambda: converged(IDS, "lb2"), 15)
    if sts is None:
        return
    show(sts)
    s1 = [s for s in sts if s["id"] == "lb1"][0]
    if s1["role"] not in ("secondary", "slave"):
        fail("lb1 came back as %s" % s1["role"])
    if sts[0]["epoch"] != epoch:
        fail("the epoch moved from %d to %d when lb1 came back" % (epoch, sts[0]["epoch"]))
    if s1["counters"]["snapshots_applied"] < 1:
        fail("lb1 rejoined without a snapshot")
    sv = services("lb1")
    missing = [j for j in acked if sv is None or "s%d" % j not in sv]
    if missing:
        fail("lb1 lacks acknowledged changes %s" % missing)
    print("2: lb1 rejoined as %s at epoch %d, digests equal, %d acknowledged changes held"
          % (s1["role"], epoch, len(acked)), flush=True)

    # ---- 3: a slave misses messages and catches up by snapshot
    slave = [s["id"] for s in sts if s["role"] == "slave"][0]
    before = status(slave)["counters"]["snapshots_applied"]
    procs[slave].send_signal(signal.SIGSTOP)
    time.sleep((FAILOVER_MS + 500) / 1000)
    acked3, errs3 = [], []
    for j in range(1000, 1010):
        r = change(j, "lb2")
        if r is not None and r.get("ok"):
            acked3.append(j)
        else:
            errs3.append(r.get("error") if r else "no answer")
    procs[slave].send_signal(signal.SIGCONT)
    if len(acked3) != 10:
        fail("3: only %d of 10 changes acknowledged while %s was stopped: %s"
             % (len(acked3), slave, errs3[:2]))
    sts = wait_for("%s catching up" % slave, lambda: converged(IDS, "lb2"), 15)
    if sts is None:
        return
    show(sts)
    after = [s for s in sts if s["id"] == slave][0]["counters"]["snapshots_applied"]
    if after <= before:
        fail("3: %s caught up without a snapshot (%d -> %d)" % (slave, before, after))
    sv = services(slave)
    missing = [j for j in acked3 if sv is None or "s%d" % j not in sv]
    if missing:
        fail("3: %s lacks %s" % (slave, missing))
    print("3: %s caught up by snapshot (snapshots applied %d -> %d), digests equal"
          % (slave, before, after), flush=True)

    # ---- 4: bad messages are rejected, counted, never applied
    s0 = status(slave)
    hello = json.dumps({"id": "lb2", "role": "primary", "configured": "secondary",
                        "term": s0["term"], "digest": s0["digest"], "primary": "lb2",
                        "secondary": s0["secondary"]}).encode()
    junk = json.dumps({"config": {}, "nodes_state": {}, "pdts": {},
                       "digest": "0"}).encode()
    good = frame(3, s0["epoch"], s0["seq"] + 1, junk)
    inject(slave, good[:-1] + bytes([good[-1] ^ 1]))               # crc
    inject(slave, frame(3, s0["epoch"], s0["seq"] + 1, junk, version=2))  # version
    inject(slave, b"XXXX" + good[4:])                               # magic
    inject(slave, good[:40])                                        # truncated
    inject(slave, frame(1, s0["epoch"], s0["seq"], hello) +
           frame(3, s0["epoch"] - 1, s0["seq"] + 1, junk) +         # old epoch
           frame(3, s0["epoch"], s0["seq"], junk) +                 # duplicate
           frame(3, s0["epoch"], s0["seq"] + 5, junk), hold=0.5)    # gap
    sts = wait_for("the copies agreeing after bad messages", lambda: converged(IDS, "lb2"), 15)
    if sts is None:
        return
    s1 = [s for s in sts if s["id"] == slave][0]
    rej = {k: s1["rejected"][k] - s0["rejected"][k] for k in s0["rejected"]}
    show(sts)
    for k in ["crc", "version", "magic", "truncated", "old_epoch", "duplicate", "gap"]:
        if rej.get(k, 0) < 1:
            fail("4: %s rejection not counted on %s (%s)" % (k, slave, rej))
    if rej.get("apply_failed") or rej.get("digest_mismatch"):
        fail("4: a bad message reached the tables: %s" % rej)
    if (s1["epoch"], s1["seq"], s1["digest"]) != (s0["epoch"], s0["seq"], s0["digest"]):
        fail("4: %s changed: %s -> %s" % (slave, (s0["epoch"], s0["seq"], s0["digest"]),
                                          (s1["epoch"], s1["seq"], s1["digest"])))
    print("4: bad messages rejected by reason on %s: %s; nothing applied"
          % (slave, {k: v for k, v in rej.items() if v}), flush=True)

    # ---- 5: displaced connections reach the other holders
    on3 = conns_by_client("lb3", "n1")
    if not on3:
        fail("5: lb3 tracks no connection on n1 (%s)" % on3)
        return
    r = ctl("lb2", "node", "drain", "n1", "web")
    if r is None or not r.get("ok"):
        fail("5: drain refused: %s" % r)
        return

    def spread():
        got = {h: conns_by_client(h) or {} for h in ["lb1", "lb2"]}
        if all(all(got[h].get(c) == "n1" for c in on3) for h in got):
            return got
        return None
    got = wait_for("lb3's displaced connections on lb1 and lb2", spread, 10)
    if got is None:
        for h in ["lb1", "lb2", "lb3"]:
            print("  %s: %s" % (h, status(h)["counters"]))
        return
    c3 = status("lb3")["counters"]
    print("5: %d connections of lb3 on n1 displaced by the drain; lb1 and lb2 hold them on n1 "
          "(lb3 sent %d, lb2 relayed)" % (len(on3), c3["conns_sent"]), flush=True)

    # ---- 5b: once sent, they are not sent again every period (200 ms), only
    # at the full re-send (every 5 s) or when a holder joins: over 2.5 s at
    # most one full set (of lb3's displaced connections) goes out again,
    # where sending everything every period would be ~12 sets
    before = {h: status(h)["counters"]["conns_sent"] for h in ["lb2", "lb3"]}
    time.sleep(2.5)
    after = {h: status(h)["counters"]["conns_sent"] for h in ["lb2", "lb3"]}
    grew = after["lb3"] - before["lb3"]
    if grew > len(on3):
        fail("5b: lb3 sent %d connections in 2.5 s with %d displaced and nothing new: "
             "more than one re-send" % (grew, len(on3)))
    print("5b: in 2.5 s without change lb3 sent %d connections again (%d displaced), "
          "lb2 %d" % (grew, len(on3), after["lb2"] - before["lb2"]), flush=True)


try:
    main()
except Exception as e:  # a crash of the test is a failure, with its reason
    fail("%s: %s" % (type(e).__name__, e))
finally:
    for h, p in procs.items():
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.send_signal(signal.SIGTERM)
    for h, p in procs.items():
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    if failures:
        for h in IDS:
            for f in sorted(os.listdir(WORK)):
                if f.startswith(h) and f.endswith(".out"):
                    print("--- %s (tail)" % f)
                    with open(os.path.join(WORK, f)) as fh:
                        print("".join(fh.readlines()[-15:]))
        print("ha_test: %d failure(s)" % len(failures))
        sys.exit(1)
    print("ha_test: ok")
