/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the checkpoint protocol (lib/ha/proto.c): framing, checksum,
 * the order rules of epochs and sequence numbers.
 *
 * A small replica model (struct replica) feeds a byte stream through
 * cnm_ha_decode() and cnm_ha_order() the way ha.c does, and counts what it
 * applies and what it rejects by reason: every bad message must be rejected
 * with the right reason and never applied.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_hash_crc.h>

#include "cnm_ha.h"

struct replica {
	uint64_t term, epoch, seq;
	uint64_t applied;
	uint64_t rejected[CNM_HA_R_MAX];
	int closed;     /* the connection was closed (framing lost) */
};

static void
rep_init(struct replica *r, uint64_t epoch, uint64_t seq)
{
	memset(r, 0, sizeof(*r));
	r->term = epoch;
	r->epoch = epoch;
	r->seq = seq;
}

/* Feed a whole stream (and its end when @p eof). */
static void
rep_feed(struct replica *r, const uint8_t *b, size_t len, int eof)
{
	while (!r->closed && len > 0) {
		struct cnm_ha_hdr h;
		const uint8_t *pl = NULL;
		long n = cnm_ha_decode(b, len, &h, &pl);
		enum cnm_ha_reject why;

		if (n == 0)
			break;
		if (n < 0) {
			r->rejected[-n]++;
			r->closed = 1;
			return;
		}
		if (h.type == CNM_HA_SNAPSHOT || h.type == CNM_HA_DELTA) {
			why = cnm_ha_order(r->term, r->epoch, r->seq, h.type, h.epoch, h.seq);
			if (why != CNM_HA_OK) {
				r->rejected[why]++;
			} else {
				r->applied++;
				r->epoch = h.epoch;
				r->term = h.epoch > r->term ? h.epoch : r->term;
				r->seq = h.seq;
			}
		}
		b += n;
		len -= (size_t)n;
	}
	if (eof && !r->closed && len > 0)
		r->rejected[CNM_HA_R_TRUNCATED]++;
}

static uint8_t *
msg(uint8_t type, uint64_t epoch, uint64_t seq, const char *payload, size_t *len)
{
	uint8_t *b = NULL;

	assert_int_equal(cnm_ha_encode(type, 0, epoch, seq, payload,
				       payload ? (uint32_t)strlen(payload) : 0, &b, len), 0);
	return b;
}

static uint64_t
total_rejected(const struct replica *r)
{
	uint64_t t = 0;
	int i;

	for (i = 1; i < CNM_HA_R_MAX; i++)
		t += r->rejected[i];
	return t;
}

static void
test_roundtrip(void **state)
{
	struct cnm_ha_hdr h;
	const uint8_t *pl;
	uint8_t *b;
	size_t len;
	long n;

	(void)state;
	b = msg(CNM_HA_DELTA, 7, 42, "{\"x\":1}", &len);
	assert_int_equal(len, CNM_HA_HDR_LEN + 7);
	assert_memory_equal(b, "CNHA", 4);
	assert_int_equal(b[4], CNM_HA_VERSION);
	n = cnm_ha_decode(b, len, &h, &pl);
	assert_int_equal(n, (long)len);
	assert_int_equal(h.type, CNM_HA_DELTA);
	assert_int_equal(h.epoch, 7);
	assert_int_equal(h.seq, 42);
	assert_int_equal(h.len, 7);
	assert_memory_equal(pl, "{\"x\":1}", 7);
	/* every prefix asks for more bytes */
	for (size_t k = 5; k < len; k++)
		assert_int_equal(cnm_ha_decode(b, k, &h, &pl), 0);
	free(b);
	/* empty payload */
	b = msg(CNM_HA_ACK, 1, 2, NULL, &len);
	assert_int_equal(cnm_ha_decode(b, len, &h, &pl), (long)CNM_HA_HDR_LEN);
	free(b);
	/* encode refuses an unknown type */
	assert_int_equal(cnm_ha_encode(0, 0, 0, 0, NULL, 0, &b, &len), -EINVAL);
	assert_int_equal(cnm_ha_encode(CNM_HA_TYPE_MAX, 0, 0, 0, NULL, 0, &b, &len), -EINVAL);
}

