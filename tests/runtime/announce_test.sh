#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The VIPs for a routing daemon (issue 12, item 4; lib/announce, docs/bgp.md):
#
#   announce_test.sh CNMUX CNMUXCTL
#
# cnmux on null ports (no traffic needed: what is announced follows the
# tables), "announce" with file4, file6 and a command that appends a line to
# a file each time it runs. Checked:
#   1. at start: web's VIP (IPv4, two nodes up) and web6's (IPv6) in their
#      files, dns's VIP too, once (two services share it); the command ran,
#      with stdin /dev/null and no socket of cnmux's;
#   2. both of web's nodes down (node down): web's VIP withdrawn, dns's
#      (the same VIP? no: its own) still there; the command ran again;
#   3. one node up again: announced again;
#   4. a reload that removes web6: its file empty of routes;
#   5. a reload that changes nothing: the files are not rewritten, the
#      command does not run;
#   6. SIGINT: both files emptied, the command ran once more, exit 0.
# Each file is BIRD syntax, checked with bird -p when BIRD is installed.
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 CNMUX CNMUXCTL" >&2; exit 2; }
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
. "$(cd "$(dirname "$0")" && pwd)/../lib/testenv.sh"

tag=$(cnm_run_id)
prefix=cnmann-$tag
tmp=$(mktemp -d /tmp/cnmann.XXXXXX)
sock=$tmp/ctl.sock
pid=""
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid"; fi
    rm -rf "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix" 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "announce: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
