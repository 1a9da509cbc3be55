/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet distribution table: quotas, layout and minimal-move updates.
 * See docs/pdt.md for the algorithm and its guarantees.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cnm_pdt.h"

/* Workers read the table: it starts on a cache line. */
#define PDT_ALIGN 64u
/* Words of a bitmap over all node ids. */
#define PDT_ID_WORDS ((CNM_NODE_NONE + 63u) / 64u)

/* Scratch state of one build or update; never seen by the workers. */
struct pdt_work {
	const struct cnm_pdt_member *m;
	uint32_t n;
	uint64_t present[PDT_ID_WORDS]; /**< bit per node id that is a member */
	uint16_t *idx;      /**< node id -> member index, valid where present */
	uint32_t *quota;    /**< per member: entries it holds in the new table */
	uint32_t *want;     /**< per member: entries to place in the free slots */
	uint32_t *bucket;   /**< per slot: counting-sort bucket */
	uint32_t *count;    /**< update, per member: entries in the old table */
	uint32_t *surplus;  /**< update, per member: entries over quota to free */
	uint32_t *acc;      /**< update, per member: Bresenham accumulator */
	uint32_t *slot;     /**< update: indexes of the freed entries */
};

static inline int
pdt_is_member(const struct pdt_work *w, uint32_t node)
{
	return node < CNM_NODE_NONE &&
		(w->present[node / 64] >> (node % 64) & 1) != 0;
}

static void
pdt_work_free(struct pdt_work *w)
{
	free(w->idx);
	free(w->quota);
	free(w->count);
	free(w->acc);
	free(w->surplus);
	free(w->want);
	free(w->bucket);
	free(w->slot);
}

/*
 * Check the arguments, index the members by node id and allocate the scratch
 * arrays. Returns 0 or -errno; on error nothing is left allocated.
 */
static int
pdt_work_init(struct pdt_work *w, uint32_t size, const struct cnm_pdt_member *m,
		uint32_t n, int update)
{
	uint32_t i;

	memset(w, 0, sizeof(*w));
	w->m = m;
	w->n = n;
	if (size == 0 || (size & (size - 1)) != 0)
		return -EINVAL;
	/* n > CNM_NODE_NONE: more members than node ids, some id repeats. */
	if ((n > 0 && m == NULL) || n > CNM_NODE_NONE)
		return -EINVAL;

	w->idx = malloc(CNM_NODE_NONE * sizeof(*w->idx));
	w->quota = malloc((n ? n : 1) * sizeof(*w->quota));
	w->want = malloc((n ? n : 1) * sizeof(*w->want));
	w->bucket = malloc((size_t)size * sizeof(*w->bucket));
	if (update) {
		w->count = calloc(n ? n : 1, sizeof(*w->count));
		w->acc = malloc((n ? n : 1) * sizeof(*w->acc));
		w->surplus = malloc((n ? n : 1) * sizeof(*w->surplus));
		w->slot = malloc((size_t)size * sizeof(*w->slot));
	}
	if (w->idx == NULL || w->quota == NULL || w->want == NULL ||
			w->bucket == NULL ||
			(update && (w->count == NULL || w->acc == NULL ||
				    w->surplus == NULL ||
				    w->slot == NULL))) {
		pdt_work_free(w);
		return -ENOMEM;
	}

	for (i = 0; i < n; i++) {
		uint16_t node = m[i].node;

		if (node >= CNM_NODE_NONE || pdt_is_member(w, node)) {
			pdt_work_free(w);
			return -EINVAL;
		}
		w->present[node / 64] |= UINT64_C(1) << (node % 64);
		w->idx[node] = (uint16_t)i;
	}
	return 0;
}

static struct cnm_pdt *
pdt_alloc(uint32_t size)
{
	struct cnm_pdt *p;
	void *mem;
	int ret;

	ret = posix_memalign(&mem, PDT_ALIGN,
			sizeof(*p) + (size_t)size * sizeof(p->entries[0]));
	if (ret != 0) {
		errno = ret;
		return NULL;
	}
	p = mem;
	p->size = size;
	p->mask = size - 1;
	p->n_active = 0;
	p->pad = 0;
	return p;
}

/* Byte @p b of x counted from the least significant one; 0 past the top. */
static inline uint32_t
pdt_byte(uint64_t x, uint32_t b)
{
	return b < 8 ? (uint32_t)(x >> (8 * b)) & 0xff : 0;
}

/* x without its low @p b bytes (0 for b >= 8: no shift by 64). */
static inline uint64_t
pdt_high(uint64_t x, uint32_t b)
{
	return b < 8 ? x >> (8 * b) : 0;
}

