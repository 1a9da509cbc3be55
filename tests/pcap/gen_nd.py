#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Generate the golden pcap case of neighbour discovery for IPv6 VIPs (nd_vip).

    gen_nd.py [--out DIR]

Writes pcaps/nd_vip/: in.pcap, config.json, expected_private.pcap,
expected_local.pcap, expected_public.pcap and expected_stats.json. The
expected outputs are built by scapy from RFC 4861 (7.2.4: the advertisement
answering a solicitation), not recorded from a replay:

  - a solicitation for an IPv6 VIP of a service with "arp" (default true):
    Ether(dst = the source link-layer option's MAC, else the frame's sender;
    src = the public port's MAC) [/ the solicitation's VLAN tags] /
    IPv6(src = target, dst = the solicitation's source, hlim = 255) /
    ICMPv6ND_NA(tgt, R = 0, S = 1, O = 1) / ICMPv6NDOptDstLLAddr(public MAC),
    scapy computing lengths and the checksum;
  - solicitations for other addresses, for a VIP whose service has
    "arp": false, and every valid advertisement: to the local port unchanged;
  - hop limit not 255, a wrong checksum, code 1, a multicast target, an option
    of length 0: dropped as nd_hop_limit, nd_checksum, nd_invalid;
  - TCP to the IPv6 VIP: to its node (mac method), to show the case's
    services are live.

Every expected frame is checked with check.py's model too. Replayed by
tests/pcap/run_tunnel_case.sh (public, private and local outputs compared
byte for byte, stats.json against expected_stats.json, nd_replies included).
Deterministic. Needs /usr/bin/python3 with python3-scapy.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import logging  # noqa: E402
logging.getLogger('scapy.runtime').setLevel(logging.ERROR)

from scapy.layers.l2 import Ether, Dot1Q  # noqa: E402
from scapy.layers.inet import TCP  # noqa: E402
from scapy.layers.inet6 import (IPv6, ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr,  # noqa: E402
                                ICMPv6NDOptDstLLAddr)
from scapy.packet import Raw  # noqa: E402

from gen_cases import write_pcap  # noqa: E402

PUB_MAC = '02:70:63:61:70:00'    # net_pcap0
PRIV_MAC = '02:70:63:61:70:01'   # net_pcap1
NODE_MAC = '02:00:c0:00:02:0b'
VIP6 = '2001:db8:100::10'        # web6, "arp" default (true)
VIP6_NOARP = '2001:db8:100::20'  # quiet6, "arp": false
OTHER6 = '2001:db8:100::99'      # no service: the host's
ROUTER_MAC = '02:00:00:00:fe:01'
ROUTER_LL = 'fe80::1'

CONFIG = {
    'ports': {'public': 'net_pcap0', 'private': ['net_pcap1'], 'local': 'net_pcap2'},
    'pdt_size': 64,
    'nodes': [{'name': 'n6', 'ip': '2001:db8:1::11', 'mac': NODE_MAC}],
    'services': [
        {'name': 'web6', 'vip': VIP6, 'ports': ['80/tcp'], 'policy': 'weighted',
         'nodes': {'n6': 1}},
        {'name': 'quiet6', 'vip': VIP6_NOARP, 'ports': ['80/tcp'], 'policy': 'weighted',
         'nodes': {'n6': 1}, 'arp': False},
    ],
}


def snm(a):
    """The solicited-node multicast address of @a and its MAC."""
    import ipaddress
    low = ipaddress.ip_address(a).packed[13:]
    return (str(ipaddress.ip_address(bytes.fromhex('ff0200000000000000000001ff') + low)),
            '33:33:ff:' + ':'.join('%02x' % b for b in low))


def ns(target, src=ROUTER_LL, smac=ROUTER_MAC, unicast=False, opt=True, hlim=255, tags=(),
       **icmp):
    dst, dmac = (target, PUB_MAC) if unicast else snm(target)
    p = Ether(dst=dmac, src=smac)
    for vid in tags:
        p = p / Dot1Q(vlan=vid)
    p = p / IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6ND_NS(tgt=target, **icmp)
    if opt:
        p = p / ICMPv6NDOptSrcLLAddr(lladdr=smac)
    return p


def na_for(req):
    """The advertisement RFC 4861 7.2.4 asks for, built by scapy."""
    s = req[ICMPv6ND_NS]
    dmac = (req[ICMPv6NDOptSrcLLAddr].lladdr if ICMPv6NDOptSrcLLAddr in req else req[Ether].src)
    p = Ether(dst=dmac, src=PUB_MAC)
    q = req[Ether].payload
    while isinstance(q, Dot1Q):
        p = p / Dot1Q(vlan=q.vlan, prio=q.prio, id=q.id)
        q = q.payload
    return bytes(p / IPv6(src=s.tgt, dst=req[IPv6].src, hlim=255) /
                 ICMPv6ND_NA(tgt=s.tgt, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PUB_MAC))


def build():
    """(frame, kind, detail) in input order: kind 'public' (detail: the
    expected reply), 'local', 'private' (detail: expected), 'drop' (reason)."""
    out = []

    def public(p):
        out.append((bytes(p), 'public', na_for(p)))

    def local(p):
        out.append((bytes(p), 'local', None))

    def drop(p, reason):
        out.append((bytes(p), 'drop', reason))

    for i in range(3):
        public(ns(VIP6))                                         # a router resolving the VIP
    public(ns(VIP6, src='2001:db8:ffff::1'))                     # from a global address
    public(ns(VIP6, unicast=True))                               # reachability (NUD)
    public(ns(VIP6, opt=False, unicast=True))                    # no option: to the sender
    public(ns(VIP6, tags=(78,)))                                 # 802.1Q: tag kept
    public(ns(VIP6, tags=(10, 20)))                              # QinQ (0x8100 twice)
    local(ns(VIP6_NOARP))                                        # "arp": false: the host's
    local(ns(OTHER6))                                            # not a VIP
    local(Ether(dst='33:33:00:00:00:01', src=ROUTER_MAC) /
          IPv6(src=ROUTER_LL, dst='ff02::1', hlim=255) /
          ICMPv6ND_NA(tgt='fe80::1', R=1, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=ROUTER_MAC))
    drop(ns(VIP6, hlim=64), 'nd_hop_limit')
    drop(ns(VIP6, hlim=254, unicast=True), 'nd_hop_limit')
    drop(ns(VIP6, cksum=0x1234), 'nd_checksum')
    drop(ns(VIP6, code=1), 'nd_invalid')
    drop(ns('ff02::1', unicast=False), 'nd_invalid')
    bad = ns(VIP6)
    bad[ICMPv6NDOptSrcLLAddr].len = 0
    drop(bad, 'nd_invalid')
    for sport in range(40000, 40006):
        p = (Ether(dst=PUB_MAC, src=ROUTER_MAC) /
             IPv6(src='2001:db8:2::%x' % sport, dst=VIP6) /
             TCP(sport=sport, dport=80, flags='S') / Raw(b'nd'))
        fwd = bytes(Ether(dst=NODE_MAC, src=PRIV_MAC) / p[IPv6])
        out.append((bytes(p), 'private', fwd))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--out', default=os.path.join(ROOT, 'pcaps', 'nd_vip'))
    a = ap.parse_args()
    frames = build()
    import check
    model = check.Model(CONFIG)
    bad = 0
    for i, (fr, kind, detail) in enumerate(frames):
        v = model.classify(fr)
        want = {'public': 'nd_reply', 'local': 'local', 'private': 'private',
                'drop': 'drop'}[kind]
        if v['v'] != want or (kind == 'drop' and v['reason'] != detail):
            print('frame #%d: gen_nd says %s %s, check.py says %s' % (i, kind, detail or '', v))
            bad += 1
        if kind == 'public' and v['v'] == 'nd_reply':
            exp = detail
            if (exp[0:6] != check.nd_dst_mac(fr, v) or
                    exp[v['off']:] != check.nd_advert(v['ip'], exp[6:12])):
                print('frame #%d: scapy and check.py build different advertisements' % i)
                bad += 1
    if bad:
        return 1
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, 'config.json'), 'w') as fh:
        json.dump(CONFIG, fh, indent=2)
        fh.write('\n')
    write_pcap(os.path.join(a.out, 'in.pcap'), [f for f, _, _ in frames])
    write_pcap(os.path.join(a.out, 'expected_public.pcap'),
               [d for _, k, d in frames if k == 'public'])
    write_pcap(os.path.join(a.out, 'expected_private.pcap'),
               [d for _, k, d in frames if k == 'private'])
    write_pcap(os.path.join(a.out, 'expected_local.pcap'),
               [f for f, k, _ in frames if k == 'local'])
    drops = {}
    for _, k, d in frames:
        if k == 'drop':
            drops[d] = drops.get(d, 0) + 1
    n = {k: sum(1 for _, kk, _ in frames if kk == k) for k in ('public', 'local', 'private')}
    stats = {
        'rx': len(frames), 'forwarded': n['private'], 'local': n['local'] + n['public'],
        'dropped': sum(drops.values()), 'icmp_too_big': 0, 'to_default': 0, 'drops': drops,
        'services': {'web6': {'node': 'n6', 'forwarded': n['private'], 'too_big': 0,
                              'tunnel_mtu': 0, 'dropped': 0}},
        'counters': {'nd_replies': n['public'], 'arp_replies': 0, 'icmp_replies': 0},
    }
    with open(os.path.join(a.out, 'expected_stats.json'), 'w') as fh:
        json.dump(stats, fh, indent=1, sort_keys=True)
        fh.write('\n')
    print('nd_vip: %d frames (%d answered, %d local, %d forwarded, %d dropped)'
          % (len(frames), n['public'], n['local'], n['private'], sum(drops.values())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
