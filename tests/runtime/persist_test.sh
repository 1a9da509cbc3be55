#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Run-time persistence, end to end through the real binary (issue 3):
#
#   persist_test.sh CNMUX CNMUXCTL
#
# cnmux runs in a network namespace of its own, its public port a
# net_af_packet on one end of a veth pair; persist_traffic.py writes frames
# on the other end. Phase 1 opens 2000 TCP connections (SYNs) to the weighted
# service web (node1..node3, weight 1 each). Then, through cnmuxctl, node4 is
# added to web (weight 1) and node2 drained. Phase 2 continues every phase-1
# connection (an ACK with data) and opens 2000 new ones; phase 3 closes one
# in five (FIN); phase 4 at once reuses the closed old connections' client
# ports with new SYNs (new connections: the PDT of now places them, not the
# closing entries), phase 5 closes those; closed entries expire. persist_check.py then checks the
# capture of the private port against an independent model (see there).
# Then, on the same running cnmux, `cnmuxctl reload BAD` (unknown node, JSON
# syntax, hash_key, missing file) must fail with exit status 1 and a message
# naming the file and the key, and change nothing (service show, the PDT,
# the counters byte-identical); a reload of a file that says what runs now
# changes nothing either. Scenario 2 starts a fresh cnmux and makes the same
# change in one step (SIGHUP after rewriting its file): the table is the one
# the final file gives (the same as after the two commands), near the minimum moved.
# Needs root (netns, veth); skipped (77) without, or when no namespace or
# veth pair can be made here.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
# shellcheck source=../lib/testenv.sh
. "$(cd "$(dirname "$0")" && pwd)/../lib/testenv.sh"
[ -x "$py" ] || py=python3

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
    cnm_skip "runtime_persist needs root and iproute2"
fi

rid=$(cnm_run_id)
ns=cnmrt-$rid
prefix=cnmrt-$rid
va=cnmrt${rid}a
vb=cnmrt${rid}b
tmp=$(mktemp -d /tmp/cnmrt.XXXXXX)
sock=$tmp/ctl.sock
pid=""
fails=0
t_start=$(date +%s)

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    rm -rf "/var/run/dpdk/$prefix" "/var/run/dpdk/$prefix-2"
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

fail() { echo "FAIL $*"; fails=$((fails + 1)); }
die() { echo "FAIL $*"; [ -f "$tmp/cnmux.log" ] && tail -20 "$tmp/cnmux.log"; exit 1; }
cnmctl() { "$ctl" -s "$sock" "$@"; }

# poll CMD... until it succeeds; $deadline seconds at most
poll() {
    local deadline=$1; shift
    local end=$(($(date +%s) + deadline)) delay=0.02
    until "$@"; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep "$delay"
        delay=$(awk -v d="$delay" 'BEGIN { d *= 2; if (d > 0.5) d = 0.5; print d }')
    done
}

# ---- the namespace and the veth pair --------------------------------------
ip netns add "$ns" || cnm_skip "runtime_persist cannot create a network namespace"
# no IPv6 autoconfiguration / MLD / router solicitations: the only frames on
# the wire are the injected ones
ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
    net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
if ! ip -n "$ns" link add "$va" type veth peer name "$vb"; then
    cnm_skip "runtime_persist cannot create a veth pair"
fi
for i in "$va" "$vb"; do
    ip netns exec "$ns" sysctl -q -w "net.ipv6.conf.$i.disable_ipv6=1" >/dev/null 2>&1
    ip -n "$ns" link set "$i" arp off
    if command -v ethtool >/dev/null; then
        ip netns exec "$ns" ethtool -K "$i" tx off rx off >/dev/null 2>&1
    fi
    ip -n "$ns" link set "$i" up || die "link up $i"
done

# ---- configuration ----------------------------------------------------------
cat >"$tmp/config.json" <<EOF
{
  "version": 1,
  "ports": { "public": "net_af_packet0", "private": ["net_pcap1"] },
  "nodes": [
    { "name": "node1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b" },
    { "name": "node2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c" },
    { "name": "node3", "ip": "192.0.2.13", "mac": "02:00:c0:00:02:0d" }
  ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "node1": 1, "node2": 1, "node3": 1 } }
  ],
  "pdt_size": 4096,
  "hash_key": "0x5eed1e55",
  "control": { "socket": "$sock" },
  "conntrack": { "max": 65536, "timeout_s": 600, "closing_s": 1, "syn_s": 600 }
}
EOF
echo '{ "name": "node4", "ip": "192.0.2.14", "mac": "02:00:c0:00:02:0e" }' >"$tmp/node4.json"

