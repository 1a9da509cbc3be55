/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/quiclb: the QUIC invariants parser and QUIC-LB connection IDs.
 *
 * The QUIC-LB vectors are those of draft-ietf-quic-load-balancers-21,
 * Appendix B ("Load Balancer Test Vectors", B.1 unencrypted, B.2 encrypted),
 * and the worked four-pass example of its section 5.4.2, as kept in the
 * working group's repository (quicwg/load-balancers,
 * draft-ietf-quic-load-balancers.md). Two rows of the appendix are printed
 * with mistakes, and are read as explained next to them (docs/quic.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cnm_quiclb.h"

#define DRAFT_KEY "8f95f09245765f80256934e50c66207f"

static size_t
hex(const char *s, uint8_t *out)
{
	int n = cnm_quiclb_hex(s, out, 64);

	assert_true(n > 0);
	return (size_t)n;
}

static struct cnm_quiclb_conf
conf_make(uint8_t cr, uint8_t sid_len, uint8_t nonce_len, const char *key_hex,
	  uint8_t cid_len, uint8_t encode_length)
{
	struct cnm_quiclb_conf c;

	memset(&c, 0, sizeof(c));
	c.config_id = cr;
	c.server_id_len = sid_len;
	c.nonce_len = nonce_len;
	c.cid_len = cid_len ? cid_len : (uint8_t)(1 + sid_len + nonce_len);
	c.encode_length = encode_length;
	c.mode = key_hex != NULL ? CNM_QUICLB_ENCRYPTED : CNM_QUICLB_PLAINTEXT;
	if (key_hex != NULL)
		assert_int_equal(cnm_quiclb_hex(key_hex, c.key, sizeof(c.key)), 16);
	return c;
}

/* splitmix64: the same sequence on every machine */
static uint64_t rng_state = 0x71756963;

static uint8_t
rnd8(void)
{
	uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (uint8_t)((z ^ (z >> 31)) >> 24);
}

static void
rnd_fill(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = rnd8();
}

/* ------------------------------------------------------------- vectors */

struct vector {
	const char *what;
	uint8_t cr;        /* the config rotation codepoint the CID carries */
	const char *sid;
	const char *nonce;
	const char *key;   /* NULL: plaintext */
	const char *cid;
};

static const struct vector vectors[] = {
	/* B.1 unencrypted */
	{ "B.1 row 1", 0, "c4605e", "4504cc4f", NULL, "07c4605e4504cc4f" },
	/*
	 * B.1 row 2 is printed "1 350d28b420 3487d970b 20a350d28b4203487d970b":
	 * each field in hex without its leading zeros (test_draft_b1_row2_text
	 * shows that). As bytes: nonce 03487d970b, first octet 0x2a (codepoint 1,
	 * length 10).
	 */
	{ "B.1 row 2", 1, "350d28b420", "03487d970b", NULL, "2a350d28b42003487d970b" },
	/* B.2 encrypted, key 8f95f09245765f80256934e50c66207f */
	{ "B.2 row 1 (four-pass, 7 bytes)", 0, "ed793a", "ee080dbf", DRAFT_KEY, "0720b1d07b359d3c" },
	{ "B.2 row 2 (four-pass, 15 bytes, fourth pass)", 1, "ed793a51d49b8f5fab65", "ee080dbf48",
	  DRAFT_KEY, "2fcc381bc74cb4fbad2823a3d1f8fed2" },
	{ "B.2 row 3 (single pass)", 2, "ed793a51d49b8f5f", "ee080dbf48c0d1e5", DRAFT_KEY,
	  "504dd2d05a7b0de9b2b9907afb5ecf8cc3" },
	/*
	 * B.2 row 4 is labelled cr_bits 3, but its first octet 0x12 carries
	 * codepoint 0 (and length 18): the codepoint is not enciphered, so the
	 * row is read as codepoint 0; test_draft_b2_row4_codepoint3 checks
	 * the same bytes under codepoint 3 (first octet 0x72).
	 */
	{ "B.2 row 4 (four-pass, 18 bytes)", 0, "ed793a51d49b8f5fab", "ee080dbf48c0d1e55d",
	  DRAFT_KEY, "125779c9cc86beb3a3a4a3ca96fce4bfe0cdbc" },
	/* 5.4.2 "Encryption Example" */
	{ "5.4.2 example", 0, "31441a", "9c69c275", "fdf726a9893ec05c0632d3956680baf0",
	  "0767947d29be054a" },
};

static void
check_vector(const struct vector *v)
{
	uint8_t sid[16], nonce[20], cid[20], out[20], got[16], got_len = 0;
	size_t sl = hex(v->sid, sid), nl = hex(v->nonce, nonce), cl = hex(v->cid, cid);
	struct cnm_quiclb_conf c = conf_make(v->cr, (uint8_t)sl, (uint8_t)nl, v->key, (uint8_t)cl, 1);
	struct cnm_quiclb *q = cnm_quiclb_create(&c, 1, 2, 4);
	uint32_t node = 0;
	unsigned int lane;

	print_message("  %s\n", v->what);
	assert_non_null(q);
	assert_int_equal(cl, 1 + sl + nl);
	for (lane = 0; lane < 2; lane++) {
		assert_int_equal(cnm_quiclb_decode(q, lane, cid, (uint8_t)cl, got, &got_len),
				 CNM_QUICLB_OK);
		assert_int_equal(got_len, sl);
		assert_memory_equal(got, sid, sl);
		assert_int_equal(cnm_quiclb_encode(q, lane, v->cr, sid, (uint8_t)sl, nonce,
						   (uint8_t)nl, 0, NULL, out), (int)cl);
		assert_memory_equal(out, cid, cl);
	}
	/* and the balancer's call: decoded and looked up */
	assert_int_equal(cnm_quiclb_route(q, 0, cid, (uint8_t)cl, &node), CNM_QUICLB_SID_UNKNOWN);
	assert_int_equal(cnm_quiclb_add_server(q, v->cr, sid, (uint8_t)sl, 42), 0);
	assert_int_equal(cnm_quiclb_route(q, 0, cid, (uint8_t)cl, &node), CNM_QUICLB_OK);
	assert_int_equal(node, 42);
	cnm_quiclb_free(q);
}

static void
test_draft_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		check_vector(&vectors[i]);
}

