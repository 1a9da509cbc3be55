#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Table churn under traffic (issue 3, point 7):
#
#   churn_test.sh CNMUX CNMUXCTL
#
# cnmux replays a capture forever on its public port (net_pcap, infinite_rx:
# the capture is read once into mbufs and sent again and again), its private
# and local ports are net_null (no-rx=1: they only free what is sent). While
# the frames flow, a seeded pseudo-random loop changes the tables through
# cnmuxctl for CHURN_SECONDS (default 25): services added and deleted, nodes
# added (with and without a MAC) and deleted, nodes down/up, drained,
# reweighted, reloads between two valid files and a broken one (refused, exit
# status 1, the message names the file and the key, nothing changes), SIGHUP,
# plus the read-only commands (conns count|show, pdt show, stats, service show,
# node show). After every step `cnmuxctl -j stats` must satisfy
# rx == forwarded + local + dropped (within one burst per worker, see
# check_stats) and rx must have grown. Node up/down states are compared with
# a model of what the loop did. At the end, SIGINT: exit status 0 (3 = the
# accounting failed, 4 = mbufs missing from the pool), every mbuf back, and
# no AddressSanitizer / UBSan / LeakSanitizer report on stderr (run it with
# the ASan build: build-asan/app/cnmux/cnmux).
#
# Environment: CHURN_SECONDS (default 25), CHURN_SEED (default 20240311),
# KEEP_TMP=1 keeps the work directory, CHURN_HOLD=1 leaves cnmux running for
# 60 s after a failure (to look at it with cnmuxctl).
set -uo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 CNMUX CNMUXCTL" >&2
    exit 2
fi
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
[ -x "$py" ] || py=python3
duration=${CHURN_SECONDS:-25}
seed=${CHURN_SEED:-20240311}
burst=32   # CNM_BURST: frames a worker takes from its RX queue at once

tmp=$(mktemp -d /tmp/cnmchurn.XXXXXX)
sock=$tmp/ctl.sock
prefix=cnmchurn-$$-$RANDOM
pid=""

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    rm -rf "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix" 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "churn: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

die() {
    echo "FAIL: $*"
    [ -n "${hist:-}" ] && echo "last steps:${hist}"
    [ "${CHURN_HOLD:-0}" = 1 ] && { echo "holding 60 s: pid $pid sock $sock"; sleep 60; }
    if [ -f "$tmp/cnmux.out" ]; then
        echo "--- cnmux stdout (tail)"; tail -n 25 "$tmp/cnmux.out"
        echo "--- cnmux stderr (tail)"; tail -n 40 "$tmp/cnmux.err"
    fi
    exit 1
}

# ---------------------------------------------------------------- capture
# Several services' traffic: TCP connections (SYN, then ACKs with data, some
# FIN or RST), UDP, IPv6, traffic for services that only exist at run time,
# non-scalable frames (ssh to a VIP, ICMP, ARP for a VIP, an unknown address)
# and a few malformed ones. Deterministic (seeded).
"$py" - "$tmp/in.pcap" "$seed" <<'EOF' || die "cannot write the capture (scapy)"
import random, sys
from scapy.all import ARP, ICMP, IP, IPv6, TCP, UDP, Ether, Raw, wrpcap
out, seed = sys.argv[1], int(sys.argv[2])
r = random.Random(seed)
CL, LB = "02:00:00:00:00:01", "02:00:00:00:00:fe"
def e():
    return Ether(src=CL, dst=LB)
tcp_targets = [("198.51.100.10", 80), ("198.51.100.10", 443),       # web
               ("198.51.100.20", 21), ("198.51.100.20", 2121),      # ftp (sticky-wild)
               ("198.51.100.30", 8080), ("198.51.100.30", 25),      # api, mail
               ("198.51.100.40", 7000)]                             # wild
