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
		m[i].key = rng_next(); /* distinct but for a 2^-64 chance */
	}
}

static uint32_t
rng_size(void)
{
	return 16u << rng_below(13); /* 16 .. 65536 */
}

/* Reference largest remainder, written apart from the library's. */
struct ref_key {
	uint64_t rem;
	uint64_t key;
	uint32_t idx;
};

static int
ref_cmp(const void *a, const void *b)
{
	const struct ref_key *x = a, *y = b;

	if (x->rem != y->rem)
		return x->rem > y->rem ? -1 : 1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
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
		k[i].key = m[i].key;
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
	struct cnm_pdt_member m[3] = { { 7, 1, 30 }, { 3, 1, 10 }, { 5, 1, 20 } };
	uint32_t q[3];

	(void)state;
	cnm_pdt_quotas(16, m, 3, q);
	/* 16 / 3 = 5 rem 1: the extra entry goes to the lowest key, not id. */
	assert_int_equal(q[0], 5);
	assert_int_equal(q[1], 6);
	assert_int_equal(q[2], 5);
	m[1].key = 40;
	cnm_pdt_quotas(16, m, 3, q);
	assert_int_equal(q[0], 5);
	assert_int_equal(q[1], 5);
	assert_int_equal(q[2], 6);
	m[1].key = 10;

	m[0].weight = 0;
	cnm_pdt_quotas(16, m, 3, q);
	assert_int_equal(q[0], 0);
	assert_int_equal(q[1], 8);
	assert_int_equal(q[2], 8);

	/* Duplicate keys (cnm_pdt_build refuses them): ties by index. */
	m[0].key = 20;
	m[0].weight = 1;
	m[1].key = 20;
	cnm_pdt_quotas(16, m, 3, q);
	assert_int_equal(q[0], 6);
	assert_int_equal(q[1], 5);
	assert_int_equal(q[2], 5);
	m[0].key = 30;
	m[1].key = 10;

	m[0].weight = 0xffffffffu;
	m[1].weight = 0xffffffffu;
	m[2].weight = 0xffffffffu;
	cnm_pdt_quotas(1u << 31, m, 3, q);
	assert_int_equal((uint64_t)q[0] + q[1] + q[2], 1u << 31);
	assert_int_equal(q[1], 715827883); /* 2^31 / 3 rounded up, lowest key */
	assert_int_equal(q[0], 715827882);
}

