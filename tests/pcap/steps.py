#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Helpers of tests/pcap/run_steps_case.sh (a golden case with steps).

    steps.py config CASE_DIR OUT_DIR SOCKET   write OUT_DIR/config.json: the case's
                                              config with the runner's port names
                                              and control socket; print 1 when it
                                              has a local port, else 0
    steps.py send IFACE PCAP                  send every frame of PCAP on IFACE (a
                                              raw AF_PACKET socket, in order); print
                                              how many
    steps.py field JSON_FILE KEY              print a top-level integer of a JSON file
    steps.py check CASE_DIR OUT_DIR           the property checks (below)

The checks read only the bytes of the frames sent and of the outputs (no code
shared with cnmux) and the marks the runner wrote (OUT_DIR/marks.json: the
stats at each ctl step):

 1. no frame lost: every IP packet sent leaves exactly once, byte for byte
    (Ethernet padding trimmed), on the private port (or the local port); the
    final stats say rx = forwarded + local + dropped = frames sent, dropped 0,
    and the private capture holds `forwarded` frames;
 2. one node per connection: every frame of one connection leaves with one
    destination MAC. A frame with ports is keyed by (protocol, client address,
    client port, server address, server port); a later fragment (IPv4 offset >
    0, IPv6 fragment header with offset > 0) by the first fragment with the
    same (source, destination, identification), seen before it on the output;
 3. a drained node keeps its connections: for each ctl step `node drain NODE
    [SERVICE]` or `node weight NODE SERVICE 0`, the connections that were on
    NODE before the step and sent after it are still on NODE after it
    (later fragments included), and there is at least one such connection.

UDP flows (the UDP flow list, docs/conntrack.md): a UDP flow of a service
with "udp_timeout_s" is a connection for checks 2 and 3, until a sleep step
longer than that timeout ends it: after such a step the flow is a new one
(its "epoch" changes). A UDP flow of a service without the list is no
connection: it follows the PDT of the moment. And:
 4. a service without the list keeps today's behaviour: at least one of its
    flows changed node across the ctl steps (else the case does not show it);
 5. a flow list expires as configured: for each sleep step and each service
    whose udp_timeout_s is shorter, none of its flows is on a node drained
    before the step once it is over, at least one of them was before it, and
    the stats' udp_expired counts at least the service's flows seen before;
 6. the counters: udp_new is the number of (flow, epoch) pairs of the
    services with the list, udp_hit their other datagrams.

QUIC (services with a plaintext "quic_lb", docs/quic.md), read here from the
RFC 8999 invariants and the QUIC-LB draft, apart from cnmux: a frame whose
destination connection ID carries a configured codepoint and a node's server
ID is routed by it: it is keyed by that CID (one connection, whatever its
addresses and ports) for checks 2 and 3, is not a UDP flow for 6, and:
 7. it leaves on its server ID's node; the quic_* and cid_* counters are what
    the frames imply (empty, truncated, unknown or reserved codepoint,
    unknown server ID, routed); the Initials the PDT placed reached more
    than one node.
