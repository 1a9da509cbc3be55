#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The audit trail and the bounded warnings, through the real binary.

  audit_test.py CNMUX CNMUXCTL

cnmux (--log-timestamp) replays a capture of 3000 TCP SYNs to "web" and 200
UDP frames to "lonely" with conntrack.max 1024: node2 has no MAC and nobody
answers its ARP requests, so "lonely" (node2 alone) has no node and the
forwarding list fills. Then, through the control socket: changes that work,
one that is refused, a read, zero, a reload, a reload of a bad file, and a
SIGHUP. Checked in cnmux's output:

  - every change (and zero) is one audit line naming who (uid and pid, from
    SO_PEERCRED; the SIGHUP's sender), what (the command and its arguments)
    and the result ("ok", with a reload's changes, or "refused:" and the
    error); a read (stats) writes none;
  - every rte_log line starts with a UTC timestamp and its level;
  - "lonely has no node", "node2 unresolved for 5 s", "the forwarding list
    is full", "web has no node" while node1 is down and "web takes clients
    again" after, each logged once or a few times (at most one line per
    condition per 10 s), never once per frame (thousands of frames).

Exit status 0 pass, 1 fail.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import IP, TCP, UDP, Ether
from scapy.utils import wrpcap

HERE = os.path.dirname(os.path.abspath(__file__))
EAL = ["--no-huge", "-m", "512", "--no-pci", "-l", "0,1"]
SYNS, UDPS = 3000, 200
TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
LEVEL = r"(EMERG|ALERT|CRIT|ERR|WARNING|NOTICE|INFO|DEBUG)"


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def capture(path):
    frames = []
    mac = dict(src="02:cb:00:71:00:01", dst="02:70:63:61:70:00")
    for i in range(SYNS):
        frames.append(Ether(**mac) / IP(src="203.0.%d.%d" % (113 + i // 250, 1 + i % 250),
                                        dst="198.51.100.10") /
                      TCP(sport=1024 + i, dport=80, flags="S", seq=i))
    for i in range(UDPS):
        frames.append(Ether(**mac) / IP(src="203.0.113.%d" % (1 + i % 250),
                                        dst="198.51.100.20") / UDP(sport=2000 + i, dport=53))
    wrpcap(path, frames)
    return len(frames)


def main(cnmux, cnmuxctl):
    tmp = tempfile.mkdtemp(prefix="cnmux-audit.")
    prefix = "cnmux-audit-" + os.urandom(4).hex()[:7]
    proc = None
    sock = os.path.join(tmp, "ctl.sock")

    def ctl(*args, ok=True):
        p = subprocess.run([cnmuxctl, "-s", sock, "-j"] + list(args), capture_output=True,
                           text=True, timeout=20)
        check((p.returncode == 0) == ok, "cnmuxctl %s: status %d: %s" % (" ".join(args),
                                                                       p.returncode, p.stderr))
        return json.loads(p.stdout)
    try:
        frames = capture(os.path.join(tmp, "in.pcap"))
        cfg = {
            "ports": {"public": "net_pcap0", "private": ["net_pcap1"]},
            "nodes": [{"name": "node1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b"},
                      {"name": "node2", "ip": "192.0.2.12"}],
            "services": [{"name": "web", "vip": "198.51.100.10", "ports": ["80/tcp"],
                          "policy": "weighted", "nodes": {"node1": 1, "node2": 1}},
                         {"name": "lonely", "vip": "198.51.100.20", "ports": ["53/udp"],
                          "policy": "weighted", "nodes": {"node2": 1}}],
            "control": {"socket": sock},
            "conntrack": {"max": 1024, "timeout_s": 3600, "syn_s": 3600},
        }
        path = os.path.join(tmp, "config.json")
        json.dump(cfg, open(path, "w"), indent=1)
        bad = os.path.join(tmp, "bad.json")
        json.dump(dict(cfg, pdt_size=1000), open(bad, "w"))
        out = os.path.join(tmp, "out.txt")
        start = time.time()
        proc = subprocess.Popen([cnmux] + EAL + [
            "--file-prefix", prefix,
            "--vdev", "net_pcap0,rx_pcap=" + os.path.join(tmp, "in.pcap"),
            "--vdev", "net_pcap1,tx_pcap=" + os.path.join(tmp, "private.pcap"),
            "--", "--config", path, "--log-timestamp"],
            stdout=open(out, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                st = ctl("stats")
                if st["rx"] == frames:
                    break
            except (Fail, ValueError):
                pass
            check(proc.poll() is None, "cnmux exited at start: " + open(out).read()[-2000:])
            check(time.time() < deadline, "cnmux did not count the %d frames" % frames)
            time.sleep(0.2)
        check(st["conn_full"] > 1000, "the list did not fill: conn_full %d" % st["conn_full"])
        conn_full = st["conn_full"]

        ctl("node", "drain", "node1", "web")
        ctl("node", "weight", "node1", "web", "2")
        ctl("node", "drain", "nosuch", ok=False)
        ctl("node", "down", "node1")
        time.sleep(2.5)              # a tick sees web with no node
        ctl("node", "up", "node1")
        ctl("stats")
        ctl("zero")
        ctl("reload")
        ctl("reload", bad, ok=False)
        os.kill(proc.pid, signal.SIGHUP)
        # node2 unresolved for 5 s: logged once, 5 s after cnmux saw the node
        # unresolved. That is 5 s after its start-up, not after this
        # script's `start`; and web's nodes back: said by the next tick of
        # the control loop (once a second) after `node up`. Wait for both
        # lines (a starved machine takes seconds to start cnmux, and its
        # control loop's tick can come after start + 8), at least until
        # start + 8 as before
        deadline = start + 60
        for what, pattern in (("node2 unresolved", r"audit: node node2 .*no MAC address"),
                              ("web back", r"audit: service web: 1 node\(s\) take clients again")):
            while not re.search(pattern, open(out).read()):
                check(time.time() < deadline, "no line for %s after 60 s" % what)
                time.sleep(0.2)
        time.sleep(max(0, start + 8 - time.time()))
        ran = time.time() - start
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(30)
        proc = None
        check(rc == 0, "cnmux exit status %d" % rc)
        log = open(out).read().splitlines()
        audit = [l for l in log if " audit: " in l]
        me = "uid %d pid \\d+" % os.getuid()

        def one(pattern, what, lo=1, hi=1):
            got = [l for l in audit if re.search(pattern, l)]
            check(lo <= len(got) <= hi, "%s: %d line(s), expected %d..%d:\n  %s" %
                  (what, len(got), lo, hi, "\n  ".join(got or audit)))
            return got

        # every line rte_log wrote: a timestamp and a level
        for l in audit:
            check(re.match("^%s %s audit: " % (TS, LEVEL), l), "audit line without time or level: " + l)
        for l in log:
            check(not re.match(r"^(audit|control|health|ha|service|conntrack): ", l),
                  "log line without time or level: " + l)
        # who, what, result
        one(r"NOTICE audit: %s: node drain \{\"node\":\"node1\",\"service\":\"web\"\}: "
            r"ok, \{\"weights_changed\":1\}$" % me, "node drain")
        one(r"NOTICE audit: %s: node weight \{.*\"weight\":2.*\}: ok, \{\"weights_changed\":1\}$"
            % me, "node weight")
        one(r"WARNING audit: %s: node drain \{\"node\":\"nosuch\"\}: refused: .*nosuch" % me,
            "a refused drain")
        one(r"NOTICE audit: %s: node down \{\"node\":\"node1\"\}: ok$" % me, "node down")
        one(r"NOTICE audit: %s: node up \{\"node\":\"node1\"\}: ok$" % me, "node up")
        one(r"NOTICE audit: %s: zero \{\}: ok$" % me, "zero")
        one(r"NOTICE audit: %s: reload \{\}: ok, \{\"weights_changed\":1\}$" % me, "reload")
        one(r"WARNING audit: %s: reload \{\"path\":\"%s\"\}: refused: .*pdt_size" % (me, re.escape(bad)),
            "a refused reload")
        one(r"NOTICE audit: SIGHUP from uid %d pid %d: reload \{\"path\":\"%s\"\}: ok, no change$"
            % (os.getuid(), os.getpid(), re.escape(path)), "SIGHUP")
        check(not [l for l in audit if "stats" in l], "a read (stats) was audited")
        # the conditions: at once, then at most once per 10 s
        repeats = 1 + int(ran) // 10
        one(r"WARNING audit: service lonely: no node takes clients", "lonely has no node")
        one(r"WARNING audit: service lonely: still no node", "lonely, again", 0, repeats)
        one(r"WARNING audit: service web: no node takes clients", "web with node1 down")
        one(r"NOTICE audit: service web: 1 node\(s\) take clients again", "web back")
        unres = one(r"WARNING audit: node node2 \(192\.0\.2\.12\): no MAC address for \d+ s",
                    "node2 unresolved", 1, repeats)
        # the first line once the 5 s were through (a later tick says more)
        first = int(re.search(r"no MAC address for (\d+) s", unres[0]).group(1))
        check(first >= 5, "node2 unresolved said after %d s, expected 5 or more" % first)
        full = one(r"WARNING audit: forwarding list full: \d+ SYNs not recorded", "list full",
                   1, repeats)
        told = sum(int(re.search(r"full: (\d+) SYNs", l).group(1)) for l in full)
        check(told <= conn_full, "the list-full lines count %d SYNs, conn_full %d" % (told, conn_full))
        check(len([l for l in audit if "WARNING" in l]) < 20,
              "%d warning lines for %d frames: not bounded" % (len(audit), frames))
        print("audit test: %d audit lines for %d frames in %.1f s (%d SYNs not recorded, told "
              "in %d line(s)); e.g.\n  %s\n  %s" % (len(audit), frames, ran, conn_full, len(full),
                                                    audit[0], unres[0]))
        return 0
    except Fail as e:
        print("audit test FAILED: %s" % e)
        if os.path.exists(os.path.join(tmp, "out.txt")):
            print("--- cnmux output (last lines)")
            print("\n".join(open(os.path.join(tmp, "out.txt")).read().splitlines()[-40:]))
        return 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])))