# ---- start cnmux in the namespace -------------------------------------------
start_cnmux() { # config, private capture, file prefix, --stats-json file
    ip netns exec "$ns" "$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$3" \
        --log-level=error \
        --vdev "net_af_packet0,iface=$va,qpairs=1,framecnt=2048" \
        --vdev "net_pcap1,tx_pcap=$2" \
        -- --config "$1" --stats-json "$4" >"$tmp/cnmux.log" 2>&1 &
    pid=$!
}
stop_cnmux() { # SIGINT, wait (polling), exit status 0
    local end rc
    kill -INT "$pid"
    end=$(($(date +%s) + 120))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        fail "cnmux did not stop within 120 s of SIGINT"
    fi
    wait "$pid"; rc=$?
    pid=""
    [ $rc -eq 0 ] || fail "cnmux exit status $rc"
}
start_cnmux "$tmp/config.json" "$tmp/private.pcap" "$prefix" "$tmp/final.json"
poll 120 cnmctl stats >/dev/null 2>&1 || die "cnmux did not come up (control socket $sock)"
echo "cnmux up ($(head -1 "$tmp/cnmux.log"))"

"$py" "$here/persist_traffic.py" gen "$tmp" || die "gen"
send() { ip netns exec "$ns" "$py" "$here/persist_traffic.py" send "$tmp" "$1" "$vb" "$ctl" "$sock"; }

# ---- phase 1: open the connections --------------------------------------------
send 1 || die "phase 1"
cnmctl -j pdt show web 0 4096 >"$tmp/pdt_before.json" || die "pdt show"

# ---- the change: add node4 to web, drain node2 ---------------------------------
out=$(cnmctl node add node4 192.0.2.14 02:00:c0:00:02:0e web=1 2>&1) || die "node add: $out"
echo "node add node4: $out"
cnmctl -j pdt show web 0 4096 >"$tmp/pdt_mid.json" || die "pdt show"
out=$(cnmctl node drain node2 web 2>&1) || die "node drain: $out"
echo "node drain node2 web: $out"
cnmctl -j pdt show web 0 4096 >"$tmp/pdt_after.json" || die "pdt show"
cnmctl service show web

# ---- phase 2: continue the old connections, open new ones -----------------------
send 2 || die "phase 2"

