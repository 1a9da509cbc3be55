#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Generate the golden pcap cases: pcaps/<case>/in.pcap and config.json.

    gen_cases.py [--out DIR] [CASE ...]

Deterministic: every case has its own fixed seed, frames are built from raw
bytes (checksums computed here) and the pcap timestamps are fixed, so running
it twice writes identical files. DIR defaults to pcaps/ at the top of the
source tree. The expected outputs (expected_private.pcap, expected_local.pcap)
are not written here: tests/pcap/run_case.sh CASE CNMUX --update records them
from a replay that tests/pcap/check.py accepted.

Each frame is generated with the verdict it is meant to get ("private:SERVICE",
"default", "local", "drop:REASON"); at the end these are compared with the
model in check.py, so a generator mistake is caught here, not in a replay.

Addresses come from the documentation ranges only: nodes 192.0.2.0/24, VIPs
198.51.100.0/24 and 2001:db8:100::/48, clients 203.0.113.0/24 and
2001:db8:2::/48 (and 100.64.0.0/10 in "mixed", for many distinct clients).
"""

import argparse
import ipaddress
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pcapio  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

PUB_MAC = bytes.fromhex('027063617000')   # net_pcap0's MAC; cnmux does not filter on it
BCAST = b'\xff' * 6
TCP, UDP, ICMP, ICMP6, GRE = 6, 17, 1, 58, 47
F_FIN, F_SYN, F_RST, F_PSH, F_ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# ------------------------------------------------------------ raw bytes ----


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip_b(a):
    return ipaddress.ip_address(a).packed


def mac(s):
    return bytes.fromhex(s.replace(':', ''))


def pseudo(src, dst, proto, length):
    if len(src) == 4:
        return src + dst + struct.pack('!BBH', 0, proto, length)
    return src + dst + struct.pack('!IxxxB', length, proto)


def tcp(src, dst, sport, dport, flags=F_ACK, payload=b'', seq=1, ack=0, options=b'',
        doff=None):
    """A TCP segment with a correct checksum (src, dst: packed addresses)."""
    if len(options) % 4:
        options += b'\0' * (4 - len(options) % 4)
    if doff is None:
        doff = 5 + len(options) // 4
    h = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, doff << 4, flags, 64240, 0, 0)
    seg = h + options + payload
    c = csum(pseudo(src, dst, TCP, len(seg)) + seg)
    return seg[:16] + struct.pack('!H', c) + seg[18:]


def udp(src, dst, sport, dport, payload=b''):
    seg = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    c = csum(pseudo(src, dst, UDP, len(seg)) + seg) or 0xffff
    return seg[:6] + struct.pack('!H', c) + seg[8:]


def icmp_echo(ident, seq, payload=b'', v6src=None, v6dst=None):
    t = 128 if v6src else 8
    m = struct.pack('!BBHHH', t, 0, 0, ident, seq) + payload
    c = csum((pseudo(v6src, v6dst, ICMP6, len(m)) if v6src else b'') + m)
    return m[:2] + struct.pack('!H', c) + m[4:]


def ipv4(src, dst, proto, payload, ident=1, frag=0x4000, ttl=64, options=b'', tos=0,
         totlen=None, ihl=None, version=4):
    """An IPv4 packet; totlen/ihl/version override the computed fields (the
    checksum is computed over whatever ends up in the header)."""
    if len(options) % 4:
        options += b'\0' * (4 - len(options) % 4)
    if ihl is None:
        ihl = 5 + len(options) // 4
    if totlen is None:
        totlen = 20 + len(options) + len(payload)
    h = struct.pack('!BBHHHBBH4s4s', (version << 4) | ihl, tos, totlen, ident, frag, ttl,
                    proto, 0, src, dst) + options
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, nh, payload, plen=None, hlim=64, flow=0, version=6):
    if plen is None:
        plen = len(payload)
    return struct.pack('!IHBB16s16s', (version << 28) | flow, plen, nh, hlim, src,
                       dst) + payload


def ext6(nh, body_len8=0, kind='opt'):
    """An IPv6 extension header (hop-by-hop, routing, dest-options): next
    header nh, (body_len8 + 1) * 8 bytes, filled with PadN options."""
    n = (body_len8 + 1) * 8
    if kind == 'routing':
        # type 4 (segment routing) with segments left 0: ignored by a transit node
        return struct.pack('!BBBB', nh, body_len8, 4, 0) + b'\0' * (n - 4)
    return struct.pack('!BBBB', nh, body_len8, 1, n - 4) + b'\0' * (n - 4)


def frag6(nh, offset8, more, ident):
    return struct.pack('!BBHI', nh, 0, (offset8 << 3) | (1 if more else 0), ident)


def arp(op, sha, spa, tha, tpa):
    return struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, op, sha, ip_b(spa), tha, ip_b(tpa))


def l2(dst, src, ethertype, tags=()):
    b = dst + src
    for tpid, tci in tags:
        b += struct.pack('!HH', tpid, tci)
    return b + struct.pack('!H', ethertype)

# -------------------------------------------------------------- a case ----


class Case:
    def __init__(self, name, seed):
        self.name = name
        self.rng = random.Random(seed)
        self.frames = []   # (bytes, label)
        self.config = None

    def answered(self, frame):
        """Is this an ARP request for a VIP (of a service with arp) or an echo
        request to a VIP (icmp_echo "reply"), which cnmux answers itself?"""
        if self.config is None:
            return False
        svcs = self.config['services']
        vips = {ip_b(x['vip']) for x in svcs}
        arp_vips = {ip_b(x['vip']) for x in svcs if x.get('arp', True) and ':' not in x['vip']}
        off, et = 12, None
        while off + 2 <= len(frame):
            et = struct.unpack_from('!H', frame, off)[0]
            if et not in (0x8100, 0x88a8) or off > 12 + 4:
                break
            off += 4
        if et in (0x8100, 0x88a8):
            return False  # a third tag: dropped
        l3 = off + 2
        if et == 0x0806:
            a = frame[l3:l3 + 28]
            return (len(a) == 28 and a[:8] == b'\x00\x01\x08\x00\x06\x04\x00\x01'
                    and a[24:28] in arp_vips)
        if self.config.get('icmp_echo', 'reply') != 'reply':
            return False
        if et == 0x0800 and len(frame) >= l3 + 28 and frame[l3 + 9] == ICMP:
            ihl = (frame[l3] & 15) * 4
            return (frame[l3 + 6] & 0x3f == 0 and frame[l3 + 7] == 0 and
                    frame[l3 + 16:l3 + 20] in vips and frame[l3 + ihl] == 8)
        if et == 0x86dd and len(frame) >= l3 + 48 and frame[l3 + 6] == ICMP6:
            return frame[l3 + 24:l3 + 40] in vips and frame[l3 + 40] == 128
        return False

    def add(self, frame, label, pad=True):
        """Append a frame; pad=True pads to the 60-byte Ethernet minimum as a
        NIC would (with zeros or with junk, at random). A frame cnmux answers
        itself (ARP or echo request for a VIP) is labelled 'public'."""
        if label in ('local', 'default', 'drop:no_service') and self.answered(frame):
            label = 'public'
        if pad and len(frame) < 60:
            if self.rng.random() < 0.5:
                frame += b'\0' * (60 - len(frame))
            else:
                frame += bytes(self.rng.getrandbits(8) for _ in range(60 - len(frame)))
        self.frames.append((frame, label))

    def payload(self, lo=0, hi=48):
        return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(lo, hi)))

    def cmac(self, src):
        """A client MAC derived from its address."""
        h = hash_bytes(src)
        return b'\x02\x00' + h[:4]

    # ---- frames
    def ip_frame(self, src, dst, proto, l4, tags=(), **kw):
        s, d = ip_b(src), ip_b(dst)
        if len(s) == 4:
            return l2(PUB_MAC, self.cmac(s), 0x0800, tags) + ipv4(
                s, d, proto, l4, ident=self.rng.getrandbits(16), **kw)
        return l2(PUB_MAC, self.cmac(s), 0x86dd, tags) + ipv6(
            s, d, proto, l4, flow=self.rng.getrandbits(20), **kw)

    def tcp_frame(self, src, dst, sport, dport, flags=None, payload=None, tags=(), ipkw=None,
                  **kw):
        s, d = ip_b(src), ip_b(dst)
        if flags is None:
            flags = self.rng.choice([F_SYN, F_ACK, F_PSH | F_ACK, F_FIN | F_ACK, F_RST])
        if payload is None:
            payload = self.payload() if flags & F_ACK else b''
        seg = tcp(s, d, sport, dport, flags, payload, seq=self.rng.getrandbits(32),
                  ack=self.rng.getrandbits(32) if flags & F_ACK else 0, **kw)
        return self.ip_frame(src, dst, TCP, seg, tags, **(ipkw or {}))

    def udp_frame(self, src, dst, sport, dport, payload=None, tags=(), ipkw=None):
        s, d = ip_b(src), ip_b(dst)
        if payload is None:
            payload = self.payload()
        return self.ip_frame(src, dst, UDP, udp(s, d, sport, dport, payload), tags,
                             **(ipkw or {}))

    def icmp_frame(self, src, dst, tags=()):
        s, d = ip_b(src), ip_b(dst)
        if len(s) == 4:
            m = icmp_echo(self.rng.getrandbits(16), self.rng.getrandbits(16), self.payload(8, 56))
            return self.ip_frame(src, dst, ICMP, m, tags)
        m = icmp_echo(self.rng.getrandbits(16), self.rng.getrandbits(16), self.payload(8, 56),
                      s, d)
        return self.ip_frame(src, dst, ICMP6, m, tags)

    def arp_frame(self, spa, tpa, tags=(), reply=False):
        sha = self.cmac(ip_b(spa))
        if reply:
            return l2(PUB_MAC, sha, 0x0806, tags) + arp(2, sha, spa, PUB_MAC, tpa)
        return l2(BCAST, sha, 0x0806, tags) + arp(1, sha, spa, b'\0' * 6, tpa)

    def l4_frame(self, proto, src, dst, sport, dport, tags=()):
        if proto == TCP:
            return self.tcp_frame(src, dst, sport, dport, tags=tags)
        return self.udp_frame(src, dst, sport, dport, tags=tags)

    def shuffle(self):
        self.rng.shuffle(self.frames)


def hash_bytes(b):
    import hashlib
    return hashlib.sha256(b).digest()

# ---------------------------------------------------------------- config ----


def node(i):
    return {'name': 'node%d' % i, 'ip': '192.0.2.%d' % (10 + i),
            'mac': '02:00:c0:00:02:%02x' % (10 + i)}


def config(nodes, services, local=True, **extra):
    c = {'ports': {'public': 'net_pcap0', 'private': ['net_pcap1']}}
    if local:
        c['ports']['local'] = 'net_pcap2'
    c.update(extra)
    c['nodes'] = [node(i) for i in nodes]
    c['services'] = services
    return c


def svc(name, vip, policy, nodes, ports=None, protocols=None):
    s = {'name': name, 'vip': vip}
    if ports is not None:
        s['ports'] = ports
    if protocols is not None:
        s['protocols'] = protocols
    s['policy'] = policy
    s['nodes'] = nodes
    return s

# ----------------------------------------------------------- addresses ----


def client4(rng, wide=False):
    if wide:
        # 100.64.0.0/10, avoiding .0 and .255 host parts
        while True:
            a = ipaddress.IPv4Address(int(ipaddress.IPv4Address('100.64.0.0')) +
                                      rng.getrandbits(22))
            if a.packed[3] not in (0, 255):
                return str(a)
    return '203.0.113.%d' % rng.randint(1, 254)


def client6(rng):
    return str(ipaddress.IPv6Address(int(ipaddress.IPv6Address('2001:db8:2::')) +
                                     rng.getrandbits(64)))


def sport(rng):
    return rng.randint(1024, 65535)

# ------------------------------------------------------ malformed frames ----


def malformed_frames(c, vip4, port4, vip6, port6):
    """One list of generators per drop reason; each returns (frame, pad).
    port4/port6 are (proto, port) of a scalable service, so that the only
    thing wrong with each frame is the defect it is built to have."""
    r = c.rng
    src = lambda: client4(r)              # noqa: E731
    src6 = lambda: client6(r)             # noqa: E731
    p4, p6 = port4[1], port6[1]

    def good4(**ipkw):
        s = src()
        return c.udp_frame(s, vip4, sport(r), p4, ipkw=ipkw)

    def ip4raw(header_mod, l4=None, tags=()):
        """A UDP-to-VIP packet whose IPv4 header bytes are then altered."""
        s = ip_b(src())
        d = ip_b(vip4)
        l4 = l4 if l4 is not None else udp(s, d, sport(r), p4, c.payload(4, 20))
        pkt = bytearray(ipv4(s, d, UDP, l4, ident=r.getrandbits(16)))
        header_mod(pkt)
        return l2(PUB_MAC, c.cmac(s), 0x0800, tags) + bytes(pkt)

    def set16(pkt, off, v):
        pkt[off:off + 2] = struct.pack('!H', v)

    def v6raw(nh, payload, **kw):
        s, d = ip_b(src6()), ip_b(vip6)
        return l2(PUB_MAC, c.cmac(s), 0x86dd) + ipv6(s, d, nh, payload, **kw)

    def udp6(s=None):
        s = ip_b(s or src6())
        return udp(s, ip_b(vip6), sport(r), p6, c.payload(0, 16))

    def tcp6():
        return tcp(ip_b(src6()), ip_b(vip6), sport(r), p6, F_SYN)

    G = {
        'runt': [
            lambda: (bytes(r.getrandbits(8) for _ in range(r.choice([1, 6, 10, 13]))), False),
            lambda: (PUB_MAC + PUB_MAC[:5], False),
        ],
        'ethertype': [
            lambda: (l2(BCAST, c.cmac(b'x'), 0x88cc) + c.payload(30, 40), True),   # LLDP
            lambda: (l2(PUB_MAC, c.cmac(b'y'), 0x9000) + c.payload(30, 40), True),  # loopback
            lambda: (l2(PUB_MAC, c.cmac(b'z'), 0x0600) + c.payload(30, 40), True),  # 802.3 length
            lambda: (l2(PUB_MAC, c.cmac(b'w'), 0x8847) + c.payload(30, 40), True),  # MPLS
            lambda: (l2(PUB_MAC, c.cmac(b'v'), 0x0800, [(0x8100, 5)])[:-2] + b'\x88\x64'
                     + c.payload(30, 40), True),                                   # PPPoE tagged
        ],
        'vlan_depth': [
            lambda: (c.udp_frame(src(), vip4, sport(r), p4,
                                 tags=[(0x88a8, 10), (0x8100, 20), (0x8100, 30)]), True),
            lambda: (c.tcp_frame(src(), vip4, sport(r), p4 if port4[0] == TCP else 80,
                                 tags=[(0x8100, 1), (0x8100, 2), (0x88a8, 3)]), True),
            lambda: (c.arp_frame(src(), vip4, tags=[(0x8100, 7), (0x8100, 8), (0x8100, 9)]),
                     True),
        ],
        'ipv4_truncated': [
            lambda: (l2(PUB_MAC, c.cmac(b'a'), 0x0800), False),
            lambda: (good4()[:14 + r.randint(1, 19)], False),
        ],
        'ipv4_version': [
            lambda: (ip4raw(lambda p: p.__setitem__(0, (r.choice([0, 5, 6, 15]) << 4) | 5)),
                     True),
        ],
        'ipv4_ihl': [
            lambda: (ip4raw(lambda p: p.__setitem__(0, 0x40 | r.randint(0, 4))), True),
        ],
        'ipv4_ihl_beyond': [
            # 20-byte header + 8 UDP + 4 payload = 32 bytes after L2, IHL says more
            lambda: (ip4raw(lambda p: p.__setitem__(0, 0x40 | r.randint(9, 15)),
                            l4=udp(b'\0' * 4, b'\0' * 4, 1000, p4, b'abcd')), False),
        ],
        'ipv4_totlen_beyond': [
            lambda: (ip4raw(lambda p: set16(p, 2, len(p) + r.randint(1, 200))), False),
            lambda: (ip4raw(lambda p: set16(p, 2, 65535)), False),
        ],
        'ipv4_totlen_below': [
            lambda: (ip4raw(lambda p: set16(p, 2, r.randint(0, 19))), True),
        ],
        'martian_src': [
            lambda: (c.udp_frame(r.choice(['0.1.2.3', '127.0.0.1', '127.1.2.3', '224.0.0.5',
                                           '239.255.0.1', '240.0.0.1', '255.255.255.255']),
                                 vip4, sport(r), p4), True),
        ],
        'ipv6_truncated': [
            lambda: (l2(PUB_MAC, c.cmac(b'b'), 0x86dd) + c.payload(0, 39)[:39], False),
        ],
        'ipv6_version': [
            lambda: (v6raw(UDP, udp6(), version=r.choice([4, 0, 7])), True),
        ],
        'ipv6_paylen': [
            lambda: (v6raw(UDP, udp6(), plen=r.choice([100, 1000, 65535])), False),
        ],
        'ipv6_ext': [
            # nine extension headers
            lambda: (v6raw(0, b''.join(ext6(60) for _ in range(8)) + ext6(UDP) + udp6()), True),
            # a hop-by-hop header that claims more than the payload holds
            lambda: (v6raw(0, ext6(UDP, 4)[:8] + udp6()), False),
            # a destination-options header cut short by the payload length
            lambda: (v6raw(60, b'\x11\x00\x01\x02'), False),
        ],
        'l4_truncated': [
            lambda: (c.ip_frame(src(), vip4, TCP, tcp(b'\0' * 4, b'\0' * 4, 1000, p4)[:r.randint(
                4, 19)]), True),
            lambda: (c.ip_frame(src(), vip4, UDP, struct.pack('!HH', 1000, p4)), True),
            lambda: (c.ip_frame(src6(), vip6, TCP, tcp6()[:12]), True),
            lambda: (c.ip_frame(src6(), vip6, UDP, b''), True),
        ],
        'tcp_doff': [
            lambda: (c.tcp_frame(src(), vip4, sport(r), 80, F_SYN, doff=r.randint(0, 4)), True),
            # a data offset beyond the end of the segment
            lambda: (c.tcp_frame(src(), vip4, sport(r), 80, F_SYN, doff=r.randint(6, 15)), True),
        ],
        'port_zero': [
            lambda: (c.tcp_frame(src(), vip4, 0, 80, F_SYN), True),
            lambda: (c.udp_frame(src(), vip4, sport(r), 0), True),
            lambda: (c.udp_frame(src(), vip4, 0, p4), True),
            lambda: (c.udp_frame(src6(), vip6, 0, p6), True),
        ],
        'tcp_flags': [
            lambda: (c.tcp_frame(src(), vip4, sport(r), 80, F_SYN | F_FIN), True),
            lambda: (c.tcp_frame(src(), vip4, sport(r), 80, F_SYN | F_RST), True),
            lambda: (c.tcp_frame(src(), vip4, sport(r), 80, F_SYN | F_FIN | F_ACK | F_PSH), True),
        ],
        'fragment': [
            lambda: (c.ip_frame(src(), vip4, UDP, c.payload(8, 40),
                                frag=0x2000 | r.randint(1, 100)), True),
            lambda: (c.ip_frame(src(), vip4, UDP, c.payload(8, 40), frag=r.randint(1, 100)),
                     True),
            lambda: (c.ip_frame(src6(), vip6, 44, frag6(UDP, r.randint(1, 100), True,
                                                        r.getrandbits(32)) + c.payload(8, 40)),
                     True),
        ],
    }
    return G

# ----------------------------------------------------------------- cases ----


VIP = '198.51.100.10'
VIP6 = '2001:db8:100::10'


def gen_weighted():
    c = Case('weighted', 101)
    c.config = config([1, 2], [svc('web', VIP, 'weighted', {'node1': 1, 'node2': 1},
                                   ports=['80/tcp', '443/tcp', '53/udp'])])
    r = c.rng
    keys = set()
    while len(keys) < 2200:
        keys.add((client4(r), sport(r)))
    for s, sp in sorted(keys):
        # the same (source, source port) on TCP and UDP ports of the service
        for _ in range(r.choice([1, 1, 2, 3])):
            proto, port = r.choice([(TCP, 80), (TCP, 443), (UDP, 53)])
            c.add(c.l4_frame(proto, s, VIP, sp, port), 'private:web')
    c.shuffle()
    return c


def gen_weights_3_1():
    c = Case('weights_3_1', 102)
    c.config = config([1, 2], [
        svc('web', VIP, 'weighted', {'node1': 3, 'node2': 1}, ports=['80/tcp']),
        svc('dns', VIP, 'weighted', {'node1': 1, 'node2': 3}, ports=['53/udp']),
    ], pdt_size=1024)
    r = c.rng
    for name, proto, port in (('web', TCP, 80), ('dns', UDP, 53)):
        keys = set()
        while len(keys) < 2500:
            keys.add((client4(r), sport(r)))
        for s, sp in sorted(keys):
            for _ in range(1 if r.random() < 0.9 else 2):
                c.add(c.l4_frame(proto, s, VIP, sp, port), 'private:' + name)
    c.shuffle()
    return c


def gen_sticky():
    c = Case('sticky', 103)
    c.config = config([1, 2, 3, 4], [
        svc('app', VIP, 'sticky', {'node1': 1, 'node2': 1, 'node3': 1},
            ports=['80/tcp', '443/tcp', '8080/tcp', '53/udp']),
        svc('mail', VIP, 'sticky', {'node3': 1, 'node4': 2}, ports=['25/tcp', '587/tcp']),
    ])
    r = c.rng
    app = [(TCP, 80), (TCP, 443), (TCP, 8080), (UDP, 53)]
    mail = [(TCP, 25), (TCP, 587)]
    for i in range(1, 255):
        s = '203.0.113.%d' % i
        # every client on several ports, each time from a new source port
        for _ in range(r.randint(5, 9)):
            proto, port = r.choice(app)
            c.add(c.l4_frame(proto, s, VIP, sport(r), port), 'private:app')
        for _ in range(r.randint(1, 3)):
            proto, port = r.choice(mail)
            c.add(c.l4_frame(proto, s, VIP, sport(r), port), 'private:mail')
    c.shuffle()
    return c


def gen_sticky_wild():
    c = Case('sticky_wild', 104)
    vip, vip2 = '198.51.100.20', '198.51.100.21'
    c.config = config([1, 2, 3, 4], [
        svc('ftp', vip, 'sticky-wild', {'node1': 1, 'node2': 1}, protocols=['tcp']),
        # the first table wins: port 80 of the same address is another service
        svc('web', vip, 'weighted', {'node3': 1, 'node4': 1}, ports=['80/tcp']),
        svc('any', vip2, 'sticky-wild', {'node1': 1, 'node2': 1, 'node3': 2},
            protocols=['tcp', 'udp']),
    ])
    r = c.rng
    for i in range(1, 255):
        s = '203.0.113.%d' % i
        for _ in range(r.randint(4, 8)):
            port = r.choice([20, 21, 22, 8080, r.randint(1, 65535), r.randint(1024, 65535)])
            if port == 80:
                port = 81
            c.add(c.tcp_frame(s, vip, sport(r), port), 'private:ftp')
        if r.random() < 0.3:
            c.add(c.tcp_frame(s, vip, sport(r), 80), 'private:web')
        if r.random() < 0.1:
            # UDP is not among ftp's protocols: non-scalable
            c.add(c.udp_frame(s, vip, sport(r), r.randint(1, 65535)), 'local')
        for _ in range(r.randint(1, 4)):
            c.add(c.l4_frame(r.choice([TCP, UDP]), s, vip2, sport(r), r.randint(1, 65535)),
                  'private:any')
    c.shuffle()
    return c


def gen_nonscalable_local():
    c = Case('nonscalable_local', 105)
    c.config = config([1, 2], [svc('web', VIP, 'weighted', {'node1': 1, 'node2': 1},
                                   ports=['80/tcp'])])
    r = c.rng
    for i in range(300):
        s = client4(r)
        k = i % 10
        if k < 3:
            c.add(c.tcp_frame(s, VIP, sport(r), 80), 'private:web')
        elif k == 3:
            c.add(c.tcp_frame(s, VIP, sport(r), r.choice([22, 81, 443, 8080])), 'local')
        elif k == 4:
            c.add(c.udp_frame(s, VIP, sport(r), r.choice([53, 80, 123])), 'local')
        elif k == 5:
            c.add(c.icmp_frame(s, VIP), 'local')
        elif k == 6:
            c.add(c.arp_frame(s, VIP, reply=r.random() < 0.3), 'local')
        elif k == 7:
            # another address, and a protocol that is never scalable
            c.add(c.tcp_frame(s, '198.51.100.99', sport(r), 80), 'local')
        elif k == 8:
            c.add(c.ip_frame(s, VIP, GRE, c.payload(4, 40)), 'local')
        else:
            c.add(c.icmp_frame(client6(r), VIP6), 'local')
    # tagged non-scalable frames stay tagged on the local port
    for i in range(10):
        c.add(c.icmp_frame(client4(r), VIP, tags=[(0x8100, 100 + i)]), 'local')
    c.shuffle()
    return c


def gen_nonscalable_default():
    c = Case('nonscalable_default', 106)
    c.config = config([1, 2, 3], [svc('web', VIP, 'weighted', {'node1': 1, 'node2': 1},
                                      ports=['80/tcp'])], local=False, default_node='node3')
    r = c.rng
    for i in range(300):
        s = client4(r)
        k = i % 6
        if k < 2:
            c.add(c.tcp_frame(s, VIP, sport(r), 80), 'private:web')
        elif k == 2:
            c.add(c.tcp_frame(s, VIP, sport(r), r.choice([22, 81, 443])), 'default')
        elif k == 3:
            c.add(c.udp_frame(s, VIP, sport(r), r.choice([53, 123])), 'default')
        elif k == 4:
            c.add(c.icmp_frame(s, r.choice([VIP, '198.51.100.99'])), 'default')
        else:
            c.add(c.udp_frame(client6(r), VIP6, sport(r), 53), 'default')
    for i in range(10):
        c.add(c.icmp_frame(client4(r), VIP, tags=[(0x8100, 200 + i)]), 'default')
    c.shuffle()
    return c


def gen_ipv6_vip():
    c = Case('ipv6_vip', 107)
    vip2 = '2001:db8:100::20'
    c.config = config([1, 2, 3, 4], [
        svc('web6', VIP6, 'weighted', {'node1': 1, 'node2': 1}, ports=['80/tcp', '443/tcp']),
        svc('dns6', VIP6, 'sticky', {'node1': 1, 'node2': 2}, ports=['53/udp']),
        svc('wild6', vip2, 'sticky-wild', {'node3': 1, 'node4': 1}, protocols=['tcp', 'udp']),
        svc('web4', VIP, 'weighted', {'node3': 1, 'node4': 1}, ports=['80/tcp']),
    ])
    r = c.rng
    keys = set()
    while len(keys) < 2200:
        keys.add((client6(r), sport(r)))
    for s, sp in sorted(keys):
        c.add(c.tcp_frame(s, VIP6, sp, r.choice([80, 443])), 'private:web6')
    clients = [client6(r) for _ in range(300)]
    for s in clients:
        for _ in range(r.randint(1, 3)):
            c.add(c.udp_frame(s, VIP6, sport(r), 53), 'private:dns6')
        for _ in range(r.randint(1, 3)):
            c.add(c.l4_frame(r.choice([TCP, UDP]), s, vip2, sport(r), r.randint(1, 65535)),
                  'private:wild6')
    # extension headers before the transport header
    for i in range(60):
        s = r.choice(clients)
        S, D = ip_b(s), ip_b(VIP6)
        u = udp(S, D, sport(r), 53, c.payload(0, 24))
        k = i % 6
        if k == 0:
            body, nh = ext6(UDP) + u, 0                         # hop-by-hop
        elif k == 1:
            body, nh = ext6(UDP, 1) + u, 60                     # destination options, 16 bytes
        elif k == 2:
            body, nh = ext6(UDP, 2, 'routing') + u, 43          # routing
        elif k == 3:
            body, nh = frag6(UDP, 0, True, r.getrandbits(32)) + u, 44   # first fragment
        elif k == 4:
            body, nh = frag6(UDP, 0, False, r.getrandbits(32)) + u, 44  # atomic fragment
        else:
            # eight extension headers: the most allowed
            body = ext6(60) + b''.join(ext6(60) for _ in range(6)) + ext6(UDP) + u
            nh = 0
        c.add(l2(PUB_MAC, c.cmac(S), 0x86dd) + ipv6(S, D, nh, body), 'private:dns6')
    # trailing bytes after the IPv6 payload: trimmed on the private port
    for _ in range(20):
        s = r.choice(clients)
        c.add(c.udp_frame(s, VIP6, sport(r), 53) + c.payload(1, 12), 'private:dns6')
    # non-first fragments are dropped, ICMPv6 and unknown ports are local
    for _ in range(10):
        s = r.choice(clients)
        c.add(c.ip_frame(s, VIP6, 44, frag6(UDP, r.randint(1, 50), r.random() < 0.5,
                                            r.getrandbits(32)) + c.payload(8, 30)),
              'drop:fragment')
        c.add(c.icmp_frame(s, VIP6), 'local')
        c.add(c.udp_frame(s, VIP6, sport(r), 5353), 'local')
    for _ in range(50):
        c.add(c.tcp_frame(client4(r), VIP, sport(r), 80), 'private:web4')
    c.shuffle()
    return c


def gen_vlan():
    c = Case('vlan', 108)
    c.config = config([1, 2], [
        svc('web', VIP, 'weighted', {'node1': 1, 'node2': 1}, ports=['80/tcp', '53/udp']),
        svc('web6', VIP6, 'sticky', {'node1': 1, 'node2': 1}, ports=['80/tcp']),
    ])
    r = c.rng
    tagsets = [(), ((0x8100, 10),), ((0x8100, 0x2014),), ((0x88a8, 100), (0x8100, 10)),
               ((0x8100, 7), (0x8100, 8)), ((0x88a8, 5),)]
    for i in range(150):
        s, sp = client4(r), sport(r)
        # one client key, with and without tags: the same node every time
        for tags in r.sample(tagsets, 3):
            if r.random() < 0.5:
                c.add(c.tcp_frame(s, VIP, sp, 80, tags=tags), 'private:web')
            else:
                c.add(c.udp_frame(s, VIP, sp, 53, tags=tags), 'private:web')
    for i in range(60):
        tags = r.choice(tagsets)
        s = client6(r)
        c.add(c.tcp_frame(s, VIP6, sport(r), 80, tags=tags), 'private:web6')
    for i in range(30):
        tags = r.choice(tagsets)
        s = client4(r)
        c.add(c.icmp_frame(s, VIP, tags=tags), 'local')
        c.add(c.arp_frame(s, VIP, tags=tags), 'local')
        c.add(c.udp_frame(s, VIP, sport(r), 161, tags=tags), 'local')
    triple = [((0x8100, 1), (0x8100, 2), (0x8100, 3)), ((0x88a8, 1), (0x8100, 2), (0x8100, 3)),
              ((0x88a8, 1), (0x88a8, 2), (0x8100, 3))]
    for i in range(12):
        tags = triple[i % 3]
        s = client4(r)
        c.add(c.tcp_frame(s, VIP, sport(r), 80, tags=tags) if i % 2 else
              c.arp_frame(s, VIP, tags=tags), 'drop:vlan_depth')
    c.shuffle()
    return c


def gen_malformed():
    c = Case('malformed', 109)
    c.config = config([1, 2, 3], [
        svc('web', VIP, 'weighted', {'node1': 1, 'node2': 1}, ports=['80/tcp', '53/udp']),
        svc('drained', VIP, 'weighted', {'node3': 0}, ports=['8080/tcp']),
        svc('web6', VIP6, 'weighted', {'node1': 1, 'node2': 1}, ports=['80/tcp', '53/udp']),
    ], local=False)
    r = c.rng
    G = malformed_frames(c, VIP, (UDP, 53), VIP6, (UDP, 53))
    for reason, gens in G.items():
        for i in range(max(4, len(gens))):
            fr, pad = gens[i % len(gens)]()
            c.add(fr, 'drop:' + reason, pad)
    # defects behind a VLAN tag
    for reason, fn in (('ipv4_ihl', G['ipv4_ihl'][0]), ('ipv4_version', G['ipv4_version'][0])):
        for _ in range(2):
            fr, pad = fn()
            c.add(fr[:12] + struct.pack('!HH', 0x8100, 42) + fr[12:], 'drop:' + reason, pad)
    for _ in range(4):
        c.add(c.tcp_frame(client4(r), VIP, sport(r), 8080, F_SYN), 'drop:no_active_node')
    for _ in range(2):
        c.add(c.udp_frame(client4(r), VIP, sport(r), 9999), 'drop:no_service')
        c.add(c.icmp_frame(client4(r), VIP), 'drop:no_service')
        c.add(c.tcp_frame(client4(r), '198.51.100.99', sport(r), 80), 'drop:no_service')
        c.add(c.icmp_frame(client6(r), VIP6), 'drop:no_service')
    # good frames, among them some that are only just good
    for _ in range(60):
        proto, port = r.choice([(TCP, 80), (UDP, 53)])
        if r.random() < 0.7:
            c.add(c.l4_frame(proto, client4(r), VIP, sport(r), port), None)
        else:
            c.add(c.l4_frame(proto, client6(r), VIP6, sport(r), port), None)
    for _ in range(3):
        s = client4(r)
        # IPv4 options (IHL 6 and 15)
        c.add(c.udp_frame(s, VIP, sport(r), 53, ipkw={'options': b'\x01\x01\x01\x00'}),
              'private:web')
        c.add(c.udp_frame(s, VIP, sport(r), 53, ipkw={'options': b'\x01' * 39 + b'\x00'}),
              'private:web')
        # TCP options
        c.add(c.tcp_frame(s, VIP, sport(r), 80, F_SYN,
                          options=b'\x02\x04\x05\xb4\x01\x03\x03\x07\x04\x02\x01\x01'),
              'private:web')
        # a first fragment (MF, offset 0) with its UDP header
        c.add(c.ip_frame(s, VIP, UDP, udp(ip_b(s), ip_b(VIP), sport(r), 53, c.payload(16, 40)),
                         frag=0x2000), 'private:web')
        # exactly 20 bytes of TCP, exactly 8 of UDP, IP header exactly at the frame end + 0
        c.add(c.tcp_frame(s, VIP, sport(r), 80, F_ACK, payload=b''), 'private:web')
        c.add(c.udp_frame(s, VIP, sport(r), 53, payload=b''), 'private:web', pad=False)
        # SYN+ACK, FIN alone, RST+ACK are fine
        for fl in (F_SYN | F_ACK, F_FIN, F_RST | F_ACK):
            c.add(c.tcp_frame(s, VIP, sport(r), 80, fl), 'private:web')
    # labels for the plain good frames
    c.frames = [(fr, lab or ('private:web6' if struct.unpack_from('!H', fr, 12)[0] == 0x86dd
                             else 'private:web')) for fr, lab in c.frames]
    c.shuffle()
    return c


def gen_mixed():
    c = Case('mixed', 110)
    r = c.rng
    nodes = list(range(1, 9))

    def weights(n, zero=False):
        chosen = r.sample(nodes, n)
        w = {'node%d' % x: r.randint(1, 10) for x in chosen}
        if zero:
            w['node%d' % chosen[0]] = 0
        return w

    v_web, v_app, v_wild = '198.51.100.30', '198.51.100.31', '198.51.100.32'
    v6_web, v6_wild = '2001:db8:100::30', '2001:db8:100::32'
    services = [
        svc('m_web', v_web, 'weighted', weights(5, zero=True), ports=['80/tcp', '443/tcp']),
        svc('m_dns', v_web, 'weighted', weights(3), ports=['53/udp']),
        svc('m_app', v_app, 'sticky', weights(4, zero=True),
            ports=['8080/tcp', '8443/tcp', '5000/udp']),
        svc('m_wild', v_wild, 'sticky-wild', weights(3), protocols=['tcp', 'udp']),
        svc('m_web6', v6_web, 'weighted', weights(2), ports=['80/tcp', '443/tcp']),
        svc('m_wild6', v6_wild, 'sticky-wild', weights(3, zero=True), protocols=['tcp']),
    ]
    c.config = config(nodes, services)

    def maybe_tags():
        x = r.random()
        if x < 0.04:
            return ((0x8100, r.randint(1, 4094)),)
        if x < 0.06:
            return ((0x88a8, r.randint(1, 4094)), (0x8100, r.randint(1, 4094)))
        return ()

    # m_web: 4500 (source, port) keys
    keys = set()
    while len(keys) < 4500:
        keys.add((client4(r, wide=r.random() < 0.8), sport(r)))
    for s, sp in sorted(keys):
        for _ in range(1 if r.random() < 0.8 else 2):
            c.add(c.tcp_frame(s, v_web, sp, r.choice([80, 443]), tags=maybe_tags()),
                  'private:m_web')
    for _ in range(1400):
        s, sp = client4(r, wide=True), sport(r)
        c.add(c.udp_frame(s, v_web, sp, 53, tags=maybe_tags()), 'private:m_dns')
    # m_app and m_wild: 2500 sources each, several ports per source
    for name, vip in (('m_app', v_app), ('m_wild', v_wild)):
        srcs = set()
        while len(srcs) < 2500:
            srcs.add(client4(r, wide=True))
        for s in sorted(srcs):
            for _ in range(r.choice([1, 1, 2, 2, 3])):
                if name == 'm_app':
                    proto, port = r.choice([(TCP, 8080), (TCP, 8443), (UDP, 5000)])
                else:
                    proto, port = r.choice([TCP, UDP]), r.randint(1, 65535)
                c.add(c.l4_frame(proto, s, vip, sport(r), port, tags=maybe_tags()),
                      'private:' + name)
    for _ in range(1500):
        c.add(c.tcp_frame(client6(r), v6_web, sport(r), r.choice([80, 443])), 'private:m_web6')
    srcs6 = [client6(r) for _ in range(300)]
    for _ in range(800):
        c.add(c.tcp_frame(r.choice(srcs6), v6_wild, sport(r), r.randint(1, 65535)),
              'private:m_wild6')
    # non-scalable
    for _ in range(1400):
        s = client4(r, wide=r.random() < 0.5)
        k = r.randint(0, 6)
        if k == 0:
            c.add(c.icmp_frame(s, r.choice([v_web, v_app, v_wild]), tags=maybe_tags()), 'local')
        elif k == 1:
            c.add(c.udp_frame(s, v_web, sport(r), 123), 'local')
        elif k == 2:
            c.add(c.tcp_frame(s, v_app, sport(r), 22), 'local')
        elif k == 3:
            c.add(c.arp_frame(s, r.choice([v_web, v_app, v_wild]), tags=maybe_tags()), 'local')
        elif k == 4:
            c.add(c.tcp_frame(s, '198.51.100.99', sport(r), 80), 'local')
        elif k == 5:
            c.add(c.icmp_frame(r.choice(srcs6), v6_web), 'local')
        else:
            c.add(c.udp_frame(r.choice(srcs6), v6_wild, sport(r), 53), 'local')
    # a sprinkling of malformed frames
    G = malformed_frames(c, v_web, (UDP, 53), v6_web, (TCP, 80))
    reasons = sorted(G)
    for i in range(300):
        reason = reasons[i % len(reasons)]
        fr, pad = r.choice(G[reason])()
        c.add(fr, 'drop:' + reason, pad)
    c.shuffle()
    return c


def icmp_error(t, code, quoted, v6=None):
    """An ICMP (or ICMPv6 when v6=(src, dst)) error quoting `quoted`."""
    m = struct.pack('!BBHI', t, code, 0, 1400 if t in (2, 3) else 0) + quoted
    c = csum((pseudo(v6[0], v6[1], ICMP6, len(m)) if v6 else b'') + m)
    return m[:2] + struct.pack('!H', c) + m[4:]


def gen_icmp_frag():
    """ICMP errors reach the node of the flow they quote; echo requests to a
    VIP are answered; a datagram's fragments stay together."""
    c = Case('icmp_frag', 111)
    VIP2, VIP3 = '198.51.100.11', '198.51.100.12'
    c.config = config([1, 2, 3, 4], [
        svc('web', VIP, 'weighted', {'node1': 1, 'node2': 1, 'node3': 1},
            ports=['80/tcp', '53/udp']),
        svc('app', VIP2, 'sticky', {'node2': 1, 'node3': 1, 'node4': 1},
            ports=['8080/tcp', '5353/udp']),
        svc('wild', VIP3, 'sticky-wild', {'node1': 1, 'node4': 1}, protocols=['tcp', 'udp']),
        svc('web6', VIP6, 'weighted', {'node1': 1, 'node2': 1}, ports=['80/tcp']),
    ])
    r = c.rng
    router, router6 = '203.0.113.254', '2001:db8:ffff::1'
    ident = [1000]

    def nid():
        ident[0] += 1
        return ident[0]

    def frags4(src, dst, proto, l4, lab, order=(0, 1, 2)):
        # three fragments of one datagram: [0] carries the L4 header
        i = nid()
        body = l4 + bytes(r.getrandbits(8) for _ in range(48 - len(l4) % 8 + 32))
        parts = [body[:24], body[24:48], body[48:]]
        out = []
        for k, part in enumerate(parts):
            mf = 0x2000 if k < 2 else 0
            ip = ipv4(ip_b(src), ip_b(dst), proto, part, ident=i, frag=mf | (k * 3))
            out.append(l2(PUB_MAC, c.cmac(ip_b(src)), 0x0800) + ip)
        for k in order:
            c.add(out[k], lab)

    for n in range(200):
        cl, sp = client4(r), sport(r)
        # a connection of web, and a router telling the VIP about it
        c.add(c.tcp_frame(cl, VIP, sp, 80, flags=F_SYN), 'private:web')
        q = ipv4(ip_b(VIP), ip_b(cl), TCP, tcp(ip_b(VIP), ip_b(cl), 80, sp, F_SYN | F_ACK)[:8])
        t, code = r.choice([(3, 4), (3, 1), (11, 0)])
        c.add(c.ip_frame(router, VIP, ICMP, icmp_error(t, code, q)), 'private:web')
        # sticky service: same client on its other port, and an error about it
        c.add(c.udp_frame(cl, VIP2, sp, 5353), 'private:app')
        q = ipv4(ip_b(VIP2), ip_b(cl), UDP, udp(ip_b(VIP2), ip_b(cl), 5353, sp)[:8])
        c.add(c.ip_frame(router, VIP2, ICMP, icmp_error(3, 4, q)), 'private:app')
        k = n % 8
        if k == 0:
            # fragmented UDP to the weighted service: all three to one node
            frags4(cl, VIP, UDP, udp(ip_b(cl), ip_b(VIP), sp, 53, b'x' * 40), 'private:web')
        elif k == 1:
            frags4(cl, VIP2, UDP, udp(ip_b(cl), ip_b(VIP2), sp, 5353, b'y' * 40), 'private:app')
        elif k == 2:
            # sticky-wild: a later fragment ahead of its first is placed too
            frags4(cl, VIP3, UDP, udp(ip_b(cl), ip_b(VIP3), sp, 7000, b'z' * 40),
                   'private:wild', order=(2, 0, 1))
        elif k == 3:
            # a later fragment of a port-keyed service whose first never came
            i = nid()
            c.add(l2(PUB_MAC, c.cmac(ip_b(cl)), 0x0800) + ipv4(
                ip_b(cl), ip_b(VIP), UDP, b'q' * 24, ident=i, frag=0x2000 | 3), 'drop:fragment')
        elif k == 4:
            # echo requests: to a VIP answered by cnmux, elsewhere to the host
            c.add(c.icmp_frame(cl, VIP), 'public')
            c.add(c.icmp_frame(cl, '198.51.100.2'), 'local')
        elif k == 5:
            # an error quoting a cut-short header; one quoting a flow of nobody
            q = ipv4(ip_b(VIP), ip_b(cl), TCP, b'')[:16]
            c.add(c.ip_frame(router, VIP, ICMP, icmp_error(3, 4, q)), 'drop:icmp_inner')
            q = ipv4(ip_b('198.51.100.77'), ip_b(cl), UDP, udp(ip_b(VIP), ip_b(cl), 9, sp)[:8])
            c.add(c.ip_frame(router, '198.51.100.77', ICMP, icmp_error(3, 3, q)), 'local')
        elif k == 6:
            # the VIP as source
            c.add(c.tcp_frame(VIP, VIP, sp, 80, flags=F_SYN), 'drop:martian_src')
            # a fragmented ping to the host: every fragment local
            frags4(cl, '198.51.100.2', ICMP, icmp_echo(7, n, b'p' * 16), 'local')
        else:
            # IPv6: packet too big about a web6 flow, echo to the IPv6 VIP
            c6 = client6(r)
            c.add(c.tcp_frame(c6, VIP6, sp, 80, flags=F_SYN), 'private:web6')
            q = ipv6(ip_b(VIP6), ip_b(c6), TCP, tcp(ip_b(VIP6), ip_b(c6), 80, sp, F_SYN | F_ACK))
            m = icmp_error(2, 0, q[:48], v6=(ip_b(router6), ip_b(VIP6)))
            c.add(c.ip_frame(router6, VIP6, ICMP6, m), 'private:web6')
            c.add(c.icmp_frame(c6, VIP6), 'public')
    return c