static void
test_in_order_applied(void **state)
{
	struct replica r;
	uint8_t *a, *b, *c;
	size_t la, lb, lc;
	uint8_t buf[4096];

	(void)state;
	rep_init(&r, 0, 0);
	a = msg(CNM_HA_SNAPSHOT, 1, 5, "{}", &la);
	b = msg(CNM_HA_DELTA, 1, 6, "{}", &lb);
	c = msg(CNM_HA_DELTA, 1, 7, "{}", &lc);
	memcpy(buf, a, la);
	memcpy(buf + la, b, lb);
	memcpy(buf + la + lb, c, lc);
	/* byte by byte: the stream may arrive cut anywhere */
	for (size_t k = 0; k < la + lb + lc; k++) {
		struct replica t;

		rep_init(&t, 0, 0);
		rep_feed(&t, buf, k, 0);
		assert_int_equal(total_rejected(&t), 0);
	}
	rep_feed(&r, buf, la + lb + lc, 1);
	assert_int_equal(r.applied, 3);
	assert_int_equal(r.seq, 7);
	assert_int_equal(total_rejected(&r), 0);
	free(a);
	free(b);
	free(c);
}

static void
test_truncated(void **state)
{
	struct replica r;
	uint8_t *b;
	size_t len;

	(void)state;
	rep_init(&r, 1, 5);
	b = msg(CNM_HA_DELTA, 1, 6, "{\"config\":{}}", &len);
	rep_feed(&r, b, len - 3, 1);
	assert_int_equal(r.rejected[CNM_HA_R_TRUNCATED], 1);
	assert_int_equal(r.applied, 0);
	/* cut inside the header */
	rep_init(&r, 1, 5);
	rep_feed(&r, b, 10, 1);
	assert_int_equal(r.rejected[CNM_HA_R_TRUNCATED], 1);
	assert_int_equal(r.applied, 0);
	free(b);
}

static void
test_corrupted(void **state)
{
	struct replica r;
	uint8_t *b;
	size_t len, i;

	(void)state;
	b = msg(CNM_HA_DELTA, 1, 6, "{\"config\":{}}", &len);
	/* any flipped bit after the version byte is caught by the CRC (or
	 * by the length check when it makes the payload huge) */
	for (i = 5; i < len; i++) {
		struct cnm_ha_hdr h;
		const uint8_t *pl;
		long n;

		b[i] ^= 0x10;
		n = cnm_ha_decode(b, len, &h, &pl);
		assert_true(n == -CNM_HA_R_CRC || n == -CNM_HA_R_OVERSIZE || n == 0);
		rep_init(&r, 1, 5);
		rep_feed(&r, b, len, 1);
		assert_int_equal(r.applied, 0);
		assert_int_equal(total_rejected(&r), 1);
		b[i] ^= 0x10;
	}
	rep_init(&r, 1, 5);
	b[len - 1] ^= 1;
	rep_feed(&r, b, len, 1);
	assert_int_equal(r.rejected[CNM_HA_R_CRC], 1);
	assert_int_equal(r.applied, 0);
	free(b);
}

static void
test_magic_version_type_oversize(void **state)
{
	struct cnm_ha_hdr h;
	const uint8_t *pl;
	struct replica r;
	uint8_t *b;
	size_t len;

	(void)state;
	b = msg(CNM_HA_DELTA, 1, 6, "{}", &len);
	b[0] = 'X';
	assert_int_equal(cnm_ha_decode(b, len, &h, &pl), -CNM_HA_R_MAGIC);
	/* judged as soon as the 4 bytes are there */
	assert_int_equal(cnm_ha_decode(b, 4, &h, &pl), -CNM_HA_R_MAGIC);
	free(b);

	b = msg(CNM_HA_DELTA, 1, 6, "{}", &len);
	b[4] = 1; /* the version before the MAC */
	rep_init(&r, 1, 5);
	rep_feed(&r, b, len, 1);
	assert_int_equal(r.rejected[CNM_HA_R_VERSION], 1);
	assert_int_equal(r.applied, 0);
	assert_int_equal(cnm_ha_decode(b, 5, &h, &pl), -CNM_HA_R_VERSION);
	free(b);

	b = msg(CNM_HA_DELTA, 1, 6, NULL, &len);
	/* payload length beyond the limit: refused from the header alone */
	b[8] = 0xff;
	b[9] = 0xff;
	b[10] = 0xff;
	b[11] = 0x7f;
	assert_int_equal(cnm_ha_decode(b, len, &h, &pl), -CNM_HA_R_OVERSIZE);
	rep_init(&r, 1, 5);
	rep_feed(&r, b, len, 1);
	assert_int_equal(r.rejected[CNM_HA_R_OVERSIZE], 1);
	assert_int_equal(r.applied, 0);
	free(b);
}

