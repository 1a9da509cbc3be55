/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * DPDK telemetry commands under /cnmux/ (see docs/telemetry.md):
 *   /cnmux/stats              every counter: cnm_stats_json(), the keys of
 *                             `cnmuxctl stats` and --stats-json; what nests
 *                             below a container is flattened ("web/packets");
 *                             whole services and nodes while the reply has
 *                             room, "omitted" counting the rest
 *   /cnmux/rates              the keys of /cnmux/stats per second over the
 *                             control loop's last interval ("interval_ms")
 *   /cnmux/services[,OFFSET]  the "services" member of /cnmux/stats, a page
 *                             from OFFSET ("more/offset": the next one)
 *   /cnmux/service,NAME       one service: vip, policy, ports, weights, counters
 *                             (past 256 nodes: "weights_omitted")
 *   /cnmux/nodes[,OFFSET]     the nodes: ip, mac, state, counters; a page
 *   /cnmux/node,NAME          one node
 *   /cnmux/pdt,NAME[,OFFSET]  a service's PDT: entries per node (past 256 nodes:
 *                             "entries_per_node_omitted") and 256 entries from OFFSET
 *   /cnmux/ha                 high availability: role, epoch, seq, digest, peers, rejections
 * A name's '-' and '.' are '_' in a key (DPDK takes no other).
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
	/**
	 * Fill the CNM_STATS_MORE fields of the totals (the ports', the mbuf
	 * pool's, the health checker's); called with ctl_lock held, on the
	 * telemetry thread. NULL: they stay 0.
	 */
	void (*more_stats)(void *arg, struct cnm_stats_total *t);
	void *more_stats_arg;
	/**
	 * /cnmux/rates: the keys of /cnmux/stats per second, plus
	 * "interval_ms"; called with ctl_lock held. NULL: -ENOMEM.
	 */
	json_t *(*rates)(void *arg);
	void *rates_arg;
	/** /cnmux/paths: as `cnmuxctl path show`; called with ctl_lock held. NULL: -ENOTSUP. */
	json_t *(*paths)(void *arg);
	void *paths_arg;
};

/** Register every /cnmux/ command; 0 or -errno. @p ctx must live until cnm_telemetry_stop(). */
int cnm_telemetry_init(struct cnm_tel_ctx *ctx);

/**
 * From now on the commands answer -ENODEV without reading the context
 * (DPDK cannot unregister them); waits for one in progress (it holds
 * ctx->ctl_lock). Before the context and what it points to are freed.
 */
void cnm_telemetry_stop(void);

#endif /* CNM_TELEMETRY_H */