udp_targets = [("198.51.100.10", 53), ("198.51.100.30", 123), ("198.51.100.40", 9000)]
pk = []
for i in range(450):
    c = "203.0.113.%d" % (1 + i % 250) if i < 250 else "198.18.%d.%d" % (i // 250, i % 250)
    sp = 20000 + i
    for vip, dport in r.sample(tcp_targets, 3):
        pk.append(e()/IP(src=c, dst=vip)/TCP(sport=sp, dport=dport, flags="S", seq=1000))
        for k in range(r.randint(1, 3)):
            pk.append(e()/IP(src=c, dst=vip)/TCP(sport=sp, dport=dport, flags="PA",
                      seq=1001 + 20 * k, ack=1)/Raw(b"d" * 20))
        x = r.random()
        if x < 0.4:
            pk.append(e()/IP(src=c, dst=vip)/TCP(sport=sp, dport=dport, flags="FA"))
        elif x < 0.5:
            pk.append(e()/IP(src=c, dst=vip)/TCP(sport=sp, dport=dport, flags="R"))
    vip, dport = r.choice(udp_targets)
    pk.append(e()/IP(src=c, dst=vip)/UDP(sport=sp, dport=dport)/Raw(b"q" * 30))
    if i % 5 == 0:
        c6 = "2001:db8:1::%x" % (i + 1)
        pk.append(e()/IPv6(src=c6, dst="2001:db8::10")/TCP(sport=sp, dport=80, flags="S"))
        pk.append(e()/IPv6(src=c6, dst="2001:db8::10")/TCP(sport=sp, dport=80, flags="A"))
for i in range(40):                                                   # non-scalable
    c = "203.0.113.%d" % (1 + i)
    pk.append(e()/IP(src=c, dst="198.51.100.10")/TCP(sport=30000 + i, dport=22, flags="S"))
    pk.append(e()/IP(src=c, dst="198.51.100.10")/ICMP())
    pk.append(e()/IP(src=c, dst="198.51.100.99")/UDP(sport=30000 + i, dport=5000))
    pk.append(Ether(src=CL, dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, hwsrc=CL, psrc="198.51.100.1",
              pdst=r.choice(["198.51.100.10", "198.51.100.20", "198.51.100.30"])))
for i in range(10):                                                   # malformed
    pk.append(Ether(bytes(e()/IP(src="203.0.113.9", dst="198.51.100.10")/
                          TCP(sport=40000 + i, dport=80))[:30]))
    pk.append(e()/IP(src="127.0.0.1", dst="198.51.100.10")/TCP(sport=40000 + i, dport=80))
r.shuffle(pk)
wrpcap(out, pk)
print("churn: capture of %d frames" % len(pk))
EOF

# ---------------------------------------------------------------- configs
# A and B both keep node1, node2, node4 and the services web, dns, web6; A has
# node3 and ftp, B has node5 and mail, other weights and another dns PDT size.
# The broken file is B with a service naming an unknown node.
cat >"$tmp/a.json" <<EOF
{ "ports": { "public": "net_pcap0", "private": ["net_null0"], "local": "net_null1" },
  "nodes": [
    { "name": "node1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b" },
    { "name": "node2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c" },
    { "name": "node3", "ip": "192.0.2.13", "mac": "02:00:c0:00:02:0d" },
    { "name": "node4", "ip": "192.0.2.14", "mac": "02:00:c0:00:02:0e" } ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/tcp", "443/tcp"],
      "policy": "weighted", "nodes": { "node1": 3, "node2": 1, "node3": 2, "node4": 2 } },
    { "name": "dns", "vip": "198.51.100.10", "ports": ["53/udp"], "policy": "sticky",
      "nodes": { "node1": 1, "node2": 1, "node3": 1, "node4": 1 } },
    { "name": "ftp", "vip": "198.51.100.20", "protocols": ["tcp"], "policy": "sticky-wild",
      "nodes": { "node1": 1, "node2": 1 } },
    { "name": "web6", "vip": "2001:db8::10", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "node3": 1, "node4": 1 } } ],
  "pdt_size": 4096,
  "control": { "socket": "$sock" },
  "conntrack": { "max": 1024, "timeout_s": 5, "closing_s": 1, "syn_s": 2 } }
EOF
cat >"$tmp/b.json" <<EOF
{ "ports": { "public": "net_pcap0", "private": ["net_null0"], "local": "net_null1" },
  "nodes": [
    { "name": "node1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b" },
    { "name": "node2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c" },
    { "name": "node4", "ip": "192.0.2.14", "mac": "02:00:c0:00:02:0e" },
    { "name": "node5", "ip": "192.0.2.15", "mac": "02:00:c0:00:02:0f" } ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/tcp", "443/tcp"],
      "policy": "weighted", "nodes": { "node1": 1, "node2": 2, "node4": 1, "node5": 3 } },
    { "name": "dns", "vip": "198.51.100.10", "ports": ["53/udp"], "policy": "sticky",
      "nodes": { "node1": 1, "node5": 1 }, "pdt_size": 1024 },
    { "name": "mail", "vip": "198.51.100.30", "ports": ["25/tcp"], "policy": "weighted",
      "nodes": { "node2": 1, "node4": 1 } },
    { "name": "web6", "vip": "2001:db8::10", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "node4": 1, "node5": 1 } } ],
  "pdt_size": 4096,
  "control": { "socket": "$sock" },
  "conntrack": { "max": 1024, "timeout_s": 5, "closing_s": 1, "syn_s": 2 } }
