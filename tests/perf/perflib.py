# SPDX-License-Identifier: BSD-3-Clause
"""Shared pieces of the performance scripts (tests/perf/): captures written
as raw bytes (no scapy, so a bundle needs only python3), the scenarios
(capture + configuration), the EAL command lines, and the runners for cnmux
and dpdk-testpmd, natively and under callgrind.

Every scenario is a pair (capture, config). The capture is replayed with
net_pcap's infinite_rx=1: the PMD loads the whole capture into mbufs of the
program's own pool at queue set-up and copies one stored frame into a fresh
mbuf per received packet, endlessly. Both programs get the same EAL arguments,
the same vdevs and the same pool size (cnmux --mbufs, testpmd
--total-num-mbufs).
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# pcapio: tests/lib in the tree; next to this file (the script's own
# directory, on the path already) in a bundle (make_bundle.sh)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pcapio  # noqa: E402

write_pcap = pcapio.write_pcap


def read_pcap(path):
    """[(seconds, frame bytes)] of a capture, microsecond or nanosecond."""
    return pcapio.read_pcap(path, timestamps=True)


REPO = Path(__file__).resolve().parents[2]
GEN_VERSION = 4  # bump when a capture or config generator changes

PUB_MAC = bytes.fromhex("027063617000")    # net_pcap0's MAC (what the router sends to)
ROUTER_MAC = bytes.fromhex("020000000001")


def find_cnmux():
    p = os.environ.get("CNMUX") or str(REPO / "build/app/cnmux/cnmux")
    return p


def find_cnmuxctl():
    return os.environ.get("CNMUXCTL") or str(REPO / "build/app/cnmuxctl/cnmuxctl")


def find_testpmd():
    return os.environ.get("TESTPMD") or shutil.which("dpdk-testpmd") or "dpdk-testpmd"


def snapshot(prog, workdir, name):
    """Copy a program given as a plain path into workdir, so that a rebuild
    of the tree while a measurement runs cannot change what is measured;
    returns (command, sha256 of the binary or None). A command prefix (a
    bundle's loader) is used as it is."""
    import hashlib
    parts = split_cmd(prog)
    exe = shutil.which(parts[-1]) or parts[-1]
    try:
        data = Path(exe).read_bytes()
    except OSError:
        return prog, None
    h = hashlib.sha256(data).hexdigest()
    if len(parts) > 1:
        return prog, h
    d = Path(workdir) / "bin"
    d.mkdir(parents=True, exist_ok=True)
    dst = d / ("%s-%s" % (name, h[:12]))
    if not dst.exists():
        shutil.copy2(exe, dst)
    return str(dst), h


def git_describe():
    try:
        return subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True).stdout.strip() or None
    except OSError:
        return None


def split_cmd(s):
    """A program may be a command prefix (a bundle runs `ld.so --library-path
    DIR BIN`): CNMUX="A B C" is split on blanks."""
    return s.split()


# ---------------------------------------------------------------- frames

def _csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def frame4(src, dst, proto, sport, dport, payload=b"", flags=0x18, seq=1, ack=1):
    """Ethernet + IPv4 + UDP/TCP with correct checksums, padded to 60 bytes."""
    if proto == 17:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    else:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ph = src + dst + struct.pack("!BBH", 0, proto, len(l4))
    c = _csum(ph + l4)
    if proto == 17:
        c = c or 0xFFFF
        l4 = l4[:6] + struct.pack("!H", c) + l4[8:]
    else:
        l4 = l4[:16] + struct.pack("!H", c) + l4[18:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 0, 0x4000, 64, proto, 0, src, dst)
    iph = iph[:10] + struct.pack("!H", _csum(iph)) + iph[12:]
    f = PUB_MAC + ROUTER_MAC + b"\x08\x00" + iph + l4
    if len(f) < 60:
        f += b"\0" * (60 - len(f))
    return f


