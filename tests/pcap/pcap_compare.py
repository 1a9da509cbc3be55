#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Compare two pcap files packet by packet (bytes only, timestamps ignored).

    pcap_compare.py EXPECTED ACTUAL

A missing file counts as an empty capture. Exit 0 when they hold the same
frames in the same order; else report the first differing packet and exit 1.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import read_pcap  # noqa: E402


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip())
        return 2
    exp_path, act_path = sys.argv[1], sys.argv[2]
    exp, act = read_pcap(exp_path), read_pcap(act_path)
    for i in range(min(len(exp), len(act))):
        if exp[i] != act[i]:
            e, a = exp[i], act[i]
            at = next((k for k in range(min(len(e), len(a))) if e[k] != a[k]),
                      min(len(e), len(a)))
            print('%s: packet #%d differs from %s (expected %d bytes, got %d; first '
                  'difference at byte %d)' % (act_path, i, exp_path, len(e), len(a), at))
            print('  expected: %s' % e[max(0, at - 8):at + 24].hex())
            print('  got:      %s' % a[max(0, at - 8):at + 24].hex())
            return 1
    if len(exp) != len(act):
        print('%s: %d packets, %s holds %d (the first %d agree)'
              % (act_path, len(act), exp_path, len(exp), min(len(exp), len(act))))
        return 1
    print('%s: %d packets, identical to %s' % (act_path, len(act), os.path.basename(exp_path)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
