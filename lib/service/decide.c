/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_hash_crc.h>

#include "cnm_decide.h"
#include "cnm_quiclb.h"

/* the QUIC counters are indexed by result: the X-macro lists in one order */
_Static_assert(offsetof(struct cnm_wstats, quic_short_truncated) -
	       offsetof(struct cnm_wstats, quic_ok) ==
	       (CNM_QUIC_PARSE_MAX - 1) * sizeof(uint64_t), "CNM_STATS_QUIC: parse results");
_Static_assert(offsetof(struct cnm_wstats, cid_cipher_error) -
	       offsetof(struct cnm_wstats, cid_server_id) ==
	       (CNM_QUICLB_RESULT_MAX - 1) * sizeof(uint64_t), "CNM_STATS_QUIC: CID results");

static const char *const verdict_names[] = {
	[CNM_V_FORWARD] = "forward", [CNM_V_DEFAULT] = "default", [CNM_V_LOCAL] = "local",
	[CNM_V_DROP] = "drop", [CNM_V_REPLY] = "reply",
};

const char *
cnm_verdict_name(unsigned int v)
{
	return v < RTE_DIM(verdict_names) ? verdict_names[v] : "unknown";
}

/* Two 16-byte addresses, as in struct cnm_flow (8-byte aligned). */
static inline int
same_addr(const uint8_t *a, const uint8_t *b)
{
	const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;

	return x[0] == y[0] && x[1] == y[1];
}

/*
 * Step 1: the services of the keys, the cache first; what it misses goes to
 * the rte_hash tables in bulk and is cached.
 */
