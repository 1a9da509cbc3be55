#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Telemetry of a configuration larger than one reply, through the real binary.

  telemetry_pages_test.py CNMUX CNMUXCTL

DPDK 22.11 writes at most 16 KiB of JSON and 256 entries a dict in one
telemetry reply, and accepts keys of letters, digits, '_' and '/' only:
what does not fit, or has another key, it leaves out without a word. cnmux
replays pcaps/mixed with its configuration grown to 47 services and 268
nodes, some named with '-' and '.', one service on every node (a counter per
node pair: more than one reply holds), and, once every frame is counted,
checks:

- every reply is whole (shorter than the socket's max_output_len, JSON);
- /cnmux/stats holds whole services and nodes, each key for key and value
  for value what `cnmuxctl stats -j` says (names with '-' and '.' written
  with '_'), and "omitted" counts exactly those it left out;
- /cnmux/services,OFFSET and /cnmux/nodes,OFFSET, followed by their
  "more/offset", list every service and node once, each whole and equal to
  `cnmuxctl stats -j`'s, but the one too large for a reply: alone on its
  page, what fits of it, its "omitted" counting the rest;
- /cnmux/service,NAME answers for a name with '-' and '.', and says what
  it left out of the large one: of its counters ("omitted") and of its 268
  weights, more than a dict holds ("weights_omitted" counts the rest, each
  weight shown is the file's);
- /cnmux/pdt,NAME of that service: "entries_per_node" and
  "entries_per_node_omitted" the same way, each count `pdt show`'s;
- an OFFSET that is not a number is refused (a null reply).

Exit status 0 pass, 1 fail.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from check import read_pcap  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
CASE = os.path.join(ROOT, "pcaps", "mixed")
EXTRA_SERVICES = 40
EXTRA_NODES = 260  # with the capture's 8: big-all.nodes is on 268, past a dict's 256


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def key(name):
    return name.replace("-", "_").replace(".", "_")


def flat(o, prefix=""):
    """cnmuxctl's nested JSON as telemetry's keys: joined with '/', names
    with '-' and '.' written with '_'."""
    out = {}
    for k, v in o.items():
        kk = prefix + ("/" if prefix else "") + key(k)
        if isinstance(v, dict):
            out.update(flat(v, kk))
        else:
            out[kk] = int(v) if isinstance(v, bool) else v
    return out


def config(path, sock):
    c = json.load(open(os.path.join(CASE, "config.json")))
    c["control"] = {"socket": sock}
    c["conntrack"] = {"timeout_s": 3600, "closing_s": 3600, "syn_s": 3600}
    for i in range(EXTRA_NODES):
        c["nodes"].append({"name": "edge-%02d.dc1" % i,
                           "ip": "10.1.%d.%d" % (i // 200, 1 + i % 200),
                           "mac": "02:00:c0:00:%02x:%02x" % (3 + i // 200, i % 200)})
    for i in range(EXTRA_SERVICES):
        nodes = {"edge-%02d.dc1" % ((i + j) % EXTRA_NODES): 1 + j for j in range(4)}
        c["services"].append({"name": ("api-%d.v2" if i % 2 else "svc_%d") % i,
                              "vip": "198.51.101.%d" % (i + 1), "ports": ["80/tcp", "53/udp"],
                              "policy": "weighted", "nodes": nodes})
    # one service too large for any reply: a counter per node pair
    c["services"].append({"name": "big-all.nodes", "vip": "198.51.102.1", "ports": ["80/tcp"],
                          "policy": "weighted", "nodes": {n["name"]: 1 for n in c["nodes"]}})
    json.dump(c, open(path, "w"), indent=1)
    return c


class Telemetry:
    def __init__(self, prefix):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.connect(os.path.join("/var/run/dpdk", prefix, "dpdk_telemetry.v2"))
        self.max = json.loads(self.s.recv(1024).decode())["max_output_len"]

    def __call__(self, cmd):
        self.s.send(cmd.encode())
        raw = self.s.recv(self.max + 1)
        check(len(raw) < self.max, "%s: a reply of %d bytes, the socket's limit (%d): cut"
              % (cmd, len(raw), self.max))
        return json.loads(raw.decode())[cmd.split(",")[0]]


def entries(cont):
    """A flattened container's keys grouped by their first component."""
    out = {}
    for k, v in cont.items():
        name, _, rest = k.partition("/")
        out.setdefault(name, {})[rest] = v
    return out


def same_entry(where, name, got, want):
    check(got == want, "%s: %s differs from cnmuxctl stats -j: keys only there %s, only "
          "in cnmuxctl %s, values %s" % (
              where, name, sorted(set(got) - set(want))[:5], sorted(set(want) - set(got))[:5],
              sorted(k for k in set(got) & set(want) if got[k] != want[k])[:5]))


def pages(tel, cmd, want, what, cut):
    seen, off, n = [], 0, 0
    while True:
        p = tel("%s,%d" % (cmd, off))
        check(isinstance(p, dict), "%s,%d: no reply" % (cmd, off))
        names = [k for k in p if "/" not in k]
        for name in names:
            e = flat(p[name])
            if "omitted" in e:
                # an entry too large for any reply: alone, what fits of it
                check(len(names) == 1, "%s,%d: %s, cut, shares its page" % (cmd, off, name))
                out = e.pop("omitted")
                check(out > 0 and len(e) + out == len(want[name]),
                      "%s,%d: %s has %d keys and %d omitted, of %d" % (cmd, off, name, len(e),
                                                                       out, len(want[name])))
                check(all(want[name].get(k) == v for k, v in e.items()),
                      "%s,%d: %s: values differ from cnmuxctl stats -j" % (cmd, off, name))
                cut.append(name)
                continue
            same_entry("%s,%d" % (cmd, off), name, e, want[name])
        seen += names
        n += 1
        if "more/offset" not in p:
            break
        check(p["more/offset"] == off + len(names), "%s,%d: more/offset %d after %d entries"
              % (cmd, off, p["more/offset"], len(names)))
        check(p["more/left"] == len(want) - p["more/offset"], "%s,%d: more/left %d"
              % (cmd, off, p["more/left"]))
        off = p["more/offset"]
    check(len(seen) == len(set(seen)), "%s: an entry on two pages" % cmd)
    check(set(seen) == set(want), "%s: pages missed %s" % (cmd, sorted(set(want) - set(seen))[:5]))
    check(n > 1, "%s: %d %s fit one reply: the test no longer pages" % (cmd, len(want), what))
    return n


def main():
    cnmux, ctl = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="cnmux-telpages.")
    prefix = "cnmux-telpages-%d" % os.getpid()
    sock = os.path.join(tmp, "ctl.sock")
    cfgp = os.path.join(tmp, "config.json")
    cfg = config(cfgp, sock)
    frames = len(read_pcap(os.path.join(CASE, "in.pcap")))
    out = open(os.path.join(tmp, "out.txt"), "wb")
    p = subprocess.Popen([cnmux, "--no-huge", "-m", "512", "--no-pci", "-l", "0,1",
                          "--file-prefix", prefix, "--log-level=error",
                          "--vdev", "net_pcap0,rx_pcap=%s" % os.path.join(CASE, "in.pcap"),
                          "--vdev", "net_pcap1,tx_pcap=%s" % os.path.join(tmp, "private.pcap"),
                          "--vdev", "net_pcap2,tx_pcap=%s" % os.path.join(tmp, "local.pcap"),
                          "--", "--config", cfgp], stdout=out, stderr=subprocess.STDOUT)
    try:
        st = None
        for _ in range(100):
            r = subprocess.run([ctl, "-s", sock, "-j", "stats"], capture_output=True, text=True)
            if r.returncode == 0:
                st = json.loads(r.stdout)
                if st["rx"] == frames:
                    break
            check(p.poll() is None, "cnmux stopped: %s" % open(out.name, "rb").read()[-2000:])
            time.sleep(0.1)
        check(st is not None and st["rx"] == frames, "cnmux did not count the %d frames" % frames)
        svc = {key(n): flat(v) for n, v in st["services"].items()}
        nodes = {key(n): flat(v) for n, v in st["nodes"].items()}
        check(len(svc) == len(cfg["services"]) and len(nodes) == len(cfg["nodes"]),
              "cnmuxctl lists %d services, %d nodes" % (len(svc), len(nodes)))
        tel = Telemetry(prefix)

        s = tel("/cnmux/stats")
        om = s.get("omitted", {})
        for sect, want in (("services", svc), ("nodes", nodes)):
            got = entries(s[sect])
            for name, e in got.items():
                check(name in want, "/cnmux/stats %s: %s is not one" % (sect, name))
                same_entry("/cnmux/stats " + sect, name, e, want[name])
            check(len(got) + om.get(sect, 0) == len(want),
                  "/cnmux/stats %s: %d there, %d omitted, of %d" % (sect, len(got),
                                                                     om.get(sect, 0), len(want)))
        check(om.get("services", 0) > 0, "/cnmux/stats: every service fit: the test no longer "
              "reaches the limit")
        cut = []
        n_svc = pages(tel, "/cnmux/services", svc, "services", cut)
        check(cut == ["big_all_nodes"], "/cnmux/services: cut entries %r, want the one too "
              "large for a reply" % cut)
        # /cnmux/nodes adds what each node is to its counters
        nodes_full = {}
        for n in cfg["nodes"]:
            e = dict(nodes[key(n["name"])])
            e.update({"name": n["name"], "ip": n["ip"], "mac": n["mac"], "state": "up",
                      "private_port": 0})
            nodes_full[key(n["name"])] = e
        n_nodes = pages(tel, "/cnmux/nodes", nodes_full, "nodes", cut)
        big = tel("/cnmux/service,big-all.nodes")
        check(isinstance(big, dict) and big.get("omitted", 0) > 0 and
              big.get("name") == "big-all.nodes",
              "/cnmux/service,big-all.nodes: no omitted count (%r)" % sorted(big or {})[:8])
        members = {key(n): w for n, w in cfg["services"][-1]["nodes"].items()}
        check(len(members) > 256, "big-all.nodes on %d nodes: the test no longer passes a "
              "dict's 256 entries" % len(members))
        w = big.get("weights", {})
        check(w and big.get("weights_omitted", 0) > 0 and
              len(w) + big["weights_omitted"] == len(members),
              "/cnmux/service,big-all.nodes: %d weights, %r omitted, of %d" % (
                  len(w), big.get("weights_omitted"), len(members)))
        check(all(members.get(k) == v for k, v in w.items()),
              "/cnmux/service,big-all.nodes: weights differ from the file")
        pdt = tel("/cnmux/pdt,big-all.nodes")
        r = subprocess.run([ctl, "-s", sock, "-j", "pdt", "show", "big-all.nodes"],
                           capture_output=True, text=True)
        per = {key(n): v for n, v in json.loads(r.stdout)["nodes"].items()}
        e = pdt.get("entries_per_node", {}) if isinstance(pdt, dict) else {}
        check(e and pdt.get("entries_per_node_omitted", 0) > 0 and
              len(e) + pdt["entries_per_node_omitted"] == len(members) and
              len(pdt.get("entries", [])) == 256,
              "/cnmux/pdt,big-all.nodes: %d counts, %r omitted, of %d; %d entries" % (
                  len(e), pdt.get("entries_per_node_omitted") if e else None, len(members),
                  len(pdt.get("entries", [])) if isinstance(pdt, dict) else -1))
        check(all(per.get(k) == v for k, v in e.items()),
              "/cnmux/pdt,big-all.nodes: entries_per_node differ from pdt show")

        one = tel("/cnmux/service,api-1.v2")
        check(isinstance(one, dict) and one.get("name") == "api-1.v2",
              "/cnmux/service,api-1.v2: %r" % one)
        check(set(one.get("weights", {})) == {key("edge-%02d.dc1" % j) for j in range(1, 5)},
              "/cnmux/service,api-1.v2 weights: %r" % one.get("weights"))
        check(tel("/cnmux/services,x") is None, "/cnmux/services,x: not refused")
        check(tel("/cnmux/nodes,-1") is None, "/cnmux/nodes,-1: not refused")
        print("telemetry pages: /cnmux/stats %d services (%d omitted), %d nodes; "
              "/cnmux/services %d pages, /cnmux/nodes %d pages"
              % (len(entries(s["services"])), om.get("services", 0), len(entries(s["nodes"])),
                 n_svc, n_nodes))
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["rm", "-rf", tmp, "/var/run/dpdk/" + prefix])
    check(p.returncode == 0, "cnmux exit status %d after SIGINT" % p.returncode)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Fail as e:
        print("telemetry pages test FAILED: %s" % e)
        sys.exit(1)