void
cnm_pdt_quotas(uint32_t size, const struct cnm_pdt_member *m, uint32_t n,
		uint32_t *quota)
{
	uint64_t total = 0, assigned = 0, rthr = 0;
	uint32_t hist[256];
	uint32_t i, b, bi, lev, rbytes, need, nthr = 0;

	for (i = 0; i < n; i++)
		total += m[i].weight; /* n * (2^32 - 1) < 2^64 */
	if (total == 0) {
		for (i = 0; i < n; i++)
			quota[i] = 0;
		return;
	}
	/* size <= 2^31, weight < 2^32: the product fits in 63 bits. */
	for (i = 0; i < n; i++) {
		quota[i] = (uint32_t)((uint64_t)size * m[i].weight / total);
		assigned += quota[i];
	}
	need = (uint32_t)(size - assigned);
	if (need == 0)
		return;

	/*
	 * The @need extra entries go to the members with the largest
	 * remainders r = size * w - quota * total (all over the same total,
	 * so comparing r is exact), ties to the lower node id, then (duplicate
	 * ids) the lower index. need is below the number of members with
	 * r > 0, so members with r == 0 never get one. The need-th largest
	 * key (r, 0xffff - node) is found byte by byte (radix select) without
	 * any allocation: at most 8 + 2 passes over the members.
	 */
	for (rbytes = 0; rbytes < 8 && pdt_high(total - 1, rbytes) != 0; rbytes++)
		;
	for (lev = 0; lev < rbytes + 2; lev++) {
		/* Byte of the key this level looks at, counted from the low end. */
		bi = lev < rbytes ? rbytes - 1 - lev : rbytes + 1 - lev;
		memset(hist, 0, sizeof(hist));
		for (i = 0; i < n; i++) {
			uint64_t r = (uint64_t)size * m[i].weight -
				(uint64_t)quota[i] * total;
			uint32_t nk = CNM_NODE_NONE - m[i].node;

			if (r == 0)
				continue;
			if (lev < rbytes) {
				if (pdt_high(r, bi + 1) != pdt_high(rthr, bi + 1))
					continue;
				hist[pdt_byte(r, bi)]++;
			} else {
				if (r != rthr || nk >> (8 * (bi + 1)) != nthr >> (8 * (bi + 1)))
					continue;
				hist[nk >> (8 * bi) & 0xff]++;
			}
		}
		for (b = 255; hist[b] < need; b--)
			need -= hist[b];
		if (lev < rbytes)
			rthr |= (uint64_t)b << (8 * bi);
		else
			nthr |= b << (8 * bi);
	}
	/* Above the threshold key: one more. At the key: the first @need. */
	for (i = 0; i < n; i++) {
		uint64_t r = (uint64_t)size * m[i].weight -
			(uint64_t)quota[i] * total;
		uint32_t nk = CNM_NODE_NONE - m[i].node;

		if (r == 0)
			continue;
		if (r > rthr || (r == rthr && nk > nthr)) {
			quota[i]++;
		} else if (r == rthr && nk == nthr && need > 0) {
			quota[i]++;
			need--;
		}
	}
}

/*
 * Lay out sum(want) == total entries over the slots 0 .. total-1 (mapped
 * through @slot when not NULL). Copy k (0-based) of a member that wants c
 * entries has the ideal position (k + 1/2) * total / c; the copies are
 * sorted by floor of that position, ties by node id, and the i-th copy goes
 * to slot i. A counting sort does it in O(total + n), plus a scan of the
 * 1024-word node id bitmap.
 */
static void
pdt_spread(const struct pdt_work *w, uint16_t *entries, const uint32_t *slot,
		uint32_t total)
{
	uint32_t *bucket = w->bucket;
	uint32_t pass, word, sum, k, t;

	memset(bucket, 0, (size_t)total * sizeof(*bucket));
	/* Pass 0 counts the copies per position, pass 1 places them. */
	for (pass = 0; pass < 2; pass++) {
		/* Members in node id order: stable ties. */
		for (word = 0; word < PDT_ID_WORDS; word++) {
			uint64_t bits = w->present[word];

			while (bits != 0) {
				uint32_t node = word * 64 + (uint32_t)__builtin_ctzll(bits);
				uint32_t c = w->want[w->idx[node]];
				uint64_t den = 2 * (uint64_t)c;
				uint64_t step = 2 * (uint64_t)total;
				uint64_t s, r, sq, sr;

				bits &= bits - 1;
				if (c == 0)
					continue;
				/* s = floor((2k + 1) * total / (2c)), no division per copy. */
				s = total / den;
				r = total % den;
				sq = step / den;
				sr = step % den;
				for (k = 0; k < c; k++) {
					if (pass == 0) {
						bucket[s]++;
					} else {
						t = bucket[s]++;
						entries[slot != NULL ? slot[t] : t] = (uint16_t)node;
					}
					s += sq;
					r += sr;
					if (r >= den) {
						r -= den;
						s++;
					}
				}
			}
		}
		if (pass == 0) {
			/* Counts to first output index of each position. */
			for (sum = 0, t = 0; t < total; t++) {
				k = bucket[t];
				bucket[t] = sum;
				sum += k;
			}
		}
	}
}

