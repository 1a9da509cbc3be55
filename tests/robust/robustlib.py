# SPDX-License-Identifier: BSD-3-Clause
"""Shared helpers of the exhaustion and overload tests (tests/robust/).

Written independently of cnmux's sources:

- Ctl: the control socket (one JSON request per line, docs/control.md);
- Telemetry: DPDK's telemetry socket (/ethdev/stats,N shows rx_nombuf live);
- eth_ipv4_tcp / eth_ipv4_udp: frames built with struct (no scapy: tens of
  thousands of frames are built in well under a second), checksums included;
- Injector: a raw AF_PACKET socket on one end of a veth pair; frames are
  written in batches and, after each batch, the injector waits (polling the
  control socket, generous deadline) until cnmux counts them as received;
- client_hash / quotas: the client hash (CRC32-C, reflected, no inversions,
  seeded with hash_key, then MurmurHash3 fmix32) and the PDT index, as
  docs/architecture.md describes them;
- read_pcap / AF_PACKET capture helpers.
"""
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pcapio  # noqa: E402

# the robust tests' pcap helpers
read_pcap, write_pcap = pcapio.read_pcap, pcapio.write_pcap

DEADLINE_S = 120


class TestFailure(Exception):
    pass


# ---------------------------------------------------------------- control
class Ctl:
    """A persistent connection to cnmux's control socket."""

    def __init__(self, path, deadline=DEADLINE_S):
        end = time.monotonic() + deadline
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.settimeout(60)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)
        self.buf = b""

    def req(self, cmd, **args):
        d = {"cmd": cmd}
        d.update(args)
        self.s.sendall(json.dumps(d).encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise TestFailure("control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        r = json.loads(line)
        if not r.get("ok"):
            raise TestFailure("%s: %s" % (cmd, r.get("error")))
        return r

    def stats(self):
        return self.req("stats")

    def conns_count(self):
        return self.req("conns count")["count"]

    def close(self):
        self.s.close()


class Telemetry:
    """DPDK telemetry (v2 socket of the given --file-prefix)."""

    def __init__(self, prefix):
        path = None
        for base in ("/var/run/dpdk", os.environ.get("XDG_RUNTIME_DIR", "/tmp") + "/dpdk"):
            p = os.path.join(base, prefix, "dpdk_telemetry.v2")
            if os.path.exists(p):
                path = p
                break
        if path is None:
            raise TestFailure("no telemetry socket for prefix %s" % prefix)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.s.settimeout(30)
        self.s.connect(path)
        info = json.loads(self.s.recv(16384))
        self.max_len = info.get("max_output_len", 16384)

    def cmd(self, c):
        self.s.send(c.encode())
        return json.loads(self.s.recv(self.max_len))

    def ethdev_stats(self, port):
        return self.cmd("/ethdev/stats,%d" % port)["/ethdev/stats"]

    def close(self):
        self.s.close()


# ---------------------------------------------------------------- frames
def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def _ipv4(src, dst, proto, l4, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident & 0xffff, 0, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr


def _l4sum(src, dst, proto, l4):
    ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, len(l4))
    return csum(ph + l4)


TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def eth_ipv4_tcp(smac, dmac, src, dst, sport, dport, flags, seq=0, ack=0, payload=b"",
                 ident=0):
    l4 = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                     5 << 4, flags, 64240, 0, 0) + payload
    l4 = l4[:16] + struct.pack("!H", _l4sum(src, dst, 6, l4)) + l4[18:]
    return mac_bytes(dmac) + mac_bytes(smac) + b"\x08\x00" + _ipv4(src, dst, 6, l4, ident) + l4


def eth_ipv4_udp(smac, dmac, src, dst, sport, dport, payload=b"", ident=0):
    l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    l4 = l4[:6] + struct.pack("!H", _l4sum(src, dst, 17, l4) or 0xffff) + l4[8:]
    return mac_bytes(dmac) + mac_bytes(smac) + b"\x08\x00" + _ipv4(src, dst, 17, l4, ident) + l4


def parse_ipv4_l4(fr):
    """(dst mac, src mac, src ip, dst ip, proto, sport, dport, payload) of an
    untagged IPv4 TCP/UDP frame, or None."""
    if len(fr) < 34 or fr[12:14] != b"\x08\x00":
        return None
    ihl = (fr[14] & 15) * 4
    tot = struct.unpack("!H", fr[16:18])[0]
    proto = fr[23]
    src = socket.inet_ntoa(fr[26:30])
    dst = socket.inet_ntoa(fr[30:34])
    l4 = fr[14 + ihl:14 + tot]
    if proto == 6 and len(l4) >= 20:
        sport, dport = struct.unpack("!HH", l4[:4])
        pay = l4[(l4[12] >> 4) * 4:]
    elif proto == 17 and len(l4) >= 8:
        sport, dport = struct.unpack("!HH", l4[:4])
        pay = l4[8:]
    else:
        return None
    return mac_str(fr[0:6]), mac_str(fr[6:12]), src, dst, proto, sport, dport, pay


# ---------------------------------------------------------------- injection
class Injector:
    """Writes frames on IFACE; after each batch waits until cnmux's rx
    counter has grown by what was written."""

    def __init__(self, iface, ctl, batch=200, deadline=DEADLINE_S):
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.s.bind((iface, 0))
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self.ctl = ctl
        self.batch = batch
        self.deadline = deadline

    def send_raw(self, frames):
        for fr in frames:
            while True:
                try:
                    self.s.send(fr)
                    break
                except BlockingIOError:
                    time.sleep(0.001)
                except OSError as e:
                    if e.errno == 105:  # ENOBUFS: the qdisc is full, try again
                        time.sleep(0.001)
                        continue
                    raise

    def wait_rx(self, want):
        end = time.monotonic() + self.deadline
        delay = 0.002
        while True:
            st = self.ctl.stats()
            # rx is counted when a burst is received, the verdicts when it
            # has been sent: settled once they add up again
            if st["rx"] >= want and settled(st):
                return st
            if time.monotonic() > end:
                raise TestFailure("rx stuck at %d, expected %d after %d s"
                                  % (st["rx"], want, self.deadline))
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def send(self, frames, batch=None):
        """Write every frame, waiting for rx to catch up after each batch.
        Returns the stats after the last batch."""
        batch = batch or self.batch
        base = self.ctl.stats()["rx"]
        sent = 0
        st = None
        for i in range(0, len(frames), batch):
            chunk = frames[i:i + batch]
            self.send_raw(chunk)
            sent += len(chunk)
            st = self.wait_rx(base + sent)
        if st is None:
            st = self.ctl.stats()
        if st["rx"] != base + sent:
            raise TestFailure("rx grew by %d, %d frames written" % (st["rx"] - base, sent))
        return st

    def close(self):
        self.s.close()


def settled(st):
    return st["rx"] == st["forwarded"] + st["local"] + st["dropped"]


def wait_quiet(ctl, key="rx", still_s=0.5, deadline=DEADLINE_S):
    """Poll stats until KEY has not changed for STILL_S seconds."""
    end = time.monotonic() + deadline
    last = ctl.stats()
    t_last = time.monotonic()
    while True:
        time.sleep(0.05)
        st = ctl.stats()
        if st[key] != last[key] or not settled(st):
            last, t_last = st, time.monotonic()
        elif time.monotonic() - t_last >= still_s:
            return st
        if time.monotonic() > end:
            raise TestFailure("%s never settled (last %d)" % (key, st[key]))


def poll(fn, deadline=DEADLINE_S, what="condition"):
    end = time.monotonic() + deadline
    delay = 0.01
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise TestFailure("timed out after %d s waiting for %s" % (deadline, what))
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


# ---------------------------------------------------------------- hash
# one independent model of cnmux's client hash for every test:
# tests/runtime/persist_check.py
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "runtime"))
from persist_check import crc32c_update, fmix32  # noqa: E402


def client_hash(key, src, sport):
    """Weighted policy, IPv4: hash of the source address and port as on the wire."""
    return fmix32(crc32c_update(crc32c_update(key, socket.inet_aton(src)),
                                struct.pack("!H", sport)))


def pdt_index(key, src, sport, size):
    return client_hash(key, src, sport) & (size - 1)


# ---------------------------------------------------------------- misc
def proc_cpu_s(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Checker:
    def __init__(self, name):
        self.name = name
        self.fails = 0

    def __call__(self, cond, msg):
        print(("ok   " if cond else "FAIL ") + msg, flush=True)
        if not cond:
            self.fails += 1
        return cond
