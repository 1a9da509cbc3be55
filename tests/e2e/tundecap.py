#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""User-space decapsulator for cnmux's tunnel forwarding methods (docs/forwarding.md).

Runs in a node's network namespace where the kernel cannot decapsulate (no
ipip, ip6_tunnel or fou module). It receives the tunnelled packets addressed
to the node, checks what it strips and writes the inner IP packet to a TUN
device, so that the node's kernel takes it in as if it had arrived there (the
VIP sits on the node's loopback; rp_filter off on the TUN).

  tundecap.py --tun NAME --counts FILE [--name NODE] [--gue-port 6080]
              [--src PREFIX]...

  IPIP      raw socket(AF_INET, SOCK_RAW, 4)    IPv4 in IPv4 (RFC 2003)
            raw socket(AF_INET, SOCK_RAW, 41)   IPv6 in IPv4
            raw socket(AF_INET6, SOCK_RAW, 41)  IPv6 in IPv6 (RFC 2473)
            raw socket(AF_INET6, SOCK_RAW, 4)   IPv4 in IPv6
  GUE       UDP sockets on GUE_PORT, IPv4 and IPv6: variant 1, the payload
            is the inner IP packet (first nibble 4 or 6)

A raw socket for a protocol also stops the kernel from answering the outer
packet with ICMP "protocol unreachable" / ICMPv6 "parameter problem" (Linux
sends those only when neither a protocol handler nor a raw socket took the
packet). An IPv4 raw socket for UDP watches the outer headers of IPv4 GUE
packets (DF, identification, the zero UDP checksum), which the UDP socket
does not show.

Every packet is checked: the outer header (version, length, protocol, header
checksum, no fragment, source inside a --src prefix when given), the inner
packet (version nibble of the method, header length, total / payload length =
what is left, IPv4 header checksum). A packet that fails is dropped and
counted under "bad". Packets that pass but where the outer header is not what
docs/forwarding.md says (TOS / traffic class not copied, identification, DF,
GUE source port outside 49152..65535, a non-zero UDP checksum over IPv4, one
inner flow seen with two outer sources / ports / flow labels) are delivered
and counted under "deviations".

The counts are JSON in FILE: written at start (the test waits for it), on
SIGUSR1, and on SIGTERM / SIGINT, when they are also printed on stdout and the
program exits 0:

  {"node": NODE, "ready": true, "decap": {"ipip4": n, "ip6in4": n,
   "ip6ip6": n, "ip4in6": n, "gue4": n, "gue6": n}, "inner": {"4": n, "6": n},
   "delivered": n, "bytes": n, "max_inner": LARGEST INNER PACKET, "bad": {REASON: n}, "deviations": {REASON: n},
   "outer_src": {ADDR: n}, "outer_ttl": {TTL: n}, "gue_sports": n,
   "flow_labels": n, "tun_out": n, "tun_write_errors": n,
   "socket_drops": PACKETS THE KERNEL DROPPED AT A FULL SOCKET QUEUE (SO_RXQ_OVFL)}

The same program makes hand-made tunnelled packets, to check a node's
decapsulation and its return path without cnmux (tunnel_test.sh's test 0):

  tundecap.py send KIND OUTER_SRC OUTER_DST INNER_SRC INNER_DST [COUNT]

KIND is one of ipip4 ip6in4 ip6ip6 ip4in6 gue4 gue6, optionally with @N: the
outer protocol / next header N instead of 4 or 41 (ipip4@47), or UDP port N
instead of 6080 (gue4@6081): packets that no decapsulator takes, which the
node's kernel answers with an ICMP error (the test's negative control).
The inner packet is an
ICMP / ICMPv6 echo request from INNER_SRC to INNER_DST, the outer header is
what docs/forwarding.md says cnmux sends (TTL / hop limit 64, TOS copied,
identification = inner identification, DF, GUE source port 49152 + i, zero
UDP checksum over IPv4). Sent from a raw socket (IPPROTO_RAW: the header is
ours, so OUTER_SRC may be an address of no interface).

