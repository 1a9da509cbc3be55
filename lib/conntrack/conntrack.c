/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

#include "cnm_crc.h"
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_branch_prediction.h>

#include "cnm_config.h"
#include "cnm_conntrack.h"

RTE_LOG_REGISTER(cnm_logtype_ct, cnm.conntrack, NOTICE);
#define CT_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cnm_logtype_ct, "conntrack: " fmt "\n", ##__VA_ARGS__)

/* The value travels in the rte_hash data word (a void *). */
_Static_assert(sizeof(struct cnm_conn) == 8, "struct cnm_conn must be 8 bytes");
_Static_assert(sizeof(void *) == sizeof(struct cnm_conn), "needs 64-bit pointers");
_Static_assert(CNM_MAX_SERVICES <= (1 << 14), "struct cnm_conn.svc holds 14 bits");
_Static_assert(sizeof(struct cnm_conn_key) == 40, "struct cnm_conn_key must be 40 bytes");

#define CT_HASH_SEED 0x636e6d78u /* "cnmx" */
#define CT_REFRESH_DEFAULT 1000u
#define CT_TIMEOUT_MAX 0x7fffffffu

/*
 * IPv4 connections: a table of our own (docs/conntrack.md says why not
 * rte_hash): 64-byte buckets of three 20-byte entries, each key in two
 * buckets (bucketised cuckoo hashing, as in MemC3 and rte_hash itself), the
 * value in the entry. 64 / 3 bytes a slot; at the load the table is sized
 * for (CT4_LOAD), some 25 bytes a connection, against 61 in rte_hash with
 * the 40-byte key of both families.
 */
#define CT4_WAYS 3               /* ct4_find_in() compares the three ways */
#define CT4_LOAD_PCT 85u         /* slots = max / 85% */
#define CT4_BFS_MAX 512          /* buckets a cuckoo path search looks at */

/*
 * The key's protocol has no field of its own: a UDP flow's value has state
 * CNM_CONN_UDP and a TCP connection's never has (ct_restore_ok()), so the
 * value's state says which a key is, and a compare of the addresses and
 * ports that matches checks it too (ct4_find_in()). A fourth byte of key
 * would take a way out of each bucket.
 */
struct ct4_ent {
	uint64_t addrs;  /* src | dst << 32, as the key's first words lay them out */
	uint32_t ports;  /* sport | dport << 16 */
	uint64_t val;    /* struct cnm_conn; state CNM_CONN_UDP: a UDP flow */
} __attribute__((packed));

struct ct4_bucket {
	struct ct4_ent e[CT4_WAYS];
	uint32_t used;   /* bit j: e[j] holds an entry */
} __rte_cache_aligned;

_Static_assert(sizeof(struct ct4_bucket) == 64, "an IPv4 bucket is one cache line");

struct cnm_ct {
	/* hot: read on every packet; t first (cnm_ct_tcp_due() reads it inline) */
	struct cnm_ct_tcp_times t;
	struct ct4_bucket *b4;
	uint32_t nb4;         /* buckets (any number: reduced by multiply-shift) */
	struct rte_hash *h;   /* IPv6 connections */
	uint32_t count4, count6;
	uint32_t count_udp;   /* of count4 + count6: keys with proto IPPROTO_UDP */
	uint32_t max4, max6;
	uint32_t slots4;      /* positions 0 .. slots4 - 1: IPv4 (bucket * 3 + way) */
	uint32_t slots;       /* slots4 + the positions rte_hash hands out (IPv6) */
	uint32_t cursor;      /* next position cnm_ct_expire() looks at */
	uint64_t *used;       /* bit per rte_hash position: holds an entry */
	struct cnm_ct_stats stats __rte_cache_aligned;
} __rte_cache_aligned;

_Static_assert(offsetof(struct cnm_ct, t) == 0,
	       "cnm_ct_tcp_due() reads the times as the table's first member");

/* An IPv4 key's words (struct cnm_conn_key: src then dst, 16 bytes each). */
static inline uint64_t
key4_addrs(const struct cnm_conn_key *k)
{
	uint32_t s, d;

	memcpy(&s, k->src, 4);
	memcpy(&d, k->dst, 4);
	return (uint64_t)s | (uint64_t)d << 32;
}

static inline uint32_t
key4_ports(const struct cnm_conn_key *k)
{
	return (uint32_t)k->sport | (uint32_t)k->dport << 16;
}

/*
 * 1 when an IPv4 entry's value @p v is a UDP flow's: its state, the top two
 * bits of struct cnm_conn on this ABI (cnm_ct_create2() verifies it), read
 * with one shift rather than through the bit-field (3 instructions fewer on
 * every lookup that matches).
 */
static inline int
ct4_val_udp(uint64_t v)
{
	return (v >> 62) == CNM_CONN_UDP;
}

/* 1 for a UDP flow's key, 0 for a TCP connection's. */
static inline int
key_udp(const struct cnm_conn_key *k)
{
	return k->proto == IPPROTO_UDP;
}

/*
 * The hash of an IPv4 key, @p kproto its protocol byte (CNM_CONN_KEY_TCP, 0,
 * or IPPROTO_UDP), mixed into the ports: the TCP connection and the UDP flow
 * of one 5-tuple get buckets of their own (sharing two buckets, such twins
 * would fill them twice as fast, and a table full of them would hold less
 * than its capacity), and a TCP key hashes as it did before UDP flows.
 */
static inline uint32_t
ct4_hash(uint64_t addrs, uint32_t ports, uint32_t kproto)
{
	return cnm_crc_u32(ports ^ kproto, cnm_crc_u64(addrs, CT_HASH_SEED));
}

