#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A SYN flood from random sources fills the forwarding list (issue 5, point
# 5): existing connections keep their node, new ones fall back to the PDT,
# conn_full says so, the list recovers as the flood's entries expire.
#
#   synflood_test.sh CNMUX CNMUXCTL
#
# cnmux runs in a network namespace, public port net_af_packet on a veth,
# private port net_pcap writing private.pcap; "conntrack": max 1024 (the
# smallest allowed), syn_s 20 (a flood entry lives 20 s: no entry may expire
# while phases 2-5 run, or a new SYN could take the room it left between a
# flood batch and itself, as it did with syn_s 1 on a loaded machine), timeout_s
# 300 (the test's established connections outlive the run). synflood.py writes
# frames on the other end of the veth; after each batch it waits until cnmux
# has received it. Each flood batch is 1200 SYNs from distinct random sources
# (10/8), more than the list holds: the list is full when the frames that
# follow the batch arrive.
#
#  1. 200 connections (SYN, then data): recorded (conn_new, conn_hit, count).
#  2. flood: conn_full grows, `cnmuxctl conns count` == 1024.
#  3. during the flood `cnmuxctl node drain node1 web` and
#     `cnmuxctl node weight node4 web 2`: the PDT alone would move some of
#     the 200.
#  4. the 200 continue, each after a flood batch: conn_hit counts them.
#  5. 200 new connections, SYNs after a flood batch: not recorded (conn_full,
#     absent from `conns show`), their data is no hit: they follow the PDT.
#  6. the flood stops: conns count falls back to 200 (conn_expired) once
#     the flood's entries are 20 s old.
#  7. 200 new connections: recorded again (conn_new +200, conn_full +0).
# Then, from the capture and an independent model (client hash over the PDT
# dumps): every frame forwarded once; every frame of the 200 on the node of
# its SYN; the new ones (5, 7) on the node of the PDT after the change; rx ==
# forwarded + local + dropped; every SYN recorded or counted in conn_full.
# Needs root (netns, veth): skipped (77) without.
set -uo pipefail
name="syn"
. "$(cd "$(dirname "$0")" && pwd)/common.sh"
robust_setup "$@"
max=1024

cat >"$tmp/config.json" <<EOF2
{
  "version": 1,
  "ports": { "public": "net_af_packet0", "private": ["net_pcap1"] },
  "nodes": [
    { "name": "node1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b" },
    { "name": "node2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c" },
    { "name": "node3", "ip": "192.0.2.13", "mac": "02:00:c0:00:02:0d" },
    { "name": "node4", "ip": "192.0.2.14", "mac": "02:00:c0:00:02:0e" }
  ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "node1": 1, "node2": 1, "node3": 1 } }
  ],
  "pdt_size": 4096,
  "hash_key": "0x5eed1e55",
  "control": { "socket": "$sock" },
  "conntrack": { "max": $max, "timeout_s": 300, "closing_s": 1, "syn_s": 20 }
}
EOF2

start_cnmux flood --vdev "net_af_packet0,iface=$va,qpairs=1,framecnt=4096" \
    --vdev "net_pcap1,tx_pcap=$tmp/private.pcap" \
    -- --config "$tmp/config.json" --stats-json "$tmp/final.json"
wait_up
in_ns "$py" "$here/synflood.py" run "$tmp" "$vb" "$sock" "$ctl" $max || fails=$((fails + 1))
stop_cnmux
[ $rc -eq 0 ] || fail "cnmux exit status $rc"
check_log flood
grep -E "received|tcp connections|back in the pool" "$tmp/flood.out" | sed 's/^/    /'
"$py" "$here/synflood.py" check "$tmp" || fails=$((fails + 1))
robust_end