/* Recompute the CRC of a frame after a field was patched (as a sender would). */
static void
reseal(uint8_t *b, size_t len)
{
	uint32_t crc;

	memset(b + 28, 0, 4);
	crc = rte_hash_crc(b, CNM_HA_HDR_LEN, 0xffffffffu);
	if (len > CNM_HA_HDR_LEN)
		crc = rte_hash_crc(b + CNM_HA_HDR_LEN, len - CNM_HA_HDR_LEN, crc);
	b[28] = (uint8_t)crc;
	b[29] = (uint8_t)(crc >> 8);
	b[30] = (uint8_t)(crc >> 16);
	b[31] = (uint8_t)(crc >> 24);
}

/* A well-formed frame of an unknown type (0, or above the last) is refused as "type". */
static void
test_unknown_type(void **state)
{
	struct cnm_ha_hdr h;
	const uint8_t *pl;
	struct replica r;
	uint8_t *b;
	size_t len;
	int t;

	(void)state;
	b = msg(CNM_HA_HELLO, 1, 1, "{}", &len);
	reseal(b, len);
	assert_true(cnm_ha_decode(b, len, &h, &pl) > 0); /* reseal is right */
	for (t = 0; t < 256; t++) {
		if (t > 0 && t < CNM_HA_TYPE_MAX)
			continue;
		b[5] = (uint8_t)t;
		reseal(b, len);
		assert_int_equal(cnm_ha_decode(b, len, &h, &pl), -CNM_HA_R_TYPE);
		rep_init(&r, 1, 0);
		rep_feed(&r, b, len, 1);
		assert_int_equal(r.rejected[CNM_HA_R_TYPE], 1);
		assert_int_equal(r.applied, 0);
	}
	free(b);
}

/* Each type's payload limit is judged from the header alone, before the
 * payload is there (nothing of it needs to be buffered). */
static void
test_type_limits(void **state)
{
	static const struct { uint8_t type; uint32_t max; } lim[] = {
		{ CNM_HA_HELLO, CNM_HA_HELLO_MAX }, { CNM_HA_HEARTBEAT, CNM_HA_HELLO_MAX },
		{ CNM_HA_ACK, 0 }, { CNM_HA_AUTH, CNM_HA_AUTH_MAX },
		{ CNM_HA_CONNS, CNM_HA_CONNS_MAX_BYTES }, { CNM_HA_SNAPSHOT, CNM_HA_PAYLOAD_MAX },
		{ CNM_HA_DELTA, CNM_HA_PAYLOAD_MAX },
	};
	struct cnm_ha_hdr h;
	const uint8_t *pl;
	uint8_t *b;
	size_t len, i;

	(void)state;
	for (i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		uint32_t over = lim[i].max + 1;

		assert_int_equal(cnm_ha_type_max(lim[i].type), lim[i].max);
		b = msg(lim[i].type, 1, 1, NULL, &len);
		b[8] = (uint8_t)over;
		b[9] = (uint8_t)(over >> 8);
		b[10] = (uint8_t)(over >> 16);
		b[11] = (uint8_t)(over >> 24);
		/* only the header: refused already */
		assert_int_equal(cnm_ha_decode(b, CNM_HA_HDR_LEN, &h, &pl), -CNM_HA_R_OVERSIZE);
		free(b);
	}
	/* the encoder refuses what the decoder would */
	{
		char big[CNM_HA_HELLO_MAX + 2];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(cnm_ha_encode(CNM_HA_HEARTBEAT, 0, 0, 0, big, (uint32_t)strlen(big),
					       &b, &len), -EINVAL);
		assert_int_equal(cnm_ha_encode(CNM_HA_ACK, 0, 0, 0, "{}", 2, &b, &len), -EINVAL);
	}
}

