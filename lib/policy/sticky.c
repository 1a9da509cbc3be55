/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sticky: client affinity over the listed ports. Keys (protocol, VIP, port)
 * in the first table; the client hash covers the source address only, so one
 * client reaches one node on every port of the group.
 */
#include "policy_private.h"

const struct cnm_policy_ops cnm_policy_sticky = {
	.name = "sticky",
	.help = "first table (protocol, VIP, port); hash of source address: one node per client",
	.id = CNM_POLICY_STICKY,
	.table = CNM_TABLE_PORT,
	.hash_port = 0,
};