/* The protocol byte of an IPv4 entry's key, from its value. */
static inline uint32_t
ct4_val_kproto(uint64_t v)
{
	return ct4_val_udp(v) ? IPPROTO_UDP : CNM_CONN_KEY_TCP;
}

/* The two buckets of a hash: multiply-shift reductions of the hash and of
 * a second mix of it, never the same bucket. */
static inline uint32_t
ct4_b1(const struct cnm_ct *ct, uint32_t h)
{
	return (uint32_t)(((uint64_t)h * ct->nb4) >> 32);
}

static inline uint32_t
ct4_b2(const struct cnm_ct *ct, uint32_t h)
{
	uint32_t h2 = (uint32_t)(((uint64_t)h * UINT64_C(0x9e3779b97f4a7c15)) >> 32);
	uint32_t b1 = ct4_b1(ct, h), b2 = (uint32_t)(((uint64_t)h2 * ct->nb4) >> 32);

	if (b2 == b1)
		b2 = b1 + 1 < ct->nb4 ? b1 + 1 : 0;
	return b2;
}

/*
 * The entry of bucket @p b holding the key (@p udp: 1 for a UDP flow's), or
 * NULL. A free way's addresses are 0 (ct4_free_way()), which no key has (a
 * VIP is never 0.0.0.0), so the compare needs no look at the occupancy mask.
 * The protocol is compared only where addresses and ports matched.
 */
static inline struct ct4_ent *
ct4_find_in(struct ct4_bucket *b, uint64_t addrs, uint32_t ports, int udp)
{
	if (b->e[0].addrs == addrs && b->e[0].ports == ports &&
			ct4_val_udp(b->e[0].val) == udp)
		return &b->e[0];
	if (b->e[1].addrs == addrs && b->e[1].ports == ports &&
			ct4_val_udp(b->e[1].val) == udp)
		return &b->e[1];
	if (b->e[2].addrs == addrs && b->e[2].ports == ports &&
			ct4_val_udp(b->e[2].val) == udp)
		return &b->e[2];
	return NULL;
}

/*
 * ct4_find_in() of a TCP key while the table holds no UDP flow: every
 * entry is a TCP connection's, so addresses and ports decide.
 */
static __rte_always_inline struct ct4_ent *
ct4_find_in_tcp(struct ct4_bucket *b, uint64_t addrs, uint32_t ports)
{
	if (b->e[0].addrs == addrs && b->e[0].ports == ports)
		return &b->e[0];
	if (b->e[1].addrs == addrs && b->e[1].ports == ports)
		return &b->e[1];
	if (b->e[2].addrs == addrs && b->e[2].ports == ports)
		return &b->e[2];
	return NULL;
}

/*
 * A key's entry looked for in both its buckets (@p tcp_only, a constant:
 * the table holds no UDP flow and the key is a TCP one), its value into
 * @p c: 1, or 0 when neither holds it.
 */
static __rte_always_inline int
ct4_get2(struct ct4_bucket *b1, struct ct4_bucket *b2, uint64_t addrs, uint32_t ports,
		int udp, const int tcp_only, struct cnm_conn *c)
{
	const struct ct4_ent *e;
	uint64_t v;

	if (tcp_only) {
		e = ct4_find_in_tcp(b1, addrs, ports);
		if (e == NULL)
			e = ct4_find_in_tcp(b2, addrs, ports);
	} else {
		e = ct4_find_in(b1, addrs, ports, udp);
		if (e == NULL)
			e = ct4_find_in(b2, addrs, ports, udp);
	}
	if (e == NULL)
		return 0;
	v = e->val;
	memcpy(c, &v, sizeof(*c));
	return 1;
}

/* The entry of a key, or NULL. */
static inline struct ct4_ent *
ct4_find(const struct cnm_ct *ct, const struct cnm_conn_key *k, uint32_t h)
{
	uint64_t addrs = key4_addrs(k);
	uint32_t ports = key4_ports(k);
	int udp = key_udp(k);
	struct ct4_ent *e = ct4_find_in(&ct->b4[ct4_b1(ct, h)], addrs, ports, udp);

	return e != NULL ? e : ct4_find_in(&ct->b4[ct4_b2(ct, h)], addrs, ports, udp);
}

/* Free way @p w of bucket @p b: its addresses 0, so no key matches it. */
static inline void
ct4_free_way(struct ct4_bucket *b, unsigned int w)
{
	b->used &= ~(1u << w);
	b->e[w].addrs = 0;
}

/* Remove the IPv4 entry in way @p w of bucket @p b from the table. */
static inline void
ct4_remove(struct cnm_ct *ct, struct ct4_bucket *b, unsigned int w)
{
	ct->count_udp -= (uint32_t)ct4_val_udp(b->e[w].val);
	ct4_free_way(b, w);
	ct->count4--;
}

static inline int
key_is4(const struct cnm_conn_key *k)
{
	return k->family == AF_INET;
}

static inline void *
conn_pack(const struct cnm_conn *c)
{
	void *p;

	memcpy(&p, c, sizeof(p));
	return p;
}

static inline void
conn_unpack(void *p, struct cnm_conn *c)
{
	memcpy(c, &p, sizeof(*c));
}

static inline int
used_test(const struct cnm_ct *ct, uint32_t pos)
{
	return (ct->used[pos >> 6] >> (pos & 63)) & 1;
}

static inline void
used_set(struct cnm_ct *ct, uint32_t pos)
{
	ct->used[pos >> 6] |= UINT64_C(1) << (pos & 63);
}

static inline void
used_clear(struct cnm_ct *ct, uint32_t pos)
{
	ct->used[pos >> 6] &= ~(UINT64_C(1) << (pos & 63));
}

/*
 * The key's hash: CRC32-C over its five 8-byte words, the value
 * rte_hash_crc() gives for 40 bytes, without its loop and run-time checks.
 */
