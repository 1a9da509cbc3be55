#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Independent checker for a cnmux pcap replay.

    check.py CASE_DIR OUT_DIR [--min-keys N] [--quiet]

Reads CASE_DIR/config.json and CASE_DIR/in.pcap, and the replay's outputs
OUT_DIR/private.pcap, OUT_DIR/local.pcap (a missing file counts as empty) and
OUT_DIR/stats.json. Every input frame is classified by a model of the data
path written here from the specification, from the raw bytes, sharing no code
with cnmux. It then verifies:

  - every frame the model sends to the private port appears there exactly
    once, in input order, with the IP packet (IP header to the end of the IP
    total length) byte-for-byte intact, no VLAN tag, padding trimmed, and a
    destination MAC of a node of its own service with weight > 0 (or of the
    default node for non-scalable traffic);
  - one source MAC on the private port;
  - the same client key always reaches the same node (weighted: source
    address + source port, per service; sticky and sticky-wild: source
    address, per service);
  - per service with at least --min-keys distinct client keys, the share of
    keys on each node is within 1 percentage point + 3 sigma of its weight;
  - non-scalable frames (and ARP) appear on the local port unchanged, each
    exactly once (the order is reported, not required);
  - frames the model drops appear nowhere;
  - stats.json: rx == forwarded + local + dropped, rx == input frames,
    forwarded / local == frames in the outputs, each drop reason as modelled,
    per-service and per-node packet counts as observed.