Standard library only.
"""
import argparse
import errno
import fcntl
import ipaddress
import json
import os
import selectors
import signal
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

# <linux/in.h>, <linux/in6.h>: not all in Python's socket module
IP_TOS = 1
IP_TTL = 2
IP_PKTINFO = 8
IP_RECVTTL = 12
IP_RECVTOS = 13
SO_RCVBUFFORCE = 33
SO_RXQ_OVFL = 40
IPV6_FLOWINFO = 11
IPV6_RECVPKTINFO = 49
IPV6_PKTINFO = 50
IPV6_RECVHOPLIMIT = 51
IPV6_HOPLIMIT = 52
IPV6_RECVTCLASS = 66
IPV6_TCLASS = 67

PROTO_IPIP = 4
PROTO_IPV6 = 41


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s ^ 0xFFFF


class Decap:
    def __init__(self, args):
        self.args = args
        self.src_nets = [ipaddress.ip_network(p, strict=False) for p in args.src]
        self.c = {
            "node": args.name, "ready": False,
            "decap": {k: 0 for k in ("ipip4", "ip6in4", "ip6ip6", "ip4in6", "gue4", "gue6")},
            "inner": {"4": 0, "6": 0}, "delivered": 0, "bytes": 0,
            "bad": {}, "deviations": {}, "outer_src": {}, "outer_ttl": {},
            "gue_sports": 0, "flow_labels": 0, "tun_out": 0, "tun_write_errors": 0,
            "sockets": [], "writes": 0, "max_inner": 0, "socket_drops": 0,
        }
        # socket -> packets the kernel dropped at its full receive queue
        self.ovfl = {}
        # inner flow -> what the outer header said about it (entropy)
        self.flows = {}
        self.sports = set()
        self.labels = set()
        self.sel = selectors.DefaultSelector()
        self.stop = False
        self.dump = False

    # ---------------------------------------------------------------- counts
    def bump(self, group, key, n=1):
        d = self.c[group]
        key = str(key)
        d[key] = d.get(key, 0) + n

    def bad(self, reason):
        self.bump("bad", reason)
        return None

    def deviation(self, reason):
        self.bump("deviations", reason)

    def write_counts(self):
        self.c["writes"] += 1
        self.c["gue_sports"] = len(self.sports)
        self.c["flow_labels"] = len(self.labels)
        tmp = self.args.counts + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.c, f, sort_keys=True)
        os.replace(tmp, self.args.counts)

    # ------------------------------------------------------------- set-up
    def open_tun(self):
        fd = os.open("/dev/net/tun", os.O_RDWR)
        ifr = struct.pack("16sH22x", self.args.tun.encode(), IFF_TUN | IFF_NO_PI)
        fcntl.ioctl(fd, TUNSETIFF, ifr)
        os.set_blocking(fd, False)
        self.tun = fd
        self.sel.register(fd, selectors.EVENT_READ, ("tun", None))

    def add(self, fam, typ, proto, kind, setup=None, bind=None):
        try:
            s = socket.socket(fam, typ, proto)
            # room for a burst while this process waits for a CPU; what
            # overflows all the same is counted (SO_RXQ_OVFL: "socket_drops")
            try:
                s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
            except OSError:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            if kind != "gue4hdr":
                s.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
            if setup:
                setup(s)
            if bind is not None:
                s.bind(bind)
        except OSError as e:
            # IPv6 may be off in the namespace: say so in the counts
            self.c["sockets"].append("%s: %s" % (kind, e.strerror))
            return
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, (kind, s))
        self.c["sockets"].append("%s: ok" % kind)

    def open_sockets(self):
        def v4opts(s):
            s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            s.setsockopt(socket.IPPROTO_IP, IP_RECVTOS, 1)

        def v6opts(s):
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVTCLASS, 1)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_FLOWINFO, 1)

        def udp6(s):
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            v6opts(s)

        def udp4(s):
            v4opts(s)

        port = self.args.gue_port
        self.add(socket.AF_INET, socket.SOCK_RAW, PROTO_IPIP, "ipip4")
        self.add(socket.AF_INET, socket.SOCK_RAW, PROTO_IPV6, "ip6in4")
        self.add(socket.AF_INET6, socket.SOCK_RAW, PROTO_IPV6, "ip6ip6", v6opts)
        self.add(socket.AF_INET6, socket.SOCK_RAW, PROTO_IPIP, "ip4in6", v6opts)
        self.add(socket.AF_INET, socket.SOCK_DGRAM, 0, "gue4", udp4, ("0.0.0.0", port))
        self.add(socket.AF_INET6, socket.SOCK_DGRAM, 0, "gue6", udp6, ("::", port))
        self.add(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP, "gue4hdr")

    # ------------------------------------------------------------ checks
    def src_ok(self, addr):
        if not self.src_nets:
            return True
        a = ipaddress.ip_address(addr)
        return any(a in n for n in self.src_nets)

    def inner_check(self, inner, want):
        """want: 4, 6 or None (GUE: the nibble says). Returns (version, flow key) or None."""
        if not inner:
            return self.bad("inner_empty")
        v = inner[0] >> 4
        if want is not None and v != want:
            return self.bad("inner_version_%d_expected_%d" % (v, want))
        if v == 4:
            if len(inner) < 20:
                return self.bad("inner4_short")
            ihl = (inner[0] & 0xF) * 4
            tot = struct.unpack_from("!H", inner, 2)[0]
            if ihl < 20 or ihl > len(inner):
                return self.bad("inner4_ihl")
            if tot != len(inner):
                return self.bad("inner4_total_length")
            if csum(inner[:ihl]) != 0:
                return self.bad("inner4_header_checksum")
            proto = inner[9]
            ports = inner[ihl:ihl + 4] if proto in (6, 17) else b""
            return 4, (inner[12:20], proto, bytes(ports))
        if v == 6:
            if len(inner) < 40:
                return self.bad("inner6_short")
            plen = struct.unpack_from("!H", inner, 4)[0]
            if 40 + plen != len(inner):
                return self.bad("inner6_payload_length")
            nh = inner[6]
            ports = inner[40:44] if nh in (6, 17) else b""
            return 6, (inner[8:40], nh, bytes(ports))
        return self.bad("inner_version_%d" % v)

    @staticmethod
    def inner_tos(inner):
        if inner[0] >> 4 == 4:
            return inner[1]
        return ((inner[0] & 0xF) << 4) | (inner[1] >> 4)

    def entropy(self, flow, value, what):
        """one inner flow, one outer source / port / label (docs/forwarding.md)"""
        key = (what, flow)
        old = self.flows.setdefault(key, value)
        if old != value:
            self.deviation("%s_changed_within_a_flow" % what)

    def deliver(self, kind, inner, ver, outer_src, ttl):
        try:
            os.write(self.tun, inner)
        except OSError as e:
            self.c["tun_write_errors"] += 1
            self.bump("bad", "tun_write_%s" % errno.errorcode.get(e.errno, e.errno))
            return
        self.c["decap"][kind] += 1
        self.c["inner"][str(ver)] += 1
        self.c["delivered"] += 1
        self.c["bytes"] += len(inner)
        if len(inner) > self.c["max_inner"]:
            self.c["max_inner"] = len(inner)
        self.bump("outer_src", outer_src)
        if ttl is not None:
            self.bump("outer_ttl", ttl)

    def outer4(self, pkt, proto):
        """an IPv4 packet from a raw socket: (header length, source) or None"""
        if len(pkt) < 20 or pkt[0] >> 4 != 4:
            return self.bad("outer4_version")
        ihl = (pkt[0] & 0xF) * 4
        if ihl < 20 or ihl > len(pkt):
            return self.bad("outer4_ihl")
        if struct.unpack_from("!H", pkt, 2)[0] != len(pkt):
            return self.bad("outer4_total_length")
        if pkt[9] != proto:
            return self.bad("outer4_protocol_%d" % pkt[9])
        if csum(pkt[:ihl]) != 0:
            return self.bad("outer4_header_checksum")
        if struct.unpack_from("!H", pkt, 6)[0] & 0x3FFF:
            return self.bad("outer4_fragment")
        src = socket.inet_ntop(socket.AF_INET, pkt[12:16])
        if not self.src_ok(src):
            return self.bad("outer_source_not_allowed")
        if ihl != 20:
            self.deviation("outer4_ihl_not_5")
        return ihl, src

    def outer4_spec(self, pkt, inner, ver):
        """what docs/forwarding.md says of an IPv4 outer header"""
        if pkt[1] != self.inner_tos(inner):
            self.deviation("outer4_tos_not_copied")
        ident, frag = struct.unpack_from("!HH", pkt, 4)
        df = bool(frag & 0x4000)
        if ver == 4:
            inner_id, inner_frag = struct.unpack_from("!HH", inner, 4)
            if ident != inner_id:
                self.deviation("outer4_id_not_inner_id")
            want_df = bool(inner_frag & 0x4000)
        else:
            if ident != 0:
                self.deviation("outer4_id_not_0")
            want_df = True
        if df != want_df:
            self.deviation("outer4_df")

    # ------------------------------------------------------------ receive
    def on_raw4(self, s, kind):
        proto = PROTO_IPIP if kind == "ipip4" else PROTO_IPV6
        try:
            pkt, anc, _fl, _peer = s.recvmsg(65535, 256)
        except BlockingIOError:
            return
        self.overflow(kind, anc)
        o = self.outer4(pkt, proto)
        if o is None:
            return
        ihl, src = o
        inner = pkt[ihl:]
        r = self.inner_check(inner, 4 if proto == PROTO_IPIP else 6)
        if r is None:
            return
        ver, flow = r
        self.outer4_spec(pkt, inner, ver)
        self.entropy(flow, src, "outer_source")
        self.deliver(kind, inner, ver, src, pkt[8])

    def overflow(self, kind, anc):
        """SO_RXQ_OVFL: the socket's drop count so far, with every packet"""
        for level, typ, val in anc:
            if level == socket.SOL_SOCKET and typ == SO_RXQ_OVFL and len(val) >= 4:
                self.ovfl[kind] = struct.unpack("I", val[:4])[0]
                self.c["socket_drops"] = sum(self.ovfl.values())

    def cmsgs6(self, anc):
        r = {}
        for level, typ, val in anc:
            if level != socket.IPPROTO_IPV6:
                continue
            if typ == IPV6_HOPLIMIT and len(val) >= 4:
                r["hlim"] = struct.unpack("i", val[:4])[0]
            elif typ == IPV6_TCLASS and len(val) >= 4:
                r["tclass"] = struct.unpack("i", val[:4])[0]
            elif typ == IPV6_FLOWINFO and len(val) >= 4:
                r["flow"] = struct.unpack("!I", val[:4])[0] & 0xFFFFF
            elif typ == IPV6_PKTINFO and len(val) >= 16:
                r["dst"] = socket.inet_ntop(socket.AF_INET6, val[:16])
        return r

    def cmsgs4(self, anc):
        r = {}
        for level, typ, val in anc:
            if level != socket.IPPROTO_IP:
                continue
            if typ == IP_TTL and len(val) >= 1:
                r["ttl"] = struct.unpack("i", val[:4])[0] if len(val) >= 4 else val[0]
            elif typ == IP_TOS and len(val) >= 1:
                r["tos"] = val[0]
            elif typ == IP_PKTINFO and len(val) >= 12:
                r["dst"] = socket.inet_ntop(socket.AF_INET, val[8:12])
        return r

    def v6_spec(self, m, inner, flow):
        if "tclass" in m and m["tclass"] != self.inner_tos(inner):
            self.deviation("outer6_tclass_not_copied")
        if "flow" in m:
            self.labels.add(m["flow"])
            self.entropy(flow, m["flow"], "flow_label")

    def on_raw6(self, s, kind):
        # a raw IPv6 socket gives the payload: the outer header is gone
        try:
            inner, anc, _fl, peer = s.recvmsg(65535, 256)
        except BlockingIOError:
            return
        self.overflow(kind, anc)
        src = peer[0].split("%")[0]
        if not self.src_ok(src):
            return self.bad("outer_source_not_allowed")
        r = self.inner_check(inner, 6 if kind == "ip6ip6" else 4)
        if r is None:
            return
        ver, flow = r
        m = self.cmsgs6(anc)
        self.v6_spec(m, inner, flow)
        self.entropy(flow, src, "outer_source")
        self.deliver(kind, inner, ver, src, m.get("hlim"))

    def on_udp(self, s, kind):
        try:
            inner, anc, _fl, peer = s.recvmsg(65535, 256)
        except BlockingIOError:
            return
        self.overflow(kind, anc)
        src, sport = peer[0].split("%")[0], peer[1]
        if not self.src_ok(src):
            return self.bad("outer_source_not_allowed")
        # variant 1: no GUE header, the first nibble is the inner version
        # (variant 0 would start with 0b00: a GUE header)
        r = self.inner_check(inner, None)
        if r is None:
            return
        ver, flow = r
        if not 49152 <= sport <= 65535:
            self.deviation("gue_source_port_outside_49152_65535")
        self.sports.add(sport)
        self.entropy(flow, (src, sport), "gue_source")
        if kind == "gue4":
            m = self.cmsgs4(anc)
            if "tos" in m and m["tos"] != self.inner_tos(inner):
                self.deviation("outer4_tos_not_copied")
            ttl = m.get("ttl")
        else:
            m = self.cmsgs6(anc)
            self.v6_spec(m, inner, flow)
            ttl = m.get("hlim")
        self.deliver(kind, inner, ver, src, ttl)

    def on_gue4hdr(self, s):
        """a copy of every IPv4 UDP packet: the outer header of GUE over IPv4"""
        try:
            pkt = s.recv(65535)
        except BlockingIOError:
            return
        if len(pkt) < 28 or pkt[0] >> 4 != 4:
            return
        ihl = (pkt[0] & 0xF) * 4
        if len(pkt) < ihl + 8:
            return
        _sport, dport, ulen, ucsum = struct.unpack_from("!HHHH", pkt, ihl)
        if dport != self.args.gue_port:
            return
        src = socket.inet_ntop(socket.AF_INET, pkt[12:16])
        if not self.src_ok(src):
            return
        inner = pkt[ihl + 8:]
        if ulen != len(pkt) - ihl:
            self.deviation("gue4_udp_length")
            return
        if not inner or inner[0] >> 4 not in (4, 6):
            return
        if ucsum != 0:
            self.deviation("gue4_udp_checksum_not_0")
        ver = inner[0] >> 4
        if (ver == 4 and len(inner) >= 20) or (ver == 6 and len(inner) >= 40):
            self.outer4_spec(pkt, inner, ver)

    def on_tun(self):
        # what the node's kernel sends into the TUN (it should send nothing
        # there: its replies leave on eth0); drained and counted
        while True:
            try:
                os.read(self.tun, 65535)
            except BlockingIOError:
                return
            self.c["tun_out"] += 1

    # --------------------------------------------------------------- loop
    def run(self):
        self.open_tun()
        self.open_sockets()
        if not any(x.endswith(": ok") for x in self.c["sockets"]):
            sys.exit("tundecap: no socket could be opened: %s" % self.c["sockets"])

        def on_term(_sig, _frm):
            self.stop = True

        def on_usr1(_sig, _frm):
            self.dump = True

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        signal.signal(signal.SIGUSR1, on_usr1)
        self.c["ready"] = True
        self.write_counts()
        while not self.stop:
            try:
                events = self.sel.select(0.2)
            except InterruptedError:
                events = []
            for key, _ in events:
                kind, s = key.data
                if kind == "tun":
                    self.on_tun()
                elif kind in ("ipip4", "ip6in4"):
                    self.on_raw4(s, kind)
                elif kind in ("ip6ip6", "ip4in6"):
                    self.on_raw6(s, kind)
                elif kind in ("gue4", "gue6"):
                    self.on_udp(s, kind)
                elif kind == "gue4hdr":
                    self.on_gue4hdr(s)
            if self.dump:
                self.dump = False
                self.write_counts()
        self.write_counts()
        print(json.dumps(self.c, sort_keys=True), flush=True)