static uint32_t
ct_key_hash(const void *key, uint32_t len, uint32_t init)
{
	const uint64_t *q = key; /* struct cnm_conn_key: 8-byte aligned, 40 bytes */
	uint32_t h = init;

	RTE_SET_USED(len);
	h = cnm_crc_u64(q[0], h);
	h = cnm_crc_u64(q[1], h);
	h = cnm_crc_u64(q[2], h);
	h = cnm_crc_u64(q[3], h);
	return cnm_crc_u64(q[4], h);
}

struct cnm_ct *
cnm_ct_create2(const char *name, uint32_t max4, uint32_t max6, int socket_id,
		const struct cnm_ct_timeouts *t)
{
	char hname[RTE_HASH_NAMESIZE];
	struct rte_hash_parameters p = {
		.key_len = sizeof(struct cnm_conn_key),
		.hash_func = ct_key_hash,
		.hash_func_init_val = CT_HASH_SEED,
		.socket_id = socket_id,
		/* One table per worker, the worker is its only user: no
		 * concurrency flags, no lock. No extendable buckets either: they
		 * cost 9 bytes per entry (docs/conntrack.md). */
		.extra_flag = 0,
	};
	struct cnm_ct *ct;
	uint64_t nb;
	uint32_t tmin;
	int n;

	{
		/* ct4_val_udp() reads the state as the value's top two bits */
		struct cnm_conn probe = { .state = CNM_CONN_UDP };
		uint64_t pv;

		memcpy(&pv, &probe, sizeof(pv));
		RTE_VERIFY(pv >> 62 == CNM_CONN_UDP);
	}
	if (name == NULL || t == NULL || max4 == 0 || max6 == 0 ||
			max4 > CNM_CT_FAMILY_MAX || max6 > CNM_CT_FAMILY_MAX ||
			t->syn == 0 || t->syn > CT_TIMEOUT_MAX ||
			t->established == 0 || t->established > CT_TIMEOUT_MAX ||
			t->closing == 0 || t->closing > CT_TIMEOUT_MAX ||
			t->refresh > CT_TIMEOUT_MAX) {
		rte_errno = EINVAL;
		return NULL;
	}
	n = snprintf(hname, sizeof(hname), "ct_%s", name);
	if (n < 0 || (size_t)n >= sizeof(hname)) {
		rte_errno = ENAMETOOLONG;
		return NULL;
	}
	p.name = hname;
	/* rte_hash wants at least one bucket (8 entries); the count limits. */
	p.entries = RTE_MAX(max6, 8u);

	ct = rte_zmalloc_socket("cnm_ct", sizeof(*ct), RTE_CACHE_LINE_SIZE, socket_id);
	if (ct == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	/* IPv4: max4 entries at CT4_LOAD_PCT of the slots, two buckets at least
	 * (a key's two buckets differ) */
	nb = ((uint64_t)max4 * 100 / CT4_LOAD_PCT + CT4_WAYS - 1) / CT4_WAYS;
	ct->nb4 = (uint32_t)RTE_MAX(nb, 2u);
	ct->slots4 = ct->nb4 * CT4_WAYS;
	ct->b4 = rte_zmalloc_socket("cnm_ct4", sizeof(struct ct4_bucket) * (size_t)ct->nb4,
			RTE_CACHE_LINE_SIZE, socket_id);
	/* Positions from rte_hash are below p.entries (no per-lcore cache). */
	ct->used = rte_zmalloc_socket("cnm_ct_used",
			sizeof(uint64_t) * ((p.entries + 63) / 64),
			RTE_CACHE_LINE_SIZE, socket_id);
	if (ct->b4 == NULL || ct->used == NULL) {
		rte_free(ct->b4);
		rte_free(ct->used);
		rte_free(ct);
		rte_errno = ENOMEM;
		return NULL;
	}
	ct->h = rte_hash_create(&p);
	if (ct->h == NULL) {
		int e = rte_errno;

		CT_LOG(ERR, "%s: rte_hash_create(%u entries): %s", name, p.entries,
				rte_strerror(e));
		rte_free(ct->b4);
		rte_free(ct->used);
		rte_free(ct);
		rte_errno = e;
		return NULL;
	}
	ct->max4 = max4;
	ct->max6 = max6;
	ct->slots = ct->slots4 + p.entries;
	ct->t.timeout[CNM_CONN_SYN] = t->syn;
	ct->t.timeout[CNM_CONN_ESTABLISHED] = t->established;
	ct->t.timeout[CNM_CONN_CLOSING] = t->closing;
	/* UDP flows take their timeout from the caller; not read for them */
	ct->t.timeout[CNM_CONN_UDP] = t->established;
	tmin = RTE_MIN(t->syn, RTE_MIN(t->established, t->closing));
	ct->t.refresh = t->refresh != 0 ? t->refresh :
		RTE_MAX(1u, RTE_MIN(CT_REFRESH_DEFAULT, tmin / 4));
	return ct;
}

struct cnm_ct *
cnm_ct_create(const char *name, uint32_t max_entries, int socket_id,
		const struct cnm_ct_timeouts *t)
{
	return cnm_ct_create2(name, max_entries, max_entries, socket_id, t);
}

void
cnm_ct_free(struct cnm_ct *ct)
{
	if (ct == NULL)
		return;
	rte_hash_free(ct->h);
	rte_free(ct->b4);
	rte_free(ct->used);
	rte_free(ct);
}

hash_sig_t
cnm_ct_hash(const struct cnm_ct *ct, const struct cnm_conn_key *k)
{
	if (key_is4(k))
		return ct4_hash(key4_addrs(k), key4_ports(k), k->proto);
	return rte_hash_hash(ct->h, k);
}

/* The IPv6 keys of a bulk lookup, by rte_hash. */
static __rte_noinline uint64_t
ct6_lookup_bulk(struct cnm_ct *ct, const struct cnm_conn_key *const *keys, unsigned int n,
		uint64_t want, hash_sig_t *sig, struct cnm_conn *conn)
{
	const struct cnm_conn_key *k6[CNM_CT_BULK_MAX];
	hash_sig_t s6[CNM_CT_BULK_MAX];
	void *data[CNM_CT_BULK_MAX];
	uint8_t at[CNM_CT_BULK_MAX];
	uint64_t h6 = 0, hits = 0, m;
	unsigned int i, n6 = 0;

	for (i = 0; i < n; i++) {
		if (!((want >> i) & 1))
			continue;
		sig[i] = ct_key_hash(keys[i], sizeof(struct cnm_conn_key), CT_HASH_SEED);
		k6[n6] = keys[i];
		s6[n6] = sig[i];
		at[n6++] = (uint8_t)i;
	}
	if (rte_hash_lookup_with_hash_bulk_data(ct->h, (const void **)(uintptr_t)k6,
			s6, n6, &h6, data) < 0)
		return 0;
	for (m = h6; m != 0; m &= m - 1) {
		i = (unsigned int)__builtin_ctzll(m);
		conn_unpack(data[i], &conn[at[i]]);
		hits |= UINT64_C(1) << at[i];
	}
	return hits;
}

/*
 * The bulk lookup, compiled twice: @p tcp_only, a constant, when every key
 * is a TCP one and the table holds no UDP flow, so that a match of
 * addresses and ports is the key's entry and neither the keys' protocol nor
 * the entries' state needs a look; otherwise each key's protocol is hashed
 * and compared with the state of the entry that matched.
 */
static __rte_always_inline uint64_t
ct_lookup_bulk(struct cnm_ct *ct, const struct cnm_conn_key *const *keys, unsigned int n,
		hash_sig_t *sig, struct cnm_conn *conn, const int tcp_only)
{
	struct ct4_bucket *b1[CNM_CT_BULK_MAX], *b2[CNM_CT_BULK_MAX];
	uint64_t addrs[CNM_CT_BULK_MAX];
	uint32_t ports[CNM_CT_BULK_MAX];
	uint64_t hits = 0, six = 0;
	unsigned int i;

	/* Hashes first, and both buckets of every key prefetched before any
	 * is compared: the loads of the whole burst overlap. */
	for (i = 0; i < n; i++) {
		uint32_t h;

		if (unlikely(!key_is4(keys[i]))) {
			six |= UINT64_C(1) << i;
			continue;
		}
		addrs[i] = key4_addrs(keys[i]);
		ports[i] = key4_ports(keys[i]);
		h = ct4_hash(addrs[i], ports[i], tcp_only ? CNM_CONN_KEY_TCP : keys[i]->proto);
		sig[i] = h;
		b1[i] = &ct->b4[ct4_b1(ct, h)];
		b2[i] = &ct->b4[ct4_b2(ct, h)];
		rte_prefetch0(b1[i]);
		rte_prefetch0(b2[i]);
	}
	for (i = 0; i < n; i++) {
		if ((six >> i) & 1)
			continue;
		if (ct4_get2(b1[i], b2[i], addrs[i], ports[i], tcp_only ? 0 : key_udp(keys[i]),
				tcp_only, &conn[i]))
			hits |= UINT64_C(1) << i;
	}
	if (unlikely(six != 0))
		hits |= ct6_lookup_bulk(ct, keys, n, six, sig, conn);
	return hits;
}

uint64_t
cnm_ct_lookup_bulk_udp(struct cnm_ct *ct, const struct cnm_conn_key *const *keys,
		unsigned int n, uint64_t udp, hash_sig_t *sig, struct cnm_conn *conn)
{
	if (n == 0 || n > CNM_CT_BULK_MAX)
		return 0;
	/* a TCP burst while no UDP flow is recorded: the loop of before UDP
	 * flows (one branch a burst) */
	if (likely(udp == 0 && ct->count_udp == 0))
		return ct_lookup_bulk(ct, keys, n, sig, conn, 1);
	return ct_lookup_bulk(ct, keys, n, sig, conn, 0);
}

uint64_t
cnm_ct_lookup_bulk(struct cnm_ct *ct, const struct cnm_conn_key *const *keys,
		unsigned int n, hash_sig_t *sig, struct cnm_conn *conn)
{
	uint64_t udp = 0;
	unsigned int i;

	if (n == 0 || n > CNM_CT_BULK_MAX)
		return 0;
	/* any key that is not a TCP one takes the general loop */
	for (i = 0; i < n; i++)
		udp |= (uint64_t)(keys[i]->proto != CNM_CONN_KEY_TCP) << i;
	return cnm_ct_lookup_bulk_udp(ct, keys, n, udp, sig, conn);
}

/*
 * cnm_ct_lookup_bulk_udp() of IPv4 keys given by their words: no key to
 * take apart, the same two loops (and the same two specialisations) as
 * ct_lookup_bulk().
 */
static __rte_always_inline uint64_t
ct4_lookup_words(struct cnm_ct *ct, const uint64_t *addrs, const uint32_t *ports,
		unsigned int n, uint64_t udp, hash_sig_t *sig, struct cnm_conn *conn,
		const int tcp_only)
{
	struct ct4_bucket *b1[CNM_CT_BULK_MAX], *b2[CNM_CT_BULK_MAX];
	uint64_t hits = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint32_t h = ct4_hash(addrs[i], ports[i],
				tcp_only ? CNM_CONN_KEY_TCP : (uint32_t)((udp >> i) & 1) * IPPROTO_UDP);

		sig[i] = h;
		b1[i] = &ct->b4[ct4_b1(ct, h)];
		b2[i] = &ct->b4[ct4_b2(ct, h)];
		rte_prefetch0(b1[i]);
		rte_prefetch0(b2[i]);
	}
	for (i = 0; i < n; i++)
		if (ct4_get2(b1[i], b2[i], addrs[i], ports[i], tcp_only ? 0 : (int)((udp >> i) & 1),
				tcp_only, &conn[i]))
			hits |= UINT64_C(1) << i;
	return hits;
}

