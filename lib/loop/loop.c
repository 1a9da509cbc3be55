/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control loop (cnm_loop.h) and what the control side asks of the data
 * path: the tracked connections (conns count, conns show, HA), the counters
 * kept outside the workers, the health checker's frames.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "cnm_control.h"
#include "cnm_fwd.h"
#include "cnm_ha.h"
#include "cnm_health.h"
#include "cnm_announce.h"
#include "cnm_log.h"
#include "cnm_loop.h"
#include "cnm_metrics.h"
#include "cnm_path.h"
#include "cnm_telemetry.h"
#include "watch.h"

struct cnm_loop {
	struct cnm_loop_conf c;
	struct cnm_ctx ctx;                  /**< the control side's view (lib/control) */
	struct cnm_tel_ctx tel;              /**< telemetry's */
	struct cnm_health *hc;
	struct cnm_announce *ann;     /* the VIPs for a routing daemon (docs/bgp.md) */
	struct cnm_paths *paths;             /**< the path manager (lib/path) */
	uint64_t next_sc_ms;                 /**< next drop of closed second chance windows */
	struct cnm_ctl_server *srv;          /**< NULL: no control socket */
	struct cnm_ha *ha;                   /**< NULL: no "ha" */
	struct cnm_wstats *wst[CNM_MAX_WORKERS];
	uint32_t cursor[CNM_MAX_WORKERS];    /**< HA: where the next displaced dump starts */
	uint64_t hz;
	uint64_t start_tsc;                  /**< when cnm_loop_run() started; 0 before */
	struct cnm_stats_total *tot;         /**< for --stats-period */
	/* the rates: the two last readings of the totals (not zeroed),
	 * CNM_LOOP_RATE_MS apart; written by the control lcore under ctl_lock,
	 * read under it (telemetry, the control socket) */
	struct cnm_stats_total *rate_prev, *rate_cur;
	uint64_t rate_prev_tsc, rate_cur_tsc;   /**< when they were taken; 0: not yet */
	uint64_t next_rate_tsc;
	struct cnm_metrics *metrics;         /**< NULL: no "metrics" */
	struct cnm_watch *watch;             /**< what the data path only counts, logged */
	uint64_t ctl_queued;                 /**< frames put on dp->ctl_tx (control lcore only) */
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t reload_signal;
/* who sent the last SIGHUP (the kernel's si_uid, si_pid), for the audit line */
static volatile sig_atomic_t hup_uid = -1, hup_pid;

static void
on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGHUP) {
		hup_uid = si != NULL ? (sig_atomic_t)si->si_uid : -1;
		hup_pid = si != NULL ? (sig_atomic_t)si->si_pid : 0;
		reload_signal = 1;
	} else {
		stop_signal = sig;
	}
}

/* ---- counters kept outside the workers ---- */

static void
more_stats(void *arg, struct cnm_stats_total *t)
{
	const struct cnm_loop *l = arg;
	struct rte_eth_stats es;
	uint64_t start;

	memset(&es, 0, sizeof(es));
	(void)rte_eth_stats_get(l->c.dp->pub_port, &es);
	t->rx_nombuf = es.rx_nombuf;
	t->rx_missed = es.imissed;
	t->rx_errors = es.ierrors;
	t->mbufs_free = rte_mempool_avail_count(l->c.pool);
	t->mbufs_in_use = rte_mempool_in_use_count(l->c.pool);
	if (l->hc != NULL) {
		const struct cnm_health_stats *h = cnm_health_get_stats(l->hc);

#define CNM_X_HEALTH(X, n, k, d) t->health_##n = h->n;
		CNM_STATS_HEALTH(unused, CNM_X_HEALTH)
#undef CNM_X_HEALTH
	}
	/* relaxed: written once, by the control lcore; alone, it orders nothing */
	start = __atomic_load_n(&l->start_tsc, __ATOMIC_RELAXED);
	if (start != 0)
		t->elapsed_ms = (rte_rdtsc() - start) * 1000 / l->hz;
}