/* The key is fixed by the names: a change of it changes every table. */
static void
test_key(void **state)
{
	(void)state;
	assert_true(cnm_pdt_key("web", "node1") == cnm_pdt_key("web", "node1"));
	assert_true(cnm_pdt_key("web", "node1") != cnm_pdt_key("web", "node2"));
	assert_true(cnm_pdt_key("web", "node1") != cnm_pdt_key("dns", "node1"));
	/* the separator: the split between the names counts */
	assert_true(cnm_pdt_key("ab", "c") != cnm_pdt_key("a", "bc"));
	assert_true(cnm_pdt_key("", "x") != cnm_pdt_key("x", ""));
	/* golden values (FNV-1a 64, separator 0, splitmix64 finalizer),
	 * also computed by tests/fixtures/fixtures.py on its own */
	assert_true(cnm_pdt_key("web", "node1") == UINT64_C(0xecb1312acd515dad));
	assert_true(cnm_pdt_key("", "") == UINT64_C(0x25fc6dd36ce04b20));
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
test_build_one_entry(void **state)
{
	struct cnm_pdt_member m[3] = { { 4, 1, 9 }, { 2, 1, 7 }, { 9, 1, 8 } };
	struct cnm_pdt *p;

	(void)state;
	p = cnm_pdt_build(1, m, 3);
	assert_non_null(p);
	assert_int_equal(p->n_active, 1);
	assert_int_equal(p->entries[0], 2); /* the lowest key's node */
	cnm_pdt_free(p);
}

/* The keys of the entries: how two tables with other node ids compare. */
static void
entry_keys(const struct cnm_pdt *p, const struct cnm_pdt_member *m, uint32_t n, uint64_t *k)
{
	uint32_t e, i;

	for (e = 0; e < p->size; e++) {
		k[e] = 0;
		for (i = 0; i < n; i++)
			if (m[i].node == p->entries[e])
				k[e] = m[i].key;
		if (p->entries[e] != CNM_NODE_NONE)
			assert_true(k[e] != 0);
	}
}

/*
 * Order and ids do not count: the same keys and weights in another order
 * and under other node ids give the same entries, key by key.
 */
static void
test_build_deterministic(void **state)
{
	static uint64_t ka[4096], kb[4096];
	struct cnm_pdt_member m[300], r[300];
	uint32_t set, i, n = 300;

	(void)state;
	rng_state = 3;
	for (set = 0; set < 20; set++) {
		struct cnm_pdt *a, *b, *c;
		uint32_t size = 16u << rng_below(9); /* up to 4096 */

		rng_members(m, n, set);
		/* reversed, each node under another id */
		for (i = 0; i < n; i++) {
			r[i] = m[n - 1 - i];
			r[i].node = (uint16_t)(40000 + i);
		}
		a = cnm_pdt_build(size, m, n);
		b = cnm_pdt_build(size, m, n);
		c = cnm_pdt_build(size, r, n);
		assert_non_null(a);
		assert_non_null(b);
		assert_non_null(c);
		assert_memory_equal(a, b, sizeof(*a) + size * sizeof(a->entries[0]));
		entry_keys(a, m, n, ka);
		entry_keys(c, r, n, kb);
		assert_memory_equal(ka, kb, size * sizeof(ka[0]));
		assert_int_equal(a->n_active, c->n_active);
		cnm_pdt_free(a);
		cnm_pdt_free(b);
		cnm_pdt_free(c);
	}
}

/* A fixed table, so a change of the construction is seen on purpose. */
static void
test_build_golden(void **state)
{
	struct cnm_pdt_member m[3] = { { 3, 1 }, { 1, 2 }, { 2, 1 } };
	static const uint16_t want[16] = {
		2, 1, 1, 3, 3, 1, 3, 3, 2, 2, 1, 2, 1, 1, 1, 1,
	};
	struct cnm_pdt *p;

	(void)state;
	m[0].key = cnm_pdt_key("web", "node3");
	m[1].key = cnm_pdt_key("web", "node1");
	m[2].key = cnm_pdt_key("web", "node2");
	p = cnm_pdt_build(16, m, 3);
	assert_non_null(p);
	assert_memory_equal(p->entries, want, sizeof(want));
	cnm_pdt_free(p);
}

static void
test_build_invalid(void **state)
{
	struct cnm_pdt_member m[3] = { { 1, 1, 1 }, { 2, 1, 2 }, { 1, 5, 3 } };
	struct cnm_pdt_member bad[1] = { { CNM_NODE_NONE, 1, 1 } };
	static const uint32_t sizes[] = { 0, 3, 48, 1000, 0x80000001u, 0xffffffffu };
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
	m[2].node = 3;
	m[2].key = 2; /* another node, the key of node 2 */
	errno = 0;
	assert_null(cnm_pdt_build(64, m, 3));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(cnm_pdt_build(64, bad, 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(cnm_pdt_build(64, NULL, 2));
	assert_int_equal(errno, EINVAL);
}

/* sum over members of max(0, quota in @p to - entries held in @p from) */
static uint32_t
min_moves(const struct cnm_pdt *from, const struct cnm_pdt_member *m, uint32_t n)
{
	uint32_t q[MAX_MEMBERS + 8];
	uint32_t i, c, tot = 0;

	cnm_pdt_quotas(from->size, m, n, q);
	for (i = 0; i < n; i++) {
		c = cnm_pdt_count(from, m[i].node);
		tot += q[i] > c ? q[i] - c : 0;
	}
	return tot;
}

/*
 * A node that goes down and comes back gets its very entries back, and the
 * table while it is away moves its entries and few others: down (drop it
 * from the members), drain (weight 0) and up again, for few and many nodes.
 * The bound on the moves is loose on purpose (the construction is measured
 * in tests/perf/pdt_bench.c): it catches a builder that reshuffles.
 */
static void
test_down_up(void **state)
{
	static const uint32_t ns[] = { 2, 3, 4, 5, 8, 12 };
	struct cnm_pdt_member m[16], w[16];
	uint32_t k, i, x;

	(void)state;
	rng_state = 6;
	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		uint32_t n = ns[k];

		rng_members(m, n, 1);
		for (i = 0; i < n; i++)
			m[i].weight = 1 + rng_below(4);
		for (x = 0; x < n; x++) {
			struct cnm_pdt *all, *down, *drained, *back;
			uint32_t j = 0, lost, mv, mn;

			for (i = 0; i < n; i++)
				if (i != x)
					w[j++] = m[i];
			all = cnm_pdt_build(4096, m, n);
			down = cnm_pdt_build(4096, w, n - 1);
			assert_non_null(all);
			assert_non_null(down);
			lost = cnm_pdt_count(all, m[x].node);
			mv = cnm_pdt_moved(all, down);
			mn = min_moves(all, w, n - 1);
			assert_int_equal(mn, lost);
			assert_true(mv >= lost);
			assert_true(mv * 2 <= lost * 3); /* at most 1.5 x the minimum */
			/* drained: weight 0 is the same table as down */
			memcpy(w, m, n * sizeof(*w));
			w[x].weight = 0;
			drained = cnm_pdt_build(4096, w, n);
			assert_non_null(drained);
			assert_memory_equal(drained, down, sizeof(*down) + 4096 * 2);
			back = cnm_pdt_build(4096, m, n);
			assert_non_null(back);
			assert_memory_equal(back, all, sizeof(*all) + 4096 * 2);
			cnm_pdt_free(all);
			cnm_pdt_free(down);
			cnm_pdt_free(drained);
			cnm_pdt_free(back);
		}
	}
}

/* Adding one node of N takes about its share, mostly from every other. */
static void
test_add_one(void **state)
{
	struct cnm_pdt_member m[9];
	uint32_t n;

	(void)state;
	rng_state = 7;
	rng_members(m, 9, 1);
	for (n = 1; n < 9; n++) {
		struct cnm_pdt *a, *b;
		uint32_t i, mv, mn;

		for (i = 0; i <= n; i++)
			m[i].weight = 1;
		a = cnm_pdt_build(4096, m, n);
		b = cnm_pdt_build(4096, m, n + 1);
		assert_non_null(a);
		assert_non_null(b);
		mv = cnm_pdt_moved(a, b);
		mn = min_moves(a, m, n + 1);
		assert_int_equal(mn, cnm_pdt_count(b, m[n].node));
		assert_true(mv >= mn);
		assert_true(mv * 2 <= mn * 3);
		cnm_pdt_free(a);
		cnm_pdt_free(b);
	}
}

static void
test_quotas_zero(void **state)
{
	struct cnm_pdt_member m[4] = { { 1, 0, 11 }, { 2, 0, 12 }, { 3, 0, 13 }, { 4, 0, 14 } };
	uint32_t q[4] = { 9, 9, 9, 9 };
	uint32_t i;

	(void)state;
	cnm_pdt_quotas(4096, m, 4, q);
	for (i = 0; i < 4; i++)
		assert_int_equal(q[i], 0);
	cnm_pdt_quotas(4096, NULL, 0, NULL);
}

static void
test_build_all_zero(void **state)
{
	struct cnm_pdt_member m[2] = { { 1, 0, 1 }, { 2, 0, 2 } };
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
		m[i].key = rng_next();
	}
	p = cnm_pdt_build(65536, m, MAX_MEMBERS);
	assert_non_null(p);
	check_counts(p, m, MAX_MEMBERS);
	cnm_pdt_free(p);
}

static void
test_moved_count(void **state)
{
	struct cnm_pdt_member m[2] = { { 1, 1, 100 }, { 2, 1, 200 } };
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
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_build_random),
		cmocka_unit_test(test_build_all_zero),
		cmocka_unit_test(test_build_one_entry),
		cmocka_unit_test(test_build_deterministic),
		cmocka_unit_test(test_build_golden),
		cmocka_unit_test(test_build_invalid),
		cmocka_unit_test(test_build_large),
		cmocka_unit_test(test_down_up),
		cmocka_unit_test(test_add_one),
		cmocka_unit_test(test_moved_count),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
