/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_log.h>
#include <rte_rcu_qsbr.h>

/* the one file that sees the insides of the tables */
#define CNM_SERVICE_INTERNAL
#include "service_private.h"

RTE_LOG_REGISTER(cnm_logtype_service, cnm.service, NOTICE);

/* what the workers read of a service: one cache line (struct cnm_svc), now
 * that it holds the UDP flow list, the QUIC-LB context and second chance */
_Static_assert(sizeof(struct cnm_svc) <= RTE_CACHE_LINE_SIZE, "struct cnm_svc: one cache line");

#define SVC_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cnm_logtype_service, "service: " fmt "\n", ##__VA_ARGS__)

/* The whole service in slot @p id (< CNM_MAX_SERVICES), NULL for a free one.
 * Control side: the only writer reads the slot without ordering. */
static inline struct cnm_svc_priv *
svc_at(const struct cnm_lb *lb, uint32_t id)
{
	return cnm_svc_priv(lb->v.svc[id]);
}

/* the capacities the configuration's budget checks (cnm_config.h) */
#define H1_ENTRIES CNM_TABLE1_KEYS_MAX
#define H2_ENTRIES CNM_TABLE2_KEYS_MAX
#define VIP_ENTRIES CNM_VIP_KEYS_MAX

static struct rte_hash *
table_create(const char *prefix, const char *name, uint32_t entries, uint32_t key_len,
		struct rte_rcu_qsbr *qsbr)
{
	struct rte_hash_parameters p = {
		.entries = entries,
		.key_len = key_len,
		.hash_func = rte_hash_crc,
		.hash_func_init_val = 0,
		.socket_id = SOCKET_ID_ANY,
		/* one writer (the control lcore), lock-free readers (workers);
		 * extendable buckets: every one of the entries fits, whatever
		 * the keys' hashes (cuckoo buckets alone can refuse a key
		 * before the table is full), so a configuration that passed
		 * the budget check (CNM_TABLE1_KEYS_MAX, ...) is built whole */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct rte_hash_rcu_config rcu = {
		.v = qsbr,
		.mode = RTE_HASH_QSBR_MODE_SYNC,
	};
	char hname[RTE_HASH_NAMESIZE];
	struct rte_hash *h;

	snprintf(hname, sizeof(hname), "%s_%s", prefix, name);
	p.name = hname;
	h = rte_hash_create(&p);
	if (h == NULL)
		return NULL;
	/* rte_hash_rcu_qsbr_add() returns 1 on error, not a negative errno */
	if (qsbr != NULL && rte_hash_rcu_qsbr_add(h, &rcu) != 0) {
		int e = rte_errno;

		rte_hash_free(h);
		rte_errno = e;
		return NULL;
	}
	return h;
}

/* Are the keys of @p c in the second table? (its policy says) */
static inline int
svc_wild(const struct cnm_cfg_service *c)
{
	return cnm_policy_get(c->policy)->table == CNM_TABLE_ADDR;
}

static void
svc_key(struct cnm_svc_key *k, const struct cnm_addr *a, uint8_t proto, uint16_t port)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, a->bytes, 16);
	k->family = a->family;
	k->proto = proto;
	k->port = htons(port);
}

static void
svc_free(struct cnm_svc_priv *s)
{
	if (s == NULL)
		return;
	cnm_pdt_free(s->hot.pdt);
	cnm_quiclb_free(s->hot.quic);
	cnm_pdt_free((struct cnm_pdt *)(uintptr_t)s->hot.prev);
	free(s->hot.mslot);
	free(s->members);
	free(s->cfg.ports);
	memset(s->quic, 0, sizeof(s->quic)); /* the keys */
	free(s);
}

static void grace_period(const struct cnm_lb *lb);

/*
 * The service's QUIC-LB context: its configurations, and the server ID of
 * every node of its list that has one (a drained node's included: its
 * connections keep it; a down one is refused per packet). Built anew and
 * published when that set changes; the old one is freed after a grace
 * period. Called by every rebuild.
 */
static int
quic_update(struct cnm_lb *lb, struct cnm_svc_priv *s)
{
	struct cnm_quiclb *q, *old = s->hot.quic;
	uint64_t fp = 0xcbf29ce484222325ULL;
	uint32_t i, k;
	int ret;

	if (s->cfg.n_quic == 0)
		return 0;
	/* FNV-1a over (node, server ID) of the list, in order */
	for (i = 0; i < s->n_members; i++) {
		const struct cnm_cfg_node *n = &lb->node_cfg[s->members[i].node];

		if (!lb->v.node[s->members[i].node].used || n->server_id_len == 0)
			continue;
		fp = (fp ^ s->members[i].node) * 0x100000001b3ULL;
		for (k = 0; k < n->server_id_len; k++)
			fp = (fp ^ n->server_id[k]) * 0x100000001b3ULL;
	}
	if (old != NULL && fp == s->quic_fp)
		return 0;
	q = cnm_quiclb_create(s->quic, s->cfg.n_quic, CNM_QUIC_LANES,
			s->n_members * s->cfg.n_quic + 1);
	if (q == NULL)
		return -errno;
	for (i = 0; i < s->n_members; i++) {
		const struct cnm_cfg_node *n = &lb->node_cfg[s->members[i].node];

		if (!lb->v.node[s->members[i].node].used || n->server_id_len == 0 ||
		    n->server_id_len != s->quic[0].server_id_len)
			continue;
		for (k = 0; k < s->cfg.n_quic; k++) {
			ret = cnm_quiclb_add_server(q, s->quic[k].config_id, n->server_id,
					n->server_id_len, s->members[i].node);
			if (ret < 0 && ret != -EEXIST) {
				cnm_quiclb_free(q);
				return ret;
			}
		}
	}
	/* release: the context is complete before a worker sees it */
	__atomic_store_n(&s->hot.quic, q, __ATOMIC_RELEASE);
	s->quic_fp = fp;
	if (old != NULL) {
		grace_period(lb);
		cnm_quiclb_free(old);
	}
	return 0;
}

/*
 * Reference-counted sets (ARP VIPs, all VIPs): the count of services that
 * produce a key lives in the key's data word; the key goes with the last one.
 */
static void
set_ref(struct rte_hash *h, const void *key, int delta)
{
	void *data = NULL;
	uintptr_t n = 0;

	if (rte_hash_lookup_data(h, key, &data) >= 0)
		n = (uintptr_t)data;
	n = delta > 0 ? n + 1 : (n > 0 ? n - 1 : 0);
	if (n == 0)
		(void)rte_hash_del_key(h, key);
	else
		(void)rte_hash_add_key_data(h, key, (void *)n);
}

static void
svc_sets(struct cnm_lb *lb, const struct cnm_svc_priv *s, int delta)
{
	struct cnm_svc_key k;

	if (s->cfg.arp && s->cfg.vip.family == AF_INET) {
		uint32_t ip; /* aligned for the hash */

		memcpy(&ip, s->cfg.vip.bytes, 4);
		set_ref(lb->v.arp, &ip, delta);
	}
	if (s->cfg.arp && s->cfg.vip.family == AF_INET6) {
		uint64_t ip6[2]; /* aligned for the hash */

		memcpy(ip6, s->cfg.vip.bytes, 16);
		set_ref(lb->v.nd, ip6, delta);
	}
	svc_key(&k, &s->cfg.vip, 0, 0);
	set_ref(lb->v.vips, &k, delta);
}

int
cnm_lb_is_vip(const struct cnm_lb_view *v, uint8_t family, const uint8_t *addr)
{
	struct cnm_svc_key k;

	memset(&k, 0, sizeof(k));
	k.family = family;
	memcpy(k.addr, addr, family == AF_INET ? 4 : 16);
	return rte_hash_lookup(v->vips, &k) >= 0;
}

int
cnm_lb_arp_owned(const struct cnm_lb_view *v, const uint8_t ip[4])
{
	uint32_t k; /* aligned for the hash */

	memcpy(&k, ip, 4);
	return rte_hash_lookup(v->arp, &k) >= 0;
}

int
cnm_lb_nd_owned(const struct cnm_lb_view *v, const uint8_t ip[16])
{
	uint64_t k[2]; /* aligned for the hash */

	memcpy(k, ip, 16);
	return rte_hash_lookup(v->nd, k) >= 0;
}

static int svc_rebuild(struct cnm_lb *lb, struct cnm_svc_priv *s);
static void grace_period(const struct cnm_lb *lb);

uint32_t
cnm_lb_clock_ms(void)
{
	/* the workers' clock (lib/dataplane cnm_worker_clock()): TSC / ms */
	return (uint32_t)(rte_rdtsc() / RTE_MAX(rte_get_tsc_hz() / 1000, (uint64_t)1));
}