EOF
sed 's/"nodes": { "node1": 1, "node5": 1 }, "pdt_size": 1024/"nodes": { "node1": 1, "node9": 1 }/' \
    "$tmp/b.json" >"$tmp/broken.json"
grep -q node9 "$tmp/broken.json" || die "could not write broken.json"

# What each file holds, for the model below.
declare -A file_nodes=([a]="node1 node2 node3 node4" [b]="node1 node2 node4 node5")
declare -A file_svcs=([a]="web dns ftp web6" [b]="web dns mail web6")

# ---------------------------------------------------------------- start
# UBSan: a stack with every report (the default prints only the message)
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
"$cnmux" --no-huge -m 1024 --no-pci -l 0,1 --file-prefix "$prefix" --log-level=lib.eal:error \
    --vdev "net_pcap0,rx_pcap=$tmp/in.pcap,infinite_rx=1" \
    --vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 \
    -- --config "$tmp/a.json" --mbufs 32768 --stats-json "$tmp/stats.json" \
    >"$tmp/cnmux.out" 2>"$tmp/cnmux.err" &
pid=$!

# ready when the control socket answers (an ASan build takes a few seconds)
deadline=$((SECONDS + 120))
until "$ctl" -s "$sock" stats >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { wait "$pid"; die "cnmux exited early (status $?)"; }
    [ $SECONDS -lt $deadline ] || die "the control socket did not answer within 120 s"
    sleep 0.2
done
nw=$("$ctl" -s "$sock" -j stats | sed -n 's/.*"workers":\([0-9]*\).*/\1/p')
[ -n "$nw" ] && [ "$nw" -ge 1 ] || die "no worker count in cnmuxctl -j stats"

# ---------------------------------------------------------------- helpers
# Deterministic pseudo-random numbers (an LCG, the same on every bash).
rng=$seed
rnd() { # rnd N: 0..N-1 in $R
    rng=$(( (rng * 1103515245 + 12345) & 0x7fffffff ))
    R=$(( (rng >> 8) % $1 ))
}

out=""
# ok CMD...: must succeed (exit 0)
ok() {
    local rc
    local t0=${EPOCHREALTIME/./}
    out=$("$ctl" -s "$sock" "$@" 2>&1); rc=$?
    [ $rc -eq 0 ] || die "step $step: cnmuxctl $* exited $rc after $(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms: $out"
}
# refused PATTERN CMD...: must be refused by cnmux (exit 1) with PATTERN in the message
refused() {
    local pat=$1 rc; shift
    out=$("$ctl" -s "$sock" "$@" 2>&1); rc=$?
    [ $rc -eq 1 ] || die "step $step: cnmuxctl $* exited $rc, expected 1: $out"
    [[ $out == *"$pat"* ]] || die "step $step: cnmuxctl $*: message lacks '$pat': $out"
    n_refused=$((n_refused + 1))
}

