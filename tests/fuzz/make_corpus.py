#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Build the seed corpus of fuzz_packet from the golden captures.

    tests/fuzz/make_corpus.py [--max N] [OUTDIR]

Reads pcaps/*/in.pcap (classic pcap, any byte order), keeps one frame per
"shape" (VLAN tags, ethertype, IP version and header length, protocol,
fragment bits, destination, destination port, TCP flags, length in steps of
16 bytes) and every frame of the malformed case, up to N frames in all
(default 400), and writes each as OUTDIR/<sha1 of the bytes> (default
tests/fuzz/corpus/packet). The result is deterministic: run it again after
the captures change and commit the difference. Python standard library only.
"""
import argparse
import glob
import hashlib
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapio import read_pcap  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def shape(fr):
    """What the parser would branch on; frames with equal shapes are redundant."""
    sig = [len(fr) // 16]
    off = 12
    vlans = 0
    et = None
    while off + 2 <= len(fr):
        et = struct.unpack(">H", fr[off:off + 2])[0]
        if et not in (0x8100, 0x88a8) or vlans > 2:
            break
        vlans += 1
        off += 4
    sig += [vlans, et]
    off += 2
    ip = fr[off:]
    l4 = b""
    if et == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 0xf) * 4
        frag = struct.unpack(">H", ip[6:8])[0]
        sig += [ip[0], ip[9], frag & 0x3fff != 0, ip[16:20], ip[12] >= 224]
        l4 = ip[ihl:]
        proto = ip[9]
    elif et == 0x86dd and len(ip) >= 40:
        sig += [ip[0] >> 4, ip[6], ip[24:40]]
        l4 = ip[40:]
        proto = ip[6]
    else:
        sig.append(bytes(ip[:8]))
        proto = None
    if proto in (6, 17) and len(l4) >= 4:
        sig.append(l4[2:4])
        if proto == 6 and len(l4) >= 14:
            sig += [l4[12] >> 4, l4[13]]
    return tuple(sig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max", type=int, default=400)
    ap.add_argument("outdir", nargs="?", default=os.path.join(HERE, "corpus", "packet"))
    args = ap.parse_args()

    picked = {}
    # per capture, the frames of distinct shapes in capture order; the
    # malformed case keeps every frame (each is a class of its own)
    cands = []
    for cap in sorted(glob.glob(os.path.join(ROOT, "pcaps", "*", "in.pcap"))):
        every = os.path.basename(os.path.dirname(cap)) == "malformed"
        seen = set()
        lst = []
        for fr in read_pcap(cap):
            s = shape(fr)
            if not every and s in seen:
                continue
            seen.add(s)
            lst.append(fr)
        cands.append((every, lst))
    # malformed first, then one frame from each capture in turn
    for every, lst in cands:
        if every:
            for fr in lst[:args.max]:
                picked.setdefault(hashlib.sha1(fr).hexdigest(), fr)
    rest = [lst for every, lst in cands if not every]
    i = 0
    while len(picked) < args.max and any(i < len(lst) for lst in rest):
        for lst in rest:
            if i < len(lst) and len(picked) < args.max:
                picked.setdefault(hashlib.sha1(lst[i]).hexdigest(), lst[i])
        i += 1
    os.makedirs(args.outdir, exist_ok=True)
    for name in os.listdir(args.outdir):
        if name not in picked:
            os.unlink(os.path.join(args.outdir, name))
    for key, fr in picked.items():
        with open(os.path.join(args.outdir, key), "wb") as f:
            f.write(fr)
    total = sum(len(fr) for fr in picked.values())
    print("%s: %d frames, %d bytes" % (args.outdir, len(picked), total))


if __name__ == "__main__":
    main()
