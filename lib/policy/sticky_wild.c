/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sticky-wild: client affinity on every port of an address (patent FIG. 7
 * step 706, the second lookup). Keys (protocol, VIP) in the second table,
 * taken when the first table has no entry for the port; the client hash
 * covers the source address only.
 */
#include "policy_private.h"

const struct cnm_policy_ops cnm_policy_sticky_wild = {
	.name = "sticky-wild",
	.help = "second table (protocol, VIP), every port; hash of source address",
	.id = CNM_POLICY_STICKY_WILD,
	.table = CNM_TABLE_ADDR,
	.hash_port = 0,
};
