/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>

#include "cnm_dataplane.h"
#include "cnm_local.h"
#include "cnm_macrewrite.h"

#define PREFETCH_AHEAD 3

int
cnm_worker_init(struct cnm_worker *w, const struct cnm_dp *dp, uint16_t id)
{
	uint16_t i;
	int ret;

	memset(w, 0, sizeof(*w));
	ret = cnm_wstats_init(&w->st);
	if (ret < 0)
		return ret;
	w->dp = dp;
	w->id = id;
	w->rxq = id;
	w->txq = id;
	w->poll_local = id == 0 && dp->local_port >= 0;
	for (i = 0; i < dp->n_private; i++) {
		w->priv[i].port = dp->priv_port[i];
		w->priv[i].queue = id;
	}
	if (dp->local_port >= 0) {
		w->local.port = (uint16_t)dp->local_port;
		w->local.queue = id;
	}
	return 0;
}

void
cnm_worker_fini(struct cnm_worker *w)
{
	cnm_wstats_fini(&w->st);
}

static inline void
drop(struct cnm_worker *w, struct rte_mbuf *m, enum cnm_drop r)
{
	w->st.drop[r]++;
	w->st.dropped++;
	rte_pktmbuf_free(m);
}

static inline void
txbuf_add(struct cnm_txbuf *b, struct rte_mbuf *m, uint16_t node)
{
	b->len[b->n] = rte_pktmbuf_pkt_len(m);
	b->node[b->n] = node;
	b->m[b->n++] = m;
}

/* Send what a burst left in a TX buffer; free and count what TX did not take. */
static inline void
txbuf_flush(struct cnm_worker *w, struct cnm_txbuf *b)
{
	struct cnm_wstats *st = &w->st;
	uint16_t sent, i;

	sent = rte_eth_tx_burst(b->port, b->queue, b->m, b->n);
	for (i = 0; i < sent; i++) {
		uint16_t node = b->node[i];

		if (node == CNM_NODE_NONE) {
			st->local++;
		} else {
			st->forwarded++;
			st->node[node].pkts++;
			st->node[node].bytes += b->len[i];
		}
	}
	if (unlikely(sent < b->n)) {
		uint16_t lost = b->n - sent;

		st->drop[CNM_DROP_TX_FULL] += lost;
		st->dropped += lost;
		rte_pktmbuf_free_bulk(&b->m[sent], lost);
	}
	b->n = 0;
}

static inline void
forward(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_flow *f, uint16_t node)
{
	const struct cnm_dp *dp = w->dp;
	const struct cnm_node *nd = &dp->lb->node[node];
	/* The control lcore may resolve a MAC while we run: one 64-bit word,
	 * read whole; no ordering with anything else is needed. */
	uint64_t mac = __atomic_load_n(&nd->mac, __ATOMIC_RELAXED);
	uint16_t port = nd->port;

	if (unlikely(mac == 0)) {
		drop(w, m, CNM_DROP_NODE_UNRESOLVED);
		return;
	}
	if (unlikely(cnm_macrewrite(m, f, mac, &dp->priv_mac[port]) != 0)) {
		drop(w, m, CNM_DROP_RUNT);
		return;
	}
	txbuf_add(&w->priv[port], m, node);
}

static inline void
to_local(struct cnm_worker *w, struct rte_mbuf *m)
{
	txbuf_add(&w->local, m, CNM_NODE_NONE);
}