/* the totals as they grow, whatever `zero` did: rates and /metrics */
static void
raw_totals(struct cnm_loop *l, struct cnm_stats_total *t)
{
	cnm_stats_sum(l->wst, l->c.n_workers, t);
	cnm_lb_stats_rebase(l->c.dp->lb, t);
	more_stats(l, t);
}

void
cnm_loop_totals(struct cnm_loop *l, struct cnm_stats_total *t)
{
	raw_totals(l, t);
	cnm_lb_stats_zeroed(l->c.dp->lb, t);
}

/* ---- rates ---- */

/* One reading every CNM_LOOP_RATE_MS: the last one becomes the one before. */
static void
rate_sample(struct cnm_loop *l, uint64_t now)
{
	struct cnm_stats_total *t;

	pthread_mutex_lock(l->c.ctl_lock);
	t = l->rate_prev;
	l->rate_prev = l->rate_cur;
	l->rate_prev_tsc = l->rate_cur_tsc;
	l->rate_cur = t;
	raw_totals(l, t);
	l->rate_cur_tsc = now;
	pthread_mutex_unlock(l->c.ctl_lock);
}

/* The rates between the two last readings into @p r; the interval in
 * microseconds (0 before there are two). ctl_lock held or control lcore. */
static uint64_t
rate_now(const struct cnm_loop *l, struct cnm_stats_total *r)
{
	uint64_t us = 0;

	if (l->rate_prev_tsc != 0 && l->rate_cur_tsc > l->rate_prev_tsc)
		us = (l->rate_cur_tsc - l->rate_prev_tsc) * 1000000 / l->hz;
	cnm_stats_rate(l->rate_prev, l->rate_cur, us, r);
	return us;
}

/* `stats rate`, /cnmux/rates: the keys of cnm_stats_json() per second, and
 * the interval they were measured over; ctl_lock held. */
static json_t *
rates_json(void *arg)
{
	const struct cnm_loop *l = arg;
	struct cnm_stats_total *r = malloc(sizeof(*r));
	json_t *j = NULL;
	uint64_t us;

	if (r == NULL)
		return NULL;
	us = rate_now(l, r);
	j = cnm_stats_json(r, l->c.dp->lb);
	free(r);
	if (j != NULL && json_object_set_new(j, "interval_ms", json_integer((json_int_t)(us / 1000))) != 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* ---- /metrics ---- */

/* One scrape's snapshot (cnm_metrics_conf.snapshot), on the endpoint's
 * thread: read under the control lock, as telemetry does, so no change of
 * the tables runs half way through it. */
static json_t *
metrics_snapshot(void *arg)
{
	struct cnm_loop *l = arg;
	const struct cnm_lb *lb = l->c.dp->lb;
	struct cnm_stats_total *t = malloc(sizeof(*t));
	json_t *snap = NULL, *st, *info = json_object();
	char buf[64];
	uint32_t i;

	if (t == NULL || info == NULL)
		goto out;
	pthread_mutex_lock(l->c.ctl_lock);
	raw_totals(l, t);
	st = cnm_stats_json(t, lb);
	for (i = 0; st != NULL && i < cnm_lb_svc_end(lb); i++) {
		const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, i);
		const struct cnm_pdt *p = cnm_lb_svc_pdt(lb, i);

		if (s == NULL)
			continue;
		json_object_set_new(info, s->name, json_pack("{s:s,s:s,s:I}",
			"vip", cnm_addr_str(&s->vip, buf, sizeof(buf)),
			"policy", cnm_policy_name(s->policy),
			"active_nodes", (json_int_t)(p != NULL ? p->n_active : 0)));
	}
	pthread_mutex_unlock(l->c.ctl_lock);
	if (st != NULL)
		snap = json_pack("{s:o,s:O}", "stats", st, "services", info);
out:
	json_decref(info);
	free(t);
	return snap;
}

/* ---- tracked connections ---- */

static uint64_t
conns_count(void *arg)
{
	const struct cnm_loop *l = arg;
	uint64_t n = 0;
	unsigned int i;

	/* relaxed: each worker's gauge, written by it alone; a count a burst
	 * old is as good */
	for (i = 0; i < l->c.n_workers; i++)
		n += __atomic_load_n(&l->c.workers[i]->st.conn_active, __ATOMIC_RELAXED) +
			__atomic_load_n(&l->c.workers[i]->st.udp_active, __ATOMIC_RELAXED);
	return n;
}

static const char *
endpoint(const uint8_t *addr, uint8_t family, uint16_t port_be, char *buf, size_t len)
{
	struct cnm_addr a = { .family = family };
	char ip[64];

	memcpy(a.bytes, addr, 16);
	cnm_addr_str(&a, ip, sizeof(ip));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, rte_be_to_cpu_16(port_be));
	return buf;
}

