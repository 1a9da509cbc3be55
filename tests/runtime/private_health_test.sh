#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Health checks on the private path (issue 13, item 2), with real kernel nodes:
#
#   private_health_test.sh CNMUX CNMUXCTL
#
# Namespaces LB (cnmux) and two nodes N1, N2. A bridge in LB joins cnmux's
# private port (net_af_packet on a veth) and one veth per node: the private
# segment 192.0.2.0/24, where cnmux's checks come from health.source
# 192.0.2.2 (no kernel has it: cnmux answers ARP for it). Besides, each node
# has a management link to LB's kernel (203.0.113.0/30, .4/30) and LB routes
# the node's 192.0.2.x over it: the "kernel route" that today's connect()
# check takes. Each node listens on TCP 8080.
#
# Checked, with health {interval 300, timeout 250, rise 2, fall 3}:
#   1. node1 (icmp) and node2 (tcp half-open) come up; the nodes resolved
#      192.0.2.2 to cnmux's port; node2 holds at most one half-open connection at a time (RST);
#   2. tcp: node2's listener killed: down ("TCP RST"); back: up;
#   3. icmp: node1 ignores echo requests: down ("no echo reply"); back: up;
#      `node show` gives the check's last round, its reason and the run;
#   4. the private links cut (bridge ports detached), the kernel route kept:
#      node1 (icmp) goes down; node2 switched to "connect" at run time
#      (`node check`) stays up; switched back to "tcp", it goes down;
#   5. the notify hook got NODE STATE REASON for each change;
#   6. a script check: up while it exits 0, down when not;
#   7. a hanging script is killed at its timeout_ms (its children too),
#      the node goes down, and `cnmuxctl stats` answers promptly meanwhile;
#   8. a malformed echo reply to 192.0.2.2 is ignored and counted;
#   9. http GET on the private path: 500 takes node1 down, 200 up; a hanging
#      server takes it down while `cnmuxctl stats` and `node weight` (a new
#      PDT through an RCU grace period) answer promptly;
#  9b. https: the same over TLS (a self-signed server): 503 down, 200 up; a
#      plain HTTP server asked for TLS: down (the handshake fails);
#  10. an ipip node (added with `node add --check`) is checked through its
#      tunnel: up only while the node decapsulates;
#  11. an IPv6 node: ICMPv6 echo from health.source6 brings it up (cnmux
#      answers the node's solicitation for that address); a tcp check of a
#      closed port takes it down (RST);
#  12. bad input to `node check` is refused and changes nothing; SIGINT: 0.
# Needs root (netns, veth, bridge, TUN), scapy and ethtool: skipped (77) without.
# Environment: KEEP_TMP=1 keeps the work directory.
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
    cnm_skip "runtime_private_health needs root and iproute2"
fi
"$py" -c 'import scapy' 2>/dev/null || cnm_skip "runtime_private_health needs scapy (python3-scapy)"

# timeout 250 ms: a node's answer late by a loaded 2-CPU machine is not a failure
interval=300; timeout_ms=250; rise=2; fall=3; port=8080
slack_ms=1500
tag=$(cnm_run_id)
ns_lb=cnmp$tag-lb; ns_n1=cnmp$tag-n1; ns_n2=cnmp$tag-n2
v_p=cp${tag}p; v_pb=cp${tag}pb      # cnmux's private port / its bridge side
v_1=cp${tag}n1; v_1b=cp${tag}b1     # node1's private interface / its bridge side
v_2=cp${tag}n2; v_2b=cp${tag}b2
m_1=cp${tag}m1; m_1n=cp${tag}k1     # management links: LB side / node side
m_2=cp${tag}m2; m_2n=cp${tag}k2
prefix=cnmphc-$tag
tmp=$(mktemp -d /tmp/cnmphc.XXXXXX)
sock=$tmp/ctl.sock
pid=""
declare -A lpid=()

