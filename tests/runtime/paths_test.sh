#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Redundant private paths spread per flow, with the path manager (issue 13,
# item 3):
#
#   paths_test.sh CNMUX CNMUXCTL
#
# Network namespaces: LB (where cnmux runs) and three nodes. In LB a Linux
# bridge joins three veth pairs (cnmux opens the LB end of each with
# net_af_packet: its private ports, one per path; the other end is a bridge
# port) and one veth per node. cnmux's public port is net_af_packet on one
# more veth pair, written into by paths.py from the other end. The nodes
# answer ARP with their kernels; they have "mac" in the config.
#
# cnmux runs twice, with two and with three private ports ("paths":
# interval 200 ms, rounds 3, rise 2), and paths.py checks each (spread, fail,
# back: see paths.py). Needs root (netns, veth, bridge): skipped (exit 77)
# without. KEEP_TMP=1 keeps the work directory.
set -uo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 CNMUX CNMUXCTL" >&2
    exit 2
fi
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
# shellcheck source=../lib/testenv.sh
. "$here/../lib/testenv.sh"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    cnm_skip "runtime_paths needs root and iproute2"
fi

tag=$(cnm_run_id)
ns_lb=cnmpa$tag-lb
prefix=cnmpaths-$tag
tmp=$(mktemp -d /tmp/cnmpaths.XXXXXX)
sock=$tmp/ctl.sock
pid=""
nodes=3

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    ip netns del "$ns_lb" 2>/dev/null
    for n in $(seq 1 $nodes); do ip netns del "cnmpa$tag-n$n" 2>/dev/null; done
    rm -rf "/var/run/dpdk/$prefix"* "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix"* 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "paths: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

die() {
    echo "FAIL: $*"
    if [ -f "$tmp/cnmux.out" ]; then
        echo "--- cnmux stdout (tail)"; tail -n 30 "$tmp/cnmux.out"
        echo "--- cnmux stderr (tail)"; tail -n 30 "$tmp/cnmux.err"
    fi
    exit 1
}
inlb() { ip netns exec "$ns_lb" "$@"; }

# ---------------------------------------------------------------- network
ip netns add "$ns_lb" || cnm_skip "runtime_paths cannot create a network namespace"
no_v6() {
    ip netns exec "$1" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
    ip -n "$1" link set lo up
}
no_v6 "$ns_lb"
ip -n "$ns_lb" link add br0 type bridge || cnm_skip "runtime_paths cannot create a bridge"
ip -n "$ns_lb" link set br0 type bridge stp_state 0 forward_delay 0 2>/dev/null
ip -n "$ns_lb" link set br0 up || die "up br0"
# the public port: cnmux opens pp$tag, paths.py writes into pk$tag
ip -n "$ns_lb" link add "pp$tag" type veth peer name "pk$tag" || cnm_skip "runtime_paths cannot create a veth pair"
ip -n "$ns_lb" link set "pp$tag" up && ip -n "$ns_lb" link set "pk$tag" up || die "up public veths"
# the paths: cnmux opens cp$tag$i, cb$tag$i is its bridge port
bside=""
for i in 0 1 2; do
    ip -n "$ns_lb" link add "cp$tag$i" type veth peer name "cb$tag$i" || die "veth path $i"
    ip -n "$ns_lb" link set "cb$tag$i" master br0 || die "enslave cb$tag$i"
    ip -n "$ns_lb" link set "cb$tag$i" up && ip -n "$ns_lb" link set "cp$tag$i" up || die "up path $i"
    bside="$bside${bside:+,}cb$tag$i"
