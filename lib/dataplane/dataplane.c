/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker: RX, parse, the decision (lib/service/cnm_decide.h), the
 * forwarding methods (drivers/), TX. The decision is not made here: this file
 * turns frames into struct cnm_pkt and verdicts into frames.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>

#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "cnm_arp.h"
#include "cnm_dataplane.h"
#include "cnm_fwd.h"
#include "cnm_fwd_mac.h"
#include "cnm_local.h"
#include "cnm_nd.h"
#include "cnm_tunnel.h"

#define PREFETCH_AHEAD 3

int
cnm_worker_init(struct cnm_worker *w, const struct cnm_dp *dp, uint16_t id)
{
	char name[32];
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
	w->tsc_per_ms = RTE_MAX(rte_get_tsc_hz() / 1000, (uint64_t)1);
	for (i = 0; i < dp->n_private; i++) {
		w->priv[i].port = dp->priv_port[i];
		w->priv[i].queue = id;
	}
	if (dp->local_port >= 0) {
		w->local.port = (uint16_t)dp->local_port;
		w->local.queue = id;
	}
	w->pub.port = dp->pub_port;
	w->pub.queue = id;
	/* the source of the tunnels' "too big" replies; workers do not run yet */
	cnm_lb_set_pub_mac(dp->lb, dp->pub_mac.addr_bytes);
	if (dp->conn_max > 0) {
		snprintf(name, sizeof(name), "cnm_ct%u", id);
		w->ct = cnm_ct_create2(name, dp->conn_max, dp->conn_max6 > 0 ? dp->conn_max6 :
				dp->conn_max, SOCKET_ID_ANY, &dp->conn_timeouts);
		if (w->ct == NULL) {
			cnm_wstats_fini(&w->st);
			return -rte_errno;
		}
	}
	w->ds.frag = rte_zmalloc("cnm_frag", CNM_FRAG_SLOTS * sizeof(*w->ds.frag),
		RTE_CACHE_LINE_SIZE);
	w->ds.cache = rte_zmalloc("cnm_svc_cache", CNM_SVC_CACHE_SLOTS * sizeof(*w->ds.cache),
		RTE_CACHE_LINE_SIZE);
	if (w->ds.frag == NULL || w->ds.cache == NULL) {
		rte_free(w->ds.frag);
		rte_free(w->ds.cache);
		cnm_ct_free(w->ct);
		cnm_wstats_fini(&w->st);
		return -ENOMEM;
	}
	w->ds.frag_mask = CNM_FRAG_SLOTS - 1;
	w->ds.cache_mask = CNM_SVC_CACHE_SLOTS - 1;
	w->ds.ct = w->ct;
	w->ds.st = &w->st;
	/* the worker's own QUIC-LB cipher lane (the control thread has one more) */
	RTE_BUILD_BUG_ON(CNM_QUIC_LANE_CTL < CNM_MAX_WORKERS);
	w->ds.lane = id;
	w->now_ms = cnm_worker_clock(w);
	w->ds.now_ms = w->now_ms;
	/* a slice a millisecond: the whole table (both families) in ~10 s */
	w->sweep_budget = w->ct != NULL ? RTE_MAX(16u, cnm_ct_slots(w->ct) / 10000) : 16u;
	w->walk_budget = CNM_CONN_WALK_BUDGET;
	return 0;
}

uint64_t
cnm_worker_memsize(void)
{
	struct cnm_worker *w = NULL;

	return sizeof(*w) + CNM_FRAG_SLOTS * sizeof(*w->ds.frag) +
		CNM_SVC_CACHE_SLOTS * sizeof(*w->ds.cache);
}

void
cnm_worker_fini(struct cnm_worker *w)
{
	cnm_ct_free(w->ct);
	w->ct = NULL;
	rte_free(w->ds.frag);
	w->ds.frag = NULL;
	rte_free(w->ds.cache);
	w->ds.cache = NULL;
	cnm_wstats_fini(&w->st);
}

uint32_t
cnm_worker_clock(const struct cnm_worker *w)
{
	return (uint32_t)(rte_rdtsc() / w->tsc_per_ms);
}

static __rte_always_inline void
drop(struct cnm_worker *w, struct rte_mbuf *m, enum cnm_drop r)
{
	w->st.drop[r]++;
	w->st.dropped++;
	rte_pktmbuf_free(m);
}

/* hash.usr of a frame queued for TX that is not for a node (below 2^16: its slot) */
#define TX_LOCAL UINT32_MAX

/*
 * Queue a frame for TX and count it as sent locally (txbuf_add_node() counts a
 * frame for a node).
 * The rare frames TX does not take are taken back out of those counts when
 * the buffer is flushed, so counting costs nothing per frame at flush time.
 */
static __rte_always_inline void
txbuf_add(struct cnm_worker *w, struct cnm_txbuf *b, struct rte_mbuf *m)
{
	w->st.local++;
	m->hash.usr = TX_LOCAL;
	b->m[b->n++] = m;
}

/* txbuf_add() of a frame forwarded to a node, counted in counter slot
 * @p slot (its (service, node) pair's or the node's sink: the service's and
 * the node's totals are sums of slots, lib/stats/cnm_stats.h). */
static __rte_always_inline void
txbuf_add_node(struct cnm_worker *w, struct cnm_txbuf *b, struct rte_mbuf *m, uint16_t slot)
{
	struct cnm_wstats *st = &w->st;

	st->forwarded++;
	st->member[slot].pkts++;
	st->member[slot].bytes += rte_pktmbuf_pkt_len(m);
	m->hash.usr = slot;
	b->m[b->n++] = m;
}

/* Count a frame of service @p svc (-1: none) that no slot counts: dropped
 * after its decision, answered instead, or refused by TX. */
static __rte_always_inline void
count_svc_unsent(struct cnm_worker *w, int32_t svc, uint32_t len)
{
	if (svc >= 0) {
		w->st.svc[svc].pkts++;
		w->st.svc[svc].bytes += len;
	}
}