static int
conns_dump(void *arg, json_t *arr, uint32_t max, int32_t svc, int32_t node)
{
	static const char *const states[] = { "syn", "established", "closing", "udp" };
	const struct cnm_loop *l = arg;
	const struct cnm_lb *lb = l->c.dp->lb;
	unsigned int i;
	int total = 0;

	for (i = 0; i < l->c.n_workers && (uint32_t)total < max; i++) {
		struct cnm_conn_dump *d = calloc(max - total, sizeof(*d));
		uint32_t now = 0;
		int n, j;

		if (d == NULL)
			return -ENOMEM;
		n = cnm_worker_conns_dump(l->c.workers[i], d, max - total, svc, node, &now);
		if (n < 0)
			return n; /* d stays allocated: the worker may still write it */
		for (j = 0; j < n; j++) {
			const struct cnm_conn_key *k = &d[j].key;
			const struct cnm_conn *e = &d[j].conn;
			char cl[80], vip[80];
			const struct cnm_cfg_service *sc = cnm_lb_svc_cfg(lb, e->svc);
			const struct cnm_cfg_node *nc = cnm_lb_node_cfg(lb, e->node);
			const char *sname = sc != NULL ? sc->name : "?";
			const char *nname = nc != NULL ? nc->name : "?";

			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:i}",
				"proto", k->proto == IPPROTO_UDP ? "udp" : "tcp",
				"client", endpoint(k->src, k->family, k->sport, cl, sizeof(cl)),
				"vip", endpoint(k->dst, k->family, k->dport, vip, sizeof(vip)),
				"service", sname, "node", nname, "state", states[e->state & 3],
				"expires_ms", (json_int_t)(int32_t)(e->expire - now),
				"worker", (int)i));
		}
		total += n;
		free(d);
	}
	return total;
}

/* HA: the displaced connections of every worker, by name. */
static int
ha_displaced(void *arg, struct cnm_ha_conn *out, uint32_t max)
{
	struct cnm_loop *l = arg;
	const struct cnm_lb *lb = l->c.dp->lb;
	struct cnm_conn_dump *d = calloc(max + 1, sizeof(*d));
	uint32_t total = 0;
	unsigned int i;

	if (d == NULL)
		return -ENOMEM;
	for (i = 0; i < l->c.n_workers && total < max; i++) {
		uint32_t want = max - total;
		int n = cnm_worker_conns_displaced(l->c.workers[i], d, want, l->cursor[i], NULL), j;

		if (n < 0)
			return n; /* d stays allocated: the worker may still write it */
		/* next time, go on from here; start again once the list is through */
		l->cursor[i] = (uint32_t)n < want ? 0 : l->cursor[i] + (uint32_t)n;
		for (j = 0; j < n; j++) {
			const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, d[j].conn.svc);
			const struct cnm_cfg_node *nc = cnm_lb_node_cfg(lb, d[j].conn.node);
			struct cnm_ha_conn *o = &out[total];

			if (s == NULL || nc == NULL)
				continue;
			o->family = d[j].key.family;
			o->proto = d[j].key.proto;
			memcpy(o->src, d[j].key.src, 16);
			memcpy(o->dst, d[j].key.dst, 16);
			o->sport = d[j].key.sport;
			o->dport = d[j].key.dport;
			snprintf(o->service, sizeof(o->service), "%s", s->name);
			snprintf(o->node, sizeof(o->node), "%s", nc->name);
			total++;
		}
	}
	free(d);
	return (int)total;
}

