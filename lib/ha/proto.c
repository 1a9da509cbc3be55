/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The checkpoint protocol's framing and order rules (docs/ha.md). Pure: no
 * EAL, no socket; the unit tests and fuzz_ha call it directly.
 *
 * Header, 64 bytes, little-endian:
 *   0  magic "CNHA"     4  version (2)   5  type   6  flags (u16)
 *   8  payload length (u32)             12  epoch (u64)   20  seq (u64)
 *   28 CRC32-C of the header (with this field 0) and the payload
 *   32 tag: HMAC-SHA-256 (libsodium) under the connection's key of the
 *      message counter (u64) and bytes 0-27 of the header and the payload;
 *      zeros on a trusted segment (no key)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <rte_hash_crc.h>

#include "cnm_ha.h"

static const char *const reject_names[CNM_HA_R_MAX] = {
	[CNM_HA_OK] = "ok",
	[CNM_HA_R_TRUNCATED] = "truncated",
	[CNM_HA_R_MAGIC] = "magic",
	[CNM_HA_R_VERSION] = "version",
	[CNM_HA_R_TYPE] = "type",
	[CNM_HA_R_OVERSIZE] = "oversize",
	[CNM_HA_R_CRC] = "crc",
	[CNM_HA_R_PAYLOAD] = "payload",
	[CNM_HA_R_OLD_EPOCH] = "old_epoch",
	[CNM_HA_R_DUPLICATE] = "duplicate",
	[CNM_HA_R_GAP] = "gap",
	[CNM_HA_R_NOT_PRIMARY] = "not_primary",
	[CNM_HA_R_APPLY] = "apply_failed",
	[CNM_HA_R_DIGEST] = "digest_mismatch",
	[CNM_HA_R_AUTH] = "auth",
	[CNM_HA_R_PEER] = "peer",
	[CNM_HA_R_TERM] = "term",
	[CNM_HA_R_BUDGET] = "budget",
	[CNM_HA_R_ACK] = "ack",
};

const char *
cnm_ha_reject_name(enum cnm_ha_reject r)
{
	return (unsigned int)r < CNM_HA_R_MAX ? reject_names[r] : "?";
}

const char *
cnm_ha_type_name(uint8_t type)
{
	static const char *const names[CNM_HA_TYPE_MAX] = {
		[CNM_HA_HELLO] = "hello", [CNM_HA_SNAPSHOT] = "snapshot",
		[CNM_HA_DELTA] = "delta", [CNM_HA_ACK] = "ack",
		[CNM_HA_HEARTBEAT] = "heartbeat", [CNM_HA_CONNS] = "conns",
		[CNM_HA_AUTH] = "auth",
	};

	return type > 0 && type < CNM_HA_TYPE_MAX ? names[type] : "?";
}

uint64_t
cnm_fnv1a64(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void
put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t
get32(const uint8_t *p)
{
	return get16(p) | ((uint32_t)get16(p + 2) << 16);
}

static uint64_t
get64(const uint8_t *p)
{
	return get32(p) | ((uint64_t)get32(p + 4) << 32);
}

uint32_t
cnm_ha_type_max(uint8_t type)
{
	switch (type) {
	case CNM_HA_HELLO:
	case CNM_HA_HEARTBEAT:
		return CNM_HA_HELLO_MAX;
	case CNM_HA_ACK:
		return 0;
	case CNM_HA_AUTH:
		return CNM_HA_AUTH_MAX;
	case CNM_HA_CONNS:
		return CNM_HA_CONNS_MAX_BYTES;
	case CNM_HA_SNAPSHOT:
	case CNM_HA_DELTA:
		return CNM_HA_PAYLOAD_MAX;
	}
	return CNM_HA_PAYLOAD_MAX;
}

/* CRC32-C of the header with its CRC field taken as 0, then the payload. */
static uint32_t
frame_crc(const uint8_t *hdr, const uint8_t *payload, uint32_t len)
{
	uint8_t h[CNM_HA_HDR_LEN];
	uint32_t crc;

	memcpy(h, hdr, sizeof(h));
	memset(h + 28, 0, 4);
	crc = rte_hash_crc(h, sizeof(h), 0xffffffffu);
	if (len > 0)
		crc = rte_hash_crc(payload, len, crc);
	return crc;
}

int
cnm_ha_crypto_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

/* HMAC-SHA-256 under @p key of the counter, the header's first 28 bytes and the payload. */
static void
frame_tag(const uint8_t *key, size_t keylen, uint64_t ctr, const uint8_t *frame,
		const uint8_t *payload, uint32_t len, uint8_t tag[CNM_HA_TAG_LEN])
{
	crypto_auth_hmacsha256_state st;
	uint8_t c[8];

	put64(c, ctr);
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, c, sizeof(c));
	crypto_auth_hmacsha256_update(&st, frame, 28);
	if (len > 0)
		crypto_auth_hmacsha256_update(&st, payload, len);
	crypto_auth_hmacsha256_final(&st, tag);
	sodium_memzero(&st, sizeof(st));
}