/* The printed B.1 row 2 is its fields in hex without leading zeros. */
static void
test_draft_b1_row2_text(void **state)
{
	char text[64];

	(void)state;
	/* first octet 0x2a = codepoint bits 0x20, length 0x0a; then sid, nonce */
	snprintf(text, sizeof(text), "%x%x%s%llx", 0x20, 0x0a, "350d28b420",
		 0x03487d970bULL);
	assert_string_equal(text, "20a350d28b4203487d970b");
	snprintf(text, sizeof(text), "%llx", 0x03487d970bULL);
	assert_string_equal(text, "3487d970b"); /* the nonce column as printed */
}

/* B.2 row 4 under codepoint 3, as its label says: the same ciphertext. */
static void
test_draft_b2_row4_codepoint3(void **state)
{
	struct vector v = vectors[5];

	(void)state;
	v.cr = 3;
	v.cid = "725779c9cc86beb3a3a4a3ca96fce4bfe0cdbc";
	check_vector(&v);
}

/* --------------------------------------------------------- round trips */

static void
round_trips(const char *key_hex)
{
	unsigned int sl, nl, n, tested = 0;

	for (sl = 1; sl <= CNM_QUICLB_SID_MAX; sl++) {
		for (nl = CNM_QUICLB_NONCE_MIN; sl + nl <= CNM_QUICLB_PLAIN_MAX; nl++) {
			struct cnm_quiclb_conf c[2] = {
				conf_make(2, (uint8_t)sl, (uint8_t)nl, key_hex, 20, 0),
				conf_make(5, (uint8_t)sl, (uint8_t)nl, key_hex, 20, 1),
			};
			struct cnm_quiclb *q;
			uint8_t sids[8][16], nonce[20], extra[20], cid[20], prev[20], got[16], gl;
			uint32_t node;
			unsigned int i;

			q = cnm_quiclb_create(c, 2, 1, 8);
			assert_non_null(q);
			for (i = 0; i < 8; i++) {
				rnd_fill(sids[i], sl);
				if (cnm_quiclb_add_server(q, (uint8_t)(i % 2 ? 5 : 2), sids[i],
							  (uint8_t)sl, i) < 0)
					rnd_fill(sids[i], sl), i--; /* a repeat: draw again */
			}
			memset(prev, 0, sizeof(prev));
			for (n = 0; n < 64; n++) {
				uint8_t cr = (uint8_t)(n % 2 ? 5 : 2);
				uint32_t s = n % 8;

				if (cr == 5 && s % 2 == 0)
					s++;
				if (cr == 2 && s % 2 == 1)
					s--;
				rnd_fill(nonce, nl);
				rnd_fill(extra, sizeof(extra));
				assert_int_equal(cnm_quiclb_encode(q, 0, cr, sids[s], (uint8_t)sl,
								   nonce, (uint8_t)nl, rnd8(), extra,
								   cid),
						 20);
				assert_int_equal(cid[0] >> 5, cr);
				if (cr == 5)
					assert_int_equal(cid[0] & 0x1f, 19);
				/* the servers' own bytes stay as they were given */
				assert_memory_equal(cid + 1 + sl + nl, extra, 19 - sl - nl);
				if (key_hex != NULL) {
					/* enciphered: not the plaintext (a short server ID
					 * may match by chance), and no two alike */
					if (sl >= 4)
						assert_memory_not_equal(cid + 1, sids[s], sl);
					assert_memory_not_equal(cid + 1, prev + 1, sl + nl);
				} else {
					assert_memory_equal(cid + 1, sids[s], sl);
					assert_memory_equal(cid + 1 + sl, nonce, nl);
				}
				memcpy(prev, cid, sizeof(cid));
				assert_int_equal(cnm_quiclb_decode(q, 0, cid, 20, got, &gl),
						 CNM_QUICLB_OK);
				assert_int_equal(gl, sl);
				assert_memory_equal(got, sids[s], sl);
				/* the shortest CID that holds server ID and nonce will do */
				assert_int_equal(cnm_quiclb_route(q, 0, cid, (uint8_t)(1 + sl + nl),
								  &node),
						 cr == 5 && sl + nl < 19 ? CNM_QUICLB_LEN_MISMATCH
									 : CNM_QUICLB_OK);
				assert_int_equal(cnm_quiclb_route(q, 0, cid, 20, &node), CNM_QUICLB_OK);
				assert_int_equal(node, s);
				tested++;
			}
			cnm_quiclb_free(q);
		}
	}
	/* every allowed (server ID, nonce) pair: 15 + 14 + ... */
	assert_int_equal(tested, 64 * 120);
}

