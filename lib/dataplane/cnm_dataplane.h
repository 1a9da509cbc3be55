/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The worker: one lcore per public RX queue. Per burst of up to 32 frames it
 * parses, has the decision (cnm_decide.h) place them, hands them to their
 * node's forwarding method and transmits; what TX does not take is freed and
 * counted. It reports an RCU quiescent
 * state once per loop and never blocks.
 */
#ifndef CNM_DATAPLANE_H
#define CNM_DATAPLANE_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_ether.h>

#include "cnm_config.h"
#include "cnm_conntrack.h"
#include "cnm_decide.h"
#include "cnm_service.h"
#include "cnm_stats.h"

#define CNM_BURST 32
/** List positions a worker looks at per loop for a dump (DUMP, DISPLACED):
 * ~50 ns each when used, so a slice costs well under the time a 1,024-descriptor
 * RX ring takes to fill at 10 Mpps (~100 us). */
#define CNM_CONN_WALK_BUDGET 1024u
#define CNM_MAX_WORKERS 64

struct rte_mbuf;
struct rte_rcu_qsbr;
struct rte_ring;

/** Ports and tables the workers share; read-only once they run. */
struct cnm_dp {
	struct cnm_lb *lb;           /**< the tables: workers read only cnm_lb_view(lb) */
	struct rte_rcu_qsbr *qsbr;   /**< thread ids: 0..workers-1, then the control lcore */
	uint32_t qsbr_ctl;           /**< the control lcore's id: online only while it polls
					  the private ports (capture callbacks run there) */
	uint16_t pub_port;
	uint16_t n_private;
	uint16_t priv_port[CNM_MAX_PRIVATE];
	struct rte_ether_addr priv_mac[CNM_MAX_PRIVATE];
	int32_t local_port;          /**< -1: none */
	struct rte_ether_addr pub_mac;
	struct rte_ring *ctl_tx;     /**< frames of the control lcore; worker 0 sends them
					  on the port in mbuf->port */
	uint32_t conn_max;           /**< forwarding list entries per worker (IPv4); 0: none */
	uint32_t conn_max6;          /**< IPv6 entries per worker (with conn_max > 0) */
	struct cnm_ct_timeouts conn_timeouts;
	volatile int quit;           /**< set by the control lcore to stop workers */
};

/** One tracked connection, as dumped for `conns show`. */
struct cnm_conn_dump {
	struct cnm_conn_key key;
	struct cnm_conn conn;
};

/**
 * A request of the control lcore to a worker (the worker owns its list):
 * control fills the fields, then bumps seq (release); the worker answers
 * and sets done = seq (release). Nothing blocks on either side.
 */
struct cnm_conn_req {
	uint32_t seq;
	uint32_t done;
	uint8_t op;                  /**< enum cnm_conn_op */
	int32_t svc;                 /**< filter, -1 any */
	int32_t node;                /**< filter, -1 any */
	uint32_t max;
	uint32_t skip;               /**< dumps: leave out the first skip matches (a cursor) */
	uint32_t seen;               /**< worker side: matches met so far */
	uint32_t n;                  /**< out */
	uint32_t now;                /**< out: the worker's clock, ms */
	struct cnm_conn_dump *out;
	const struct cnm_conn_dump *in; /**< CNM_CONN_OP_INSERT: entries to add */
};

/** What a struct cnm_conn_req asks. */
enum cnm_conn_op {
	CNM_CONN_OP_DUMP = 0,      /**< copy entries (filters svc, node) into out */
	CNM_CONN_OP_DISPLACED,     /**< copy only entries whose node is not the one the
				        service's PDT picks now */
	CNM_CONN_OP_INSERT,        /**< add the max entries of in (established) that the
				        list does not have; n = how many were added */
	CNM_CONN_OP_LOOKUP,        /**< the entry of in[0].key into out[0] (n = 1), or
				        n = 0; the entry is not touched */
};

/** Frames waiting for one TX queue during a burst. The array first and the
 * whole five cache lines: a frame is queued at w + 320 x port + 8 x n,
 * without the multiply by 264 and the array's offset of before (one
 * instruction a frame less, docs/performance.md). */
struct cnm_txbuf {
	struct rte_mbuf *m[CNM_BURST];  /**< m->hash.usr: the frame's counter slot, or
					     TX_LOCAL for one not for a node (dataplane.c) */
	uint16_t n;
	uint16_t port;
	uint16_t queue;
} __rte_cache_aligned;

