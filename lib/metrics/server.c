/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP side of /metrics: libmicrohttpd with its own polling thread (one
 * thread for every connection, so scrapes are served one at a time), a few
 * connections at most, each closed after 10 s idle.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "cnm_metrics.h"

#define METRICS_CONN_MAX 16
#define METRICS_IDLE_S 10
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct cnm_metrics {
	struct cnm_metrics_conf c;
	struct MHD_Daemon *d;
};

static enum MHD_Result
reply(struct MHD_Connection *con, unsigned int status, const char *text, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
		MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(con, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *con, const char *url, const char *method,
		const char *version, const char *upload, size_t *upload_len, void **state)
{
	struct cnm_metrics *m = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	json_t *snap;
	size_t len = 0;
	char *text;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(con, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "GET, HEAD");
	if (strcmp(url, "/metrics") != 0)
		return reply(con, MHD_HTTP_NOT_FOUND, "cnmux serves /metrics only\n", NULL);
	snap = m->c.snapshot(m->c.arg);
	text = snap != NULL ? cnm_metrics_render(snap, &len) : NULL;
	json_decref(snap);
	if (text == NULL)
		return reply(con, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n", NULL);
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	ret = MHD_queue_response(con, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

struct cnm_metrics *
cnm_metrics_start(const struct cnm_metrics_conf *c)
{
	struct cnm_metrics *m = calloc(1, sizeof(*m));
	struct sockaddr_storage ss;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;

	if (m == NULL)
		return NULL;
	m->c = *c;
	memset(&ss, 0, sizeof(ss));
	if (c->listen.ip.family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(c->listen.port);
		memcpy(&s6->sin6_addr, c->listen.ip.bytes, 16);
		flags |= MHD_USE_IPv6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(c->listen.port);
		memcpy(&s4->sin_addr, c->listen.ip.bytes, 4);
	}
	errno = 0;
	m->d = MHD_start_daemon(flags, c->listen.port, NULL, NULL, handle, m,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONN_MAX,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_IDLE_S,
		MHD_OPTION_END);
	if (m->d == NULL) {
		int e = errno != 0 ? errno : EADDRNOTAVAIL;

		free(m);
		errno = e;
		return NULL;
	}
	return m;
}

void
cnm_metrics_stop(struct cnm_metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}
