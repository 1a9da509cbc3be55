#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The VIPs announced by BGP through cnmux's local port (issue 12, item 4;
# docs/bgp.md), with real BIRD 2 daemons:
#
#   bgp_test.sh CNMUX CNMUXCTL
#
# Namespaces: R (the upstream router: BIRD, BGP AS 65000, 10.99.0.1 on the
# veth to cnmux's public port) and LB (cnmux; its public port net_af_packet
# on that veth's peer, its private port net_af_packet on a veth whose peer
# is dangling, its local port a net_tap whose kernel side is the host's
# 10.99.0.2 and runs BIRD, AS 65001). The BGP session goes R <-> cnmux
# public port <-> local port <-> LB's kernel: cnmux carries it. cnmux writes
# announce.file4 and runs "birdc configure" on every change. Checked, on R's
# BIRD (birdc show route):
#   1. the session is established and R has the VIP 198.51.100.10/32 from
#      10.99.0.2, and not the VIP of the service without an up node;
#   2. cnmuxctl node down (the service's only node): R loses the route;
#   3. node up: R has it again;
#   4. SIGINT to cnmux: R loses the route (the withdrawal, then the session
#      itself goes with cnmux's local port).
# Needs root, iproute2 and bird/birdc (bird2): skipped (77) without.
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 CNMUX CNMUXCTL" >&2; exit 2; }
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
. "$(cd "$(dirname "$0")" && pwd)/../lib/testenv.sh"

[ "$(id -u)" = 0 ] && command -v ip >/dev/null || cnm_skip "e2e_bgp needs root and iproute2"
command -v bird >/dev/null && command -v birdc >/dev/null || cnm_skip "e2e_bgp needs bird2 (bird, birdc)"
command -v ethtool >/dev/null || cnm_skip "e2e_bgp needs ethtool"

tag=$(cnm_run_id)
ns_r=cnmbgp$tag-r; ns_lb=cnmbgp$tag-lb
v_pub=bg${tag}p; v_r=bg${tag}r; v_priv=bg${tag}v; v_dead=bg${tag}d; tap=bg${tag}t
prefix=cnmbgp-$tag
tmp=$(mktemp -d /tmp/cnmbgp.XXXXXX)
sock=$tmp/ctl.sock
pid=""
vip=198.51.100.10
vip_down=198.51.100.20
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid" 2>/dev/null; fi
    for n in "$ns_lb" "$ns_r"; do
        [ -f "$tmp/$n.pid" ] && kill "$(cat "$tmp/$n.pid")" 2>/dev/null
        ip netns pids "$n" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
        ip netns del "$n" 2>/dev/null
    done
    rm -rf "/var/run/dpdk/$prefix" 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "bgp: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
die() {
    echo "FAIL: $*"
    echo "--- R's routes:"; birdc -s "$tmp/r.ctl" show route 2>&1 | tail -5
    echo "--- R's session:"; birdc -s "$tmp/r.ctl" show protocols all lb 2>&1 | sed -n 1,12p
    echo "--- LB's session:"; birdc -s "$tmp/lb.ctl" show protocols all upstream 2>&1 | sed -n 2,6p
    echo "--- BIRD logs (tail):"; tail -n 5 "$tmp/r.log" "$tmp/lb.log" 2>/dev/null
    echo "--- vips4.conf:"; cat "$tmp/vips4.conf" 2>/dev/null
    [ -f "$tmp/cnmux.out" ] && { echo "--- cnmux (tail)"; tail -n 15 "$tmp/cnmux.out" "$tmp/cnmux.err"; }
    exit 1
}
cnmctl() { "$ctl" -s "$sock" "$@"; }
r_has() { # VIP: 0 when R's BIRD has a route for it
    birdc -s "$tmp/r.ctl" show route "$1/32" 2>/dev/null | grep -q "$1/32"
}
wait_r() { # VIP yes|no SECONDS
    local end=$((SECONDS + $3))
    while :; do
        if r_has "$1"; then [ "$2" = yes ] && return 0; else [ "$2" = no ] && return 0; fi
        [ $SECONDS -lt $end ] || return 1
        sleep 0.2
    done
}

# ---------------------------------------------------------------- network
ip netns add "$ns_r" || cnm_skip "e2e_bgp cannot create a network namespace"
ip netns add "$ns_lb" || die "netns add $ns_lb"
for n in "$ns_r" "$ns_lb"; do ip -n "$n" link set lo up; done
ip -n "$ns_lb" link add "$v_pub" type veth peer name "$v_r" || die "veth $v_pub"
ip -n "$ns_lb" link add "$v_priv" type veth peer name "$v_dead" || die "veth $v_priv"
ip -n "$ns_lb" link set "$v_r" netns "$ns_r" || die "move $v_r"
for i in "$v_pub" "$v_priv" "$v_dead"; do ip -n "$ns_lb" link set "$i" up || die "up $i"; done
ip -n "$ns_r" addr add 10.99.0.1/24 dev "$v_r" || die "addr R"
ip -n "$ns_r" link set "$v_r" up || die "up $v_r"
# the router's segments leave its veth with finished checksums: cnmux does
# not complete a checksum the sender's offload left open, and the host's
# kernel behind the local port drops what has none
ip netns exec "$ns_r" ethtool -K "$v_r" tx off >/dev/null 2>&1 || die "ethtool -K $v_r tx off"