/** One worker. */
struct cnm_worker {
	struct cnm_wstats st;               /**< written by this worker only */
	const struct cnm_dp *dp;
	uint16_t id;                        /**< also its RCU thread id */
	uint16_t rxq;                       /**< its public RX queue */
	uint16_t txq;                       /**< its TX queue on every port */
	uint16_t poll_local;                /**< polls the local port's RX queue 0 */
	uint64_t last_rx_tsc;               /**< last burst that carried frames */
	uint64_t tsc_per_ms;
	uint32_t now_ms;                    /**< coarse clock of the forwarding list */
	uint32_t sweep_ms;                  /**< last expiry sweep */
	uint32_t sweep_budget;              /**< slots looked at per sweep */
	struct cnm_ct *ct;                  /**< its TCP forwarding list, NULL: none */
	struct cnm_dstate ds;               /**< what its decisions read and update */
	struct cnm_conn_req req;
	/* worker side of a request that walks the list: one slice per loop */
	uint32_t walk_seq;                  /**< the request being walked */
	uint32_t walk_pos;                  /**< next list position it looks at */
	uint32_t walk_budget;               /**< positions looked at per loop */
	uint8_t disp_clean;                 /**< a complete DISPLACED walk found none... */
	uint8_t walk_sc;                    /**< the walk met a second-chance window */
	uint64_t disp_gen;                  /**< ...at this cnm_lb_gen(): none since */
	uint64_t walk_gen;                  /**< cnm_lb_gen() when the walk began */
	struct cnm_txbuf priv[CNM_MAX_PRIVATE];
	uint64_t path_tx[CNM_MAX_PRIVATE];  /**< frames TX took per private path (to nodes;
						 counted per flush; read by lib/path) */
	struct cnm_txbuf local;
	struct cnm_txbuf pub;               /**< ARP and echo replies for VIPs */
} __rte_cache_aligned;

/** Prepare a worker; 0 or -errno. */
int cnm_worker_init(struct cnm_worker *w, const struct cnm_dp *dp, uint16_t id);
void cnm_worker_fini(struct cnm_worker *w);
/** A worker's own EAL memory (its struct, fragment and lookup-cache slots;
 * not its forwarding list), for cnm_config_mem(). */
uint64_t cnm_worker_memsize(void);

/** The worker's coarse millisecond clock (the forwarding list's "now"). */
uint32_t cnm_worker_clock(const struct cnm_worker *w);

/** Handle one burst of frames received on the public port. */
void cnm_worker_burst(struct cnm_worker *w, struct rte_mbuf **pkts, uint16_t n);

/**
 * Control side: ask worker @p w for up to @p max of its tracked connections
 * (filters: service id, node id, -1 any) and wait for the answer (at most a
 * second; the worker walks CNM_CONN_WALK_BUDGET positions of its list per
 * loop, so it answers within slots / budget loops). Returns how many were written
 * to @p out, or -ETIMEDOUT. @p now receives the worker's clock.
 */
int cnm_worker_conns_dump(struct cnm_worker *w, struct cnm_conn_dump *out, uint32_t max,
		int32_t svc, int32_t node, uint32_t *now);

/**
 * Control side: the connections of worker @p w that a PDT change displaced
 * (their node is not the one the PDT picks now), as cnm_worker_conns_dump().
 */
int cnm_worker_conns_displaced(struct cnm_worker *w, struct cnm_conn_dump *out, uint32_t max,
		uint32_t skip, uint32_t *now);

/**
 * Look connection @p k up in the worker's list without touching it: 1 with
 * the entry in *@p c, 0 when not held, -ETIMEDOUT. *@p now gets the
 * worker's clock.
 */
int cnm_worker_conn_lookup(struct cnm_worker *w, const struct cnm_conn_key *k,
		struct cnm_conn *c, uint32_t *now);

/**
 * Control side: have worker @p w add @p n connections to its list (the worker
 * stays its only writer), as established, with a fresh idle timeout; those it
 * has already are left alone. Returns how many were added, or -ETIMEDOUT.
 */
int cnm_worker_conns_insert(struct cnm_worker *w, const struct cnm_conn_dump *in, uint32_t n);

/** lcore entry point (arg: struct cnm_worker *); returns when dp->quit is set. */
int cnm_worker_main(void *arg);

/**
 * What one loop of cnm_worker_main() does for a pending request of the
 * control lcore (at most CNM_CONN_WALK_BUDGET list positions of a dump);
 * for tests. @return 1 while the request is still not answered.
 */
int cnm_worker_conn_serve(struct cnm_worker *w);

#endif /* CNM_DATAPLANE_H */
