/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket: a Unix stream socket, newline-delimited JSON requests,
 * one response line each. Everything is non-blocking and driven by
 * cnm_ctl_server_poll() from the control loop: a slow or stuck client costs
 * a buffer, never a wait.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cnm_control.h"
#include "control_private.h"

/* Output queued for a client beyond which its further requests wait. */
#define CTL_OUT_HIGH (1u << 20)
/* Output a client may have unread at most: a response past it is replaced by
 * an error and the client is closed once that is written. */
#define CTL_OUT_MAX (64u << 20)

static const char ctl_err_long[] =
	"{\"ok\":false,\"error\":\"request: a line of at most 65536 bytes ending with a newline (got a longer one; closing)\"}\n";
static const char ctl_err_busy[] =
	"{\"ok\":false,\"error\":\"control socket: too many clients (at most 16); try again\"}\n";
static const char ctl_err_nomem[] =
	"{\"ok\":false,\"error\":\"control socket: out of memory\"}\n";
static const char ctl_err_toolong[] =
	"{\"ok\":false,\"error\":\"control socket: more than 64 MiB of responses unread; closing\"}\n";
static const char ctl_err_evicted[] =
	"{\"ok\":false,\"error\":\"control socket: closed, idle while every slot was taken\"}\n";

struct ctl_client {
	int fd;           /* -1: free slot */
	char *in;         /* CNM_CTL_LINE_MAX + 1 bytes */
	size_t in_len;
	char *out;        /* responses not yet written */
	size_t out_len, out_off, out_cap;
	int done;         /* close once out is written (EOF or error sent) */
	uint64_t last_ms; /* last byte read or written (monotonic clock) */
	char who[48];     /* "uid U pid P" (SO_PEERCRED), for the audit lines */
};

struct cnm_ctl_server {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct cnm_ctx *ctx;
	struct ctl_client cl[CNM_CTL_CLIENTS];
	/* a client with nothing read from it or written to it for idle_ms is
	 * closed; with every slot taken, a new client takes the slot of the
	 * client idle the longest, if idle for evict_ms at least: idle
	 * clients cannot lock the others out */
	uint32_t idle_ms;
	uint32_t evict_ms;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
client_close(struct ctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static int
client_queue(struct ctl_client *c, const char *s, size_t n)
{
	/* what was written goes: the buffer holds only what is unread, so a
	 * reader that keeps just behind does not grow it */
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + n > CTL_OUT_MAX)
		return -ENOBUFS;
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + n)
			cap *= 2;
		p = realloc(c->out, cap);
		if (p == NULL)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

/* Write what the socket takes; 0, or -1 when the client is gone. */
static int
client_flush(struct ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->out_off += (size_t)n;
		c->last_ms = mono_ms();
	}
	c->out_off = 0;
	c->out_len = 0;
	/* a large response's buffer is not kept around */
	if (c->out_cap > CTL_OUT_HIGH) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return 0;
}

static void
client_exec(struct cnm_ctl_server *srv, struct ctl_client *c, const char *line, size_t len)
{
	char *resp;
	size_t i;
	int ret;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == len)
		return; /* blank line */
	resp = cnm_control_exec_text_as(srv->ctx, line, len, c->who);
	ret = resp == NULL ? -ENOMEM : client_queue(c, resp, strlen(resp));
	if (ret == 0)
		ret = client_queue(c, "\n", 1);
	if (ret < 0) {
		const char *msg = ret == -ENOBUFS ? ctl_err_toolong : ctl_err_nomem;

		free(resp);
		/* the answer is lost; say so and give up on this client */
		c->out_len = 0;
		c->out_off = 0;
		if (client_queue(c, msg, strlen(msg)) < 0)
			c->out_len = 0;
		c->done = 1;
		return;
	}
	free(resp);
}

/* Execute every complete line in the input buffer. */
static void
client_lines(struct cnm_ctl_server *srv, struct ctl_client *c)
{
	size_t start = 0;
	char *nl;

	while (!c->done && c->out_len - c->out_off < CTL_OUT_HIGH &&
	       (nl = memchr(c->in + start, '\n', c->in_len - start)) != NULL) {
		size_t end = (size_t)(nl - c->in);

		client_exec(srv, c, c->in + start, end - start);
		start = end + 1;
	}
	if (start > 0) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
	if (!c->done && c->in_len > CNM_CTL_LINE_MAX && memchr(c->in, '\n', c->in_len) == NULL) {
		client_queue(c, ctl_err_long, sizeof(ctl_err_long) - 1);
		c->in_len = 0;
		c->done = 1;
	}
}

