#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Replay one golden pcap case through cnmux and check the result.
#
#   run_case.sh CASE CNMUX_BINARY [--update]
#
# Runs CNMUX_BINARY on pcaps/CASE/in.pcap with pcaps/CASE/config.json (net_pcap
# vdevs, --no-huge, a file prefix of its own), then:
#   1. tests/pcap/check.py: the independent model of the data path;
#   2. compares the outputs packet by packet with pcaps/CASE/expected_private.pcap
#      and expected_local.pcap.
# --update writes the expected files from this run instead of step 2 (only once
# check.py has passed). Exits non-zero on any failure. Works from any directory.
# Environment: CNMUX_TIMEOUT (seconds, default 120), CNMUX_KEEP_OUT=1 keeps the
# output directory and prints where it is.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=python3

usage() { echo "usage: $0 CASE CNMUX_BINARY [--update]" >&2; exit 2; }
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
case_name=$1
bin=$2
update=0
if [ $# -eq 3 ]; then
	[ "$3" = "--update" ] || usage
	update=1
fi
case_dir=$root/pcaps/$case_name
if [ ! -f "$case_dir/in.pcap" ] || [ ! -f "$case_dir/config.json" ]; then
	echo "run_case: no case $case_name in $root/pcaps" >&2
	exit 2
fi
case "$bin" in /*) ;; *) bin=$(pwd)/$bin ;; esac
[ -x "$bin" ] || { echo "run_case: $bin is not an executable" >&2; exit 2; }

out=$(mktemp -d "${TMPDIR:-/tmp}/cnmux_pcap_${case_name}.XXXXXX")
prefix=cnmux_pcap_${case_name}_$$
# shellcheck disable=SC2317  # called by the trap
cleanup() {
	if [ "${CNMUX_KEEP_OUT:-0}" = 1 ]; then
		echo "run_case: output kept in $out"
	else
		rm -rf "$out"
	fi
	# EAL leaves its runtime directory behind with --no-huge on some versions
	rm -rf "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix" 2>/dev/null
}
trap cleanup EXIT

has_local=$("$py" -c 'import json, sys
print(1 if json.load(open(sys.argv[1])).get("ports", {}).get("local") else 0)' "$case_dir/config.json")

vdevs=(--vdev "net_pcap0,rx_pcap=$case_dir/in.pcap,tx_pcap=$out/public.pcap" --vdev "net_pcap1,tx_pcap=$out/private.pcap")
[ "$has_local" = 1 ] && vdevs+=(--vdev "net_pcap2,tx_pcap=$out/local.pcap")

echo "=== $case_name: replay"
timeout "${CNMUX_TIMEOUT:-120}" "$bin" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" \
	--log-level=lib.eal:error "${vdevs[@]}" \
	-- --config "$case_dir/config.json" --idle-exit 500 --stats-json "$out/stats.json" \
	>"$out/cnmux.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	echo "run_case: $case_name: cnmux exited with status $rc; its output:"
	tail -n 40 "$out/cnmux.log"
	exit 1
fi

echo "=== $case_name: check.py"
if ! "$py" "$here/check.py" "$case_dir" "$out"; then
	echo "run_case: $case_name: check.py FAILED"
	tail -n 20 "$out/cnmux.log"
	exit 1
fi

if [ $update = 1 ]; then
	cp "$out/private.pcap" "$case_dir/expected_private.pcap"
	if [ "$has_local" = 1 ]; then
		cp "$out/local.pcap" "$case_dir/expected_local.pcap"
	else
		rm -f "$case_dir/expected_local.pcap"
	fi
	echo "run_case: $case_name: expected outputs written"
	exit 0
fi

echo "=== $case_name: compare with the expected outputs"
status=0
"$py" "$here/pcap_compare.py" "$case_dir/expected_private.pcap" "$out/private.pcap" || status=1
if [ "$has_local" = 1 ]; then
	"$py" "$here/pcap_compare.py" "$case_dir/expected_local.pcap" "$out/local.pcap" || status=1
fi
[ $status = 0 ] && echo "run_case: $case_name: PASS" || echo "run_case: $case_name: FAILED"
exit $status
