/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The QUIC-LB block of a service in the configuration file (docs/quic.md),
 * and the key file it names. Control side only.
 *
 *   "quic_lb": { "config_id": 0, "server_id_len": 3, "nonce_len": 6,
 *                "mode": "encrypted", "key_file": "/etc/cnmux/quic-lb.key",
 *                "cid_len": 10, "encode_length": false }
 *
 * or an array of such objects (config rotation: at most one per codepoint).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "cnm_config.h"
#include "cnm_quiclb.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
cnm_quiclb_hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return -EINVAL;
	for (i = 0; i < n / 2; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
cnm_quiclb_key_load(const char *path, uint8_t key[CNM_QUICLB_KEY_LEN], char *err,
		    size_t errlen)
{
	char buf[72], hex[40];
	struct stat sb;
	ssize_t n;
	size_t a, b;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int ret = -EACCES;

	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open it: %s", strerror(errno));
		return ret;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "mode %04o: it must be 0600 or stricter (chmod 600 %s)",
			 (unsigned int)(sb.st_mode & 07777), path);
		goto out;
	}
	if (sb.st_uid != geteuid() && sb.st_uid != 0) {
		snprintf(err, errlen, "owned by uid %u: it must belong to this user (%u) or root",
			 (unsigned int)sb.st_uid, (unsigned int)geteuid());
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	ret = -EINVAL;
	if (n == CNM_QUICLB_KEY_LEN && sb.st_size == CNM_QUICLB_KEY_LEN) {
		/* exactly 16 bytes: the key itself (head -c 16 /dev/urandom) */
		memcpy(key, buf, CNM_QUICLB_KEY_LEN);
		ret = 0;
		goto out;
	}
	/* otherwise 32 hex digits, whitespace around them allowed */
	a = 0;
	b = n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0;
	while (a < b && is_space(buf[a]))
		a++;
	while (b > a && is_space(buf[b - 1]))
		b--;
	if (b - a == 32) {
		memcpy(hex, buf + a, 32);
		hex[32] = '\0';
	}
	if (b - a != 32 || cnm_quiclb_hex(hex, key, CNM_QUICLB_KEY_LEN) != CNM_QUICLB_KEY_LEN) {
		snprintf(err, errlen,
			 "%lld bytes: it must hold the 16-byte AES-128 key, raw (head -c 16 /dev/urandom) "
			 "or as 32 hex digits",
			 (long long)sb.st_size);
		goto out;
	}
	ret = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(hex, sizeof(hex));
	close(fd);
	return ret;
}

/* "FILE: KEY: EXPECTED (got GOT)", as lib/config writes its errors. */
static int
jfail(char *err, size_t errlen, const char *file, const char *key, const json_t *v,
      const char *got, const char *fmt, ...)
{
	char expected[256], desc[96];
	va_list ap;
	size_t i;

	if (err == NULL || errlen == 0)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(expected, sizeof(expected), fmt, ap);
	va_end(ap);
	if (got == NULL) {
		cnm_json_describe(desc, sizeof(desc), v);
		got = desc;
	}
	snprintf(err, errlen, "%s: %s: %s (got %s)", file, key, expected, got);
	for (i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			err[i] = '?';
	return -EINVAL;
}

static int
get_uint(const json_t *o, const char *name, const char *file, const char *where,
	 unsigned int lo, unsigned int hi, int required, unsigned int dflt, unsigned int *out,
	 char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, name);
	char key[160];
	json_int_t x;

	snprintf(key, sizeof(key), "%s.%s", where, name);
	if (v == NULL) {
		if (required)
			return jfail(err, errlen, file, key, NULL, NULL,
				     "an integer from %u to %u", lo, hi);
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v))
		return jfail(err, errlen, file, key, v, NULL, "an integer from %u to %u", lo, hi);
	x = json_integer_value(v);
	if (x < (json_int_t)lo || x > (json_int_t)hi)
		return jfail(err, errlen, file, key, v, NULL, "an integer from %u to %u", lo, hi);
	*out = (unsigned int)x;
	return 0;
}

