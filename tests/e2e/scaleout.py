#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The scale-out test (issue 12, item 5; docs/e2e.md "Scale-out behind ECMP").

    scaleout.py CNMUX CNMUXCTL WORKDIR RUNID

Run by scaleout_test.sh (which checks root and the tools, and removes what a
killed run left). Namespaces, all named after RUNID:

  so<RUNID>-c      the client: 203.0.113.10, gw 203.0.113.1
  so<RUNID>-r      the router R: BIRD 2 (AS 65000) with one BGP session per
                   instance and `merge paths` in its kernel protocol: one
                   multipath route per VIP, hashed by L4
                   (fib_multipath_hash_policy=1); a bridge br0
                   (192.0.2.1/24) for the nodes and the instances' private
                   ports, a bridge brha for the HA links
  so<RUNID>-lbN    instance N (1..3): cnmux with its public port
                   (net_af_packet on `pub`, whose peer is R's lbNp,
                   10.99.N.1/30), its private port (net_af_packet on `prv`,
                   on br0), its local port (net_tap `tap0`, 10.99.N.2/30: the
                   host's side, where BIRD, AS 65001, announces the VIPs that
                   cnmux writes to its announce file), and `ha0` (10.77.0.N/24)
  so<RUNID>-nK     node K (1..4): 192.0.2.1K, VIP on lo, gw 192.0.2.1 (DSR:
                   replies go from the node through R to the client)

For each mode (second chance off/on x HA off/on), the instances start fresh
and the client runs STREAMS long-lived connections and short ones while the
events of EVENTS happen; the breaks are attributed to the event during which
they happened (a stall to the moment the unanswered data was sent). Prints
the table and writes WORKDIR/results.json. Exit 0 when the mode with both on
broke nothing and every check of a real run held (see check_mode()).
Environment: SO_STREAMS (200), SO_SHORT_PER_S (5), SO_STALL_S (20),
SO_LIFE_S (0: streams live the whole run; N: each lives 0.5 to 1.5 x N s
and is replaced), SO_MODES (e.g. "sc+ha,off": the modes to run, default all four).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

CNMUX, CTL, WORK, RID = sys.argv[1:5]
HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
STREAMS = int(os.environ.get("SO_STREAMS", "200"))
SHORT_PER_S = float(os.environ.get("SO_SHORT_PER_S", "5"))
STALL_S = float(os.environ.get("SO_STALL_S", "20"))
# a stream's life (0: the whole run); with it, the population always holds
# streams opened between two changes (placed by a table second chance does
# not keep): docs/e2e.md says what that variant finds
LIFE_S = float(os.environ.get("SO_LIFE_S", "0"))
INTERVAL_S = 1.0
SETTLE_S = 4.0     # traffic after each event before the next one
HOLD_S = 3         # BGP hold time (keepalive 1 s)
VIP = "198.51.100.10"
CLIENT = "203.0.113.10"
PORT = 5001
NS = "so" + RID
R, C = NS + "-r", NS + "-c"
LBS = [1, 2, 3]
NODES = [1, 2, 3, 4]
ALL_MODES = [("off", 0, False), ("sc", 120, False), ("ha", 0, True), ("sc+ha", 120, True)]
ROLE = {1: "primary", 2: "secondary", 3: "slave"}

procs = {}          # name -> Popen (servers, client, cnmux per instance)
running = set()     # instances whose cnmux runs
failures = []


def log(msg):
    print("scaleout: " + msg, flush=True)


def fail(msg):
    log("FAIL: " + msg)
    failures.append(msg)


def sh(*cmd, check=True, quiet=False):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), (r.stderr or r.stdout).strip()))
    return r.stdout


def nsx(ns, *cmd, check=True):
    return sh("ip", "netns", "exec", ns, *cmd, check=check)


def lbns(n):
    return "%s-lb%d" % (NS, n)


def nodens(k):
    return "%s-n%d" % (NS, k)