/* Read what is there; -1 when the client is gone. */
static int
client_read(struct cnm_ctl_server *srv, struct ctl_client *c)
{
	for (;;) {
		size_t room = CNM_CTL_LINE_MAX + 1 - c->in_len;
		ssize_t n;

		if (c->done || room == 0 || c->out_len - c->out_off >= CTL_OUT_HIGH)
			return 0;
		n = recv(c->fd, c->in + c->in_len, room, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (n == 0) {
			/* end of requests: a last line without a newline counts */
			client_lines(srv, c);
			if (!c->done && c->in_len > 0)
				client_exec(srv, c, c->in, c->in_len);
			c->in_len = 0;
			c->done = 1;
			return 0;
		}
		c->in_len += (size_t)n;
		c->last_ms = mono_ms();
		client_lines(srv, c);
	}
}

/*
 * Every slot is taken: free the one of the client idle the longest (nothing
 * read or written for CTL_EVICT_MS at least), telling it why. NULL when
 * every client is busy.
 */
static struct ctl_client *
client_evict(struct cnm_ctl_server *srv)
{
	struct ctl_client *old = NULL;
	uint64_t now = mono_ms();
	unsigned int i;

	for (i = 0; i < CNM_CTL_CLIENTS; i++) {
		struct ctl_client *c = &srv->cl[i];

		if (c->fd >= 0 && now - c->last_ms >= srv->evict_ms &&
				(old == NULL || c->last_ms < old->last_ms))
			old = c;
	}
	if (old == NULL)
		return NULL;
	/* best effort: it was idle, its socket buffer has room */
	if (send(old->fd, ctl_err_evicted, sizeof(ctl_err_evicted) - 1,
			MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		CTL_LOG(DEBUG, "evicted client: %s", strerror(errno));
	CTL_LOG(NOTICE, "control socket %s full: closed the client idle for %" PRIu64 " ms",
		srv->path, now - old->last_ms);
	client_close(old);
	return old;
}

/* Who is at the other end: the kernel's word (SO_PEERCRED), not the client's. */
static void
client_who(struct ctl_client *c)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
		snprintf(c->who, sizeof(c->who), "uid %u pid %d", (unsigned int)cr.uid, (int)cr.pid);
	else
		snprintf(c->who, sizeof(c->who), "uid ? (%s)", strerror(errno));
}

static void
server_accept(struct cnm_ctl_server *srv)
{
	for (;;) {
		struct ctl_client *c = NULL;
		unsigned int i;
		int fd;

		fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				CTL_LOG(WARNING, "accept on %s: %s", srv->path, strerror(errno));
			return;
		}
		for (i = 0; i < CNM_CTL_CLIENTS; i++)
			if (srv->cl[i].fd < 0) {
				c = &srv->cl[i];
				break;
			}
		if (c == NULL)
			c = client_evict(srv);
		if (c != NULL)
			c->in = malloc(CNM_CTL_LINE_MAX + 1);
		if (c == NULL || c->in == NULL) {
			const char *msg = c == NULL ? ctl_err_busy : ctl_err_nomem;

			/* best effort: the socket buffer of a new client has room */
			if (send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				CTL_LOG(DEBUG, "refused client: %s", strerror(errno));
			close(fd);
			continue;
		}
		c->fd = fd;
		c->last_ms = mono_ms();
		client_who(c);
	}
}

struct cnm_ctl_server *
cnm_ctl_server_create(const char *path, struct cnm_ctx *ctx)
{
	struct sockaddr_un sa;
	struct cnm_ctl_server *srv;
	struct stat st;
	mode_t old;
	unsigned int i;
	int fd, e;

	if (path == NULL || path[0] == '\0' || ctx == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (lstat(path, &st) == 0) {
		/* a socket left by an earlier run is replaced; anything else stays */
		if (!S_ISSOCK(st.st_mode)) {
			CTL_LOG(ERR, "%s exists and is not a socket", path);
			errno = EEXIST;
			return NULL;
		}
		if (unlink(path) != 0)
			return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	for (i = 0; i < CNM_CTL_CLIENTS; i++)
		srv->cl[i].fd = -1;
	srv->ctx = ctx;
	srv->idle_ms = CNM_CTL_IDLE_MS;
	srv->evict_ms = CNM_CTL_EVICT_MS;
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* no moment where the socket is open to others */
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		umask(old);
		goto fail_fd;
	}
	umask(old);
	if (chmod(path, 0600) != 0 || listen(fd, CNM_CTL_CLIENTS) != 0) {
		e = errno;
		unlink(path);
		errno = e;
		goto fail_fd;
	}
	srv->fd = fd;
	CTL_LOG(INFO, "control socket %s", path);
	return srv;
fail_fd:
	e = errno;
	close(fd);
	errno = e;
fail:
	e = errno;
	free(srv);
	errno = e;
	return NULL;
}

/* The descriptors to watch: the socket, then each client; idx[i] is the
 * client of pfd[i] (-1: the socket). Returns how many. */
static unsigned int
server_pollfds(struct cnm_ctl_server *srv, struct pollfd *pfd, int *idx)
{
	unsigned int i, n = 0;

	pfd[n].fd = srv->fd;
	pfd[n].events = POLLIN;
	pfd[n].revents = 0;
	idx[n++] = -1;
	for (i = 0; i < CNM_CTL_CLIENTS; i++) {
		struct ctl_client *c = &srv->cl[i];

		if (c->fd < 0)
			continue;
		pfd[n].fd = c->fd;
		pfd[n].events = 0;
		if (!c->done && c->out_len - c->out_off < CTL_OUT_HIGH)
			pfd[n].events |= POLLIN;
		if (c->out_len > c->out_off)
			pfd[n].events |= POLLOUT;
		pfd[n].revents = 0;
		idx[n++] = (int)i;
	}
	return n;
}

int
cnm_ctl_server_wait(struct cnm_ctl_server *srv, int timeout_ms)
{
	struct pollfd pfd[CNM_CTL_CLIENTS + 1];
	int idx[CNM_CTL_CLIENTS + 1];

	return poll(pfd, server_pollfds(srv, pfd, idx), timeout_ms);
}

void
cnm_ctl_server_poll(struct cnm_ctl_server *srv)
{
	struct pollfd pfd[CNM_CTL_CLIENTS + 1];
	int idx[CNM_CTL_CLIENTS + 1];
	unsigned int i, n;
	uint64_t now;
	int ready;

	if (srv == NULL)
		return;
	n = server_pollfds(srv, pfd, idx);
	ready = poll(pfd, n, 0);
	if (ready < 0)
		return;
	for (i = 1; i < n; i++) {
		struct ctl_client *c = &srv->cl[idx[i]];
		short ev = pfd[i].revents;

		if (ev == 0)
			continue;
		if ((ev & POLLNVAL) ||
		    ((ev & (POLLIN | POLLHUP | POLLERR)) && client_read(srv, c) < 0) ||
		    client_flush(c) < 0) {
			client_close(c);
			continue;
		}
		/* requests held back while the output was full */
		if (!c->done && c->out_len == 0)
			client_lines(srv, c);
		if (client_flush(c) < 0 || (c->done && c->out_len == 0) ||
		    ((ev & (POLLHUP | POLLERR)) && !(ev & POLLIN))) {
			client_close(c);
			continue;
		}
	}
	/* idle clients go, so that they cannot hold every slot for ever */
	now = mono_ms();
	for (i = 0; i < CNM_CTL_CLIENTS; i++) {
		struct ctl_client *c = &srv->cl[i];

		if (c->fd >= 0 && now - c->last_ms > srv->idle_ms)
			client_close(c);
	}
	if (pfd[0].revents & POLLIN)
		server_accept(srv);
}

void
cnm_ctl_server_set_idle(struct cnm_ctl_server *srv, uint32_t idle_ms, uint32_t evict_ms)
{
	if (idle_ms != 0)
		srv->idle_ms = idle_ms;
	if (evict_ms != 0)
		srv->evict_ms = evict_ms;
}

void
cnm_ctl_server_free(struct cnm_ctl_server *srv)
{
	unsigned int i;

	if (srv == NULL)
		return;
	for (i = 0; i < CNM_CTL_CLIENTS; i++)
		if (srv->cl[i].fd >= 0)
			client_close(&srv->cl[i]);
	close(srv->fd);
	unlink(srv->path);
	free(srv);
}