/* Quotas for the new members, and the number of nodes holding entries. */
static uint32_t
pdt_work_quotas(struct pdt_work *w, uint32_t size)
{
	uint32_t i, active = 0;

	cnm_pdt_quotas(size, w->m, w->n, w->quota);
	for (i = 0; i < w->n; i++)
		active += w->quota[i] > 0;
	return active;
}

static struct cnm_pdt *
pdt_build(struct pdt_work *w, uint32_t size)
{
	struct cnm_pdt *p;
	uint32_t i;

	p = pdt_alloc(size);
	if (p == NULL)
		return NULL;
	p->n_active = pdt_work_quotas(w, size);
	if (p->n_active == 0) {
		for (i = 0; i < size; i++)
			p->entries[i] = CNM_NODE_NONE;
		return p;
	}
	memcpy(w->want, w->quota, (size_t)w->n * sizeof(*w->want));
	pdt_spread(w, p->entries, NULL, size);
	return p;
}

struct cnm_pdt *
cnm_pdt_build(uint32_t size, const struct cnm_pdt_member *m, uint32_t n)
{
	struct pdt_work w;
	struct cnm_pdt *p;
	int ret;

	ret = pdt_work_init(&w, size, m, n, 0);
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	p = pdt_build(&w, size);
	pdt_work_free(&w);
	return p;
}

struct cnm_pdt *
cnm_pdt_update(const struct cnm_pdt *old, uint32_t size,
		const struct cnm_pdt_member *m, uint32_t n)
{
	struct pdt_work w;
	struct cnm_pdt *p;
	uint32_t i, word, nfree = 0, k = 0;
	int ret;

	if (old == NULL || old->size != size)
		return cnm_pdt_build(size, m, n);
	ret = pdt_work_init(&w, size, m, n, 1);
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	p = pdt_alloc(size);
	if (p == NULL)
		goto out;
	p->n_active = pdt_work_quotas(&w, size);
	if (p->n_active == 0) {
		for (i = 0; i < size; i++)
			p->entries[i] = CNM_NODE_NONE;
		goto out;
	}
	memcpy(p->entries, old->entries, (size_t)size * sizeof(p->entries[0]));

	/* Pass 1: how many entries each member holds now. */
	for (i = 0; i < size; i++) {
		uint16_t node = p->entries[i];

		if (pdt_is_member(&w, node))
			w.count[w.idx[node]]++;
	}
	/*
	 * A member holding c entries over its quota q frees f = c - q of them,
	 * spread evenly over its entries (Bresenham: acc += f per entry, free
	 * the entry when acc reaches c). Each member starts its accumulator at
	 * its own phase, frac(k * golden ratio) * c for the k-th member over
	 * quota in node id order, so that the members' freed entries spread
	 * over the table instead of bunching where every member's cycle starts.
	 */
	for (word = 0; word < PDT_ID_WORDS; word++) {
		uint64_t bits = w.present[word];

		while (bits != 0) {
			uint32_t j = w.idx[word * 64 + (uint32_t)__builtin_ctzll(bits)];

			bits &= bits - 1;
			w.want[j] = w.quota[j] > w.count[j] ? w.quota[j] - w.count[j] : 0;
			w.surplus[j] = w.count[j] > w.quota[j] ? w.count[j] - w.quota[j] : 0;
			if (w.surplus[j] == 0)
				continue;
			/* c * frac(k * 0.618...), in 32-bit fixed point */
			w.acc[j] = (uint32_t)((uint64_t)w.count[j] *
				(uint32_t)(k * 0x9e3779b9u) >> 32);
			k++;
		}
	}
	/* Pass 2: free entries of nodes gone, drained or over quota. */
	for (i = 0; i < size; i++) {
		uint16_t node = p->entries[i];
		uint32_t j;

		if (pdt_is_member(&w, node)) {
			j = w.idx[node];
			if (w.quota[j] >= w.count[j])
				continue;
			w.acc[j] += w.surplus[j];
			if (w.acc[j] < w.count[j])
				continue;
			w.acc[j] -= w.count[j];
		}
		w.slot[nfree++] = i;
	}
	/* Refill: the same layout as a build, over the freed entries only. */
	if (nfree > 0)
		pdt_spread(&w, p->entries, w.slot, nfree);
out:
	pdt_work_free(&w);
	return p;
}

uint32_t
cnm_pdt_moved(const struct cnm_pdt *a, const struct cnm_pdt *b)
{
	uint32_t i, moved = 0;

	if (a == NULL || b == NULL || a->size != b->size) {
		uint32_t sa = a != NULL ? a->size : 0;
		uint32_t sb = b != NULL ? b->size : 0;

		return sa > sb ? sa : sb;
	}
	for (i = 0; i < a->size; i++)
		moved += a->entries[i] != b->entries[i];
	return moved;
}

uint32_t
cnm_pdt_count(const struct cnm_pdt *p, uint16_t node)
{
	uint32_t i, c = 0;

	if (p == NULL)
		return 0;
	for (i = 0; i < p->size; i++)
		c += p->entries[i] == node;
	return c;
}

void
cnm_pdt_free(struct cnm_pdt *p)
{
	free(p);
}