uint64_t
cnm_ct_lookup4_bulk(struct cnm_ct *ct, const uint64_t *addrs, const uint32_t *ports,
		unsigned int n, uint64_t udp, hash_sig_t *sig, struct cnm_conn *conn)
{
	if (n == 0 || n > CNM_CT_BULK_MAX)
		return 0;
	if (likely(udp == 0 && ct->count_udp == 0))
		return ct4_lookup_words(ct, addrs, ports, n, 0, sig, conn, 1);
	return ct4_lookup_words(ct, addrs, ports, n, udp, sig, conn, 0);
}

int
cnm_ct_get4(struct cnm_ct *ct, uint64_t addrs, uint32_t ports, hash_sig_t *sig,
		struct cnm_conn *c)
{
	const struct ct4_ent *e;
	uint32_t h;
	uint64_t v;

	if (ct->count4 > CNM_CT_GET4_MAX)
		return CNM_CT_GET_BULK;
	h = ct4_hash(addrs, ports, CNM_CONN_KEY_TCP);
	*sig = h;
	if (likely(ct->count_udp == 0)) {
		e = ct4_find_in_tcp(&ct->b4[ct4_b1(ct, h)], addrs, ports);
		if (e == NULL)
			e = ct4_find_in_tcp(&ct->b4[ct4_b2(ct, h)], addrs, ports);
	} else {
		e = ct4_find_in(&ct->b4[ct4_b1(ct, h)], addrs, ports, 0);
		if (e == NULL)
			e = ct4_find_in(&ct->b4[ct4_b2(ct, h)], addrs, ports, 0);
	}
	if (e == NULL)
		return CNM_CT_GET_MISS;
	v = e->val;
	memcpy(c, &v, sizeof(*c));
	return CNM_CT_GET_HIT;
}

