/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_log.h>

#include "cnm_arp.h"
#include "cnm_fwd.h"
#include "cnm_health.h"
#include "cnm_log.h"

RTE_LOG_REGISTER(cnm_logtype_health, cnm.health, NOTICE);
#define HC_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cnm_logtype_health, "health: " fmt "\n", ##__VA_ARGS__)

struct node_hc {
	uint32_t gen;          /* node slot generation this state belongs to */
	uint8_t used;
	uint8_t in_round;
	uint8_t arp_seen;      /* ARP reply in this round */
	uint32_t ok_run;       /* successes in a row */
	uint32_t fail_run;     /* failures in a row */
	int fd;                /* TCP check socket, -1 none */
	uint64_t round_end;
	uint64_t next_round;
};

struct cnm_health {
	struct cnm_lb *lb;
	struct cnm_health_io io;
	int enabled;
	int follower;          /* a replica: resolve MACs, never change up/down */
	uint32_t interval, timeout, rise, fall;
	struct cnm_health_stats st;
	struct node_hc n[CNM_MAX_NODES];
};

void
cnm_health_configure(struct cnm_health *h, const struct cnm_config *cfg)
{
	uint32_t i;

	if (h->enabled && !cfg->health_enabled) {
		/* probes off: end the rounds in flight without counting them
		 * (their TCP sockets would stay open until probes came back) */
		for (i = 0; i < CNM_MAX_NODES; i++) {
			if (h->n[i].fd >= 0)
				close(h->n[i].fd);
			h->n[i].fd = -1;
			h->n[i].in_round = 0;
		}
	}
	h->enabled = cfg->health_enabled;
	h->interval = cfg->health_interval_ms;
	h->timeout = RTE_MIN(cfg->health_timeout_ms, cfg->health_interval_ms);
	h->rise = cfg->health_rise;
	h->fall = cfg->health_fall;
}

void
cnm_health_set_follower(struct cnm_health *h, int follower)
{
	if (h != NULL)
		h->follower = follower;
}

struct cnm_health *
cnm_health_create(struct cnm_lb *lb, const struct cnm_config *cfg, const struct cnm_health_io *io)
{
	struct cnm_health *h = calloc(1, sizeof(*h));
	uint32_t i;

	if (h == NULL)
		return NULL;
	h->lb = lb;
	h->io = *io;
	for (i = 0; i < CNM_MAX_NODES; i++)
		h->n[i].fd = -1;
	cnm_health_configure(h, cfg);
	return h;
}

void
cnm_health_free(struct cnm_health *h)
{
	uint32_t i;

	if (h == NULL)
		return;
	for (i = 0; i < CNM_MAX_NODES; i++)
		if (h->n[i].fd >= 0)
			close(h->n[i].fd);
	free(h);
}

int
cnm_health_wants_rx(const struct cnm_health *h)
{
	uint32_t id;

	if (h->enabled)
		return 1;
	for (id = 0; id < cnm_lb_node_end(h->lb); id++)
		if (cnm_lb_node(h->lb, id)->used && cnm_lb_node(h->lb, id)->mac == 0)
			return 1;
	return 0;
}

const struct cnm_health_stats *
cnm_health_get_stats(const struct cnm_health *h)
{
	return &h->st;
}

/*
 * The IPv4 address whose MAC frames for a node go to: a tunnel's gateway
 * when it has one, else the node's own address. NULL when it has none
 * (an IPv6 node without a gateway: neighbour discovery is not done here).
 */
static const uint8_t *
arp_target(const struct cnm_cfg_node *c)
{
	if (c->forward != CNM_FWD_MAC && c->has_gateway)
		return c->gateway.bytes;
	return c->ip.family == AF_INET ? c->ip.bytes : NULL;
}

static void
send_arp(struct cnm_health *h, uint32_t id)
{
	const struct cnm_node *nd = cnm_lb_node(h->lb, id);
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(h->lb, id);
	const uint8_t *tpa = arp_target(c);
	static const uint8_t any[4];
	uint8_t frame[60];

	if (tpa == NULL)
		return;
	memset(frame, 0, sizeof(frame));
	cnm_arp_make_request(frame, h->io.priv_mac[nd->port], any, tpa);
	if (h->io.send(h->io.arg, nd->port, frame, sizeof(frame)) == 0)
		h->st.arp_sent++;
	else
		h->st.send_failures++;
}