def client(i):
    """Client i: a distinct (address, port) for i < 2^24 * 60000."""
    a = i // 16 + 1
    addr = bytes((10, (a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF))
    return addr, 1024 + (i % 16) * 3000 + (i // 16) % 3000


class Tcp4Frames:
    """Frames of one TCP segment shape (flags, seq, ack, payload) from many
    clients to one VIP and port, fast: a template with only the client's
    address and port written per frame and both checksums adjusted by the
    difference (RFC 1624), so tens of millions are written in a minute or
    two. Byte for byte what frame4() gives."""

    def __init__(self, vip, dport, payload=b"", flags=0x18, seq=1, ack=1):
        zero = bytes(4)
        self.t = bytearray(frame4(zero, vip, 6, 0, dport, payload, flags=flags, seq=seq, ack=ack))
        self.ip_c = struct.unpack_from("!H", self.t, 24)[0]
        self.tcp_c = struct.unpack_from("!H", self.t, 50)[0]

    @staticmethod
    def _fold(v):
        v = (v & 0xFFFF) + (v >> 16)
        return (v & 0xFFFF) + (v >> 16)

    def make(self, addr, port):
        t = self.t
        w = (addr[0] << 8 | addr[1]) + (addr[2] << 8 | addr[3])
        # checksum' = ~(~checksum + added words), the template's words being 0
        ipc = (~self._fold((~self.ip_c & 0xFFFF) + w)) & 0xFFFF
        tcpc = (~self._fold((~self.tcp_c & 0xFFFF) + w + port)) & 0xFFFF
        t[24:26] = ipc.to_bytes(2, "big")
        t[26:30] = addr
        t[34:36] = port.to_bytes(2, "big")
        t[50:52] = tcpc.to_bytes(2, "big")
        return bytes(t)


# ---------------------------------------------------------------- scenarios

NODE_BASE = "192.0.2."


def nodes(n):
    return [{"name": "n%d" % i, "ip": "192.0.%d.%d" % (2 + i // 200, 10 + i % 200),
             "mac": "02:00:c0:00:%02x:%02x" % (i >> 8, i & 0xFF)} for i in range(n)]


def base_config(n_nodes, services, **extra):
    c = {"version": 1,
         "ports": {"public": "net_pcap0", "private": ["net_null0"], "local": "net_null1"},
         "nodes": nodes(n_nodes), "services": services}
    c.update(extra)
    return c


def tcp_flow_frames(conns, vip, dport, acks, rng):
    """SYNs opening `conns` connections, interleaved with `acks` ACK+PSH
    frames (6 bytes of data) of connections already opened, drawn at random:
    every stretch of the capture has the same mix, so a measurement that
    ends part-way through a pass sees the same traffic as a whole pass."""
    frames = []
    per = acks / conns
    owed = 0.0
    for i in range(conns):
        a, p = client(i)
        frames.append(frame4(a, vip, 6, p, dport, flags=0x02, seq=1000, ack=0))
        owed += per
        while owed >= 1:
            owed -= 1
            j = rng.randrange(i + 1)
            a, p = client(j)
            frames.append(frame4(a, vip, 6, p, dport, b"abcdef", flags=0x18, seq=1001, ack=1))
    return frames


class Scenario:
    """name, what the capture holds, how to make it, the config.

    A scenario with `fill` frames is replayed once (no infinite_rx: net_pcap
    reads the file as it goes, so the capture can be far larger than the
    pool): its first `fill` frames fill the forwarding list, the rest are
    the measured traffic, and a measurement window must lie between the two
    (after `fill` frames, before the end of the file)."""

    def __init__(self, name, desc, make, conns=0, capture=None, fill=0):
        self.name = name
        self.desc = desc
        self.make = make      # (rng) -> (frames (a list or an iterable), config dict)
        self.conns = conns    # TCP connections the capture opens (per queue)
        self.capture = capture or name  # whose capture files it shares
        self.fill = fill      # > 0: replayed once; frames before the measured part

    def build(self, workdir):
        """Writes NAME.pcap and NAME.json into workdir (reused when the
        generator version and name match); returns (pcap, config, frames)."""
        workdir = Path(workdir)
        pcap = workdir / ("%s.v%d.pcap" % (self.capture, GEN_VERSION))
        cfgp = workdir / ("%s.v%d.json" % (self.name, GEN_VERSION))
        meta = workdir / ("%s.v%d.meta" % (self.capture, GEN_VERSION))
        if pcap.exists() and cfgp.exists() and meta.exists():
            return pcap, json.loads(cfgp.read_text()), int(meta.read_text())
        rng = random.Random(0x636E6D78)
        frames, cfg = self.make(rng)
        n = write_pcap(pcap, frames)
        cfgp.write_text(json.dumps(cfg))
        meta.write_text(str(n))
        return pcap, cfg, n


def _udp_weighted(n_nodes, n_frames=8192, local_pct=0):
    def make(rng):
        vip = ip4("198.51.100.10")
        frames = []
        for i in range(n_frames):
            a, p = client(i)
            if local_pct and rng.random() < local_pct / 100.0:
                # non-scalable: ssh / NTP to the VIP: to the local port
                if rng.random() < 0.5:
                    frames.append(frame4(a, vip, 6, p, 22, b"abcdef", flags=0x18))
                else:
                    frames.append(frame4(a, vip, 17, p, 123, b"x" * 18))
            else:
                frames.append(frame4(a, vip, 17, p, 5000, b"x" * 18))
        w = {"n%d" % i: 1 + (i % 4) for i in range(n_nodes)} if n_nodes > 2 else \
            {"n%d" % i: 1 for i in range(n_nodes)}
        svc = [{"name": "udp", "vip": "198.51.100.10", "ports": ["5000/udp"],
                "policy": "weighted", "nodes": w}]
        return frames, base_config(n_nodes, svc)
    return make


def _udp_list(make):
    """The same frames, and the UDP flow list on for every service (an idle
    time longer than any run), with room for every flow."""
    def list_make(rng):
        frames, cfg = make(rng)
        cfg = json.loads(json.dumps(cfg))
        for s in cfg['services']:
            s['udp_timeout_s'] = 3600
        cfg['conntrack'] = {'max': 16384}
        return frames, cfg
    return list_make


QUIC_KEY = "/tmp/cnmux_perf_quic.key"


def _quic_short(mode, sid_len, nonce_len, n_frames=8192):
    """QUIC 1-RTT (short header) packets of 8,192 clients to a service with
    QUIC-LB, each on a CID of one of its 2 nodes, made by cnmux-quiclb from
    the same configuration (encrypted: a fixed key in QUIC_KEY, mode 0600)."""
    def make(rng):
        nodes_ = nodes(2)
        for i, n in enumerate(nodes_):
            n["server_id"] = ("%02x" % (0x10 + i)) * sid_len
        q = {"server_id_len": sid_len, "nonce_len": nonce_len, "mode": mode}
        if mode == "encrypted":
            fd = os.open(QUIC_KEY, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.write(fd, b"cnmux perf key!!")
            os.close(fd)
            os.chmod(QUIC_KEY, 0o600)
            q["key_file"] = QUIC_KEY
        svc = [{"name": "h3", "vip": "198.51.100.10", "ports": ["443/udp"],
                "policy": "weighted", "nodes": {"n0": 1, "n1": 1}, "quic_lb": q}]
        cfg = base_config(2, svc)
        cfg["nodes"] = nodes_
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(cfg, f)
        tool = os.environ.get("CNMUX_QUICLB") or str(REPO / "build/app/cnmux-quiclb/cnmux-quiclb")
        cids = []
        for node in ("n0", "n1"):
            out = subprocess.run([tool, "generate", "--config", f.name, "--service", "h3",
                                  "--node", node, "--count", str(n_frames // 2)],
                                 check=True, capture_output=True, text=True).stdout
            cids += [bytes.fromhex(x) for x in out.split()]
        os.unlink(f.name)
        vip = ip4("198.51.100.10")
        frames = []
        for i in range(n_frames):
            a, p = client(i)
            payload = bytes([0x41]) + cids[(i * 7919) % len(cids)] + b"\x00" * 24
            frames.append(frame4(a, vip, 17, p, 443, payload))
        return frames, cfg
    return make


def _udp_tunnel(method):
    """udp_weighted_2's frames (the same capture), its two nodes reached by
    a tunnel: the price of the method against the MAC rewrite."""
    base = _udp_weighted(2)

    def make(rng):
        frames, cfg = base(rng)
        for n in cfg["nodes"]:
            n["forward"] = method
        cfg["tunnel"] = {"source4": "192.0.2.250"}
        return frames, cfg
    return make


def _tcp_conns(n):
    acks = min(max(8 * n, 8192), 32768)
    cmax = max(1024, int(n * 1.25))

    def make(rng):
        vip = ip4("198.51.100.10")
        frames = tcp_flow_frames(n, vip, 80, acks, rng)
        svc = [{"name": "web", "vip": "198.51.100.10", "ports": ["80/tcp"],
                "policy": "weighted", "nodes": {"n0": 1, "n1": 1, "n2": 1, "n3": 1}}]
        return frames, base_config(4, svc, conntrack={
            "max": cmax, "timeout_s": 3600, "syn_s": 3600, "closing_s": 10})
    return make


def _tcp_established(n, data, max6=None):
    """`n` connections opened (SYN, then ACK: established) in client order,
    then `data` ACK+PSH frames (6 bytes of data) of connections drawn at
    random over all n: the measured part, every frame a hit of the
    forwarding list at a place in its table no cache predicts. Written
    frame by frame (never held in memory: 36M frames for 10M connections).
    `max6`: the IPv6 table's size (default: as the IPv4 one's); the
    traffic is IPv4 only, and at 10M the IPv6 table alone would take
    763 MiB, past what the EAL is given (the config budget refuses it)."""
    cmax = max(1024, int(n * 1.25))
    ct = {"max": cmax, "timeout_s": 3600, "syn_s": 3600, "closing_s": 10}
    if max6 is not None:
        ct["max6"] = max6

    def make(rng):
        vip = ip4("198.51.100.10")
        syn = Tcp4Frames(vip, 80, flags=0x02, seq=1000, ack=0)
        ack = Tcp4Frames(vip, 80, flags=0x10, seq=1001, ack=1)
        dat = Tcp4Frames(vip, 80, b"abcdef", flags=0x18, seq=1001, ack=1)

        def frames():
            for i in range(n):
                yield syn.make(*client(i))
            for i in range(n):
                yield ack.make(*client(i))
            r = rng.randrange
            for _ in range(data):
                yield dat.make(*client(r(n)))
        svc = [{"name": "web", "vip": "198.51.100.10", "ports": ["80/tcp"],
                "policy": "weighted", "nodes": {"n0": 1, "n1": 1, "n2": 1, "n3": 1}}]
        return frames(), base_config(4, svc, conntrack=ct)
    return make


def _with_ha(make):
    """The same frames, and HA on: a primary whose one peer never answers (its
    displaced-connection checkpoint, conns_tick, runs every 200 ms all the
    same). The ports are fixed: bench runs one cnmux at a time."""
    def ha_make(rng):
        frames, cfg = make(rng)
        cfg = dict(cfg)
        cfg["ha"] = {"id": "lb1", "listen": "127.0.0.1:17701", "role": "primary",
                     "peers": [{"id": "lb2", "address": "127.0.0.1:17702"}],
                     "trusted_segment": True}
        return frames, cfg
    return ha_make


def _services(n_svc, n_frames=32768):
    def make(rng):
        svcs = []
        for i in range(n_svc):
            svcs.append({"name": "s%d" % i, "vip": "198.18.%d.%d" % (i >> 8, i & 0xFF),
                         "ports": ["5000/udp"], "policy": "weighted",
                         "nodes": {"n%d" % (i % 16): 1, "n%d" % ((i + 1) % 16): 1}})
        frames = []
        for j in range(n_frames):
            s = rng.randrange(n_svc)
            a, p = client(j)
            frames.append(frame4(a, bytes((198, 18, s >> 8, s & 0xFF)), 17, p, 5000, b"x" * 18))
        return frames, base_config(16, svcs)
    return make


def _sticky_wild_mix(n_frames=16384):
    """8 VIPs, each with a weighted 80/tcp service and a sticky-wild service
    for tcp and udp (every other port: the second table, after a miss in the
    first), plus a sticky 53/udp service. 60% of the frames go to sticky-wild
    ports (half TCP connections, half UDP), 20% to weighted 80/tcp, 20% to
    sticky 53/udp. Each TCP connection starts with its SYN."""
    def make(rng):
        svcs = []
        for v in range(8):
            vip = "198.51.100.%d" % (20 + v)
            nn = {"n%d" % ((v + k) % 8): 1 + k for k in range(4)}
            svcs.append({"name": "w%d" % v, "vip": vip, "ports": ["80/tcp"],
                         "policy": "weighted", "nodes": nn})
            svcs.append({"name": "st%d" % v, "vip": vip, "ports": ["53/udp"],
                         "policy": "sticky", "nodes": nn})
            svcs.append({"name": "sw%d" % v, "vip": vip, "protocols": ["tcp", "udp"],
                         "policy": "sticky-wild", "nodes": nn})
        flows = []   # (proto, client, vip, dport)
        for i in range(4096):
            r = rng.random()
            vip = ip4("198.51.100.%d" % (20 + rng.randrange(8)))
            if r < 0.3:
                flows.append((6, i, vip, rng.randrange(1024, 65535)))
            elif r < 0.6:
                flows.append((17, i, vip, rng.randrange(1024, 65535)))
            elif r < 0.8:
                flows.append((6, i, vip, 80))
            else:
                flows.append((17, i, vip, 53))
        opened = set()
        frames = []
        while len(frames) < n_frames:
            k = rng.randrange(len(flows))
            proto, i, vip, dport = flows[k]
            a, p = client(i)
            if proto == 6 and k not in opened:
                opened.add(k)
                frames.append(frame4(a, vip, 6, p, dport, flags=0x02, seq=1000, ack=0))
            elif proto == 6:
                frames.append(frame4(a, vip, 6, p, dport, b"abcdef", flags=0x18))
            else:
                frames.append(frame4(a, vip, 17, p, dport, b"x" * 18))
        return frames, base_config(8, svcs, conntrack={
            "max": 16384, "timeout_s": 3600, "syn_s": 3600, "closing_s": 10})
    return make


SCENARIOS = {s.name: s for s in [
    Scenario("udp_weighted_2", "UDP, 8192 flows, weighted service, 2 nodes", _udp_weighted(2)),
    Scenario("udp_flows_8k", "udp_weighted_2 with the UDP flow list on (udp_timeout_s 3600): "
             "its 8192 flows recorded, then found", _udp_list(_udp_weighted(2)),
             capture="udp_weighted_2"),
    Scenario("quic_short_enc", "QUIC short headers, 8192 clients, CIDs encrypted (server ID 3 + "
             "nonce 6: the four-pass network, 3 passes), routed by server ID",
             _quic_short("encrypted", 3, 6)),
    Scenario("quic_short_enc16", "quic_short_enc with server ID 8 + nonce 8 (single-pass AES)",
             _quic_short("encrypted", 8, 8)),
    Scenario("quic_short_plain", "quic_short_enc with plaintext CIDs", _quic_short("plaintext", 3, 6)),
    Scenario("udp_weighted_64", "UDP, 8192 flows, weighted service, 64 nodes (weights 1-4)",
             _udp_weighted(64)),
    Scenario("udp_ipip_2", "udp_weighted_2 with both nodes behind IPIP (outer IPv4 header)",
             _udp_tunnel("ipip"), capture="udp_weighted_2"),
    Scenario("udp_gue_2", "udp_weighted_2 with both nodes behind GUE (outer IPv4 + UDP)",
             _udp_tunnel("gue"), capture="udp_weighted_2"),
    Scenario("tcp_conns_1k", "TCP, 1,000 connections: 1,000 SYNs and 8,192 ACK data frames",
             _tcp_conns(1000), conns=1000),
    Scenario("tcp_conns_100k", "TCP, 100,000 connections: 100,000 SYNs and 32,768 ACK data frames",
             _tcp_conns(100000), conns=100000),
    Scenario("tcp_conns_1m", "TCP, 1,000,000 connections: 1,000,000 SYNs and 32,768 ACK data frames",
             _tcp_conns(1000000), conns=1000000),
    Scenario("tcp_conns_1m_ha", "tcp_conns_1m with HA on (a primary, its peer silent): "
             "the displaced-connection checkpoint every 200 ms over 1M entries",
             _with_ha(_tcp_conns(1000000)), conns=1000000, capture="tcp_conns_1m"),
    Scenario("tcp_est_1m", "TCP, 1,000,000 established connections (SYN, ACK each: the fill), "
             "then 40M ACK+data frames at random over all of them (measured), replayed once",
             _tcp_established(1000000, 40000000), conns=1000000, fill=2000000),
    Scenario("tcp_est_64k", "TCP, 65,536 established connections (the fill: 131,072 frames), "
             "then 4M ACK+data frames at random over all of them (measured), replayed once: "
             "tcp_est_1m's path (past 8,192 entries the forwarding list is looked up in bulk) "
             "small enough for callgrind.py",
             _tcp_established(65536, 4000000), conns=65536, fill=131072),
    Scenario("tcp_est_10m", "TCP, 10,000,000 established connections (the fill: 20M frames), "
             "then 40M ACK+data frames at random over all of them (measured), replayed once",
             _tcp_established(10000000, 40000000, max6=65536), conns=10000000,
             fill=20000000),
    Scenario("services_10k", "UDP to 10,000 weighted services (distinct VIPs), 32,768 frames",
             _services(10000)),
    Scenario("sticky_wild_mix", "8 VIPs: 60% sticky-wild (TCP+UDP), 20% weighted TCP, "
             "20% sticky UDP; 16,384 frames", _sticky_wild_mix()),
    Scenario("local_10pct", "udp_weighted_2 with 10% non-scalable frames (ssh, NTP to the VIP) "
             "to the local port", _udp_weighted(2, local_pct=10)),
]}


# ---------------------------------------------------------------- command lines

# an mbuf of the default size (2,176 bytes of buffer + 128 of header) takes a
# 4 KiB page of its own with --no-huge: the pool does not let an object cross
# a page boundary when the memory is not IOVA-contiguous
MBUF_BYTES = 4160


def pool_size(frames, queues, once=False):
    """Mbufs for `queues` copies of a capture of `frames` frames plus room to
    work: infinite_rx keeps every stored frame in an mbuf of the pool. A
    capture replayed once (a scenario with a fill) is read from the file as
    it goes: room to work only."""
    return (0 if once else frames * queues) + 8192 + 1024 * queues


def mem_mb(mbufs, conns_max=0, workers=1):
    m = 256 + mbufs * MBUF_BYTES // (1 << 20) + conns_max * 70 * workers // (1 << 20)
    return int(m + 63) // 64 * 64


def eal_args(pcap, queues, mem, prefix, extra=(), lcores=None, valgrind=False, once=False,
             huge_dir=None):
    """The EAL arguments both programs get. @huge_dir: a mounted hugetlbfs
    to take the memory from instead of --no-huge (its pages reserved by
    the caller: bench.py --huge-dir)."""
    lc = lcores or "0-%d" % queues
    rx = ",".join("rx_pcap=%s" % pcap for _ in range(queues))
    mode = ["--huge-dir", huge_dir] if huge_dir else ["--no-huge"]
    a = mode + ["-m", str(mem), "--no-pci", "--lcores" if "@" in lc else "-l", lc,
         "--file-prefix", prefix,
         "--log-level=error"]
    if valgrind:
        a.append("--no-telemetry")
    a += list(extra)
    a += ["--vdev", "net_pcap0,%s%s" % (rx, "" if once else ",infinite_rx=1"),
          "--vdev", "net_null0,no-rx=1", "--vdev", "net_null1,no-rx=1"]
    return a


def cleanup_prefix(prefix):
    for d in ("/var/run/dpdk/" + prefix, "/run/dpdk/" + prefix):
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------- control socket

def ctl_request(sock_path, req, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        d = s.recv(1 << 16)
        if not d:
            break
        buf += d
    s.close()
    return json.loads(buf)


# ---------------------------------------------------------------- processes

class Proc:
    """A child whose output goes to a file; stopped with SIGINT."""
    live = set()

    def __init__(self, argv, log, env=None):
        self.log = Path(log)
        self.fh = open(self.log, "wb")
        self.p = subprocess.Popen(argv, stdout=self.fh, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        Proc.live.add(self)
        self.t0 = time.monotonic()

    def text(self):
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for(self, pattern, timeout, count=1):
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(rx.findall(self.text())) >= count:
                return True
            if self.p.poll() is not None:
                return len(rx.findall(self.text())) >= count
            time.sleep(0.05)
        return False

    def stop(self, timeout=60):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.fh.close()
        Proc.live.discard(self)
        return self.p.returncode

    @classmethod
    def kill_all(cls):
        for pr in list(cls.live):
            try:
                pr.p.kill()
                pr.p.wait(5)
            except Exception:
                pass
            cls.live.discard(pr)


def testpmd_args(mode, queues, mbufs, stats_period=1, cycles=True):
    a = ["--forward-mode=%s" % mode, "-a", "--total-num-mbufs=%d" % mbufs,
         "--nb-cores=%d" % queues, "--rxq=%d" % queues, "--txq=%d" % queues,
         "--portlist=0,1", "--stats-period", str(stats_period)]
    if cycles:
        a.append("--record-core-cycles")
    return a


def parse_testpmd(text):
    """Rx-pps samples of port 0 (and port 0's RX-packets at each sample,
    "rx_at"), final RX-packets of the forwarding statistics, cycles/packet,
    TSC MHz."""
    out = {"pps": [], "rx_at": [], "rx": None, "cycles_per_packet": None, "tsc_mhz": None}
    port = None
    rx_now = None
    for line in text.splitlines():
        m = re.search(r"NIC statistics for port (\d+)", line)
        if m:
            port = int(m.group(1))
            continue
        m = re.search(r"RX-packets:\s+(\d+)", line)
        if m and port == 0:
            rx_now = int(m.group(1))
        m = re.search(r"Rx-pps:\s+(\d+)", line)
        if m and port == 0:
            out["pps"].append(int(m.group(1)))
            out["rx_at"].append(rx_now)
    m = re.search(r"Accumulated forward statistics.*?\n\s*RX-packets:\s*(\d+)", text, re.S)
    if m:
        out["rx"] = int(m.group(1))
    m = re.search(r"CPU cycles/packet=([\d.]+).* at (\d+) MHz", text)
    if m:
        out["cycles_per_packet"] = float(m.group(1))
        out["tsc_mhz"] = int(m.group(2))
    return out


def median(v):
    v = sorted(v)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def die(msg):
    print("error: " + msg, file=sys.stderr)
    sys.exit(2)