Exit status 0 when everything holds, 1 on any failure, 2 on usage errors.
"""

import argparse
import ipaddress
import json
import math
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drops_check import per_id_drop_fails  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapio import read_pcap  # noqa: E402,F401 (steps.py and others import it from here)

# ---------------------------------------------------------------- pcap ----


# --------------------------------------------------------------- model ----


DROP_REASONS = (
    'runt', 'ethertype', 'vlan_depth', 'ipv4_truncated', 'ipv4_version', 'ipv4_ihl',
    'ipv4_ihl_beyond', 'ipv4_totlen_beyond', 'ipv4_totlen_below', 'martian_src',
    'ipv6_truncated', 'ipv6_version', 'ipv6_paylen', 'ipv6_ext', 'l4_truncated',
    'tcp_doff', 'port_zero', 'tcp_flags', 'fragment', 'icmp_inner', 'ipv4_checksum',
    'no_active_node', 'no_service', 'tx_full', 'headers_too_long', 'arp_sender',
    'nd_hop_limit', 'nd_checksum', 'nd_invalid',
)
# cnmux reads the headers from the first 256 bytes of a frame
HDR_WINDOW = 256
# drops the parser decides past the IPv4 header: they win over a bad header
# checksum, which is checked once the frame has parsed (verify_checksum)
L4_PARSE_DROPS = ('l4_truncated', 'tcp_doff', 'port_zero', 'tcp_flags', 'icmp_inner',
                  'headers_too_long')

TPIDS = (0x8100, 0x88a8)
ET_IPV4, ET_IPV6, ET_ARP = 0x0800, 0x86dd, 0x0806
PROTO_TCP, PROTO_UDP = 6, 17
IPV6_EXT = (0, 43, 60, 44)  # hop-by-hop, routing, destination options, fragment
IPV6_MAX_EXT = 8


def mac_str(b):
    return ':'.join('%02x' % x for x in b)


def mac_bytes(s):
    return bytes(int(x, 16) for x in s.split(':'))


class Service:
    def __init__(self, d):
        self.name = d['name']
        self.vip = ipaddress.ip_address(d['vip']).packed
        self.policy = d['policy']
        self.weights = dict(d['nodes'])
        self.ports = []
        for p in d.get('ports', []):
            num, proto = p.split('/')
            self.ports.append((PROTO_TCP if proto == 'tcp' else PROTO_UDP, int(num)))
        self.protocols = [PROTO_TCP if p == 'tcp' else PROTO_UDP
                          for p in d.get('protocols', [])]
        self.total_weight = sum(self.weights.values())


class Model:
    def __init__(self, cfg):
        self.nodes = {}
        for n in cfg['nodes']:
            self.nodes[n['name']] = mac_bytes(n['mac'])
        self.mac_to_node = {m: n for n, m in self.nodes.items()}
        self.has_local = bool(cfg.get('ports', {}).get('local'))
        self.default_node = cfg.get('default_node')
        self.services = {}
        self.arp_vips = {ipaddress.ip_address(d['vip']).packed for d in cfg['services']
                         if d.get('arp', True) and ':' not in d['vip']}
        self.nd_vips = {ipaddress.ip_address(d['vip']).packed for d in cfg['services']
                        if d.get('arp', True) and ':' in d['vip']}
        self.vips = {ipaddress.ip_address(d['vip']).packed for d in cfg['services']}
        self.echo_reply = cfg.get('icmp_echo', 'reply') == 'reply'
        self.verify_checksum = bool(cfg.get('verify_checksum', False))
        self.frags = {}  # (src, dst, proto, id) -> verdict of the first fragment
        self.t1 = {}  # (proto, vip, port) -> service   weighted, sticky
        self.t2 = {}  # (proto, vip) -> service         sticky-wild
        for d in cfg['services']:
            s = Service(d)
            self.services[s.name] = s
            if s.policy == 'sticky-wild':
                for proto in s.protocols:
                    self.t2[(proto, s.vip)] = s
            else:
                for proto, port in s.ports:
                    self.t1[(proto, s.vip, port)] = s
        # eligible destination MACs per service
        self.eligible = {}
        for s in self.services.values():
            self.eligible[s.name] = {self.nodes[n] for n, w in s.weights.items() if w > 0}
        if self.default_node:
            self.eligible[None] = {self.nodes[self.default_node]}

    def classify(self, fr):
        """Verdict for one frame, as a dict:
             {'v': 'drop', 'reason': R}
             {'v': 'local'}
             {'v': 'private', 'svc': NAME or None (default node), 'key': K,
              'et': ethertype, 'ip': IP packet bytes}
        """
        n = len(fr)
        if n < 14:
            return {'v': 'drop', 'reason': 'runt'}
        et = struct.unpack_from('!H', fr, 12)[0]
        off = 14
        tags = 0
        while et in TPIDS:
            if tags == 2:
                return {'v': 'drop', 'reason': 'vlan_depth'}
            if n < off + 4:
                return {'v': 'drop', 'reason': 'runt'}
            et = struct.unpack_from('!H', fr, off + 2)[0]
            off += 4
            tags += 1
        if et == ET_ARP:
            # a well-formed Ethernet/IPv4 request for a VIP of a service with
            # "arp" (default true) is answered by cnmux on the public port
            a = fr[off:off + 28]
            # a well-formed message from a multicast or broadcast sender
            # hardware address is bogus: neither answered nor passed on
            if (len(a) == 28 and a[0:6] == b'\x00\x01\x08\x00\x06\x04' and
                    a[6:8] in (b'\x00\x01', b'\x00\x02') and a[8] & 1):
                return {'v': 'drop', 'reason': 'arp_sender'}
            if (len(a) == 28 and a[0:6] == b'\x00\x01\x08\x00\x06\x04' and
                    a[6:8] == b'\x00\x01' and a[24:28] in self.arp_vips):
                return {'v': 'arp_reply', 'off': off}
            return self._nonscalable(fr, None, None)
        avail = n - off
        if et == ET_IPV4:
            if avail < 20:
                return {'v': 'drop', 'reason': 'ipv4_truncated'}
            ver, ihl = fr[off] >> 4, fr[off] & 15
            if ver != 4:
                return {'v': 'drop', 'reason': 'ipv4_version'}
            if ihl < 5:
                return {'v': 'drop', 'reason': 'ipv4_ihl'}
            if ihl * 4 > avail:
                return {'v': 'drop', 'reason': 'ipv4_ihl_beyond'}
            tot = struct.unpack_from('!H', fr, off + 2)[0]
            if tot > avail:
                return {'v': 'drop', 'reason': 'ipv4_totlen_beyond'}
            if tot < ihl * 4:
                return {'v': 'drop', 'reason': 'ipv4_totlen_below'}
            src = fr[off + 12:off + 16]
            dst = fr[off + 16:off + 20]
            if src[0] == 0 or src[0] == 127 or src[0] >= 224:
                return {'v': 'drop', 'reason': 'martian_src'}
            frag = struct.unpack_from('!H', fr, off + 6)[0]
            proto = fr[off + 9]
            fkey = (src, dst, proto, fr[off + 4:off + 6])
            first = bool(frag & 0x2000) and not frag & 0x1fff
            # verify_checksum: a wrong header checksum drops a frame that parsed
            bad_csum = self.verify_checksum and csum(fr[off:off + ihl * 4]) != 0
            if frag & 0x1fff:
                if bad_csum:
                    return {'v': 'drop', 'reason': 'ipv4_checksum'}
                return self._later_fragment(fkey, fr, et, fr[off:off + tot], src, dst, proto)
            l4 = off + ihl * 4
            end = off + tot
        elif et == ET_IPV6:
            if avail < 40:
                return {'v': 'drop', 'reason': 'ipv6_truncated'}
            if fr[off] >> 4 != 6:
                return {'v': 'drop', 'reason': 'ipv6_version'}
            plen = struct.unpack_from('!H', fr, off + 4)[0]
            if 40 + plen > avail:
                return {'v': 'drop', 'reason': 'ipv6_paylen'}
            src = fr[off + 8:off + 24]
            dst = fr[off + 24:off + 40]
            end = off + 40 + plen
            bad_csum = False
            # ::, ::1 and ff00::/8 are no client's address
            if src[0] == 0xff or src in (bytes(16), bytes(15) + b'\x01'):
                return {'v': 'drop', 'reason': 'martian_src'}
            nh = fr[off + 6]
            p = off + 40
            count = 0
            first = False
            fkey = None
            while nh in IPV6_EXT:
                count += 1
                if count > IPV6_MAX_EXT or p + 8 > end:
                    return {'v': 'drop', 'reason': 'ipv6_ext'}
                if p + 8 > min(n, HDR_WINDOW):
                    return {'v': 'drop', 'reason': 'headers_too_long'}
                if nh == 44:
                    hl = 8
                    fo = struct.unpack_from('!H', fr, p + 2)[0]
                    fkey = (src, dst, fr[p], fr[p + 4:p + 8])
                    if fo >> 3:
                        return self._later_fragment(fkey, fr, et, fr[off:end], src, dst, fr[p])
                    first = bool(fo & 1)
                else:
                    hl = (fr[p + 1] + 1) * 8
                if p + hl > end:
                    return {'v': 'drop', 'reason': 'ipv6_ext'}
                nh = fr[p]
                p += hl
            proto = nh
            l4 = p
        else:
            return {'v': 'drop', 'reason': 'ethertype'}

        ip = fr[off:end]
        v = self._l4(fr, et, ip, src, dst, proto, l4, end, off)
        if bad_csum and not (v['v'] == 'drop' and v['reason'] in L4_PARSE_DROPS):
            v = {'v': 'drop', 'reason': 'ipv4_checksum'}
        if first and v['v'] != 'drop':
            self.frags[fkey] = v
        return v

    def _later_fragment(self, fkey, fr, et, ip, src, dst, proto):
        # a later fragment follows its first fragment; without one, only a
        # sticky-wild service (no port needed) can place it
        v = self.frags.get(fkey)
        if v is not None:
            v = dict(v)
            v['ip'] = ip
            return v
        svc = self.t2.get((proto, dst))
        if svc is not None:
            if not self.eligible[svc.name]:
                return {'v': 'drop', 'reason': 'no_active_node', 'svc': svc.name, 'ip': ip}
            return {'v': 'private', 'svc': svc.name, 'key': (svc.name, src), 'et': et, 'ip': ip}
        if proto in (PROTO_TCP, PROTO_UDP) and dst in self.vips:
            return {'v': 'drop', 'reason': 'fragment'}
        return self._nonscalable(fr, et, ip)

    def _nd(self, fr, ip, l3off, l4, end):
        """A neighbour solicitation / advertisement (RFC 4861 7.1.1, 7.1.2):
        invalid ones dropped; a solicitation for a VIP of a service with
        "arp" answered; the rest to the host, never to a node."""
        if end > min(len(fr), HDR_WINDOW):
            return {'v': 'drop', 'reason': 'headers_too_long'}
        if ip[7] != 255:
            return {'v': 'drop', 'reason': 'nd_hop_limit'}
        m = fr[l4:end]
        if csum(ip[8:40] + struct.pack('!IxxxB', len(m), 58) + m) != 0:
            return {'v': 'drop', 'reason': 'nd_checksum'}
        bad = {'v': 'drop', 'reason': 'nd_invalid'}
        if m[1] != 0 or len(m) < 24 or m[8] == 0xff:
            return bad
        o, lla = 24, False
        while o < len(m):
            if o + 2 > len(m) or m[o + 1] == 0 or o + m[o + 1] * 8 > len(m):
                return bad
            lla = lla or m[o] == (1 if m[0] == 135 else 2)
            o += m[o + 1] * 8
        src, dst = ip[8:24], ip[24:40]
        if m[0] == 135 and src == bytes(16) and (dst[:13] != bytes.fromhex('ff0200000000000000000001ff')
                                                 or lla):
            return bad
        if m[0] == 136 and dst[0] == 0xff and m[4] & 0x40:
            return bad
        if m[0] == 135 and m[8:24] in self.nd_vips:
            return {'v': 'nd_reply', 'off': l3off, 'ip': ip}
        if self.has_local:
            return {'v': 'local'}
        return {'v': 'drop', 'reason': 'no_service'}

    def _l4(self, fr, et, ip, src, dst, proto, l4, end, l3off):
        l4len = end - l4
        icmp_err = False
        if proto in (1, 58) and (proto == 1) == (et == ET_IPV4):
            if l4len < 8:
                return {'v': 'drop', 'reason': 'l4_truncated'}
            if l4 + 8 > min(len(fr), HDR_WINDOW):
                return {'v': 'drop', 'reason': 'headers_too_long'}
            t = fr[l4]
            if proto == 58 and t in (135, 136):
                return self._nd(fr, ip, l3off, l4, end)
            is_err = t in (3, 11, 12) if proto == 1 else 1 <= t <= 4
            if not is_err:
                if (t == (8 if proto == 1 else 128) and self.echo_reply and dst in self.vips):
                    return {'v': 'echo_reply', 'off': l3off, 'ip': ip}
                return self._nonscalable(fr, et, ip)
            q = l4 + 8
            if proto == 1:
                if q + 20 > end or fr[q] >> 4 != 4 or fr[q] & 15 < 5:
                    return {'v': 'drop', 'reason': 'icmp_inner'}
                iproto, ports = fr[q + 9], q + (fr[q] & 15) * 4
                isrc, idst = fr[q + 12:q + 16], fr[q + 16:q + 20]
            else:
                if q + 40 > end or fr[q] >> 4 != 6:
                    return {'v': 'drop', 'reason': 'icmp_inner'}
                iproto, ports = fr[q + 6], q + 40
                isrc, idst = fr[q + 8:q + 24], fr[q + 24:q + 40]
                # the quoted packet's extension headers, bounded as the outer ones
                count = 0
                while iproto in IPV6_EXT:
                    count += 1
                    if count > IPV6_MAX_EXT or ports + 8 > end:
                        return {'v': 'drop', 'reason': 'icmp_inner'}
                    if iproto == 44:
                        if struct.unpack_from('!H', fr, ports + 2)[0] >> 3:
                            return self._nonscalable(fr, et, ip)  # quotes no ports
                        hl = 8
                    else:
                        hl = (fr[ports + 1] + 1) * 8
                    iproto = fr[ports]
                    ports += hl
                    if ports > end:
                        return {'v': 'drop', 'reason': 'icmp_inner'}
            if iproto not in (PROTO_TCP, PROTO_UDP):
                return self._nonscalable(fr, et, ip)
            if ports + 4 > end:
                return {'v': 'drop', 'reason': 'icmp_inner'}
            isport, idport = struct.unpack_from('!HH', fr, ports)
            # the quoted flow, seen from the client
            proto, dst, dport, src, sport = iproto, isrc, isport, idst, idport
            icmp_err = True
            return self._service(fr, et, ip, src, dst, proto, sport, dport, icmp_err)
        if proto == PROTO_TCP:
            if l4len < 20:
                return {'v': 'drop', 'reason': 'l4_truncated'}
            if l4 + 20 > min(len(fr), HDR_WINDOW):
                return {'v': 'drop', 'reason': 'headers_too_long'}
            doff = fr[l4 + 12] >> 4
            if doff < 5 or doff * 4 > l4len:
                return {'v': 'drop', 'reason': 'tcp_doff'}
            flags = fr[l4 + 13]
            if flags & 0x02 and flags & 0x05:
                return {'v': 'drop', 'reason': 'tcp_flags'}
        elif proto == PROTO_UDP:
            if l4len < 8:
                return {'v': 'drop', 'reason': 'l4_truncated'}
            if l4 + 8 > min(len(fr), HDR_WINDOW):
                return {'v': 'drop', 'reason': 'headers_too_long'}
        else:
            return self._nonscalable(fr, et, ip)
        sport, dport = struct.unpack_from('!HH', fr, l4)
        if sport == 0 or dport == 0:
            return {'v': 'drop', 'reason': 'port_zero'}
        return self._service(fr, et, ip, src, dst, proto, sport, dport, False)

    def _service(self, fr, et, ip, src, dst, proto, sport, dport, icmp_err):
        svc = self.t1.get((proto, dst, dport)) or self.t2.get((proto, dst))
        if svc is None:
            return self._nonscalable(fr, et, ip)
        if src == dst and not icmp_err:
            return {'v': 'drop', 'reason': 'martian_src'}
        if not self.eligible[svc.name]:
            return {'v': 'drop', 'reason': 'no_active_node', 'svc': svc.name, 'ip': ip}
        if svc.policy == 'weighted':
            key = (svc.name, src, sport)
        else:
            key = (svc.name, src)
        return {'v': 'private', 'svc': svc.name, 'key': key, 'et': et, 'ip': ip}

    def _nonscalable(self, fr, et, ip):
        if self.has_local:
            return {'v': 'local'}
        if self.default_node and ip is not None:
            return {'v': 'private', 'svc': None, 'key': None, 'et': et, 'ip': ip}
        return {'v': 'drop', 'reason': 'no_service'}

def csum(b):
    if len(b) % 2:
        b += b'\x00'
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff


def nd_advert(ns_ip, mac):
    """The IPv6 packet of the advertisement answering solicitation @ns_ip
    (RFC 4861 7.2.4): target -> source (ff02::1 for a DAD probe from ::), hop
    limit 255, flags S (not for DAD) and O, a target link-layer option @mac."""
    target, src = ns_ip[48:64], ns_ip[8:24]
    dad = src == bytes(16)
    if dad:
        src = bytes.fromhex('ff020000000000000000000000000001')
    na = bytearray(bytes([136, 0, 0, 0, 0x20 if dad else 0x60, 0, 0, 0]) + target +
                   b'\x02\x01' + mac)
    na[2:4] = struct.pack('!H', csum(target + src + struct.pack('!IxxxB', len(na), 58) + bytes(na)))
    return struct.pack('!IHBB', 0x60000000, len(na), 58, 255) + target + src + bytes(na)


def nd_dst_mac(q, v):
    """Where the advertisement for frame @q goes: the source link-layer option's
    MAC, else the frame's sender."""
    m, o = v['ip'][40:], 24
    while o + 8 <= len(m):
        if m[o] == 1 and m[o + 1] == 1:
            return m[o + 2:o + 8]
        o += max(m[o + 1], 1) * 8
    return q[6:12]