cleanup() {
    local p
    for p in "${lpid[@]}"; do kill "$p" 2>/dev/null; done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    for p in "${lpid[@]}"; do wait "$p" 2>/dev/null; done
    ip netns del "$ns_lb" 2>/dev/null
    ip netns del "$ns_n1" 2>/dev/null
    ip netns del "$ns_n2" 2>/dev/null
    rm -rf "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix" 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "private_health: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

die() {
    echo "FAIL: $*"
    if [ -n "$pid" ] && [ -S "$sock" ]; then
        echo "--- health counters"
        "$ctl" -s "$sock" -j stats 2>/dev/null | "$py" -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s=%s" % (k[7:], v) for k, v in d.items() if k.startswith("health_")))' 2>/dev/null
    fi
    if [ -f "$tmp/cnmux.out" ]; then
        echo "--- cnmux stdout (tail)"; tail -n 20 "$tmp/cnmux.out"
        echo "--- cnmux stderr (tail)"; tail -n 30 "$tmp/cnmux.err"
    fi
    exit 1
}
cnmctl() { "$ctl" -s "$sock" "$@"; }
now_ms() { local t=${EPOCHREALTIME/./}; t=${t#0}; echo $((t / 1000)); }

# ---------------------------------------------------------------- network
ip netns add "$ns_lb" || cnm_skip "runtime_private_health cannot create a network namespace"
ip netns add "$ns_n1" || die "netns add $ns_n1"
ip netns add "$ns_n2" || die "netns add $ns_n2"
for n in "$ns_lb" "$ns_n1" "$ns_n2"; do
    ip netns exec "$n" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 net.ipv4.conf.all.rp_filter=0 \
        net.ipv4.conf.default.rp_filter=0 >/dev/null 2>&1
    ip -n "$n" link set lo up
done
ip -n "$ns_lb" link add br0 type bridge || cnm_skip "runtime_private_health cannot create a bridge"
ip -n "$ns_lb" link set br0 type bridge stp_state 0 forward_delay 0 2>/dev/null
ip -n "$ns_lb" link add "$v_p" type veth peer name "$v_pb" || cnm_skip "cannot create a veth pair"
ip -n "$ns_lb" link add "$v_1" type veth peer name "$v_1b" || die "veth $v_1"
ip -n "$ns_lb" link add "$v_2" type veth peer name "$v_2b" || die "veth $v_2"
ip -n "$ns_lb" link add "$m_1" type veth peer name "$m_1n" || die "veth $m_1"
ip -n "$ns_lb" link add "$m_2" type veth peer name "$m_2n" || die "veth $m_2"
ip -n "$ns_lb" link set "$v_1" netns "$ns_n1" || die "move $v_1"
ip -n "$ns_lb" link set "$m_1n" netns "$ns_n1" || die "move $m_1n"
ip -n "$ns_lb" link set "$v_2" netns "$ns_n2" || die "move $v_2"
ip -n "$ns_lb" link set "$m_2n" netns "$ns_n2" || die "move $m_2n"
for i in "$v_pb" "$v_1b" "$v_2b"; do
    ip -n "$ns_lb" link set "$i" master br0 || die "enslave $i"
    ip -n "$ns_lb" link set "$i" up || die "up $i"
done
ip -n "$ns_lb" link set "$v_p" up || die "up $v_p"
ip -n "$ns_lb" link set br0 up || die "up br0"
# the kernel route: LB reaches 192.0.2.11 / .12 over the management links
ip -n "$ns_lb" addr add 203.0.113.1/30 dev "$m_1" || die "addr $m_1"
ip -n "$ns_lb" addr add 203.0.113.5/30 dev "$m_2" || die "addr $m_2"
ip -n "$ns_lb" link set "$m_1" up && ip -n "$ns_lb" link set "$m_2" up || die "up mgmt"
ip -n "$ns_n1" addr add 192.0.2.11/24 dev "$v_1" || die "addr node1"
ip -n "$ns_n2" addr add 192.0.2.12/24 dev "$v_2" || die "addr node2"
ip -n "$ns_n1" addr add 203.0.113.2/30 dev "$m_1n" || die "addr node1 mgmt"
ip -n "$ns_n2" addr add 203.0.113.6/30 dev "$m_2n" || die "addr node2 mgmt"
for l in "$ns_n1 $v_1" "$ns_n1 $m_1n" "$ns_n2 $v_2" "$ns_n2 $m_2n"; do
    set -- $l; ip -n "$1" link set "$2" up || die "up $2"
done
# a veth leaves TCP checksums to an offload that never happens: cnmux's
# af_packet port would read SYN-ACKs with a partial checksum (and count them
# invalid); a NIC on a wire computes them
for l in "$ns_n1 $v_1" "$ns_n2 $v_2" "$ns_lb $v_p"; do
    set -- $l; ip netns exec "$1" ethtool -K "$2" tx off rx off >/dev/null 2>&1 ||
        cnm_skip "runtime_private_health needs ethtool to turn checksum offload off"
done
ip -n "$ns_lb" route add 192.0.2.11/32 via 203.0.113.2 || die "route node1"
ip -n "$ns_lb" route add 192.0.2.12/32 via 203.0.113.6 || die "route node2"
cnmux_mac=$(ip netns exec "$ns_lb" cat "/sys/class/net/$v_p/address")

listen() { # NODE-NUMBER: a TCP listener on 8080 (every address), accepts and closes
    local n=$1 ns
    if [ "$n" = 1 ]; then ns=$ns_n1; else ns=$ns_n2; fi
    ip netns exec "$ns" "$py" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()' "$port" &
    lpid[$n]=$!
}
listening() { # NODE-NUMBER: accepts, from LB's kernel (the management route)
    ip netns exec "$ns_lb" "$py" -c '
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()' "192.0.2.1$1" "$port" 2>/dev/null
}
listen 1
listen 2
for n in 1 2; do
    end=$((SECONDS + 30))
    until listening $n; do
        [ $SECONDS -lt $end ] || die "node$n's listener does not accept over the kernel route within 30 s"
        sleep 0.1
    done
done

# ---------------------------------------------------------------- cnmux
"$py" - "$tmp/in.pcap" <<'EOF' || die "cannot write the capture (scapy)"
import sys
from scapy.all import IP, TCP, Ether, wrpcap
wrpcap(sys.argv[1], [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:fe") /
                     IP(src="203.0.113.99", dst="198.51.100.10") / TCP(sport=40000, dport=80, flags="S")])
EOF
cat >"$tmp/notify.sh" <<EOF
#!/bin/sh
echo "\$#|\$1|\$2|\$3" >> "$tmp/notify.log"
EOF
chmod +x "$tmp/notify.sh"
cat >"$tmp/config.json" <<EOF
{ "ports": { "public": "net_pcap0", "private": ["net_af_packet1"] },
  "nodes": [
    { "name": "node1", "ip": "192.0.2.11", "check": { "type": "icmp" } },
    { "name": "node2", "ip": "192.0.2.12", "check": { "type": "tcp", "port": $port } } ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "node1": 1, "node2": 1 } } ],
  "control": { "socket": "$sock" },
  "tunnel": { "source4": "192.0.2.3" },
  "health": { "interval_ms": $interval, "timeout_ms": $timeout_ms, "rise": $rise, "fall": $fall,
              "source": "192.0.2.2", "source6": "2001:db8::2", "notify": "$tmp/notify.sh" } }
EOF
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
ip netns exec "$ns_lb" "$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" \
    --log-level=lib.eal:error \
    --vdev "net_pcap0,rx_pcap=$tmp/in.pcap" \
    --vdev "net_af_packet1,iface=$v_p,qpairs=1" \
    -- --config "$tmp/config.json" >"$tmp/cnmux.out" 2>"$tmp/cnmux.err" &
pid=$!
end=$((SECONDS + 120))
until cnmctl stats >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; die "cnmux exited early (status $?)"; }
    [ $SECONDS -lt $end ] || die "the control socket did not answer within 120 s"
    sleep 0.1
