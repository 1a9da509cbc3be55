/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * DPDK telemetry commands under /cnmux/ (see docs/telemetry.md):
 *   /cnmux/stats              totals and drop reasons
 *   /cnmux/services           packets per service
 *   /cnmux/service,NAME       one service: vip, policy, ports, nodes, counters
 *   /cnmux/nodes              every node: ip, mac, state, counters
 *   /cnmux/node,NAME          one node
 *   /cnmux/pdt,NAME[,OFFSET]  a service's PDT: entries per node and 256 entries from OFFSET
 *   /cnmux/ha                 high availability: role, epoch, seq, digest, peers, rejections
 * Callbacks run on DPDK's telemetry thread; they only read, and take the
 * control lock (never held by a worker), so a request never stalls a worker.
 */
#ifndef CNM_TELEMETRY_H
#define CNM_TELEMETRY_H

#include <pthread.h>

#include "cnm_dataplane.h"

struct cnm_ha;

/** What telemetry reads. */
struct cnm_tel_ctx {
	struct cnm_lb *lb;
	struct cnm_wstats **stats;  /**< each worker's counters */
	unsigned int n_workers;
	pthread_mutex_t *ctl_lock;  /**< held by the control lcore while it changes tables */
	struct cnm_ha *ha;          /**< NULL without "ha" (set before the first request) */
};

/** Register every /cnmux/ command; 0 or -errno. */
int cnm_telemetry_init(struct cnm_tel_ctx *ctx);

#endif /* CNM_TELEMETRY_H */
