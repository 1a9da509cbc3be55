#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Node liveness with real kernel nodes (issue 3, point 6):
#
#   health_test.sh CNMUX CNMUXCTL
#
# Three network namespaces: LB (the interface node, where cnmux runs) and two
# nodes N1, N2. A Linux bridge in LB joins cnmux's private port (a veth pair:
# cnmux opens one end with net_af_packet, the other end is a bridge port) and
# one veth per node. The bridge itself has 192.0.2.1/24: that is the interface
# node's own address on the private segment, from which the kernel makes the
# TCP checks cnmux asks for (cnmux's sockets live in LB). Nodes 192.0.2.11 and
# .12 answer ARP (their kernel) and run a TCP listener on the check port. The
# nodes have no "mac" in the config, so ARP resolves them. The public port is
# a net_pcap replaying a few frames once (there is no traffic to speak of).
#
# Checked, with "health": {interval 200 ms, timeout 150, rise 2, fall 3}:
#   1. both nodes resolved (node show: the MAC of the node's interface) and up;
#   2. node2's listener killed: node2 down within fall*interval + slack, its
#      PDT entries 0, the log says why; listener back: node2 up again;
#   3. node2's link down (no ARP reply, no TCP): down; link up: up again;
#   4. `node down node1` keeps node1 down while its checks pass (operator down
#      is sticky); `node up node1` brings it back;
#   5. `cnmuxctl reload` of the file without "health" stops the probes (a
#      dead listener goes unnoticed), a reload with it starts them again;
#   6. worker 0 (which sends the probes) starved of its CPU in bursts of
#      0.9 s: no node goes down, and rounds waited for their probes;
#   7. SIGINT: exit status 0, no sanitizer report.
# The times measured are printed. Needs root (netns, veth, bridge): skipped
# (exit 77) without. Environment: KEEP_TMP=1 keeps the work directory.
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
[ -x "$py" ] || py=python3

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    cnm_skip "runtime_health needs root and iproute2"
fi

interval=200; timeout_ms=150; rise=2; fall=3; port=8080
slack_ms=1500        # scheduling on a loaded machine, an ASan build, 50 ms polls
tag=$(cnm_run_id)
ns_lb=cnmh$tag-lb; ns_n1=cnmh$tag-n1; ns_n2=cnmh$tag-n2
v_p=ch${tag}p; v_pb=ch${tag}pb      # cnmux's private port / its bridge side
v_1=ch${tag}n1; v_1b=ch${tag}b1     # node1's interface / its bridge side
v_2=ch${tag}n2; v_2b=ch${tag}b2
prefix=cnmhealth-$tag
tmp=$(mktemp -d /tmp/cnmhealth.XXXXXX)
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
    # a namespace takes its interfaces (the veth pairs, the bridge) with it
    ip netns del "$ns_lb" 2>/dev/null
    ip netns del "$ns_n1" 2>/dev/null
    ip netns del "$ns_n2" 2>/dev/null
    rm -rf "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix" 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "health: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

