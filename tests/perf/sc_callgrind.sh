#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Instructions per frame of the decision with second chance (docs/pdt.md,
# docs/performance.md): sc_bench --case C --iters N under callgrind,
# collecting only inside bench_one() (one burst of 32 frames), for N = 1,000
# and 2,000; (I_2000 - I_1000) / 32,000 is the per-frame figure with the
# set-up cancelled out. Deterministic for a build.
#
#   tests/perf/sc_callgrind.sh [build/tests/perf/sc_bench]
set -eu
bench=${1:-build/tests/perf/sc_bench}
dir=$(mktemp -d /tmp/cnmux-sc-cg.XXXXXX)
trap 'rm -rf "$dir"' EXIT
total() {
    callgrind_annotate "$1" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
}
for c in hit nowindow same taken recorded; do
    for n in 1000 2000; do
        valgrind --tool=callgrind --toggle-collect=bench_one \
            --callgrind-out-file="$dir/$c.$n" "$bench" --case "$c" --iters "$n" \
            >"$dir/$c.$n.out" 2>&1
    done
    a=$(total "$dir/$c.1000")
    b=$(total "$dir/$c.2000")
    echo "$c $(( (b - a) / 32000 )).$(( ((b - a) % 32000) * 10 / 32000 )) $(grep "^{" "$dir/$c.2000.out")"
done