/* explain: which worker holds a connection (-1: none) */
static int
conns_lookup(void *arg, const struct cnm_conn_key *k, struct cnm_conn *c, uint32_t *now)
{
	const struct cnm_loop *l = arg;
	uint32_t i;

	for (i = 0; i < l->c.n_workers; i++)
		if (cnm_worker_conn_lookup(l->c.workers[i], k, c, now) == 1)
			return (int)i;
	return -1;
}

/*
 * HA: connections learnt from another holder, into every worker's list: RSS
 * decides which worker will see the connection's packets here, and the
 * entry must be where they arrive (a worker that never sees them lets it
 * expire).
 */
static int
ha_insert(void *arg, const struct cnm_ha_conn *in, uint32_t n)
{
	const struct cnm_loop *l = arg;
	const struct cnm_lb *lb = l->c.dp->lb;
	struct cnm_conn_dump *d;
	uint32_t i, k = 0;
	int ret;

	if (l->c.n_workers == 0 || l->c.workers[0]->ct == NULL)
		return 0;
	d = calloc(n + 1, sizeof(*d));
	if (d == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		int sid = cnm_lb_svc_find(lb, in[i].service);
		int nid = cnm_lb_node_find(lb, in[i].node);

		if (sid < 0 || nid < 0)
			continue;
		d[k].key.family = in[i].family;
		d[k].key.proto = in[i].proto == IPPROTO_UDP ? IPPROTO_UDP : CNM_CONN_KEY_TCP;
		memcpy(d[k].key.src, in[i].src, 16);
		memcpy(d[k].key.dst, in[i].dst, 16);
		d[k].key.sport = in[i].sport;
		d[k].key.dport = in[i].dport;
		d[k].conn.svc = (uint16_t)sid;
		d[k].conn.node = (uint16_t)nid;
		k++;
	}
	ret = 0;
	for (i = 0; k > 0 && i < l->c.n_workers && ret >= 0; i++)
		ret = cnm_worker_conns_insert(l->c.workers[i], d, k);
	if (ret >= 0)
		free(d); /* else a worker may still read it */
	return ret;
}

/* ---- the health checker ---- */

/* A frame for worker 0, which owns the TX queues, on dp->ctl_tx. */
static int
ctl_enqueue(struct cnm_loop *l, struct rte_mbuf *m)
{
	if (rte_ring_mp_enqueue(l->c.dp->ctl_tx, m) != 0) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	l->ctl_queued++;
	return 0;
}

/* The frames queued so far, and those worker 0 has taken (sent or not):
 * a health round's timeout counts from when its probe was taken. */
static uint64_t
ctl_queued(void *arg)
{
	const struct cnm_loop *l = arg;

	return l->ctl_queued;
}

static uint64_t
ctl_taken(void *arg)
{
	const struct cnm_loop *l = arg;
	const struct cnm_wstats *st = l->wst[0];

	/* relaxed: counts worker 0 alone writes, each a word */
	return __atomic_load_n(&st->ctl_tx, __ATOMIC_RELAXED) +
		__atomic_load_n(&st->ctl_tx_drop, __ATOMIC_RELAXED);
}

/* Its frames: queued for worker 0, which owns the TX queues. */
static int
ctl_send(void *arg, uint16_t idx, const uint8_t *frame, uint32_t len)
{
	struct cnm_loop *l = arg;
	struct rte_mbuf *m = rte_pktmbuf_alloc(l->c.pool);
	char *p;

	if (m == NULL)
		return -ENOMEM;
	p = rte_pktmbuf_append(m, (uint16_t)len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return -ENOSPC;
	}
	memcpy(p, frame, len);
	m->port = l->c.dp->priv_port[idx];
	return ctl_enqueue(l, m);
}

/*
 * A probe's IP packet for node @p id (icmp and tcp checks), through the
 * node's method: a tunnelled node's is encapsulated by the method's own
 * encap (drivers/), as the node's traffic is; then queued like ctl_send().
 * Control lcore, ctl_lock held: the node's tunnel fields do not change.
 */