done
node_json=""; macs=""
for n in $(seq 1 $nodes); do
    ns=cnmpa$tag-n$n
    ip netns add "$ns" || die "netns add $ns"
    no_v6 "$ns"
    ip -n "$ns_lb" link add "nv$tag$n" type veth peer name "nb$tag$n" || die "veth node$n"
    ip -n "$ns_lb" link set "nv$tag$n" netns "$ns" || die "move node$n"
    ip -n "$ns_lb" link set "nb$tag$n" master br0 && ip -n "$ns_lb" link set "nb$tag$n" up ||
        die "bridge node$n"
    ip -n "$ns" addr add "192.0.2.1$n/24" dev "nv$tag$n" && ip -n "$ns" link set "nv$tag$n" up ||
        die "addr node$n"
    mac=$(ip netns exec "$ns" cat "/sys/class/net/nv$tag$n/address")
    node_json="$node_json${node_json:+,}
    { \"name\": \"node$n\", \"ip\": \"192.0.2.1$n\", \"mac\": \"$mac\" }"
    macs="$macs${macs:+,}$mac"
done
pub_mac=$(inlb cat "/sys/class/net/pp$tag/address")

# ---------------------------------------------------------------- runs
run() { # K: cnmux with K private ports, then paths.py
    local k=$1 priv="" vdevs=() i rc t_run=$SECONDS
    for ((i = 0; i < k; i++)); do
        priv="$priv${priv:+, }\"net_af_packet$((i + 1))\""
        vdevs+=(--vdev "net_af_packet$((i + 1)),iface=cp$tag$i,qpairs=1")
    done
    cat >"$tmp/config$k.json" <<EOC
{ "ports": { "public": "net_af_packet0", "private": [$priv] },
  "nodes": [$node_json ],
  "services": [
    { "name": "udp", "vip": "198.51.100.10", "ports": ["80/udp"], "policy": "weighted",
      "nodes": { "node1": 1, "node2": 1, "node3": 1 } } ],
  "pdt_size": 1024,
  "paths": { "interval_ms": 200, "rounds": 3, "rise": 2 },
  "control": { "socket": "$sock" } }
EOC
    rm -f "$sock"
    # not through inlb(): $! must be cnmux itself (ip netns exec execs it)
    ip netns exec "$ns_lb" "$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix-$k" \
        --log-level=lib.eal:error \
        --vdev "net_af_packet0,iface=pp$tag,qpairs=1" "${vdevs[@]}" \
        -- --config "$tmp/config$k.json" >"$tmp/cnmux.out" 2>"$tmp/cnmux.err" &
    pid=$!
    local end=$((SECONDS + 120))
    until "$ctl" -s "$sock" stats >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { wait "$pid"; die "cnmux ($k paths) exited early (status $?)"; }
        [ $SECONDS -lt $end ] || die "the control socket did not answer within 120 s"
        sleep 0.1
    done
    echo "--- $k private paths (cnmux up after $((SECONDS - t_run)) s)"
    inlb "$py" "$here/paths.py" "$k" "pk$tag" "$sock" "$pub_mac" "$bside" "$macs"
    rc=$?
    "$ctl" -s "$sock" path show || die "cnmuxctl path show"
    grep -q "audit: path: private path $((k - 1)) down: no probed node answered" "$tmp/cnmux.out" ||
        die "no audit line for path $((k - 1)) going down"
    grep -q "audit: path: private path $((k - 1)) up" "$tmp/cnmux.out" ||
        die "no audit line for path $((k - 1)) coming back"
    echo "ok   audit log: path $((k - 1)) down and up"
    # a reload turns spreading off and on again: path show follows
    sed 's/"paths": {/"paths": { "spread": false,/' "$tmp/config$k.json" >"$tmp/off$k.json"
    "$ctl" -s "$sock" reload "$tmp/off$k.json" >/dev/null || die "reload with spread false"
    "$ctl" -s "$sock" -j path show | grep -q '"spread": *false' ||
        die "path show after a reload with spread false: $("$ctl" -s "$sock" -j path show)"
    "$ctl" -s "$sock" reload "$tmp/config$k.json" >/dev/null || die "reload with spread true"
    "$ctl" -s "$sock" -j path show | grep -q '"spread": *true' || die "spread not back on"
    echo "ok   reload: spread off, then on again"
    kill -INT "$pid"
    wait "$pid"
    local st=$?
    echo "cnmux ($k paths) stopped, $((SECONDS - t_run)) s in all"
    pid=""
    [ "$st" = 0 ] || die "cnmux ($k paths) exited with status $st"
    [ "$rc" = 0 ] || die "paths.py with $k paths"
}
run 2
run 3
echo "PASS: runtime_paths"
