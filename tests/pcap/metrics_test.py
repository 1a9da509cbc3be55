#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Rates, the Prometheus endpoint and `cnmuxctl zero`, through the real binary.

  metrics_test.py replay CNMUX CNMUXCTL
      cnmux replays pcaps/mixed with "metrics": {"listen": 127.0.0.1:PORT}.
      Once every frame is counted, /metrics is scraped with a real HTTP
      client (urllib) and parsed with prometheus_client's own parser. Then
      scrapes while another client adds and deletes a service and reloads
      (each scrape whole). After SIGINT, every sample of the first scrape is
      checked against the run's --stats-json: every counter of `cnmux
      --list-counters`, every drop reason, per service, per (service, node),
      per node, HELP and TYPE on every family.
      Then the errors: a metrics.listen that does not parse, and one whose
      port is taken, each stop cnmux with status 1 and a message naming the
      file and the key.

  metrics_test.py rates CNMUX CNMUXCTL       (root: a network namespace)
      cnmux reads a veth in a namespace of its own; a sender sends UDP to a
      service for a few seconds. While it sends, `cnmuxctl stats --rate`,
      /cnmux/rates (telemetry) and --stats-period show non-zero rates per
      service, per (service, node) and per node; two seconds after it stops
      they are all 0. Then `cnmuxctl zero`: `stats` starts again from 0 while
      /metrics goes on; frames sent after it are exactly what `stats` and
      --stats-json count, and /metrics holds both.

Exit status 0 pass, 1 fail, 77 skipped (rates: not root, no namespace; CI=true
turns a skip into a failure, as tests/lib/testenv.sh does).
"""
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drops_check import per_id_drop_fails  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapio import read_pcap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EAL = ["--no-huge", "-m", "512", "--no-pci", "-l", "0,1", "--log-level=error"]


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def run_id():
    return os.urandom(4).hex()[:7]


def skip(msg):
    if os.environ.get("CI") == "true":
        print("FAIL: %s (CI=true: a suite that cannot run fails instead of being skipped)" % msg)
        sys.exit(1)
    print("SKIP: " + msg)
    sys.exit(77)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ctl(cnmuxctl, sock, *args, raw=True, netns=None):
    cmd = [cnmuxctl, "-s", sock] + (["-j"] if raw else []) + list(args)
    if netns:
        cmd = ["ip", "netns", "exec", netns] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    if p.returncode != 0:
        raise Fail("cnmuxctl %s: status %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return json.loads(p.stdout) if raw else p.stdout


def telemetry(prefix, *cmds):
    """DPDK's telemetry socket (v2): one JSON answer per command."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(os.path.join("/var/run" if os.getuid() == 0 else
                           os.environ.get("XDG_RUNTIME_DIR", "/tmp"),
                           "dpdk", prefix, "dpdk_telemetry.v2"))
    size = json.loads(s.recv(1024).decode())["max_output_len"]
    out = {}
    for c in cmds:
        s.send(c.encode())
        out[c] = json.loads(s.recv(size).decode())[c]
    s.close()
    return out


def scrape(url):
    """GET url with a real HTTP client; (status, content type, parsed samples)."""
    with urllib.request.urlopen(url, timeout=10) as r:
        status, ctype, text = r.status, r.headers.get("Content-Type"), r.read().decode()
    fams = list(text_string_to_metric_families(text))
    return status, ctype, text, fams


def samples_of(fams):
    """{(sample name, frozenset(labels)): value} and {family name: family}"""
    out, byname = {}, {}
    for f in fams:
        byname[f.name] = f
        for s in f.samples:
            key = (s.name, frozenset(s.labels.items()))
            check(key not in out, "sample %s%r twice" % key)
            out[key] = s.value
    return out, byname


def wait_for(pred, timeout, what, proc=None):
    end = time.time() + timeout
    while True:
        try:
            v = pred()
            if v:
                return v
        except (Fail, OSError, ValueError, KeyError, subprocess.TimeoutExpired):
            pass
        if proc is not None and proc.poll() is not None:
            raise Fail("%s: cnmux exited (status %s)" % (what, proc.returncode))
        if time.time() > end:
            raise Fail("%s: not within %d s" % (what, timeout))
        time.sleep(0.1)


def stop(proc, timeout=30):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise Fail("cnmux did not stop within %d s of SIGINT" % timeout)


# --------------------------------------------------------------- replay ----

def list_counters(cnmux):
    kinds = {}
    out = subprocess.run([cnmux, "--list-counters"], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        key, kind = line.split()[:2]
        kinds[key] = kind
    return kinds


def json_at(obj, path):
    """obj[p0][p1]...; None where a key is missing"""
    for p in path:
        if not isinstance(obj, dict) or p not in obj:
            return None
        obj = obj[p]
    return obj


def compare(sj, samples, byname, kinds):
    """every sample of /metrics against --stats-json; returns how many compared"""
    n = 0
    seen = set()

    def want(name, labels, value, what):
        nonlocal n
        key = (name, frozenset(labels.items()))
        check(key in samples, "/metrics has no %s%s (%s)" % (name, dict(labels), what))
        check(samples[key] == value, "%s%s: /metrics %r, --stats-json %r"
              % (name, dict(labels), samples[key], value))
        seen.add(key)
        n += 1

    for key, kind in kinds.items():
        if "." in key:
            continue
        if kind == "counter":
            want("cnmux_%s_total" % key, {}, sj[key], key)
        elif key.endswith("_ms"):
            name = "cnmux_%s_seconds" % key[:-3]
            check((name, frozenset()) in samples, "/metrics has no %s" % name)
            seen.add((name, frozenset()))
        elif key in ("workers", "conn_active"):  # gauges that hold still after the run
            want("cnmux_" + key, {}, sj[key], key)
        else:
            check(("cnmux_" + key, frozenset()) in samples, "/metrics has no cnmux_" + key)
            seen.add(("cnmux_" + key, frozenset()))
    for reason, v in sj["drops"].items():
        want("cnmux_drops_total", {"reason": reason}, v, "drops." + reason)
    for s, sv in sj["services"].items():
        want("cnmux_service_packets_total", {"service": s}, sv["packets"], s)
        want("cnmux_service_bytes_total", {"service": s}, sv["bytes"], s)
        want("cnmux_service_conn_new_total", {"service": s}, sv["conn_new"], s)
        for k in ("second_chance", "second_chance_failed"):
            want("cnmux_service_%s_total" % k, {"service": s}, sv[k], s)
        for reason, v in sv["drops"].items():
            want("cnmux_service_drops_total", {"service": s, "reason": reason}, v,
                 s + " drops." + reason)
        for node, m in sv["nodes"].items():
            for reason, v in m["drops"].items():
                want("cnmux_pair_drops_total", {"service": s, "node": node, "reason": reason}, v,
                     s + "/" + node + " drops." + reason)
            want("cnmux_packets_total", {"service": s, "node": node}, m["packets"], s + "/" + node)
            want("cnmux_bytes_total", {"service": s, "node": node}, m["bytes"], s + "/" + node)
            want("cnmux_pair_conn_new_total", {"service": s, "node": node}, m["conn_new"],
                 s + "/" + node)
            for k in ("second_chance", "second_chance_failed"):
                want("cnmux_pair_%s_total" % k, {"service": s, "node": node}, m[k],
                     s + "/" + node)
    for node, nv in sj["nodes"].items():
        want("cnmux_node_packets_total", {"node": node}, nv["packets"], node)
        want("cnmux_node_bytes_total", {"node": node}, nv["bytes"], node)
        want("cnmux_node_conn_new_total", {"node": node}, nv["conn_new"], node)
        for k in ("second_chance", "second_chance_failed"):
            want("cnmux_node_%s_total" % k, {"node": node}, nv[k], node)
        want("cnmux_node_up", {"node": node}, 1 if nv["up"] else 0, node)
        for reason, v in nv["drops"].items():
            want("cnmux_node_drops_total", {"node": node, "reason": reason}, v,
                 node + " drops." + reason)
    # what is left: the service info and active nodes, nothing else
    for key in set(samples) - seen:
        check(key[0] in ("cnmux_service_info", "cnmux_service_active_nodes"),
              "/metrics has %s%s, which no key of --stats-json explains" % (key[0], dict(key[1])))
    check(set(dict(k[1]).get("service") for k in samples if k[0] == "cnmux_service_info")
          == set(sj["services"]), "cnmux_service_info: not one per service")
    for f in byname.values():
        check(f.documentation, "family %s has no HELP" % f.name)
        check(f.type in ("counter", "gauge"), "family %s: TYPE %s" % (f.name, f.type))
        for s in f.samples:
            check((f.type == "counter") == s.name.endswith("_total"),
                  "%s: a %s %s _total" % (s.name, f.type,
                                          "without" if f.type == "counter" else "with"))
    return n


def churn(cnmuxctl, sock, url):
    """scrapes while another client adds and deletes a service and reloads:
    every scrape whole (one snapshot under the control lock): it parses, its
    accounting holds, and the service is in all of its families or in none"""
    stop, changes, errors = threading.Event(), [0], []

    def changer():
        try:
            for i in range(30):
                ctl(cnmuxctl, sock, "service", "add", "tmp", "198.51.100.99", "8080/tcp",
                    "weighted", "node1=1", "node2=1")
                ctl(cnmuxctl, sock, "stats")
                ctl(cnmuxctl, sock, "service", "del", "tmp")
                changes[0] += 2
                if i % 3 == 0:
                    ctl(cnmuxctl, sock, "reload")
                    changes[0] += 1
        except Fail as e:
            errors.append(str(e))
        finally:
            stop.set()
    t = threading.Thread(target=changer)
    t.start()
    scrapes = 0
    while not stop.is_set() or scrapes == 0:
        status, _, _, fams = scrape(url + "/metrics")
        samples, _ = samples_of(fams)
        g = lambda name, **lab: samples.get((name, frozenset(lab.items())))
        check(status == 200, "a scrape under changes: status %d" % status)
        check(g("cnmux_rx_total") == g("cnmux_forwarded_total") + g("cnmux_local_total") +
              g("cnmux_dropped_total"), "a scrape under changes: rx != forwarded + local + dropped")
        has = [g("cnmux_service_info", service="tmp", vip="198.51.100.99", policy="weighted") is not None,
               g("cnmux_service_packets_total", service="tmp") is not None,
               g("cnmux_packets_total", service="tmp", node="node2") is not None,
               g("cnmux_service_active_nodes", service="tmp") is not None]
        check(all(has) or not any(has), "a scrape saw service tmp half added or half deleted: %r" % has)
        scrapes += 1
    t.join()
    check(not errors, "the changes under scrapes failed: %s" % errors)
    return scrapes, changes[0]


def config_error(cnmux, tmp, prefix, cfg, want):
    """cnmux must refuse @p cfg: status 1, every string of @p want in its stderr"""
    path = os.path.join(tmp, "bad.json")
    json.dump(cfg, open(path, "w"))
    p = subprocess.run([cnmux] + EAL + ["--file-prefix", prefix,
                        "--vdev", "net_null0", "--vdev", "net_null1", "--",
                        "--config", path, "--idle-exit", "100"],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 1, "%s: status %d, expected 1\n%s%s" % (want, p.returncode, p.stdout, p.stderr))
    for w in want:
        check(w in p.stderr, "expected %r in the error, got:\n%s" % (w, p.stderr))
    return p.stderr.strip().splitlines()[-1]


DROP_FAMILIES = ("cnmux_drops_total", "cnmux_service_drops_total", "cnmux_pair_drops_total",
                 "cnmux_node_drops_total")


def tunnel_mtu_run(cnmux, cnmuxctl, tmp, prefix):
    """pcaps/tunnel_mtu replayed with /metrics: frames too big for their
    tunnel are dropped as tunnel_mtu once their node was chosen, for the
    service, the pair and the node. Every sample of the drop families of
    /metrics against --stats-json; returns (tunnel_mtu, pairs that counted)"""
    case = os.path.join(ROOT, "pcaps", "tunnel_mtu")
    port = free_port()
    sock = os.path.join(tmp, "ctl-t.sock")
    cfg = json.load(open(os.path.join(case, "config.json")))
    cfg["control"] = {"socket": sock}
    cfg["metrics"] = {"listen": "127.0.0.1:%d" % port}
    path = os.path.join(tmp, "config-t.json")
    json.dump(cfg, open(path, "w"), indent=1)
    frames = len(read_pcap(os.path.join(case, "in.pcap")))
    log = open(os.path.join(tmp, "out.txt"), "w")
    proc = subprocess.Popen([cnmux] + EAL + [
        "--file-prefix", prefix,
        "--vdev", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (os.path.join(case, "in.pcap"),
                                                       os.path.join(tmp, "public-t.pcap")),
        "--vdev", "net_pcap1,tx_pcap=" + os.path.join(tmp, "private-t.pcap"),
        "--vdev", "net_pcap2,tx_pcap=" + os.path.join(tmp, "local-t.pcap"),
        "--", "--config", path, "--stats-json", os.path.join(tmp, "stats-t.json")],
        stdout=log, stderr=log)
    try:
        wait_for(lambda: ctl(cnmuxctl, sock, "stats")["rx"] == frames, 60,
                 "cnmux counts the %d frames of tunnel_mtu" % frames, proc)
        _, _, _, fams = scrape("http://127.0.0.1:%d/metrics" % port)
        rc = stop(proc)
        check(rc == 0, "cnmux exit status %d" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)
    sj = json.load(open(os.path.join(tmp, "stats-t.json")))
    samples, _ = samples_of(fams)
    want = {("cnmux_drops_total", frozenset({"reason": r}.items())): v
            for r, v in sj["drops"].items()}
    for s, sv in sj["services"].items():
        for r, v in sv["drops"].items():
            want[("cnmux_service_drops_total", frozenset({"service": s, "reason": r}.items()))] = v
        for node, m in sv["nodes"].items():
            for r, v in m["drops"].items():
                want[("cnmux_pair_drops_total",
                      frozenset({"service": s, "node": node, "reason": r}.items()))] = v
    for node, nv in sj["nodes"].items():
        for r, v in nv["drops"].items():
            want[("cnmux_node_drops_total", frozenset({"node": node, "reason": r}.items()))] = v
    got = {k: v for k, v in samples.items() if k[0] in DROP_FAMILIES}
    check(got == want, "tunnel_mtu: the drop families of /metrics differ from --stats-json: "
          "%r" % sorted(set(got.items()) ^ set(want.items()))[:6])
    fails, _ = per_id_drop_fails(sj)
    check(not fails, "tunnel_mtu: per-id drops: " + "; ".join(fails))
    pairs = [(s, n) for s, sv in sj["services"].items() for n, m in sv["nodes"].items()
             if m["drops"].get("tunnel_mtu")]
    check(sj["drops"]["tunnel_mtu"] > 0 and len(pairs) > 1,
          "tunnel_mtu: %d drops in %d pairs" % (sj["drops"]["tunnel_mtu"], len(pairs)))
    return sj["drops"]["tunnel_mtu"], len(pairs)


def cmd_replay(cnmux, cnmuxctl):
    case = os.path.join(ROOT, "pcaps", "mixed")
    tmp = tempfile.mkdtemp(prefix="cnmux-metrics.")
    prefix = "cnmux-metrics-" + run_id()
    proc = None
    try:
        port = free_port()
        sock = os.path.join(tmp, "ctl.sock")
        cfg = json.load(open(os.path.join(case, "config.json")))
        cfg["control"] = {"socket": sock}
        cfg["conntrack"] = {"timeout_s": 3600, "closing_s": 3600, "syn_s": 3600}
        cfg["metrics"] = {"listen": "127.0.0.1:%d" % port}
        # drops once the service is known (issue 14): m_dns drained (no
        # active node)
        for sv in cfg["services"]:
            if sv["name"] == "m_dns":
                sv["nodes"] = {n: 0 for n in sv["nodes"]}
        json.dump(cfg, open(os.path.join(tmp, "config.json"), "w"), indent=1)
        frames = len(read_pcap(os.path.join(case, "in.pcap")))
        kinds = list_counters(cnmux)
        log = open(os.path.join(tmp, "out.txt"), "w")
        proc = subprocess.Popen([cnmux] + EAL + [
            "--file-prefix", prefix,
            "--vdev", "net_pcap0,rx_pcap=" + os.path.join(case, "in.pcap"),
            "--vdev", "net_pcap1,tx_pcap=" + os.path.join(tmp, "private.pcap"),
            "--vdev", "net_pcap2,tx_pcap=" + os.path.join(tmp, "local.pcap"),
            "--", "--config", os.path.join(tmp, "config.json"),
            "--stats-json", os.path.join(tmp, "stats.json")], stdout=log, stderr=log)
        wait_for(lambda: ctl(cnmuxctl, sock, "stats")["rx"] == frames, 60,
                 "cnmux counts the %d frames of the capture" % frames, proc)
        url = "http://127.0.0.1:%d" % port
        status, ctype, text, fams = scrape(url + "/metrics")
        check(status == 200, "GET /metrics: status %d" % status)
        check(ctype.startswith("text/plain; version=0.0.4"), "Content-Type %r" % ctype)
        for path, method, code in (("/", "GET", 404), ("/metrics", "POST", 405)):
            try:
                urllib.request.urlopen(urllib.request.Request(url + path, method=method,
                                                              data=b"" if method == "POST" else None),
                                       timeout=10)
                raise Fail("%s %s: answered 200" % (method, path))
            except urllib.error.HTTPError as e:
                check(e.code == code, "%s %s: status %d, expected %d" % (method, path, e.code, code))
        check(proc.poll() is None, "cnmux stopped before /metrics was read")
        churned = churn(cnmuxctl, sock, url)
        check(proc.poll() is None, "cnmux stopped during the scrapes under changes")
        rc = stop(proc)
        proc = None
        check(rc == 0, "cnmux exit status %d" % rc)
        sj = json.load(open(os.path.join(tmp, "stats.json")))
        check(sj["rx"] == frames, "--stats-json: rx %d, the capture has %d" % (sj["rx"], frames))
        samples, byname = samples_of(fams)
        n = compare(sj, samples, byname, kinds)
        check(samples[("cnmux_forwarded_total", frozenset())] > 0 and
              samples[("cnmux_dropped_total", frozenset())] > 0, "the capture forwards and drops")
        # drops per service, pair and node against the global ones
        fails, nd = per_id_drop_fails(sj)
        check(not fails, "per-id drops: " + "; ".join(fails))
        na = json_at(sj, ("services", "m_dns", "drops", "no_active_node"))
        check(na > 0 and na == sj["drops"]["no_active_node"],
              "m_dns drained: no_active_node %r, global %d" % (na, sj["drops"]["no_active_node"]))
        nu = tunnel_mtu_run(cnmux, cnmuxctl, tmp, prefix + "-t")

        # the errors: a bad address, a port in use
        bad = dict(cfg, control={"socket": os.path.join(tmp, "bad.sock")})
        bad["ports"] = {"public": "net_null0", "private": ["net_null1"]}
        e1 = config_error(cnmux, tmp, prefix + "-e1", dict(bad, metrics={"listen": "localhost:9469"}),
                          [os.path.join(tmp, "bad.json"), "metrics.listen",
                           '"IPV4:PORT" or "[IPV6]:PORT"', '"localhost:9469"'])
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = "127.0.0.1:%d" % taken.getsockname()[1]
        e2 = config_error(cnmux, tmp, prefix + "-e2", dict(bad, metrics={"listen": busy}),
                          [os.path.join(tmp, "bad.json"), "metrics.listen",
                           "cannot listen on " + busy, "in use"])
        taken.close()
        print("metrics test: %d samples of /metrics equal to --stats-json (%d families, "
              "%d bytes); %d scrapes during %d changes and reloads, each whole; drops per "
              "service, pair and node: %d sums equal to the global ones (no_active_node %d); "
              "tunnel_mtu: %d drops in %d pairs, their families equal\n  %s\n  %s"
              % (n, len(byname), len(text), churned[0], churned[1], nd, na, nu[0], nu[1], e1, e2))
        return 0
    except (Fail, OSError) as e:
        print("replay test FAILED: %s" % e)
        out = os.path.join(tmp, "out.txt")
        if os.path.exists(out):
            print("--- cnmux output (last lines)\n" + "\n".join(open(out).read().splitlines()[-30:]))
        return 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)


# ---------------------------------------------------------------- rates ----

VIP = "198.51.100.10"


def udp_frames(n, first=0):
    """@p n UDP frames to VIP:53 from n clients (source ports from 1024 + first),
    every fourth to VIP:54 (service dark, whose nodes are all drained)"""
    out = []
    for i in range(first, first + n):
        src = bytes([203, 0, 113, 1 + i % 200])
        payload = b"cnmux-rates" + bytes(21)
        udp = struct.pack("!HHHH", 1024 + i % 60000, 54 if i % 4 == 3 else 53,
                          8 + len(payload), 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0, 64, 17, 0,
                         src, socket.inet_aton(VIP))
        s = sum(struct.unpack("!10H", ip))
        s = (s & 0xffff) + (s >> 16)
        s = (s & 0xffff) + (s >> 16)
        ip = ip[:10] + struct.pack("!H", ~s & 0xffff) + ip[12:]
        eth = bytes.fromhex("027063617000") + bytes.fromhex("02cb00710001") + b"\x08\x00"
        out.append(eth + ip + udp)
    return out


def cmd_send(iface, n, pps):
    """(in the namespace) send n frames on iface at about pps frames a second"""
    n, pps = int(n), float(pps)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    frames = udp_frames(n)
    start = time.monotonic()
    for i, f in enumerate(frames):
        if pps > 0:
            delay = start + i / pps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        s.send(f)
    print(n)
    return 0


def nonzero_rates(r):
    """what a rate reading shows while UDP flows to the service"""
    dns, dark = r["services"]["dns"], r["services"]["dark"]
    return (r["rx"] > 0 and r["forwarded"] > 0 and dns["packets"] > 0 and dns["bytes"] > 0
            and sum(m["packets"] for m in dns["nodes"].values()) > 0
            and sum(v["packets"] for v in r["nodes"].values()) > 0 and r["interval_ms"] >= 900
            and dark["drops"]["no_active_node"] > 0)


def nonzero_keys(r):
    bad = [k for k in ("rx", "forwarded", "local", "dropped", "conn_new") if r[k] != 0]
    bad += ["drops." + k for k, v in r["drops"].items() if v != 0]
    for s, sv in r["services"].items():
        bad += ["services.%s.%s" % (s, k) for k in ("packets", "bytes") if sv[k] != 0]
        bad += ["services.%s.drops.%s" % (s, k) for k, v in sv["drops"].items() if v != 0]
        bad += ["services.%s.nodes.%s" % (s, n) for n, m in sv["nodes"].items() if m["packets"]]
    bad += ["nodes.%s" % n for n, v in r["nodes"].items() if v["packets"] or v["bytes"]]
    bad += ["nodes.%s.drops" % n for n, v in r["nodes"].items() if any(v["drops"].values())]
    return bad


def untel(obj):
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            v = untel(v)
        cur = out
        parts = k.split("/")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = v
    return out


def cmd_rates(cnmux, cnmuxctl):
    if os.getuid() != 0:
        skip("rates: needs root (a network namespace, raw sockets)")
    if shutil.which("ip") is None:
        skip("rates: no ip(8)")
    tag = run_id()
    ns, prefix = "cnmux_rate_" + tag, "cnmux_rate_" + tag
    tmp = tempfile.mkdtemp(prefix="cnmux-rates.")
    proc = None

    def nsx(*cmd, **kw):
        return subprocess.run(["ip", "netns", "exec", ns] + list(cmd), **kw)
    try:
        if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode != 0:
            skip("rates: cannot create a network namespace")
        nsx("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1", capture_output=True)
        nsx("ip", "link", "set", "lo", "up", check=True)
        if subprocess.run(["ip", "-n", ns, "link", "add", "snd0", "type", "veth", "peer", "name",
                           "pub0"], capture_output=True).returncode != 0:
            skip("rates: cannot create a veth pair")
        for ifc in ("snd0", "pub0"):
            nsx("ip", "link", "set", ifc, "up", check=True)
        sock = os.path.join(tmp, "ctl.sock")
        port = 9469
        cfg = {
            "ports": {"public": "net_pcap0", "private": ["net_pcap1"]},
            "nodes": [{"name": "node1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b"},
                      {"name": "node2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c"}],
            "services": [{"name": "dns", "vip": VIP, "ports": ["53/udp"], "policy": "weighted",
                          "nodes": {"node1": 1, "node2": 1}},
                         {"name": "idle", "vip": "198.51.100.20", "ports": ["80/tcp"],
                          "policy": "weighted", "nodes": {"node2": 1}},
                         # drained: its frames are dropped, no_active_node
                         {"name": "dark", "vip": VIP, "ports": ["54/udp"], "policy": "weighted",
                          "nodes": {"node1": 0, "node2": 0}}],
            "control": {"socket": sock},
            # in the namespace: its loopback is its own
            "metrics": {"listen": "127.0.0.1:%d" % port},
        }
        json.dump(cfg, open(os.path.join(tmp, "config.json"), "w"), indent=1)
        log = open(os.path.join(tmp, "out.txt"), "w")
        proc = subprocess.Popen(["ip", "netns", "exec", ns, cnmux] + EAL + [
            "--file-prefix", prefix,
            "--vdev", "net_pcap0,rx_iface_in=pub0,tx_pcap=" + os.path.join(tmp, "public.pcap"),
            "--vdev", "net_pcap1,tx_pcap=" + os.path.join(tmp, "private.pcap"),
            "--", "--config", os.path.join(tmp, "config.json"), "--stats-period", "1",
            "--stats-json", os.path.join(tmp, "stats.json")], stdout=log, stderr=log)
        wait_for(lambda: ctl(cnmuxctl, sock, "stats") is not None, 30, "control socket", proc)

        def send(n, pps):
            return subprocess.Popen(["ip", "netns", "exec", ns, sys.executable,
                                     os.path.abspath(__file__), "send", "snd0", str(n), str(pps)],
                                    stdout=subprocess.DEVNULL)

        def scrape_ns():
            p = nsx(sys.executable, os.path.abspath(__file__), "scrape",
                    "http://127.0.0.1:%d/metrics" % port, capture_output=True, text=True,
                    timeout=20)
            check(p.returncode == 0, "scrape: " + p.stderr)
            return json.loads(p.stdout)

        def settled():
            """stats once rx has not moved for a second (the frames sent are in;
            on a loaded machine the kernel may drop some before cnmux reads them)"""
            last, same = None, 0
            end = time.time() + 30
            while same < 4:
                check(time.time() < end and proc.poll() is None, "rx does not settle")
                st = ctl(cnmuxctl, sock, "stats")
                same = same + 1 if last is not None and st["rx"] == last else 0
                last = st["rx"]
                time.sleep(0.3)
            return st

        # 1. traffic flows: 5 s at 400 frames a second
        sent_a = 2000
        sender = send(sent_a, 400)
        r = wait_for(lambda: (lambda r: r if nonzero_rates(r) else None)(
            ctl(cnmuxctl, sock, "stats", "--rate")), 8, "stats --rate non-zero while frames flow",
            proc)
        tel = untel(telemetry(prefix, "/cnmux/rates")["/cnmux/rates"])
        check(nonzero_rates(tel), "/cnmux/rates while frames flow: %r" % tel)
        st = ctl(cnmuxctl, sock, "stats")
        st.pop("ok")
        check(set(tel) == set(st) | {"interval_ms"},
              "/cnmux/rates and stats differ in keys: %s" % (set(tel) ^ set(st)))
        check(r["rx"] <= 3 * 400, "rx %d/s, sent at 400/s" % r["rx"])
        # drops per second of a service: dark's are every no_active_node drop
        dark = r["services"]["dark"]
        check(dark["drops"]["no_active_node"] == r["drops"]["no_active_node"] ==
              dark["packets"] and not any(v["drops"].get("no_active_node")
                                          for v in r["nodes"].values()),
              "drops per second: dark %r, global %d, dark's packets %d"
              % (dark["drops"], r["drops"]["no_active_node"], dark["packets"]))
        check(tel["services"]["dark"]["drops"]["no_active_node"] > 0,
              "/cnmux/rates: no drops per second for dark: %r" % tel["services"]["dark"])
        text = ctl(cnmuxctl, sock, "stats", "--rate", raw=False)
        check(re.search(r"^per second, over the last \d+ ms", text, re.M) and
              re.search(r"^dns\s+[1-9]\d*\s+[1-9]\d*\s+0$", text, re.M) and
              re.search(r"^dark\s+[1-9]\d*\s+[1-9]\d*\s+no_active_node [1-9]\d*$", text, re.M),
              "stats --rate output:\n" + text)
        check(sender.wait(30) == 0, "the sender failed")
        got_a = settled()["rx"]
        check(sent_a // 2 <= got_a <= sent_a, "cnmux counted %d of the %d frames sent"
              % (got_a, sent_a))

        # 2. traffic stopped: 0 after the window has passed
        time.sleep(2.2)
        r = ctl(cnmuxctl, sock, "stats", "--rate")
        check(not nonzero_keys(r), "rates not 0 two seconds after the frames stopped: %s"
              % ", ".join(nonzero_keys(r)))
        tel = untel(telemetry(prefix, "/cnmux/rates")["/cnmux/rates"])
        check(not nonzero_keys(tel), "/cnmux/rates not 0 after the frames stopped")

        # 3. zero: stats from 0, /metrics goes on
        m = scrape_ns()
        check(m["cnmux_rx_total"] == got_a, "/metrics rx %r, stats %d" % (m["cnmux_rx_total"], got_a))
        ctl(cnmuxctl, sock, "zero")
        st = ctl(cnmuxctl, sock, "stats")
        check(st["rx"] == 0 and st["forwarded"] == 0 and st["services"]["dns"]["packets"] == 0
              and all(v["packets"] == 0 for v in st["nodes"].values()),
              "stats after zero: rx %d, dns %d" % (st["rx"], st["services"]["dns"]["packets"]))
        check(st["workers"] == 1, "a gauge (workers) zeroed")
        m = scrape_ns()
        check(m["cnmux_rx_total"] == got_a, "/metrics after zero: rx %r" % m["cnmux_rx_total"])
        sent_b = 300
        check(send(sent_b, 100).wait(30) == 0, "the sender failed")
        st = settled()
        got_b = st["rx"]
        check(sent_b // 2 <= got_b <= sent_b, "cnmux counted %d of the %d frames sent after zero"
              % (got_b, sent_b))
        check(got_b == st["forwarded"] + st["dropped"] and
              st["forwarded"] == st["services"]["dns"]["packets"] and
              st["dropped"] == st["services"]["dark"]["packets"] ==
              st["services"]["dark"]["drops"]["no_active_node"] > 0,
              "stats after zero and %d frames: rx %d, forwarded %d, dropped %d, dns %d, dark %r"
              % (sent_b, got_b, st["forwarded"], st["dropped"], st["services"]["dns"]["packets"],
                 st["services"]["dark"]))
        check(sum(v["packets"] for v in st["nodes"].values()) == st["forwarded"],
              "nodes after zero")
        m = scrape_ns()
        check(m["cnmux_rx_total"] == got_a + got_b,
              "/metrics: rx %r, stats %d before zero and %d after" % (m["cnmux_rx_total"], got_a, got_b))
        check(m['cnmux_service_packets_total{service="dns"}'] +
              m['cnmux_service_packets_total{service="dark"}'] == got_a + got_b, "/metrics dns, dark")
        check(m['cnmux_service_drops_total{reason="no_active_node",service="dark"}'] ==
              m['cnmux_service_packets_total{service="dark"}'] ==
              m['cnmux_drops_total{reason="no_active_node"}'] > 0,
              "/metrics: dark's drops %r, its packets %r, no_active_node %r"
              % (m['cnmux_service_drops_total{reason="no_active_node",service="dark"}'],
                 m['cnmux_service_packets_total{service="dark"}'],
                 m['cnmux_drops_total{reason="no_active_node"}']))

        rc = stop(proc)
        proc = None
        check(rc == 0, "cnmux exit status %d" % rc)
        sj = json.load(open(os.path.join(tmp, "stats.json")))
        check(sj["rx"] == got_b and sj["rx"] == sj["forwarded"] + sj["local"] + sj["dropped"],
              "--stats-json after zero: rx %d, stats %d" % (sj["rx"], got_b))
        fails, _ = per_id_drop_fails(sj)
        check(not fails, "--stats-json after zero: per-id drops: " + "; ".join(fails))
        out = open(os.path.join(tmp, "out.txt")).read()
        stamps = re.findall(r"^cnmux: statistics at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)$",
                            out, re.M)
        check(len(stamps) >= 4 and stamps == sorted(stamps),
              "--stats-period: %d blocks with a timestamp" % len(stamps))
        busy = re.findall(r"^  rates over the last [\d.]+ s: received ([1-9]\d*)/s", out, re.M)
        check(busy, "--stats-period: no block shows frames per second")
        check(re.search(r"^  rate service dns +[1-9]\d* packets/s", out, re.M),
              "--stats-period: no rate for service dns")
        check(re.search(r"^  rate service dark +[1-9]\d* packets/s.*\n    rate drops "
                        r"no_active_node [1-9]\d*/s$", out, re.M),
              "--stats-period: no drops per second for service dark")
        print("rates test: %s/s at most while sending at 400/s, 0 after; zero: stats %d, "
              "/metrics %d (%d and %d frames sent); %d timestamped blocks"
              % (max(busy, key=int), got_b, got_a + got_b, sent_a, sent_b, len(stamps)))
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)


def cmd_scrape(url):
    """(in the namespace) the samples of url as {name{labels}: value}"""
    status, _, _, fams = scrape(url)
    out = {}
    for f in fams:
        for s in f.samples:
            lab = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
            out[s.name + ("{%s}" % lab if lab else "")] = s.value
    json.dump(out, sys.stdout)
    return 0 if status == 200 else 1


def main(argv):
    try:
        if len(argv) == 4 and argv[1] == "replay":
            return cmd_replay(os.path.abspath(argv[2]), os.path.abspath(argv[3]))
        if len(argv) == 4 and argv[1] == "rates":
            return cmd_rates(os.path.abspath(argv[2]), os.path.abspath(argv[3]))
        if len(argv) == 5 and argv[1] == "send":
            return cmd_send(argv[2], argv[3], argv[4])
        if len(argv) == 3 and argv[1] == "scrape":
            return cmd_scrape(argv[2])
    except Fail as e:
        print("%s test FAILED: %s" % (argv[1], e))
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
