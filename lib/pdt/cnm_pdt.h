/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Packet distribution table (PDT, patent element 304): an array of node ids,
 * one array per service group. A node's weight is how many entries it holds.
 *
 * Pure code (libc only). The table is a function of its size and of the
 * members' keys (cnm_pdt_key(): the service name and the node name) and
 * weights alone: not of the node ids (they are only written into the
 * entries), not of the order of the members, not of any earlier table. Two
 * machines with the same configuration therefore hold the same table, entry
 * by entry by node name, and a node that leaves and comes back gets the very
 * entries it had. See docs/pdt.md for the construction and its measured
 * disruption.
 */
#ifndef CNM_PDT_H
#define CNM_PDT_H

#include <stdint.h>

#define CNM_NODE_NONE 0xffffu /**< entry of a PDT whose group has no active node */
/** entry of a kept (second chance) version whose node was removed since (lib/service) */
#define CNM_NODE_GONE 0xfffeu

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
	uint16_t node;   /**< node id written into the entries (< CNM_NODE_NONE) */
	uint32_t weight; /**< 0 = no entries */
	uint64_t key;    /**< cnm_pdt_key(service, node name): decides which entries */
};

/**
 * The key of node @p node in service @p service: FNV-1a 64 over the service
 * name, one zero byte and the node name, then the splitmix64 finalizer. The
 * same names give the same key on every machine.
 */
uint64_t cnm_pdt_key(const char *service, const char *node);

/**
 * Quotas: how many entries each member gets. Entry counts are
 * floor(size * w / W) plus one for the members with the largest remainders
 * (ties broken by lower key, then lower index), so each member holds within
 * one entry of size * w / W. All weights 0: all quotas 0.
 *
 * @param quota  out, n elements, in the order of @p m
 */
void cnm_pdt_quotas(uint32_t size, const struct cnm_pdt_member *m, uint32_t n,
		uint32_t *quota);

/**
 * Build the table of these members. Returns NULL (errno set) when size is not
 * a power of two, a node id repeats or is CNM_NODE_NONE, a key repeats
 * (EINVAL), or memory runs out (ENOMEM). Free with cnm_pdt_free().
 */
struct cnm_pdt *cnm_pdt_build(uint32_t size, const struct cnm_pdt_member *m, uint32_t n);

/**
 * Entries whose owner differs between two tables of the same size. Tables
 * of different sizes (or NULL, size 0): the larger size, every entry moved.
 */
uint32_t cnm_pdt_moved(const struct cnm_pdt *a, const struct cnm_pdt *b);

/** Number of entries @p node holds. */
uint32_t cnm_pdt_count(const struct cnm_pdt *p, uint16_t node);

void cnm_pdt_free(struct cnm_pdt *p);

#endif /* CNM_PDT_H */