static int
ctl_send_node(void *arg, uint16_t id, const uint8_t *frame, uint32_t len)
{
	struct cnm_loop *l = arg;
	const struct cnm_lb_view *v = cnm_lb_view(l->c.dp->lb);
	const struct cnm_node *nd = cnm_lb_node(l->c.dp->lb, id);
	const struct cnm_fwd_ops *ops = cnm_fwd_get(nd->method);
	struct rte_mbuf *m;
	struct cnm_fwd_pkt pk;
	char *p;
	int ret;

	if (nd->port >= l->c.dp->n_private || ops == NULL || len < RTE_ETHER_HDR_LEN + 20)
		return -ENETUNREACH;
	if (nd->method == CNM_FWD_MAC)
		return ctl_send(arg, nd->port, frame, len);
	m = rte_pktmbuf_alloc(l->c.pool);
	if (m == NULL)
		return -ENOMEM;
	p = rte_pktmbuf_append(m, (uint16_t)len);
	if (p == NULL) {
		rte_pktmbuf_free(m);
		return -ENOSPC;
	}
	memcpy(p, frame, len);
	pk.l3_off = RTE_ETHER_HDR_LEN;
	pk.l3_len = len - RTE_ETHER_HDR_LEN;
	pk.family = (frame[RTE_ETHER_HDR_LEN] >> 4) == 4 ? AF_INET : AF_INET6;
	pk.entropy = id;
	ret = ops->encap(m, &pk, &v->tun[id], &v->fwd, nd->mac, &l->c.dp->priv_mac[nd->port]);
	if (ret != CNM_FWD_OK) {
		rte_pktmbuf_free(m);
		return -EINVAL;
	}
	m->port = l->c.dp->priv_port[nd->port];
	return ctl_enqueue(l, m);
}

/* `path show`, /cnmux/paths (ctl_lock held) */
static json_t *
paths_json(void *arg)
{
	const struct cnm_loop *l = arg;

	return cnm_path_json(l->paths);
}

/* `node show`: node @p id's check as it runs (ctl_lock held). */
static json_t *
node_health_json(void *arg, uint16_t id)
{
	const struct cnm_loop *l = arg;

	return cnm_health_node_json(l->hc, id);
}

/* A new configuration runs (ctl_lock held): the checker takes its settings. */
static void
on_commit(void *arg, const struct cnm_config *cfg)
{
	struct cnm_loop *l = arg;

	cnm_health_configure(l->hc, cfg);
	cnm_announce_configure(l->ann, cfg);
	cnm_path_configure(l->paths, cfg);
}

/* Frames arriving on the private ports: ARP replies from the nodes, the
 * answers to icmp and tcp checks. Only the control lcore reads these queues. */
static void
private_rx(const struct cnm_dp *dp, struct cnm_health *hc, struct cnm_paths *pm,
		uint64_t now_ms)
{
	struct rte_mbuf *m[CNM_BURST];
	uint16_t i, j, n;

	for (i = 0; i < dp->n_private; i++) {
		/* a reader of the RCU only inside the burst (pdump's callbacks,
		 * app/cnmux/pdump_sync.c): offline elsewhere, so that its own
		 * table updates never wait for it */
		if (dp->qsbr != NULL)
			rte_rcu_qsbr_thread_online(dp->qsbr, dp->qsbr_ctl);
		n = rte_eth_rx_burst(dp->priv_port[i], 0, m, CNM_BURST);
		if (dp->qsbr != NULL)
			rte_rcu_qsbr_thread_offline(dp->qsbr, dp->qsbr_ctl);
		for (j = 0; j < n; j++) {
			if (rte_pktmbuf_is_contiguous(m[j])) {
				cnm_health_input(hc, i, rte_pktmbuf_mtod(m[j], uint8_t *),
					rte_pktmbuf_data_len(m[j]), now_ms);
				/* the path manager's probes' answers */
				cnm_path_input(pm, i, rte_pktmbuf_mtod(m[j], uint8_t *),
					rte_pktmbuf_data_len(m[j]));
			}
			rte_pktmbuf_free(m[j]);
		}
	}
}

