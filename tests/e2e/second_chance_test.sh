#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Second chance end to end (issue 12, item 3; docs/pdt.md "Second chance"):
# real kernel TCP connections through cnmux whose forwarding-list entries
# are lost survive a reload that moves their PDT entries when
# second_chance_s is on, and break when it is off.
#
# usage: second_chance_test.sh CNMUX CNMUXCTL
#
# The topology is topology.sh's (docs/e2e.md). Per mode (on: second_chance_s
# 120; off: 0), on the same namespaces:
#   1. cnmux starts with the mode's config (the nodes' MACs given, no health
#      checks: every node up from the start); STREAMS long-lived TCP streams
#      (client.py stream, 100 kB/s each) to web 5001/tcp (node1:node2:node3 =
#      3:2:1) are opened and placed by the PDT, and recorded in the list;
#   2. cnmux is restarted (SIGINT, started again): the new process has an
#      empty forwarding list, so the streams' segments are non-SYN packets
#      the list does not hold (what a restart, a full list or another
#      instance that saw the handshake leave). `conns count` must be 0 and
#      every stream must go on;
#   3. `cnmuxctl reload` of the same config with node1 drained (web node1
#      weight 0): node1's entries move to node2 and node3;
#   4. after 4 s the streams are stopped; each client checks that its
#      server counted every byte it sent (a reset, a stall past STALL_S
#      (40 s: the restart on a loaded machine) or a node that never saw the
#      start of the stream fails it).
# Expected: on, every stream ok, at least one of them on node1, cnmux's
# second_chance counter > 0, and the list holding (at least) node1's streams
# on node1 after the reload (entries the PDT no longer gives: displaced
# connections, which HA checkpoints to the other holders); off, at least one stream of node1
# broken (the reason the feature exists). Needs root; exit 77 without it.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=e2e_lib.sh
. "$here/e2e_lib.sh"
e2e_args "$@"
STREAMS=${SC_STREAMS:-12}
# a stream blocked this long fails: long enough for cnmux's restart on a
# loaded machine (it starts EAL, its ports and resolves its nodes again);
# a stream sent to a node that does not know it is reset at once
STALL_S=${SC_STALL_S:-40}
e2e_topo e2e_second_chance s ip ethtool ss
VIP=198.51.100.10
CLIENT=203.0.113.10

# the topology's config with second_chance_s = $1 and node1's weight in web = $2
config() {
    "$PY" - "$STATE/cnmux.json" "$1" "$2" <<'PY'
import json, sys
path, sc, w1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path) as f:
    c = json.load(f)
c["second_chance_s"] = sc
# the nodes' MACs given and no health checks: the nodes are up from the
# start, so a restarted cnmux places the streams by the full table at once
# (with nodes resolved one by one, the tables of the first second send some
# streams to a node that resets them: a restart problem second chance cannot
# help with, there being no earlier table in the new process)
for i, n in enumerate(c["nodes"]):
    n["mac"] = "02:00:c0:00:02:%02x" % (11 + i)
c.pop("health", None)
for s in c["services"]:
    if s["name"] == "web":
        s["nodes"]["node1"] = w1
json.dump(c, sys.stdout, indent=2)
PY
}

