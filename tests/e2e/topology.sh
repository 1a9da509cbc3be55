#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The end-to-end topology of cnmux on one Linux machine: network namespaces,
# veth pairs and a bridge, documentation address ranges only. docs/e2e.md
# draws it.
#
# usage: topology.sh up      PREFIX         namespaces, links, addresses, servers, cnmux.json
#        topology.sh lb      PREFIX CNMUX [CNMUX OPTIONS...]
#                                           start cnmux in PREFIX-lb (background), configure its tap
#        topology.sh lb-stop PREFIX         stop cnmux (SIGINT: final report in cnmux.log)
#        topology.sh http-stop|http-start PREFIX NODE
#                                           stop / start NODE's HTTP server (node1..node4)
#        topology.sh status  PREFIX         what is up
#        topology.sh down    PREFIX         stop everything started in the namespaces, delete them
#
# PREFIX: 1 to 8 letters or digits; namespaces are PREFIX-client, PREFIX-router,
# PREFIX-lb (the interface node: cnmux), PREFIX-node1 .. PREFIX-node4 (node4 is
# not in the configuration: the tests add it at run time). Every interface is
# created inside its namespace, so interface names are the same in every
# topology. Files (config, logs, pids, control socket): /tmp/cnmux-e2e-PREFIX.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# addresses (RFC 5737 documentation ranges)
CLIENT_IP=203.0.113.10        # the client's first address; .11 .. .40 too
CLIENT_EXTRA_FIRST=11
CLIENT_EXTRA_LAST=40
ROUTER_CL=203.0.113.1
ROUTER_PUB=198.51.100.1
LOCAL_IP=198.51.100.2         # the interface node's own address (cnmux's tap)
ROUTER_PRIV=192.0.2.1
LB_HC=192.0.2.4               # the interface node's leg for health checks
VIPS="198.51.100.10 198.51.100.20 198.51.100.30"
NODES=4
node_ip()  { echo "192.0.2.1$1"; }
node_mac() { printf '02:00:c0:00:02:%02x\n' $((10 + $1)); }

die() { echo "topology.sh: $*" >&2; exit 1; }

