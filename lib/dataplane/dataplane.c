/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
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

#include "cnm_arp.h"
#include "cnm_dataplane.h"
#include "cnm_local.h"
#include "cnm_macrewrite.h"

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
	if (dp->conn_max > 0) {
		snprintf(name, sizeof(name), "cnm_ct%u", id);
		w->ct = cnm_ct_create(name, dp->conn_max, SOCKET_ID_ANY, &dp->conn_timeouts);
		if (w->ct == NULL) {
			cnm_wstats_fini(&w->st);
			return -rte_errno;
		}
	}
	w->frag = rte_zmalloc("cnm_frag", CNM_FRAG_SLOTS * sizeof(*w->frag), RTE_CACHE_LINE_SIZE);
	w->cache = rte_zmalloc("cnm_svc_cache", CNM_SVC_CACHE_SLOTS * sizeof(*w->cache),
		RTE_CACHE_LINE_SIZE);
	if (w->frag == NULL || w->cache == NULL) {
		rte_free(w->frag);
		rte_free(w->cache);
		cnm_ct_free(w->ct);
		cnm_wstats_fini(&w->st);
		return -ENOMEM;
	}
	w->now_ms = cnm_worker_clock(w);
	w->sweep_budget = RTE_MAX(16u, dp->conn_max / 10000);
	return 0;
}

void
cnm_worker_fini(struct cnm_worker *w)
{
	cnm_ct_free(w->ct);
	w->ct = NULL;
	rte_free(w->frag);
	w->frag = NULL;
	rte_free(w->cache);
	w->cache = NULL;
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

/*
 * Queue a frame for TX and count it as sent: forwarded (per node) or local.
 * The rare frames TX does not take are taken back out of those counts when
 * the buffer is flushed, so counting costs nothing per frame at flush time.
 */
static __rte_always_inline void
txbuf_add(struct cnm_worker *w, struct cnm_txbuf *b, struct rte_mbuf *m, uint16_t node)
{
	struct cnm_wstats *st = &w->st;

	if (node == CNM_NODE_NONE) {
		st->local++;
	} else {
		st->forwarded++;
		st->node[node].pkts++;
		st->node[node].bytes += rte_pktmbuf_pkt_len(m);
	}
	m->hash.usr = node;
	b->m[b->n++] = m;
}

/* Send what a burst left in a TX buffer; free and count what TX did not take. */
static inline void
txbuf_flush(struct cnm_worker *w, struct cnm_txbuf *b)
{
	struct cnm_wstats *st = &w->st;
	uint16_t sent, i;

	sent = rte_eth_tx_burst(b->port, b->queue, b->m, b->n);
	if (unlikely(sent < b->n)) {
		uint16_t lost = b->n - sent;

		for (i = sent; i < b->n; i++) {
			struct rte_mbuf *m = b->m[i];
			uint32_t node = m->hash.usr;

			if (node == CNM_NODE_NONE) {
				st->local--;
			} else {
				st->forwarded--;
				st->node[node].pkts--;
				st->node[node].bytes -= rte_pktmbuf_pkt_len(m);
			}
		}
		st->drop[CNM_DROP_TX_FULL] += lost;
		st->dropped += lost;
		rte_pktmbuf_free_bulk(&b->m[sent], lost);
	}
	b->n = 0;
}

/*
 * Where a frame for @p node leaves: the private port index, with the node's
 * MAC in @p mac; or -1 when it cannot leave (then it is dropped and counted).
 */
static __rte_always_inline int
node_path(struct cnm_worker *w, struct rte_mbuf *m, uint16_t node, uint64_t *mac)
{
	const struct cnm_dp *dp = w->dp;
	const struct cnm_node *nd = &dp->lb->node[node];
	/* The control lcore may resolve a MAC while we run: one 64-bit word,
	 * read whole; no ordering with anything else is needed. */
	uint16_t port = __atomic_load_n(&nd->port, __ATOMIC_RELAXED);

	*mac = __atomic_load_n(&nd->mac, __ATOMIC_RELAXED);
	if (unlikely(*mac == 0)) {
		drop(w, m, CNM_DROP_NODE_UNRESOLVED);
		return -1;
	}
	if (unlikely(port >= dp->n_private)) {
		drop(w, m, CNM_DROP_LINK_DOWN);
		return -1;
	}
	return port;
}

static __rte_always_inline void
forward(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_flow *f, uint16_t node)
{
	uint64_t mac;
	int port = node_path(w, m, node, &mac);

	if (port < 0)
		return;
	if (unlikely(cnm_macrewrite(m, f, mac, &w->dp->priv_mac[port]) != 0)) {
		drop(w, m, CNM_DROP_RUNT);
		return;
	}
	txbuf_add(w, &w->priv[port], m, node);
}

/* forward() of an untagged IPv4 frame whose IP packet ends at @p keep. */
static __rte_always_inline void
forward4(struct cnm_worker *w, struct rte_mbuf *m, uint32_t keep, uint16_t node)
{
	uint64_t mac;
	int port = node_path(w, m, node, &mac);

	if (port < 0)
		return;
	cnm_macrewrite_untagged(m, keep, mac, &w->dp->priv_mac[port]);
	txbuf_add(w, &w->priv[port], m, node);
}

static __rte_always_inline void
to_local(struct cnm_worker *w, struct rte_mbuf *m)
{
	txbuf_add(w, &w->local, m, CNM_NODE_NONE);
}

/* ARP on the public port: requests for a VIP are answered here, the rest
 * goes to the host stack through the local port. */
static inline void
arp_input(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_flow *f)
{
	const struct cnm_dp *dp = w->dp;
	struct cnm_arp a;

	w->st.nonscalable++;
	if (rte_pktmbuf_is_contiguous(m) &&
			cnm_arp_parse(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m),
				f->l3_off, &a) == 0 &&
			a.op == CNM_ARP_REQUEST && cnm_lb_arp_owned(dp->lb, a.tpa)) {
		cnm_arp_make_reply(rte_pktmbuf_mtod(m, uint8_t *), f->l3_off,
			dp->pub_mac.addr_bytes);
		w->st.arp_replies++;
		txbuf_add(w, &w->pub, m, CNM_NODE_NONE);
		return;
	}
	if (dp->local_port >= 0)
		to_local(w, m);
	else
		drop(w, m, CNM_DROP_NO_SERVICE);
}