/* The MAC: right only under the key and the message number it was made with. */
static void
test_mac(void **state)
{
	static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
	static const uint8_t other[32] = "0123456789abcdef0123456789abcdeF";
	uint8_t nc[CNM_HA_NONCE_LEN], na[CNM_HA_NONCE_LEN];
	uint8_t c2a[32], a2c[32], c2a2[32];
	struct cnm_ha_hdr h;
	const uint8_t *pl;
	uint8_t *b;
	size_t len, i;

	(void)state;
	assert_int_equal(cnm_ha_crypto_init(), 0);
	assert_int_equal(cnm_ha_encode_auth(CNM_HA_DELTA, 0, 3, 9, "{\"x\":1}", 7, key, sizeof(key),
					    5, &b, &len), 0);
	assert_int_equal(cnm_ha_decode(b, len, &h, &pl), (long)len);
	assert_int_equal(cnm_ha_verify(b, len, key, sizeof(key), 5), 0);
	/* another key, another number (a replay, a reordering) */
	assert_int_equal(cnm_ha_verify(b, len, other, sizeof(other), 5), -1);
	assert_int_equal(cnm_ha_verify(b, len, key, sizeof(key), 4), -1);
	assert_int_equal(cnm_ha_verify(b, len, key, sizeof(key), 6), -1);
	/* any bit of the header's fields or of the payload */
	for (i = 0; i < len; i++) {
		if (i >= 28 && i < CNM_HA_HDR_LEN)
			continue; /* the CRC and the tag themselves */
		b[i] ^= 1;
		assert_int_equal(cnm_ha_verify(b, len, key, sizeof(key), 5), -1);
		b[i] ^= 1;
	}
	b[40] ^= 1;
	assert_int_equal(cnm_ha_verify(b, len, key, sizeof(key), 5), -1);
	free(b);
	/* unsigned (a trusted segment): the tag is zero and fails any key */
	b = msg(CNM_HA_HELLO, 1, 1, "{}", &len);
	for (i = 32; i < CNM_HA_HDR_LEN; i++)
		assert_int_equal(b[i], 0);
	assert_int_equal(cnm_ha_verify(b, len, key, sizeof(key), 0), -1);
	free(b);
	/* the connection's keys: one per direction, new nonces new keys */
	cnm_ha_random(nc, sizeof(nc));
	cnm_ha_random(na, sizeof(na));
	cnm_ha_session_key(key, sizeof(key), "c2a", nc, na, "lb1", "lb2", c2a);
	cnm_ha_session_key(key, sizeof(key), "a2c", nc, na, "lb1", "lb2", a2c);
	assert_memory_not_equal(c2a, a2c, 32);
	cnm_ha_session_key(key, sizeof(key), "c2a", nc, na, "lb1", "lb2", c2a2);
	assert_memory_equal(c2a, c2a2, 32);
	na[0] ^= 1;
	cnm_ha_session_key(key, sizeof(key), "c2a", nc, na, "lb1", "lb2", c2a2);
	assert_memory_not_equal(c2a, c2a2, 32);
	na[0] ^= 1;
	cnm_ha_session_key(key, sizeof(key), "c2a", nc, na, "lb1", "lb3", c2a2);
	assert_memory_not_equal(c2a, c2a2, 32);
}

