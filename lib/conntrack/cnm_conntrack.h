/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The TCP forwarding list (patent FIG. 6 steps 609-610): a per-worker
 * connection table. A pure SYN to a scalable TCP service records the node the
 * PDT chose; later packets of that connection take the recorded node, so a
 * PDT change does not move an established connection.
 *
 * The same table holds the UDP flow list (docs/conntrack.md, "UDP flows"):
 * a key whose proto is IPPROTO_UDP is a UDP flow, recorded at its first
 * packet with state CNM_CONN_UDP and an idle timeout the caller gives (the
 * service's), so TCP and UDP share one size bound, one sweep, one bulk
 * lookup per burst.
 *
 * One table per worker and the worker is its only user: no call here takes a
 * lock or does an atomic operation. Two tables inside, by family: IPv4
 * connections in a bucketised cuckoo table of cnmux's own (64-byte buckets of
 * three 20-byte entries, the value in the entry: some 25 bytes a connection),
 * IPv6 connections in an rte_hash created without concurrency flags, the value
 * (struct cnm_conn, 8 bytes) in the data word of its key slot (about 61 bytes
 * a connection). docs/conntrack.md says why and how.
 *
 * Time is a coarse clock in milliseconds passed in by the caller ("now"); it
 * may wrap, every comparison uses the signed difference, so timeouts must be
 * below 2^31 ms.
 */
#ifndef CNM_CONNTRACK_H
#define CNM_CONNTRACK_H

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_branch_prediction.h>
#include <rte_hash.h>

#include "cnm_parse.h"

struct cnm_ct;

/** At most this many keys per cnm_ct_lookup_bulk() call. */
#define CNM_CT_BULK_MAX 64

/** At most this many connections of one family per table. */
#define CNM_CT_FAMILY_MAX (1u << 28)

/** Connection key: the 5-tuple of the client-to-service direction. 40 bytes. */
struct cnm_conn_key {
	uint8_t src[16];  /**< client address; IPv4 in the first 4 bytes, rest 0 */
	uint8_t dst[16];  /**< service address (VIP), as src */
	uint16_t sport;   /**< client port, network byte order */
	uint16_t dport;   /**< service port, network byte order */
	uint8_t family;   /**< AF_INET or AF_INET6 */
	uint8_t proto;    /**< 0: a TCP connection; IPPROTO_UDP: a UDP flow */
	uint8_t pad[2];   /**< always 0: part of the hashed key */
} __attribute__((aligned(8))); /* the hash reads 8-byte words */

/** cnm_conn_key.proto of a TCP connection (0: the keys of before UDP). */
#define CNM_CONN_KEY_TCP 0

/** State of a tracked connection; selects its timeout. */
enum cnm_conn_state {
	CNM_CONN_SYN = 0,         /**< only SYNs seen: syn timeout */
	CNM_CONN_ESTABLISHED = 1, /**< an ACK without FIN/RST seen: established timeout */
	CNM_CONN_CLOSING = 2,     /**< FIN or RST seen: closing timeout, final */
	CNM_CONN_UDP = 3,         /**< a UDP flow: the idle timeout its inserter gives */
};

/**
 * Value of an entry: 8 bytes, stored in the rte_hash data word of the key.
 * Lookups hand out copies; cnm_ct_touch() writes changes back.
 */
struct cnm_conn {
	uint32_t expire;     /**< "now" value at which the entry expires */
	uint16_t node;       /**< node id chosen at the SYN */
	uint16_t svc : 14;   /**< service id (< CNM_MAX_SERVICES = 2^14) */
	uint16_t state : 2;  /**< enum cnm_conn_state */
};

/** Timeouts in milliseconds, each in 1 .. 2^31 - 1. */
struct cnm_ct_timeouts {
	uint32_t syn;          /**< after a SYN without an ACK yet */
	uint32_t established;  /**< idle time of an established connection */
	uint32_t closing;      /**< after a FIN or RST */
	/**
	 * cnm_ct_touch() writes a refreshed expiry back only when it moved by at
	 * least this much (or the state changed), so a busy connection costs one
	 * table write per @c refresh ms rather than one per packet. An entry may
	 * then expire up to @c refresh ms early. 0: min(1000, smallest timeout / 4).
	 */
	uint32_t refresh;
};

