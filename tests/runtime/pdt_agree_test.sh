#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Instances with the same configuration hold the same PDTs (issue 12), end to
# end through the real binary and the control socket:
#
#   pdt_agree_test.sh CNMUX CNMUXCTL
#
# Three cnmux run side by side (every port a net_null, no traffic: the tables
# are what is compared, through `cnmuxctl -j pdt show`, entry by entry by node
# name, since node ids are local numbers):
#   A  started from the final configuration;
#   B  started from the same configuration with the nodes, the services and
#      each service's members listed in another order (so other node ids);
#   C  started from another configuration (other nodes, weights, members)
#      and brought to the final one through the control socket: node add,
#      node weight, node down, node drain, node up, a reload of an
#      intermediate file, then a reload of the final file.
# A, B and C must hold the same table for every service. Then on A: node3
# down and up again gives back the very table, and C reloaded once more
# into what it runs moves nothing. Needs no root.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
# shellcheck source=../lib/testenv.sh
. "$here/../lib/testenv.sh"
[ -x "$py" ] || py=python3

rid=$(cnm_run_id)
tmp=$(mktemp -d "/tmp/cnm_pdtagree_${rid}.XXXXXX")
pids=()
prefixes=()

cleanup() {
    local p
    for p in "${pids[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -KILL "$p" 2>/dev/null
            wait "$p" 2>/dev/null
        fi
    done
    for p in "${prefixes[@]}"; do rm -rf "/var/run/dpdk/$p" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$p"; done
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

die() { echo "FAIL $*"; for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -5 "$f"; }; done; exit 1; }
ctl_of() { local who=$1; shift; "$ctl" -s "$tmp/$who.sock" "$@"; }

# poll CMD... until it succeeds; 60 s at most
poll() {
    local end=$(($(date +%s) + 60))
    until "$@"; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        sleep 0.1
    done
}

# config WHO NODES SERVICES: a configuration whose control socket is WHO's
config() {
    cat <<EOF
{
  "version": 1,
  "ports": { "public": "net_null0", "private": ["net_null1"], "local": "net_null2" },
  "nodes": [ $2 ],
  "services": [ $3 ],
  "pdt_size": 4096,
  "hash_key": "0x5eed1e55",
  "control": { "socket": "$tmp/$1.sock" }
}
EOF
}
node() { echo "{ \"name\": \"node$1\", \"ip\": \"192.0.2.1$1\", \"mac\": \"02:00:c0:00:02:1$1\" }"; }
WEB='"name": "web", "vip": "198.51.100.10", "ports": ["80/tcp", "443/tcp"], "policy": "weighted"'
DNS='"name": "dns", "vip": "198.51.100.10", "ports": ["53/udp"], "policy": "sticky", "pdt_size": 1024'
ANY='"name": "any", "vip": "198.51.100.20", "protocols": ["tcp", "udp"], "policy": "sticky-wild"'

