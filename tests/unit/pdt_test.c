/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cnm_pdt.h"

#define MAX_MEMBERS 1000

/* splitmix64: the same sequence on every machine. */
static uint64_t rng_state;

static uint64_t
rng_next(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint32_t
rng_below(uint32_t n)
{
	return (uint32_t)(rng_next() % n);
}

/* A random weight: a mix of zeros, small, medium and full-range weights. */
static uint32_t
rng_weight(uint32_t kind)
{
	switch (kind % 5) {
	case 0:
		return rng_below(4);
	case 1:
		return 1 + rng_below(100);
	case 2:
		return rng_below(10) == 0 ? 0 : 1 + rng_below(1000000);
	case 3:
		return (uint32_t)rng_next();
	default:
		return 0xffffffffu - rng_below(3);
	}
}

/* n members with distinct random node ids below 0xffff. */
static void
rng_members(struct cnm_pdt_member *m, uint32_t n, uint32_t kind)
{
	static uint8_t used[CNM_NODE_NONE];
	uint32_t i;

	memset(used, 0, sizeof(used));
	for (i = 0; i < n; i++) {
		uint16_t node;

		do {
			node = kind % 2 ? (uint16_t)rng_below(CNM_NODE_NONE) :
				(uint16_t)rng_below(2 * MAX_MEMBERS);
		} while (used[node]);
		used[node] = 1;
		m[i].node = node;
		m[i].weight = rng_weight(kind);
	}
}

static uint32_t
rng_size(void)
{
	return 16u << rng_below(13); /* 16 .. 65536 */
}

/* Reference largest remainder with a plain sort, to check the radix select. */
struct ref_key {
	uint64_t rem;
	uint16_t node;
	uint32_t idx;
};

static int
ref_cmp(const void *a, const void *b)
{
	const struct ref_key *x = a, *y = b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void
ref_quotas(uint32_t size, const struct cnm_pdt_member *m, uint32_t n, uint32_t *q)
{
	struct ref_key *k = calloc(n ? n : 1, sizeof(*k));
	uint64_t total = 0, sum = 0;
	uint32_t i;

	assert_non_null(k);
	for (i = 0; i < n; i++)
		total += m[i].weight;
	for (i = 0; i < n; i++) {
		q[i] = total ? (uint32_t)((uint64_t)size * m[i].weight / total) : 0;
		sum += q[i];
		k[i].rem = total ? (uint64_t)size * m[i].weight - q[i] * total : 0;
		k[i].node = m[i].node;
		k[i].idx = i;
	}
	qsort(k, n, sizeof(*k), ref_cmp);
	for (i = 0; total && sum < size; i++, sum++)
		q[k[i].idx]++;
	free(k);
}

/* Checks every quota property; returns the sum of weights. */
static uint64_t
check_quotas(uint32_t size, const struct cnm_pdt_member *m, uint32_t n,
		const uint32_t *q)
{
	uint32_t ref[MAX_MEMBERS + 8];
	uint64_t total = 0, sum = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		total += m[i].weight;
	ref_quotas(size, m, n, ref);
	for (i = 0; i < n; i++) {
		uint64_t ideal = (uint64_t)size * m[i].weight; /* times total */
		uint64_t have = (uint64_t)q[i] * total;

		assert_int_equal(q[i], ref[i]);
		sum += q[i];
		if (m[i].weight == 0)
			assert_int_equal(q[i], 0);
		/* |q - size * w / W| < 1 */
		if (total > 0)
			assert_true(have > ideal ? have - ideal < total : ideal - have < total);
	}
	assert_int_equal(sum, total > 0 ? size : 0);
	return total;
}

static void
check_counts(const struct cnm_pdt *p, const struct cnm_pdt_member *m, uint32_t n)
{
	uint32_t q[MAX_MEMBERS + 8];
	uint32_t i, active = 0, held = 0;

	cnm_pdt_quotas(p->size, m, n, q);
	for (i = 0; i < n; i++) {
		uint32_t c = cnm_pdt_count(p, m[i].node);

		assert_int_equal(c, q[i]);
		active += q[i] > 0;
		held += c;
	}
	assert_int_equal(p->n_active, active);
	assert_int_equal(p->mask, p->size - 1);
	if (active == 0)
		assert_int_equal(cnm_pdt_count(p, CNM_NODE_NONE), p->size);
	else
		assert_int_equal(held, p->size);
	assert_int_equal((uintptr_t)p % 64, 0);
}

static void
test_quotas_random(void **state)
{
	struct cnm_pdt_member m[MAX_MEMBERS];
	uint32_t q[MAX_MEMBERS];
	uint32_t set;

	(void)state;
	rng_state = 1;
	for (set = 0; set < 600; set++) {
		uint32_t n = set % 7 == 0 ? 1 + rng_below(MAX_MEMBERS) : 1 + rng_below(40);
		uint32_t size = rng_size();

		rng_members(m, n, set);
		cnm_pdt_quotas(size, m, n, q);
		check_quotas(size, m, n, q);
	}
}

static void
test_quotas_ties(void **state)
{
	struct cnm_pdt_member m[3] = { { 7, 1 }, { 3, 1 }, { 5, 1 } };
	uint32_t q[3];

	(void)state;
	cnm_pdt_quotas(16, m, 3, q);
	/* 16 / 3 = 5 rem 1: the extra entry goes to the lowest node id. */
	assert_int_equal(q[0], 5);
	assert_int_equal(q[1], 6);
	assert_int_equal(q[2], 5);

	m[0].weight = 0;
	cnm_pdt_quotas(16, m, 3, q);
	assert_int_equal(q[0], 0);
	assert_int_equal(q[1], 8);
	assert_int_equal(q[2], 8);

	/* Duplicate ids (cnm_pdt_build refuses them): ties by index. */
	m[0].node = 5;
	m[1].node = 5;
	m[0].weight = 1;
	cnm_pdt_quotas(16, m, 3, q);
	assert_int_equal(q[0], 6);
	assert_int_equal(q[1], 5);
	assert_int_equal(q[2], 5);
	m[0].node = 7;
	m[1].node = 3;

	m[0].weight = 0xffffffffu;
	m[1].weight = 0xffffffffu;
	m[2].weight = 0xffffffffu;
	cnm_pdt_quotas(1u << 31, m, 3, q);
	assert_int_equal((uint64_t)q[0] + q[1] + q[2], 1u << 31);
	assert_int_equal(q[1], 715827883); /* 2^31 / 3 rounded up, lowest id */
	assert_int_equal(q[0], 715827882);
}

static void
test_quotas_zero(void **state)
{
	struct cnm_pdt_member m[4] = { { 1, 0 }, { 2, 0 }, { 3, 0 }, { 4, 0 } };
	uint32_t q[4] = { 9, 9, 9, 9 };
	uint32_t i;

	(void)state;
	cnm_pdt_quotas(4096, m, 4, q);
	for (i = 0; i < 4; i++)
		assert_int_equal(q[i], 0);
	cnm_pdt_quotas(4096, NULL, 0, NULL);
}

static void
test_build_random(void **state)
{
	struct cnm_pdt_member m[MAX_MEMBERS];
	uint32_t set;

	(void)state;
	rng_state = 2;
	for (set = 0; set < 300; set++) {
		uint32_t n = set % 5 == 0 ? 1 + rng_below(MAX_MEMBERS) : 1 + rng_below(40);
		uint32_t size = rng_size();
		struct cnm_pdt *p;

		rng_members(m, n, set);
		p = cnm_pdt_build(size, m, n);
		assert_non_null(p);
		assert_int_equal(p->size, size);
		check_counts(p, m, n);
		cnm_pdt_free(p);
	}
}

static void
test_build_all_zero(void **state)
{
	struct cnm_pdt_member m[2] = { { 1, 0 }, { 2, 0 } };
	struct cnm_pdt *p;

	(void)state;
	p = cnm_pdt_build(64, m, 2);
	assert_non_null(p);
	assert_int_equal(p->n_active, 0);
	assert_int_equal(cnm_pdt_count(p, CNM_NODE_NONE), 64);
	cnm_pdt_free(p);

	p = cnm_pdt_build(1, NULL, 0);
	assert_non_null(p);
	assert_int_equal(p->n_active, 0);
	assert_int_equal(p->entries[0], CNM_NODE_NONE);
	cnm_pdt_free(p);
}

static void
test_build_one_entry(void **state)
{
	struct cnm_pdt_member m[3] = { { 4, 1 }, { 2, 1 }, { 9, 1 } };
	struct cnm_pdt *p;

	(void)state;
	p = cnm_pdt_build(1, m, 3);
	assert_non_null(p);
	assert_int_equal(p->n_active, 1);
	assert_int_equal(p->entries[0], 2);
	cnm_pdt_free(p);
}

static void
test_build_deterministic(void **state)
{
	struct cnm_pdt_member m[MAX_MEMBERS], r[MAX_MEMBERS];
	uint32_t set, i, n = 300;

	(void)state;
	rng_state = 3;
	for (set = 0; set < 20; set++) {
		struct cnm_pdt *a, *b, *c;
		uint32_t size = rng_size();

		rng_members(m, n, set);
		/* The same members in reverse order. */
		for (i = 0; i < n; i++)
			r[i] = m[n - 1 - i];
		a = cnm_pdt_build(size, m, n);
		b = cnm_pdt_build(size, m, n);
		c = cnm_pdt_build(size, r, n);
		assert_non_null(a);
		assert_non_null(b);
		assert_non_null(c);
		assert_memory_equal(a, b, sizeof(*a) + size * sizeof(a->entries[0]));
		assert_memory_equal(a, c, sizeof(*a) + size * sizeof(a->entries[0]));
		assert_int_equal(cnm_pdt_moved(a, c), 0);
		cnm_pdt_free(a);
		cnm_pdt_free(b);
		cnm_pdt_free(c);
	}
}

/* A fixed table, so a change of layout is seen on purpose. */
static void
test_build_golden(void **state)
{
	struct cnm_pdt_member m[3] = { { 3, 1 }, { 1, 2 }, { 2, 1 } };
	static const uint16_t want[16] = {
		1, 2, 3, 1, 1, 2, 3, 1, 1, 2, 3, 1, 1, 2, 3, 1,
	};
	struct cnm_pdt *p;

	(void)state;
	p = cnm_pdt_build(16, m, 3);
	assert_non_null(p);
	assert_memory_equal(p->entries, want, sizeof(want));
	cnm_pdt_free(p);
}

static void
test_build_invalid(void **state)
{
	struct cnm_pdt_member m[3] = { { 1, 1 }, { 2, 1 }, { 1, 5 } };
	struct cnm_pdt_member bad[1] = { { CNM_NODE_NONE, 1 } };
	static const uint32_t sizes[] = { 0, 3, 48, 1000, 0x80000001u, 0xffffffffu };
	struct cnm_pdt *old;
	uint32_t i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		errno = 0;
		assert_null(cnm_pdt_build(sizes[i], m, 2));
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_null(cnm_pdt_build(64, m, 3)); /* node 1 twice */
	assert_int_equal(errno, EINVAL);
	m[2].weight = 0;
	errno = 0;
	assert_null(cnm_pdt_build(64, m, 3)); /* twice, even with weight 0 */
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(cnm_pdt_build(64, bad, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(cnm_pdt_build(64, NULL, 2));
	assert_int_equal(errno, EINVAL);

	old = cnm_pdt_build(64, m, 2);
	assert_non_null(old);
	errno = 0;
	assert_null(cnm_pdt_update(old, 64, m, 3));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(cnm_pdt_update(old, 64, bad, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(cnm_pdt_update(old, 48, m, 2));
	assert_int_equal(errno, EINVAL);
	cnm_pdt_free(old);
}

/* Longest run of one node, counted around the end of the table. */
static uint32_t
longest_run(const struct cnm_pdt *p)
{
	uint32_t i, run = 1, best = 1;

	for (i = 1; i < 2 * p->size; i++) {
		if (p->entries[i & p->mask] == p->entries[(i - 1) & p->mask])
			run++;
		else
			run = 1;
		if (run > best)
			best = run;
		if (best >= p->size)
			break;
	}
	return best;
}

/* Longest distance between two entries of @node, around the end. */
static uint32_t
largest_gap(const struct cnm_pdt *p, uint16_t node)
{
	uint32_t i, first = UINT32_MAX, last = 0, gap = 0;

	for (i = 0; i < p->size; i++) {
		if (p->entries[i] != node)
			continue;
		if (first == UINT32_MAX)
			first = i;
		else if (i - last > gap)
			gap = i - last;
		last = i;
	}
	if (first == UINT32_MAX)
		return p->size;
	if (first + p->size - last > gap)
		gap = first + p->size - last;
	return gap;
}

static void
test_build_interleave(void **state)
{
	struct cnm_pdt_member m[MAX_MEMBERS];
	struct cnm_pdt *p;
	uint32_t i, n;

	(void)state;
	/* Two equal nodes alternate. */
	m[0] = (struct cnm_pdt_member){ 10, 5 };
	m[1] = (struct cnm_pdt_member){ 11, 5 };
	p = cnm_pdt_build(4096, m, 2);
	assert_non_null(p);
	assert_int_equal(longest_run(p), 1);
	cnm_pdt_free(p);

	/* Four equal nodes: every window of 4 holds each of them. */
	for (i = 0; i < 4; i++)
		m[i] = (struct cnm_pdt_member){ (uint16_t)(100 - i), 1 };
	p = cnm_pdt_build(1024, m, 4);
	assert_non_null(p);
	for (i = 0; i < 4; i++)
		assert_int_equal(largest_gap(p, m[i].node), 4);
	cnm_pdt_free(p);

	/* 3:1: the light node is never next to itself, the heavy runs <= 3. */
	m[0] = (struct cnm_pdt_member){ 1, 3 };
	m[1] = (struct cnm_pdt_member){ 2, 1 };
	p = cnm_pdt_build(4096, m, 2);
	assert_non_null(p);
	assert_int_equal(longest_run(p), 3);
	assert_int_equal(largest_gap(p, 2), 4);
	cnm_pdt_free(p);

	/* Random sets: each node's entries sit about size / quota apart. */
	rng_state = 4;
	for (n = 1; n <= 64; n++) {
		uint32_t q[64];
		uint32_t size = 4096;

		rng_members(m, n, 1);
		for (i = 0; i < n; i++)
			m[i].weight = 1 + rng_below(100);
		cnm_pdt_quotas(size, m, n, q);
		p = cnm_pdt_build(size, m, n);
		assert_non_null(p);
		for (i = 0; i < n; i++)
			assert_true(largest_gap(p, m[i].node) <= size / q[i] + n + 1);
		cnm_pdt_free(p);
	}
}

static void
test_build_large(void **state)
{
	struct cnm_pdt_member m[MAX_MEMBERS];
	struct cnm_pdt *p;
	uint32_t i;

	(void)state;
	rng_state = 5;
	for (i = 0; i < MAX_MEMBERS; i++) {
		m[i].node = (uint16_t)(i * 7);
		m[i].weight = 1 + rng_below(1000);
	}
	p = cnm_pdt_build(65536, m, MAX_MEMBERS);
	assert_non_null(p);
	check_counts(p, m, MAX_MEMBERS);
	cnm_pdt_free(p);
}

/*
 * Update @old to members @m and check: quotas held exactly, an entry only
 * moves when its node is gone or over quota, and the number moved is the sum
 * of the positive quota deltas. Returns the new table.
 */
static struct cnm_pdt *
check_update(const struct cnm_pdt *old, const struct cnm_pdt_member *m, uint32_t n)
{
	static uint32_t old_count[CNM_NODE_NONE + 1];
	static uint32_t quota_of[CNM_NODE_NONE + 1];
	uint32_t q[MAX_MEMBERS + 8];
	struct cnm_pdt *p, *again;
	uint64_t want = 0, total = 0;
	uint32_t i;

	memset(old_count, 0, sizeof(old_count));
	memset(quota_of, 0, sizeof(quota_of));
	for (i = 0; i < old->size; i++)
		old_count[old->entries[i]]++;
	cnm_pdt_quotas(old->size, m, n, q);
	for (i = 0; i < n; i++) {
		quota_of[m[i].node] = q[i];
		total += m[i].weight;
		if (q[i] > old_count[m[i].node])
			want += q[i] - old_count[m[i].node];
	}

	p = cnm_pdt_update(old, old->size, m, n);
	assert_non_null(p);
	check_counts(p, m, n);
	if (total == 0) {
		assert_int_equal(cnm_pdt_count(p, CNM_NODE_NONE), p->size);
		return p;
	}
	assert_int_equal(cnm_pdt_moved(old, p), want);
	for (i = 0; i < old->size; i++) {
		uint16_t node = old->entries[i];

		/* A node at or under its new quota keeps every entry. */
		if (node != CNM_NODE_NONE && quota_of[node] >= old_count[node])
			assert_int_equal(p->entries[i], node);
		/* An entry that moved went to a node under its old count. */
		if (p->entries[i] != node)
			assert_true(quota_of[p->entries[i]] > old_count[p->entries[i]]);
	}
	again = cnm_pdt_update(old, old->size, m, n);
	assert_non_null(again);
	assert_memory_equal(p->entries, again->entries, p->size * sizeof(p->entries[0]));
	cnm_pdt_free(again);
	return p;
}

/* moved * W versus the ideal change of @node's share, times W: < limit * W */
static void
check_share(uint32_t moved, uint32_t size, uint64_t w_old, uint64_t tot_old,
		uint64_t w_new, uint64_t tot_new, uint32_t limit)
{
	double ideal = (double)size * ((double)w_new / (double)tot_new -
		(tot_old ? (double)w_old / (double)tot_old : 0.0));
	double diff = (double)moved - (ideal < 0 ? -ideal : ideal);

	assert_true(diff < limit && diff > -(double)limit);
}

static void
test_update_add_remove(void **state)
{
	struct cnm_pdt_member m[MAX_MEMBERS + 1];
	static const uint32_t counts[] = { 1, 2, 3, 5, 8, 10, 31, 100, 999 };
	static const uint32_t sizes[] = { 16, 256, 4096, 65536 };
	uint32_t a, s, i, n;

	(void)state;
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		for (a = 0; a < sizeof(counts) / sizeof(counts[0]); a++) {
			uint32_t size = sizes[s];
			struct cnm_pdt *old, *p;
			uint32_t moved;

			n = counts[a];
			for (i = 0; i <= n; i++)
				m[i] = (struct cnm_pdt_member){ (uint16_t)(3 * i + 1), 10 };
			old = cnm_pdt_build(size, m, n);
			assert_non_null(old);

			/* Add one node of n + 1: only its share moves. */
			p = check_update(old, m, n + 1);
			moved = cnm_pdt_moved(old, p);
			assert_int_equal(moved, cnm_pdt_count(p, m[n].node));
			check_share(moved, size, 0, 0, 10, 10ull * (n + 1), 1);
			cnm_pdt_free(p);

			/* Remove one (the middle one): only its entries move. */
			if (n > 1) {
				struct cnm_pdt_member gone[MAX_MEMBERS];
				uint32_t mid = n / 2, k = 0;

				for (i = 0; i < n; i++)
					if (i != mid)
						gone[k++] = m[i];
				p = check_update(old, gone, n - 1);
				moved = cnm_pdt_moved(old, p);
				assert_int_equal(moved, cnm_pdt_count(old, m[mid].node));
				assert_int_equal(cnm_pdt_count(p, m[mid].node), 0);
				check_share(moved, size, 10, 10ull * n, 0, 10ull * n, 1);
				cnm_pdt_free(p);

				/* Drain it (weight 0): the same result. */
				m[mid].weight = 0;
				p = check_update(old, m, n);
				assert_int_equal(cnm_pdt_moved(old, p), moved);
				assert_int_equal(cnm_pdt_count(p, m[mid].node), 0);
				m[mid].weight = 10;
				cnm_pdt_free(p);
			}

			/* Reweight the first node to 3x: within two entries. */
			m[0].weight = 30;
			p = check_update(old, m, n);
			moved = cnm_pdt_moved(old, p);
			check_share(moved, size, 10, 10ull * n, 30, 10ull * (n + 2), 2);
			m[0].weight = 10;
			cnm_pdt_free(p);

			/* Same members: nothing moves. */
			p = check_update(old, m, n);
			assert_int_equal(cnm_pdt_moved(old, p), 0);
			cnm_pdt_free(p);
			cnm_pdt_free(old);
		}
	}
}

static void
test_update_spread(void **state)
{
	struct cnm_pdt_member m[4];
	struct cnm_pdt *old, *p;
	uint32_t i, n;

	(void)state;
	for (i = 0; i < 4; i++)
		m[i] = (struct cnm_pdt_member){ (uint16_t)i, 1 };
	old = cnm_pdt_build(4096, m, 3);
	assert_non_null(old);
	/* The added node's entries spread over the table, not bunched. */
	p = check_update(old, m, 4);
	assert_true(largest_gap(p, 3) <= 2 * 4096 / 1024);
	for (i = 0; i < 3; i++)
		assert_true(largest_gap(p, (uint16_t)i) <= 2 * 4096 / 1024);
	cnm_pdt_free(p);
	cnm_pdt_free(old);

	/* n equal nodes plus one: its entries sit within 4x the ideal gap. */
	for (n = 2; n < 40; n++) {
		struct cnm_pdt_member e[40];
		uint32_t q;

		for (i = 0; i <= n; i++)
			e[i] = (struct cnm_pdt_member){ (uint16_t)(5 * i), 7 };
		old = cnm_pdt_build(4096, e, n);
		assert_non_null(old);
		p = check_update(old, e, n + 1);
		q = cnm_pdt_count(p, e[n].node);
		for (i = 0; i <= n; i++)
			assert_true(largest_gap(p, e[i].node) <= 4 * (4096 / q + 1));
		cnm_pdt_free(p);
		cnm_pdt_free(old);
	}

	/* Two nodes, then a third: the survivors still alternate mostly. */
	old = cnm_pdt_build(1024, m, 2);
	assert_non_null(old);
	p = check_update(old, m, 3);
	assert_true(longest_run(p) <= 3);
	cnm_pdt_free(p);
	cnm_pdt_free(old);
}

static void
test_update_random_walk(void **state)
{
	struct cnm_pdt_member m[MAX_MEMBERS];
	uint32_t step, n = 20, size = 1024;
	struct cnm_pdt *p;

	(void)state;
	rng_state = 6;
	rng_members(m, n, 1);
	p = cnm_pdt_build(size, m, n);
	assert_non_null(p);
	for (step = 0; step < 400; step++) {
		struct cnm_pdt *next;
		uint32_t op = rng_below(6), i = rng_below(n);

		if (op == 0 && n < MAX_MEMBERS) {
			/* add a node with an id not used yet */
			uint16_t node;
			uint32_t j;

			do {
				node = (uint16_t)rng_below(CNM_NODE_NONE);
				for (j = 0; j < n && m[j].node != node; j++)
					;
			} while (j < n);
			m[n].node = node;
			m[n].weight = rng_weight(step);
			n++;
		} else if (op == 1 && n > 1) {
			m[i] = m[--n];
		} else if (op == 2) {
			m[i].weight = 0;
		} else if (op == 3) {
			m[i].weight = rng_weight(step);
		} else if (op == 4) {
			uint32_t j;

			/* a burst: many nodes change weight at once */
			for (j = 0; j < n; j++)
				if (rng_below(3) == 0)
					m[j].weight = rng_weight(step + j);
		} else if (op == 5 && step % 50 == 0) {
			/* sometimes the size changes: a fresh build */
			size = 16u << rng_below(9);
			next = cnm_pdt_update(p, size, m, n);
			assert_non_null(next);
			check_counts(next, m, n);
			cnm_pdt_free(p);
			p = next;
			continue;
		}
		next = check_update(p, m, n);
		cnm_pdt_free(p);
		p = next;
	}
	cnm_pdt_free(p);
}

static void
test_update_from_none(void **state)
{
	struct cnm_pdt_member m[3] = { { 1, 0 }, { 2, 0 }, { 3, 0 } };
	struct cnm_pdt *old, *p, *b;

	(void)state;
	old = cnm_pdt_build(256, m, 3);
	assert_non_null(old);
	assert_int_equal(old->n_active, 0);
	m[1].weight = 1;
	m[2].weight = 3;
	p = check_update(old, m, 3);
	b = cnm_pdt_build(256, m, 3);
	assert_non_null(b);
	/* Every entry is free: the same layout as a build. */
	assert_memory_equal(p->entries, b->entries, 256 * sizeof(p->entries[0]));
	cnm_pdt_free(b);
	cnm_pdt_free(old);

	/* And back to no node at all. */
	m[1].weight = 0;
	m[2].weight = 0;
	old = p;
	p = check_update(old, m, 3);
	assert_int_equal(p->n_active, 0);
	cnm_pdt_free(old);
	old = p;
	p = cnm_pdt_update(old, 256, NULL, 0);
	assert_non_null(p);
	assert_int_equal(cnm_pdt_count(p, CNM_NODE_NONE), 256);
	cnm_pdt_free(p);
	cnm_pdt_free(old);

	/* NULL old or another size: a build. */
	m[0].weight = 2;
	p = cnm_pdt_update(NULL, 64, m, 3);
	b = cnm_pdt_build(64, m, 3);
	assert_non_null(p);
	assert_non_null(b);
	assert_memory_equal(p, b, sizeof(*p) + 64 * sizeof(p->entries[0]));
	old = cnm_pdt_update(p, 128, m, 3);
	assert_non_null(old);
	assert_int_equal(old->size, 128);
	check_counts(old, m, 3);
	cnm_pdt_free(old);
	cnm_pdt_free(p);
	cnm_pdt_free(b);
}

static void
test_moved_count(void **state)
{
	struct cnm_pdt_member m[2] = { { 1, 1 }, { 2, 1 } };
	struct cnm_pdt *a, *b;

	(void)state;
	a = cnm_pdt_build(16, m, 2);
	b = cnm_pdt_build(32, m, 2);
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(cnm_pdt_moved(a, a), 0);
	assert_int_equal(cnm_pdt_moved(a, b), 32);
	assert_int_equal(cnm_pdt_moved(NULL, a), 16);
	assert_int_equal(cnm_pdt_moved(NULL, NULL), 0);
	assert_int_equal(cnm_pdt_count(a, 1), 8);
	assert_int_equal(cnm_pdt_count(a, 3), 0);
	assert_int_equal(cnm_pdt_count(NULL, 1), 0);
	cnm_pdt_free(a);
	cnm_pdt_free(b);
	cnm_pdt_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quotas_random),
		cmocka_unit_test(test_quotas_ties),
		cmocka_unit_test(test_quotas_zero),
		cmocka_unit_test(test_build_random),
		cmocka_unit_test(test_build_all_zero),
		cmocka_unit_test(test_build_one_entry),
		cmocka_unit_test(test_build_deterministic),
		cmocka_unit_test(test_build_golden),
		cmocka_unit_test(test_build_invalid),
		cmocka_unit_test(test_build_interleave),
		cmocka_unit_test(test_build_large),
		cmocka_unit_test(test_update_add_remove),
		cmocka_unit_test(test_update_spread),
		cmocka_unit_test(test_update_random_walk),
		cmocka_unit_test(test_update_from_none),
		cmocka_unit_test(test_moved_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