done

# ---------------------------------------------------------------- helpers
node_up() { # NODE: true / false
    local j
    j=$(cnmctl -j node show "$1" 2>&1) || die "node show $1: $j"
    [[ $j =~ \"up\":(true|false) ]] || die "no up in: $j"
    echo "${BASH_REMATCH[1]}"
}
wait_state() { # NODE true|false DEADLINE_MS; $WAITED = ms taken
    local t0 now
    t0=$(now_ms)
    while :; do
        UP=$(node_up "$1")
        now=$(now_ms)
        WAITED=$((now - t0))
        [ "$UP" = "$2" ] && return 0
        [ $WAITED -le "$3" ] || return 1
        kill -0 "$pid" 2>/dev/null || die "cnmux exited"
        sleep 0.05
    done
}
counter() { # NAME: health_NAME from cnmuxctl -j stats
    cnmctl -j stats | "$py" -c 'import json, sys; print(json.load(sys.stdin)["health_" + sys.argv[1]])' "$1" ||
        die "no health_$1 in cnmuxctl -j stats"
}
log_has() { grep -q -- "$1" "$tmp/cnmux.err" "$tmp/cnmux.out"; }
check() { # NODE JSON: node check, must succeed
    local out
    out=$(cnmctl node check "$1" "$2" 2>&1) || die "node check $1 $2: $out"
}

down_bound=$((fall * interval + interval + timeout_ms + slack_ms))
up_bound=$((rise * interval + interval + timeout_ms + slack_ms))
echo "private_health: interval $interval ms, timeout $timeout_ms ms, rise $rise, fall $fall;" \
     "bounds: down <= $down_bound ms, up <= $up_bound ms"

# ---------------------------------------------------------------- 1. up
for n in node1 node2; do
    wait_state $n true 20000 || die "$n not up within 20 s of start"
done
[ "$(counter icmp_replies)" -gt 0 ] || die "node1 up without an echo reply counted"
[ "$(counter syn_acks)" -gt 0 ] || die "node2 up without a SYN-ACK counted"
[ "$(counter source_answered)" -gt 0 ] || die "no ARP request for 192.0.2.2 answered"
for n in 1 2; do
    ns=$ns_n1; [ $n = 2 ] && ns=$ns_n2
    nb=$(ip -n "$ns" neigh show 192.0.2.2)
    [[ $nb == *"$cnmux_mac"* ]] || die "node$n resolved 192.0.2.2 to '$nb', cnmux's port is $cnmux_mac"
done
# without the RST, node2 would hold one half-open connection per source port
# of the check (8 in turn) for a minute; with it, one at most, briefly
half=0
for i in 1 2 3 4 5; do
    n=$(ip netns exec "$ns_n2" ss -Htn state syn-recv "( sport = :$port )" | wc -l)
    [ "$n" -gt "$half" ] && half=$n
    sleep 0.3
done
[ "$half" -le 2 ] || die "node2 holds $half half-open connections: the SYN-ACKs were not answered with RST"
echo "private_health: 1. node1 (icmp) and node2 (tcp half-open) up; 192.0.2.2 at $cnmux_mac on both nodes; at most $half half-open connection(s) at node2 (RST)"

# ---------------------------------------------------------------- 2. tcp
kill "${lpid[2]}"; wait "${lpid[2]}" 2>/dev/null; unset "lpid[2]"
wait_state node2 false $down_bound || die "node2 (tcp) still up ${WAITED} ms after its listener died"
t=$WAITED
# the reason is the last round's: its RST, or none in time on a loaded machine
grep -E -q "health: node node2 down \(3 checks failed: (TCP RST \(port closed\)|no SYN-ACK)\)" \
    "$tmp/cnmux.out" "$tmp/cnmux.err" || die "no 'node node2 down (3 checks failed: TCP RST (port closed))' in the log"
[ "$(counter syn_rsts)" -gt 0 ] || die "no RST counted"
[ "$(node_up node1)" = true ] || die "node1 went down with node2"
listen 2
wait_state node2 true $up_bound || die "node2 (tcp) not up ${WAITED} ms after its listener came back"
echo "private_health: 2. tcp: listener killed: node2 down after $t ms; back: up after $WAITED ms"

# ---------------------------------------------------------------- 3. icmp
ip netns exec "$ns_n1" sysctl -q -w net.ipv4.icmp_echo_ignore_all=1 || die "sysctl"
wait_state node1 false $down_bound || die "node1 (icmp) still up ${WAITED} ms after it stopped answering echo"
t=$WAITED
log_has "health: node node1 down (3 checks failed: no echo reply)" ||
    die "no 'node node1 down (3 checks failed: no echo reply)' in the log"
# node show: the check as it runs, its last round and the rounds in a row
health_of() { # NODE: "CHECK RESULT IN_A_ROW REASON" of node show's "health"
    cnmctl -j node show "$1" | "$py" -c 'import json, sys
h = json.load(sys.stdin)["nodes"][0]["health"]
last = h["last"] or {}
res = last.get("result", "none")
print(h["check"], res, h["passed_in_a_row" if res == "passed" else "failed_in_a_row"],
      last.get("reason") or "-")'
}
read -r hc_check hc_res hc_run hc_why <<<"$(health_of node1)"
[ "$hc_check $hc_res $hc_why" = "icmp failed no echo reply" ] && [ "$hc_run" -ge "$fall" ] ||
    die "node show node1: health '$hc_check $hc_res $hc_run $hc_why', expected 'icmp failed >=$fall no echo reply'"
cnmctl node show node1 | grep -q "failed x[0-9]*: no echo reply" ||
    die "node show node1 (table) has no 'failed xN: no echo reply': $(cnmctl node show node1)"
ip netns exec "$ns_n1" sysctl -q -w net.ipv4.icmp_echo_ignore_all=0 || die "sysctl"
wait_state node1 true $up_bound || die "node1 (icmp) not up ${WAITED} ms after it answered again"
read -r hc_check hc_res hc_run hc_why <<<"$(health_of node1)"
[ "$hc_check $hc_res $hc_why" = "icmp passed -" ] && [ "$hc_run" -ge "$rise" ] ||
    die "node show node1: health '$hc_check $hc_res $hc_run $hc_why', expected 'icmp passed >=$rise -'"
echo "private_health: 3. icmp: echo ignored: node1 down after $t ms (node show: failed x$fall+, no echo reply); answered again: up after $WAITED ms (passed)"

# ---------------------------------------------------------------- 4. private link cut, kernel route kept
check node2 "{\"type\": \"connect\", \"port\": $port}"
sleep $(( (interval * (rise + 1)) / 1000 + 1 ))
[ "$(node_up node2)" = true ] || die "node2 down under the connect check before anything was cut"
t_cut=$(now_ms)
ip -n "$ns_lb" link set "$v_1b" nomaster || die "nomaster $v_1b"
ip -n "$ns_lb" link set "$v_2b" nomaster || die "nomaster $v_2b"
listening 1 && listening 2 || die "the kernel route does not work with the private links cut"
wait_state node1 false $down_bound || die "node1 (icmp) still up ${WAITED} ms after its private link was cut"
t1=$(( $(now_ms) - t_cut ))
# node2 has had as long as node1 plus two more rounds: the connect check passes
sleep $(( (2 * interval) / 1000 + 1 ))
[ "$(node_up node2)" = true ] || die "node2 (connect) went down: the kernel route still works, so connect() must pass"
check node2 "{\"type\": \"tcp\", \"port\": $port}"
wait_state node2 false $down_bound || die "node2 (tcp) still up ${WAITED} ms after switching to the half-open check with its private link cut"
t2=$WAITED
log_has "health: node node2 down (3 checks failed: no SYN-ACK)" ||
    die "no 'node node2 down (3 checks failed: no SYN-ACK)' in the log"
ip -n "$ns_lb" link set "$v_1b" master br0 || die "master $v_1b"
ip -n "$ns_lb" link set "$v_2b" master br0 || die "master $v_2b"
wait_state node1 true $up_bound || die "node1 not up ${WAITED} ms after its link came back"
wait_state node2 true $up_bound || die "node2 not up ${WAITED} ms after its link came back"
echo "private_health: 4. private links cut, kernel route working: node1 (icmp) down after $t1 ms;" \
     "node2 stayed up under 'connect'; switched to 'tcp': down after $t2 ms; links back: both up"

# ---------------------------------------------------------------- 5. notify
sleep 0.3
for want in "3\|node2\|down\|3 checks failed: (TCP RST \(port closed\)|no SYN-ACK)" \
            "3\|node1\|down\|3 checks failed: no echo reply" \
            "3\|node2\|down\|3 checks failed: no SYN-ACK" \
            "3\|node1\|up\|2 icmp checks passed" \
            "3\|node2\|up\|2 tcp checks passed"; do
    grep -qxE -- "$want" "$tmp/notify.log" || die "notify hook: no line '$want' in: $(cat "$tmp/notify.log")"
done
[ "$(counter notify_runs)" = "$(wc -l <"$tmp/notify.log")" ] ||
    die "notify_runs $(counter notify_runs), the hook wrote $(wc -l <"$tmp/notify.log") lines"
echo "private_health: 5. notify hook: $(wc -l <"$tmp/notify.log") calls with NODE STATE REASON"

# ---------------------------------------------------------------- 6. script
touch "$tmp/ok"
check node1 "{\"type\": \"script\", \"command\": \"test -e $tmp/ok\"}"
sleep $(( (interval * (fall + 1)) / 1000 + 1 ))
[ "$(node_up node1)" = true ] || die "node1 down under a script that exits 0"
rm -f "$tmp/ok"
wait_state node1 false $down_bound || die "node1 (script) still up ${WAITED} ms after its script started failing"
t=$WAITED
log_has "health: node node1 down (3 checks failed: script exited with a status not 0)" ||
    die "no 'script exited with a status not 0' in the log"
touch "$tmp/ok"
wait_state node1 true $up_bound || die "node1 (script) not up ${WAITED} ms after its script passed again"
echo "private_health: 6. script: failing: down after $t ms; passing: up after $WAITED ms"

# ---------------------------------------------------------------- 7. a hanging script
# each round starts the script anew: the first one keeps its pids (mkdir is
# atomic), so the test follows that round, the first that times out
cat >"$tmp/hang.sh" <<EOF
#!/bin/sh
sleep 30 &
if mkdir "$tmp/first" 2>/dev/null; then
    echo \$\$ > "$tmp/hang.pid"
    echo \$! > "$tmp/sleep.pid.new" && mv "$tmp/sleep.pid.new" "$tmp/sleep.pid"
fi
wait
EOF
chmod +x "$tmp/hang.sh"
before=$(counter script_timeouts)
check node1 "{\"type\": \"script\", \"command\": \"$tmp/hang.sh\", \"interval_ms\": 1000, \"timeout_ms\": 800, \"fall\": 1}"
end=$((SECONDS + 10))
until [ -s "$tmp/sleep.pid" ]; do
    [ $SECONDS -lt $end ] || die "the hanging script did not start"
    sleep 0.05
done
hpid=$(cat "$tmp/hang.pid"); spid=$(cat "$tmp/sleep.pid")
max=0
for i in $(seq 1 10); do
    t0=$(now_ms)
    cnmctl stats >/dev/null || die "stats failed while a script hangs"
    d=$(( $(now_ms) - t0 ))
    [ $d -gt $max ] && max=$d
    sleep 0.05
done
[ $max -lt 1000 ] || die "cnmuxctl stats took $max ms while a script hung"
wait_state node1 false 5000 || die "node1 still up ${WAITED} ms with a hanging script (timeout_ms 800, fall 1)"
log_has "script killed at timeout_ms" || die "no 'script killed at timeout_ms' in the log"
[ "$(counter script_timeouts)" -gt "$before" ] || die "script_timeouts did not grow"
# killed: gone, or a zombie until its parent (cnmux for the script, init
# for its child) reaps it, which kill -0 cannot tell from running. The first
# round is the first to time out: once script_timeouts has grown, cnmux has
# sent SIGKILL to its process group and reaped the shell; the rest have 5 s
# to die (a process must be scheduled to act on SIGKILL: a loaded machine)
running() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
procs() { ps -o pid,ppid,pgid,stat,etimes,args -p "$hpid,$spid" 2>&1; ps -e -o pid,ppid,pgid,stat,etimes,args | grep -E '[h]ang.sh|[s]leep 30'; }
t0=$(now_ms)
while { running "$hpid" || running "$spid"; } && [ $(( $(now_ms) - t0 )) -lt 5000 ]; do sleep 0.05; done
! running "$hpid" || die "the hanging script (pid $hpid) still runs 5 s after its round timed out: $(procs)"
! running "$spid" || die "the hanging script's child (pid $spid) still runs 5 s after its round timed out: $(procs)"
echo "private_health: 7. hanging script: killed at its timeout with its child; cnmuxctl stats took at most $max ms meanwhile"
check node1 '{"type": "icmp"}'
wait_state node1 true $up_bound || die "node1 not up ${WAITED} ms after going back to icmp"

# ---------------------------------------------------------------- 8. malformed reply
before=$(counter probe_invalid)
ip netns exec "$ns_n1" "$py" - "$v_1" "$cnmux_mac" <<'EOF' || die "scapy sendp"
import sys
from scapy.all import Ether, IP, ICMP, sendp
sendp(Ether(dst=sys.argv[2]) / IP(src="192.0.2.11", dst="192.0.2.2") /
      ICMP(type=0, id=1, seq=1, chksum=0x1234) / (b"x" * 8), iface=sys.argv[1], verbose=False)
EOF
end=$((SECONDS + 5))
until [ "$(counter probe_invalid)" -gt "$before" ]; do
    [ $SECONDS -lt $end ] || die "a malformed echo reply to 192.0.2.2 was not counted in health_probe_invalid"
    sleep 0.1
done
echo "private_health: 8. a malformed echo reply ignored, counted once in health_probe_invalid"

# ---------------------------------------------------------------- 9. http
echo 200 >"$tmp/http.status"
# the nodes' web server: STATUS-FILE PORT [CERT KEY] (https with them); the
# file's status answers GET /health, "hang" never answers
cat >"$tmp/httpd.py" <<'EOF'
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        st = open(sys.argv[1]).read().strip()
        if st == "hang":
            time.sleep(30)
            return
        self.send_response(int(st) if self.path == "/health" else 404)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[2])), H)
