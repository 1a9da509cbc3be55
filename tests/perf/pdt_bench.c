/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PDT control-plane figures (issue 7), printed as one JSON object:
 *
 *  - build: cnm_pdt_build() of 65,536 entries over 1,000 nodes with random
 *    weights (and 4,096 over 1,000), median / min / max of many runs;
 *  - update: cnm_pdt_update() of that table when one node is added, one
 *    removed, one reweighted;
 *  - disruption: entries that change owner (cnm_pdt_moved) when one node of N
 *    equal nodes is added or removed, against the minimum any table with
 *    the new quotas allows (sum over members of max(0, new quota - entries
 *    held before)), for N = 2 .. 1000, and with random weights;
 *  - balance: for many random weight sets, the largest entries/ideal over
 *    the members (ideal = size * w / W), 4,096 and 65,536 entries.
 *
 * pdt_bench [--quick]   (--quick: fewer runs, for the test suite)
 */
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

int
main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	unsigned int runs = quick ? 5 : 200, r, k;
	static struct cnm_pdt_member m[1001], m2[1001];
	static double t[1000];
	static const uint32_t ns[] = { 2, 3, 4, 5, 7, 8, 10, 16, 20, 32, 50, 64, 100, 128, 200,
		256, 500, 512, 1000 };
	struct cnm_pdt *p, *q;
	uint32_t i, n;

	for (i = 0; i < 1001; i++) {
		m[i].node = (uint16_t)i;
		m[i].weight = 1 + rnd() % 100;
	}
	printf("{\n");

	/* build, 65,536 and 4,096 entries over 1,000 nodes */
	for (r = 0; r < runs; r++) {
		double t0 = now_s();

		p = cnm_pdt_build(65536, m, 1000);
		t[r] = now_s() - t0;
		check(p, "cnm_pdt_build");
		cnm_pdt_free(p);
	}
	print_timing("build_65536_1000", summarize(t, runs), 0);
	for (r = 0; r < runs; r++) {
		double t0 = now_s();

		p = cnm_pdt_build(4096, m, 1000);
		t[r] = now_s() - t0;
		check(p, "cnm_pdt_build");
		cnm_pdt_free(p);
	}
	print_timing("build_4096_1000", summarize(t, runs), 0);

	/* updates of the 65,536 / 1,000 table */
	p = cnm_pdt_build(65536, m, 1000);
	check(p, "cnm_pdt_build");
	for (r = 0; r < runs; r++) { /* add node 1000 */
		double t0 = now_s();

		q = cnm_pdt_update(p, 65536, m, 1001);
		t[r] = now_s() - t0;
		check(q, "cnm_pdt_update");
		cnm_pdt_free(q);
	}
	print_timing("update_add_one_65536_1000", summarize(t, runs), 0);
	for (r = 0; r < runs; r++) { /* remove node 999 */
		double t0 = now_s();

		q = cnm_pdt_update(p, 65536, m, 999);
		t[r] = now_s() - t0;
		check(q, "cnm_pdt_update");
		cnm_pdt_free(q);
	}
	print_timing("update_remove_one_65536_1000", summarize(t, runs), 0);
	memcpy(m2, m, sizeof(m2));
	m2[500].weight *= 2;
	for (r = 0; r < runs; r++) { /* reweight node 500 */
		double t0 = now_s();

		q = cnm_pdt_update(p, 65536, m2, 1000);
		t[r] = now_s() - t0;
		check(q, "cnm_pdt_update");
		cnm_pdt_free(q);
	}
	print_timing("update_reweight_one_65536_1000", summarize(t, runs), 0);
	cnm_pdt_free(p);

	/* disruption: add / remove one node of N */
	printf("  \"disruption\": [\n");
	for (k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		static const uint32_t sizes[] = { 4096, 65536 };
		unsigned int s, rw;

		n = ns[k];
		for (s = 0; s < 2; s++) {
			for (rw = 0; rw < 2; rw++) {
				uint32_t size = sizes[s], mv_add, min_add, mv_rm, min_rm;

				for (i = 0; i <= n; i++) {
					m2[i].node = (uint16_t)i;
					m2[i].weight = rw ? 1 + rnd() % 100 : 1;
				}
				p = cnm_pdt_build(size, m2, n);
				check(p, "cnm_pdt_build");
				q = cnm_pdt_update(p, size, m2, n + 1); /* add node n */
				check(q, "cnm_pdt_update");
				mv_add = cnm_pdt_moved(p, q);
				min_add = min_moves(p, size, m2, n + 1);
				cnm_pdt_free(q);
				/* remove node 0 (the members after it keep their ids) */
				q = cnm_pdt_update(p, size, m2 + 1, n - 1);
				check(q, "cnm_pdt_update");
				mv_rm = cnm_pdt_moved(p, q);
				min_rm = min_moves(p, size, m2 + 1, n - 1);
				cnm_pdt_free(q);
				cnm_pdt_free(p);
				printf("    {\"n\": %u, \"size\": %u, \"weights\": \"%s\", \"add_moved\": %u, "
					"\"add_min\": %u, \"remove_moved\": %u, \"remove_min\": %u}%s\n",
					n, size, rw ? "random" : "equal", mv_add, min_add, mv_rm, min_rm,
					k + 1 == sizeof(ns) / sizeof(ns[0]) && s == 1 && rw == 1 ? "" : ",");
			}
		}
	}
	printf("  ],\n");

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
					for (i = 0; i < n; i++) {
						m2[i].node = (uint16_t)i;
						m2[i].weight = 1 + rnd() % wmax[w];
					}
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
		/* and with few nodes, as most services have */
		printf("  ],\n  \"balance_few_nodes\": [\n");
		for (s = 0; s < 2; s++) {
			double worst = 0, sum = 0;

			for (r = 0; r < sets; r++) {
				double b;

				n = 2 + rnd() % 15;
				for (i = 0; i < n; i++) {
					m2[i].node = (uint16_t)i;
					m2[i].weight = 1 + rnd() % 100;
				}
				p = cnm_pdt_build(sizes[s], m2, n);
				check(p, "cnm_pdt_build");
				b = balance(p, m2, n);
				cnm_pdt_free(p);
				sum += b;
				if (b > worst)
					worst = b;
			}
			printf("    {\"size\": %u, \"weights\": \"1..100\", \"sets\": %u, "
				"\"nodes\": \"2..16\", \"mean_max_share\": %.5f, \"worst_max_share\": %.5f}%s\n",
				sizes[s], sets, sum / sets, worst, s == 1 ? "" : ",");
		}
	}
	printf("  ]\n}\n");
	return 0;
}
