#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The budget of a configuration (issue 17, docs/config.md "Budget" and
"Memory"), through the real binary.

    budget_test.py CNMUX CNMUXCTL

1. `cnmux [EAL] -- --check-config FILE`, one refusal each: status 1, and an
   error naming the file, the key and what was expected (with what the
   configuration takes, for the memory):
     - the memory over what the EAL was given (-m), no memory.limit_mb;
     - the memory over memory.limit_mb;
     - memory.limit_mb above -m, but the EAL's share over -m;
     - more (VIP, protocol, port) keys than the first table holds;
     - more sticky-wild (VIP, protocol) keys than the second table holds;
     - PDTs over 2^24 entries in all; (service, node) pairs over 61440;
   and a configuration within every budget: status 0 and the memory line.
2. Start-up: cnmux refuses a configuration over -m before it allocates any
   of it (no mbuf pool, no tables: the error comes first, status 1).
3. Reload: a running cnmux refuses a reload that would go over -m, says why,
   and keeps its tables (services as before) and runs on.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

EAL = ["--no-huge", "--no-pci", "-l", "0,1", "--log-level=error"]
FILE = "cfg.json"


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def base(services=None, **extra):
    cfg = {
        "ports": {"public": "net_null0", "private": ["net_null1"]},
        "nodes": [{"name": "n1", "ip": "192.0.2.1", "mac": "02:00:c0:00:02:01"},
                  {"name": "n2", "ip": "192.0.2.2", "mac": "02:00:c0:00:02:02"}],
        "services": services if services is not None else [
            {"name": "web", "vip": "198.51.100.10", "ports": ["80/tcp"], "policy": "weighted",
             "nodes": {"n1": 1, "n2": 1}}],
    }
    cfg.update(extra)
    return cfg


def ports_services(n, per):
    return [{"name": "p%d" % i, "vip": "10.1.0.%d" % i, "policy": "weighted", "pdt_size": 16,
             "nodes": {"n1": 1}, "ports": ["%d/tcp" % (j + 1) for j in range(per)]}
            for i in range(n)]


def wild_services(n):
    return [{"name": "w%d" % i, "vip": "10.2.%d.%d" % (i >> 8, i & 255), "policy": "sticky-wild",
             "protocols": ["tcp", "udp"], "pdt_size": 16, "nodes": {"n1": 1}} for i in range(n)]


def check_config(cnmux, tmp, mem, cfg, want, status=1):
    path = os.path.join(tmp, FILE)
    json.dump(cfg, open(path, "w"))
    p = subprocess.run([cnmux] + EAL + ["-m", str(mem), "--", "--check-config", path],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == status, "%s: status %d, expected %d\n%s%s"
          % (want, p.returncode, status, p.stdout, p.stderr))
    out = p.stderr if status else p.stdout
    for w in want:
        check(w in out, "expected %r in:\n%s" % (w, out))
    return (p.stderr if status else p.stdout).strip().splitlines()[-1]


def refusals(cnmux, tmp):
    path = os.path.join(tmp, FILE)
    lines = []
    # over -m: a million forwarding-list entries do not fit in 64 MiB
    lines.append(check_config(cnmux, tmp, 64, base(conntrack={"max": 1000000}), [
        path + ": (memory): a configuration that takes at most 64.0 MiB, the memory the EAL was "
        "given (-m 64; or a \"memory\": {\"limit_mb\": N} of its own) (got about ",
        "forwarding lists ", "(1 worker(s) x 1000000 IPv4 + 1000000 IPv6 entries)", "mbufs "]))
    # over memory.limit_mb
    lines.append(check_config(cnmux, tmp, 512, base(memory={"limit_mb": 32}), [
        path + ": memory.limit_mb: a configuration that takes at most 32 MiB (got about ",
        "PDTs ", "tables "]))
    # a limit above -m: the EAL's share must still fit in -m
    lines.append(check_config(cnmux, tmp, 128,
                              base(conntrack={"max": 2000000}, memory={"limit_mb": 4096}), [
        path + ": (memory): a configuration whose DPDK allocations fit in the 128.0 MiB the EAL "
        "was given (-m 128) (got about ", "of EAL memory"]))
    # the first table: 65536 (VIP, protocol, port) keys
    lines.append(check_config(cnmux, tmp, 512, base(ports_services(3, 32768)), [
        path + ": services[2]: weighted and sticky services with at most 65536 ports in all "
        "(the first table holds 65536 (VIP, protocol, port) keys) (got 98304 keys up to this "
        "service)"]))
    # the second table: 16384 (VIP, protocol) keys
    lines.append(check_config(cnmux, tmp, 512, base(wild_services(8193)), [
        path + ": services[8192]: sticky-wild services with at most 16384 (VIP, protocol) keys "
        "in all (the second table holds 16384) (got 16386 keys up to this service)"]))
    # PDTs: 2^24 entries in all
    big = [{"name": "b%d" % i, "vip": "10.3.0.%d" % i, "policy": "weighted", "ports": ["80/tcp"],
            "pdt_size": 1 << 20, "nodes": {"n1": 1}} for i in range(17)]
    lines.append(check_config(cnmux, tmp, 512, base(big), [
        path + ": services[16]: services whose PDTs hold at most 16777216 entries in all "
        "(pdt_size summed) (got over the budget)"]))
    # (service, node) pairs: 61440
    nodes = [{"name": "n%d" % i, "ip": "10.9.%d.%d" % (i >> 8, i & 255)} for i in range(4096)]
    pairs = [{"name": "s%d" % i, "vip": "10.4.0.%d" % i, "policy": "weighted", "ports": ["80/tcp"],
              "pdt_size": 16, "nodes": {n["name"]: 1 for n in nodes}} for i in range(16)]
    cfg = base(pairs)
    cfg["nodes"] = nodes
    lines.append(check_config(cnmux, tmp, 512, cfg, [
        path + ": services[15]: services with at most 61440 nodes in their lists in all "
        "(got over the budget)"]))
    # within every budget: ok, and what it takes
    lines.append(check_config(cnmux, tmp, 512, base(), [
        path + ": ok: 1 service(s)", "cnmux: memory: about ", "limit 512.0 MiB (-m 512)"],
        status=0))
    return lines


