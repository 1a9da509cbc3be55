/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: a UDP payload -> cnm_quic_parse() -> cnm_quiclb_route(),
 * and the encode/decode round trip, on the QUIC-LB contexts of lib/quiclb
 * (docs/quic.md, docs/fuzzing.md).
 *
 * Input: byte 0 picks one of the prebuilt contexts (plaintext 3 + 6; single
 * pass 8 + 8; four-pass 3 + 4, three passes; four-pass 10 + 8, four passes;
 * three configurations at once: four-pass 6 + 5, plaintext 2 + 9, four-pass
 * 2 + 4, one CID length); the rest is
 * the payload, copied into a buffer of exactly its size so that ASan sees
 * any read past it. Checks (each violation abort()s):
 *  - a parse result is a known one; on OK the DCID (and the SCID of a long
 *    header) lies inside the payload, a short header's DCID is the
 *    configured length at offset 1, and the type agrees with the version;
 *  - a route result is a known one, and OK names a node we added, whose
 *    server ID cnm_quiclb_decode() gives back for the same CID;
 *  - the payload's first bytes as (server ID, nonce) encode to a CID that
 *    decodes to that server ID and routes to its node (for every context).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnm_quiclb.h"

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

#define N_CTX 5
#define N_SERVERS 8

static struct cnm_quiclb *ctx[N_CTX];
static uint8_t sids[N_CTX][N_SERVERS][16];

static struct cnm_quiclb_conf
conf(uint8_t cr, uint8_t sl, uint8_t nl, uint8_t cid_len, int encrypted, int enc_len)
{
	struct cnm_quiclb_conf c;
	unsigned int i;

	memset(&c, 0, sizeof(c));
	c.config_id = cr;
	c.server_id_len = sl;
	c.nonce_len = nl;
	c.cid_len = cid_len;
	c.mode = encrypted ? CNM_QUICLB_ENCRYPTED : CNM_QUICLB_PLAINTEXT;
	c.encode_length = (uint8_t)enc_len;
	for (i = 0; i < sizeof(c.key); i++)
		c.key[i] = (uint8_t)(0x8f + 37 * i);
	return c;
}

static void
build(void)
{
	struct cnm_quiclb_conf c[N_CTX][3] = {
		{ conf(0, 3, 6, 10, 0, 0) },
		{ conf(1, 8, 8, 17, 1, 1) },
		{ conf(2, 3, 4, 8, 1, 1) },
		{ conf(0, 10, 8, 20, 1, 0) },
		{ conf(0, 6, 5, 12, 1, 0), conf(3, 2, 9, 12, 0, 1), conf(6, 2, 4, 12, 1, 1) },
	};
	static const unsigned int n[N_CTX] = { 1, 1, 1, 1, 3 };
	unsigned int k, s, j, i;

	for (k = 0; k < N_CTX; k++) {
		ctx[k] = cnm_quiclb_create(c[k], n[k], 2, N_SERVERS * n[k]);
		FUZZ_CHECK(ctx[k] != NULL);
		for (s = 0; s < N_SERVERS; s++) {
			for (i = 0; i < 16; i++)
				sids[k][s][i] = (uint8_t)(s * 17 + i * 5 + k);
			for (j = 0; j < n[k]; j++)
				FUZZ_CHECK(cnm_quiclb_add_server(ctx[k], c[k][j].config_id, sids[k][s],
								 c[k][j].server_id_len, s) == 0);
		}
	}
}

