#!/bin/bash
# cnmuxctl explain on a running cnmux: after a golden capture (pcaps/mixed)
# went through, every tracked connection that `conns show` lists is
# explained as held by worker 0's list, on the node the list holds, also
# after a drain moved its PDT entry; a new client's SYN would be recorded on
# the PDT's node; and explaining changes nothing:
# the list's size and the counters stay as they were. With second_chance_s
# on, a segment of a connection no list holds whose entry the drain moved is
# explained as going to its previous owner ("second chance applied"), its SYN
# as following the PDT.
# usage: explain_live_test.sh CNMUX_BINARY CNMUXCTL_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cnmux=$(realpath "$1")
ctl=$(realpath "$2")
py=/usr/bin/python3
case_dir=$root/pcaps/mixed
tmp=$(mktemp -d /tmp/cnmux-explain.XXXXXX)
prefix=cnmux-explain-$$
sock=$tmp/ctl.sock
pid=
cleanup() {
    if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    rm -rf "$tmp" "/var/run/dpdk/$prefix" 2>/dev/null
}
trap cleanup EXIT

"$py" - "$case_dir/config.json" "$tmp/config.json" "$sock" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["control"] = {"socket": sys.argv[3]}
c["conntrack"] = {"timeout_s": 3600, "closing_s": 3600, "syn_s": 3600}
c["second_chance_s"] = 600
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

"$cnmux" --no-huge -m 512 --no-pci -l 0,1 --file-prefix "$prefix" --log-level=error \
    --vdev "net_pcap0,rx_pcap=$case_dir/in.pcap" \
    --vdev "net_pcap1,tx_pcap=$tmp/private.pcap" \
    --vdev "net_pcap2,tx_pcap=$tmp/local.pcap" \
    -- --config "$tmp/config.json" >"$tmp/out.txt" 2>&1 &
pid=$!
ok=
for _ in $(seq 100); do
    if "$ctl" -s "$sock" -j stats >"$tmp/before.json" 2>/dev/null &&
        "$py" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["rx"] != int(sys.argv[2]))' \
            "$tmp/before.json" "$frames" 2>/dev/null; then
        ok=1
        break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$ok" ]; then
    echo "explain live test FAILED: cnmux did not count the $frames frames of the capture"
    cat "$tmp/out.txt"
    exit 1
fi
"$ctl" -s "$sock" -j conns show --max 10000 >"$tmp/conns.json"

"$py" - "$ctl" "$sock" "$cnmux" "$tmp" <<'PY'
import json, subprocess, sys, time
ctl, sock, cnmux, tmp = sys.argv[1:5]
fails = []

def explain(*args):
    r = subprocess.run([ctl, "-s", sock, "-j", "explain"] + list(args),
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        fails.append("explain %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
        return {}
    return json.loads(r.stdout)

conns = json.load(open(tmp + "/conns.json"))["conns"]
# drain the node of the first connection in its service: the PDT sends its
# clients elsewhere now, the list keeps its connections where they are
if conns:
    # the table in force a while: second chance keeps no table younger
    # than 1 s (docs/pdt.md)
    time.sleep(1.2)
    subprocess.run([ctl, "-s", sock, "node", "drain", conns[0]["node"], conns[0]["service"]],
                   check=True, capture_output=True)
moved = 0
for c in conns[:200]:
    # a segment of the connection, as the client sends it
    r = explain("tcp", c["client"], c["vip"], "P.")
    want = {"conn": "held", "via": "conn", "node": c["node"], "conn_node": c["node"],
            "service": c["service"], "conn_worker": 0, "verdict": "forward"}
    for k, v in want.items():
        if r.get(k) != v and c["state"] != "closing":
            fails.append("%s -> %s: %s = %r, expected %r" % (c["client"], c["vip"], k,
                                                            r.get(k), v))
    moved += r.get("pdt_node") != r.get("node")
if not conns:
    fails.append("conns show listed no connection after the capture")

# a client no list holds: its SYN would be recorded on the PDT's node, and
# the offline explanation of the same frame names the same node
r = explain("tcp", "203.0.113.77:40001", "198.51.100.30:80", "S")
if r.get("conn") != "new" or r.get("node") != r.get("pdt_node") or r.get("via") != "pdt":
    fails.append("a new SYN: %r" % r)

# second chance (second_chance_s 600; the drain above opened the window): a
# segment of a connection no list holds, whose PDT entry the drain moved,
# would go to its previous owner; its SYN follows the PDT of now
sc_seen = 0
if conns:
    vip = conns[0]["vip"]
    for port in range(41000, 41400):
        client = "203.0.113.201:%d" % port
        r = explain("tcp", client, vip, ".")
        if r.get("second_chance") in (None, "entry unchanged"):
            continue
        sc_seen += 1
        want = {"second_chance": "applied", "via": "second chance", "conn": "not held",
                "node": r.get("second_chance_node"), "verdict": "forward"}
        for k, v in want.items():
            if r.get(k) != v:
                fails.append("second chance %s -> %s: %s = %r, expected %r (%s)"
                             % (client, vip, k, r.get(k), v, r.get("line")))
        if "second chance applied (previous owner" not in r.get("line", ""):
            fails.append("second chance not in the line: %r" % r.get("line"))
        r = explain("tcp", client, vip, "S")
        if r.get("second_chance") != "not for a SYN" or r.get("via") != "pdt" or \
                r.get("node") != r.get("pdt_node"):
            fails.append("a SYN in the window: %r" % r)
        if sc_seen >= 3:
            break
    if sc_seen == 0:
        fails.append("no client of %s whose entry the drain moved: second chance not shown" % vip)

after = json.loads(subprocess.run([ctl, "-s", sock, "-j", "stats"], capture_output=True,
                                  text=True).stdout)
before = json.load(open(tmp + "/before.json"))
for k in ("rx", "forwarded", "conn_new", "conn_hit", "conn_stale", "conn_active",
          "second_chance", "second_chance_failed"):
    if after.get(k) != before.get(k):
        fails.append("explain changed %s: %s -> %s" % (k, before.get(k), after.get(k)))
n_after = len(json.loads(subprocess.run([ctl, "-s", sock, "-j", "conns", "show", "--max",
                                         "10000"], capture_output=True, text=True).stdout)["conns"])
if n_after != len(conns):
    fails.append("explain changed the list: %d -> %d entries" % (len(conns), n_after))

# errors name what is expected, exit 1
r = subprocess.run([ctl, "-s", sock, "explain", "sctp", "1.2.3.4:1", "5.6.7.8:2"],
                   capture_output=True, text=True)
if r.returncode != 1 or "packet.proto" not in r.stderr:
    fails.append("explain sctp: exit %d, %r" % (r.returncode, r.stderr))

for f in fails[:20]:
    print("FAIL " + f)
if conns and moved == 0:
    fails.append("the drain moved no explained connection's PDT entry: nothing was shown")
print("explain live: %d connections explained (%d of them on another node than the PDT's "
      "now), %d failures" % (min(len(conns), 200), moved, len(fails)))
sys.exit(1 if fails else 0)
PY