def echo_reply(ip):
    """The reply cnmux must make of an echo request (IP packet bytes)."""
    if ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        h = bytearray(ip[:ihl])
        h[12:16], h[16:20] = ip[16:20], ip[12:16]
        h[8] = 64
        h[10:12] = b'\x00\x00'
        h[10:12] = struct.pack('!H', csum(bytes(h)))
        icmp = bytearray(ip[ihl:])
        icmp[0] = 0
        icmp[2:4] = b'\x00\x00'
        icmp[2:4] = struct.pack('!H', csum(bytes(icmp)))
        return bytes(h) + bytes(icmp)
    h = bytearray(ip[:40])
    h[8:24], h[24:40] = ip[24:40], ip[8:24]
    h[7] = 64
    icmp = bytearray(ip[40:])
    icmp[0] = 129
    icmp[2:4] = b'\x00\x00'
    pseudo = bytes(h[8:40]) + struct.pack('!IxxxB', len(icmp), 58)
    icmp[2:4] = struct.pack('!H', csum(pseudo + bytes(icmp)))
    return bytes(h) + bytes(icmp)

# ------------------------------------------------------------- checking ----


class Report:
    LIMIT = 15

    def __init__(self, quiet=False):
        self.failures = []
        self.counts = {}
        self.quiet = quiet

    def fail(self, cat, msg):
        self.counts[cat] = self.counts.get(cat, 0) + 1
        if self.counts[cat] <= self.LIMIT:
            if callable(msg):
                msg = msg()
            self.failures.append('FAIL [%s] %s' % (cat, msg))
        elif self.counts[cat] == self.LIMIT + 1:
            self.failures.append('FAIL [%s] ... (further failures of this kind not shown)' % cat)

    def info(self, msg):
        if not self.quiet:
            print('  ' + msg)

    @property
    def ok(self):
        return not self.counts


