#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# High availability with packets (issue 6): three cnmux holders whose public
# ports are net_af_packet on veth pairs in a network namespace of their own,
# each with its own injector, each private port a net_pcap capture:
#
#   ha_traffic_test.sh CNMUX CNMUXCTL
#
# See ha_traffic.py: displaced TCP connections keep their node when the
# interface node they used is killed and another takes their packets (once
# with the primary as that node, once with a slave), and the same frames
# replayed through a slave before and after a failover reach the same nodes.
#
# Each holder runs in a network namespace of its own (NS-lb1 .. NS-lb3) with
# its end of its veth pair (VETHNa); the other ends (VETHNb, the injectors)
# and a bridge joining the holders' HA links (ha0, 10.77.0.N/24) are in the
# test's namespace NS. Why a namespace per holder: DPDK 22.11's net_af_packet
# joins every socket to the fanout group (getpid() ^ ifindex) & 0xffff, with
# no devarg to change it; two holders in one namespace whose pid ^ ifindex
# agree (1 in 65536 per pair and start) get EINVAL from PACKET_FANOUT and
# fail to start. The kernel keys fanout groups by network namespace, and here
# each namespace holds one af_packet socket: no group can be shared.
# Needs root (netns, veth); skipped (77) without (a failure under CI=true),
# or when no namespace or veth pair can be made here. KEEP_TMP=1 keeps the
# captures and the logs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/testenv.sh
. "$here/../lib/testenv.sh"
if [ $# -ne 2 ]; then
    echo "usage: $0 CNMUX CNMUXCTL" >&2
    exit 2
fi
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
[ -x "$py" ] || py=python3

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    cnm_skip "ha_traffic needs root and iproute2"
fi
if ! "$py" -c 'import scapy' 2>/dev/null; then
    cnm_skip "ha_traffic needs scapy (python3-scapy)"
fi

rid=$(cnm_run_id)
ns=cnmhat-$rid
veth=hv                 # hv1a .. hv3b: inside the namespaces, no clash
prefix=cnmhat$rid
tmp=$(mktemp -d /tmp/cnmhat.XXXXXX)
cleanup() {
    local h
    for h in 1 2 3; do ip netns del "$ns-lb$h" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
    rm -rf /var/run/dpdk/"$prefix"* 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "ha_traffic: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

quiet_links() { # NS IFACE...: no IPv6, no ARP, no offloads, up
    local n=$1 i; shift
    for i; do
        ip netns exec "$n" sysctl -q -w "net.ipv6.conf.$i.disable_ipv6=1" >/dev/null 2>&1
        ip -n "$n" link set "$i" arp off
        if command -v ethtool >/dev/null; then
            ip netns exec "$n" ethtool -K "$i" tx off rx off >/dev/null 2>&1
        fi
        ip -n "$n" link set "$i" up || { echo "FAIL: link up $i in $n"; exit 1; }
    done
}
new_ns() {
    ip netns add "$1" || cnm_skip "ha_traffic cannot create a network namespace ($1)"
    ip -n "$1" link set lo up || { echo "FAIL: lo up in $1"; exit 1; }
    # no IPv6 autoconfiguration / MLD / router solicitations: the only
    # frames on the wires are the injected ones
    ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
}

new_ns "$ns"
ip -n "$ns" link add br0 type bridge || cnm_skip "ha_traffic cannot create a bridge"
ip -n "$ns" link set br0 up
for h in 1 2 3; do
    new_ns "$ns-lb$h"
    # the public port's wire: VETHNa in the holder's namespace, VETHNb here
    ip -n "$ns" link add "$veth${h}b" type veth peer name "$veth${h}a" netns "$ns-lb$h" ||
        cnm_skip "ha_traffic cannot create a veth pair"
    quiet_links "$ns" "$veth${h}b"
    quiet_links "$ns-lb$h" "$veth${h}a"
    # the HA link: ha0 in the holder's namespace, its peer on the bridge
    ip -n "$ns" link add "ha$h" type veth peer name ha0 netns "$ns-lb$h" ||
        { echo "FAIL: HA link of lb$h"; exit 1; }
    ip -n "$ns" link set "ha$h" master br0 up
    ip -n "$ns-lb$h" addr add "10.77.0.$h/24" dev ha0
    ip -n "$ns-lb$h" link set ha0 up
done

HA_PREFIX=$prefix HA_NETNS=$ns HA_NET=10.77.0 \
    ip netns exec "$ns" "$py" "$here/ha_traffic.py" "$cnmux" "$ctl" "$tmp" "$veth"
