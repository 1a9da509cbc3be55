#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Attacks on the checkpoint channel (issue 17, docs/ha.md "Security"):
#
#   attack_test.sh CNMUX CNMUXCTL
#
# Three real holders on 127.0.0.1, .2 and .3 sharing a key file; an attacker
# with and without the key (see attack_test.py). As root, everything runs in
# a network namespace of its own (named for this run), so its ports and
# addresses meet nothing else; without root, on the host's loopback (ports
# from the pid). Every name is unique per run: namespace, DPDK file prefix,
# work directory (sockets, key, configurations). KEEP_TMP=1 keeps the logs.
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
tmp=$(mktemp -d /tmp/cnmatk.XXXXXX)
tag=cnmatk$$$(basename "$tmp" | tr -dc 'a-zA-Z0-9' | tail -c 6)
ns=""
cleanup() {
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
    rm -rf /var/run/dpdk/"$tag"* "${XDG_RUNTIME_DIR:-/tmp}"/dpdk/"$tag"* 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "attack: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
run=()
if [ "$(id -u)" = 0 ] && ip netns add "$tag" 2>/dev/null; then
    ns=$tag
    ip netns exec "$ns" ip link set lo up
    run=(ip netns exec "$ns")
    echo "attack: in network namespace $ns"
fi
HA_PREFIX=$tag "${run[@]}" "$py" "$here/attack_test.py" "$cnmux" "$ctl" "$tmp"
