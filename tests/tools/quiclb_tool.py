#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""cnmux-quiclb against the draft and against a second implementation.

- the draft-21 appendix B vectors (and the 5.4.2 example) come out of
  `cnmux-quiclb generate --nonce` byte for byte, and `decode` names the node;
- for every allowed (server ID, nonce) length pair, plaintext and encrypted,
  CIDs the tool generates decode to their server ID under the oracle below,
  and CIDs the oracle encodes decode to their node under the tool;
- configuration mistakes exit 1 with a message naming the file and the key;
  CIDs that do not route exit 2 with the reason.

The oracle is QUIC-LB written again from the draft's text (section 5.4) in
Python, with AES-128-ECB from the `cryptography` module (Debian's
python3-cryptography): a test oracle only, sharing no code with lib/quiclb.

usage: quiclb_tool.py PATH-TO-cnmux-quiclb
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

DRAFT_KEY = "8f95f09245765f80256934e50c66207f"


# ---------------------------------------------------------------- oracle

def aes(key, block):
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def aes_dec(key, block):
    dec = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    return dec.update(block) + dec.finalize()


def as_int(b):
    return int.from_bytes(b, "big")


def feistel(key, plen, data, decrypt):
    """The four-pass network over plen bytes, on integers of plen*4 bits halves."""
    odd = plen % 2
    half = (plen + 1) // 2
    bits = plen * 8
    # left: the first plen*4 bits, right: the last plen*4 bits (a nibble
    # split when plen is odd), each held in `half` bytes as the draft says:
    # left_0 keeps its bits at the top (last nibble zero), right_0 at the
    # bottom (first nibble zero)
    v = as_int(data)
    hb = bits // 2
    left = (v >> hb) << (4 if odd else 0)
    right = v & ((1 << hb) - 1)

    def rnd(x, pass_no):
        block = x.to_bytes(half, "big") + bytes(14 - half) + bytes([plen, pass_no])
        return as_int(aes(key, block)[:half])

    def fix_left(x):
        return x & ~0xF if odd else x

    def fix_right(x):
        return x & ((1 << (half * 8 - 4)) - 1) if odd else x

    if not decrypt:
        right = fix_right(right ^ rnd(left, 1))
        left = fix_left(left ^ rnd(right, 2))
        right = fix_right(right ^ rnd(left, 3))
        left = fix_left(left ^ rnd(right, 4))
    else:
        left = fix_left(left ^ rnd(right, 4))
        right = fix_right(right ^ rnd(left, 3))
        left = fix_left(left ^ rnd(right, 2))
        right = fix_right(right ^ rnd(left, 1))
    out = ((left >> (4 if odd else 0)) << hb) | right
    return out.to_bytes(plen, "big")


def oracle_encode(cr, sid, nonce, key, cid_len, encode_length, low=0, extra=b""):
    plen = len(sid) + len(nonce)
    first = (cr << 5) | ((cid_len - 1) if encode_length else (low & 0x1F))
    pt = sid + nonce
    if key is None:
        body = pt
    elif plen == 16:
        body = aes(key, pt)
    else:
        body = feistel(key, plen, pt, decrypt=False)
    return bytes([first]) + body + extra


def oracle_decode(cid, sid_len, nonce_len, key):
    plen = sid_len + nonce_len
    ct = cid[1:1 + plen]
    if key is None:
        return ct[:sid_len]
    if plen == 16:
        return aes_dec(key, ct)[:sid_len]
    return feistel(key, plen, ct, decrypt=True)[:sid_len]


# ---------------------------------------------------------------- harness

