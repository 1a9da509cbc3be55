#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Generate the golden cases with steps: pcaps/<case>/ config.json, steps.json
and the part pcaps (tests/pcap/run_steps_case.sh replays them).

    gen_steps.py [--out DIR] [CASE ...]

Deterministic (fixed seed, fixed timestamps, raw bytes with checksums computed
here, the helpers of gen_cases.py): running it twice writes identical files.
expected_private.pcap is not written here: run_steps_case.sh CASE CNMUX
CNMUXCTL --update records it from a run whose property checks passed.

frag_tracked: fragments of tracked TCP connections after a PDT change.
  part1.pcap  the handshakes (SYN, then ACK) of 64 IPv4 and 16 IPv6
              connections, each from a client of its own, to weighted
              services with the forwarding list on;
  ctl         node drain node1 (weight 0 in every group): the PDT sends no
              new client to node1, the connections it has stay on it;
  part2.pcap  one data segment per connection as a fragmented datagram: the
              first fragment holds the TCP header, one or two later fragments
              follow, some interleaved with another connection's fragments
              and some with the later fragments in reverse order.
Every later fragment must reach the node of its connection, node1 included.

udp_flows: UDP flows keep their node across drain, reweight and node add
(the UDP flow list, services with udp_timeout_s), and expire as configured.
  services    game (IPv4) and game6 (IPv6, the general path), udp_timeout_s
              600; voip, udp_timeout_s 8; dns without it (today's behaviour:
              the PDT of the moment); each on node1 and node2;
  part1.pcap  the first datagram of every flow (48 game, 16 game6, 32 voip,
              32 dns; a client address and port each);
  ctl         node drain node1 (every service);
  part2.pcap  one datagram per flow;
  ctl         node weight node2 game 3, the same for game6, voip, dns;
  part3.pcap  one datagram per flow;
  ctl         node add node3 (weight 2 in every service);
  part4.pcap  one datagram per flow;
  sleep 12    longer than voip's 8 s: voip's flows expire, game's do not;
  part5.pcap  one datagram per flow: voip's flows are placed by the PDT of
              now (none on the drained node1), game's keep their node.