static void
test_order(void **state)
{
	struct replica r;
	uint8_t *b;
	size_t len;

	(void)state;
	/* duplicated seq */
	rep_init(&r, 3, 10);
	b = msg(CNM_HA_DELTA, 3, 10, "{}", &len);
	rep_feed(&r, b, len, 0);
	rep_feed(&r, b, len, 0);
	assert_int_equal(r.rejected[CNM_HA_R_DUPLICATE], 2);
	assert_int_equal(r.applied, 0);
	free(b);
	/* reordered: 12 before 11 is a gap; 11 then applies; 12 again too */
	rep_init(&r, 3, 10);
	b = msg(CNM_HA_DELTA, 3, 12, "{}", &len);
	rep_feed(&r, b, len, 0);
	assert_int_equal(r.rejected[CNM_HA_R_GAP], 1);
	assert_int_equal(r.applied, 0);
	free(b);
	b = msg(CNM_HA_DELTA, 3, 11, "{}", &len);
	rep_feed(&r, b, len, 0);
	assert_int_equal(r.applied, 1);
	rep_feed(&r, b, len, 0);
	assert_int_equal(r.rejected[CNM_HA_R_DUPLICATE], 1);
	free(b);
	/* old epoch: a delta and a snapshot */
	rep_init(&r, 3, 10);
	b = msg(CNM_HA_DELTA, 2, 11, "{}", &len);
	rep_feed(&r, b, len, 0);
	free(b);
	b = msg(CNM_HA_SNAPSHOT, 2, 50, "{}", &len);
	rep_feed(&r, b, len, 0);
	free(b);
	assert_int_equal(r.rejected[CNM_HA_R_OLD_EPOCH], 2);
	assert_int_equal(r.applied, 0);
	/* a snapshot of an older seq of the same epoch: duplicate (reordered) */
	b = msg(CNM_HA_SNAPSHOT, 3, 9, "{}", &len);
	rep_feed(&r, b, len, 0);
	assert_int_equal(r.rejected[CNM_HA_R_DUPLICATE], 1);
	free(b);
	/* a delta of a newer epoch needs a snapshot first */
	b = msg(CNM_HA_DELTA, 4, 11, "{}", &len);
	rep_feed(&r, b, len, 0);
	assert_int_equal(r.rejected[CNM_HA_R_GAP], 1);
	free(b);
	/* a snapshot of a newer epoch is applied, then its deltas */
	b = msg(CNM_HA_SNAPSHOT, 4, 11, "{}", &len);
	rep_feed(&r, b, len, 0);
	free(b);
	b = msg(CNM_HA_DELTA, 4, 12, "{}", &len);
	rep_feed(&r, b, len, 0);
	free(b);
	assert_int_equal(r.applied, 2);
	assert_int_equal(r.epoch, 4);
	assert_int_equal(r.seq, 12);
	/* term above the held epoch (a higher epoch seen, its state not yet):
	 * a snapshot of the old epoch is refused */
	assert_int_equal(cnm_ha_order(5, 4, 12, CNM_HA_SNAPSHOT, 4, 13), CNM_HA_R_OLD_EPOCH);
	assert_int_equal(cnm_ha_order(5, 4, 12, CNM_HA_SNAPSHOT, 5, 12), CNM_HA_OK);
	/* a replica holding nothing takes any snapshot */
	assert_int_equal(cnm_ha_order(0, 0, 0, CNM_HA_SNAPSHOT, 1, 0), CNM_HA_OK);
}

static void
test_names(void **state)
{
	int i;

	(void)state;
	for (i = 1; i < CNM_HA_R_MAX; i++) {
		const char *n = cnm_ha_reject_name(i);

		assert_non_null(n);
		assert_true(strlen(n) > 0);
		/* telemetry dict keys: no spaces */
		assert_null(strchr(n, ' '));
	}
	assert_string_equal(cnm_ha_reject_name(CNM_HA_R_CRC), "crc");
	assert_string_equal(cnm_ha_type_name(CNM_HA_SNAPSHOT), "snapshot");
	assert_string_equal(cnm_ha_type_name(200), "?");
	/* FNV-1a 64 of "a" */
	assert_true(cnm_fnv1a64(CNM_FNV_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_in_order_applied),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupted),
		cmocka_unit_test(test_magic_version_type_oversize),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_type_limits),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