if len(sys.argv) > 3:  # https: the certificate and key
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
ip netns exec "$ns_n1" "$py" "$tmp/httpd.py" "$tmp/http.status" 8081 &
lpid[http]=$!
sleep 1
check node1 '{"type": "http", "port": 8081, "path": "/health"}'
out=$(cnmctl node show node1)
[[ $out == *" http:8081 "* ]] || die "node show does not show node1's check as http:8081: $out"
sleep $(( (interval * (fall + 1)) / 1000 + 1 ))
[ "$(node_up node1)" = true ] || die "node1 down under an http check answered 200"
[ "$(counter http_ok)" -gt 0 ] || die "node1 up under http without a 200 counted"
echo 500 >"$tmp/http.status"
wait_state node1 false $down_bound || die "node1 (http) still up ${WAITED} ms after its server answered 500"
t=$WAITED
log_has "health: node node1 down (3 checks failed: HTTP status 500, expected 200)" ||
    die "no 'HTTP status 500, expected 200' in the log"
echo 200 >"$tmp/http.status"
wait_state node1 true $up_bound || die "node1 (http) not up ${WAITED} ms after its server answered 200 again"
echo "private_health: 9. http GET /health on the private path: 500: down after $t ms; 200: up after $WAITED ms"
# a hanging server: the node goes down; control commands and an RCU update
# (a new weight: a new PDT, published after a grace period) are not delayed
echo hang >"$tmp/http.status"
max=0; maxw=0
for i in $(seq 1 6); do
    t0=$(now_ms)
    cnmctl stats >/dev/null || die "stats failed while the http server hangs"
    d=$(( $(now_ms) - t0 ))
    [ $d -gt $max ] && max=$d
    t0=$(now_ms)
    out=$(cnmctl node weight node2 web $((i % 2 + 1)) 2>&1) || die "node weight while the http server hangs: $out"
    d=$(( $(now_ms) - t0 ))
    [ $d -gt $maxw ] && maxw=$d
    sleep 0.1
