#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A tiny mbuf pool (issue 5, point 5): RX fails, counted, no crash, no
# per-packet log line; the process stays responsive; RX recovers when the
# mbufs return; at the end every mbuf is back in the pool.
#
#   tinypool_test.sh CNMUX CNMUXCTL
#
# The private port is `net_ring0` with no other argument: its TX queue is the
# ring its own RX queue reads, and cnmux reads a private RX queue only while
# a node needs ARP resolution or health checks run. With every node's MAC
# configured and no "health", nobody reads it: each forwarded frame keeps its
# mbuf in the ring (1023 at most), as a NIC whose TX completions are late.
#
#  0. the smallest pool: --mbufs 63 is refused (exit 1, nothing forwarded);
#     --mbufs 64 starts (these ports need no mbuf at set-up). A pcap of 2000
#     frames through it: 64 forwarded into the ring, every other frame counted
#     in rx_nombuf (rx + rx_nombuf = 2000), exit 0, 64 of 64 back.
#  A. pool 1030, just above the ring's 1023 (public port: net_pcap on a live
#     veth, which counts a frame it has no mbuf for in rx_nombuf): the ring
#     fills (1023 forwarded), then bursts of 20000 frames: rx_nombuf and
#     tx_full both count, rx = forwarded + local + dropped, cnmuxctl and
#     telemetry answer while the pool is dry.
#  B. pool 512, below the ring: the ring takes them all and RX fails (rx
#     stops, rx_nombuf grows); `cnmuxctl node add spare 192.0.2.99` (no MAC)
#     makes the control lcore read the private RX queue for ARP replies, which
#     drains the ring: the mbufs come back and every later frame is received
#     and forwarded with no more rx_nombuf.
# After each run: exit status 0, "mbufs: N of N back in the pool",
# rx_nombuf in --stats-json and the final report, written = rx + rx_nombuf
# + rx_missed, a few lines of log whatever the frame count (default log
# level, so that a per-packet message would show).
# Needs root (netns, veth): skipped (77) without.
set -uo pipefail
name="pool"
. "$(cd "$(dirname "$0")" && pwd)/common.sh"
robust_setup "$@"

config() { # file
    cat >"$1" <<EOF2
{
  "version": 1,
  "ports": { "public": "net_pcap0", "private": ["net_ring0"] },
  "nodes": [
    { "name": "node1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b" },
    { "name": "node2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c" }
  ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/udp"], "policy": "weighted",
      "nodes": { "node1": 1, "node2": 1 } }
  ],
  "control": { "socket": "$sock" }
}
EOF2
}
config "$tmp/config.json"
run_log() { # run: the log lines of a run
    echo "--- $1: $(grep -c '' "$tmp/$1.out") stdout lines, $(grep -c '' "$tmp/$1.err") stderr lines"
    grep -E "received|want of mbufs|back in the pool|drops" "$tmp/$1.out" | sed 's/^/    /'
}

# ---- 0. the smallest pool ------------------------------------------------------
"$py" "$here/tinypool.py" gen "$tmp/in2000.pcap" 2000 || die "gen"
in_ns "$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix-p63" \
    --vdev "net_pcap0,rx_pcap=$tmp/in2000.pcap" --vdev net_ring0 \
    -- --config "$tmp/config.json" --mbufs 63 >"$tmp/p63.out" 2>"$tmp/p63.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "mbufs" "$tmp/p63.err" && ! grep -q received "$tmp/p63.out"; then
    echo "ok   --mbufs 63 refused: $(grep cnmux "$tmp/p63.err" | head -1); the smallest pool that starts with these ports is 64 (cnmux's floor: net_pcap and net_ring take no mbuf at set-up)"
else
    fail "--mbufs 63: exit status $rc, expected 1 and a message"
fi
start_cnmux p64 --vdev "net_pcap0,rx_pcap=$tmp/in2000.pcap" --vdev net_ring0 \
    -- --config "$tmp/config.json" --mbufs 64 --idle-exit 500 --stats-json "$tmp/p64.json"
wait_exit 120
[ $rc -eq 0 ] || fail "--mbufs 64: exit status $rc"
echo 2000 >"$tmp/p64.injected"
run_log p64
"$py" "$here/tinypool.py" final "$tmp" p64 || fails=$((fails + 1))

# ---- A. a pool just above the ring: both rx_nombuf and tx_full ---------------------
start_cnmux steady --vdev "net_pcap0,iface=$va" --vdev net_ring0 \
    -- --config "$tmp/config.json" --mbufs 1030 --stats-json "$tmp/steady.json"
wait_up
in_ns "$py" "$here/tinypool.py" steady "$tmp" "$vb" "$sock" "$prefix-steady" 1030 ||
    fails=$((fails + 1))
stop_cnmux
[ $rc -eq 0 ] || fail "steady: exit status $rc"
run_log steady
"$py" "$here/tinypool.py" final "$tmp" steady || fails=$((fails + 1))

# ---- B. a pool below the ring: dry, then the mbufs come back -----------------------
start_cnmux transient --vdev "net_pcap0,iface=$va" --vdev net_ring0 \
    -- --config "$tmp/config.json" --mbufs 512 --stats-json "$tmp/transient.json"
wait_up
in_ns "$py" "$here/tinypool.py" transient "$tmp" "$vb" "$sock" "$prefix-transient" 512 ||
    fails=$((fails + 1))
stop_cnmux
[ $rc -eq 0 ] || fail "transient: exit status $rc"
run_log transient
"$py" "$here/tinypool.py" final "$tmp" transient || fails=$((fails + 1))

robust_end
