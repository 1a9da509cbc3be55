#!/bin/sh
# Short libFuzzer run for the test suite (docs/fuzzing.md).
#   run_fuzz.sh TARGET CORPUS SECONDS [libFuzzer options...]
# Fuzzes a copy of CORPUS in a temporary directory (the source tree is never
# written), with the dictionary tests/fuzz/dict/NAME.dict when there is one,
# after replaying tests/fuzz/regressions/NAME/ (each input once). A crash,
# leak, timeout or sanitizer report fails the run; its input is kept in
# $CNM_FUZZ_ARTIFACTS/NAME/ (default: ./fuzz-artifacts/NAME/).
set -eu
if [ $# -lt 3 ]; then
    echo "usage: $0 TARGET CORPUS SECONDS [libFuzzer options...]" >&2
    exit 2
fi
target=$1; corpus=$2; secs=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$target"); name=${name#fuzz_}
art=${CNM_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}/$name
mkdir -p "$art"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cnm_fuzz_$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/corpus"
if [ -d "$corpus" ]; then
    cp -R "$corpus"/. "$tmp/corpus/"
fi
dict=""
if [ -f "$here/dict/$name.dict" ]; then
    dict="-dict=$here/dict/$name.dict"
fi
# halt on the first sanitizer report; leaks are checked by libFuzzer itself.
# -error_exitcode=1: libFuzzer's default for a crash is 77, which meson reads
# as "skipped"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
regs="$here/regressions/$name"
if [ -d "$regs" ] && [ -n "$(ls -A "$regs")" ]; then
    echo "== $name: replaying $(ls "$regs" | wc -l) regression inputs"
    "$target" -runs=1 -rss_limit_mb=4096 -timeout=10 -error_exitcode=1 "$regs"/*
fi
echo "== $name: fuzzing for $secs s from $(ls "$tmp/corpus" | wc -l) seeds"
# shellcheck disable=SC2086
"$target" -max_total_time="$secs" -timeout=10 -error_exitcode=1 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$art/" $dict "$@" "$tmp/corpus"