def fmt_key(key):
    if key is None:
        return '-'
    svc, src = key[0], key[1]
    a = str(ipaddress.ip_address(src))
    return '%s:%s%s' % (svc, a, ':%d' % key[2] if len(key) > 2 else '')


def match_sequence(rep, cat, expected, outputs, keyof, describe_out):
    """Match output frames to expected entries in order. Returns a list of
    (expected index, output index) pairs; missing and unexpected frames are
    reported. @keyof(exp_entry) gives bytes that the output frame must hold:
    for the private port the IP packet (from offset 14), for local the frame."""
    import bisect
    l3 = cat == 'private'
    index = {}
    for t, e in enumerate(expected):
        index.setdefault(keyof(e), []).append(t)

    def find(fr, start):
        if start < len(expected):
            want = keyof(expected[start])
            if (fr[14:14 + len(want)] if l3 else fr) == want:
                return start
        cands = []
        if l3:
            # the IP packet is fr[14:14 + IP length]; try the lengths on offer
            body = fr[14:]
            for ln in lengths:
                if ln <= len(body):
                    cands.append(body[:ln])
        else:
            cands.append(fr)
        best = None
        for c in cands:
            lst = index.get(c)
            if lst:
                p = bisect.bisect_left(lst, start)
                if p < len(lst) and (best is None or lst[p] < best):
                    best = lst[p]
        return best

    lengths = sorted({len(k) for k in index}) if l3 else []
    pairs = []
    i = 0
    for j, fr in enumerate(outputs):
        k = find(fr, i)
        if k is None:
            rep.fail(cat + '_unexpected', lambda j=j, fr=fr: 'output frame #%d is not '
                     'expected: %s' % (j, describe_out(fr)))
            continue
        for t in range(i, k):
            rep.fail(cat + '_missing', lambda t=t, j=j: 'input frame #%d (expected on %s) is '
                     'missing before output frame #%d' % (expected[t][0], cat, j))
        pairs.append((k, j))
        i = k + 1
    for t in range(i, len(expected)):
        rep.fail(cat + '_missing', lambda t=t: 'input frame #%d (expected on %s) never appeared'
                 % (expected[t][0], cat))
    return pairs


