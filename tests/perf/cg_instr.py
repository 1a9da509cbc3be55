#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Instructions per packet, instruction by instruction: a callgrind file
written with --dump-instr=yes, against the binary's disassembly.

    cg_instr.py CG_LONG [--short CG_SHORT] --packets N --binary BIN FUNC...

LTO inlines the data path into one function (cnm_worker_burst), whose
per-line figures (callgrind_annotate) lose what has no line or belongs to a
line inlined several times over; the instructions do not. Each instruction
of FUNC in BIN is printed with its cost per packet ((long - short) / N when
--short is given) and the source line objdump gives for it: where a spill,
a reload or a multiply costs what. callgrind.py --instr writes these
listings into its --profile-dir for the cnmux runs.

The callgrind format (valgrind's docs/cl-format): "positions: instr line",
compressed names "(id) name", relative positions "+N", "-N", "*"; the cost
line after "calls=" is the call's inclusive cost, not the caller's own.
"""

import argparse
import re
import subprocess
import sys
from collections import Counter


def costs(path):
    """{(object, function): Counter({address: Ir})} of a callgrind file."""
    names = {"ob": {}, "fn": {}, "fl": {}}
    out = {}
    ob = fn = None
    addr = 0
    line = 0
    skip = False
    cur = None

    def name(kind, v):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?$", v)
        if not m:
            return v
        if m.group(2) is not None:
            names[kind][m.group(1)] = m.group(2)
        return names[kind].get(m.group(1))

    def pos(tok, prev):
        if tok == "*":
            return prev
        if tok[0] in "+-":
            return prev + int(tok, 0)
        return int(tok, 0)

    with open(path, errors="replace") as f:
        for ln in f:
            ln = ln.rstrip("\n")
            if not ln:
                continue
            c = ln[0]
            if c.isdigit() or c in "+-*":
                t = ln.split()
                addr = pos(t[0], addr)
                if len(t) > 1:
                    line = pos(t[1], line)
                if skip:
                    skip = False
                    continue
                if cur is not None and len(t) > 2:
                    cur[addr] += int(t[2])
                continue
            key, _, v = ln.partition("=")
            if key == "ob":
                ob = name("ob", v)
            elif key == "cob":
                name("ob", v)
            elif key == "fn":
                fn = name("fn", v)
                cur = out.setdefault((ob, fn), Counter())
            elif key == "cfn":
                name("fn", v)
            elif key in ("fl", "fi", "fe", "cfi", "cfl"):
                name("fl", v)
            elif key == "calls":
                skip = True
    return out


def of_binary(cs, binary):
    """The functions of @binary (the object named by its path, or its basename)."""
    base = binary.rsplit("/", 1)[-1]
    return {fn: v for (ob, fn), v in cs.items() if ob is not None and ob.rsplit("/", 1)[-1] == base}


def merged(cs, func):
    """The costs of every part of @func (func, func.cold, ...) in one."""
    out = Counter()
    for k, v in cs.items():
        if k.split(".")[0] == func:
            out.update(v)
    return out


def listing(binary, func, long_c, short_c, packets, min_cost=0.0):
    """Text: the instructions of @func, each with its cost per packet."""
    d = Counter(long_c)
    if short_c:
        d.subtract(short_c)
    dis = subprocess.run(["objdump", "-d", "-l", "--no-show-raw-insn", binary],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    inside = False
    src = None
    total = 0.0
    for ln in dis.splitlines():
        m = re.match(r"^([0-9a-f]+) <(.*)>:$", ln)
        if m:
            inside = m.group(2).split(".")[0] == func
            continue
        if not inside:
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", ln)
        if not m:
            if ln.strip() and not ln.endswith("():"):
                src = ln.strip().split("/../")[-1]
            continue
        v = d.get(int(m.group(1), 16), 0) / packets
        total += v
        if v > min_cost or (min_cost == 0 and v != 0):
            if src is not None:
                rows.append("  # " + src)
                src = None
            rows.append("%8.2f  %s:  %s" % (v, m.group(1), m.group(2)))
    return "%s: %.2f instructions per packet (self cost)\n%s\n" % (func, total, "\n".join(rows))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("long", help="callgrind file (--dump-instr=yes)")
    ap.add_argument("--short", help="the short run's file: its costs are subtracted")
    ap.add_argument("--packets", type=float, required=True, help="packets (long - short)")
    ap.add_argument("--binary", required=True)
    ap.add_argument("--min", type=float, default=0.0, help="leave out instructions under this")
    ap.add_argument("func", nargs="+")
    a = ap.parse_args()
    lc = of_binary(costs(a.long), a.binary)
    sc = of_binary(costs(a.short), a.binary) if a.short else {}
    for f in a.func:
        # LTO's parts of one function (name.cold, name.lto_priv.0): one listing
        got = [k for k in lc if k.split(".")[0] == f]
        if not got:
            print("%s: not in %s" % (f, a.long), file=sys.stderr)
            return 1
        sys.stdout.write(listing(a.binary, f, merged(lc, f), merged(sc, f), a.packets, a.min))
    return 0


if __name__ == "__main__":
    sys.exit(main())
