#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Replay one tunnel pcap case (pcaps/tunnel_*) through cnmux and compare the
# result byte for byte with the outputs scapy built for it.
#
#   run_tunnel_case.sh CASE CNMUX_BINARY
#
# Runs CNMUX_BINARY on pcaps/CASE/in.pcap with pcaps/CASE/config.json (net_pcap
# vdevs: public net_pcap0 with a tx_pcap for the ICMP too-big replies, private
# net_pcap1, local net_pcap2; --no-huge --no-pci -m 512, a file prefix of its
# own), then:
#   1. tests/pcap/pcap_compare.py: private.pcap, local.pcap and public.pcap
#      against expected_private.pcap, expected_local.pcap and
#      expected_public.pcap (absent: the public port must send nothing);
#   2. tests/pcap/tunnel_stats.py: stats.json against expected_stats.json.
# check.py is not run: its model is the mac method's (IP packet intact).
# The expected files come from tests/pcap/gen_tunnels.py (scapy), never from a
# replay: there is no --update. Exits non-zero on any failure.
# Environment: CNMUX_TIMEOUT (seconds, default 120), CNMUX_KEEP_OUT=1 keeps the
# output directory and prints where it is.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=python3

if [ $# -ne 2 ]; then echo "usage: $0 CASE CNMUX_BINARY" >&2; exit 2; fi
case_name=$1
bin=$2
case_dir=$root/pcaps/$case_name
for f in in.pcap config.json expected_private.pcap expected_stats.json; do
	if [ ! -f "$case_dir/$f" ]; then
		echo "run_tunnel_case: $case_dir/$f is missing" >&2
		exit 2
	fi
done
case "$bin" in /*) ;; *) bin=$(pwd)/$bin ;; esac
[ -x "$bin" ] || { echo "run_tunnel_case: $bin is not an executable" >&2; exit 2; }

out=$(mktemp -d "${TMPDIR:-/tmp}/cnmux_tun_${case_name}.XXXXXX")
prefix=cnmux_tun_${case_name}_$$_${RANDOM}
# shellcheck disable=SC2317  # called by the trap
cleanup() {
	if [ "${CNMUX_KEEP_OUT:-0}" = 1 ]; then
		echo "run_tunnel_case: output kept in $out"
	else
		rm -rf "$out"
	fi
	rm -rf "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix" 2>/dev/null
}
trap cleanup EXIT

has_local=$("$py" -c 'import json, sys
print(1 if json.load(open(sys.argv[1])).get("ports", {}).get("local") else 0)' "$case_dir/config.json")

vdevs=(--vdev "net_pcap0,rx_pcap=$case_dir/in.pcap,tx_pcap=$out/public.pcap"
	--vdev "net_pcap1,tx_pcap=$out/private.pcap")
[ "$has_local" = 1 ] && vdevs+=(--vdev "net_pcap2,tx_pcap=$out/local.pcap")

echo "=== $case_name: replay"
timeout "${CNMUX_TIMEOUT:-120}" "$bin" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" \
	--log-level=lib.eal:error "${vdevs[@]}" \
	-- --config "$case_dir/config.json" --idle-exit 500 --stats-json "$out/stats.json" \
	>"$out/cnmux.log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	echo "run_tunnel_case: $case_name: cnmux exited with status $rc; its output:"
	tail -n 40 "$out/cnmux.log"
	exit 1
fi

echo "=== $case_name: compare with the outputs scapy built"
status=0
"$py" "$here/pcap_compare.py" "$case_dir/expected_private.pcap" "$out/private.pcap" || status=1
if [ "$has_local" = 1 ]; then
	"$py" "$here/pcap_compare.py" "$case_dir/expected_local.pcap" "$out/local.pcap" || status=1
fi
# a missing expected_public.pcap counts as empty: nothing may go out of the public port
"$py" "$here/pcap_compare.py" "$case_dir/expected_public.pcap" "$out/public.pcap" || status=1

echo "=== $case_name: stats.json"
"$py" "$here/tunnel_stats.py" "$case_dir" "$out/stats.json" || status=1

[ $status = 0 ] && echo "run_tunnel_case: $case_name: PASS" || echo "run_tunnel_case: $case_name: FAILED"
exit $status
