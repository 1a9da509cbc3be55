# shellcheck shell=bash
# SPDX-License-Identifier: BSD-3-Clause
# Sourced by the suites that need root, namespaces or other tools:
#
#   cnm_run_id        7 random hex digits: what makes every name a run shares
#                     with the machine (network namespaces, DPDK --file-prefix,
#                     work directories) its own. Random, not $$: a pid is
#                     reused, a run killed before its cleanup leaves its
#                     namespaces behind, and two pid namespaces (containers)
#                     may share /run/netns and /var/run/dpdk. 7 digits fit in
#                     topology.sh's 8-character PREFIX and, with a few letters
#                     around them, in the 15 characters of an interface name.
#   cnm_skip MESSAGE  the suite cannot run here (no root, no namespaces, a tool
#                     missing): exit 77 (meson: skipped). Under CI=true
#                     (.ci/run sets it) exit 1 instead: a green CI run must
#                     mean that every suite ran.
cnm_run_id() {
    od -An -N4 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-7
}

cnm_skip() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL: $* (CI=true: a suite that cannot run fails instead of being skipped)"
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}
