#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Run one golden case with steps: frames sent live, cnmuxctl commands between them.
#
#   run_steps_case.sh CASE CNMUX CNMUXCTL [--update]
#
# pcaps/CASE/ holds config.json, steps.json, the pcaps it names and
# expected_private.pcap (and expected_local.pcap when the config has a local
# port). steps.json is a list of steps, run in order:
#   {"send": "part1.pcap"}               send the frames of the pcap to cnmux's
#                                        public port, then wait until cnmux has
#                                        received every frame sent so far
#   {"ctl": ["node", "drain", "node1"]}  cnmuxctl ARGS... on cnmux's control socket;
#                                        it must succeed (exit 0)
#   {"sleep": 12}                        wait (at most 60 s): idle timeouts, or a
#                                        table in force a while (second chance
#                                        keeps no table younger than 1 s,
#                                        docs/pdt.md)
#
# cnmux runs in a network namespace of its own: a veth pair snd0 <-> pub0
# (offloads off, IPv6 off so the kernel sends nothing on it), the public port
# net_pcap0,rx_iface_in=pub0 (its replies, if any, to a tx_pcap), the private port net_pcap1,tx_pcap=FILE (the local
# port net_pcap2,tx_pcap=FILE when the config has one). The runner rewrites the
# config's port names and control.socket (a path in its own tmp dir). Frames
# are sent from snd0 through a raw socket by one process pinned to one CPU (so
# they arrive in the order sent). Synchronisation: after each send step the
# runner polls `cnmuxctl -j stats` until rx equals the frames sent so far (and
# fails if it passes it, or after CNMUX_STEP_TIMEOUT seconds, default 20); a
# ctl or sleep step runs only then, and the runner records the stats at that
# point (marks.json: where the step falls in the private output). Then SIGINT,
# cnmux's --stats-json, and:
#   1. tests/pcap/steps.py check: the property checks (no frame lost and the
#      stats' accounting, one node per connection with later fragments matched
#      to their first, a drained node keeps its connections);
#   2. the private (local) output compared frame by frame with
#      expected_private.pcap (expected_local.pcap), tests/pcap/pcap_compare.py.
# --update records the expected outputs from this run instead of step 2 (only
# once step 1 has passed). Exit status 0 pass, 1 fail, 2 usage, 77 skipped
# (not root, or no network namespace). CNMUX_KEEP_OUT=1 keeps the tmp dir.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
[ -x "$py" ] || py=python3

