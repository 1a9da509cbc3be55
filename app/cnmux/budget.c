/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The environment of the memory budget: what the EAL is given (its
 * arguments, read the way EAL reads them) and the sizes of cnmux's fixed
 * structures. No EAL call: --check-config runs without EAL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "budget.h"
#include "cnm_conntrack.h"
#include "cnm_dataplane.h"
#include "cnm_service.h"
#include "cnm_stats.h"

/* DPDK's memory with --no-huge and no -m (MEMSIZE_IF_NO_HUGE_PAGE) */
#define NO_HUGE_DEFAULT_MB 64u
/*
 * What the EAL takes besides cnmux's own allocations, measured on DPDK
 * 22.11 (telemetry /eal/memzone_list of a running cnmux): pdump's
 * statistics (4 MiB), the mbuf pool's header with the caches of every
 * possible lcore (1 MiB), the ports' data (0.2 MiB); rounded up.
 */
#define EAL_BASE_BYTES (6u << 20)

/* the value of option @p opt at argv[*i] ("-m 512", "-m512", "--socket-mem=a,b",
 * "--socket-mem a,b"); NULL when argv[*i] is not it */
static const char *
opt_value(int argc, char *const *argv, int *i, const char *opt)
{
	size_t n = strlen(opt);
	const char *a = argv[*i];

	if (strncmp(a, opt, n) != 0)
		return NULL;
	if (a[n] == '\0')
		return *i + 1 < argc ? argv[++*i] : NULL;
	if (a[n] == '=' || (opt[1] != '-' && a[n] != '\0'))
		return a + n + (a[n] == '=');
	return NULL;
}

/* how many lcores a list "0-3,5" or "0@1,(2-3)@4" names (counted from
 * its numbers and ranges before any '@') */
static uint32_t
count_list(const char *s)
{
	uint32_t n = 0;

	while (*s != '\0') {
		char *end;
		unsigned long a, b;

		if (*s == '(' || *s == ',' || *s == ')') {
			s++;
			continue;
		}
		if (*s == '@') { /* the CPUs of a mapping: not lcores */
			while (*s != '\0' && *s != ',')
				s++;
			continue;
		}
		errno = 0;
		a = strtoul(s, &end, 10);
		if (end == s || errno != 0)
			return 0;
		b = a;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				return 0;
		}
		n += (uint32_t)(b - a + 1);
		s = end;
	}
	return n;
}

/* the system's hugepages, in bytes (what EAL can take at most without -m),
 * and their size in @p page */
static uint64_t
hugepages(uint64_t *page)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long total = 0, kb = 0, v;
	char line[128];

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "HugePages_Total: %lu", &v) == 1)
			total = v;
		else if (sscanf(line, "Hugepagesize: %lu kB", &v) == 1)
			kb = v;
	}
	fclose(f);
	*page = (uint64_t)kb * 1024;
	return (uint64_t)total * kb * 1024;
}

void
cnm_eal_mem_args(int argc, char *const *argv, struct cnm_eal_mem *m)
{
	int i, no_huge = 0;
	uint64_t mb = 0;

	memset(m, 0, sizeof(*m));
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *v;

		if (strcmp(argv[i], "--no-huge") == 0) {
			no_huge = 1;
		} else if ((v = opt_value(argc, argv, &i, "--socket-mem")) != NULL) {
			const char *s = v;

			mb = 0;
			while (*s != '\0') {
				char *end;

				mb += strtoull(s, &end, 10);
				if (end == s)
					break;
				s = *end == ',' ? end + 1 : end;
			}
			snprintf(m->from, sizeof(m->from), "--socket-mem %s", v);
		} else if ((v = opt_value(argc, argv, &i, "--lcores")) != NULL) {
			m->lcores = count_list(v);
		} else if (strcmp(argv[i], "-m") == 0 || strncmp(argv[i], "-m", 2) == 0) {
			if ((v = opt_value(argc, argv, &i, "-m")) != NULL) {
				mb = strtoull(v, NULL, 10);
				snprintf(m->from, sizeof(m->from), "-m %s", v);
			}
		} else if (strncmp(argv[i], "-l", 2) == 0) {
			if ((v = opt_value(argc, argv, &i, "-l")) != NULL)
				m->lcores = count_list(v);
		} else if (strncmp(argv[i], "-c", 2) == 0) {
			if ((v = opt_value(argc, argv, &i, "-c")) != NULL)
				m->lcores = (uint32_t)__builtin_popcountll(strtoull(v, NULL, 16));
		}
	}
	m->page = 0;
	if (!no_huge)
		(void)hugepages(&m->page);
	if (m->page == 0)
		m->page = (uint64_t)sysconf(_SC_PAGESIZE);
	if (mb != 0) {
		m->bytes = mb << 20;
	} else if (no_huge) {
		m->bytes = (uint64_t)NO_HUGE_DEFAULT_MB << 20;
		snprintf(m->from, sizeof(m->from), "--no-huge without -m: DPDK's %u MiB",
			 NO_HUGE_DEFAULT_MB);
	} else {
		m->bytes = hugepages(&m->page);
		snprintf(m->from, sizeof(m->from), "the system's hugepages, no -m");
	}
}

void
cnm_mem_env_fill(struct cnm_mem_env *env, uint32_t workers, uint64_t mbufs,
		const struct cnm_eal_mem *eal)
{
	uint32_t sz = (uint32_t)sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE;
	uint64_t obj, page = eal->page ? eal->page : 4096;

	memset(env, 0, sizeof(*env));
	env->workers = workers;
	env->mbufs = mbufs;
	/* an object of the pool with its header and trailer; the pool puts no
	 * object across a page, so a page holds page / obj of them (4 KiB
	 * pages of --no-huge: one mbuf each); and its slot in the pool's ring
	 * (8 bytes, a power of two: 16 at most) */
	obj = rte_mempool_calc_obj_size(sz, 0, NULL);
	env->mbuf_bytes = (obj >= page ? obj : page / (page / obj)) + 16;
	env->eal_base = EAL_BASE_BYTES;
	env->eal_bytes = eal->bytes;
	env->eal_from = eal->from;
	cnm_lb_memsize(&env->tables_eal, &env->tables_heap, &env->service_heap);
	env->worker_eal = cnm_worker_memsize();
	env->worker_heap = cnm_wstats_memsize();
	env->totals_heap = sizeof(struct cnm_stats_total);
	env->ct_memsize = cnm_ct_memsize;
}
