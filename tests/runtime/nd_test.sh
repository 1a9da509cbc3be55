#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# IPv6 neighbour discovery with real kernels (issue 13, item 1):
#
#   nd_test.sh CNMUX CNMUXCTL
#
# Namespaces: LB (cnmux), N1 and N2 (IPv6 nodes 2001:db8:1::11 and ::12,
# without "mac" in the config) and R (an upstream router: a kernel with an
# on-link route to the IPv6 VIP). In LB a bridge joins cnmux's private port
# (net_af_packet on a veth) and the nodes' veths; cnmux's public port is
# net_af_packet on a veth whose peer is in R. LB's own kernel has IPv6 off,
# so every solicitation on the segment is cnmux's or a node's.
#
# Checked:
#   1. without "health": both nodes resolved by neighbour solicitation (node
#      show: the MAC of each node's interface) and up, and an ipip node whose
#      IPv6 gateway is node1's address resolved to node1's MAC; each node's neighbour
#      cache holds cnmux's link-local address (EUI-64 of the private port's
#      MAC) at that MAC: the solicitation came from it, with its option;
#   2. the router pings the VIP: its kernel resolves the VIP by ND (cnmux
#      answers: the router's cache says VIP at the public port's MAC) and
#      the echo is answered; nd_replies > 0;
#   3. 40 TCP SYNs from the router to the VIP reach the nodes (counted by a
#      sniffer in each node namespace), as cnmux's per-node counters say;
#   4. node2's MAC changed (its kernel sends an unsolicited advertisement,
#      ndisc_notify): cnmux follows it without any probe (no "health");
#   5. reload with "health" (200/150/2/3): node2's link down -> node2 down
#      ("no ND advertisement"), link up -> up again; times printed;
#   6. the nodes' own solicitations for cnmux's link-local address (their
#      reachability check of it) are answered: health_nd_answered > 0, the
#      node's entry for it not FAILED;
#   7. SIGINT: exit status 0, no sanitizer report.
# Needs root (netns, veth, bridge) and scapy under /usr/bin/python3: skipped
# (exit 77) without. KEEP_TMP=1 keeps the work directory.
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

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    cnm_skip "runtime_nd needs root and iproute2"
fi
"$py" -c 'import scapy' 2>/dev/null || cnm_skip "runtime_nd needs scapy under $py"

interval=200; timeout_ms=150; rise=2; fall=3
slack_ms=1500
vip=2001:db8:100::10
tag=$(cnm_run_id)
ns_lb=cnmnd$tag-lb; ns_n1=cnmnd$tag-n1; ns_n2=cnmnd$tag-n2; ns_r=cnmnd$tag-r
v_p=nd${tag}p; v_pb=nd${tag}pb      # cnmux's private port / its bridge side
v_1=nd${tag}n1; v_1b=nd${tag}b1
v_2=nd${tag}n2; v_2b=nd${tag}b2
v_u=nd${tag}u; v_r=nd${tag}r        # cnmux's public port / the router's side
prefix=cnmnd-$tag
tmp=$(mktemp -d /tmp/cnmnd.XXXXXX)
sock=$tmp/ctl.sock
pid=""
spids=()

