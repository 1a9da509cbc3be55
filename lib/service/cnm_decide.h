/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The decision: which node gets each frame of a burst (patent FIG. 6 and 7),
 * as one function of plain data. No mbuf and no EAL in it: the worker, the
 * fixture table, the fuzzers and `explain` call exactly this.
 *
 * In: the frames, parsed (struct cnm_pkt: the fast shape or a struct
 * cnm_flow); the tables, as the workers see them (struct cnm_lb_view,
 * read-only); the worker's decision state (service lookup cache, fragment
 * cache, forwarding list, clock).
 * Out: one struct cnm_decision per frame: forward to node N (by the node's
 * method), to the default node, local, reply (ARP, echo), or drop with a
 * reason.
 *
 * The steps, in order, for a burst:
 *   1. the service of each frame: the lookup cache, then both rte_hash
 *      tables in bulk for what it missed (FIG. 7);
 *   2. per frame: ARP and echo requests for a VIP are answered; a frame
 *      without a service goes local, to the default node, or is dropped;
 *      a frame of a service is placed by its policy's client hash over the
 *      PDT (FIG. 6 605-607), except a frame of the fast shape that goes
 *      through the forwarding list: the PDT places it in step 3, and only
 *      when the list does not;
 *   3. the TCP frames of scalable services, and the UDP frames of services
 *      with the UDP flow list on ("udp_timeout_s"), in one bulk lookup of
 *      the forwarding list: a recorded connection or flow keeps its node; a
 *      pure SYN, or a UDP flow's first datagram, is recorded (FIG. 6
 *      608-611); a non-SYN TCP frame the list misses, within a service's
 *      second chance window, goes to its entry's previous owner and is
 *      recorded there (docs/pdt.md, "Second chance");
 *   4. fragments, in arrival order: a first fragment records its final
 *      decision (after step 3, so the fragments of a tracked connection
 *      follow the connection, not the PDT), a later one follows it.
 *
 * cnm_decide_fast4() is the same decision specialised for the common case
 * (an untagged IPv4 TCP/UDP frame whose service is cached, and which the
 * forwarding list does not concern or, while its table fits in a core's
 * cache, holds: step 3's hit, one lookup); the worker calls it frame by
 * frame, and from the first frame it does not decide the rest of the
 * burst goes through cnm_decide_burst()'s stages.
 */
#ifndef CNM_DECIDE_H
#define CNM_DECIDE_H

#include <netinet/in.h>
#include <stdint.h>

#include "cnm_conntrack.h"
#include "cnm_crc.h"
#include "cnm_parse.h"
#include "cnm_service.h"
#include "cnm_stats.h"

/** At most this many frames per call. */
#define CNM_DECIDE_MAX 32

/** What to do with a frame. */
enum cnm_verdict {
	CNM_V_FORWARD = 0, /**< to a node of a scalable service, by the node's method */
	CNM_V_DEFAULT,     /**< non-scalable, to the default node */
	CNM_V_LOCAL,       /**< non-scalable or ARP, unchanged to the local port */
	CNM_V_DROP,        /**< dropped; see the reason */
	CNM_V_REPLY,       /**< answered on the public port; see reply */
};

/** What a CNM_V_REPLY answers. */
enum cnm_reply {
	CNM_REPLY_NONE = 0,
	CNM_REPLY_ARP,     /**< an ARP request for a VIP */
	CNM_REPLY_ECHO,    /**< an ICMP / ICMPv6 echo request to a VIP */
	CNM_REPLY_NA,      /**< a neighbour solicitation for a VIP: an advertisement */
};

/** How the node of a forwarded frame was found. */
enum cnm_via {
	CNM_VIA_NONE = 0,
	CNM_VIA_PDT,       /**< the service's PDT, by the client hash */
	CNM_VIA_CONN,      /**< the forwarding list: a tracked connection */
	CNM_VIA_FRAG,      /**< the decision of the datagram's first fragment */
	CNM_VIA_UDP,       /**< the UDP flow list: a recorded UDP flow */
	CNM_VIA_SERVER_ID, /**< QUIC: the server ID in the destination connection ID */
	CNM_VIA_SC,        /**< second chance: the entry's previous owner (docs/pdt.md) */
};

/** A decision. */
struct cnm_decision {
	uint8_t verdict;   /**< enum cnm_verdict */
	uint8_t reason;    /**< enum cnm_drop when verdict == CNM_V_DROP */
	uint16_t node;     /**< CNM_V_FORWARD, CNM_V_DEFAULT */
	int32_t svc;       /**< service id, -1 when non-scalable */
	uint8_t method;    /**< CNM_V_FORWARD, CNM_V_DEFAULT: enum cnm_fwd_method */
	uint8_t reply;     /**< CNM_V_REPLY: enum cnm_reply */
	uint8_t via;       /**< enum cnm_via */
	uint8_t pad;
	uint16_t slot;     /**< CNM_V_FORWARD, CNM_V_DEFAULT: the counter slot the frame
			        counts in (lib/stats): its (service, node) pair's, or
			        the node's sink */
};

/*
 * Service lookup cache: a direct-mapped cache in front of the two rte_hash
 * tables, keyed by the whole service key, holding the result of both lookups
 * (NULL for non-scalable too). Emptied whenever the tables' key generation
 * changes. Pointers in it are protected by the same RCU as the tables.
 */
#define CNM_SVC_CACHE_SLOTS 16384

struct cnm_svc_cache_ent {
	struct cnm_svc_key key;  /**< family 0: empty; padding: CNM_SVC_CACHE_WAIT */
	struct cnm_svc *svc;
};

/*
 * In the third 8-byte word of a cached key (its padding, 0 in every key
 * looked up): the key's frames go through the forwarding list although the
 * fast path would take them (UDP to a service with the UDP flow list on).
 * cnm_svc_cache_fast4()'s exact compare misses such an entry, so the frame
 * waits for cnm_decide_burst() at no cost to the fast path of the services
 * without the list; the burst's lookup (svc_lookup()) masks the bit and
 * hits. Set when the entry is filled; a change of the list empties the
 * caches (keys_gen).
 */
#define CNM_SVC_CACHE_WAIT (UINT64_C(1) << 32)

/*
 * Fragment cache: the first fragment of a datagram leaves its decision here
 * so that the later ones (which carry no ports) follow it. Direct-mapped: a
 * collision replaces the older datagram.
 */
#define CNM_FRAG_SLOTS 4096
#define CNM_FRAG_TTL_MS 2000

struct cnm_frag_ent {
	uint8_t src[16];
	uint8_t dst[16];
	uint32_t id;
	uint32_t expire;   /**< decision clock, ms */
	uint16_t node;
	uint16_t svc;
	uint8_t proto;
	uint8_t family;    /**< 0: empty */
	uint8_t verdict;   /**< of the first fragment: forward, default node or local */
	uint8_t pad;
	uint16_t slot;     /**< the (service, node) counter slot of the first fragment */
	uint16_t pad2;
};

/**
 * The state a decision reads and updates: one per worker, written by it
 * alone. The caches' sizes are powers of two (1 is allowed: a one-off
 * decision, as cnm_decide() makes).
 */
struct cnm_dstate {
	struct cnm_svc_cache_ent *cache;  /**< cache_mask + 1 entries */
	uint32_t cache_mask;
	uint32_t frag_mask;
	uint64_t cache_gen;               /**< the tables' keys_gen the cache belongs to */
	struct cnm_frag_ent *frag;        /**< frag_mask + 1 entries */
	struct cnm_ct *ct;                /**< the forwarding list (TCP connections and
					       UDP flows), NULL: none */
	struct cnm_wstats *st;            /**< where the decision counts (conn_*, udp_*,
					       frag_*, and a recorded connection or UDP
					       flow in member[slot]: its arrays allocated,
					       cnm_wstats_init()) */
	uint32_t now_ms;                  /**< the clock of the list and the fragment cache */
	uint16_t lane;                    /**< QUIC-LB cipher lane: the worker's index,
					       CNM_QUIC_LANE_CTL on the control thread */
};

/** One frame, by its index in the burst, that went through the forwarding list. */
#define CNM_DECIDE_CONN 0x1

static inline struct cnm_svc_cache_ent *
cnm_svc_cache_slot(const struct cnm_dstate *st, uint64_t a, uint64_t b, uint64_t c)
{
	uint32_t h = cnm_crc_u64(a, 0);

	h = cnm_crc_u64(b, h);
	h = cnm_crc_u64(c, h);
	return &st->cache[h & st->cache_mask];
}

/** Empty the lookup cache when the tables' keys changed. Once per burst. */
static __rte_always_inline void
cnm_dstate_sync(struct cnm_dstate *st, const struct cnm_lb_view *lb)
{
	/* acquire: pairs with the control lcore's release of a new generation */
	uint64_t gen = __atomic_load_n(&lb->keys_gen, __ATOMIC_ACQUIRE);

	if (unlikely(gen != st->cache_gen)) {
		memset(st->cache, 0, (st->cache_mask + 1) * sizeof(*st->cache));
		st->cache_gen = gen;
	}
}

/** The verdict of a frame that belongs to no scalable service (FIG. 6 604). */
static __rte_always_inline void
cnm_decide_nosvc(const struct cnm_lb_view *lb, struct cnm_decision *d)
{
	d->svc = -1;
	d->reason = CNM_DROP_NONE;
	d->via = CNM_VIA_NONE;
	if (lb->has_local) {
		d->verdict = CNM_V_LOCAL;
	} else if (lb->default_node >= 0) {
		d->verdict = CNM_V_DEFAULT;
		d->node = (uint16_t)lb->default_node;
		d->method = lb->node[d->node].method;
		d->slot = CNM_MEMBER_SINK(d->node);
	} else {
		d->verdict = CNM_V_DROP;
		d->reason = CNM_DROP_NO_SERVICE;
	}
}

/*
 * cnm_decide_pdt() without the node's method: for a frame the forwarding list
 * decides next, which sets the method of the node it ends with (conn_track()).
 */
static __rte_always_inline uint16_t
cnm_decide_pdt_node(const struct cnm_svc *s, uint32_t h, struct cnm_decision *d)
{
	/* Acquire pairs with the control lcore's release store of a new PDT:
	 * the entries are visible before the pointer is. */
	const struct cnm_pdt *pdt = __atomic_load_n(&s->pdt, __ATOMIC_ACQUIRE);
	uint16_t node = pdt->entries[h & pdt->mask];

	d->svc = s->id;
	d->via = CNM_VIA_PDT;
	d->reason = CNM_DROP_NONE;
	d->node = node;
	d->verdict = CNM_V_FORWARD;
	if (unlikely(node == CNM_NODE_NONE)) {
		d->verdict = CNM_V_DROP;
		d->reason = CNM_DROP_NO_ACTIVE_NODE;
	}
	return node;
}

/** Place a client of service @p s by its hash @p h over the PDT. */
static __rte_always_inline void
cnm_decide_pdt(const struct cnm_lb_view *lb, const struct cnm_svc *s, uint32_t h,
		struct cnm_decision *d)
{
	uint16_t node = cnm_decide_pdt_node(s, h, d);

	if (likely(node != CNM_NODE_NONE)) {
		d->method = lb->node[node].method;
		d->slot = cnm_svc_slot(s, node);
	}
}

/**
 * The lookup cache for a frame of the fast shape: 0 and the service (NULL:
 * non-scalable) in *@p s on a hit, -1 on a miss.
 */
static __rte_always_inline int
cnm_svc_cache_fast4_mask(const struct cnm_dstate *st, const struct cnm_fast4 *r,
		const struct cnm_svc **s, uint64_t mask)
{
	const struct cnm_svc_cache_ent *e;
	const uint64_t *q;
	uint64_t a, c;

	/* the three words of the service key (struct cnm_svc_key, little-endian) */
	a = r->dst;
	c = (uint64_t)r->dport | (uint64_t)r->proto << 16 | (uint64_t)AF_INET << 24;
	e = cnm_svc_cache_slot(st, a, 0, c);
	q = (const uint64_t *)&e->key;
	if (unlikely(q[0] != a || q[1] != 0 || (q[2] & mask) != c))
		return -1;
	*s = e->svc;
	return 0;
}

/* The fast path's: an entry with CNM_SVC_CACHE_WAIT is a miss. */
static __rte_always_inline int
cnm_svc_cache_fast4(const struct cnm_dstate *st, const struct cnm_fast4 *r,
		const struct cnm_svc **s)
{
	return cnm_svc_cache_fast4_mask(st, r, s, ~UINT64_C(0));
}

/** The client hash a decision computed (cnm_decide_fast4()). */
struct cnm_chash {
	uint32_t h;    /**< cnm_client_hash4() of the source, under the instance's hash_key */
	uint8_t port;  /**< the source port is in it (the service's hash_port) */
};

/** Results of cnm_decide_fast4(). */
enum {
	CNM_FAST_WAIT = 0,  /**< not decided here: cnm_decide_burst() decides it */
	CNM_FAST_DONE = 1,  /**< decided: d */
	CNM_FAST_CONN = 2,  /**< a TCP frame for the forwarding list: cnm_decide_conn4() */
};

/** What a forwarding-list entry says of a TCP frame (cnm_decide_conn()). */
enum {
	CNM_CONN_NONE = 0,  /**< nothing: it expired (not swept yet), or the frame is
				 a pure SYN on a closing entry: a new connection on
				 a reused client port, which the PDT of now places */
	CNM_CONN_HIT = 1,   /**< the entry's node: the decision is made */
	CNM_CONN_STALE = 2, /**< its node went down or was removed, or it is another
				 service's: the entry is to be removed */
};

/*
 * Step 3's hit (FIG. 6 609): entry @p c of the forwarding list holds the
 * connection of a TCP frame of service @p s with flags @p fl. On
 * CNM_CONN_HIT a recorded connection keeps its node: @p d is the decision,
 * counted as a hit. The one place this is decided: conn_track() for a
 * burst's batch, cnm_decide_conn4() frame by frame.
 */
static __rte_always_inline int
cnm_decide_conn(const struct cnm_lb_view *lb, const struct cnm_dstate *st,
		const struct cnm_svc *s, const struct cnm_conn *c, uint8_t fl,
		struct cnm_decision *d)
{
	const struct cnm_node *nd;

	/* as IPVS does with conn_reuse_mode: the SYN of a new connection on
	 * a closing entry (the old one ended with FIN or RST) replaces it */
	if (cnm_conn_expired(c, st->now_ms) ||
	    (c->state == CNM_CONN_CLOSING && (fl & (CNM_TCP_SYN | CNM_TCP_ACK)) == CNM_TCP_SYN))
		return CNM_CONN_NONE;
	nd = &lb->node[c->node];
	/* a node that went down or was removed loses its connections; a
	 * drained one (weight 0, still up) keeps them */
	if (unlikely(!nd->used || !nd->up || c->svc != s->id))
		return CNM_CONN_STALE;
	d->verdict = CNM_V_FORWARD;
	d->reason = CNM_DROP_NONE;
	d->svc = s->id;
	d->node = c->node;
	d->method = nd->method;
	d->slot = cnm_svc_slot(s, c->node);
	d->via = CNM_VIA_CONN;
	st->st->conn_hit++;
	return CNM_CONN_HIT;
}

/*
 * Step 3's hit frame by frame, for a TCP frame of the fast shape that
 * cnm_decide_fast4() left to the list (CNM_FAST_CONN), its key given by its
 * words (cnm_ct_key4_words()) and its TCP flags @p fl: one lookup of the
 * list (cnm_ct_get4()), and a hit that decides (cnm_decide_conn()) is
 * accounted (cnm_ct_touch4(): its check inline, a call only to write) as
 * conn_track() does: CNM_FAST_DONE, the decision in @p d. Anything else (a
 * miss, an entry that does not decide, a table too large for lookups one at
 * a time) is CNM_FAST_WAIT, nothing changed: the burst's bulk lookup
 * decides it.
 */
static __rte_always_inline int
cnm_decide_conn4(const struct cnm_lb_view *lb, const struct cnm_dstate *st,
		const struct cnm_svc *s, uint64_t addrs, uint32_t ports, uint8_t fl,
		struct cnm_decision *d)
{
	struct cnm_conn c;
	hash_sig_t sig;

	if (likely(cnm_ct_get4(st->ct, addrs, ports, &sig, &c) == CNM_CT_GET_HIT) &&
			likely(cnm_decide_conn(lb, st, s, &c, fl, d) == CNM_CONN_HIT)) {
		cnm_ct_touch4(st->ct, addrs, ports, sig, &c, fl, st->now_ms);
		return CNM_FAST_DONE;
	}
	return CNM_FAST_WAIT;
}

/**
 * The decision for a frame of the fast shape whose service key is in the
 * lookup cache and which the forwarding list does not concern; a TCP frame
 * of a service while the list is on is CNM_FAST_CONN, its service in
 * *@p svc, for cnm_decide_conn4(); anything else waits for
 * cnm_decide_burst() (a cache miss, UDP of a service with the UDP flow list
 * on, the VIP as source). Changes nothing: a frame may be decided again.
 *
 * When it placed the frame by the PDT (d->via == CNM_VIA_PDT), @p chash
 * holds the client hash it read the PDT with; otherwise it is not written.
 */
static __rte_always_inline int
cnm_decide_fast4(const struct cnm_lb_view *lb, const struct cnm_dstate *st, const struct cnm_fast4 *r,
		struct cnm_decision *d, struct cnm_chash *chash, const struct cnm_svc **svc)
{
	const struct cnm_svc *s;

	if (unlikely(cnm_svc_cache_fast4(st, r, &s) != 0))
		return CNM_FAST_WAIT;
	if (s == NULL) {
		cnm_decide_nosvc(lb, d);
		return CNM_FAST_DONE;
	}
	/* UDP of a service with the UDP flow list on never gets here: its cache
	 * entry carries CNM_SVC_CACHE_WAIT, so cnm_svc_cache_fast4() missed */
	if (unlikely(r->src == r->dst) || (r->proto == IPPROTO_TCP && st->ct != NULL)) {
		if (r->src == r->dst)
			return CNM_FAST_WAIT;
		*svc = s;
		return CNM_FAST_CONN;
	}
	chash->port = s->hash_port;
	chash->h = cnm_client_hash4(s->hash_key, r->src, r->sport, chash->port);
	cnm_decide_pdt(lb, s, chash->h, d);
	return CNM_FAST_DONE;
}

/*
 * cnm_decide_burst() in three stages, so that a caller which parses the fast
 * shape itself hands its fields over in registers (the worker): the same
 * decision, not a copy of it. cnm_decide_burst() is
 *
 *	cnm_decide_begin(); cnm_decide_add() per frame; cnm_decide_finish();
 *
 * and the worker runs exactly that, with cnm_decide_add_fast4() (what
 * cnm_decide_add() does for a frame of the fast shape) for the frames it
 * parsed into a struct cnm_fast4 of its own.
 */

/** cnm_ct_batch.flags of a UDP frame that must not create or refresh a flow
 * (an ICMP error about it): it may follow a recorded flow only. */
#define CNM_CT_UDP_NOREC 0x1

/** The frames of a burst that go through the forwarding list. */
struct cnm_ct_batch {
	unsigned int n;
	uint32_t udp;                  /**< bit j: entry j is a UDP flow (key.proto) */
	/**
	 * bit j: entry j is a frame of the fast shape (IPv4) that the PDT has
	 * not placed (the decision's svc is set, nothing else): the list
	 * decides first, and the PDT only a frame the list does not hold
	 * (conn_track()), so a hit pays no client hash and no PDT read
	 */
	uint32_t fast4;
	/**
	 * bit j: of fast4, a TCP segment: its key is addrs[j] and ports[j],
	 * key[j] is built only for the calls that need one (a miss), so a hit
	 * pays no 40-byte key. A UDP flow's entry has its key (its hit calls
	 * take one).
	 */
	uint32_t words;
	const struct cnm_svc *svc[CNM_DECIDE_MAX]; /**< the frame's service */
	uint8_t at[CNM_DECIDE_MAX];    /**< frame index in the burst */
	uint8_t flags[CNM_DECIDE_MAX]; /**< TCP flags; UDP (key.proto): CNM_CT_UDP_NOREC */
	uint64_t addrs[CNM_DECIDE_MAX]; /**< words: the key's words (cnm_ct_key4_words()) */
	uint32_t ports[CNM_DECIDE_MAX];
	struct cnm_conn_key key[CNM_DECIDE_MAX];
};

/** A burst being decided: what step 1 left for the later steps. */
struct cnm_dbatch {
	unsigned int nk;        /**< frames that need the service lookup (step 1) */
	uint32_t fast_miss;     /**< bit i: frame i, of the fast shape, missed the cache (r4[i]) */
	const struct cnm_svc_key *keys[CNM_DECIDE_MAX];
	uint8_t at[CNM_DECIDE_MAX];                /**< frame index of keys[j] */
	struct cnm_svc_key k4[CNM_DECIDE_MAX];     /**< keys of the fast shape's misses */
	struct cnm_fast4 r4[CNM_DECIDE_MAX];       /**< the fast shape's misses */
	const uint8_t *pay4[CNM_DECIDE_MAX];       /**< their UDP payloads */
	uint32_t plen4[CNM_DECIDE_MAX];
	struct cnm_ct_batch ct;
};

/** Start a burst. */
static __rte_always_inline void
cnm_decide_begin(const struct cnm_lb_view *lb, struct cnm_dstate *st, struct cnm_dbatch *b)
{
	b->nk = 0;
	b->fast_miss = 0;
	b->ct.n = 0;
	b->ct.udp = 0;
	b->ct.fast4 = 0;
	b->ct.words = 0;
	cnm_dstate_sync(st, lb);
}

/** The decision of a frame that does not parse: its parse reason. */
static __rte_always_inline void
cnm_decide_drop(uint8_t reason, struct cnm_decision *d)
{
	d->verdict = CNM_V_DROP;
	d->reason = reason;
	d->svc = -1;
	d->via = CNM_VIA_NONE;
}

/**
 * QUIC (docs/quic.md): a UDP payload @p pay of @p plen bytes to service
 * @p s, which has a QUIC-LB context: 1 when its destination connection ID
 * names a node of the service that is up (@p d: forward there, via
 * server_id), else 0 (the 4-tuple decides: UDP flow list, PDT), counted by
 * reason either way.
 */
int cnm_decide_quic(const struct cnm_lb_view *lb, const struct cnm_dstate *st,
		const struct cnm_svc *s, const uint8_t *pay, uint32_t plen,
		struct cnm_decision *d);

/*
 * Step 2 for a frame of the fast shape whose service @p s is known (NULL:
 * non-scalable); a TCP frame of a service, or a UDP frame of a service with
 * the UDP flow list on, joins the forwarding list's batch; a UDP frame of a
 * QUIC service may be routed by its connection ID (@p pay, @p plen: the UDP
 * payload) first.
 */
static __rte_always_inline void
cnm_decide_fast4_svc(const struct cnm_lb_view *lb, const struct cnm_dstate *st,
		const struct cnm_fast4 *r, const struct cnm_svc *s, unsigned int i,
		struct cnm_decision *di, struct cnm_ct_batch *ctb, const uint8_t *pay,
		uint32_t plen)
{
	if (s == NULL) {
		cnm_decide_nosvc(lb, di);
		return;
	}
	if (unlikely(r->src == r->dst)) {
		/* from the VIP to itself: spoofed */
		cnm_decide_drop(CNM_DROP_MARTIAN_SRC, di);
		return;
	}
	if (r->proto == IPPROTO_TCP && st->ct != NULL) {
		/* the list has the last word, and sets the method; the PDT
		 * places the frame only if the list does not (cnm_ct_batch.fast4) */
		di->svc = s->id;
		cnm_ct_key4_words(r->src, r->dst, r->sport, r->dport, &ctb->addrs[ctb->n],
				&ctb->ports[ctb->n]);
		ctb->svc[ctb->n] = s;
		ctb->flags[ctb->n] = r->tcp_flags;
		ctb->fast4 |= 1u << ctb->n;
		ctb->words |= 1u << ctb->n;
		ctb->at[ctb->n++] = (uint8_t)i;
		return;
	}
	/* acquire: pairs with the release that publishes a context */
	if (unlikely(r->proto == IPPROTO_UDP) &&
			unlikely(__atomic_load_n(&s->quic, __ATOMIC_ACQUIRE) != NULL) &&
			cnm_decide_quic(lb, st, s, pay,
				RTE_MIN(plen, (uint32_t)r->tot - 28u), di))
		return;
	if (unlikely(r->proto == __atomic_load_n(&s->list_proto, __ATOMIC_RELAXED)) &&
			st->ct != NULL) {
		/* UDP, the UDP flow list on: as TCP */
		di->svc = s->id;
		cnm_conn_key_v4(r->src, r->dst, r->sport, r->dport, IPPROTO_UDP,
				&ctb->key[ctb->n]);
		ctb->svc[ctb->n] = s;
		ctb->flags[ctb->n] = 0;
		ctb->udp |= 1u << ctb->n;
		ctb->fast4 |= 1u << ctb->n;
		ctb->at[ctb->n++] = (uint8_t)i;
		return;
	}
	cnm_decide_pdt(lb, s, cnm_client_hash4(s->hash_key, r->src, r->sport, s->hash_port), di);
}

/* A frame of the fast shape the cache missed: kept for the bulk lookup. Its
 * fields come as scalars: a caller's struct cnm_fast4 stays in registers. */
void cnm_decide_miss4(struct cnm_dbatch *b, unsigned int i, uint32_t src, uint32_t dst,
		uint16_t sport, uint16_t dport, uint8_t proto, uint8_t tcp_flags,
		const uint8_t *pay, uint32_t plen);

/**
 * Step 1 (and step 2 on a cache hit) for frame @p i of the burst, of the fast
 * shape @p r; @p d is the frame's decision (final after cnm_decide_finish()).
 * @p pay, @p plen: the UDP payload (what of it is at hand, or more: it is
 * cut at the IP packet's end; it must stay where it is until
 * cnm_decide_finish()), for QUIC.
 */
static __rte_always_inline void
cnm_decide_add_fast4(const struct cnm_lb_view *lb, const struct cnm_dstate *st, struct cnm_dbatch *b,
		const struct cnm_fast4 *r, unsigned int i, struct cnm_decision *d,
		const uint8_t *pay, uint32_t plen)
{
	const struct cnm_svc *s;

	/* the burst's: an entry with CNM_SVC_CACHE_WAIT is a hit */
	if (likely(cnm_svc_cache_fast4_mask(st, r, &s, ~CNM_SVC_CACHE_WAIT) == 0)) {
		cnm_decide_fast4_svc(lb, st, r, s, i, d, &b->ct, pay, plen);
		return;
	}
	cnm_decide_miss4(b, i, r->src, r->dst, r->sport, r->dport, r->proto, r->tcp_flags,
			pay, plen);
}

void cnm_decide_arp(const struct cnm_lb_view *lb, const struct cnm_flow *f, struct cnm_decision *d);
void cnm_decide_nd(const struct cnm_lb_view *lb, const struct cnm_flow *f, struct cnm_decision *d);

/**
 * Step 1 for frame @p i of the burst, @p p (which must stay where it is until
 * cnm_decide_finish()): cnm_decide_add_fast4() for the fast shape.
 */
static __rte_always_inline void
cnm_decide_add(const struct cnm_lb_view *lb, const struct cnm_dstate *st, struct cnm_dbatch *b,
		const struct cnm_pkt *p, unsigned int i, struct cnm_decision *d)
{
	switch (p->shape) {
	case CNM_SHAPE_FAST4:
		cnm_decide_add_fast4(lb, st, b, &p->r, i, d, p->l7,
				RTE_MIN((uint32_t)p->l7_len, (uint32_t)CNM_PKT_L7_MAX));
		return;
	case CNM_SHAPE_FLOW:
		if (unlikely(p->f.kind == CNM_PKT_ARP)) {
			cnm_decide_arp(lb, &p->f, d);
			return;
		}
		if (unlikely(p->f.kind == CNM_PKT_ND)) {
			cnm_decide_nd(lb, &p->f, d);
			return;
		}
		b->keys[b->nk] = &p->f.key;
		b->at[b->nk++] = (uint8_t)i;
		return;
	default:
		cnm_decide_drop(p->reason, d);
		return;
	}
}

/**
 * Steps 1 (the lookups the cache missed) to 4 for the frames added, indexed
 * as they were added: @p pk and @p d are the burst's arrays (pk[i] is read
 * for the frames of the general shape only).
 */
void cnm_decide_finish(const struct cnm_lb_view *lb, struct cnm_dstate *st, struct cnm_dbatch *b,
		const struct cnm_pkt *pk, struct cnm_decision *d);

/**
 * Decide @p n frames (at most CNM_DECIDE_MAX) in arrival order.
 * Frames of shape CNM_SHAPE_DROP get their parse reason. Updates the state's
 * caches, forwarding list and counters; reads the tables only.
 */
void cnm_decide_burst(const struct cnm_lb_view *lb, struct cnm_dstate *st, const struct cnm_pkt *pk,
		unsigned int n, struct cnm_decision *d);

/**
 * One frame, parsed by cnm_parse(), with no state (no cache, no forwarding
 * list, no fragment cache): what the tables alone decide. For tests.
 */
void cnm_decide(const struct cnm_lb_view *lb, const struct cnm_flow *f, struct cnm_decision *d);

/** Name of a verdict ("forward", ...). */
const char *cnm_verdict_name(unsigned int v);

#endif /* CNM_DECIDE_H */
