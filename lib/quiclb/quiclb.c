/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * QUIC-LB connection IDs (draft-ietf-quic-load-balancers-21, section 5):
 *
 *   CID = first octet (config rotation (3), length or random (5))
 *         || ciphertext of (server ID || nonce) || the server's own bytes
 *
 *   plaintext: no cipher; single pass (server ID + nonce = 16 bytes): one
 *   AES-128-ECB block; otherwise a four-round Feistel network whose round
 *   function is AES-128-ECB of expand(half) = half || zeros || length || pass,
 *   with a nibble split down the middle when the length is odd.
 *
 * The per-service context is built once by the control side: per codepoint,
 * the lengths and the algorithm in one cache line; per lane (one per thread
 * that decodes), an EVP_CIPHER_CTX per configuration, keyed once. A decode
 * touches that line, its lane's cipher contexts and the server-ID table:
 * no allocation, no lock, no write to shared memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cnm_quiclb.h"

enum alg {
	ALG_NONE = 0, /* no configuration at this codepoint */
	ALG_PLAIN,
	ALG_SINGLE,   /* encrypted, server ID + nonce = 16 */
	ALG_FOUR,     /* encrypted, any other length */
};

/* What a decode needs of one codepoint: 8 bytes, all 8 codepoints in 64. */
struct cr_hot {
	uint8_t alg;           /* enum alg */
	uint8_t sid_len;
	uint8_t nonce_len;
	uint8_t plen;          /* sid_len + nonce_len */
	uint8_t half;          /* (plen + 1) / 2: the Feistel halves */
	uint8_t need;          /* 1 + plen: shortest CID that can be decoded */
	uint8_t encode_length; /* check the first octet's length bits */
	uint8_t sid_in_left;   /* the server ID lies in left_0: three passes do */
};

/* A Feistel half in a 16-byte block (see feistel_round()). */
union half_blk {
	uint8_t b[16];
	uint64_t w[2];
};

/* The Feistel masks of a codepoint (see feistel_round()). */
struct cr_masks {
	union half_blk l, r;
};

/* One server ID (at most 15 bytes, zero-padded; byte 15 = config id + 1). */
struct sid_slot {
	uint64_t k[2];
	uint32_t node;
	uint32_t used;
};

struct cnm_quiclb {
	struct cr_hot cr[8];   /* by codepoint; [7] is always ALG_NONE */
	/* second line: the tables */
	EVP_CIPHER_CTX **enc __attribute__((aligned(64))); /* [lane * 8 + cr] */
	EVP_CIPHER_CTX **dec;  /* [lane * 8 + cr], single pass only */
	struct sid_slot *sid;  /* open addressing, sid_mask + 1 slots */
	uint32_t sid_mask;
	uint32_t lanes;
	uint32_t n_servers;
	uint32_t max_servers;
	uint8_t cid_len;
	struct cr_masks mask[8]; /* by codepoint, four-pass only */
	/* cold: the configurations as given, their keys wiped */
	struct cnm_quiclb_conf conf[8];
};

#define X_NAME(e, n, d) [CNM_QUICLB_##e] = n,
#define X_HELP(e, n, d) [CNM_QUICLB_##e] = d,
static const char *const result_names[CNM_QUICLB_RESULT_MAX] = { CNM_QUICLB_RESULTS(X_NAME) };
static const char *const result_help[CNM_QUICLB_RESULT_MAX] = { CNM_QUICLB_RESULTS(X_HELP) };
#undef X_NAME
#undef X_HELP

const char *
cnm_quiclb_result_name(enum cnm_quiclb_result r)
{
	return (unsigned int)r < CNM_QUICLB_RESULT_MAX ? result_names[r] : "?";
}

const char *
cnm_quiclb_result_help(enum cnm_quiclb_result r)
{
	return (unsigned int)r < CNM_QUICLB_RESULT_MAX ? result_help[r] : "?";
}

static int
fail(char *err, size_t errlen, const char *fmt, unsigned int v)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, fmt, v);
	return -EINVAL;
}