done
[ $max -lt 1000 ] && [ $maxw -lt 1000 ] || die "stats took $max ms, node weight $maxw ms while the http server hung"
j=$(cnmctl -j service show web)
[[ $j == *'"node2":{"weight":1'* || $j == *'"weight":1'* ]] || die "the last weight (1) not applied: $j"
wait_state node1 false $down_bound || die "node1 (http) still up ${WAITED} ms with a hanging server"
log_has "node node1 down (3 checks failed: no HTTP response)" || die "no 'no HTTP response' in the log"
echo 200 >"$tmp/http.status"
wait_state node1 true $up_bound || die "node1 not up ${WAITED} ms after its server answered again"
echo "private_health:     hanging server: node1 down; meanwhile stats took at most $max ms, node weight (a PDT through RCU) $maxw ms"

# ---------------------------------------------------------------- 9b. https
# the same GET over TLS (cnmux's TLS client on its own TCP segments): a
# server with a self-signed certificate (not verified, as SSL_GET does by
# default); 503 takes node1 down, 200 brings it back; a plain HTTP server
# asked for TLS fails the handshake
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
    -subj /CN=node1 -days 2 >/dev/null 2>&1 || die "openssl req (a self-signed certificate)"
echo 200 >"$tmp/https.status"
ip netns exec "$ns_n1" "$py" "$tmp/httpd.py" "$tmp/https.status" 8443 "$tmp/cert.pem" "$tmp/key.pem" &
lpid[https]=$!
sleep 1
before=$(counter http_ok)
check node1 '{"type": "https", "port": 8443, "path": "/health"}'
wait_state node1 true $up_bound || die "node1 (https) not up ${WAITED} ms under an https check answered 200"
sleep $(( (interval * (rise + 1)) / 1000 + 1 ))
[ "$(node_up node1)" = true ] || die "node1 went down under an https check answered 200"
[ "$(counter http_ok)" -gt "$before" ] || die "no https 200 counted in health_http_ok"
echo 503 >"$tmp/https.status"
wait_state node1 false $down_bound || die "node1 (https) still up ${WAITED} ms after its server answered 503"
t=$WAITED
log_has "health: node node1 down (3 checks failed: HTTP status 503, expected 200)" ||
    die "no 'HTTP status 503, expected 200' in the log (https)"