usage() {
    sed -n '4,20p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

check_prefix() {
    [[ "$1" =~ ^[A-Za-z0-9]{1,8}$ ]] || die "PREFIX must be 1 to 8 letters or digits (got '$1')"
}

nsx() { local ns=$1; shift; ip netns exec "$P-$ns" "$@"; }
sysctls() { local ns=$1; shift; local kv; for kv; do nsx "$ns" sysctl -qw "$kv" >/dev/null; done; }

# checksum and segmentation offloads off: cnmux's af_packet ports take
# frames as the kernel queued them (a partial checksum, a 64 KiB TSO frame)
# and send them on unchanged
offloads_off() {
    local ns=$1 ifc=$2
    nsx "$ns" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
        nsx "$ns" ethtool -K "$ifc" tx off rx off >/dev/null 2>&1 || true
}

# veth NAME_A in NS_A <-> NAME_B in NS_B, both created inside their namespaces
veth() {
    local nsa=$1 a=$2 nsb=$3 b=$4 mac=${5:-}
    if [ -n "$mac" ]; then
        ip -n "$P-$nsa" link add "$a" address "$mac" type veth peer name "$b" netns "$P-$nsb"
    else
        ip -n "$P-$nsa" link add "$a" type veth peer name "$b" netns "$P-$nsb"
    fi
    offloads_off "$nsa" "$a"
    offloads_off "$nsb" "$b"
}

ns_base() {
    local ns=$1
    ip netns add "$P-$ns"
    nsx "$ns" ip link set lo up
    # IPv4 only (IPv6 is optional here): no router solicitations, no DAD
    sysctls "$ns" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

write_config() {
    cat >"$STATE/cnmux.json" <<EOF
{
  "version": 1,
  "ports": { "public": "net_af_packet0", "private": ["net_af_packet1"], "local": "net_tap0" },
  "nodes": [
    { "name": "node1", "ip": "$(node_ip 1)", "check_port": 80 },
    { "name": "node2", "ip": "$(node_ip 2)", "check_port": 80 },
    { "name": "node3", "ip": "$(node_ip 3)", "check_port": 80 }
  ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/tcp", "5001/tcp"],
      "policy": "weighted", "nodes": { "node1": 3, "node2": 2, "node3": 1 } },
    { "name": "echo", "vip": "198.51.100.10", "ports": ["9000/udp"],
      "policy": "weighted", "nodes": { "node1": 1, "node2": 1, "node3": 1 } },
    { "name": "sticky", "vip": "198.51.100.20", "ports": ["80/tcp", "8080/tcp", "8081/tcp"],
      "policy": "sticky", "nodes": { "node1": 1, "node2": 1, "node3": 1 } },
    { "name": "wild", "vip": "198.51.100.30", "protocols": ["tcp", "udp"],
      "policy": "sticky-wild", "nodes": { "node1": 1, "node2": 1, "node3": 1 } }
  ],
  "control": { "socket": "$STATE/ctl.sock" },
  "conntrack": { "timeout_s": 300 },
  "health": { "interval_ms": 200, "timeout_ms": 150, "rise": 2, "fall": 3 }
}
EOF
}

start_bg() { # NS PIDFILE LOG CMD... : a process in a namespace, its pid in PIDFILE
    local ns=$1 pidf=$2 log=$3; shift 3
    ip netns exec "$P-$ns" "$@" </dev/null >>"$log" 2>&1 &
    echo $! >"$pidf"
}

http_start() {
    local i=$1
    start_bg "node$i" "$STATE/node$i.http.pid" "$STATE/node$i.log" \
        "$PY" "$here/server.py" http "node$i" 80,8080,8081
}

wait_listen() { # NS PORT [udp]: poll until something listens
    local ns=$1 port=$2 opt=-tln
    [ "${3:-}" = udp ] && opt=-uln
    for _ in $(seq 200); do
        nsx "$ns" ss -H "$opt" "sport = :$port" | grep -q . && return 0
        sleep 0.05
    done
    die "nothing listens on $port in $P-$ns after 10 s (see $STATE/*.log)"
}

up() {
    [ ! -e "/run/netns/$P-lb" ] || die "$P-lb exists: 'topology.sh down $P' first"
    rm -rf "$STATE"
    mkdir -p "$STATE"
    trap 'echo "topology.sh: up failed, taking it down" >&2; down' ERR
    local ns i
    for ns in client router lb $(seq -f 'node%g' 1 $NODES); do
        ns_base "$ns"
    done

    # client <-> router
    veth client eth0 router cl0
    nsx client ip addr add "$CLIENT_IP/24" dev eth0
    for i in $(seq $CLIENT_EXTRA_FIRST $CLIENT_EXTRA_LAST); do
        nsx client ip addr add "203.0.113.$i/24" dev eth0
    done
    nsx client ip link set eth0 up
    nsx client ip route add default via "$ROUTER_CL"

    # router: client leg, public leg (to cnmux's public port), private leg (a
    # bridge: the node segment)
    sysctls router net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
        net.ipv4.conf.default.send_redirects=0
    # bridged frames must not go through this namespace's iptables
    nsx router sysctl -qw net.bridge.bridge-nf-call-iptables=0 >/dev/null 2>&1 || true
    nsx router ip addr add "$ROUTER_CL/24" dev cl0
    nsx router ip link set cl0 up
    veth router pub0 lb pub0
    nsx router ip addr add "$ROUTER_PUB/24" dev pub0
    nsx router ip link set pub0 up
    nsx router ip link add br0 type bridge forward_delay 0 stp_state 0
    offloads_off router br0
    nsx router ip addr add "$ROUTER_PRIV/24" dev br0
    nsx router ip link set br0 up

    # the interface node: pub0 and prv0 are cnmux's (af_packet), hc0 is its
    # kernel's leg on the node segment (health checks' TCP connects); tap0
    # appears when cnmux starts ("lb")
    veth lb prv0 router lbprv
    veth lb hc0 router lbhc
    for ifc in lbprv lbhc; do
        nsx router ip link set "$ifc" master br0 up
    done
    nsx lb ip addr add "$LB_HC/24" dev hc0
    local ifc
    for ifc in pub0 prv0 hc0; do
        nsx lb ip link set "$ifc" up
    done
    # the kernel of the interface node must stay out of pub0 and prv0 (they
    # belong to cnmux; af_packet sees every frame anyway): no ARP answers
    # there, and strict reverse-path filtering drops what its IP stack would
    # otherwise take in there (the clients are routed via tap0, the nodes via
    # hc0); where tc has a matchall classifier, nothing gets past ingress
    for ifc in pub0 prv0; do
        sysctls lb "net.ipv4.conf.$ifc.arp_ignore=8" "net.ipv4.conf.$ifc.rp_filter=1"
        if nsx lb tc qdisc add dev "$ifc" clsact 2>/dev/null; then
            nsx lb tc filter add dev "$ifc" ingress matchall action drop 2>/dev/null ||
                nsx lb tc qdisc del dev "$ifc" clsact 2>/dev/null || true
        fi
    done
    # a service of the interface node itself, on its own address (the local
    # path: claim 10)
    start_bg lb "$STATE/lb.http.pid" "$STATE/lb.log" "$PY" "$here/server.py" http interface-node 80

    # the server nodes
    for i in $(seq 1 $NODES); do
        ns=node$i
        veth "$ns" eth0 router "n$i" "$(node_mac "$i")"
        nsx router ip link set "n$i" master br0 up
        sysctls "$ns" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
        nsx "$ns" ip addr add "$(node_ip "$i")/24" dev eth0
        nsx "$ns" ip link set eth0 up
        sysctls "$ns" net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 \
            net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.lo.rp_filter=0
        for v in $VIPS; do
            nsx "$ns" ip addr add "$v/32" dev lo
        done
        nsx "$ns" ip route add default via "$ROUTER_PRIV"
        http_start "$i"
        start_bg "$ns" "$STATE/$ns.aux.pid" "$STATE/$ns.log" "$PY" "$here/server.py" aux "$ns"
    done
    for i in $(seq 1 $NODES); do
        wait_listen "node$i" 80
        wait_listen "node$i" 5001
        wait_listen "node$i" 9000 udp
    done
    wait_listen lb 80
    write_config
    trap - ERR
    echo "topology $P up: namespaces $P-{client,router,lb,node1..node$NODES}; config $STATE/cnmux.json"
}

# cnmux in the interface node, in the background; then its tap gets the
# node's own address and the default route
lb() {
    local cnmux=$1; shift
    [ -e "/run/netns/$P-lb" ] || die "no topology $P: 'topology.sh up $P' first"
    [ -x "$cnmux" ] || die "not an executable: $cnmux"
    if [ -s "$STATE/cnmux.pid" ] && alive "$(cat "$STATE/cnmux.pid")"; then
        die "cnmux already runs (pid $(cat "$STATE/cnmux.pid"))"
    fi
    rm -f "$STATE/ctl.sock" "$STATE/cnmux.pid" "$STATE/cnmux.rc"
    # cnmux's pid (the inner bash execs it) in cnmux.pid, its exit status in
    # cnmux.rc once it has stopped
    (
        # shellcheck disable=SC2016 # expanded by the inner bash
        ip netns exec "$P-lb" bash -c 'echo $$ >"$0"; exec "$@"' "$STATE/cnmux.pid" "$cnmux" \
            --no-huge -m 512 --no-pci -l 0,1 --file-prefix "cnmux-e2e-$P" \
            --log-level='lib.*:error' --log-level='pmd.*:error' --log-level='user*:error' \
            --vdev net_af_packet0,iface=pub0,qpairs=1 \
            --vdev net_af_packet1,iface=prv0,qpairs=1 \
            --vdev net_tap0,iface=tap0 \
            -- --config "$STATE/cnmux.json" --log-timestamp "$@" </dev/null >>"$STATE/cnmux.log" 2>&1
        echo $? >"$STATE/cnmux.rc"
    ) </dev/null >/dev/null 2>&1 &
    local pid='' ok=''
    for _ in $(seq 100); do
        [ -s "$STATE/cnmux.pid" ] && break
        sleep 0.05
    done
    pid=$(cat "$STATE/cnmux.pid" 2>/dev/null || true)
    [ -n "$pid" ] || { cat "$STATE/cnmux.log" >&2; die "cnmux did not start"; }
    for _ in $(seq 300); do
        alive "$pid" || { cat "$STATE/cnmux.log" >&2; die "cnmux exited"; }
        if nsx lb ip link show tap0 >/dev/null 2>&1 && [ -S "$STATE/ctl.sock" ]; then
            ok=1
            break
        fi
        sleep 0.1
    done
    [ -n "$ok" ] || die "cnmux: no tap0 or control socket after 30 s (see $STATE/cnmux.log)"
    offloads_off lb tap0
    sysctls lb net.ipv4.conf.tap0.rp_filter=0
    nsx lb ip addr add "$LOCAL_IP/24" dev tap0
    nsx lb ip link set tap0 up
    nsx lb ip route add default via "$ROUTER_PUB" dev tap0
    echo "cnmux runs in $P-lb (pid $pid, log $STATE/cnmux.log, control socket $STATE/ctl.sock," \
        "telemetry: dpdk-telemetry.py -f cnmux-e2e-$P)"
}

# running: exists and is not a zombie (whoever reaps orphans may take its time)
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

stop_pid() { # PID [SIGNAL]: SIGNAL (TERM), then SIGKILL after a deadline
    local pid=$1 sig=${2:-TERM}
    alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 200); do
        alive "$pid" || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        alive "$pid" || return 0
        sleep 0.05
    done
}

