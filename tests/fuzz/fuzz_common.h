/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers shared by the libFuzzer targets: EAL without hugepages, and a
 * checker of the invariants that the service tables must keep whatever
 * happened to them. Every violation abort()s, so that libFuzzer reports it
 * with the input that caused it.
 */
#ifndef CNM_FUZZ_COMMON_H
#define CNM_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "cnm_pdt.h"
#include "cnm_service.h"

#define FUZZ_DIM(a) (sizeof(a) / sizeof((a)[0]))

/* abort() with a message naming the broken invariant. */
#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/*
 * Bring EAL up once: no hugepages, no PCI, no shared config, one lcore,
 * a file prefix of our own so that -jobs=N processes never share one
 * (--in-memory would be nicer, but EAL refuses it with --no-huge, which
 * implies --legacy-mem).
 * EAL permutes argv and keeps pointers into it: writable copies that live
 * as long as the process.
 */
static inline void
fuzz_eal_up(const char *prog)
{
	static char buf[16][64];
	static char *argv[17];
	const char *slash = strrchr(prog, '/');
	const char *args[] = {
		slash != NULL ? slash + 1 : prog, "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
		"--log-level", "error", "-l", "0", "--file-prefix", NULL,
	};
	char prefix[32];
	unsigned int i, n = 0;

	snprintf(prefix, sizeof(prefix), "fuzz%ld", (long)getpid());
	args[FUZZ_DIM(args) - 1] = prefix;
	for (i = 0; i < FUZZ_DIM(args); i++) {
		snprintf(buf[n], sizeof(buf[n]), "%s", args[i]);
		argv[n] = buf[n];
		n++;
	}
	argv[n] = NULL;
	if (rte_eal_init((int)n, argv) < 0) {
		fprintf(stderr, "%s: rte_eal_init: %s\n", prog, rte_strerror(rte_errno));
		exit(1);
	}
}

/* Is @p node a member of @p s with a weight above 0? */
static inline int
fuzz_member_weighted(const struct cnm_cfg_service *s, uint32_t node)
{
	uint32_t i;

	for (i = 0; i < s->n_members; i++)
		if (s->members[i].node == node)
			return s->members[i].weight > 0;
	return 0;
}

/*
 * The tables as the workers would see them: every PDT is complete, of its
 * configured size, and names only nodes that are used, up and members of the
 * group with a weight above 0; n_active is right; no group lists a node twice.
 */
static inline void
fuzz_check_lb(const struct cnm_lb *lb)
{
	uint32_t i, j, k;

	const struct cnm_lb_view *v = cnm_lb_view(lb);
	uint32_t n_nodes = cnm_lb_node_end(lb), n_svc = cnm_lb_svc_end(lb);
	int32_t def = cnm_lb_default_node(lb);

	FUZZ_CHECK(n_nodes <= CNM_MAX_NODES);
	FUZZ_CHECK(n_svc <= CNM_MAX_SERVICES);
	FUZZ_CHECK(def >= -1 && def < (int32_t)n_nodes);
	if (def >= 0)
		FUZZ_CHECK(cnm_lb_node(lb, (uint32_t)def)->used);
	for (i = n_nodes; i < CNM_MAX_NODES; i++)
		FUZZ_CHECK(!cnm_lb_node(lb, i)->used);
	for (i = 0; i < n_nodes; i++) {
		const struct cnm_node *nd = cnm_lb_node(lb, i);

		if (nd->up)
			FUZZ_CHECK(nd->used && nd->mac != 0);
	}
	for (i = 0; i < n_svc; i++) {
		const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, i);
		const struct cnm_pdt *pdt;
		uint8_t seen[CNM_MAX_NODES];
		uint32_t n_active = 0;

		if (s == NULL)
			continue;
		FUZZ_CHECK(v->svc[i] != NULL && v->svc[i]->id == i);
		pdt = cnm_lb_svc_pdt(lb, i);
		FUZZ_CHECK(pdt != NULL && pdt == v->svc[i]->pdt);
		FUZZ_CHECK(pdt->size == cnm_lb_svc_pdt_size(lb, i));
		FUZZ_CHECK(pdt->size >= CNM_PDT_SIZE_MIN && pdt->size <= CNM_PDT_SIZE_MAX);
		FUZZ_CHECK((pdt->size & (pdt->size - 1)) == 0 && pdt->mask == pdt->size - 1);
		for (j = 0; j < s->n_members; j++) {
			FUZZ_CHECK(s->members[j].node < n_nodes);
			FUZZ_CHECK(cnm_lb_node(lb, s->members[j].node)->used);
			for (k = 0; k < j; k++)
				FUZZ_CHECK(s->members[k].node != s->members[j].node);
		}
		memset(seen, 0, sizeof(seen));
		for (j = 0; j < pdt->size; j++) {
			uint16_t e = pdt->entries[j];

			if (e == CNM_NODE_NONE) {
				FUZZ_CHECK(pdt->n_active == 0);
				continue;
			}
			FUZZ_CHECK(e < n_nodes);
			FUZZ_CHECK(cnm_lb_node(lb, e)->used && cnm_lb_node(lb, e)->up);
			FUZZ_CHECK(fuzz_member_weighted(s, e));
			if (!seen[e]) {
				seen[e] = 1;
				n_active++;
			}
		}
		FUZZ_CHECK(n_active == pdt->n_active);
		/* a group with an eligible member must use it */
		for (j = 0; j < s->n_members; j++) {
			const struct cnm_node *nd = cnm_lb_node(lb, s->members[j].node);

			if (nd->used && nd->up && s->members[j].weight > 0)
				FUZZ_CHECK(pdt->n_active > 0);
		}
	}
}

#endif /* CNM_FUZZ_COMMON_H */