/* The TCP frames of a burst that go through the forwarding list. */
struct ct_batch {
	unsigned int n;
	uint8_t at[CNM_BURST];    /**< frame index in the burst */
	uint8_t flags[CNM_BURST]; /**< TCP flags */
	struct cnm_conn_key key[CNM_BURST];
};

/*
 * The forwarding list (FIG. 6 steps 608-611) for the TCP frames of scalable
 * services in this burst (decisions d, by frame index): a recorded
 * connection keeps its node; a pure SYN records the node the PDT gives;
 * anything else follows the PDT.
 */
static inline void
conn_track(struct cnm_worker *w, const struct ct_batch *b, struct cnm_decision *d)
{
	const struct cnm_lb *lb = w->dp->lb;
	const struct cnm_conn_key *kp[CNM_BURST];
	struct cnm_conn conn[CNM_BURST];
	hash_sig_t sig[CNM_BURST];
	unsigned int i;
	uint64_t hit;

	for (i = 0; i < b->n; i++)
		kp[i] = &b->key[i];
	hit = cnm_ct_lookup_bulk(w->ct, kp, b->n, sig, conn);
	for (i = 0; i < b->n; i++) {
		struct cnm_decision *di = &d[b->at[i]];
		uint8_t fl = b->flags[i];

		/* An entry that expired but was not swept yet is a miss. A pure
		 * SYN on a closing entry opens a new connection on a reused
		 * client port (the old one ended with FIN or RST): it is placed
		 * by the PDT of now and replaces the entry, as IPVS does with
		 * conn_reuse_mode. */
		if ((hit & (1ULL << i)) && !cnm_conn_expired(&conn[i], w->now_ms) &&
				!(conn[i].state == CNM_CONN_CLOSING &&
				  (fl & (CNM_TCP_SYN | CNM_TCP_ACK)) == CNM_TCP_SYN)) {
			const struct cnm_node *nd = &lb->node[conn[i].node];

			/* a node that went down or was removed loses its connections;
			 * a drained one (weight 0, still up) keeps them */
			if (likely(nd->used && nd->up && conn[i].svc == di->svc)) {
				di->verdict = CNM_V_FORWARD;
				di->reason = CNM_DROP_NONE;
				di->node = conn[i].node;
				w->st.conn_hit++;
				cnm_ct_touch(w->ct, kp[i], sig[i], &conn[i], fl, w->now_ms);
				continue;
			}
			w->st.conn_stale++;
			cnm_ct_del(w->ct, kp[i], sig[i]);
		}
		if (di->verdict == CNM_V_FORWARD &&
				(fl & (CNM_TCP_SYN | CNM_TCP_ACK)) == CNM_TCP_SYN) {
			if (cnm_ct_insert(w->ct, kp[i], sig[i], di->node, (uint16_t)di->svc, fl,
					w->now_ms) >= 0)
				w->st.conn_new++;
			else
				w->st.conn_full++;
		}
	}
}