/**
 * What a TCP hit reads of its table to account itself (cnm_ct_tcp_due()):
 * the first member of the (opaque) struct cnm_ct, so that the check runs
 * inline in the caller and only a write calls into the table.
 */
struct cnm_ct_tcp_times {
	uint32_t timeout[4];  /**< by enum cnm_conn_state (UDP: not read) */
	uint32_t refresh;     /**< cnm_ct_timeouts.refresh, resolved */
};

/** State after a segment with flags @p tcp_flags. CLOSING is final. */
static inline uint8_t
cnm_conn_next_state(uint8_t state, uint8_t tcp_flags)
{
	if (state == CNM_CONN_CLOSING || (tcp_flags & (CNM_TCP_FIN | CNM_TCP_RST)))
		return CNM_CONN_CLOSING;
	if (tcp_flags & CNM_TCP_ACK)
		return CNM_CONN_ESTABLISHED;
	return state;
}

/** Counters of one table; single writer, plain increments. */
struct cnm_ct_stats {
	uint64_t inserted;  /**< new entries */
	uint64_t replaced;  /**< cnm_ct_insert() on a key already present */
	uint64_t expired;   /**< removed by cnm_ct_expire() */
	uint64_t deleted;   /**< removed by cnm_ct_del() */
	uint64_t flushed;   /**< removed by cnm_ct_flush_node() / cnm_ct_flush_svc() */
	uint64_t full;      /**< inserts refused: table full (-ENOSPC) */
	uint64_t expired_udp; /**< of expired: UDP flows */
};

/**
 * Build a connection key from a parsed TCP segment or UDP datagram (client
 * to service): proto CNM_CONN_KEY_TCP for TCP, IPPROTO_UDP for UDP. The key
 * of the reverse direction is a different key.
 */
static inline void
cnm_conn_key_from_flow(const struct cnm_flow *f, struct cnm_conn_key *k)
{
	memcpy(k->src, f->src, sizeof(k->src));
	memcpy(k->dst, f->key.addr, sizeof(k->dst));
	k->sport = f->sport;
	k->dport = f->key.port;
	k->family = f->key.family;
	k->proto = f->key.proto == IPPROTO_UDP ? IPPROTO_UDP : CNM_CONN_KEY_TCP;
	k->pad[0] = 0;
	k->pad[1] = 0;
}

/**
 * cnm_conn_key_from_flow() for IPv4 (addresses and ports in network order;
 * @p kproto: CNM_CONN_KEY_TCP or IPPROTO_UDP).
 */
static inline void
cnm_conn_key_v4(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t kproto,
		struct cnm_conn_key *k)
{
	uint64_t *q = (uint64_t *)k; /* 8-byte aligned, 40 bytes */

	q[0] = src;
	q[1] = 0;
	q[2] = dst;
	q[3] = 0;
	/* sport, dport, family, proto, pad: little-endian, as the struct lays them out */
	q[4] = (uint64_t)sport | (uint64_t)dport << 16 | (uint64_t)AF_INET << 32 |
		(uint64_t)kproto << 40;
}

/** 1 when @p c has expired at @p now (wrap-safe). */
static inline int
cnm_conn_expired(const struct cnm_conn *c, uint32_t now)
{
	return (int32_t)(now - c->expire) >= 0;
}

/**
 * Create a table.
 *
 * @param name        unique among tables (rte_hash name "ct_<name>", < 28 chars)
 * @param max4        most IPv4 connections held (1 .. CNM_CT_FAMILY_MAX); an
 *                    insert beyond is refused
 * @param max6        most IPv6 connections held, likewise
 * @param socket_id   NUMA socket of the memory, or SOCKET_ID_ANY
 * @param t           timeouts (copied)
 * @return the table, or NULL with rte_errno set (EINVAL, ENOMEM, EEXIST...).
 */
struct cnm_ct *cnm_ct_create2(const char *name, uint32_t max4, uint32_t max6, int socket_id,
		const struct cnm_ct_timeouts *t);

