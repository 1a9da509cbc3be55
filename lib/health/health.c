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
#include "cnm_nd.h"
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
	uint8_t arp_seen;      /* ARP reply (IPv6: advertisement) in this round */
	uint8_t learnt;        /* the node's MAC came from its next hop's answer */
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
	/* a node whose MAC is learnt, not configured, follows the gratuitous
	 * ARP replies and unsolicited advertisements of its next hop */
	for (id = 0; id < cnm_lb_node_end(h->lb); id++)
		if (cnm_lb_node(h->lb, id)->used &&
				(cnm_lb_node(h->lb, id)->mac == 0 || h->n[id].learnt))
			return 1;
	return 0;
}

const struct cnm_health_stats *
cnm_health_get_stats(const struct cnm_health *h)
{
	return &h->st;
}

/*
 * The address whose MAC frames for a node go to: a tunnel's gateway when it
 * has one, else the node's own address.
 */
static const struct cnm_addr *
next_hop(const struct cnm_cfg_node *c)
{
	if (c->forward != CNM_FWD_MAC && c->has_gateway)
		return &c->gateway;
	return &c->ip;
}

/* The next hop when it is resolved by ARP (IPv4), else NULL. */
static const uint8_t *
arp_target(const struct cnm_cfg_node *c)
{
	const struct cnm_addr *a = next_hop(c);

	return a->family == AF_INET ? a->bytes : NULL;
}

/* The next hop when it is resolved by neighbour discovery (IPv6), else NULL. */
static const uint8_t *
nd_target(const struct cnm_cfg_node *c)
{
	const struct cnm_addr *a = next_hop(c);

	return a->family == AF_INET6 ? a->bytes : NULL;
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

/*
 * A neighbour solicitation for an IPv6 node (or gateway) from the private
 * port's link-local address: to the solicited-node multicast address while
 * its MAC is unknown or the last round failed (address resolution, RFC 4861
 * 7.2.2), else unicast to the MAC it has (reachability confirmation, 7.3.3).
 */
static void
send_ns(struct cnm_health *h, uint32_t id, const uint8_t *target)
{
	const struct cnm_node *nd = cnm_lb_node(h->lb, id);
	const uint8_t *smac = h->io.priv_mac[nd->port];
	uint8_t frame[CNM_ND_NS_FRAME_LEN], ll[16], dmac[6];
	uint64_t mac = nd->mac;

	cnm_nd_link_local(smac, ll);
	memcpy(dmac, &mac, 6);
	cnm_nd_make_ns(frame, smac, ll, target, mac != 0 && h->n[id].fail_run == 0 ? dmac : NULL);
	if (h->io.send(h->io.arg, nd->port, frame, sizeof(frame)) == 0)
		h->st.nd_sent++;
	else
		h->st.send_failures++;
}

/* Resolve or probe a node's next hop: ARP for IPv4, ND for IPv6. */
static void
send_probe(struct cnm_health *h, uint32_t id)
{
	const uint8_t *t6 = nd_target(cnm_lb_node_cfg(h->lb, id));

	if (t6 != NULL)
		send_ns(h, id, t6);
	else
		send_arp(h, id);
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
	int ok = s->arp_seen;

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
				s->fail_run, !s->arp_seen ? (nd_target(c) != NULL ?
				"no ND advertisement" : "no ARP reply") : "TCP connect failed");
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
				s->learnt = 0;
				s->next_round = now;
			}
			s->used = 1;
			s->gen = nd->gen;
		}
		if (!h->enabled) {
			/* resolution only: probe until the MAC is known */
			if (nd->mac == 0 && now >= s->next_round) {
				send_probe(h, id);
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
			send_probe(h, id);
			if (cnm_lb_node_cfg(lb, id)->check_port)
				s->fd = tcp_start(cnm_lb_node_cfg(lb, id));
		}
	}
}

/*
 * An answer from next hop @p addr (IPv4 by ARP, IPv6 by ND, as @p family says)
 * on private port @p idx: every node behind that address counts it (one
 * gateway serves several tunnels) and takes @p mac when it has none, or when
 * @p update (ARP; an advertisement with the override flag, RFC 4861 7.2.5).
 * @p mac NULL: reachability only. Returns the nodes it matched.
 */