echo 200 >"$tmp/https.status"
wait_state node1 true $up_bound || die "node1 (https) not up ${WAITED} ms after its server answered 200 again"
t2=$WAITED
check node1 '{"type": "https", "port": 8081, "path": "/health"}'
wait_state node1 false $down_bound || die "node1 still up ${WAITED} ms under https to a plain HTTP server"
log_has "health: node node1 down (3 checks failed: TLS" ||
    die "no 'checks failed: TLS ...' in the log for https to a plain HTTP server: $(cat "$tmp/cnmux.out" "$tmp/cnmux.err" | grep 'node1 down' | tail -1)"
kill "${lpid[https]}" 2>/dev/null; wait "${lpid[https]}" 2>/dev/null; unset "lpid[https]"
check node1 '{"type": "http", "port": 8081, "path": "/health"}'
wait_state node1 true $up_bound || die "node1 not up ${WAITED} ms back under http"
echo "private_health: 9b. https GET /health (TLS on the private path): 503: down after $t ms; 200: up after $t2 ms; to a plain HTTP server: down ($(cat "$tmp/cnmux.out" "$tmp/cnmux.err" | grep -o 'checks failed: TLS[^)]*' | tail -1))"

# ---------------------------------------------------------------- 10. through a tunnel
# node3 (192.0.2.13, in N2) is an ipip node: its echo requests must arrive
# encapsulated (outer 192.0.2.3 -> 192.0.2.13). This kernel may have no ipip
# module: N2 decapsulates with tests/e2e/tundecap.py (raw socket in, a TUN
# out to N2's kernel, which answers the inner echo). Without it, N2's kernel
# answers IPIP with "protocol unreachable" and node3 stays down, although a
# plain echo to 192.0.2.13 would be answered; with it, node3 comes up.
ip -n "$ns_n2" addr add 192.0.2.13/24 dev "$v_2" || die "addr node3"
ip -n "$ns_n2" tuntap add mode tun dev "cptun$tag" || cnm_skip "runtime_private_health needs a TUN device"
ip netns exec "$ns_n2" sysctl -q -w "net.ipv4.conf.cptun$tag.rp_filter=0" >/dev/null
ip -n "$ns_n2" link set "cptun$tag" up || die "up cptun$tag"
out=$(cnmctl node add node3 192.0.2.13 --forward ipip --check '{"type": "icmp"}' 2>&1) ||
    die "node add node3: $out"