/* The three 64-bit words of a service key (the last holds port, proto,
 * family and zero padding). */
static inline void
svc_key_words(const struct cnm_svc_key *k, uint64_t *a, uint64_t *b, uint64_t *c)
{
	const uint64_t *q = (const uint64_t *)k; /* 8-byte aligned, 24 bytes */

	*a = q[0];
	*b = q[1];
	*c = q[2];
}

static inline struct cnm_svc_cache_ent *
svc_cache_slot(struct cnm_worker *w, uint64_t a, uint64_t b, uint64_t c)
{
	uint32_t h = cnm_crc_u64(a, 0);

	h = cnm_crc_u64(b, h);
	h = cnm_crc_u64(c, h);
	return &w->cache[h & (CNM_SVC_CACHE_SLOTS - 1)];
}

/*
 * Both service lookups for a burst: the cache first; what it misses goes to
 * the rte_hash tables in bulk and is cached.
 */
static inline void
svc_lookup(struct cnm_worker *w, const struct cnm_lb *lb, const struct cnm_svc_key *const *keys,
		unsigned int n, struct cnm_svc **svc)
{
	const struct cnm_svc_key *mk[CNM_BURST];
	struct cnm_svc_cache_ent *slot[CNM_BURST];
	struct cnm_svc *ms[CNM_BURST];
	uint8_t at[CNM_BURST];
	unsigned int i, m = 0;

	for (i = 0; i < n; i++) {
		uint64_t a, b, c;
		struct cnm_svc_cache_ent *e;
		const uint64_t *q;

		svc_key_words(keys[i], &a, &b, &c);
		e = svc_cache_slot(w, a, b, c);
		q = (const uint64_t *)&e->key;
		if (likely(q[0] == a && q[1] == b && q[2] == c)) {
			svc[i] = e->svc;
			continue;
		}
		mk[m] = keys[i];
		slot[m] = e;
		at[m++] = (uint8_t)i;
	}
	if (m == 0)
		return;
	cnm_lb_lookup_bulk(lb, mk, m, ms);
	for (i = 0; i < m; i++) {
		svc[at[i]] = ms[i];
		slot[i]->key = *mk[i];
		slot[i]->svc = ms[i];
	}
}

static inline struct cnm_frag_ent *
frag_slot(struct cnm_worker *w, const struct cnm_flow *f)
{
	uint32_t h = f->frag_id;

	h = rte_hash_crc(f->src, 16, h);
	h = rte_hash_crc(f->key.addr, 16, h ^ f->key.proto);
	return &w->frag[h & (CNM_FRAG_SLOTS - 1)];
}

static inline int
frag_match(const struct cnm_frag_ent *e, const struct cnm_flow *f)
{
	return e->family == f->key.family && e->id == f->frag_id && e->proto == f->key.proto &&
		memcmp(e->src, f->src, 16) == 0 && memcmp(e->dst, f->key.addr, 16) == 0;
}

/*
 * Fragments: a first fragment records its decision; a later fragment follows
 * the decision of its first fragment. A later fragment with no recorded first
 * fragment can still be placed when its service is sticky-wild (second
 * table, no port needed: the hash is on the source address alone, as for the
 * first fragment); for a port-keyed service it is dropped.
 */
static inline void
frag_handle(struct cnm_worker *w, const struct cnm_flow *f, const struct cnm_svc *s,
		struct cnm_decision *d)
{
	struct cnm_frag_ent *e = frag_slot(w, f);

