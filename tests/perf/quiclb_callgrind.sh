#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Instructions to route one QUIC short header by its CID (docs/quic.md):
# quiclb_bench --case C --iters N under callgrind, collecting only inside
# bench_one(), for N = 10,000 and 20,000; (I_20000 - I_10000) / 10,000 is the
# per-packet figure with the set-up cancelled out. Deterministic: the same
# on every run of the same build and libcrypto.
#
#   tests/perf/quiclb_callgrind.sh [build/tests/perf/quiclb_bench]
set -eu
bench=${1:-build/tests/perf/quiclb_bench}
dir=$(mktemp -d /tmp/cnmux-quiclb-cg.XXXXXX)
trap 'rm -rf "$dir"' EXIT
total() {
    callgrind_annotate "$1" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
}
for c in parse_only plaintext single_pass four_pass_3 four_pass_4; do
    for n in 10000 20000; do
        valgrind --tool=callgrind --toggle-collect=bench_one \
            --callgrind-out-file="$dir/$c.$n" "$bench" --case "$c" --iters "$n" >/dev/null 2>&1
    done
    a=$(total "$dir/$c.10000")
    b=$(total "$dir/$c.20000")
    echo "$c $(( (b - a) / 10000 ))"
done
