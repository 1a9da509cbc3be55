/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The path manager (EP 1 117 222 A1 [0035], [0078]): the redundant private
 * paths (one per private port), which of them are up, and the spreading of
 * every node's frames over those that are.
 *
 * Runs on the control lcore, from the control loop's tick:
 *   - every 100 ms, each private port's link state (rte_eth_link_get_nowait());
 *   - every interval_ms, a reachability round per path with link: an ARP
 *     request (IPv4) or a neighbour solicitation (IPv6) for each probed
 *     node's next hop (the node, or its tunnel's gateway), sent on that path
 *     from that port's MAC; an answer that arrives on the same path, to that
 *     port's MAC, from a probed address counts for the path;
 *   - a path goes out when its link is down, or when rounds rounds in a row
 *     got no answer; it comes back with link and rise answered rounds;
 *   - the set of paths up goes to the tables (cnm_lb_paths_update()): the
 *     workers read it as one word and pick a path per flow by its hash.
 * When no path with link is reachable, those with link stay in (the nodes are
 * more likely down than every path): the health checker takes nodes out.
 */
#ifndef CNM_PATH_H
#define CNM_PATH_H

#include <stdint.h>

#include <jansson.h>

#include "cnm_config.h"
#include "cnm_dataplane.h"

/** How often the links are read. */
#define CNM_PATH_LINK_MS 100u
/** Probes sent per path per round at most (the nodes are taken in turn). */
#define CNM_PATH_PROBES_MAX 32u

/** One path's state and counters. */
struct cnm_path_stats {
	uint8_t link;            /**< the port reports link */
	uint8_t reachable;       /**< the last rounds reached a probed node */
	uint8_t up;              /**< carries frames (link and reachable, or kept in) */
	uint64_t forwarded;      /**< frames to nodes TX took on this path (the workers') */
	uint64_t tx_frames;      /**< frames the port sent (its ethdev counters: with
				      the probes and the health checker's frames) */
	uint64_t tx_bytes;
	uint64_t tx_errors;
	uint64_t probes;         /**< reachability probes sent */
	uint64_t answers;        /**< answers to them that counted */
	uint64_t rounds_missed;  /**< rounds that ended without an answer */
	uint64_t downs;          /**< transitions up -> down */
	uint64_t ups;            /**< transitions down -> up */
	uint64_t since_ms;       /**< control clock of the last transition */
	const char *why;         /**< why it is down, or "" */
};

/** What the path manager works with. */
struct cnm_path_io {
	const struct cnm_dp *dp;             /**< ports, MACs, the tables */
	struct cnm_worker *const *workers;   /**< their per-path counters */
	unsigned int n_workers;
	/** Queue @p len bytes of @p frame for TX on private port index @p idx. */
	int (*send)(void *arg, uint16_t idx, const uint8_t *frame, uint32_t len);
	void *arg;
};

struct cnm_paths;

/** Create it with the settings of @p cfg. NULL with rte_errno set. */
struct cnm_paths *cnm_path_create(const struct cnm_path_io *io, const struct cnm_config *cfg);

void cnm_path_free(struct cnm_paths *pm);

/** A new configuration: spreading, the round's settings, the probed nodes. */
void cnm_path_configure(struct cnm_paths *pm, const struct cnm_config *cfg);

/** Links, rounds and what changed; the control loop calls it with ctl_lock held. */
void cnm_path_tick(struct cnm_paths *pm, uint64_t now_ms);

/** Does it want the private ports' RX (answers to its probes)? */
int cnm_path_wants_rx(const struct cnm_paths *pm);

/** A frame that arrived on private port index @p idx (the control loop's RX). */
void cnm_path_input(struct cnm_paths *pm, uint16_t idx, const uint8_t *frame, uint32_t len);

/** How many paths (private ports). */
uint16_t cnm_path_count(const struct cnm_paths *pm);

/** Path @p idx's state and counters; 0 or -EINVAL. */
int cnm_path_get(const struct cnm_paths *pm, uint16_t idx, struct cnm_path_stats *st);

/**
 * `path show`, /cnmux/paths: {"spread", "interval_ms", "rounds", "rise",
 * "probed": [names], "paths": [{"index", "port", "up", "link", "reachable",
 * "why", "forwarded", "tx_frames", "tx_bytes", "tx_errors", "probes",
 * "answers", "rounds_missed", "downs", "ups", "since_ms"}]}. NULL: out of memory.
 */
json_t *cnm_path_json(const struct cnm_paths *pm);

#endif /* CNM_PATH_H */
