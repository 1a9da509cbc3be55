/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Packet distribution table (PDT, patent element 304): an array of node ids,
 * one array per service group. A node's weight is how many entries it holds.
 *
 * Pure code (libc only). Building is deterministic: the same members, weights
 * and size give a byte-identical table on every machine. Updating an existing
 * table moves only the entries that must change owner.
 */
#ifndef CNM_PDT_H
#define CNM_PDT_H

#include <stdint.h>

#define CNM_NODE_NONE 0xffffu /**< entry of a PDT whose group has no active node */

/** A PDT. Read lock-free by the workers; replaced as a whole under RCU. */
struct cnm_pdt {
	uint32_t size;      /**< number of entries, a power of two */
	uint32_t mask;      /**< size - 1 */
	uint32_t n_active;  /**< nodes holding at least one entry */
	uint32_t pad;
	uint16_t entries[]; /**< node id per entry, CNM_NODE_NONE when n_active == 0 */
};

/** A node and its weight, as input to the PDT builder. */
struct cnm_pdt_member {
	uint16_t node;   /**< node id (< CNM_NODE_NONE) */
	uint32_t weight; /**< 0 = no entries */
};

/**
 * Quotas: how many entries each member gets. Entry counts are
 * floor(size * w / W) plus one for the members with the largest remainders
 * (ties broken by lower node id), so each member holds within one entry of
 * size * w / W. All weights 0: all quotas 0.
 *
 * @param quota  out, n elements, in the order of @p m
 */
void cnm_pdt_quotas(uint32_t size, const struct cnm_pdt_member *m, uint32_t n,
		uint32_t *quota);

/**
 * Build a new table from nothing. Returns NULL (errno set) when size is not a
 * power of two, a node id repeats or is CNM_NODE_NONE (EINVAL), or memory
 * runs out (ENOMEM). Free with cnm_pdt_free().
 */
struct cnm_pdt *cnm_pdt_build(uint32_t size, const struct cnm_pdt_member *m, uint32_t n);

/**
 * Build the table that follows @p old when the members or weights change:
 * an entry keeps its node unless that node is gone or holds more than its new
 * quota; the freed entries go to the nodes under quota. The number of entries
 * that change owner is the minimum the quota change requires. @p old may have a
 * different size: then this is cnm_pdt_build(). Returns NULL (errno set) on error.
 */
struct cnm_pdt *cnm_pdt_update(const struct cnm_pdt *old, uint32_t size,
		const struct cnm_pdt_member *m, uint32_t n);

/**
 * Entries whose owner differs between two tables of the same size. Tables
 * of different sizes (or NULL, size 0): the larger size, every entry moved.
 */
uint32_t cnm_pdt_moved(const struct cnm_pdt *a, const struct cnm_pdt *b);

/** Number of entries @p node holds. */
uint32_t cnm_pdt_count(const struct cnm_pdt *p, uint16_t node);

void cnm_pdt_free(struct cnm_pdt *p);

#endif /* CNM_PDT_H */
