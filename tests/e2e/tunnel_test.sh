#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# cnmux end to end through its tunnel forwarding methods (docs/forwarding.md):
# ipip (IPv4 in IPv4, IPv6 in IPv6) and gue (GUE variant 1 over UDP 6080, over
# IPv4 and IPv6). A real TCP client (curl) reaches HTTP servers on nodes that
# sit on another subnet, behind a router on cnmux's private side: only routing
# takes a packet there, so the tunnel is what carries it. The nodes hold the
# VIPs on loopback and answer the client directly through the client-side
# router (direct server return). docs/e2e.md draws the topology.
#
# This kernel may have no ipip / ip6_tunnel / fou module; each node then
# decapsulates in user space (tundecap.py: raw and UDP sockets in, a TUN
# device out to the node's kernel). It is used in every case, and the test
# says whether the kernel could have done it.
#
# usage: tunnel_test.sh CNMUX CNMUXCTL
# Needs root (namespaces), ip, ethtool, curl, tcpdump, ss, python3, /dev/net/tun;
# exit 77 (skipped) without them. Everything is made under a prefix unique to
# the run (namespaces cntXXX??, /tmp/cnmux-tunnel-cntXXX.*, DPDK file prefix
# cnmux-cntXXX) and removed on exit, whatever happened. With TUNNEL_VERBOSE=1
# (or on a failure) the end of cnmux's log and the decapsulators' counts are
# printed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=e2e_lib.sh
. "$here/e2e_lib.sh"
e2e_args "$@"
DECAP=$here/tundecap.py
T_START=$(date +%s.%N)
skip() { cnm_skip "e2e_tunnel: $*"; }   # under CI=true: a failure
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
for t in ip ethtool curl tcpdump ss "$PY"; do
    command -v "$t" >/dev/null 2>&1 || skip "$t not found (.ci/install-deps installs it)"
done
[ -c /dev/net/tun ] || skip "no /dev/net/tun (the user-space decapsulator needs a TUN device)"

# ------------------------------------------------------------------ names
# P: "cnt" + 3 hex digits from the pid; namespaces are P + 2 characters (8 in
# all). Claimed by creating P's lb namespace: a prefix in use is skipped.
P=
n=$(($$ & 0xfff))
for _ in $(seq 64); do
    cand=$(printf 'cnt%03x' "$n")
    if ip netns add "${cand}lb" 2>/dev/null; then P=$cand; break; fi
    n=$(((n + 1) & 0xfff))
done
[ -n "$P" ] || skip "cannot create a network namespace (ip netns add failed)"
STATE=$(mktemp -d "/tmp/cnmux-tunnel-$P.XXXXXX")
W=$STATE
SOCK=$STATE/ctl.sock
FILE_PREFIX=cnmux-$P
NSS=(lb)                  # namespace suffixes made so far (cleanup)
BG_PIDS=()

# ------------------------------------------------------------------ addresses
# RFC 5737 / RFC 3849 documentation ranges only.
CLIENT4=203.0.113.10; RT_CL4=203.0.113.1              # client <-> router
CLIENT6=2001:db8:cc::10; RT_CL6=2001:db8:cc::1
RT_PUB4=198.51.100.1; RT_PUB6=2001:db8:51::1          # router <-> cnmux public port
PR_LB4=192.0.2.1; PR_LB6=2001:db8:10::1               # cnmux private port <-> private router: 192.0.2.0/26
PR_NODE4=192.0.2.65; PR_NODE6=2001:db8:20::1          # private router <-> nodes: 192.0.2.64/26
RT_TR4=192.0.2.129; PR_TR4=192.0.2.130                # router <-> private router (replies): 192.0.2.128/26
RT_TR6=2001:db8:30::1; PR_TR6=2001:db8:30::2
# tunnel.source4: 192.0.2.16/28, the outer IPv4 source's low 4 bits come
# from the flow's entropy (flows spread over 16 sources); tunnel.source6:
# 2001:db8:10::5/128, one fixed source
SRC4=192.0.2.16; SRC4_NET=192.0.2.16/28
SRC6=2001:db8:10::5; SRC6_NET=2001:db8:10::5/128
VIP_IPIP4=198.51.100.10
VIP_GUE4=198.51.100.11
VIP_IPIP6=2001:db8:51::10
VIP_GUE6=2001:db8:51::11
MAC_LB_PUB=02:cc:00:00:00:01
MAC_LB_PRV=02:cc:00:00:00:02
MAC_PR_LB=02:cc:00:00:00:03   # the private router on cnmux's segment: the tunnels' next hop
GUE_PORT=6080
REQS=${TUNNEL_REQUESTS:-50}

# node: method, address, how cnmux finds the next hop (gateway: ARP for the
# private router; mac: given), the VIP it serves, the decapsulator counter
# that must count its packets
NODES=(a1 a2 g1 g2 s1 s2 u1 u2)
declare -A N_FWD N_IP N_HOP N_VIP N_KIND
nodedef() { N_FWD[$1]=$2; N_IP[$1]=$3; N_HOP[$1]=$4; N_VIP[$1]=$5; N_KIND[$1]=$6; }
# a1, g1, s1 and u1 name the private router as their "gateway" (cnmux
# resolves its MAC by ARP on the private port; the IPv6 nodes too: the router
# is the same, its IPv4 address is what ARP asks for); a2, g2, s2 and u2 give
# the router's "mac". TUNNEL_GATEWAY=0: every node gives the "mac".
HOP1=gateway
[ "${TUNNEL_GATEWAY:-1}" = 0 ] && HOP1=mac
nodedef a1 ipip 192.0.2.71 "$HOP1" "$VIP_IPIP4" ipip4
nodedef a2 ipip 192.0.2.72 mac "$VIP_IPIP4" ipip4
nodedef g1 gue 192.0.2.81 "$HOP1" "$VIP_GUE4" gue4
nodedef g2 gue 192.0.2.82 mac "$VIP_GUE4" gue4
nodedef s1 ipip 2001:db8:20::61 "$HOP1" "$VIP_IPIP6" ip6ip6
nodedef s2 ipip 2001:db8:20::62 mac "$VIP_IPIP6" ip6ip6
nodedef u1 gue 2001:db8:20::81 "$HOP1" "$VIP_GUE6" gue6
nodedef u2 gue 2001:db8:20::82 mac "$VIP_GUE6" gue6
# method (service) -> VIP, nodes
METHODS=(ipip4 gue4 ipip6 gue6)
declare -A M_VIP M_NODES M_DESC
M_VIP[ipip4]=$VIP_IPIP4; M_NODES[ipip4]="a1 a2"; M_DESC[ipip4]="ipip, IPv4 in IPv4"
M_VIP[gue4]=$VIP_GUE4;   M_NODES[gue4]="g1 g2";  M_DESC[gue4]="gue, IPv4 in UDP/IPv4"
M_VIP[ipip6]=$VIP_IPIP6; M_NODES[ipip6]="s1 s2"; M_DESC[ipip6]="ipip, IPv6 in IPv6"
M_VIP[gue6]=$VIP_GUE6;   M_NODES[gue6]="u1 u2";  M_DESC[gue6]="gue, IPv6 in UDP/IPv6"

