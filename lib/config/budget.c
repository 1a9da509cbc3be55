/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The memory budget of a configuration: what the whole of it will take
 * (PDTs, services, the tables, the forwarding lists of every worker, the
 * mbuf pool, the counters), estimated from the file and from where it runs
 * (struct cnm_mem_env), before anything is allocated. Pure arithmetic: no
 * EAL, no allocation, so --check-config, start-up, a reload and an HA state
 * use it alike (docs/config.md, "Memory").
 */
#include <stdint.h>
#include <string.h>

#include "cnm_config.h"

static struct cnm_mem_env env_set;
static int env_is_set;

void
cnm_config_set_env(const struct cnm_mem_env *env)
{
	if (env == NULL) {
		env_is_set = 0;
		return;
	}
	env_set = *env;
	env_is_set = 1;
}

const struct cnm_mem_env *
cnm_config_env(void)
{
	return env_is_set ? &env_set : NULL;
}

static uint64_t
pow2_up(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/*
 * DPDK 22.11 rte_cuckoo_hash.c, rte_hash_create(): entries + 1 key slots of
 * RTE_ALIGN(8 + key_len, 16) bytes; pow2(entries) / 8 buckets of 64 bytes,
 * as many extendable ones; the free-slot rings (4 bytes a slot, a power of
 * two); with @p lf_ext (the service tables), as many extendable buckets
 * and their ring, the buckets to free (4 bytes a slot) and the RCU defer
 * queue (16 bytes a slot, a power of two); without (a forwarding list),
 * none of these.
 */
uint64_t
cnm_hash_memsize(uint32_t entries, uint32_t key_len, int lf_ext)
{
	uint64_t slots = (uint64_t)entries + 1;
	uint64_t buckets = pow2_up(entries < 8 ? 8 : entries) / 8;
	uint64_t key_entry = (8 + (uint64_t)key_len + 15) / 16 * 16;
	uint64_t m = buckets * 64 + slots * key_entry + 4 * pow2_up(slots) + 4096;

	if (lf_ext)
		m += buckets * 64 + 4 * pow2_up(slots) + 4 * slots + 16 * pow2_up(slots);
	return m;
}

void
cnm_config_mem(const struct cnm_config *cfg, const struct cnm_mem_env *env,
		struct cnm_mem_estimate *e)
{
	static const struct cnm_mem_env none;
	uint32_t workers, i;

	if (env == NULL)
		env = &none;
	workers = env->workers ? env->workers : 1;
	memset(e, 0, sizeof(*e));
	for (i = 0; i < cfg->n_services; i++) {
		const struct cnm_cfg_service *s = &cfg->services[i];

		/* a PDT is 2 bytes an entry: the live one, the one a change
		 * builds before it is swapped in, a reload's trial copy */
		e->pdts += 3 * (64 + 2 * (uint64_t)s->pdt_size);
		/* its structure, its per-node slot map, members and ports,
		 * in the live tables and in a reload's trial copy */
		e->services += CNM_MEM_TABLE_COPIES * (env->service_heap +
			2u * CNM_MAX_NODES + 8u * (s->n_members + 1) + 4u * (s->n_ports + 1));
	}
	e->tables = CNM_MEM_TABLE_COPIES * (env->tables_eal + env->tables_heap);
	/* a forwarding list per worker, IPv4 and IPv6 connections */
	e->conntrack = workers * (env->ct_memsize != NULL ?
		env->ct_memsize(cfg->conn_max, cfg->conn_max6) :
		cnm_hash_memsize(cfg->conn_max, 40, 0) + cnm_hash_memsize(cfg->conn_max6, 40, 0));
	e->mbufs = env->mbufs * env->mbuf_bytes;
	e->workers = workers * (env->worker_eal + env->worker_heap) +
		CNM_MEM_TOTALS * env->totals_heap + env->eal_base;
	e->eal = CNM_MEM_TABLE_COPIES * env->tables_eal + e->conntrack + e->mbufs +
		workers * env->worker_eal + env->eal_base;
	e->total = e->pdts + e->services + e->tables + e->conntrack + e->mbufs + e->workers;
}
