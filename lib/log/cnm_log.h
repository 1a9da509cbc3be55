/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * cnmux's log (docs/logging.md). Every module logs through DPDK's rte_log
 * with a registered log type of its own and a message that starts with the
 * module ("control: ", "health: ", "audit: "); cnm_log_init() makes every
 * line that rte_log writes start with its level and, when asked, the time
 * (UTC, milliseconds):
 *
 *     2026-12-04T16:43:10.970Z NOTICE audit: uid 0 pid 4242: node drain ...
 *
 * The audit trail (who changed what, with what result: the control socket,
 * reloads, the health checker, the control loop's warnings) has a log type
 * of its own, cnm.audit, so that `--log-level=cnm.audit:notice` keeps it
 * while other types are quieter.
 */
#ifndef CNM_LOG_H
#define CNM_LOG_H

#include <stddef.h>
#include <time.h>

#include <rte_log.h>

/** The log type of the audit trail, cnm.audit (default level INFO). */
extern int cnm_logtype_audit;

/** One line of the audit trail: "audit: " and the message. */
#define CNM_AUDIT(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cnm_logtype_audit, "audit: " fmt "\n", ##__VA_ARGS__)

/** cnm_log_init() flag: every line starts with the time (--log-timestamp). */
#define CNM_LOG_TIMESTAMP 1u

/**
 * From now on rte_log writes every line with its level and log type (and
 * the time with CNM_LOG_TIMESTAMP) to stdout, and to syslog as EAL's own
 * stream did. Call once, after rte_eal_init(). 0 or -errno.
 */
int cnm_log_init(unsigned int flags);

/**
 * The prefix of a line: "[TIME ]LEVEL " for rte_log level @p level
 * (RTE_LOG_EMERG .. RTE_LOG_DEBUG; another prints as "LOG"), the time from
 * @p ts (NULL: none) as 2026-12-04T16:43:10.970Z. Returns the length
 * written (snprintf's rule).
 */
int cnm_log_prefix(char *buf, size_t len, unsigned int level, const struct timespec *ts);

#endif /* CNM_LOG_H */