def startup(cnmux, tmp):
    """over -m at start-up: refused before the mbuf pool or the tables"""
    path = os.path.join(tmp, FILE)
    json.dump(base(conntrack={"max": 2000000}), open(path, "w"))
    prefix = "cnmux-budget-%d" % os.getpid()
    t0 = time.time()
    p = subprocess.run([cnmux] + EAL + ["-m", "128", "--file-prefix", prefix,
                                        "--vdev", "net_null0", "--vdev", "net_null1", "--",
                                        "--config", path, "--idle-exit", "100"],
                       capture_output=True, text=True, timeout=60)
    shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)
    check(p.returncode == 1, "start-up over -m: status %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
    check(path + ": (memory): a configuration whose DPDK allocations fit in the 128.0 MiB" in
          p.stderr or path + ": (memory): a configuration that takes at most 128.0 MiB" in p.stderr,
          "start-up over -m: the error:\n" + p.stderr)
    check("mbuf pool" not in p.stderr and "building the service tables" not in p.stderr,
          "start-up over -m: something was allocated first:\n" + p.stderr)
    return "%s (%.1f s)" % (p.stderr.strip().splitlines()[-1], time.time() - t0)


def ctl(cnmuxctl, sock, *args):
    p = subprocess.run([cnmuxctl, "-s", sock, "-j"] + list(args), capture_output=True, text=True,
                       timeout=30)
    return p.returncode, p.stdout, p.stderr


def reload(cnmux, cnmuxctl, tmp):
    """a reload over -m is refused, the tables stay"""
    path = os.path.join(tmp, "live.json")
    sock = os.path.join(tmp, "ctl.sock")
    prefix = "cnmux-budget-r-%d" % os.getpid()
    json.dump(base(control={"socket": sock}), open(path, "w"))
    proc = subprocess.Popen([cnmux] + EAL + ["-m", "192", "--file-prefix", prefix,
                                             "--vdev", "net_null0", "--vdev", "net_null1", "--",
                                             "--config", path],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        end = time.time() + 60
        while ctl(cnmuxctl, sock, "stats")[0] != 0:
            check(proc.poll() is None and time.time() < end,
                  "cnmux did not start: %s" % (proc.stdout.read() if proc.poll() is not None else ""))
            time.sleep(0.2)
        # 16 services of 2^20 entries: 96 MiB of PDTs more (three copies)
        big = [{"name": "b%d" % i, "vip": "10.3.0.%d" % i, "policy": "weighted",
                "ports": ["80/tcp"], "pdt_size": 1 << 20, "nodes": {"n1": 1}} for i in range(16)]
        json.dump(base(big, control={"socket": sock}), open(path, "w"))
        rc, out, err = ctl(cnmuxctl, sock, "reload")
        text = out + err
        check(rc != 0, "reload over -m: accepted: %s" % text)
        check(path + ": (memory): a configuration that takes at most 192.0 MiB" in text and
              "PDTs 96." in text, "reload over -m: the error: %s" % text)
        rc, out, _ = ctl(cnmuxctl, sock, "stats")
        check(rc == 0 and set(json.loads(out)["services"]) == {"web"},
              "after the refused reload: services %s" % out)
        check(proc.poll() is None, "cnmux stopped after the refused reload")
        # the same file within the budget again: accepted (one big service:
        # with two the estimate was within 0.1 MiB of -m, and any table
        # that grew, such as the tunnels' per-node templates of issue 15
        # (0.3 MiB for two copies of the tables), went over)
        json.dump(base(big[:1], control={"socket": sock}), open(path, "w"))
        rc, out, err = ctl(cnmuxctl, sock, "reload")
        check(rc == 0, "a reload within the budget: %s%s" % (out, err))
        rc, out, _ = ctl(cnmuxctl, sock, "stats")
        check(set(json.loads(out)["services"]) == {"b0"}, "after the reload: %s" % out)
        line = [ln for ln in text.splitlines() if "(memory)" in ln]
        return line[0].strip() if line else text.strip()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip())
        return 2
    cnmux, cnmuxctl = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    tmp = tempfile.mkdtemp(prefix="cnmux-budget.")
    try:
        lines = refusals(cnmux, tmp)
        lines.append(startup(cnmux, tmp))
        lines.append(reload(cnmux, cnmuxctl, tmp))
        print("budget test: %d check-config cases, start-up and reload refusals:" % (len(lines) - 2))
        for ln in lines:
            print("  " + ln.replace(tmp + "/", ""))
        return 0
    except (Fail, OSError, ValueError, subprocess.TimeoutExpired) as e:
        print("budget test FAILED: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