# ---------------------------------------------------------------- cnmux
cat >"$tmp/config.json" <<EOF2
{ "version": 1,
  "ports": { "public": "net_af_packet0", "private": ["net_af_packet1"], "local": "net_tap0" },
  "nodes": [
    { "name": "n1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b" },
    { "name": "n2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c" } ],
  "services": [
    { "name": "web", "vip": "$vip", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "n1": 1 } },
    { "name": "idle", "vip": "$vip_down", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "n2": 0 } } ],
  "control": { "socket": "$sock" },
  "announce": { "file4": "$tmp/vips4.conf",
                "command": "birdc -s $tmp/lb.ctl configure" } }
EOF2
ip netns exec "$ns_lb" "$cnmux" --no-huge -m 256 --no-pci -l 0,1 --file-prefix "$prefix" \
    --log-level=lib.eal:error \
    --vdev "net_af_packet0,iface=$v_pub,qpairs=1" --vdev "net_af_packet1,iface=$v_priv,qpairs=1" \
    --vdev "net_tap0,iface=$tap" -- --config "$tmp/config.json" \
    >"$tmp/cnmux.out" 2>"$tmp/cnmux.err" &
pid=$!
for ((i = 0; i < 600; i++)); do cnmctl stats >/dev/null 2>&1 && break; sleep 0.1; done
cnmctl stats >/dev/null 2>&1 || die "the control socket did not answer"
# the host's side of the local port: its address on the public segment
ip -n "$ns_lb" addr add 10.99.0.2/24 dev "$tap" || die "addr on $tap"
ip -n "$ns_lb" link set "$tap" up || die "up $tap"
for ((i = 0; i < 100; i++)); do [ -s "$tmp/vips4.conf" ] && break; sleep 0.1; done
grep -q "route $vip/32" "$tmp/vips4.conf" || die "cnmux did not write $vip into vips4.conf"

# ---------------------------------------------------------------- BIRD
bgp_common='hold time 6; keepalive time 2; connect delay time 1; connect retry time 2; error wait time 1, 4;'
cat >"$tmp/r.conf" <<EOF2
log "$tmp/r.log" all;
router id 10.99.0.1;
protocol device {}
protocol bgp lb {
    local 10.99.0.1 as 65000;
    neighbor 10.99.0.2 as 65001;
    $bgp_common
    ipv4 { import all; export none; };
}
EOF2
cat >"$tmp/lb.conf" <<EOF2
log "$tmp/lb.log" all;
router id 10.99.0.2;
protocol device {}
protocol static cnmux_vips4 {
    ipv4;
include "$tmp/vips4.conf";
}
protocol bgp upstream {
    local 10.99.0.2 as 65001;
    neighbor 10.99.0.1 as 65000;
    $bgp_common
    ipv4 { import none; export where proto = "cnmux_vips4"; next hop self; };
}
EOF2
ip netns exec "$ns_r" bird -c "$tmp/r.conf" -s "$tmp/r.ctl" -P "$tmp/$ns_r.pid" || die "bird in R"
ip netns exec "$ns_lb" bird -c "$tmp/lb.conf" -s "$tmp/lb.ctl" -P "$tmp/$ns_lb.pid" || die "bird in LB"

# ---------------------------------------------------------------- 1. announced
t0=$SECONDS
wait_r "$vip" yes 60 || die "1. R has no route to $vip 60 s after BIRD started"
birdc -s "$tmp/r.ctl" show route "$vip/32" all | grep -q "BGP.next_hop: 10.99.0.2" ||
    die "1. R's route to $vip is not via 10.99.0.2"
r_has "$vip_down" && die "1. R has a route to $vip_down, whose only node takes no clients (weight 0)"
echo "bgp: 1. session up through cnmux's local port; R has $vip/32 via 10.99.0.2 after $((SECONDS - t0)) s, not $vip_down"

# ---------------------------------------------------------------- 2. withdrawn
t0=$SECONDS
cnmctl node down n1 >/dev/null || die "node down n1"
wait_r "$vip" no 20 || die "2. R still has $vip 20 s after its only node went down"
echo "bgp: 2. node down: R lost $vip/32 after $((SECONDS - t0)) s"

# ---------------------------------------------------------------- 3. again
t0=$SECONDS
cnmctl node up n1 >/dev/null || die "node up n1"
wait_r "$vip" yes 20 || die "3. R has no route to $vip 20 s after the node came back"
echo "bgp: 3. node up: R has $vip/32 again after $((SECONDS - t0)) s"

# ---------------------------------------------------------------- 4. shutdown
t0=$SECONDS
kill -INT "$pid"
wait "$pid"; rc=$?
pid=""
[ $rc -eq 0 ] || die "4. cnmux exited with status $rc"
wait_r "$vip" no 20 || die "4. R still has $vip 20 s after cnmux stopped"
echo "bgp: 4. cnmux stopped: R lost $vip/32 after $((SECONDS - t0)) s"
echo PASS