int
cnm_quiclb_conf_check(const struct cnm_quiclb_conf *c, char *err, size_t errlen)
{
	unsigned int plen = (unsigned int)c->server_id_len + c->nonce_len;

	if (c->config_id >= CNM_QUICLB_CONFIGS)
		return fail(err, errlen, "config_id: 0 to 6 (7 is reserved for unroutable CIDs) (got %u)",
			    c->config_id);
	if (c->server_id_len < 1 || c->server_id_len > CNM_QUICLB_SID_MAX)
		return fail(err, errlen, "server_id_len: 1 to 15 bytes (got %u)", c->server_id_len);
	if (c->nonce_len < CNM_QUICLB_NONCE_MIN || c->nonce_len > CNM_QUICLB_NONCE_MAX)
		return fail(err, errlen, "nonce_len: 4 to 18 bytes (got %u)", c->nonce_len);
	if (plen > CNM_QUICLB_PLAIN_MAX)
		return fail(err, errlen,
			    "nonce_len: server_id_len + nonce_len at most 19 bytes (got %u)", plen);
	if (c->cid_len < 1 + plen || c->cid_len > CNM_QUIC_CID_MAX)
		return fail(err, errlen,
			    "cid_len: from 1 + server_id_len + nonce_len to 20 bytes (got %u)",
			    c->cid_len);
	if (c->mode != CNM_QUICLB_PLAINTEXT && c->mode != CNM_QUICLB_ENCRYPTED)
		return fail(err, errlen, "mode: plaintext or encrypted (got %u)", c->mode);
	if (c->encode_length > 1)
		return fail(err, errlen, "encode_length: true or false (got %u)", c->encode_length);
	return 0;
}

/* ---------------------------------------------------------------- cipher */

/* One AES-128-ECB block. 0, or -1 if libcrypto refused it. */
static inline int
aes_block(EVP_CIPHER_CTX *c, const uint8_t in[16], uint8_t out[16])
{
	int outl = 0;

	if (EVP_EncryptUpdate(c, out, &outl, in, 16) != 1 || outl != 16)
		return -1;
	return 0;
}

static inline int
aes_block_dec(EVP_CIPHER_CTX *c, const uint8_t in[16], uint8_t out[16])
{
	int outl = 0;

	if (EVP_DecryptUpdate(c, out, &outl, in, 16) != 1 || outl != 16)
		return -1;
	return 0;
}

/*
 * The Feistel halves are kept in 16-byte blocks, zero past their half_len
 * bytes: a round's AES input, expand(plen, pass, y) = y || zeros || plen ||
 * pass, is then the block itself with its last two bytes set, and the XOR
 * with the truncated output is two 64-bit words and a mask. The masks keep
 * half_len bytes and, when plen is odd, clear the nibble that belongs to the
 * other half (the last of the left half, the first of the right half).
 */
/* One round: x = (x ^ AES(expand(plen, pass, y))) & m. 0, or -1. */
static inline int
feistel_round(EVP_CIPHER_CTX *c, const struct cr_hot *h, uint8_t pass,
	      const union half_blk *y, union half_blk *x, const union half_blk *m)
{
	union half_blk in = *y, out;

	in.b[14] = h->plen;
	in.b[15] = pass;
	if (aes_block(c, in.b, out.b) < 0)
		return -1;
	x->w[0] = (x->w[0] ^ out.w[0]) & m->w[0];
	x->w[1] = (x->w[1] ^ out.w[1]) & m->w[1];
	return 0;
}

/* Split plen bytes into the two halves (nibble split if plen is odd). */
static inline void
split(const struct cr_hot *h, const struct cr_masks *m, const uint8_t *in,
      union half_blk *l, union half_blk *r)
{
	l->w[0] = l->w[1] = r->w[0] = r->w[1] = 0;
	memcpy(l->b, in, h->half);
	memcpy(r->b, in + h->plen - h->half, h->half);
	l->w[0] &= m->l.w[0];
	l->w[1] &= m->l.w[1];
	r->w[0] &= m->r.w[0];
	r->w[1] &= m->r.w[1];
}

/* Join the two halves back into plen bytes. */
static inline void
join(const struct cr_hot *h, const union half_blk *l, const union half_blk *r, uint8_t *out)
{
	unsigned int lh = h->plen / 2; /* whole bytes of the left half */

	memcpy(out, l->b, lh);
	if (h->plen & 1)
		out[lh++] = (uint8_t)((l->b[h->half - 1] & 0xf0) | (r->b[0] & 0x0f));
	memcpy(out + lh, r->b + (h->plen & 1), h->plen / 2);
}

