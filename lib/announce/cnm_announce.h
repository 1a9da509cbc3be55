/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Route announcement through a routing daemon (issue 12, item 4; docs/bgp.md).
 *
 * cnmux does not speak BGP: a routing daemon on the host's own stack does,
 * reaching the router through cnmux's local port. This module tells it which
 * VIPs to announce: the VIPs of which some service has a node that takes
 * clients. On the control lcore, every 50 ms, the set is computed from the
 * tables; when it differs from what was last written, the files
 * ("announce.file4", "announce.file6": one BIRD static route per VIP,
 * "route 198.51.100.10/32 blackhole;") are rewritten atomically (a temporary
 * file renamed over) and "announce.command" (e.g. "birdc configure") is
 * started without waiting for it (posix_spawn; reaped later; a change while it
 * runs starts it again once it has ended). On shutdown both files are emptied
 * and the command run and waited for (at most 5 s) before the workers stop,
 * so the routes are withdrawn before the forwarding ends.
 */
#ifndef CNM_ANNOUNCE_H
#define CNM_ANNOUNCE_H

#include <stdint.h>

#include "cnm_config.h"
#include "cnm_service.h"

/** Counters (telemetry, stats). */
struct cnm_announce_stats {
	uint64_t writes;        /**< times the files were rewritten */
	uint64_t runs;          /**< times the command was started */
	uint64_t failures;      /**< files that could not be written, commands that failed */
	uint32_t announced4;    /**< IPv4 VIPs in the file now */
	uint32_t announced6;    /**< IPv6 VIPs in the file now */
};

struct cnm_announce;

/** An announcer for @p cfg's "announce" object (none: it does nothing). NULL on ENOMEM. */
struct cnm_announce *cnm_announce_create(const struct cnm_config *cfg);

/** Take new settings (a reload): the files are written again at the next tick. */
void cnm_announce_configure(struct cnm_announce *a, const struct cnm_config *cfg);

/** How often the tables are looked at (a VIP is withdrawn within this of its last node's loss). */
#define CNM_ANNOUNCE_TICK_MS 50

/**
 * Every CNM_ANNOUNCE_TICK_MS: compute the set, write and run the command
 * when it changed. Control lock held.
 */
void cnm_announce_tick(struct cnm_announce *a, const struct cnm_lb *lb, uint64_t now_ms);

/** Withdraw everything: empty files, the command run and waited for (at most 5 s). */
void cnm_announce_stop(struct cnm_announce *a);

const struct cnm_announce_stats *cnm_announce_get_stats(const struct cnm_announce *a);

void cnm_announce_free(struct cnm_announce *a);

#endif /* CNM_ANNOUNCE_H */
