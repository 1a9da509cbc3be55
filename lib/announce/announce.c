/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>

#include "cnm_announce.h"
#include "cnm_log.h"
#include "cnm_proc.h"

#define ANN_LINE_MAX 80           /* "route " + an IPv6 address + "/128 blackhole;\n" */
#define ANN_TEXT_MAX (64 * 1024)  /* a file: some 800 VIPs of either family */

struct cnm_announce {
	char file[2][CNM_PATH_MAX];   /* IPv4, IPv6; "" none */
	char cmd[CNM_CMD_MAX];        /* "" none */
	char *text[2];                /* what the files hold now; NULL: not written yet */
	pid_t child;                  /* the command running, 0 none */
	uint64_t next_ms;             /* the next look at the tables */
	int again;                    /* a change while it ran: run it once more */
	struct cnm_announce_stats st;
};

struct cnm_announce *
cnm_announce_create(const struct cnm_config *cfg)
{
	struct cnm_announce *a = calloc(1, sizeof(*a));

	if (a != NULL)
		cnm_announce_configure(a, cfg);
	return a;
}

void
cnm_announce_configure(struct cnm_announce *a, const struct cnm_config *cfg)
{
	const char *f[2] = { cfg->announce_file4, cfg->announce_file6 };
	int i;

	a->next_ms = 0; /* look at the tables at the next tick */
	/* a file that is another one now is written at the next tick; one
	 * that stays keeps what it holds (a reload that changes nothing
	 * writes nothing and runs nothing) */
	for (i = 0; i < 2; i++) {
		if (strcmp(a->file[i], f[i]) == 0)
			continue;
		snprintf(a->file[i], sizeof(a->file[i]), "%s", f[i]);
		free(a->text[i]);
		a->text[i] = NULL;
	}
	snprintf(a->cmd, sizeof(a->cmd), "%s", cfg->announce_cmd);
}

/* The file's text for the VIPs of @p family that some service with an
 * active node has, sorted and without repeats (several services, one VIP). */
static char *
vip_text(const struct cnm_lb *lb, uint8_t family, uint32_t *count)
{
	size_t cap = ANN_TEXT_MAX, len = 0;
	uint32_t end = RTE_MIN(cnm_lb_svc_end(lb), (uint32_t)CNM_MAX_SERVICES);
	char *out = malloc(cap), (*lines)[ANN_LINE_MAX] = calloc(end + 1, ANN_LINE_MAX);
	uint32_t i, n = 0;
	int w;

	*count = 0;
	if (out == NULL || lines == NULL) {
		free(out);
		free(lines);
		return NULL;
	}
	for (i = 0; i < end; i++) {
		const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, i);
		const struct cnm_pdt *p = s != NULL ? cnm_lb_svc_pdt(lb, i) : NULL;
		char ip[INET6_ADDRSTRLEN];

		if (s == NULL || p == NULL || p->n_active == 0 || s->vip.family != family)
			continue;
		inet_ntop(family, s->vip.bytes, ip, sizeof(ip));
		snprintf(lines[n++], ANN_LINE_MAX, "route %s/%d blackhole;\n", ip,
			family == AF_INET ? 32 : 128);
	}
	qsort(lines, n, ANN_LINE_MAX, (int (*)(const void *, const void *))strcmp);
	w = snprintf(out, cap, "# written by cnmux: the VIPs with a node that takes clients\n");
	len = (size_t)w;
	for (i = 0; i < n; i++) {
		size_t l = strlen(lines[i]);

		if (i > 0 && strcmp(lines[i], lines[i - 1]) == 0)
			continue;
		if (len + l + 1 > cap)
			break; /* cannot happen below ANN_TEXT_MAX / ANN_LINE_MAX VIPs */
		memcpy(out + len, lines[i], l);
		len += l;
		(*count)++;
	}
	out[len] = '\0';
	free(lines);
	return out;
}

/* Write @p text to @p path atomically: a temporary file renamed over. */
static int
write_file(const char *path, const char *text)
{
	char tmp[CNM_PATH_MAX + 16];
	size_t len = strlen(text);
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	if (close(fd) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno ? errno : EIO;

		unlink(tmp);
		return -e;
	}
	return 0;
}