/** Memory cnm_ct_create2() allocates for @p max4 and @p max6 (an estimate for
 * the configuration's memory budget, lib/config). */
uint64_t cnm_ct_memsize(uint32_t max4, uint32_t max6);

/** cnm_ct_create2() with max_entries for each family. */
struct cnm_ct *cnm_ct_create(const char *name, uint32_t max_entries, int socket_id,
		const struct cnm_ct_timeouts *t);

/** Free a table and every entry. NULL is accepted. */
void cnm_ct_free(struct cnm_ct *ct);

/**
 * Look up to CNM_CT_BULK_MAX keys.
 *
 * @param keys  n keys
 * @param n     1 .. CNM_CT_BULK_MAX
 * @param sig   out: the hash of each key, for cnm_ct_insert/touch/del
 * @param conn  out: conn[i] is a copy of the entry of keys[i] when bit i of
 *              the result is set, untouched otherwise. An entry that has
 *              expired but was not swept yet is returned too: check it with
 *              cnm_conn_expired().
 * @return the hit mask (bit i set: keys[i] found); 0 when n is out of range.
 */
uint64_t cnm_ct_lookup_bulk(struct cnm_ct *ct, const struct cnm_conn_key *const *keys,
		unsigned int n, hash_sig_t *sig, struct cnm_conn *conn);

/**
 * cnm_ct_lookup_bulk() for a caller that knows which keys are UDP flows'
 * (the decision's batch does): @p udp, bit i set when keys[i].proto is
 * IPPROTO_UDP and clear when it is CNM_CONN_KEY_TCP (a clear bit for a
 * UDP key gives a wrong answer). A burst of TCP keys while the table holds no UDP flow
 * takes the lookup of before UDP flows, which reads neither protocol nor
 * state.
 */
uint64_t cnm_ct_lookup_bulk_udp(struct cnm_ct *ct, const struct cnm_conn_key *const *keys,
		unsigned int n, uint64_t udp, hash_sig_t *sig, struct cnm_conn *conn);

/**
 * The words of an IPv4 key as cnm_ct_lookup4_bulk() takes them: client
 * address and VIP, client port and service port, all in network order.
 */
static inline void
cnm_ct_key4_words(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
		uint64_t *addrs, uint32_t *ports)
{
	*addrs = (uint64_t)src | (uint64_t)dst << 32;
	*ports = (uint32_t)sport | (uint32_t)dport << 16;
}

/**
 * cnm_ct_lookup_bulk_udp() of IPv4 keys given by their words
 * (cnm_ct_key4_words()) rather than as struct cnm_conn_key: for the
 * decision's frames of the fast shape, whose key it then builds only for
 * the rare calls that need one (insert, delete, second chance).
 */
uint64_t cnm_ct_lookup4_bulk(struct cnm_ct *ct, const uint64_t *addrs, const uint32_t *ports,
		unsigned int n, uint64_t udp, hash_sig_t *sig, struct cnm_conn *conn);

/*
 * The most IPv4 entries for which cnm_ct_get4() looks a key up by itself.
 * Each entry lies in a bucket of its own, at random: 8,192 of them are
 * 512 KiB of buckets, what a core's L2 holds. Past that a lookup one at a
 * time waits for memory (a few hundred cycles a frame), where the bulk
 * lookup has the reads of a whole burst in flight together.
 */
#define CNM_CT_GET4_MAX 8192u

/** Results of cnm_ct_get4(). */
enum {
	CNM_CT_GET_MISS = 0,  /**< the table does not hold the key */
	CNM_CT_GET_HIT = 1,   /**< it does: its value in *c */
	CNM_CT_GET_BULK = 2,  /**< not looked up: the table is too large for it */
};

/**
 * One IPv4 TCP key (cnm_ct_key4_words()) looked up by itself, for a caller
 * that decides frame by frame while the table's entries fit in a core's
 * cache. A table of more than CNM_CT_GET4_MAX IPv4 entries answers
 * CNM_CT_GET_BULK, looking nothing up: the caller looks the key up with
 * the rest of its burst (cnm_ct_lookup4_bulk(): their reads overlap). On a
 * hit and a miss @p sig is the key's hash, as the bulk lookup gives it; on
 * a hit @p c is a copy of the entry (expired or not, as there).
 */
