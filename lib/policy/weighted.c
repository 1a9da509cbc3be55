/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * weighted: the claim's "weighted load balancing". Keys (protocol, VIP, port)
 * in the first table; the client hash covers the source address and port, so
 * each connection is placed on its own and a node's share of connections is
 * its share of PDT entries.
 */
#include "policy_private.h"

const struct cnm_policy_ops cnm_policy_weighted = {
	.name = "weighted",
	.help = "first table (protocol, VIP, port); hash of source address and port",
	.id = CNM_POLICY_WEIGHTED,
	.table = CNM_TABLE_PORT,
	.hash_port = 1,
};