static void
test_round_trip_plaintext(void **state)
{
	(void)state;
	round_trips(NULL);
}

static void
test_round_trip_encrypted(void **state)
{
	(void)state;
	round_trips("000102030405060708090a0b0c0d0e0f");
}

/* --------------------------------------------------------- fallbacks */

static void
test_wrong_key(void **state)
{
	/* odd four-pass, single pass, even four-pass, three passes, fourth pass */
	static const uint8_t lens[][2] = { { 3, 4 }, { 8, 8 }, { 4, 6 }, { 9, 9 }, { 10, 5 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t sl = lens[i][0], nl = lens[i][1];
		struct cnm_quiclb_conf good = conf_make(0, sl, nl, DRAFT_KEY, 0, 0);
		struct cnm_quiclb_conf bad = conf_make(0, sl, nl, "fdf726a9893ec05c0632d3956680baf0",
						       0, 0);
		struct cnm_quiclb *qg = cnm_quiclb_create(&good, 1, 1, 4);
		struct cnm_quiclb *qb = cnm_quiclb_create(&bad, 1, 1, 4);
		uint8_t sid[16] = { 0, 0, 0, 1 }, nonce[20], cid[20];
		uint32_t node = 99;
		int n;

		assert_non_null(qg);
		assert_non_null(qb);
		assert_int_equal(cnm_quiclb_add_server(qg, 0, sid, sl, 1), 0);
		assert_int_equal(cnm_quiclb_add_server(qb, 0, sid, sl, 1), 0);
		rnd_fill(nonce, nl);
		n = cnm_quiclb_encode(qg, 0, 0, sid, sl, nonce, nl, 0, NULL, cid);
		assert_int_equal(n, 1 + sl + nl);
		assert_int_equal(cnm_quiclb_route(qg, 0, cid, (uint8_t)n, &node), CNM_QUICLB_OK);
		assert_int_equal(node, 1);
		node = 99;
		assert_int_equal(cnm_quiclb_route(qb, 0, cid, (uint8_t)n, &node),
				 CNM_QUICLB_SID_UNKNOWN);
		assert_int_equal(node, 99);
		cnm_quiclb_free(qg);
		cnm_quiclb_free(qb);
	}
}

static void
test_fallback_reasons(void **state)
{
	struct cnm_quiclb_conf c = conf_make(0, 3, 4, DRAFT_KEY, 0, 1);
	struct cnm_quiclb *q = cnm_quiclb_create(&c, 1, 1, 4);
	uint8_t cid[20], sid[16], sl;
	uint32_t node;

	(void)state;
	assert_non_null(q);
	hex("0720b1d07b359d3c", cid);
	assert_int_equal(cnm_quiclb_decode(q, 0, cid, 8, sid, &sl), CNM_QUICLB_OK);
	/* another codepoint: no configuration there */
	cid[0] = 0x27;
	assert_int_equal(cnm_quiclb_route(q, 0, cid, 8, &node), CNM_QUICLB_CR_UNKNOWN);
	/* codepoint 7: the server had no configuration */
	cid[0] = 0xe7;
	assert_int_equal(cnm_quiclb_route(q, 0, cid, 8, &node), CNM_QUICLB_CR_UNROUTABLE);
	/* too short for server ID + nonce */
	cid[0] = 0x07;
	assert_int_equal(cnm_quiclb_route(q, 0, cid, 7, &node), CNM_QUICLB_CID_SHORT);
	assert_int_equal(cnm_quiclb_route(q, 0, cid, 0, &node), CNM_QUICLB_CID_SHORT);
	/* encode_length: the first octet says 8 bytes, the header 9 */
	assert_int_equal(cnm_quiclb_route(q, 0, cid, 9, &node), CNM_QUICLB_LEN_MISMATCH);
	cid[0] = 0x06;
	assert_int_equal(cnm_quiclb_route(q, 0, cid, 8, &node), CNM_QUICLB_LEN_MISMATCH);
	/* decodable, but the server ID is nobody's */
	cid[0] = 0x07;
	assert_int_equal(cnm_quiclb_route(q, 0, cid, 8, &node), CNM_QUICLB_SID_UNKNOWN);
	assert_string_equal(cnm_quiclb_result_name(CNM_QUICLB_SID_UNKNOWN), "sid_unknown");
	assert_string_equal(cnm_quiclb_result_name(CNM_QUICLB_CR_UNROUTABLE), "cr_unroutable");
	cnm_quiclb_free(q);
}

/* ------------------------------------------------------ configuration */

static void
test_conf_limits(void **state)
{
	static const struct {
		uint8_t cr, sl, nl, cl;
		const char *field;
	} bad[] = {
		{ 7, 3, 4, 0, "config_id" },  { 0, 0, 4, 0, "server_id_len" },
		{ 0, 16, 4, 21, "server_id_len" }, { 0, 3, 3, 0, "nonce_len" },
		{ 0, 1, 19, 21, "nonce_len" }, { 0, 5, 15, 21, "nonce_len" },
		{ 0, 3, 4, 7, "cid_len" },    { 0, 3, 4, 21, "cid_len" },
	};
	struct cnm_quiclb_conf c;
	char err[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&c, 0, sizeof(c));
		c.config_id = bad[i].cr;
		c.server_id_len = bad[i].sl;
		c.nonce_len = bad[i].nl;
		c.cid_len = bad[i].cl ? bad[i].cl : (uint8_t)(1 + bad[i].sl + bad[i].nl);
		assert_int_equal(cnm_quiclb_conf_check(&c, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, bad[i].field));
		errno = 0;
		assert_null(cnm_quiclb_create(&c, 1, 1, 1));
		assert_int_equal(errno, EINVAL);
	}
	/* the widest allowed: 15 + 4, and 1 + 18 */
	c = conf_make(0, 15, 4, NULL, 0, 0);
	assert_int_equal(cnm_quiclb_conf_check(&c, err, sizeof(err)), 0);
	c = conf_make(0, 1, 18, NULL, 0, 0);
	assert_int_equal(cnm_quiclb_conf_check(&c, err, sizeof(err)), 0);
}