static void
svc_lookup(const struct cnm_lb_view *lb, struct cnm_dstate *st, const struct cnm_svc_key *const *keys,
		unsigned int n, struct cnm_svc **svc)
{
	const struct cnm_svc_key *mk[CNM_DECIDE_MAX];
	struct cnm_svc_cache_ent *slot[CNM_DECIDE_MAX];
	struct cnm_svc *ms[CNM_DECIDE_MAX];
	uint8_t at[CNM_DECIDE_MAX];
	unsigned int i, m = 0;

	for (i = 0; i < n; i++) {
		const uint64_t *k = (const uint64_t *)keys[i]; /* 8-byte aligned, 24 bytes */
		struct cnm_svc_cache_ent *e = cnm_svc_cache_slot(st, k[0], k[1], k[2]);
		const uint64_t *q = (const uint64_t *)&e->key;

		if (likely(q[0] == k[0] && q[1] == k[1] && (q[2] & ~CNM_SVC_CACHE_WAIT) == k[2])) {
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
		/* relaxed: the caches are emptied when it changes (keys_gen);
		 * a QUIC service's context is set when the service is added */
		if (ms[i] != NULL && mk[i]->proto == IPPROTO_UDP &&
				(__atomic_load_n(&ms[i]->list_proto, __ATOMIC_RELAXED) == IPPROTO_UDP ||
				 __atomic_load_n(&ms[i]->quic, __ATOMIC_RELAXED) != NULL))
			((uint64_t *)&slot[i]->key)[2] |= CNM_SVC_CACHE_WAIT;
	}
}

int
cnm_decide_quic(const struct cnm_lb_view *lb, const struct cnm_dstate *st,
		const struct cnm_svc *s, const uint8_t *pay, uint32_t plen,
		struct cnm_decision *d)
{
	/* acquire: pairs with the release that publishes a context; the
	 * worker is not quiescent while it uses it */
	const struct cnm_quiclb *q = __atomic_load_n(&s->quic, __ATOMIC_ACQUIRE);
	struct cnm_wstats *ws = st->st;
	enum cnm_quic_parse_result pr;
	enum cnm_quiclb_result cr;
	struct cnm_quic_hdr h;
	const struct cnm_node *nd;
	uint32_t node = 0;

	if (q == NULL)
		return 0;
	pr = cnm_quic_parse(pay, plen, cnm_quiclb_cid_len(q), &h);
	(&ws->quic_ok)[pr]++;
	if (pr != CNM_QUIC_PARSE_OK)
		return 0; /* malformed or truncated: the 4-tuple (docs/quic.md) */
	cr = cnm_quiclb_route(q, st->lane, pay + h.dcid_off, h.dcid_len, &node);
	if (cr != CNM_QUICLB_OK) {
		(&ws->cid_server_id)[cr]++;
		return 0;
	}
	nd = &lb->node[node];
	/* a node that is down or gone is unroutable; a drained one (weight 0,
	 * up) keeps its connections, as the forwarding list keeps them */
	if (unlikely(node >= CNM_MAX_NODES || !nd->used || !nd->up)) {
		ws->cid_node_down++;
		return 0;
	}
	ws->cid_server_id++;
	d->verdict = CNM_V_FORWARD;
	d->reason = CNM_DROP_NONE;
	d->svc = s->id;
	d->node = (uint16_t)node;
	d->method = nd->method;
	d->slot = cnm_svc_slot(s, (uint16_t)node);
	d->via = CNM_VIA_SERVER_ID;
	return 1;
}

/*
 * The PDT's node for a frame of the list's batch, of the fast shape (client
 * @p src, @p sport), which the list did not decide: cnm_decide_fast4_svc()
 * left it to here (cnm_ct_batch.fast4).
 */
static inline void
batch_pdt(const struct cnm_svc *s, uint32_t src, uint16_t sport, struct cnm_decision *d)
{
	cnm_decide_pdt_node(s, cnm_client_hash4(s->hash_key, src, sport, s->hash_port), d);
}

/* The key of TCP entry @p j given by its words (cnm_ct_batch.words), for
 * the calls that take one. */
static inline const struct cnm_conn_key *
batch_key(struct cnm_ct_batch *b, unsigned int j)
{
	uint64_t a = b->addrs[j];
	uint32_t p = b->ports[j];

	cnm_conn_key_v4((uint32_t)a, (uint32_t)(a >> 32), (uint16_t)p, (uint16_t)(p >> 16),
			CNM_CONN_KEY_TCP, &b->key[j]);
	return &b->key[j];
}

/*
 * Step 3 for a UDP frame of a service with the UDP flow list on: a recorded
 * flow keeps its node (if that node is still up: a drained one keeps its
 * flows, as TCP connections); otherwise the PDT's node, recorded (the first
 * datagram of a flow, or the first after its entry expired or went stale).
 * An ICMP error about a flow (CNM_CT_UDP_NOREC) follows a recorded flow and
 * records nothing.
 */
static void
udp_track(const struct cnm_lb_view *lb, struct cnm_dstate *st, const struct cnm_svc *s,
		const struct cnm_conn_key *k, hash_sig_t sig, int hit, struct cnm_conn *c,
		uint8_t fl, int fast, struct cnm_decision *di)
{
	/* relaxed: see cnm_lb_svc_set_udp_timeout(); 0 while the list is
	 * being turned off: nothing recorded or refreshed */
	uint32_t tmo = __atomic_load_n(&s->udp_timeout_ms, __ATOMIC_RELAXED);
	struct cnm_wstats *ws = st->st;

	if (!hit) {
		/* the bulk lookup ran before this burst's inserts: a flow whose
		 * first datagrams come in one burst was recorded by the first */
		const struct cnm_conn_key *kk = k;
		hash_sig_t s2;

		hit = (int)(cnm_ct_lookup_bulk(st->ct, &kk, 1, &s2, c) & 1);
	}
	if (hit && !cnm_conn_expired(c, st->now_ms)) {
		const struct cnm_node *nd = &lb->node[c->node];

		if (likely(nd->used && nd->up && c->svc == di->svc)) {
			di->verdict = CNM_V_FORWARD;
			di->reason = CNM_DROP_NONE;
			di->node = c->node;
			di->method = nd->method;
			di->slot = cnm_svc_slot(s, c->node);
			di->via = CNM_VIA_UDP;
			ws->udp_hit++;
			if (tmo != 0 && !(fl & CNM_CT_UDP_NOREC))
				cnm_ct_touch_udp(st->ct, k, sig, c, tmo, st->now_ms);
			return;
		}
		ws->udp_stale++;
		cnm_ct_del(st->ct, k, sig);
	}
	if (fast) {
		uint32_t src;

		memcpy(&src, k->src, 4);
		batch_pdt(s, src, k->sport, di);
	}
	if (di->verdict != CNM_V_FORWARD)
		return;
	di->method = lb->node[di->node].method;
	di->slot = cnm_svc_slot(s, di->node);
	if (tmo == 0 || (fl & CNM_CT_UDP_NOREC))
		return;
	if (cnm_ct_insert_udp(st->ct, k, sig, di->node, (uint16_t)di->svc, tmo, st->now_ms) >= 0)
		ws->udp_new++;
	else
		ws->udp_full++;
}

/*
 * Second chance for a frame whose entry changed owner: @p node, the owner in
 * the kept version. Out of line: the frames whose entry did not change (the
 * check's common outcome in a window) return before its stack frame.
 */
static __rte_noinline int
sc_apply(const struct cnm_lb_view *lb, struct cnm_dstate *st, const struct cnm_svc *s,
		const struct cnm_conn_key *k, hash_sig_t sig, uint8_t fl, struct cnm_decision *d,
		uint16_t node)
{
	struct cnm_wstats *ws = st->st;
	const struct cnm_conn_key *kp = k;
	const struct cnm_node *nd;
	struct cnm_conn c;
	hash_sig_t sig2;

	/* The burst's bulk lookup came before this burst's inserts: a SYN of
	 * the same connection earlier in the burst (its handshake's ACK right
	 * behind it), or a packet of it that took its second chance, has been
	 * recorded since. Its entry decides, as it will for the next burst. */
	if ((cnm_ct_lookup_bulk(st->ct, &kp, 1, &sig2, &c) & 1) &&
	    !cnm_conn_expired(&c, st->now_ms) && c.svc == (uint16_t)s->id &&
	    lb->node[c.node].used && lb->node[c.node].up) {
		d->verdict = CNM_V_FORWARD;
		d->reason = CNM_DROP_NONE;
		d->node = c.node;
		d->method = lb->node[c.node].method;
		d->slot = cnm_svc_slot(s, c.node);
		d->via = CNM_VIA_CONN;
		ws->conn_hit++;
		return 1;
	}
	nd = node < CNM_MAX_NODES ? &lb->node[node] : NULL;
	if (nd == NULL || !nd->used || !nd->up) {
		/* removed (CNM_NODE_GONE) or down: what the PDT says now */
		ws->second_chance_failed++;
		if (d->verdict == CNM_V_FORWARD)
			ws->member[cnm_svc_slot(s, d->node)].sc_fail++;
		else
			ws->svc[s->id].sc_fail++;
		return 0;
	}
	d->verdict = CNM_V_FORWARD;
	d->reason = CNM_DROP_NONE;
	d->node = node;
	d->method = nd->method;
	d->slot = cnm_svc_slot(s, node);
	d->via = CNM_VIA_SC;
	ws->second_chance++;
	ws->member[d->slot].sc++;
	/* its later packets hit the list; a full list leaves it to the next
	 * packet's second chance */
	(void)cnm_ct_insert(st->ct, k, sig, node, s->id, fl, st->now_ms);
	return 1;
}

/*
 * Second chance (docs/pdt.md): a non-SYN TCP packet of service @p s that the
 * list does not hold, while the service's window is open: when its entry had
 * another owner in the version kept, it goes to that owner if it is still
 * there and up (drained is fine: it serves its connections), and the list
 * records it. 1 when it did (or the list answered after all); 0 leaves @p d
 * as the PDT made it (counted as failed when the owner was gone).
 */
static __rte_noinline int
second_chance(const struct cnm_lb_view *lb, struct cnm_dstate *st, const struct cnm_svc *s,
		const struct cnm_conn_key *k, hash_sig_t sig, uint8_t fl, struct cnm_decision *d)
{
	/* Acquire pairs with the control lcore's release store of the kept
	 * version: its entries are visible before the pointer is. */
	const struct cnm_pdt *prev = __atomic_load_n(&s->prev, __ATOMIC_ACQUIRE);
	uint16_t node;

	if (prev == NULL)
		return 0;
	node = prev->entries[cnm_client_hash_addr(s->hash_key, k->family, k->src, k->sport,
						  s->hash_port) & prev->mask];
	/* the same owner (the slot did not change), or none before */
	if (node == CNM_NODE_NONE || (d->verdict == CNM_V_FORWARD && node == d->node))
		return 0;
	return sc_apply(lb, st, s, k, sig, fl, d, node);
}

/*
 * Step 3, the forwarding list (FIG. 6 steps 608-611) for the TCP frames of
 * scalable services: a recorded connection keeps its node; a pure SYN
 * records the node the PDT gives; anything else follows the PDT. UDP frames
 * of services with the UDP flow list on: udp_track().
 */
static void
conn_track(const struct cnm_lb_view *lb, struct cnm_dstate *st, struct cnm_ct_batch *b,
		struct cnm_decision *d)
{
	const struct cnm_conn_key *kp[CNM_DECIDE_MAX];
	struct cnm_conn conn[CNM_DECIDE_MAX];
	hash_sig_t sig[CNM_DECIDE_MAX];
	struct cnm_wstats *ws = st->st;
	uint32_t all = (uint32_t)((UINT64_C(1) << b->n) - 1);
	unsigned int i;
	uint64_t hit, m;

	if (likely(b->words == all)) {
		/* TCP segments of the fast shape: the lookup by the keys' words */
		hit = cnm_ct_lookup4_bulk(st->ct, b->addrs, b->ports, b->n, 0, sig, conn);
	} else {
		for (m = b->words; m != 0; m &= m - 1)
			batch_key(b, (unsigned int)__builtin_ctzll(m));
		for (i = 0; i < b->n; i++)
			kp[i] = &b->key[i];
		hit = cnm_ct_lookup_bulk_udp(st->ct, kp, b->n, b->udp, sig, conn);
	}
	/* the UDP flows first (in batch order among themselves: the entries of
	 * one flow are one key, so the order across protocols does not matter) */
	for (m = b->udp; unlikely(m != 0); m &= m - 1) {
		i = (unsigned int)__builtin_ctzll(m);
		udp_track(lb, st, b->svc[i], &b->key[i], sig[i], (int)((hit >> i) & 1), &conn[i],
				b->flags[i], (int)((b->fast4 >> i) & 1), &d[b->at[i]]);
	}
	for (m = ~(uint64_t)b->udp & all; m != 0; m &= m - 1) {
		const struct cnm_conn_key *k;
		struct cnm_decision *di;
		uint8_t fl;
		int fast;

		i = (unsigned int)__builtin_ctzll(m);
		di = &d[b->at[i]];
		fl = b->flags[i];
		fast = (int)((b->words >> i) & 1); /* TCP: fast4 and words alike */

		/* an entry that does not decide (CNM_CONN_NONE) is a miss */
		if (hit & (1ULL << i)) {
			int v = cnm_decide_conn(lb, st, b->svc[i], &conn[i], fl, di);

			if (likely(v == CNM_CONN_HIT)) {
				if (likely(fast))
					cnm_ct_touch4(st->ct, b->addrs[i], b->ports[i], sig[i],
							&conn[i], fl, st->now_ms);
				else
					cnm_ct_touch(st->ct, &b->key[i], sig[i], &conn[i], fl,
							st->now_ms);
				continue;
			}
			if (v == CNM_CONN_STALE) {
				ws->conn_stale++;
				cnm_ct_del(st->ct, fast ? batch_key(b, i) : &b->key[i], sig[i]);
			}
		}
		/* the rest needs the key */
		if (fast) {
			k = batch_key(b, i);
			batch_pdt(b->svc[i], (uint32_t)b->addrs[i], (uint16_t)b->ports[i], di);
		} else {
			k = &b->key[i];
		}
		/* a SYN always follows the PDT; the rest, in a window after a
		 * change, may get a second chance (one compare when none) */
		if (!(fl & CNM_TCP_SYN) && unlikely(cnm_svc_sc_open(b->svc[i], st->now_ms)) &&
		    second_chance(lb, st, b->svc[i], k, sig[i], fl, di))
			continue;
		if (di->verdict != CNM_V_FORWARD)
			continue;
		/* the PDT's node (cnm_decide_pdt_node() left the method to here) */
		di->method = lb->node[di->node].method;
		di->slot = cnm_svc_slot(b->svc[i], di->node);
		if ((fl & (CNM_TCP_SYN | CNM_TCP_ACK)) == CNM_TCP_SYN) {
			if (cnm_ct_insert(st->ct, k, sig[i], di->node, (uint16_t)di->svc, fl,
					st->now_ms) >= 0) {
				ws->conn_new++;
				/* per service, node and pair: the slot the frame counts in */
				ws->member[di->slot].conns++;
			}
			else
				ws->conn_full++;
		}
	}
}

static inline struct cnm_frag_ent *
frag_slot(const struct cnm_dstate *st, const struct cnm_flow *f)
{
	uint32_t h = f->frag_id;

	h = rte_hash_crc(f->src, 16, h);
	h = rte_hash_crc(f->key.addr, 16, h ^ f->key.proto);
	return &st->frag[h & st->frag_mask];
}

static inline int
frag_match(const struct cnm_frag_ent *e, const struct cnm_flow *f)
{
	return e->family == f->key.family && e->id == f->frag_id && e->proto == f->key.proto &&
		memcmp(e->src, f->src, 16) == 0 && memcmp(e->dst, f->key.addr, 16) == 0;
}

/*
 * Step 4, fragments: a first fragment records its decision, final by now (the
 * forwarding list has had its say); a later fragment follows the decision of
 * its first fragment. A later fragment with no recorded first fragment can
 * still be placed when its service is sticky-wild (second table, no port
 * needed: the hash is on the source address alone, as for the first
 * fragment); for a port-keyed service it is dropped.
 */
static void
frag_handle(const struct cnm_lb_view *lb, struct cnm_dstate *st, const struct cnm_flow *f,
		const struct cnm_svc *s, struct cnm_decision *d)
{
	struct cnm_frag_ent *e = frag_slot(st, f);

	if (f->frag == CNM_FRAG_FIRST) {
		if (d->verdict == CNM_V_DROP)
			return;
		e->verdict = d->verdict;
		memcpy(e->src, f->src, 16);
		memcpy(e->dst, f->key.addr, 16);
		e->id = f->frag_id;
		e->proto = f->key.proto;
		e->family = f->key.family;
		/* a LOCAL decision names no node (d->node is not set): the later
		 * fragments read lb->node[e->node], so it must be one */
		e->node = d->verdict == CNM_V_LOCAL ? 0 : d->node;
		e->slot = d->verdict == CNM_V_LOCAL ? CNM_MEMBER_NONE : d->slot;
		e->svc = (uint16_t)(d->svc >= 0 ? d->svc : 0);
		e->expire = st->now_ms + CNM_FRAG_TTL_MS;
		st->st->frag_first++;
		return;
	}
	if (frag_match(e, f) && (int32_t)(e->expire - st->now_ms) > 0 &&
			(e->verdict != CNM_V_FORWARD || lb->svc[e->svc] != NULL)) {
		d->verdict = e->verdict;
		d->reason = CNM_DROP_NONE;
		d->node = e->node;
		d->slot = e->slot;
		d->method = lb->node[e->node].method;
		d->svc = e->verdict == CNM_V_FORWARD ? e->svc : -1;
		d->via = CNM_VIA_FRAG;
		st->st->frag_follow++;
		return;
	}
	/* unknown datagram: a port-keyed protocol to a VIP cannot be placed */
	if (s == NULL && (f->key.proto == IPPROTO_TCP || f->key.proto == IPPROTO_UDP) &&
			cnm_lb_is_vip(lb, f->key.family, f->key.addr)) {
		d->verdict = CNM_V_DROP;
		d->reason = CNM_DROP_FRAGMENT;
		d->via = CNM_VIA_NONE;
	}
}

/* ARP: requests for a VIP cnmux answers for are answered; the rest belongs
 * to the interface node's own stack. A message whose sender hardware address
 * is multicast or broadcast is bogus (RFC 1812 3.3.2): not answered (the
 * reply would go to that group), not handed to the host (it would learn it),
 * dropped. */
void
cnm_decide_arp(const struct cnm_lb_view *lb, const struct cnm_flow *f, struct cnm_decision *d)
{
	d->svc = -1;
	d->reason = CNM_DROP_NONE;
	d->via = CNM_VIA_NONE;
	if (unlikely(f->arp_sha_group)) {
		d->verdict = CNM_V_DROP;
		d->reason = CNM_DROP_ARP_SENDER;
	} else if (f->arp_op == 1 /* request */ && cnm_lb_arp_owned(lb, f->key.addr)) {
		d->verdict = CNM_V_REPLY;
		d->reply = CNM_REPLY_ARP;
	} else if (lb->has_local) {
		d->verdict = CNM_V_LOCAL;
	} else {
		d->verdict = CNM_V_DROP;
		d->reason = CNM_DROP_NO_SERVICE;
	}
}

/* Neighbour discovery (RFC 4861), the IPv6 half of ARP: a solicitation for
 * a VIP cnmux answers for is answered; other solicitations and every
 * advertisement belong to the host's stack (the parser dropped the invalid
 * ones). Like ARP, never sent to a node. */
void
cnm_decide_nd(const struct cnm_lb_view *lb, const struct cnm_flow *f, struct cnm_decision *d)
{
	d->svc = -1;
	d->reason = CNM_DROP_NONE;
	d->via = CNM_VIA_NONE;
	if (f->icmp_type == CNM_ICMP6_NS && cnm_lb_nd_owned(lb, f->key.addr)) {
		d->verdict = CNM_V_REPLY;
		d->reply = CNM_REPLY_NA;
	} else if (lb->has_local) {
		d->verdict = CNM_V_LOCAL;
	} else {
		d->verdict = CNM_V_DROP;
		d->reason = CNM_DROP_NO_SERVICE;
	}
}

/* Step 2 for a frame of the general shape whose service lookup is done:
 * returns 1 when QUIC routed it by its connection ID. */
static inline int
decide_flow(const struct cnm_lb_view *lb, const struct cnm_dstate *st, const struct cnm_svc *s,
		const struct cnm_pkt *pk, struct cnm_decision *d)
{
	const struct cnm_flow *f = &pk->f;

	if (s != NULL) {
		if (unlikely(f->key.proto == IPPROTO_UDP) && f->has_ports && !f->icmp_err &&
				unlikely(__atomic_load_n(&s->quic, __ATOMIC_ACQUIRE) != NULL) &&
				!same_addr(f->src, f->key.addr) &&
				cnm_decide_quic(lb, st, s, pk->l7,
					RTE_MIN((uint32_t)pk->l7_len, (uint32_t)CNM_PKT_L7_MAX), d))
			return 1;
		cnm_decide_pdt(lb, s, cnm_client_hash(s->hash_key, f, s->hash_port), d);
		/* a packet from the VIP to itself: spoofed */
		if (unlikely(!f->icmp_err && same_addr(f->src, f->key.addr))) {
			d->verdict = CNM_V_DROP;
			d->reason = CNM_DROP_MARTIAN_SRC;
			d->svc = -1; /* not traffic of the service */
			d->via = CNM_VIA_NONE;
		}
		return 0;
	}
	cnm_decide_nosvc(lb, d);
	/* an echo request to a VIP with no service of its own: answered here */
	if (unlikely(f->rare) && lb->icmp_echo_reply && f->frag == CNM_FRAG_NONE &&
			(f->icmp_type == CNM_ICMP_ECHO_REQUEST ||
			 f->icmp_type == CNM_ICMP6_ECHO_REQUEST) &&
			(f->key.proto == IPPROTO_ICMP) == (f->key.family == AF_INET) &&
			cnm_lb_is_vip(lb, f->key.family, f->key.addr)) {
		d->verdict = CNM_V_REPLY;
		d->reply = CNM_REPLY_ECHO;
		d->reason = CNM_DROP_NONE;
	}
	return 0;
}

void
cnm_decide_miss4(struct cnm_dbatch *b, unsigned int i, uint32_t src, uint32_t dst,
		uint16_t sport, uint16_t dport, uint8_t proto, uint8_t tcp_flags,
		const uint8_t *pay, uint32_t plen)
{
	b->pay4[i] = pay;
	b->plen4[i] = plen;
	struct cnm_fast4 *r = &b->r4[i];
	struct cnm_svc_key *k = &b->k4[i];

	memset(r, 0, sizeof(*r));
	r->src = src;
	r->dst = dst;
	r->sport = sport;
	r->dport = dport;
	r->proto = proto;
	r->tcp_flags = tcp_flags;
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, &dst, 4);
	k->port = dport;
	k->proto = proto;
	k->family = AF_INET;
	b->fast_miss |= 1u << i;
	b->keys[b->nk] = k;
	b->at[b->nk++] = (uint8_t)i;
}