wait_nodes_up() { # every configured node up (ARP resolved, health checks passed)
    local _
    for _ in $(seq 150); do
        if [ "$(ctl -j node show 2>/dev/null |
                jq_ 'all(n["up"] for n in j["nodes"] if n["name"] != "node4")')" = True ]; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

lb_start() { # CONFIG
    cp "$1" "$STATE/cnmux.json"
    "$TOPO" lb "$P" "$CNMUX" >>"$W/topo.log" 2>&1 || return 1
    wait_nodes_up
}


# One mode: SECOND_CHANCE_S; prints "on|off: ..." and sets $W/MODE.result
run_mode() {
    local mode=$1 sc=$2 i alive0 alive1 scn verdict rec1
    config "$sc" 3 >"$W/$mode.json"
    config "$sc" 0 >"$W/$mode.drained.json"
    lb_start "$W/$mode.json" || { fail "$mode: cnmux did not come up"; return; }
    for i in $(seq "$STREAMS"); do
        rm -f "$W/$mode.$i.stop" "$W/$mode.$i.prog"
        cl "$PY" "$here/client.py" stream "$VIP" 5001 "$CLIENT" "$W/$mode.$i.stop" \
            "$W/$mode.$i.prog" 100000 180 "$STALL_S" >"$W/$mode.$i.json" 2>&1 &
        BG_PIDS+=("$!")
        echo "$!" >"$W/$mode.$i.pid"
    done
    for i in $(seq "$STREAMS"); do
        for _ in $(seq 100); do
            [ -s "$W/$mode.$i.prog" ] && break
            sleep 0.05
        done
    done
    log "$mode: $(ctl -j conns count | jq_ 'j["count"]') connections in the list before the restart"

    # 2: a new process, an empty list
    local t_r
    t_r=$(date +%s.%N)
    "$TOPO" lb-stop "$P" >>"$W/topo.log" 2>&1
    lb_start "$W/$mode.json" || { fail "$mode: cnmux did not come back"; return; }
    log "$mode: restart: $("$PY" -c "import sys, time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$t_r") s until every node was up again"
    sleep 3
    alive0=$(ctl -j stats | jq_ 'j["rx"]')
    local held
    held=$(ctl -j conns count | jq_ 'j["count"]')
    [ "$held" = 0 ] || fail "$mode: after the restart the list holds $held connections (expected 0)"

    # 3: node1 drained by a reload
    ctl reload "$W/$mode.drained.json" >"$W/$mode.reload" 2>&1 ||
        fail "$mode: reload refused: $(cat "$W/$mode.reload")"
    sleep 4
    alive1=$(ctl -j stats | jq_ 'j["rx"]')
    scn=$(ctl -j stats | jq_ '[j["second_chance"], j["second_chance_failed"]]')
    # what second chance recorded: entries on node1, which the PDT no longer
    # gives: displaced connections, what HA checkpoints to the other holders
    rec1=$(ctl -j conns show --node node1 --max 1000 | jq_ 'j["count"]')

    # 4: the verdicts
    for i in $(seq "$STREAMS"); do
        touch "$W/$mode.$i.stop"
    done
    for i in $(seq "$STREAMS"); do
        local pid
        pid=$(cat "$W/$mode.$i.pid")
        for _ in $(seq 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        wait "$pid" 2>/dev/null
    done
    "$TOPO" lb-stop "$P" >>"$W/topo.log" 2>&1
    verdict=$(cat "$W/$mode".[0-9]*.json | "$PY" -c '
import json, sys
mode, scn, rx0, rx1 = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rec1 = int(sys.argv[6])
res = [json.loads(l) for l in sys.stdin if l.startswith("{")]
on1 = [r for r in res if r["node"] == "node1"]
broken = [r for r in res if not r["ok"]]
broken1 = [r for r in on1 if not r["ok"]]
bad = []
if len(res) != int(sys.argv[5]):
    bad.append("%d of %s streams reported" % (len(res), sys.argv[5]))
if not on1:
    bad.append("no stream on node1: nothing to move")
if rx1 <= rx0:
    bad.append("no traffic after the reload")
if mode == "on":
    if broken:
        bad.append("broken: %s" % ["%s:%s %s" % (r["node"], r["sport"], r["error"] or
                                                "server counted %s of %s" % (r["server_count"], r["sent"]))
                                   for r in broken])
    if scn[0] == 0:
        bad.append("second_chance counter 0")
    if rec1 < len(on1):
        bad.append("the list holds %d connections on node1 for %d streams" % (rec1, len(on1)))
else:
    if not broken1:
        bad.append("no stream of node1 broke with second chance off: the test shows nothing")
print("%s %s: %d streams, %d on node1; broken %d (%d of them on node1); second_chance %d, failed %d; "
      "list entries on node1 after the reload %d" % (
    "FAIL" if bad else "PASS", mode, len(res), len(on1), len(broken), len(broken1), scn[0], scn[1],
    rec1)
    + ("; " + "; ".join(bad) if bad else ""))
' "$mode" "$scn" "$alive0" "$alive1" "$STREAMS" "$rec1")
    echo "e2e_second_chance: $verdict"
    case "$verdict" in PASS*) ;; *) FAILED=$((FAILED + 1)) ;; esac
}

t0=$(date +%s)
"$TOPO" up "$P" >"$W/topo.log" 2>&1 || { cat "$W/topo.log"; exit 1; }
run_mode on 120
run_mode off 0
log "$(( $(date +%s) - t0 )) s, $FAILED failed"
[ "$FAILED" -eq 0 ]