lb_stop() { # SIGINT: cnmux prints its final report (cnmux.log); says its exit status
    [ -s "$STATE/cnmux.pid" ] || return 0
    stop_pid "$(cat "$STATE/cnmux.pid")" INT
    rm -f "$STATE/cnmux.pid"
    for _ in $(seq 100); do
        [ -s "$STATE/cnmux.rc" ] && break
        sleep 0.05
    done
    echo "cnmux stopped: exit status $(cat "$STATE/cnmux.rc" 2>/dev/null || echo unknown)"
}

http_ctl() {
    local what=$1 node=$2 i
    [[ "$node" =~ ^node([1-9])$ ]] || die "NODE: node1 .. node$NODES (got '$node')"
    i=${BASH_REMATCH[1]}
    [ "$i" -le $NODES ] || die "NODE: node1 .. node$NODES (got '$node')"
    if [ "$what" = stop ]; then
        [ -s "$STATE/$node.http.pid" ] && stop_pid "$(cat "$STATE/$node.http.pid")" KILL
        rm -f "$STATE/$node.http.pid"
    else
        if [ -s "$STATE/$node.http.pid" ] && alive "$(cat "$STATE/$node.http.pid")"; then
            return 0
        fi
        http_start "$i"
        wait_listen "$node" 80
    fi
}