static void
test_create_rules(void **state)
{
	struct cnm_quiclb_conf c[3] = {
		conf_make(0, 3, 4, NULL, 10, 0),
		conf_make(0, 2, 4, DRAFT_KEY, 10, 0),
		conf_make(1, 2, 4, DRAFT_KEY, 9, 0),
	};
	uint8_t sid[3] = { 1, 2, 3 };
	struct cnm_quiclb *q;

	(void)state;
	errno = 0;
	assert_null(cnm_quiclb_create(c, 2, 1, 4)); /* two at codepoint 0 */
	assert_int_equal(errno, EINVAL);
	assert_null(cnm_quiclb_create(&c[1], 2, 1, 4)); /* CID lengths 10 and 9 */
	assert_null(cnm_quiclb_create(c, 1, 0, 4));     /* no lane */
	c[2].cid_len = 10;
	q = cnm_quiclb_create(&c[1], 2, 1, 2);
	assert_non_null(q);
	assert_int_equal(cnm_quiclb_cid_len(q), 10);
	assert_non_null(cnm_quiclb_conf_get(q, 1));
	assert_null(cnm_quiclb_conf_get(q, 2));
	assert_int_equal(cnm_quiclb_add_server(q, 0, sid, 2, 1), 0);
	assert_int_equal(cnm_quiclb_add_server(q, 1, sid, 2, 1), 0); /* same ID, other config */
	assert_int_equal(cnm_quiclb_add_server(q, 0, sid, 2, 2), -EEXIST);
	assert_int_equal(cnm_quiclb_add_server(q, 0, sid, 3, 2), -EINVAL);
	assert_int_equal(cnm_quiclb_add_server(q, 4, sid, 2, 2), -EINVAL);
	sid[0] = 9;
	assert_int_equal(cnm_quiclb_add_server(q, 0, sid, 2, 2), -ENOSPC);
	cnm_quiclb_free(q);
	cnm_quiclb_free(NULL);
}