class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Env:
    def __init__(self, tool, tmp):
        self.tool = tool
        self.tmp = tmp
        self.n = 0

    def key_file(self, hexkey):
        path = os.path.join(self.tmp, "quic-%s.key" % hexkey[:8])
        with open(path, "w") as f:
            f.write(hexkey + "\n")
        os.chmod(path, 0o600)
        return path

    def config(self, quic_lb, nodes, members=None):
        self.n += 1
        path = os.path.join(self.tmp, "quic-%d.json" % self.n)
        doc = {
            "nodes": [dict(name=n, ip="192.0.2.%d" % (10 + i), server_id=s)
                      for i, (n, s) in enumerate(nodes)],
            "services": [
                {"name": "dns", "vip": "198.51.100.10", "ports": ["53/udp"],
                 "policy": "sticky", "nodes": {n: 1 for n, _ in nodes}},
                {"name": "h3", "vip": "198.51.100.10", "ports": ["443/udp"],
                 "policy": "weighted",
                 "nodes": {n: 1 for n, _ in (members or nodes)},
                 "quic_lb": quic_lb},
            ],
        }
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def run(self, *args):
        p = subprocess.run([self.tool] + list(args), capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stdout, p.stderr


def test_vectors(env):
    vectors = [
        # cr, sid, nonce, key, cid (docs/quic.md: how rows B.1/2 and B.2/4 are read)
        (0, "c4605e", "4504cc4f", None, "07c4605e4504cc4f"),
        (1, "350d28b420", "03487d970b", None, "2a350d28b42003487d970b"),
        (0, "ed793a", "ee080dbf", DRAFT_KEY, "0720b1d07b359d3c"),
        (1, "ed793a51d49b8f5fab65", "ee080dbf48", DRAFT_KEY,
         "2fcc381bc74cb4fbad2823a3d1f8fed2"),
        (2, "ed793a51d49b8f5f", "ee080dbf48c0d1e5", DRAFT_KEY,
         "504dd2d05a7b0de9b2b9907afb5ecf8cc3"),
        (0, "ed793a51d49b8f5fab", "ee080dbf48c0d1e55d", DRAFT_KEY,
         "125779c9cc86beb3a3a4a3ca96fce4bfe0cdbc"),
        (0, "31441a", "9c69c275", "fdf726a9893ec05c0632d3956680baf0", "0767947d29be054a"),
    ]
    for cr, sid, nonce, key, cid in vectors:
        block = {"config_id": cr, "server_id_len": len(sid) // 2,
                 "nonce_len": len(nonce) // 2, "encode_length": True,
                 "mode": "encrypted" if key else "plaintext"}
        if key:
            block["key_file"] = env.key_file(key)
        # the oracle agrees with the draft too
        kb = bytes.fromhex(key) if key else None
        check(oracle_encode(cr, bytes.fromhex(sid), bytes.fromhex(nonce), kb,
                            len(cid) // 2, True).hex() == cid, "oracle encodes " + cid)
        check(oracle_decode(bytes.fromhex(cid), len(sid) // 2, len(nonce) // 2,
                            kb).hex() == sid, "oracle decodes " + cid)
        conf = env.config(block, [("node-a", sid), ("node-b", "ff" * (len(sid) // 2))])
        rc, out, err = env.run("generate", "--config", conf, "--service", "h3",
                               "--node", "node-a", "--nonce", nonce)
        check(rc == 0 and out.strip() == cid,
              "generate %s %s -> %r (rc %d, %s)" % (sid, nonce, out, rc, err))
        rc, out, err = env.run("decode", "--config", conf, "--service", "h3", cid)
        check(rc == 0 and out.strip() == "%s config_id %d server_id %s node node-a"
              % (cid, cr, sid), "decode %s -> %r (rc %d, %s)" % (cid, out, rc, err))
    print("ok: %d draft vectors through the tool (and the oracle)" % len(vectors))


def test_all_lengths(env):
    rng = random.Random(0x71756963)
    key_hex = "%032x" % rng.getrandbits(128)
    key = bytes.fromhex(key_hex)
    key_path = env.key_file(key_hex)
    pairs = 0
    for mode in ("plaintext", "encrypted"):
        for sl in range(1, 16):
            for nl in range(4, 20 - sl):
                cid_len = 1 + sl + nl + rng.randrange(0, 20 - sl - nl)
                enc_len = rng.random() < 0.5
                block = {"config_id": rng.randrange(0, 7), "server_id_len": sl,
                         "nonce_len": nl, "mode": mode, "cid_len": cid_len,
                         "encode_length": enc_len}
                if mode == "encrypted":
                    block["key_file"] = key_path
                sids = set()
                while len(sids) < 3:
                    sids.add(bytes(rng.getrandbits(8) for _ in range(sl)).hex())
                sids = sorted(sids)
                nodes = [("n%d" % i, s) for i, s in enumerate(sids)]
                conf = env.config(block, nodes)
                k = key if mode == "encrypted" else None
                # the tool generates; the oracle decodes
                rc, out, err = env.run("generate", "--config", conf, "--service", "h3",
                                       "--node", "n1", "--count", "8")
                check(rc == 0, "generate sl %d nl %d: rc %d %s" % (sl, nl, rc, err))
                cids = out.split()
                check(len(cids) == 8 and len(set(cids)) == 8, "8 distinct CIDs: %r" % cids)
                for c in cids:
                    b = bytes.fromhex(c)
                    check(len(b) == cid_len, "CID length %d, want %d" % (len(b), cid_len))
                    check(b[0] >> 5 == block["config_id"], "codepoint of " + c)
                    if enc_len:
                        check(b[0] & 0x1F == cid_len - 1, "self-encoded length of " + c)
                    check(oracle_decode(b, sl, nl, k).hex() == sids[1],
                          "oracle decodes %s (sl %d nl %d %s) to %s, want %s"
                          % (c, sl, nl, mode, oracle_decode(b, sl, nl, k).hex(), sids[1]))
                # the oracle encodes; the tool decodes
                mine = []
                for i in range(3):
                    nonce = bytes(rng.getrandbits(8) for _ in range(nl))
                    extra = bytes(rng.getrandbits(8) for _ in range(cid_len - 1 - sl - nl))
                    mine.append(oracle_encode(block["config_id"], bytes.fromhex(sids[i]),
                                              nonce, k, cid_len, enc_len,
                                              rng.getrandbits(5), extra).hex())
                rc, out, err = env.run("decode", "--config", conf, "--service", "h3", *mine)
                lines = out.splitlines()
                check(rc == 0 and len(lines) == 3, "decode: rc %d %r %s" % (rc, out, err))
                for i, line in enumerate(lines):
                    check(line.endswith("server_id %s node n%d" % (sids[i], i)),
                          "tool decodes oracle's %s (sl %d nl %d %s): %r"
                          % (mine[i], sl, nl, mode, line))
                pairs += 1
    check(pairs == 240, "every length pair, both modes: %d" % pairs)
    print("ok: tool and oracle agree on all %d (server ID, nonce, mode) cases" % pairs)


def test_errors(env):
    key = env.key_file(DRAFT_KEY)
    good = {"server_id_len": 3, "nonce_len": 4, "mode": "encrypted", "key_file": key}
    nodes = [("node-a", "ed793a"), ("node-b", "0a0b0c")]
    cases = [
        (dict(good, nonce_len=17), nodes,
         "services[1].quic_lb.nonce_len: at most 16 with server_id_len 3"),
        (dict(good, mode="aes"), nodes,
         "services[1].quic_lb.mode: \"plaintext\" or \"encrypted\" (got \"aes\")"),
        (dict(good, key_file=os.path.join(env.tmp, "missing.key")), nodes,
         "services[1].quic_lb.key_file: a key file: cannot open it"),
        (dict(good, colour="blue"), nodes,
         "services[1].quic_lb.colour: one of config_id"),
        (good, [("node-a", "ed79")], "nodes[0].server_id: 3 bytes in hex"),
        (good, [("node-a", "ed793a"), ("node-b", "ed793a")],
         "nodes[1].server_id: a server ID no other node has (node node-a has it)"),
    ]
    for block, nds, want in cases:
        conf = env.config(block, nds)
        rc, out, err = env.run("decode", "--config", conf, "0720b1d07b359d3c")
        check(rc == 1 and conf in err and want in err,
              "config error %r: rc %d, stderr %r" % (want, rc, err))
    # an open key file is refused, as cnmux refuses it
    loose = os.path.join(env.tmp, "quic-loose.key")
    shutil.copy(key, loose)
    os.chmod(loose, 0o644)
    conf = env.config(dict(good, key_file=loose), nodes)
    rc, out, err = env.run("generate", "--config", conf, "--node", "node-a")
    check(rc == 1 and "0600" in err, "loose key file: rc %d %r" % (rc, err))
    # usage mistakes
    conf = env.config(good, nodes)
    for args, want in [
        (["generate", "--config", conf], "--node NAME or --server-id HEX"),
        (["generate", "--config", conf, "--node", "node-c"], "--node node-c"),
        (["generate", "--config", conf, "--server-id", "ed79"], "3 bytes in hex"),
        (["generate", "--config", conf, "--node", "node-a", "--count", "x"], "--count"),
        (["generate", "--config", conf, "--node", "node-a", "--config-id", "7"],
         "--config-id"),
        (["generate", "--config", conf, "--node", "node-a", "--config-id", "3"],
         "no configuration there"),
        (["decode", "--config", conf, "07zz"], "a connection ID in hex"),
        (["decode", "--config", conf, "--service", "dns", "07"], "a service \"dns\""),
        (["frobnicate"], "\"generate\" or \"decode\""),
    ]:
        rc, out, err = env.run(*args)
        check(rc == 1 and want in err, "%r: rc %d %r" % (args, rc, err))
    # CIDs that do not route: exit 2, each line with its reason
    rc, out, err = env.run("decode", "--config", conf, "0720b1d07b359d3c", "2720b1d07b359d3c",
                           "e720b1d07b359d3c", "0720b1d07b359d", "0721b1d07b359d3c")
    lines = out.splitlines()
    check(rc == 2 and len(lines) == 5, "decode mix: rc %d %r" % (rc, out))
    check(lines[0].endswith("server_id ed793a node node-a"), lines[0])
    check("unroutable cr_unknown" in lines[1], lines[1])
    check("unroutable cr_unroutable" in lines[2], lines[2])
    check("unroutable cid_short" in lines[3], lines[3])
    check("unroutable sid_unknown" in lines[4], lines[4])
    # a wrong key: the same CID decodes to nobody
    other = env.key_file("fdf726a9893ec05c0632d3956680baf0")
    conf = env.config(dict(good, key_file=other), nodes)
    rc, out, err = env.run("decode", "--config", conf, "0720b1d07b359d3c")
    check(rc == 2 and "unroutable sid_unknown" in out, "wrong key: rc %d %r" % (rc, out))
    # only the service's members are routed to
    conf = env.config(good, nodes, members=[nodes[1]])
    rc, out, err = env.run("decode", "--config", conf, "--service", "h3", "0720b1d07b359d3c")
    check(rc == 2 and "sid_unknown" in out, "non-member: rc %d %r" % (rc, out))
    print("ok: configuration and usage errors exit 1, unroutable CIDs exit 2")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 1
    tmp = tempfile.mkdtemp(prefix="cnmux-quiclb-tool-")
    try:
        env = Env(sys.argv[1], tmp)
        test_vectors(env)
        test_all_lengths(env)
        test_errors(env)
    except Failure as e:
        print("FAIL:", e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
