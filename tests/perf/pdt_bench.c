/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PDT control-plane figures (issues 7 and 12), printed as one JSON object:
 *
 *  - build: cnm_pdt_build() of 65,536 entries over 1,000 nodes with random
 *    weights (and 4,096 over 1,000, 4,096 over 8, 65,536 over 16), median /
 *    min / max of many runs. A rebuild after any change is a build.
 *  - disruption: for many random changes of one member (add a node, remove
 *    one, drain one to weight 0, reweight one), entries that change owner
 *    (cnm_pdt_moved) against the minimum any table with the new quotas
 *    allows (sum over members of max(0, new quota - entries held before)),
 *    per (size, nodes, weights): the mean of moved / minimum, the pooled
 *    ratio (sum moved / sum minimum) and the worst change; and against the
 *    minimum over every table the balance rule allows (each member floor or
 *    ceil of size * w / W, whichever members get the ceil): "_any";
 *  - down/up: a node removed and put back gets every entry back (entries
 *    elsewhere after the round trip, summed over all the changes: 0);
 *  - balance: for many random weight sets, the largest entries/ideal over
 *    the members (ideal = size * w / W), 4,096 and 65,536 entries.
 *
 * pdt_bench [--quick]   (--quick: fewer runs, for the test suite)
 *
 * pdt_bench --variants [CHANGES]: the same random changes measured on
 * cnm_pdt_build() and on a prototype of another construction, the
 * market-clearing assignment (below), where it runs in reasonable time
 * (docs/pdt.md, "Constructions measured against the 1.05 goal").
 *
 * pdt_bench --large: disruption only, of tables of about 256 x nodes^2
 * entries (16,384 x 8 up to 2^20 x 64), 40 changes each: where the builder
 * stays within 1.05 of the minimum.
 */
#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cnm_pdt.h"

static uint64_t rng_state = 0x636e6d78u;