sleep $(( (interval * (rise + 2)) / 1000 + 1 ))
[ "$(node_up node3)" = false ] || die "node3 (ipip) up with nothing to decapsulate at the node: the probe was not encapsulated"
ip netns exec "$ns_n2" "$py" "$(dirname "$0")/../e2e/tundecap.py" --tun "cptun$tag" \
    --counts "$tmp/decap.json" --name node3 --src 192.0.2.0/24 >"$tmp/decap.log" 2>&1 &
lpid[decap]=$!
wait_state node3 true $((up_bound + 3000)) || die "node3 (ipip) not up ${WAITED} ms after its decapsulator started: $(cat "$tmp/decap.log")"
t=$WAITED
kill "${lpid[decap]}"; wait "${lpid[decap]}" 2>/dev/null; unset "lpid[decap]"
"$py" -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["decap"]["ipip4"] > 0 else 1)' \
    "$tmp/decap.json" || die "the decapsulator counted no IPIP packet: $(cat "$tmp/decap.log" "$tmp/decap.json" 2>/dev/null)"
wait_state node3 false $down_bound || die "node3 (ipip) still up ${WAITED} ms after its decapsulator stopped"
echo "private_health: 10. ipip node: icmp check through its tunnel: down with nothing to decapsulate; up $t ms after a decapsulator started, down $WAITED ms after it stopped"

