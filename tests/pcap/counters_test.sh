#!/bin/bash
# One key schema everywhere: after one run of cnmux on a golden capture
# (pcaps/mixed), telemetry (/cnmux/stats, read with a small client of the
# telemetry socket), `cnmuxctl stats -j` and --stats-json (written when
# SIGINT stops cnmux after the other two were read) must hold the same
# keys, key for key, and the same values for every counter; gauges only
# need to be there. The keys expected
# are those `cnmux --list-counters` prints, for every service and node of the
# configuration: a source missing one fails, as does a key no list names.
# usage: counters_test.sh CNMUX_BINARY CNMUXCTL_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
[ -x "$py" ] || py=python3
case_dir=$root/pcaps/mixed
tmp=$(mktemp -d /tmp/cnmux-counters.XXXXXX)
prefix=cnmux-counters-$$
sock=$tmp/ctl.sock
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp" "/var/run/dpdk/$prefix" "${XDG_RUNTIME_DIR:-/tmp}/dpdk/$prefix" 2>/dev/null
}
trap cleanup EXIT

# the case's configuration with a control socket, and connection timeouts
# long enough that no entry expires between the three readings
"$py" - "$case_dir/config.json" "$tmp/config.json" "$sock" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["control"] = {"socket": sys.argv[3]}
c["conntrack"] = {"timeout_s": 3600, "closing_s": 3600, "syn_s": 3600}
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
frames=$("$py" -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
n, off = 0, 24
while off + 16 <= len(b):
    off += 16 + struct.unpack("<I", b[off + 8:off + 12])[0]
    n += 1
print(n)' "$case_dir/in.pcap")
"$cnmux" --list-counters >"$tmp/list.txt"

# no --idle-exit: a timer started by the last frame raced the two readings
# below on a starved machine; SIGINT stops cnmux once they are taken
"$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" --log-level=error \
    --vdev "net_pcap0,rx_pcap=$case_dir/in.pcap" \
    --vdev "net_pcap1,tx_pcap=$tmp/private.pcap" \
    --vdev "net_pcap2,tx_pcap=$tmp/local.pcap" \
    -- --config "$tmp/config.json" \
    --stats-json "$tmp/stats.json" >"$tmp/out.txt" 2>&1 &
pid=$!

# the whole capture went through: read telemetry and the control socket
ok=
for _ in $(seq 100); do
    if "$ctl" -s "$sock" -j stats >"$tmp/ctl.json" 2>/dev/null &&
        "$py" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["rx"] != int(sys.argv[2]))' \
            "$tmp/ctl.json" "$frames" 2>/dev/null; then
        ok=1
        break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$ok" ]; then
    echo "counters test FAILED: cnmux did not count the $frames frames of the capture"
    cat "$tmp/out.txt"
    exit 1