static uint32_t
rnd(void)
{
	/* xorshift64*: the same weights on every machine */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct timing {
	double median, min, max;
};

static struct timing
summarize(double *v, unsigned int n)
{
	struct timing t;

	qsort(v, n, sizeof(*v), cmp_d);
	t.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	t.min = v[0];
	t.max = v[n - 1];
	return t;
}

static void
print_timing(const char *name, struct timing t, int last)
{
	printf("  \"%s\": {\"median_ms\": %.4f, \"min_ms\": %.4f, \"max_ms\": %.4f}%s\n", name,
		t.median * 1e3, t.min * 1e3, t.max * 1e3, last ? "" : ",");
}

static void
check(const void *p, const char *what)
{
	if (p == NULL) {
		fprintf(stderr, "pdt_bench: %s failed\n", what);
		exit(1);
	}
}

/* Member @p i (its node id), named after @p name_no. */
static void
set_member(struct cnm_pdt_member *m, uint32_t i, uint32_t name_no, uint32_t weight)
{
	char name[32];

	snprintf(name, sizeof(name), "node%u", name_no);
	m->node = (uint16_t)i;
	m->weight = weight;
	m->key = cnm_pdt_key("bench", name);
}

/* sum over members of max(0, new quota - entries held in old) */
static uint32_t
min_moves(const struct cnm_pdt *old, uint32_t size, const struct cnm_pdt_member *m, uint32_t n)
{
	uint32_t *q = calloc(n, sizeof(*q)), i, tot = 0;

	check(q, "calloc");
	cnm_pdt_quotas(size, m, n, q);
	for (i = 0; i < n; i++) {
		uint32_t c = cnm_pdt_count(old, m[i].node);

		if (q[i] > c)
			tot += q[i] - c;
	}
	free(q);
	return tot;
}

/*
 * The least any table within one entry of every share can move: each member
 * holds floor(size * w / W) or, where that is not an integer, one more, and
 * the members that get the one more are the ones that cost least. Giving
 * member i the ceil costs one more entry than its floor only when it held at
 * most its floor before; the leftover entries go first to the members that
 * cost nothing. At most min_moves(): Hamilton's quotas are one such choice.
 */
static uint32_t
min_moves_any(const struct cnm_pdt *old, uint32_t size, const struct cnm_pdt_member *m,
		uint32_t n)
{
	uint64_t total = 0;
	uint32_t i, tot = 0, floors = 0, free_ceil = 0, left;

	for (i = 0; i < n; i++)
		total += m[i].weight;
	if (total == 0)
		return 0;
	for (i = 0; i < n; i++) {
		uint32_t fl = (uint32_t)((uint64_t)size * m[i].weight / total);
		int frac = (uint64_t)size * m[i].weight % total != 0;
		uint32_t c = cnm_pdt_count(old, m[i].node);

		floors += fl;
		if (fl > c)
			tot += fl - c;
		if (frac && c > fl)
			free_ceil++;
	}
	left = size - floors;
	if (left > free_ceil)
		tot += left - free_ceil;
	return tot;
}

static double
balance(const struct cnm_pdt *p, const struct cnm_pdt_member *m, uint32_t n)
{
	uint64_t W = 0;
	double worst = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		W += m[i].weight;
	for (i = 0; i < n; i++) {
		double ideal, r;

		if (m[i].weight == 0)
			continue;
		ideal = (double)p->size * m[i].weight / (double)W;
		r = cnm_pdt_count(p, m[i].node) / ideal;
		if (r > worst)
			worst = r;
	}
	return worst;
}

static void
time_build(const char *name, uint32_t size, const struct cnm_pdt_member *m, uint32_t n,
		unsigned int runs, double *t)
{
	unsigned int r;

	for (r = 0; r < runs; r++) {
		double t0 = now_s();
		struct cnm_pdt *p = cnm_pdt_build(size, m, n);

		t[r] = now_s() - t0;
		check(p, "cnm_pdt_build");
		cnm_pdt_free(p);
	}
	print_timing(name, summarize(t, runs), 0);
}

static const char *const kind_name[4] = { "add", "remove", "drain", "reweight" };

/*
 * @changes random changes of one member of @n (weights 1, or 1..100), each
 * from a fresh random set of node names: moved against the minimum.
 */
static void
disruption(uint32_t size, uint32_t n, int random_w, unsigned int changes, int last,
		uint64_t *not_back)
{
	static struct cnm_pdt_member a[1001], b[1001];
	double sum_r = 0, worst = 0, sum_ra = 0, worst_a = 0;
	uint64_t sum_mv = 0, sum_min = 0, sum_mva = 0, sum_mina = 0;
	unsigned int c, counted = 0, counted_a = 0, worst_kind = 0, per_n[4] = { 0 };
	double per_r[4] = { 0 };
	uint32_t i;

	for (c = 0; c < changes; c++) {
		unsigned int kind = c % 4;
		uint32_t nb = n, x = rnd() % n, base = rnd();
		struct cnm_pdt *p, *q, *back;
		uint32_t mv, mn, mna;
		double r;

		for (i = 0; i <= n; i++)
			set_member(&a[i], i, base + i, random_w ? 1 + rnd() % 100 : 1);
		memcpy(b, a, sizeof(b));
		switch (kind) {
		case 0:
			nb = n + 1;
			break;
		case 1:
			b[x] = b[n - 1];
			nb = n - 1;
			break;
		case 2:
			b[x].weight = 0;
			break;
		default:
			do {
				b[x].weight = random_w ? 1 + rnd() % 100 : 2;
			} while (b[x].weight == a[x].weight);
			break;
		}
		p = cnm_pdt_build(size, a, n);
		q = cnm_pdt_build(size, b, nb);
		check(p, "cnm_pdt_build");
		check(q, "cnm_pdt_build");
		mv = cnm_pdt_moved(p, q);
		mn = min_moves(p, size, b, nb);
		mna = min_moves_any(p, size, b, nb);
		/* and back: the first table again, whatever came between */
		back = cnm_pdt_build(size, a, n);
		check(back, "cnm_pdt_build");
		*not_back += cnm_pdt_moved(p, back);
		cnm_pdt_free(back);
		cnm_pdt_free(p);
		cnm_pdt_free(q);
		if (mna > 0) {
			r = (double)mv / mna;
			counted_a++;
			sum_ra += r;
			sum_mva += mv;
			sum_mina += mna;
			if (r > worst_a)
				worst_a = r;
		}
		if (mn == 0)
			continue;
		r = (double)mv / mn;
		counted++;
		sum_r += r;
		sum_mv += mv;
		sum_min += mn;
		per_r[kind] += r;
		per_n[kind]++;
		if (r > worst) {
			worst = r;
			worst_kind = kind;
		}
	}
	printf("    {\"size\": %u, \"nodes\": %u, \"weights\": \"%s\", \"changes\": %u, "
		"\"mean_ratio\": %.4f, \"pooled_ratio\": %.4f, \"worst_ratio\": %.4f, "
		"\"worst_kind\": \"%s\", \"mean_min\": %.1f",
		size, n, random_w ? "1..100" : "equal", counted, counted ? sum_r / counted : 0,
		sum_min ? (double)sum_mv / sum_min : 0, worst, kind_name[worst_kind],
		counted ? (double)sum_min / counted : 0);
	for (i = 0; i < 4; i++)
		printf(", \"mean_ratio_%s\": %.4f", kind_name[i], per_n[i] ? per_r[i] / per_n[i] : 0);
	printf(", \"changes_any\": %u, \"mean_ratio_any\": %.4f, \"pooled_ratio_any\": %.4f, "
		"\"worst_ratio_any\": %.4f", counted_a, counted_a ? sum_ra / counted_a : 0,
		sum_mina ? (double)sum_mva / sum_mina : 0, worst_a);
	printf("}%s\n", last ? "" : ",");
}

/*
 * Prototype, for measurement only (floating point, O(size * nodes) memory and
 * time per sweep): the market-clearing assignment. Each member n has the time
 * of its first dart at each entry e, t(n, e) = (rank of e in n's permutation
 * + phase / 2^32) / weight, the darts of cnm_pdt_build(). Entry e goes to the
 * member with the least t(n, e) * price(n), the prices set so that every
 * member holds exactly its Hamilton quota: the assignment that minimises the
 * sum of log t over the table under those quotas (optimal transport), unique
 * for distinct times whatever prices clear it, so a function of the
 * configuration. Prices by Gauss-Seidel: each member in turn takes the price
 * that gives it its quota exactly against the others'; stops after a sweep
 * that changes nothing (*converged = 1) or after max_sweeps (0).
 */
static uint64_t
ot_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

static int
cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

struct ot_state {
	uint32_t size, n;
	double *t;      /* n * size: t(k, e) at t[k * size + e] */
	double *price;
	double *v1, *v2; /* best and second best t * price per entry */
	int32_t *b1, *b2;
};

static void
ot_top2(struct ot_state *o, uint32_t e)
{
	uint32_t k;

	o->v1[e] = o->v2[e] = DBL_MAX;
	o->b1[e] = o->b2[e] = -1;
	for (k = 0; k < o->n; k++) {
		double v = o->t[(size_t)k * o->size + e] * o->price[k];

		if (v < o->v1[e]) {
			o->v2[e] = o->v1[e];
			o->b2[e] = o->b1[e];
			o->v1[e] = v;
			o->b1[e] = (int32_t)k;
		} else if (v < o->v2[e]) {
			o->v2[e] = v;
			o->b2[e] = (int32_t)k;
		}
	}
}

static struct cnm_pdt *
ot_build(uint32_t size, const struct cnm_pdt_member *m, uint32_t n, unsigned int max_sweeps,
		int *converged)
{
	struct ot_state o = { .size = size };
	uint32_t *quota = calloc(n ? n : 1, sizeof(*quota)), *idx = calloc(n ? n : 1, sizeof(*idx));
	uint32_t bits = 0, shift, mask = size - 1, i, k, e;
	double *r = calloc(size, sizeof(*r));
	unsigned int sweep;
	struct cnm_pdt *p;

	check(quota, "calloc");
	check(idx, "calloc");
	check(r, "calloc");
	cnm_pdt_quotas(size, m, n, quota);
	for (i = 0; i < n; i++)
		if (quota[i] > 0)
			idx[o.n++] = i;
	o.t = calloc((size_t)o.n * size, sizeof(*o.t));
	o.price = calloc(o.n ? o.n : 1, sizeof(*o.price));
	o.v1 = calloc(size, sizeof(double));
	o.v2 = calloc(size, sizeof(double));
	o.b1 = calloc(size, sizeof(int32_t));
	o.b2 = calloc(size, sizeof(int32_t));
	check(o.t, "calloc");
	check(o.price, "calloc");
	check(o.v1, "calloc");
	check(o.v2, "calloc");
	check(o.b1, "calloc");
	check(o.b2, "calloc");
	while ((UINT64_C(1) << bits) < size)
		bits++;
	shift = bits / 2 + 1;
	for (k = 0; k < o.n; k++) {
		const struct cnm_pdt_member *x = &m[idx[k]];
		uint64_t r1 = ot_mix(x->key ^ UINT64_C(0x5043db0c1d2e3f40));
		uint64_t r2 = ot_mix(x->key ^ UINT64_C(0x9e3779b97f4a7c15));
		uint32_t a0 = (uint32_t)r1, a1 = (uint32_t)(r2 >> 32), a2 = (uint32_t)r2;
		uint32_t m0 = (uint32_t)(r1 >> 16) | 1u, m1 = (uint32_t)(r2 >> 16) | 1u, j;
		double phase = (double)(uint32_t)(r1 >> 32) / 4294967296.0;

		for (j = 0; j < size; j++) {
			uint32_t y = j;

			/* docs/pdt.md's permutation, as pdt.c has it */
			y = ((y ^ a0) * m0) & mask;
			y ^= y >> shift;
			y = ((y + a1) * m1) & mask;
			y ^= y >> shift;
			y = ((y ^ a2) * m0) & mask;
			y ^= y >> shift;
			o.t[(size_t)k * size + y] = (j + phase) / x->weight;
		}
		o.price[k] = 1;
	}
	for (e = 0; e < size; e++)
		ot_top2(&o, e);
	*converged = 0;
	for (sweep = 0; sweep < max_sweeps && o.n > 1; sweep++) {
		int changed = 0;

		for (k = 0; k < o.n; k++) {
			uint32_t q = quota[idx[k]], held = 0;
			double hi, lo;

			/* member k wins e while price(k) < r[e] */
			for (e = 0; e < size; e++) {
				double other = o.b1[e] == (int32_t)k ? o.v2[e] : o.v1[e];

				r[e] = other / o.t[(size_t)k * size + e];
				held += o.b1[e] == (int32_t)k;
			}
			if (held == q)
				continue;
			qsort(r, size, sizeof(*r), cmp_desc);
			hi = r[q - 1];
			lo = q < size ? r[q] : 0;
			o.price[k] = (hi + lo) / 2;
			changed = 1;
			for (e = 0; e < size; e++) {
				double v = o.t[(size_t)k * size + e] * o.price[k];

				if (o.b1[e] == (int32_t)k || o.b2[e] == (int32_t)k) {
					ot_top2(&o, e);
				} else if (v < o.v1[e]) {
					o.v2[e] = o.v1[e];
					o.b2[e] = o.b1[e];
					o.v1[e] = v;
					o.b1[e] = (int32_t)k;
				} else if (v < o.v2[e]) {
					o.v2[e] = v;
					o.b2[e] = (int32_t)k;
				}
			}
		}
		if (!changed) {
			*converged = 1;
			break;
		}
	}
	if (o.n <= 1)
		*converged = 1;
	p = malloc(sizeof(*p) + (size_t)size * sizeof(p->entries[0]));
	check(p, "malloc");
	p->size = size;
	p->mask = mask;
	p->n_active = o.n;
	p->pad = 0;
	for (e = 0; e < size; e++)
		p->entries[e] = o.n > 0 ? m[idx[o.b1[e]]].node : CNM_NODE_NONE;
	free(quota);
	free(idx);
	free(r);
	free(o.t);
	free(o.price);
	free(o.v1);
	free(o.v2);
	free(o.b1);
	free(o.b2);
	return p;
}

/* Members holding other than their Hamilton quota (0: exact). */
static uint32_t
off_quota(const struct cnm_pdt *p, const struct cnm_pdt_member *m, uint32_t n)
{
	uint32_t *q = calloc(n ? n : 1, sizeof(*q)), i, off = 0;

	check(q, "calloc");
	cnm_pdt_quotas(p->size, m, n, q);
	for (i = 0; i < n; i++)
		off += cnm_pdt_count(p, m[i].node) != q[i];
	free(q);
	return off;
}

/* --variants: the same changes on cnm_pdt_build() and on ot_build(). */
static int
variants(unsigned int changes)
{
	static const struct {
		uint32_t size, n;
	} regimes[] = {
		{ 4096, 2 }, { 4096, 3 }, { 4096, 4 }, { 4096, 8 }, { 4096, 16 }, { 4096, 32 },
		{ 65536, 4 }, { 65536, 16 },
	};
	static struct cnm_pdt_member a[34], b[34];
	unsigned int k, w, c;

	printf("{\n  \"variants\": [\n");
	for (k = 0; k < sizeof(regimes) / sizeof(regimes[0]); k++) {
		uint32_t size = regimes[k].size, n = regimes[k].n;

		for (w = 0; w < 2; w++) {
			double sum[2] = { 0 }, worst[2] = { 0 };
			unsigned int counted = 0, unconverged = 0, off = 0, not_back = 0;
			unsigned int nc = size > 4096 ? (changes + 3) / 4 : changes;

			for (c = 0; c < nc; c++) {
				unsigned int kind = c % 4, v;
				uint32_t nb = n, x = rnd() % n, base = rnd(), i, mn;
				struct cnm_pdt *p[2], *q[2], *back;
				int conv[3];

				for (i = 0; i <= n; i++)
					set_member(&a[i], i, base + i, w ? 1 + rnd() % 100 : 1);
				memcpy(b, a, sizeof(b));
				if (kind == 0) {
					nb = n + 1;
				} else if (kind == 1) {
					b[x] = b[n - 1];
					nb = n - 1;
				} else if (kind == 2) {
					b[x].weight = 0;
				} else {
					do {
						b[x].weight = w ? 1 + rnd() % 100 : 2;
					} while (b[x].weight == a[x].weight);
				}
				p[0] = cnm_pdt_build(size, a, n);
				q[0] = cnm_pdt_build(size, b, nb);
				check(p[0], "cnm_pdt_build");
				check(q[0], "cnm_pdt_build");
				p[1] = ot_build(size, a, n, 2000, &conv[0]);
				q[1] = ot_build(size, b, nb, 2000, &conv[1]);
				back = ot_build(size, a, n, 2000, &conv[2]);
				unconverged += !conv[0] + !conv[1];
				off += off_quota(p[1], a, n) + off_quota(q[1], b, nb);
				not_back += cnm_pdt_moved(p[1], back);
				mn = min_moves(p[0], size, b, nb);
				/* the minimum from each construction's own first table */
				for (v = 0; v < 2; v++) {
					uint32_t mnv = v == 0 ? mn : min_moves(p[v], size, b, nb);
					double r = mnv ? (double)cnm_pdt_moved(p[v], q[v]) / mnv : 0;

					if (mn > 0 && mnv > 0) {
						sum[v] += r;
						if (r > worst[v])
							worst[v] = r;
					}
					cnm_pdt_free(p[v]);
					cnm_pdt_free(q[v]);
				}
				cnm_pdt_free(back);
				counted += mn > 0;
			}
			printf("    {\"size\": %u, \"nodes\": %u, \"weights\": \"%s\", \"changes\": %u, "
				"\"mean_ratio_current\": %.4f, \"worst_ratio_current\": %.4f, "
				"\"mean_ratio_market\": %.4f, \"worst_ratio_market\": %.4f, "
				"\"market_unconverged\": %u, \"market_off_quota\": %u, "
				"\"market_not_back\": %u}%s\n",
				size, n, w ? "1..100" : "equal", counted,
				counted ? sum[0] / counted : 0, worst[0], counted ? sum[1] / counted : 0,
				worst[1], unconverged, off, not_back,
				k + 1 == sizeof(regimes) / sizeof(regimes[0]) && w == 1 ? "" : ",");
			fflush(stdout);
		}
	}
	printf("  ]\n}\n");
	return 0;
}

int
main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	unsigned int runs = quick ? 5 : 200, r, k;
	static struct cnm_pdt_member m[1001], m2[1001];
	static double t[1000];
	static const struct {
		uint32_t size, n;
	} regimes[] = {
		{ 4096, 2 }, { 4096, 3 }, { 4096, 4 }, { 4096, 8 }, { 4096, 16 }, { 4096, 32 },
		{ 4096, 100 }, { 65536, 4 }, { 65536, 16 }, { 65536, 64 }, { 65536, 100 },
		{ 65536, 1000 },
	};
	uint64_t not_back = 0;
	struct cnm_pdt *p;
	uint32_t i, n;

	if (argc > 1 && strcmp(argv[1], "--variants") == 0) {
		char *end = NULL;
		unsigned long ch = argc > 2 ? strtoul(argv[2], &end, 10) : 100;

		if (argc > 2 && (*end != '\0' || ch == 0 || ch > 100000)) {
			fprintf(stderr, "pdt_bench: --variants CHANGES: a count 1..100000\n");
			return 2;
		}
		return variants((unsigned int)ch);
	}
	if (argc > 1 && strcmp(argv[1], "--large") == 0) {
		static const uint32_t large[][2] = {
			{ 16384, 8 }, { 65536, 16 }, { 262144, 32 }, { 1048576, 64 },
		};

		printf("{\n  \"disruption\": [\n");
		for (k = 0; k < 4; k++)
			for (i = 0; i < 2; i++)
				disruption(large[k][0], large[k][1], (int)i, 40, k == 3 && i == 1,
					   &not_back);
		printf("  ],\n  \"down_up_entries_not_back\": %" PRIu64 "\n}\n", not_back);
		return 0;
	}

	for (i = 0; i < 1001; i++)
		set_member(&m[i], i, i, 1 + rnd() % 100);
	printf("{\n");

	time_build("build_65536_1000", 65536, m, 1000, runs, t);
	time_build("build_4096_1000", 4096, m, 1000, runs, t);
	time_build("build_65536_16", 65536, m, 16, runs, t);
	time_build("build_4096_8", 4096, m, 8, runs, t);

	printf("  \"disruption\": [\n");
	for (k = 0; k < sizeof(regimes) / sizeof(regimes[0]); k++) {
		uint32_t size = regimes[k].size;
		unsigned int changes = quick ? 8 : size * regimes[k].n > 1000000 ? 100 : 400;
		int w;

		for (w = 0; w < 2; w++)
			disruption(size, regimes[k].n, w, changes,
				   k + 1 == sizeof(regimes) / sizeof(regimes[0]) && w == 1, &not_back);
	}
	printf("  ],\n");
	printf("  \"down_up_entries_not_back\": %" PRIu64 ",\n", not_back);

	/* balance over many weight sets */
	printf("  \"balance\": [\n");
	{
		static const uint32_t sizes[] = { 4096, 65536 };
		static const uint32_t wmax[] = { 1, 10, 100, 65535 };
		unsigned int s, w, sets = quick ? 10 : 200;

		for (s = 0; s < 2; s++) {
			for (w = 0; w < 4; w++) {
				double worst = 0, sum = 0;
				uint32_t worst_n = 0;

				for (r = 0; r < sets; r++) {
					double b;

					n = 2 + rnd() % 999;
					for (i = 0; i < n; i++)
						set_member(&m2[i], i, i, 1 + rnd() % wmax[w]);
					p = cnm_pdt_build(sizes[s], m2, n);
					check(p, "cnm_pdt_build");
					b = balance(p, m2, n);
					cnm_pdt_free(p);
					sum += b;
					if (b > worst) {
						worst = b;
						worst_n = n;
					}
				}
				printf("    {\"size\": %u, \"weights\": \"1..%u\", \"sets\": %u, "
					"\"nodes\": \"2..1000\", \"mean_max_share\": %.4f, "
					"\"worst_max_share\": %.4f, \"worst_nodes\": %u}%s\n",
					sizes[s], wmax[w], sets, sum / sets, worst, worst_n,
					s == 1 && w == 3 ? "" : ",");
			}
		}
	}
	printf("  ]\n}\n");
	return 0;
}