/* ---- IPv4: insertion by cuckoo path search ---- */

/*
 * Make room in bucket @p start or @p alt for a new key: a breadth-first search
 * from both over the other buckets of their entries, up to CT4_BFS_MAX
 * buckets, for a free way; the entries on the path found then move one step
 * each, from its end back, so nothing is ever out of the table (a search
 * that finds no path changes nothing). @return the bucket with a free way,
 * or -1.
 */
struct ct4_step {
	uint32_t b;      /* a full bucket */
	int16_t parent;  /* the step whose entry moves here, -1 for a start */
	uint8_t way;     /* that entry's way in the parent's bucket */
};

/* Is bucket @p b on the path to step @p at? A path must not pass a bucket
 * twice: its moves would then take an entry the search did not plan to. */
static int
ct4_on_path(const struct ct4_step *q, unsigned int at, uint32_t b)
{
	for (;;) {
		if (q[at].b == b)
			return 1;
		if (q[at].parent < 0)
			return 0;
		at = (unsigned int)q[at].parent;
	}
}

static int64_t
ct4_make_room(struct cnm_ct *ct, uint32_t start, uint32_t alt)
{
	struct ct4_step q[CT4_BFS_MAX];
	unsigned int head = 0, tail = 0;

	q[tail].b = start; q[tail].parent = -1; q[tail++].way = 0;
	q[tail].b = alt; q[tail].parent = -1; q[tail++].way = 0;
	while (head < tail) {
		unsigned int cur = head++;
		struct ct4_bucket *b = &ct->b4[q[cur].b];
		unsigned int j;

		for (j = 0; j < CT4_WAYS; j++) {
			const struct ct4_ent *e = &b->e[j];
			uint32_t h = ct4_hash(e->addrs, e->ports, ct4_val_kproto(e->val));
			uint32_t other = ct4_b1(ct, h) == q[cur].b ? ct4_b2(ct, h) : ct4_b1(ct, h);
			struct ct4_bucket *ob = &ct->b4[other];

			if (ob->used != (1u << CT4_WAYS) - 1) {
				/* a free way in `other`: move e there, then each
				 * parent's entry into the way its child left */
				unsigned int at = cur, way = j;
				uint32_t dst = other;

				for (;;) {
					struct ct4_bucket *from = &ct->b4[q[at].b];
					struct ct4_bucket *to = &ct->b4[dst];
					unsigned int fw = (unsigned int)__builtin_ctz(~to->used);

					to->e[fw] = from->e[way];
					to->used |= 1u << fw;
					ct4_free_way(from, way);
					if (q[at].parent < 0)
						return q[at].b;
					dst = q[at].b;
					way = q[at].way;
					at = (unsigned int)q[at].parent;
				}
			}
			if (tail < CT4_BFS_MAX && !ct4_on_path(q, cur, other)) {
				q[tail].b = other;
				q[tail].parent = (int16_t)cur;
				q[tail++].way = (uint8_t)j;
			}
		}
	}
	return -1;
}