/* The masks of a codepoint's halves. */
static void
masks_make(const struct cr_hot *h, struct cr_masks *m)
{
	memset(m, 0, sizeof(*m));
	memset(m->l.b, 0xff, h->half);
	memset(m->r.b, 0xff, h->half);
	if (h->plen & 1) {
		m->l.b[h->half - 1] = 0xf0;
		m->r.b[0] = 0x0f;
	}
}

/* ----------------------------------------------------------- server IDs */

static inline void
sid_key(uint8_t config_id, const uint8_t *sid, uint8_t len, uint64_t k[2])
{
	uint8_t b[16] = { 0 };

	memcpy(b, sid, len);
	b[15] = (uint8_t)(config_id + 1);
	memcpy(k, b, 16);
}

static inline uint32_t
sid_hash(const uint64_t k[2])
{
	/* MurmurHash3's fmix64 over both words: server IDs are often small
	 * sequential numbers, which need mixing before masking */
	uint64_t x = k[0] ^ (k[1] * UINT64_C(0x9e3779b97f4a7c15));

	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	x *= UINT64_C(0xc4ceb9fe1a85ec53);
	x ^= x >> 33;
	return (uint32_t)x;
}

static inline const struct sid_slot *
sid_find(const struct cnm_quiclb *q, const uint64_t k[2])
{
	uint32_t i = sid_hash(k) & q->sid_mask;

	/* the table is at most half full, so an empty slot ends every probe */
	for (;;) {
		const struct sid_slot *s = &q->sid[i];

		if (!s->used)
			return NULL;
		if (s->k[0] == k[0] && s->k[1] == k[1])
			return s;
		i = (i + 1) & q->sid_mask;
	}
}

int
cnm_quiclb_add_server(struct cnm_quiclb *q, uint8_t config_id, const uint8_t *sid,
		      uint8_t sid_len, uint32_t node)
{
	uint64_t k[2];
	uint32_t i;

	if (q == NULL || config_id >= CNM_QUICLB_CONFIGS || q->cr[config_id].alg == ALG_NONE ||
	    sid_len != q->cr[config_id].sid_len)
		return -EINVAL;
	sid_key(config_id, sid, sid_len, k);
	if (sid_find(q, k) != NULL)
		return -EEXIST;
	if (q->n_servers >= q->max_servers)
		return -ENOSPC;
	i = sid_hash(k) & q->sid_mask;
	while (q->sid[i].used)
		i = (i + 1) & q->sid_mask;
	q->sid[i].k[0] = k[0];
	q->sid[i].k[1] = k[1];
	q->sid[i].node = node;
	q->sid[i].used = 1;
	q->n_servers++;
	return 0;
}

/* ------------------------------------------------------------- context */

