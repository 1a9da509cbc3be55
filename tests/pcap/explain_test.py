#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""cnmux --explain agrees with the real data path, frame for frame.

    explain_test.py CNMUX CASE...

For each golden case (pcaps/CASE: config.json, in.pcap and what the real
binary sends, expected_private.pcap / expected_local.pcap, checked by
run_case.sh), the offline explanation of in.pcap must name, in order, the
same node for every frame the golden output sends to a node (by the node's
MAC), and as many frames local as the golden local output holds. So explain
cannot drift from what the workers do: it runs their parser and decision,
and this test fails the day it does not.

And the UDP flow list: in a case whose services have udp_timeout_s, the
first forwarded datagram of each of their flows says "conn new" and "via
pdt", every later one "conn held (NODE, udp)" and "via udp_list" with that
node (the capture is shorter than any timeout).
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapio import read_pcap  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


LINE = re.compile(r'^(\d+) \d+\.\d{6} (.*)$')


def check(cnmux, case):
    d = os.path.join(SRC, 'pcaps', case)
    cfg = json.load(open(os.path.join(d, 'config.json')))
    mac_node = {bytes.fromhex(n['mac'].replace(':', '')): n['name']
                for n in cfg['nodes'] if 'mac' in n}
    r = subprocess.run([cnmux, '--config', os.path.join(d, 'config.json'),
                        '--explain', os.path.join(d, 'in.pcap')],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return ['cnmux --explain exited %d: %s' % (r.returncode, r.stderr.strip())]
    listed = {sv['name'] for sv in cfg['services'] if sv.get('udp_timeout_s')}
    flows, udp_fails, udp_seen = {}, [], 0
    got_nodes, got_local, n = [], 0, 0
    for line in r.stdout.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        n += 1
        u = re.match(r'udp (\S+) > (\S+) \| service (\S+) .*\| forward to (\S+) by \S+ '
                     r'via (\S+)$', m.group(2))
        if u and u.group(3) in listed:
            udp_seen += 1
            key, node, via = (u.group(1), u.group(2)), u.group(4), u.group(5)
            if key not in flows:
                flows[key] = node
                if via != 'pdt' or '| conn new |' not in m.group(2):
                    udp_fails.append('frame %s, first of its flow: %s' % (m.group(1), m.group(2)))
            elif via != 'udp_list' or node != flows[key] or \
                    '| conn held (%s, udp' % node not in m.group(2):
                udp_fails.append('frame %s, flow on %s: %s' % (m.group(1), flows[key],
                                                              m.group(2)))
        what = m.group(2).rsplit(' | ', 1)[-1]
        t = re.match(r'(forward to|default node) (\S+) by', what)
        if t:
            got_nodes.append(t.group(2))
        elif what == 'local':
            got_local += 1
    fails = []
    want_in = len(read_pcap(os.path.join(d, 'in.pcap')))
    if n != want_in:
        fails.append('%d lines for %d frames' % (n, want_in))
    want_nodes = [mac_node.get(f[:6], f[:6].hex()) for f in
                  read_pcap(os.path.join(d, 'expected_private.pcap'))]
    if got_nodes != want_nodes:
        first = next((i for i, (a, b) in enumerate(zip(got_nodes, want_nodes)) if a != b),
                     min(len(got_nodes), len(want_nodes)))
        fails.append('to nodes: explain %d frames, the data path %d; first difference at '
                     'forwarded frame %d: explain %s, data path %s' % (
                         len(got_nodes), len(want_nodes), first + 1,
                         got_nodes[first] if first < len(got_nodes) else '-',
                         want_nodes[first] if first < len(want_nodes) else '-'))
    if listed and not udp_seen:
        fails.append('no forwarded UDP datagram of %s in the capture' % ', '.join(sorted(listed)))
    fails += udp_fails[:5]
    want_local = len(read_pcap(os.path.join(d, 'expected_local.pcap')))
    if got_local != want_local:
        fails.append('local: explain %d, the data path %d' % (got_local, want_local))
    print('%-20s %6d frames, %6d to nodes, %5d local: %s' % (
        case, n, len(got_nodes), got_local, 'FAIL' if fails else 'ok'))
    return fails


def main():
    cnmux, cases = sys.argv[1], sys.argv[2:]
    bad = 0
    for c in cases:
        for f in check(cnmux, c):
            print('FAIL [%s] %s' % (c, f))
            bad += 1
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