# the final configuration, in one order ...
final_nodes="$(node 1), $(node 2), $(node 3), $(node 4), $(node 5)"
final_svcs="{ $WEB, \"nodes\": { \"node1\": 3, \"node2\": 1, \"node3\": 2, \"node5\": 0 } },
    { $DNS, \"nodes\": { \"node1\": 1, \"node2\": 1, \"node3\": 1, \"node4\": 1, \"node5\": 1 } },
    { $ANY, \"nodes\": { \"node2\": 5, \"node4\": 7 } }"
# ... and in another
rev_nodes="$(node 5), $(node 3), $(node 1), $(node 4), $(node 2)"
rev_svcs="{ $ANY, \"nodes\": { \"node4\": 7, \"node2\": 5 } },
    { $DNS, \"nodes\": { \"node5\": 1, \"node4\": 1, \"node3\": 1, \"node2\": 1, \"node1\": 1 } },
    { $WEB, \"nodes\": { \"node5\": 0, \"node3\": 2, \"node2\": 1, \"node1\": 3 } }"
# where C starts: nodes 9 and 8 are gone in the end, 4 and 5 come later
start_nodes="$(node 9), $(node 3), $(node 1), $(node 8), $(node 2)"
start_svcs="{ $WEB, \"nodes\": { \"node9\": 1, \"node1\": 1 } },
    { $DNS, \"nodes\": { \"node8\": 2, \"node2\": 1, \"node3\": 1 } },
    { $ANY, \"nodes\": { \"node8\": 1 } }"
# an intermediate file C is reloaded into on the way
mid_nodes="$(node 1), $(node 2), $(node 3), $(node 4), $(node 5), $(node 8)"
mid_svcs="{ $WEB, \"nodes\": { \"node1\": 1, \"node2\": 1, \"node3\": 2, \"node5\": 4, \"node8\": 1 } },
    { $DNS, \"nodes\": { \"node8\": 1, \"node5\": 1, \"node1\": 1 } },
    { $ANY, \"nodes\": { \"node2\": 1, \"node4\": 1, \"node8\": 1 } }"

config A "$final_nodes" "$final_svcs" >"$tmp/A.json"
config B "$rev_nodes" "$rev_svcs" >"$tmp/B.json"
config C "$start_nodes" "$start_svcs" >"$tmp/C.json"
config C "$mid_nodes" "$mid_svcs" >"$tmp/C_mid.json"
config C "$final_nodes" "$final_svcs" >"$tmp/C_final.json"

start() { # WHO
    local prefix=cnm_pdtagree_${rid}_$1
    prefixes+=("$prefix")
    "$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" --log-level=error \
        --vdev net_null0,no-rx=1 --vdev net_null1,no-rx=1 --vdev net_null2,no-rx=1 \
        -- --config "$tmp/$1.json" --quiet >"$tmp/$1.log" 2>&1 &
    pids+=($!)
    poll ctl_of "$1" stats >/dev/null 2>&1 || die "cnmux $1 did not come up"
}

# show WHO SERVICE: the entries of the table, one node name a line
show() {
    ctl_of "$1" -j pdt show "$2" 0 65536 | "$py" -c '
import json, sys
d = json.load(sys.stdin)
assert d["count"] == d["size"], (d["count"], d["size"])
print("\n".join(e if e is not None else "-" for e in d["entries"]))' \
        || die "pdt show $2 on $1"
}

# same WHAT X Y: every service's table of X and Y, entry by entry
same() {
    local s n
    for s in web dns any; do
        show "$2" "$s" >"$tmp/$2.$s.txt"
        show "$3" "$s" >"$tmp/$3.$s.txt"
        if ! cmp -s "$tmp/$2.$s.txt" "$tmp/$3.$s.txt"; then
            n=$(paste -d' ' "$tmp/$2.$s.txt" "$tmp/$3.$s.txt" | awk '$1 != $2' | wc -l)
            die "$1: $s: $n of $(wc -l <"$tmp/$2.$s.txt") entries differ between $2 and $3"
        fi
    done
    echo "pdt_agree: $1: web, dns, any identical in $2 and $3 ($(wc -l <"$tmp/$2.web.txt") + $(wc -l <"$tmp/$2.dns.txt") + $(wc -l <"$tmp/$2.any.txt") entries)"
}

start A
start B
start C

same "nodes in another order" A B

# C: through the control socket to the final configuration
ctl_of C node add node4 192.0.2.14 02:00:c0:00:02:14 any=7 >/dev/null || die "C: node add node4"
ctl_of C node add node5 192.0.2.15 02:00:c0:00:02:15 web=4 >/dev/null || die "C: node add node5"
ctl_of C node weight node2 web 1 >/dev/null || die "C: node weight"
ctl_of C node weight node3 web 5 >/dev/null || die "C: node weight"
ctl_of C node down node1 >/dev/null || die "C: node down"
ctl_of C node drain node5 web >/dev/null || die "C: node drain"
ctl_of C node up node1 >/dev/null || die "C: node up"
cp "$tmp/C_mid.json" "$tmp/C.json"
ctl_of C reload >/dev/null || die "C: reload (intermediate)"
cp "$tmp/C_final.json" "$tmp/C.json"
ctl_of C reload >/dev/null || die "C: reload (final)"
same "reloaded through changes" A C

# A: a node down and up again gives back the same table
for s in web dns any; do show A "$s" >"$tmp/before.$s.txt"; done
ctl_of A node down node3 >/dev/null || die "A: node down node3"
moved=$(show A web | paste -d' ' "$tmp/before.web.txt" - | awk '$1 != $2' | wc -l)
[ "$moved" -gt 0 ] || die "A: node3 down moved nothing in web"
ctl_of A node up node3 >/dev/null || die "A: node up node3"
for s in web dns any; do
    show A "$s" | cmp -s "$tmp/before.$s.txt" - || die "A: $s differs after node3 down and up"
done
echo "pdt_agree: node3 down moved $moved of 4096 web entries; up again: every table as before"
same "after down and up" A B

# C reloaded into what it runs: nothing moves
for s in web dns any; do show C "$s" >"$tmp/before.$s.txt"; done
ctl_of C reload >/dev/null || die "C: reload (unchanged)"
for s in web dns any; do
    show C "$s" | cmp -s "$tmp/before.$s.txt" - || die "C: $s changed by a reload that changes nothing"
done
echo "pdt_agree: PASS"