void
cnm_worker_burst(struct cnm_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	const struct cnm_dp *dp = w->dp;
	const struct cnm_lb *lb = dp->lb;
	struct cnm_flow fl[CNM_BURST];
	const struct cnm_svc_key *keys[CNM_BURST];
	struct cnm_svc *svc[CNM_BURST];
	uint8_t idx[CNM_BURST];
	uint8_t hdr[CNM_PARSE_HDR_MAX];
	struct cnm_decision d;
	uint16_t i, nk = 0;

	w->st.rx += n;
	for (i = 0; i < n && i < PREFETCH_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint32_t wire = rte_pktmbuf_pkt_len(m);
		uint32_t cap = RTE_MIN(wire, (uint32_t)CNM_PARSE_HDR_MAX);
		const uint8_t *p;
		enum cnm_drop r;

		if (i + PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
		/* headers across segments are copied into hdr (multi-segment mbufs) */
		p = rte_pktmbuf_read(m, 0, cap, hdr);
		if (unlikely(p == NULL)) {
			drop(w, m, CNM_DROP_RUNT);
			continue;
		}
		r = cnm_parse(p, cap, wire, &fl[i]);
		if (unlikely(r != CNM_DROP_NONE)) {
			drop(w, m, r);
			continue;
		}
		if (unlikely(fl[i].kind == CNM_PKT_ARP)) {
			w->st.nonscalable++;
			if (dp->local_port >= 0)
				to_local(w, m);
			else
				drop(w, m, CNM_DROP_NO_SERVICE);
			continue;
		}
		keys[nk] = &fl[i].key;
		idx[nk++] = (uint8_t)i;
	}

	/* keys[0..nk) are all set; GCC cannot see it through the loop above */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
	cnm_lb_lookup_bulk(lb, keys, nk, svc);
#pragma GCC diagnostic pop

	for (i = 0; i < nk; i++) {
		struct rte_mbuf *m = pkts[idx[i]];
		const struct cnm_flow *f = &fl[idx[i]];

		cnm_decide_svc(lb, svc[i], f, &d);
		if (d.svc >= 0) {
			w->st.svc[d.svc].pkts++;
			w->st.svc[d.svc].bytes += rte_pktmbuf_pkt_len(m);
		}
		switch (d.verdict) {
		case CNM_V_FORWARD:
			forward(w, m, f, d.node);
			break;
		case CNM_V_DEFAULT:
			w->st.nonscalable++;
			w->st.to_default++;
			forward(w, m, f, d.node);
			break;
		case CNM_V_LOCAL:
			w->st.nonscalable++;
			to_local(w, m);
			break;
		default:
			if (d.svc < 0)
				w->st.nonscalable++;
			drop(w, m, (enum cnm_drop)d.reason);
			break;
		}
	}

	for (i = 0; i < dp->n_private; i++)
		if (w->priv[i].n)
			txbuf_flush(w, &w->priv[i]);
	if (w->local.n)
		txbuf_flush(w, &w->local);
}

int
cnm_worker_main(void *arg)
{
	struct cnm_worker *w = arg;
	const struct cnm_dp *dp = w->dp;
	struct rte_mbuf *pkts[CNM_BURST];
	uint16_t n;

	if (dp->qsbr != NULL) {
		/* rte_rcu_qsbr_thread_register() returns 1 on error */
		if (rte_rcu_qsbr_thread_register(dp->qsbr, w->id) != 0)
			return -EINVAL;
		rte_rcu_qsbr_thread_online(dp->qsbr, w->id);
	}
	w->last_rx_tsc = rte_rdtsc();
	while (!dp->quit) {
		n = rte_eth_rx_burst(dp->pub_port, w->rxq, pkts, CNM_BURST);
		if (n > 0) {
			uint64_t t0 = rte_rdtsc();

			cnm_worker_burst(w, pkts, n);
			w->st.busy_cycles += rte_rdtsc() - t0;
			w->st.busy_bursts++;
			/* read by the control lcore for --idle-exit; a word, no ordering */
			__atomic_store_n(&w->last_rx_tsc, t0, __ATOMIC_RELAXED);
		}
		if (w->poll_local &&
				cnm_local_poll((uint16_t)dp->local_port, 0, dp->pub_port, w->txq,
					&w->st) > 0)
			__atomic_store_n(&w->last_rx_tsc, rte_rdtsc(), __ATOMIC_RELAXED);
		if (dp->qsbr != NULL)
			rte_rcu_qsbr_quiescent(dp->qsbr, w->id);
	}
	if (dp->qsbr != NULL) {
		rte_rcu_qsbr_thread_offline(dp->qsbr, w->id);
		rte_rcu_qsbr_thread_unregister(dp->qsbr, w->id);
	}
	return 0;
}
