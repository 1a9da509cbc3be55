/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The checkpoint protocol's framing and order rules (docs/ha.md). Pure: no
 * EAL, no socket; the unit tests and fuzz_ha call it directly.
 *
 * Header, 32 bytes, little-endian:
 *   0  magic "CNHA"     4  version (1)   5  type   6  flags (u16)
 *   8  payload length (u32)             12  epoch (u64)   20  seq (u64)
 *   28 CRC32-C of the header (with this field 0) and the payload
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
cnm_ha_encode(uint8_t type, uint16_t flags, uint64_t epoch, uint64_t seq,
		const void *payload, uint32_t len, uint8_t **out, size_t *outlen)
{
	uint8_t *b;

	if (type == 0 || type >= CNM_HA_TYPE_MAX || len > CNM_HA_PAYLOAD_MAX ||
	    (len > 0 && payload == NULL))
		return -EINVAL;
	b = malloc(CNM_HA_HDR_LEN + (size_t)len);
	if (b == NULL)
		return -ENOMEM;
	put32(b, CNM_HA_MAGIC);
	b[4] = CNM_HA_VERSION;
	b[5] = type;
	put16(b + 6, flags);
	put32(b + 8, len);
	put64(b + 12, epoch);
	put64(b + 20, seq);
	put32(b + 28, 0);
	if (len > 0)
		memcpy(b + CNM_HA_HDR_LEN, payload, len);
	put32(b + 28, frame_crc(b, b + CNM_HA_HDR_LEN, len));
	*out = b;
	*outlen = CNM_HA_HDR_LEN + (size_t)len;
	return 0;
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
	if (h->len > CNM_HA_PAYLOAD_MAX)
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
