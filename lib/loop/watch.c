/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control loop's watch (watch.h): a service no node takes clients for,
 * a node without a MAC address, a full forwarding list.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cnm_log.h"
#include "watch.h"

/* a service with no active node */
struct svc_watch {
	uint64_t since_ms;    /* 0: it has active nodes */
	uint64_t next_ms;     /* not logged again before */
	uint64_t frames;      /* its frames since the last line */
};

/* a node without a MAC address */
struct node_watch {
	uint64_t since_ms;    /* 0: resolved (or not a node) */
	uint64_t next_ms;
	uint64_t drops_at;    /* node_unresolved drops at its last line */
};

struct cnm_watch {
	struct svc_watch svc[CNM_MAX_SERVICES];
	struct node_watch node[CNM_MAX_NODES];
	uint64_t full_next_ms;
	uint64_t full_since_ms;   /* the start of what full_syns counts */
	uint64_t full_syns;       /* SYNs not recorded since the last line */
	unsigned int lines;       /* written this tick */
	unsigned int skipped;     /* not written this tick: over CNM_WATCH_LINES */
};

struct cnm_watch *
cnm_watch_create(void)
{
	return calloc(1, sizeof(struct cnm_watch));
}

void
cnm_watch_free(struct cnm_watch *w)
{
	free(w);
}

static uint64_t
delta(uint64_t prev, uint64_t cur)
{
	return cur > prev ? cur - prev : 0;
}

/* may this tick write one more line? */
static int
line_ok(struct cnm_watch *w)
{
	if (w->lines < CNM_WATCH_LINES) {
		w->lines++;
		return 1;
	}
	w->skipped++;
	return 0;
}

static void
watch_services(struct cnm_watch *w, const struct cnm_lb *lb, const struct cnm_stats_total *prev,
		const struct cnm_stats_total *cur, uint64_t now)
{
	uint32_t i;

	for (i = 0; i < CNM_MAX_SERVICES; i++) {
		const struct cnm_cfg_service *s = i < cnm_lb_svc_end(lb) ? cnm_lb_svc_cfg(lb, i) : NULL;
		const struct cnm_pdt *p = s != NULL ? cnm_lb_svc_pdt(lb, i) : NULL;
		struct svc_watch *sw = &w->svc[i];

		if (s == NULL || p == NULL) {
			memset(sw, 0, sizeof(*sw));
			continue;
		}
		if (p->n_active > 0) {
			if (sw->since_ms != 0 && line_ok(w))
				CNM_AUDIT(NOTICE, "service %s: %u node(s) take clients again, after %"
					PRIu64 " s with none", s->name, p->n_active,
					(now - sw->since_ms) / 1000);
			memset(sw, 0, sizeof(*sw));
			continue;
		}
		sw->frames += delta(prev->svc[i].pkts, cur->svc[i].pkts);
		if (sw->since_ms == 0) {
			sw->since_ms = now;
			if (line_ok(w))
				CNM_AUDIT(WARNING, "service %s: no node takes clients (every node of its list is down, drained or unresolved): its frames are dropped (no_active_node)",
					s->name);
			sw->next_ms = now + CNM_WATCH_REPEAT_MS;
			sw->frames = 0;
		} else if (now >= sw->next_ms && sw->frames > 0 && line_ok(w)) {
			CNM_AUDIT(WARNING, "service %s: still no node takes clients after %" PRIu64
				" s: %" PRIu64 " frames for it dropped (no_active_node) since the last line",
				s->name, (now - sw->since_ms) / 1000, sw->frames);
			sw->next_ms = now + CNM_WATCH_REPEAT_MS;
			sw->frames = 0;
		}
	}
}

static void
watch_nodes(struct cnm_watch *w, const struct cnm_lb *lb, const struct cnm_stats_total *cur,
		uint64_t now)
{
	uint64_t drops = cur->drop[CNM_DROP_NODE_UNRESOLVED];
	uint32_t i;

	for (i = 0; i < CNM_MAX_NODES; i++) {
		const struct cnm_cfg_node *nc = i < cnm_lb_node_end(lb) ? cnm_lb_node_cfg(lb, i) : NULL;
		struct node_watch *nw = &w->node[i];
		char ip[64];

		/* resolved, or no node, or taken down by the operator: nothing to say */
		if (nc == NULL || cnm_lb_node(lb, i)->mac != 0 || cnm_lb_node_admin_down(lb, i)) {
			memset(nw, 0, sizeof(*nw));
			continue;
		}
		if (nw->since_ms == 0) {
			nw->since_ms = now;
			nw->next_ms = now + CNM_WATCH_UNRESOLVED_MS;
			nw->drops_at = drops;
			continue;
		}
		if (now < nw->next_ms || !line_ok(w))
			continue;
		CNM_AUDIT(WARNING, "node %s (%s): no MAC address for %" PRIu64
			" s: no answer to %s on private port %u; it takes no clients, and frames "
			"sent to it are dropped (node_unresolved, every node: %" PRIu64
			" since the last line)", nc->name, cnm_addr_str(&nc->ip, ip, sizeof(ip)),
			(now - nw->since_ms) / 1000,
			/* the next hop: a tunnel's gateway (only tunnels have one), else ip */
			(nc->has_gateway ? nc->gateway.family : nc->ip.family) == AF_INET6 ?
				"neighbour solicitations" : "ARP", (unsigned int)cnm_lb_node(lb, i)->port,
			delta(nw->drops_at, drops));
		nw->next_ms = now + CNM_WATCH_REPEAT_MS;
		nw->drops_at = drops;
	}
}

static void
watch_list(struct cnm_watch *w, const struct cnm_stats_total *prev,
		const struct cnm_stats_total *cur, uint64_t now, uint32_t conn_max)
{
	uint64_t d = delta(prev->conn_full, cur->conn_full);

	if (d > 0 && w->full_syns == 0)
		w->full_since_ms = now;
	w->full_syns += d;
	if (w->full_syns == 0 || now < w->full_next_ms || !line_ok(w))
		return;
	CNM_AUDIT(WARNING, "forwarding list full: %" PRIu64 " SYNs not recorded in %" PRIu64
		" s (conntrack.max %u per worker, %" PRIu64 " connections tracked): their "
		"connections follow the PDT (conn_full)", w->full_syns,
		(now - w->full_since_ms) / 1000 + 1, conn_max, cur->conn_active);
	w->full_syns = 0;
	w->full_next_ms = now + CNM_WATCH_REPEAT_MS;
}

void
cnm_watch_tick(struct cnm_watch *w, const struct cnm_lb *lb,
		const struct cnm_stats_total *prev, const struct cnm_stats_total *cur,
		uint64_t now_ms, uint32_t conn_max)
{
	/* 0 means "not yet" in the states above */
	uint64_t now = now_ms != 0 ? now_ms : 1;

	w->lines = 0;
	w->skipped = 0;
	watch_list(w, prev, cur, now, conn_max);
	watch_services(w, lb, prev, cur, now);
	watch_nodes(w, lb, cur, now);
	if (w->skipped > 0)
		CNM_AUDIT(WARNING, "and %u more such lines this second, not written "
			"(cnmuxctl service show, node show and stats tell them all)", w->skipped);
}
