#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# High availability with three real cnmux processes on loopback (issue 6):
#
#   ha_test.sh CNMUX CNMUXCTL
#
# See ha_test.py: failover under a stream of changes (SIGKILL of the primary
# at a random point, takeover time measured), the old primary rejoining, a
# stopped slave catching up by snapshot. No root needed (net_null ports,
# TCP on 127.0.0.1). HA_SEED fixes the kill point; KEEP_TMP=1 keeps the logs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 2 ]; then
    echo "usage: $0 CNMUX CNMUXCTL" >&2
    exit 2
fi
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
[ -x "$py" ] || py=python3
rid=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-7)   # the file prefixes: unique per run
tmp=$(mktemp -d /tmp/cnmha.XXXXXX)
cleanup() {
    rm -rf /var/run/dpdk/cnmha"$rid"* "${XDG_RUNTIME_DIR:-/tmp}"/dpdk/cnmha"$rid"* 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "ha: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
HA_PREFIX=cnmha$rid "$py" "$here/ha_test.py" "$cnmux" "$ctl" "$tmp"
