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
# The holders talk HA over the namespace's own loopback.
# Needs root (netns, veth); skipped (77) without, or when no namespace or veth
# pair can be made here. KEEP_TMP=1 keeps the captures and the logs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 2 ]; then
    echo "usage: $0 CNMUX CNMUXCTL" >&2
    exit 2
fi
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
[ -x "$py" ] || py=python3

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    echo "SKIP: needs root and iproute2"; exit 77
fi
if ! "$py" -c 'import scapy' 2>/dev/null; then
    echo "SKIP: needs scapy"; exit 77
fi

ns=cnmhat-$$
veth=cnmht$$x
prefix=cnmhat$$
tmp=$(mktemp -d /tmp/cnmhat.XXXXXX)
cleanup() {
    ip netns del "$ns" 2>/dev/null
    rm -rf /var/run/dpdk/"$prefix"* 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "ha_traffic: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

if ! ip netns add "$ns"; then echo "SKIP: cannot create a network namespace"; exit 77; fi
ip -n "$ns" link set lo up || { echo "FAIL: lo up in $ns"; exit 1; }
# no IPv6 autoconfiguration / MLD / router solicitations: the only frames on
# the wires are the injected ones
ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
for h in 1 2 3; do
    a=$veth${h}a
    b=$veth${h}b
    if ! ip -n "$ns" link add "$a" type veth peer name "$b"; then
        echo "SKIP: cannot create a veth pair"; exit 77
    fi
    for i in "$a" "$b"; do
        ip netns exec "$ns" sysctl -q -w "net.ipv6.conf.$i.disable_ipv6=1" >/dev/null 2>&1
        ip -n "$ns" link set "$i" arp off
        if command -v ethtool >/dev/null; then
            ip netns exec "$ns" ethtool -K "$i" tx off rx off >/dev/null 2>&1
        fi
        ip -n "$ns" link set "$i" up || { echo "FAIL: link up $i"; exit 1; }
    done
done

HA_PREFIX=$prefix ip netns exec "$ns" "$py" "$here/ha_traffic.py" "$cnmux" "$ctl" "$tmp" "$veth"