die() {
    echo "FAIL: $*"
    echo "--- vips4:"; cat "$tmp/vips4.conf" 2>/dev/null
    echo "--- vips6:"; cat "$tmp/vips6.conf" 2>/dev/null
    echo "--- runs: $(runs)"
    [ -f "$tmp/cnmux.err" ] && { echo "--- cnmux (tail)"; tail -n 20 "$tmp/cnmux.out" "$tmp/cnmux.err"; }
    exit 1
}
cnmctl() { "$ctl" -s "$sock" "$@"; }
runs() { [ -f "$tmp/runs" ] && wc -l < "$tmp/runs" || echo 0; }
routes() { grep -c '^route ' "$1" 2>/dev/null || true; }
# wait until FILE has (or has not: !) a line for VIP; 10 s at most
wait_route() { # FILE VIP/LEN [!]
    local i
    for ((i = 0; i < 200; i++)); do
        if grep -qx "route $2 blackhole;" "$1" 2>/dev/null; then
            [ "${3:-}" != '!' ] && return 0
        else
            [ "${3:-}" = '!' ] && [ -f "$1" ] && return 0
        fi
        sleep 0.05
    done
    return 1
}
wait_runs() { # N: the command ran at least N times and has ended
    local i
    for ((i = 0; i < 200; i++)); do
        [ "$(runs)" -ge "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

write_config() { # WITH_WEB6 (1/0)
    local web6=""
    [ "$1" = 1 ] && web6=',
    { "name": "web6", "vip": "2001:db8:100::10", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "n6": 1 } }'
    cat >"$tmp/config.json" <<EOF2
{ "version": 1,
  "ports": { "public": "net_null0", "private": ["net_null1"] },
  "nodes": [
    { "name": "n1", "ip": "192.0.2.11", "mac": "02:00:c0:00:02:0b" },
    { "name": "n2", "ip": "192.0.2.12", "mac": "02:00:c0:00:02:0c" },
    { "name": "n3", "ip": "192.0.2.13", "mac": "02:00:c0:00:02:0d" },
    { "name": "n6", "ip": "2001:db8:1::16", "mac": "02:00:c0:00:02:16" } ],
  "services": [
    { "name": "web", "vip": "198.51.100.10", "ports": ["80/tcp"], "policy": "weighted",
      "nodes": { "n1": 1, "n2": 1 } },
    { "name": "dns", "vip": "198.51.100.20", "ports": ["53/udp"], "policy": "sticky",
      "nodes": { "n3": 1 } },
    { "name": "dnstcp", "vip": "198.51.100.20", "ports": ["53/tcp"], "policy": "weighted",
      "nodes": { "n3": 1 } }$web6 ],
  "control": { "socket": "$sock" },
  "announce": { "file4": "$tmp/vips4.conf", "file6": "$tmp/vips6.conf",
                "command": "for f in /proc/\$\$/fd/*; do readlink \$f; done > $tmp/fds; echo ran >> $tmp/runs" } }
EOF2
}
write_config 1
"$cnmux" --no-huge -m 256 --no-pci -l 0,1 --file-prefix "$prefix" --log-level=lib.eal:error \
    --vdev net_null0 --vdev net_null1 -- --config "$tmp/config.json" \
    >"$tmp/cnmux.out" 2>"$tmp/cnmux.err" &
pid=$!
for ((i = 0; i < 600; i++)); do cnmctl stats >/dev/null 2>&1 && break; sleep 0.1; done
cnmctl stats >/dev/null 2>&1 || die "the control socket did not answer"

# 1. at start
wait_route "$tmp/vips4.conf" 198.51.100.10/32 || die "1. web's VIP not announced"
wait_route "$tmp/vips4.conf" 198.51.100.20/32 || die "1. dns's VIP not announced"
wait_route "$tmp/vips6.conf" 2001:db8:100::10/128 || die "1. web6's VIP not announced"
[ "$(routes "$tmp/vips4.conf")" = 2 ] || die "1. $(routes "$tmp/vips4.conf") IPv4 routes, not 2 (one per VIP)"
wait_runs 1 || die "1. the command did not run"
# started as every command cnmux runs (lib/proc): stdin /dev/null, none of
# cnmux's sockets (control, telemetry, EAL's) inherited
[ "$(head -1 "$tmp/fds")" = /dev/null ] || die "1. the command's stdin is $(head -1 "$tmp/fds"), not /dev/null"
! grep -q '^socket:' "$tmp/fds" || die "1. the command inherited cnmux's sockets: $(grep -c '^socket:' "$tmp/fds") of them"
echo "announce: 1. at start: 2 IPv4 VIPs, 1 IPv6 VIP; the command ran $(runs) time(s)"

# 2. web's nodes down
r=$(runs)
cnmctl node down n1 >/dev/null || die "node down n1"
cnmctl node down n2 >/dev/null || die "node down n2"
wait_route "$tmp/vips4.conf" 198.51.100.10/32 ! || die "2. web's VIP still announced with no node up"
grep -qx "route 198.51.100.20/32 blackhole;" "$tmp/vips4.conf" || die "2. dns's VIP withdrawn with web's"
wait_runs $((r + 1)) || die "2. the command did not run after the withdrawal"
echo "announce: 2. web's nodes down: its VIP withdrawn, dns's kept; the command ran ($(runs))"

# 3. one up again
cnmctl node up n2 >/dev/null || die "node up n2"
wait_route "$tmp/vips4.conf" 198.51.100.10/32 || die "3. web's VIP not announced again"
echo "announce: 3. n2 up: web's VIP announced again"

# 4. web6 removed by a reload
write_config 0
cnmctl reload "$tmp/config.json" >/dev/null || die "reload without web6"
wait_route "$tmp/vips6.conf" 2001:db8:100::10/128 ! || die "4. web6's VIP still announced after its removal"
[ "$(routes "$tmp/vips6.conf")" = 0 ] || die "4. routes left in vips6.conf"
echo "announce: 4. web6 removed: vips6.conf holds no route"

# 5. nothing changes: nothing written, nothing run
sleep 0.5
r=$(runs)
m4=$(stat -c %Y.%i "$tmp/vips4.conf")
cnmctl reload "$tmp/config.json" >/dev/null || die "reload of the same file"
sleep 1
[ "$(stat -c %Y.%i "$tmp/vips4.conf")" = "$m4" ] || die "5. vips4.conf rewritten by a reload that changed nothing"
[ "$(runs)" = "$r" ] || die "5. the command ran after a reload that changed nothing"
echo "announce: 5. a reload that changes nothing: no write, no run"

# the files are BIRD syntax: a static protocol that includes them parses
if command -v bird >/dev/null; then
    cat >"$tmp/bird.conf" <<EOF2
router id 192.0.2.1;
protocol device {}
protocol static vips4 {
    ipv4;
include "$tmp/vips4.conf";
}
protocol static vips6 {
    ipv6;
include "$tmp/vips6.conf";
}
EOF2
    out=$(bird -p -c "$tmp/bird.conf" 2>&1) || die "bird -p rejects the files: $out"
    echo "announce: bird -p accepts the files"
fi

# 6. SIGINT: withdrawn
r=$(runs)
kill -INT "$pid"
wait "$pid"; rc=$?
pid=""
[ $rc -eq 0 ] || die "6. cnmux exited with status $rc"
[ "$(routes "$tmp/vips4.conf")" = 0 ] || die "6. IPv4 routes left after SIGINT"
[ "$(routes "$tmp/vips6.conf")" = 0 ] || die "6. IPv6 routes left after SIGINT"
[ "$(runs)" -gt "$r" ] || die "6. the command did not run at shutdown"
grep -q "every VIP withdrawn" "$tmp/cnmux.err" "$tmp/cnmux.out" || die "6. no 'every VIP withdrawn' in the log"
echo "announce: 6. SIGINT: every route withdrawn, the command ran, exit 0"
echo PASS