down() {
    local ns pid
    lb_stop
    for ns in client router lb $(seq -f 'node%g' 1 $NODES); do
        [ -e "/run/netns/$P-$ns" ] || continue
        # everything still running in the namespace was started here
        for pid in $(ip netns pids "$P-$ns" 2>/dev/null); do
            stop_pid "$pid" TERM
        done
        ip netns del "$P-$ns" 2>/dev/null || true
    done
    rm -rf "$STATE" "/var/run/dpdk/cnmux-e2e-$P"
}

status() {
    local ns
    for ns in client router lb $(seq -f 'node%g' 1 $NODES); do
        if [ -e "/run/netns/$P-$ns" ]; then
            echo "== $P-$ns: $(ip netns pids "$P-$ns" | wc -l) process(es)"
            nsx "$ns" ip -br addr show | grep -v '^lo ' | sed 's/^/   /'
        else
            echo "== $P-$ns: absent"
        fi
    done
    if [ -s "$STATE/cnmux.pid" ] && alive "$(cat "$STATE/cnmux.pid")"; then
        echo "cnmux: running (pid $(cat "$STATE/cnmux.pid"), socket $STATE/ctl.sock)"
    else
        echo "cnmux: not running"
    fi
}

[ $# -ge 2 ] || usage
cmd=$1
P=$2
check_prefix "$P"
STATE=/tmp/cnmux-e2e-$P
shift 2
case "$cmd" in
    up) [ $# -eq 0 ] || usage; up ;;
    down) [ $# -eq 0 ] || usage; down ;;
    status) [ $# -eq 0 ] || usage; status ;;
    lb) [ $# -ge 1 ] || usage; lb "$@" ;;
    lb-stop) [ $# -eq 0 ] || usage; lb_stop ;;
    http-stop) [ $# -eq 1 ] || usage; http_ctl stop "$1" ;;
    http-start) [ $# -eq 1 ] || usage; http_ctl start "$1" ;;
    *) usage ;;
esac
