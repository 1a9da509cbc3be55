/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The Prometheus endpoint (docs/metrics.md): `GET /metrics` over HTTP on
 * "metrics.listen", in the text exposition format (version 0.0.4), served
 * by libmicrohttpd on a thread of its own, never on a worker lcore.
 *
 * What it shows is one snapshot per scrape, taken by a callback of the
 * control loop under the control lock (the same lock telemetry and the
 * control socket read under, so a reload never runs half way through one):
 * the workers' per-lcore counters summed with relaxed loads, written out by
 * cnm_stats_json(), the one emitter of every output. The metric names are
 * the keys of that schema (`rx` is cnmux_rx_total, `drops.runt` is
 * cnmux_drops_total{reason="runt"}, ...). Counters here are monotonic:
 * `cnmuxctl zero` changes what the operator's outputs show, not these.
 */
#ifndef CNM_METRICS_H
#define CNM_METRICS_H

#include <stddef.h>

#include <jansson.h>

#include "cnm_config.h"

/** What the endpoint needs. */
struct cnm_metrics_conf {
	struct cnm_endpoint listen;     /**< address and TCP port to listen on */
	/**
	 * One snapshot for a scrape, on the endpoint's thread: {"stats":
	 * cnm_stats_json() of the totals (not zeroed), "services": {name:
	 * {"vip", "policy", "active_nodes"}}}. New reference; NULL: the
	 * scrape answers 503.
	 */
	json_t *(*snapshot)(void *arg);
	void *arg;
};

struct cnm_metrics;

/**
 * Listen on @p c->listen and serve /metrics from a thread of its own.
 * NULL with errno set when it cannot (address in use, not local, ...).
 */
struct cnm_metrics *cnm_metrics_start(const struct cnm_metrics_conf *c);

/**
 * Stop serving: waits for a scrape in progress, closes the socket. Before
 * what the snapshot callback reads is freed. NULL is a no-op.
 */
void cnm_metrics_stop(struct cnm_metrics *m);

/**
 * The text exposition of a snapshot (the shape cnm_metrics_conf.snapshot
 * returns): HELP and TYPE lines, then the samples, family by family.
 * malloc'ed, NUL-terminated, its length in @p len; NULL when out of memory.
 * Pure: the endpoint and the unit tests call it.
 */
char *cnm_metrics_render(const json_t *snap, size_t *len);

#endif /* CNM_METRICS_H */