CASES = {
    'weighted': gen_weighted,
    'weights_3_1': gen_weights_3_1,
    'sticky': gen_sticky,
    'sticky_wild': gen_sticky_wild,
    'nonscalable_local': gen_nonscalable_local,
    'nonscalable_default': gen_nonscalable_default,
    'ipv6_vip': gen_ipv6_vip,
    'vlan': gen_vlan,
    'malformed': gen_malformed,
    'mixed': gen_mixed,
    'icmp_frag': gen_icmp_frag,
}

# ---------------------------------------------------------------- output ----


def write_pcap(path, frames):
    pcapio.write_pcap(path, frames, t0=1577836800)  # 2020-01-01, fixed


def verify(c, cfg_path):
    """Compare each frame's intended verdict with check.py's model."""
    sys.path.insert(0, HERE)
    import check
    with open(cfg_path) as f:
        model = check.Model(json.load(f))
    bad = 0
    for i, (fr, label) in enumerate(c.frames):
        v = model.classify(fr)
        got = {'drop': lambda: 'drop:' + v['reason'], 'local': lambda: 'local',
               'arp_reply': lambda: 'public', 'echo_reply': lambda: 'public',
               'private': lambda: 'private:' + v['svc'] if v['svc'] else 'default'}[v['v']]()
        if got != label:
            bad += 1
            if bad <= 10:
                print('  %s frame #%d: generated as %s, the model says %s: %s'
                      % (c.name, i, label, got, fr[:64].hex()))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(ROOT, 'pcaps'))
    ap.add_argument('cases', nargs='*', default=list(CASES))
    a = ap.parse_args()
    status = 0
    for name in a.cases:
        if name not in CASES:
            print('unknown case %s (known: %s)' % (name, ', '.join(CASES)))
            return 2
        c = CASES[name]()
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        cfg_path = os.path.join(d, 'config.json')
        with open(cfg_path, 'w') as f:
            json.dump(c.config, f, indent=2)
            f.write('\n')
        write_pcap(os.path.join(d, 'in.pcap'), [fr for fr, _ in c.frames])
        counts = {}
        for _, lab in c.frames:
            k = lab.split(':')[0]
            counts[k] = counts.get(k, 0) + 1
        bad = verify(c, cfg_path)
        print('%-20s %6d frames (%s)%s' % (name, len(c.frames), ', '.join(
            '%s %d' % kv for kv in sorted(counts.items())),
            '' if not bad else '  MODEL DISAGREES ON %d FRAMES' % bad))
        if bad:
            status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
