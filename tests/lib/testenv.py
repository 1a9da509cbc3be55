# SPDX-License-Identifier: BSD-3-Clause
"""Python side of tests/lib/testenv.sh: run_id() and skip()."""
import os
import sys


def run_id():
    """7 random hex digits (see testenv.sh: why random, not the pid)."""
    return os.urandom(4).hex()[:7]


def skip(msg):
    """Exit 77 (skipped); under CI=true exit 1: CI must not pass without running."""
    if os.environ.get("CI") == "true":
        print("FAIL: %s (CI=true: a suite that cannot run fails instead of being skipped)" % msg,
              flush=True)
        sys.exit(1)
    print("SKIP: %s" % msg, flush=True)
    sys.exit(77)