quic_migrate: QUIC routed by connection ID (docs/quic.md), frames built
with scapy, QUIC payloads by hand (RFC 8999/9000, QUIC-LB plaintext CIDs).
  part1.pcap  24 clients' first Initials (DCIDs of their own): the PDT;
  part2.pcap  each client's Handshake and a 1-RTT packet on the CID of the
              server that answered (the PDT's node): by server ID; and six
              malformed or unroutable payloads (empty, cut short header, cut
              long header, codepoint 6 and 7, an unknown server ID);
  ctl         node drain node1; node3 joins h3 (weight 3);
  part3.pcap  every client migrates to a new address and port and goes on
              on its CID: each frame must reach its server's node.

quic_encrypted: the same with CIDs encrypted by the single-pass algorithm
(8-byte server IDs, 8-byte nonces, the draft's test key in quic-lb.key).
  part1.pcap  30 clients' Initials (their own DCIDs), then a 1-RTT packet
              each on its server's CID (a third per node): by server ID; and
              12 CIDs of real server IDs under another key: placed by the
              4-tuple, counted in cid_sid_unknown;
  ctl         node drain node1; node3 weight 3;
  part2.pcap  every client migrates: its server's node still.

second_chance: connections the forwarding list never saw, across two quick
PDT changes, with second_chance_s on (docs/pdt.md).
  part1.pcap  two data segments (ACK, no SYN: another instance saw the
              handshake, or the list lost it) of 48 IPv4 and 16 IPv6
              connections, and the handshakes of 16 tracked IPv4 ones;
  sleep       1.2 s: the table in force long enough to be kept;
  ctl         node drain node1: its entries move;
  part2.pcap  a data segment of every connection, then 16 new handshakes
              (a SYN follows the current table: none reaches node1);
  ctl         node weight node2 web 3: more entries move, in the same window;
  part3.pcap  a data segment of every connection.
Every connection keeps its node through both changes (the previous owner is
the one before the window's first change), node1's included.
"""

import argparse
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from gen_cases import (F_ACK, F_PSH, F_SYN, TCP, UDP, ip_b, ipv4, ipv6, frag6,  # noqa: E402
                       l2, node, svc, tcp, udp, write_pcap)

PUB_MAC = bytes.fromhex('027063617000')   # the public veth end's MAC (run_steps_case.sh)


def pad60(frame):
    return frame + b'\0' * (60 - len(frame)) if len(frame) < 60 else frame


def client_mac(i, v6):
    return bytes([0x02, 0x00, 0xcb, 0x00, 0x71 if not v6 else 0x72, i])


class Conn:
    def __init__(self, i, v6, src, dst, sport, dport, isn):
        self.i, self.v6 = i, v6
        self.src, self.dst = ip_b(src), ip_b(dst)
        self.sport, self.dport, self.isn = sport, dport, isn
        self.mac = client_mac(i, v6)

    def frame(self, ip_packet):
        et = 0x86dd if self.v6 else 0x0800
        return pad60(l2(PUB_MAC, self.mac, et) + ip_packet)

    def segment(self, flags, payload=b'', seq_off=0):
        return tcp(self.src, self.dst, self.sport, self.dport, flags=flags, payload=payload,
                   seq=self.isn + seq_off, ack=(0 if flags == F_SYN else 0x10000000 + self.i))

    def packet(self, seg):
        if self.v6:
            return ipv6(self.src, self.dst, TCP, seg)
        return ipv4(self.src, self.dst, TCP, seg, ident=0x2000 + self.i)

    def fragments(self, seg, sizes, ident):
        """The segment as a fragmented datagram: fragment k holds sizes[k]
        bytes of it (multiples of 8 but the last); the first one the TCP header."""
        assert sum(sizes) == len(seg) and sizes[0] >= 20
        out, off = [], 0
        for k, n in enumerate(sizes):
            more = k < len(sizes) - 1
            data = seg[off:off + n]
            if self.v6:
                p = ipv6(self.src, self.dst, 44, frag6(TCP, off // 8, more, ident) + data)
            else:
                # DF clear, MF on all but the last, offset in 8-byte units
                p = ipv4(self.src, self.dst, TCP, data, ident=ident,
                         frag=(0x2000 if more else 0) | (off // 8))
            out.append(self.frame(p))
            off += n
        return out


def gen_frag_tracked():
    rng = random.Random(0xf7a9)
    cfg = {
        'ports': {'public': 'net_pcap0', 'private': ['net_pcap1']},
        'control': {'socket': '/run/cnmux/frag_tracked.sock'},
        'conntrack': {'timeout_s': 300, 'syn_s': 300},
        'nodes': [node(i) for i in (1, 2, 3)],
        'services': [
            svc('web', '198.51.100.10', 'weighted', {'node1': 1, 'node2': 1, 'node3': 1},
                ports=['80/tcp']),
            svc('web6', '2001:db8:100::10', 'weighted', {'node1': 1, 'node2': 1},
                ports=['443/tcp']),
        ],
    }
    conns = []
    for i in range(64):
        conns.append(Conn(i, False, '203.0.113.%d' % (10 + i), '198.51.100.10',
                          rng.randint(1024, 65535), 80, rng.getrandbits(32)))
    for i in range(16):
        conns.append(Conn(i, True, '2001:db8:2::%x' % (0x100 + i), '2001:db8:100::10',
                          rng.randint(1024, 65535), 443, rng.getrandbits(32)))

    part1 = [c.frame(c.packet(c.segment(F_SYN))) for c in conns]
    part1 += [c.frame(c.packet(c.segment(F_ACK, seq_off=1))) for c in conns]

    # one data segment per connection, in 2 or 3 fragments
    frags = []
    for c in conns:
        nfr = rng.choice((2, 3))
        first = rng.choice((24, 32, 48))
        mids = [rng.choice((16, 24, 40)) for _ in range(nfr - 2)]
        last = rng.randint(26, 60)
        payload = bytes(rng.getrandbits(8) for _ in range(first + sum(mids) + last - 20))
        seg = c.segment(F_PSH | F_ACK, payload=payload, seq_off=1)
        ident = (0x8000 + c.i) if not c.v6 else (0x5a000000 + c.i)
        frags.append(c.fragments(seg, [first] + mids + [last], ident))
    rng.shuffle(frags)
    part2 = []
    k = 0
    while k < len(frags):
        kind = rng.choice(('in_order', 'reversed', 'pair'))
        if kind == 'pair' and k + 1 < len(frags):
            # A1 B1 A2 B2 [A3] [B3]: later fragments between another connection's
            a, b = frags[k], frags[k + 1]
            for j in range(max(len(a), len(b))):
                part2 += a[j:j + 1] + b[j:j + 1]
            k += 2
            continue
        f = frags[k]
        part2 += f[:1] + (f[1:][::-1] if kind == 'reversed' else f[1:])
        k += 1

    steps = [{'send': 'part1.pcap'},
             {'ctl': ['node', 'drain', 'node1']},
             {'send': 'part2.pcap'}]
    return cfg, steps, {'part1.pcap': part1, 'part2.pcap': part2}


class Flow:
    """A UDP flow from a client of its own."""

    def __init__(self, i, v6, src, dst, sport, dport):
        self.i, self.v6 = i, v6
        self.src, self.dst = ip_b(src), ip_b(dst)
        self.sport, self.dport = sport, dport
        self.mac = bytes([0x02, 0x00, 0xcb, 0x00, 0x73 if not v6 else 0x74, i & 0xff])

    def datagram(self, k):
        payload = b'cnmux udp flow %3d datagram %d' % (self.i, k)
        d = udp(self.src, self.dst, self.sport, self.dport, payload)
        if self.v6:
            p, et = ipv6(self.src, self.dst, UDP, d), 0x86dd
        else:
            p, et = ipv4(self.src, self.dst, UDP, d, ident=(self.i << 4) | k), 0x0800
        return pad60(l2(PUB_MAC, self.mac, et) + p)


def gen_udp_flows():
    rng = random.Random(0x0d9f)
    both = {'node1': 1, 'node2': 1}
    game = svc('game', '198.51.100.20', 'weighted', dict(both), ports=['7000/udp'])
    game['udp_timeout_s'] = 600
    game6 = svc('game6', '2001:db8:100::20', 'weighted', dict(both), ports=['7000/udp'])
    game6['udp_timeout_s'] = 600
    voip = svc('voip', '198.51.100.21', 'weighted', dict(both), ports=['5060/udp'])
    voip['udp_timeout_s'] = 8
    dns = svc('dns', '198.51.100.22', 'weighted', dict(both), ports=['53/udp'])
    cfg = {
        'ports': {'public': 'net_pcap0', 'private': ['net_pcap1']},
        'control': {'socket': '/run/cnmux/udp_flows.sock'},
        # a small list: the idle sweep passes over it every ~0.3 s
        'conntrack': {'max': 4096},
        'nodes': [node(i) for i in (1, 2)],
        'services': [game, game6, voip, dns],
    }
    flows = []
    n = 0
    for count, v6, dst, dport in ((48, False, '198.51.100.20', 7000),
                                  (16, True, '2001:db8:100::20', 7000),
                                  (32, False, '198.51.100.21', 5060),
                                  (32, False, '198.51.100.22', 53)):
        for _ in range(count):
            src = ('2001:db8:2::%x' % (0x200 + n)) if v6 else \
                '203.0.113.%d' % (10 + n) if n < 200 else '192.0.2.%d' % (n - 150)
            flows.append(Flow(n, v6, src, dst, rng.randint(1024, 65535), dport))
            n += 1
    parts = {}
    for k in range(5):
        order = list(flows)
        rng.shuffle(order)
        parts['part%d.pcap' % (k + 1)] = [f.datagram(k) for f in order]
    n3 = node(3)
    steps = [{'send': 'part1.pcap'},
             {'ctl': ['node', 'drain', 'node1']},
             {'send': 'part2.pcap'},
             {'ctl': ['node', 'weight', 'node2', 'game', '3']},
             {'ctl': ['node', 'weight', 'node2', 'game6', '3']},
             {'ctl': ['node', 'weight', 'node2', 'voip', '3']},
             {'ctl': ['node', 'weight', 'node2', 'dns', '3']},
             {'send': 'part3.pcap'},
             {'ctl': ['node', 'add', 'node3', n3['ip'], n3['mac'],
                      'game=2', 'game6=2', 'voip=2', 'dns=2']},
             {'send': 'part4.pcap'},
             {'sleep': 12},
             {'send': 'part5.pcap'}]
    return cfg, steps, parts


def quic_frame(src, dst, sport, dport, payload, v6=False):
    """A frame of the QUIC case, built with scapy (the UDP payload by hand)."""
    from scapy.all import Ether, IP, IPv6, UDP as SUDP, Raw  # noqa: E402
    l3 = IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst, flags='DF', id=0)
    f = Ether(dst=PUB_MAC, src=bytes([0x02, 0, 0xcb, 0, 0x75, 1])) / l3 / \
        SUDP(sport=sport, dport=dport) / Raw(load=payload)
    return pad60(bytes(f))


def quic_long(ptype, dcid, scid, body=b'', version=1):
    """RFC 9000 17.2 (invariants: RFC 8999 5.1): 1 | 1 (fixed) | type (2) |
    4 bits, version, DCID length and DCID, SCID length and SCID; an Initial
    adds its token length (0) before the length and the protected payload."""
    first = 0xc0 | (ptype << 4)
    out = bytes([first]) + version.to_bytes(4, 'big')
    out += bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
    if ptype == 0:
        out += b'\x00'                       # token length
    rest = body or bytes(20)
    out += bytes([0x40 | (len(rest) >> 8), len(rest) & 0xff]) + rest  # 2-byte varint
    return out


def quic_short(dcid, body=b''):
    """RFC 9000 17.3.1: 0 | 1 (fixed) | spin, reserved, key phase, PN length;
    then the DCID (its length known to the receiver), then protected bytes."""
    return bytes([0x40 | 0x01]) + dcid + (body or bytes(24))


def qlb_plain(config_id, sid, nonce, low):
    """A QUIC-LB plaintext CID (draft-ietf-quic-load-balancers-21, 5.2):
    first octet: config rotation (3 bits) and 5 free bits; the server ID,
    then the nonce, in the clear."""
    return bytes([(config_id << 5) | (low & 0x1f)]) + sid + nonce


def gen_quic_migrate():
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'fixtures'))
    import fixtures as fx  # noqa: E402  (the PDT model, written apart from cnmux)
    rng = random.Random(0x9c1c)
    nodes = [node(i) for i in (1, 2, 3)]
    for i, n in enumerate(nodes):
        n['server_id'] = '0a0b%02x' % (0x0c + i)
    h3 = svc('h3', '198.51.100.30', 'weighted', {'node1': 1, 'node2': 1}, ports=['443/udp'])
    h3['udp_timeout_s'] = 600
    h3['quic_lb'] = {'config_id': 1, 'server_id_len': 3, 'nonce_len': 6, 'mode': 'plaintext'}
    cfg = {
        'ports': {'public': 'net_pcap0', 'private': ['net_pcap1']},
        'control': {'socket': '/run/cnmux/quic_migrate.sock'},
        'conntrack': {'max': 4096},
        'nodes': nodes,
        'services': [h3],
    }
    model = fx.Model(cfg)
    sid_of = {n['name']: bytes.fromhex(n['server_id']) for n in nodes}
    vip = '198.51.100.30'
    clients = []
    for i in range(24):
        src, sport = '203.0.113.%d' % (20 + i), rng.randint(1024, 65535)
        home = model.node('h3', src, sport)      # the PDT's node: the server that answers
        scid_c = bytes(rng.getrandbits(8) for _ in range(8))
        dcid0 = bytes(rng.getrandbits(8) for _ in range(8))
        scid = qlb_plain(1, sid_of[home], bytes(rng.getrandbits(8) for _ in range(6)),
                         rng.getrandbits(5))
        clients.append((src, sport, home, dcid0, scid_c, scid))
    # 1: every client's first Initial: a DCID of its own, placed by the PDT
    part1 = [quic_frame(c[0], vip, c[1], 443, quic_long(0, c[3], c[4])) for c in clients]
    # 2: the handshake on the server's CID (long header, Handshake), then 1-RTT
    part2 = [quic_frame(c[0], vip, c[1], 443, quic_long(2, c[5], c[4])) for c in clients]
    part2 += [quic_frame(c[0], vip, c[1], 443, quic_short(c[5])) for c in clients]
    # malformed and unroutable: counted, placed by the 4-tuple
    bad = [b'',                                           # empty
           bytes([0x41]) + bytes(5),                      # short, cut inside the CID
           bytes([0xc0, 0, 0, 0]),                        # long, cut before the DCID length
           quic_short(qlb_plain(6, b'\x0a\x0b\x0c', bytes(6), 0)),   # codepoint 6: none
           quic_short(qlb_plain(7, b'\x0a\x0b\x0c', bytes(6), 0)),   # codepoint 7
           quic_short(qlb_plain(1, b'\x77\x77\x77', bytes(6), 0))]   # no node's server ID
    for k, pl in enumerate(bad):
        part2.append(quic_frame('203.0.113.%d' % (100 + k), vip, 40000 + k, 443, pl))
    # 3: after the PDT changes every client migrates (new address and port)
    # and goes on on the server's CID: short headers from the new tuple
    part3 = []
    for i, c in enumerate(clients):
        nsrc, nport = '192.0.2.%d' % (100 + i), rng.randint(1024, 65535)
        part3.append(quic_frame(nsrc, vip, nport, 443, quic_short(c[5])))
        part3.append(quic_frame(nsrc, vip, nport, 443, quic_short(c[5], bytes(40))))
    steps = [{'send': 'part1.pcap'},
             {'send': 'part2.pcap'},
             {'ctl': ['node', 'drain', 'node1']},
             {'ctl': ['node', 'weight', 'node3', 'h3', '3']},
             {'send': 'part3.pcap'}]
    return cfg, steps, {'part1.pcap': part1, 'part2.pcap': part2, 'part3.pcap': part3}


QLB_KEY = bytes.fromhex('8f95f09245765f80256934e50c66207f')   # the draft's test key
QLB_WRONG = bytes.fromhex('00112233445566778899aabbccddeeff')


def qlb_single(config_id, key, sid, nonce, low):
    """A QUIC-LB CID encrypted with the single-pass algorithm (server ID +
    nonce = 16 bytes, draft-ietf-quic-load-balancers-21, 5.4.1): the first
    octet in the clear, then AES-128-ECB(key, server ID | nonce). AES from
    python3-cryptography, apart from cnmux's libcrypto calls."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    assert len(sid) + len(nonce) == 16
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return bytes([(config_id << 5) | (low & 0x1f)]) + enc.update(sid + nonce) + enc.finalize()


def gen_quic_encrypted():
    rng = random.Random(0x9e1c)
    nodes = [node(i) for i in (1, 2, 3)]
    for i, n in enumerate(nodes):
        n['server_id'] = '5e1d00000000%04x' % (0x10 + i)
    h3 = svc('h3', '198.51.100.30', 'weighted', {'node1': 1, 'node2': 1, 'node3': 1},
             ports=['443/udp'])
    h3['quic_lb'] = {'config_id': 2, 'server_id_len': 8, 'nonce_len': 8, 'mode': 'encrypted',
                     'key_file': 'quic-lb.key'}
    cfg = {
        'ports': {'public': 'net_pcap0', 'private': ['net_pcap1']},
        'control': {'socket': '/run/cnmux/quic_encrypted.sock'},
        'nodes': nodes,
        'services': [h3],
    }
    sids = [bytes.fromhex(n['server_id']) for n in nodes]
    vip = '198.51.100.30'

    def nonce():
        return bytes(rng.getrandbits(8) for _ in range(8))

    clients = []
    for i in range(30):
        src, sport = '203.0.113.%d' % (20 + i), rng.randint(1024, 65535)
        sid = sids[i % 3]           # the server each client's connection is on
        clients.append((src, sport, qlb_single(2, QLB_KEY, sid, nonce(), rng.getrandbits(5)),
                        bytes(rng.getrandbits(8) for _ in range(8))))
    # 1: the Initials (the clients' own DCIDs: too short for a server ID),
    # then 1-RTT on the server's encrypted CID: by server ID, whatever the
    # PDT would say of the tuple
    part1 = [quic_frame(c[0], vip, c[1], 443, quic_long(0, c[3], c[3])) for c in clients]
    part1 += [quic_frame(c[0], vip, c[1], 443, quic_short(c[2])) for c in clients]
    # CIDs of real server IDs under another key: they decrypt to no server
    # ID (cid_sid_unknown) and are placed by the 4-tuple
    for k in range(12):
        cid = qlb_single(2, QLB_WRONG, sids[k % 3], nonce(), rng.getrandbits(5))
        part1.append(quic_frame('203.0.113.%d' % (100 + k), vip, 41000 + k, 443,
                                quic_short(cid)))
    # 2: after the PDT changes every client migrates: still its server's node
    part2 = []
    for i, c in enumerate(clients):
        part2.append(quic_frame('192.0.2.%d' % (100 + i), vip, rng.randint(1024, 65535), 443,
                                quic_short(c[2], bytes(40))))
    steps = [{'send': 'part1.pcap'},
             {'ctl': ['node', 'drain', 'node1']},
             {'ctl': ['node', 'weight', 'node3', 'h3', '3']},
             {'send': 'part2.pcap'}]
    return cfg, steps, {'part1.pcap': part1, 'part2.pcap': part2,
                        'quic-lb.key': QLB_KEY.hex() + '\n'}


def gen_second_chance():
    rng = random.Random(0x5c2d)
    cfg = {
        'ports': {'public': 'net_pcap0', 'private': ['net_pcap1']},
        'control': {'socket': '/run/cnmux/second_chance.sock'},
        'second_chance_s': 300,
        'conntrack': {'timeout_s': 300, 'syn_s': 300},
        'nodes': [node(i) for i in (1, 2, 3)],
        'services': [
            svc('web', '198.51.100.10', 'weighted', {'node1': 1, 'node2': 1, 'node3': 1},
                ports=['80/tcp']),
            svc('web6', '2001:db8:100::10', 'weighted', {'node1': 1, 'node2': 1},
                ports=['443/tcp']),
        ],
    }
    untracked, tracked, late = [], [], []
    for i in range(48):
        untracked.append(Conn(i, False, '203.0.113.%d' % (10 + i), '198.51.100.10',
                              rng.randint(1024, 65535), 80, rng.getrandbits(32)))
    for i in range(16):
        untracked.append(Conn(i, True, '2001:db8:2::%x' % (0x100 + i), '2001:db8:100::10',
                              rng.randint(1024, 65535), 443, rng.getrandbits(32)))
    for i in range(16):
        tracked.append(Conn(64 + i, False, '203.0.113.%d' % (80 + i), '198.51.100.10',
                            rng.randint(1024, 65535), 80, rng.getrandbits(32)))
    for i in range(16):
        late.append(Conn(96 + i, False, '203.0.113.%d' % (120 + i), '198.51.100.10',
                         rng.randint(1024, 65535), 80, rng.getrandbits(32)))

    def data(c, k):
        payload = bytes(rng.getrandbits(8) for _ in range(rng.randint(8, 40)))
        return c.frame(c.packet(c.segment(F_PSH | F_ACK, payload=payload, seq_off=1 + 100 * k)))

    part1 = [c.frame(c.packet(c.segment(F_SYN))) for c in tracked]
    part1 += [c.frame(c.packet(c.segment(F_ACK, seq_off=1))) for c in tracked]
    part1 += [data(c, k) for k in (0, 1) for c in untracked]
    part2 = [data(c, 2) for c in untracked + tracked]
    part2 += [c.frame(c.packet(c.segment(F_SYN))) for c in late]
    part2 += [c.frame(c.packet(c.segment(F_ACK, seq_off=1))) for c in late]
    part3 = [data(c, 3) for c in untracked + tracked + late]
    # the first table in force long enough to be kept (second chance keeps
    # no table younger than 1 s), however fast the machine
    steps = [{'send': 'part1.pcap'},
             {'sleep': 1.2},
             {'ctl': ['node', 'drain', 'node1']},
             {'send': 'part2.pcap'},
             {'ctl': ['node', 'weight', 'node2', 'web', '3']},
             {'send': 'part3.pcap'}]
    return cfg, steps, {'part1.pcap': part1, 'part2.pcap': part2, 'part3.pcap': part3}


CASES = {'frag_tracked': gen_frag_tracked, 'second_chance': gen_second_chance,
         'udp_flows': gen_udp_flows, 'quic_migrate': gen_quic_migrate,
         'quic_encrypted': gen_quic_encrypted}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=os.path.join(ROOT, 'pcaps'))
    ap.add_argument('cases', nargs='*')
    a = ap.parse_args()
    for name in a.cases or sorted(CASES):
        if name not in CASES:
            ap.error('no case %s (expected one of: %s)' % (name, ', '.join(sorted(CASES))))
        cfg, steps, parts = CASES[name]()
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'config.json'), 'w') as f:
            json.dump(cfg, f, indent=2)
            f.write('\n')
        with open(os.path.join(d, 'steps.json'), 'w') as f:
            json.dump(steps, f, indent=2)
            f.write('\n')
        for fn, frames in parts.items():
            if isinstance(frames, str):     # a file of the case (a key)
                with open(os.path.join(d, fn), 'w') as f:
                    f.write(frames)
                continue
            write_pcap(os.path.join(d, fn), frames)
        print('%s: %s' % (name, ', '.join('%s %d frames' % (fn, len(fr))
                                           for fn, fr in parts.items()
                                           if not isinstance(fr, str))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