	if (f->frag == CNM_FRAG_FIRST) {
		if (d->verdict == CNM_V_DROP)
			return;
		e->verdict = d->verdict;
		memcpy(e->src, f->src, 16);
		memcpy(e->dst, f->key.addr, 16);
		e->id = f->frag_id;
		e->proto = f->key.proto;
		e->family = f->key.family;
		e->node = d->node;
		e->svc = (uint16_t)(d->svc >= 0 ? d->svc : 0);
		e->expire = w->now_ms + CNM_FRAG_TTL_MS;
		w->st.frag_first++;
		return;
	}
	if (frag_match(e, f) && (int32_t)(e->expire - w->now_ms) > 0 &&
			(e->verdict != CNM_V_FORWARD || w->dp->lb->svc[e->svc] != NULL)) {
		d->verdict = e->verdict;
		d->reason = CNM_DROP_NONE;
		d->node = e->node;
		d->svc = e->verdict == CNM_V_FORWARD ? e->svc : -1;
		w->st.frag_follow++;
		return;
	}
	/* unknown datagram: a port-keyed protocol to a VIP cannot be placed */
	if (s == NULL && (f->key.proto == IPPROTO_TCP || f->key.proto == IPPROTO_UDP) &&
			cnm_lb_is_vip(w->dp->lb, f->key.family, f->key.addr)) {
		d->verdict = CNM_V_DROP;
		d->reason = CNM_DROP_FRAGMENT;
	}
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

	if (!rte_pktmbuf_is_contiguous(m) || f->frag != CNM_FRAG_NONE)
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
	w->st.nonscalable++;
	txbuf_add(w, &w->pub, m, CNM_NODE_NONE);
	return 0;
}

/* Two 16-byte addresses, as in struct cnm_flow (8-byte aligned). */
static inline int
same_addr(const uint8_t *a, const uint8_t *b)
{
	const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;

	return x[0] == y[0] && x[1] == y[1];
}

