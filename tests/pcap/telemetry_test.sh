#!/bin/bash
# cnmux's telemetry commands, queried with DPDK's own dpdk-telemetry.py from a
# running cnmux; then SIGINT: a clean stop, final statistics printed, output
# capture flushed and complete.
# usage: telemetry_test.sh CNMUX_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cnmux=$(realpath "$1")
tmp=$(mktemp -d /tmp/cnmux-tel.XXXXXX)
prefix=cnmux-tel-$$
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    rm -rf "$tmp" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT

"$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" --log-level=error \
    --vdev "net_pcap0,rx_pcap=$root/pcaps/demo/in.pcap" \
    --vdev "net_pcap1,tx_pcap=$tmp/private.pcap" \
    --vdev "net_pcap2,tx_pcap=$tmp/local.pcap" \
    -- --config "$root/config/default.json" --idle-exit 600000 \
    --stats-json "$tmp/stats.json" >"$tmp/out.txt" 2>&1 &
pid=$!

# wait until the telemetry socket answers and the whole capture went through
for _ in $(seq 100); do
    if printf '/cnmux/stats\n' | dpdk-telemetry.py -f "$prefix" >"$tmp/q.txt" 2>/dev/null &&
        grep -q '"rx": 6000' "$tmp/q.txt"; then
        break
    fi
    sleep 0.2
done

printf '%s\n' /cnmux/stats /cnmux/services /cnmux/service,web /cnmux/nodes /cnmux/node,node1 \
    /cnmux/pdt,web /cnmux/pdt,web,4000 /cnmux/service,nosuch /help,/cnmux/pdt |
    dpdk-telemetry.py -f "$prefix" >"$tmp/tel.txt" 2>&1

kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
pid=

/usr/bin/python3 - "$tmp" "$rc" <<'PY'
import json, re, sys
tmp, rc = sys.argv[1], int(sys.argv[2])
fail = []
def check(cond, what):
    if not cond:
        fail.append(what)
text = open(tmp + '/tel.txt').read()
# dpdk-telemetry.py prints one JSON document per command
docs = []
dec = json.JSONDecoder()
i = 0
while True:
    m = re.compile(r'\{').search(text, i)
    if not m:
        break
    try:
        obj, end = dec.raw_decode(text, m.start())
    except ValueError:
        i = m.start() + 1
        continue
    docs.append(obj)
    i = end
byc = {}
for d in docs:
    for k, v in d.items():
        if v and k not in byc:
            byc[k] = v
st = byc.get('/cnmux/stats') or {}
check(st.get('rx') == 6000, 'stats.rx == 6000 (got %r)' % st.get('rx'))
check(st.get('rx') == st.get('forwarded', -1) + st.get('local', -1) + st.get('dropped', -1),
      'rx == forwarded + local + dropped in telemetry')
check(isinstance(st.get('drops'), dict) and st['drops'].get('runt', 0) > 0, 'drops.runt counted')
sv = byc.get('/cnmux/services') or {}
check(set(sv) == {'web', 'dns', 'ftp', 'web6'}, 'services lists the four services (got %r)' % sv)
web = byc.get('/cnmux/service') or {}
check(web.get('policy') == 'weighted' and web.get('vip') == '198.51.100.10', 'service,web')
check(web.get('weights') == {'node1': 3, 'node2': 1, 'node3': 2, 'node4': 2}, 'service,web weights')
nodes = byc.get('/cnmux/nodes') or {}
check(set(nodes) == {'node1', 'node2', 'node3', 'node4'}, 'nodes')
check(sum(n.get('packets', 0) for n in nodes.values()) == st.get('forwarded'),
      'per-node packets add up to forwarded')
n1 = byc.get('/cnmux/node') or {}
check(n1.get('mac') == '02:00:c0:00:02:0b' and n1.get('state') == 'up', 'node,node1')
pdts = [d['/cnmux/pdt'] for d in docs if '/cnmux/pdt' in d and d['/cnmux/pdt']]
check(len(pdts) == 2, 'two pdt answers')
if pdts:
    p = pdts[0]
    check(p.get('size') == 4096, 'pdt size 4096')
    check(p.get('entries_per_node') == {'node1': 1536, 'node2': 512, 'node3': 1024, 'node4': 1024},
          'pdt entries per node (got %r)' % p.get('entries_per_node'))
    check(len(p.get('entries', [])) == 256 and pdts[1].get('offset') == 4000 and
          len(pdts[1].get('entries', [])) == 96, 'pdt paging')
check('/help' in byc, 'help answered')
check(any('/cnmux/service' in d and not d['/cnmux/service'] for d in docs), 'unknown service answered with an error')
out = open(tmp + '/out.txt').read()
check(rc == 0, 'exit status 0 after SIGINT (got %d)' % rc)
check('6000 received' in out, 'final statistics printed on SIGINT')
js = json.load(open(tmp + '/stats.json'))
check(js['rx'] == 6000, 'stats.json written on SIGINT')
import struct
def count(path):
    b = open(path, 'rb').read()
    n, off = 0, 24
    while off + 16 <= len(b):
        incl = struct.unpack('<I', b[off + 8:off + 12])[0]
        off += 16 + incl
        n += 1
    return n
check(count(tmp + '/private.pcap') == js['forwarded'], 'private.pcap flushed: every forwarded frame in it')
check(count(tmp + '/local.pcap') == js['local'] - js['arp_replies'] - js['icmp_replies'], 'local.pcap flushed')
if fail:
    print('telemetry test FAILED:\n  ' + '\n  '.join(fail))
    print(text[:3000])
    sys.exit(1)
print('telemetry test: %d commands answered, SIGINT stop clean' % len(docs))
PY
