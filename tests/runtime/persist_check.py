#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Checker of the run-time persistence test (tests/runtime/persist_test.sh).

    persist_check.py DIR
    persist_check.py step PDT_A.json PDT_B.json WEIGHTS_A WEIGHTS_B

DIR holds what persist_test.sh collected: config.json (the start-up
configuration), node4.json (the node added at run time), conns.json and
sent.json (persist_traffic.py), private.pcap (what cnmux forwarded),
pdt_before.json, pdt_mid.json, pdt_after.json (`cnmuxctl -j pdt show web 0
SIZE` before the change, after `node add node4`, after `node drain node2`),
stats.json and conns_show.json (`cnmuxctl -j` before the stop), final.json
(--stats-json).

Independently of cnmux, it recomputes the client hash (CRC32-C, reflected,
table-driven, seeded with hash_key, no inversions, over the source address
and port as on the wire, then MurmurHash3 fmix32) and the PDT itself
(tests/lib/pdt_model.py, the construction of docs/pdt.md), and checks:

- every injected frame was forwarded exactly once, IP bytes unchanged;
- every SYN went to the PDT entry of its client hash (phase 1: the PDT
  before the change; phases 2 and 4: the PDT after it), a SYN that reuses
  the port of a closed connection too (phase 4), even where the closed
  entry's node differs;
- every later packet of a connection went to the node of its SYN (the
  drained node2 keeps its connections), no new connection went to node2;
- every PDT is the one its configuration gives (node by node, entry by
  entry), and each change moved at least the entries its quota changes
  require and at most twice that (a drain and an add at once move about
  what the two steps move: 1.5 times their net minimum; docs/pdt.md);
- the counters add up and the forwarding list holds what it should.
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from pcapio import read_pcap  # noqa: E402
from pdt_model import pdt_build, pdt_key, pdt_quotas  # noqa: E402

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print("FAIL " + msg)
    return cond


# ---- CRC32-C (Castagnoli), reflected, table-driven ----------------------
def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


CRC_T = _table()