die() {
    echo "FAIL: $*"
    if [ -f "$tmp/cnmux.out" ]; then
        echo "--- cnmux stdout (tail)"; tail -n 20 "$tmp/cnmux.out"
        echo "--- cnmux stderr (tail)"; tail -n 30 "$tmp/cnmux.err"
    fi
    exit 1
}
cnmctl() { "$ctl" -s "$sock" "$@"; }
now_ms() { local t=${EPOCHREALTIME/./}; t=${t#0}; echo $((t / 1000)); }

# ---------------------------------------------------------------- network
ip netns add "$ns_lb" || cnm_skip "runtime_health cannot create a network namespace"
ip netns add "$ns_n1" || die "netns add $ns_n1"
ip netns add "$ns_n2" || die "netns add $ns_n2"
for n in "$ns_lb" "$ns_n1" "$ns_n2"; do
    # no IPv6 (no router solicitations, MLD): only ARP and the TCP checks
    ip netns exec "$n" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
    ip -n "$n" link set lo up
done
if ! ip -n "$ns_lb" link add br0 type bridge; then
    cnm_skip "runtime_health cannot create a bridge"
fi
# forward at once (no STP listening/learning delay)
ip -n "$ns_lb" link set br0 type bridge stp_state 0 forward_delay 0 2>/dev/null
ip -n "$ns_lb" link add "$v_p" type veth peer name "$v_pb" || cnm_skip "runtime_health cannot create a veth pair"
ip -n "$ns_lb" link add "$v_1" type veth peer name "$v_1b" || die "veth $v_1"
ip -n "$ns_lb" link add "$v_2" type veth peer name "$v_2b" || die "veth $v_2"
ip -n "$ns_lb" link set "$v_1" netns "$ns_n1" || die "move $v_1"
ip -n "$ns_lb" link set "$v_2" netns "$ns_n2" || die "move $v_2"
for i in "$v_pb" "$v_1b" "$v_2b"; do
    ip -n "$ns_lb" link set "$i" master br0 || die "enslave $i"
    ip -n "$ns_lb" link set "$i" up || die "up $i"
done
ip -n "$ns_lb" link set "$v_p" up || die "up $v_p"
ip -n "$ns_lb" addr add 192.0.2.1/24 dev br0 || die "addr br0"
ip -n "$ns_lb" link set br0 up || die "up br0"
ip -n "$ns_n1" addr add 192.0.2.11/24 dev "$v_1" || die "addr node1"
ip -n "$ns_n2" addr add 192.0.2.12/24 dev "$v_2" || die "addr node2"
ip -n "$ns_n1" link set "$v_1" up || die "up $v_1"
ip -n "$ns_n2" link set "$v_2" up || die "up $v_2"
mac1=$(ip netns exec "$ns_n1" cat "/sys/class/net/$v_1/address")
mac2=$(ip netns exec "$ns_n2" cat "/sys/class/net/$v_2/address")

# A TCP listener on a node: accepts and closes, forever.
listen() { # NODE-NUMBER
    local n=$1 ns ip
    if [ "$n" = 1 ]; then ns=$ns_n1; ip=192.0.2.11; else ns=$ns_n2; ip=192.0.2.12; fi
    ip netns exec "$ns" "$py" -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()' "$ip" "$port" &
    lpid[$n]=$!
}
listening() { # NODE-NUMBER: the port accepts (checked from the LB namespace)
    local ip=192.0.2.1$1
    ip netns exec "$ns_lb" "$py" -c '
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()' "$ip" "$port" 2>/dev/null
}
listen 1
listen 2
for n in 1 2; do
    end=$((SECONDS + 30))
    until listening $n; do
        [ $SECONDS -lt $end ] || die "node$n's listener does not accept within 30 s"
        sleep 0.1
    done
done

# ---------------------------------------------------------------- cnmux
"$py" - "$tmp/in.pcap" <<'EOF' || die "cannot write the capture (scapy)"
import sys
from scapy.all import IP, TCP, Ether, wrpcap
wrpcap(sys.argv[1], [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:fe") /
                     IP(src="203.0.113.%d" % i, dst="198.51.100.10") /
                     TCP(sport=40000 + i, dport=80, flags="S") for i in range(1, 9)])
EOF
cat >"$tmp/config.json" <<EOF
{ "ports": { "public": "net_pcap0", "private": ["net_af_packet1"] },
  "nodes": [
    { "name": "node1", "ip": "192.0.2.11", "check_port": $port },
    { "name": "node2", "ip": "192.0.2.12", "check_port": $port } ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "node1": 1, "node2": 1 } } ],
  "pdt_size": 1024,
  "control": { "socket": "$sock" },
  "health": { "interval_ms": $interval, "timeout_ms": $timeout_ms, "rise": $rise, "fall": $fall } }
EOF
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
ip netns exec "$ns_lb" "$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" \
    --log-level=lib.eal:error \
    --vdev "net_pcap0,rx_pcap=$tmp/in.pcap" \
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

