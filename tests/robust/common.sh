# shellcheck shell=bash disable=SC2154,SC2034
# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the tests of tests/robust/: arguments, a network namespace with
# a veth pair (cnmux's public port on one end, the injector on the other),
# starting and stopping cnmux in it, polling. Every wait is a poll with a
# generous deadline (the machine may be shared and slow).
#
# The caller sets $name (short, used in interface and namespace names)
# before sourcing, and calls `robust_setup "$@"`.

# shellcheck source=../lib/testenv.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib/testenv.sh"

robust_setup() {
    if [ $# -ne 2 ]; then
        echo "usage: $0 CNMUX CNMUXCTL" >&2
        exit 2
    fi
    cnmux=$(realpath "$1")
    ctl=$(realpath "$2")
    here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
    py=/usr/bin/python3
    [ -x "$py" ] || py=python3
    export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
    export PYTHONDONTWRITEBYTECODE=1

    if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
        cnm_skip "robust_$name needs root and iproute2"
    fi
    tag=$(cnm_run_id)
    ns=cnm$name-$tag
    va=cr${tag}a     # cnmux's public port (net_af_packet / net_pcap)
    vb=cr${tag}b     # the injector's end
    prefix=cnm$name-$tag
    tmp=$(mktemp -d "/tmp/cnm$name.XXXXXX")
    sock=$tmp/ctl.sock
    pid=""
    fails=0
    t_start=$(date +%s)
    declare -g -a bg_pids=()
    trap robust_cleanup EXIT

    ip netns add "$ns" || cnm_skip "robust_$name cannot create a network namespace"
    # no IPv6 autoconfiguration, MLD, router solicitations: the only frames
    # on the wires are the injected ones
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
    ip -n "$ns" link set lo up
    if ! ip -n "$ns" link add "$va" type veth peer name "$vb"; then
        cnm_skip "robust_$name cannot create a veth pair"
    fi
    local i
    for i in "$va" "$vb"; do
        ip netns exec "$ns" sysctl -q -w "net.ipv6.conf.$i.disable_ipv6=1" >/dev/null 2>&1
        ip -n "$ns" link set "$i" arp off
        ip -n "$ns" link set "$i" txqueuelen 20000
        if command -v ethtool >/dev/null; then
            ip netns exec "$ns" ethtool -K "$i" tx off rx off >/dev/null 2>&1
        fi
        ip -n "$ns" link set "$i" up || die "link up $i"
    done
}

robust_cleanup() {
    local p
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    rm -rf /var/run/dpdk/"$prefix"* 2>/dev/null
    if [ "${KEEP_TMP:-0}" = 1 ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}

fail() { echo "FAIL $*"; fails=$((fails + 1)); }
die() {
    echo "FAIL $*"
    if [ -f "$tmp/cnmux.out" ]; then
        echo "--- cnmux stdout (tail)"; tail -n 20 "$tmp/cnmux.out"
        echo "--- cnmux stderr (tail)"; tail -n 20 "$tmp/cnmux.err"
    fi
    exit 1
}
cnmctl() { "$ctl" -s "$sock" "$@"; }
in_ns() { ip netns exec "$ns" "$@"; }

# poll DEADLINE CMD...: until CMD succeeds (and cnmux, if started, lives)
poll() {
    local deadline=$1; shift
    local end=$(($(date +%s) + deadline)) delay=0.02
    until "$@"; do
        [ "$(date +%s)" -ge "$end" ] && return 1
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        sleep "$delay"
        delay=$(awk -v d="$delay" 'BEGIN { d *= 2; if (d > 0.5) d = 0.5; print d }')
    done
}

# start_cnmux RUN EAL-ARGS... -- APP-ARGS...: in the namespace, in the
# background, stdout in $tmp/RUN.out, stderr in $tmp/RUN.err (also linked as
# cnmux.out / cnmux.err for die()); file prefix $prefix-RUN
start_cnmux() {
    local run=$1; shift
    cur_run=$run
    ip netns exec "$ns" "$cnmux" --no-huge -m 512 --no-pci -l 0,1 \
        --file-prefix "$prefix-$run" "$@" \
        >"$tmp/$run.out" 2>"$tmp/$run.err" &
    pid=$!
    ln -sf "$tmp/$run.out" "$tmp/cnmux.out"
    ln -sf "$tmp/$run.err" "$tmp/cnmux.err"
}

# wait for the control socket
wait_up() {
    poll 120 cnmctl stats >/dev/null 2>&1 || die "cnmux did not come up (control socket $sock)"
    echo "cnmux up: $(head -1 "$tmp/$cur_run.out")"
}

# stop_cnmux: SIGINT, wait (polling, 120 s); sets $rc to the exit status
stop_cnmux() {
    local end
    kill -INT "$pid" 2>/dev/null
    end=$(($(date +%s) + 120))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        fail "cnmux did not stop within 120 s of SIGINT"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid"; rc=$?
    pid=""
}

# wait_exit DEADLINE: for a cnmux that stops on its own (--idle-exit); sets $rc
wait_exit() {
    local end=$(($(date +%s) + $1))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        fail "cnmux did not exit within $1 s"
        kill -INT "$pid" 2>/dev/null
        sleep 5
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid"; rc=$?
    pid=""
}

# check_log RUN: no sanitizer report in the run's stderr
check_log() {
    if grep -qE "Sanitizer|runtime error" "$tmp/$1.err"; then
        fail "$1: sanitizer report:"; grep -m 5 -E "Sanitizer|runtime error" "$tmp/$1.err"
    fi
}

robust_end() {
    echo "runtime $(( $(date +%s) - t_start )) s"
    if [ "$fails" -eq 0 ]; then echo "PASS"; else echo "$fails failure(s)"; fi
    exit $((fails > 0))
}