usage() { echo "usage: $0 CASE CNMUX CNMUXCTL [--update]" >&2; exit 2; }
if [ $# -lt 3 ] || [ $# -gt 4 ]; then usage; fi
case_name=$1
bin=$2
ctl=$3
update=0
if [ $# -eq 4 ]; then
	[ "$4" = "--update" ] || usage
	update=1
fi
case_dir=$root/pcaps/$case_name
for f in config.json steps.json; do
	[ -f "$case_dir/$f" ] || { echo "run_steps_case: no $f in $case_dir" >&2; exit 2; }
done
case "$bin" in /*) ;; *) bin=$(pwd)/$bin ;; esac
case "$ctl" in /*) ;; *) ctl=$(pwd)/$ctl ;; esac
[ -x "$bin" ] || { echo "run_steps_case: $bin is not an executable" >&2; exit 2; }
[ -x "$ctl" ] || { echo "run_steps_case: $ctl is not an executable" >&2; exit 2; }

# shellcheck source=../lib/testenv.sh
. "$here/../lib/testenv.sh"
skip() { cnm_skip "run_steps_case $case_name: $*"; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, raw sockets)"
command -v ip >/dev/null || skip "no ip(8)"

tag=$(cnm_run_id)
ns=cnmux_steps_$tag
prefix=cnmux_steps_$tag
out=$(mktemp -d "${TMPDIR:-/tmp}/cnmux_steps_${case_name}.XXXXXX")
sock=$out/ctl.sock
cnmux_pid=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
	if [ -n "$cnmux_pid" ] && kill -0 "$cnmux_pid" 2>/dev/null; then
		kill -KILL "$cnmux_pid" 2>/dev/null
		wait "$cnmux_pid" 2>/dev/null
	fi
	ip netns del "$ns" 2>/dev/null
	if [ "${CNMUX_KEEP_OUT:-0}" = 1 ]; then
		echo "run_steps_case: output kept in $out"
	else
		rm -rf "$out"
	fi
	rm -rf "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "run_steps_case: $case_name: FAILED: $*"
	if [ -f "$out/cnmux.log" ]; then
		echo "--- cnmux.log (last lines)"
		tail -n 30 "$out/cnmux.log"
	fi
	exit 1
}

# ------------------------------------------------------------ namespace ----
ip netns add "$ns" 2>/dev/null || skip "cannot create a network namespace"
nsx() { ip netns exec "$ns" "$@"; }
# nothing from the kernel on the link: no IPv6 (router solicitations, DAD, MLD),
# no IPv4 address (no ARP)
nsx sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
	>/dev/null 2>&1
nsx ip link set lo up
ip -n "$ns" link add snd0 type veth peer name pub0 ||
	skip "cannot create a veth pair in $ns"
ip -n "$ns" link set pub0 address 02:70:63:61:70:00
for ifc in snd0 pub0; do
	# frames arrive as sent: no checksum offload, segmentation or GRO
	nsx ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
		nsx ethtool -K "$ifc" tx off rx off >/dev/null 2>&1
	nsx sysctl -qw "net.ipv6.conf.$ifc.disable_ipv6=1" >/dev/null 2>&1
	ip -n "$ns" link set "$ifc" up
done

# --------------------------------------------------------------- cnmux ----
has_local=$("$py" "$here/steps.py" config "$case_dir" "$out" "$sock") ||
	fail "cannot write the config"
# net_pcap on pub0 (libpcap, incoming frames only), not net_af_packet: DPDK's
# af_packet PMD joins a fanout group with PACKET_FANOUT_FLAG_DEFRAG, so the
# kernel would hand it IPv4 fragments already reassembled
vdevs=(--vdev "net_pcap0,rx_iface_in=pub0,tx_pcap=$out/public.pcap"
	--vdev "net_pcap1,tx_pcap=$out/private.pcap")
[ "$has_local" = 1 ] && vdevs+=(--vdev "net_pcap2,tx_pcap=$out/local.pcap")

echo "=== $case_name: cnmux in namespace $ns"
ip netns exec "$ns" "$bin" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" \
	--log-level='lib.*:error' --log-level='pmd.*:error' "${vdevs[@]}" \
	-- --config "$out/config.json" --stats-json "$out/stats.json" \
	</dev/null >"$out/cnmux.log" 2>&1 &
cnmux_pid=$!

ctl_stats() { # the stats as one line of JSON, or nothing
	"$ctl" -s "$sock" -j stats 2>/dev/null
}
field() { # KEY: a top-level integer of the JSON on stdin
	"$py" -c 'import json, sys; print(int(json.load(sys.stdin)[sys.argv[1]]))' "$1" 2>/dev/null
}

deadline=$((SECONDS + 30))
until [ -S "$sock" ] && ctl_stats >/dev/null; do
	kill -0 "$cnmux_pid" 2>/dev/null || fail "cnmux exited at start"
	[ $SECONDS -lt $deadline ] || fail "no control socket after 30 s"
	sleep 0.1
done

# the sender: one CPU (the last), so that the frames are queued in order
cpu=$(($(nproc) - 1))
sent=0
marks="["
nsteps=$("$py" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))))' "$case_dir/steps.json")
for ((i = 0; i < nsteps; i++)); do
	step=$("$py" -c '
import json, shlex, sys
s = json.load(open(sys.argv[1]))[int(sys.argv[2])]
if set(s) == {"send"} and isinstance(s["send"], str):
    print("send", shlex.quote(s["send"]))
elif set(s) == {"ctl"} and isinstance(s["ctl"], list) and s["ctl"]:
    print("ctl", " ".join(shlex.quote(str(a)) for a in s["ctl"]))
elif set(s) == {"sleep"} and isinstance(s["sleep"], (int, float)) and 0 < s["sleep"] <= 60:
    print("sleep", s["sleep"])
else:
    sys.exit("steps.json: step %d: expected {\"send\": PCAP}, {\"ctl\": [ARGS]} or "
             "{\"sleep\": SECONDS (at most 60)}, got %r"
             % (int(sys.argv[2]), s))' "$case_dir/steps.json" "$i") || fail "bad steps.json"
	eval "set -- $step"
	kind=$1
	shift
	case $kind in
	send)
		[ -f "$case_dir/$1" ] || fail "step $i: no $case_dir/$1"
		n=$(ip netns exec "$ns" taskset -c "$cpu" "$py" "$here/steps.py" send snd0 "$case_dir/$1") ||
			fail "step $i: cannot send $1"
		sent=$((sent + n))
		echo "=== step $i: sent $1 ($n frames, $sent in all)"
		deadline=$((SECONDS + ${CNMUX_STEP_TIMEOUT:-20}))
		while :; do
			rx=$(ctl_stats | field rx)
			[ -n "$rx" ] && [ "$rx" -ge "$sent" ] && break
			kill -0 "$cnmux_pid" 2>/dev/null || fail "step $i: cnmux exited"
			[ $SECONDS -lt $deadline ] ||
				fail "step $i: cnmux received ${rx:-?} frames of the $sent sent"
			sleep 0.05
		done
		[ "$rx" -eq "$sent" ] || fail "step $i: cnmux received $rx frames, $sent were sent"
		;;
	ctl)
		s=$(ctl_stats)
		rx=$(field rx <<<"$s")
		fwd=$(field forwarded <<<"$s")
		if [ -z "$rx" ] || [ -z "$fwd" ]; then fail "step $i: no stats from cnmuxctl"; fi
		echo "=== step $i: cnmuxctl $* (rx $rx, forwarded $fwd)"
		"$ctl" -s "$sock" "$@" || fail "step $i: cnmuxctl $* failed"
		[ "$marks" = "[" ] || marks+=","
		marks+="{\"step\": $i, \"rx\": $rx, \"forwarded\": $fwd}"
		;;
	sleep)
		s=$(ctl_stats)
		rx=$(field rx <<<"$s")
		fwd=$(field forwarded <<<"$s")
		if [ -z "$rx" ] || [ -z "$fwd" ]; then fail "step $i: no stats from cnmuxctl"; fi
		echo "=== step $i: sleep $1 s (rx $rx, forwarded $fwd)"
		sleep "$1"
		kill -0 "$cnmux_pid" 2>/dev/null || fail "step $i: cnmux exited"
		[ "$marks" = "[" ] || marks+=","
		marks+="{\"step\": $i, \"rx\": $rx, \"forwarded\": $fwd}"
		;;
	esac
done
echo "$marks]" >"$out/marks.json"

kill -INT "$cnmux_pid"
deadline=$((SECONDS + 30))
while kill -0 "$cnmux_pid" 2>/dev/null; do
	[ $SECONDS -lt $deadline ] || fail "cnmux did not stop within 30 s of SIGINT"
	sleep 0.1
done
wait "$cnmux_pid"
rc=$?
cnmux_pid=
[ $rc -eq 0 ] || fail "cnmux exited with status $rc"
[ -f "$out/stats.json" ] || fail "cnmux wrote no stats.json"

echo "=== $case_name: property checks"
"$py" "$here/steps.py" check "$case_dir" "$out" || fail "property checks"

if [ $update = 1 ]; then
	cp "$out/private.pcap" "$case_dir/expected_private.pcap"
	if [ "$has_local" = 1 ]; then
		cp "$out/local.pcap" "$case_dir/expected_local.pcap"
	else
		rm -f "$case_dir/expected_local.pcap"
	fi
	echo "run_steps_case: $case_name: expected outputs written"
	exit 0
fi

echo "=== $case_name: compare with the expected outputs"
status=0
"$py" "$here/pcap_compare.py" "$case_dir/expected_private.pcap" "$out/private.pcap" || status=1
if [ "$has_local" = 1 ]; then
	"$py" "$here/pcap_compare.py" "$case_dir/expected_local.pcap" "$out/local.pcap" || status=1
fi
[ $status = 0 ] || fail "the output differs from the expected capture"
echo "run_steps_case: $case_name: PASS"
exit 0