/* Make @p prev the kept version of @p s (NULL: none); the one it replaces
 * is returned, for the caller to free after a grace period. */
static struct cnm_pdt *
sc_set_prev(struct cnm_svc_priv *s, const struct cnm_pdt *prev)
{
	struct cnm_pdt *stale = (struct cnm_pdt *)(uintptr_t)s->hot.prev;

	/* release: a worker that sees the pointer sees the entries (pairs
	 * with the acquire in the decision's second chance) */
	__atomic_store_n(&s->hot.prev, prev, __ATOMIC_RELEASE);
	return stale;
}

/*
 * Second chance bookkeeping for a change of @p s's PDT away from @p old
 * (docs/pdt.md, "Second chance"). The window stays open s->sc_ms after the
 * last change. The version kept ("previous") is, of the tables in force
 * since the window opened and the one in force when it opened, the one in
 * force the longest (ties to the earlier): the table of before a burst of
 * quick changes (a reload and the health checks it sets off, a node's
 * addresses resolved one by one at start-up), not the short-lived ones
 * between them. A table with no node in it, or in force for less than
 * CNM_SC_SETTLE_MS, is never kept: it cannot have carried the connections
 * (at start-up, the tables of nodes coming up one by one carried none: the
 * connections a restarted instance meets were placed by the full table).
 * What the caller must free after the grace period goes into @p fr (up to
 * two).
 */
static void
sc_note_change(struct cnm_svc_priv *s, struct cnm_pdt *old, struct cnm_pdt **fr)
{
	uint32_t now = cnm_lb_clock_ms();
	uint32_t dur = now - s->pdt_since; /* how long @p old was in force */
	int open;

	s->pdt_since = now;
	fr[0] = old;
	fr[1] = NULL;
	if (old == NULL || s->sc_ms == 0)
		return;
	open = s->hot.prev != NULL && (int32_t)(s->hot.sc_until - now) > 0;
	if (old->n_active > 0 && dur >= CNM_SC_SETTLE_MS && (!open || dur > s->sc_dur)) {
		s->sc_since = now;
		s->sc_dur = dur;
		fr[0] = sc_set_prev(s, old);
	} else if (!open) {
		/* nothing worth keeping: no window */
		fr[1] = sc_set_prev(s, NULL);
		return;
	}
	/* relaxed: the window's edge is not ordered with the tables
	 * (cnm_svc_sc_open()); prev was published above with release */
	__atomic_store_n(&s->hot.sc_until, now + s->sc_ms, __ATOMIC_RELAXED);
}

/* Publish @p pdt in @p s, then free the table it replaces (or the version
 * second chance no longer keeps) after a grace period. */
static void
pdt_publish(struct cnm_lb *lb, struct cnm_svc_priv *s, struct cnm_pdt *pdt)
{
	struct cnm_pdt *fr[2];

	sc_note_change(s, s->hot.pdt, fr);
	/* Release: the entries written by the builder are visible to a worker
	 * before it can see the pointer (pairs with the acquire in cnm_select). */
	__atomic_store_n(&s->hot.pdt, pdt, __ATOMIC_RELEASE);
	/* release: what changed is visible to a worker that sees the new gen */
	__atomic_store_n(&lb->gen, lb->gen + 1, __ATOMIC_RELEASE);
	if (fr[0] != NULL || fr[1] != NULL) {
		/* No worker may still read the old tables once this returns. */
		if (lb->qsbr != NULL)
			rte_rcu_qsbr_synchronize(lb->qsbr, RTE_QSBR_THRID_INVALID);
		cnm_pdt_free(fr[0]);
		cnm_pdt_free(fr[1]);
	}
}

int
cnm_lb_svc_set_second_chance(struct cnm_lb *lb, uint16_t id, uint32_t ms)
{
	struct cnm_svc_priv *s;
	struct cnm_pdt *stale = NULL;

	if (id >= CNM_MAX_SERVICES || (s = svc_at(lb, id)) == NULL)
		return -ENOENT;
	s->sc_ms = ms;
	s->cfg.second_chance_s = ms / 1000;
	if (ms == 0) {
		__atomic_store_n(&s->hot.sc_until, cnm_lb_clock_ms(), __ATOMIC_RELAXED);
		stale = sc_set_prev(s, NULL);
	}
	if (stale != NULL) {
		if (lb->qsbr != NULL)
			rte_rcu_qsbr_synchronize(lb->qsbr, RTE_QSBR_THRID_INVALID);
		cnm_pdt_free(stale);
	}
	return 0;
}

int
cnm_lb_svc_second_chance(const struct cnm_lb *lb, uint32_t id, struct cnm_sc_info *out)
{
	const struct cnm_svc_priv *s;

	if (id >= CNM_MAX_SERVICES || (s = svc_at(lb, id)) == NULL)
		return -ENOENT;
	out->window_ms = s->sc_ms;
	out->until = s->hot.sc_until;
	out->since = s->sc_since;
	out->prev = s->hot.prev;
	return 0;
}

unsigned int
cnm_lb_second_chance_expire(struct cnm_lb *lb)
{
	struct cnm_pdt *stale[64];
	unsigned int n = 0, k;
	uint32_t i, now = cnm_lb_clock_ms();

	/* at most 64 per call: the next call takes the rest */
	for (i = 0; i < lb->n_svc && n < RTE_DIM(stale); i++) {
		struct cnm_svc_priv *s = svc_at(lb, i);

		if (s == NULL || s->hot.prev == NULL ||
		    (int32_t)(s->hot.sc_until - now) > 0)
			continue;
		stale[n++] = sc_set_prev(s, NULL);
	}
	if (n == 0)
		return 0;
	/* one grace period for them all: no worker reads them after it */
	grace_period(lb);
	for (k = 0; k < n; k++)
		cnm_pdt_free(stale[k]);
	return n;
}

/*
 * Node @p id leaves the tables: the kept versions that name it are copied
 * with CNM_NODE_GONE in its entries (its id may be given to another node),
 * published, and the old copies freed after a grace period.
 */
static void
sc_forget_node(struct cnm_lb *lb, uint16_t id)
{
	uint32_t i, k;

	for (i = 0; i < lb->n_svc; i++) {
		struct cnm_svc_priv *s = svc_at(lb, i);
		const struct cnm_pdt *p;
		struct cnm_pdt *c, *stale;

		if (s == NULL || (p = s->hot.prev) == NULL)
			continue;
		for (k = 0; k < p->size && p->entries[k] != id; k++)
			;
		if (k == p->size)
			continue;
		c = cnm_pdt_build(p->size, NULL, 0);
		if (c == NULL) {
			/* no memory for the copy: give up the version instead */
			stale = sc_set_prev(s, NULL);
		} else {
			for (k = 0; k < p->size; k++)
				c->entries[k] = p->entries[k] == id ? CNM_NODE_GONE : p->entries[k];
			c->n_active = p->n_active;
			stale = sc_set_prev(s, c);
		}
		grace_period(lb);
		cnm_pdt_free(stale);
	}
}


/*
 * Counter slots of (service, node) pairs (lib/stats/cnm_stats.h: a frame
 * sent to a node counts in one slot; the totals are sums of slots). Every
 * member of @p s gets a slot before a PDT that lists it is published. A
 * pair keeps its slot when the node leaves the list (its tracked
 * connections still count into it, and it is the same pair if the node
 * comes back); a pair's slot goes back when its service or its node is
 * deleted, or when every slot is taken and one is needed (reclaim of the
 * pairs that are not listed). What a freed slot had counted is folded into
 * its service's and node's totals first (svc_fold, node_fold), so no total
 * ever goes back.
 */
static void slots_reclaim(struct cnm_lb *lb);

static int
slot_take(struct cnm_lb *lb, uint16_t svc, uint16_t node)
{
	uint32_t k;

	for (k = 0; k < CNM_MEMBER_SINK0; k++) {
		uint32_t slot = (lb->member_next + k) % CNM_MEMBER_SINK0;

		if (lb->member_svc[slot] != CNM_SLOT_FREE)
			continue;
		lb->member_svc[slot] = svc;
		lb->member_node[slot] = node;
		lb->member_next = (slot + 1) % CNM_MEMBER_SINK0;
		/* what workers counted in it before: the new pair starts at 0 */
		if (lb->wstats != NULL)
			lb->member_base[slot] = cnm_stats_member_slot(lb->wstats, lb->n_wstats, slot);
		/* and from 0 in the operator's view (`zero`) */
		if (lb->zero != NULL)
			memset(&lb->zero->member[slot], 0, sizeof(lb->zero->member[slot]));
		return (int)slot;
	}
	return -1;
}