"""

import ipaddress
import json
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check import read_pcap  # noqa: E402

PORT_NAMES = {'public': 'net_pcap0', 'private': ['net_pcap1'], 'local': 'net_pcap2'}


def cmd_config(case_dir, out_dir, sock):
    with open(os.path.join(case_dir, 'config.json')) as f:
        cfg = json.load(f)
    ports = cfg.setdefault('ports', {})
    has_local = 1 if ports.get('local') else 0
    if len(ports.get('private', [])) > 1:
        raise SystemExit('steps.py: one private port only (the case has %d)'
                         % len(ports['private']))
    ports['public'] = PORT_NAMES['public']
    ports['private'] = PORT_NAMES['private']
    if has_local:
        ports['local'] = PORT_NAMES['local']
    cfg.setdefault('control', {})['socket'] = sock
    # a quic_lb key_file of the case's own: a copy of mode 0600 (cnmux
    # refuses a key others can read), named by its absolute path
    for sv in cfg.get('services', []):
        q = sv.get('quic_lb')
        for c in (q if isinstance(q, list) else [q] if q else []):
            kf = c.get('key_file')
            if kf and not os.path.isabs(kf):
                dst = os.path.join(out_dir, os.path.basename(kf))
                with open(os.path.join(case_dir, kf), 'rb') as f:
                    key = f.read()
                fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.write(fd, key)
                os.close(fd)
                c['key_file'] = dst
    with open(os.path.join(out_dir, 'config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)
    print(has_local)


def cmd_send(iface, pcap):
    frames = read_pcap(pcap)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    for fr in frames:
        n = s.send(fr)
        if n != len(fr):
            raise SystemExit('steps.py: sent %d bytes of a %d-byte frame' % (n, len(fr)))
    s.close()
    print(len(frames))


def cmd_field(path, key):
    with open(path) as f:
        print(int(json.load(f)[key]))

# ------------------------------------------------------------ parsing ----


def ip_of(frame):
    """(ethertype, IP packet without trailing padding) or (None, None)."""
    off = 12
    et = struct.unpack_from('!H', frame, off)[0]
    while et in (0x8100, 0x88a8) and off < 12 + 8:
        off += 4
        et = struct.unpack_from('!H', frame, off)[0]
    l3 = frame[off + 2:]
    if et == 0x0800 and len(l3) >= 20:
        return et, l3[:struct.unpack_from('!H', l3, 2)[0]]
    if et == 0x86dd and len(l3) >= 40:
        return et, l3[:40 + struct.unpack_from('!H', l3, 4)[0]]
    return None, None


def describe(et, p):
    """(flow key or None, fragment id or None, is a later fragment)"""
    if et == 0x0800:
        ihl = (p[0] & 15) * 4
        proto, src, dst = p[9], p[12:16], p[16:20]
        ident = struct.unpack_from('!H', p, 4)[0]
        fo = struct.unpack_from('!H', p, 6)[0]
        off, more = fo & 0x1fff, bool(fo & 0x2000)
        fid = (src, dst, proto, ident) if (off or more) else None
        l4 = p[ihl:]
    else:
        src, dst = p[8:24], p[24:40]
        nh, q, fid, off = p[6], 40, None, 0
        while nh in (0, 43, 60, 44) and q + 8 <= len(p):
            if nh == 44:
                fo = struct.unpack_from('!H', p, q + 2)[0]
                off = fo >> 3
                fid = (src, dst, struct.unpack_from('!I', p, q + 4)[0])
                nh, q = p[q], q + 8
                if off:
                    break
            else:
                nh, q = p[q], q + (p[q + 1] + 1) * 8
        proto, l4 = nh, p[q:]
    if off:
        return None, fid, True
    if proto in (6, 17) and len(l4) >= 4:
        sp, dp = struct.unpack_from('!HH', l4, 0)
        return (proto, src, sp, dst, dp), fid, False
    return (proto, src, dst), fid, False


def show(key):
    if key is None:
        return '?'
    if len(key) == 5:
        proto, src, sp, dst, dp = key
        return '%s %s:%d -> %s:%d' % ({6: 'tcp', 17: 'udp'}.get(proto, proto),
                                      ipaddress.ip_address(src), sp,
                                      ipaddress.ip_address(dst), dp)
    return '%s -> %s (proto %d)' % (ipaddress.ip_address(key[1]),
                                   ipaddress.ip_address(key[2]), key[0])

# ------------------------------------------------------------- checks ----


def cmd_check(case_dir, out_dir):
    with open(os.path.join(case_dir, 'steps.json')) as f:
        steps = json.load(f)
    with open(os.path.join(out_dir, 'config.json')) as f:
        cfg = json.load(f)
    with open(os.path.join(out_dir, 'marks.json')) as f:
        marks = json.load(f)          # one per ctl or sleep step: {"step": i, "rx": .., "forwarded": ..}
    with open(os.path.join(out_dir, 'stats.json')) as f:
        stats = json.load(f)
    mac_node = {bytes.fromhex(n['mac'].replace(':', '')): n['name']
                for n in cfg['nodes'] if n.get('mac')}
    fails = []

    def fail(msg):
        fails.append(msg)

    sent = []
    for st in steps:
        if 'send' in st:
            sent += read_pcap(os.path.join(case_dir, st['send']))
    priv = read_pcap(os.path.join(out_dir, 'private.pcap'))
    local = read_pcap(os.path.join(out_dir, 'local.pcap'))

    # 1. no frame lost
    n = len(sent)
    for k in ('rx', 'forwarded', 'local', 'dropped'):
        if k not in stats:
            fail('stats.json: no "%s"' % k)
    if not fails:
        if stats['rx'] != n:
            fail('stats: rx %d, frames sent %d' % (stats['rx'], n))
        if stats['forwarded'] + stats['local'] + stats['dropped'] != stats['rx']:
            fail('stats: forwarded %d + local %d + dropped %d != rx %d'
                 % (stats['forwarded'], stats['local'], stats['dropped'], stats['rx']))
        if stats['dropped']:
            fail('stats: dropped %d (drops: %s)' % (
                stats['dropped'], {k: v for k, v in stats.get('drops', {}).items() if v}))
        if len(priv) != stats['forwarded']:
            fail('private.pcap holds %d frames, stats say forwarded %d'
                 % (len(priv), stats['forwarded']))
    want = {}
    for fr in sent:
        et, p = ip_of(fr)
        want[p] = want.get(p, 0) + 1
    got = {}
    for fr in priv + local:
        et, p = ip_of(fr)
        got[p] = got.get(p, 0) + 1
    lost = sum(max(0, c - got.get(p, 0)) for p, c in want.items())
    extra = sum(max(0, c - want.get(p, 0)) for p, c in got.items())
    if lost or extra:
        fail('%d IP packets sent did not come out, %d came out that were not sent '
             '(or more often than sent)' % (lost, extra))
    for i, fr in enumerate(priv):
        if fr[6:12] != priv[0][6:12]:
            fail('private frame #%d: source MAC %s, the first had %s'
                 % (i, fr[6:12].hex(':'), priv[0][6:12].hex(':')))
            break

    # QUIC: per plaintext quic_lb service (vip, port) -> its configurations
    sid_node = {bytes.fromhex(n['server_id']): n['name'] for n in cfg['nodes']
                if n.get('server_id')}
    quic_svc = {}
    for sv in cfg['services']:
        q = sv.get('quic_lb')
        if q is None:
            continue
        qs = q if isinstance(q, list) else [q]
        # plaintext, and encrypted with the single-pass algorithm (server ID
        # + nonce = 16 bytes: one AES-128-ECB block, python3-cryptography's);
        # a service with the four-pass one is not checked here
        if any(c.get('mode') != 'plaintext' and c['server_id_len'] + c['nonce_len'] != 16
               for c in qs):
            continue
        keys = {}
        for c in qs:
            if c.get('mode') == 'encrypted':
                with open(os.path.join(case_dir, c['key_file'])) as f:
                    t = f.read().strip()
                keys[c.get('config_id', 0)] = bytes.fromhex(t)
        cid_len = qs[0].get('cid_len', 1 + qs[0]['server_id_len'] + qs[0]['nonce_len'])
        for pt in sv.get('ports', []):
            if pt.endswith('/udp'):
                quic_svc[(ipaddress.ip_address(sv['vip']).packed, int(pt.split('/')[0]))] = (
                    {c.get('config_id', 0): (c['server_id_len'], c['nonce_len'],
                                             keys.get(c.get('config_id', 0)))
                     for c in qs},
                    cid_len)

    def qlb_sid(dcid, sl, key):
        """the server ID a CID carries: in the clear, or decrypted"""
        if key is None:
            return bytes(dcid[1:1 + sl])
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        dec = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
        return (dec.update(bytes(dcid[1:17])) + dec.finalize())[:sl]

    def quic_class(et, p):
        """(counter names, server CID or None, is an Initial) of a frame to a
        QUIC service; None for other frames"""
        if et is None:
            return None
        key, fid, later = describe(et, p)
        if later or key is None or len(key) != 5 or key[0] != 17:
            return None
        qs = quic_svc.get((key[3], key[4]))
        if qs is None:
            return None
        confs, cid_len = qs
        ihl = (p[0] & 15) * 4 if et == 0x0800 else 40
        u = p[ihl + 8:]
        if not u:
            return ['quic_empty'], None, False
        initial = False
        if u[0] & 0x80:
            if len(u) < 6:
                return ['quic_long_truncated'], None, False
            dl = u[5]
            ver = struct.unpack_from('!I', u, 1)[0]
            if ver in (1, 0x6b3343cf) and dl > 20:
                return ['quic_dcid_len'], None, False
            if len(u) < 6 + dl:
                return ['quic_dcid_truncated'], None, False
            if len(u) < 7 + dl or len(u) < 7 + dl + u[6 + dl]:
                return ['quic_scid_truncated'], None, False
            dcid = u[6:6 + dl]
            initial = ver == 1 and (u[0] >> 4) & 3 == 0
        else:
            if len(u) < 1 + cid_len:
                return ['quic_short_truncated'], None, False
            dcid = u[1:1 + cid_len]
        cp = dcid[0] >> 5
        if cp == 7:
            return ['quic_ok', 'cid_cr_unroutable'], None, initial
        if cp not in confs:
            return ['quic_ok', 'cid_cr_unknown'], None, initial
        sl, nl, qkey = confs[cp]
        if len(dcid) < 1 + sl + nl:
            return ['quic_ok', 'cid_short'], None, initial
        sid = qlb_sid(dcid, sl, qkey)
        if sid in sid_node:
            return ['quic_ok', 'cid_server_id'], sid, initial
        return ['quic_ok', 'cid_sid_unknown'], None, initial

    # UDP flows: the service's udp_timeout_s (0: no list), by flow key
    mark_at = {m['step']: m for m in marks}
    svc_udp = []
    for sv in cfg['services']:
        ports = set(sv.get('ports', []))
        wild = 'udp' in sv.get('protocols', [])
        svc_udp.append((ipaddress.ip_address(sv['vip']).packed, ports, wild,
                        sv.get('udp_timeout_s', 0), sv['name']))

    def udp_svc(key):
        """(udp_timeout_s, service name) of a UDP flow key; None for other keys"""
        if key is None or len(key) != 5 or key[0] != 17:
            return None
        for vip, ports, wild, tmo, name in svc_udp:
            if vip == key[3] and (wild or '%d/udp' % key[4] in ports):
                return tmo, name
        return 0, None
    sleeps = []        # (step, seconds, output index where it falls)
    for si, st in enumerate(steps):
        if 'sleep' in st:
            if si not in mark_at:
                fail('step %d (sleep): no mark from the runner' % si)
                continue
            sleeps.append((si, st['sleep'], mark_at[si]['forwarded']))

    def epoch(key, i):
        """how many sleeps longer than the flow's list timeout lie before output i"""
        u = udp_svc(key)
        if u is None or u[0] == 0:
            return 0
        return sum(1 for _, sec, cut in sleeps if sec > u[0] and cut <= i)

    def tracked(key):
        """a connection for checks 2 and 3: not a UDP flow of a service without the list"""
        u = udp_svc(key)
        return u is None or u[0] > 0

    # 2. one node per connection
    quic_counts, quic_wrong, initial_macs = {}, [], set()
    mac_node_rev = {nm: m for m, nm in mac_node.items()}
    firsts = {}        # fragment id -> flow key
    frames_of = {}     # flow key -> [(output index, dst MAC, later fragment)]
    orphans = 0
    for i, fr in enumerate(priv):
        et, p = ip_of(fr)
        if et is None:
            continue
        key, fid, later = describe(et, p)
        if later:
            key = firsts.get(fid)
            if key is None:
                orphans += 1
                continue
        elif fid is not None:
            firsts[fid] = key
        qc = quic_class(et, p)
        if qc is not None:
            for name in qc[0]:
                quic_counts[name] = quic_counts.get(name, 0) + 1
            if qc[1] is not None:
                # routed by its server ID: that node, whatever the tuple
                want = mac_node_rev.get(sid_node[qc[1]])
                if fr[:6] != want:
                    quic_wrong.append((i, show(key)))
                key = ('quic', qc[1])
            elif qc[2]:
                initial_macs.add(fr[:6])
        frames_of.setdefault(key, []).append((i, fr[:6], later))
    if orphans:
        fail('%d later fragments left before their first fragment' % orphans)
    split = []
    for key, fl in frames_of.items():
        if not tracked(key):
            continue
        macs = {}
        for i, m, _ in fl:
            e = macs.setdefault(epoch(key, i), [])
            if m not in e:
                e.append(m)
        if any(len(e) > 1 for e in macs.values()):
            split.append((key, fl))
    if split:
        fail('%d of %d connections left on more than one node, e.g.:'
             % (len(split), len(frames_of)))
        for key, fl in split[:5]:
            fails.append('  %s: %s' % (show(key), ', '.join(
                '#%d %s%s' % (i, mac_node.get(m, m.hex(':')),
                              ' (later fragment)' if later else '')
                for i, m, later in fl)))

    # 3. a drained node keeps its connections
    for si, st in enumerate(steps):
        c = st.get('ctl')
        if not c:
            continue
        drained = None
        if c[:2] == ['node', 'drain'] and len(c) >= 3:
            drained = c[2]
        elif c[:2] == ['node', 'weight'] and len(c) == 5 and c[4] == '0':
            drained = c[2]
        if drained is None:
            continue
        if si not in mark_at:
            fail('step %d (%s): no mark from the runner' % (si, ' '.join(c)))
            continue
        cut = mark_at[si]['forwarded']
        dmac = [m for m, nm in mac_node.items() if nm == drained]
        if not dmac:
            fail('step %d: node %s has no MAC in the config' % (si, drained))
            continue
        dmac = dmac[0]
        kept, later_kept, moved = 0, 0, []
        for key, fl in frames_of.items():
            if not tracked(key):
                continue
            before = [x for x in fl if x[0] < cut]
            after = [x for x in fl if x[0] >= cut]
            if before:
                after = [x for x in after if epoch(key, x[0]) == epoch(key, before[-1][0])]
            if not before or not after or before[-1][1] != dmac:
                continue
            if all(m == dmac for _, m, _ in after):
                kept += 1
                later_kept += sum(1 for _, _, later in after if later)
            else:
                moved.append(key)
        if moved:
            fail('step %d (%s): %d connections of %s moved after it, e.g. %s'
                 % (si, ' '.join(c), len(moved), drained, show(moved[0])))
        if kept == 0 and not moved:
            fail('step %d (%s): no connection of %s sent anything after it: '
                 'the case does not test the drain' % (si, ' '.join(c), drained))
        print('steps.py: step %d (%s): %d connections of %s kept it, %d later fragments '
              'reached it' % (si, ' '.join(c), kept, drained, later_kept))

    # 4. UDP without the list: the PDT of the moment
    ctl_cuts = [mark_at[si]['forwarded'] for si, st in enumerate(steps)
                if 'ctl' in st and si in mark_at]
    plain = [k for k in frames_of if udp_svc(k) is not None and udp_svc(k)[0] == 0]
    if plain:
        spans = [k for k in plain if any(frames_of[k][0][0] < c <= frames_of[k][-1][0]
                                         for c in ctl_cuts)]
        moved = [k for k in spans if len({m for _, m, _ in frames_of[k]}) > 1]
        print('steps.py: UDP flows of services without the list: %d of %d across the '
              'ctl steps changed node' % (len(moved), len(spans)))
        if spans and not moved:
            fail('no UDP flow of a service without the list changed node across the ctl '
                 'steps: the case does not show the PDT of the moment')

    # 5. the list expires as configured
    for si, sec, cut in sleeps:
        drained = set()
        for sj, st in enumerate(steps[:si]):
            c = st.get('ctl') or []
            if c[:2] == ['node', 'drain'] and len(c) == 3:
                drained.add(c[2])
        dmacs = {m for m, nm in mac_node.items() if nm in drained}
        for vip, ports, wild, tmo, name in svc_udp:
            if not 0 < tmo < sec:
                continue
            mine = [k for k in frames_of if udp_svc(k) == (tmo, name)]
            seen = [k for k in mine if frames_of[k][0][0] < cut]
            was_drained = [k for k in seen if [x for x in frames_of[k] if x[0] < cut][-1][1]
                           in dmacs]
            still = [k for k in mine
                     if any(x[0] >= cut and x[1] in dmacs for x in frames_of[k])]
            print('steps.py: step %d (sleep %d s): %s (udp_timeout_s %d): %d flows, %d on a '
                  'drained node before, %d after' % (si, sec, name, tmo, len(seen),
                                                     len(was_drained), len(still)))
            if still:
                fail('step %d: %d flows of %s still on a drained node after their idle '
                     'time, e.g. %s' % (si, len(still), name, show(still[0])))
            if drained and not was_drained:
                fail('step %d: no flow of %s on a drained node before it: the case does '
                     'not test the expiry' % (si, name))
            if 'udp_expired' in stats and stats['udp_expired'] < len(seen):
                fail('stats: udp_expired %d, but %d flows of %s were idle longer than %d s'
                     % (stats['udp_expired'], len(seen), name, tmo))

    # 7. QUIC by connection ID
    if quic_svc:
        for i, what in quic_wrong[:5]:
            fail('private frame #%d (%s): not on the node of its server ID' % (i, what))
        names = ['quic_ok', 'quic_empty', 'quic_long_truncated', 'quic_dcid_len',
                 'quic_dcid_truncated', 'quic_scid_truncated', 'quic_scid_len',
                 'quic_short_truncated', 'cid_server_id', 'cid_cr_unroutable', 'cid_cr_unknown',
                 'cid_short', 'cid_sid_unknown']
        for name in names:
            if stats.get(name) != quic_counts.get(name, 0):
                fail('stats: %s %s, the frames imply %d' % (name, stats.get(name),
                                                             quic_counts.get(name, 0)))
        if len(initial_macs) < 2:
            fail('the Initials placed by the PDT reached %d node(s), expected a spread'
                 % len(initial_macs))
        print('steps.py: QUIC: %d frames by server ID, %d by the 4-tuple, the Initials on %d '
              'nodes, counters %s'
              % (quic_counts.get('cid_server_id', 0), quic_counts.get('quic_ok', 0) -
                 quic_counts.get('cid_server_id', 0), len(initial_macs),
                 {k: v for k, v in sorted(quic_counts.items())}))

    # 6. the UDP counters
    listed = [k for k in frames_of if udp_svc(k) is not None and udp_svc(k)[0] > 0]
    want_new = sum(len({epoch(k, x[0]) for x in frames_of[k]}) for k in listed)
    want_hit = sum(len(frames_of[k]) for k in listed) - want_new
    for name, want in (('udp_new', want_new), ('udp_hit', want_hit)):
        if name not in stats:
            fail('stats.json: no "%s"' % name)
        elif stats[name] != want:
            fail('stats: %s %d, expected %d' % (name, stats[name], want))

    print('steps.py: %d frames sent, %d on the private port, %d on the local port, '
          '%d connections, %d later fragments'
          % (n, len(priv), len(local), len(frames_of),
             sum(1 for fl in frames_of.values() for x in fl if x[2])))
    if fails:
        for m in fails:
            print('steps.py: FAIL: ' + m)
        return 1
    print('steps.py: property checks passed')
    return 0


def main():
    a = sys.argv[1:]
    if a[:1] == ['config'] and len(a) == 4:
        cmd_config(*a[1:])
    elif a[:1] == ['send'] and len(a) == 3:
        cmd_send(*a[1:])
    elif a[:1] == ['field'] and len(a) == 3:
        cmd_field(*a[1:])
    elif a[:1] == ['check'] and len(a) == 3:
        return cmd_check(*a[1:])
    else:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