cleanup() {
    local p
    for p in "${spids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    for n in "$ns_lb" "$ns_n1" "$ns_n2" "$ns_r"; do ip netns del "$n" 2>/dev/null; done
    rm -rf "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix" 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "nd: kept $tmp"; else rm -rf "$tmp"; fi
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
now_ms() { local t=${EPOCHREALTIME/./}; t=${t#0}; echo $((t / 1000)); }
stat_of() { # KEY: a scalar of `cnmuxctl -j stats`
    cnmctl -j stats | "$py" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# ---------------------------------------------------------------- network
ip netns add "$ns_lb" || cnm_skip "runtime_nd cannot create a network namespace"
for n in "$ns_n1" "$ns_n2" "$ns_r"; do ip netns add "$n" || die "netns add $n"; done
ip netns exec "$ns_lb" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
for n in "$ns_n1" "$ns_n2" "$ns_r"; do
    # addresses usable at once (no DAD), no router solicitations; a node
    # announces a new MAC with an unsolicited advertisement (ndisc_notify);
    # its address stays when its link goes down and up (keep_addr_on_down)
    ip netns exec "$n" sysctl -q -w net.ipv6.conf.all.accept_dad=0 \
        net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.default.router_solicitations=0 \
        net.ipv6.conf.all.ndisc_notify=1 net.ipv6.conf.default.ndisc_notify=1 \
        net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1 >/dev/null ||
        die "sysctl in $n"
done
for n in "$ns_lb" "$ns_n1" "$ns_n2" "$ns_r"; do ip -n "$n" link set lo up; done
ip -n "$ns_lb" link add br0 type bridge || cnm_skip "runtime_nd cannot create a bridge"
ip -n "$ns_lb" link set br0 type bridge stp_state 0 forward_delay 0 2>/dev/null
ip -n "$ns_lb" link add "$v_p" type veth peer name "$v_pb" || cnm_skip "runtime_nd cannot create a veth pair"
ip -n "$ns_lb" link add "$v_1" type veth peer name "$v_1b" || die "veth $v_1"
ip -n "$ns_lb" link add "$v_2" type veth peer name "$v_2b" || die "veth $v_2"
ip -n "$ns_lb" link add "$v_u" type veth peer name "$v_r" || die "veth $v_u"
ip -n "$ns_lb" link set "$v_1" netns "$ns_n1" || die "move $v_1"
ip -n "$ns_lb" link set "$v_2" netns "$ns_n2" || die "move $v_2"
ip -n "$ns_lb" link set "$v_r" netns "$ns_r" || die "move $v_r"
for i in "$v_pb" "$v_1b" "$v_2b"; do
    ip -n "$ns_lb" link set "$i" master br0 || die "enslave $i"
    ip -n "$ns_lb" link set "$i" up || die "up $i"
done
for i in "$v_p" "$v_u" br0; do ip -n "$ns_lb" link set "$i" up || die "up $i"; done
ip -n "$ns_n1" addr add 2001:db8:1::11/64 dev "$v_1" nodad || die "addr node1"
ip -n "$ns_n2" addr add 2001:db8:1::12/64 dev "$v_2" nodad || die "addr node2"
ip -n "$ns_r" addr add 2001:db8:2::1/64 dev "$v_r" nodad || die "addr router"
# a node checks the reachability of a neighbour it answered (cnmux's
# link-local address, item 6) delay_first_probe_time after it first used the
# entry: 1 s rather than the default 5 s, so item 6 waits for it briefly
ip netns exec "$ns_n1" sysctl -q -w "net.ipv6.neigh.$v_1.delay_first_probe_time=1" >/dev/null ||
    die "delay_first_probe_time on $v_1"
ip netns exec "$ns_n2" sysctl -q -w "net.ipv6.neigh.$v_2.delay_first_probe_time=1" >/dev/null ||
    die "delay_first_probe_time on $v_2"
ip -n "$ns_n1" link set "$v_1" up || die "up $v_1"
ip -n "$ns_n2" link set "$v_2" up || die "up $v_2"
ip -n "$ns_r" link set "$v_r" up || die "up $v_r"
# the VIP is on the router's link (cnmux's public port): resolved by ND
ip -n "$ns_r" -6 route add "$vip/128" dev "$v_r" || die "route to the VIP"
mac1=$(ip netns exec "$ns_n1" cat "/sys/class/net/$v_1/address")
mac2=$(ip netns exec "$ns_n2" cat "/sys/class/net/$v_2/address")
mac_p=$(ip netns exec "$ns_lb" cat "/sys/class/net/$v_p/address")
mac_u=$(ip netns exec "$ns_lb" cat "/sys/class/net/$v_u/address")
ll_p=$("$py" -c 'import ipaddress, sys
m = bytes.fromhex(sys.argv[1].replace(":", ""))
print(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + bytes([m[0] ^ 2]) + m[1:3] + b"\xff\xfe" + m[3:]))' "$mac_p")

# ---------------------------------------------------------------- cnmux
cat >"$tmp/config.json" <<EOF
{ "ports": { "public": "net_af_packet0", "private": ["net_af_packet1"] },
  "nodes": [
    { "name": "node1", "ip": "2001:db8:1::11" },
    { "name": "node2", "ip": "2001:db8:1::12" },
    { "name": "tun6", "ip": "2001:db8:9::1", "forward": "ipip", "gateway": "2001:db8:1::11" } ],
  "tunnel": { "source6": "2001:db8:ff::1" },
  "services": [
    { "name": "web6", "vip": "$vip", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "node1": 1, "node2": 1 } } ],
  "pdt_size": 1024,
  "control": { "socket": "$sock" } }
EOF
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
ip netns exec "$ns_lb" "$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" \
    --log-level=lib.eal:error \
    --vdev "net_af_packet0,iface=$v_u,qpairs=1" \
    --vdev "net_af_packet1,iface=$v_p,qpairs=1" \
    -- --config "$tmp/config.json" >"$tmp/cnmux.out" 2>"$tmp/cnmux.err" &
pid=$!
t_start=$(now_ms)
end=$((SECONDS + 120))
until cnmctl stats >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; die "cnmux exited early (status $?)"; }
    [ $SECONDS -lt $end ] || die "the control socket did not answer within 120 s"
    sleep 0.1
done

node_field() { # NODE: sets UP and MAC from node show
    local j
    j=$(cnmctl -j node show "$1" 2>&1) || die "node show $1: $j"
    [[ $j =~ \"up\":(true|false) ]] || die "no up in: $j"
    UP=${BASH_REMATCH[1]}
    if [[ $j =~ \"mac\":\"([0-9a-f:]+)\" ]]; then MAC=${BASH_REMATCH[1]}; else MAC=null; fi
}
wait_for() { # NODE UP-WANTED MAC-WANTED(or -) DEADLINE_MS: $WAITED = ms taken
    local t0
    t0=$(now_ms)
    while :; do
        node_field "$1"
        WAITED=$(( $(now_ms) - t0 ))
        [ "$UP" = "$2" ] && { [ "$3" = - ] || [ "$MAC" = "$3" ]; } && return 0
        [ $WAITED -le "$4" ] || return 1
        kill -0 "$pid" 2>/dev/null || die "cnmux exited"
        sleep 0.05
    done
}
log_has() { grep -q -- "$1" "$tmp/cnmux.err" "$tmp/cnmux.out"; }

# ---------------------------------------------------------------- 1. resolved by ND
wait_for node1 true "$mac1" 20000 || die "node1 not resolved within 20 s (up $UP, mac $MAC, interface $mac1)"
wait_for node2 true "$mac2" 20000 || die "node2 not resolved within 20 s (up $UP, mac $MAC, interface $mac2)"
t_up=$(( $(now_ms) - t_start ))
log_has "node node1 resolved, up" || die "no 'node node1 resolved, up' in the log"
# a tunnelled node behind an IPv6 gateway (node1's address) takes its MAC
wait_for tun6 true "$mac1" 5000 || die "tun6 (gateway 2001:db8:1::11) not resolved to $mac1 (up $UP, mac $MAC)"
for n in "$ns_n1" "$ns_n2"; do
    ip -n "$n" -6 neigh show | grep -qi "^$ll_p .*lladdr $mac_p" ||
        die "$n's neighbour cache has no $ll_p at $mac_p: $(ip -n "$n" -6 neigh show)"
done
sent=$(stat_of health_nd_sent); got=$(stat_of health_nd_replies)
[ "$sent" -ge 2 ] && [ "$got" -ge 2 ] || die "health_nd_sent $sent, health_nd_replies $got"
echo "nd: 1. node1 ($mac1), node2 ($mac2) and tun6's IPv6 gateway resolved by NS from $ll_p and up" \
     "${t_up} ms after cnmux was started (health_nd_sent $sent, health_nd_replies $got)"

# ---------------------------------------------------------------- 2. the router reaches the VIP
ip netns exec "$ns_r" ping -6 -c 3 -i 0.2 -W 2 "$vip" >"$tmp/ping.out" 2>&1 ||
    die "the router cannot ping the VIP: $(cat "$tmp/ping.out")"
ip -n "$ns_r" -6 neigh show "$vip" | grep -qi "lladdr $mac_u" ||
    die "the router's cache for the VIP: '$(ip -n "$ns_r" -6 neigh show "$vip")', expected lladdr $mac_u"
ndr=$(stat_of nd_replies)
[ "$ndr" -ge 1 ] || die "nd_replies = $ndr after the router resolved the VIP"
echo "nd: 2. the router resolved the VIP by ND (at $mac_u, nd_replies $ndr) and pinged it: $(grep -o '[0-9]* received' "$tmp/ping.out")"

# ---------------------------------------------------------------- 3. traffic to the nodes
sniff() { # NS IFACE OUT: count TCP frames to the VIP until SIGTERM
    ip netns exec "$1" "$py" -c '
import ipaddress, signal, socket, sys
vip = ipaddress.ip_address(sys.argv[2]).packed
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x86dd))
s.bind((sys.argv[1], 0))
n = 0
def done(*_):
    open(sys.argv[3], "w").write("%d\n" % n)
    sys.exit(0)
signal.signal(signal.SIGTERM, done)
open(sys.argv[3] + ".ready", "w").close()
while True:
    f = s.recv(2048)
    if len(f) >= 54 and f[38:54] == vip and f[20] == 6:
        n += 1' "$2" "$vip" "$3" &
    spids+=($!)
}
sniff "$ns_n1" "$v_1" "$tmp/n1.count"
sniff "$ns_n2" "$v_2" "$tmp/n2.count"
end=$((SECONDS + 20))
until [ -f "$tmp/n1.count.ready" ] && [ -f "$tmp/n2.count.ready" ]; do
    [ $SECONDS -lt $end ] || die "the sniffers did not start"
    sleep 0.1
done
fw0=$(stat_of forwarded)
ip netns exec "$ns_r" "$py" - "$v_r" "$mac_u" "$vip" <<'PYEOF' || die "cannot send the SYNs (scapy)"
import sys, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Ether, IPv6, TCP, sendp
iface, mac, vip = sys.argv[1:4]
sendp([Ether(dst=mac) / IPv6(src="2001:db8:2::%x" % (0x100 + i), dst=vip) /
       TCP(sport=40000 + i, dport=80, flags="S") for i in range(40)], iface=iface, verbose=False)
PYEOF
end=$((SECONDS + 10))
until [ $(( $(stat_of forwarded) - fw0 )) -ge 40 ]; do
    [ $SECONDS -lt $end ] || die "forwarded went from $fw0 to $(stat_of forwarded), expected +40"
    sleep 0.1
done
sleep 0.5
for p in "${spids[@]}"; do kill "$p"; wait "$p" 2>/dev/null; done
spids=()
c1=$(cat "$tmp/n1.count"); c2=$(cat "$tmp/n2.count")
node_pkts() {
    cnmctl -j stats | "$py" -c 'import json, sys; print(json.load(sys.stdin)["nodes"][sys.argv[1]]["packets"])' "$1"
}
s1=$(node_pkts node1); s2=$(node_pkts node2)
[ $((c1 + c2)) = 40 ] || die "the nodes received $c1 + $c2 SYNs, expected 40"
[ "$c1" = "$s1" ] && [ "$c2" = "$s2" ] || die "received $c1 / $c2, cnmux counted $s1 / $s2"
[ "$c1" -gt 0 ] && [ "$c2" -gt 0 ] || die "one node got every SYN ($c1 / $c2)"
echo "nd: 3. 40 SYNs to the VIP: node1 received $c1, node2 $c2 (cnmux's counters agree)"

# ---------------------------------------------------------------- 4. unsolicited advertisement
newmac=02:6e:64:00:00:12
ip -n "$ns_n2" link set "$v_2" address "$newmac" || die "set node2's MAC"
wait_for node2 true "$newmac" 5000 || die "node2's MAC still $MAC ${WAITED} ms after it changed to $newmac"
log_has "node node2 moved to another MAC" || die "no 'node node2 moved to another MAC' in the log"
echo "nd: 4. node2's MAC changed: cnmux follows its unsolicited advertisement after ${WAITED} ms (no probes running)"

# ---------------------------------------------------------------- 5. probes
"$py" -c 'import json, sys
c = json.load(open(sys.argv[1]))
c["health"] = {"interval_ms": int(sys.argv[3]), "timeout_ms": int(sys.argv[4]),
               "rise": int(sys.argv[5]), "fall": int(sys.argv[6])}
json.dump(c, open(sys.argv[2], "w"))' "$tmp/config.json" "$tmp/health.json" \
    $interval $timeout_ms $rise $fall || die "cannot write health.json"
out=$(cnmctl reload "$tmp/health.json" 2>&1) || die "reload health.json: $out"
down_bound=$((fall * interval + interval + timeout_ms + slack_ms))
up_bound=$((rise * interval + 2 * interval + timeout_ms + slack_ms))
sleep $(( (rise + 2) * interval / 1000 + 1 ))
node_field node1; [ "$UP" = true ] || die "node1 went down once probes started"
node_field node2; [ "$UP" = true ] || die "node2 went down once probes started"
ip -n "$ns_n2" link set "$v_2" down || die "link down $v_2"
wait_for node2 false - $down_bound || die "node2 still up ${WAITED} ms after its link went down (bound $down_bound ms)"
t_down=$WAITED
log_has "node node2 down (3 checks failed: no ND advertisement)" ||
    die "no 'node node2 down (3 checks failed: no ND advertisement)' in the log"
node_field node1; [ "$UP" = true ] || die "node1 went down with node2"
ip -n "$ns_n2" link set "$v_2" up || die "link up $v_2"
wait_for node2 true - $up_bound || die "node2 not up ${WAITED} ms after its link came back (bound $up_bound ms)"
echo "nd: 5. probes by NS ($interval/$timeout_ms/$rise/$fall): node2's link down: down after ${t_down} ms;" \
     "link up: up after ${WAITED} ms"

# ---------------------------------------------------------------- 6. the nodes reach cnmux's address
# a node that answered checks cnmux's link-local address in turn: a unicast
# NS delay_first_probe_time (1 s, set above) after it first sent to it, which
# may not have passed yet when the steps before ran fast: wait for the
# answer, bounded by that delay, the kernel's retransmissions and slack
t0=$(now_ms)
while ans=$(stat_of health_nd_answered) && [ "$ans" -lt 1 ]; do
    [ $(( $(now_ms) - t0 )) -le 10000 ] ||
        die "health_nd_answered = $ans 10 s after item 5: no node's solicitation for $ll_p was answered"
    sleep 0.1
done
st1=$(ip -n "$ns_n1" -6 neigh show "$ll_p" dev "$v_1")
[[ $st1 == *lladdr* ]] && [[ $st1 != *FAILED* ]] || die "node1's entry for cnmux's $ll_p: '$st1'"
echo "nd: 6. nodes' solicitations for cnmux's $ll_p answered: $ans; node1's entry: $st1"

# ---------------------------------------------------------------- 7. stop
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
echo "nd: the checker's log:"
grep -h 'health:' "$tmp/cnmux.err" "$tmp/cnmux.out" | sed 's/^/    /'
echo "PASS"