static void
members_alloc(struct cnm_lb *lb, struct cnm_svc_priv *s)
{
	uint32_t i;
	int slot;

	for (i = 0; i < s->n_members; i++) {
		uint32_t node = s->members[i].node;

		if (s->hot.mslot[node] < CNM_MEMBER_SINK0)
			continue;
		slot = slot_take(lb, s->hot.id, (uint16_t)node);
		if (slot < 0) {
			slots_reclaim(lb);
			slot = slot_take(lb, s->hot.id, (uint16_t)node);
		}
		/* none at all (more listed pairs than slots, which the
		 * configuration's budget forbids): the node's sink counts it */
		if (slot >= 0)
			/* one 16-bit word: workers read it whole */
			__atomic_store_n(&s->hot.mslot[node], (uint16_t)slot, __ATOMIC_RELAXED);
	}
}

static int
member_listed(const struct cnm_svc_priv *s, uint32_t node)
{
	uint32_t i;

	for (i = 0; i < s->n_members; i++)
		if (s->members[i].node == node)
			return 1;
	return 0;
}

/* Give back @p n slots no worker counts into any more (after a grace
 * period): what they counted goes to their service's and node's totals. */
static void
slots_free(struct cnm_lb *lb, const uint16_t *slots, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint16_t slot = slots[i], svc = lb->member_svc[slot], node = lb->member_node[slot];
		struct cnm_pb v;

		memset(&v, 0, sizeof(v));
		if (lb->wstats != NULL) {
			v = cnm_stats_member_slot(lb->wstats, lb->n_wstats, slot);
			cnm_pb_sub(&v, &lb->member_base[slot]);
		}
		cnm_pb_add(&lb->svc_fold[svc], &v);
		cnm_pb_add(&lb->node_fold[node], &v);
		lb->member_svc[slot] = CNM_SLOT_FREE;
	}
}

/*
 * Take the slots of service @p s away from its workers: those of node
 * @p node (-1: every node; -2: every node not in its list) go back to
 * the node's sink, and are freed after a grace period.
 */
static void
svc_slots_drop(struct cnm_lb *lb, struct cnm_svc_priv *s, int32_t node)
{
	uint16_t freed[64];
	uint32_t n = node >= 0 ? (uint32_t)node : 0, end = node >= 0 ? n + 1 : CNM_MAX_NODES;
	uint32_t nf = 0;

	for (; n < end; n++) {
		uint16_t slot = s->hot.mslot[n];

		if (slot >= CNM_MEMBER_SINK0 || (node == -2 && member_listed(s, n)))
			continue;
		__atomic_store_n(&s->hot.mslot[n], CNM_MEMBER_SINK(n), __ATOMIC_RELAXED);
		freed[nf++] = slot;
		if (nf == RTE_DIM(freed)) {
			grace_period(lb);
			slots_free(lb, freed, nf);
			nf = 0;
		}
	}
	if (nf > 0) {
		grace_period(lb);
		slots_free(lb, freed, nf);
	}
}

/* Every slot is taken: free those of pairs no service lists any more. */
static void
slots_reclaim(struct cnm_lb *lb)
{
	uint32_t i;

	for (i = 0; i < lb->n_svc; i++)
		if (lb->v.svc[i] != NULL)
			svc_slots_drop(lb, svc_at(lb, i), -2);
}

int
cnm_lb_member_slot(const struct cnm_lb *lb, uint16_t svc, uint16_t node)
{
	const struct cnm_svc_priv *s;
	uint16_t slot;

	if (svc >= CNM_MAX_SERVICES || node >= CNM_MAX_NODES || (s = svc_at(lb, svc)) == NULL)
		return -1;
	slot = s->hot.mslot[node];
	return slot >= CNM_MEMBER_SINK0 || !member_listed(s, node) ? -1 : (int)slot;
}

int
cnm_lb_slot_svc(const struct cnm_lb *lb, uint16_t slot)
{
	return slot < CNM_MEMBER_SINK0 && lb->member_svc[slot] != CNM_SLOT_FREE ?
		(int)lb->member_svc[slot] : -1;
}

int
cnm_lb_svc_rebuild(struct cnm_lb *lb, uint16_t id)
{
	struct cnm_svc_priv *s = svc_at(lb, id);

	if (s == NULL)
		return -ENOENT;
	members_alloc(lb, s);
	return svc_rebuild(lb, s);
}

static int
svc_rebuild(struct cnm_lb *lb, struct cnm_svc_priv *s)
{
	struct cnm_pdt_member *m;
	struct cnm_pdt *pdt;
	uint32_t i, n = 0;
	int ret;

	ret = quic_update(lb, s);
	if (ret < 0)
		return ret;
	m = calloc(s->n_members + 1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	for (i = 0; i < s->n_members; i++) {
		const struct cnm_node *nd = &lb->v.node[s->members[i].node];

		if (!nd->used || !nd->up)
			continue;
		m[n].node = (uint16_t)s->members[i].node;
		m[n].weight = s->members[i].weight;
		/* by names, not ids: every instance with this configuration
		 * and these nodes up builds the same table (docs/pdt.md) */
		m[n].key = cnm_pdt_key(s->cfg.name, lb->node_cfg[s->members[i].node].name);
		n++;
	}
	pdt = cnm_pdt_build(s->pdt_size, m, n);
	free(m);
	if (pdt == NULL)
		return -errno;
	/* the same table: nothing to publish, no worker sees a change */
	if (s->hot.pdt != NULL && cnm_pdt_moved(s->hot.pdt, pdt) == 0 &&
	    s->hot.pdt->n_active == pdt->n_active) {
		cnm_pdt_free(pdt);
		return 0;
	}
	pdt_publish(lb, s, pdt);
	return 0;
}

int
cnm_lb_svc_set_pdt(struct cnm_lb *lb, uint16_t id, const uint16_t *entries, uint32_t size)
{
	struct cnm_svc_priv *s;
	struct cnm_pdt *pdt;
	uint8_t seen[CNM_MAX_NODES];
	uint32_t i;

	if (id >= CNM_MAX_SERVICES || (s = svc_at(lb, id)) == NULL)
		return -ENOENT;
	if (size == 0 || (size & (size - 1)) != 0 || size != s->pdt_size)
		return -EINVAL;
	for (i = 0; i < size; i++)
		if (entries[i] != CNM_NODE_NONE &&
		    (entries[i] >= CNM_MAX_NODES || !lb->v.node[entries[i]].used))
			return -EINVAL;
	/* a table of no member: every entry CNM_NODE_NONE, then overwritten
	 * before any worker can see it */
	pdt = cnm_pdt_build(size, NULL, 0);
	if (pdt == NULL)
		return -errno;
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < size; i++) {
		pdt->entries[i] = entries[i];
		if (entries[i] != CNM_NODE_NONE && !seen[entries[i]]) {
			seen[entries[i]] = 1;
			pdt->n_active++;
		}
	}
	pdt_publish(lb, s, pdt);
	return 0;
}

/* The keys of service config @p c, each with its table. */
struct svc_keyref {
	struct cnm_svc_key k;
	struct rte_hash *h;
};

/* Key @p i of service config @p c into *@p r: 1, or 0 past its last key. */
static int
svc_key_at(const struct cnm_lb *lb, const struct cnm_cfg_service *c, uint32_t i,
		struct svc_keyref *r)
{
	static const uint8_t protos[2] = { IPPROTO_TCP, IPPROTO_UDP };
	uint32_t b;

	if (!svc_wild(c)) {
		if (i >= c->n_ports)
			return 0;
		svc_key(&r->k, &c->vip, c->ports[i].proto, c->ports[i].port);
		r->h = lb->v.h1;
		return 1;
	}
	/* sticky-wild: one key per protocol (CNM_PROTO_BIT_*) it takes */
	for (b = 0; b < 2; b++)
		if ((c->protocols & (1u << b)) && i-- == 0) {
			svc_key(&r->k, &c->vip, protos[b], 0);
			r->h = lb->v.h2;
			return 1;
		}
	return 0;
}