static char tmpdir[64];

static void
write_file(const char *name, const void *data, size_t len, mode_t mode, char *path)
{
	int fd;

	snprintf(path, 128, "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
test_key_file(void **state)
{
	uint8_t key[16], want[16];
	char path[128], err[200];

	(void)state;
	hex(DRAFT_KEY, want);
	write_file("raw.key", want, 16, 0600, path);
	assert_int_equal(cnm_quiclb_key_load(path, key, err, sizeof(err)), 0);
	assert_memory_equal(key, want, 16);
	write_file("hex.key", DRAFT_KEY "\n", 33, 0400, path);
	memset(key, 0, sizeof(key));
	assert_int_equal(cnm_quiclb_key_load(path, key, err, sizeof(err)), 0);
	assert_memory_equal(key, want, 16);
	write_file("open.key", DRAFT_KEY "\n", 33, 0644, path);
	assert_int_equal(cnm_quiclb_key_load(path, key, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "0600"));
	write_file("short.key", "8f95f092", 8, 0600, path);
	assert_int_equal(cnm_quiclb_key_load(path, key, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "16-byte"));
	write_file("bad.key", "8f95f09245765f80256934e50c66207g\n", 33, 0600, path);
	assert_int_equal(cnm_quiclb_key_load(path, key, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/none.key", tmpdir);
	assert_int_equal(cnm_quiclb_key_load(path, key, err, sizeof(err)), -ENOENT);
	assert_int_equal(cnm_quiclb_key_load(tmpdir, key, err, sizeof(err)), -EACCES);
}

/* Parse @p text as the QUIC-LB block; expect success or an error holding @p want. */
static int
conf_json(const char *text, struct cnm_quiclb_conf *confs, unsigned int *n, const char *want)
{
	char err[512] = "";
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
	int ret;

	assert_non_null(v);
	ret = cnm_quiclb_conf_json(v, "cnmux.json", "services[1].quic_lb", confs, n, err,
				   sizeof(err));
	json_decref(v);
	if (want == NULL) {
		if (ret != 0)
			print_message("unexpected error: %s\n", err);
		assert_int_equal(ret, 0);
	} else {
		assert_int_equal(ret, -EINVAL);
		if (strstr(err, want) == NULL)
			print_message("error \"%s\" lacks \"%s\"\n", err, want);
		assert_non_null(strstr(err, want));
		assert_non_null(strstr(err, "cnmux.json: services[1].quic_lb"));
	}
	return ret;
}

static void
test_conf_json(void **state)
{
	struct cnm_quiclb_conf c[CNM_QUICLB_CONFIGS];
	char path[128], text[600], want[16];
	unsigned int n;

	(void)state;
	hex(DRAFT_KEY, (uint8_t *)want);
	write_file("json.key", DRAFT_KEY "\n", 33, 0600, path);
	conf_json("{\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"plaintext\"}", c, &n, NULL);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].config_id, 0);
	assert_int_equal(c[0].cid_len, 8);
	assert_int_equal(c[0].encode_length, 0);
	assert_int_equal(c[0].mode, CNM_QUICLB_PLAINTEXT);
	snprintf(text, sizeof(text),
		 "[{\"config_id\": 2, \"server_id_len\": 3, \"nonce_len\": 6, \"mode\": \"encrypted\","
		 " \"key_file\": \"%s\", \"encode_length\": true, \"cid_len\": 12},"
		 " {\"config_id\": 3, \"server_id_len\": 3, \"nonce_len\": 8, \"mode\": \"plaintext\"}]",
		 path);
	conf_json(text, c, &n, NULL);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].config_id, 2);
	assert_int_equal(c[0].cid_len, 12);
	assert_int_equal(c[0].encode_length, 1);
	assert_memory_equal(c[0].key, want, 16);
	assert_string_equal(c[0].key_file, path);
	assert_int_equal(c[1].cid_len, 12);

	conf_json("{\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"plaintext\", \"cr\": 1}", c,
		  &n, "services[1].quic_lb.cr: one of config_id");
	conf_json("{\"server_id_len\": 3, \"nonce_len\": 4}", c, &n,
		  "quic_lb.mode: \"plaintext\" or \"encrypted\" (got nothing)");
	conf_json("{\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"aes\"}", c, &n,
		  "(got \"aes\")");
	conf_json("{\"server_id_len\": 3, \"nonce_len\": 17, \"mode\": \"plaintext\"}", c, &n,
		  "quic_lb.nonce_len: at most 16 with server_id_len 3");
	conf_json("{\"server_id_len\": 16, \"nonce_len\": 4, \"mode\": \"plaintext\"}", c, &n,
		  "quic_lb.server_id_len: an integer from 1 to 15 (got 16)");
	conf_json("{\"nonce_len\": 4, \"mode\": \"plaintext\"}", c, &n,
		  "quic_lb.server_id_len: an integer from 1 to 15 (got nothing)");
	conf_json("{\"config_id\": 7, \"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"plaintext\"}",
		  c, &n, "quic_lb.config_id: an integer from 0 to 6 (got 7)");
	conf_json("{\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"plaintext\", \"cid_len\": 7}",
		  c, &n, "quic_lb.cid_len: an integer from 8 to 20 (got 7)");
	conf_json("{\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"encrypted\"}", c, &n,
		  "quic_lb.key_file: the path of the 16-byte AES-128 key");
	snprintf(text, sizeof(text),
		 "{\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"plaintext\", \"key_file\": \"%s\"}",
		 path);
	conf_json(text, c, &n, "quic_lb.key_file: no key_file with \"mode\": \"plaintext\"");
	conf_json("{\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"encrypted\", "
		  "\"key_file\": \"/nonexistent/cnmux-quic.key\"}",
		  c, &n, "quic_lb.key_file: a key file: cannot open it");
	conf_json("{\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"plaintext\", "
		  "\"encode_length\": 1}",
		  c, &n, "quic_lb.encode_length: true or false (got 1)");
	conf_json("[{\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"plaintext\"},"
		  " {\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"plaintext\"}]",
		  c, &n, "quic_lb[1].config_id: a config_id no other entry has");
	conf_json("[{\"server_id_len\": 3, \"nonce_len\": 4, \"mode\": \"plaintext\"},"
		  " {\"config_id\": 1, \"server_id_len\": 3, \"nonce_len\": 5, \"mode\": \"plaintext\"}]",
		  c, &n, "quic_lb[1].cid_len: 8, as entry 0");
	conf_json("[]", c, &n, "an object, or an array of 1 to 7 objects");
	conf_json("\"on\"", c, &n, "(got \"on\")");
}