static EVP_CIPHER_CTX *
cipher_new(const EVP_CIPHER *aes, const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (c == NULL)
		return NULL;
	if (EVP_CipherInit_ex(c, aes, NULL, key, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c, 0) != 1) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

void
cnm_quiclb_free(struct cnm_quiclb *q)
{
	uint32_t i;

	if (q == NULL)
		return;
	for (i = 0; q->enc != NULL && i < q->lanes * 8; i++)
		EVP_CIPHER_CTX_free(q->enc[i]);
	for (i = 0; q->dec != NULL && i < q->lanes * 8; i++)
		EVP_CIPHER_CTX_free(q->dec[i]);
	free(q->enc);
	free(q->dec);
	free(q->sid);
	OPENSSL_cleanse(q, sizeof(*q));
	free(q);
}

struct cnm_quiclb *
cnm_quiclb_create(const struct cnm_quiclb_conf *confs, unsigned int n, unsigned int lanes,
		  unsigned int max_servers)
{
	const EVP_CIPHER *aes = EVP_aes_128_ecb();
	struct cnm_quiclb *q;
	uint32_t slots = 8;
	unsigned int i, l;
	int err = EINVAL;

	if (confs == NULL || n == 0 || n > CNM_QUICLB_CONFIGS || lanes == 0 || lanes > 1024 ||
	    max_servers > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (cnm_quiclb_conf_check(&confs[i], NULL, 0) < 0 ||
		    confs[i].cid_len != confs[0].cid_len) {
			errno = EINVAL;
			return NULL;
		}
	}
	q = aligned_alloc(64, sizeof(*q));
	if (q == NULL)
		return NULL;
	memset(q, 0, sizeof(*q));
	q->lanes = lanes;
	q->cid_len = confs[0].cid_len;
	q->max_servers = max_servers;
	while (slots < 2u * max_servers)
		slots <<= 1;
	q->sid_mask = slots - 1;
	q->sid = calloc(slots, sizeof(*q->sid));
	q->enc = calloc((size_t)lanes * 8, sizeof(*q->enc));
	q->dec = calloc((size_t)lanes * 8, sizeof(*q->dec));
	if (q->sid == NULL || q->enc == NULL || q->dec == NULL) {
		err = ENOMEM;
		goto fail;
	}
	for (i = 0; i < n; i++) {
		const struct cnm_quiclb_conf *c = &confs[i];
		struct cr_hot *h = &q->cr[c->config_id];

		if (h->alg != ALG_NONE)
			goto fail; /* two configurations at one codepoint */
		h->sid_len = c->server_id_len;
		h->nonce_len = c->nonce_len;
		h->plen = (uint8_t)(c->server_id_len + c->nonce_len);
		h->half = (uint8_t)((h->plen + 1) / 2);
		h->need = (uint8_t)(1 + h->plen);
		h->encode_length = c->encode_length;
		h->sid_in_left = c->server_id_len <= h->plen / 2;
		masks_make(h, &q->mask[c->config_id]);
		if (c->mode == CNM_QUICLB_PLAINTEXT)
			h->alg = ALG_PLAIN;
		else
			h->alg = h->plen == 16 ? ALG_SINGLE : ALG_FOUR;
		q->conf[c->config_id] = *c;
		OPENSSL_cleanse(q->conf[c->config_id].key, CNM_QUICLB_KEY_LEN);
		if (h->alg == ALG_PLAIN)
			continue;
		for (l = 0; l < lanes; l++) {
			EVP_CIPHER_CTX **e = &q->enc[l * 8 + c->config_id];
			EVP_CIPHER_CTX **d = &q->dec[l * 8 + c->config_id];

			*e = cipher_new(aes, c->key, 1);
			if (*e == NULL) {
				err = EIO;
				goto fail;
			}
			if (h->alg != ALG_SINGLE)
				continue;
			*d = cipher_new(aes, c->key, 0);
			if (*d == NULL) {
				err = EIO;
				goto fail;
			}
		}
	}
	return q;
fail:
	cnm_quiclb_free(q);
	errno = err;
	return NULL;
}

uint8_t
cnm_quiclb_cid_len(const struct cnm_quiclb *q)
{
	return q->cid_len;
}

const struct cnm_quiclb_conf *
cnm_quiclb_conf_get(const struct cnm_quiclb *q, uint8_t config_id)
{
	if (config_id >= CNM_QUICLB_CONFIGS || q->cr[config_id].alg == ALG_NONE)
		return NULL;
	return &q->conf[config_id];
}

/* ---------------------------------------------------------- per packet */

enum cnm_quiclb_result
cnm_quiclb_decode(const struct cnm_quiclb *q, unsigned int lane, const uint8_t *cid,
		  uint8_t cid_len, uint8_t *sid, uint8_t *sid_len)
{
	const struct cr_masks *m;
	const struct cr_hot *h;
	union half_blk l, r;
	EVP_CIPHER_CTX *e;
	uint8_t pt[CNM_QUICLB_PLAIN_MAX + 1]; /* join() writes server ID + nonce: up to 19 */
	unsigned int cr;

	if (cid_len == 0)
		return CNM_QUICLB_CID_SHORT;
	cr = cid[0] >> 5;
	if (cr == CNM_QUICLB_CR_RESERVED)
		return CNM_QUICLB_CR_UNROUTABLE;
	h = &q->cr[cr];
	if (h->alg == ALG_NONE)
		return CNM_QUICLB_CR_UNKNOWN;
	if (cid_len < h->need)
		return CNM_QUICLB_CID_SHORT;
	if (h->encode_length && (cid[0] & 0x1f) != cid_len - 1)
		return CNM_QUICLB_LEN_MISMATCH;
	*sid_len = h->sid_len;
	switch (h->alg) {
	case ALG_PLAIN:
		memcpy(sid, cid + 1, h->sid_len);
		return CNM_QUICLB_OK;
	case ALG_SINGLE:
		if (aes_block_dec(q->dec[lane * 8 + cr], cid + 1, pt) < 0)
			return CNM_QUICLB_CIPHER;
		memcpy(sid, pt, h->sid_len);
		return CNM_QUICLB_OK;
	default:
		break;
	}
	/* four passes backwards: left_2, right_2 -> left_1, right_1 -> left_0
	 * (-> right_0 only if the server ID is longer than the nonce) */
	e = q->enc[lane * 8 + cr];
	m = &q->mask[cr];
	split(h, m, cid + 1, &l, &r);
	if (feistel_round(e, h, 4, &r, &l, &m->l) < 0 ||
	    feistel_round(e, h, 3, &l, &r, &m->r) < 0 ||
	    feistel_round(e, h, 2, &r, &l, &m->l) < 0)
		return CNM_QUICLB_CIPHER;
	if (h->sid_in_left) {
		memcpy(sid, l.b, h->sid_len);
		return CNM_QUICLB_OK;
	}
	if (feistel_round(e, h, 1, &l, &r, &m->r) < 0)
		return CNM_QUICLB_CIPHER;
	join(h, &l, &r, pt);
	memcpy(sid, pt, h->sid_len);
	return CNM_QUICLB_OK;
}

enum cnm_quiclb_result
cnm_quiclb_route(const struct cnm_quiclb *q, unsigned int lane, const uint8_t *cid,
		 uint8_t cid_len, uint32_t *node)
{
	union half_blk key = { .w = { 0, 0 } };
	const struct sid_slot *s;
	enum cnm_quiclb_result res;
	uint8_t sid_len;

	/* decoded straight into the table's key: the server ID zero-padded,
	 * its configuration in the last byte (sid_key()) */
	res = cnm_quiclb_decode(q, lane, cid, cid_len, key.b, &sid_len);
	if (res != CNM_QUICLB_OK)
		return res;
	key.b[15] = (uint8_t)((cid[0] >> 5) + 1);
	s = sid_find(q, key.w);
	if (s == NULL)
		return CNM_QUICLB_SID_UNKNOWN;
	*node = s->node;
	return CNM_QUICLB_OK;
}

int
cnm_quiclb_encode(const struct cnm_quiclb *q, unsigned int lane, uint8_t config_id,
		  const uint8_t *sid, uint8_t sid_len, const uint8_t *nonce, uint8_t nonce_len,
		  uint8_t first_low, const uint8_t *extra, uint8_t *cid)
{
	const struct cr_masks *m;
	const struct cr_hot *h;
	union half_blk l, r;
	EVP_CIPHER_CTX *e;
	unsigned int n_extra;
	uint8_t pt[CNM_QUICLB_PLAIN_MAX + 1]; /* join() writes server ID + nonce: up to 19 */

	if (q == NULL || lane >= q->lanes || config_id >= CNM_QUICLB_CONFIGS)
		return -EINVAL;
	h = &q->cr[config_id];
	if (h->alg == ALG_NONE || sid_len != h->sid_len || nonce_len != h->nonce_len)
		return -EINVAL;
	n_extra = q->cid_len - h->need;
	if (n_extra > 0 && extra == NULL)
		return -EINVAL;
	cid[0] = (uint8_t)(config_id << 5 |
			   ((h->encode_length ? (q->cid_len - 1) : first_low) & 0x1f));
	memcpy(cid + 1, sid, sid_len);
	memcpy(cid + 1 + sid_len, nonce, nonce_len);
	if (n_extra > 0)
		memcpy(cid + h->need, extra, n_extra);
	switch (h->alg) {
	case ALG_PLAIN:
		return q->cid_len;
	case ALG_SINGLE:
		memcpy(pt, cid + 1, 16);
		if (aes_block(q->enc[lane * 8 + config_id], pt, cid + 1) < 0)
			return -EIO;
		return q->cid_len;
	default:
		break;
	}
	e = q->enc[lane * 8 + config_id];
	m = &q->mask[config_id];
	split(h, m, cid + 1, &l, &r);
	if (feistel_round(e, h, 1, &l, &r, &m->r) < 0 ||
	    feistel_round(e, h, 2, &r, &l, &m->l) < 0 ||
	    feistel_round(e, h, 3, &l, &r, &m->r) < 0 ||
	    feistel_round(e, h, 4, &r, &l, &m->l) < 0)
		return -EIO;
	join(h, &l, &r, cid + 1);
	return q->cid_len;
}