/*
 * Count a drop of reason @p r that happened after the decision chose a node,
 * for who it concerns (lib/stats: CNM_DROP_DECIDED): in the decision's
 * counter slot @p slot (its pair's or the node's sink; the service's and the
 * node's totals are sums of slots). Only drop paths call it: the forwarded
 * frame does not pay for it.
 */
static __rte_always_inline void
count_drop_slot(struct cnm_worker *w, uint32_t slot, enum cnm_drop r)
{
	unsigned int i = cnm_ddrop_of(r);

	if (likely(i < CNM_DDROP_MAX))
		w->st.member[slot].drop[i]++;
}

/* The same for a drop after the decision found service @p svc (-1: none, a
 * global drop only) but chose no node. */
static __rte_always_inline void
count_drop_svc(struct cnm_worker *w, int32_t svc, enum cnm_drop r)
{
	unsigned int i = cnm_ddrop_of(r);

	if (svc >= 0 && likely(i < CNM_DDROP_MAX))
		w->st.svc[svc].drop[i]++;
}

/* Send what a burst left in a TX buffer; free and count what TX did not
 * take. Returns how many TX took. */
static inline uint16_t
txbuf_flush(struct cnm_worker *w, struct cnm_txbuf *b)
{
	struct cnm_wstats *st = &w->st;
	uint16_t sent, i;

	sent = rte_eth_tx_burst(b->port, b->queue, b->m, b->n);
	if (unlikely(sent < b->n)) {
		uint16_t lost = b->n - sent;

		for (i = sent; i < b->n; i++) {
			struct rte_mbuf *m = b->m[i];
			uint32_t slot = m->hash.usr, len = rte_pktmbuf_pkt_len(m);

			if (slot == TX_LOCAL) {
				st->local--;
			} else {
				st->forwarded--;
				st->member[slot].pkts--;
				st->member[slot].bytes -= len;
				/* still a frame of its service */
				count_svc_unsent(w, cnm_lb_slot_svc(w->dp->lb, (uint16_t)slot), len);
				count_drop_slot(w, slot, CNM_DROP_TX_FULL);
			}
		}
		st->drop[CNM_DROP_TX_FULL] += lost;
		st->dropped += lost;
		rte_pktmbuf_free_bulk(&b->m[sent], lost);
	}
	b->n = 0;
	return sent;
}

/* node_path(): the frame's path is picked by spread_path() */
#define PATH_SPREAD INT32_MIN

/*
 * Where a frame for @p node leaves: the private port index, with the MAC of
 * its next hop in @p mac; PATH_SPREAD when the frames of every node are
 * spread over the paths; or minus the drop reason when it cannot leave.
 * One compare for both of the last two: the view's port_lim is the number
 * of private ports, or 0 while frames are spread (every port is then at or
 * above it), so one private path pays nothing for spreading.
 */
static __rte_always_inline int
node_path(const struct cnm_lb_view *lb, uint16_t node, uint64_t *mac)
{
	const struct cnm_node *nd = &lb->node[node];
	/* The control lcore may resolve a MAC while we run: one 64-bit word,
	 * read whole; no ordering with anything else is needed. */
	uint16_t port = __atomic_load_n(&nd->port, __ATOMIC_RELAXED);
	/* 16 bits, read whole; the table it leads to is ordered by the
	 * acquire fence in spread_path() */
	uint16_t lim = __atomic_load_n(&lb->port_lim, __ATOMIC_RELAXED);

	*mac = __atomic_load_n(&nd->mac, __ATOMIC_RELAXED);
	if (unlikely(*mac == 0))
		return -CNM_DROP_NODE_UNRESOLVED;
	if (unlikely(port >= lim))
		return lim == 0 ? PATH_SPREAD : -CNM_DROP_LINK_DOWN;
	return port;
}

/* A frame decided for a node that does not leave: dropped, and counted for
 * its service. */
static __rte_noinline void
forward_drop(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_decision *di,
		enum cnm_drop r)
{
	count_svc_unsent(w, di->svc, rte_pktmbuf_pkt_len(m));
	count_drop_slot(w, di->slot, r);
	drop(w, m, r);
}

/*
 * A node whose method is not the MAC rewrite: the method's ops build the
 * frame (drivers/). Out of line: the MAC path does not pay for it.
 * @p f: the frame's flow, or NULL for the fast shape @p r.
 */
static __rte_noinline void
forward_method(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_flow *f,
		uint32_t keep, const struct cnm_decision *di, int port, uint64_t mac)
{
	const struct cnm_lb_view *lb = cnm_lb_view(w->dp->lb);
	const struct cnm_fwd_ops *ops = cnm_fwd_get(di->method);
	uint32_t len = rte_pktmbuf_pkt_len(m);
	struct cnm_fwd_pkt pk;
	int ret;

	if (f != NULL) {
		pk.l3_off = f->l3_off;
		pk.l3_len = f->l3_len;
		pk.family = f->key.family;
		pk.entropy = cnm_client_hash(lb->hash_key, f, 1);
	} else {
		/* the fast shape: untagged IPv4 without options, its first 54
		 * bytes in the first segment (cnm_parse_fast4() checked) */
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
		uint32_t src;
		uint16_t sport;

		memcpy(&src, p + RTE_ETHER_HDR_LEN + 12, 4);
		memcpy(&sport, p + RTE_ETHER_HDR_LEN + 20, 2);
		pk.l3_off = RTE_ETHER_HDR_LEN;
		pk.l3_len = keep - RTE_ETHER_HDR_LEN;
		pk.family = AF_INET;
		pk.entropy = cnm_client_hash4(lb->hash_key, src, sport, 1);
	}
	ret = ops->encap(m, &pk, &lb->tun[di->node], &lb->fwd, mac, &w->dp->priv_mac[port]);
	if (likely(ret == CNM_FWD_OK)) {
		txbuf_add_node(w, &w->priv[port], m, di->slot);
	} else if (ret == CNM_FWD_REPLY) {
		/* too big for the tunnel: the sender is told, from the VIP */
		w->st.icmp_too_big++;
		count_svc_unsent(w, di->svc, len);
		txbuf_add(w, &w->pub, m);
	} else {
		count_svc_unsent(w, di->svc, len);
		count_drop_slot(w, di->slot, (enum cnm_drop)ret);
		drop(w, m, (enum cnm_drop)ret);
	}
}