static int32_t
ct4_restore(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t h,
		const struct cnm_conn *c)
{
	uint64_t addrs = key4_addrs(k), v;
	uint32_t ports = key4_ports(k);
	uint32_t b1 = ct4_b1(ct, h), b2 = ct4_b2(ct, h);
	struct ct4_ent *e = ct4_find(ct, k, h);
	struct ct4_bucket *b;
	int64_t room;
	unsigned int w;

	if (unlikely(addrs == 0))
		return -EINVAL; /* 0.0.0.0 to 0.0.0.0: the mark of a free way */
	memcpy(&v, c, sizeof(v));
	if (e != NULL) {
		/* Same 5-tuple again (port reuse after an expired entry):
		 * an update in place, no new slot. */
		size_t at = (size_t)((const char *)e - (const char *)ct->b4) /
			sizeof(struct ct4_bucket);

		e->val = v;
		ct->stats.replaced++;
		return (int32_t)(at * CT4_WAYS + (size_t)(e - &ct->b4[at].e[0]));
	}
	if (ct->count4 >= ct->max4) {
		ct->stats.full++;
		return -ENOSPC;
	}
	if (ct->b4[b1].used != (1u << CT4_WAYS) - 1)
		room = b1;
	else if (ct->b4[b2].used != (1u << CT4_WAYS) - 1)
		room = b2;
	else
		room = ct4_make_room(ct, b1, b2);
	if (room < 0) {
		/* no cuckoo path: a full table for this key */
		ct->stats.full++;
		return -ENOSPC;
	}
	b = &ct->b4[room];
	w = (unsigned int)__builtin_ctz(~b->used);
	b->e[w].addrs = addrs;
	b->e[w].ports = ports;
	b->e[w].val = v;
	b->used |= 1u << w;
	ct->count4++;
	ct->count_udp += (uint32_t)key_udp(k);
	ct->stats.inserted++;
	return (int32_t)(room * CT4_WAYS + w);
}

/* ---- IPv6: rte_hash ---- */

/* Position of a key known to be in the table (its bucket is in cache). */
static int32_t
ct_position(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig)
{
	return rte_hash_lookup_with_hash(ct->h, k, sig);
}

static int32_t
ct6_restore(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		const struct cnm_conn *cp)
{
	struct cnm_conn c = *cp;
	int32_t pos;
	int ret;

	pos = ct_position(ct, k, sig);
	if (pos >= 0) {
		/* Same 5-tuple again (port reuse after an expired entry):
		 * an update in place, no new slot. */
		ret = rte_hash_add_key_with_hash_data(ct->h, k, sig, conn_pack(&c));
		if (ret < 0)
			return ret;
		ct->stats.replaced++;
		return (int32_t)ct->slots4 + pos;
	}
	if (ct->count6 >= ct->max6) {
		ct->stats.full++;
		return -ENOSPC;
	}
	ret = rte_hash_add_key_with_hash_data(ct->h, k, sig, conn_pack(&c));
	if (ret == -ENOSPC) {
		/* Both buckets of the key full and no cuckoo path found: a
		 * full table for this key. */
		ct->stats.full++;
		return -ENOSPC;
	}
	if (ret < 0)
		return ret;
	pos = ct_position(ct, k, sig);
	if (pos < 0)
		return pos; /* cannot happen: just added */
	used_set(ct, (uint32_t)pos);
	ct->count6++;
	ct->count_udp += (uint32_t)key_udp(k);
	ct->stats.inserted++;
	return (int32_t)ct->slots4 + pos;
}

int32_t
cnm_ct_insert(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		uint16_t node, uint16_t svc, uint8_t tcp_flags, uint32_t now)
{
	struct cnm_conn c;

	if (svc >= (1u << 14) || key_udp(k))
		return -EINVAL;
	c.state = cnm_conn_next_state(CNM_CONN_SYN, tcp_flags);
	c.expire = now + ct->t.timeout[c.state];
	c.node = node;
	c.svc = svc;
	return cnm_ct_restore(ct, k, sig, &c);
}

int32_t
cnm_ct_insert_udp(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		uint16_t node, uint16_t svc, uint32_t timeout_ms, uint32_t now)
{
	struct cnm_conn c;

	if (svc >= (1u << 14) || timeout_ms == 0 || timeout_ms > CT_TIMEOUT_MAX)
		return -EINVAL;
	c.state = CNM_CONN_UDP;
	c.expire = now + timeout_ms;
	c.node = node;
	c.svc = svc;
	return cnm_ct_restore(ct, k, sig, &c);
}

int32_t
cnm_ct_restore(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		const struct cnm_conn *c)
{
	/* A UDP key goes with the UDP state and only with it: the IPv4 table
	 * tells the two apart by the state (struct ct4_ent). */
	if ((k->proto != CNM_CONN_KEY_TCP && k->proto != IPPROTO_UDP) ||
			key_udp(k) != (c->state == CNM_CONN_UDP))
		return -EINVAL;
	if (key_is4(k))
		return ct4_restore(ct, k, sig, c);
	return ct6_restore(ct, k, sig, c);
}

/*
 * Write a changed entry back: of key @p k, or (@p k NULL) of the IPv4 TCP
 * connection of words @p addrs and @p ports. Out of line: it is the rare part of
 * cnm_ct_touch(), and tests/perf/callgrind.py finds it by name (under
 * valgrind's slow clock nearly every hit writes back).
 */
static __rte_noinline int
ct_writeback(struct cnm_ct *ct, const struct cnm_conn_key *k, uint64_t addrs, uint32_t ports,
		hash_sig_t sig, const struct cnm_conn *c)
{
	int ret;

	if (k == NULL || key_is4(k)) {
		/* the entry's buckets are in cache: the lookup just read them */
		struct ct4_ent *e;
		uint64_t v;

		int udp = 0; /* cnm_ct_touch4(): a TCP connection */

		if (k != NULL) {
			addrs = key4_addrs(k);
			ports = key4_ports(k);
			udp = key_udp(k);
		}
		e = ct4_find_in(&ct->b4[ct4_b1(ct, sig)], addrs, ports, udp);
		if (e == NULL)
			e = ct4_find_in(&ct->b4[ct4_b2(ct, sig)], addrs, ports, udp);
		if (e == NULL)
			return -ENOENT;
		memcpy(&v, c, sizeof(v));
		e->val = v;
		return 1;
	}
	/* Updates the data word of the existing key; never takes a new slot,
	 * so it works in a full table. Re-adding a key that was removed
	 * meanwhile would take a slot behind our back: check first. */
	if (ct_position(ct, k, sig) < 0)
		return -ENOENT;
	ret = rte_hash_add_key_with_hash_data(ct->h, k, sig, conn_pack(c));
	if (ret < 0)
		return ret;
	return 1;
}

