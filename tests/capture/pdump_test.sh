#!/bin/bash
# Live capture with DPDK's own tool: cnmux runs on hugepages with a live
# source (pcaps/weighted replayed without end), `dpdk-dumpcap -i` attaches to
# it as a secondary process and captures its private port, with and without
# a BPF filter. The capture must hold what cnmux sent: each frame one of the
# capture's IP packets unchanged, behind the Ethernet header of a node (its
# MAC as destination, the private port's as source), and a filtered capture
# only what the filter lets through. cnmux must then stop cleanly, every
# packet accounted for and every mbuf back (dumpcap's copies included).
#
# Secondary processes need the primary's memory shared, so this test
# reserves 2 MiB hugepages (256, 512 MiB) and gives them back at the end.
# usage: pdump_test.sh CNMUX_BINARY CNMUXCTL_BINARY
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
skip() { # 77 = skipped; under CI a suite that cannot run fails instead
    echo "pdump test SKIPPED: $*"
    [ "${CI:-}" = true ] && exit 1
    exit 77
}
[ "$(id -u)" = 0 ] || skip "needs root (hugepages)"
command -v dpdk-dumpcap >/dev/null || skip "no dpdk-dumpcap (Debian's dpdk package)"
hp=/proc/sys/vm/nr_hugepages
[ -w "$hp" ] || skip "cannot reserve hugepages ($hp)"
case_dir=$root/pcaps/weighted
tmp=$(mktemp -d /tmp/cnmux-pdump.XXXXXX)
prefix=cnmux-pdump-$$
sock=$tmp/ctl.sock
old_hp=$(cat "$hp")
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    if mountpoint -q "$tmp/huge" 2>/dev/null; then
        rm -f "$tmp/huge/"* 2>/dev/null
        umount "$tmp/huge"
    fi
    rm -rf "$tmp" "/var/run/dpdk/$prefix"
    echo "$old_hp" >"$hp"
}
trap cleanup EXIT
if [ "$old_hp" -lt 256 ]; then
    echo 256 >"$hp"
fi
free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
[ "${free:-0}" -ge 128 ] || skip "only ${free:-0} free hugepages after asking for 256"
# a hugetlbfs of this test's own (dumpcap finds it through cnmux's shared
# configuration)
mkdir -p "$tmp/huge"
mount -t hugetlbfs -o pagesize=2M nodev "$tmp/huge" 2>/dev/null || skip "cannot mount hugetlbfs"

"$py" - "$case_dir/config.json" "$tmp/config.json" "$sock" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["control"] = {"socket": sys.argv[3]}
c["ports"] = {"public": "net_pcap0", "private": ["net_null0"], "local": "net_null1"}
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
# hugepages: no --no-huge; -m bounds what cnmux takes. --base-virtaddr: a
# secondary maps cnmux's memory at the addresses cnmux has it at; EAL's
# default (4 GiB up) lies in ASan's shadow, so an ASan cnmux gets its memory
# wherever the kernel puts it, among the libraries of a dumpcap started
# later, whose start then fails at random ("Cannot reserve ... at [addr]")
"$cnmux" -m 256 --huge-dir "$tmp/huge" --base-virtaddr 0x200000000000 --no-pci -l 0,1 \
    --file-prefix "$prefix" --log-level=error \
    --vdev "net_pcap0,rx_pcap=$case_dir/in.pcap,infinite_rx=1" \
    --vdev net_null0 --vdev net_null1 \
    -- --config "$tmp/config.json" --quiet --stats-json "$tmp/stats.json" >"$tmp/out.txt" 2>&1 &
pid=$!
up=
for _ in $(seq 100); do
    if "$ctl" -s "$sock" -j stats 2>/dev/null | "$py" -c 'import json, sys
sys.exit(json.load(sys.stdin)["forwarded"] < 1000)' 2>/dev/null; then
        up=1
        break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$up" ]; then
    echo "pdump test FAILED: cnmux is not forwarding"; cat "$tmp/out.txt"; exit 1
fi
if grep -q "live capture (pdump) unavailable" "$tmp/out.txt"; then
    echo "pdump test FAILED: cnmux did not start pdump:"; cat "$tmp/out.txt"; exit 1
fi