now_us() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }
last_rx=-1
samples=0
max_skew=0
stalls=0
max_stall_us=0
stall_max_s=10
last_growth_us=$(now_us)
# The counters are read while the worker runs. A worker adds a whole burst
# (up to $burst frames) to rx when it takes it from the queue, then counts
# each frame as forwarded / local / dropped as it goes (at the TX flush, at
# the end of the burst); `stats` reads rx first and the three others just
# after, with relaxed loads, worker by worker. A sample may so fall inside a
# burst: rx ahead by at most one burst (the usual case with an endless
# capture: most samples show exactly 32), or, the burst finished between the
# loads, the three others ahead by at most one burst. So
# |rx - (forwarded + local + dropped)| <= $burst per worker. One more way to
# exceed it: the control lcore preempted between its loads, on a machine
# busier than it has CPUs (seen once, off by 96, load average 6 on 2 CPUs);
# so a sample out of bounds is taken again at once, up to $resample_max
# times, and only a run of them fails. The exact equality is checked once
# the workers have stopped (exit status 3, the final report, stats.json).
resample_max=3
resampled=0
sample_stats() { # sets rx fw lo dr skew
    local s
    s=$("$ctl" -s "$sock" -j stats 2>&1) || die "step $step: cnmuxctl -j stats failed: $s"
    [[ $s =~ \"rx\":([0-9]+) ]] && rx=${BASH_REMATCH[1]} || die "no rx in: $s"
    [[ $s =~ \"forwarded\":([0-9]+) ]] && fw=${BASH_REMATCH[1]} || die "no forwarded in: $s"
    [[ $s =~ \"local\":([0-9]+) ]] && lo=${BASH_REMATCH[1]} || die "no local in: $s"
    [[ $s =~ \"dropped\":([0-9]+) ]] && dr=${BASH_REMATCH[1]} || die "no dropped in: $s"
    skew=$((rx - fw - lo - dr))
    [ $skew -lt 0 ] && skew=$((-skew))
    return 0
}
check_stats() {
    local rx fw lo dr skew tries=0
    sample_stats
    while [ "$skew" -gt $((burst * nw)) ]; do
        tries=$((tries + 1))
        [ $tries -le $resample_max ] ||
            die "step $step ($what): rx $rx != forwarded $fw + local $lo + dropped $dr (off by $skew, more than $burst per worker, in $tries samples in a row)"
        echo "churn: step $step: a sample off by $skew (rx $rx, forwarded $fw, local $lo, dropped $dr): sampling again"
        resampled=$((resampled + 1))
        sample_stats
    done
    [ "$skew" -gt "$max_skew" ] && max_skew=$skew
    # rx never goes back, and grows: two samples may see the same value when
    # the worker was preempted in between (2 CPUs shared with cnmuxctl, the
    # control lcore and this script), so only a stall longer than
    # $stall_max_s seconds fails
    [ "$rx" -ge "$last_rx" ] || die "step $step ($what): rx went back ($last_rx -> $rx)"
    now_us=$(now_us)
    if [ "$rx" -gt "$last_rx" ]; then
        last_growth_us=$now_us
    else
        stalls=$((stalls + 1))
        [ $((now_us - last_growth_us)) -le $((stall_max_s * 1000000)) ] ||
            die "step $step ($what): rx stuck at $rx for more than $stall_max_s s"
        [ $((now_us - last_growth_us)) -gt $max_stall_us ] && max_stall_us=$((now_us - last_growth_us))
    fi
    last_rx=$rx
    last_fw=$fw
    samples=$((samples + 1))
}

# The model: which nodes and services exist, which nodes the operator took
# down. A node is up iff it exists, has a MAC and was not taken down (no
# health object here, and node7 has no MAC: nothing answers ARP on net_null).
declare -A node_on=() svc_on=() down=()
cur=a
load_model() { # after a successful reload of file $1
    local n
    node_on=(); svc_on=()
    for n in ${file_nodes[$1]}; do node_on[$n]=1; done
    for n in ${file_svcs[$1]}; do svc_on[$n]=1; done
    for n in "${!down[@]}"; do [ -n "${node_on[$n]:-}" ] || unset "down[$n]"; done
    cur=$1
}
load_model a

check_nodes() { # node show against the model
    local want="" n
    for n in $(printf '%s\n' "${!node_on[@]}" | sort); do
        if [ "$n" != node7 ] && [ -z "${down[$n]:-}" ]; then want+="$n:up "; else want+="$n:down "; fi
    done
    local got
    got=$("$ctl" -s "$sock" -j node show | "$py" -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s:%s" % (n["name"], "up" if n["up"] else "down")
               for n in sorted(d["nodes"], key=lambda n: n["name"])) + " ")') ||
        die "step $step: node show failed"
    [ "$got" = "$want" ] || die "step $step ($what): node states $got, expected $want"
}

# Everything but the counters, to see that a refused reload changed nothing.
snapshot() {
    { "$ctl" -s "$sock" -j service show; "$ctl" -s "$sock" -j node show
      for s in $(printf '%s\n' "${!svc_on[@]}" | sort); do
          "$ctl" -s "$sock" -j pdt show "$s" 0 65536; done; } | "$py" -c '
import json, sys
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in ("packets", "bytes", "conn_new", "health")}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
for line in sys.stdin:
    print(json.dumps(strip(json.loads(line)), sort_keys=True))'
}

present() { # present KIND: the names of the model's nodes or services, sorted
    if [ "$1" = node ]; then printf '%s\n' "${!node_on[@]}"; else printf '%s\n' "${!svc_on[@]}"; fi | sort
}
pick() { # pick WORD...: one of them in $P
    local a=("$@")
    rnd ${#a[@]}; P=${a[$R]}
}

declare -A done_kind=()
n_changes=0
n_refused=0
n_hup=0
applied() { n_changes=$((n_changes + 1)); done_kind[$1]=$(( ${done_kind[$1]:-0} + 1 )); }

# ---------------------------------------------------------------- the loop
echo "churn: seed $seed, $duration s, $nw worker(s), cnmux $cnmux"
step=0
what=start
check_stats
t0=$SECONDS
while [ $((SECONDS - t0)) -lt "$duration" ]; do
    step=$((step + 1))
    rnd 20
    case $R in
    0|1) # a run-time service: add it when absent, delete it when present
        pick api ntp wild dns
        what="service $P"
        if [ -n "${svc_on[$P]:-}" ]; then
            ok service del "$P"; unset "svc_on[$P]"
        else
            case $P in
            api) ok service add api 198.51.100.30 8080/tcp weighted node1=1 node2=2 ;;
            ntp) ok service add ntp 198.51.100.30 123/udp sticky node1=1 node2=1 node4=1 ;;
            wild) ok service add --json '{"name": "wild", "vip": "198.51.100.40",
                    "protocols": ["tcp", "udp"], "policy": "sticky-wild",
                    "nodes": {"node2": 1, "node4": 3}}' ;;
            dns) ok service add --json '{"name": "dns", "vip": "198.51.100.10",
                    "ports": ["53/udp"], "policy": "sticky",
                    "nodes": {"node1": 1, "node2": 1, "node4": 1}}' ;;
            esac
            svc_on[$P]=1
        fi
        applied service ;;
    2|3) # a run-time node, with a MAC (node6) or resolved by ARP (node7)
        pick node6 node7
        what="node $P"
        if [ -n "${node_on[$P]:-}" ]; then
            ok node del "$P"; unset "node_on[$P]" "down[$P]"
        elif [ "$P" = node6 ]; then
            extra=""; [ -n "${svc_on[api]:-}" ] && extra=api=1
            # shellcheck disable=SC2086
            ok node add node6 192.0.2.16 02:00:c0:00:02:10 web=1 $extra; node_on[node6]=1
        else
            ok node add node7 192.0.2.17 web=2; node_on[node7]=1
        fi
        applied node ;;
    4|5|6) # operator down / up
        mapfile -t ns < <(present node | grep -vx node7)
        pick "${ns[@]}"
        what="node down/up $P"
        if [ -n "${down[$P]:-}" ]; then ok node up "$P"; unset "down[$P]"
        else ok node down "$P"; down[$P]=1; fi
        applied updown ;;
    7|8) # drain in every group or in web
        pick node1 node2 node4
        what="drain $P"
        rnd 2
        if [ $R = 0 ]; then ok node drain "$P"; else ok node drain "$P" web; fi
        applied drain ;;
    9|10|11) # weight
        mapfile -t ss < <(present svc)
        pick "${ss[@]}"; s=$P
        pick node1 node2 node4
        rnd 5
        what="weight $P $s $R"
        ok node weight "$P" "$s" "$R"
        applied weight ;;
    12|13) # reload A or B
        pick a b
        what="reload $P"
        ok reload "$tmp/$P.json"
        load_model "$P"
        check_nodes
        applied reload ;;
    14) # the broken file: refused, names the file and the key, changes nothing
        what="reload broken"
        before=$(snapshot)
        refused "reload: $tmp/broken.json: services[1].nodes.node9" reload "$tmp/broken.json"
        after=$(snapshot)
        [ "$before" = "$after" ] || die "step $step: the refused reload changed the state:
$(diff <(echo "$before") <(echo "$after") | head -20)" ;;
    15) # SIGHUP: reloads the file of the last successful reload
        what="SIGHUP ($cur)"
        n_hup=$((n_hup + 1))
        kill -HUP "$pid"
        deadline=$((SECONDS + 30))
        until [ "$(grep -c 'SIGHUP: reloaded' "$tmp/cnmux.out")" -ge $n_hup ]; do
            [ $SECONDS -lt $deadline ] || die "SIGHUP not acted on within 30 s"
            sleep 0.05
        done
        load_model "$cur"
        check_nodes
        applied sighup ;;
    16) # refusals: an unknown node, a bad weight
        what="refusals"
        refused 'no node "node9"' node drain node9
        refused 'expected an integer 0..65535' node weight node1 web x ;;
    *) # read-only commands
        what="read-only"
        ok conns count
        [[ $out =~ ^[0-9]+$ ]] || die "conns count: $out"
        ok conns show --max 20
        ok conns show --service web --max 5
        mapfile -t ss < <(present svc)
        pick "${ss[@]}"
        rnd 1024   # the smallest PDT here (dns in B)
        ok pdt show "$P" "$R" 16
        ok stats
        ok service show
        ok node show ;;
    esac
    hist=$(printf '%s\n  %s' "${hist:-}" "$step: $what" | tail -n 6)
    check_stats
    [ $((step % 10)) -eq 0 ] && check_nodes