void
cnm_decide_finish(const struct cnm_lb_view *lb, struct cnm_dstate *st, struct cnm_dbatch *b,
		const struct cnm_pkt *pk, struct cnm_decision *d)
{
	struct cnm_svc *svc[CNM_DECIDE_MAX];
	const uint8_t *at = b->at;
	uint32_t frags = 0, flows = 0;
	unsigned int i, j, nk = b->nk;

	if (likely(nk == 0))
		goto track;
	/* step 1: what the cache missed, in bulk */
	svc_lookup(lb, st, b->keys, nk, svc);

	/* step 2 for the frames the cache missed, and who goes through the list */
	for (j = 0; j < nk; j++) {
		const struct cnm_flow *f;
		struct cnm_decision *di = &d[at[j]];
		const struct cnm_svc *s = svc[j];
		int quic;

		if (b->fast_miss & (1u << at[j])) {
			cnm_decide_fast4_svc(lb, st, &b->r4[at[j]], s, at[j], di, &b->ct,
					b->pay4[at[j]], b->plen4[at[j]]);
			continue;
		}
		f = &pk[at[j]].f;
		flows |= 1u << at[j];
		/* routed by its QUIC connection ID: not by the list */
		quic = decide_flow(lb, st, s, &pk[at[j]], di);
		if (unlikely(f->rare) && f->frag != CNM_FRAG_NONE)
			frags |= 1u << at[j];
		/* a tracked connection outlives the PDT entries of its node: a
		 * group whose nodes are all drained still serves its connections */
		if (!quic && st->ct != NULL && s != NULL && di->svc >= 0 && f->has_ports &&
				(f->key.proto == IPPROTO_TCP ||
				 f->key.proto == __atomic_load_n(&s->list_proto, __ATOMIC_RELAXED))) {
			cnm_conn_key_from_flow(f, &b->ct.key[b->ct.n]);
			b->ct.svc[b->ct.n] = s;
			b->ct.flags[b->ct.n] = f->key.proto == IPPROTO_TCP ? f->tcp_flags :
				f->icmp_err ? CNM_CT_UDP_NOREC : 0;
			if (f->key.proto == IPPROTO_UDP)
				b->ct.udp |= 1u << b->ct.n;
			b->ct.at[b->ct.n++] = at[j];
		}
	}

track:
	/* step 3: the forwarding list, in one bulk lookup */
	if (b->ct.n > 0)
		conn_track(lb, st, &b->ct, d);

	/* step 4: fragments, in arrival order, with their final decisions */
	while (unlikely(frags != 0)) {
		i = (unsigned int)__builtin_ctz(frags);
		frags &= frags - 1;
		for (j = 0; at[j] != i; j++)
			;
		frag_handle(lb, st, &pk[i].f, svc[j], &d[i]);
		/* a first fragment dropped by its own rules drops the datagram */
	}

	/* ICMP errors about a flow of a service go to that flow's node */
	while (flows != 0) {
		i = (unsigned int)__builtin_ctz(flows);
		flows &= flows - 1;
		if (unlikely(pk[i].f.icmp_err) && d[i].verdict == CNM_V_FORWARD)
			st->st->icmp_errors++;
	}
}