def wait_for(what, fn, timeout, step=0.1):
    """Poll fn until it returns something true, at most timeout seconds."""
    end = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > end:
            raise RuntimeError("timeout (%g s): %s" % (timeout, what))
        time.sleep(step)


# ------------------------------------------------------------------- network

def offloads_off(ns, ifc):
    nsx(ns, "ethtool", "-K", ifc, "tx", "off", "rx", "off", "tso", "off", "gso", "off",
        "gro", "off", check=False)


def new_ns(ns):
    sh("ip", "netns", "add", ns)
    nsx(ns, "ip", "link", "set", "lo", "up")
    for kv in ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
               "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"):
        nsx(ns, "sysctl", "-qw", kv)


def veth(nsa, a, nsb, b, mac=None):
    cmd = ["ip", "-n", nsa, "link", "add", a]
    if mac:
        cmd += ["address", mac]
    sh(*(cmd + ["type", "veth", "peer", "name", b, "netns", nsb]))
    offloads_off(nsa, a)
    offloads_off(nsb, b)


def network_up():
    for ns in [R, C] + [lbns(n) for n in LBS] + [nodens(k) for k in NODES]:
        new_ns(ns)
    for kv in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0",
               "net.ipv4.conf.default.send_redirects=0",
               # the kernel hashes forwarded flows over a multipath route by
               # their 5-tuple: ECMP per connection, not per address pair
               "net.ipv4.fib_multipath_hash_policy=1"):
        nsx(R, "sysctl", "-qw", kv)
    nsx(R, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0", check=False)
    veth(C, "eth0", R, "cl0")
    nsx(C, "ip", "addr", "add", CLIENT + "/24", "dev", "eth0")
    nsx(C, "ip", "link", "set", "eth0", "up")
    nsx(C, "ip", "route", "add", "default", "via", "203.0.113.1")
    nsx(R, "ip", "addr", "add", "203.0.113.1/24", "dev", "cl0")
    nsx(R, "ip", "link", "set", "cl0", "up")
    for br in ("br0", "brha"):
        nsx(R, "ip", "link", "add", br, "type", "bridge", "forward_delay", "0", "stp_state", "0")
        offloads_off(R, br)
        nsx(R, "ip", "link", "set", br, "up")
    nsx(R, "ip", "addr", "add", "192.0.2.1/24", "dev", "br0")
    for n in LBS:
        ns = lbns(n)
        # public: a point-to-point subnet per instance
        veth(ns, "pub", R, "lb%dp" % n)
        nsx(R, "ip", "addr", "add", "10.99.%d.1/30" % n, "dev", "lb%dp" % n)
        nsx(R, "ip", "link", "set", "lb%dp" % n, "up")
        # private: on the node segment
        veth(ns, "prv", R, "lb%dv" % n)
        nsx(R, "ip", "link", "set", "lb%dv" % n, "master", "br0", "up")
        # HA link
        veth(ns, "ha0", R, "lb%dh" % n)
        nsx(R, "ip", "link", "set", "lb%dh" % n, "master", "brha", "up")
        nsx(ns, "ip", "addr", "add", "10.77.0.%d/24" % n, "dev", "ha0")
        for ifc in ("pub", "prv", "ha0"):
            nsx(ns, "ip", "link", "set", ifc, "up")
        # pub and prv are cnmux's: the instance's kernel stays out of them
        # (topology.sh does the same)
        for ifc in ("pub", "prv"):
            nsx(ns, "sysctl", "-qw", "net.ipv4.conf.%s.arp_ignore=8" % ifc,
                "net.ipv4.conf.%s.rp_filter=1" % ifc)
            if subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", ifc,
                               "clsact"], capture_output=True).returncode == 0:
                nsx(ns, "tc", "filter", "add", "dev", ifc, "ingress", "matchall", "action",
                    "drop", check=False)
    for k in NODES:
        ns = nodens(k)
        veth(ns, "eth0", R, "n%d" % k, mac=node_mac(k))
        nsx(R, "ip", "link", "set", "n%d" % k, "master", "br0", "up")
        for kv in ("net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
                   "net.ipv4.conf.eth0.arp_ignore=1", "net.ipv4.conf.eth0.arp_announce=2",
                   "net.ipv4.conf.eth0.rp_filter=0", "net.ipv4.conf.lo.rp_filter=0"):
            nsx(ns, "sysctl", "-qw", kv)
        nsx(ns, "ip", "addr", "add", "192.0.2.1%d/24" % k, "dev", "eth0")
        nsx(ns, "ip", "link", "set", "eth0", "up")
        nsx(ns, "ip", "addr", "add", VIP + "/32", "dev", "lo")
        nsx(ns, "ip", "route", "add", "default", "via", "192.0.2.1")
        out = open(os.path.join(WORK, "n%d.log" % k), "w")
        procs["n%d" % k] = subprocess.Popen(
            ["ip", "netns", "exec", ns, PY, os.path.join(HERE, "scaleout_traffic.py"),
             "server", "node%d" % k, str(PORT)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    for k in NODES:
        wait_for("node%d listens" % k,
                 lambda: nsx(nodens(k), "ss", "-H", "-tln", "sport = :%d" % PORT).strip(), 15)
    # R's BIRD: one session per instance, ECMP into the kernel
    bgp = "hold time %d; keepalive time 1; connect delay time 1; connect retry time 1; " \
          "error wait time 1, 2;" % HOLD_S
    conf = ['log "%s/r.log" all;' % WORK, "router id 10.99.0.1;", "protocol device {}",
            "protocol kernel {", "    ipv4 { import none; export all; };",
            "    merge paths yes limit 8;", "}"]
    for n in LBS:
        conf += ["protocol bgp lb%d {" % n,
                 "    local 10.99.%d.1 as 65000;" % n,
                 "    neighbor 10.99.%d.2 as 65001;" % n,
                 "    " + bgp,
                 "    ipv4 { import all; export none; };", "}"]
    with open(os.path.join(WORK, "r.conf"), "w") as f:
        f.write("\n".join(conf) + "\n")
    nsx(R, "bird", "-c", os.path.join(WORK, "r.conf"), "-s", os.path.join(WORK, "r.ctl"),
        "-P", os.path.join(WORK, "r.pid"))


def node_mac(k):
    return "02:00:c0:00:02:%02x" % (10 + k)


def nexthops():
    """R's kernel next-hops for the VIP (the instances' 10.99.N.2)."""
    out = sh("ip", "-n", R, "-j", "route", "show", VIP + "/32", check=False)
    try:
        routes = json.loads(out) if out.strip() else []
    except ValueError:
        return []
    hops = []
    for rt in routes:
        if "nexthops" in rt:
            hops += [h.get("gateway") for h in rt["nexthops"]]
        elif rt.get("gateway"):
            hops.append(rt["gateway"])
    return sorted(hops)


def want_hops(lbs):
    return sorted("10.99.%d.2" % n for n in lbs)


def wait_hops(lbs, what, timeout=30):
    t0 = time.time()
    wait_for("R's route to %s via %s (%s); it has %s" % (VIP, want_hops(lbs), what, nexthops()),
             lambda: nexthops() == want_hops(lbs), timeout)
    return time.time() - t0


# ------------------------------------------------------------------- instances

def config(n, state, sc, ha):
    nodes = [{"name": "node%d" % k, "ip": "192.0.2.1%d" % k, "mac": node_mac(k)}
             for k in NODES if k in state["nodes"]]
    c = {
        "version": 1,
        "ports": {"public": "net_af_packet0", "private": ["net_af_packet1"],
                  "local": "net_tap0"},
        "nodes": nodes,
        "services": [
            {"name": "web", "vip": VIP, "ports": ["%d/tcp" % PORT], "policy": "weighted",
             "nodes": {"node%d" % k: w for k, w in sorted(state["web"].items())}},
            # the service the port changes touch: not the streams'
            {"name": "other", "vip": VIP, "ports": state["other_ports"], "policy": "weighted",
             "nodes": {"node1": 1, "node2": 1, "node3": 1}},
        ],
        "second_chance_s": sc,
        "conntrack": {"timeout_s": 600},
        "control": {"socket": sock(n)},
        "announce": {"file4": os.path.join(WORK, "lb%d.vips4" % n),
                     "command": "birdc -s %s configure" % bird_ctl(n)},
    }
    if ha:
        c["ha"] = {"id": "lb%d" % n, "listen": "10.77.0.%d:7700" % n, "role": ROLE[n],
                   "peers": [{"id": "lb%d" % p, "address": "10.77.0.%d:7700" % p}
                             for p in LBS if p != n],
                   # the slowest allowed: three busy-polling instances
                   # share this machine's two CPUs with whatever else runs
                   # (a CI run, ASan): a holder late by a second is not dead
                   "heartbeat_ms": 200, "failover_ms": 1000, "ack_timeout_ms": 2000,
                   "key_file": os.path.join(WORK, "ha.key")}
    path = os.path.join(WORK, "lb%d.json" % n)
    with open(path, "w") as f:
        json.dump(c, f, indent=1)
    return path


def sock(n):
    return os.path.join(WORK, "lb%d.sock" % n)


def bird_ctl(n):
    return os.path.join(WORK, "lb%d.bird.ctl" % n)


def ctl(n, *args, timeout=20):
    r = subprocess.run([CTL, "-s", sock(n), "-j"] + list(args), capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("cnmuxctl lb%d %s: %s" % (n, " ".join(args),
                                                     (r.stderr or r.stdout).strip()))
    return json.loads(r.stdout) if r.stdout.strip() else {}


def try_ctl(n, *args):
    try:
        return ctl(n, *args, timeout=5)
    except (RuntimeError, ValueError, subprocess.TimeoutExpired):
        return None


def start_lb(n, mode):
    """cnmux in lbN, then (once it is ready) its BIRD."""
    ns = lbns(n)
    path = config(n, mode["state"], mode["sc"], mode["ha"])
    gen = mode["gen"][n] = mode["gen"].get(n, 0) + 1
    out = open(os.path.join(WORK, "%s.lb%d.%d.log" % (mode["name"], n, gen)), "w")
    # ip netns exec execs cnmux: the pid (and SIGKILL) are cnmux's own
    procs["lb%d" % n] = subprocess.Popen(
        ["ip", "netns", "exec", ns, CNMUX, "--no-huge", "-m", "256", "--no-pci",
         # both lcores may run on either CPU: three instances on a small
         # machine share its CPUs instead of all spinning on CPU 1
         "--lcores", "0@(0,1),1@(0,1)", "--file-prefix", "cnmso%slb%d" % (RID, n),
         "--log-level=lib.*:error", "--log-level=pmd.*:error", "--log-level=user*:error",
         "--vdev", "net_af_packet0,iface=pub,qpairs=1",
         "--vdev", "net_af_packet1,iface=prv,qpairs=1",
         # a fixed MAC: R's neighbour entry for 10.99.N.2 stays right across
         # a restart (a new tap would otherwise have a new MAC)
         "--vdev", "net_tap0,iface=tap0,mac=02:00:0a:63:%02x:02" % n,
         "--", "--config", path, "--quiet"],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    running.add(n)

    def ready():
        if procs["lb%d" % n].poll() is not None:
            raise RuntimeError("cnmux lb%d exited (%s)" % (n, out.name))
        return try_ctl(n, "stats") is not None
    wait_for("cnmux lb%d answers" % n, ready, 60)
    nsx(ns, "ethtool", "-K", "tap0", "tx", "off", "rx", "off", check=False)
    nsx(ns, "sysctl", "-qw", "net.ipv4.conf.tap0.rp_filter=0")
    nsx(ns, "ip", "addr", "replace", "10.99.%d.2/30" % n, "dev", "tap0")
    nsx(ns, "ip", "link", "set", "tap0", "up")
    if mode["ha"]:
        # a holder announces only once it holds the cluster's state: the
        # primary's tables and the displaced connections (a (re)joining
        # holder is sent all of them at once, docs/ha.md)
        wait_for("lb%d in sync" % n, lambda: in_sync(n), 30)
        # and it has been sent the displaced connections since: every
        # holder sends all of them when one (re)joins and every 5 s
        # (docs/ha.md); one CONNS message received after the snapshot
        r0 = conns_received(try_ctl(n, "ha", "status") or {})
        if mode.get("traffic") and any(p != n for p in running):
            try:
                wait_for("lb%d receives the displaced connections" % n,
                         lambda: conns_received(try_ctl(n, "ha", "status") or {}) > r0, 15)
            except RuntimeError:
                # none displaced anywhere: nothing is sent
                log("%s: lb%d received no displaced connection in 15 s" % (mode["name"], n))
    start_bird(n)


def in_sync(n):
    st = try_ctl(n, "ha", "status")
    if not st:
        return False
    prim = st.get("primary")
    if st.get("role") == "primary":
        return True
    if not prim:
        return False
    p = int(prim[2:])
    ps = try_ctl(p, "ha", "status")
    if not ps or ps.get("digest") != st.get("digest"):
        return False
    return st.get("epoch") == ps.get("epoch")


def conns_received(st):
    return st.get("counters", {}).get("conns_inserted", 0)


def start_bird(n):
    with open(os.path.join(WORK, "lb%d.bird.conf" % n), "w") as f:
        f.write("""log "%(w)s/lb%(n)d.bird.log" all;
router id 10.99.%(n)d.2;
protocol device {}
protocol static cnmux_vips4 {
    ipv4;
include "%(w)s/lb%(n)d.vips4";
}
protocol bgp upstream {
    local 10.99.%(n)d.2 as 65001;
    neighbor 10.99.%(n)d.1 as 65000;
    hold time %(h)d; keepalive time 1; connect delay time 1; connect retry time 1;
    error wait time 1, 2;
    ipv4 { import none; export where proto = "cnmux_vips4"; next hop self; };
}
""" % {"w": WORK, "n": n, "h": HOLD_S})
    nsx(lbns(n), "bird", "-c", os.path.join(WORK, "lb%d.bird.conf" % n), "-s", bird_ctl(n),
        "-P", os.path.join(WORK, "lb%d.bird.pid" % n))


def stop_bird(n):
    """BIRD down: it closes its session (a Cease), R withdraws at once."""
    pidf = os.path.join(WORK, "lb%d.bird.pid" % n)
    sh("birdc", "-s", bird_ctl(n), "down", check=False)
    try:
        pid = int(open(pidf).read())
        wait_for("BIRD of lb%d exits" % n, lambda: not os.path.exists("/proc/%d" % pid), 10)
    except (OSError, ValueError):
        pass


def kill_bird(n):
    try:
        os.kill(int(open(os.path.join(WORK, "lb%d.bird.pid" % n)).read()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def stop_lb(n, mode, abrupt=False):
    p = procs.pop("lb%d" % n, None)
    st = try_ctl(n, "stats")
    if st:
        mode["fwd"][n] = mode["fwd"].get(n, 0) + st.get("forwarded", 0)
    if p:
        p.send_signal(signal.SIGKILL if abrupt else signal.SIGINT)
        try:
            rc = p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
            fail("%s: cnmux lb%d did not stop within 30 s of SIGINT" % (mode["name"], n))
        # a clean stop exits 0 (an ASan or UBSan report would not)
        if not abrupt and rc != 0:
            fail("%s: cnmux lb%d exited with status %d after SIGINT" % (mode["name"], n, rc))
    running.discard(n)
    shutil.rmtree("/var/run/dpdk/cnmso%slb%d" % (RID, n), ignore_errors=True)


def reload_all(mode):
    """A change: the same configuration reloaded on every instance (HA off),
    or on the primary, which replicates it (HA on)."""
    targets = [primary()] if mode["ha"] else sorted(running)
    for n in targets:
        path = config(n, mode["state"], mode["sc"], mode["ha"])
        try:
            ctl(n, "reload", path)
        except RuntimeError as e:
            # applied on the primary but not acknowledged in time: it
            # replicates all the same (checked below); said in the report
            if not mode["ha"] or "not acknowledged" not in str(e):
                raise
            mode["warnings"].append(str(e))
            log("%s: warning: %s" % (mode["name"], e))
    if mode["ha"]:
        wait_for("every holder has the primary's digest", digests_agree, 15)


def primary():
    for n in sorted(running):
        st = try_ctl(n, "ha", "status")
        if st and st.get("role") == "primary":
            return n
    raise RuntimeError("no primary among %s" % sorted(running))


def digests_agree():
    ds = set()
    for n in running:
        st = try_ctl(n, "ha", "status")
        if not st:
            return False
        ds.add((st.get("digest"), st.get("epoch")))
    return len(ds) == 1


# ------------------------------------------------------------------- traffic

def client_status(mode):
    try:
        with open(os.path.join(mode["dir"], "status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def wait_traffic(mode, since, what):
    """Every open stream has had an acknowledgement after `since` (its data
    went through the network as it is now)."""
    def ok():
        st = client_status(mode)
        # (a few streams are between two lives at any moment)
        return (st and st["open"] >= STREAMS * 0.95 and st["oldest_ack"] and
                st["oldest_ack"] > since)
    wait_for("every stream acknowledged after %s" % what, ok, STALL_S + 30, step=0.25)


def event(mode, name, fn):
    t0 = time.time()
    mode["events"].append({"name": name, "t": t0})
    info = fn() or ""
    wait_traffic(mode, time.time(), name)
    time.sleep(SETTLE_S)
    log("%s: %s done in %.1f s %s" % (mode["name"], name, time.time() - t0, info))


def run_mode(name, sc, ha):
    mode = {"name": name, "sc": sc, "ha": ha, "events": [], "gen": {}, "fwd": {}, "warnings": [],
            "dir": os.path.join(WORK, name), "hops_seen": set(),
            "state": {"nodes": [1, 2, 3], "web": {1: 1, 2: 1, 3: 1},
                      "other_ports": ["6000/tcp"]}}
    os.makedirs(mode["dir"])
    log("mode %s: second_chance_s %d, HA %s" % (name, sc, "on" if ha else "off"))
    t_mode = time.time()
    for n in (1, 2):
        start_lb(n, mode)
    wait_hops([1, 2], "lb1 and lb2 announce")
    out = open(os.path.join(mode["dir"], "client.json"), "w")
    procs["client"] = subprocess.Popen(
        ["ip", "netns", "exec", C, PY, os.path.join(HERE, "scaleout_traffic.py"), "client",
         VIP, str(PORT), CLIENT, str(STREAMS), str(INTERVAL_S), str(STALL_S), str(SHORT_PER_S),
         str(LIFE_S), mode["dir"]], stdout=out, stderr=open(os.path.join(mode["dir"], "client.err"), "w"),
        stdin=subprocess.DEVNULL)
    mode["traffic"] = True
    mode["events"].append({"name": "start", "t": time.time()})
    wait_traffic(mode, time.time(), "start")
    # the streams run on the first table for a while before the first
    # change: the table second chance keeps is the one in force the longest
    time.sleep(2 * SETTLE_S)
    st = mode["state"]

    def drain():
        st["web"][1] = 0
        reload_all(mode)

    def add_instance():
        start_lb(3, mode)
        return "(R: 3 next-hops after %.1f s)" % wait_hops([1, 2, 3], "lb3 added")

    def add_node():
        st["nodes"].append(4)
        st["web"][4] = 1
        reload_all(mode)

    def remove_instance():
        # graceful: withdraw (BIRD down), R moves lb1's flows, then stop cnmux
        stop_bird(1)
        t = wait_hops([2, 3], "lb1 withdrawn")
        stop_lb(1, mode)
        return "(R: lb1 withdrawn after %.1f s)" % t

    def weights():
        st["web"].update({2: 3, 3: 1, 4: 2})
        reload_all(mode)

    def restart():
        # abrupt: SIGKILL cnmux and BIRD; R withdraws after the hold time
        stop_lb(3, mode, abrupt=True)
        kill_bird(3)
        t1 = wait_hops([2], "lb3 gone (hold time)")
        start_lb(3, mode)
        t2 = wait_hops([2, 3], "lb3 back")
        return "(R: withdrawn after %.1f s, back after %.1f s more)" % (t1, t2)

    def port_add():
        st["other_ports"] = ["6000/tcp", "6001/tcp"]
        reload_all(mode)

    def port_del():
        st["other_ports"] = ["6001/tcp"]
        reload_all(mode)

    try:
        for ev, fn in (("drain node1", drain), ("add instance lb3", add_instance),
                       ("add node4", add_node), ("remove lb1 (graceful)", remove_instance),
                       ("change weights", weights), ("restart lb3 (abrupt)", restart),
                       ("reload: port added", port_add), ("reload: port removed", port_del)):
            event(mode, ev, fn)
    except RuntimeError as e:
        fail("%s: %s" % (name, e))
    # the end: every stream closes and checks the server's total
    mode["events"].append({"name": "end", "t": time.time()})
    open(os.path.join(mode["dir"], "stop"), "w").close()
    try:
        procs["client"].wait(STALL_S + 30)
    except subprocess.TimeoutExpired:
        fail("%s: the client did not finish" % name)
        procs["client"].kill()
        procs["client"].wait()
    del procs["client"]
    for n in sorted(running):
        ev = "" if not mode["ha"] else json.dumps(try_ctl(n, "ha", "status").get("counters", {}))
        s = try_ctl(n, "stats") or {}
        mode.setdefault("sc_counts", {})[n] = (s.get("second_chance", 0),
                                               s.get("second_chance_failed", 0))
        stop_bird(n)
        stop_lb(n, mode)
    wait_for("R without routes", lambda: nexthops() == [], 30)
    mode["duration"] = time.time() - t_mode
    try:
        with open(os.path.join(mode["dir"], "client.json")) as f:
            mode["client"] = json.load(f)
    except (OSError, ValueError) as e:
        fail("%s: no client result (%s)" % (name, e))
        mode["client"] = {"streams": [], "shorts": []}
    return mode


def attribute(mode):
    """Broken streams and failed shorts per event (the last event begun
    before the break)."""
    evs = mode["events"]
    names = [e["name"] for e in evs]
    table = {e: {"streams": 0, "shorts": 0} for e in names}
    kinds = {}

    def at(t):
        k = names[0]
        for e in evs:
            if e["t"] <= t:
                k = e["name"]
        return k
    for s in mode["client"]["streams"]:
        if s["kind"]:
            table[at(s["t_break"])]["streams"] += 1
            kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
    for s in mode["client"]["shorts"]:
        if not s["ok"]:
            table[at(s["t"])]["shorts"] += 1
            kinds["short " + str(s["kind"])] = kinds.get("short " + str(s["kind"]), 0) + 1
    # streams that carried data during each event (an acknowledgement
    # between its start and the next event's)
    carried = {}
    for i, e in enumerate(evs[:-1]):
        t0, t1 = e["t"], evs[i + 1]["t"]
        carried[e["name"]] = sum(1 for s in mode["client"]["streams"]
                                 if any(t0 <= a < t1 for a in s["acks"]))
    return table, kinds, carried


def check_mode(mode, table, kinds, carried):
    """What makes the run real; and, in sc+ha, nothing broken."""
    name = mode["name"]
    streams = mode["client"]["streams"]
    nodes = {s["node"] for s in streams if s["node"]}
    if len(streams) < STREAMS:
        fail("%s: %d streams opened, expected %d" % (name, len(streams), STREAMS))
    for e, c in carried.items():
        if c < STREAMS * 0.9:
            fail("%s: only %d streams carried data during '%s'" % (name, c, e))
    for n in LBS:
        if mode["fwd"].get(n, 0) < 100:
            fail("%s: lb%d forwarded %d packets" % (name, n, mode["fwd"].get(n, 0)))
    if not {"node1", "node2", "node3"} <= nodes:
        fail("%s: streams reached only %s" % (name, sorted(nodes)))
    shorts_ok = [s for s in mode["client"]["shorts"] if s["ok"]]
    if not any(s["node"] == "node4" for s in shorts_ok):
        fail("%s: no short connection reached node4 after it was added" % name)
    if name == "sc+ha":
        broken = sum(v["streams"] + v["shorts"] for v in table.values())
        if broken:
            fail("%s: %d connections broke (%s)" % (name, broken, kinds))


def main():
    modes = os.environ.get("SO_MODES")
    todo = [m for m in ALL_MODES if not modes or m[0] in modes.split(",")]
    fd = os.open(os.path.join(WORK, "ha.key"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, os.urandom(32))
    os.close(fd)
    t0 = time.time()
    network_up()
    log("network up in %.1f s (namespaces %s-*)" % (time.time() - t0, NS))
    results = []
    for name, sc, ha in todo:
        mode = run_mode(name, sc, ha)
        table, kinds, carried = attribute(mode)
        check_mode(mode, table, kinds, carried)
        results.append((mode, table, kinds, carried))
        log("%s: %.0f s, %d streams opened, %d shorts, forwarded %s, second_chance %s, "
            "breaks by kind %s" % (
                mode["name"], mode["duration"], len(mode["client"]["streams"]),
                len(mode["client"]["shorts"]), mode["fwd"], mode.get("sc_counts"), kinds))
    print_table(results)
    with open(os.path.join(WORK, "results.json"), "w") as f:
        json.dump([{"mode": m["name"], "table": t, "kinds": k, "carried": c,
                    "duration": m["duration"]} for m, t, k, c in results], f, indent=1)
    log("%.0f s in all, %d failure(s)" % (time.time() - t0, len(failures)))
    return 1 if failures else 0


def print_table(results):
    if not results:
        return
    evs = [e["name"] for e in results[0][0]["events"] if e["name"] != "end"]
    head = ["event"] + ["%s (streams/shorts)" % m["name"] for m, _, _, _ in results]
    rows = [[e] + ["%d / %d" % (t[e]["streams"], t[e]["shorts"]) if e in t else "-"
                   for _, t, _, _ in results] for e in evs]
    rows.append(["total"] + ["%d / %d" % (sum(v["streams"] for v in t.values()),
                                          sum(v["shorts"] for v in t.values()))
                             for _, t, _, _ in results])
    rows.append(["connections"] + ["%d / %d" % (len(m["client"]["streams"]),
                                                len(m["client"]["shorts"]))
                                   for m, _, _, _ in results])
    w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    print("| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(head)) + " |")
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |")


if __name__ == "__main__":
    try:
        rc = main()
    except Exception as e:  # the shell's trap cleans up; say what went wrong
        log("FAIL: %s: %s" % (type(e).__name__, e))
        rc = 1
    finally:
        for p in list(procs.values()):
            try:
                p.kill()
                p.wait(5)
            except OSError:
                pass
    sys.exit(rc)