/* ---- the loop ---- */

struct cnm_loop *
cnm_loop_create(const struct cnm_loop_conf *c)
{
	struct cnm_loop *l = calloc(1, sizeof(*l));
	struct cnm_health_io io = { .send = ctl_send, .send_node = ctl_send_node,
				    .queued = ctl_queued, .taken = ctl_taken };
	const struct cnm_config *cfg = c->cfg;
	unsigned int i;

	if (l == NULL || c->n_workers > CNM_MAX_WORKERS) {
		fprintf(stderr, "cnmux: out of memory for the control loop\n");
		free(l);
		return NULL;
	}
	l->c = *c;
	l->hz = rte_get_tsc_hz();
	for (i = 0; i < c->n_workers; i++)
		l->wst[i] = &c->workers[i]->st;
	cnm_lb_set_stats(c->dp->lb, l->wst, c->n_workers);
	if (c->stats_period_s != 0) {
		l->tot = malloc(sizeof(*l->tot));
		if (l->tot == NULL) {
			fprintf(stderr, "cnmux: out of memory for --stats-period\n");
			goto fail;
		}
	}
	l->rate_prev = calloc(1, sizeof(*l->rate_prev));
	l->rate_cur = calloc(1, sizeof(*l->rate_cur));
	l->watch = cnm_watch_create();
	if (l->rate_prev == NULL || l->rate_cur == NULL || l->watch == NULL) {
		fprintf(stderr, "cnmux: out of memory for the rates\n");
		goto fail;
	}

	io.arg = l;
	for (i = 0; i < c->dp->n_private; i++)
		memcpy(io.priv_mac[i], c->dp->priv_mac[i].addr_bytes, 6);
	l->hc = cnm_health_create(c->dp->lb, cfg, &io);
	if (l->hc == NULL) {
		fprintf(stderr, "cnmux: out of memory for the health checker\n");
		goto fail;
	}
	l->ann = cnm_announce_create(cfg);
	if (l->ann == NULL) {
		fprintf(stderr, "cnmux: out of memory for the announcer\n");
		goto fail;
	}

	{
		struct cnm_path_io pio = {
			.dp = c->dp,
			.workers = c->workers,
			.n_workers = c->n_workers,
			.send = ctl_send,
			.arg = l,
		};

		l->paths = cnm_path_create(&pio, cfg);
		if (l->paths == NULL) {
			fprintf(stderr, "cnmux: out of memory for the path manager\n");
			goto fail;
		}
	}

	l->ctx.lb = c->dp->lb;
	l->ctx.cfg = c->cfg;
	snprintf(l->ctx.config_path, sizeof(l->ctx.config_path), "%s", c->config_path);
	l->ctx.stats = l->wst;
	l->ctx.n_workers = c->n_workers;
	l->ctx.ctl_lock = c->ctl_lock;
	l->ctx.conns_count = conns_count;
	l->ctx.conns_dump = conns_dump;
	l->ctx.conns_lookup = conns_lookup;
	l->ctx.conns_arg = l;
	l->ctx.more_stats = more_stats;
	l->ctx.more_stats_arg = l;
	l->ctx.on_commit = on_commit;
	l->ctx.on_commit_arg = l;
	l->ctx.rates = rates_json;
	l->ctx.rates_arg = l;
	l->ctx.paths = paths_json;
	l->ctx.paths_arg = l;
	l->ctx.node_health = node_health_json;
	l->ctx.node_health_arg = l;
	if (cfg->control_socket[0] != '\0') {
		l->srv = cnm_ctl_server_create(cfg->control_socket, &l->ctx);
		if (l->srv == NULL) {
			fprintf(stderr, "cnmux: %s: control.socket: cannot listen on %s: %s\n",
				cfg->path, cfg->control_socket, strerror(errno));
			goto fail;
		}
	}

	if (cfg->ha.enabled) {
		struct cnm_ha_io hio = {
			.health = l->hc,
			.displaced = c->dp->conn_max > 0 ? ha_displaced : NULL,
			.insert = ha_insert,
			.arg = l,
		};

		l->ha = cnm_ha_create(&l->ctx, &hio);
		if (l->ha == NULL) {
			fprintf(stderr, "cnmux: %s: ha: cannot start (listening on %s): %s\n",
				cfg->path, cfg->ha.listen.text, strerror(errno));
			goto fail;
		}
	}

	l->tel.lb = c->dp->lb;
	l->tel.stats = l->wst;
	l->tel.n_workers = c->n_workers;
	l->tel.ctl_lock = c->ctl_lock;
	l->tel.ha = l->ha;
	l->tel.more_stats = more_stats;
	l->tel.more_stats_arg = l;
	l->tel.rates = rates_json;
	l->tel.rates_arg = l;
	l->tel.paths = paths_json;
	l->tel.paths_arg = l;
	if (cnm_telemetry_init(&l->tel) != 0)
		fprintf(stderr, "cnmux: telemetry commands not registered\n");

	if (cfg->metrics_listen.port != 0) {
		struct cnm_metrics_conf mc = {
			.listen = cfg->metrics_listen,
			.snapshot = metrics_snapshot,
			.arg = l,
		};

		l->metrics = cnm_metrics_start(&mc);
		if (l->metrics == NULL) {
			fprintf(stderr, "cnmux: %s: metrics.listen: cannot listen on %s: %s\n",
				cfg->path, cfg->metrics_listen.text, strerror(errno));
			goto fail;
		}
	}

	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_signal;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	return l;
fail:
	l->ctx.cfg = NULL; /* still the caller's */
	cnm_loop_free(l);
	return NULL;
}

