#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# `meson install` installs cnmux like a system service (docs/install.md):
#
#   install_test.sh BUILD_DIR VERSION
#
# with PREFIX, BINDIR, MANDIR, SYSCONFDIR, DATADIR and UNITDIR (absolute, as
# meson resolved them) in the environment. It installs BUILD_DIR into a
# DESTDIR of its own (--no-rebuild: what the build made) and checks:
#   - the tree: the three binaries (cnmux, cnmuxctl, cnmux-quiclb), the
#     four man pages, the systemd unit, the example configuration and EAL
#     arguments, the bash completion;
#   - each man page renders with `man -l` without a warning;
#   - the unit: RuntimeDirectory=cnmux, ExecReload runs cnmuxctl reload,
#     Restart=on-failure, Exec lines on the installed binaries and files,
#     and `systemd-analyze verify` has nothing to say about it;
#   - the example configuration: `cnmux --check` accepts it, and cnmux runs
#     it (its NICs replaced by net_pcap vdevs, its socket by one of the
#     test's): the control socket answers, `cnmuxctl reload` (what
#     ExecReload runs) reports no change, `cnmuxctl node add` sets every
#     key of a node (and cnmux refuses bad ones), SIGTERM stops it with
#     status 0;
#     the example of cnmux.json(5) is accepted too;
#   - a second install keeps a changed configuration and puts the new one
#     beside it (cnmux.json.new);
#   - `--version` of both prints the project's version;
#   - every command `cnmuxctl --help` lists has help (`help VERB` and
#     `VERB --help`) and an entry in cnmuxctl(8), and --help lists every
#     command of --commands;
#   - the completion, sourced into bash: commands, subcommands, node add's
#     options and values, and node names from the running cnmux.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib/testenv.sh
. "$here/../lib/testenv.sh"
build=$(realpath "$1")
version=$2
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

for t in meson man; do
    command -v $t >/dev/null || cnm_skip "install_test needs $t"
done
rid=$(cnm_run_id)
tmp=$(mktemp -d "/tmp/cnmux-install-$rid.XXXXXX")
dest=$tmp/root
cnmux_pid=
cleanup() {
    [ -n "$cnmux_pid" ] && kill "$cnmux_pid" 2>/dev/null && wait "$cnmux_pid" 2>/dev/null
    rm -rf "$tmp" "/var/run/dpdk/cnmux-inst-$rid"
}
trap cleanup EXIT

if ! meson install -C "$build" --no-rebuild --destdir "$dest" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "FAIL: meson install --destdir"
    exit 1
fi

# ---- the tree ----
bin=$dest$BINDIR
etc=$dest$SYSCONFDIR/cnmux
unit=$dest$UNITDIR/cnmux.service
compl=$dest$DATADIR/bash-completion/completions/cnmuxctl
declare -A want=(
    [cnmux]="$bin/cnmux" [cnmuxctl]="$bin/cnmuxctl" [cnmux-quiclb]="$bin/cnmux-quiclb"
    [cnmux.8]="$dest$MANDIR/man8/cnmux.8" [cnmuxctl.8]="$dest$MANDIR/man8/cnmuxctl.8"
    [cnmux-quiclb.8]="$dest$MANDIR/man8/cnmux-quiclb.8"
    [cnmux.json.5]="$dest$MANDIR/man5/cnmux.json.5"
    [unit]="$unit" [config]="$etc/cnmux.json" [env]="$etc/cnmux.env" [completion]="$compl"
)
for k in "${!want[@]}"; do
    [ -s "${want[$k]}" ] || fail "tree: $k not installed at ${want[$k]#$dest}"
done
for k in cnmux cnmuxctl cnmux-quiclb; do
    [ -x "${want[$k]}" ] || fail "tree: ${want[$k]#$dest} is not executable"
done
[ "$(stat -c %a "$etc/cnmux.json")" = 644 ] || fail "tree: cnmux.json mode $(stat -c %a "$etc/cnmux.json"), expected 644"
[ $fails -eq 0 ] && ok "tree: binaries, man pages, unit, example config and env, completion"

# ---- man pages render without warnings ----
for page in "${want[cnmux.8]}" "${want[cnmuxctl.8]}" "${want[cnmux.json.5]}" "${want[cnmux-quiclb.8]}"; do
    name=$(basename "$page")
    MANWIDTH=80 man --warnings -l "$page" >"$tmp/$name.txt" 2>"$tmp/$name.err"
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$tmp/$name.err" ]; then
        fail "man -l $name: rc=$rc, stderr:"; cat "$tmp/$name.err"
    elif ! grep -q '^NAME' "$tmp/$name.txt" || ! grep -q "^SYNOPSIS" "$tmp/$name.txt" ||
         ! grep -q "^       ${name%.[0-9]} - " "$tmp/$name.txt"; then
        fail "man -l $name: no NAME / SYNOPSIS section"
    else
        ok "man -l $name renders ($(wc -l <"$tmp/$name.txt") lines, no warning)"
    fi