# ---------------------------------------------------------------- 11. IPv6
# node4 (2001:db8::11, on N1's private interface): ICMPv6 echo from
# health.source6 (N1 resolves 2001:db8::2 by solicitation: cnmux answers);
# then a tcp check of a port nothing listens on over IPv6: RST, down
before=$(counter source_answered)
ip netns exec "$ns_n1" sysctl -q -w "net.ipv6.conf.$v_1.disable_ipv6=0" >/dev/null || die "ipv6 on $v_1"
ip -n "$ns_n1" addr add 2001:db8::11/64 dev "$v_1" nodad || die "addr node4"
out=$(cnmctl node add node4 2001:db8::11 --check '{"type": "icmp"}' 2>&1) || die "node add node4: $out"
wait_state node4 true $((up_bound + 3000)) || die "node4 (icmp6) not up ${WAITED} ms after it was added"
t=$WAITED
[ "$(counter source_answered)" -gt "$before" ] || die "node4 up without a solicitation for 2001:db8::2 answered"
nb=$(ip -n "$ns_n1" -6 neigh show 2001:db8::2)
[[ $nb == *"$cnmux_mac"* ]] || die "node4 resolved 2001:db8::2 to '$nb', cnmux's port is $cnmux_mac"
rsts=$(counter syn_rsts)
check node4 '{"type": "tcp", "port": 8080}'
wait_state node4 false $down_bound || die "node4 (tcp6, nothing listening on IPv6) still up ${WAITED} ms"
# the RSTs over IPv6 were parsed and matched (the reason logged is the last
# round's: on a loaded machine a RST may come after its round's timeout)
[ "$(counter syn_rsts)" -gt "$rsts" ] || die "node4: no RST over IPv6 counted in health_syn_rsts"
echo "private_health: 11. IPv6 node: icmp6 from 2001:db8::2 (solicitation answered): up after $t ms; tcp6 to a closed port: RST, down after $WAITED ms"

# ---------------------------------------------------------------- 12. bad input, stop
out=$(cnmctl node check node1 '{"type": "tcp"}' 2>&1) && die "node check without a port accepted"
[[ $out == *"node.check.port"*"an integer in [1, 65535]"* ]] || die "node check without a port: '$out'"
out=$(cnmctl node check node1 '{"type": "ping"}' 2>&1) && die "node check type ping accepted"
[[ $out == *"node.check.type"* ]] || die "node check type ping: '$out'"
j=$(cnmctl -j node show node1)
[[ $j == *'"check":{"type":"http","port":8081,"path":"/health","expect":200}'* ]] ||
    die "node1's check changed by refused input: $j"
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
echo "private_health: 12. bad node check input refused, nothing changed; stopped cleanly"
echo "private_health: the checker's log:"
grep -h 'health:' "$tmp/cnmux.err" "$tmp/cnmux.out" | sed 's/^/    /'
echo "PASS"
