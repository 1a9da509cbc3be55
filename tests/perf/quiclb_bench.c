/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What routing one QUIC short-header packet by its connection ID costs
 * (lib/quiclb, docs/quic.md): cnm_quic_parse() of the UDP payload, then
 * cnm_quiclb_route() of its DCID (decode + server-ID lookup), over 1,024
 * different packets to 16 servers, for each way a CID can be built:
 *
 *   plaintext    server ID 3 + nonce 6, no cipher
 *   single_pass  server ID 8 + nonce 8: one AES-128 block (decrypt)
 *   four_pass_3  server ID 3 + nonce 6: the Feistel network, 3 passes
 *                (the server ID lies in the left half)
 *   four_pass_4  server ID 10 + nonce 5: 4 passes
 *   parse_only   cnm_quic_parse() alone, for reference
 *
 * Per case: TSC cycles per packet (median of 9 runs; rdtsc), nanoseconds
 * per packet, and user-space instructions per packet from the CPU's counter
 * (perf_event_open) where the machine lets us read it (null otherwise).
 * Printed as one JSON object.
 *
 *   quiclb_bench [--quick] [--case NAME --iters N]
 *
 * --case/--iters run one case once, with nothing else, for callgrind:
 *   valgrind --tool=callgrind --toggle-collect=bench_one quiclb_bench
 *            --case four_pass_4 --iters 100000
 * gives the instructions of N packets (callgrind_annotate's total).
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "cnm_quiclb.h"

#define N_PKTS 1024
#define N_SERVERS 16
#define PKT_LEN 64
#define RUNS 9

struct bench_case {
	const char *name;
	uint8_t sid_len, nonce_len, encrypted, route;
};

static const struct bench_case cases[] = {
	{ "parse_only", 3, 6, 0, 0 },
	{ "plaintext", 3, 6, 0, 1 },
	{ "single_pass", 8, 8, 1, 1 },
	{ "four_pass_3", 3, 6, 1, 1 },
	{ "four_pass_4", 10, 5, 1, 1 },
};

static uint8_t pkts[N_PKTS][PKT_LEN];
static uint64_t rng_state = 0x71756963;

static uint8_t
rnd8(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint8_t)((rng_state * UINT64_C(2685821657736338717)) >> 56);
}

static void
die(const char *what)
{
	fprintf(stderr, "quiclb_bench: %s\n", what);
	exit(1);
}

/* The context of a case and its 1,024 packets. */
static struct cnm_quiclb *
prepare(const struct bench_case *c)
{
	struct cnm_quiclb_conf conf;
	uint8_t sids[N_SERVERS][16], nonce[20];
	struct cnm_quiclb *q;
	unsigned int i, j;

	memset(&conf, 0, sizeof(conf));
	conf.server_id_len = c->sid_len;
	conf.nonce_len = c->nonce_len;
	conf.cid_len = (uint8_t)(1 + c->sid_len + c->nonce_len);
	conf.mode = c->encrypted ? CNM_QUICLB_ENCRYPTED : CNM_QUICLB_PLAINTEXT;
	for (i = 0; i < CNM_QUICLB_KEY_LEN; i++)
		conf.key[i] = rnd8();
	q = cnm_quiclb_create(&conf, 1, 1, N_SERVERS);
	if (q == NULL)
		die("cnm_quiclb_create failed");
	for (i = 0; i < N_SERVERS; i++) {
		for (j = 0; j < c->sid_len; j++)
			sids[i][j] = rnd8();
		sids[i][0] = (uint8_t)i; /* distinct */
		if (cnm_quiclb_add_server(q, 0, sids[i], c->sid_len, i) < 0)
			die("cnm_quiclb_add_server failed");
	}
	for (i = 0; i < N_PKTS; i++) {
		for (j = 0; j < PKT_LEN; j++)
			pkts[i][j] = rnd8();
		pkts[i][0] = 0x40 | (pkts[i][0] & 0x3f); /* short header, fixed bit */
		for (j = 0; j < c->nonce_len; j++)
			nonce[j] = rnd8();
		if (cnm_quiclb_encode(q, 0, 0, sids[i % N_SERVERS], c->sid_len, nonce,
				      c->nonce_len, rnd8(), NULL, pkts[i] + 1) < 0)
			die("cnm_quiclb_encode failed");
	}
	return q;
}