int cnm_ct_get4(struct cnm_ct *ct, uint64_t addrs, uint32_t ports, hash_sig_t *sig,
		struct cnm_conn *c);

/** The hash of a key, as cnm_ct_lookup_bulk() gives it. */
hash_sig_t cnm_ct_hash(const struct cnm_ct *ct, const struct cnm_conn_key *k);

/**
 * Record a connection (or replace the entry of the same key). The state comes
 * from @p tcp_flags as in cnm_ct_touch(), starting from CNM_CONN_SYN.
 *
 * @param sig  cnm_ct_hash(ct, k)
 * @param svc  service id, below 2^14
 * @return the entry's position (>= 0); -ENOSPC when the table is full
 *         (existing entries are untouched, the "full" counter counts it);
 *         -EINVAL on a bad argument.
 */
int32_t cnm_ct_insert(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		uint16_t node, uint16_t svc, uint8_t tcp_flags, uint32_t now);

/**
 * Record a UDP flow (key proto IPPROTO_UDP), or replace the entry of the
 * same key: state CNM_CONN_UDP, expiring at @p now + @p timeout_ms.
 *
 * @param timeout_ms  the service's idle time, 1 .. 2^31 - 1
 * @return as cnm_ct_insert().
 */
int32_t cnm_ct_insert_udp(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		uint16_t node, uint16_t svc, uint32_t timeout_ms, uint32_t now);

/**
 * Account a datagram of a recorded UDP flow: its expiry becomes
 * @p now + @p timeout_ms, written back when it moved by at least
 * min(refresh, @p timeout_ms / 4) (a UDP flow may then expire that much
 * early). Returns as cnm_ct_touch().
 */
int cnm_ct_touch_udp(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		struct cnm_conn *c, uint32_t timeout_ms, uint32_t now);

/**
 * Record entry @p c as it is (state, expiry), as cnm_ct_insert() records one:
 * for a copy of another table's entry (`explain` decides on a private
 * table that holds what a worker's holds). A UDP key (proto IPPROTO_UDP)
 * goes with state CNM_CONN_UDP and a TCP key with another state, else
 * -EINVAL.
 */
int32_t cnm_ct_restore(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		const struct cnm_conn *c);

/**
 * Account a packet of a tracked connection: update @p c (the copy a lookup
 * returned) and, when its state changed or its expiry moved by at least the
 * refresh interval, write it back to the table.
 *
 * State machine: FIN or RST -> CLOSING, which is final; otherwise a packet
 * with ACK -> ESTABLISHED; a SYN without ACK leaves the state as it is.
 * The expiry becomes now + the timeout of the new state. For TCP entries
 * only: a UDP flow's entry is refreshed by cnm_ct_touch_udp().
 *
 * @return 1 when the entry was written back, 0 when not, -ENOENT when the
 *         key is no longer in the table.
 */
int cnm_ct_touch(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		struct cnm_conn *c, uint8_t tcp_flags, uint32_t now);

/**
 * cnm_ct_touch()'s first half, inline: the new state and expiry of TCP
 * entry @p c after a segment with @p tcp_flags, written into @p c. 1 when
 * the entry must be written back (its state changed, or its expiry moved
 * by the refresh step at least: cnm_ct_writeback4()), 0 when the hit stays
 * read-only, which is most hits.
 */
static inline int
cnm_ct_tcp_due(const struct cnm_ct *ct, struct cnm_conn *c, uint8_t tcp_flags, uint32_t now)
{
	const struct cnm_ct_tcp_times *t = (const struct cnm_ct_tcp_times *)(const void *)ct;
	uint8_t state = cnm_conn_next_state(c->state, tcp_flags);
	uint32_t expire = now + t->timeout[state];

	if (state == c->state && (int32_t)(expire - c->expire) < (int32_t)t->refresh)
		return 0;
	c->state = state;
	c->expire = expire;
	return 1;
}