/* Reap the command if it ended; 1 while it still runs. */
static int
reap(struct cnm_announce *a)
{
	int status;
	pid_t r;

	if (a->child == 0)
		return 0;
	r = waitpid(a->child, &status, WNOHANG);
	if (r == 0)
		return 1;
	if (r == a->child && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		a->st.failures++;
		CNM_AUDIT(WARNING, "announce: \"%s\" failed (%s %d)", a->cmd,
			WIFEXITED(status) ? "exit status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
	a->child = 0;
	return 0;
}

static void
run(struct cnm_announce *a)
{
	pid_t pid;

	if (a->cmd[0] == '\0')
		return;
	if (reap(a)) {
		a->again = 1;
		return;
	}
	a->again = 0;
	pid = cnm_proc_spawn(a->cmd, NULL, 0, 0);
	if (pid < 0) {
		a->child = 0;
		a->st.failures++;
		CNM_AUDIT(WARNING, "announce: cannot start \"%s\": %s", a->cmd, strerror((int)-pid));
		return;
	}
	a->child = pid;
	a->st.runs++;
}

void
cnm_announce_tick(struct cnm_announce *a, const struct cnm_lb *lb, uint64_t now_ms)
{
	static const uint8_t fam[2] = { AF_INET, AF_INET6 };
	int i, changed = 0;

	if (a == NULL || (a->file[0][0] == '\0' && a->file[1][0] == '\0') || now_ms < a->next_ms)
		return;
	a->next_ms = now_ms + CNM_ANNOUNCE_TICK_MS;
	if (!reap(a) && a->again)
		run(a);
	for (i = 0; i < 2; i++) {
		uint32_t count;
		char *t;
		int r;

		if (a->file[i][0] == '\0')
			continue;
		t = vip_text(lb, fam[i], &count);
		if (t == NULL)
			continue;
		if (a->text[i] != NULL && strcmp(t, a->text[i]) == 0) {
			free(t);
			continue;
		}
		r = write_file(a->file[i], t);
		if (r != 0) {
			/* tried again at the next tick: a->text stays as it was */
			if (a->text[i] == NULL || a->st.failures == 0)
				CNM_AUDIT(WARNING, "announce: cannot write %s: %s", a->file[i],
					strerror(-r));
			a->st.failures++;
			free(t);
			continue;
		}
		if (fam[i] == AF_INET)
			a->st.announced4 = count;
		else
			a->st.announced6 = count;
		CNM_AUDIT(NOTICE, "announce: %s: %u VIP(s) announced", a->file[i], count);
		free(a->text[i]);
		a->text[i] = t;
		a->st.writes++;
		changed = 1;
	}
	if (changed)
		run(a);
}

void
cnm_announce_stop(struct cnm_announce *a)
{
	struct timespec t = { 0, 10 * 1000 * 1000 };
	int i, waited;

	if (a == NULL)
		return;
	for (i = 0; i < 2; i++) {
		if (a->file[i][0] == '\0')
			continue;
		if (write_file(a->file[i], "# written by cnmux: stopped, nothing announced\n") != 0)
			a->st.failures++;
		else
			a->st.writes++;
		free(a->text[i]);
		a->text[i] = NULL;
	}
	a->st.announced4 = a->st.announced6 = 0;
	if (a->cmd[0] == '\0')
		return;
	/* the run before this one first, then this one; 5 s at most each */
	for (waited = 0; reap(a) && waited < 500; waited++)
		nanosleep(&t, NULL);
	run(a);
	for (waited = 0; reap(a) && waited < 500; waited++)
		nanosleep(&t, NULL);
	if (a->child != 0) {
		CNM_AUDIT(WARNING, "announce: \"%s\" still runs 5 s after the withdrawal: left to run",
			a->cmd);
		a->child = 0;
	} else {
		CNM_AUDIT(NOTICE, "announce: every VIP withdrawn");
	}
}

const struct cnm_announce_stats *
cnm_announce_get_stats(const struct cnm_announce *a)
{
	return &a->st;
}

void
cnm_announce_free(struct cnm_announce *a)
{
	int i;

	if (a == NULL)
		return;
	reap(a);
	for (i = 0; i < 2; i++)
		free(a->text[i]);
	free(a);
}