/* Has nothing arrived for --idle-exit milliseconds? */
static int
idle(const struct cnm_loop *l, uint64_t now)
{
	uint64_t last = l->start_tsc;
	unsigned int i;

	for (i = 0; i < l->c.n_workers; i++) {
		/* relaxed: a timestamp alone, nothing read through it */
		uint64_t t = __atomic_load_n(&l->c.workers[i]->last_rx_tsc, __ATOMIC_RELAXED);

		if (t > last)
			last = t;
	}
	return now > last && (now - last) * 1000 / l->hz >= l->c.idle_exit_ms;
}

/* One round with the tables locked: paths, the health checker. */
static void
tick(struct cnm_loop *l, uint64_t now_ms)
{
	pthread_mutex_lock(l->c.ctl_lock);
	cnm_path_tick(l->paths, now_ms);
	if (now_ms >= l->next_sc_ms) {
		/* second chance versions whose window closed go (lib/service) */
		(void)cnm_lb_second_chance_expire(l->c.dp->lb);
		l->next_sc_ms = now_ms + 100;
	}
	/* the private RX queues carry only the nodes' ARP replies and
	 * advertisements: read them while a node is resolved (not configured
	 * with a MAC) or probes run (the health checker's, the paths') */
	if (cnm_health_wants_rx(l->hc) || cnm_path_wants_rx(l->paths))
		private_rx(l->c.dp, l->hc, l->paths, now_ms);
	cnm_health_tick(l->hc, now_ms);
	cnm_announce_tick(l->ann, l->c.dp->lb, now_ms);
	pthread_mutex_unlock(l->c.ctl_lock);
}

static void
sighup_reload(struct cnm_loop *l)
{
	char err[CNM_ERR_MAX], who[64];
	json_t *sum = NULL;

	snprintf(who, sizeof(who), "SIGHUP from uid %d pid %d", (int)hup_uid, (int)hup_pid);
	if (cnm_control_reload(&l->ctx, NULL, err, sizeof(err), &sum) == 0) {
		char *txt = json_dumps(sum, JSON_COMPACT);
		char *ch = cnm_control_changes_text(sum);

		printf("cnmux: SIGHUP: reloaded %s: %s\n", l->ctx.config_path, txt ? txt : "");
		CNM_AUDIT(NOTICE, "%s: reload {\"path\":\"%s\"}: ok, %.600s", who,
			l->ctx.config_path, ch ? ch : "");
		free(txt);
		free(ch);
	} else {
		fprintf(stderr, "cnmux: SIGHUP: reload refused, nothing changed: %s\n", err);
		CNM_AUDIT(WARNING, "%s: reload {\"path\":\"%s\"}: refused: %.600s", who,
			l->ctx.config_path, err);
	}
	json_decref(sum);
	fflush(stdout);
}

