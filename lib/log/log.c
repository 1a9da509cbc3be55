/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stream rte_log writes to (rte_openlog_stream()): a cookie stream that
 * starts every line with the level of the message being logged
 * (rte_log_cur_msg_loglevel(), set by rte_vlog() before it writes) and,
 * with --log-timestamp, the time. Like EAL's default stream, what it writes
 * goes to stdout and to syslog.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <rte_common.h>
#include <rte_log.h>

#include "cnm_log.h"

RTE_LOG_REGISTER(cnm_logtype_audit, cnm.audit, INFO);

static const char *const level_names[] = {
	[RTE_LOG_EMERG] = "EMERG",
	[RTE_LOG_ALERT] = "ALERT",
	[RTE_LOG_CRIT] = "CRIT",
	[RTE_LOG_ERR] = "ERR",
	[RTE_LOG_WARNING] = "WARNING",
	[RTE_LOG_NOTICE] = "NOTICE",
	[RTE_LOG_INFO] = "INFO",
	[RTE_LOG_DEBUG] = "DEBUG",
};

static unsigned int log_flags;
/* the next byte written starts a line; written under the stream's lock
 * (stdio holds it around the cookie's write) */
static bool line_start = true;

int
cnm_log_prefix(char *buf, size_t len, unsigned int level, const struct timespec *ts)
{
	const char *name = level < RTE_DIM(level_names) && level_names[level] != NULL ?
		level_names[level] : "LOG";
	char when[32] = "";

	if (ts != NULL) {
		struct tm tm;

		gmtime_r(&ts->tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		return snprintf(buf, len, "%s.%03ldZ %s ", when, ts->tv_nsec / 1000000, name);
	}
	return snprintf(buf, len, "%s ", name);
}

static ssize_t
log_write(void *cookie, const char *buf, size_t size)
{
	int level = rte_log_cur_msg_loglevel();
	size_t off = 0;

	(void)cookie;
	while (off < size) {
		const char *nl = memchr(buf + off, '\n', size - off);
		size_t n = nl != NULL ? (size_t)(nl - (buf + off)) + 1 : size - off;

		if (line_start) {
			struct timespec ts;
			char pre[64];

			if (log_flags & CNM_LOG_TIMESTAMP)
				clock_gettime(CLOCK_REALTIME, &ts);
			cnm_log_prefix(pre, sizeof(pre), (unsigned int)level,
				(log_flags & CNM_LOG_TIMESTAMP) ? &ts : NULL);
			fputs(pre, stdout);
		}
		fwrite(buf + off, 1, n, stdout);
		line_start = nl != NULL;
		off += n;
	}
	fflush(stdout);
	/* syslog's levels are rte_log's minus one (LOG_EMERG is 0) */
	syslog(level > 0 ? level - 1 : LOG_INFO, "%.*s", (int)size, buf);
	return (ssize_t)size;
}

int
cnm_log_init(unsigned int flags)
{
	static const cookie_io_functions_t io = { .write = log_write };
	FILE *f = fopencookie(NULL, "w+", io);

	if (f == NULL)
		return -errno;
	/* a line at a time: the prefix goes where a line starts */
	setvbuf(f, NULL, _IOLBF, BUFSIZ);
	log_flags = flags;
	if (rte_openlog_stream(f) != 0) {
		fclose(f);
		return -EINVAL;
	}
	return 0;
}
