#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The README's worked example stays true:
#
#   readme_test.sh BUILD_DIR
#
# runs the README's demo command, `.ci/demo --no-install --no-build --build
# BUILD_DIR` (no package installed, nothing built), and checks with
# readme_check.py that the README shows the cnmux command .ci/demo runs and
# that the output has the shape of the README's block (the same lines and
# words; numbers, MACs, times and the output directory may differ), and that
# the files the README names are where the output says.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib/testenv.sh
. "$here/../lib/testenv.sh"
build=$(realpath "$1")
py=/usr/bin/python3
[ -x "$py" ] || py=python3
command -v tcpdump >/dev/null || cnm_skip "readme_test needs tcpdump (the demo's last lines)"
fails=0
tmp=$(mktemp -d /tmp/cnmux-readme.XXXXXX)
out_dir=
trap 'rm -rf "$tmp" ${out_dir:+"$out_dir"}' EXIT

$py "$here/readme_check.py" command "$root/README.md" "$root/.ci/demo" || fails=$((fails + 1))

"$root/.ci/demo" --no-install --no-build --build "$build" >"$tmp/demo.txt" 2>&1
rc=$?
out_dir=$(sed -n 's/^== outputs in \(\/tmp\/cnmux-demo\.[A-Za-z0-9]*\):.*/\1/p' "$tmp/demo.txt")
if [ $rc -ne 0 ]; then
    echo "FAIL: .ci/demo exited with $rc"; cat "$tmp/demo.txt"; exit 1
fi
$py "$here/readme_check.py" output "$root/README.md" "$tmp/demo.txt" || fails=$((fails + 1))
for f in private.pcap local.pcap stats.json; do
    if [ -z "$out_dir" ] || [ ! -s "$out_dir/$f" ]; then
        echo "FAIL: $f is not in the directory the demo names ('$out_dir')"; fails=$((fails + 1))
    fi
done
[ $fails -eq 0 ] && echo "ok   $f and the others are in $out_dir, as the README says"
exit $((fails > 0))