fails=0
# the whole private port, then only TCP to port 443 (BPF, compiled by dumpcap)
timeout 60 dpdk-dumpcap --file-prefix="$prefix" -i net_null0 -c 400 -P -q \
    -w "$tmp/all.pcap" >"$tmp/dumpcap1.txt" 2>&1 || {
    echo "FAIL dpdk-dumpcap (whole port) exited $?"; cat "$tmp/dumpcap1.txt"; fails=$((fails + 1)); }
timeout 60 dpdk-dumpcap --file-prefix="$prefix" -i net_null0 -c 100 -P -q \
    -f "tcp dst port 443" -w "$tmp/443.pcap" >"$tmp/dumpcap2.txt" 2>&1 || {
    echo "FAIL dpdk-dumpcap (filter) exited $?"; cat "$tmp/dumpcap2.txt"; fails=$((fails + 1)); }

# captures stopped while the worker forwards: the stop must not race the
# worker inside a capture callback (app/cnmux/pdump_sync.c)
for i in $(seq 1 8); do
    timeout 60 dpdk-dumpcap --file-prefix="$prefix" -i net_null0 -c 50 -q \
        -w "$tmp/short.pcapng" >"$tmp/dumpcap3.txt" 2>&1 || {
        echo "FAIL dpdk-dumpcap (short capture $i) exited $?"; cat "$tmp/dumpcap3.txt"
        fails=$((fails + 1)); break; }
done
kill -0 "$pid" 2>/dev/null || { echo "FAIL cnmux died during the short captures"; tail -20 "$tmp/out.txt"; }

kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
pid=
if [ $rc -ne 0 ]; then
    echo "FAIL cnmux exited $rc after the captures (3: packets unaccounted, 4: mbufs leaked)"
    tail -5 "$tmp/out.txt"; fails=$((fails + 1))
fi

"$py" - "$case_dir/in.pcap" "$tmp" "$tmp/config.json" "$root/tests/lib" <<'PY' || fails=$((fails + 1))
import json, struct, sys
src, tmp, cfg = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
sys.path.insert(0, sys.argv[4])
from pcapio import read_pcap as frames  # noqa: E402

def ip_packet(f):
    """the IP packet of an untagged frame, its Ethernet padding cut off"""
    et = f[12:14]
    if et == b"\x08\x00":
        return f[14:14 + struct.unpack(">H", f[16:18])[0]]
    if et == b"\x86\xdd":
        return f[14:14 + 40 + struct.unpack(">H", f[18:20])[0]]
    return None

sent = {ip_packet(f) for f in frames(src)}
macs = {bytes.fromhex(n["mac"].replace(":", "")) for n in cfg["nodes"]}
fails = []
for name, want, only443 in (("all", 400, False), ("443", 100, True)):
    got = frames("%s/%s.pcap" % (tmp, name))
    # dumpcap stops at the burst that reaches the count
    if not want <= len(got) < want + 64:
        fails.append("%s: %d frames captured, expected %d (up to a burst more)" % (
            name, len(got), want))
    srcs = {f[6:12] for f in got}
    if len(srcs) != 1:
        fails.append("%s: source MACs %s, expected the private port's alone" % (
            name, sorted(m.hex() for m in srcs)))
    for i, f in enumerate(got):
        ip = ip_packet(f)
        if f[:6] not in macs:
            fails.append("%s frame %d: destination %s is no node's MAC" % (name, i, f[:6].hex()))
        elif ip not in sent:
            fails.append("%s frame %d: its IP packet is not one of the capture's" % (name, i))
        elif only443 and not (ip[9] == 6 and struct.unpack(">H", ip[22:24])[0] == 443):
            fails.append("%s frame %d: not TCP to port 443, past the filter" % (name, i))
        if len(fails) > 10:
            break
st = json.load(open(tmp + "/stats.json"))
if st["rx"] != st["forwarded"] + st["local"] + st["dropped"] or st["mbufs_in_use"] != 0:
    fails.append("accounting: rx %d forwarded %d local %d dropped %d, mbufs in use %d" % (
        st["rx"], st["forwarded"], st["local"], st["dropped"], st["mbufs_in_use"]))
for f in fails:
    print("FAIL " + f)
print("pdump: %d + %d frames captured live from the private port of a cnmux that "
      "forwarded %d: %s" % (len(frames(tmp + "/all.pcap")), len(frames(tmp + "/443.pcap")),
                            st["forwarded"], "FAIL" if fails else "ok"))
sys.exit(1 if fails else 0)
PY
exit $fails