done

# ---- the systemd unit ----
u_ok=1
for line in "RuntimeDirectory=cnmux" "Restart=on-failure" "ExecReload=$BINDIR/cnmuxctl reload" \
            "ExecStart=$BINDIR/cnmux \$CNMUX_EAL_ARGS -- --config $SYSCONFDIR/cnmux/cnmux.json \$CNMUX_ARGS" \
            "ExecStartPre=$BINDIR/cnmux --check --config $SYSCONFDIR/cnmux/cnmux.json" \
            "EnvironmentFile=-$SYSCONFDIR/cnmux/cnmux.env"; do
    grep -qxF -- "$line" "$unit" || { fail "unit: no line '$line'"; u_ok=0; }
done
if command -v systemd-analyze >/dev/null; then
    # the binaries where the unit says, mapped into the DESTDIR
    sed "s#$BINDIR/#$bin/#g" "$unit" >"$tmp/cnmux.service"
    if ! systemd-analyze verify --man=no "$tmp/cnmux.service" >"$tmp/verify.txt" 2>&1 ||
       [ -s "$tmp/verify.txt" ]; then
        fail "unit: systemd-analyze verify:"; cat "$tmp/verify.txt"; u_ok=0
    fi
else
    echo "     (no systemd-analyze here: the unit's syntax is not verified)"
fi
[ $u_ok = 1 ] && ok "unit: RuntimeDirectory, ExecReload = cnmuxctl reload, Restart=on-failure, systemd-analyze verify clean"

# ---- --version ----
for p in cnmux cnmuxctl cnmux-quiclb; do
    out=$("$bin/$p" --version 2>&1)
    if [ $? -ne 0 ] || ! grep -qE "^$p $version( |$)" <<<"$out"; then
        fail "$p --version: expected '$p $version ...', got '$out'"
    else
        ok "$p --version: $out"
    fi
done

# ---- the example configuration ----
out=$("$bin/cnmux" --check --config "$etc/cnmux.json" 2>&1)
if [ $? -ne 0 ] || ! grep -q ": ok: " <<<"$out"; then
    fail "cnmux --check on the example config: $out"
else
    ok "cnmux --check accepts the installed example: $out"
fi
# the example socket is the unit's: /run/cnmux/cnmux.sock, cnmuxctl's default
grep -q '"socket": "/run/cnmux/cnmux.sock"' "$etc/cnmux.json" ||
    fail "example config: control.socket is not /run/cnmux/cnmux.sock (ExecReload would not reach it)"
grep -q "^#define CTL_SOCKET_DEFAULT \"/run/cnmux/cnmux.sock\"" "$root/app/cnmuxctl/main.c" ||
    fail "cnmuxctl's default socket is not /run/cnmux/cnmux.sock"
# a broken file is refused, with file and key
sed 's/"node2": 1, "node3"/"node9": 1, "node3"/' "$etc/cnmux.json" >"$tmp/bad.json"
out=$("$bin/cnmux" --check --config "$tmp/bad.json" 2>&1)
if [ $? -ne 1 ] || ! grep -qF "$tmp/bad.json: services[0].nodes.node9" <<<"$out"; then
    fail "cnmux --check on a broken config: expected status 1 and file/key, got: $out"
else
    ok "cnmux --check refuses a broken config: $out"
fi
# the example of cnmux.json(5)
sed -n '/^# EXAMPLE/,/^# TOP LEVEL/p' "$root/docs/man/cnmux.json.5.scd" | sed -n '/^```$/,/^```$/p' |
    sed '1d;$d' >"$tmp/man-example.json"
out=$("$bin/cnmux" --check --config "$tmp/man-example.json" 2>&1) ||
    fail "the example of cnmux.json(5) is refused: $out"

# ---- a second install keeps the operator's configuration ----
echo ' ' >>"$etc/cnmux.json"
cp "$etc/cnmux.json" "$tmp/edited.json"
if ! meson install -C "$build" --no-rebuild --destdir "$dest" >"$tmp/install2.log" 2>&1; then
    fail "second meson install"; cat "$tmp/install2.log"
elif ! cmp -s "$etc/cnmux.json" "$tmp/edited.json" || ! cmp -s "$etc/cnmux.json.new" "$root/config/cnmux.example.json"; then
    fail "second install: the edited cnmux.json was not kept, or no cnmux.json.new beside it"
else
    ok "second install keeps an edited cnmux.json and puts the new one at cnmux.json.new"
fi
[ -e "$etc/cnmux.env.new" ] && fail "second install: cnmux.env.new made for an unchanged cnmux.env"