# ---------------------------------------------------------------- helpers
# node_field NODE: sets UP (true/false) and MAC (or null) from node show
node_field() {
    local j
    j=$(cnmctl -j node show "$1" 2>&1) || die "node show $1: $j"
    [[ $j =~ \"up\":(true|false) ]] || die "no up in: $j"
    UP=${BASH_REMATCH[1]}
    if [[ $j =~ \"mac\":\"([0-9a-f:]+)\" ]]; then MAC=${BASH_REMATCH[1]}; else MAC=null; fi
}
# wait_state NODE true|false DEADLINE_MS: polls every 50 ms; $WAITED = ms taken
wait_state() {
    local t0 now
    t0=$(now_ms)
    while :; do
        node_field "$1"
        now=$(now_ms)
        WAITED=$((now - t0))
        [ "$UP" = "$2" ] && return 0
        [ $WAITED -le "$3" ] || return 1
        kill -0 "$pid" 2>/dev/null || die "cnmux exited"
        sleep 0.05
    done
}
# pdt_entries NODE: its entries in web's PDT, counted over the whole table
pdt_entries() {
    cnmctl -j pdt show web 0 1024 | "$py" -c '
import json, sys
d = json.load(sys.stdin)
assert d["size"] == 1024 and len(d["entries"]) == 1024, d
print(sum(1 for e in d["entries"] if e == sys.argv[1]))' "$1" || die "pdt show web"
}
log_has() { # PATTERN: a log line of cnmux (stderr, or stdout)
    grep -q -- "$1" "$tmp/cnmux.err" "$tmp/cnmux.out"
}

down_bound=$((fall * interval + interval + timeout_ms + slack_ms))
up_bound=$((rise * interval + interval + timeout_ms + slack_ms))
echo "health: interval $interval ms, timeout $timeout_ms ms, rise $rise, fall $fall;" \
     "bounds: down <= $down_bound ms, up <= $up_bound ms"

# ---------------------------------------------------------------- 1. resolved and up
for n in node1 node2; do
    wait_state $n true 20000 || die "$n not up within 20 s of start (up $UP, mac $MAC)"
done
t_up=$(( $(now_ms) - t_start ))
node_field node1; [ "$MAC" = "$mac1" ] || die "node1 resolved to $MAC, its interface has $mac1"
node_field node2; [ "$MAC" = "$mac2" ] || die "node2 resolved to $MAC, its interface has $mac2"
e1=$(pdt_entries node1); e2=$(pdt_entries node2)
[ "$e1" = 512 ] && [ "$e2" = 512 ] || die "PDT entries node1 $e1 node2 $e2, expected 512 each"
# health checks are in the audit trail: a level, "audit: health:", the change
log_has "NOTICE audit: health: node node1 up" || die "no 'NOTICE audit: health: node node1 up' in the log"
echo "health: 1. both nodes resolved by ARP ($mac1, $mac2) and up ${t_up} ms after cnmux was started; PDT 512/512"

# ---------------------------------------------------------------- 2. listener killed
kill "${lpid[2]}"; wait "${lpid[2]}" 2>/dev/null; unset "lpid[2]"
wait_state node2 false $down_bound || die "node2 still up ${WAITED} ms after its listener died (bound $down_bound ms)"
t_down=$WAITED
e2=$(pdt_entries node2); e1=$(pdt_entries node1)
[ "$e2" = 0 ] && [ "$e1" = 1024 ] || die "after node2 went down: PDT node1 $e1 node2 $e2, expected 1024 / 0"
log_has "WARNING audit: health: node node2 down (3 checks failed: TCP connect failed)" ||
    die "no 'WARNING audit: health: node node2 down (3 checks failed: TCP connect failed)' in the log"
node_field node1; [ "$UP" = true ] || die "node1 went down with node2"
echo "health: 2. listener of node2 killed: down after ${t_down} ms (fall*interval = $((fall * interval)) ms), PDT node1 1024 node2 0"
listen 2
wait_state node2 true $up_bound || die "node2 not up ${WAITED} ms after its listener came back (bound $up_bound ms)"
t_back=$WAITED
e2=$(pdt_entries node2)
[ "$e2" = 512 ] || die "node2 back up with $e2 PDT entries, expected 512"
echo "health:    listener back: up after ${t_back} ms (rise*interval = $((rise * interval)) ms), PDT node2 512"

# ---------------------------------------------------------------- 3. link down
ip -n "$ns_n2" link set "$v_2" down || die "link down $v_2"
wait_state node2 false $down_bound || die "node2 still up ${WAITED} ms after its link went down (bound $down_bound ms)"
t_ldown=$WAITED
log_has "WARNING audit: health: node node2 down (3 checks failed: no ARP reply)" ||
    die "no 'WARNING audit: health: node node2 down (3 checks failed: no ARP reply)' in the log"
[ "$(pdt_entries node2)" = 0 ] || die "node2 down (link) but still in the PDT"
echo "health: 3. link of node2 down: down after ${t_ldown} ms (no ARP reply)"
ip -n "$ns_n2" link set "$v_2" up || die "link up $v_2"
wait_state node2 true $((up_bound + 2000)) || die "node2 not up ${WAITED} ms after its link came back"
echo "health:    link back: up after ${WAITED} ms"

# ---------------------------------------------------------------- 4. operator down is sticky
out=$(cnmctl -j node down node1 2>&1) || die "node down node1: $out"
[[ $out == *'"up":false'* ]] || die "node down node1 answered: $out"
node_field node1; [ "$UP" = false ] || die "node1 up right after node down"
[ "$(pdt_entries node1)" = 0 ] || die "node1 operator-down but still in the PDT"
# many rounds pass, every one succeeds (node1 answers ARP and accepts)
hold_ms=$((10 * interval * rise))
end=$(( $(now_ms) + hold_ms ))
while [ "$(now_ms)" -lt $end ]; do
    node_field node1
    [ "$UP" = false ] || die "node1 came back up on its own after node down (operator down must be sticky)"
    sleep 0.1
done
listening 1 || die "node1's listener does not accept (the sticky check proves nothing)"
out=$(cnmctl -j node up node1 2>&1) || die "node up node1: $out"
[[ $out == *'"up":true'* ]] || die "node up node1 answered: $out"
wait_state node1 true 1000 || die "node1 not up after node up"
[ "$(pdt_entries node1)" = 512 ] || die "node1 back up without its 512 PDT entries"
sleep $(( (fall + 2) * interval / 1000 + 1 ))
node_field node1; [ "$UP" = true ] || die "node1 went down again after node up (its checks pass)"
echo "health: 4. node down node1: stayed down for ${hold_ms} ms of passing checks; node up node1: up, PDT 512"

# ---------------------------------------------------------------- 5. reload turns probes off and on
# `cnmuxctl reload` (not only SIGHUP) must reach the checker: without a
# "health" object no probe runs, so a dead listener goes unnoticed; with it
# back, the node goes down.
"$py" -c 'import json, sys
c = json.load(open(sys.argv[1])); del c["health"]; json.dump(c, open(sys.argv[2], "w"))' \
    "$tmp/config.json" "$tmp/nohealth.json" || die "cannot write nohealth.json"
out=$(cnmctl reload "$tmp/nohealth.json" 2>&1) || die "reload nohealth.json: $out"
kill "${lpid[2]}"; wait "${lpid[2]}" 2>/dev/null; unset "lpid[2]"
if wait_state node2 false $down_bound; then
    die "node2 went down ${WAITED} ms after its listener died although the reloaded file has no \"health\" (probes must be off)"
fi
out=$(cnmctl reload "$tmp/config.json" 2>&1) || die "reload config.json: $out"
wait_state node2 false $((down_bound + interval)) ||
    die "node2 still up ${WAITED} ms after a reload turned probes back on"
echo "health: 5. reload without \"health\": node2 kept up with a dead listener; reload with it: down after ${WAITED} ms"
listen 2
wait_state node2 true $up_bound || die "node2 not up ${WAITED} ms after its listener came back"

# ---------------------------------------------------------------- 6. worker 0 starved
# cnmux's probes (ARP here) are queued by the control lcore and sent by
# worker 0. A loaded machine may not run worker 0 for longer than a
# timeout while the control lcore runs: a node must not go down for a
# probe that never left (the e2e flakes of issue 17: every node down at
# once, "no ARP reply", while on the wire every probe was answered within
# 0.2 ms). A SCHED_FIFO busy loop on worker 0's CPU (lcore 1) takes it from
# the worker in bursts of 0.9 s (the kernel's RT throttling leaves 5% of
# each second to others), four times: each burst outlasts fall rounds.
stat_of() { # KEY: a counter of cnmuxctl -j stats
    cnmctl -j stats | "$py" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1" ||
        die "stats $1"
}
w0=$(stat_of health_probe_waits); d0=$(stat_of health_went_down)
"$py" - <<'PY' || die "the busy loop could not run (SCHED_FIFO on CPU 1)"
import os, time
os.sched_setaffinity(0, {1})
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
for _ in range(4):
    t = time.monotonic()
    while time.monotonic() - t < 0.9:
        pass
    time.sleep(0.1)   # not RT-bound: the worker runs, queued probes leave
PY
sleep 1   # the rounds of the last burst end
w1=$(stat_of health_probe_waits); d1=$(stat_of health_went_down)
node_field node1; u1=$UP; node_field node2; u2=$UP
[ "$d1" = "$d0" ] && [ "$u1" = true ] && [ "$u2" = true ] ||
    die "worker 0 starved in 0.9 s bursts: nodes went down $((d1 - d0)) time(s) (node1 up $u1, node2 up $u2): a probe that had not left counted as unanswered"
[ "$w1" -gt "$w0" ] || die "worker 0 starved: no round waited for its probe (health_probe_waits $w0 -> $w1): the test did not starve it"
echo "health: 6. worker 0 starved 4 x 0.9 s: no node went down; $((w1 - w0)) round timeouts waited for their probe to leave"

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
    die "sanitizer report on stderr: $(grep -E -m3 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$tmp/cnmux.err")"
fi
echo "health: the checker's log:"
grep -h 'health:' "$tmp/cnmux.err" "$tmp/cnmux.out" | sed 's/^/    /'
echo "PASS"
