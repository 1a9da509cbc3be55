#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# A private link that goes down (issue 5, point 5): counted, traffic resumes
# when it comes back up; with two private ports, traffic moves to the other
# (the patent's redundant paths) and back.
#
#   linkdown_test.sh CNMUX CNMUXCTL
#
# cnmux runs in a network namespace: public port net_af_packet on a veth
# (linkdown.py writes frames on the other end), private ports net_tap
# (cnmp0, cnmp1, with fixed MACs). cnmux's path manager polls the private
# links every 100 ms and prints "private port N link down|up"; the test takes
# a tap down or up with `ip link set`, waits for that line, then injects 800
# UDP frames for the service web (nodes node1..node4; nodes are spread over
# the private ports by id: node1, node3 on port 0, node2, node4 on port 1;
# "paths": {"spread": false} keeps each node on its own port, the mode this
# test is about: spreading is tests/runtime/paths_test.sh's).
# A capture thread reads the kernel side of the taps (raw AF_PACKET).
#
#  run "one", one private tap:
#    up: every frame forwarded, captured on cnmp0;
#    cnmp0 down: every frame dropped, drops.link_down counts each, nothing
#    captured, `node show` gives no port; up again: forwarded, captured.
#  run "two", two private taps:
#    both up: each node's frames on its own tap, from that tap's MAC;
#    cnmp1 down: node2 and node4 move to cnmp0 (every frame still forwarded,
#    each node still gets its share: the PDT did not change); cnmp1 up: back
#    on cnmp1; cnmp0 down: all on cnmp1; both down: link_down; both up: as
#    at the start.
# Each run: SIGINT, exit status 0, link_down as expected in --stats-json,
# rx == forwarded + local + dropped, every mbuf back.
# Needs root (netns, veth, tun): skipped (77) without.
set -uo pipefail
name="link"
. "$(cd "$(dirname "$0")" && pwd)/common.sh"
robust_setup "$@"
[ -c /dev/net/tun ] || cnm_skip "robust_link needs /dev/net/tun (net_tap)"

config() { # file private-ports-json
    cat >"$1" <<EOF2
{
  "version": 1,
  "ports": { "public": "net_af_packet0", "private": $2 },
  "nodes": [
    { "name": "node1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b" },
    { "name": "node2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c" },
    { "name": "node3", "ip": "192.0.2.13", "mac": "02:00:c0:00:02:0d" },
    { "name": "node4", "ip": "192.0.2.14", "mac": "02:00:c0:00:02:0e" }
  ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["53/udp"], "policy": "weighted",
      "nodes": { "node1": 1, "node2": 1, "node3": 1, "node4": 1 } }
  ],
  "control": { "socket": "$sock" },
  "paths": { "spread": false }
}
EOF2
}
pub="net_af_packet0,iface=$va,qpairs=1,framecnt=2048"
tap0="net_tap0,iface=cnmp0,mac=02:00:00:00:aa:00"
tap1="net_tap1,iface=cnmp1,mac=02:00:00:00:aa:01"

# ---- one private tap ----------------------------------------------------------------
config "$tmp/one.conf" '["net_tap0"]'
start_cnmux one --vdev "$pub" --vdev "$tap0" -- --config "$tmp/one.conf" --stats-json "$tmp/one.json"
wait_up
in_ns "$py" "$here/linkdown.py" one "$tmp" "$vb" "$sock" one || fails=$((fails + 1))
stop_cnmux
[ $rc -eq 0 ] || fail "one: exit status $rc"
check_log one
grep -E "received|link (up|down)|drops|back in the pool" "$tmp/one.out" | sed 's/^/    /'
"$py" "$here/linkdown.py" final "$tmp" one 800 || fails=$((fails + 1))

# ---- two private taps ---------------------------------------------------------------
config "$tmp/two.conf" '["net_tap0", "net_tap1"]'
start_cnmux two --vdev "$pub" --vdev "$tap0" --vdev "$tap1" -- --config "$tmp/two.conf" \
    --stats-json "$tmp/two.json"
wait_up
in_ns "$py" "$here/linkdown.py" two "$tmp" "$vb" "$sock" two || fails=$((fails + 1))
stop_cnmux
[ $rc -eq 0 ] || fail "two: exit status $rc"
check_log two
grep -E "received|link (up|down)|drops|back in the pool" "$tmp/two.out" | sed 's/^/    /'
"$py" "$here/linkdown.py" final "$tmp" two 800 || fails=$((fails + 1))

robust_end