# ---- cnmuxctl: every command has help and a man page entry ----
ctl=$bin/cnmuxctl
"$ctl" --help >"$tmp/help.txt" 2>&1 || fail "cnmuxctl --help: status $?"
"$ctl" --commands >"$tmp/commands.txt" 2>&1 || fail "cnmuxctl --commands: status $?"
sed -n '/^commands:$/,/^$/p' "$tmp/help.txt" | sed '1d;/^$/d;s/^  //' >"$tmp/listed.txt"
[ -s "$tmp/listed.txt" ] || fail "cnmuxctl --help lists no commands"
nverbs=0
while read -r line; do
    # the command of the line: the longest name of --commands it starts with
    verb=$(while read -r c; do case "$line " in "$c "*) echo "${#c} $c";; esac; done <"$tmp/commands.txt" |
           sort -n | tail -1 | cut -d' ' -f2-)
    if [ -z "$verb" ]; then
        fail "cnmuxctl --help lists '$line', which is no command of --commands"; continue
    fi
    # shellcheck disable=SC2086
    h1=$("$ctl" help $verb 2>&1); r1=$?
    # shellcheck disable=SC2086
    h2=$("$ctl" $verb --help 2>&1); r2=$?
    if [ $r1 -ne 0 ] || [ $r2 -ne 0 ] || [ "$h1" != "$h2" ]; then
        fail "help of '$verb': help VERB status $r1, VERB --help status $r2, the same text: $([ "$h1" = "$h2" ] && echo yes || echo no)"
    elif ! grep -qF "usage: cnmuxctl [-s SOCKET] [-j] $verb" <<<"$h1" ||
         [ "$(grep -cv '^\(usage: \|       cnmuxctl\|$\)' <<<"$h1")" -lt 1 ]; then
        fail "help of '$verb' has no usage line or no explanation: $h1"
    elif ! grep -qF "$verb" "$tmp/cnmuxctl.8.txt"; then
        fail "cnmuxctl(8) has no entry for '$verb'"
    else
        nverbs=$((nverbs + 1))
    fi
done < <(sort -u "$tmp/listed.txt")
while read -r c; do
    [ "$c" = help ] && continue
    grep -q "^$c\( \|$\)" "$tmp/listed.txt" || fail "cnmuxctl --help does not list '$c' of --commands"
done <"$tmp/commands.txt"
"$ctl" help frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || fail "cnmuxctl help frobnicate: expected status 2"
ok "cnmuxctl: $nverbs command lines of --help, each with help (help VERB = VERB --help) and in cnmuxctl(8)"

# ---- the example configuration, running ----
if [ "$(id -u)" != 0 ]; then
    cnm_skip "install_test: running the example config needs root (DPDK)"
fi
sock=$tmp/ctl.sock
/usr/bin/python3 - "$etc/cnmux.json" "$tmp/run.json" "$sock" <<'PY' || fail "rewriting the example's ports"
import json, sys
c = json.load(open(sys.argv[1]))
c["ports"] = {"public": "net_pcap0", "private": ["net_pcap1"], "local": "net_pcap2"}
c["control"]["socket"] = sys.argv[3]
c["tunnel"] = {"source4": "192.0.2.1"}   # for the gue node of node add below
json.dump(c, open(sys.argv[2], "w"), indent=1)
PY
"$bin/cnmux" --no-huge -m 256 --no-pci -l 0,1 --log-level=error --file-prefix "cnmux-inst-$rid" \
    --vdev "net_pcap0,rx_pcap=$root/pcaps/demo/in.pcap" --vdev "net_pcap1,tx_pcap=$tmp/p.pcap" \
    --vdev "net_pcap2,tx_pcap=$tmp/l.pcap" -- --config "$tmp/run.json" >"$tmp/cnmux.log" 2>&1 &
cnmux_pid=$!
for _ in $(seq 100); do
    [ -S "$sock" ] && break
    kill -0 "$cnmux_pid" 2>/dev/null || break
    sleep 0.1
done
if [ ! -S "$sock" ]; then
    fail "cnmux on the example config: no control socket"; cat "$tmp/cnmux.log"
