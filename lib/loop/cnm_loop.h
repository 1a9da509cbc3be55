/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control loop: what the control (main) lcore does while the workers
 * forward. It owns the health checker, the control socket, high
 * availability and the /cnmux/ telemetry commands, and every millisecond or
 * so (sooner when a control client writes):
 *   - runs the path manager (lib/path: the private ports' link state every
 *     100 ms, its per-path reachability rounds);
 *   - reads the private ports' RX queue 0 (the nodes' ARP replies) while the
 *     health checker or the path manager needs it, and runs its tick;
 *   - serves high availability and the control socket;
 *   - reloads on SIGHUP; prints the report every --stats-period;
 *   - reads the totals every CNM_LOOP_RATE_MS for the rates (`stats rate`,
 *     /cnmux/rates, --stats-period) and looks at them for what an operator
 *     must see (watch.h: a service with no node, an unresolved node, a full
 *     forwarding list; logged at a bounded rate); serves /metrics
 *     ("metrics") from a thread of its own;
 *   - returns on SIGINT or SIGTERM, or when nothing has arrived for
 *     --idle-exit milliseconds.
 * A new configuration (reload, SIGHUP, a change through the socket, one
 * from the HA primary) reaches the health checker once, when it is
 * committed; the data path's switches are set by the reload itself
 * (lib/control), not on every tick.
 */
#ifndef CNM_LOOP_H
#define CNM_LOOP_H

#include <pthread.h>
#include <stdint.h>

#include "cnm_config.h"
#include "cnm_dataplane.h"
#include "cnm_stats.h"

/**
 * The rates' window: the control loop reads the totals this often and a
 * rate is the difference of the two last readings over the time between
 * them (docs/metrics.md).
 */
#define CNM_LOOP_RATE_MS 1000u

struct rte_mempool;

/** What the loop works with: main.c fills it once the workers exist. */
struct cnm_loop_conf {
	struct cnm_dp *dp;              /**< ports, tables, the control ring */
	struct cnm_worker **workers;    /**< n_workers of them, not launched yet */
	unsigned int n_workers;
	struct rte_mempool *pool;       /**< mbufs of the control frames; counted in the stats */
	struct cnm_config *cfg;         /**< the start-up configuration: the loop owns it
					     once created (a reload replaces it) */
	const char *config_path;        /**< the file a reload reads */
	pthread_mutex_t *ctl_lock;      /**< held around every change of the tables */
	uint64_t idle_exit_ms;          /**< 0: never */
	uint64_t stats_period_s;        /**< 0: never */
};

struct cnm_loop;

/**
 * Create the health checker, the control socket (when the configuration
 * names one) and the high-availability holder (when it has "ha"), register
 * the telemetry commands and the signal handlers (SIGINT, SIGTERM: stop;
 * SIGHUP: reload). Prints why on failure and returns NULL; @p c->cfg is then
 * still the caller's.
 */
struct cnm_loop *cnm_loop_create(const struct cnm_loop_conf *c);

/**
 * Run until SIGINT or SIGTERM, or until no frame has arrived for
 * idle_exit_ms. Call once the workers are launched. Returns the signal that
 * stopped it, or 0 for --idle-exit.
 */
int cnm_loop_run(struct cnm_loop *l);

/**
 * The totals every output shows: the workers' sum with the bases of reused
 * slots taken off, and the CNM_STATS_MORE fields (the public port's
 * counters, the mbuf pool, the health checker, elapsed_ms since
 * cnm_loop_run() started), counted from the last `cnmuxctl zero`. Control
 * lcore (or with ctl_lock held).
 */
void cnm_loop_totals(struct cnm_loop *l, struct cnm_stats_total *t);

/**
 * Stop answering telemetry, close the control socket and the HA
 * connections, free the health checker and the running configuration.
 * Call after the workers have stopped. NULL is a no-op.
 */
void cnm_loop_free(struct cnm_loop *l);

#endif /* CNM_LOOP_H */
