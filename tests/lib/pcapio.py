# SPDX-License-Identifier: BSD-3-Clause
"""Classic pcap files, read and written: the one reader and writer of the
test suite's helpers (tests/pcap, robust, ha, runtime, fixtures, fuzz, perf).

Frames are Ethernet (link type 1); files of either byte order and of
microsecond or nanosecond timestamps are read. pcapng is not: DPDK's
net_pcap and tcpdump -w write classic pcap. Written with the standard
library only, so that perf/ bundles run it on a machine without scapy.
"""
import os
import struct

MAGIC_US, MAGIC_NS = 0xA1B2C3D4, 0xA1B23C4D
T0 = 1_700_000_000  # the first record's second, unless a caller fixes another


def read_pcap(path, timestamps=False, partial_ok=False):
    """The frames of the capture at @path, as bytes, or (seconds, bytes)
    pairs with @timestamps. A file that does not exist or is empty holds
    none. @partial_ok: the capture may still be growing (a PMD writing it),
    so a short header or a last record cut short ends the list; otherwise
    either is an error, as is a file that is not classic Ethernet pcap."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    if len(data) == 0 or (partial_ok and len(data) < 24):
        return []
    if len(data) < 24:
        raise ValueError("%s: truncated pcap header" % path)
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (MAGIC_US, MAGIC_NS):
        e = "<"
    else:
        e = ">"
        magic = struct.unpack(">I", data[:4])[0]
        if magic not in (MAGIC_US, MAGIC_NS):
            raise ValueError("%s: not a classic pcap file (magic %08x); pcapng is not read"
                             % (path, magic))
    linktype = struct.unpack(e + "I", data[20:24])[0]
    if linktype != 1:
        raise ValueError("%s: link type %d, expected 1 (Ethernet)" % (path, linktype))
    div = 1e9 if magic == MAGIC_NS else 1e6
    out, off = [], 24
    while off < len(data):
        if off + 16 > len(data):
            if partial_ok:
                break
            raise ValueError("%s: truncated record header at offset %d" % (path, off))
        sec, frac, caplen, _ = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        if off + caplen > len(data):
            if partial_ok:
                break
            raise ValueError("%s: truncated record at offset %d" % (path, off))
        fr = data[off:off + caplen]
        out.append((sec + frac / div, fr) if timestamps else fr)
        off += caplen
    return out


def write_pcap(path, frames, t0=T0):
    """Write @frames (any iterable of bytes) to @path as a microsecond pcap,
    record i stamped t0 + i microseconds, through a temporary file renamed
    into place (a reader never sees half a file). Returns how many."""
    tmp = str(path) + ".tmp"
    n = 0
    with open(tmp, "wb", buffering=1 << 20) as f:
        f.write(struct.pack("<IHHiIII", MAGIC_US, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", t0 + n // 1_000_000, n % 1_000_000, len(fr), len(fr)))
            f.write(fr)
            n += 1
    os.replace(tmp, path)
    return n
