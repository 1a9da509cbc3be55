# SPDX-License-Identifier: BSD-3-Clause
"""The checkpoint protocol of lib/ha, version 2 (docs/ha.md), for the tests:
frames, the MAC, the AUTH handshake, as a holder or as an attacker.

Header (64 bytes, little-endian): magic "CNHA", version 2, type, flags (u16),
payload length (u32), epoch (u64), seq (u64), CRC32-C (u32) of the header
with this field zero and of the payload, then a 32-byte tag: HMAC-SHA-256
under the connection's key of the message number (u64), header bytes 0-27
and the payload (zeros on a trusted segment).
"""
import hashlib
import hmac
import json
import os
import socket
import struct
import time

VERSION = 2
HDR = 64
HELLO, SNAPSHOT, DELTA, ACK, HEARTBEAT, CONNS, AUTH = 1, 2, 3, 4, 5, 6, 7
WANT_SNAPSHOT = 1


def crc32c(data, crc=0xffffffff):
    """CRC32-C as DPDK's rte_hash_crc() computes it (no final inversion)."""
    tab = _crc_table()
    for b in data:
        crc = tab[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc


_TAB = []


def _crc_table():
    if not _TAB:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
            _TAB.append(c)
    return _TAB


def frame(t, epoch, seq, payload=b"", flags=0, key=None, ctr=0, version=VERSION,
          length=None):
    """One message; @key None: a zero tag. @length: lie about the length."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    h = b"CNHA" + struct.pack("<BBHIQQ", version, t, flags, n, epoch, seq)
    assert len(h) == 28
    tag = bytes(32)
    if key is not None:
        tag = hmac.new(key, struct.pack("<Q", ctr) + h + payload, hashlib.sha256).digest()
    crc = crc32c(payload, crc32c(h + bytes(4) + tag))
    return h + struct.pack("<I", crc) + tag + payload


def session_key(key, direction, nc, na, id_c, id_a):
    m = (b"cnmux-ha v2 session\0" + direction.encode() + b"\0" + nc + na +
         id_c.encode() + b"\0" + id_a.encode() + b"\0")
    return hmac.new(key, m, hashlib.sha256).digest()


def auth_payload(my_id, to, nonce):
    return json.dumps({"id": my_id, "nonce": nonce.hex(), "to": to},
                      separators=(",", ":"), sort_keys=True).encode()


def read_frame(sock, timeout=2.0):
    """One frame from @sock: (type, flags, epoch, seq, payload, raw) or None."""
    sock.settimeout(timeout)
    buf = b""
    try:
        while len(buf) < HDR:
            d = sock.recv(HDR - len(buf))
            if not d:
                return None
            buf += d
        n = struct.unpack_from("<I", buf, 8)[0]
        while len(buf) < HDR + n:
            d = sock.recv(HDR + n - len(buf))
            if not d:
                return None
            buf += d
    except (socket.timeout, OSError):
        return None
    t, flags = buf[5], struct.unpack_from("<H", buf, 6)[0]
    epoch, seq = struct.unpack_from("<QQ", buf, 12)
    return t, flags, epoch, seq, buf[HDR:], buf


class Conn:
    """A connection to a holder's ha.listen, handshake done as @my_id
    (the holder must be the accepting side: my_id sorts before its id)."""

    def __init__(self, addr, my_id, to, key, src=None, timeout=3.0):
        self.key = key
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if src is not None:
            self.s.bind((src, 0))
        self.s.settimeout(timeout)
        self.s.connect(addr)
        self.my_id, self.to = my_id, to
        self.nc = os.urandom(32)
        self.ntx = self.nrx = 0
        self.ktx = self.krx = None

    def send_auth(self, payload=None, key="shared"):
        p = payload if payload is not None else auth_payload(self.my_id, self.to, self.nc)
        k = self.key if key == "shared" else key
        self.s.sendall(frame(AUTH, 0, 0, p, key=k, ctr=0))

    def handshake(self):
        """AUTH both ways; True when the holder answered with its AUTH."""
        self.send_auth()
        f = read_frame(self.s)
        if f is None or f[0] != AUTH:
            return False
        na = bytes.fromhex(json.loads(f[4])["nonce"])
        if self.key is not None:
            self.ktx = session_key(self.key, "c2a", self.nc, na, self.my_id, self.to)
            self.krx = session_key(self.key, "a2c", self.nc, na, self.my_id, self.to)
        return True

    def send(self, t, epoch, seq, payload=b"", flags=0, ctr=None, length=None):
        c = self.ntx if ctr is None else ctr
        self.s.sendall(frame(t, epoch, seq, payload, flags, key=self.ktx, ctr=c,
                             length=length))
        self.ntx += 1

    def recv(self, timeout=2.0):
        return read_frame(self.s, timeout)

    def alive(self, wait=0.3):
        """False when the holder closed the connection (within @wait s)."""
        end = time.time() + wait
        try:
            while time.time() < end:
                self.s.settimeout(max(0.01, end - time.time()))
                try:
                    if self.s.recv(1 << 20) == b"":
                        return False
                except socket.timeout:
                    return True
        except OSError:
            return False
        return True

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def hello_payload(my_id, role, term, digest, primary=None, secondary=None,
                  configured="secondary"):
    return json.dumps({"id": my_id, "role": role, "configured": configured, "term": term,
                       "digest": digest, "primary": primary, "secondary": secondary}).encode()