def check(case_dir, out_dir, min_keys=2000, quiet=False):
    rep = Report(quiet)
    with open(os.path.join(case_dir, 'config.json')) as f:
        cfg = json.load(f)
    model = Model(cfg)
    inp = read_pcap(os.path.join(case_dir, 'in.pcap'))
    priv = read_pcap(os.path.join(out_dir, 'private.pcap'))
    local = read_pcap(os.path.join(out_dir, 'local.pcap'))
    pub_path = os.path.join(out_dir, 'public.pcap')
    public = read_pcap(pub_path) if os.path.exists(pub_path) else None
    stats_path = os.path.join(out_dir, 'stats.json')

    verdicts = [model.classify(fr) for fr in inp]
    exp_priv = [(i, v) for i, v in enumerate(verdicts) if v['v'] == 'private']
    exp_local = [(i, inp[i]) for i, v in enumerate(verdicts) if v['v'] == 'local']
    drops = {}
    for v in verdicts:
        if v['v'] == 'drop':
            drops[v['reason']] = drops.get(v['reason'], 0) + 1
    n_drop = sum(drops.values())

    print('case %s: %d input frames; model: %d private (%d to default node), %d local, '
          '%d dropped' % (case_dir, len(inp), len(exp_priv),
                          sum(1 for _, v in exp_priv if v['svc'] is None),
                          len(exp_local), n_drop))
    print('output: %d frames on private, %d on local' % (len(priv), len(local)))
    if drops:
        print('model drops: ' + ', '.join('%s=%d' % kv for kv in sorted(drops.items())))

    # an index of input frames, to name where an unexpected output frame came from
    def origin(fr, l3=False):
        for i, infr in enumerate(inp):
            if (l3 and len(fr) > 14 and fr[14:] in infr) or (not l3 and fr == infr):
                v = verdicts[i]
                return 'input frame #%d, model verdict %s' % (
                    i, v['v'] + ('/' + v['reason'] if v['v'] == 'drop' else ''))
        return 'matches no input frame'

    # ---- private port
    pairs = match_sequence(rep, 'private', exp_priv, priv, lambda e: e[1]['ip'],
                           lambda fr: '%d bytes, %s' % (len(fr), origin(fr, True)))
    src_macs = {}
    key_node = {}           # client key -> first node MAC
    svc_seen = {}           # service -> packets seen
    svc_bytes = {}          # service -> [input frame bytes, output frame bytes, IP bytes]
    node_seen = {}          # node MAC -> packets (all), packets (scalable only)
    node_bytes = {}
    for ei, oj in pairs:
        idx, v = exp_priv[ei]
        fr = priv[oj]
        src_macs.setdefault(fr[6:12], oj)
        dmac = fr[0:6]
        et = struct.unpack_from('!H', fr, 12)[0]
        if et != v['et']:
            rep.fail('private_l2', 'output frame #%d (input #%d): ethertype 0x%04x, expected '
                     '0x%04x (VLAN tags must be removed)' % (oj, idx, et, v['et']))
        if len(fr) != 14 + len(v['ip']):
            rep.fail('private_trim', 'output frame #%d (input #%d): %d bytes, expected %d '
                     '(14 + IP total length: padding must be trimmed)'
                     % (oj, idx, len(fr), 14 + len(v['ip'])))
        if dmac not in model.eligible[v['svc']]:
            who = model.mac_to_node.get(dmac, 'unknown node')
            rep.fail('private_node', 'output frame #%d (input #%d, service %s): sent to %s (%s), '
                     'not an eligible node (weight > 0) of the service'
                     % (oj, idx, v['svc'] or '(default node)', mac_str(dmac), who))
        c = node_seen.setdefault(dmac, [0, 0])
        b = node_bytes.setdefault(dmac, [[0, 0, 0], [0, 0, 0]])
        sizes = (len(inp[idx]), len(fr), len(v['ip']))
        c[0] += 1
        b[0] = [x + y for x, y in zip(b[0], sizes)]
        if v['svc'] is not None:
            c[1] += 1
            b[1] = [x + y for x, y in zip(b[1], sizes)]
            svc_seen[v['svc']] = svc_seen.get(v['svc'], 0) + 1
            sb = svc_bytes.setdefault(v['svc'], [0, 0, 0])
            svc_bytes[v['svc']] = [x + y for x, y in zip(sb, sizes)]
            k = v['key']
            if k in key_node:
                if key_node[k] != dmac:
                    rep.fail('sticky', 'client key %s reached %s (input #%d) after %s'
                             % (fmt_key(k), model.mac_to_node.get(dmac, mac_str(dmac)), idx,
                                model.mac_to_node.get(key_node[k], mac_str(key_node[k]))))
            else:
                key_node[k] = dmac
    if len(src_macs) > 1:
        rep.fail('private_srcmac', 'private port has %d source MACs: %s' % (
            len(src_macs), ', '.join('%s (first at output #%d)' % (mac_str(m), j)
                                     for m, j in src_macs.items())))
    if src_macs:
        rep.info('private port source MAC: %s' % ', '.join(mac_str(m) for m in src_macs))

    # ---- spread of client keys over nodes
    per_svc = {}
    for k, m in key_node.items():
        per_svc.setdefault(k[0], {}).setdefault(m, 0)
        per_svc[k[0]][m] += 1
    for name, s in model.services.items():
        counts = per_svc.get(name, {})
        nkeys = sum(counts.values())
        if nkeys == 0:
            continue
        W = s.total_weight
        parts = []
        checked = nkeys >= min_keys
        for node, w in s.weights.items():
            p = w / W if W else 0.0
            got = counts.get(model.nodes[node], 0) / nkeys
            tol = 0.01 + 3 * math.sqrt(p * (1 - p) / nkeys)
            parts.append('%s w=%d exp %.1f%% got %.1f%%' % (node, w, 100 * p, 100 * got))
            if checked and abs(got - p) > tol:
                rep.fail('spread', 'service %s: node %s holds %.2f%% of %d client keys, weight '
                         'says %.2f%% (tolerance %.2f points)'
                         % (name, node, 100 * got, nkeys, 100 * p, 100 * tol))
        rep.info('service %s (%s): %d client keys%s: %s' % (
            name, s.policy, nkeys, '' if checked else ' (too few to check the spread)',
            '; '.join(parts)))

    # ---- weighted hashes the source port too: a source with several keys
    # should not, beyond chance, find all of them on one node
    for name, s in model.services.items():
        if s.policy != 'weighted' or not s.total_weight:
            continue
        by_src = {}
        for k, m in key_node.items():
            if k[0] == name:
                by_src.setdefault(k[1], []).append(m)
        multi = [ms for ms in by_src.values() if len(ms) >= 4]
        if len(multi) < 50:
            continue
        ps = [w / s.total_weight for w in s.weights.values()]
        expect = sum(sum(p ** len(ms) for p in ps) for ms in multi) / len(multi)
        got = sum(1 for ms in multi if len(set(ms)) == 1) / len(multi)
        rep.info('service %s: %d sources with >= 4 keys, %.1f%% of them on a single node '
                 '(%.1f%% expected when the source port is hashed)'
                 % (name, len(multi), 100 * got, 100 * expect))
        if got > expect + 0.25:
            rep.fail('weighted_port', 'service %s: %.0f%% of %d sources have all their '
                     '(source, port) keys on one node, %.0f%% expected: is the source port '
                     'hashed?' % (name, 100 * got, len(multi), 100 * expect))

    # ---- local port: every frame exactly once and unchanged. The order is not
    # required (cnmux may hand ARP to the local port ahead of IP frames of the
    # same burst); frames out of input order are counted and reported.
    from collections import Counter
    exp_count = Counter(fr for _, fr in exp_local)
    out_count = Counter(local)
    first_idx = {}
    for i, fr in exp_local:
        first_idx.setdefault(fr, i)
    for fr, n in (exp_count - out_count).items():
        for _ in range(n):
            rep.fail('local_missing', lambda fr=fr: 'input frame #%d (expected on local, '
                     'unchanged) is not there' % first_idx[fr])
    for fr, n in (out_count - exp_count).items():
        for _ in range(n):
            rep.fail('local_unexpected', lambda fr=fr: 'local frame #%d is not expected there: '
                     '%d bytes, %s' % (local.index(fr), len(fr), origin(fr)))
    n_local_ok = sum((exp_count & out_count).values())
    seq = [first_idx[fr] for fr in local if fr in first_idx]
    late = sum(1 for a, b in zip(seq, seq[1:]) if b < a)
    if late:
        print('note: %d local frames come after a frame that followed them in the input '
              '(reordered, allowed)' % late)

    if local and not model.has_local:
        rep.fail('local', 'the config has no local port but local.pcap holds %d frames'
                 % len(local))

    # ---- ARP requests and echo requests for VIPs: answered on the public
    # port, in input order
    exp_arp = [(i, v) for i, v in enumerate(verdicts) if v['v'] == 'arp_reply']
    exp_nd = [(i, v) for i, v in enumerate(verdicts) if v['v'] == 'nd_reply']
    exp_pub = [(i, v) for i, v in enumerate(verdicts)
               if v['v'] in ('arp_reply', 'echo_reply', 'nd_reply')]
    if public is not None:
        if len(public) != len(exp_pub):
            rep.fail('public', 'public port sent %d frames, the model expects %d replies'
                     % (len(public), len(exp_pub)))
        for (i, v), out in zip(exp_pub, public):
            q, off = inp[i], v['off']
            if v['v'] == 'arp_reply':
                want = (q[off:off + 6] + b'\x00\x02' + out[off + 8:off + 14] + q[off + 24:off + 28]
                        + q[off + 8:off + 14] + q[off + 14:off + 18])
                ok = (len(out) == len(q) and out[0:6] == q[off + 8:off + 14] and
                      out[6:12] == out[off + 8:off + 14] and out[off:off + 28] == want and
                      out[12:off] == q[12:off])
            elif v['v'] == 'nd_reply':
                ok = out[0:6] == nd_dst_mac(q, v) and out[12:off] == q[12:off] and \
                    out[off:] == nd_advert(v['ip'], out[6:12])
            else:
                ok = out[0:6] == q[6:12] and out[12:off] == q[12:off] and out[off:] == echo_reply(v['ip'])
            if not ok:
                rep.fail('public', 'input frame #%d: the %s is not right' % (i, v['v'].replace('_', ' ')))

    # ---- stats.json
    if not os.path.exists(stats_path):
        rep.fail('stats', '%s is missing' % stats_path)
    else:
        with open(stats_path) as f:
            st = json.load(f)
        rx, fw, lo, dr = (st.get(k) for k in ('rx', 'forwarded', 'local', 'dropped'))
        print('stats.json: rx=%s forwarded=%s local=%s dropped=%s' % (rx, fw, lo, dr))
        if None in (rx, fw, lo, dr):
            rep.fail('stats', 'rx, forwarded, local and dropped must all be present')
        else:
            if rx != fw + lo + dr:
                rep.fail('stats', 'rx (%d) != forwarded + local + dropped (%d + %d + %d = %d)'
                         % (rx, fw, lo, dr, fw + lo + dr))
            if rx != len(inp):
                rep.fail('stats', 'rx = %d, the capture holds %d frames' % (rx, len(inp)))
            if fw != len(priv):
                rep.fail('stats', 'forwarded = %d, private.pcap holds %d frames' % (fw, len(priv)))
            if lo != len(local) + len(exp_pub):
                rep.fail('stats', 'local = %d, local.pcap holds %d frames and %d ARP/echo '
                         'requests were for a VIP' % (lo, len(local), len(exp_pub)))
            n_echo = len(exp_pub) - len(exp_arp) - len(exp_nd)
            if st.get('nd_replies', 0) != len(exp_nd):
                rep.fail('stats', 'nd_replies = %s, the model expects %d'
                         % (st.get('nd_replies'), len(exp_nd)))
            if st.get('icmp_replies', 0) != n_echo:
                rep.fail('stats', 'icmp_replies = %s, the model expects %d'
                         % (st.get('icmp_replies'), n_echo))
            if st.get('arp_replies', 0) != len(exp_arp):
                rep.fail('stats', 'arp_replies = %s, the model expects %d'
                         % (st.get('arp_replies'), len(exp_arp)))
            if dr != n_drop:
                rep.fail('stats', 'dropped = %d, the model drops %d' % (dr, n_drop))
        sd = st.get('drops', {})
        if dr is not None and sum(sd.values()) != dr:
            rep.fail('stats', 'the drop reasons add up to %d, dropped = %d'
                     % (sum(sd.values()), dr))
        for reason in sorted(set(sd) | set(drops)):
            got, want = sd.get(reason, 0), drops.get(reason, 0)
            if reason not in sd:
                rep.fail('stats_drop', 'drop reason %s is not in stats.json (model: %d)'
                         % (reason, want))
            elif got != want:
                rep.fail('stats_drop', 'drops.%s = %d, the model expects %d' % (reason, got, want))
        ss = st.get('services', {})
        exp_svc = {}
        svc_noactive = {}
        for i, v in enumerate(verdicts):
            if v['v'] == 'drop' and v['reason'] == 'no_active_node':
                n, b = svc_noactive.get(v['svc'], (0, [0, 0, 0]))
                svc_noactive[v['svc']] = (n + 1, [b[0] + len(inp[i]), b[1] + 14 + len(v['ip']),
                                                  b[2] + len(v['ip'])])
        for _, v in exp_priv:
            if v['svc'] is not None:
                exp_svc[v['svc']] = exp_svc.get(v['svc'], 0) + 1
        for name in model.services:
            e = ss.get(name)
            if e is None:
                rep.fail('stats_service', 'service %s is not in stats.json' % name)
                continue
            want = exp_svc.get(name, 0)
            seen = svc_seen.get(name, 0)
            sb = svc_bytes.get(name, [0, 0, 0])
            # a service may also count the packets it dropped for want of an active node
            nan, nab = svc_noactive.get(name, (0, [0, 0, 0]))
            if e.get('packets') == seen + nan and nan and seen == want:
                sb = [x + y for x, y in zip(sb, nab)]
            elif e.get('packets') != want or e.get('packets') != seen:
                rep.fail('stats_service', 'services.%s.packets = %s, model %d, seen on the '
                         'private port %d (+ %d dropped: no_active_node)'
                         % (name, e.get('packets'), want, seen, nan))
                continue
            if e.get('bytes') not in sb:
                rep.fail('stats_service', 'services.%s.bytes = %s, matches none of: input frames '
                         '%d, output frames %d, IP packets %d' % (name, e.get('bytes'), *sb))
        for name in ss:
            if name not in model.services:
                rep.fail('stats_service', 'stats.json names a service %s not in the config' % name)
        sn = st.get('nodes', {})
        for name, mac in model.nodes.items():
            e = sn.get(name)
            if e is None:
                rep.fail('stats_node', 'node %s is not in stats.json' % name)
                continue
            c = node_seen.get(mac, [0, 0])
            b = node_bytes.get(mac, [[0, 0, 0], [0, 0, 0]])
            # default-node traffic may or may not count as the node's: accept both
            if e.get('packets') not in c:
                rep.fail('stats_node', 'nodes.%s.packets = %s, seen on the private port %d '
                         '(%d of them scalable)' % (name, e.get('packets'), c[0], c[1]))
            elif e.get('bytes') not in b[c.index(e.get('packets'))]:
                rep.fail('stats_node', 'nodes.%s.bytes = %s, matches none of %s'
                         % (name, e.get('bytes'), b[c.index(e.get('packets'))]))

        # drops per service, pair and node (issue 14): the model's drops of
        # each service by reason, and the per-id drops against the global ones
        exp_sd = {}
        for v in verdicts:
            if v['v'] == 'drop' and v.get('svc') is not None:
                e = exp_sd.setdefault(v['svc'], {})
                e[v['reason']] = e.get(v['reason'], 0) + 1
        for name in model.services:
            got = ss.get(name, {}).get('drops', {})
            for reason in sorted(set(got) | set(exp_sd.get(name, {}))):
                want = exp_sd.get(name, {}).get(reason, 0)
                if got.get(reason) != want:
                    rep.fail('stats_drop', 'services.%s.drops.%s = %s, the model expects %d'
                             % (name, reason, got.get(reason), want))
        for line in per_id_drop_fails(st, model.default_node is not None)[0]:
            rep.fail('stats_drop', line)

    print('matched %d/%d private, %d/%d local' % (len(pairs), len(exp_priv),
                                                 n_local_ok, len(exp_local)))
    for line in rep.failures:
        print(line)
    if rep.ok:
        print('PASS')
        return 0
    print('FAILED: ' + ', '.join('%s=%d' % kv for kv in sorted(rep.counts.items())))
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('case_dir')
    ap.add_argument('out_dir')
    ap.add_argument('--min-keys', type=int, default=2000,
                    help='check the spread of services with at least this many client keys')
    ap.add_argument('--quiet', action='store_true')
    a = ap.parse_args()
    try:
        return check(a.case_dir, a.out_dir, a.min_keys, a.quiet)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
        print('FAIL: %s: %s' % (type(e).__name__, e))
        return 1


if __name__ == '__main__':
    sys.exit(main())