def crc32c_update(crc, data):
    """The SSE4.2 crc32 instruction over data in memory order: no pre/post inversion."""
    for b in data:
        crc = CRC_T[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc


def fmix32(h):
    h ^= h >> 16
    h = (h * 0x85ebca6b) & 0xffffffff
    h ^= h >> 13
    h = (h * 0xc2b2ae35) & 0xffffffff
    h ^= h >> 16
    return h


def client_hash(key, src4, sport_wire):
    """cnm_client_hash() for IPv4, weighted (address and port)."""
    return fmix32(crc32c_update(crc32c_update(key, src4), sport_wire))


# ---- quotas: largest remainder, ties to the lower node id ----------------
def members(weights, svc="web"):
    """weights: list of (node_id, name, weight) -> the model's members by name."""
    return {n: (pdt_key(svc, n), w) for _, n, w in weights}


def quotas(size, weights):
    return pdt_quotas(size, members(weights))


def load(d, name):
    with open(os.path.join(d, name)) as f:
        return json.load(f)


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def entries_per_node(pdt):
    cnt = {}
    for e in pdt:
        cnt[e] = cnt.get(e, 0) + 1
    return cnt


def check_step(a, b, pa, pb, wa, wb, size):
    """One PDT change pa -> pb (weights wa -> wb): both tables are the ones
    their weights give, and the change moved close to the fewest entries."""
    for name, p, w in ((a, pa, wa), (b, pb, wb)):
        want = pdt_build(size, members(w))
        diff = sum(1 for x, y in zip(p, want) if x != y)
        check(diff == 0, "pdt %s: %d of %d entries differ from the table of its configuration"
              % (name, diff, size))
    ca, cb = entries_per_node(pa), entries_per_node(pb)
    moved = sum(1 for x, y in zip(pa, pb) if x != y)
    need = sum(max(0, cb.get(n, 0) - ca.get(n, 0)) for n in set(ca) | set(cb))
    ta, tb = sum(w for _, _, w in wa), sum(w for _, _, w in wb)
    da, db = dict((n, w) for _, n, w in wa), dict((n, w) for _, n, w in wb)
    ideal = sum(max(0.0, size * (db.get(n, 0) / tb - da.get(n, 0) / ta)) for n in set(da) | set(db))
    check(need <= moved <= need * 2, "%s -> %s: %d entries moved, the quota changes need %d"
          % (a, b, moved, need))
    print("pdt %s -> %s: moved %d of %d entries (quota changes need %d, ideal %.2f, ratio %.3f)"
          % (a, b, moved, size, need, ideal, moved / need if need else 0))


def step_main(argv):
    """step PDT_A.json PDT_B.json node1=1,node2=1,... node1=1,node2=0,...:
    both tables as their weights give them, and the move between them near the minimum."""
    pa, pb = load(".", argv[0]), load(".", argv[1])
    ws = []
    ids = {}
    for spec in argv[2:4]:
        w = []
        for item in spec.split(","):
            n, v = item.split("=")
            ids.setdefault(n, len(ids))
            w.append((ids[n], n, int(v)))
        ws.append(w)
    size = pa["size"]
    for name, p, w in (("a", pa, ws[0]), ("b", pb, ws[1])):
        want = {n: q for n, q in quotas(size, w).items() if q}
        got = entries_per_node(p["entries"])
        check(len(p["entries"]) == size, "pdt %s: %d entries of %d" % (name, len(p["entries"]), size))
        check(got == want, "pdt %s: entries per node %s, expected %s" % (name, got, want))
    check_step("a", "b", pa["entries"], pb["entries"], ws[0], ws[1], size)
    return 1 if FAILS else 0


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "step":
        return step_main(sys.argv[2:])
    d = sys.argv[1]
    cfg = load(d, "config.json")
    node4 = load(d, "node4.json")
    conns = {c["id"]: c for c in load(d, "conns.json")}
    sent = load(d, "sent.json")
    key = cfg["hash_key"]
    key = int(key, 0) if isinstance(key, str) else key
    size = cfg["pdt_size"]

    # known answer: CRC32-C("123456789") = 0xe3069283 (with the usual inversions)
    if not check(crc32c_update(0xffffffff, b"123456789") ^ 0xffffffff == 0xe3069283,
                 "CRC32-C known answer"):
        return 1

    nodes = list(cfg["nodes"]) + [node4]
    by_mac = {n["mac"].lower(): n["name"] for n in nodes}
    ids = {n["name"]: i for i, n in enumerate(nodes)}   # ids in order of addition

    pdt = {}
    for k in ("before", "mid", "after"):
        p = load(d, "pdt_%s.json" % k)
        check(p["size"] == size and len(p["entries"]) == size,
              "pdt_%s: %d entries of %d" % (k, len(p["entries"]), size))
        pdt[k] = p["entries"]

    # ---- the PDT changes: quotas, the tables themselves, the moves --
    svc = next(s for s in cfg["services"] if s["name"] == "web")
    w_before = [(ids[n], n, w) for n, w in svc["nodes"].items()]
    w_mid = w_before + [(ids["node4"], "node4", 1)]
    w_after = [(i, n, 0 if n == "node2" else w) for i, n, w in w_mid]
    for k, w in (("before", w_before), ("mid", w_mid), ("after", w_after)):
        want = {n: q for n, q in quotas(size, w).items() if q}
        got = entries_per_node(pdt[k])
        check(got == want, "pdt_%s: entries per node %s, expected %s" % (k, got, want))
    for a, b, wa, wb in (("before", "mid", w_before, w_mid), ("mid", "after", w_mid, w_after)):
        check_step(a, b, pdt[a], pdt[b], wa, wb, size)
    moved_total = sum(1 for x, y in zip(pdt["before"], pdt["after"]) if x != y)
    print("pdt before -> after: %d entries changed owner (two commands)" % moved_total)

    # ---- what was forwarded ------------------------------------------
    frames = read_pcap(os.path.join(d, "private.pcap"))
    by_ip = {}
    for r in sent:
        check(r["ip"] not in by_ip, "frame of conn %d sent twice" % r["conn"])
        by_ip[r["ip"]] = r
    seen = {}
    other = 0
    for fr in frames:
        if len(fr) < 14 or fr[12:14] != b"\x08\x00":
            other += 1
            continue
        ip = fr[14:]
        tot = struct.unpack(">H", ip[2:4])[0]
        h = ip[:tot].hex()
        r = by_ip.get(h)
        if r is None:
            other += 1
            continue
        node = by_mac.get(mac_str(fr[0:6]))
        check(node is not None, "conn %d %s: unknown destination MAC %s"
              % (r["conn"], r["kind"], mac_str(fr[0:6])))
        check(len(fr) == 14 + tot, "conn %d %s: frame of %d bytes for an IP packet of %d"
              % (r["conn"], r["kind"], len(fr), tot))
        k = (r["phase"], r["kind"], r["conn"])
        check(k not in seen, "conn %d %s forwarded twice" % (r["conn"], r["kind"]))
        seen[k] = node
    check(other == 0, "%d frames in private.pcap were not injected frames" % other)
    missing = [r for r in sent if (r["phase"], r["kind"], r["conn"]) not in seen]
    check(not missing, "%d injected frames not forwarded (first: %s)"
          % (len(missing), missing[:1]))
    print("forwarded: %d frames of %d injected, %d others" % (len(seen), len(sent), other))

    # ---- SYNs follow the PDT of their time, with the hash recomputed here
    syn_node = {}
    bad_hash = []
    resyn_node = {}
    for (ph, kind, cid), node in seen.items():
        if kind not in ("syn", "resyn"):
            continue
        c = conns[cid]
        src = bytes(int(x) for x in c["src"].split("."))
        idx = client_hash(key, src, struct.pack(">H", c["sport"])) & (size - 1)
        want = pdt["before" if ph == 1 else "after"][idx]
        if node != want:
            bad_hash.append((cid, ph, kind, idx, node, want))
        (syn_node if kind == "syn" else resyn_node)[cid] = node
    check(not bad_hash, "%d SYNs did not go to the PDT entry of their client hash "
          "(conn, phase, kind, index, got, expected): %s" % (len(bad_hash), bad_hash[:5]))
    reused_moved = sum(1 for cid, node in resyn_node.items() if node != syn_node.get(cid))
    check(resyn_node and reused_moved > 0, "no reused port whose closed connection was on "
          "another node than the PDT gives now: the test tests nothing")
    print("reused ports: %d new connections on the ports of closed ones, %d of them placed "
          "away from the closed connection's node" % (len(resyn_node), reused_moved))

    # ---- continued connections stay on their node --------------------
    moved_conns = 0
    by_node = {}
    bad_cont = []
    for (ph, kind, cid), node in seen.items():
        if kind in ("syn", "resyn"):
            continue
        first = (resyn_node if kind == "refin" else syn_node).get(cid)
        if node != first:
            bad_cont.append((cid, kind, first, node))
        c = conns[cid]
        if kind == "data":
            src = bytes(int(x) for x in c["src"].split("."))
            idx = client_hash(key, src, struct.pack(">H", c["sport"])) & (size - 1)
            if pdt["after"][idx] != node:
                moved_conns += 1
            by_node[node] = by_node.get(node, 0) + 1
    check(not bad_cont, "%d packets of continued connections left their node "
          "(conn, kind, SYN node, got): %s" % (len(bad_cont), bad_cont[:5]))
    check(moved_conns > 0, "no continued connection would have moved with the PDT alone")
    check(by_node.get("node2", 0) > 0, "no continued connection on the drained node2")
    print("continued: %d connections (by node %s), %d of them would have moved by the new PDT"
          % (sum(by_node.values()), dict(sorted(by_node.items())), moved_conns))
    new_by_node = {}
    for (ph, kind, cid), node in seen.items():
        if ph == 2 and kind == "syn":
            new_by_node[node] = new_by_node.get(node, 0) + 1
    check("node2" not in new_by_node, "%d new connections went to the drained node2"
          % new_by_node.get("node2", 0))
    print("new connections after the change, by node: %s" % dict(sorted(new_by_node.items())))

    # ---- counters ------------------------------------------------------
    n_syn = sum(1 for r in sent if r["kind"] in ("syn", "resyn"))
    n_resyn = sum(1 for r in sent if r["kind"] == "resyn")
    n_cont = len(sent) - n_syn
    n_fin = sum(1 for r in sent if r["kind"] in ("fin", "refin"))
    for name in ("stats.json", "final.json"):
        st = load(d, name)
        tag = name[:-5]
        # cnmuxctl -j stats and --stats-json have the same keys
        cn = {k[5:]: v for k, v in st.items() if k.startswith("conn_")}
        if name == "final.json":                 # --stats-json: after the ports closed
            check(st.get("mbufs_in_use") == 0, "final: mbufs in use at exit: %s"
                  % st.get("mbufs_in_use"))
        check(st["rx"] == len(sent), "%s: rx %d, injected %d" % (tag, st["rx"], len(sent)))
        check(st["rx"] == st["forwarded"] + st["local"] + st["dropped"],
              "%s: rx %d != forwarded %d + local %d + dropped %d"
              % (tag, st["rx"], st["forwarded"], st["local"], st["dropped"]))
        check(st["forwarded"] == len(sent) and st["dropped"] == 0 and st["local"] == 0,
              "%s: forwarded %d dropped %d local %d" % (tag, st["forwarded"], st["dropped"],
                                                        st["local"]))
        check(cn["new"] == n_syn, "%s: conns.new %d, SYNs %d" % (tag, cn["new"], n_syn))
        check(cn["hit"] == n_cont, "%s: conns.hit %d, continuation packets %d"
              % (tag, cn["hit"], n_cont))
        check(cn["full"] == 0 and cn["stale"] == 0, "%s: conns.full %d stale %d"
              % (tag, cn["full"], cn["stale"]))
        # a closed entry that a reused port replaced does not expire, unless
        # the sweep took it before the new SYN came
        check(n_fin - n_resyn <= cn["expired"] <= n_fin, "%s: conns.expired %d, closed %d, "
              "of which %d replaced by a new connection on the same port"
              % (tag, cn["expired"], n_fin, n_resyn))
        check(cn["active"] == n_syn - n_fin, "%s: conns.active %d, open %d"
              % (tag, cn["active"], n_syn - n_fin))
        per_node = {}
        for node in seen.values():
            per_node[node] = per_node.get(node, 0) + 1
        got = {n: v["packets"] for n, v in st["nodes"].items() if v["packets"]}
        check(got == per_node, "%s: packets per node %s, private.pcap %s"
              % (tag, got, per_node))

    # ---- the forwarding list holds the open connections on their node ----
    cs = load(d, "conns_show.json")
    closed = set(r["conn"] for r in sent if r["kind"] == "fin")
    want = {}
    for cid, node in syn_node.items():
        if cid not in closed:
            c = conns[cid]
            want["%s:%d" % (c["src"], c["sport"])] = node
    got = {e["client"]: e["node"] for e in cs["conns"]}
    check(len(cs["conns"]) == len(want), "conns show: %d entries, %d open connections"
          % (len(cs["conns"]), len(want)))
    check(got == want, "conns show: %d entries differ from the open connections"
          % len(set(got.items()) ^ set(want.items())))
    check(all(e["service"] == "web" and e["vip"] == "198.51.100.10:80" for e in cs["conns"]),
          "conns show: entries of another service or VIP")

    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
