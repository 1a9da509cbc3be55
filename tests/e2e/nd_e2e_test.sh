#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# An IPv6-only service end to end (issue 13, "How it is checked"):
#
#   nd_e2e_test.sh CNMUX CNMUXCTL
#
# Namespaces: LB (cnmux; its kernel has IPv6 off), N1 and N2 (IPv6 nodes,
# no "mac" in the config, the VIP on lo, an HTTP server on [::]:80 saying
# the node's name) and C (the client, which is also the upstream router: a
# kernel with an on-link route to the VIP out of its public leg, and a leg on
# the private segment through which the nodes' replies come back, direct
# server return). A bridge in LB joins cnmux's private port (net_af_packet),
# the nodes and C's private leg; cnmux's public port is net_af_packet on a
# veth whose peer is C's public leg. Offloads are off on C's public leg (an
# af_packet port forwards frames as the kernel queued them).
#
# Checked: cnmux resolves both nodes by neighbour solicitation and brings them
# up; C's kernel resolves the VIP by ND (its cache: the VIP at cnmux's public
# MAC); 40 HTTP GETs from C to http://[VIP]/ over real TCP all succeed, both
# nodes answer, and cnmux's per-node counters moved for both; SIGINT ends
# cnmux with status 0. Needs root, iproute2, curl; skipped (77) without.
# KEEP_TMP=1 keeps the work directory.
set -uo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 CNMUX CNMUXCTL" >&2
    exit 2
fi
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
# shellcheck source=../lib/testenv.sh
. "$(cd "$(dirname "$0")" && pwd)/../lib/testenv.sh"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v curl >/dev/null; then
    cnm_skip "e2e_nd needs root, iproute2 and curl"
fi

vip=2001:db8:100::10
tag=$(cnm_run_id)
ns_lb=cnmne$tag-lb; ns_n1=cnmne$tag-n1; ns_n2=cnmne$tag-n2; ns_c=cnmne$tag-c
v_p=ne${tag}p; v_pb=ne${tag}pb      # cnmux's private port / its bridge side
v_1=ne${tag}n1; v_1b=ne${tag}b1
v_2=ne${tag}n2; v_2b=ne${tag}b2
v_u=ne${tag}u; v_c=ne${tag}c        # cnmux's public port / the client's public leg
v_cp=ne${tag}cp; v_cpb=ne${tag}cb   # the client's private leg / its bridge side
prefix=cnmnde2e-$tag
tmp=$(mktemp -d /tmp/cnmnde2e.XXXXXX)
sock=$tmp/ctl.sock
pid=""
hpids=()

cleanup() {
    local p
    for p in "${hpids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    for n in "$ns_lb" "$ns_n1" "$ns_n2" "$ns_c"; do ip netns del "$n" 2>/dev/null; done
    rm -rf "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix" 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "e2e_nd: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

die() {
    echo "FAIL: $*"
    if [ -f "$tmp/cnmux.err" ]; then
        echo "--- cnmux stdout (tail)"; tail -n 20 "$tmp/cnmux.out"
        echo "--- cnmux stderr (tail)"; tail -n 30 "$tmp/cnmux.err"
    fi
    exit 1
}
cnmctl() { "$ctl" -s "$sock" "$@"; }
node_pkts() {
    cnmctl -j stats | "$py" -c 'import json, sys; print(json.load(sys.stdin)["nodes"][sys.argv[1]]["packets"])' "$1"
}

# ---------------------------------------------------------------- network
ip netns add "$ns_lb" || cnm_skip "e2e_nd cannot create a network namespace"
for n in "$ns_n1" "$ns_n2" "$ns_c"; do ip netns add "$n" || die "netns add $n"; done
ip netns exec "$ns_lb" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
for n in "$ns_n1" "$ns_n2" "$ns_c"; do
    ip netns exec "$n" sysctl -q -w net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 \
        >/dev/null || die "sysctl in $n"
done
for n in "$ns_lb" "$ns_n1" "$ns_n2" "$ns_c"; do ip -n "$n" link set lo up; done
ip -n "$ns_lb" link add br0 type bridge || cnm_skip "e2e_nd cannot create a bridge"
ip -n "$ns_lb" link set br0 type bridge stp_state 0 forward_delay 0 2>/dev/null
ip -n "$ns_lb" link add "$v_p" type veth peer name "$v_pb" || cnm_skip "e2e_nd cannot create a veth pair"
ip -n "$ns_lb" link add "$v_1" type veth peer name "$v_1b" || die "veth $v_1"
ip -n "$ns_lb" link add "$v_2" type veth peer name "$v_2b" || die "veth $v_2"
ip -n "$ns_lb" link add "$v_cp" type veth peer name "$v_cpb" || die "veth $v_cp"
ip -n "$ns_lb" link add "$v_u" type veth peer name "$v_c" || die "veth $v_u"
ip -n "$ns_lb" link set "$v_1" netns "$ns_n1" || die "move $v_1"
ip -n "$ns_lb" link set "$v_2" netns "$ns_n2" || die "move $v_2"
ip -n "$ns_lb" link set "$v_cp" netns "$ns_c" || die "move $v_cp"
ip -n "$ns_lb" link set "$v_c" netns "$ns_c" || die "move $v_c"
for i in "$v_pb" "$v_1b" "$v_2b" "$v_cpb"; do
    ip -n "$ns_lb" link set "$i" master br0 || die "enslave $i"
    ip -n "$ns_lb" link set "$i" up || die "up $i"
done
for i in "$v_p" "$v_u" br0; do ip -n "$ns_lb" link set "$i" up || die "up $i"; done
# the client's kernel hands frames to cnmux's af_packet port with complete
# checksums and no segmentation offload
ip netns exec "$ns_c" ethtool -K "$v_c" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
    ip netns exec "$ns_c" ethtool -K "$v_c" tx off >/dev/null 2>&1 ||
    die "cannot turn checksum offload off on $v_c (ethtool)"
ip -n "$ns_c" addr add 2001:db8:2::1/64 dev "$v_c" nodad || die "addr client"
ip -n "$ns_c" addr add 2001:db8:1::1/64 dev "$v_cp" nodad || die "addr client private leg"
ip -n "$ns_c" link set "$v_c" up || die "up $v_c"
ip -n "$ns_c" link set "$v_cp" up || die "up $v_cp"
# the VIP is on the client's public link: resolved by ND, through cnmux
ip -n "$ns_c" -6 route add "$vip/128" dev "$v_c" || die "route to the VIP"
for n in 1 2; do
    if [ $n = 1 ]; then ns=$ns_n1; v=$v_1; else ns=$ns_n2; v=$v_2; fi
    ip -n "$ns" addr add "2001:db8:1::1$n/64" dev "$v" nodad || die "addr node$n"
    ip -n "$ns" addr add "$vip/128" dev lo || die "VIP on node$n's lo"
    ip -n "$ns" link set "$v" up || die "up $v"
    # replies go straight back to the client (direct server return)
    ip -n "$ns" -6 route add 2001:db8:2::/64 via 2001:db8:1::1 || die "route on node$n"
    mkdir -p "$tmp/www$n" && echo "node$n" >"$tmp/www$n/name"
    ip netns exec "$ns" "$py" -m http.server --bind :: --directory "$tmp/www$n" 80 \
        >"$tmp/http$n.log" 2>&1 &
    hpids+=($!)
done
mac_u=$(ip netns exec "$ns_lb" cat "/sys/class/net/$v_u/address")

# ---------------------------------------------------------------- cnmux
cat >"$tmp/config.json" <<EOF
{ "ports": { "public": "net_af_packet0", "private": ["net_af_packet1"] },
  "nodes": [
    { "name": "node1", "ip": "2001:db8:1::11" },
    { "name": "node2", "ip": "2001:db8:1::12" } ],
  "services": [
    { "name": "web6", "vip": "$vip", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "node1": 1, "node2": 1 } } ],
  "control": { "socket": "$sock" } }
