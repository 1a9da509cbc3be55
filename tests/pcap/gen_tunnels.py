#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Generate the golden pcap cases of the tunnel forwarding methods (ipip, gue).

    gen_tunnels.py [--out DIR] [CASE ...]

Writes, for each case, pcaps/<case>/: in.pcap, config.json, expected_private.pcap,
expected_local.pcap, expected_public.pcap (cases with "too big" replies) and
expected_stats.json. Unlike tests/pcap/gen_cases.py, whose expected outputs are
recorded from a replay that check.py accepted, here the expected outputs are
built by an independent encoder, scapy, from docs/forwarding.md, before (and
whatever) cnmux does:

  - each tunnelled frame: Ether(dst=node mac, src=private port MAC) / outer
    IP() or IPv6() [/ UDP() for gue] / the received IP packet (parsed back into
    scapy's IP() / IPv6(), checked to serialise to the same bytes), scapy
    computing lengths, protocol numbers and checksums;
  - each "too big" reply: Ether(dst=client MAC, src=public port MAC) /
    IP(VIP -> client) / ICMP(type 3, code 4, nexthopmtu) / quote, or
    IPv6(VIP -> client) / ICMPv6PacketTooBig(mtu) / quote;
  - mac-method and local frames as in the other cases.

Every service has a single node, so the node of a frame is trivial; what is
tested is the encapsulation. The flow entropy is e = fmix32(crc32c(hash_key,
source address bytes + source port big-endian)) from the Python model in
tests/fixtures/fixtures.py (shares no code with cnmux).

After building, every expected frame is checked a second time with a raw-byte
decoder written here (not scapy): outer fields as docs/forwarding.md says,
checksums valid, and the decapsulated packet equal to the input's IP packet.

Deterministic: fixed seeds, fixed pcap timestamps; running it twice writes
identical files. Needs /usr/bin/python3 with python3-scapy.
"""

import argparse
import ipaddress
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'fixtures'))

import logging  # noqa: E402
logging.getLogger('scapy.runtime').setLevel(logging.ERROR)

from scapy.layers.l2 import Ether, Dot1Q, Dot1AD  # noqa: E402
from scapy.layers.inet import IP, TCP, UDP, ICMP  # noqa: E402
from scapy.layers.inet6 import (IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop,  # noqa: E402
                                IPv6ExtHdrFragment, ICMPv6PacketTooBig, ICMPv6EchoRequest,
                                PadN)
from scapy.packet import Raw  # noqa: E402

from gen_cases import write_pcap, client4, client6  # noqa: E402  (pcap writer, addresses)
from fixtures import client_hash, parse_key  # noqa: E402  (the client hash model)

PUB_MAC = '02:70:63:61:70:00'    # net_pcap0 (public port): source of the too-big replies
PRIV_MAC = '02:70:63:61:70:01'   # net_pcap1 (private port): source of forwarded frames
DEFAULT_KEY = '0x636e6d78'
ICMP6_QUOTE_LIMIT = 1280         # ICMPv6 error: the whole IPv6 packet fits in 1280 bytes

TOS_VALUES = (0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x10, 0x28, 0xb8, 0xb9, 0xc0, 0x2e, 0xfe)


def mac_b(s):
    return bytes.fromhex(s.replace(':', ''))


def fam(addr):
    return 6 if ':' in addr else 4

# ---------------------------------------------------------- configuration ----


class Node:
    def __init__(self, name, ip, mac, forward='mac', gue_port=None):
        self.name, self.ip, self.mac, self.forward = name, ip, mac, forward
        self.gue_port = gue_port

    def cfg(self):
        d = {'name': self.name, 'ip': self.ip, 'mac': self.mac}
        if self.forward != 'mac':
            d['forward'] = self.forward
        if self.gue_port is not None:
            d['gue_port'] = self.gue_port
        return d


class Svc:
    def __init__(self, name, vip, policy, node, ports=None, protocols=None):
        self.name, self.vip, self.policy, self.node = name, vip, policy, node
        self.ports = ports or []          # [(proto, port)]
        self.protocols = protocols or []  # sticky-wild: ['tcp', 'udp']

    def cfg(self):
        d = {'name': self.name, 'vip': self.vip}
        if self.policy == 'sticky-wild':
            d['protocols'] = list(self.protocols)
        else:
            d['ports'] = ['%d/%s' % (p, proto) for proto, p in self.ports]
        d['policy'] = self.policy
        d['nodes'] = {self.node.name: 1}
        return d

    def pick(self, rng):
        """(protocol name, destination port) of a frame to this service."""
        if self.policy == 'sticky-wild':
            return rng.choice(self.protocols), rng.randint(1, 65535)
        return rng.choice(self.ports)


def vlan_l2(eth, tags):
    """eth / the 802.1ad and 802.1Q tags ((tpid, prio, vid), ...)."""
    for tpid, prio, vid in tags:
        eth = eth / (Dot1AD(vlan=vid, prio=prio) if tpid == 0x88a8 else
                     Dot1Q(vlan=vid, prio=prio))
    return eth


def overhead(node, inner_fam):
    return (20 if fam(node.ip) == 4 else 40) + (8 if node.forward == 'gue' else 0)

# ------------------------------------------------------------------ frames ----


class Frame:
    """One input frame and what must become of it.

    kind: 'private' (forwarded to svc's node), 'local' (unchanged on the local
    port), 'too_big' (an ICMP / ICMPv6 reply on the public port), 'drop'."""

    def __init__(self, wire, ip, smac, src, sport, svc, kind, reason=None, desc='', tags=()):
        self.wire, self.ip, self.smac, self.src, self.sport = wire, ip, smac, src, sport
        self.tags = tags   # ((tpid, prio, vid), ...) as on the wire
        self.svc, self.kind, self.reason, self.desc = svc, kind, reason, desc
        self.node = svc.node if svc is not None else None   # the default node: set by add_ip


class Case:
    def __init__(self, name, seed, nodes, services, tunnel, hash_key=None, local=True,
                 default_node=None):
        self.name = name
        self.rng = random.Random(seed)
        self.nodes, self.services, self.tunnel = nodes, services, tunnel
        self.hash_key = hash_key
        self.key = parse_key(hash_key or DEFAULT_KEY)
        self.local = local
        self.default_node = default_node
        self.mtu = tunnel.get('mtu', 1500)
        self.frames = []

    def config(self):
        c = {'ports': {'public': 'net_pcap0', 'private': ['net_pcap1']}}
        if self.local:
            c['ports']['local'] = 'net_pcap2'
        if self.hash_key:
            c['hash_key'] = self.hash_key
        if self.default_node:
            c['default_node'] = self.default_node.name
        c['tunnel'] = self.tunnel
        c['nodes'] = [n.cfg() for n in self.nodes]
        c['services'] = [s.cfg() for s in self.services]
        return c

    def cmac(self, src):
        """A client MAC derived from its address (locally administered)."""
        import hashlib
        h = hashlib.sha256(ipaddress.ip_address(src).packed).digest()
        return '02:%02x:%02x:%02x:%02x:%02x' % tuple(h[:5])

    def payload(self, lo, hi):
        r = self.rng
        return bytes(r.getrandbits(8) for _ in range(r.randint(lo, hi)))

    # ---- the frame builder (scapy): returns the wire bytes and the IP packet
    def build(self, src, dst, proto, sport, dport, payload, tags=(), tos=0, df=True,
              ipopts=None, v6ext=None, flags=None, pad='auto', trailer=b''):
        r = self.rng
        self.last_tags = tuple((tpid, r.randint(0, 7), vid) for tpid, vid in tags)
        if proto == 'tcp':
            if flags is None:
                flags = r.choice(['S', 'A', 'PA', 'FA', 'R', 'SA', 'RA'])
            l4 = TCP(sport=sport, dport=dport, flags=flags, seq=r.getrandbits(32),
                     ack=r.getrandbits(32) if 'A' in flags else 0, window=r.randint(512, 65535))
        else:
            l4 = UDP(sport=sport, dport=dport)
        l4 = l4 / Raw(payload) if payload else l4
        if fam(src) == 4:
            ip = IP(src=src, dst=dst, tos=tos, id=r.getrandbits(16), flags='DF' if df else 0,
                    ttl=r.randint(2, 255), options=ipopts or [])
        else:
            ip = IPv6(src=src, dst=dst, tc=tos, fl=r.getrandbits(20), hlim=r.randint(2, 255))
            if v6ext == 'dest':
                ip = ip / IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\0' * 4)])
            elif v6ext == 'hbh':
                ip = ip / IPv6ExtHdrHopByHop(options=[PadN(optdata=b'\0' * 4)]) / \
                    IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\0' * 12)])
        return self.wrap(src, ip / l4, pad, trailer)

    def wrap(self, src, pkt, pad='auto', trailer=b''):
        """The frame of an IP packet (scapy) from client src, behind the tags of
        self.last_tags: (wire bytes, IP packet bytes)."""
        r = self.rng
        l2 = vlan_l2(Ether(dst=PUB_MAC, src=self.cmac(src)), self.last_tags)
        ipb = bytes(pkt)
        wire = bytes(l2 / pkt)   # scapy sets the ethertypes of the stack
        assert wire.endswith(ipb) and len(wire) == 14 + 4 * len(self.last_tags) + len(ipb)
        # Ethernet padding as a NIC leaves it: to 60 bytes, zeros or junk
        if len(wire) < 60:
            if pad == 'auto':
                pad = 'zero' if r.random() < 0.5 else 'junk'
            fill = 60 - len(wire)
            wire += b'\0' * fill if pad == 'zero' else bytes(r.getrandbits(8)
                                                              for _ in range(fill))
        return wire + trailer, ipb

    def add(self, svc, src, proto, sport, dport, payload, kind='private', reason=None,
            desc='', **kw):
        wire, ipb = self.build(src, svc.vip if svc else kw.pop('dst'), proto, sport, dport,
                               payload, **kw)
        self.frames.append(Frame(wire, ipb, mac_b(self.cmac(src)), src, sport, svc, kind,
                                 reason, desc, self.last_tags))

    last_tags = ()

    def add_ip(self, svc, src, sport, pkt, desc, node=None, tags=(), kind='private'):
        """A frame carrying the scapy IP packet pkt; src and sport are the
        flow's client address and port (sport 0: a frame without ports), from
        which the entropy is computed. node: the default node, for svc None."""
        r = self.rng
        self.last_tags = tuple((tpid, r.randint(0, 7), vid) for tpid, vid in tags)
        wire, ipb = self.wrap(str(pkt.src), pkt)
        f = Frame(wire, ipb, mac_b(self.cmac(str(pkt.src))), src, sport, svc, kind,
                  None, desc, self.last_tags)
        if node is not None:
            f.node = node
        self.frames.append(f)

    def add_raw(self, wire, kind, reason=None, desc=''):
        self.frames.append(Frame(wire, None, None, None, None, None, kind, reason, desc))

    # ---- a frame with an exact IP total length
    def sized(self, svc, src, proto, sport, dport, iplen, **kw):
        """A frame whose IP packet is exactly iplen bytes long."""
        hdr = (20 if fam(src) == 4 else 40) + (20 if proto == 'tcp' else 8)
        if kw.get('ipopts'):
            hdr += len(b''.join(bytes(o) for o in kw['ipopts']))
        if kw.get('v6ext') == 'dest':
            hdr += 8
        elif kw.get('v6ext') == 'hbh':
            hdr += 24
        if proto == 'tcp':
            kw.setdefault('flags', 'PA')
        n = iplen - hdr
        assert n >= 0
        body = bytes((i * 7 + iplen) & 0xff for i in range(n))
        self.add(svc, src, proto, sport, dport, body, **kw)
        assert len(self.frames[-1].ip) == iplen, (len(self.frames[-1].ip), iplen)

    # ---- what each frame must become
    def entropy(self, f):
        return client_hash(self.key, f.src, f.sport)

    def outer_src(self, node, e):
        key = 'source4' if fam(node.ip) == 4 else 'source6'
        net = self.tunnel[key]
        a, _, p = net.partition('/')
        bits = 32 if fam(node.ip) == 4 else 128
        p = int(p) if p else bits
        n = min(bits - p, 16)
        mask = (1 << n) - 1
        v = (int(ipaddress.ip_address(a)) & ~mask) | (e & mask)
        return str(ipaddress.ip_address(v))

    def expected_private(self, f):
        node = f.node
        inner = IP(f.ip) if f.ip[0] >> 4 == 4 else IPv6(f.ip)
        assert bytes(inner) == f.ip, 'scapy does not re-serialise %s byte for byte' % f.desc
        if node.forward == 'mac':
            return bytes(Ether(dst=node.mac, src=PRIV_MAC) / inner)
        e = self.entropy(f)
        if f.ip[0] >> 4 == 4:
            tc = f.ip[1]
            ident = struct.unpack_from('!H', f.ip, 4)[0]
            df = bool(f.ip[6] & 0x40)
        else:
            tc = ((f.ip[0] & 0x0f) << 4) | (f.ip[1] >> 4)
            ident, df = 0, True
        src = self.outer_src(node, e)
        if fam(node.ip) == 4:
            outer = IP(src=src, dst=node.ip, tos=tc, id=ident, flags='DF' if df else 0, ttl=64)
        else:
            outer = IPv6(src=src, dst=node.ip, tc=tc, fl=e & 0xfffff, hlim=64)
        if node.forward == 'gue':
            udp = UDP(sport=49152 + (e & 0x3fff), dport=node.gue_port or 6080)
            if fam(node.ip) == 4:
                udp.chksum = 0
            outer = outer / udp
        return bytes(Ether(dst=node.mac, src=PRIV_MAC) / outer / inner)

    def expected_reply(self, f):
        node = f.node
        mtu = self.mtu - overhead(node, f.ip[0] >> 4)
        if f.ip[0] >> 4 == 4:
            ihl = (f.ip[0] & 15) * 4
            quote = f.ip[:ihl + 8]
            pkt = IP(src=f.svc.vip, dst=f.src, ttl=64, id=0, tos=0, flags=0) / \
                ICMP(type=3, code=4, nexthopmtu=mtu) / Raw(quote)
        else:
            quote = f.ip[:ICMP6_QUOTE_LIMIT - 40 - 8]
            pkt = IPv6(src=f.svc.vip, dst=f.src, hlim=64, tc=0, fl=0) / \
                ICMPv6PacketTooBig(mtu=max(1280, mtu)) / Raw(quote)
        # to the MAC the frame came from, its VLAN tags kept
        return bytes(vlan_l2(Ether(dst=f.smac, src=PUB_MAC), f.tags) / pkt)

    def is_too_big(self, f):
        node = f.node
        return node.forward != 'mac' and len(f.ip) + overhead(node, 0) > self.mtu

# --------------------------------------------------- independent re-check ----


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def recheck_private(c, f, out):
    """The expected frame, decoded from raw bytes against docs/forwarding.md."""
    node = f.node
    err = []
    ok = lambda cond, what: cond or err.append(what)  # noqa: E731
    ok(out[0:6] == mac_b(node.mac), 'ethernet destination')
    ok(out[6:12] == mac_b(PRIV_MAC), 'ethernet source')
    et = struct.unpack_from('!H', out, 12)[0]
    if node.forward == 'mac':
        ok(et == (0x0800 if f.ip[0] >> 4 == 4 else 0x86dd), 'ethertype')
        ok(out[14:] == f.ip, 'the IP packet unchanged')
        return err
    e = client_hash(c.key, f.src, f.sport)
    inner4 = f.ip[0] >> 4 == 4
    tc = f.ip[1] if inner4 else ((f.ip[0] & 15) << 4) | (f.ip[1] >> 4)
    o = out[14:]
    gue = node.forward == 'gue'
    nproto = 17 if gue else (4 if inner4 else 41)
    if fam(node.ip) == 4:
        ok(et == 0x0800, 'ethertype 0x0800')
        ok(o[0] == 0x45, 'version 4, IHL 5')
        ok(o[1] == tc, 'TOS copied')
        ok(struct.unpack_from('!H', o, 2)[0] == len(o), 'total length')
        ok(o[4:6] == (f.ip[4:6] if inner4 else b'\0\0'), 'identification')
        df = (f.ip[6] & 0x40) if inner4 else 0x40
        ok(struct.unpack_from('!H', o, 6)[0] == (0x4000 if df else 0), 'flags and offset')
        ok(o[8] == 64, 'TTL 64')
        ok(o[9] == nproto, 'protocol')
        ok(csum(o[:20]) == 0, 'header checksum')
        src = ipaddress.ip_address(o[12:16])
        ok(o[16:20] == ipaddress.ip_address(node.ip).packed, 'outer destination')
        hl = 20
    else:
        ok(et == 0x86dd, 'ethertype 0x86dd')
        w = struct.unpack_from('!I', o, 0)[0]
        ok(w >> 28 == 6, 'version 6')
        ok((w >> 20) & 0xff == tc, 'traffic class copied')
        ok(w & 0xfffff == e & 0xfffff, 'flow label = e & 0xfffff')
        ok(struct.unpack_from('!H', o, 4)[0] == len(o) - 40, 'payload length')
        ok(o[6] == nproto, 'next header')
        ok(o[7] == 64, 'hop limit 64')
        src = ipaddress.ip_address(o[8:24])
        ok(o[24:40] == ipaddress.ip_address(node.ip).packed, 'outer destination')
        hl = 40
    # the outer source: the configured prefix, low bits (at most 16) from e
    net = c.tunnel['source4' if fam(node.ip) == 4 else 'source6']
    a, _, p = net.partition('/')
    a = ipaddress.ip_address(a)
    p = int(p) if p else a.max_prefixlen
    keep = a.max_prefixlen - min(a.max_prefixlen - p, 16)
    hostbits = a.max_prefixlen - keep
    ok(int(src) >> hostbits == int(a) >> hostbits, 'outer source prefix')
    ok(int(src) & ((1 << hostbits) - 1) == e & ((1 << hostbits) - 1), 'outer source low bits')
    if gue:
        u = o[hl:hl + 8]
        sp, dp, ln, ck = struct.unpack('!HHHH', u)
        ok(sp == 0xc000 | (e & 0x3fff), 'GUE source port')
        ok(dp == (node.gue_port or 6080), 'GUE destination port')
        ok(ln == len(o) - hl, 'UDP length')
        if fam(node.ip) == 4:
            ok(ck == 0, 'UDP checksum 0 over IPv4')
        else:
            ps = o[8:40] + struct.pack('!IxxxB', ln, 17)
            ok(ck != 0 and csum(ps + o[hl:]) == 0, 'UDP checksum over IPv6')
        hl += 8
    ok(o[hl:] == f.ip, 'the inner packet unchanged')
    return err


def recheck_reply(c, f, out):
    err = []
    ok = lambda cond, what: cond or err.append(what)  # noqa: E731
    ok(out[0:6] == f.smac and out[6:12] == mac_b(PUB_MAC), 'ethernet addresses')
    nt = len(f.tags)
    ok(out[12:12 + 4 * nt] == f.wire[12:12 + 4 * nt], 'the VLAN tags kept')
    ok(out[12 + 4 * nt:14 + 4 * nt] == (b'\x08\x00' if f.ip[0] >> 4 == 4 else b'\x86\xdd'),
       'ethertype')
    mtu = c.mtu - overhead(f.node, 0)
    o = out[14 + 4 * nt:]
    vip = ipaddress.ip_address(f.svc.vip).packed
    cl = ipaddress.ip_address(f.src).packed
    if f.ip[0] >> 4 == 4:
        ihl = (f.ip[0] & 15) * 4
        ok(o[0] == 0x45 and o[8] == 64 and o[9] == 1 and csum(o[:20]) == 0, 'IPv4 header')
        ok(o[12:16] == vip and o[16:20] == cl, 'VIP -> client')
        m = o[20:]
        ok(m[0:2] == b'\x03\x04' and csum(m) == 0, 'ICMP type 3 code 4')
        ok(struct.unpack_from('!HH', m, 4) == (0, mtu), 'next-hop MTU')
        ok(m[8:] == f.ip[:ihl + 8], 'quote: IP header + 8 bytes')
    else:
        ok(o[0] >> 4 == 6 and o[6] == 58 and o[7] == 64, 'IPv6 header')
        ok(o[8:24] == vip and o[24:40] == cl, 'VIP -> client')
        ok(len(o) <= 1280, 'at most 1280 bytes')
        m = o[40:]
        ps = o[8:40] + struct.pack('!IxxxB', len(m), 58)
        ok(m[0:2] == b'\x02\x00' and csum(ps + m) == 0, 'ICMPv6 type 2')
        ok(struct.unpack_from('!I', m, 4)[0] == max(1280, mtu), 'MTU')
        ok(m[8:] == f.ip[:1232], 'quote')
    return err

# ------------------------------------------------------------ frame mixes ----


def client(rng, family):
    if family == 4:
        return client4(rng, wide=rng.random() < 0.6)
    return client6(rng)


def random_frames(c, svc, n, clients=None):
    """n frames to svc from many clients: TCP and UDP, VLAN tags, padding,
    trailers, DF and not, TOS / traffic class values, IPv4 options, IPv6
    extension headers."""
    r = c.rng
    vfam = fam(svc.vip)
    pool = clients or [client(r, vfam) for _ in range(max(8, n // 2))]
    conns = []
    for _ in range(n):
        if conns and r.random() < 0.3:
            src, sp, proto, dport = r.choice(conns)   # the same flow again
        else:
            src = r.choice(pool)
            sp = r.randint(1024, 65535)
            proto, dport = svc.pick(r)
            conns.append((src, sp, proto, dport))
        kw = {}
        x = r.random()
        if x < 0.10:
            kw['tags'] = ((0x8100, r.randint(1, 4094)),)
        elif x < 0.15:
            kw['tags'] = ((0x88a8, r.randint(1, 4094)), (0x8100, r.randint(1, 4094)))
        kw['tos'] = r.choice(TOS_VALUES)
        if vfam == 4:
            kw['df'] = r.random() < 0.7
            if r.random() < 0.06:
                kw['ipopts'] = [Raw(b'\x01\x01\x01\x00') if r.random() < 0.5 else
                                Raw(b'\x07\x07\x04' + b'\0' * 5)]   # NOPs+EOL, record route
        elif r.random() < 0.08:
            kw['v6ext'] = r.choice(['dest', 'hbh'])
        if r.random() < 0.05:
            kw['trailer'] = c.payload(1, 12)
        small = r.random() < 0.4
        body = c.payload(0, 10) if small else c.payload(11, 400)
        c.add(svc, src, proto, sp, dport, body, desc='%s %s' % (svc.name, proto), **kw)


def local_frames(c, n, vip4, vip6):
    """Non-scalable frames: to the local port unchanged (padding, tags kept)."""
    r = c.rng
    other4, other6 = '198.51.100.2', '2001:db8:100::2'
    for i in range(n):
        k = i % 4
        tags = ((0x8100, r.randint(1, 4094)),) if r.random() < 0.2 else ()
        if k == 0:
            c.add(None, client(r, 4), 'udp', r.randint(1024, 65535), 9999, c.payload(0, 30),
                  kind='local', dst=vip4, tags=tags, desc='udp to an unknown port of a VIP')
        elif k == 1:
            c.add(None, client(r, 4), 'tcp', r.randint(1024, 65535), 80, c.payload(0, 30),
                  kind='local', dst=other4, tags=tags, desc='tcp to another address')
        elif k == 2:
            c.add(None, client(r, 6), 'udp', r.randint(1024, 65535), 9999, c.payload(0, 30),
                  kind='local', dst=vip6, tags=tags, desc='udp to an unknown port of a VIP6')
        else:
            src = client(r, 6)
            p = Ether(dst=PUB_MAC, src=c.cmac(src)) / IPv6(src=src, dst=other6) / \
                ICMPv6EchoRequest(id=r.getrandbits(16), seq=i, data=c.payload(4, 40))
            c.add_raw(bytes(p), 'local', desc='echo to another IPv6 address')


def icmp_error_frames(c, svc, n):
    """ICMP / ICMPv6 errors from a router about flows of svc: they reach the
    flow's node, and their entropy is the flow's (the quoted packet turned
    around: source = the client, source port = the client's port)."""
    r = c.rng
    router = '203.0.113.254' if fam(svc.vip) == 4 else '2001:db8:ffff::1'
    for _ in range(n):
        cl = client(r, fam(svc.vip))
        cport = r.randint(1024, 65535)
        proto, vport = svc.pick(r)
        l4 = TCP(sport=vport, dport=cport, flags='SA', seq=r.getrandbits(32)) if proto == 'tcp' \
            else UDP(sport=vport, dport=cport) / Raw(c.payload(0, 40))
        if fam(svc.vip) == 4:
            q = bytes(IP(src=svc.vip, dst=cl, id=r.getrandbits(16), flags='DF') / l4)
            t = r.choice([(3, 4), (3, 1), (11, 0)])
            m = ICMP(type=t[0], code=t[1], nexthopmtu=1400 if t == (3, 4) else 0)
            pkt = IP(src=router, dst=svc.vip, id=r.getrandbits(16), tos=0xc0,
                     flags='DF' if r.random() < 0.5 else 0) / m / Raw(q[:r.choice([28, len(q)])])
        else:
            q = bytes(IPv6(src=svc.vip, dst=cl) / l4)
            pkt = IPv6(src=router, dst=svc.vip, tc=0xc0) / ICMPv6PacketTooBig(mtu=1400) / Raw(q)
        tags = ((0x8100, r.randint(1, 4094)),) if r.random() < 0.2 else ()
        c.add_ip(svc, cl, cport, pkt, '%s icmp error' % svc.name, tags=tags)


def fragment_frames(c, svc, n, later_alone=False):
    """UDP datagrams to svc in fragments: the first fragment has the ports
    (entropy from address and port), the later ones have none (entropy from
    the address and port 0). later_alone: only later fragments (a sticky-wild
    service places them without their first)."""
    r = c.rng
    for _ in range(n):
        cl = client(r, fam(svc.vip))
        sp = r.randint(1024, 65535)
        dport = (r.randint(1, 65535) if svc.policy == 'sticky-wild' else
                 r.choice([p for proto, p in svc.ports if proto == 'udp']))
        ident = r.getrandbits(16 if fam(svc.vip) == 4 else 32)
        tos = r.choice(TOS_VALUES)
        if fam(svc.vip) == 4:
            full = IP(src=cl, dst=svc.vip) / UDP(sport=sp, dport=dport) / Raw(c.payload(40, 90))
            l4 = bytes(full)[20:]
        else:
            full = IPv6(src=cl, dst=svc.vip) / UDP(sport=sp, dport=dport) / Raw(c.payload(40, 90))
            l4 = bytes(full)[40:]
        cuts = [0, 24, 48, len(l4)]
        tags = ((0x8100, r.randint(1, 4094)),) if r.random() < 0.2 else ()
        for k in range(3):
            if later_alone and k == 0:
                continue
            piece, off, more = l4[cuts[k]:cuts[k + 1]], cuts[k] // 8, k < 2
            if fam(svc.vip) == 4:
                pkt = IP(src=cl, dst=svc.vip, id=ident, tos=tos, proto=17,
                         flags='MF' if more else 0, frag=off) / Raw(piece)
            else:
                pkt = IPv6(src=cl, dst=svc.vip, tc=tos) / \
                    IPv6ExtHdrFragment(nh=17, offset=off, m=1 if more else 0, id=ident) / \
                    Raw(piece)
            c.add_ip(svc, cl, sp if k == 0 else 0, pkt,
                     '%s fragment %d' % (svc.name, k), tags=tags)


def port_zero_frames(c, svc, n):
    r = c.rng
    for _ in range(n):
        proto, dport = svc.pick(r)
        c.add(svc, client(r, fam(svc.vip)), proto, 0, dport, c.payload(0, 20), kind='drop',
              reason='port_zero', desc='source port 0')

# ------------------------------------------------------------------ cases ----


def n4(name, last, forward, gue_port=None):
    return Node(name, '192.0.2.%d' % last, '02:00:c0:00:02:%02x' % last, forward, gue_port)


def n6(name, last, forward, gue_port=None):
    return Node(name, '2001:db8:1::%x' % last, '02:00:20:01:00:%02x' % last, forward, gue_port)


WEB = [('tcp', 80), ('tcp', 443), ('udp', 53)]


def gen_tunnel_ipip():
    t4a, t6a = n4('t4a', 41, 'ipip'), n6('t6a', 0x42, 'ipip')
    t4b, t6b = n4('t4b', 43, 'ipip'), n6('t6b', 0x44, 'ipip')
    m1 = n4('m1', 11, 'mac')
    svcs = [
        Svc('ipip4', '198.51.100.40', 'weighted', t4a, ports=WEB),
        Svc('ip6ip6', '2001:db8:100::41', 'weighted', t6a, ports=WEB),
        Svc('six_in_four', '2001:db8:100::42', 'sticky', t4b, ports=[('tcp', 443), ('udp', 53)]),
        Svc('four_in_six', '198.51.100.43', 'sticky-wild', t6b, protocols=['tcp', 'udp']),
        Svc('mac4', '198.51.100.44', 'weighted', m1, ports=[('tcp', 80)]),
    ]
    c = Case('tunnel_ipip', 201, [t4a, t6a, t4b, t6b, m1], svcs,
             {'source4': '192.0.2.1', 'source6': '2001:db8:ff::1'})
    for s, n in zip(svcs, (400, 400, 250, 250, 60)):
        random_frames(c, s, n)
    local_frames(c, 24, '198.51.100.40', '2001:db8:100::41')
    port_zero_frames(c, svcs[0], 3)
    port_zero_frames(c, svcs[1], 3)
    c.rng.shuffle(c.frames)
    # in order, after the shuffle: a datagram's fragments follow their first
    for s in svcs[:4]:
        icmp_error_frames(c, s, 12)
    fragment_frames(c, svcs[0], 6)
    fragment_frames(c, svcs[1], 6)
    fragment_frames(c, svcs[2], 4)
    fragment_frames(c, svcs[3], 6, later_alone=True)
    return c


def gen_tunnel_gue():
    g4, g6 = n4('g4', 51, 'gue'), n6('g6', 0x52, 'gue', 5555)
    g4b, g6b = n4('g4b', 53, 'gue', 7777), n6('g6b', 0x54, 'gue')
    t4, t6 = n4('t4', 55, 'ipip'), n6('t6', 0x56, 'ipip')
    svcs = [
        Svc('gue4', '198.51.100.50', 'weighted', g4, ports=WEB),
        Svc('gue6', '2001:db8:100::51', 'weighted', g6, ports=WEB),
        Svc('gue_6in4', '2001:db8:100::52', 'sticky', g4b, ports=[('tcp', 443), ('udp', 53)]),
        Svc('gue_4in6', '198.51.100.53', 'sticky-wild', g6b, protocols=['tcp', 'udp']),
        Svc('ipip4_prefix', '198.51.100.54', 'weighted', t4, ports=[('tcp', 80)]),
        Svc('ip6ip6_prefix', '2001:db8:100::55', 'sticky', t6, ports=[('tcp', 80), ('udp', 53)]),
    ]
    c = Case('tunnel_gue', 202, [g4, g6, g4b, g6b, t4, t6], svcs,
             {'source4': '192.0.2.128/28', 'source6': '2001:db8:ff::/112'},
             hash_key='0x5eed1234')
    for s, n in zip(svcs, (400, 400, 250, 250, 200, 200)):
        random_frames(c, s, n)
    local_frames(c, 24, '198.51.100.50', '2001:db8:100::51')
    port_zero_frames(c, svcs[1], 3)
    c.rng.shuffle(c.frames)
    for s in svcs[:4]:
        icmp_error_frames(c, s, 12)
    fragment_frames(c, svcs[0], 6)
    fragment_frames(c, svcs[1], 6)
    fragment_frames(c, svcs[2], 4)
    fragment_frames(c, svcs[3], 6, later_alone=True)
    return c


def gen_tunnel_default():
    """No local port; the default node is a GUE node with an IPv6 address:
    non-scalable IPv4 and IPv6 go to it in GUE, among them frames without
    ports (ICMP, GRE: entropy from the address and port 0)."""
    d6 = n6('dflt', 0x70, 'gue')
    t4 = n4('t4', 71, 'ipip')
    svcs = [Svc('ipip4', '198.51.100.70', 'weighted', t4, ports=WEB)]
    c = Case('tunnel_default', 205, [t4, d6], svcs,
             {'source4': '192.0.2.1', 'source6': '2001:db8:ff::/120'}, local=False,
             default_node=d6)
    r = c.rng
    random_frames(c, svcs[0], 100)
    other4, other6, vip = '198.51.100.2', '2001:db8:100::2', '198.51.100.70'
    for i in range(160):
        k = i % 8
        tags = ()
        x = r.random()
        if x < 0.15:
            tags = ((0x8100, r.randint(1, 4094)),)
        elif x < 0.2:
            tags = ((0x88a8, r.randint(1, 4094)), (0x8100, r.randint(1, 4094)))
        v6 = k in (1, 5, 7)
        cl = client(r, 6 if v6 else 4)
        sp = r.randint(1024, 65535)
        tos = r.choice(TOS_VALUES)
        if k == 0:
            pkt = IP(src=cl, dst=other4, tos=tos, id=r.getrandbits(16), flags='DF') / \
                ICMP(type=8, id=r.getrandbits(16), seq=i) / Raw(c.payload(0, 56))
            sp = 0
        elif k == 1:
            pkt = IPv6(src=cl, dst=other6, tc=tos) / \
                ICMPv6EchoRequest(id=r.getrandbits(16), seq=i, data=c.payload(0, 56))
            sp = 0
        elif k == 2:
            pkt = IP(src=cl, dst=vip, tos=tos, id=r.getrandbits(16)) / \
                Raw(b'\0\0\x08\0' + c.payload(20, 60))
            pkt.proto = 47   # GRE: no ports
            sp = 0
        elif k == 3:
            pkt = IP(src=cl, dst=vip, tos=tos, id=r.getrandbits(16), flags='DF') / \
                UDP(sport=sp, dport=r.choice([123, 161, 9999])) / Raw(c.payload(0, 60))
        elif k == 4:
            pkt = IP(src=cl, dst=other4, tos=tos, id=r.getrandbits(16)) / \
                TCP(sport=sp, dport=r.choice([22, 80, 443]), flags='S', seq=r.getrandbits(32))
        elif k == 5:
            pkt = IPv6(src=cl, dst=other6, tc=tos) / \
                TCP(sport=sp, dport=22, flags='PA', seq=r.getrandbits(32)) / \
                Raw(c.payload(0, 60))
        elif k == 6:
            # a later fragment of ICMP to another address: non-scalable, no ports
            pkt = IP(src=cl, dst=other4, tos=tos, id=r.getrandbits(16), proto=1, frag=3) / \
                Raw(c.payload(8, 40))
            sp = 0
        else:
            pkt = IPv6(src=cl, dst=other6, tc=tos) / UDP(sport=sp, dport=53) / \
                Raw(c.payload(0, 60))
        c.add_ip(None, cl, sp, pkt, 'non-scalable %d' % k, node=d6, tags=tags)
    c.rng.shuffle(c.frames)
    return c


def mtu_services():
    nodes = [n4('t4', 61, 'ipip'), n6('t6', 0x62, 'ipip'), n4('t4b', 63, 'ipip'),
             n6('t6b', 0x64, 'ipip'), n4('g4', 65, 'gue'), n6('g6', 0x66, 'gue', 5555),
             n4('g4b', 67, 'gue'), n6('g6b', 0x68, 'gue'), n4('m1', 11, 'mac')]
    t4, t6, t4b, t6b, g4, g6, g4b, g6b, m1 = nodes
    svcs = [
        Svc('ipip4', '198.51.100.60', 'weighted', t4, ports=WEB),
        Svc('ip6ip6', '2001:db8:100::61', 'weighted', t6, ports=WEB),
        Svc('six_in_four', '2001:db8:100::62', 'sticky', t4b, ports=WEB),
        Svc('four_in_six', '198.51.100.63', 'sticky-wild', t6b, protocols=['tcp', 'udp']),
        Svc('gue4', '198.51.100.64', 'weighted', g4, ports=WEB),
        Svc('gue6', '2001:db8:100::65', 'weighted', g6, ports=WEB),
        Svc('gue_6in4', '2001:db8:100::66', 'sticky', g4b, ports=WEB),
        Svc('gue_4in6', '198.51.100.67', 'sticky-wild', g6b, protocols=['tcp', 'udp']),
        Svc('mac4', '198.51.100.68', 'weighted', m1, ports=[('tcp', 80)]),
    ]
    return nodes, svcs


def mtu_frames(c, sizes_extra):
    """Around the limit for every tunnel service: the largest packet that fits,
    one byte more, and larger; IPv4 with DF (an ICMP reply) and without (a
    tunnel_mtu drop); mixed with ordinary frames."""
    r = c.rng
    for s in c.services:
        vfam = fam(s.vip)
        random_frames(c, s, 40)
        if s.node.forward == 'mac':
            # no check for mac: full-size frames leave unchanged
            for iplen in (1499, 1500):
                c.sized(s, client(r, 4), 'tcp', r.randint(1024, 65535), 80, iplen, df=True)
            continue
        limit = c.mtu - overhead(s.node, vfam)
        lens = [limit - 1, limit, limit + 1, limit + 2, 1500] + list(sizes_extra)
        for iplen in lens:
            if iplen > 1500:
                continue
            for df in ((True, False) if vfam == 4 else (True,)):
                proto, dport = s.pick(r)
                src = client(r, vfam)
                kw = {'df': df, 'tos': r.choice(TOS_VALUES)}
                x = r.random()
                if x < 0.2:
                    kw['tags'] = ((0x8100, r.randint(1, 4094)),)
                elif x < 0.3:
                    kw['tags'] = ((0x88a8, r.randint(1, 4094)), (0x8100, r.randint(1, 4094)))
                if vfam == 4 and r.random() < 0.3:
                    kw['ipopts'] = [Raw(b'\x01' * 39 + b'\0')]   # IHL 15: a 60-byte header
                if vfam == 6 and r.random() < 0.3:
                    kw['v6ext'] = 'dest'
                c.sized(s, src, proto, r.randint(1024, 65535), dport, iplen, **kw)
    local_frames(c, 8, '198.51.100.60', '2001:db8:100::61')
    # the same flow: a large packet answered, then a small one forwarded
    s = c.services[0]
    src, sp = client(r, 4), r.randint(1024, 65535)
    c.sized(s, src, 'tcp', sp, 80, 1500, df=True)
    c.sized(s, src, 'tcp', sp, 80, 400, df=True)


def gen_tunnel_mtu():
    nodes, svcs = mtu_services()
    c = Case('tunnel_mtu', 203, nodes, svcs,
             {'source4': '192.0.2.77/26', 'source6': '2001:db8:ff::7:abcd/116', 'mtu': 1400})
    mtu_frames(c, (1232, 1233, 1300))
    return c


def gen_tunnel_mtu_small():
    nodes, svcs = mtu_services()
    c = Case('tunnel_mtu_small', 204, nodes, svcs,
             {'source4': '192.0.2.1', 'source6': '2001:db8:ff::1', 'mtu': 600})
    mtu_frames(c, (800, 1232, 1233, 1279, 1280, 1281))
    return c


CASES = {
    'tunnel_ipip': gen_tunnel_ipip,
    'tunnel_gue': gen_tunnel_gue,
    'tunnel_mtu': gen_tunnel_mtu,
    'tunnel_mtu_small': gen_tunnel_mtu_small,
    'tunnel_default': gen_tunnel_default,
}

# ----------------------------------------------------------------- output ----


def verify_model(c):
    """Each input frame's intended verdict against check.py's model (which
    knows services, not tunnels): a frame for a tunnel service, forwarded or
    too big, is one the model sends to that service."""
    import check
    model = check.Model(c.config())
    bad = 0
    for i, f in enumerate(c.frames):
        v = model.classify(f.wire)
        got = 'drop:' + v['reason'] if v['v'] == 'drop' else v['v']
        if v['v'] == 'private':
            got += ':' + (v['svc'] or 'default')
        want = {'private': 'private:%s', 'too_big': 'private:%s', 'local': 'local',
                'drop': 'drop:%s'}[f.kind]
        if f.kind == 'drop' and f.reason == 'tunnel_mtu':
            want = 'private:%s' % f.svc.name
        elif '%s' in want:
            want = want % (f.reason if f.kind == 'drop' else
                           f.svc.name if f.svc else 'default')
        if got != want:
            bad += 1
            if bad <= 10:
                print('  %s frame #%d (%s): generated as %s, check.py\'s model says %s'
                      % (c.name, i, f.desc, want, got))
    return bad


def classify(c):
    """A frame for a tunnel node that does not fit in tunnel.mtu once
    encapsulated: an ICMP / ICMPv6 reply (IPv6, or IPv4 with DF), else a
    tunnel_mtu drop."""
    for f in c.frames:
        if f.kind == 'private' and c.is_too_big(f):
            if f.ip[0] >> 4 == 6 or f.ip[6] & 0x40:
                f.kind = 'too_big'
            else:
                f.kind, f.reason = 'drop', 'tunnel_mtu'


def write_case(c, d):
    classify(c)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'config.json'), 'w') as fh:
        json.dump(c.config(), fh, indent=2)
        fh.write('\n')
    priv, local, public = [], [], []
    drops = {}
    per_svc = {s.name: {'node': s.node.name, 'forwarded': 0, 'too_big': 0, 'tunnel_mtu': 0,
                        'dropped': 0} for s in c.services}
    bad = 0
    to_default = 0
    for i, f in enumerate(c.frames):
        if f.kind == 'private':
            assert not c.is_too_big(f), 'frame #%d (%s) is too big' % (i, f.desc)
            out = c.expected_private(f)
            errs = recheck_private(c, f, out)
            priv.append(out)
            if f.svc is not None:
                per_svc[f.svc.name]['forwarded'] += 1
            else:
                to_default += 1
        elif f.kind == 'too_big':
            assert c.is_too_big(f)
            out = c.expected_reply(f)
            errs = recheck_reply(c, f, out)
            public.append(out)
            per_svc[f.svc.name]['too_big'] += 1
        elif f.kind == 'local':
            local.append(f.wire)
            errs = []
        else:
            drops[f.reason] = drops.get(f.reason, 0) + 1
            if f.svc is not None:
                per_svc[f.svc.name]['dropped'] += 1
                if f.reason == 'tunnel_mtu':
                    per_svc[f.svc.name]['tunnel_mtu'] += 1
            errs = []
        if errs:
            bad += 1
            print('  %s frame #%d (%s): the expected output fails its re-check: %s'
                  % (c.name, i, f.desc, ', '.join(errs)))
    write_pcap(os.path.join(d, 'in.pcap'), [f.wire for f in c.frames])
    write_pcap(os.path.join(d, 'expected_private.pcap'), priv)
    local_path = os.path.join(d, 'expected_local.pcap')
    if c.local:
        write_pcap(local_path, local)
    elif os.path.exists(local_path):
        os.remove(local_path)
    pub_path = os.path.join(d, 'expected_public.pcap')
    if public:
        write_pcap(pub_path, public)
    elif os.path.exists(pub_path):
        os.remove(pub_path)
    stats = {
        'rx': len(c.frames),
        'forwarded': len(priv),
        'local': len(local) + len(public),
        'dropped': sum(drops.values()),
        'icmp_too_big': len(public),
        'to_default': to_default,
        'drops': drops,
        'services': per_svc,
    }
    with open(os.path.join(d, 'expected_stats.json'), 'w') as fh:
        json.dump(stats, fh, indent=1, sort_keys=True)
        fh.write('\n')
    bad += verify_model(c)
    kinds = {}
    for f in c.frames:
        k = f.kind if f.kind != 'drop' else 'drop:' + f.reason
        kinds[k] = kinds.get(k, 0) + 1
    print('%-18s %5d frames (%s)%s' % (c.name, len(c.frames), ', '.join(
        '%s %d' % kv for kv in sorted(kinds.items())),
        '' if not bad else '  RE-CHECK FAILED ON %d FRAMES' % bad))
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
        if write_case(CASES[name](), os.path.join(a.out, name)):
            status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
