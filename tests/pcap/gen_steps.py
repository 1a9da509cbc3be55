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
from gen_cases import (F_ACK, F_PSH, F_SYN, TCP, ip_b, ipv4, ipv6, frag6,  # noqa: E402
                       l2, node, svc, tcp, write_pcap)

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


CASES = {'frag_tracked': gen_frag_tracked, 'second_chance': gen_second_chance}


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
            write_pcap(os.path.join(d, fn), frames)
        print('%s: %s' % (name, ', '.join('%s %d frames' % (fn, len(fr))
                                           for fn, fr in parts.items())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
