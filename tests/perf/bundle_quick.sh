#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# CI smoke of the multi-core bundle (issue 15, item 4): build the bundle
# (tests/perf/make_bundle.sh) from this build and run it as the 16-core
# machine would, for one worker, one short pair of udp_weighted_2:
#
#   bundle_quick.sh CNMUX CNMUXCTL
#
# Passes when run.sh ran cnmux and testpmd through the bundled loader and
# libraries and multicore.json has a rate for both. It never fails on
# performance. 77 (skipped) without dpdk-testpmd or a second core.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 CNMUX CNMUXCTL" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
command -v dpdk-testpmd >/dev/null || { echo "SKIP: no dpdk-testpmd"; exit 77; }
[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || { echo "SKIP: one worker needs 2 cores"; exit 77; }
# EAL loads no PMD below a world-writable directory (such as /tmp, where a
# checkout may be): the bundle goes under $HOME, removed at the end
base=${HOME:-/root}
d=$base
while [ "$d" != / ]; do
    if [ -n "$(find "$d" -maxdepth 0 -perm -0002 2>/dev/null)" ]; then
        echo "SKIP: $d is world-writable: EAL would load no PMD of a bundle below it"
        exit 77
    fi
    d=$(dirname "$d")
done
dir=$(mktemp -d "$base/.cnmux-bundle-quick.XXXXXX")
trap 'rm -rf "$dir" "$dir.tar.gz"' EXIT
CNMUX=$1 CNMUXCTL=$2 "$here/make_bundle.sh" "$dir" >/dev/null
"$dir/run.sh" -w 1 -s udp_weighted_2 -d 1 -p 1 -o "$dir/out"
python3 - "$dir/out/multicore.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["scenarios"]["udp_weighted_2"][0]
assert d["workers"] == 1, d
assert d["cnmux_mpps"] and d["testpmd_mpps"], "no rate: %s" % d
print("bundle: 1 worker, udp_weighted_2: cnmux %.2f Mpps, testpmd 5tswap %.2f Mpps" %
      (d["cnmux_mpps"], d["testpmd_mpps"]))
PY
