#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A TX queue that is not drained (issue 5, point 5): unsent mbufs are freed
# and counted (tx_full), no retry loop, no per-packet log line.
#
#   txfull_test.sh CNMUX CNMUXCTL
#
# The private port is `net_ring0` with no other argument: its TX queue is a
# ring of 1023 places that only its own RX queue reads, and cnmux reads a
# private RX queue only while a node needs ARP resolution or health checks
# run. Every node has a MAC and there is no "health": nobody ever drains it.
# 9 frames in 10 go to the service web (UDP), 1 in 10 to an address with no
# service (no_service: there is neither local port nor default node).
#
#  1. baseline: 20000 frames replayed from a pcap to a private net_pcap (TX
#     takes everything): cycles per packet for comparison.
#  2. replay: the same 20000 frames with the private net_ring0 and a pool of
#     4096 mbufs: the run ends on its own (--idle-exit 500: the worker kept
#     polling) within a generous bound; forwarded == 1023 (the ring),
#     tx_full == frames to the service - 1023 (16977, four times the pool:
#     had an unsent mbuf not been freed, RX would have run dry; rx_nombuf
#     is 0), no_service == 2000, rx == forwarded + local + dropped, the
#     nodes count only what TX took, the service every frame that matched;
#     busy cycles per packet printed (not asserted: wall time; a retry
#     loop would never end, and the counts would not be exact);
#     a few lines of log (default log level).
#  3. live: the same mix written on a veth (net_af_packet public port) in
#     batches of 500; each batch is received before the next is written, and
#     after each one forwarded, tx_full and no_service are exactly as
#     expected; SIGINT: exit 0, every mbuf back in the pool (the ring's 1023
#     are drained at exit).
# Needs root (netns, veth): skipped (77) without.
set -uo pipefail
name="txf"
. "$(cd "$(dirname "$0")" && pwd)/common.sh"
robust_setup "$@"
N=20000

config() { # file public private
    cat >"$1" <<EOF2
{
  "version": 1,
  "ports": { "public": "$2", "private": ["$3"] },
  "nodes": [
    { "name": "node1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b" },
    { "name": "node2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c" },
    { "name": "node3", "ip": "192.0.2.13", "mac": "02:00:c0:00:02:0d" }
  ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/udp"], "policy": "weighted",
      "nodes": { "node1": 1, "node2": 1, "node3": 1 } }
  ],
  "control": { "socket": "$sock" }
}
EOF2
}
run_log() { # run: the log lines of a run
    echo "--- $1: $(grep -c '' "$tmp/$1.out") stdout lines, $(grep -c '' "$tmp/$1.err") stderr lines"
    grep -E "received|want of mbufs|back in the pool|drops|cycles" "$tmp/$1.out" | sed 's/^/    /'
}
"$py" "$here/txfull.py" gen "$tmp/in.pcap" $N || die "gen"

# ---- 1. baseline: TX takes everything ----------------------------------------------
config "$tmp/base.conf" net_pcap0 net_pcap1
start_cnmux base --vdev "net_pcap0,rx_pcap=$tmp/in.pcap" --vdev "net_pcap1,tx_pcap=$tmp/base_priv.pcap" \
    -- --config "$tmp/base.conf" --mbufs 4096 --idle-exit 500 --stats-json "$tmp/base.json"
wait_exit 300
[ $rc -eq 0 ] || fail "baseline: exit status $rc"
run_log base

# ---- 2. replay into a ring nobody reads ---------------------------------------------
config "$tmp/ring.conf" net_pcap0 net_ring0
t0=$(date +%s.%N)
start_cnmux replay --vdev "net_pcap0,rx_pcap=$tmp/in.pcap" --vdev net_ring0 \
    -- --config "$tmp/ring.conf" --mbufs 4096 --idle-exit 500 --stats-json "$tmp/replay.json"
wait_exit 300
t1=$(date +%s.%N)
[ $rc -eq 0 ] || fail "replay: exit status $rc"
echo "ok   replay of $N frames into a full TX queue ended on its own in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s (bound 300 s)"
run_log replay
"$py" "$here/txfull.py" final "$tmp" replay $N base || fails=$((fails + 1))

# ---- 3. live ----------------------------------------------------------------------
config "$tmp/live.conf" net_af_packet0 net_ring0
start_cnmux live --vdev "net_af_packet0,iface=$va,qpairs=1,framecnt=2048" --vdev net_ring0 \
    -- --config "$tmp/live.conf" --mbufs 4096 --stats-json "$tmp/live.json"
wait_up
in_ns "$py" "$here/txfull.py" live "$tmp" "$vb" "$sock" "$pid" $N || fails=$((fails + 1))
stop_cnmux
[ $rc -eq 0 ] || fail "live: exit status $rc"
run_log live
"$py" "$here/txfull.py" final "$tmp" live $N base || fails=$((fails + 1))

robust_end
