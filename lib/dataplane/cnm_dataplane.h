/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The worker: one lcore per public RX queue. Per burst of up to 32 frames it
 * parses, looks the services up in bulk, decides, rewrites and transmits;
 * what TX does not take is freed and counted. It reports an RCU quiescent
 * state once per loop and never blocks.
 */
#ifndef CNM_DATAPLANE_H
#define CNM_DATAPLANE_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_ether.h>

#include "cnm_config.h"
#include "cnm_service.h"
#include "cnm_stats.h"

#define CNM_BURST 32
#define CNM_MAX_WORKERS 64

struct rte_mbuf;
struct rte_rcu_qsbr;

/** Ports and tables the workers share; read-only once they run. */
struct cnm_dp {
	struct cnm_lb *lb;
	struct rte_rcu_qsbr *qsbr;
	uint16_t pub_port;
	uint16_t n_private;
	uint16_t priv_port[CNM_MAX_PRIVATE];
	struct rte_ether_addr priv_mac[CNM_MAX_PRIVATE];
	int32_t local_port;          /**< -1: none */
	volatile int quit;           /**< set by the control lcore to stop workers */
};

/** Frames waiting for one TX queue during a burst. */
struct cnm_txbuf {
	uint16_t n;
	uint16_t port;
	uint16_t queue;
	struct rte_mbuf *m[CNM_BURST];
	uint16_t node[CNM_BURST];  /**< node id, or CNM_NODE_NONE for local */
	uint32_t len[CNM_BURST];
};

/** One worker. */
struct cnm_worker {
	struct cnm_wstats st;               /**< written by this worker only */
	const struct cnm_dp *dp;
	uint16_t id;                        /**< also its RCU thread id */
	uint16_t rxq;                       /**< its public RX queue */
	uint16_t txq;                       /**< its TX queue on every port */
	uint16_t poll_local;                /**< polls the local port's RX queue 0 */
	uint64_t last_rx_tsc;               /**< last burst that carried frames */
	struct cnm_txbuf priv[CNM_MAX_PRIVATE];
	struct cnm_txbuf local;
} __rte_cache_aligned;

/** Prepare a worker; 0 or -errno. */
int cnm_worker_init(struct cnm_worker *w, const struct cnm_dp *dp, uint16_t id);
void cnm_worker_fini(struct cnm_worker *w);

/** Handle one burst of frames received on the public port. */
void cnm_worker_burst(struct cnm_worker *w, struct rte_mbuf **pkts, uint16_t n);

/** lcore entry point (arg: struct cnm_worker *); returns when dp->quit is set. */
int cnm_worker_main(void *arg);

#endif /* CNM_DATAPLANE_H */