/** cnm_ct_touch4()'s second half: write @p c, as cnm_ct_tcp_due() set it,
 * back to the IPv4 TCP entry of these words. @return 1, or -ENOENT. */
int cnm_ct_writeback4(struct cnm_ct *ct, uint64_t addrs, uint32_t ports, hash_sig_t sig,
		const struct cnm_conn *c);

/**
 * cnm_ct_touch() of an IPv4 TCP connection given by its words
 * (cnm_ct_key4_words()), as cnm_ct_get4() or cnm_ct_lookup4_bulk() found
 * it: the check inline (cnm_ct_tcp_due()), a call only to write
 * (cnm_ct_writeback4()), which most hits do not.
 */
static inline int
cnm_ct_touch4(struct cnm_ct *ct, uint64_t addrs, uint32_t ports, hash_sig_t sig,
		struct cnm_conn *c, uint8_t tcp_flags, uint32_t now)
{
	if (likely(!cnm_ct_tcp_due(ct, c, tcp_flags, now)))
		return 0;
	return cnm_ct_writeback4(ct, addrs, ports, sig, c);
}

/** Remove an entry. @return 0, or -ENOENT. */
int cnm_ct_del(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig);

/**
 * Incremental sweep: look at the next @p budget slots (positions) after a
 * cursor that wraps around the table and remove the entries expired at
 * @p now. A worker calls it once per loop; its cost is bounded by @p budget
 * (a free slot is one bit test; a used one a read of its value (IPv4) or two
 * hash lookups (IPv6)).
 *
 * @return how many entries it removed.
 */
uint32_t cnm_ct_expire(struct cnm_ct *ct, uint32_t now, uint32_t budget);

/** Entries in the table. */
uint32_t cnm_ct_count(const struct cnm_ct *ct);

/** Of those, UDP flows (key proto IPPROTO_UDP), both families. */
uint32_t cnm_ct_count_udp(const struct cnm_ct *ct);

/** Most IPv4 entries the table holds (max4 of cnm_ct_create2()). */
uint32_t cnm_ct_capacity(const struct cnm_ct *ct);

/** Most IPv6 entries the table holds (max6 of cnm_ct_create2()). */
uint32_t cnm_ct_capacity6(const struct cnm_ct *ct);

/** Copy the counters. */
void cnm_ct_stats_get(const struct cnm_ct *ct, struct cnm_ct_stats *s);

/**
 * Call @p fn for every entry, in position order, with copies of its key and
 * value. @p fn must not change the table. For dumps, called by the owning
 * worker on request.
 *
 * @return 0 after the last entry, or the first non-zero value @p fn returned
 *         (which stops the walk).
 */
int cnm_ct_walk(struct cnm_ct *ct,
		int (*fn)(const struct cnm_conn_key *k, const struct cnm_conn *c, void *arg),
		void *arg);

/** Positions a walk covers: cnm_ct_walk_slice() is through at this one. */
uint32_t cnm_ct_slots(const struct cnm_ct *ct);

/**
 * cnm_ct_walk() in slices, for a worker that must keep polling: look at the
 * next @p budget positions from *@p pos (at most; fewer at the end) and
 * advance *@p pos past those looked at. The walk is through once *@p pos
 * reaches cnm_ct_slots(). Entries added or removed between slices may be
 * met or missed, as with successive dumps.
 *
 * @return 0, or the first non-zero value @p fn returned (which stops the
 *         slice; *@p pos is then just past that entry).
 */
int cnm_ct_walk_slice(struct cnm_ct *ct, uint32_t *pos, uint32_t budget,
		int (*fn)(const struct cnm_conn_key *k, const struct cnm_conn *c, void *arg),
		void *arg);

/**
 * Remove every entry of a node (a node removed or failed). A full pass over
 * the table. @return how many entries it removed.
 */
uint32_t cnm_ct_flush_node(struct cnm_ct *ct, uint16_t node);

/** Remove every entry of a service (a service removed). @return how many. */
uint32_t cnm_ct_flush_svc(struct cnm_ct *ct, uint16_t svc);

#endif /* CNM_CONNTRACK_H */