fi
"$py" - "$prefix" /cnmux/stats /cnmux/services >"$tmp/tel.json" <<'PY'
# a client of DPDK's telemetry socket (v2): one JSON answer per command
import json, os, socket, sys
run = os.environ.get("RUNTIME_DIRECTORY") or ("/var/run" if os.getuid() == 0 else
                                              os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(os.path.join(run, "dpdk", sys.argv[1], "dpdk_telemetry.v2"))
size = json.loads(s.recv(1024).decode())["max_output_len"]
out = {}
for cmd in sys.argv[2:]:
    s.send(cmd.encode())
    out[cmd] = json.loads(s.recv(size).decode())[cmd]
json.dump(out, sys.stdout)
PY
"$ctl" -s "$sock" -j stats >"$tmp/ctl.json"
if ! kill -0 "$pid" 2>/dev/null; then
    echo "counters test FAILED: cnmux stopped by itself before both were read"
    cat "$tmp/out.txt"
    exit 1
fi

# SIGINT stops it: the final statistics
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
pid=

"$py" - "$tmp" "$rc" "$frames" "$here" <<'PY'
import json, re, sys
tmp, rc, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fail = []
def check(cond, what):
    if not cond:
        fail.append(what)

# what --list-counters says, expanded over the services and nodes of the run
cfg = json.load(open(tmp + "/config.json"))
kind = {}
optional = {}    # a pair's drops: a reason appears once it has counted
for line in open(tmp + "/list.txt"):
    key, k = line.split()[:2]
    if key.startswith("services.NAME.nodes.NODE.drops."):
        for s in cfg["services"]:
            for n in s["nodes"]:
                optional[key.replace("NAME", s["name"]).replace("NODE", n)] = k
        continue
    if key.startswith("services.NAME.nodes.NODE."):    # per (service, node): its list
        keys = [key.replace("NAME", s["name"]).replace("NODE", n)
                for s in cfg["services"] for n in s["nodes"]]
    elif key.startswith("services.NAME."):
        keys = [key.replace("NAME", s["name"]) for s in cfg["services"]]
    elif key.startswith("nodes.NAME."):
        keys = [key.replace("NAME", n["name"]) for n in cfg["nodes"]]
    else:
        keys = [key]
    for kk in keys:
        kind[kk] = k
check(kind.get("rx") == "counter" and kind.get("conn_active") == "gauge",
      "--list-counters lists rx (counter) and conn_active (gauge)")

def flat(obj, pre=""):
    """{"a": {"b": 1}} -> {"a.b": 1}"""
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out.update(flat(v, pre + k + "."))
        else:
            out[pre + k] = v
    return out

def untel(obj):
    """telemetry: what nests below a container is flattened as "a/b": nest it again"""
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            v = untel(v)
        parts = k.split("/")
        cur = out
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = v
    return out

tel = json.load(open(tmp + "/tel.json"))
ctl = json.load(open(tmp + "/ctl.json"))
ctl.pop("ok", None)
sj = json.load(open(tmp + "/stats.json"))
src = {"telemetry": flat(untel(tel["/cnmux/stats"])), "cnmuxctl stats -j": flat(ctl),
       "--stats-json": flat(sj)}
for name, d in src.items():
    missing = sorted(set(kind) - set(d))
    extra = sorted(set(d) - set(kind) - set(optional))
    check(not missing, "%s misses %d key(s): %s" % (name, len(missing), " ".join(missing[:20])))
    check(not extra, "%s has key(s) --list-counters does not name: %s" % (name, " ".join(extra[:20])))
names = list(src)
compared = 0
# a pair's drops: in all three or in none
for key in sorted(optional):
    vals = [src[n].get(key) for n in names]
    if vals != [None] * 3:
        compared += 1
        check(vals[0] == vals[1] == vals[2] and vals[0] != 0,
              "%s: %s" % (key, ", ".join("%s %r" % (n, v) for n, v in zip(names, vals))))
for key, k in sorted(kind.items()):
    vals = [src[n].get(key) for n in names]
    if k != "counter" or None in vals:
        continue
    compared += 1
    check(vals[0] == vals[1] == vals[2],
          "%s: %s" % (key, ", ".join("%s %r" % (n, v) for n, v in zip(names, vals))))
# the services of /cnmux/services are those of /cnmux/stats
check(flat(untel(tel["/cnmux/services"])) == flat(ctl["services"]),
      "/cnmux/services differs from the services of cnmuxctl stats")
for name, d in src.items():
    check(d.get("rx") == frames, "%s: rx %r, the capture has %d frames" % (name, d.get("rx"), frames))
    check(d.get("rx") == d.get("forwarded", -1) + d.get("local", -1) + d.get("dropped", -1),
          "%s: rx != forwarded + local + dropped" % name)
check(sj.get("forwarded", 0) > 0 and sj.get("local", 0) > 0 and sj.get("dropped", 0) > 0,
      "the capture exercises forwarded, local and dropped")
# per (service, node): a service's nodes add up to what it forwarded, and a
# node's services to what the node got (mixed has no default node)
svc_fwd = sum(v["packets"] for s in sj["services"].values() for v in s["nodes"].values())
check(svc_fwd == sj["forwarded"], "per (service, node) packets %d, forwarded %d"
      % (svc_fwd, sj["forwarded"]))
for n, v in sj["nodes"].items():
    got = sum(s["nodes"].get(n, {}).get("packets", 0) for s in sj["services"].values())
    check(got == v["packets"], "node %s: %d packets, %d from its services" % (n, v["packets"], got))
# new connections: every one recorded counts for its service, its node and
# the pair; services, nodes and pairs each add up to conn_new
for what, total in (("services", sum(v["conn_new"] for v in sj["services"].values())),
                    ("nodes", sum(v["conn_new"] for v in sj["nodes"].values())),
                    ("pairs", sum(v["conn_new"] for s in sj["services"].values()
                                  for v in s["nodes"].values()))):
    check(total == sj["conn_new"], "conn_new of the %s: %d, conn_new %d" % (what, total, sj["conn_new"]))
check(sj["conn_new"] > 0, "the capture opens connections")
# drops per service, pair and node against the global ones (drops_check.py)
sys.path.insert(0, sys.argv[4])
from drops_check import per_id_drop_fails
for name, d in (("--stats-json", sj), ("cnmuxctl stats -j", ctl)):
    for f in per_id_drop_fails(d)[0]:
        check(False, "%s: %s" % (name, f))
check(sj.get("mbufs_in_use") == 0, "--stats-json: mbufs_in_use %r at exit" % sj.get("mbufs_in_use"))
check(rc == 0, "cnmux exit status %d after SIGINT" % rc)
if fail:
    print("counters test FAILED:\n  " + "\n  ".join(fail))
    sys.exit(1)
print("counters test: %d keys in each of telemetry, cnmuxctl stats -j and --stats-json; "
      "%d counters equal in all three" % (len(kind), compared))
PY
