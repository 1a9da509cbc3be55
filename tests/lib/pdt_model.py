# SPDX-License-Identifier: BSD-3-Clause
"""The PDT construction of docs/pdt.md, written from the document in Python
and sharing no code with cnmux (lib/pdt/pdt.c): the checkers of the fixture
table and of the run-time tests compute the exact table with it.

    pdt_key(service, node)        the member's 64-bit key
    pdt_quotas(size, members)     {node: entries}
    pdt_build(size, members)      [node or None] * size

members: {node: (key, weight)}, node any hashable label (a name, an id).
"""
import heapq
from fractions import Fraction

M64 = (1 << 64) - 1


def mix64(x):
    """splitmix64's finalizer."""
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & M64
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & M64
    x ^= x >> 31
    return x


def pdt_key(svc, node):
    """FNV-1a 64 over the service name, a zero byte and the node name; mixed."""
    h = 0xcbf29ce484222325
    for b in svc.encode() + b'\0' + node.encode():
        h = ((h ^ b) * 0x100000001b3) & M64
    return mix64(h)


def pdt_quotas(size, members):
    """Largest remainder; the leftover entries to the largest remainders, ties
    to the lower key."""
    total = sum(w for _, w in members.values())
    if total == 0:
        return {n: 0 for n in members}
    quota = {n: size * w // total for n, (_, w) in members.items()}
    need = size - sum(quota.values())
    rem = sorted((-(size * w - quota[n] * total), k, n) for n, (k, w) in members.items()
                 if size * w - quota[n] * total > 0)
    for _, _, n in rem[:need]:
        quota[n] += 1
    return quota


def pdt_build(size, members):
    """Every member with a quota throws darts in time order, (j * 2^32 + phase)
    / weight, ties to the lower key; the j-th goes to entry perm(j) of its
    keyed permutation of the entries and takes it when free."""
    quota = pdt_quotas(size, members)
    bits = size.bit_length() - 1
    mask, shift = size - 1, bits // 2 + 1
    heap, st = [], {}
    for n, (k, w) in members.items():
        if quota[n] == 0:
            continue
        r1, r2 = mix64(k ^ 0x5043db0c1d2e3f40), mix64(k ^ 0x9e3779b97f4a7c15)
        st[n] = dict(w=w, phase=r1 >> 32, a0=r1 & 0xffffffff, a1=r2 >> 32,
                     a2=r2 & 0xffffffff, m0=((r1 >> 16) & 0xffffffff) | 1,
                     m1=((r2 >> 16) & 0xffffffff) | 1, j=0, left=quota[n])
        heap.append((Fraction(st[n]['phase'], w), k, n))
    heapq.heapify(heap)
    out = [None] * size
    while heap:
        _, k, n = heapq.heappop(heap)
        d = st[n]
        x = d['j']
        x = ((x ^ d['a0']) * d['m0']) & mask
        x ^= x >> shift
        x = ((x + d['a1']) * d['m1']) & mask
        x ^= x >> shift
        x = ((x ^ d['a2']) * d['m0']) & mask
        x ^= x >> shift
        d['j'] += 1
        if out[x] is None:
            out[x] = n
            d['left'] -= 1
            if d['left'] == 0:
                continue
        heapq.heappush(heap, (Fraction((d['j'] << 32) | d['phase'], d['w']), k, n))
    return out
