#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Attacks on the checkpoint channel (issue 17; docs/ha.md, "Security").

    attack_test.py CNMUX CNMUXCTL WORKDIR

Three real holders, lb1 (primary), lb2 (secondary), lb3 (slave), each on its
own loopback address (127.0.0.1, .2, .3; attack_test.sh runs them in a
network namespace of their own when it can), sharing ha.key_file. An
attacker on 127.0.0.9 (a stranger) and on a holder's own address tries:

  stranger      connections from an unconfigured address, 40 at once
  forged_hello  a HELLO claiming primary at a huge term, without AUTH
  forged_auth   AUTH under a wrong key posing as lb1, then a SNAPSHOT that
                gives n1 the attacker's MAC
  wrong_way     an AUTH as lb2 to lb1 (lb1 opens that connection, never lb2)
  forged_ack    lb2 stopped, an ACK posing as lb2 to the primary: a change
                must not be acknowledged
  snapshot_req  a stranger asks for a snapshot: it gets no byte back
  oversize      a 64 MiB HEARTBEAT header, an AUTH of 100 KB: refused from
                the header (no RSS growth)
  forged_conns  CONNS without the key, and from a holder that is not the
                primary (with the key)
  replay        with the key: a message sent again with the number it
                already used
  huge_term     with the key: HELLO with term 10^12 and -1
  budget        with the key, posing as the primary: a snapshot whose
                configuration asks for 17 x 2^20 PDT entries
  digest        with the key, posing as the primary: a valid snapshot that
                gives n1 the attacker's MAC, with a digest that is not its own