/* N packets through parse (+ route): the sum of their nodes (so nothing is elided). */
static __attribute__((noinline)) uint64_t
bench_one(const struct cnm_quiclb *q, const struct bench_case *c, uint64_t n)
{
	uint8_t cid_len = cnm_quiclb_cid_len(q);
	struct cnm_quic_hdr h;
	uint64_t i, sum = 0;
	uint32_t node;

	for (i = 0; i < n; i++) {
		const uint8_t *p = pkts[i & (N_PKTS - 1)];

		if (cnm_quic_parse(p, PKT_LEN, cid_len, &h) != CNM_QUIC_PARSE_OK)
			die("parse failed");
		if (!c->route) {
			sum += h.dcid_len + p[h.dcid_off];
			continue;
		}
		if (cnm_quiclb_route(q, 0, p + h.dcid_off, h.dcid_len, &node) != CNM_QUICLB_OK)
			die("route failed");
		sum += node;
	}
	return sum;
}

static int
perf_open(void)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.type = PERF_TYPE_HARDWARE;
	a.size = sizeof(a);
	a.config = PERF_COUNT_HW_INSTRUCTIONS;
	a.disabled = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	uint64_t iters = 2000000, sink = 0;
	const char *only = NULL;
	int i, fd = perf_open();
	size_t k;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			iters = 20000;
		} else if (strcmp(argv[i], "--case") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			iters = strtoull(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || iters == 0)
				die("--iters: a positive number");
		} else {
			fprintf(stderr, "usage: quiclb_bench [--quick] [--case NAME --iters N]\n");
			return 1;
		}
	}
	if (only != NULL) {
		for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			if (strcmp(cases[k].name, only) == 0) {
				struct cnm_quiclb *q = prepare(&cases[k]);

				sink = bench_one(q, &cases[k], iters);
				printf("{\"case\": \"%s\", \"iters\": %" PRIu64 ", \"sink\": %" PRIu64 "}\n",
				       only, iters, sink);
				cnm_quiclb_free(q);
				return 0;
			}
		}
		die("--case: parse_only, plaintext, single_pass, four_pass_3 or four_pass_4");
	}
	printf("{\n  \"packets_per_run\": %" PRIu64 ", \"runs\": %d,\n  \"cases\": {\n", iters, RUNS);
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct bench_case *c = &cases[k];
		struct cnm_quiclb *q = prepare(c);
		double cyc[RUNS], ns[RUNS], ins[RUNS];
		int r, have_ins = fd >= 0;

		sink += bench_one(q, c, iters / 10); /* warm the caches and the branch predictor */
		for (r = 0; r < RUNS; r++) {
			uint64_t t0, t1, n_ins = 0;
			double w0, w1;

			if (fd >= 0) {
				ioctl(fd, PERF_EVENT_IOC_RESET, 0);
				ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
			}
			w0 = now_ns();
			t0 = __rdtsc();
			sink += bench_one(q, c, iters);
			t1 = __rdtsc();
			w1 = now_ns();
			if (fd >= 0) {
				ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
				if (read(fd, &n_ins, sizeof(n_ins)) != (ssize_t)sizeof(n_ins))
					have_ins = 0;
			}
			cyc[r] = (double)(t1 - t0) / (double)iters;
			ns[r] = (w1 - w0) / (double)iters;
			ins[r] = (double)n_ins / (double)iters;
		}
		qsort(cyc, RUNS, sizeof(double), cmp_d);
		qsort(ns, RUNS, sizeof(double), cmp_d);
		qsort(ins, RUNS, sizeof(double), cmp_d);
		printf("    \"%s\": {\"sid_len\": %u, \"nonce_len\": %u, \"tsc_cycles\": %.1f, "
		       "\"tsc_cycles_min\": %.1f, \"ns\": %.2f, \"instructions\": ",
		       c->name, c->sid_len, c->nonce_len, cyc[RUNS / 2], cyc[0], ns[RUNS / 2]);
		if (have_ins)
			printf("%.1f}", ins[RUNS / 2]);
		else
			printf("null}");
		printf("%s\n", k + 1 < sizeof(cases) / sizeof(cases[0]) ? "," : "");
		cnm_quiclb_free(q);
	}
	printf("  },\n  \"sink\": %" PRIu64 "\n}\n", sink);
	if (fd >= 0)
		close(fd);
	return 0;
}
