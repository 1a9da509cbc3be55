#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# save and the state file (issue 14), through the real binary:
#
#   save_test.sh CNMUX CNMUXCTL
#
# A runs with control.state_file. After run-time changes (node add, drain,
# weight, service del) the state file holds them, and `cnmuxctl save FILE`
# writes the same configuration. B started from the saved file holds the
# very tables A holds (pdt show, entry by entry by node name) and the same
# weights. A restarted from its unchanged configuration file starts from the
# state file (its drain is kept); after the configuration file is edited
# (newer than the state file) it starts from the file again; a broken state
# file is refused with its error and the file is used. Needs no root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
# shellcheck source=../lib/testenv.sh
. "$here/../lib/testenv.sh"
[ -x "$py" ] || py=python3

rid=$(cnm_run_id)
tmp=$(mktemp -d "/tmp/cnm_save_${rid}.XXXXXX")
pids=()
prefixes=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; fi
    done
    for p in "${prefixes[@]}"; do rm -rf "/var/run/dpdk/$p" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$p"; done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
die() { echo "FAIL $*"; for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -5 "$f"; }; done; exit 1; }
ctl_of() { local who=$1; shift; "$ctl" -s "$tmp/$who.sock" "$@"; }
poll() {
    local end=$(($(date +%s) + 60))
    until "$@"; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.1; done
}
node() { echo "{ \"name\": \"node$1\", \"ip\": \"192.0.2.1$1\", \"mac\": \"02:00:c0:00:02:1$1\" }"; }
cat >"$tmp/A.json" <<EOF
{
  "version": 1,
  "ports": { "public": "net_null0", "private": ["net_null1"], "local": "net_null2" },
  "nodes": [ $(node 1), $(node 2), $(node 3) ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/tcp", "443/tcp"], "policy": "weighted",
      "nodes": { "node1": 3, "node2": 1, "node3": 2 } },
    { "name": "dns", "vip": "198.51.100.10", "ports": ["53/udp"], "policy": "sticky",
      "pdt_size": 1024, "nodes": { "node1": 1, "node2": 1, "node3": 1 } },
    { "name": "any", "vip": "198.51.100.20", "protocols": ["tcp"], "policy": "sticky-wild",
      "nodes": { "node2": 1, "node3": 1 } }
  ],
  "pdt_size": 4096,
  "control": { "socket": "$tmp/A.sock", "state_file": "$tmp/A.state.json" }
}
EOF

# start WHO CONFIG: one cnmux on null ports, waited for
start() {
    local prefix=cnm_save_${rid}_$1_${#pids[@]}
    prefixes+=("$prefix")
    "$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" --log-level=error \
        --vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 --vdev net_null2,no-rx=1 \
        -- --config "$2" --quiet >"$tmp/$1.log" 2>&1 &
    pids+=($!)
    poll ctl_of "$1" stats >/dev/null 2>&1 || die "cnmux $1 did not come up"
}
stop() { # WHO: SIGTERM, the last started
    local p=${pids[-1]}
    kill -TERM "$p"; wait "$p" 2>/dev/null
    poll test ! -S "$tmp/$1.sock" || rm -f "$tmp/$1.sock"
}
# tables WHO SERVICES...: every table, entry by entry by node name, and the weights
tables() {
    local who=$1 s; shift
    for s in "$@"; do
        ctl_of "$who" -j pdt show "$s" 0 65536 | "$py" -c '
import json, sys
d = json.load(sys.stdin)
print("\n".join(e if e is not None else "-" for e in d["entries"]))' || die "pdt show $s on $who"
    done
    ctl_of "$who" -j service show | "$py" -c '
import json, sys
for s in sorted(json.load(sys.stdin)["services"], key=lambda s: s["name"]):
    print(s["name"], sorted((n["name"], n["weight"]) for n in s["nodes"]))' || die "service show on $who"
}
weight() { # WHO SERVICE NODE
    ctl_of "$1" -j service show "$2" | "$py" -c '
import json, sys
s = json.load(sys.stdin)["services"][0]
print([n["weight"] for n in s["nodes"] if n["name"] == sys.argv[1]][0])' "$3"
}

start A "$tmp/A.json"
tables A web dns any >"$tmp/fresh.txt"
ctl_of A node add node4 192.0.2.14 02:00:c0:00:02:14 web=2 >/dev/null || die "node add"
ctl_of A node drain node2 web >/dev/null || die "node drain"
ctl_of A node weight node3 dns 5 >/dev/null || die "node weight"
ctl_of A service del any >/dev/null || die "service del"
[ -s "$tmp/A.state.json" ] || die "no state file after four changes"
ctl_of A save "$tmp/saved.json" >/dev/null || die "save"
"$py" - "$tmp/A.state.json" "$tmp/saved.json" <<'PY' || die "the state file and the saved file differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(a != b)
PY
# relative to cnmuxctl's directory, and to the state file by default
(cd "$tmp" && ctl_of A save rel.json >/dev/null) || die "save rel.json"
[ -s "$tmp/rel.json" ] || die "save rel.json did not write $tmp/rel.json"
ctl_of A save >/dev/null || die "save (to the state file)"
tables A web dns >"$tmp/A.txt"
[ "$(weight A web node2)" = 0 ] || die "node2 not drained in web"

# B from the saved file (its own socket and no state file): the same tables
"$py" - "$tmp/saved.json" "$tmp/B.json" "$tmp/B.sock" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["control"] = {"socket": sys.argv[3]}
json.dump(c, open(sys.argv[2], "w"))
PY
start B "$tmp/B.json"
tables B web dns >"$tmp/B.txt"
cmp -s "$tmp/A.txt" "$tmp/B.txt" || die "B started from the saved file holds other tables than A: $(diff "$tmp/A.txt" "$tmp/B.txt" | head -3)"
echo "save: B from the saved file holds A's tables ($(wc -l <"$tmp/A.txt") lines)"

# A restarted from its configuration file: the state file is newer, it wins
stop A
start A "$tmp/A.json"
grep -q "starting from the state file" "$tmp/A.log" || die "A did not say it starts from the state file"
tables A web dns >"$tmp/A2.txt"
cmp -s "$tmp/A.txt" "$tmp/A2.txt" || die "A restarted lost the run-time changes"
echo "save: a restart keeps the run-time changes (node2 drained: weight $(weight A web node2))"

# the configuration file edited since: it wins
stop A
sleep 0.05
touch "$tmp/A.json"
start A "$tmp/A.json"
grep -q "is newer than the state file" "$tmp/A.log" || die "A did not say the file is newer"
tables A web dns any >"$tmp/A3.txt"
cmp -s "$tmp/fresh.txt" "$tmp/A3.txt" || die "A from the edited file does not hold the file's tables"
# (its start wrote nothing: the state file is written on changes only)
stop A

# a broken state file: refused with its error, the file is used
echo '{ "version": 1, "nodes": [' >"$tmp/A.state.json"
start A "$tmp/A.json"
grep -q "the state file is not usable" "$tmp/A.log" || die "a broken state file was not reported"
tables A web dns any >"$tmp/A4.txt"
cmp -s "$tmp/fresh.txt" "$tmp/A4.txt" || die "A with a broken state file does not hold the file's tables"
ctl_of A save "/nonexistent-dir-$rid/x.json" 2>"$tmp/err.txt" && die "save into a missing directory succeeded"
grep -q "cannot write" "$tmp/err.txt" || die "save's error does not say it cannot write: $(cat "$tmp/err.txt")"
stop A
echo "save: PASS"
