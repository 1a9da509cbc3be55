# SPDX-License-Identifier: BSD-3-Clause
# What the end-to-end tests share; sourced (bash), after `here` is set to
# tests/e2e. docs/e2e.md.

# e2e_args "$@": the two arguments every e2e test takes, CNMUX CNMUXCTL;
# sets CNMUX, CTL_BIN, PY (Debian's python3, where scapy runs), TOPO.
e2e_args() {
    [ $# -eq 2 ] || { echo "usage: $0 CNMUX CNMUXCTL" >&2; exit 2; }
    CNMUX=$(realpath "$1")
    CTL_BIN=$(realpath "$2")
    PY=/usr/bin/python3
    [ -x "$PY" ] || PY=$(command -v python3)
    TOPO=$here/topology.sh
    # shellcheck source=../lib/testenv.sh
    . "$here/../lib/testenv.sh"
}

# e2e_topo NAME LETTER TOOL...: a test on topology.sh's namespaces. Skips
# (77; a failure under CI=true) without root or one of the TOOLs; sets
# P (LETTER + the run's id: the namespaces' prefix), STATE (topology.sh's
# files), W (a work directory of the test's), SOCK, BG_PIDS (killed at the
# end), FAILED, and the trap that stops everything and deletes the
# namespaces on exit (printing the end of cnmux's log on a failure, or with
# E2E_VERBOSE=1). Then: log, cl (in the client namespace), ctl (cnmuxctl),
# jq_ EXPR (a Python expression over the JSON on stdin, as j), fail.
e2e_topo() {
    local t
    E2E_NAME=$1
    shift
    local letter=$1
    shift
    [ "$(id -u)" = 0 ] || cnm_skip "$E2E_NAME: needs root (network namespaces)"
    for t in "$@" "$PY"; do
        command -v "$t" >/dev/null 2>&1 ||
            cnm_skip "$E2E_NAME: $t not found (.ci/install-deps installs it)"
    done
    P=$letter$(cnm_run_id)
    STATE=/tmp/cnmux-e2e-$P
    W=$(mktemp -d "/tmp/cnmux-$E2E_NAME.XXXXXX")
    SOCK=$STATE/ctl.sock
    BG_PIDS=()
    FAILED=0
    trap e2e_cleanup EXIT
    trap 'exit 130' INT TERM
}

e2e_cleanup() {
    local pid rc=$?
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    if [ "$FAILED" -gt 0 ] || [ -n "${E2E_VERBOSE:-}" ]; then
        "$TOPO" lb-stop "$P" >/dev/null 2>&1 || true
        echo "---- cnmux log: node state changes ----"
        grep -E "health: node .* (up|down) \(" "$STATE/cnmux.log" 2>/dev/null | tail -n 40 || true
        echo "---- cnmux log (tail) ----"
        tail -n 40 "$STATE/cnmux.log" 2>/dev/null || true
    fi
    "$TOPO" down "$P" >/dev/null 2>&1 || "$TOPO" down "$P"
    rm -rf "$W"
    exit "$rc"
}

log() { echo "$E2E_NAME: $*"; }
cl() { ip netns exec "$P-client" "$@"; }
ctl() { "$CTL_BIN" -s "$SOCK" "$@"; }
jq_() { "$PY" -c 'import json,sys; j=json.load(sys.stdin); r=eval(sys.argv[1]); print(json.dumps(r) if isinstance(r,(dict,list)) else r)' "$1"; }
fail() { echo "$E2E_NAME: FAIL: $*"; FAILED=$((FAILED + 1)); }
