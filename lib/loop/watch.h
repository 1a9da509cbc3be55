/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside lib/loop: the conditions an operator must see that the data path
 * only counts (docs/logging.md). The control loop calls cnm_watch_tick()
 * after each reading of the totals (every CNM_LOOP_RATE_MS); it compares
 * the two last readings and the tables, and logs (cnm.audit) at a bounded
 * rate: the first time at once, then at most once per CNM_WATCH_REPEAT_MS
 * per condition while it lasts, and at most CNM_WATCH_LINES lines a tick.
 * Never from a worker, never per packet.
 */
#ifndef CNM_WATCH_H
#define CNM_WATCH_H

#include <stdint.h>

#include "cnm_service.h"
#include "cnm_stats.h"

/** How often a condition that lasts is logged again. */
#define CNM_WATCH_REPEAT_MS 10000u
/** A node without a MAC address this long is logged (the N seconds of issue 14). */
#define CNM_WATCH_UNRESOLVED_MS 5000u
/** Lines a tick writes at most; what is left is one summary line. */
#define CNM_WATCH_LINES 16u

struct cnm_watch;

/** NULL when out of memory. */
struct cnm_watch *cnm_watch_create(void);
void cnm_watch_free(struct cnm_watch *w);

/**
 * One look, at @p now_ms, with the readings @p prev and @p cur (not zeroed,
 * @p prev all 0 before the first) of the tables @p lb; @p conn_max is
 * conntrack.max (per worker) for the message. Control lcore.
 */
void cnm_watch_tick(struct cnm_watch *w, const struct cnm_lb *lb,
		const struct cnm_stats_total *prev, const struct cnm_stats_total *cur,
		uint64_t now_ms, uint32_t conn_max);

#endif /* CNM_WATCH_H */