static int
conf_one(const json_t *o, const char *file, const char *where, struct cnm_quiclb_conf *c,
	 char *err, size_t errlen)
{
	static const char *const known[] = {
		"config_id", "server_id_len", "nonce_len", "mode", "key_file", "cid_len",
		"encode_length", NULL,
	};
	unsigned int cid, sid, nonce, cidlen, i;
	const char *name, *mode;
	char key[160], why[200];
	const json_t *v;
	int ret;

	if (!json_is_object(o))
		return jfail(err, errlen, file, where, o, NULL, "an object");
	json_object_foreach((json_t *)o, name, v) {
		for (i = 0; known[i] != NULL && strcmp(known[i], name) != 0; i++)
			;
		if (known[i] == NULL) {
			snprintf(key, sizeof(key), "%s.%s", where, name);
			return jfail(err, errlen, file, key, NULL, "an unknown key",
				     "one of config_id, server_id_len, nonce_len, mode, key_file, "
				     "cid_len, encode_length");
		}
	}
	memset(c, 0, sizeof(*c));
	if (get_uint(o, "config_id", file, where, 0, 6, 0, 0, &cid, err, errlen) < 0 ||
	    get_uint(o, "server_id_len", file, where, 1, CNM_QUICLB_SID_MAX, 1, 0, &sid, err,
		     errlen) < 0 ||
	    get_uint(o, "nonce_len", file, where, CNM_QUICLB_NONCE_MIN, CNM_QUICLB_NONCE_MAX, 1, 0,
		     &nonce, err, errlen) < 0)
		return -EINVAL;
	if (sid + nonce > CNM_QUICLB_PLAIN_MAX) {
		snprintf(key, sizeof(key), "%s.nonce_len", where);
		return jfail(err, errlen, file, key, json_object_get(o, "nonce_len"), NULL,
			     "at most %u with server_id_len %u (server ID + nonce <= 19 bytes)",
			     CNM_QUICLB_PLAIN_MAX - sid, sid);
	}
	if (get_uint(o, "cid_len", file, where, 1 + sid + nonce, CNM_QUIC_CID_MAX, 0,
		     1 + sid + nonce, &cidlen, err, errlen) < 0)
		return -EINVAL;
	c->config_id = (uint8_t)cid;
	c->server_id_len = (uint8_t)sid;
	c->nonce_len = (uint8_t)nonce;
	c->cid_len = (uint8_t)cidlen;

	v = json_object_get(o, "encode_length");
	if (v != NULL && !json_is_boolean(v)) {
		snprintf(key, sizeof(key), "%s.encode_length", where);
		return jfail(err, errlen, file, key, v, NULL, "true or false");
	}
	c->encode_length = v != NULL && json_is_true(v);

	v = json_object_get(o, "mode");
	snprintf(key, sizeof(key), "%s.mode", where);
	mode = json_string_value(v);
	if (mode == NULL || (strcmp(mode, "plaintext") != 0 && strcmp(mode, "encrypted") != 0))
		return jfail(err, errlen, file, key, v, NULL, "\"plaintext\" or \"encrypted\"");
	c->mode = strcmp(mode, "encrypted") == 0 ? CNM_QUICLB_ENCRYPTED : CNM_QUICLB_PLAINTEXT;

	v = json_object_get(o, "key_file");
	snprintf(key, sizeof(key), "%s.key_file", where);
	if (c->mode == CNM_QUICLB_PLAINTEXT) {
		if (v != NULL)
			return jfail(err, errlen, file, key, v, NULL,
				     "no key_file with \"mode\": \"plaintext\" (use \"encrypted\")");
	} else {
		const char *path = json_string_value(v);

		if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(c->key_file))
			return jfail(err, errlen, file, key, v, NULL,
				     "the path of the 16-byte AES-128 key (\"mode\": \"encrypted\")");
		snprintf(c->key_file, sizeof(c->key_file), "%s", path);
		ret = cnm_quiclb_key_load(path, c->key, why, sizeof(why));
		if (ret < 0) {
			char got[CNM_QUICLB_PATH_MAX + 8];

			snprintf(got, sizeof(got), "\"%s\"", path);
			return jfail(err, errlen, file, key, NULL, got, "a key file: %s", why);
		}
	}
	if (cnm_quiclb_conf_check(c, why, sizeof(why)) < 0)
		return jfail(err, errlen, file, where, o, NULL, "%s", why);
	return 0;
}

int
cnm_quiclb_conf_json(const struct json_t *v, const char *file, const char *where,
		     struct cnm_quiclb_conf *confs, unsigned int *n, char *err, size_t errlen)
{
	char key[160];
	size_t i, j;

	*n = 0;
	if (json_is_object(v)) {
		if (conf_one(v, file, where, &confs[0], err, errlen) < 0)
			return -EINVAL;
		*n = 1;
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > CNM_QUICLB_CONFIGS)
		return jfail(err, errlen, file, where, v, NULL,
			     "an object, or an array of 1 to 7 objects (one per config_id)");
	for (i = 0; i < json_array_size(v); i++) {
		snprintf(key, sizeof(key), "%s[%zu]", where, i);
		if (conf_one(json_array_get(v, i), file, key, &confs[i], err, errlen) < 0)
			goto bad;
		for (j = 0; j < i; j++) {
			if (confs[j].config_id == confs[i].config_id) {
				snprintf(key, sizeof(key), "%s[%zu].config_id", where, i);
				jfail(err, errlen, file, key,
				      json_object_get(json_array_get(v, i), "config_id"), NULL,
				      "a config_id no other entry has (entry %zu has it)", j);
				goto bad;
			}
		}
		if (confs[i].cid_len != confs[0].cid_len) {
			snprintf(key, sizeof(key), "%s[%zu].cid_len", where, i);
			jfail(err, errlen, file, key, json_object_get(json_array_get(v, i), "cid_len"),
			      NULL,
			      "%u, as entry 0: a short header does not say its CID length, so every "
			      "configuration of a service must use one (set cid_len)",
			      confs[0].cid_len);
			goto bad;
		}
	}
	*n = (unsigned int)i;
	return 0;
bad:
	for (j = 0; j <= i && j < CNM_QUICLB_CONFIGS; j++)
		OPENSSL_cleanse(confs[j].key, CNM_QUICLB_KEY_LEN);
	return -EINVAL;
}