void
cnm_decide_burst(const struct cnm_lb_view *lb, struct cnm_dstate *st, const struct cnm_pkt *pk,
		unsigned int n, struct cnm_decision *d)
{
	struct cnm_dbatch b;
	unsigned int i;

	RTE_BUILD_BUG_ON(CNM_DECIDE_MAX > 32);
	if (n > CNM_DECIDE_MAX)
		n = CNM_DECIDE_MAX;
	cnm_decide_begin(lb, st, &b);
	for (i = 0; i < n; i++)
		cnm_decide_add(lb, st, &b, &pk[i], i, &d[i]);
	cnm_decide_finish(lb, st, &b, pk, d);
}

void
cnm_decide(const struct cnm_lb_view *lb, const struct cnm_flow *f, struct cnm_decision *d)
{
	struct cnm_svc_cache_ent cache;
	struct cnm_frag_ent frag;
	struct cnm_wstats ws;
	struct cnm_dstate st;
	struct cnm_pkt pk;

	memset(&cache, 0, sizeof(cache));
	memset(&frag, 0, sizeof(frag));
	memset(&ws, 0, sizeof(ws));
	memset(&st, 0, sizeof(st));
	st.cache = &cache;
	st.frag = &frag;
	st.st = &ws;
	/* a generation no table has: the one-slot cache starts empty */
	st.cache_gen = __atomic_load_n(&lb->keys_gen, __ATOMIC_ACQUIRE);
	st.lane = CNM_QUIC_LANE_CTL;
	pk.shape = CNM_SHAPE_FLOW;
	pk.l7_len = 0;
	pk.f = *f;
	cnm_decide_burst(lb, &st, &pk, 1, d);
}