done
check_nodes
echo "churn: nodes at the end of the loop: $("$ctl" -s "$sock" -j node show | "$py" -c '
import json, sys
print(", ".join("%s %s" % (n["name"], "up" if n["up"] else "down") for n in json.load(sys.stdin)["nodes"]))')"
# back to the start-up state: every node up, file A; then frames must reach nodes again
what="final reload"
for n in "${!down[@]}"; do ok node up "$n"; unset "down[$n]"; done
ok reload "$tmp/a.json"
load_model a
check_nodes
check_stats
fw0=$last_fw
deadline=$((SECONDS + 30))
while [ "$last_fw" -le "$fw0" ]; do
    [ $SECONDS -lt $deadline ] || die "nothing forwarded within 30 s of the final reload"
    sleep 0.2
    check_stats
done
echo "churn: $step steps in $((SECONDS - t0)) s: $n_changes changes applied ($(for k in $(printf '%s\n' "${!done_kind[@]}" | sort); do printf '%s %s, ' "$k" "${done_kind[$k]}"; done | sed 's/, $//')), $n_refused refused as expected"
echo "churn: $samples stats samples, rx = forwarded + local + dropped within $max_skew frame(s) (allowed $((burst * nw)); $resampled sample(s) taken again), rx $last_rx, forwarded $last_fw; rx unchanged between $stalls pair(s) of samples, for $((max_stall_us / 1000)) ms at most"

# ---------------------------------------------------------------- stop
kill -INT "$pid"
deadline=$((SECONDS + 120))
while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || die "cnmux did not stop within 120 s of SIGINT"
    sleep 0.2
done
wait "$pid"; rc=$?
pid=""
[ $rc -eq 0 ] || die "cnmux exited with status $rc (3: accounting, 4: mbufs missing)"
grep -q 'received = forwarded + local + dropped: yes' "$tmp/cnmux.out" ||
    die "the final report does not say the accounting holds"
line=$(grep -E '^  mbufs: [0-9]+ of [0-9]+ back in the pool' "$tmp/cnmux.out") ||
    die "no mbufs line in the final report"
[[ $line =~ mbufs:\ ([0-9]+)\ of\ ([0-9]+) ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] ||
    die "mbufs missing: $line"
if grep -E -n 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$tmp/cnmux.err" >/dev/null; then
    die "sanitizer report on stderr: $(grep -E -m3 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer' "$tmp/cnmux.err")"
fi
"$py" - "$tmp/stats.json" <<'EOF' || die "stats.json check failed"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["rx"] == s["forwarded"] + s["local"] + s["dropped"], s
assert s["mbufs_in_use"] == 0, s["mbufs_in_use"]
assert s["forwarded"] > 0 and s["local"] > 0, s
print("churn: final rx %d forwarded %d local %d dropped %d (%s), conns new %d full %d stale %d"
      % (s["rx"], s["forwarded"], s["local"], s["dropped"],
         ", ".join("%s %d" % (k, v) for k, v in sorted(s["drops"].items()) if v),
         s["conn_new"], s["conn_full"], s["conn_stale"]))
EOF
echo "churn: $line"
echo "PASS"
