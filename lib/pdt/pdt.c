/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packet distribution table: quotas and the seeded, name-keyed build.
 * See docs/pdt.md for the construction and its properties.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cnm_pdt.h"

/* Workers read the table: it starts on a cache line. */
#define PDT_ALIGN 64u
/* Words of a bitmap over all node ids. */
#define PDT_ID_WORDS ((CNM_NODE_NONE + 63u) / 64u)

/* splitmix64's finalizer: a bijection of 64-bit words that mixes every bit. */
static inline uint64_t
pdt_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

uint64_t
cnm_pdt_key(const char *service, const char *node)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a 64 offset basis */
	const unsigned char *p;

	for (p = (const unsigned char *)service; *p != '\0'; p++)
		h = (h ^ *p) * UINT64_C(0x100000001b3);
	h = (h ^ 0) * UINT64_C(0x100000001b3); /* the separator: ("ab","c") != ("a","bc") */
	for (p = (const unsigned char *)node; *p != '\0'; p++)
		h = (h ^ *p) * UINT64_C(0x100000001b3);
	return pdt_mix(h);
}

/*
 * One member while the table is filled. Its darts: the j-th goes to entry
 * perm(j), a permutation of 0 .. size-1 drawn from its key, at time
 * (j * 2^32 + phase) / weight; time = tq + tr / weight.
 */
struct pdt_dart {
	uint64_t key;
	uint64_t tq;        /**< integer part of the next dart's time */
	uint32_t tr;        /**< remainder (< weight) */
	uint32_t weight;
	uint32_t phase;
	uint32_t j;         /**< darts thrown so far */
	uint32_t left;      /**< entries still to take */
	uint32_t a0, a1, a2, m0, m1; /**< the permutation: xors, adds, odd multipliers */
	uint16_t node;
};

static void
dart_time(struct pdt_dart *d)
{
	uint64_t num = ((uint64_t)d->j << 32) | d->phase; /* j < size <= 2^31 */

	d->tq = num / d->weight;
	d->tr = (uint32_t)(num % d->weight);
}

/* Does @p a throw before @p b? Exact: tr < weight < 2^32, so the products fit. */
static inline int
dart_before(const struct pdt_dart *a, const struct pdt_dart *b)
{
	uint64_t x, y;

	if (a->tq != b->tq)
		return a->tq < b->tq;
	x = (uint64_t)a->tr * b->weight;
	y = (uint64_t)b->tr * a->weight;
	if (x != y)
		return x < y;
	return a->key < b->key; /* keys are distinct */
}

/* The entry of dart @p j: a permutation of the @p bits-bit numbers. */
static inline uint32_t
dart_entry(const struct pdt_dart *d, uint32_t j, uint32_t mask, uint32_t shift)
{
	uint32_t x = j;

	x = ((x ^ d->a0) * d->m0) & mask;
	x ^= x >> shift;
	x = ((x + d->a1) * d->m1) & mask;
	x ^= x >> shift;
	x = ((x ^ d->a2) * d->m0) & mask;
	x ^= x >> shift;
	return x;
}

