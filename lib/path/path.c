/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The path manager (cnm_path.h): link state and per-path reachability of the
 * private ports, on the control lcore; the tables carry the result to the
 * workers (cnm_lb_paths_update()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_log.h>

#include "cnm_arp.h"
#include "cnm_log.h"
#include "cnm_nd.h"
#include "cnm_path.h"
#include "cnm_service.h"

RTE_LOG_REGISTER(cnm_logtype_path, cnm.path, NOTICE);
#define PATH_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cnm_logtype_path, "path: " fmt "\n", ##__VA_ARGS__)

/* One path: a private port. */
struct path {
	uint8_t link;
	uint8_t reachable;
	uint8_t up;
	uint8_t answered;         /* an answer came in this round */
	uint32_t miss_run;        /* rounds in a row without an answer */
	uint32_t hit_run;         /* rounds in a row with one */
	uint64_t probes, answers, rounds_missed, downs, ups, since_ms;
	const char *why;
};

struct cnm_paths {
	struct cnm_path_io io;
	uint16_t n;
	uint8_t spread;
	uint8_t started;          /* the first tick published the set */
	uint32_t interval_ms, rounds, rise;
	uint8_t nodes_set;        /* only the configured nodes are probed */
	uint32_t n_names;
	char names[CNM_PATH_NODES_MAX][CNM_NAME_MAX];
	uint32_t cursor;          /* next node id a round starts probing from */
	uint64_t next_link_ms, next_round_ms;
	/* the addresses the last round probed, to match the answers with */
	uint32_t n_sent;
	struct cnm_addr sent[CNM_PATH_PROBES_MAX];
	struct path p[CNM_MAX_PRIVATE];
};

struct cnm_paths *
cnm_path_create(const struct cnm_path_io *io, const struct cnm_config *cfg)
{
	struct cnm_paths *pm = calloc(1, sizeof(*pm));
	uint16_t i;

	if (pm == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	pm->io = *io;
	pm->n = io->dp->n_private;
	for (i = 0; i < pm->n; i++) {
		/* as the tables start: every path taken to be up until its
		 * link or a round says otherwise */
		pm->p[i].link = 1;
		pm->p[i].reachable = 1;
		pm->p[i].up = 1;
		pm->p[i].why = "";
	}
	cnm_path_configure(pm, cfg);
	return pm;
}

void
cnm_path_free(struct cnm_paths *pm)
{
	free(pm);
}

void
cnm_path_configure(struct cnm_paths *pm, const struct cnm_config *cfg)
{
	uint32_t i;

	/* a configuration built without the parser (0): the defaults */
	pm->interval_ms = cfg->paths_interval_ms ? cfg->paths_interval_ms :
		CNM_PATH_INTERVAL_MS_DEFAULT;
	pm->rounds = cfg->paths_rounds ? cfg->paths_rounds : CNM_PATH_ROUNDS_DEFAULT;
	pm->rise = cfg->paths_rise ? cfg->paths_rise : CNM_PATH_RISE_DEFAULT;
	pm->nodes_set = cfg->paths_nodes_set;
	pm->n_names = RTE_MIN(cfg->n_paths_nodes, (uint32_t)CNM_PATH_NODES_MAX);
	for (i = 0; i < pm->n_names; i++)
		snprintf(pm->names[i], CNM_NAME_MAX, "%s", cfg->paths_nodes[i]);
	if (pm->spread != (cfg->paths_spread && pm->n > 1)) {
		uint16_t p;

		pm->spread = cfg->paths_spread && pm->n > 1;
		PATH_LOG(NOTICE, "frames of a node %s", pm->spread ?
			"spread over every private path that is up" : "kept on one path");
		/* rounds start or stop: what they said no longer holds */
		for (p = 0; p < pm->n; p++) {
			pm->p[p].reachable = 1;
			pm->p[p].miss_run = 0;
			pm->p[p].hit_run = 0;
			pm->p[p].answered = 0;
		}
		pm->n_sent = 0;
	}
	cnm_lb_paths_spread(pm->io.dp->lb, pm->spread);
	/* the next round starts with the new settings; the next tick publishes
	 * the set again */
	pm->next_round_ms = 0;
	pm->started = 0;
}

/* Reachability rounds run with spreading on and several paths: with one
 * path, or each node on its own, there is no other path to move to. */
static int
probing(const struct cnm_paths *pm)
{
	return pm->spread && pm->n > 1;
}

int
cnm_path_wants_rx(const struct cnm_paths *pm)
{
	return pm != NULL && probing(pm);
}

uint16_t
cnm_path_count(const struct cnm_paths *pm)
{
	return pm->n;
}

/* The address a node's frames are sent to the MAC of: its tunnel's gateway
 * when it has one, else its own (as the health checker resolves it). */
static const struct cnm_addr *
next_hop(const struct cnm_cfg_node *c)
{
	if (c->forward != CNM_FWD_MAC && c->has_gateway)
		return &c->gateway;
	return &c->ip;
}

static int
probed(const struct cnm_paths *pm, const struct cnm_cfg_node *c)
{
	uint32_t i;

	if (!pm->nodes_set)
		return 1;
	for (i = 0; i < pm->n_names; i++)
		if (strcmp(pm->names[i], c->name) == 0)
			return 1;
	return 0;
}

/* Has the round already got this address (two nodes behind one gateway)? */
static int
sent_has(const struct cnm_paths *pm, const struct cnm_addr *a)
{
	uint32_t i;

	for (i = 0; i < pm->n_sent; i++)
		if (pm->sent[i].family == a->family &&
				memcmp(pm->sent[i].bytes, a->bytes, 16) == 0)
			return 1;
	return 0;
}

/* Probe @p a through path @p idx: a request from the port's MAC, unicast to
 * @p mac when the node's MAC is known (it tests the way to that node, and
 * does not flood the segment), else broadcast (IPv4) or to the solicited-node
 * group (IPv6). IPv4 asks from 0.0.0.0 (RFC 5227: no address of our own is
 * needed); IPv6 from the port's link-local address. */
static void
send_probe(struct cnm_paths *pm, uint16_t idx, const struct cnm_addr *a, uint64_t mac)
{
	const uint8_t *smac = pm->io.dp->priv_mac[idx].addr_bytes;
	uint8_t frame[CNM_ND_NS_FRAME_LEN > 60 ? CNM_ND_NS_FRAME_LEN : 60];
	uint32_t len;

	memset(frame, 0, sizeof(frame));
	if (a->family == AF_INET) {
		static const uint8_t any[4];

		cnm_arp_make_request(frame, smac, any, a->bytes);
		if (mac != 0)
			memcpy(frame, &mac, 6);
		len = 60;
	} else {
		uint8_t ll[16], dmac[6];

		memcpy(dmac, &mac, 6);
		cnm_nd_link_local(smac, ll);
		cnm_nd_make_ns(frame, smac, ll, a->bytes, mac != 0 ? dmac : NULL);
		len = CNM_ND_NS_FRAME_LEN;
	}
	if (pm->io.send(pm->io.arg, idx, frame, len) == 0)
		pm->p[idx].probes++;
}

/* A round: up to CNM_PATH_PROBES_MAX next hops, taken in turn from the
 * nodes, each probed on every path that has link. */
static void
round_send(struct cnm_paths *pm)
{
	const struct cnm_lb *lb = pm->io.dp->lb;
	uint32_t end = cnm_lb_node_end(lb), k, id;
	uint16_t i;

	pm->n_sent = 0;
	for (k = 0; k < end && pm->n_sent < CNM_PATH_PROBES_MAX; k++) {
		const struct cnm_node *nd;
		const struct cnm_cfg_node *c;
		const struct cnm_addr *a;

		id = (pm->cursor + k) % end;
		nd = cnm_lb_node(lb, id);
		if (nd == NULL || !nd->used)
			continue;
		c = cnm_lb_node_cfg(lb, id);
		if (c == NULL || !probed(pm, c))
			continue;
		a = next_hop(c);
		if ((a->family != AF_INET && a->family != AF_INET6) || sent_has(pm, a))
			continue;
		pm->sent[pm->n_sent++] = *a;
		for (i = 0; i < pm->n; i++)
			if (pm->p[i].link)
				send_probe(pm, i, a, __atomic_load_n(&nd->mac, __ATOMIC_RELAXED));
	}
	pm->cursor = end ? (pm->cursor + k) % end : 0;
}

/* The end of a round: what it heard, per path. A round that probed nothing
 * (no node to probe) leaves reachability as it was. */
static void
round_close(struct cnm_paths *pm)
{
	uint16_t i;

	for (i = 0; i < pm->n; i++) {
		struct path *p = &pm->p[i];

		if (!p->link || pm->n_sent == 0) {
			p->answered = 0;
			continue;
		}
		if (p->answered) {
			p->hit_run++;
			p->miss_run = 0;
		} else {
			p->miss_run++;
			p->hit_run = 0;
			p->rounds_missed++;
		}
		p->answered = 0;
		if (p->reachable && p->miss_run >= pm->rounds)
			p->reachable = 0;
		else if (!p->reachable && p->hit_run >= pm->rise)
			p->reachable = 1;
	}
}

/* Publish the set of paths up when it changed: logged, audited, and given
 * to the tables. */
static void
publish(struct cnm_paths *pm, uint64_t now_ms)
{
	uint32_t mask = 0, linked = 0;
	uint16_t i;

	for (i = 0; i < pm->n; i++) {
		if (pm->p[i].link)
			linked |= 1u << i;
		if (pm->p[i].link && (pm->p[i].reachable || !probing(pm)))
			mask |= 1u << i;
	}
	/* no path with link reaches a node: keep those with link (the nodes
	 * are more likely down than every path; health takes nodes out) */
	if (mask == 0)
		mask = linked;
	for (i = 0; i < pm->n; i++) {
		struct path *p = &pm->p[i];
		uint8_t up = (mask >> i) & 1;

		if (up == p->up)
			continue;
		p->up = up;
		p->since_ms = now_ms;
		if (up) {
			p->ups++;
			p->why = "";
			PATH_LOG(NOTICE, "private path %u (port %u) up", i, pm->io.dp->priv_port[i]);
			CNM_AUDIT(NOTICE, "path: private path %u up", i);
		} else {
			p->downs++;
			p->why = !p->link ? "link down" : "no probed node answered";
			PATH_LOG(WARNING, "private path %u (port %u) down: %s", i,
				pm->io.dp->priv_port[i], p->why);
			CNM_AUDIT(WARNING, "path: private path %u down: %s", i, p->why);
		}
	}
	if (mask != cnm_lb_paths_up(pm->io.dp->lb) || !pm->started)
		cnm_lb_paths_update(pm->io.dp->lb, mask);
	pm->started = 1;
}

void
cnm_path_tick(struct cnm_paths *pm, uint64_t now_ms)
{
	int changed = 0;
	uint16_t i;

	if (now_ms >= pm->next_link_ms) {
		pm->next_link_ms = now_ms + CNM_PATH_LINK_MS;
		for (i = 0; i < pm->n; i++) {
			struct rte_eth_link link;
			uint8_t l;

			memset(&link, 0, sizeof(link));
			l = rte_eth_link_get_nowait(pm->io.dp->priv_port[i], &link) == 0 &&
				link.link_status == RTE_ETH_LINK_UP;
			if (l == pm->p[i].link)
				continue;
			pm->p[i].link = l;
			changed = 1;
			/* the line operators (and tests/robust) watch for */
			printf("cnmux: private port %u link %s\n", i, l ? "up" : "down");
			fflush(stdout);
			if (!l && pm->n_sent > 0 && probing(pm)) {
				/* back only after rise answered rounds */
				pm->p[i].reachable = 0;
				pm->p[i].hit_run = 0;
			}
		}
	}
	if (probing(pm) && now_ms >= pm->next_round_ms) {
		if (pm->next_round_ms != 0)
			round_close(pm);
		round_send(pm);
		pm->next_round_ms = now_ms + pm->interval_ms;
		changed = 1;
	}
	if (changed || !pm->started)
		publish(pm, now_ms);
}

void
cnm_path_input(struct cnm_paths *pm, uint16_t idx, const uint8_t *frame, uint32_t len)
{
	struct cnm_addr from;
	uint32_t i;

	if (pm == NULL || idx >= pm->n || len < 14 || pm->n_sent == 0)
		return;
	/* to this path's port only: a flooded answer to another path's probe
	 * says nothing about this one */
	if (memcmp(frame, pm->io.dp->priv_mac[idx].addr_bytes, 6) != 0)
		return;
	memset(&from, 0, sizeof(from));
	if (frame[12] == 0x08 && frame[13] == 0x06) {
		struct cnm_arp a;

		if (cnm_arp_parse(frame, len, 14, &a) != 0 || a.op != CNM_ARP_REPLY)
			return;
		from.family = AF_INET;
		memcpy(from.bytes, a.spa, 4);
	} else if (frame[12] == 0x86 && frame[13] == 0xdd) {
		struct cnm_nd na;

		if (len < 14 + 40 + 24 || frame[20] != 58 /* ICMPv6 */ || frame[54] != CNM_ND_NA)
			return;
		if (cnm_nd_parse(frame, len, 14, 54, 14 + 40 + ((uint32_t)frame[18] << 8 | frame[19]),
				&na) != CNM_DROP_NONE)
			return;
		from.family = AF_INET6;
		memcpy(from.bytes, na.target, 16);
	} else {
		return;
	}
	for (i = 0; i < pm->n_sent; i++) {
		if (pm->sent[i].family == from.family &&
				memcmp(pm->sent[i].bytes, from.bytes, 16) == 0) {
			pm->p[idx].answers++;
			pm->p[idx].answered = 1;
			return;
		}
	}
}

int
cnm_path_get(const struct cnm_paths *pm, uint16_t idx, struct cnm_path_stats *st)
{
	const struct path *p;
	struct rte_eth_stats es;
	unsigned int w;

	if (pm == NULL || idx >= pm->n)
		return -EINVAL;
	p = &pm->p[idx];
	memset(st, 0, sizeof(*st));
	st->link = p->link;
	st->reachable = p->reachable;
	st->up = p->up;
	/* plain loads: each counter has one writer, a worker; a 64-bit load is whole */
	for (w = 0; w < pm->io.n_workers; w++)
		st->forwarded += pm->io.workers[w]->path_tx[idx];
	memset(&es, 0, sizeof(es));
	if (rte_eth_stats_get(pm->io.dp->priv_port[idx], &es) == 0) {
		st->tx_frames = es.opackets;
		st->tx_bytes = es.obytes;
		st->tx_errors = es.oerrors;
	}
	st->probes = p->probes;
	st->answers = p->answers;
	st->rounds_missed = p->rounds_missed;
	st->downs = p->downs;
	st->ups = p->ups;
	st->since_ms = p->since_ms;
	st->why = p->why;
	return 0;
}

json_t *
cnm_path_json(const struct cnm_paths *pm)
{
	json_t *o, *a = json_array(), *names;
	uint16_t i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < pm->n; i++) {
		struct cnm_path_stats st;
		json_t *e;

		cnm_path_get(pm, i, &st);
		e = json_pack("{s:i,s:i,s:b,s:b,s:b,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			"index", (int)i, "port", (int)pm->io.dp->priv_port[i],
			"up", st.up, "link", st.link, "reachable", st.reachable, "why", st.why,
			"forwarded", (json_int_t)st.forwarded,
			"tx_frames", (json_int_t)st.tx_frames,
			"tx_bytes", (json_int_t)st.tx_bytes,
			"tx_errors", (json_int_t)st.tx_errors,
			"probes", (json_int_t)st.probes, "answers", (json_int_t)st.answers,
			"rounds_missed", (json_int_t)st.rounds_missed,
			"downs", (json_int_t)st.downs, "ups", (json_int_t)st.ups,
			"since_ms", (json_int_t)st.since_ms);
		if (e == NULL || json_array_append_new(a, e) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	if (pm->nodes_set) {
		names = json_array();
		for (i = 0; names != NULL && i < pm->n_names; i++)
			json_array_append_new(names, json_string(pm->names[i]));
	} else {
		names = json_string("all");
	}
	/* "o" steals "a" and "names" (NULL members make it NULL) */
	o = json_pack("{s:b,s:b,s:I,s:I,s:I,s:o,s:o}", "spread", pm->spread,
		"probing", probing(pm), "interval_ms", (json_int_t)pm->interval_ms,
		"rounds", (json_int_t)pm->rounds, "rise", (json_int_t)pm->rise,
		"probed", names, "paths", a);
	return o;
}