static inline int
ipv4_csum_bad(const struct rte_mbuf *m, const uint8_t *ip)
{
	uint64_t fl = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;

	if (fl == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		return 0;
	if (fl == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return 1;
	return rte_raw_cksum(ip, (size_t)(ip[0] & 0xf) * 4) != 0xffff;
}

/* What fast_decide() did with a frame. */
enum {
	FAST_GENERAL = 0, /* not its kind of frame: the general path takes it */
	FAST_DROPPED,     /* dropped and counted */
	FAST_DECIDED,     /* decided: d */
};

/*
 * The first pass over a frame, for what most traffic is: an untagged IPv4
 * TCP or UDP frame whose service key is in the lookup cache. It is parsed
 * into r (cnm_parse_fast4(), the same checks as cnm_parse()) and decided into
 * d (as cnm_decide_svc()). Nothing but a drop changes any state, so a frame
 * may be decided again.
 */
static __rte_always_inline int
fast_decide(struct cnm_worker *w, const struct cnm_lb *lb, struct rte_mbuf *m, int verify_csum,
		struct cnm_fast4 *r, struct cnm_decision *d)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct cnm_svc_cache_ent *e;
	const struct cnm_svc *s;
	const uint64_t *q;
	uint64_t a, c;
	int v;

	v = cnm_parse_fast4(p, rte_pktmbuf_data_len(m), rte_pktmbuf_pkt_len(m), r);
	if (unlikely(v != CNM_DROP_NONE)) {
		if (v < 0)
			return FAST_GENERAL;
		drop(w, m, (enum cnm_drop)v);
		return FAST_DROPPED;
	}
	if (unlikely(verify_csum) && ipv4_csum_bad(m, p + 14))
		return FAST_GENERAL; /* the general path drops it, counted */
	/* the three words of the service key (struct cnm_svc_key, little-endian) */
	a = r->dst;
	c = (uint64_t)r->dport | (uint64_t)r->proto << 16 | (uint64_t)AF_INET << 24;
	e = svc_cache_slot(w, a, 0, c);
	q = (const uint64_t *)&e->key;
	if (unlikely(q[0] != a || q[1] != 0 || q[2] != c))
		return FAST_GENERAL;
	s = e->svc;
	if (s == NULL) {
		cnm_decide_svc(lb, NULL, NULL, d);
		return FAST_DECIDED;
	}
	if (unlikely(r->src == r->dst))
		return FAST_GENERAL; /* from the VIP to itself: the general path drops it */
	d->svc = s->id;
	d->node = cnm_select4(s, r->src, r->sport);
	d->verdict = CNM_V_FORWARD;
	d->reason = CNM_DROP_NONE;
	if (unlikely(d->node == CNM_NODE_NONE)) {
		d->verdict = CNM_V_DROP;
		d->reason = CNM_DROP_NO_ACTIVE_NODE;
	}
	return FAST_DECIDED;
}

/* Does a frame decided by fast_decide() go through the forwarding list? */
static __rte_always_inline int
fast_tracked(const struct cnm_worker *w, const struct cnm_fast4 *r, const struct cnm_decision *d)
{
	return r->proto == IPPROTO_TCP && d->svc >= 0 && w->ct != NULL;
}

/*
 * The general path for the frames of a burst the first pass left (bit i of
 * @p todo): any encapsulation, family, fragment, ICMP, ARP; and cache misses,
 * looked up in the rte_hash tables in bulk. Fills fl[i] and d[i]; clears
 * from @p todo the frames it drops and sets in @p arp the ARP frames.
 */
static inline void
general_decide(struct cnm_worker *w, const struct cnm_lb *lb, struct rte_mbuf **pkts,
		uint32_t *todo, uint32_t *arp, struct cnm_flow *fl, struct cnm_decision *d,
		struct ct_batch *ctb)
{
	const struct cnm_svc_key *keys[CNM_BURST];
	struct cnm_svc *svc[CNM_BURST];
	uint8_t at[CNM_BURST];
	uint8_t hdr[CNM_PARSE_HDR_MAX];
	const int verify_csum = lb->verify_checksum;
	uint32_t left = *todo;
	unsigned int j, nk = 0;

	while (left) {
		unsigned int i = (unsigned int)__builtin_ctz(left);
		struct rte_mbuf *m = pkts[i];
		uint32_t wire = rte_pktmbuf_pkt_len(m);
		uint32_t cap = RTE_MIN(wire, (uint32_t)CNM_PARSE_HDR_MAX);
		const uint8_t *p;
		enum cnm_drop r;

		left &= left - 1;
		/* headers across segments are copied into hdr (multi-segment mbufs) */
		p = rte_pktmbuf_read(m, 0, cap, hdr);
		r = p == NULL ? CNM_DROP_RUNT : cnm_parse(p, cap, wire, &fl[i]);
		if (r == CNM_DROP_NONE && unlikely(verify_csum) && fl[i].key.family == AF_INET &&
				fl[i].kind == CNM_PKT_IP && ipv4_csum_bad(m, p + fl[i].l3_off))
			r = CNM_DROP_IPV4_CHECKSUM;
		if (unlikely(r != CNM_DROP_NONE)) {
			drop(w, m, r);
			*todo &= ~(1u << i);
			continue;
		}
		if (unlikely(fl[i].rare) && fl[i].kind == CNM_PKT_ARP) {
			*arp |= 1u << i;
			continue;
		}
		keys[nk] = &fl[i].key;
		at[nk++] = (uint8_t)i;
	}

	/* both lookups, in bulk */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
	svc_lookup(w, lb, keys, nk, svc);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

	for (j = 0; j < nk; j++) {
		unsigned int i = at[j];
		const struct cnm_flow *f = &fl[i];
		struct cnm_decision *di = &d[i];

		cnm_decide_svc(lb, svc[j], f, di);
		if (unlikely(f->rare) && f->frag != CNM_FRAG_NONE)
			frag_handle(w, f, svc[j], di);
		/* a packet from the VIP to itself: spoofed */
		if (unlikely(svc[j] != NULL && !f->icmp_err && same_addr(f->src, f->key.addr))) {
			di->verdict = CNM_V_DROP;
			di->reason = CNM_DROP_MARTIAN_SRC;
			di->svc = -1; /* not traffic of the service */
		}
		/* a tracked connection outlives the PDT entries of its node: a
		 * group whose nodes are all drained still serves its connections */
		if (w->ct != NULL && svc[j] != NULL && f->key.proto == IPPROTO_TCP &&
				f->has_ports) {
			cnm_conn_key_from_flow(f, &ctb->key[ctb->n]);
			ctb->flags[ctb->n] = f->tcp_flags;
			ctb->at[ctb->n++] = (uint8_t)i;
		}
	}
}

/* act() for the verdicts that send nothing to a node: local, drop. */
static inline void
act_other(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_decision *di)
{
	switch (di->verdict) {
	case CNM_V_LOCAL:
		w->st.nonscalable++;
		to_local(w, m);
		break;
	default:
		if (di->reason == CNM_DROP_NO_SERVICE)
			w->st.nonscalable++;
		drop(w, m, (enum cnm_drop)di->reason);
		break;
	}
}

/* Carry out a decision. @p f: the frame's flow (general path), or NULL for a
 * frame of the first pass, untagged, whose IP packet ends at @p keep. */
static __rte_always_inline void
act(struct cnm_worker *w, struct rte_mbuf *m, const struct cnm_flow *f, uint32_t keep,
		const struct cnm_decision *di)
{
	if (di->svc >= 0) {
		w->st.svc[di->svc].pkts++;
		w->st.svc[di->svc].bytes += rte_pktmbuf_pkt_len(m);
	}
	if (unlikely(di->verdict != CNM_V_FORWARD)) {
		if (di->verdict != CNM_V_DEFAULT) {
			act_other(w, m, di);
			return;
		}
		w->st.nonscalable++;
		w->st.to_default++;
	}
	if (f == NULL)
		forward4(w, m, keep, di->node);
	else
		forward(w, m, f, di->node);
}

/* act() for a frame of the general path: ARP and echo requests first. */
static inline void
act_general(struct cnm_worker *w, const struct cnm_lb *lb, struct rte_mbuf *m,
		const struct cnm_flow *f, const struct cnm_decision *di, int is_arp)
{
	if (unlikely(is_arp)) {
		arp_input(w, m, f);
		return;
	}
	if (unlikely(f->rare) && f->icmp_type != 0) {
		if (f->icmp_err && di->verdict == CNM_V_FORWARD)
			w->st.icmp_errors++;
		else if (lb->icmp_echo_reply && di->svc < 0 &&
				(f->icmp_type == CNM_ICMP_ECHO_REQUEST ||
				 f->icmp_type == CNM_ICMP6_ECHO_REQUEST) &&
				(f->key.proto == IPPROTO_ICMP) == (f->key.family == AF_INET) &&
				cnm_lb_is_vip(lb, f->key.family, f->key.addr) &&
				icmp_echo_reply(w, m, f) == 0)
			return;
	}
	act(w, m, f, 0, di);
}

/*
 * A burst: a first pass decides what it can in one go (fast_decide()), the
 * general path decides the rest, the forwarding list corrects the TCP
 * decisions of both in one bulk lookup, and the frames are sent in arrival
 * order.
 */
void
cnm_worker_burst(struct cnm_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	const struct cnm_dp *dp = w->dp;
	const struct cnm_lb *lb = dp->lb;
	struct cnm_flow fl[CNM_BURST];
	struct cnm_decision d[CNM_BURST];
	uint32_t keep[CNM_BURST]; /* where the IP packet ends: up to 14 + 65535 */
	struct ct_batch ctb;
	const int verify_csum = lb->verify_checksum;
	uint32_t general = 0, arp = 0, done = 0;
	uint16_t i, first;

	RTE_BUILD_BUG_ON(CNM_BURST > 32);
	w->st.rx += n;
	ctb.n = 0;
	/* acquire: pairs with the control lcore's release of a new generation */
	if (unlikely(__atomic_load_n(&lb->keys_gen, __ATOMIC_ACQUIRE) != w->cache_gen)) {
		memset(w->cache, 0, CNM_SVC_CACHE_SLOTS * sizeof(*w->cache));
		w->cache_gen = lb->keys_gen;
	}
	for (i = 0; i < n && i < PREFETCH_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	/* Until a frame must wait (general path, forwarding list), every frame
	 * is acted on as soon as it is decided: arrival order is kept, and a
	 * burst of such frames is handled in this one pass. */
	for (i = 0; i < n; i++) {
		struct cnm_decision di;
		struct cnm_fast4 r;
		int v;

		if (i + PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
		v = fast_decide(w, lb, pkts[i], verify_csum, &r, &di);
		if (v == FAST_DROPPED)
			continue;
		if (unlikely(v == FAST_GENERAL) || unlikely(fast_tracked(w, &r, &di)))
			break;
		act(w, pkts[i], NULL, 14u + r.tot, &di);
	}
	if (likely(i == n)) {
		w->st.fast_path += n;
		goto flush;
	}
	/* the rest of the burst waits: decided first, then acted on in order
	 * (frame i is decided again: fast_decide() changed nothing for it) */
	first = i;
	for (; i < n; i++) {
		struct cnm_fast4 r;
		int v;

		if (i + PREFETCH_AHEAD < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
		keep[i] = 0; /* 0: dropped, or the general path's */
		v = fast_decide(w, lb, pkts[i], verify_csum, &r, &d[i]);
		if (v == FAST_DROPPED)
			continue;
		if (v == FAST_GENERAL) {
			general |= 1u << i;
			continue;
		}
		keep[i] = 14u + r.tot;
		if (fast_tracked(w, &r, &d[i])) {
			cnm_conn_key_v4(r.src, r.dst, r.sport, r.dport, &ctb.key[ctb.n]);
			ctb.flags[ctb.n] = r.tcp_flags;
			ctb.at[ctb.n++] = (uint8_t)i;
		}
	}
	w->st.fast_path += n - (uint16_t)__builtin_popcount(general);
	if (unlikely(general != 0)) {
		done = general;
		general_decide(w, lb, pkts, &done, &arp, fl, d, &ctb);
	}
	if (ctb.n > 0)
		conn_track(w, &ctb, d);

	/* act on the rest, in arrival order */
	for (i = first; i < n; i++) {
		if (likely(keep[i] != 0))
			act(w, pkts[i], NULL, keep[i], &d[i]);
		else if (done & (1u << i))
			act_general(w, lb, pkts[i], &fl[i], &d[i], (arp >> i) & 1);
	}

flush:
	for (i = 0; i < dp->n_private; i++)
		if (w->priv[i].n)
			txbuf_flush(w, &w->priv[i]);
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
	const struct cnm_lb *lb;
};

/* Would the PDT of the entry's service send it elsewhere now? */
static int
displaced(const struct cnm_lb *lb, const struct cnm_conn_key *k, const struct cnm_conn *c)
{
	/* the control lcore clears a slot before the grace period that frees
	 * the service; this worker is not quiescent while it reads it */
	const struct cnm_svc *s = __atomic_load_n(&lb->svc[c->svc], __ATOMIC_ACQUIRE);
	struct cnm_flow f;

	if (s == NULL)
		return 0;
	memset(&f, 0, sizeof(f));
	f.key.family = k->family;
	memcpy(f.src, k->src, sizeof(f.src));
	f.sport = k->sport;
	return cnm_select(s, &f) != c->node;
}

static int
dump_one(const struct cnm_conn_key *k, const struct cnm_conn *c, void *arg)
{
	struct dump_ctx *d = arg;
	struct cnm_conn_req *r = d->r;

	if ((r->svc >= 0 && c->svc != r->svc) || (r->node >= 0 && c->node != r->node))
		return 0;
	if (r->op == CNM_CONN_OP_DISPLACED && !displaced(d->lb, k, c))
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
		if (cnm_ct_insert(w->ct, &k, sig, r->in[i].conn.node, r->in[i].conn.svc,
				CNM_TCP_ACK, w->now_ms) >= 0)
			r->n++;
	}
	w->st.conn_active = cnm_ct_count(w->ct);
}

/* Answer a request of the control lcore (`conns show`, HA), if one is pending. */
static inline void
conn_req_serve(struct cnm_worker *w)
{
	struct cnm_conn_req *r = &w->req;
	/* acquire: the request's fields are visible once seq is */
	uint32_t seq = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
	struct dump_ctx d = { .r = r, .lb = w->dp->lb };

	if (likely(seq == r->done))
		return;
	r->n = 0;
	r->now = w->now_ms;
	if (w->ct != NULL && r->op == CNM_CONN_OP_INSERT && r->in != NULL)
		conn_insert(w, r);
	else if (w->ct != NULL && r->max > 0 && r->out != NULL)
		cnm_ct_walk(w->ct, dump_one, &d);
	/* release: the answer is complete before control sees done */
	__atomic_store_n(&r->done, seq, __ATOMIC_RELEASE);
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
			w->sweep_ms = w->now_ms;
			w->st.conn_expired += cnm_ct_expire(w->ct, w->now_ms, w->sweep_budget);
			w->st.conn_active = cnm_ct_count(w->ct);
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
