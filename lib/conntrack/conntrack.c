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

struct cnm_ct {
	/* hot: read on every packet */
	struct rte_hash *h;
	uint32_t timeout[3];  /* by enum cnm_conn_state */
	uint32_t refresh;
	uint32_t count;
	uint32_t max;
	uint32_t slots;       /* positions rte_hash hands out: 0 .. slots - 1 */
	uint32_t cursor;      /* next position cnm_ct_expire() looks at */
	uint64_t *used;       /* bit per rte_hash position: holds an entry */
	struct cnm_ct_stats stats __rte_cache_aligned;
} __rte_cache_aligned;

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

/* State after a segment with these flags. CLOSING is final. */
static inline uint8_t
conn_next_state(uint8_t state, uint8_t tcp_flags)
{
	if (state == CNM_CONN_CLOSING || (tcp_flags & (CNM_TCP_FIN | CNM_TCP_RST)))
		return CNM_CONN_CLOSING;
	if (tcp_flags & CNM_TCP_ACK)
		return CNM_CONN_ESTABLISHED;
	return state;
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
cnm_ct_create(const char *name, uint32_t max_entries, int socket_id,
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
	uint32_t tmin;
	int n;

	if (name == NULL || t == NULL || max_entries == 0 ||
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
	p.entries = RTE_MAX(max_entries, 8u);

	ct = rte_zmalloc_socket("cnm_ct", sizeof(*ct), RTE_CACHE_LINE_SIZE, socket_id);
	if (ct == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	/* Positions from rte_hash are below p.entries (no per-lcore cache). */
	ct->used = rte_zmalloc_socket("cnm_ct_used",
			sizeof(uint64_t) * ((p.entries + 63) / 64),
			RTE_CACHE_LINE_SIZE, socket_id);
	if (ct->used == NULL) {
		rte_free(ct);
		rte_errno = ENOMEM;
		return NULL;
	}
	ct->h = rte_hash_create(&p);
	if (ct->h == NULL) {
		int e = rte_errno;

		CT_LOG(ERR, "%s: rte_hash_create(%u entries): %s", name, p.entries,
				rte_strerror(e));
		rte_free(ct->used);
		rte_free(ct);
		rte_errno = e;
		return NULL;
	}
	ct->max = max_entries;
	ct->slots = p.entries;
	ct->timeout[CNM_CONN_SYN] = t->syn;
	ct->timeout[CNM_CONN_ESTABLISHED] = t->established;
	ct->timeout[CNM_CONN_CLOSING] = t->closing;
	tmin = RTE_MIN(t->syn, RTE_MIN(t->established, t->closing));
	ct->refresh = t->refresh != 0 ? t->refresh :
		RTE_MAX(1u, RTE_MIN(CT_REFRESH_DEFAULT, tmin / 4));
	return ct;
}

void
cnm_ct_free(struct cnm_ct *ct)
{
	if (ct == NULL)
		return;
	rte_hash_free(ct->h);
	rte_free(ct->used);
	rte_free(ct);
}

hash_sig_t
cnm_ct_hash(const struct cnm_ct *ct, const struct cnm_conn_key *k)
{
	return rte_hash_hash(ct->h, k);
}

uint64_t
cnm_ct_lookup_bulk(struct cnm_ct *ct, const struct cnm_conn_key *const *keys,
		unsigned int n, hash_sig_t *sig, struct cnm_conn *conn)
{
	void *data[CNM_CT_BULK_MAX];
	uint64_t hits = 0;
	uint64_t m;
	unsigned int i;

	if (n == 0 || n > CNM_CT_BULK_MAX)
		return 0;
	/* Hashes first: rte_hash prefetches the buckets of all keys before it
	 * compares any of them. */
	for (i = 0; i < n; i++)
		sig[i] = ct_key_hash(keys[i], sizeof(struct cnm_conn_key), CT_HASH_SEED);
	if (rte_hash_lookup_with_hash_bulk_data(ct->h, (const void **)(uintptr_t)keys,
			sig, n, &hits, data) < 0)
		return 0;
	for (m = hits; m != 0; m &= m - 1) {
		i = (unsigned int)__builtin_ctzll(m);
		conn_unpack(data[i], &conn[i]);
	}
	return hits;
}

/* Position of a key known to be in the table (its bucket is in cache). */
static int32_t
ct_position(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig)
{
	return rte_hash_lookup_with_hash(ct->h, k, sig);
}

int32_t
cnm_ct_insert(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		uint16_t node, uint16_t svc, uint8_t tcp_flags, uint32_t now)
{
	struct cnm_conn c;

	if (svc >= (1u << 14))
		return -EINVAL;
	c.state = conn_next_state(CNM_CONN_SYN, tcp_flags);
	c.expire = now + ct->timeout[c.state];
	c.node = node;
	c.svc = svc;
	return cnm_ct_restore(ct, k, sig, &c);
}

int32_t
cnm_ct_restore(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
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
		return pos;
	}
	if (ct->count >= ct->max) {
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
	ct->count++;
	ct->stats.inserted++;
	return pos;
}

/*
 * Write a changed entry back. Out of line: it is the rare part of
 * cnm_ct_touch(), and tests/perf/callgrind.py finds it by name (under
 * valgrind's slow clock nearly every hit writes back).
 */
static __rte_noinline int
ct_writeback(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig,
		const struct cnm_conn *c)
{
	int ret;

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
	uint8_t state = conn_next_state(c->state, tcp_flags);
	uint32_t expire = now + ct->timeout[state];

	if (state == c->state && (int32_t)(expire - c->expire) < (int32_t)ct->refresh)
		return 0;
	c->state = state;
	c->expire = expire;
	return ct_writeback(ct, k, sig, c);
}

static void
ct_remove(struct cnm_ct *ct, uint32_t pos)
{
	used_clear(ct, pos);
	ct->count--;
}

int
cnm_ct_del(struct cnm_ct *ct, const struct cnm_conn_key *k, hash_sig_t sig)
{
	int32_t pos = rte_hash_del_key_with_hash(ct->h, k, sig);

	if (pos < 0)
		return pos;
	ct_remove(ct, (uint32_t)pos);
	ct->stats.deleted++;
	return 0;
}

/*
 * Read the entry at a used position: a copy of its key and value, and its
 * hash. @return 0, or -ENOENT when the position holds no entry (its bit is
 * then cleared; it cannot happen while the bitmap and the table agree).
 */
static int
ct_read(struct cnm_ct *ct, uint32_t pos, struct cnm_conn_key *k, hash_sig_t *sig,
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
	CT_LOG(ERR, "position %u marked used holds no entry", pos);
	ct_remove(ct, pos);
	return -ENOENT;
}

static int
ct_del_at(struct cnm_ct *ct, uint32_t pos, const struct cnm_conn_key *k, hash_sig_t sig)
{
	int32_t ret = rte_hash_del_key_with_hash(ct->h, k, sig);

	if (ret < 0)
		return ret;
	RTE_VERIFY((uint32_t)ret == pos);
	ct_remove(ct, pos);
	return 0;
}

uint32_t
cnm_ct_expire(struct cnm_ct *ct, uint32_t now, uint32_t budget)
{
	uint32_t slots = ct->slots;
	uint32_t removed = 0;
	struct cnm_conn_key k;
	struct cnm_conn c;
	hash_sig_t sig;

	while (budget-- > 0 && ct->count > 0) {
		uint32_t pos = ct->cursor;

		ct->cursor = pos + 1 < slots ? pos + 1 : 0;
		if (!used_test(ct, pos))
			continue;
		if (ct_read(ct, pos, &k, &sig, &c) != 0)
			continue;
		if (cnm_conn_expired(&c, now) && ct_del_at(ct, pos, &k, sig) == 0)
			removed++;
	}
	ct->stats.expired += removed;
	return removed;
}

uint32_t
cnm_ct_count(const struct cnm_ct *ct)
{
	return ct->count;
}

uint32_t
cnm_ct_capacity(const struct cnm_ct *ct)
{
	return ct->max;
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
	uint32_t slots = ct->slots;
	struct cnm_conn_key k;
	struct cnm_conn c;
	hash_sig_t sig;
	uint32_t pos;
	int ret;

	for (pos = 0; pos < slots; pos++) {
		if (!used_test(ct, pos) || ct_read(ct, pos, &k, &sig, &c) != 0)
			continue;
		ret = fn(&k, &c, arg);
		if (ret != 0)
			return ret;
	}
	return 0;
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
	struct cnm_conn c;
	hash_sig_t sig;
	int ret;

	while (*pos < end) {
		uint32_t p = (*pos)++;

		if (!used_test(ct, p) || ct_read(ct, p, &k, &sig, &c) != 0)
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
	struct cnm_conn c;
	hash_sig_t sig;

	for (pos = 0; pos < slots && ct->count > 0; pos++) {
		if (!used_test(ct, pos) || ct_read(ct, pos, &k, &sig, &c) != 0)
			continue;
		if ((by_node ? c.node : c.svc) != id)
			continue;
		if (ct_del_at(ct, pos, &k, sig) == 0)
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
