/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Where cnmux runs, for the memory budget of its configuration
 * (cnm_config_mem(), docs/config.md "Memory"): the memory the EAL is given,
 * read from the EAL arguments, and the sizes of cnmux's own structures.
 */
#ifndef CNM_APP_BUDGET_H
#define CNM_APP_BUDGET_H

#include <stdint.h>

#include "cnm_config.h"

/** What the EAL arguments say of memory and lcores. */
struct cnm_eal_mem {
	uint64_t bytes;      /**< memory the EAL gets; 0: unknown */
	char from[96];       /**< how that is known, for messages ("-m 512") */
	uint32_t lcores;     /**< lcores of -l / --lcores / -c; 0: not given */
	uint64_t page;       /**< page size of the EAL's memory: 4 KiB with --no-huge,
				  else the hugepage size */
};

/**
 * Read the EAL arguments of @p argv (up to "--"): -m, --socket-mem,
 * --no-huge (64 MiB without -m, DPDK's default), else the system's
 * hugepages (/proc/meminfo); -l, --lcores, -c for the lcores.
 */
void cnm_eal_mem_args(int argc, char *const *argv, struct cnm_eal_mem *m);

/**
 * Fill @p env for @p workers workers and a pool of @p mbufs mbufs, with
 * @p eal from cnm_eal_mem_args() (its from string is pointed to, not copied).
 */
void cnm_mem_env_fill(struct cnm_mem_env *env, uint32_t workers, uint64_t mbufs,
		const struct cnm_eal_mem *eal);

#endif /* CNM_APP_BUDGET_H */