/* --------------------------------------------------------------- parser */

static const uint8_t v1_initial[] = {
	0xc3,                   /* long, fixed, type 0 (Initial), pn length 4 */
	0x00, 0x00, 0x00, 0x01, /* version 1 */
	0x08, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08, /* DCID (RFC 9001 A.1) */
	0x05, 0x01, 0x02, 0x03, 0x04, 0x05,                   /* SCID */
	0x00, 0x41, 0x03, 0x00, 0x00, 0x00, 0x01,             /* token, length, pn */
};

static void
test_parse_long(void **state)
{
	static const struct {
		uint8_t first;
		uint32_t version;
		uint8_t type;
	} types[] = {
		{ 0xc0, CNM_QUIC_V1, CNM_QUIC_INITIAL },   { 0xd0, CNM_QUIC_V1, CNM_QUIC_0RTT },
		{ 0xe0, CNM_QUIC_V1, CNM_QUIC_HANDSHAKE }, { 0xf0, CNM_QUIC_V1, CNM_QUIC_RETRY },
		{ 0xd0, CNM_QUIC_V2, CNM_QUIC_INITIAL },   { 0xe0, CNM_QUIC_V2, CNM_QUIC_0RTT },
		{ 0xf0, CNM_QUIC_V2, CNM_QUIC_HANDSHAKE }, { 0xc0, CNM_QUIC_V2, CNM_QUIC_RETRY },
		{ 0x80, 0, CNM_QUIC_VERSION_NEG },         { 0xc0, 0xff00001d, CNM_QUIC_LONG_UNKNOWN },
		{ 0x80, 0x1a2a3a4a, CNM_QUIC_LONG_UNKNOWN }, /* a greased version */
	};
	struct cnm_quic_hdr h;
	uint8_t p[sizeof(v1_initial)];
	size_t i;

	(void)state;
	assert_int_equal(cnm_quic_parse(v1_initial, sizeof(v1_initial), 8, &h), CNM_QUIC_PARSE_OK);
	assert_true(h.is_long);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.type, CNM_QUIC_INITIAL);
	assert_int_equal(h.dcid_off, 6);
	assert_int_equal(h.dcid_len, 8);
	assert_int_equal(h.scid_off, 15);
	assert_int_equal(h.scid_len, 5);
	assert_int_equal(v1_initial[h.scid_off], 0x01);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		memcpy(p, v1_initial, sizeof(p));
		p[0] = types[i].first;
		p[1] = (uint8_t)(types[i].version >> 24);
		p[2] = (uint8_t)(types[i].version >> 16);
		p[3] = (uint8_t)(types[i].version >> 8);
		p[4] = (uint8_t)types[i].version;
		assert_int_equal(cnm_quic_parse(p, sizeof(p), 8, &h), CNM_QUIC_PARSE_OK);
		assert_int_equal(h.version, types[i].version);
		assert_int_equal(h.type, types[i].type);
		assert_int_equal(h.dcid_len, 8);
	}
	assert_string_equal(cnm_quic_type_name(CNM_QUIC_0RTT), "0rtt");
}