int
cnm_ct_touch(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		struct cnm_conn *c, uint8_t tcp_flags, uint32_t now)
{
	return cnm_ct_tcp_due(ct, c, tcp_flags, now) ? ct_writeback(ct, k, 0, 0, sig, c) : 0;
}

int
cnm_ct_writeback4(struct cnm_ct *ct, uint64_t addrs, uint32_t ports, hash_sig_t sig,
		const struct cnm_conn *c)
{
	return ct_writeback(ct, NULL, addrs, ports, sig, c);
}

int
cnm_ct_touch_udp(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		struct cnm_conn *c, uint32_t timeout_ms, uint32_t now)
{
	uint32_t expire = now + timeout_ms;
	uint32_t refresh = RTE_MIN(ct->t.refresh, RTE_MAX(1u, timeout_ms / 4));

	if ((int32_t)(expire - c->expire) < (int32_t)refresh)
		return 0;
	c->expire = expire;
	return ct_writeback(ct, k, 0, 0, sig, c);
}

/* @p udp: 1 when the entry removed was a UDP flow's */
static void
ct6_remove(struct cnm_ct *ct, uint32_t pos, int udp)
{
	used_clear(ct, pos);
	ct->count6--;
	ct->count_udp -= (uint32_t)udp;
}

int
cnm_ct_del(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig)
{
	int32_t pos;

	if (key_is4(k)) {
		struct ct4_ent *e = ct4_find(ct, k, sig);
		size_t at;

		if (e == NULL)
			return -ENOENT;
		at = (size_t)((const char *)e - (const char *)ct->b4) / sizeof(struct ct4_bucket);
		ct4_remove(ct, &ct->b4[at], (unsigned int)(e - &ct->b4[at].e[0]));
		ct->stats.deleted++;
		return 0;
	}
	pos = rte_hash_del_key_with_hash(ct->h, k, sig);
	if (pos < 0)
		return pos;
	ct6_remove(ct, (uint32_t)pos, key_udp(k));
	ct->stats.deleted++;
	return 0;
}

/*
 * Read the entry at a used rte_hash position (IPv6): a copy of its key and
 * value, and its hash. @return 0, or -ENOENT when the position holds no entry
 * (its bit is then cleared; it cannot happen while the bitmap and the table
 * agree).
 */
static int
ct6_read(struct cnm_ct *ct, uint32_t pos, struct cnm_conn_key *k, hash_sig_t *sig,
		struct cnm_conn *c)
{
	void *kp, *data;

	if (rte_hash_get_key_with_position(ct->h, (int32_t)pos, &kp) != 0)
		goto stale;
	memcpy(k, kp, sizeof(*k));
	*sig = rte_hash_hash(ct->h, k);
	if (rte_hash_lookup_with_hash_data(ct->h, k, *sig, &data) != (int32_t)pos)
		goto stale;
	conn_unpack(data, c);
	return 0;
stale:
	/* the key is not known: the UDP count may be one off from here on */
	CT_LOG(ERR, "position %u marked used holds no entry", pos);
	ct6_remove(ct, pos, 0);
	return -ENOENT;
}

/* The key of an IPv4 entry. */
static void
ct4_key(const struct ct4_ent *e, struct cnm_conn_key *k)
{
	uint64_t a = e->addrs;
	uint32_t s = (uint32_t)a, d = (uint32_t)(a >> 32), p = e->ports;

	cnm_conn_key_v4(s, d, (uint16_t)p, (uint16_t)(p >> 16),
			ct4_val_udp(e->val) ? IPPROTO_UDP : CNM_CONN_KEY_TCP, k);
}

/*
 * The entry at position @p pos, if any: a copy of its key and value.
 * @return 1 when there is one (with *@p at4 its IPv4 bucket entry, or NULL
 * for IPv6, and *@p sig its hash), 0 when the position is free.
 */
static int
ct_at(struct cnm_ct *ct, uint32_t pos, struct cnm_conn_key *k, hash_sig_t *sig,
		struct cnm_conn *c, struct ct4_ent **at4)
{
	if (pos < ct->slots4) {
		struct ct4_bucket *b = &ct->b4[pos / CT4_WAYS];
		unsigned int w = pos % CT4_WAYS;
		uint64_t v;

		if (!((b->used >> w) & 1))
			return 0;
		v = b->e[w].val;
		memcpy(c, &v, sizeof(*c));
		ct4_key(&b->e[w], k);
		*sig = ct4_hash(b->e[w].addrs, b->e[w].ports, ct4_val_kproto(v));
		*at4 = &b->e[w];
		return 1;
	}
	pos -= ct->slots4;
	*at4 = NULL;
	if (!used_test(ct, pos) || ct6_read(ct, pos, k, sig, c) != 0)
		return 0;
	return 1;
}

/* Remove the entry ct_at() found at @p pos. */
static int
ct_del_at(struct cnm_ct *ct, uint32_t pos, const struct cnm_conn_key *k, hash_sig_t sig,
		struct ct4_ent *at4)
{
	int32_t ret;