static int
svc_add_keys(struct cnm_lb *lb, struct cnm_svc_priv *s)
{
	struct svc_keyref r;
	uint32_t i;
	int ret;

	for (i = 0; svc_key_at(lb, &s->cfg, i, &r); i++) {
		ret = rte_hash_add_key_data(r.h, &r.k, &s->hot);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static struct cnm_svc_priv *
svc_create(struct cnm_lb *lb, const struct cnm_config *cfg, const struct cnm_cfg_service *c,
		uint16_t id)
{
	struct cnm_svc_priv *s;
	uint32_t i;

	if (posix_memalign((void **)&s, RTE_CACHE_LINE_SIZE, sizeof(*s)) != 0)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->hot.id = id;
	s->hot.policy = (uint8_t)c->policy;
	s->hot.hash_port = cnm_policy_get(c->policy)->hash_port;
	s->hot.family = c->vip.family;
	s->hot.hash_key = cfg->hash_key;
	s->hot.udp_timeout_ms = c->udp_timeout_s * 1000;
	s->hot.list_proto = c->udp_timeout_s != 0 ? IPPROTO_UDP : 0;
	s->pdt_size = c->pdt_size ? c->pdt_size : cfg->pdt_size;
	s->sc_ms = c->second_chance_s * 1000;
	s->cfg = *c;
	s->cfg.ports = NULL;
	s->cfg.members = NULL;
	s->n_members = c->n_members;
	s->members = calloc(c->n_members + 1, sizeof(*s->members));
	s->cfg.ports = calloc(c->n_ports + 1, sizeof(*s->cfg.ports));
	s->hot.mslot = malloc(CNM_MAX_NODES * sizeof(*s->hot.mslot));
	if (s->members == NULL || s->cfg.ports == NULL || s->hot.mslot == NULL) {
		svc_free(s);
		return NULL;
	}
	/* memcpy from NULL is undefined even for 0 bytes: sticky-wild has no ports */
	if (c->n_members > 0)
		memcpy(s->members, c->members, c->n_members * sizeof(*s->members));
	if (c->n_ports > 0)
		memcpy(s->cfg.ports, c->ports, c->n_ports * sizeof(*s->cfg.ports));
	/* the QUIC-LB configurations: a copy of its own (the file's goes) */
	s->cfg.n_quic = RTE_MIN(c->n_quic, (uint32_t)CNM_QUICLB_CONFIGS);
	if (s->cfg.n_quic > 0)
		memcpy(s->quic, c->quic, s->cfg.n_quic * sizeof(*s->quic));
	s->cfg.quic = s->cfg.n_quic > 0 ? s->quic : NULL;
	s->cfg.members = s->members;
	lb->v.svc[id] = &s->hot;
	for (i = 0; i < CNM_MAX_NODES; i++)
		s->hot.mslot[i] = CNM_MEMBER_SINK(i); /* no pair yet */
	if (cnm_lb_svc_rebuild(lb, id) != 0) {
		svc_slots_drop(lb, s, -1);
		lb->v.svc[id] = NULL;
		svc_free(s);
		return NULL;
	}
	return s;
}

/* The instance's tunnel settings, as the methods read them. */
static void
fwd_conf(struct cnm_lb *lb, const struct cnm_config *cfg)
{
	cnm_lb_set_tunnel(lb, &cfg->tunnel);
}

/*
 * Build the fast shape's template of node @p id (its method's tmpl, from
 * tun[id] and the instance's settings) and publish it. Its len must be 0
 * already, with no worker still reading the old template (a slot not in use,
 * or a grace period since len went to 0): the fields are written while
 * len is 0, then len with release (pairs with the acquire in the worker).
 */
static void
node_tmpl(struct cnm_lb *lb, uint32_t id)
{
	struct cnm_fwd_node *n = &lb->v.tun[id];
	const struct cnm_fwd_ops *ops = cnm_fwd_get(lb->v.node[id].method);
	struct cnm_fwd_tmpl t;
	uint8_t len;

	memset(&t, 0, sizeof(t));
	if (ops != NULL && ops->tmpl != NULL)
		ops->tmpl(&t, n, &lb->v.fwd);
	len = t.len;
	t.len = 0;
	n->t4 = t;
	__atomic_store_n(&n->t4.len, len, __ATOMIC_RELEASE);
}

void
cnm_lb_set_tunnel(struct cnm_lb *lb, const struct cnm_cfg_tunnel *t)
{
	struct cnm_fwd_conf *c = &lb->v.fwd, nc = *c;
	uint32_t i;

	nc.mtu = t->mtu ? t->mtu : CNM_TUNNEL_MTU_DEFAULT;
	nc.has_src4 = t->source4.family == AF_INET;
	nc.has_src6 = t->source6.family == AF_INET6;
	memcpy(nc.src4, t->source4.bytes, 4);
	memcpy(nc.src6, t->source6.bytes, 16);
	nc.src4_bits = nc.has_src4 ? 32 - t->source4_len : 0;
	nc.src6_bits = nc.has_src6 ? 128 - t->source6_len : 0;
	if (nc.mtu == c->mtu && nc.has_src4 == c->has_src4 && nc.has_src6 == c->has_src6 &&
	    memcmp(nc.src4, c->src4, 4) == 0 && memcmp(nc.src6, c->src6, 16) == 0 &&
	    nc.src4_bits == c->src4_bits && nc.src6_bits == c->src6_bits)
		return; /* every reload comes here: most change nothing */
	/* the templates are built from these settings: off first, and no
	 * worker still in one once the grace period is over (their frames take
	 * the methods' encap meanwhile, which reads the fields below as they
	 * come, old or new, each of them valid) */
	for (i = 0; i < lb->n_nodes; i++)
		if (lb->v.tun[i].t4.len != 0)
			/* relaxed: the grace period below orders it */
			__atomic_store_n(&lb->v.tun[i].t4.len, 0, __ATOMIC_RELAXED);
	grace_period(lb);
	*c = nc;
	for (i = 0; i < lb->n_nodes; i++)
		if (lb->v.node[i].used)
			node_tmpl(lb, i);
}

/* What the tunnel methods need of node @p id. Workers read it only for a
 * node whose method they read first; the node's slot is not in use while
 * this changes (creation, node add). */
static void
node_tunnel(struct cnm_lb *lb, uint32_t id, const struct cnm_cfg_node *n)
{
	struct cnm_fwd_node *t = &lb->v.tun[id];

	memset(t, 0, sizeof(*t));
	memcpy(t->dst, n->ip.bytes, 16);
	t->family = n->ip.family;
	t->gue_port = rte_cpu_to_be_16(n->gue_port ? n->gue_port : CNM_GUE_PORT_DEFAULT);
	lb->v.node[id].method = n->forward;
	node_tmpl(lb, id);
}

void
cnm_lb_memsize(uint64_t *tables_eal, uint64_t *tables_heap, uint64_t *service_heap)
{
	*tables_eal = cnm_hash_memsize(H1_ENTRIES, CNM_SVC_KEY_LEN, 1) +
		cnm_hash_memsize(H2_ENTRIES, CNM_SVC_KEY_LEN, 1) +
		cnm_hash_memsize(VIP_ENTRIES, 4, 1) +
		cnm_hash_memsize(VIP_ENTRIES, CNM_SVC_KEY_LEN, 1) +
		cnm_hash_memsize(VIP_ENTRIES, 16, 1);
	*tables_heap = sizeof(struct cnm_lb);
	*service_heap = sizeof(struct cnm_svc_priv);
}

struct cnm_lb *
cnm_lb_create(const struct cnm_config *cfg, const char *name, struct rte_rcu_qsbr *qsbr)
{
	struct cnm_lb *lb;
	uint32_t i;
	int ret;

	if (cfg->n_nodes > CNM_MAX_NODES || cfg->n_services > CNM_MAX_SERVICES) {
		rte_errno = E2BIG;
		return NULL;
	}
	if (posix_memalign((void **)&lb, RTE_CACHE_LINE_SIZE, sizeof(*lb)) != 0) {
		rte_errno = ENOMEM;
		return NULL;
	}
	memset(lb, 0, sizeof(*lb));
	memset(lb->member_svc, 0xff, sizeof(lb->member_svc)); /* CNM_SLOT_FREE */
	lb->qsbr = qsbr;
	lb->v.hash_key = cfg->hash_key;
	lb->v.default_node = cfg->default_node;
	lb->v.has_local = cfg->local_port[0] != '\0';
	lb->v.icmp_echo_reply = cfg->icmp_echo_reply;
	lb->v.verify_checksum = cfg->verify_checksum;
	lb->n_private = cfg->n_private ? cfg->n_private : 1;
	lb->paths_up = (1u << lb->n_private) - 1;
	lb->v.port_lim = (uint16_t)lb->n_private; /* spreading starts off */
	lb->v.h1 = table_create("cnm_h1", name, H1_ENTRIES, CNM_SVC_KEY_LEN, qsbr);
	lb->v.h2 = table_create("cnm_h2", name, H2_ENTRIES, CNM_SVC_KEY_LEN, qsbr);
	lb->v.arp = table_create("cnm_arp", name, VIP_ENTRIES, 4, qsbr);
	lb->v.vips = table_create("cnm_vip", name, VIP_ENTRIES, CNM_SVC_KEY_LEN, qsbr);
	lb->v.nd = table_create("cnm_nd", name, VIP_ENTRIES, 16, qsbr);
	if (lb->v.h1 == NULL || lb->v.h2 == NULL || lb->v.arp == NULL || lb->v.vips == NULL ||
			lb->v.nd == NULL) {
		ret = rte_errno;
		goto fail;
	}
	fwd_conf(lb, cfg);
	for (i = 0; i < cfg->n_nodes; i++) {
		struct cnm_node *nd = &lb->v.node[i];

		lb->node_cfg[i] = cfg->nodes[i];
		node_tunnel(lb, i, &cfg->nodes[i]);
		nd->used = 1;
		nd->port = (uint16_t)(i % lb->n_private);
		if (cfg->nodes[i].has_mac) {
			memcpy(&nd->mac, cfg->nodes[i].mac, 6);
			nd->up = 1;
		}
	}
	lb->n_nodes = cfg->n_nodes;
	lb->next_node_slot = cfg->n_nodes % CNM_MAX_NODES;
	for (i = 0; i < cfg->n_services; i++) {
		struct cnm_svc_priv *s = svc_create(lb, cfg, &cfg->services[i], (uint16_t)i);

		if (s == NULL) {
			ret = ENOMEM;
			goto fail;
		}
		ret = svc_add_keys(lb, s);
		if (ret < 0) {
			SVC_LOG(ERR, "cannot add the keys of service %s: %s",
				s->cfg.name, strerror(-ret));
			ret = -ret;
			goto fail;
		}
	}
	lb->n_svc = cfg->n_services;
	for (i = 0; i < cfg->n_services; i++)
		svc_sets(lb, svc_at(lb, i), 1);
	return lb;
fail:
	cnm_lb_free(lb);
	rte_errno = ret;
	return NULL;
}

void
cnm_lb_free(struct cnm_lb *lb)
{
	uint32_t i;

	if (lb == NULL)
		return;
	rte_hash_free(lb->v.h1);
	rte_hash_free(lb->v.h2);
	rte_hash_free(lb->v.arp);
	rte_hash_free(lb->v.vips);
	rte_hash_free(lb->v.nd);
	for (i = 0; i < CNM_MAX_SERVICES; i++)
		svc_free(svc_at(lb, i));
	free(lb->zero);
	free(lb);
}

void
cnm_lb_lookup_bulk(const struct cnm_lb_view *v, const struct cnm_svc_key *const *keys,
		unsigned int n, struct cnm_svc **svc)
{
	struct cnm_svc_key k2[RTE_HASH_LOOKUP_BULK_MAX];
	const void *p2[RTE_HASH_LOOKUP_BULK_MAX];
	void *d2[RTE_HASH_LOOKUP_BULK_MAX];
	uint8_t idx[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits = 0, hits2 = 0;
	unsigned int i, m = 0;

	if (n == 0)
		return;
	rte_hash_lookup_bulk_data(v->h1, (const void **)(uintptr_t)keys, n, &hits,
			(void **)svc);
	if (likely(hits == (n == 64 ? UINT64_MAX : (1ULL << n) - 1)))
		return;
	/* Second lookup (FIG. 7 step 706): protocol and address only. */
	for (i = 0; i < n; i++) {
		if (hits & (1ULL << i))
			continue;
		svc[i] = NULL;
		k2[m] = *keys[i];
		k2[m].port = 0;
		p2[m] = &k2[m];
		idx[m] = (uint8_t)i;
		m++;
	}
	rte_hash_lookup_bulk_data(v->h2, p2, m, &hits2, d2);
	for (i = 0; i < m; i++)
		if (hits2 & (1ULL << i))
			svc[idx[i]] = d2[i];
}

void
cnm_lb_set_stats(struct cnm_lb *lb, struct cnm_wstats *const *w, uint32_t n)
{
	lb->wstats = w;
	lb->n_wstats = n;
}

void
cnm_lb_stats_rebase(const struct cnm_lb *lb, struct cnm_stats_total *t)
{
	uint32_t i;

	for (i = 0; i < CNM_MAX_MEMBERS; i++)
		cnm_pb_sub(&t->member[i], &lb->member_base[i]);
	/* a service: what no slot counted, its pairs' slots, its freed ones */
	for (i = 0; i < CNM_MAX_SERVICES; i++) {
		cnm_pb_add(&t->svc[i], &lb->svc_fold[i]);
		cnm_pb_sub(&t->svc[i], &lb->svc_base[i]);
	}
	/* a node: its sink, its pairs' slots, its freed ones */
	for (i = 0; i < CNM_MAX_NODES; i++) {
		t->node[i] = t->member[CNM_MEMBER_SINK(i)];
		cnm_pb_add(&t->node[i], &lb->node_fold[i]);
	}
	for (i = 0; i < CNM_MEMBER_SINK0; i++) {
		uint16_t svc = lb->member_svc[i], node = lb->member_node[i];

		if (svc == CNM_SLOT_FREE)
			continue;
		cnm_pb_add(&t->svc[svc], &t->member[i]);
		cnm_pb_add(&t->node[node], &t->member[i]);
	}
}

/* take off @p t what @p z held, never below 0 */
static void
pb_sub(struct cnm_pb *t, const struct cnm_pb *z, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint32_t j;

		t[i].pkts -= RTE_MIN(t[i].pkts, z[i].pkts);
		t[i].bytes -= RTE_MIN(t[i].bytes, z[i].bytes);
		t[i].conns -= RTE_MIN(t[i].conns, z[i].conns);
		t[i].sc -= RTE_MIN(t[i].sc, z[i].sc);
		t[i].sc_fail -= RTE_MIN(t[i].sc_fail, z[i].sc_fail);
		for (j = 0; j < CNM_DDROP_MAX; j++)
			t[i].drop[j] -= RTE_MIN(t[i].drop[j], z[i].drop[j]);
	}
}

int
cnm_lb_stats_zero(struct cnm_lb *lb, const struct cnm_stats_total *t)
{
	if (lb->zero == NULL) {
		lb->zero = malloc(sizeof(*lb->zero));
		if (lb->zero == NULL)
			return -ENOMEM;
	}
	memcpy(lb->zero, t, sizeof(*t));
	return 0;
}

void
cnm_lb_stats_zeroed(const struct cnm_lb *lb, struct cnm_stats_total *t)
{
	if (lb->zero == NULL)
		return;
	cnm_stats_sub_scalars(t, lb->zero);
	pb_sub(t->svc, lb->zero->svc, CNM_MAX_SERVICES);
	pb_sub(t->node, lb->zero->node, CNM_MAX_NODES);
	pb_sub(t->member, lb->zero->member, CNM_MAX_MEMBERS);
}

int
cnm_lb_svc_find(const struct cnm_lb *lb, const char *name)
{
	uint32_t i;

	for (i = 0; i < lb->n_svc; i++)
		if (lb->v.svc[i] != NULL && strcmp(svc_at(lb, i)->cfg.name, name) == 0)
			return (int)i;
	return -1;
}

int
cnm_lb_node_find(const struct cnm_lb *lb, const char *name)
{
	uint32_t i;

	for (i = 0; i < lb->n_nodes; i++)
		if (lb->v.node[i].used && strcmp(lb->node_cfg[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---- run-time changes: control lcore only ---- */

static void
grace_period(const struct cnm_lb *lb)
{
	if (lb->qsbr != NULL)
		rte_rcu_qsbr_synchronize(lb->qsbr, RTE_QSBR_THRID_INVALID);
}

/* Does any key of @p c already belong to a service? */
static int
svc_keys_taken(const struct cnm_lb *lb, const struct cnm_cfg_service *c)
{
	struct svc_keyref r;
	uint32_t i;

	for (i = 0; svc_key_at(lb, c, i, &r); i++)
		if (rte_hash_lookup(r.h, &r.k) >= 0)
			return 1;
	return 0;
}

static void
svc_del_keys(struct cnm_lb *lb, const struct cnm_svc_priv *s)
{
	struct svc_keyref r;
	uint32_t i;

	/* With the RCU (SYNC mode) attached, rte_hash frees each key slot only
	 * after a grace period. */
	for (i = 0; svc_key_at(lb, &s->cfg, i, &r); i++)
		(void)rte_hash_del_key(r.h, &r.k);
}

/* Every key of service config @p c: *@p out (malloc'ed); how many, or -ENOMEM. */
static int
svc_keys_of(const struct cnm_lb *lb, const struct cnm_cfg_service *c, struct svc_keyref **out)
{
	struct svc_keyref *r = calloc(c->n_ports + 3, sizeof(*r));
	uint32_t n;

	if (r == NULL)
		return -ENOMEM;
	for (n = 0; svc_key_at(lb, c, n, &r[n]); n++)
		;
	*out = r;
	return (int)n;
}

static int
keyref_in(const struct svc_keyref *set, int n, const struct svc_keyref *k)
{
	int i;

	for (i = 0; i < n; i++)
		if (set[i].h == k->h && memcmp(&set[i].k, &k->k, sizeof(k->k)) == 0)
			return 1;
	return 0;
}

int
cnm_lb_svc_rekey(struct cnm_lb *lb, uint16_t id, const struct cnm_cfg_service *c)
{
	struct cnm_svc_priv *s = svc_at(lb, id);
	struct svc_keyref *old = NULL, *nw = NULL;
	struct cnm_cfg_port *ports = NULL;
	int n_old, n_new, i, added = 0, ret = 0;

	if (s == NULL)
		return -ENOENT;
	if (s->cfg.vip.family != c->vip.family ||
	    memcmp(s->cfg.vip.bytes, c->vip.bytes, 16) != 0)
		return -EINVAL; /* another address: another service */
	n_old = svc_keys_of(lb, &s->cfg, &old);
	n_new = svc_keys_of(lb, c, &nw);
	ports = calloc(c->n_ports + 1, sizeof(*ports));
	if (n_old < 0 || n_new < 0 || ports == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	/* a key it does not hold yet must be free: checked before any change */
	for (i = 0; i < n_new; i++)
		if (!keyref_in(old, n_old, &nw[i]) && rte_hash_lookup(nw[i].h, &nw[i].k) >= 0) {
			ret = -EEXIST;
			goto out;
		}
	/* the new keys first: a frame of a kept key never misses its service */
	for (i = 0; i < n_new; i++) {
		if (keyref_in(old, n_old, &nw[i]))
			continue;
		ret = rte_hash_add_key_data(nw[i].h, &nw[i].k, &s->hot);
		if (ret < 0) {
			/* back to what it was: the keys added so far go again */
			while (--i >= 0)
				if (!keyref_in(old, n_old, &nw[i]))
					(void)rte_hash_del_key(nw[i].h, &nw[i].k);
			goto out;
		}
		added++;
	}
	ret = 0;
	svc_sets(lb, s, -1);
	for (i = 0; i < n_old; i++)
		if (!keyref_in(nw, n_new, &old[i]))
			(void)rte_hash_del_key(old[i].h, &old[i].k);
	if (c->n_ports > 0)
		memcpy(ports, c->ports, c->n_ports * sizeof(*ports));
	free(s->cfg.ports);
	s->cfg.ports = ports;
	ports = NULL;
	s->cfg.n_ports = c->n_ports;
	s->cfg.protocols = c->protocols;
	s->cfg.arp = c->arp;
	s->cfg.policy = c->policy;
	/* bytes of the hot line a worker reads without ordering: a frame
	 * decided meanwhile hashes by the old policy or the new */
	__atomic_store_n(&s->hot.policy, (uint8_t)c->policy, __ATOMIC_RELAXED);
	__atomic_store_n(&s->hot.hash_port, cnm_policy_get(c->policy)->hash_port,
			 __ATOMIC_RELAXED);
	svc_sets(lb, s, 1);
	/* release: workers drop their lookup caches (keys gone, policy changed) */
	__atomic_store_n(&lb->v.keys_gen, lb->v.keys_gen + 1, __ATOMIC_RELEASE);
	(void)added;
out:
	free(old);
	free(nw);
	free(ports);
	return ret;
}

int
cnm_lb_svc_add(struct cnm_lb *lb, const struct cnm_cfg_service *c)
{
	struct cnm_config fake;
	struct cnm_svc_priv *s;
	uint32_t i, id;
	int ret;

	if (cnm_lb_svc_find(lb, c->name) >= 0 || svc_keys_taken(lb, c))
		return -EEXIST;
	for (i = 0; i < c->n_members; i++)
		if (c->members[i].node >= CNM_MAX_NODES || !lb->v.node[c->members[i].node].used)
			return -EINVAL;
	for (id = 0; id < CNM_MAX_SERVICES && lb->v.svc[id] != NULL; id++)
		;
	if (id == CNM_MAX_SERVICES)
		return -ENOSPC;
	/* no worker counts in this slot now (its earlier service, if any,
	 * is gone after a grace period): what it holds is the base */
	if (lb->wstats != NULL)
		lb->svc_base[id] = cnm_stats_svc(lb->wstats, lb->n_wstats, id);
	memset(&lb->svc_fold[id], 0, sizeof(lb->svc_fold[id]));
	if (lb->zero != NULL) /* from 0 in the operator's view too */
		memset(&lb->zero->svc[id], 0, sizeof(lb->zero->svc[id]));
	memset(&fake, 0, sizeof(fake));
	fake.hash_key = lb->v.hash_key;
	fake.pdt_size = c->pdt_size ? c->pdt_size : CNM_PDT_SIZE_DEFAULT;
	/* the service is complete (PDT built) before its keys make it visible */
	s = svc_create(lb, &fake, c, (uint16_t)id);
	if (s == NULL)
		return -ENOMEM;
	if (id >= lb->n_svc)
		lb->n_svc = id + 1;
	ret = svc_add_keys(lb, s);
	if (ret < 0) {
		svc_del_keys(lb, s);
		lb->v.svc[id] = NULL;
		grace_period(lb);
		svc_free(s);
		return ret;
	}
	svc_sets(lb, s, 1);
	/* release: a worker that sees the new generation sees the new keys */
	__atomic_store_n(&lb->v.keys_gen, lb->v.keys_gen + 1, __ATOMIC_RELEASE);
	return (int)id;
}

int
cnm_lb_svc_del(struct cnm_lb *lb, uint16_t id)
{
	struct cnm_svc_priv *s;

	if (id >= CNM_MAX_SERVICES || lb->v.svc[id] == NULL)
		return -ENOENT;
	s = svc_at(lb, id);
	svc_del_keys(lb, s);
	svc_sets(lb, s, -1);
	lb->v.svc[id] = NULL;
	/* release: workers drop cached pointers to s before the grace period
	 * below ends (they read keys_gen at the start of every burst) */
	__atomic_store_n(&lb->v.keys_gen, lb->v.keys_gen + 1, __ATOMIC_RELEASE);
	/* release: what changed is visible to a worker that sees the new gen */
	__atomic_store_n(&lb->gen, lb->gen + 1, __ATOMIC_RELEASE);
	/* a worker may still hold s from a lookup of the current burst */
	grace_period(lb);
	svc_slots_drop(lb, s, -1);
	svc_free(s);
	while (lb->n_svc > 0 && lb->v.svc[lb->n_svc - 1] == NULL)
		lb->n_svc--;
	return 0;
}

/* Rebuild every group that lists @p node. */
static int
rebuild_groups_of(struct cnm_lb *lb, uint16_t node)
{
	uint32_t i, j;
	int ret, rc = 0;

	for (i = 0; i < lb->n_svc; i++) {
		const struct cnm_svc_priv *s = svc_at(lb, i);

		if (s == NULL)
			continue;
		for (j = 0; j < s->n_members; j++) {
			if (s->members[j].node != node)
				continue;
			ret = cnm_lb_svc_rebuild(lb, (uint16_t)i);
			if (ret < 0)
				rc = ret;
			break;
		}
	}
	return rc;
}

int
cnm_lb_node_add(struct cnm_lb *lb, const struct cnm_cfg_node *n)
{
	uint32_t id = 0, i;

	if (cnm_lb_node_find(lb, n->name) >= 0)
		return -EEXIST;
	/* Slots are taken round-robin from where the last search stopped, so a
	 * freed slot is reused as late as possible. */
	for (i = 0; i < CNM_MAX_NODES; i++) {
		id = (lb->next_node_slot + i) % CNM_MAX_NODES;
		if (!lb->v.node[id].used)
			break;
	}
	if (i == CNM_MAX_NODES)
		return -ENOSPC;
	lb->next_node_slot = (id + 1) % CNM_MAX_NODES;
	/* its sink starts at 0, and so do its totals */
	if (lb->wstats != NULL)
		lb->member_base[CNM_MEMBER_SINK(id)] = cnm_stats_member_slot(lb->wstats,
			lb->n_wstats, CNM_MEMBER_SINK(id));
	memset(&lb->node_fold[id], 0, sizeof(lb->node_fold[id]));
	if (lb->zero != NULL) { /* from 0 in the operator's view too */
		memset(&lb->zero->node[id], 0, sizeof(lb->zero->node[id]));
		memset(&lb->zero->member[CNM_MEMBER_SINK(id)], 0,
			sizeof(lb->zero->member[CNM_MEMBER_SINK(id)]));
	}
	lb->admin_down[id] = 0;
	lb->node_cfg[id] = *n;
	node_tunnel(lb, id, n);
	lb->v.node[id].port = (uint16_t)(id % lb->n_private);
	cnm_lb_paths_update(lb, lb->paths_up);
	__atomic_store_n(&lb->v.node[id].mac, 0, __ATOMIC_RELAXED);
	if (n->has_mac)
		memcpy(&lb->v.node[id].mac, n->mac, 6);
	lb->v.node[id].up = n->has_mac;
	lb->v.node[id].gen++;
	lb->v.node[id].used = 1;
	if (id >= lb->n_nodes)
		lb->n_nodes = id + 1;
	return (int)id;
}

int
cnm_lb_node_del(struct cnm_lb *lb, uint16_t id)
{
	uint32_t i;
	int ret;

	if (id >= CNM_MAX_NODES || !lb->v.node[id].used)
		return -ENOENT;
	if ((int32_t)id == lb->v.default_node)
		return -EBUSY;
	for (i = 0; i < lb->n_svc; i++)
		if (lb->v.svc[i] != NULL && cnm_lb_member_weight(lb, (uint16_t)i, id) >= 0) {
			ret = cnm_lb_member_del(lb, (uint16_t)i, id);
			if (ret < 0)
				return ret;
		}
	lb->v.node[id].up = 0;
	lb->v.node[id].gen++;
	lb->v.node[id].used = 0;
	/* a second chance may not send to whatever takes the id next */
	sc_forget_node(lb, id);
	/* its pairs' slots: a worker that still sends it a frame counts in
	 * its sink, then they are freed */
	for (i = 0; i < lb->n_svc; i++)
		if (lb->v.svc[i] != NULL)
			svc_slots_drop(lb, svc_at(lb, i), id);
	/* no PDT holds it any more; wait before the slot can be reused */
	grace_period(lb);
	__atomic_store_n(&lb->v.node[id].mac, 0, __ATOMIC_RELAXED);
	return 0;
}

int
cnm_lb_node_set_up(struct cnm_lb *lb, uint16_t id, int up)
{
	if (id >= CNM_MAX_NODES || !lb->v.node[id].used)
		return -ENOENT;
	if (up && lb->v.node[id].mac == 0)
		return -EAGAIN;
	if (!!lb->v.node[id].up == !!up)
		return 0;
	lb->v.node[id].up = !!up;
	/* release: what changed is visible to a worker that sees the new gen */
	__atomic_store_n(&lb->gen, lb->gen + 1, __ATOMIC_RELEASE);
	if (!up) {
		/* its tracked connections are dropped from the forwarding lists:
		 * workers see the new generation and forget them */
		__atomic_store_n(&lb->v.node[id].gen, lb->v.node[id].gen + 1, __ATOMIC_RELAXED);
	}
	return rebuild_groups_of(lb, id);
}

int
cnm_lb_node_set_mac(struct cnm_lb *lb, uint16_t id, const uint8_t mac[6])
{
	uint64_t v = 0;

	if (id >= CNM_MAX_NODES || !lb->v.node[id].used)
		return -ENOENT;
	if (mac != NULL)
		memcpy(&v, mac, 6);
	/* one 64-bit word: workers read it whole */
	__atomic_store_n(&lb->v.node[id].mac, v, __ATOMIC_RELAXED);
	if (mac != NULL) {
		memcpy(lb->node_cfg[id].mac, mac, 6);
		lb->node_cfg[id].has_mac = true;
	} else {
		/* unresolved again: node_cfg says so too */
		memset(lb->node_cfg[id].mac, 0, 6);
		lb->node_cfg[id].has_mac = false;
	}
	return 0;
}

int64_t
cnm_lb_member_weight(const struct cnm_lb *lb, uint16_t svc, uint16_t node)
{
	const struct cnm_svc_priv *s;
	uint32_t i;

	if (svc >= CNM_MAX_SERVICES || (s = svc_at(lb, svc)) == NULL)
		return -ENOENT;
	for (i = 0; i < s->n_members; i++)
		if (s->members[i].node == node)
			return s->members[i].weight;
	return -ENOENT;
}

int
cnm_lb_member_set(struct cnm_lb *lb, uint16_t svc, uint16_t node, uint32_t weight)
{
	struct cnm_cfg_member *m, *old;
	struct cnm_svc_priv *s;
	uint32_t i, n;
	int ret;

	if (svc >= CNM_MAX_SERVICES || (s = svc_at(lb, svc)) == NULL)
		return -ENOENT;
	if (node >= CNM_MAX_NODES || !lb->v.node[node].used)
		return -ENOENT;
	for (i = 0; i < s->n_members; i++) {
		if (s->members[i].node != node)
			continue;
		uint32_t was = s->members[i].weight;

		if (was == weight)
			return 0;
		s->members[i].weight = weight;
		ret = cnm_lb_svc_rebuild(lb, svc);
		if (ret < 0)
			s->members[i].weight = was;
		return ret;
	}
	/* members are control-side only: no worker reads them */
	n = s->n_members;
	m = calloc(n + 2, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	memcpy(m, s->members, n * sizeof(*m));
	m[n].node = node;
	m[n].weight = weight;
	old = s->members;
	s->members = m;
	s->cfg.members = m;
	s->n_members = n + 1;
	s->cfg.n_members = n + 1;
	ret = cnm_lb_svc_rebuild(lb, svc);
	if (ret < 0) {
		s->members = old;
		s->cfg.members = old;
		s->n_members = n;
		s->cfg.n_members = n;
		free(m);
		return ret;
	}
	free(old);
	return 0;
}

int
cnm_lb_member_del(struct cnm_lb *lb, uint16_t svc, uint16_t node)
{
	struct cnm_svc_priv *s;
	struct cnm_cfg_member keep;
	uint32_t i;
	int ret;

	if (svc >= CNM_MAX_SERVICES || (s = svc_at(lb, svc)) == NULL)
		return -ENOENT;
	for (i = 0; i < s->n_members; i++)
		if (s->members[i].node == node)
			break;
	if (i == s->n_members)
		return -ENOENT;
	keep = s->members[i];
	memmove(&s->members[i], &s->members[i + 1],
		(s->n_members - i - 1) * sizeof(*s->members));
	s->n_members--;
	s->cfg.n_members = s->n_members;
	ret = cnm_lb_svc_rebuild(lb, svc);
	if (ret < 0) {
		memmove(&s->members[i + 1], &s->members[i],
			(s->n_members - i) * sizeof(*s->members));
		s->members[i] = keep;
		s->n_members++;
		s->cfg.n_members = s->n_members;
	}
	return ret;
}

int
cnm_lb_svc_set_members(struct cnm_lb *lb, uint16_t svc, const struct cnm_cfg_member *m,
		uint32_t n)
{
	struct cnm_cfg_member *nm, *old;
	struct cnm_svc_priv *s;
	uint32_t i, j, old_n;
	int ret;

	if (svc >= CNM_MAX_SERVICES || (s = svc_at(lb, svc)) == NULL)
		return -ENOENT;
	for (i = 0; i < n; i++) {
		if (m[i].node >= CNM_MAX_NODES || !lb->v.node[m[i].node].used)
			return -ENOENT;
		for (j = 0; j < i; j++)
			if (m[j].node == m[i].node)
				return -EINVAL;
	}
	/* members are control-side only: no worker reads them */
	nm = calloc(n + 1, sizeof(*nm));
	if (nm == NULL)
		return -ENOMEM;
	if (n > 0)
		memcpy(nm, m, n * sizeof(*nm));
	old = s->members;
	old_n = s->n_members;
	s->members = nm;
	s->cfg.members = nm;
	s->n_members = n;
	s->cfg.n_members = n;
	ret = cnm_lb_svc_rebuild(lb, svc);
	if (ret < 0) {
		s->members = old;
		s->cfg.members = old;
		s->n_members = old_n;
		s->cfg.n_members = old_n;
		free(nm);
		return ret;
	}
	free(old);
	return 0;
}

static uint16_t
path_of(const struct cnm_lb *lb, uint32_t id, uint32_t up)
{
	uint32_t k, p;

	for (k = 0; k < lb->n_private; k++) {
		p = (id + k) % lb->n_private;
		if (up & (1u << p))
			return (uint16_t)p;
	}
	return CNM_PORT_NONE;
}

void
cnm_lb_paths_update(struct cnm_lb *lb, uint32_t up_mask)
{
	uint8_t tbl[CNM_PATH_SLOTS];
	uint32_t id, n, s;

	lb->paths_up = up_mask;
	for (id = 0; id < lb->n_nodes; id++) {
		if (!lb->v.node[id].used)
			continue;
		/* one 16-bit word; a worker reads either port, both are valid */
		__atomic_store_n(&lb->v.node[id].port, path_of(lb, id, up_mask), __ATOMIC_RELAXED);
	}
	/* the table first, byte by byte (one byte is read whole; a worker
	 * reading mid-change sends a flow on its old or its new path), then
	 * the limit: release, so that a worker that reads 0 there (and
	 * fences, spread_path()) reads a table built for spreading */
	n = cnm_path_table(up_mask, lb->n_private, tbl);
	if (n < 2 || !lb->paths_spread)
		n = 0;
	for (s = 0; n != 0 && s < CNM_PATH_SLOTS; s++)
		__atomic_store_n(&lb->v.path_tbl[s], tbl[s], __ATOMIC_RELAXED);
	__atomic_store_n(&lb->v.paths, (uint16_t)n, __ATOMIC_RELAXED);
	__atomic_store_n(&lb->v.port_lim, (uint16_t)(n != 0 ? 0 : lb->n_private),
		__ATOMIC_RELEASE);
}

void
cnm_lb_paths_spread(struct cnm_lb *lb, int on)
{
	lb->paths_spread = on != 0;
	cnm_lb_paths_update(lb, lb->paths_up);
}

/* ---- what the control side reads and sets ---- */

uint32_t
cnm_lb_svc_end(const struct cnm_lb *lb)
{
	return lb->n_svc;
}

uint32_t
cnm_lb_node_end(const struct cnm_lb *lb)
{
	return lb->n_nodes;
}

const struct cnm_cfg_service *
cnm_lb_svc_cfg(const struct cnm_lb *lb, uint32_t id)
{
	const struct cnm_svc_priv *s = id < CNM_MAX_SERVICES ? svc_at(lb, id) : NULL;

	return s != NULL ? &s->cfg : NULL;
}

const struct cnm_pdt *
cnm_lb_svc_pdt(const struct cnm_lb *lb, uint32_t id)
{
	const struct cnm_svc_priv *s = id < CNM_MAX_SERVICES ? svc_at(lb, id) : NULL;

	/* the control lcore is the one writer of the pointer: a plain load */
	return s != NULL ? s->hot.pdt : NULL;
}

uint32_t
cnm_lb_svc_pdt_size(const struct cnm_lb *lb, uint32_t id)
{
	const struct cnm_svc_priv *s = id < CNM_MAX_SERVICES ? svc_at(lb, id) : NULL;

	return s != NULL ? s->pdt_size : 0;
}

int
cnm_lb_svc_set_pdt_size(struct cnm_lb *lb, uint16_t id, uint32_t size)
{
	struct cnm_svc_priv *s;
	uint32_t was;
	int ret;

	if (id >= CNM_MAX_SERVICES || (s = svc_at(lb, id)) == NULL)
		return -ENOENT;
	was = s->pdt_size;
	/* pdt_size is control-side only: workers see the new table through
	 * the published pointer */
	s->pdt_size = size;
	s->cfg.pdt_size = size;
	ret = cnm_lb_svc_rebuild(lb, id);
	if (ret < 0) {
		s->pdt_size = was;
		s->cfg.pdt_size = was;
	}
	return ret;
}

int
cnm_lb_svc_set_udp_timeout(struct cnm_lb *lb, uint16_t id, uint32_t timeout_s)
{
	struct cnm_svc_priv *s;

	if (id >= CNM_MAX_SERVICES || (s = svc_at(lb, id)) == NULL)
		return -ENOENT;
	if (timeout_s > 604800u)
		return -EINVAL;
	s->cfg.udp_timeout_s = timeout_s;
	/* Relaxed: two independent words a worker reads per frame. Between
	 * the stores a worker may see the list on with the old timeout (or
	 * off with the new): one frame's entry gets the other timeout, and the
	 * next frame's refresh fixes it. The timeout goes first so that a
	 * list turned on never meets a timeout of 0. */
	__atomic_store_n(&s->hot.udp_timeout_ms, timeout_s * 1000, __ATOMIC_RELAXED);
	__atomic_store_n(&s->hot.list_proto, (uint8_t)(timeout_s != 0 ? IPPROTO_UDP : 0),
			__ATOMIC_RELAXED);
	/* release: the workers empty their lookup caches, whose entries say
	 * whether a key's frames wait for the list (CNM_SVC_CACHE_WAIT) */
	__atomic_store_n(&lb->v.keys_gen, lb->v.keys_gen + 1, __ATOMIC_RELEASE);
	return 0;
}

const struct cnm_cfg_node *
cnm_lb_node_cfg(const struct cnm_lb *lb, uint32_t id)
{
	return id < CNM_MAX_NODES && lb->v.node[id].used ? &lb->node_cfg[id] : NULL;
}

const struct cnm_node *
cnm_lb_node(const struct cnm_lb *lb, uint32_t id)
{
	return id < CNM_MAX_NODES ? &lb->v.node[id] : NULL;
}

int
cnm_lb_node_set_check_port(struct cnm_lb *lb, uint16_t id, uint16_t port)
{
	if (id >= CNM_MAX_NODES || !lb->v.node[id].used)
		return -ENOENT;
	/* node_cfg is control-side only: health checks read it there */
	lb->node_cfg[id].check_port = port;
	return 0;
}

int
cnm_lb_node_set_check(struct cnm_lb *lb, uint16_t id, uint16_t port,
		const struct cnm_cfg_check *check)
{
	if (id >= CNM_MAX_NODES || !lb->v.node[id].used)
		return -ENOENT;
	/* control-side only, as check_port */
	lb->node_cfg[id].check_port = port;
	lb->node_cfg[id].check = *check;
	return 0;
}

int
cnm_lb_node_admin_down(const struct cnm_lb *lb, uint32_t id)
{
	return id < CNM_MAX_NODES && lb->admin_down[id];
}

int
cnm_lb_node_set_admin_down(struct cnm_lb *lb, uint16_t id, int down)
{
	if (id >= CNM_MAX_NODES || !lb->v.node[id].used)
		return -ENOENT;
	lb->admin_down[id] = !!down;
	return 0;
}

int32_t
cnm_lb_default_node(const struct cnm_lb *lb)
{
	return lb->v.default_node;
}

int
cnm_lb_set_default_node(struct cnm_lb *lb, int32_t id)
{
	if (id >= CNM_MAX_NODES || (id >= 0 && !lb->v.node[id].used))
		return -ENOENT;
	if (id < 0)
		id = -1;
	/* workers read it with a plain load of an aligned word: relaxed */
	__atomic_store_n(&lb->v.default_node, id, __ATOMIC_RELAXED);
	return 0;
}

uint64_t
cnm_lb_gen(const struct cnm_lb *lb)
{
	/* acquire: workers read it too (the displaced-connection walk) */
	return __atomic_load_n(&lb->gen, __ATOMIC_ACQUIRE);
}

uint32_t
cnm_lb_paths_up(const struct cnm_lb *lb)
{
	return lb->paths_up;
}

int
cnm_lb_has_local(const struct cnm_lb *lb)
{
	return lb->v.has_local;
}

/*
 * The data path's switches: plain bytes a worker reads once per burst; a
 * relaxed store is enough (no other data hangs on them, and a burst that
 * still sees the old value is as if it came a moment earlier).
 */
void
cnm_lb_set_switches(struct cnm_lb *lb, uint8_t icmp_echo_reply, uint8_t verify_checksum)
{
	if (lb->v.icmp_echo_reply != icmp_echo_reply)
		__atomic_store_n(&lb->v.icmp_echo_reply, icmp_echo_reply, __ATOMIC_RELAXED);
	if (lb->v.verify_checksum != verify_checksum)
		__atomic_store_n(&lb->v.verify_checksum, verify_checksum, __ATOMIC_RELAXED);
}

void
cnm_lb_set_pub_mac(struct cnm_lb *lb, const uint8_t mac[6])
{
	/* before the workers run: nothing reads it yet */
	memcpy(lb->v.fwd.pub_mac, mac, 6);
}
