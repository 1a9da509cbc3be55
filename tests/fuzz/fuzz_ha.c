/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: bytes as a checkpoint connection's stream (docs/ha.md).
 *
 * The receiver's loop of lib/ha: cnm_ha_decode() on what is left, then the
 * order rule for state messages, then the payload's JSON. Invariants: a
 * decoded frame takes exactly header + payload bytes, its type is known, its
 * payload within its type's limit, encoding it again gives the same fields
 * and payload, and a MAC made under a key verifies under that key and
 * message number only; an
 * error is one of the reasons; the order rule never applies a message of an
 * epoch below the term or a delta other than seq + 1. Pure: no EAL.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cnm_ha.h"

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the replica's state comes from the first bytes */
	uint64_t term = size > 0 ? data[0] % 4 : 0;
	uint64_t epoch = term, seq = size > 1 ? data[1] % 8 : 0;
	size_t off = 0;

	if (cnm_ha_crypto_init() < 0)
		abort();

	while (off < size) {
		struct cnm_ha_hdr h;
		const uint8_t *pl = NULL;
		long n = cnm_ha_decode(data + off, size - off, &h, &pl);
		enum cnm_ha_reject r;

		if (n == 0)
			break;
		if (n < 0) {
			CHECK(-n > CNM_HA_OK && -n < CNM_HA_R_MAX);
			break;
		}
		CHECK((size_t)n == CNM_HA_HDR_LEN + h.len && (size_t)n <= size - off);
		CHECK(h.type > 0 && h.type < CNM_HA_TYPE_MAX);
		CHECK(h.len <= cnm_ha_type_max(h.type));
		CHECK(pl == data + off + CNM_HA_HDR_LEN);
		{
			uint8_t *b = NULL;
			size_t bl = 0;

			static const uint8_t key[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";

			/* the same fields and payload (the tag and so the CRC differ:
			 * it is not made again) */
			CHECK(cnm_ha_encode(h.type, h.flags, h.epoch, h.seq, pl, h.len, &b, &bl) == 0);
			CHECK(bl == (size_t)n && memcmp(b, data + off, 28) == 0 &&
			      memcmp(b + CNM_HA_HDR_LEN, pl, h.len) == 0);
			free(b);
			/* the MAC is checked before anything of the payload is parsed;
			 * a frame signed here verifies, the input's (almost) never */
			CHECK(cnm_ha_encode_auth(h.type, h.flags, h.epoch, h.seq, pl, h.len, key,
						 sizeof(key), off, &b, &bl) == 0);
			CHECK(cnm_ha_verify(b, bl, key, sizeof(key), off) == 0);
			CHECK(cnm_ha_verify(b, bl, key, sizeof(key), off + 1) != 0);
			free(b);
			(void)cnm_ha_verify(data + off, (size_t)n, key, sizeof(key), 0);
		}
		if (h.type == CNM_HA_SNAPSHOT || h.type == CNM_HA_DELTA) {
			r = cnm_ha_order(term, epoch, seq, h.type, h.epoch, h.seq);
			CHECK(r < CNM_HA_R_MAX);
			if (r == CNM_HA_OK) {
				CHECK(h.epoch >= term);
				if (h.type == CNM_HA_DELTA)
					CHECK(h.epoch == epoch && h.seq == seq + 1);
				epoch = h.epoch;
				seq = h.seq;
				if (h.epoch > term)
					term = h.epoch;
			}
		}
		if (h.len > 0) {
			json_t *j = json_loadb((const char *)pl, h.len, JSON_REJECT_DUPLICATES, NULL);

			json_decref(j);
		}
		off += (size_t)n;
	}
	return 0;
}