static int
tcp_start(const struct cnm_cfg_node *c)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (c->ip.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(c->check_port);
		memcpy(&s4->sin_addr, c->ip.bytes, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(c->check_port);
		memcpy(&s6->sin6_addr, c->ip.bytes, 16);
		sl = sizeof(*s6);
	}
	fd = socket(c->ip.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Did the connect started on fd succeed? */
static int
tcp_done(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0 || poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
		return 0;
	return 1;
}

static void
end_round(struct cnm_health *h, uint32_t id)
{
	struct node_hc *s = &h->n[id];
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(h->lb, id);
	const struct cnm_node *nd = cnm_lb_node(h->lb, id);
	int ok = s->arp_seen || arp_target(c) == NULL;

	if (c->check_port) {
		int t = tcp_done(s->fd);

		h->st.tcp_checks++;
		if (!t)
			h->st.tcp_failures++;
		ok = ok && t;
	}
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->in_round = 0;
	if (ok) {
		s->ok_run++;
		s->fail_run = 0;
		if (!h->follower && !nd->up && s->ok_run >= h->rise && nd->mac != 0 &&
				!cnm_lb_node_admin_down(h->lb, id) &&
				cnm_lb_node_set_up(h->lb, (uint16_t)id, 1) == 0) {
			h->st.went_up++;
			/* a change of the tables: the audit trail's */
			CNM_AUDIT(NOTICE, "health: node %s up (%u checks passed)", c->name, s->ok_run);
		}
	} else {
		s->fail_run++;
		s->ok_run = 0;
		if (!h->follower && nd->up && s->fail_run >= h->fall &&
				cnm_lb_node_set_up(h->lb, (uint16_t)id, 0) == 0) {
			h->st.went_down++;
			CNM_AUDIT(WARNING, "health: node %s down (%u checks failed: %s)", c->name,
				s->fail_run, !s->arp_seen ? "no ARP reply" : "TCP connect failed");
		}
	}
}

void
cnm_health_tick(struct cnm_health *h, uint64_t now)
{
	struct cnm_lb *lb = h->lb;
	uint32_t id;

	for (id = 0; id < cnm_lb_node_end(lb); id++) {
		struct node_hc *s = &h->n[id];
		const struct cnm_node *nd = cnm_lb_node(lb, id);

		if (!nd->used) {
			if (s->fd >= 0)
				close(s->fd);
			s->fd = -1;
			s->used = 0;
			continue;
		}
		if (!s->used || s->gen != nd->gen) {
			/* new node in this slot, or it went down: keep counting
			 * only for the same node */
			if (!s->used) {
				s->ok_run = 0;
				s->fail_run = 0;
				s->next_round = now;
			}
			s->used = 1;
			s->gen = nd->gen;
		}
		if (!h->enabled) {
			/* resolution only: probe until the MAC is known */
			if (nd->mac == 0 && now >= s->next_round) {
				send_arp(h, id);
				s->next_round = now + h->interval;
			}
			continue;
		}
		if (s->in_round && now >= s->round_end)
			end_round(h, id);
		if (!s->in_round && now >= s->next_round) {
			s->in_round = 1;
			s->arp_seen = 0;
			s->round_end = now + h->timeout;
			s->next_round = now + h->interval;
			send_arp(h, id);
			if (cnm_lb_node_cfg(lb, id)->check_port)
				s->fd = tcp_start(cnm_lb_node_cfg(lb, id));
		}
	}
}

int
cnm_health_input(struct cnm_health *h, uint16_t idx, const uint8_t *frame, uint32_t len,
		uint64_t now)
{
	struct cnm_lb *lb = h->lb;
	struct cnm_arp a;
	uint32_t id, seen = 0;

	RTE_SET_USED(now);
	if (len < 14 || frame[12] != 0x08 || frame[13] != 0x06)
		return 0;
	if (cnm_arp_parse(frame, len, 14, &a) != 0 || a.op != CNM_ARP_REPLY)
		return 0;
	/* every node behind that address: one gateway serves several tunnels */
	for (id = 0; id < cnm_lb_node_end(lb); id++) {
		const struct cnm_node *nd = cnm_lb_node(lb, id);
		const struct cnm_cfg_node *c;
		const uint8_t *tpa;
		uint64_t mac = 0;

		if (!nd->used || nd->port != idx)
			continue;
		c = cnm_lb_node_cfg(lb, id);
		tpa = arp_target(c);
		if (tpa == NULL || memcmp(tpa, a.spa, 4) != 0)
			continue;
		seen++;
		h->st.arp_replies++;
		h->n[id].arp_seen = 1;
		memcpy(&mac, a.sha, 6);
		if (mac != nd->mac) {
			if (nd->mac != 0)
				CNM_AUDIT(NOTICE, "health: node %s moved to another MAC", c->name);
			cnm_lb_node_set_mac(lb, (uint16_t)id, a.sha);
		}
		if (!h->enabled && !h->follower && !nd->up && !cnm_lb_node_admin_down(lb, id) &&
				cnm_lb_node_set_up(lb, (uint16_t)id, 1) == 0) {
			h->st.went_up++;
			CNM_AUDIT(NOTICE, "health: node %s resolved, up", c->name);
		}
	}
	return seen > 0;
}
