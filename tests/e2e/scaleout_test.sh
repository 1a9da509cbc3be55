#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The scale-out test (issue 12, item 5; docs/e2e.md "Scale-out behind ECMP"):
# a router namespace running BIRD 2 with ECMP (merge paths, L4 hash) over
# two to three cnmux instances, each in its own namespace with its own BIRD
# announcing the VIP through cnmux's local port; four nodes behind a bridge
# (DSR); a client with long-lived and short TCP connections. Instances
# added, removed (gracefully) and restarted (abruptly), a node drained and
# one added, weights changed, ports added to and removed from another
# service, all under traffic; four modes (second chance off/on x HA
# off/on). Prints the table of broken connections per mode and event.
# Passes when second chance and HA on together break nothing and the run
# was real (scaleout.py says what is checked).
#
#   scaleout_test.sh CNMUX CNMUXCTL
#
# Needs root, iproute2, ethtool, tc, bird2: skipped (77) without (a failure
# under CI=true). Environment: SO_STREAMS (200), SO_SHORT_PER_S (5),
# SO_STALL_S (20), SO_LIFE_S (0), SO_MODES (off,sc,ha,sc+ha), KEEP_TMP=1
# (keep the logs; they are kept on a failure too).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/testenv.sh
. "$here/../lib/testenv.sh"
[ $# -eq 2 ] || { echo "usage: $0 CNMUX CNMUXCTL" >&2; exit 2; }
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3)

[ "$(id -u)" = 0 ] || cnm_skip "e2e_scaleout needs root (network namespaces)"
for t in ip ethtool tc ss bird birdc "$py"; do
    command -v "$t" >/dev/null 2>&1 || cnm_skip "e2e_scaleout: $t not found (.ci/install-deps installs it)"
done

rid=$(cnm_run_id)
ns=so$rid
tmp=$(mktemp -d /tmp/cnmscaleout.XXXXXX)
cleanup() {
    local rc=$? n pid
    # everything still running in the test's namespaces was started by it
    for n in $(ip netns list | awk '{print $1}' | grep "^$ns-"); do
        for pid in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
    for n in $(ip netns list | awk '{print $1}' | grep "^$ns-"); do
        ip netns del "$n" 2>/dev/null
    done
    rm -rf /var/run/dpdk/cnmso"$rid"* 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ] || [ "$rc" != 0 ]; then
        echo "e2e_scaleout: logs kept in $tmp"
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns-probe" 2>/dev/null || cnm_skip "e2e_scaleout cannot create a network namespace"
ip netns del "$ns-probe"
# A sanitizer build runs the mode the test asserts (second chance and HA
# on: no connection may break); the table of all four comes from the
# normal build. Under ASan the four take 9 minutes of CI's 90.
if [ -z "${SO_MODES:-}" ] && ldd "$cnmux" 2>/dev/null | grep -q libasan; then
    export SO_MODES=sc+ha
    echo "e2e_scaleout: an ASan build: mode sc+ha only (SO_MODES=off,sc,ha,sc+ha runs all)"
fi
"$py" "$here/scaleout.py" "$cnmux" "$ctl" "$tmp" "$rid"