static void
test_parse_truncated(void **state)
{
	struct cnm_quic_hdr h;
	uint32_t len;

	(void)state;
	/* every prefix of the Initial's header, with the reason it fails */
	for (len = 0; len < 20; len++) {
		enum cnm_quic_parse_result want;

		if (len == 0)
			want = CNM_QUIC_PARSE_EMPTY;
		else if (len < 6)
			want = CNM_QUIC_PARSE_LONG_TRUNCATED;
		else if (len < 14)
			want = CNM_QUIC_PARSE_DCID_TRUNCATED;
		else
			want = CNM_QUIC_PARSE_SCID_TRUNCATED;
		assert_int_equal(cnm_quic_parse(v1_initial, len, 8, &h), want);
	}
	assert_int_equal(cnm_quic_parse(v1_initial, 20, 8, &h), CNM_QUIC_PARSE_OK);
	assert_string_equal(cnm_quic_parse_name(CNM_QUIC_PARSE_SCID_TRUNCATED), "scid_truncated");
}

static void
test_parse_lengths(void **state)
{
	uint8_t p[600];
	struct cnm_quic_hdr h;

	(void)state;
	memset(p, 0xab, sizeof(p));
	memcpy(p, v1_initial, 6);
	/* v1 and v2 CIDs are at most 20 bytes */
	p[5] = 21;
	assert_int_equal(cnm_quic_parse(p, sizeof(p), 8, &h), CNM_QUIC_PARSE_DCID_LEN);
	p[5] = 20;
	p[26] = 21;
	assert_int_equal(cnm_quic_parse(p, sizeof(p), 8, &h), CNM_QUIC_PARSE_SCID_LEN);
	p[26] = 20;
	assert_int_equal(cnm_quic_parse(p, sizeof(p), 8, &h), CNM_QUIC_PARSE_OK);
	assert_int_equal(h.dcid_len, 20);
	assert_int_equal(h.scid_len, 20);
	assert_int_equal(h.scid_off, 27);
	/* other versions may use up to 255 (RFC 8999 5.1) */
	p[4] = 0x02;
	p[5] = 255;
	p[261] = 255;
	assert_int_equal(cnm_quic_parse(p, sizeof(p), 8, &h), CNM_QUIC_PARSE_OK);
	assert_int_equal(h.type, CNM_QUIC_LONG_UNKNOWN);
	assert_int_equal(h.dcid_len, 255);
	assert_int_equal(h.scid_off, 262);
	assert_int_equal(cnm_quic_parse(p, 262 + 254, 8, &h), CNM_QUIC_PARSE_SCID_TRUNCATED);
	/* zero-length CIDs are fine */
	p[5] = 0;
	p[6] = 0;
	assert_int_equal(cnm_quic_parse(p, 7, 8, &h), CNM_QUIC_PARSE_OK);
	assert_int_equal(h.dcid_len, 0);
	assert_int_equal(h.scid_len, 0);
}