Each leaves every holder's role, primary, epoch, seq and digest as they were
(and n1's MAC), applies no state, is counted by reason on its target, and
the real holders keep working: a change on lb1 is acknowledged after each.
The last two stand for a holder that has the key and misbehaves; the others
for anyone who can reach ha.listen.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import ha_proto as hp

CNMUX, CTL, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
IDS = ["lb1", "lb2", "lb3"]
ROLE = {"lb1": "primary", "lb2": "secondary", "lb3": "slave"}
ADDR = {"lb1": "127.0.0.1", "lb2": "127.0.0.2", "lb3": "127.0.0.3"}
STRANGER = "127.0.0.9"
BASE = int(os.environ.get("HA_ATTACK_PORT", str(18700 + (os.getpid() % 400) * 3)))
PORT = {h: BASE + i for i, h in enumerate(IDS)}
PREFIX = os.environ.get("HA_PREFIX", "cnmatk%d" % os.getpid())
procs = {}
failures = []
results = []
KEY = os.path.join(WORK, "ha.key")


def fail(msg):
    print("FAIL: " + msg, flush=True)
    failures.append(msg)


def sock(h):
    return os.path.join(WORK, h + ".sock")


def write_config(h):
    cfg = {
        "ports": {"public": "net_null0", "private": ["net_null1"]},
        "nodes": [{"name": "n%d" % i, "ip": "192.0.2.%d" % i,
                   "mac": "02:00:00:00:00:%02x" % i} for i in range(1, 4)],
        "services": [{"name": "web", "vip": "198.51.100.1", "ports": ["80/tcp"],
                      "policy": "weighted", "nodes": {"n1": 1, "n2": 1, "n3": 1}}],
        "pdt_size": 1024,
        "control": {"socket": sock(h)},
        "ha": {"id": h, "listen": "%s:%d" % (ADDR[h], PORT[h]), "role": ROLE[h],
               "peers": [{"id": p, "address": "%s:%d" % (ADDR[p], PORT[p])}
                         for p in IDS if p != h],
               "heartbeat_ms": 100, "failover_ms": 800, "ack_timeout_ms": 500,
               "key_file": KEY},
    }
    path = os.path.join(WORK, h + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


def start(h):
    path = write_config(h)
    out = open(os.path.join(WORK, h + ".out"), "w")
    procs[h] = subprocess.Popen(
        [CNMUX, "--no-huge", "-m", "256", "--no-pci", "-l", "0,1",
         "--file-prefix", PREFIX + h, "--log-level=lib.eal:error", "--log-level=cnm.ha:info",
         "--vdev", "net_null0,no-rx=1", "--vdev", "net_null1,no-rx=1",
         "--", "--config", path, "--quiet"],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


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


def view(s):
    return (s["role"], s["primary"], s["secondary"], s["epoch"], s["seq"], s["digest"])


def n1_mac(h):
    r = ctl(h, "node", "show")
    if r is None or not r.get("ok"):
        return None
    for n in r.get("nodes", []):
        if n.get("name") == "n1":
            return n.get("mac")
    return None


def rss_kb(h):
    try:
        with open("/proc/%d/status" % procs[h].pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_for(fn, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.05)
    return None


def converged():
    sts = {h: status(h) for h in IDS}
    if any(s is None for s in sts.values()):
        return None
    keys = {(s["epoch"], s["seq"], s["digest"]) for s in sts.values()}
    if len(keys) != 1 or {s["primary"] for s in sts.values()} != {"lb1"}:
        return None
    if any(not all(p["connected"] for p in s["peers"]) for s in sts.values()):
        return None
    return sts


COUNTER = ["snapshots_applied", "deltas_applied", "takeovers", "conns_inserted"]
change_no = [0]


def works():
    """The real holders keep working: a change on lb1 is acknowledged by lb2."""
    change_no[0] += 1
    i = change_no[0]
    r = ctl("lb1", "node", "weight", "n3", "web", str(i % 3 + 1))
    if r is None or not r.get("ok"):
        return "change %d not acknowledged: %s" % (i, r and r.get("error"))
    if not wait_for(converged, 5):
        return "no convergence after change %d" % i
    return None


def designated(sec):
    """Every holder agrees that lb1 is primary and @sec its secondary."""
    sts = converged()
    if sts is None:
        return None
    for h, s in sts.items():
        role = "primary" if h == "lb1" else "secondary" if h == sec else "slave"
        if s["secondary"] != sec or s["role"] != role:
            return None
    return sts


def designate_lb2():
    """Make lb2 the secondary again once something made it lb3: stop lb3
    until lb1 designates lb2 (a live peer configured secondary), then resume
    it. lb3 cannot take over when it resumes: it then hears no live peer,
    not a majority (docs/ha.md, "Failover"). Waits on the roles, not a clock."""
    if designated("lb2"):
        return True
    procs["lb3"].send_signal(signal.SIGSTOP)
    try:
        ok = wait_for(lambda: (status("lb1") or {}).get("secondary") == "lb2", 20)
    finally:
        procs["lb3"].send_signal(signal.SIGCONT)
    return bool(ok) and bool(wait_for(lambda: designated("lb2"), 20))


def attack(name, target, reasons, fn, hold=0.3, changes=False, stops=False):
    """Run @fn against @target; every holder unchanged, @reasons counted on it.
    @changes: @fn makes changes of its own (through lb1's control socket):
    the holders must then agree, not hold what they held before.
    @stops: @fn stops the secondary, lb2, for the ack timeout and what
    cnmuxctl takes to start. On a loaded machine that can pass failover_ms,
    and the primary then rightly designates lb3 (docs/ha.md, "Designation"):
    the designation may move, as long as every holder agrees on it; lb2 is
    made the secondary again after the checks."""
    before = wait_for(lambda: designated("lb2"), 10)
    if before is None:
        fail("%s: holders not converged, lb2 secondary, before" % name)
        return
    macs = {h: n1_mac(h) for h in IDS}
    note = fn() or ""
    time.sleep(hold)
    after = {h: status(h) for h in IDS}
    if any(s is None for s in after.values()):
        fail("%s: a holder does not answer" % name)
        return
    ok = True
    got = {}
    for r in reasons:
        d = after[target]["rejected"][r] - before[target]["rejected"][r]
        got[r] = d
        if d < 1:
            fail("%s: %s not counted on %s (rejected %s)" % (
                name, r, target,
                {k: v - before[target]["rejected"][k] for k, v in after[target]["rejected"].items()
                 if v != before[target]["rejected"][k]}))
            ok = False
    if changes:
        after = wait_for(converged, 5) or after
        for h in IDS:
            before[h] = dict(before[h], epoch=after[h]["epoch"], seq=after[h]["seq"],
                             digest=after[h]["digest"], counters=after[h]["counters"])
    moved = None
    if stops and after["lb1"]["secondary"] == "lb3":
        agreed = wait_for(lambda: designated("lb3"), 5)
        if agreed is None:
            fail("%s: lb1 designated lb3, and the holders do not agree on it" % name)
            ok = False
        else:
            after = agreed
            moved = "secondary moved to lb3 while lb2 was stopped"
            for h in IDS:
                role = "primary" if h == "lb1" else "secondary" if h == "lb3" else "slave"
                before[h] = dict(before[h], secondary="lb3", role=role)
    for h in IDS:
        if view(after[h]) != view(before[h]):
            fail("%s: %s changed: %s -> %s" % (name, h, view(before[h]), view(after[h])))
            ok = False
        for c in COUNTER:
            if after[h]["counters"][c] != before[h]["counters"][c]:
                fail("%s: %s %s %d -> %d" % (name, h, c, before[h]["counters"][c],
                                             after[h]["counters"][c]))
                ok = False
        if n1_mac(h) != macs[h]:
            fail("%s: n1's MAC changed on %s" % (name, h))
            ok = False
    w = works()
    if w:
        fail("%s: the real holders stopped working: %s" % (name, w))
        ok = False
    if moved:
        note = (note + "; " if note else "") + moved
        if not designate_lb2():
            fail("%s: lb2 not designated secondary again" % name)
            ok = False
    results.append((name, target, got, ok, note))
    print("%-13s %-4s %-4s counted %s %s" % (name, target, "ok" if ok else "FAIL", got, note),
          flush=True)


# ---- the attacks

def raw(target, src=STRANGER):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(3)
    s.connect((ADDR[target], PORT[target]))
    return s


def closed_without_answer(s, wait=0.5):
    """True when the holder closed @s having sent nothing."""
    s.settimeout(wait + 1)
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except socket.timeout:
        return False
    except OSError:
        pass
    s.close()
    return got == b""


def a_stranger():
    socks = []
    for _ in range(40):
        try:
            socks.append(raw("lb3"))
        except OSError:
            pass
    time.sleep(0.3)
    closed = sum(1 for s in socks if closed_without_answer(s, 0.2))
    return "%d of %d connections closed unanswered" % (closed, len(socks))


def a_forged_hello():
    s = raw("lb3", ADDR["lb1"])
    s.sendall(hp.frame(hp.HELLO, 10 ** 12, 0,
                       hp.hello_payload("lb1", "primary", 10 ** 12, "0" * 16, "lb1", "lb1")))
    if not closed_without_answer(s):
        fail("forged_hello: not closed unanswered")


def forged_state_payload(mac):
    cfg = json.load(open(os.path.join(WORK, "lb1.json")))
    for n in cfg["nodes"]:
        if n["name"] == "n1":
            n["mac"] = mac
    for k in ("ports", "control", "ha"):
        cfg.pop(k)
    pdt = "0000" * 1024
    return json.dumps({"config": cfg, "nodes_state": {}, "pdts": {"web": {"size": 1024,
                                                                         "entries": pdt}},
                       "digest": "0123456789abcdef"}).encode()


def a_forged_auth():
    c = hp.Conn((ADDR["lb3"], PORT["lb3"]), "lb1", "lb3", os.urandom(32), src=ADDR["lb1"])
    c.send_auth()
    c.s.sendall(hp.frame(hp.SNAPSHOT, 10 ** 6, 10 ** 6, forged_state_payload("02:66:66:66:66:66")))
    if not closed_without_answer(c.s):
        fail("forged_auth: answered")


def a_wrong_way():
    key = open(KEY, "rb").read()
    c = hp.Conn((ADDR["lb1"], PORT["lb1"]), "lb2", "lb1", key, src=ADDR["lb2"])
    c.send_auth()
    if not closed_without_answer(c.s):
        fail("wrong_way: answered")


def a_forged_ack():
    s1 = status("lb1")
    procs["lb2"].send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        c = hp.Conn((ADDR["lb1"], PORT["lb1"]), "lb2", "lb1", os.urandom(32), src=ADDR["lb2"])
        c.send_auth()
        # the ACK of the next seq, sent ahead, in clear and signed with nothing valid
        for k in range(1, 4):
            c.s.sendall(hp.frame(hp.ACK, s1["epoch"], s1["seq"] + k))
        r = ctl("lb1", "node", "weight", "n2", "web", "2")
        if r is not None and r.get("ok"):
            fail("forged_ack: a change was acknowledged with the secondary stopped")
        c.close()
        # put n2 back (acknowledged once lb2 runs again)
    finally:
        procs["lb2"].send_signal(signal.SIGCONT)
        stopped_ms = (time.monotonic() - t0) * 1000
    wait_for(converged, 5)
    ctl("lb1", "node", "weight", "n2", "web", "1")
    wait_for(converged, 5)
    return "change answered: not acknowledged (lb2 stopped %d ms)" % stopped_ms


def a_snapshot_req():
    s = raw("lb1")
    s.sendall(hp.frame(hp.HELLO, 0, 0, hp.hello_payload("lb9", "joining", 0, "0" * 16),
                       flags=hp.WANT_SNAPSHOT))
    if not closed_without_answer(s):
        fail("snapshot_req: the stranger got bytes back")
    # from a holder's address, under a wrong key
    c = hp.Conn((ADDR["lb3"], PORT["lb3"]), "lb2", "lb3", os.urandom(32), src=ADDR["lb2"])
    c.send_auth()
    c.s.sendall(hp.frame(hp.HELLO, 0, 0, hp.hello_payload("lb2", "joining", 0, "0" * 16),
                         flags=hp.WANT_SNAPSHOT))
    if not closed_without_answer(c.s):
        fail("snapshot_req: wrong key got bytes back")


def a_oversize():
    r0 = rss_kb("lb3")
    s = raw("lb3", ADDR["lb1"])
    s.sendall(hp.frame(hp.HEARTBEAT, 1, 1, b"", length=64 << 20))
    try:
        s.sendall(b"x" * (1 << 20))
    except OSError:
        pass
    closed_without_answer(s)
    s = raw("lb3", ADDR["lb1"])
    s.sendall(hp.frame(hp.AUTH, 0, 0, b"", length=100000))
    closed_without_answer(s)
    # with the key, after the handshake: a HEARTBEAT over its limit
    key = open(KEY, "rb").read()
    c = hp.Conn((ADDR["lb3"], PORT["lb3"]), "lb1", "lb3", key, src=ADDR["lb1"])
    c.handshake()
    c.send(hp.HEARTBEAT, 1, 1, b"", length=64 << 20)
    c.close()
    grew = rss_kb("lb3") - r0
    if grew > 16 * 1024:
        fail("oversize: lb3's RSS grew by %d KiB" % grew)
    return "RSS %+d KiB" % grew


def a_forged_conns():
    conns = json.dumps({"conns": [{"client": "203.0.113.%d:%d" % (1 + i // 200, 1000 + i),
                                   "vip": "198.51.100.1:80", "service": "web",
                                   "node": "n1"} for i in range(1000)]}).encode()
    s3 = status("lb3")
    s = raw("lb3", ADDR["lb1"])
    s.sendall(hp.frame(hp.CONNS, s3["term"], 0, conns))
    closed_without_answer(s)
    # with the key, from lb2 (not the primary): lb3 takes CONNS from lb1 only
    key = open(KEY, "rb").read()
    c = hp.Conn((ADDR["lb3"], PORT["lb3"]), "lb2", "lb3", key, src=ADDR["lb2"])
    c.handshake()
    c.send(hp.HELLO, s3["epoch"], s3["seq"],
           hp.hello_payload("lb2", "secondary", s3["term"], s3["digest"], "lb1", "lb2"))
    c.send(hp.CONNS, s3["term"], 0, conns)
    time.sleep(0.3)
    c.close()
    r = ctl("lb3", "conns", "show", "--max", "10000")
    n = len(r["conns"]) if r and r.get("ok") else -1
    if n != 0:
        fail("forged_conns: lb3 holds %d connections" % n)
    return "lb3 holds %d connections" % n


def a_replay():
    key = open(KEY, "rb").read()
    s3 = status("lb3")
    c = hp.Conn((ADDR["lb3"], PORT["lb3"]), "lb2", "lb3", key, src=ADDR["lb2"])
    c.handshake()
    hello = hp.hello_payload("lb2", "secondary", s3["term"], s3["digest"], "lb1", "lb2")
    c.send(hp.HELLO, s3["epoch"], s3["seq"], hello)
    c.send(hp.HEARTBEAT, s3["epoch"], s3["seq"], hello, ctr=0)   # number 0 again
    if c.alive(0.3):
        fail("replay: the connection survived a replayed message")
    c.close()


def a_huge_term():
    key = open(KEY, "rb").read()
    s3 = status("lb3")
    for term in (10 ** 12, -1, s3["term"] + 65):
        c = hp.Conn((ADDR["lb3"], PORT["lb3"]), "lb1", "lb3", key, src=ADDR["lb1"])
        c.handshake()
        c.send(hp.HELLO, s3["epoch"], s3["seq"],
               hp.hello_payload("lb1", "primary", term, s3["digest"], "lb1", "lb2",
                                configured="primary"))
        time.sleep(0.2)
        c.close()
        wait_for(converged, 5)


def as_primary(payload):
    key = open(KEY, "rb").read()
    s3 = status("lb3")
    c = hp.Conn((ADDR["lb3"], PORT["lb3"]), "lb1", "lb3", key, src=ADDR["lb1"])
    c.handshake()
    c.send(hp.HELLO, s3["epoch"], s3["seq"],
           hp.hello_payload("lb1", "primary", s3["term"], s3["digest"], "lb1", "lb2",
                            configured="primary"))
    c.send(hp.SNAPSHOT, s3["epoch"], s3["seq"] + 1, payload)
    time.sleep(0.5)
    c.close()


def a_budget():
    r0 = rss_kb("lb3")
    cfg = json.load(open(os.path.join(WORK, "lb1.json")))
    for k in ("ports", "control", "ha"):
        cfg.pop(k)
    cfg["services"] = [{"name": "b%d" % i, "vip": "198.51.100.9", "ports": ["%d/tcp" % (80 + i)],
                        "policy": "weighted", "nodes": {"n1": 1}, "pdt_size": 1 << 20}
                       for i in range(17)]
    as_primary(json.dumps({"config": cfg, "nodes_state": {}, "pdts": {},
                           "digest": "0123456789abcdef"}).encode())
    grew = rss_kb("lb3") - r0
    if grew > 64 * 1024:
        fail("budget: lb3's RSS grew by %d KiB" % grew)
    return "RSS %+d KiB" % grew


def a_digest():
    as_primary(forged_state_payload("02:66:66:66:66:66"))


def a_outsider():
    """A state whose PDT sends web's clients to n3, which web does not list."""
    cfg = json.load(open(os.path.join(WORK, "lb1.json")))
    for k in ("ports", "control", "ha"):
        cfg.pop(k)
    cfg["services"][0]["nodes"] = {"n1": 1, "n2": 1}
    as_primary(json.dumps({"config": cfg, "nodes_state": {},
                           "pdts": {"web": {"size": 1024, "entries": "0002" * 1024}},
                           "digest": "0123456789abcdef"}).encode())


def main():
    fd = os.open(KEY, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, os.urandom(32))
    os.close(fd)
    # a key readable by others is refused at start
    os.chmod(KEY, 0o644)
    start("lb1")
    try:
        procs["lb1"].wait(timeout=20)
    except subprocess.TimeoutExpired:
        fail("lb1 started with a key file of mode 0644")
        procs["lb1"].kill()
    out = open(os.path.join(WORK, "lb1.out")).read()
    if "mode 0644" not in out:
        fail("no word of the key file's mode: %s" % out[-300:])
    else:
        print("key_file mode 0644: refused at start", flush=True)
    os.chmod(KEY, 0o600)
    for h in IDS:
        start(h)
    if not wait_for(converged, 20):
        fail("the three holders did not converge")
        return
    print("attack_test: holders on %s, ports %d-%d" % (
        ", ".join(ADDR[h] for h in IDS), BASE, BASE + 2), flush=True)
    attack("stranger", "lb3", ["peer"], a_stranger)
    attack("forged_hello", "lb3", ["auth"], a_forged_hello)
    attack("forged_auth", "lb3", ["auth"], a_forged_auth)
    attack("wrong_way", "lb1", ["peer"], a_wrong_way)
    attack("forged_ack", "lb1", ["auth"], a_forged_ack, changes=True, stops=True)
    attack("snapshot_req", "lb1", ["peer"], a_snapshot_req)
    attack("oversize", "lb3", ["oversize"], a_oversize)
    attack("forged_conns", "lb3", ["auth", "not_primary"], a_forged_conns)
    attack("replay", "lb3", ["auth"], a_replay)
    attack("huge_term", "lb3", ["term"], a_huge_term)
    attack("budget", "lb3", ["budget"], a_budget)
    attack("digest", "lb3", ["digest_mismatch"], a_digest)
    attack("outsider", "lb3", ["payload"], a_outsider)
    sts = {h: status(h) for h in IDS}
    print("rejected on lb1 %s" % {k: v for k, v in sts["lb1"]["rejected"].items() if v})
    print("rejected on lb3 %s" % {k: v for k, v in sts["lb3"]["rejected"].items() if v})


try:
    main()
except Exception as e:  # a crash of the test is a failure, with its reason
    import traceback
    traceback.print_exc()
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
            f = os.path.join(WORK, h + ".out")
            if os.path.exists(f):
                print("--- %s (tail)" % f)
                print("".join(open(f).readlines()[-15:]))
        print("attack_test: %d failure(s)" % len(failures))
        sys.exit(1)
    print("attack_test: ok (%d attacks)" % len(results))