int
cnm_ha_verify(const uint8_t *frame, size_t len, const uint8_t *key, size_t keylen, uint64_t ctr)
{
	uint8_t tag[CNM_HA_TAG_LEN];
	int ok;

	if (len < CNM_HA_HDR_LEN)
		return -1;
	frame_tag(key, keylen, ctr, frame, frame + CNM_HA_HDR_LEN,
		  (uint32_t)(len - CNM_HA_HDR_LEN), tag);
	ok = crypto_verify_32(tag, frame + 32) == 0;
	sodium_memzero(tag, sizeof(tag));
	return ok ? 0 : -1;
}

void
cnm_ha_session_key(const uint8_t *key, size_t keylen, const char *dir, const uint8_t *nonce_c,
		const uint8_t *nonce_a, const char *id_c, const char *id_a,
		uint8_t out[CNM_HA_TAG_LEN])
{
	static const char label[] = "cnmux-ha v2 session";
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, sizeof(label));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)dir, strlen(dir) + 1);
	crypto_auth_hmacsha256_update(&st, nonce_c, CNM_HA_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, nonce_a, CNM_HA_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)id_c, strlen(id_c) + 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)id_a, strlen(id_a) + 1);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void
cnm_ha_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

int
cnm_ha_encode_auth(uint8_t type, uint16_t flags, uint64_t epoch, uint64_t seq,
		const void *payload, uint32_t len, const uint8_t *key, size_t keylen, uint64_t ctr,
		uint8_t **out, size_t *outlen)
{
	uint8_t *b;

	if (type == 0 || type >= CNM_HA_TYPE_MAX || len > cnm_ha_type_max(type) ||
	    (len > 0 && payload == NULL))
		return -EINVAL;
	b = malloc(CNM_HA_HDR_LEN + (size_t)len);
	if (b == NULL)
		return -ENOMEM;
	memset(b, 0, CNM_HA_HDR_LEN);
	put32(b, CNM_HA_MAGIC);
	b[4] = CNM_HA_VERSION;
	b[5] = type;
	put16(b + 6, flags);
	put32(b + 8, len);
	put64(b + 12, epoch);
	put64(b + 20, seq);
	if (len > 0)
		memcpy(b + CNM_HA_HDR_LEN, payload, len);
	if (key != NULL)
		frame_tag(key, keylen, ctr, b, b + CNM_HA_HDR_LEN, len, b + 32);
	put32(b + 28, frame_crc(b, b + CNM_HA_HDR_LEN, len));
	*out = b;
	*outlen = CNM_HA_HDR_LEN + (size_t)len;
	return 0;
}

int
cnm_ha_encode(uint8_t type, uint16_t flags, uint64_t epoch, uint64_t seq,
		const void *payload, uint32_t len, uint8_t **out, size_t *outlen)
{
	return cnm_ha_encode_auth(type, flags, epoch, seq, payload, len, NULL, 0, 0, out, outlen);
}

long
cnm_ha_decode(const uint8_t *buf, size_t len, struct cnm_ha_hdr *h, const uint8_t **payload)
{
	/* what can be judged is judged as soon as its bytes are there */
	if (len >= 4 && get32(buf) != CNM_HA_MAGIC)
		return -CNM_HA_R_MAGIC;
	if (len >= 5 && buf[4] != CNM_HA_VERSION)
		return -CNM_HA_R_VERSION;
	if (len < CNM_HA_HDR_LEN)
		return 0;
	h->version = buf[4];
	h->type = buf[5];
	h->flags = get16(buf + 6);
	h->len = get32(buf + 8);
	h->epoch = get64(buf + 12);
	h->seq = get64(buf + 20);
	/* the limit of the type, from the header: nothing of a longer payload
	 * is buffered */
	if (h->len > cnm_ha_type_max(h->type))
		return -CNM_HA_R_OVERSIZE;
	if (len < CNM_HA_HDR_LEN + (size_t)h->len)
		return 0;
	if (frame_crc(buf, buf + CNM_HA_HDR_LEN, h->len) != get32(buf + 28))
		return -CNM_HA_R_CRC;
	/* after the CRC: a known type with a bad checksum is a corruption */
	if (h->type == 0 || h->type >= CNM_HA_TYPE_MAX)
		return -CNM_HA_R_TYPE;
	*payload = buf + CNM_HA_HDR_LEN;
	return (long)(CNM_HA_HDR_LEN + h->len);
}

enum cnm_ha_reject
cnm_ha_order(uint64_t term, uint64_t epoch, uint64_t seq, uint8_t type, uint64_t m_epoch,
		uint64_t m_seq)
{
	if (m_epoch < term)
		return CNM_HA_R_OLD_EPOCH;
	if (type == CNM_HA_SNAPSHOT) {
		if (m_epoch == epoch && m_seq <= seq)
			return CNM_HA_R_DUPLICATE;
		return CNM_HA_OK;
	}
	if (m_epoch != epoch)
		return m_epoch < epoch ? CNM_HA_R_OLD_EPOCH : CNM_HA_R_GAP;
	if (m_seq <= seq)
		return CNM_HA_R_DUPLICATE;
	if (m_seq != seq + 1)
		return CNM_HA_R_GAP;
	return CNM_HA_OK;
}