/* --stats-period: when (UTC, to the millisecond), the report, the rates. */
static void
stats_period(struct cnm_loop *l)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	uint64_t us;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("cnmux: statistics at %s.%03ldZ\n", when, ts.tv_nsec / 1000000);
	cnm_loop_totals(l, l->tot);
	cnm_stats_print(stdout, l->tot, l->c.dp->lb, 0);
	/* the rates need a struct of their own: l->tot is free again now */
	us = rate_now(l, l->tot);
	cnm_stats_print_rate(stdout, l->tot, l->c.dp->lb, us);
}

int
cnm_loop_run(struct cnm_loop *l)
{
	uint64_t next_stats;

	/* relaxed: more_stats() on the telemetry thread needs only the value
	 * (0 reads as "not started"), nothing published with it */
	__atomic_store_n(&l->start_tsc, rte_rdtsc(), __ATOMIC_RELAXED);
	next_stats = l->start_tsc + l->c.stats_period_s * l->hz;
	rate_sample(l, l->start_tsc);
	/* what the workers counted before the loop ran (all 0 before) */
	cnm_watch_tick(l->watch, l->c.dp->lb, l->rate_prev, l->rate_cur,
		l->start_tsc * 1000 / l->hz, l->ctx.cfg->conn_max);
	l->next_rate_tsc = l->start_tsc + CNM_LOOP_RATE_MS * l->hz / 1000;
	while (!stop_signal) {
		uint64_t now = rte_rdtsc();

		if (l->c.idle_exit_ms != 0 && idle(l, now)) {
			cnm_announce_stop(l->ann);
			return 0;
		}
		tick(l, now * 1000 / l->hz);
		cnm_ha_poll(l->ha);
		if (l->srv != NULL)
			cnm_ctl_server_poll(l->srv);
		if (reload_signal) {
			reload_signal = 0;
			sighup_reload(l);
		}
		if (now >= l->next_rate_tsc) {
			rate_sample(l, now);
			cnm_watch_tick(l->watch, l->c.dp->lb, l->rate_prev, l->rate_cur,
				now * 1000 / l->hz, l->ctx.cfg->conn_max);
			l->next_rate_tsc += CNM_LOOP_RATE_MS * l->hz / 1000;
			if (l->next_rate_tsc <= now) /* late (a long reload): no catching up */
				l->next_rate_tsc = now + CNM_LOOP_RATE_MS * l->hz / 1000;
		}
		if (l->tot != NULL && now >= next_stats) {
			stats_period(l);
			next_stats = now + l->c.stats_period_s * l->hz;
		}
		/* the control socket wakes the loop at once: a change takes
		 * effect without waiting out the rest of a millisecond */
		if (l->srv != NULL)
			cnm_ctl_server_wait(l->srv, 1);
		else
			rte_delay_us_sleep(1000);
	}
	/* routes withdrawn while the workers still forward */
	cnm_announce_stop(l->ann);
	return stop_signal;
}

void
cnm_loop_free(struct cnm_loop *l)
{
	if (l == NULL)
		return;
	/* first: a scrape reads the loop */
	cnm_metrics_stop(l->metrics);
	cnm_telemetry_stop();
	cnm_ctl_server_free(l->srv);
	cnm_ha_free(l->ha);
	cnm_health_free(l->hc);
	cnm_announce_free(l->ann);
	cnm_path_free(l->paths);
	cnm_config_free(l->ctx.cfg);
	free(l->tot);
	free(l->rate_prev);
	free(l->rate_cur);
	cnm_watch_free(l->watch);
	free(l);
}