static void
test_parse_short(void **state)
{
	uint8_t p[32];
	struct cnm_quic_hdr h;

	(void)state;
	hex("41" "0720b1d07b359d3c" "aabbccddeeff", p);
	assert_int_equal(cnm_quic_parse(p, 15, 8, &h), CNM_QUIC_PARSE_OK);
	assert_false(h.is_long);
	assert_int_equal(h.type, CNM_QUIC_SHORT);
	assert_int_equal(h.version, 0);
	assert_int_equal(h.dcid_off, 1);
	assert_int_equal(h.dcid_len, 8);
	assert_int_equal(h.scid_len, 0);
	assert_int_equal(cnm_quic_parse(p, 9, 8, &h), CNM_QUIC_PARSE_OK);
	assert_int_equal(cnm_quic_parse(p, 8, 8, &h), CNM_QUIC_PARSE_SHORT_TRUNCATED);
	assert_int_equal(cnm_quic_parse(p, 1, 0, &h), CNM_QUIC_PARSE_OK);
	/* a short header's DCID, decoded: the draft's B.2 row 1 */
	{
		struct cnm_quiclb_conf c = conf_make(0, 3, 4, DRAFT_KEY, 0, 1);
		struct cnm_quiclb *q = cnm_quiclb_create(&c, 1, 1, 1);
		uint8_t sid[3] = { 0xed, 0x79, 0x3a };
		uint32_t node = 0;

		assert_non_null(q);
		assert_int_equal(cnm_quiclb_add_server(q, 0, sid, 3, 7), 0);
		assert_int_equal(cnm_quic_parse(p, 15, cnm_quiclb_cid_len(q), &h), CNM_QUIC_PARSE_OK);
		assert_int_equal(cnm_quiclb_route(q, 0, p + h.dcid_off, h.dcid_len, &node),
				 CNM_QUICLB_OK);
		assert_int_equal(node, 7);
		cnm_quiclb_free(q);
	}
}

/* Random bytes: whatever the verdict, nothing said lies past the payload. */
static void
test_parse_garbage(void **state)
{
	uint8_t p[300];
	struct cnm_quic_hdr h;
	unsigned int i, ok = 0;

	(void)state;
	for (i = 0; i < 200000; i++) {
		uint32_t len = rnd8() % 64;
		enum cnm_quic_parse_result r;

		if (i % 4 == 0)
			len = (uint32_t)(rnd8() + rnd8()) % sizeof(p);
		rnd_fill(p, len);
		if (len > 5 && i % 3 == 0)
			p[5] %= 24;       /* plausible DCID lengths too */
		if (len > 4 && i % 5 == 0)
			p[1] = p[2] = p[3] = 0, p[4] = 1;
		r = cnm_quic_parse(p, len, (uint8_t)(rnd8() % 21), &h);
		assert_true((unsigned int)r < CNM_QUIC_PARSE_MAX);
		if (r != CNM_QUIC_PARSE_OK)
			continue;
		ok++;
		assert_true((uint32_t)h.dcid_off + h.dcid_len <= len);
		if (h.is_long)
			assert_true((uint32_t)h.scid_off + h.scid_len <= len);
	}
	assert_true(ok > 1000);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cnmux-quiclb-test.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_draft_vectors),
		cmocka_unit_test(test_draft_b1_row2_text),
		cmocka_unit_test(test_draft_b2_row4_codepoint3),
		cmocka_unit_test(test_round_trip_plaintext),
		cmocka_unit_test(test_round_trip_encrypted),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_fallback_reasons),
		cmocka_unit_test(test_conf_limits),
		cmocka_unit_test(test_create_rules),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_conf_json),
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_parse_lengths),
		cmocka_unit_test(test_parse_short),
		cmocka_unit_test(test_parse_garbage),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