# ---- phase 3: close one in five; the closed entries expire (closing_s 1) ---------
# ---- phase 4: new SYNs on the closed old connections' ports, at once: new
# ---- connections, placed by the PDT of now; phase 5 closes them ------------------
send 3,4,5 || die "phases 3-5"
want_open=$("$py" -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(sum(r["kind"] in ("syn", "resyn") for r in s) - sum(r["kind"] in ("fin", "refin") for r in s))' "$tmp/sent.json")
count_is() { [ "$(cnmctl -j conns count | "$py" -c 'import json,sys; print(json.load(sys.stdin)["count"])')" = "$1" ]; }
poll 120 count_is "$want_open" || fail "conns count: $(cnmctl conns count), expected $want_open"
echo "conns count: $want_open open connections"

# ---- a broken reload changes nothing ---------------------------------------------
cnmctl -j service show >"$tmp/svc1.json" || fail "service show"
cnmctl -j pdt show web 0 4096 >"$tmp/pdt1.json" || fail "pdt show"
cnmctl -j stats >"$tmp/stats1.json" || fail "stats"
sed 's/"node3": 1 }/"node9": 1 }/' "$tmp/config.json" >"$tmp/bad-node.json"
printf '{ "version": 1, "ports": {\n  "public": "net_af_packet0",,\n}\n' >"$tmp/bad-syntax.json"
sed 's/"hash_key": "0x5eed1e55"/"hash_key": "0x5eed1e56"/' "$tmp/config.json" >"$tmp/bad-key.json"
check_bad_reload() { # file, expected text in the message
    local out rc
    out=$(cnmctl reload "$1" 2>&1); rc=$?
    if [ $rc -ne 1 ]; then
        fail "reload $(basename "$1"): exit status $rc, expected 1 ($out)"
    elif ! grep -qF -- "$1" <<<"$out" || ! grep -qF -- "$2" <<<"$out"; then
        fail "reload $(basename "$1"): message lacks '$1' or '$2': $out"
    else
        echo "ok   reload $(basename "$1") refused: $out"
    fi
}
check_bad_reload "$tmp/bad-node.json" "services[0].nodes.node9"
check_bad_reload "$tmp/bad-syntax.json" "line 2 column"
check_bad_reload "$tmp/bad-key.json" "hash_key"
out=$(cnmctl reload "$tmp/nosuch.json" 2>&1); rc=$?
if [ $rc -eq 1 ] && grep -qF "$tmp/nosuch.json" <<<"$out"; then
    echo "ok   reload nosuch.json refused: $out"
else
    fail "reload of a missing file: rc $rc: $out"
fi
cnmctl -j service show >"$tmp/svc2.json" || fail "service show"
cnmctl -j pdt show web 0 4096 >"$tmp/pdt2.json" || fail "pdt show"
cnmctl -j stats >"$tmp/stats2.json" || fail "stats"
cmp -s "$tmp/svc1.json" "$tmp/svc2.json" || fail "service show changed by a broken reload"
cmp -s "$tmp/pdt1.json" "$tmp/pdt2.json" || fail "pdt show changed by a broken reload"
cmp -s "$tmp/pdt1.json" "$tmp/pdt_after.json" || fail "pdt show changed since the change"
# every counter the same; what moves with the clock alone (elapsed_ms, the
# mbuf pool's gauges, the health checker's probes and the ARP frames it has
# the workers send) may differ
same_counters() {
    "$py" - "$1" "$2" <<'PYEOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
moving = ('elapsed_ms', 'mbufs_free', 'mbufs_in_use', 'ctl_tx', 'busy_cycles')
def strip(d):
    return {k: v for k, v in d.items() if k not in moving and not k.startswith('health_')}
diff = sorted(k for k in set(strip(a)) | set(strip(b)) if strip(a).get(k) != strip(b).get(k))
if diff:
    print('differ: ' + ', '.join(diff))
    sys.exit(1)
PYEOF
}
same_counters "$tmp/stats1.json" "$tmp/stats2.json" || fail "stats changed by a broken reload"
# a good file that says what runs now (node4 added, node2 drained) changes
# nothing: an empty summary, not one PDT entry moved
"$py" - "$tmp/config.json" "$tmp/node4.json" "$tmp/same.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["nodes"].append(json.load(open(sys.argv[2])))
c["services"][0]["nodes"] = {"node1": 1, "node2": 0, "node3": 1, "node4": 1}
json.dump(c, open(sys.argv[3], "w"), indent=2)
PY
out=$(cnmctl -j reload "$tmp/same.json" 2>&1) || fail "reload of the running state: $out"
if "$py" -c '
import json, sys
c = json.loads(sys.argv[1])["changes"]
sys.exit(any(v for k, v in c.items()))' "$out"; then
    echo "ok   reload of the running state: nothing changed"
else
    fail "reload of the running state changed something: $out"
fi
cnmctl -j pdt show web 0 4096 >"$tmp/pdt3.json" || fail "pdt show"
cmp -s "$tmp/pdt1.json" "$tmp/pdt3.json" || fail "pdt show changed by a reload of the running state"

# ---- what the forwarding list and the counters say before the stop --------------
cp "$tmp/stats1.json" "$tmp/stats.json"
cnmctl -j conns show --max 10000 >"$tmp/conns_show.json" || fail "conns show"

# ---- stop -----------------------------------------------------------------------
stop_cnmux
tail -n +2 "$tmp/cnmux.log" | head -4
"$py" "$here/persist_check.py" "$tmp" || fails=$((fails + 1))

# ---- scenario 2: the same change in one step (SIGHUP) -----------------------
# A reload that adds node4 and drains node2 at once rebuilds the PDT once: the
# table of the final configuration (as two commands give it), node2's entries
# moved and few others (docs/pdt.md).
cp "$tmp/config.json" "$tmp/run2.json"
start_cnmux "$tmp/run2.json" "$tmp/private2.pcap" "$prefix-2" "$tmp/final2.json"
poll 120 cnmctl stats >/dev/null 2>&1 || die "cnmux (scenario 2) did not come up"
cnmctl -j pdt show web 0 4096 >"$tmp/pdt2_before.json" || fail "pdt show"
cp "$tmp/same.json" "$tmp/run2.json"
kill -HUP "$pid"
has_node4() { cnmctl -j service show web | grep -q '"node4"'; }
poll 120 has_node4 || fail "SIGHUP: node4 not in web"
cnmctl -j pdt show web 0 4096 >"$tmp/pdt2_after.json" || fail "pdt show"
(cd "$tmp" && "$py" "$here/persist_check.py" step pdt2_before.json pdt2_after.json \
    node1=1,node2=1,node3=1 node1=1,node2=0,node3=1,node4=1) || fails=$((fails + 1))
stop_cnmux

echo "runtime $(( $(date +%s) - t_start )) s"
[ $fails -eq 0 ] && echo "PASS" || echo "$fails failure(s)"
exit $((fails > 0))