/*
 * A frame of the fast shape (untagged IPv4 without options, its IP packet
 * ending at @p keep) for a node whose method built a template
 * (cnm_fwd_ops.tmpl): the outer headers copied and filled in
 * (cnm_tunnel_push4()), what forward_method() would send, without the
 * method's call. -1: not sent, nothing changed (no template, too big, too
 * little headroom): forward_method() decides.
 */
/* The tunnel entropy of a frame of the fast shape at @p p, as
 * forward_method() takes it: the client hash of source address and port;
 * the decision's own when the PDT placed the frame by that hash
 * (cnm_decide_fast4(); hash_key is the instance's in every service). */
static __rte_always_inline uint32_t
tmpl_entropy(const struct cnm_lb_view *lb, const uint8_t *p, const struct cnm_chash *chash)
{
	uint32_t src;
	uint16_t sport;

	if (chash != NULL && chash->port)
		return chash->h;
	memcpy(&src, p + RTE_ETHER_HDR_LEN + 12, 4);
	memcpy(&sport, p + RTE_ETHER_HDR_LEN + 20, 2);
	return cnm_client_hash4(lb->hash_key, src, sport, 1);
}

static __rte_always_inline int
forward_tmpl(struct cnm_worker *w, const struct cnm_lb_view *lb, struct rte_mbuf *m,
		uint32_t keep, const struct cnm_decision *di, const struct cnm_chash *chash, int port,
		uint64_t mac)
{
	const struct cnm_fwd_tmpl *t = &lb->tun[di->node].t4;
	/* acquire: the template's fields were written before its len (node_tmpl()) */
	uint32_t len = __atomic_load_n(&t->len, __ATOMIC_ACQUIRE);
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	int ret;

	/* each template's length as a constant (IPIP's outer IPv4 header,
	 * GUE's with its UDP header: cnm_fwd_tmpl.len), so that the compiler
	 * writes each push with its offsets and lengths folded in; 0 (no
	 * template) and any other length: the method's encap */
	if (likely(len == sizeof(struct rte_ipv4_hdr)))
		ret = cnm_tunnel_push4(m, keep, t, sizeof(struct rte_ipv4_hdr),
			tmpl_entropy(lb, p, chash), mac, &w->dp->priv_mac[port]);
	else if (len == sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr))
		ret = cnm_tunnel_push4(m, keep, t,
			sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr),
			tmpl_entropy(lb, p, chash), mac, &w->dp->priv_mac[port]);
	else
		return -1;
	if (unlikely(ret != 0))
		return -1;
	txbuf_add_node(w, &w->priv[port], m, di->slot);
	return 0;
}

/* Key of the path hash: not the PDT's key, so that which path a flow takes
 * does not depend on which node it reached (every node uses every path). */
#define PATH_HASH_SALT 0x9e3779b9u

/*
 * The path of a frame while the frames of every node are spread over the
 * paths that are up: the flow's hash picks a slot of the paths table, so one
 * flow keeps one path while the set does not change. The NIC's RSS hash when
 * it gave one (free), else the keyed client hash of source address and
 * port. Out of line: one private path never gets here.
 */
static __rte_noinline int
spread_path(const struct cnm_worker *w, const struct rte_mbuf *m, const struct cnm_flow *f)
{
	const struct cnm_lb_view *lb = cnm_lb_view(w->dp->lb);
	uint32_t key = lb->hash_key ^ PATH_HASH_SALT, h;

	/* pairs with the release store of port_lim = 0 (cnm_lb_paths_update()):
	 * the table read below is one built for spreading */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH) {
		h = cnm_fmix32(m->hash.rss);
	} else if (f != NULL) {
		h = cnm_client_hash(key, f, 1);
	} else {
		/* the fast shape: untagged IPv4 without options (as forward_method()) */
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
		uint32_t src;
		uint16_t sport;

		memcpy(&src, p + RTE_ETHER_HDR_LEN + 12, 4);
		memcpy(&sport, p + RTE_ETHER_HDR_LEN + 20, 2);
		h = cnm_client_hash4(key, src, sport, 1);
	}
	/* a byte, read whole (see path_tbl) */
	return __atomic_load_n(&lb->path_tbl[cnm_path_slot(h)], __ATOMIC_RELAXED);
}

/*
 * Send a frame to the node of its decision, by the node's method. @p lb: the
 * tables' view the burst was decided with (passed down, not read again from
 * the worker after each counter store). @p f: the frame's flow, or NULL for
 * a frame of the fast shape (untagged, its IP packet ends at @p keep).
 * @p chash: the client hash the PDT placed the frame by (cnm_decide_fast4()),
 * or NULL.
 */
static __rte_always_inline void
forward(struct cnm_worker *w, const struct cnm_lb_view *lb, struct rte_mbuf *m,
		const struct cnm_flow *f, uint32_t keep, const struct cnm_decision *di,
		const struct cnm_chash *chash)
{
	uint64_t mac;
	int port = node_path(lb, di->node, &mac);

	if (unlikely(port < 0)) {
		if (port != PATH_SPREAD) {
			forward_drop(w, m, di, (enum cnm_drop)-port);
			return;
		}
		port = spread_path(w, m, f);
	}
	if (unlikely(di->method != CNM_FWD_MAC)) {
		if (f == NULL && forward_tmpl(w, lb, m, keep, di, chash, port, mac) == 0)
			return;
		forward_method(w, m, f, keep, di, port, mac);
		return;
	}
	if (f == NULL) {
		cnm_macrewrite_untagged(m, keep, mac, &w->dp->priv_mac[port]);
	} else if (unlikely(cnm_macrewrite(m, f, mac, &w->dp->priv_mac[port]) != 0)) {
		forward_drop(w, m, di, CNM_DROP_RUNT);
		return;
	}
	txbuf_add_node(w, &w->priv[port], m, di->slot);
}

