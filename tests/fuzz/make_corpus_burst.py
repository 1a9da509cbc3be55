#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seed corpus of fuzz_burst (tests/fuzz/fuzz_burst.c describes
the input) from the fixture table (tests/fixtures/fixtures.py).

    tests/fuzz/make_corpus_burst.py [OUTDIR]   (default tests/fuzz/corpus/burst)

Seeds: every row of configuration 'main' alone, cut into segments in a few
ways; the rows in bursts of 8, in table order, with the forwarding list on
(later fragments meet their first, TCP flows their SYN); frames of 64 KiB and
more described by a short prefix and `grow` (IPv4 65,535 bytes, IPv6 with a
payload length of 65,535, one behind a VLAN tag). Deterministic.
"""
import hashlib
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'fixtures'))

import fixtures as fx  # noqa: E402
from gen_cases import ip_b, ipv4, ipv6, udp, tcp, l2, PUB_MAC, UDP, TCP, F_ACK  # noqa: E402

SPLITS = ((0, 0), (14, 2048), (30, 64), (100, 512), (1, 7))


def rec(frame, first=0, seg=0, end=False, grow=0):
    n = min(len(frame), 0x7fff)
    return struct.pack('!HHHH', n | (0x8000 if end else 0), grow, first, seg) + frame[:n]


def big(prefix, total):
    """A frame of @total bytes: @prefix, then fuzz_burst's pattern."""
    rest = total - len(prefix)
    if rest % 2:
        prefix += bytes([(len(prefix) * 7 + (len(prefix) >> 8)) & 0xff])
        rest -= 1
    return rec(prefix, 14, 2048, grow=rest // 2)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, 'corpus', 'burst')
    seeds = {}
    rows = [r for r in fx.ROWS if r.cfg == 'main']
    for i, r in enumerate(rows):
        first, seg = SPLITS[i % len(SPLITS)]
        fr = r.frame
        if len(fr) > 0x7fff:
            ip0, _ = r.ip_span
            seeds['row%03d' % i] = bytes([0x00, 1]) + big(fr[:ip0 + 48], len(fr))
            continue
        seeds['row%03d' % i] = bytes([0x08 if i % 2 else 0x04, 1]) + rec(fr, first, seg)
    for k in range(0, len(rows), 8):
        body = b''.join(rec(r.frame, *SPLITS[(k + j) % len(SPLITS)], end=(j % 4 == 3))
                        for j, r in enumerate(rows[k:k + 8]) if len(r.frame) <= 0x7fff)
        seeds['burst%03d' % k] = bytes([0x08, 50]) + body
    c, v, c6, v6 = '203.0.113.9', '198.51.100.10', '2001:db8:2::9', '2001:db8:100::10'
    syn = fx.tcpf(c, v, 41000, 80)
    ack = fx.tcpf(c, v, 41000, 80, F_ACK)
    seeds['tcp_syn_ack'] = bytes([0x08, 5]) + rec(syn, end=True) + rec(ack, 20, 8) + rec(ack)
    # 64 KiB and more
    h4 = l2(PUB_MAC, fx.cmac(c), 0x0800) + ipv4(ip_b(c), ip_b(v), UDP, udp(
        ip_b(c), ip_b(v), 40000, 53, b''), ident=1, totlen=65535)
    seeds['big_ipv4'] = bytes([0x00, 0]) + big(h4[:14 + 28], 14 + 65535)
    u6 = udp(ip_b(c6), ip_b(v6), 40001, 53, b'')
    h6 = l2(PUB_MAC, fx.cmac(c6), 0x86dd) + ipv6(ip_b(c6), ip_b(v6), UDP, u6, plen=65535)
    seeds['big_ipv6'] = bytes([0x01, 0]) + big(h6, 14 + 40 + 65535)
    h6t = l2(PUB_MAC, fx.cmac(c6), 0x86dd, [(0x8100, 5)]) + ipv6(
        ip_b(c6), ip_b(v6), TCP, tcp(ip_b(c6), ip_b(v6), 40002, 80, F_ACK), plen=65535)
    seeds['big_ipv6_vlan_tcp'] = bytes([0x08, 0]) + big(h6t, 18 + 40 + 65535)
    seeds['big_ipv6_and_small'] = (bytes([0x00, 0]) + big(h6, 14 + 40 + 65535) +
                                   rec(fx.udpf(c, v, 40003, 53), 30, 30))
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name not in seeds:
            os.unlink(os.path.join(out, name))
    for name, b in sorted(seeds.items()):
        with open(os.path.join(out, name), 'wb') as f:
            f.write(b)
    print('%s: %d seeds, %d bytes' % (out, len(seeds), sum(len(b) for b in seeds.values())))


if __name__ == '__main__':
    main()