static void
heap_down(struct pdt_dart **h, uint32_t n, uint32_t k)
{
	struct pdt_dart *t = h[k];

	for (;;) {
		uint32_t c = 2 * k + 1;

		if (c >= n)
			break;
		if (c + 1 < n && dart_before(h[c + 1], h[c]))
			c++;
		if (!dart_before(h[c], t))
			break;
		h[k] = h[c];
		k = c;
	}
	h[k] = t;
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

/* A leftover entry's candidate: remainder, key, index. */
struct pdt_rem {
	uint64_t r;
	uint64_t key;
	uint32_t i;
};

static int
rem_cmp(const void *a, const void *b)
{
	const struct pdt_rem *x = a, *y = b;

	if (x->r != y->r)
		return x->r > y->r ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* cnm_pdt_quotas(); -ENOMEM (quotas of the leftover entries by index) when
 * the sort finds no memory. */
static int
pdt_quotas(uint32_t size, const struct cnm_pdt_member *m, uint32_t n, uint32_t *quota)
{
	struct pdt_rem *rem;
	uint64_t total = 0, assigned = 0;
	uint32_t i, nr = 0, need;

	for (i = 0; i < n; i++)
		total += m[i].weight; /* n * (2^32 - 1) < 2^64 */
	for (i = 0; i < n; i++) {
		/* size <= 2^31, weight < 2^32: the product fits in 63 bits. */
		quota[i] = total != 0 ? (uint32_t)((uint64_t)size * m[i].weight / total) : 0;
		assigned += quota[i];
	}
	if (total == 0)
		return 0;
	need = (uint32_t)(size - assigned);
	if (need == 0)
		return 0;
	/*
	 * need is below the number of members with a remainder: they get one
	 * more each, the largest remainders first (all over the same total,
	 * so comparing them is exact), ties to the lower key. Without memory
	 * for the sort: by index, still within one entry of the share, and
	 * the caller is told.
	 */
	rem = malloc((size_t)n * sizeof(*rem));
	for (i = 0; i < n; i++) {
		uint64_t r = (uint64_t)size * m[i].weight - (uint64_t)quota[i] * total;

		if (r == 0)
			continue;
		if (rem == NULL) {
			if (need > 0) {
				quota[i]++;
				need--;
			}
			continue;
		}
		rem[nr].r = r;
		rem[nr].key = m[i].key;
		rem[nr].i = i;
		nr++;
	}
	if (rem == NULL)
		return -ENOMEM;
	qsort(rem, nr, sizeof(*rem), rem_cmp);
	for (i = 0; i < need && i < nr; i++)
		quota[rem[i].i]++;
	free(rem);
	return 0;
}

void
cnm_pdt_quotas(uint32_t size, const struct cnm_pdt_member *m, uint32_t n,
		uint32_t *quota)
{
	(void)pdt_quotas(size, m, n, quota);
}

static int
key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Node ids below CNM_NODE_NONE and distinct, keys distinct: 0 or -errno. */
static int
pdt_check(const struct cnm_pdt_member *m, uint32_t n)
{
	uint64_t present[PDT_ID_WORDS];
	uint64_t *keys;
	uint32_t i;
	int ret = 0;

	if (n > 0 && m == NULL)
		return -EINVAL;
	/* n > CNM_NODE_NONE: more members than node ids, some id repeats. */
	if (n > CNM_NODE_NONE)
		return -EINVAL;
	memset(present, 0, sizeof(present));
	for (i = 0; i < n; i++) {
		uint16_t node = m[i].node;

		if (node >= CNM_NODE_NONE || (present[node / 64] >> (node % 64) & 1) != 0)
			return -EINVAL;
		present[node / 64] |= UINT64_C(1) << (node % 64);
	}
	if (n < 2)
		return 0;
	keys = malloc((size_t)n * sizeof(*keys));
	if (keys == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		keys[i] = m[i].key;
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (i = 1; i < n; i++)
		if (keys[i] == keys[i - 1])
			ret = -EINVAL;
	free(keys);
	return ret;
}

/*
 * Fill @p p: every member with a quota throws darts in time order (the
 * earliest first, ties to the lower key) and takes the entry a dart hits
 * when it is free, until it holds its quota. Returns 0 or -errno.
 */
static int
pdt_fill(struct cnm_pdt *p, const struct cnm_pdt_member *m, uint32_t n,
		const uint32_t *quota)
{
	struct pdt_dart *d, **heap;
	uint32_t i, hn = 0, bits = 0, shift;

	d = malloc((size_t)(n ? n : 1) * sizeof(*d));
	heap = malloc((size_t)(n ? n : 1) * sizeof(*heap));
	if (d == NULL || heap == NULL) {
		free(d);
		free(heap);
		return -ENOMEM;
	}
	while ((UINT64_C(1) << bits) < p->size)
		bits++;
	/* x ^= x >> shift is a bijection of the bits-bit numbers for any shift */
	shift = bits / 2 + 1;
	for (i = 0; i < n; i++) {
		struct pdt_dart *x = &d[i];
		uint64_t r1 = pdt_mix(m[i].key ^ UINT64_C(0x5043db0c1d2e3f40));
		uint64_t r2 = pdt_mix(m[i].key ^ UINT64_C(0x9e3779b97f4a7c15));

		if (quota[i] == 0)
			continue;
		x->key = m[i].key;
		x->weight = m[i].weight;
		x->phase = (uint32_t)(r1 >> 32);
		x->a0 = (uint32_t)r1;
		x->a1 = (uint32_t)(r2 >> 32);
		x->a2 = (uint32_t)r2;
		x->m0 = (uint32_t)(r1 >> 16) | 1u;
		x->m1 = (uint32_t)(r2 >> 16) | 1u;
		x->j = 0;
		x->left = quota[i];
		x->node = m[i].node;
		dart_time(x);
		heap[hn++] = x;
	}
	for (i = hn / 2; i-- > 0;)
		heap_down(heap, hn, i);
	while (hn > 0) {
		struct pdt_dart *x = heap[0];
		uint32_t e;

		/*
		 * A member with entries left has not yet been through every
		 * entry: the one it still finds free was free at each of its
		 * earlier darts (entries are only ever taken). So j < size;
		 * this guard only keeps a bug from looping.
		 */
		if (x->j >= p->size) {
			free(d);
			free(heap);
			return -ENOTRECOVERABLE;
		}
		e = dart_entry(x, x->j, p->mask, shift);
		x->j++;
		if (p->entries[e] == CNM_NODE_NONE) {
			p->entries[e] = x->node;
			if (--x->left == 0) {
				heap[0] = heap[--hn];
				if (hn > 0)
					heap_down(heap, hn, 0);
				continue;
			}
		}
		/*
		 * A dart at an entry already taken does nothing, whenever it
		 * comes (entries are never freed): skip to the member's next
		 * dart at an entry free now. That one may still be taken
		 * before its time comes; it is checked again then. The table
		 * is the one dart by dart gives, with a heap step per dart that
		 * can take something instead of per dart.
		 */
		while (x->j < p->size &&
		       p->entries[dart_entry(x, x->j, p->mask, shift)] != CNM_NODE_NONE)
			x->j++;
		dart_time(x);
		heap_down(heap, hn, 0);
	}
	free(d);
	free(heap);
	return 0;
}

struct cnm_pdt *
cnm_pdt_build(uint32_t size, const struct cnm_pdt_member *m, uint32_t n)
{
	struct cnm_pdt *p;
	uint32_t *quota, i;
	int ret;

	if (size == 0 || (size & (size - 1)) != 0 || size > (UINT32_C(1) << 31)) {
		errno = EINVAL;
		return NULL;
	}
	ret = pdt_check(m, n);
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	quota = malloc((size_t)(n ? n : 1) * sizeof(*quota));
	p = pdt_alloc(size);
	if (quota == NULL || p == NULL) {
		free(quota);
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	ret = pdt_quotas(size, m, n, quota);
	for (i = 0; i < n; i++)
		p->n_active += quota[i] > 0;
	for (i = 0; i < size; i++)
		p->entries[i] = CNM_NODE_NONE;
	if (ret == 0 && p->n_active > 0)
		ret = pdt_fill(p, m, n, quota);
	free(quota);
	if (ret < 0) {
		free(p);
		errno = -ret;
		return NULL;
	}
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