static __rte_always_inline void
to_local(struct cnm_worker *w, struct rte_mbuf *m)
{
	txbuf_add(w, &w->local, m);
}

/* Answer an echo request to a VIP in place: swap addresses, change the type,
 * patch the checksum. */
static inline int
icmp_echo_reply(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_flow *f)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *ip = p + f->l3_off, *icmp = p + f->l4_off, tmp[16];
	struct rte_ether_addr mac;
	uint32_t sum;

	if (!rte_pktmbuf_is_contiguous(m))
		return -1;
	rte_ether_addr_copy((struct rte_ether_addr *)(p + 6), &mac);
	rte_ether_addr_copy(&w->dp->pub_mac, (struct rte_ether_addr *)(p + 6));
	rte_ether_addr_copy(&mac, (struct rte_ether_addr *)p);
	if (f->key.family == AF_INET) {
		struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;

		memcpy(tmp, &h->src_addr, 4);
		h->src_addr = h->dst_addr;
		memcpy(&h->dst_addr, tmp, 4);
		h->time_to_live = 64;
		h->hdr_checksum = 0;
		h->hdr_checksum = rte_ipv4_cksum(h);
		icmp[0] = 0; /* echo reply */
		/* RFC 1624: the type went from 8 to 0 in the high byte */
		sum = (uint16_t)~((icmp[2] << 8) | icmp[3]) + (uint16_t)~0x0800u;
	} else {
		memcpy(tmp, ip + 8, 16);
		memcpy(ip + 8, ip + 24, 16);
		memcpy(ip + 24, tmp, 16);
		ip[7] = 64; /* hop limit */
		icmp[0] = 129; /* echo reply: 128 -> 129; the pseudo-header sum is unchanged */
		sum = (uint16_t)~((icmp[2] << 8) | icmp[3]) + (uint16_t)~0x8000u + 0x8100u;
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (uint16_t)~sum;
	icmp[2] = (uint8_t)(sum >> 8);
	icmp[3] = (uint8_t)sum;
	/* trim Ethernet padding: the reply is as long as the request's IP packet */
	if (rte_pktmbuf_pkt_len(m) > (uint32_t)f->l3_off + f->l3_len)
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_pkt_len(m) - f->l3_off - f->l3_len));
	w->st.icmp_replies++;
	txbuf_add(w, &w->pub, m);
	return 0;
}

/* Answer a neighbour solicitation for a VIP in place with the advertisement
 * "VIP is at the public port's MAC" (lib/nd); -1 when it cannot be. */
static inline int
nd_reply(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_flow *f)
{
	uint32_t len = rte_pktmbuf_data_len(m), want = (uint32_t)f->l3_off + CNM_ND_NA_IP_LEN;
	struct cnm_nd ns;
	uint8_t *p;

	if (!rte_pktmbuf_is_contiguous(m))
		return -1;
	p = rte_pktmbuf_mtod(m, uint8_t *);
	if (cnm_nd_parse(p, len, f->l3_off, f->l4_off, f->l3_off + f->l3_len, &ns) != CNM_DROP_NONE)
		return -1;
	if (want > len && rte_pktmbuf_append(m, (uint16_t)(want - len)) == NULL)
		return -1;
	if (want < len)
		rte_pktmbuf_trim(m, (uint16_t)(len - want));
	cnm_nd_make_na(p, f->l3_off, &ns, w->dp->pub_mac.addr_bytes);
	w->st.nd_replies++;
	txbuf_add(w, &w->pub, m);
	return 0;
}

/* A CNM_V_REPLY: the answer leaves on the public port, built in place; a
 * frame that cannot be answered in place (several segments) goes local. */
static inline void
act_reply(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_flow *f,
		const struct cnm_decision *di)
{
	w->st.nonscalable++;
	if (di->reply == CNM_REPLY_ARP && rte_pktmbuf_is_contiguous(m)) {
		cnm_arp_make_reply(rte_pktmbuf_mtod(m, uint8_t *), f->l3_off,
			w->dp->pub_mac.addr_bytes);
		w->st.arp_replies++;
		txbuf_add(w, &w->pub, m);
		return;
	}
	if (di->reply == CNM_REPLY_ECHO && icmp_echo_reply(w, m, f) == 0)
		return;
	if (di->reply == CNM_REPLY_NA && nd_reply(w, m, f) == 0)
		return;
	if (w->dp->local_port >= 0)
		to_local(w, m);
	else
		drop(w, m, CNM_DROP_NO_SERVICE);
}

/* act() for the verdicts that send nothing to a node. */
static __rte_noinline void
act_other(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_flow *f,
		const struct cnm_decision *di)
{
	switch (di->verdict) {
	case CNM_V_LOCAL:
		w->st.nonscalable++;
		to_local(w, m);
		break;
	case CNM_V_REPLY:
		act_reply(w, m, f, di);
		break;
	default:
		if (di->reason == CNM_DROP_NO_SERVICE)
			w->st.nonscalable++;
		/* a frame of a service dropped by the decision (no active node):
		 * no node was chosen, no slot */
		count_svc_unsent(w, di->svc, rte_pktmbuf_pkt_len(m));
		count_drop_svc(w, di->svc, (enum cnm_drop)di->reason);
		drop(w, m, (enum cnm_drop)di->reason);
		break;
	}
}

/*
 * Carry out a decision. @p f: the frame's flow, or NULL for a frame of the
 * fast shape, untagged, whose IP packet ends at @p keep.
 */
