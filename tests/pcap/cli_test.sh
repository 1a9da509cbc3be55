#!/bin/bash
# The command line and start-up errors: a bad option or a bad config stops
# cnmux with a message naming what is wrong, a non-zero exit, and no output
# capture written; --idle-exit ends a replay by itself.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cnmux=$(realpath "$1")
tmp=$(mktemp -d /tmp/cnmux-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
eal=(--no-huge -m 256 --no-pci -l 0,1 --log-level=error)
vdevs=(--vdev "net_pcap0,rx_pcap=$root/pcaps/demo/in.pcap" --vdev "net_pcap1,tx_pcap=$tmp/p.pcap"
       --vdev "net_pcap2,tx_pcap=$tmp/l.pcap")

expect_fail() { # name, expected text, args...
    local name=$1 text=$2; shift 2
    rm -f "$tmp/p.pcap"
    out=$("$cnmux" "${eal[@]}" --file-prefix "cli-$$-$name" "${vdevs[@]}" -- "$@" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] || ! grep -qF -- "$text" <<<"$out"; then
        echo "FAIL $name: rc=$rc, expected '$text' in:"; echo "$out" | tail -5; fails=$((fails + 1))
    elif [ -f "$tmp/p.pcap" ] && [ "$(stat -c %s "$tmp/p.pcap")" -gt 24 ]; then
        echo "FAIL $name: forwarded something"; fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
    rm -rf "/var/run/dpdk/cli-$$-$name"
}

expect_fail no-config "--config FILE is required"
expect_fail missing-file "nosuch.json: cannot read" --config "$tmp/nosuch.json"
printf '{"ports": {"public": "net_pcap0", "private": ["net_pcap1"]}, "nodes": [], "services": []}' >"$tmp/empty.json"
expect_fail empty-nodes "$tmp/empty.json: nodes" --config "$tmp/empty.json"
sed 's/"node2": 1, "node3"/"node9": 1, "node3"/' "$root/config/default.json" >"$tmp/unknown.json"
expect_fail unknown-node "services[0].nodes.node9" --config "$tmp/unknown.json"
sed 's/net_pcap2/net_pcap7/' "$root/config/default.json" >"$tmp/noport.json"
expect_fail unknown-port "ports.local: no DPDK port 'net_pcap7'" --config "$tmp/noport.json"
expect_fail bad-idle "--idle-exit: expected an integer" --config "$root/config/default.json" --idle-exit 12x
expect_fail extra-arg "unexpected argument" --config "$root/config/default.json" stray

# --idle-exit ends the replay by itself, with exit status 0
start=$(date +%s%N)
"$cnmux" "${eal[@]}" --file-prefix "cli-$$-idle" "${vdevs[@]}" -- --config "$root/config/default.json" \
    --idle-exit 300 --quiet >"$tmp/idle.txt" 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
rm -rf "/var/run/dpdk/cli-$$-idle"
if [ $rc -ne 0 ] || [ ! -s "$tmp/p.pcap" ]; then
    echo "FAIL idle-exit: rc=$rc"; cat "$tmp/idle.txt"; fails=$((fails + 1))
else
    echo "ok   idle-exit (stopped by itself after ${ms} ms)"
fi
exit $fails
