#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Reloads under traffic lose nothing of an unchanged service (issue 12):
#
#   reload_traffic_test.sh CNMUX CNMUXCTL
#
# cnmux replays UDP to 198.51.100.10:5000 without end (net_pcap infinite_rx)
# while its configuration is reloaded 100 times, adding and removing port
# 5001 to the service and changing another service. Every frame must go to
# a node: nothing to the local port, nothing dropped, the service's counter
# never restarting (it grows by every frame the run received), and its
# table unchanged. Before in-place changes, 20 such reloads sent thousands
# of port-5000 frames to the local port. Needs no root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
# shellcheck source=../lib/testenv.sh
. "$here/../lib/testenv.sh"
rid=$(cnm_run_id)
tmp=$(mktemp -d "/tmp/cnm_reloadtraffic_${rid}.XXXXXX")
prefix=cnm_reloadtraffic_$rid
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid" 2>/dev/null; fi
    rm -rf "$tmp" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT
die() { echo "FAIL $*"; tail -5 "$tmp/out.txt" 2>/dev/null; exit 1; }

# 256 clients to port 5000
"$py" - "$tmp/in.pcap" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
wrpcap(sys.argv[1], [Ether(src="02:00:00:00:00:99", dst="02:00:00:00:00:01") /
                     IP(src="203.0.113.%d" % (i % 250 + 1), dst="198.51.100.10") /
                     UDP(sport=10000 + i, dport=5000) / Raw(b"x" * 18) for i in range(256)])
PY
config() { # PORTS OTHER_WEIGHT
    cat <<EOF
{
  "ports": { "public": "net_pcap0", "private": ["net_null0"], "local": "net_null1" },
  "nodes": [
    { "name": "n1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b" },
    { "name": "n2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c" }
  ],
  "services": [
    { "name": "app", "vip": "198.51.100.10", "ports": [$1], "policy": "weighted",
      "nodes": { "n1": 1, "n2": 1 } },
    { "name": "other", "vip": "198.51.100.20", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "n1": 1, "n2": $2 } }
  ],
  "pdt_size": 1024,
  "control": { "socket": "$tmp/ctl.sock" }
}
EOF
}
config '"5000/udp"' 1 >"$tmp/a.json"
config '"5000/udp", "5001/udp"' 2 >"$tmp/b.json"
cp "$tmp/a.json" "$tmp/cnmux.json"
"$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" --log-level=error \
    --vdev "net_pcap0,rx_pcap=$tmp/in.pcap,infinite_rx=1" --vdev net_null0 --vdev net_null1 \
    -- --config "$tmp/cnmux.json" --quiet --stats-json "$tmp/stats.json" >"$tmp/out.txt" 2>&1 &
pid=$!
for _ in $(seq 100); do
    "$ctl" -s "$tmp/ctl.sock" stats >/dev/null 2>&1 && break
    sleep 0.1
done
"$ctl" -s "$tmp/ctl.sock" -j pdt show app 0 1024 >"$tmp/pdt0.json" || die "pdt show"
for i in $(seq 100); do
    if [ $((i % 2)) = 1 ]; then cp "$tmp/b.json" "$tmp/cnmux.json"; else cp "$tmp/a.json" "$tmp/cnmux.json"; fi
    "$ctl" -s "$tmp/ctl.sock" -j reload >"$tmp/reload.json" || die "reload $i"
done
"$ctl" -s "$tmp/ctl.sock" -j pdt show app 0 1024 >"$tmp/pdt1.json" || die "pdt show"
"$ctl" -s "$tmp/ctl.sock" -j reload >"$tmp/last.json"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
pid=
"$py" - "$tmp" "$rc" <<'PY'
import json, sys
tmp, rc = sys.argv[1], int(sys.argv[2])
st = json.load(open(tmp + "/stats.json"))
fails = []
if rc != 0:
    fails.append("cnmux exited %d" % rc)
if st["rx"] < 10000:
    fails.append("only %d frames received during the reloads" % st["rx"])
for k in ("local", "dropped", "nonscalable"):
    if st.get(k):
        fails.append("%s = %d (every frame is port 5000's, which never left the service)" % (k, st[k]))
if st["forwarded"] != st["rx"]:
    fails.append("forwarded %d of %d" % (st["forwarded"], st["rx"]))
if st["services"]["app"]["packets"] != st["rx"]:
    fails.append("app counted %d of %d frames (its counter restarted?)" % (
        st["services"]["app"]["packets"], st["rx"]))
if json.load(open(tmp + "/pdt0.json"))["entries"] != json.load(open(tmp + "/pdt1.json"))["entries"]:
    fails.append("app's table changed over reloads that changed only its ports")
for f in fails:
    print("FAIL " + f)
print("reload under traffic: 100 reloads, %d frames to port 5000, %d forwarded, %d local, "
      "%d dropped: %s" % (st["rx"], st["forwarded"], st["local"], st["dropped"],
                          "FAIL" if fails else "ok"))
sys.exit(1 if fails else 0)
PY
