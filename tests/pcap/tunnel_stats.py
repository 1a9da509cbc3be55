#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Check a tunnel case's stats.json against the generator's expected_stats.json.

    tunnel_stats.py CASE_DIR STATS_JSON

expected_stats.json is written by tests/pcap/gen_tunnels.py from what each
input frame must become. Checked:
  - rx = forwarded + local + dropped = the frames in in.pcap;
  - forwarded, local (local-port frames + ICMP too-big replies), dropped,
    to_default and icmp_too_big as expected;
  - every drop reason: the expected count (tunnel_mtu, port_zero), 0 for the rest;
  - the counters under "counters", when the case names any (nd_vip);
  - per service and per node (one node per service): packets = the frames
    forwarded, with or without the frames it answered as too big and dropped
    as tunnel_mtu (docs/forwarding.md does not say which);
  - drops.tunnel_mtu of each service, its node and the pair: the expected
    count; the per-id drops against the global ones (drops_check.py).
Exit 0 when all hold, 1 otherwise.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import read_pcap  # noqa: E402
from drops_check import per_id_drop_fails  # noqa: E402


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip())
        return 2
    case_dir, stats_path = sys.argv[1], sys.argv[2]
    with open(os.path.join(case_dir, 'expected_stats.json')) as f:
        exp = json.load(f)
    try:
        with open(stats_path) as f:
            st = json.load(f)
    except (OSError, ValueError) as e:
        print('FAIL [stats] %s: %s' % (stats_path, e))
        return 1
    fails = []
    n_in = len(read_pcap(os.path.join(case_dir, 'in.pcap')))
    if exp['rx'] != n_in:
        fails.append('expected_stats.json says rx %d, in.pcap holds %d frames: regenerate'
                     % (exp['rx'], n_in))
    rx, fw, lo, dr = (st.get(k) for k in ('rx', 'forwarded', 'local', 'dropped'))
    print('stats.json: rx=%s forwarded=%s local=%s dropped=%s icmp_too_big=%s'
          % (rx, fw, lo, dr, st.get('icmp_too_big')))
    print('expected:   rx=%d forwarded=%d local=%d dropped=%d icmp_too_big=%d'
          % (exp['rx'], exp['forwarded'], exp['local'], exp['dropped'], exp['icmp_too_big']))
    if None in (rx, fw, lo, dr):
        fails.append('rx, forwarded, local and dropped must all be present')
    else:
        if rx != fw + lo + dr:
            fails.append('rx (%d) != forwarded + local + dropped (%d + %d + %d)'
                         % (rx, fw, lo, dr))
        for k in ('rx', 'forwarded', 'local', 'dropped'):
            if st[k] != exp[k]:
                fails.append('%s = %d, expected %d' % (k, st[k], exp[k]))
    if st.get('to_default', 0) != exp.get('to_default', 0):
        fails.append('to_default = %s, expected %d' % (st.get('to_default'),
                                                       exp.get('to_default', 0)))
    if st.get('icmp_too_big') != exp['icmp_too_big']:
        fails.append('icmp_too_big = %s, expected %d' % (st.get('icmp_too_big'),
                                                         exp['icmp_too_big']))
    # other counters a case names (nd_vip: nd_replies, arp_replies, icmp_replies)
    for k, want in sorted(exp.get('counters', {}).items()):
        if st.get(k) != want:
            fails.append('%s = %s, expected %d' % (k, st.get(k), want))
    sd = st.get('drops', {})
    for reason in sorted(set(sd) | set(exp['drops'])):
        want = exp['drops'].get(reason, 0)
        if reason not in sd:
            fails.append('drop reason %s is not in stats.json (expected %d)' % (reason, want))
        elif sd[reason] != want:
            fails.append('drops.%s = %d, expected %d' % (reason, sd[reason], want))
    # a service counts every frame of it: forwarded, answered "too big", or
    # dropped for tunnel_mtu; a node only what it was sent
    node_want = {}
    for name, e in exp['services'].items():
        node_want[e['node']] = node_want.get(e['node'], 0) + e['forwarded']
        got = st.get('services', {}).get(name, {}).get('packets')
        want = e['forwarded'] + e['too_big'] + e['tunnel_mtu']
        if got != want:
            fails.append('services.%s.packets = %s, expected %d (%d forwarded + %d too big + '
                         '%d tunnel_mtu)' % (name, got, want, e['forwarded'], e['too_big'],
                                             e['tunnel_mtu']))
    for node, want in sorted(node_want.items()):
        got = st.get('nodes', {}).get(node, {}).get('packets')
        if got != want:
            fails.append('nodes.%s.packets = %s, expected %d forwarded' % (node, got, want))
    # drops per service, pair and node (issue 14): a frame dropped as
    # tunnel_mtu counts for its service, its node and the pair
    with open(os.path.join(case_dir, 'config.json')) as f:
        default_node = json.load(f).get('default_node') is not None
    node_mtu = {}
    for name, e in exp['services'].items():
        sv = st.get('services', {}).get(name, {})
        node_mtu[e['node']] = node_mtu.get(e['node'], 0) + e['tunnel_mtu']
        for what, got in (('services.%s' % name, sv.get('drops', {})),
                          ('services.%s.nodes.%s' % (name, e['node']),
                           sv.get('nodes', {}).get(e['node'], {}).get('drops', {}))):
            if got.get('tunnel_mtu', 0) != e['tunnel_mtu']:
                fails.append('%s.drops.tunnel_mtu = %s, expected %d'
                             % (what, got.get('tunnel_mtu'), e['tunnel_mtu']))
    for node, want in sorted(node_mtu.items()):
        got = st.get('nodes', {}).get(node, {}).get('drops', {}).get('tunnel_mtu')
        if not default_node and got != want:
            fails.append('nodes.%s.drops.tunnel_mtu = %s, expected %d' % (node, got, want))
    fails += per_id_drop_fails(st, default_node)[0]
    for line in fails:
        print('FAIL [stats] ' + line)
    if fails:
        return 1
    print('stats: PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())
