#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Drops per service, per node and per (service, node) against the global
drops of the same statistics (a --stats-json, `cnmuxctl stats -j`).

    drops_check.py STATS_JSON [--default-node]   (or import per_id_drop_fails)

What docs/metrics.md promises (issue 14):
  - every service and every node has "drops" with the same reasons (those
    that can happen once a service is known), zeros included; a pair's
    "drops" holds only reasons of that list;
  - no_active_node is only ever a service's (no node was chosen): the
    services' add up to the global counter, nodes and pairs never count it;
  - node_unresolved, link_down, tunnel_mtu and no_tunnel_source only happen
    once a node was chosen: the nodes' add up to the global counter, and
    (without a default node) so do the services';
  - tx_full and runt also happen before a service is known or on the local
    and public ports: the services' and the nodes' are at most the global;
  - a service's drops of a reason other than no_active_node are its pairs';
    a node's are its pairs' (without a default node).
These hold for a run without run-time changes (a pair deleted folds its
drops into its service and node, which keeps the sums but not the pairs').
"""

import json
import sys

NODE_ONLY = ("node_unresolved", "link_down", "tunnel_mtu", "no_tunnel_source")


def per_id_drop_fails(st, default_node=False):
    """the failures (strings) of @p st; (fails, how many values were compared)"""
    fails = []
    n = 0
    g = st.get("drops", {})
    svcs, nodes = st.get("services", {}), st.get("nodes", {})
    reasons = None
    for what, objs in (("service", svcs), ("node", nodes)):
        for name, o in objs.items():
            d = o.get("drops")
            if not isinstance(d, dict):
                fails.append("%s %s has no drops" % (what, name))
                continue
            if reasons is None:
                reasons = set(d)
            elif set(d) != reasons:
                fails.append("%s %s: drops by %s, others by %s"
                             % (what, name, sorted(d), sorted(reasons)))
    if reasons is None:
        return fails, n
    if "no_active_node" not in reasons or "tx_full" not in reasons:
        fails.append("per-id drops lack no_active_node or tx_full: %s" % sorted(reasons))
    for s, sv in svcs.items():
        for node, m in sv.get("nodes", {}).items():
            d = m.get("drops")
            if not isinstance(d, dict) or not set(d) <= reasons:
                fails.append("pair %s/%s: drops %r" % (s, node, d))
            elif any(v == 0 for v in d.values()):
                fails.append("pair %s/%s: a reason that did not count is shown: %r" % (s, node, d))
    pair = lambda s, node, r: svcs[s].get("nodes", {}).get(node, {}).get("drops", {}).get(r, 0)
    for r in sorted(reasons):
        if r not in g:
            fails.append("drops.%s: a per-id reason that is no global one" % r)
            continue
        ssum = sum(v["drops"].get(r, 0) for v in svcs.values())
        nsum = sum(v["drops"].get(r, 0) for v in nodes.values())
        n += 2
        if r == "no_active_node":
            if ssum != g[r]:
                fails.append("no_active_node: services %d, global %d" % (ssum, g[r]))
            if nsum != 0:
                fails.append("no_active_node: nodes count %d (no node was chosen)" % nsum)
        elif r in NODE_ONLY:
            if nsum != g[r]:
                fails.append("%s: nodes %d, global %d" % (r, nsum, g[r]))
            if not default_node and ssum != g[r]:
                fails.append("%s: services %d, global %d" % (r, ssum, g[r]))
        if ssum > g[r] or nsum > g[r]:
            fails.append("%s: services %d, nodes %d, more than the global %d" % (r, ssum, nsum, g[r]))
        for s, sv in svcs.items():
            psum = sum(pair(s, node, r) for node in sv.get("nodes", {}))
            n += 1
            want = 0 if r == "no_active_node" else sv["drops"][r]
            if psum != want:
                fails.append("service %s: %s %d, its pairs %d" % (s, r, sv["drops"][r], psum))
        if default_node:
            continue
        for node, nv in nodes.items():
            psum = sum(pair(s, node, r) for s in svcs)
            n += 1
            if psum != nv["drops"][r]:
                fails.append("node %s: %s %d, its pairs %d" % (node, r, nv["drops"][r], psum))
    return fails, n


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip())
        return 2
    st = json.load(open(sys.argv[1]))
    fails, n = per_id_drop_fails(st, len(sys.argv) == 3 and sys.argv[2] == "--default-node")
    for f in fails:
        print("FAIL [drops] " + f)
    print("per-id drops: %d sums compared, %d failures" % (n, len(fails)))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
