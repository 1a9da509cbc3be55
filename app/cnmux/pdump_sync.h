/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef CNM_PDUMP_SYNC_H
#define CNM_PDUMP_SYNC_H

struct rte_rcu_qsbr;

/**
 * The RCU state of every lcore that polls a port (workers, and the control
 * lcore while it reads the private ports): a reply to a capture tool's
 * request waits for it to pass a grace period. NULL: replies go out at once
 * (before the lcores run, and from the teardown on).
 */
void cnm_pdump_sync_set(struct rte_rcu_qsbr *qsbr);

#endif
