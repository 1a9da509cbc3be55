#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The UDP flow list end to end (issue 16, item 1; docs/conntrack.md "UDP
# flows"): long-lived UDP conversations through cnmux keep their node across
# a drain, a reweight and a node add when the service has udp_timeout_s,
# and move when it has not.
#
# usage: udp_flows_test.sh CNMUX CNMUXCTL
#
# The topology is topology.sh's (docs/e2e.md): service echo, 9000/udp on
# 198.51.100.10, node1:node2:node3 = 1:1:1, each node's server echoing
# "NAME DATA" from the VIP. Per mode (on: echo's udp_timeout_s 60; off: 0),
# on the same namespaces:
#   1. cnmux starts with the mode's config (the nodes' MACs given, no health
#      checks: every node up from the start); SOCKETS conversations
#      (client.py udpconv: one socket each, a datagram every 20 ms) start,
#      each placed by the PDT on its 4-tuple;
#   2. reloads while they talk, 1.5 s apart: node1 drained (weight 0);
#      node2:node3 reweighted to 3:1; node4 added with weight 2;
#   3. the conversations stop; each records the nodes that answered it.
# Expected: on, no conversation changed node (those of node1 too: the list
# keeps a drained node's flows, as it keeps TCP connections), at least one
# of them on node1, udp_new at least SOCKETS; off, at least one changed node
# (what the list is for). Needs root; exit 77 without it.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=e2e_lib.sh
. "$here/e2e_lib.sh"
e2e_args "$@"
SOCKETS=${UF_SOCKETS:-30}
e2e_topo e2e_udp_flows u ip ethtool ss
VIP=198.51.100.10
CLIENT=203.0.113.10

# the topology's config, echo with udp_timeout_s $1 and the weights $2
# ("node1:1,node2:1,node3:1"; a node4 weight adds node4)
config() {
    "$PY" - "$STATE/cnmux.json" "$1" "$2" <<'PY'
import json, sys
path, uto, weights = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path) as f:
    c = json.load(f)
w = {k: int(v) for k, v in (x.split(":") for x in weights.split(","))}
if "node4" in w:
    c["nodes"].append({"name": "node4", "ip": "192.0.2.14"})
# the nodes' MACs given and no health checks: every node up from the start
for i, n in enumerate(c["nodes"]):
    n["mac"] = "02:00:c0:00:02:%02x" % (11 + i)
    n.pop("check_port", None)
c.pop("health", None)
for s in c["services"]:
    if s["name"] == "echo":
        s["nodes"] = w
        s["udp_timeout_s"] = uto
json.dump(c, sys.stdout, indent=2)
PY
}

wait_nodes_up() {
    local _
    for _ in $(seq 150); do
        if [ "$(ctl -j node show 2>/dev/null | jq_ 'all(n["up"] for n in j["nodes"])')" = True ]; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

run_mode() { # MODE UDP_TIMEOUT_S
    local mode=$1 uto=$2 step cfg pid
    config "$uto" node1:1,node2:1,node3:1 >"$W/$mode.0.json"
    config "$uto" node1:0,node2:1,node3:1 >"$W/$mode.1.json"
    config "$uto" node1:0,node2:3,node3:1 >"$W/$mode.2.json"
    config "$uto" node1:0,node2:3,node3:1,node4:2 >"$W/$mode.3.json"
    cp "$W/$mode.0.json" "$STATE/cnmux.json"
    "$TOPO" lb "$P" "$CNMUX" >>"$W/topo.log" 2>&1 && wait_nodes_up ||
        { fail "$mode: cnmux did not come up"; return; }
    rm -f "$W/$mode.stop"
    cl "$PY" "$here/client.py" udpconv "$VIP" 9000 "$CLIENT" "$SOCKETS" 20 "$W/$mode.stop" \
        >"$W/$mode.result" 2>&1 &
    pid=$!
    BG_PIDS+=("$pid")
    sleep 1.5
    for step in 1 2 3; do
        cfg="$W/$mode.$step.json"
        ctl reload "$cfg" >"$W/$mode.reload.$step" 2>&1 ||
            fail "$mode: reload $step refused: $(cat "$W/$mode.reload.$step")"
        sleep 1.5
    done
    touch "$W/$mode.stop"
    wait "$pid" 2>/dev/null
    local st
    st=$(ctl -j stats | jq_ '[j.get("udp_new", -1), j.get("udp_hit", -1), j.get("udp_active", -1)]')
    "$TOPO" lb-stop "$P" >>"$W/topo.log" 2>&1
    local verdict
    verdict=$("$PY" - "$mode" "$SOCKETS" "$st" "$W/$mode.result" <<'PY'
import json, sys
mode, nsock, st = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
try:
    socks = json.load(open(sys.argv[4]))["sockets"]
except (ValueError, KeyError, OSError) as e:
    print("FAIL %s: no client result (%s)" % (mode, e))
    sys.exit(0)
sent = sum(c["sent"] for c in socks)
answered = sum(c["answered"] for c in socks)
on1 = [c for c in socks if c["first"] == "node1"]
moved = [c for c in socks if c["switches"] > 0]
silent = [c for c in socks if c["answered"] == 0]
bad = []
if len(socks) != nsock or silent:
    bad.append("%d conversations, %d never answered" % (len(socks), len(silent)))
if answered < 0.9 * sent:
    bad.append("%d of %d datagrams answered" % (answered, sent))
if not on1:
    bad.append("no conversation on node1: the drain moves nothing")
if mode == "on":
    if moved:
        bad.append("moved: %s" % ["%s %s" % (c["src"], c["nodes"]) for c in moved])
    if st[0] < nsock:
        bad.append("udp_new %d, expected at least %d" % (st[0], nsock))
elif not moved:
    bad.append("no conversation moved with the list off: the test shows nothing")
print("%s %s: %d conversations (%d on node1), %d of %d datagrams answered, %d changed node; "
      "udp_new %d, udp_hit %d" % ("FAIL" if bad else "PASS", mode, len(socks), len(on1),
      answered, sent, len(moved), st[0], st[1]) + ("; " + "; ".join(bad) if bad else ""))
PY
)
    log "$verdict"
    case "$verdict" in PASS*) ;; *) FAILED=$((FAILED + 1)) ;; esac
}

t0=$(date +%s)
"$TOPO" up "$P" >"$W/topo.log" 2>&1 || { cat "$W/topo.log"; exit 1; }
run_mode on 60
run_mode off 0
log "$(( $(date +%s) - t0 )) s, $FAILED failed"
[ "$FAILED" -eq 0 ]