static uint32_t
learn(struct cnm_health *h, uint16_t idx, int family, const uint8_t *addr, const uint8_t *mac,
		int update)
{
	struct cnm_lb *lb = h->lb;
	uint32_t id, seen = 0;

	for (id = 0; id < cnm_lb_node_end(lb); id++) {
		const struct cnm_node *nd = cnm_lb_node(lb, id);
		const struct cnm_cfg_node *c;
		const uint8_t *t;
		uint64_t m = 0;

		if (!nd->used || nd->port != idx)
			continue;
		c = cnm_lb_node_cfg(lb, id);
		t = family == AF_INET ? arp_target(c) : nd_target(c);
		if (t == NULL || memcmp(t, addr, family == AF_INET ? 4 : 16) != 0)
			continue;
		seen++;
		if (family == AF_INET)
			h->st.arp_replies++;
		else
			h->st.nd_replies++;
		if (mac != NULL)
			memcpy(&m, mac, 6);
		if (m == 0 || (nd->mac != 0 && !update)) {
			if (nd->mac == 0)
				continue; /* nothing learnt: not resolved */
		} else if (m != nd->mac) {
			if (nd->mac != 0)
				CNM_AUDIT(NOTICE, "health: node %s moved to another MAC", c->name);
			cnm_lb_node_set_mac(lb, (uint16_t)id, mac);
			h->n[id].learnt = 1;
		}
		h->n[id].arp_seen = 1;
		if (!h->enabled && !h->follower && !nd->up && !cnm_lb_node_admin_down(lb, id) &&
				cnm_lb_node_set_up(lb, (uint16_t)id, 1) == 0) {
			h->st.went_up++;
			CNM_AUDIT(NOTICE, "health: node %s resolved, up", c->name);
		}
	}
	return seen;
}

/*
 * A solicitation on private port @p idx for the port's own link-local address
 * (the source of cnmux's solicitations): a node that answered one checks
 * that address's reachability in turn (RFC 4861 7.3.3), and is answered.
 */
static void
input_ns(struct cnm_health *h, uint16_t idx, const uint8_t *frame, uint32_t len,
		const struct cnm_nd *ns)
{
	uint8_t out[14 + CNM_ND_NA_IP_LEN], ll[16];

	cnm_nd_link_local(h->io.priv_mac[idx], ll);
	if (memcmp(ns->target, ll, 16) != 0 || len < 14)
		return;
	memcpy(out, frame, 14);
	if (h->io.send(h->io.arg, idx, out,
			cnm_nd_make_na(out, 14, ns, h->io.priv_mac[idx])) == 0)
		h->st.nd_answered++;
	else
		h->st.send_failures++;
}

/* A neighbour solicitation or advertisement (untagged, no extension
 * headers: the private segment's nodes and routers send them so). */
static int
input_nd(struct cnm_health *h, uint16_t idx, const uint8_t *frame, uint32_t len)
{
	struct cnm_nd na;
	const uint8_t *mac;
	uint32_t end;

	if (len < 14 + 40 + 24 || frame[20] != 58 /* ICMPv6 */ ||
			(frame[54] != CNM_ND_NA && frame[54] != CNM_ND_NS))
		return 0;
	end = 14 + 40 + ((uint32_t)frame[18] << 8 | frame[19]);
	if (cnm_nd_parse(frame, len, 14, 54, end, &na) != CNM_DROP_NONE) {
		h->st.nd_invalid++;
		return 0;
	}
	if (na.type == CNM_ND_NS) {
		input_ns(h, idx, frame, len, &na);
		return 0;
	}
	/* no target link-layer option: the sender's MAC resolves a node that
	 * has none, and confirms one that has */
	mac = na.has_lla ? na.lla : frame + 6;
	return learn(h, idx, AF_INET6, na.target, mac,
		na.has_lla && (na.flags & CNM_ND_NA_OVERRIDE)) > 0;
}

int
cnm_health_input(struct cnm_health *h, uint16_t idx, const uint8_t *frame, uint32_t len,
		uint64_t now)
{
	struct cnm_arp a;

	RTE_SET_USED(now);
	if (len < 14)
		return 0;
	if (frame[12] == 0x86 && frame[13] == 0xdd)
		return input_nd(h, idx, frame, len);
	if (frame[12] != 0x08 || frame[13] != 0x06)
		return 0;
	if (cnm_arp_parse(frame, len, 14, &a) != 0 || a.op != CNM_ARP_REPLY)
		return 0;
	return learn(h, idx, AF_INET, a.spa, a.sha, 1) > 0;
}