	if (at4 != NULL) {
		ct4_remove(ct, &ct->b4[pos / CT4_WAYS], pos % CT4_WAYS);
		return 0;
	}
	ret = rte_hash_del_key_with_hash(ct->h, k, sig);
	if (ret < 0)
		return ret;
	RTE_VERIFY((uint32_t)ret == pos - ct->slots4);
	ct6_remove(ct, pos - ct->slots4, key_udp(k));
	return 0;
}

/*
 * Never inlined: the sweep runs on wall-clock time (once a millisecond), not
 * per packet, and tests/perf/callgrind.py takes its cost out by its name;
 * inlined by LTO into the worker's loop it was counted as per-packet work
 * (some 700 instructions a packet with 1M entries under valgrind's clock).
 */
__rte_noinline uint32_t
cnm_ct_expire(struct cnm_ct *ct, uint32_t now, uint32_t budget)
{
	uint32_t slots = ct->slots;
	uint32_t removed = 0, removed_udp = 0;
	struct cnm_conn_key k;
	struct ct4_ent *at4;
	struct cnm_conn c;
	hash_sig_t sig;

	while (budget-- > 0 && ct->count4 + ct->count6 > 0) {
		uint32_t pos = ct->cursor;

		ct->cursor = pos + 1 < slots ? pos + 1 : 0;
		if (pos < ct->slots4) {
			/* IPv4: the value in the bucket, no key to rebuild */
			struct ct4_bucket *b = &ct->b4[pos / CT4_WAYS];
			unsigned int w = pos % CT4_WAYS;
			uint64_t v;

			if (!((b->used >> w) & 1))
				continue;
			v = b->e[w].val;
			memcpy(&c, &v, sizeof(c));
			if (cnm_conn_expired(&c, now)) {
				removed_udp += c.state == CNM_CONN_UDP;
				ct4_remove(ct, b, w);
				removed++;
			}
			continue;
		}
		if (!ct_at(ct, pos, &k, &sig, &c, &at4))
			continue;
		if (cnm_conn_expired(&c, now) && ct_del_at(ct, pos, &k, sig, at4) == 0) {
			removed++;
			removed_udp += key_udp(&k);
		}
	}
	ct->stats.expired += removed;
	ct->stats.expired_udp += removed_udp;
	return removed;
}

uint32_t
cnm_ct_count(const struct cnm_ct *ct)
{
	return ct->count4 + ct->count6;
}

uint32_t
cnm_ct_count_udp(const struct cnm_ct *ct)
{
	return ct->count_udp;
}

uint32_t
cnm_ct_capacity(const struct cnm_ct *ct)
{
	return ct->max4;
}

uint32_t
cnm_ct_capacity6(const struct cnm_ct *ct)
{
	return ct->max6;
}

void
cnm_ct_stats_get(const struct cnm_ct *ct, struct cnm_ct_stats *s)
{
	*s = ct->stats;
}

int
cnm_ct_walk(struct cnm_ct *ct,
		int (*fn)(const struct cnm_conn_key *k, const struct cnm_conn *c, void *arg),
		void *arg)
{
	uint32_t pos = 0;

	return cnm_ct_walk_slice(ct, &pos, UINT32_MAX, fn, arg);
}

uint32_t
cnm_ct_slots(const struct cnm_ct *ct)
{
	return ct->slots;
}

int
cnm_ct_walk_slice(struct cnm_ct *ct, uint32_t *pos, uint32_t budget,
		int (*fn)(const struct cnm_conn_key *k, const struct cnm_conn *c, void *arg),
		void *arg)
{
	uint32_t end = *pos + budget < *pos || *pos + budget > ct->slots ? ct->slots :
		*pos + budget;
	struct cnm_conn_key k;
	struct ct4_ent *at4;
	struct cnm_conn c;
	hash_sig_t sig;
	int ret;

	while (*pos < end) {
		uint32_t p = (*pos)++;

		if (!ct_at(ct, p, &k, &sig, &c, &at4))
			continue;
		ret = fn(&k, &c, arg);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* Remove every entry whose node (by_node) or service matches id. */
static uint32_t
ct_flush(struct cnm_ct *ct, int by_node, uint16_t id)
{
	uint32_t slots = ct->slots;
	uint32_t pos, removed = 0;
	struct cnm_conn_key k;
	struct ct4_ent *at4;
	struct cnm_conn c;
	hash_sig_t sig;

	for (pos = 0; pos < slots && ct->count4 + ct->count6 > 0; pos++) {
		if (!ct_at(ct, pos, &k, &sig, &c, &at4))
			continue;
		if ((by_node ? c.node : c.svc) != id)
			continue;
		if (ct_del_at(ct, pos, &k, sig, at4) == 0)
			removed++;
	}
	ct->stats.flushed += removed;
	return removed;
}

uint32_t
cnm_ct_flush_node(struct cnm_ct *ct, uint16_t node)
{
	return ct_flush(ct, 1, node);
}

uint32_t
cnm_ct_flush_svc(struct cnm_ct *ct, uint16_t svc)
{
	return ct_flush(ct, 0, svc);
}

uint64_t
cnm_ct_memsize(uint32_t max4, uint32_t max6)
{
	uint64_t nb = ((uint64_t)max4 * 100 / CT4_LOAD_PCT + CT4_WAYS - 1) / CT4_WAYS;
	uint32_t e6 = RTE_MAX(max6, 8u);

	/* as cnm_ct_create2() allocates: the handle, the IPv4 buckets, the
	 * bitmap of IPv6 positions, the IPv6 rte_hash */
	return sizeof(struct cnm_ct) + RTE_MAX(nb, 2u) * sizeof(struct ct4_bucket) +
		((uint64_t)e6 + 63) / 64 * 8 +
		cnm_hash_memsize(e6, sizeof(struct cnm_conn_key), 0);
}