# ------------------------------------------------------------------ helpers
FAILED=0
PASSED=0
log() { echo "tunnel: $*"; }
result() { # N NAME PASS|FAIL DETAILS
    echo "tunnel test $1 ($2): $3 -- ${*:4}"
    if [ "$3" = PASS ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
}
nsx() { local ns=$1; shift; ip netns exec "$P$ns" "$@"; }
sysctls() { local ns=$1; shift; local kv; for kv; do nsx "$ns" sysctl -qw "$kv" >/dev/null; done; }
ctl() { "$CTL_BIN" -s "$SOCK" "$@"; }
now_ms() { date +%s%3N; }
joined() { local out=$1; shift; local x; for x; do out+="; $x"; done; echo "$out"; }
jq_() { "$PY" -c 'import json,sys; j=json.load(sys.stdin); r=eval(sys.argv[1]); print(json.dumps(r) if isinstance(r,(dict,list)) else r)' "$1"; }
alive() { [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

stop_pid() { # PID [SIGNAL]: SIGNAL (TERM), then SIGKILL after 10 s
    local pid=$1 sig=${2:-TERM}
    alive "$pid" || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 200); do alive "$pid" || return 0; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || return 0; sleep 0.05; done
}

offloads_off() {
    local ns=$1 ifc=$2
    nsx "$ns" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
        nsx "$ns" ethtool -K "$ifc" tx off rx off >/dev/null 2>&1 || true
}

ns_add() { # SUFFIX [v6]: a namespace; IPv6 off unless asked (no DAD, no solicitations)
    local ns=$1
    [ "$ns" = lb ] || ip netns add "$P$ns"
    [ "$ns" = lb ] || NSS+=("$ns")
    nsx "$ns" ip link set lo up
    sysctls "$ns" net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    if [ "${2:-}" = v6 ]; then
        sysctls "$ns" net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
            net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
            net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 \
            net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
    else
        sysctls "$ns" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    fi
}

veth() { # NS_A NAME_A NS_B NAME_B [MAC_A [MAC_B]]: made inside the namespaces, offloads off
    local nsa=$1 a=$2 nsb=$3 b=$4 maca=${5:-} macb=${6:-}
    ip -n "$P$nsa" link add "$a" ${maca:+address "$maca"} type veth \
        peer name "$b" ${macb:+address "$macb"} netns "$P$nsb" || return 1
    offloads_off "$nsa" "$a"
    offloads_off "$nsb" "$b"
    nsx "$nsa" ip link set "$a" up
    nsx "$nsb" ip link set "$b" up
}

start_bg() { # NS PIDFILE LOG CMD...
    local ns=$1 pidf=$2 logf=$3; shift 3
    ip netns exec "$P$ns" "$@" </dev/null >>"$logf" 2>&1 &
    echo $! >"$pidf"
}

wait_listen() { # NS PORT
    for _ in $(seq 200); do
        nsx "$1" ss -H -tln "sport = :$2" | grep -q . && return 0
        sleep 0.05
    done
    return 1
}

cleanup() {
    local rc=$? pid ns
    trap - EXIT INT TERM
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [ -s "$STATE/cnmux.pid" ]; then stop_pid "$(cat "$STATE/cnmux.pid")" INT; fi
    if [ -n "${TUNNEL_VERBOSE:-}" ] || [ "$FAILED" -gt 0 ] || [ "$rc" -ne 0 ]; then
        echo "---- cnmux log (tail) ----"
        tail -n 40 "$STATE/cnmux.log" 2>/dev/null || true
        echo "---- decapsulators ----"
        for ns in "${NODES[@]}"; do
            [ -s "$STATE/$ns.counts" ] && echo "$ns: $(jq_ '{k: j[k] for k in ("decap", "delivered", "bad", "deviations", "outer_src", "outer_ttl", "tun_out", "tun_write_errors")}' <"$STATE/$ns.counts")"
        done
    fi
    for ns in "${NSS[@]}"; do
        [ -e "/run/netns/$P$ns" ] || continue
        # everything in the namespace was started by this run
        for pid in $(ip netns pids "$P$ns" 2>/dev/null); do stop_pid "$pid" TERM; done
    done
    for ns in "${NSS[@]}"; do ip netns del "$P$ns" 2>/dev/null || true; done
    rm -rf "$STATE" "/var/run/dpdk/$FILE_PREFIX"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail_setup() { echo "tunnel: FAIL: $*"; FAILED=$((FAILED + 1)); exit 1; }

# ------------------------------------------------------------------ the kernel
# Can this kernel decapsulate? (probed in our lb namespace: the devices are
# made and deleted there)
kernel_has() {
    case $1 in
        ipip) nsx lb ip link add "${P}t4" type ipip local 192.0.2.2 remote 192.0.2.3 2>/dev/null ;;
        ip6tnl) nsx lb ip link add "${P}t6" type ip6tnl mode ip6ip6 \
                    local 2001:db8::2 remote 2001:db8::3 2>/dev/null ;;
        fou) nsx lb ip fou add port 6081 gue 2>/dev/null ;;
    esac
    local r=$?
    nsx lb ip link del "${P}t4" 2>/dev/null; nsx lb ip link del "${P}t6" 2>/dev/null
    nsx lb ip fou del port 6081 2>/dev/null
    return $r
}
K_HAS=(); K_NOT=()
for m in ipip ip6tnl fou; do
    if kernel_has $m; then K_HAS+=("$m"); else K_NOT+=("$m"); fi
