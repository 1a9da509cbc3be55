/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Load-balancing policies (patent FIG. 6 steps 605-607), one file each,
 * behind one ops table, looked up by name as IPVS looks up its schedulers.
 *
 * A policy says which service table its keys live in and what the client
 * hash covers. The data path never calls through the table: a service copies
 * the policy's fields into its hot cache line when it is created, so a
 * policy costs nothing per packet.
 *
 * Adding a policy: a file `lib/policy/<name>.c` defining one
 * `const struct cnm_policy_ops`, its line in the list in policy.c and in
 * `enum cnm_policy`, and its tests (tests/unit/policy_test.c).
 */
#ifndef CNM_POLICY_H
#define CNM_POLICY_H

#include <stdint.h>

/** Ids of the policies (the index in the registered list). */
enum cnm_policy {
	CNM_POLICY_WEIGHTED = 0,    /**< first table; hash source address + port */
	CNM_POLICY_STICKY = 1,      /**< first table; hash source address */
	CNM_POLICY_STICKY_WILD = 2, /**< second table (proto, addr); hash source address */
	CNM_POLICY_MAX,
};

/** Which service table holds a policy's keys (patent FIG. 7). */
enum cnm_policy_table {
	CNM_TABLE_PORT = 0, /**< the first table: (protocol, address, port); "ports" */
	CNM_TABLE_ADDR = 1, /**< the second table: (protocol, address); "protocols" */
};

/** What a policy is. */
struct cnm_policy_ops {
	const char *name;    /**< as written in the configuration */
	const char *help;    /**< one line for documentation and `--help` */
	uint8_t id;          /**< enum cnm_policy */
	/** enum cnm_policy_table */
	uint8_t table;
	/** 1: the client hash covers the source port too (one node per connection);
	 *  0: the source address only (one node per client) */
	uint8_t hash_port;
};

/** The policy named @p name, or NULL. */
const struct cnm_policy_ops *cnm_policy_find(const char *name);

/** The policy of id @p id (enum cnm_policy), or NULL. */
const struct cnm_policy_ops *cnm_policy_get(unsigned int id);

/** The names of every policy, quoted and separated as in an error message:
 *  "\"weighted\", \"sticky\" or \"sticky-wild\"". */
const char *cnm_policy_names(void);

#endif /* CNM_POLICY_H */