static __rte_always_inline void
act(struct cnm_worker *w, const struct cnm_lb_view *lb, struct rte_mbuf *m,
		const struct cnm_flow *f, uint32_t keep, const struct cnm_decision *di,
		const struct cnm_chash *chash)
{
	/* what it counts in: its slot when it leaves (txbuf_add_node()), its
	 * service's own counter when it does not (count_svc_unsent()) */
	if (unlikely(di->verdict != CNM_V_FORWARD)) {
		if (di->verdict != CNM_V_DEFAULT) {
			act_other(w, m, f, di);
			return;
		}
		w->st.nonscalable++;
		w->st.to_default++;
	}
	forward(w, lb, m, f, keep, di, chash);
}

static __rte_always_inline enum cnm_csum_hint
csum_hint(const struct rte_mbuf *m)
{
	uint64_t fl = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;

	if (fl == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		return CNM_CSUM_GOOD;
	if (fl == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return CNM_CSUM_BAD;
	return CNM_CSUM_UNKNOWN;
}

/*
 * cnm_pkt_parse() of an mbuf that is not of the fast shape (@p v: what
 * cnm_parse_fast4() said of its first segment): the
 * general parser on the first CNM_PARSE_HDR_MAX bytes, copied across
 * segments when they span several.
 */
static __rte_noinline void
classify_slow(struct rte_mbuf *m, int verify, int v, struct cnm_pkt *k)
{
	uint8_t hdr[CNM_PARSE_HDR_MAX];
	uint32_t wire = rte_pktmbuf_pkt_len(m);
	uint32_t cap = RTE_MIN(wire, (uint32_t)CNM_PARSE_HDR_MAX);
	const uint8_t *p;

	if (v > 0) {
		k->shape = CNM_SHAPE_DROP;
		k->reason = (uint8_t)v;
		return;
	}
	if (v == 0) {
		/* the fast shape, whose header checksum is wrong */
		k->shape = CNM_SHAPE_DROP;
		k->reason = CNM_DROP_IPV4_CHECKSUM;
		return;
	}
	p = rte_pktmbuf_read(m, 0, cap, hdr);
	if (unlikely(p == NULL)) {
		k->shape = CNM_SHAPE_DROP;
		k->reason = CNM_DROP_RUNT;
		return;
	}
	cnm_pkt_parse_general(p, cap, wire, verify, csum_hint(m), k);
}

/*
 * The eager loop: the frames of the fast shape from @p pp to @p end decided
 * (cnm_decide_fast4()) and acted on one by one, until a frame must wait or
 * is of another shape. Returns where it stopped (@p end: every frame
 * taken).
 *
 * @p conn, a constant, makes two instances. 0: the loop of every burst,
 * without the forwarding list's code; at the first TCP frame for the list
 * it hands the rest of the burst to the other. 1 (conn_loop(), out of
 * line): the list's hits too (cnm_decide_conn4()). Inline in one loop, the
 * list's code cost each UDP frame 1 to 2 instructions of spills and each
 * IPIP frame 3 to 6 (measured: docs/performance.md, "Session 11").
 */
static __rte_noinline struct rte_mbuf **conn_loop(struct cnm_worker *w,
		const struct cnm_lb_view *lb, struct rte_mbuf **pp, struct rte_mbuf **const end);

static __rte_always_inline struct rte_mbuf **
eager_loop(struct cnm_worker *w, const struct cnm_lb_view *lb, struct rte_mbuf **pp,
		struct rte_mbuf **const end, const int conn)
{
	for (; pp < end; pp++) {
		struct rte_mbuf *m = *pp;
		struct cnm_decision di;
		struct cnm_fast4 r;
		struct cnm_chash chash;
		const struct cnm_svc *s;
		uint64_t addrs;
		uint32_t ports;
		int v;

		/* in integers: pp + 3 past the end would be undefined */
		if (likely((uintptr_t)pp + PREFETCH_AHEAD * sizeof(*pp) < (uintptr_t)end))
			rte_prefetch0(rte_pktmbuf_mtod(pp[PREFETCH_AHEAD], void *));
		v = cnm_parse_fast4(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
			rte_pktmbuf_pkt_len(m), &r);
		if (unlikely(v != CNM_DROP_NONE)) {
			if (v < 0)
				break;
			drop(w, m, (enum cnm_drop)v);
			continue;
		}
		v = cnm_decide_fast4(lb, &w->ds, &r, &di, &chash, &s);
		if (unlikely(v != CNM_FAST_DONE)) {
			/* the first TCP frame for the list: the instance with
			 * the list's hits takes the burst over from it */
			if (!conn) {
				if (v == CNM_FAST_CONN)
					pp = conn_loop(w, lb, pp, end);
				break;
			}
			/* a forwarding-list hit: acted on in a branch of its
			 * own (the decision's fields are known on the PDT's
			 * path, not on this one) */
			if (v != CNM_FAST_CONN)
				break;
			cnm_ct_key4_words(r.src, r.dst, r.sport, r.dport, &addrs, &ports);
			if (cnm_decide_conn4(lb, &w->ds, s, addrs, ports, r.tcp_flags, &di) !=
					CNM_FAST_DONE)
				break;
			act(w, lb, m, NULL, 14u + r.tot, &di, NULL);
			continue;
		}
		if (unlikely(di.verdict == CNM_V_FORWARD && di.method != CNM_FWD_MAC))
			/* a tunnel's: the PDT placed it (the only FORWARD of
			 * cnm_decide_fast4()), by the hash a tunnel's entropy
			 * is; a branch of its own, so that the hash is not kept
			 * across the MAC rewrite */
			act(w, lb, m, NULL, 14u + r.tot, &di, &chash);
		else
			act(w, lb, m, NULL, 14u + r.tot, &di, NULL);
	}
	return pp;
}

/* eager_loop() with the forwarding list's hits, from the frame the other
 * instance handed over (parsed again: nothing changed it). */
static __rte_noinline struct rte_mbuf **
conn_loop(struct cnm_worker *w, const struct cnm_lb_view *lb, struct rte_mbuf **pp,
		struct rte_mbuf **const end)
{
	return eager_loop(w, lb, pp, end, 1);
}

/*
 * A burst. The decision of the fast shape is taken and acted on frame by
 * frame (eager_loop(): a forwarding-list hit too, while the list's table
 * fits in a core's cache), until a frame must wait (a cache miss, another
 * shape, a TCP frame the list must see in bulk; every frame while header
 * checksums are verified): from there the rest of the burst is parsed
 * into struct cnm_pkt, decided in one cnm_decide_burst() call (bulk lookups,
 * the list in one go) and acted on in arrival order.
 */
void
cnm_worker_burst(struct cnm_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	const struct cnm_dp *dp = w->dp;
	const struct cnm_lb_view *lb = cnm_lb_view(dp->lb);
	struct cnm_pkt pk[CNM_BURST];
	struct cnm_decision d[CNM_BURST];
	uint32_t keep[CNM_BURST]; /* the fast shape: where the IP packet ends; 0 otherwise */
	struct cnm_dbatch b;
	struct rte_mbuf **pp, **end;
	/* read once per burst: a reload changes it (a byte, no ordering) */
	const int verify = __atomic_load_n(&lb->verify_checksum, __ATOMIC_RELAXED);
	uint16_t i, first, nslow;

	RTE_BUILD_BUG_ON(CNM_BURST > CNM_DECIDE_MAX);
	w->st.rx += n;
	w->ds.now_ms = w->now_ms;
	cnm_dstate_sync(&w->ds, lb);
	for (i = 0; i < n && i < PREFETCH_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	/* a pointer and the end: two values live through the loop where an
	 * index, the count and the array were three, which the registers
	 * could not all hold (each frame paid for spills); the checksum
	 * verification (a reload knob, rarely on) sends the whole burst to
	 * the staged path below */
	pp = pkts;
	end = pkts + n;
	if (likely(!verify))
		pp = eager_loop(w, lb, pp, end, 0);
	i = (uint16_t)(pp - pkts);
	if (likely(i == n)) {
		w->st.fast_path += n;
		goto flush;
	}
	/* the rest of the burst waits: parsed and added to one decision
	 * (cnm_decide_burst()'s stages: the fast shape's fields go in from
	 * registers), then acted on in order (frame i is parsed again: nothing
	 * above changed it) */
	first = i;
	nslow = 0;
	cnm_decide_begin(lb, &w->ds, &b);
	for (; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
		struct cnm_fast4 r;
		int v;

		if (i + PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
		/* cnm_pkt_parse() of the first segment: the fast shape */
		v = cnm_parse_fast4(p, rte_pktmbuf_data_len(m), rte_pktmbuf_pkt_len(m), &r);
		if (likely(v == CNM_DROP_NONE) &&
				likely(!cnm_pkt_csum_drop(p + 14, verify,
					unlikely(verify) ? csum_hint(m) : CNM_CSUM_UNKNOWN))) {
			keep[i] = 14u + r.tot;
			/* what follows a UDP header in the first segment (the
			 * decision cuts it at the IP packet's end): QUIC's header */
			cnm_decide_add_fast4(lb, &w->ds, &b, &r, i, &d[i], p + 42,
				rte_pktmbuf_data_len(m) - 42u);
			continue;
		}
		keep[i] = 0;
		nslow++; /* counted here, the rare case: not a counter per frame */
		classify_slow(m, verify, v, &pk[i]);
		cnm_decide_add(lb, &w->ds, &b, &pk[i], i, &d[i]);
	}
	w->st.fast_path += n - nslow;
	cnm_decide_finish(lb, &w->ds, &b, pk, d);
	for (i = first; i < n; i++) {
		if (likely(keep[i] != 0))
			act(w, lb, pkts[i], NULL, keep[i], &d[i], NULL);
		else if (pk[i].shape == CNM_SHAPE_FLOW)
			act(w, lb, pkts[i], &pk[i].f, 0, &d[i], NULL);
		else
			drop(w, pkts[i], (enum cnm_drop)pk[i].reason);
	}

flush:
	for (i = 0; i < dp->n_private; i++)
		if (w->priv[i].n)
			w->path_tx[i] += txbuf_flush(w, &w->priv[i]);
	if (w->local.n)
		txbuf_flush(w, &w->local);
	if (w->pub.n)
		txbuf_flush(w, &w->pub);
}

/* Frames the control lcore queued (ARP probes): sent by worker 0 on its own
 * TX queues, so the control lcore needs no queue of its own. */
static inline void
ctl_tx_drain(struct cnm_worker *w)
{
	struct rte_mbuf *m[CNM_BURST];
	unsigned int n, i;

	n = rte_ring_sc_dequeue_burst(w->dp->ctl_tx, (void **)m, CNM_BURST, NULL);
	for (i = 0; i < n; i++) {
		if (rte_eth_tx_burst(m[i]->port, w->txq, &m[i], 1) == 1) {
			w->st.ctl_tx++;
		} else {
			w->st.ctl_tx_drop++;
			rte_pktmbuf_free(m[i]);
		}
	}
}

struct dump_ctx {
	struct cnm_conn_req *r;
	const struct cnm_lb_view *lb;
	uint8_t *sc_seen;            /* set when an entry's service has a window open */
};

/*
 * Would a decision send the entry elsewhere now? Either the PDT of its
 * service (a change moved its entry), or, while the service's second-chance
 * window is open, the version kept (docs/pdt.md "Second chance"): another
 * instance behind the same ECMP router that the connection moves to without
 * an entry for it sends its packets to the kept version's owner, and
 * breaks a connection that the table of now placed (opened after the
 * change, on an instance that recorded it from its SYN). Such an entry is
 * checkpointed like a displaced one, so the others' lists decide for it.
 */
static int
displaced(const struct cnm_lb_view *lb, const struct cnm_conn_key *k, const struct cnm_conn *c,
		uint32_t now, uint8_t *sc_seen)
{
	/* the control lcore clears a slot before the grace period that frees
	 * the service; this worker is not quiescent while it reads it */
	const struct cnm_svc *s = __atomic_load_n(&lb->svc[c->svc], __ATOMIC_ACQUIRE);
	const struct cnm_pdt *prev;
	struct cnm_flow f;
	uint16_t owner;

	if (s == NULL)
		return 0;
	memset(&f, 0, sizeof(f));
	f.key.family = k->family;
	memcpy(f.src, k->src, sizeof(f.src));
	f.sport = k->sport;
	if (cnm_select(s, &f) != c->node)
		return 1;
	if (!cnm_svc_sc_open(s, now))
		return 0;
	*sc_seen = 1;
	/* acquire: pairs with the control lcore's release store of the kept
	 * version (its entries are visible before the pointer is) */
	prev = __atomic_load_n(&s->prev, __ATOMIC_ACQUIRE);
	if (prev == NULL)
		return 0;
	owner = prev->entries[cnm_client_hash_addr(s->hash_key, k->family, k->src, k->sport,
						   s->hash_port) & prev->mask];
	return owner != CNM_NODE_NONE && owner != c->node;
}

static int
dump_one(const struct cnm_conn_key *k, const struct cnm_conn *c, void *arg)
{
	struct dump_ctx *d = arg;
	struct cnm_conn_req *r = d->r;

	if ((r->svc >= 0 && c->svc != r->svc) || (r->node >= 0 && c->node != r->node))
		return 0;
	if (r->op == CNM_CONN_OP_DISPLACED && !displaced(d->lb, k, c, r->now, d->sc_seen))
		return 0;
	if (r->seen++ < r->skip)
		return 0;
	r->out[r->n].key = *k;
	r->out[r->n].conn = *c;
	return ++r->n >= r->max ? 1 : 0;
}

/* Add the entries of an insert request that the list does not hold. */
static void
conn_insert(struct cnm_worker *w, struct cnm_conn_req *r)
{
	uint32_t i;

	for (i = 0; i < r->max; i++) {
		const struct cnm_conn_key *kp = &r->in[i].key;
		struct cnm_conn_key k = *kp;
		struct cnm_conn c;
		hash_sig_t sig;
		const struct cnm_conn_key *kk = &k;

		if (cnm_ct_lookup_bulk(w->ct, &kk, 1, &sig, &c) & 1)
			continue;
		if (k.proto == IPPROTO_UDP) {
			/* a UDP flow: the idle time of its service here, if the
			 * list is on for it (acquire: see displaced()) */
			const struct cnm_svc *s = __atomic_load_n(&cnm_lb_view(w->dp->lb)->svc[
					r->in[i].conn.svc], __ATOMIC_ACQUIRE);
			uint32_t tmo = s != NULL ?
				__atomic_load_n(&s->udp_timeout_ms, __ATOMIC_RELAXED) : 0;

			if (tmo != 0 && cnm_ct_insert_udp(w->ct, &k, sig, r->in[i].conn.node,
					r->in[i].conn.svc, tmo, w->now_ms) >= 0)
				r->n++;
			continue;
		}
		if (cnm_ct_insert(w->ct, &k, sig, r->in[i].conn.node, r->in[i].conn.svc,
				CNM_TCP_ACK, w->now_ms) >= 0)
			r->n++;
	}
	w->st.udp_active = cnm_ct_count_udp(w->ct);
	w->st.conn_active = cnm_ct_count(w->ct) - w->st.udp_active;
}

static inline void
conn_req_done(struct cnm_worker *w, uint32_t seq)
{
	/* release: the answer is complete before control sees done */
	__atomic_store_n(&w->req.done, seq, __ATOMIC_RELEASE);
}

/*
 * Answer a request of the control lcore (`conns show`, HA), if one is
 * pending. A dump walks the list a slice per loop (walk_budget positions)
 * and is answered when the walk is through or the output full: the worker
 * never stops polling for longer than a slice. A DISPLACED request is
 * answered at once, with nothing, when a complete walk found no displaced
 * entry and neither the tables (cnm_lb_gen()) nor the list (an insert from
 * HA) changed since, and no second-chance window was open: entries the
 * worker adds then follow the PDT of now.
 */
static inline void
conn_req_serve(struct cnm_worker *w)
{
	struct cnm_conn_req *r = &w->req;
	/* acquire: the request's fields are visible once seq is */
	uint32_t seq = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
	struct dump_ctx d;
	int ret;

	if (likely(seq == r->done))
		return;
	if (w->walk_seq != seq) {
		/* a new request */
		w->walk_seq = seq;
		w->walk_pos = 0;
		r->n = 0;
		r->now = w->now_ms;
		if (w->ct != NULL && r->op == CNM_CONN_OP_INSERT && r->in != NULL) {
			conn_insert(w, r);
			w->disp_clean = 0;
			conn_req_done(w, seq);
			return;
		}
		if (w->ct == NULL || r->max == 0 || r->out == NULL) {
			conn_req_done(w, seq);
			return;
		}
		if (r->op == CNM_CONN_OP_LOOKUP) {
			const struct cnm_conn_key *kp = &r->in[0].key;
			hash_sig_t sig;

			if (r->in != NULL &&
			    (cnm_ct_lookup_bulk(w->ct, &kp, 1, &sig, &r->out[0].conn) & 1)) {
				r->out[0].key = *kp;
				r->n = 1;
			}
			conn_req_done(w, seq);
			return;
		}
		if (r->op == CNM_CONN_OP_DISPLACED) {
			w->walk_gen = cnm_lb_gen(w->dp->lb);
			w->walk_sc = 0;
			if (w->disp_clean && w->disp_gen == w->walk_gen) {
				conn_req_done(w, seq);
				return;
			}
		}
	}
	d.r = r;
	d.lb = cnm_lb_view(w->dp->lb);
	d.sc_seen = &w->walk_sc;
	ret = cnm_ct_walk_slice(w->ct, &w->walk_pos, w->walk_budget, dump_one, &d);
	if (ret == 0 && w->walk_pos < cnm_ct_slots(w->ct))
		return; /* the next slice next loop */
	if (r->op == CNM_CONN_OP_DISPLACED && ret == 0) {
		/* through: none displaced (seen counts the skipped ones too)
		 * means none until the tables change; not while a window is
		 * open: the entries this worker records from SYNs follow the
		 * PDT of now, which may not be the kept version's owner, and
		 * second chance records entries the PDT does not give */
		w->disp_clean = r->seen == 0 && !w->walk_sc;
		w->disp_gen = w->walk_gen;
	}
	conn_req_done(w, seq);
}

int
cnm_worker_conn_serve(struct cnm_worker *w)
{
	conn_req_serve(w);
	return __atomic_load_n(&w->req.seq, __ATOMIC_ACQUIRE) != w->req.done;
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
		/* as testpmd's --record-core-cycles: the RX call is part of the
		 * cost of a burst that carried packets */
		uint64_t t0 = rte_rdtsc();

		w->now_ms = (uint32_t)(t0 / w->tsc_per_ms);
		n = rte_eth_rx_burst(dp->pub_port, w->rxq, pkts, CNM_BURST);
		if (n > 0) {
			/* odd: a burst is being counted (see cnm_wstats.seq); release
			 * orders it before the counters the burst changes */
			__atomic_store_n(&w->st.seq, w->st.seq + 1, __ATOMIC_RELEASE);
			cnm_worker_burst(w, pkts, n);
			/* even again: release publishes the burst's counters with it */
			__atomic_store_n(&w->st.seq, w->st.seq + 1, __ATOMIC_RELEASE);
			w->st.busy_cycles += rte_rdtsc() - t0;
			w->st.busy_bursts++;
			/* read by the control lcore for --idle-exit; a word, no ordering */
			__atomic_store_n(&w->last_rx_tsc, t0, __ATOMIC_RELAXED);
		}
		if (w->poll_local &&
				cnm_local_poll((uint16_t)dp->local_port, 0, dp->pub_port, w->txq,
					&w->st) > 0)
			__atomic_store_n(&w->last_rx_tsc, rte_rdtsc(), __ATOMIC_RELAXED);
		if (w->id == 0 && dp->ctl_tx != NULL)
			ctl_tx_drain(w);
		if (w->ct != NULL && w->now_ms != w->sweep_ms) {
			/* once a millisecond, a slice of the list: the whole list is
			 * swept every ~10 s whatever its size, at a bounded cost */
			uint32_t u0 = cnm_ct_count_udp(w->ct), x, u1;

			w->sweep_ms = w->now_ms;
			x = cnm_ct_expire(w->ct, w->now_ms, w->sweep_budget);
			/* a sweep only removes: the UDP flows it removed */
			u1 = cnm_ct_count_udp(w->ct);
			w->st.udp_expired += u0 - u1;
			w->st.conn_expired += x - (u0 - u1);
			w->st.udp_active = u1;
			w->st.conn_active = cnm_ct_count(w->ct) - u1;
		}
		conn_req_serve(w);
		if (dp->qsbr != NULL)
			rte_rcu_qsbr_quiescent(dp->qsbr, w->id);
	}
	if (dp->qsbr != NULL) {
		rte_rcu_qsbr_thread_offline(dp->qsbr, w->id);
		rte_rcu_qsbr_thread_unregister(dp->qsbr, w->id);
	}
	return 0;
}

static int
conn_request(struct cnm_worker *w, uint8_t op, struct cnm_conn_dump *out,
		const struct cnm_conn_dump *in, uint32_t max, uint32_t skip, int32_t svc,
		int32_t node, uint32_t *now)
{
	struct cnm_conn_req *r = &w->req;
	uint32_t seq = r->seq + 1;
	unsigned int waited;

	r->op = op;
	r->out = out;
	r->in = in;
	r->max = max;
	r->skip = skip;
	r->seen = 0;
	r->svc = svc;
	r->node = node;
	r->n = 0;
	/* release: the worker sees the fields before the new seq */
	__atomic_store_n(&r->seq, seq, __ATOMIC_RELEASE);
	for (waited = 0; waited < 2000; waited++) {
		/* acquire: the dump is complete once done is seen */
		if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) == seq) {
			if (now != NULL)
				*now = r->now;
			return (int)r->n;
		}
		rte_delay_us_sleep(500);
	}
	/* the worker is stuck: it may still write into out, which the caller
	 * must then never free */
	return -ETIMEDOUT;
}

int
cnm_worker_conns_dump(struct cnm_worker *w, struct cnm_conn_dump *out, uint32_t max,
		int32_t svc, int32_t node, uint32_t *now)
{
	return conn_request(w, CNM_CONN_OP_DUMP, out, NULL, max, 0, svc, node, now);
}

int
cnm_worker_conns_displaced(struct cnm_worker *w, struct cnm_conn_dump *out, uint32_t max,
		uint32_t skip, uint32_t *now)
{
	return conn_request(w, CNM_CONN_OP_DISPLACED, out, NULL, max, skip, -1, -1, now);
}

int
cnm_worker_conns_insert(struct cnm_worker *w, const struct cnm_conn_dump *in, uint32_t n)
{
	return conn_request(w, CNM_CONN_OP_INSERT, NULL, in, n, 0, -1, -1, NULL);
}

int
cnm_worker_conn_lookup(struct cnm_worker *w, const struct cnm_conn_key *k, struct cnm_conn *c,
		uint32_t *now)
{
	/* on the heap: a worker that does not answer in time may still write
	 * into them, so they are then never freed */
	struct cnm_conn_dump *io = calloc(2, sizeof(*io));
	int n;

	if (io == NULL)
		return -ENOMEM;
	io[0].key = *k;
	n = conn_request(w, CNM_CONN_OP_LOOKUP, &io[1], &io[0], 1, 0, -1, -1, now);
	if (n == -ETIMEDOUT)
		return n;
	if (n == 1)
		*c = io[1].conn;
	free(io);
	return n;
}