else
    out=$("$ctl" -s "$sock" reload 2>&1)
    if [ $? -ne 0 ] || ! grep -q "^reloaded $tmp/run.json" <<<"$out" || ! grep -q "^no change" <<<"$out"; then
        fail "cnmuxctl reload (ExecReload) on the example: $out"
    else
        ok "cnmux runs the example config; cnmuxctl reload: $(tr '\n' ' ' <<<"$out")"
    fi
    out=$("$ctl" -s "$sock" node show 2>&1)
    [ "$(grep -c '^node[123] ' <<<"$out")" = 3 ] || fail "cnmuxctl node show on the example: $out"

    # node add sets every key a node has in the file, and cnmux checks them
    n_ok=0
    node_add() { # expected status, expected text, arguments...
        local want=$1 text=$2; shift 2
        out=$("$ctl" -s "$sock" node add "$@" 2>&1)
        rc=$?
        if [ $rc -ne "$want" ] || ! grep -qF -- "$text" <<<"$out"; then
            fail "cnmuxctl node add $*: status $rc (expected $want), '$text' not in: $out"
        else
            n_ok=$((n_ok + 1))
        fi
    }
    node_field() { # node, key, expected JSON value
        got=$("$ctl" -s "$sock" -j node show "$1" | /usr/bin/python3 -c \
            'import json,sys; print(json.dumps(json.load(sys.stdin)["nodes"][0].get(sys.argv[1])))' "$2")
        [ "$got" = "$3" ] && n_ok=$((n_ok + 1)) || fail "node show $1: $2 is $got, expected $3"
    }
    node_add 0 "nodes added: node4" node4 192.0.2.14 02:00:c0:00:02:0e --check-port 8080 web=2
    node_field node4 check_port 8080
    node_field node4 mac '"02:00:c0:00:02:0e"'
    node_add 0 "nodes added: edge1" edge1 203.0.113.21 --forward gue --gateway 192.0.2.1 \
        --gue-port 7000 --check-port 80 dns=1
    node_field edge1 forward '"gue"'
    node_field edge1 gateway '"192.0.2.1"'
    node_field edge1 gue_port 7000
    node_field edge1 check_port 80
    node_add 0 "nodes added: edge2" --json '{"name": "edge2", "ip": "203.0.113.22"}' --forward ipip
    node_field edge2 forward '"ipip"'
    node_add 1 "node add: node.check_port" node5 192.0.2.15 --check-port 0
    node_add 1 "node add: node.gue_port" node5 192.0.2.15 --gue-port 7000
    node_add 1 "node add: node.forward" node5 192.0.2.15 --forward gre
    node_add 2 'unknown option "--weight"' node5 192.0.2.15 --weight 3
    node_add 2 '"mac" given twice' node5 192.0.2.15 02:00:c0:00:02:0f --mac 02:00:c0:00:02:0f
    if "$ctl" -s "$sock" node show node5 >/dev/null 2>&1; then
        fail "a refused node add added node5"
    fi
    [ $n_ok -eq 15 ] && ok "cnmuxctl node add: mac, --check-port, --forward, --gateway, --gue-port, --json set and shown; bad values refused with the key"
fi

# ---- bash completion ----
if ! command -v bash >/dev/null; then
    fail "no bash for the completion test"
else
    compl_test() { # expected words (space separated, each must be offered), then the words typed
        local expect=$1; shift
        got=$(PATH="$bin:$PATH" bash -c '
            . "$1"; shift
            complete -p cnmuxctl >/dev/null || { echo "NOT REGISTERED"; exit; }
            COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
            _cnmuxctl; printf "%s\n" "${COMPREPLY[@]}"' _ "$compl" "$@" 2>&1)
        for w in $expect; do
            grep -qx -- "$w" <<<"$got" || { fail "completion of '$*': '$w' not offered (got: $(tr '\n' ' ' <<<"$got"))"; return; }
        done
        cok=$((cok + 1))
    }
    cok=0
    # every first word of a command
    compl_test "$(cut -d' ' -f1 "$tmp/commands.txt" | sort -u | tr '\n' ' ')" cnmuxctl ""
    compl_test "add show del up down drain weight" cnmuxctl node ""
    compl_test "add" cnmuxctl -j node a
    compl_test "--check-port" cnmuxctl node add n5 192.0.2.15 --ch
    compl_test "mac ipip gue" cnmuxctl node add n5 192.0.2.15 --forward ""
    compl_test "--version" cnmuxctl --vers
    compl_test "add" cnmuxctl help node a
    [ -S "$sock" ] && compl_test "node1 node2 node3" cnmuxctl -s "$sock" node drain ""
    [ -S "$sock" ] && compl_test "web dns" cnmuxctl -s "$sock" node drain node1 ""
    [ "$cok" -ge 7 ] && ok "bash completion: $cok cases (commands, subcommands, options, values, live names)"
fi

# ---- stop like systemd does ----
if [ -n "$cnmux_pid" ]; then
    kill -TERM "$cnmux_pid"
    wait "$cnmux_pid"
    rc=$?
    cnmux_pid=
    if [ $rc -ne 0 ]; then
        fail "cnmux on the example config: exit status $rc after SIGTERM"; tail -5 "$tmp/cnmux.log"
    elif [ -e "$sock" ]; then
        fail "cnmux left its control socket behind"
    else
        ok "SIGTERM: cnmux stopped with status 0 and removed its socket"
    fi
fi

[ $fails -eq 0 ] && echo "install: all checks passed" || echo "install: $fails check(s) failed"
exit $((fails > 0))