# ------------------------------------------------------------------ send
def echo_request(src, dst, ident, seq, tos=0):
    data = b"cnmux tundecap self-test %d" % seq
    if ":" in src:
        s6 = socket.inet_pton(socket.AF_INET6, src)
        d6 = socket.inet_pton(socket.AF_INET6, dst)
        icmp = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + data
        pseudo = s6 + d6 + struct.pack("!IxxxB", len(icmp), 58)
        c = csum(pseudo + icmp)
        icmp = icmp[:2] + struct.pack("!H", c) + icmp[4:]
        hdr = struct.pack("!IHBB", (6 << 28) | (tos << 20), len(icmp), 58, 64) + s6 + d6
        return hdr + icmp
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(icmp), (ident + seq) & 0xFFFF,
                      0x4000, 64, 1, 0, socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + icmp


def encap(kind, osrc, odst, inner, sport, gue_port=6080, proto=None):
    if kind.startswith("gue"):
        proto = 17
    elif proto is None:
        proto = PROTO_IPIP if inner[0] >> 4 == 4 else PROTO_IPV6
    tos = Decap.inner_tos(inner)
    if ":" in odst:
        s6 = socket.inet_pton(socket.AF_INET6, osrc)
        d6 = socket.inet_pton(socket.AF_INET6, odst)
        payload = inner
        if kind.startswith("gue"):
            udp = struct.pack("!HHHH", sport, gue_port, 8 + len(inner), 0) + inner
            pseudo = s6 + d6 + struct.pack("!IxxxB", len(udp), 17)
            c = csum(pseudo + udp) or 0xFFFF
            payload = udp[:6] + struct.pack("!H", c) + udp[8:]
        hdr = struct.pack("!IHBB", (6 << 28) | (tos << 20) | (sport & 0xFFFFF), len(payload),
                          proto, 64) + s6 + d6
        return hdr + payload
    payload = inner
    if kind.startswith("gue"):
        payload = struct.pack("!HHHH", sport, gue_port, 8 + len(inner), 0) + inner
    if inner[0] >> 4 == 4:
        ident, frag = struct.unpack_from("!HH", inner, 4)
        flags = frag & 0x4000
    else:
        ident, flags = 0, 0x4000
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident, flags, 64, proto,
                      0, socket.inet_aton(osrc), socket.inet_aton(odst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def send_main(a):
    kinds = {"ipip4": (4, 4), "ip6in4": (4, 6), "ip6ip6": (6, 6), "ip4in6": (6, 4),
             "gue4": (4, None), "gue6": (6, None)}
    kind, _, arg = a[0].partition("@") if a else ("", "", "")
    if len(a) not in (5, 6) or kind not in kinds or (arg and not arg.isdigit()):
        sys.exit("usage: tundecap.py send KIND[@N] OUTER_SRC OUTER_DST INNER_SRC INNER_DST [COUNT]")
    osrc, odst, isrc, idst = a[1:5]
    port, proto = 6080, None
    if arg:
        if kind.startswith("gue"):
            port = int(arg)
        else:
            proto = int(arg)
    count = int(a[5]) if len(a) == 6 else 1
    ofam, ifam = kinds[kind]
    if (":" in odst) != (ofam == 6) or (ifam and (":" in idst) != (ifam == 6)):
        sys.exit("tundecap.py send: %s: wrong address family" % kind)
    if ofam == 6:
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        dest = (odst, 0, 0, 0)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        dest = (odst, 0)
    for i in range(count):
        inner = echo_request(isrc, idst, os.getpid() & 0xFFFF, i + 1)
        s.sendto(encap(kind, osrc, odst, inner, 49152 + i, port, proto), dest)
    print("sent %d %s packets %s -> %s (inner %s -> %s)" % (count, a[0], osrc, odst, isrc, idst))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "send":
        send_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tun", required=True, help="TUN device (made here if absent)")
    ap.add_argument("--counts", required=True, help="JSON counts file")
    ap.add_argument("--name", default=os.uname().nodename, help="the node's name")
    ap.add_argument("--gue-port", type=int, default=6080)
    ap.add_argument("--src", action="append", default=[],
                    help="accepted outer source prefix (any when none given)")
    Decap(ap.parse_args()).run()


if __name__ == "__main__":
    main()