EOF
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
ip netns exec "$ns_lb" "$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" \
    --log-level=lib.eal:error \
    --vdev "net_af_packet0,iface=$v_u,qpairs=1" \
    --vdev "net_af_packet1,iface=$v_p,qpairs=1" \
    -- --config "$tmp/config.json" >"$tmp/cnmux.out" 2>"$tmp/cnmux.err" &
pid=$!
end=$((SECONDS + 120))
until cnmctl stats >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; die "cnmux exited early (status $?)"; }
    [ $SECONDS -lt $end ] || die "the control socket did not answer within 120 s"
    sleep 0.1
done
end=$((SECONDS + 20))
until cnmctl -j node show node1 | grep -q '"up":true' && cnmctl -j node show node2 | grep -q '"up":true'; do
    [ $SECONDS -lt $end ] || die "the nodes are not up 20 s after start: $(cnmctl node show)"
    sleep 0.1
done
echo "e2e_nd: both IPv6 nodes resolved by ND and up"

# ---------------------------------------------------------------- HTTP over TCP
for n in 1 2; do
    ns=$ns_n1; [ $n = 2 ] && ns=$ns_n2
    end=$((SECONDS + 20))
    until ip netns exec "$ns" curl -s -o /dev/null "http://[2001:db8:1::1$n]/name"; do
        [ $SECONDS -lt $end ] || die "node$n's HTTP server does not answer"
        sleep 0.2
    done
done
declare -A got=()
for i in $(seq 1 40); do
    body=$(ip netns exec "$ns_c" curl -s --max-time 5 "http://[$vip]/name") ||
        die "GET $i of http://[$vip]/name failed (curl status $?)"
    case "$body" in node1|node2) got[$body]=$(( ${got[$body]:-0} + 1 )) ;;
        *) die "GET $i answered '$body'" ;; esac
done
[ "${got[node1]:-0}" -gt 0 ] && [ "${got[node2]:-0}" -gt 0 ] ||
    die "one node answered every GET (node1 ${got[node1]:-0}, node2 ${got[node2]:-0})"
ip -n "$ns_c" -6 neigh show "$vip" | grep -qi "lladdr $mac_u" ||
    die "the client's cache for the VIP: '$(ip -n "$ns_c" -6 neigh show "$vip")', expected $mac_u"
p1=$(node_pkts node1); p2=$(node_pkts node2)
[ "$p1" -gt 0 ] && [ "$p2" -gt 0 ] || die "cnmux's node counters: node1 $p1, node2 $p2"
echo "e2e_nd: 40 GETs to http://[$vip]/ over TCP: node1 ${got[node1]}, node2 ${got[node2]};" \
     "the router resolved the VIP by ND at $mac_u (nd_replies $(cnmctl -j stats |
     "$py" -c 'import json, sys; print(json.load(sys.stdin)["nd_replies"])'));" \
     "frames to node1 $p1, node2 $p2"

# ---------------------------------------------------------------- stop
kill -INT "$pid"
end=$((SECONDS + 120))
while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $end ] || die "cnmux did not stop within 120 s of SIGINT"
    sleep 0.2
done
wait "$pid"; rc=$?
pid=""
[ $rc -eq 0 ] || die "cnmux exited with status $rc"
if grep -E -q 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$tmp/cnmux.err"; then
    die "sanitizer report on stderr"
fi
echo "PASS"