done
join_or() { # a, b or c
    local out='' i n=$#
    for ((i = 1; i <= n; i++)); do
        out+=${!i}
        if [ $i -eq $((n - 1)) ]; then out+=" or "; elif [ $i -lt $n ]; then out+=", "; fi
    done
    echo "$out"
}
if [ ${#K_NOT[@]} -gt 0 ]; then
    DECAP_MSG="user space on TUN (tundecap.py): kernel has no $(join_or "${K_NOT[@]}") module"
    [ ${#K_HAS[@]} -gt 0 ] && DECAP_MSG+=" (it has ${K_HAS[*]}; user space for every method all the same)"
else
    DECAP_MSG="user space on TUN (tundecap.py), although the kernel has ipip, ip6tnl and fou: one decapsulator for every method"
fi
log "decapsulation: $DECAP_MSG"

# ------------------------------------------------------------------ topology
#  client -- rt -- [pub0] cnmux [prv0] -- pr -- br0 -- nodes
#                \______ tr (the nodes' replies) ______/
topology() {
    local ns i
    ns_add lb
    for ns in cl rt pr; do ns_add "$ns" v6 || return 1; done

    # client
    veth cl eth0 rt cl0 || return 1
    nsx cl ip addr add "$CLIENT4/24" dev eth0
    nsx cl ip addr add "$CLIENT6/64" dev eth0 nodad
    nsx cl ip route add default via "$RT_CL4"
    nsx cl ip -6 route add default via "$RT_CL6"

    # the client-side router: client, cnmux's public port, transit to pr
    sysctls rt net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
    nsx rt ip addr add "$RT_CL4/24" dev cl0
    nsx rt ip addr add "$RT_CL6/64" dev cl0 nodad
    veth rt pub0 lb pub0 "" "$MAC_LB_PUB" || return 1
    nsx rt ip addr add "$RT_PUB4/24" dev pub0
    nsx rt ip addr add "$RT_PUB6/64" dev pub0 nodad
    # cnmux answers ARP for its IPv4 VIPs; IPv6 neighbour discovery goes to
    # its local port (none here), so the router is told the IPv6 VIPs' MAC
    nsx rt ip -6 neigh replace "$VIP_IPIP6" lladdr "$MAC_LB_PUB" dev pub0 nud permanent
    nsx rt ip -6 neigh replace "$VIP_GUE6" lladdr "$MAC_LB_PUB" dev pub0 nud permanent
    veth rt tr0 pr tr0 || return 1
    nsx rt ip addr add "$RT_TR4/26" dev tr0
    nsx rt ip addr add "$RT_TR6/64" dev tr0 nodad
    nsx rt ip route add 192.0.2.64/26 via "$PR_TR4"
    nsx rt ip -6 route add 2001:db8:20::/64 via "$PR_TR6"

    # the interface node: pub0 and prv0 belong to cnmux (af_packet); its
    # kernel stays off them (no address, no ARP answers, IPv6 off, strict
    # rp_filter, and a matchall drop at ingress where tc has it)
    veth lb prv0 pr lb0 "$MAC_LB_PRV" "$MAC_PR_LB" || return 1
    for i in pub0 prv0; do
        sysctls lb "net.ipv4.conf.$i.arp_ignore=8" "net.ipv4.conf.$i.rp_filter=1"
        if nsx lb tc qdisc add dev "$i" clsact 2>/dev/null; then
            nsx lb tc filter add dev "$i" ingress matchall action drop 2>/dev/null ||
                nsx lb tc qdisc del dev "$i" clsact 2>/dev/null || true
        fi
    done

    # the private router: cnmux's segment, the node segment (a bridge), the
    # transit link back to the client-side router. The tunnels' outer source
    # (192.0.2.5, 2001:db8:10::5) is on cnmux's segment; rp_filter is off
    sysctls pr net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
        net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
    nsx pr sysctl -qw net.bridge.bridge-nf-call-iptables=0 >/dev/null 2>&1 || true
    nsx pr ip addr add "$PR_LB4/26" dev lb0
    nsx pr ip addr add "$PR_LB6/64" dev lb0 nodad
    nsx pr ip addr add "$PR_TR4/26" dev tr0
    nsx pr ip addr add "$PR_TR6/64" dev tr0 nodad
    nsx pr ip link add br0 type bridge forward_delay 0 stp_state 0 mcast_snooping 0
    offloads_off pr br0
    nsx pr ip addr add "$PR_NODE4/26" dev br0
    nsx pr ip addr add "$PR_NODE6/64" dev br0 nodad
    nsx pr ip link set br0 up
    nsx pr ip route add 203.0.113.0/24 via "$RT_TR4"
    nsx pr ip -6 route add 2001:db8:cc::/64 via "$RT_TR6"

    # the nodes: on 192.0.2.64/26 and 2001:db8:20::/64, reachable from cnmux
    # only through pr; VIP on lo, replies to the client through pr and rt
    local k=0
    for ns in "${NODES[@]}"; do
        k=$((k + 1))
        ns_add "$ns" v6 || return 1
        veth "$ns" eth0 pr "n$ns" "$(printf '02:cc:00:00:01:%02x' $k)" || return 1
        nsx pr ip link set "n$ns" master br0
        sysctls "$ns" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
            net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 \
            net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.lo.rp_filter=0
        if [[ ${N_IP[$ns]} == *:* ]]; then
            nsx "$ns" ip addr add "${N_IP[$ns]}/64" dev eth0 nodad
            nsx "$ns" ip addr add "${N_VIP[$ns]}/128" dev lo
        else
            nsx "$ns" ip addr add "${N_IP[$ns]}/26" dev eth0
            nsx "$ns" ip addr add "${N_VIP[$ns]}/32" dev lo
        fi
        if [[ ${N_IP[$ns]} == *:* ]]; then
            nsx "$ns" ip -6 route add default via "$PR_NODE6"
        else
            nsx "$ns" ip route add default via "$PR_NODE4"
        fi
        # the TUN that the decapsulator writes inner packets to: no
        # addresses (IPv6: no link-local either, so the kernel sends nothing
        # into it), no reverse-path filter
        nsx "$ns" ip tuntap add mode tun dev tun0 || return 1
        nsx "$ns" ip link set tun0 addrgenmode none 2>/dev/null || true
        sysctls "$ns" net.ipv4.conf.tun0.rp_filter=0
        nsx "$ns" ip link set tun0 up
        start_bg "$ns" "$STATE/$ns.decap.pid" "$STATE/$ns.decap.log" "$PY" "$DECAP" \
            --tun tun0 --name "$ns" --counts "$STATE/$ns.counts" --gue-port "$GUE_PORT" \
            --src "$SRC4_NET" --src "$SRC6_NET"
        start_bg "$ns" "$STATE/$ns.http.pid" "$STATE/$ns.http.log" "$PY" "$here/server.py" \
            http "$ns" 80 ::
        start_bg "$ns" "$STATE/$ns.aux.pid" "$STATE/$ns.aux.log" "$PY" "$here/server.py" \
            aux "$ns" ::
    done
    for ns in "${NODES[@]}"; do
        wait_listen "$ns" 80 || { echo "no HTTP server in $P$ns: $(cat "$STATE/$ns.http.log")"; return 1; }
        wait_listen "$ns" 5001 || { echo "no TCP sink in $P$ns: $(cat "$STATE/$ns.aux.log")"; return 1; }
        for _ in $(seq 200); do
            [ "$(jq_ 'j["ready"]' <"$STATE/$ns.counts" 2>/dev/null)" = True ] && break
            sleep 0.05
        done
        [ "$(jq_ 'j["ready"]' <"$STATE/$ns.counts" 2>/dev/null)" = True ] ||
            { echo "decapsulator of $ns not ready: $(cat "$STATE/$ns.decap.log")"; return 1; }
    done
}

write_config() {
    local ns hop first=1
    {
        echo '{'
        echo '  "version": 1,'
        echo '  "ports": { "public": "net_af_packet0", "private": ["net_af_packet1"] },'
        echo "  \"tunnel\": { \"source4\": \"$SRC4_NET\", \"source6\": \"$SRC6_NET\", \"mtu\": 1500 },"
        echo '  "nodes": ['
        for ns in "${NODES[@]}"; do
            [ -n "$first" ] || echo ','
            first=
            if [ "${N_HOP[$ns]}" = gateway ]; then
                hop="\"gateway\": \"$PR_LB4\""
            else
                hop="\"mac\": \"$MAC_PR_LB\""
            fi
            printf '    { "name": "%s", "ip": "%s", "forward": "%s", %s%s }' "$ns" "${N_IP[$ns]}" \
                "${N_FWD[$ns]}" "$hop" "$([ "${N_FWD[$ns]}" = gue ] && echo ", \"gue_port\": $GUE_PORT")"
        done
        echo
        echo '  ],'
        echo '  "services": ['
        first=1
        local m a b
        for m in "${METHODS[@]}"; do
            [ -n "$first" ] || echo ','
            first=
            read -r a b <<<"${M_NODES[$m]}"
            printf '    { "name": "%s", "vip": "%s", "ports": ["80/tcp", "5001/tcp"], "policy": "weighted", "nodes": { "%s": 1, "%s": 1 } }' \
                "$m" "${M_VIP[$m]}" "$a" "$b"
        done
        echo
        echo '  ],'
        echo "  \"control\": { \"socket\": \"$SOCK\" }"
        echo '}'
    } >"$STATE/cnmux.json"
}

start_cnmux() {
    rm -f "$SOCK" "$STATE/cnmux.pid" "$STATE/cnmux.rc"
    (
        # shellcheck disable=SC2016 # expanded by the inner bash
        ip netns exec "${P}lb" bash -c 'echo $$ >"$0"; exec "$@"' "$STATE/cnmux.pid" "$CNMUX" \
            --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$FILE_PREFIX" \
            --log-level='lib.*:error' --log-level='pmd.*:error' --log-level='user*:error' \
            --vdev net_af_packet0,iface=pub0,qpairs=1 \
            --vdev net_af_packet1,iface=prv0,qpairs=1 \
            -- --config "$STATE/cnmux.json" --stats-json "$STATE/final.json" \
            </dev/null >>"$STATE/cnmux.log" 2>&1
        echo $? >"$STATE/cnmux.rc"
    ) </dev/null >/dev/null 2>&1 &
    local pid=
    for _ in $(seq 100); do [ -s "$STATE/cnmux.pid" ] && break; sleep 0.05; done
    pid=$(cat "$STATE/cnmux.pid" 2>/dev/null)
    [ -n "$pid" ] || return 1
    for _ in $(seq 300); do
        alive "$pid" || return 1
        [ -S "$SOCK" ] && return 0
        sleep 0.1
    done
    return 1
}

node_up() { ctl -j node show "$1" 2>/dev/null | jq_ 'j["nodes"][0]["up"]' 2>/dev/null; }

# the decapsulators' counts, fresh: SIGUSR1, wait for the next write
decap_dump() { # NODE OUTFILE
    local ns=$1 out=$2 w0 w1
    w0=$(jq_ 'j["writes"]' <"$STATE/$ns.counts")
    kill -USR1 "$(cat "$STATE/$ns.decap.pid")"
    for _ in $(seq 100); do
        w1=$(jq_ 'j["writes"]' <"$STATE/$ns.counts" 2>/dev/null)
        [ -n "$w1" ] && [ "$w1" != "$w0" ] && break
        sleep 0.02
    done
    cp "$STATE/$ns.counts" "$out"
}
decap_dump_all() { # TAG
    local ns
    for ns in "${NODES[@]}"; do decap_dump "$ns" "$W/dc.$ns.$1"; done
}

# ------------------------------------------------------------------ set-up
log "topology $P: namespaces ${P}{cl,rt,lb,pr,$(echo "${NODES[@]}" | tr ' ' ',')}, files $STATE"
topology || fail_setup "topology"
write_config

# ------------------------------------------------------------------ 0
# the decapsulators and the return path alone, before cnmux: from the
# private router, hand-made tunnelled echo requests (outer source = the
# tunnel source, as cnmux will send) into every node; each node must count
# one, its kernel must answer the client directly, and no node may answer
# the outer packet with an ICMP error (protocol / port unreachable,
# parameter problem)
t0() {
    local ns kind cap=$W/t0.client.pcap errcap=$W/t0.err.pcap p1 p2 ok=
    decap_dump_all t0.before
    # (ip netns exec, not nsx: $! must be tcpdump itself, not a subshell,
    # which would ignore the SIGINT that stops it)
    ip netns exec "${P}cl" tcpdump --immediate-mode -i eth0 -n -U -w "$cap" \
        'icmp[icmptype] == icmp-echoreply or (icmp6 and ip6[40] == 129)' 2>"$W/t0.td1" &
    p1=$!; BG_PIDS+=("$p1")
    ip netns exec "${P}pr" tcpdump --immediate-mode -i br0 -n -U -w "$errcap" \
        'icmp[icmptype] == icmp-unreach or (icmp6 and (ip6[40] == 1 or ip6[40] == 4))' 2>"$W/t0.td2" &
    p2=$!; BG_PIDS+=("$p2")
    for _ in $(seq 100); do
        grep -q listening "$W/t0.td1" && grep -q listening "$W/t0.td2" && { ok=1; break; }
        sleep 0.1
    done
    [ -n "$ok" ] || { result 0 "decapsulators alone" FAIL "tcpdump did not start"; return; }
    for ns in "${NODES[@]}"; do
        kind=${N_KIND[$ns]}
        if [[ ${N_IP[$ns]} == *:* ]]; then
            nsx pr "$PY" "$DECAP" send "$kind" "$SRC6" "${N_IP[$ns]}" "$CLIENT6" "${N_VIP[$ns]}" 1 >/dev/null
        else
            nsx pr "$PY" "$DECAP" send "$kind" "$SRC4" "${N_IP[$ns]}" "$CLIENT4" "${N_VIP[$ns]}" 1 >/dev/null
        fi
    done
    # the negative control: what no decapsulator takes is answered with an
    # ICMP error, and the capture sees it (GRE to a1: protocol unreachable;
    # UDP 6081 to g1: port unreachable; next header 47 to s1: parameter problem)
    nsx pr "$PY" "$DECAP" send ipip4@47 "$SRC4" "${N_IP[a1]}" "$CLIENT4" "${N_VIP[a1]}" 1 >/dev/null
    nsx pr "$PY" "$DECAP" send gue4@6081 "$SRC4" "${N_IP[g1]}" "$CLIENT4" "${N_VIP[g1]}" 1 >/dev/null
    nsx pr "$PY" "$DECAP" send ip6ip6@47 "$SRC6" "${N_IP[s1]}" "$CLIENT6" "${N_VIP[s1]}" 1 >/dev/null
    sleep 0.5
    kill -INT "$p1" "$p2" 2>/dev/null; wait "$p1" "$p2" 2>/dev/null
    decap_dump_all t0.after
    local replies errs
    replies=$(tcpdump -nr "$cap" 2>/dev/null | wc -l)
    errs=$(tcpdump -nr "$errcap" 2>/dev/null | grep -c -v -e 'protocol 47 unreachable' \
        -e 'udp port 6081 unreachable' -e 'parameter problem')
    ctrl=$(tcpdump -nr "$errcap" 2>/dev/null | grep -c -e 'protocol 47 unreachable' \
        -e 'udp port 6081 unreachable' -e 'parameter problem')
    tcpdump -nr "$errcap" >"$W/t0.errs" 2>/dev/null
    local verdict
    verdict=$("$PY" - "$W" "$replies" "$errs" "$ctrl" "${NODES[@]}" <<PY
import json, sys
w, replies, errs, ctrl, nodes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
kinds = {$(for ns in "${NODES[@]}"; do printf '"%s": "%s", ' "$ns" "${N_KIND[$ns]}"; done)}
bad, got = [], []
for n in nodes:
    a = json.load(open("%s/dc.%s.t0.before" % (w, n)))
    b = json.load(open("%s/dc.%s.t0.after" % (w, n)))
    d = {k: b["decap"][k] - a["decap"][k] for k in b["decap"]}
    got.append("%s %s %d" % (n, kinds[n], d[kinds[n]]))
    if d[kinds[n]] != 1 or sum(d.values()) != 1:
        bad.append("%s decapsulated %s" % (n, d))
    for g in ("bad", "deviations"):
        if b[g] != a[g]:
            bad.append("%s %s: %s" % (n, g, b[g]))
if replies != len(nodes):
    bad.append("%d echo replies at the client for %d requests" % (replies, len(nodes)))
if errs:
    bad.append("%d ICMP errors from the nodes (%s/t0.errs)" % (errs, w))
if ctrl != 3:
    bad.append("negative control: %d ICMP errors for 3 packets nobody takes" % ctrl)
print("%s one hand-made packet per node decapsulated (%s); %d/%d echo replies reached the client "
      "directly; ICMP errors from the nodes: %d (negative control: %d/3 for packets nobody "
      "takes)%s" % ("FAIL" if bad else "PASS", ", ".join(got), replies, len(nodes), errs, ctrl,
      "; " + "; ".join(bad) if bad else ""))
PY
)
    result 0 "decapsulators alone, no cnmux" "${verdict%% *}" "${verdict#* }"
}
t0

# ------------------------------------------------------------------ cnmux
start_cnmux || { cat "$STATE/cnmux.log"; fail_setup "cnmux did not start"; }
t_up=$(now_ms)
for ns in "${NODES[@]}"; do
    ok=
    while [ "$(now_ms)" -lt $((t_up + 10000)) ]; do
        [ "$(node_up "$ns")" = True ] && { ok=1; break; }
        sleep 0.05
    done
    [ -n "$ok" ] || { ctl node show; fail_setup "node $ns not up 10 s after cnmux started"; }
done
gw_nodes=$(for ns in "${NODES[@]}"; do [ "${N_HOP[$ns]}" = gateway ] && printf '%s ' "$ns"; done)
log "cnmux up (pid $(cat "$STATE/cnmux.pid")), nodes up in $(($(now_ms) - t_up)) ms:" \
    "$(ctl node show | awk 'NR>1{printf "%s %s  ", $1, $3}')" \
    "(${gw_nodes:-none }resolved through the gateway $PR_LB4 by ARP, the others by their mac)"
ctl -j node show >"$W/nodes.json" 2>/dev/null

# captures for the whole run, read per VIP afterwards: the public link (the
# router's end: cnmux's output would show there), the transit link (the
# nodes' replies), the client, and ICMP errors on the node segment
CAPS=(rt:pub0 rt:tr0 cl:eth0 pr:br0)
cap_start() {
    local c ns ifc filt ok=
    for c in "${CAPS[@]}"; do
        ns=${c%%:*}; ifc=${c#*:}
        filt='ip or ip6'
        [ "$c" = pr:br0 ] &&
            filt='icmp[icmptype] == icmp-unreach or (icmp6 and (ip6[40] == 1 or ip6[40] == 4))'
        ip netns exec "$P$ns" tcpdump --immediate-mode -i "$ifc" -n -s 160 -U -w "$W/cap.$ns.$ifc.pcap" \
            "$filt" 2>"$W/cap.$ns.$ifc.err" &
        BG_PIDS+=("$!")
        echo "$!" >"$W/cap.$ns.$ifc.pid"
    done
    for _ in $(seq 100); do
        ok=1
        for c in "${CAPS[@]}"; do
            grep -q listening "$W/cap.${c%%:*}.${c#*:}.err" || ok=
        done
        [ -n "$ok" ] && return 0
        sleep 0.1
    done
    return 1
}
cap_stop() {
    local c pid
    for c in "${CAPS[@]}"; do
        pid=$(cat "$W/cap.${c%%:*}.${c#*:}.pid")
        kill -INT "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
}
cap_count() { tcpdump -nr "$W/cap.$1.pcap" "$2" 2>/dev/null | wc -l; }

# REQS connections to the method's VIP: "CODE NODE LOCALPORT" each
curl_many() { # VIP TAG
    local vip=$1 host=$1 args=() i
    [[ $vip == *:* ]] && host="[$vip]"
    for i in $(seq "$REQS"); do args+=(-o /dev/null "http://$host/$2-$i"); done
    nsx cl curl -g -s --connect-timeout 2 -m 4 \
        -w '%{http_code} %header{x-node} %{local_port}\n' "${args[@]}"
}

# ------------------------------------------------------------------ 1..4
# one method: REQS HTTP connections through it; every one answered by one of
# its nodes, and everything cnmux forwarded to a node was decapsulated there
tmethod() {
    local num=$1 m=$2 vip=${M_VIP[$2]}
    ctl -j stats >"$W/st.$m.before"
    decap_dump_all "$m.before"
    curl_many "$vip" "$m" >"$W/curl.$m"
    sleep 0.3
    ctl -j stats >"$W/st.$m.after"
    decap_dump_all "$m.after"
    local verdict
    verdict=$("$PY" - "$W" "$m" "$REQS" "$SRC4_NET" "$SRC6_NET" ${M_NODES[$m]} <<PY
import ipaddress, json, sys
w, m, reqs, src4, src6 = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
mine = sys.argv[6:]
kinds = {$(for ns in "${NODES[@]}"; do printf '"%s": "%s", ' "$ns" "${N_KIND[$ns]}"; done)}
kind = kinds[mine[0]]
v6 = kind in ("ip6ip6", "gue6")
src = ipaddress.ip_network(src6 if v6 else src4)
all_srcs = set()
entropy = 0
ld = lambda p: json.load(open(p))
sb, sa = ld("%s/st.%s.before" % (w, m)), ld("%s/st.%s.after" % (w, m))
bad = []
ok = fail = 0
answers = {}
for line in open("%s/curl.%s" % (w, m)):
    f = line.split()
    if len(f) >= 2 and f[0] == "200":
        ok += 1
        answers[f[1]] = answers.get(f[1], 0) + 1
    elif f:
        fail += 1
if ok != reqs or fail:
    bad.append("%d/%d answered, %d failed" % (ok, reqs, fail))
for n in answers:
    if n not in mine:
        bad.append("answered by %s, not a node of %s" % (n, m))
# 50 connections over 2 equal nodes: one node without any has p = 2^-49
for n in mine:
    if not answers.get(n):
        bad.append("%s answered none" % n)
parts = []
for n in sorted(kinds):
    b, a = ld("%s/dc.%s.%s.before" % (w, n, m)), ld("%s/dc.%s.%s.after" % (w, n, m))
    dec = {k: a["decap"][k] - b["decap"][k] for k in a["decap"]}
    fwd = sa["nodes"][n]["packets"] - sb["nodes"][n]["packets"]
    tot = sum(dec.values())
    if n not in mine:
        if tot or fwd:
            bad.append("%s (not in %s): %d forwarded, %d decapsulated" % (n, m, fwd, tot))
        continue
    c = answers.get(n, 0)
    parts.append("%s: %d answers, cnmux forwarded %d, %s decapsulated %d" % (n, c, fwd, kind, dec[kind]))
    # every packet cnmux sent to the node came out of its decapsulator, by
    # this method only; a short HTTP/1.0 connection is >= 5 client packets
    lost = a["socket_drops"] - b["socket_drops"]
    if dec[kind] + lost != fwd or tot != dec[kind]:
        bad.append("%s: forwarded %d, decapsulated %s, dropped at a full socket %d" % (
            n, fwd, {k: v for k, v in dec.items() if v}, lost))
    if fwd < 5 * c:
        bad.append("%s: %d packets for %d connections" % (n, fwd, c))
    for g in ("bad", "deviations"):
        if a[g] != b[g]:
            bad.append("%s %s: %s" % (n, g, {k: a[g].get(k, 0) - b[g].get(k, 0) for k in a[g]}))
    srcs = {k: v - b["outer_src"].get(k, 0) for k, v in a["outer_src"].items()
            if v != b["outer_src"].get(k, 0)}
    all_srcs |= set(srcs)
    if not srcs or any(ipaddress.ip_address(x) not in src for x in srcs):
        bad.append("%s: outer sources %s (expected %s)" % (n, srcs, src))
    # new GUE source ports / IPv6 flow labels: one per flow
    if kind.startswith("gue"):
        entropy += a["gue_sports"] - b["gue_sports"]
    elif v6:
        entropy += a["flow_labels"] - b["flow_labels"]
    ttls = {k: v - b["outer_ttl"].get(k, 0) for k, v in a["outer_ttl"].items()
            if v != b["outer_ttl"].get(k, 0)}
    # TTL / hop limit 64 from cnmux, one router (pr) on the way
    if set(ttls) != {"63"}:
        bad.append("%s: outer TTL/hop limit at the node %s (expected 63: 64 - 1 hop)" % (n, ttls))
    if a["tun_write_errors"] != b["tun_write_errors"]:
        bad.append("%s: TUN write errors" % n)
dfw = sa["forwarded"] - sb["forwarded"]
sv = sa["services"][m]["packets"] - sb["services"][m]["packets"]
for k in ("tunnel_mtu", "icmp_too_big"):
    if k in sa.get("drops", {}) and sa["drops"][k] != sb["drops"][k]:
        bad.append("%s %d" % (k, sa["drops"][k] - sb["drops"][k]))
# the outer source: fixed with /128; over /28, 50 flows reach about 15 of the
# 16 sources (8 or fewer: p < 1e-9)
if src.num_addresses > 1 and len(all_srcs) < min(9, ok):
    bad.append("%d outer sources for %d flows over %s" % (len(all_srcs), ok, src))
if src.num_addresses == 1 and all_srcs != {str(src.network_address)}:
    bad.append("outer sources %s" % sorted(all_srcs))
ent = ""
if kind.startswith("gue") or v6:
    what = "GUE source ports" if kind.startswith("gue") else "flow labels"
    ent = "; %d new %s" % (entropy, what)
    # one per flow, from a 14-bit (ports) or 20-bit (labels) hash: 50 flows
    # collide a few times at most
    if entropy < 0.8 * ok:
        bad.append("%d %s for %d flows" % (entropy, what, ok))
print("%s %d/%d answered (%s); %s; service %s %d packets, forwarded %d; outer sources %d in %s%s%s" % (
    "FAIL" if bad else "PASS", ok, reqs, json.dumps(answers, sort_keys=True), "; ".join(parts),
    m, sv, dfw, len(all_srcs), src, ent, "; " + "; ".join(bad) if bad else ""))
PY
)
    result "$num" "${M_DESC[$m]} -> $vip" "${verdict%% *}" "${verdict#* }"
}

cap_start || fail_setup "tcpdump did not start"
i=0
for m in "${METHODS[@]}"; do
    i=$((i + 1))
    tmethod "$i" "$m"
done
sleep 0.3
cap_stop

# ------------------------------------------------------------------ 5
# direct server return: every packet the client sent to a VIP crossed the
# public link; no packet from a VIP did: the nodes' answers came through the
# transit link (pr -> rt), all of them, and no node sent an ICMP error
t5() {
    local m vip parts=() st=PASS to_pub from_pub from_tr cl_out cl_in errs
    for m in "${METHODS[@]}"; do
        vip=${M_VIP[$m]}
        to_pub=$(cap_count rt.pub0 "dst host $vip")
        from_pub=$(cap_count rt.pub0 "src host $vip")
        from_tr=$(cap_count rt.tr0 "src host $vip")
        cl_out=$(cap_count cl.eth0 "dst host $vip")
        cl_in=$(cap_count cl.eth0 "src host $vip")
        parts+=("$m: client sent $cl_out, public link $to_pub in / $from_pub out, replies $from_tr on the transit link, $cl_in at the client")
        [ "$to_pub" -gt 0 ] && [ "$to_pub" = "$cl_out" ] && [ "$from_pub" = 0 ] &&
            [ "$from_tr" -gt 0 ] && [ "$from_tr" = "$cl_in" ] || st=FAIL
    done
    errs=$(cap_count pr.br0 "")
    [ "$errs" = 0 ] || st=FAIL
    result 5 "direct server return" "$st" "$(joined "${parts[@]}"); ICMP errors on the node segment: $errs"
}
t5

# ------------------------------------------------------------------ 6
# too big once tunnelled (docs/forwarding.md): a client's upload in
# full-size segments (1500-byte IP packets) does not fit a 1500-byte private
# MTU with the outer headers. cnmux answers with ICMP "fragmentation needed" /
# ICMPv6 "packet too big" giving mtu - overhead (20 ipip4, 28 gue4, 40 ipip6,
# 48 gue6), the client's kernel takes it as the path MTU to the VIP, and the
# upload completes in smaller segments: the largest inner packet the node's
# decapsulator saw is exactly that MTU
t6() {
    local m vip src node parts=() st=PASS want res pmtu
    declare -A over=([ipip4]=20 [gue4]=28 [ipip6]=40 [gue6]=48)
    for m in "${METHODS[@]}"; do
        vip=${M_VIP[$m]}
        src=$CLIENT4; [[ $vip == *:* ]] && src=$CLIENT6
        want=$((1500 - ${over[$m]}))
        ctl -j stats >"$W/mtu.$m.before"
        rm -f "$W/mtu.$m.stop"
        nsx cl "$PY" "$here/client.py" stream "$vip" 5001 "$src" "$W/mtu.$m.stop" \
            "$W/mtu.$m.progress" 1000000 20 >"$W/mtu.$m.res" 2>&1 &
        local sp=$!
        sleep 1.5
        touch "$W/mtu.$m.stop"
        wait "$sp"
        sleep 0.2
        ctl -j stats >"$W/mtu.$m.after"
        res=$(tail -n 1 "$W/mtu.$m.res")
        node=$(echo "$res" | jq_ 'j["node"]' 2>/dev/null)
        if [ -n "$node" ] && [ -n "${N_KIND[$node]:-}" ]; then
            decap_dump "$node" "$W/dc.$node.mtu"
        else
            node=
        fi
        pmtu=$(nsx cl ip route get "$vip" from "$src" 2>/dev/null | sed -n 's/.* mtu \([0-9]*\).*/\1/p' | head -n 1)
        local v
        v=$("$PY" - "$W" "$m" "$res" "$want" "${pmtu:-none}" "${node:-}" <<'PY'
import json, sys
w, m, res, want, pmtu, node = sys.argv[1:7]
want = int(want)
bad = []
try:
    r = json.loads(res)
except ValueError:
    r = {"ok": False, "error": res}
if not r.get("ok") or r.get("sent", 0) < 300000:
    bad.append("upload: %s" % r)
if pmtu != str(want):
    bad.append("client's path MTU to the VIP %s, expected %d" % (pmtu, want))
b, a = json.load(open("%s/mtu.%s.before" % (w, m))), json.load(open("%s/mtu.%s.after" % (w, m)))
local = a["local"] - b["local"]
tb = a.get("icmp_too_big", None)
tb = None if tb is None else tb - b["icmp_too_big"]
if local < 1:
    bad.append("cnmux sent nothing locally (local +%d)" % local)
if tb is not None and tb < 1:
    bad.append("icmp_too_big +%d" % tb)
tm = a.get("drops", {}).get("tunnel_mtu", 0) - b.get("drops", {}).get("tunnel_mtu", 0)
if tm:
    bad.append("tunnel_mtu drops +%d (TCP sends DF)" % tm)
mx = None
if node:
    d = json.load(open("%s/dc.%s.mtu" % (w, node)))
    mx = d["max_inner"]
    if mx != want:
        bad.append("largest inner packet at %s %d, expected %d" % (node, mx, want))
print("%s %s: %s bytes to %s, all counted; path MTU %s; cnmux local +%d, icmp_too_big %s; "
      "largest inner packet %s%s" % ("FAIL" if bad else "PASS", m, r.get("sent"), node or "?",
      pmtu, local, "+%d" % tb if tb is not None else "not in cnmuxctl stats", mx,
      " (" + "; ".join(bad) + ")" if bad else ""))
PY
)
        [ "${v%% *}" = PASS ] || st=FAIL
        parts+=("${v#* }")
    done
    result 6 "too big once tunnelled: ICMP to the client, path MTU" "$st" "$(joined "${parts[@]}")"
}
t6

# ------------------------------------------------------------------ 7
# the books: cnmux's counters account for every packet, each node's packets
# are what its decapsulator took in, and cnmux stops cleanly
t7() {
    sleep 0.3
    ctl -j stats >"$W/st.final"
    decap_dump_all final
    local pid stop_rc
    pid=$(cat "$STATE/cnmux.pid")
    stop_pid "$pid" INT
    for _ in $(seq 100); do [ -s "$STATE/cnmux.rc" ] && break; sleep 0.05; done
    stop_rc=$(cat "$STATE/cnmux.rc" 2>/dev/null || echo unknown)
    rm -f "$STATE/cnmux.pid"
    local verdict
    verdict=$("$PY" - "$W" "$stop_rc" "$STATE/cnmux.log" "$STATE/final.json" "${NODES[@]}" <<'PY'
import json, re, sys
w, stop_rc, logf, finalf, nodes = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
s = json.load(open("%s/st.final" % w))
bad = []
if s["rx"] != s["forwarded"] + s["local"] + s["dropped"]:
    bad.append("rx %d != forwarded %d + local %d + dropped %d" % (s["rx"], s["forwarded"], s["local"], s["dropped"]))
svc = sum(v["packets"] for v in s["services"].values())
nod = sum(v["packets"] for v in s["nodes"].values())
# cnmux's own answers: ARP for the VIPs, echo replies, and ICMP too-big
# (test 6); a too-big frame counts in its service (it was decided) but not in
# a node (it was not forwarded)
too_big = s["local"] - s.get("arp_replies", 0) - s.get("icmp_replies", 0)
if nod != s["forwarded"] or svc not in (nod, nod + too_big):
    bad.append("services %d, nodes %d, forwarded %d, too-big replies %d" % (svc, nod, s["forwarded"], too_big))
per = []
for n in nodes:
    d = json.load(open("%s/dc.%s.final" % (w, n)))
    t0 = json.load(open("%s/dc.%s.t0.after" % (w, n)))
    got = d["delivered"] - t0["delivered"]
    lost = d["socket_drops"]
    fwd = s["nodes"][n]["packets"]
    per.append("%s %d/%d%s" % (n, got, fwd, " (+%d dropped at the decapsulator's full socket)" % lost if lost else ""))
    # the uploads of test 6 are fast for a Python decapsulator on a busy
    # machine: what its sockets could not queue is counted by the kernel
    # (SO_RXQ_OVFL) and allowed for
    if got + lost != fwd:
        bad.append("%s: cnmux forwarded %d, decapsulated %d, dropped at the socket %d" % (n, fwd, got, lost))
    if d["bad"] or d["deviations"]:
        bad.append("%s: bad %s, deviations %s" % (n, d["bad"], d["deviations"]))
drops = {k: v for k, v in s.get("drops", {}).items() if v}
try:
    log = open(logf).read()
except OSError:
    log = ""
m = re.search(r"cnmux: (\d+) received, (\d+) forwarded, (\d+) local, (\d+) dropped "
              r"\(received = forwarded \+ local \+ dropped: (\w+)\)", log)
if stop_rc != "0" or not m or m.group(5) != "yes":
    bad.append("stop: exit status %s, final report %s" % (stop_rc, m.group(0) if m else "missing"))
# the final statistics (--stats-json): the same books, and icmp_too_big is
# every local answer that was not an ARP or echo reply
ftb = "?"
try:
    fs = json.load(open(finalf))
    if fs["rx"] != fs["forwarded"] + fs["local"] + fs["dropped"] or fs["rx"] < s["rx"]:
        bad.append("--stats-json: rx %d, forwarded %d, local %d, dropped %d" % (
            fs["rx"], fs["forwarded"], fs["local"], fs["dropped"]))
    if "icmp_too_big" in fs:
        ftb = fs["icmp_too_big"]
        if ftb != fs["local"] - fs["arp_replies"] - fs["icmp_replies"] or ftb < 1:
            bad.append("--stats-json: icmp_too_big %d, local %d, arp_replies %d, icmp_replies %d" % (
                ftb, fs["local"], fs["arp_replies"], fs["icmp_replies"]))
except (OSError, ValueError, KeyError) as e:
    bad.append("--stats-json: %r" % e)
print("%s rx %d = forwarded %d + local %d + dropped %d (drops: %s); services %d = nodes %d%s = "
      "forwarded%s; per node decapsulated/forwarded %s; SIGINT: exit status %s, accounting %s, "
      "icmp_too_big %s (--stats-json)%s" % (
      "FAIL" if bad else "PASS", s["rx"], s["forwarded"], s["local"], s["dropped"],
      json.dumps(drops, sort_keys=True) if drops else "none", svc, nod,
      " + %d too-big replies" % too_big if svc != nod else "", "" if svc != nod else "", ", ".join(per), stop_rc,
      m.group(5) if m else "?", ftb, "; " + "; ".join(bad) if bad else ""))
PY
)
    result 7 "accounting" "${verdict%% *}" "${verdict#* }"
}
t7

elapsed=$("$PY" -c "import time; print('%.0f' % (time.time() - $T_START))")
log "decapsulation: $DECAP_MSG"
log "$PASSED passed, $FAILED failed in ${elapsed} s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