static void
check_parse(const uint8_t *p, uint32_t len, uint8_t short_len, const struct cnm_quic_hdr *h,
	    enum cnm_quic_parse_result r)
{
	FUZZ_CHECK((unsigned int)r < CNM_QUIC_PARSE_MAX);
	if (r != CNM_QUIC_PARSE_OK)
		return;
	FUZZ_CHECK(len >= 1);
	FUZZ_CHECK(h->is_long == !!(p[0] & 0x80));
	FUZZ_CHECK((uint32_t)h->dcid_off + h->dcid_len <= len);
	if (!h->is_long) {
		FUZZ_CHECK(h->dcid_off == 1 && h->dcid_len == short_len);
		FUZZ_CHECK(h->type == CNM_QUIC_SHORT && h->version == 0);
		return;
	}
	FUZZ_CHECK(h->dcid_off == 6 && h->dcid_len == p[5]);
	FUZZ_CHECK(h->scid_off == 7u + h->dcid_len && h->scid_len == p[6 + h->dcid_len]);
	FUZZ_CHECK((uint32_t)h->scid_off + h->scid_len <= len);
	FUZZ_CHECK(h->version == ((uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 |
				  (uint32_t)p[3] << 8 | p[4]));
	if (h->version == 0)
		FUZZ_CHECK(h->type == CNM_QUIC_VERSION_NEG);
	else if (h->version == CNM_QUIC_V1 || h->version == CNM_QUIC_V2)
		FUZZ_CHECK(h->type >= CNM_QUIC_INITIAL && h->type <= CNM_QUIC_RETRY &&
			   h->dcid_len <= 20 && h->scid_len <= 20);
	else
		FUZZ_CHECK(h->type == CNM_QUIC_LONG_UNKNOWN);
}

/* The payload's bytes as server IDs and nonces: encode, decode, route. */
static void
round_trip(unsigned int k, const uint8_t *p, size_t len)
{
	uint8_t cid[CNM_QUIC_CID_MAX], sid[16], got[16], nonce[20], extra[20], gl;
	unsigned int cr;
	uint32_t node;

	for (cr = 0; cr < CNM_QUICLB_CONFIGS; cr++) {
		const struct cnm_quiclb_conf *c = cnm_quiclb_conf_get(ctx[k], (uint8_t)cr);
		unsigned int s = len > 0 ? p[0] % N_SERVERS : 0, i;
		int n;

		if (c == NULL)
			continue;
		memcpy(sid, sids[k][s], 16);
		for (i = 0; i < sizeof(nonce); i++)
			nonce[i] = extra[i] = i + 1 < len ? p[i + 1] : (uint8_t)i;
		n = cnm_quiclb_encode(ctx[k], 1, (uint8_t)cr, sid, c->server_id_len, nonce,
				      c->nonce_len, len > 1 ? p[1] : 0, extra, cid);
		FUZZ_CHECK(n == c->cid_len);
		FUZZ_CHECK(cid[0] >> 5 == cr);
		FUZZ_CHECK(cnm_quiclb_decode(ctx[k], 0, cid, (uint8_t)n, got, &gl) == CNM_QUICLB_OK);
		FUZZ_CHECK(gl == c->server_id_len && memcmp(got, sid, gl) == 0);
		FUZZ_CHECK(cnm_quiclb_route(ctx[k], 1, cid, (uint8_t)n, &node) == CNM_QUICLB_OK);
		FUZZ_CHECK(node == s);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cnm_quic_hdr h;
	enum cnm_quic_parse_result r;
	enum cnm_quiclb_result q;
	uint8_t *p, got[16], gl;
	unsigned int k;
	uint32_t len, node = UINT32_MAX;

	if (ctx[0] == NULL)
		build();
	if (size < 1 || size > 4096)
		return 0;
	k = data[0] % N_CTX;
	len = (uint32_t)(size - 1);
	p = malloc(len ? len : 1);
	FUZZ_CHECK(p != NULL);
	memcpy(p, data + 1, len);

	r = cnm_quic_parse(p, len, cnm_quiclb_cid_len(ctx[k]), &h);
	check_parse(p, len, cnm_quiclb_cid_len(ctx[k]), &h, r);
	if (r == CNM_QUIC_PARSE_OK) {
		q = cnm_quiclb_route(ctx[k], 0, p + h.dcid_off, h.dcid_len, &node);
		FUZZ_CHECK((unsigned int)q < CNM_QUICLB_RESULT_MAX && q != CNM_QUICLB_CIPHER);
		if (q == CNM_QUICLB_OK) {
			FUZZ_CHECK(node < N_SERVERS);
			FUZZ_CHECK(cnm_quiclb_decode(ctx[k], 1, p + h.dcid_off, h.dcid_len, got,
						     &gl) == CNM_QUICLB_OK);
			FUZZ_CHECK(memcmp(got, sids[k][node], gl) == 0);
		}
	}
	round_trip(k, p, len);
	free(p);
	return 0;
}
