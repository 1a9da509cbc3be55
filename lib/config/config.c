/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cnmux configuration file parser, schema version 1 (docs/config.md).
 *
 * Pure code: jansson and libc only, so that unit tests and fuzzers can call
 * it without EAL. Every error message has the form
 *
 *     FILE: KEY: what was expected (got ...)
 *
 * where KEY is a JSON path such as "services[1].nodes.node9". On any error
 * everything allocated so far is freed and NULL is returned.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include <jansson.h>

#include "cnm_config.h"
#include "cnm_fwd.h"
#include "cnm_quiclb.h"

#define CNM_KEY_MAX 320          /* a JSON path in a message */
#define CNM_GOT_MAX 96           /* the "(got ...)" part */
#define CNM_GOT_STR_MAX 48       /* strings longer than this are cut */
#define CNM_FILE_MAX (64u << 20) /* largest file cnm_config_load reads */

#define CNM_CONN_MAX_MIN 1024u
#define CNM_CONN_MAX_MAX (1u << 28)
#define CNM_CONN_MAX_DEFAULT 65536u
#define CNM_TIMEOUT_S_MAX 604800u /* one week */
#define CNM_CONN_TIMEOUT_S_DEFAULT 300u
#define CNM_CONN_CLOSING_S_DEFAULT 10u
#define CNM_CONN_SYN_S_DEFAULT 30u
#define CNM_HEALTH_INTERVAL_MS_DEFAULT 500u
#define CNM_HEALTH_TIMEOUT_MS_DEFAULT 300u
#define CNM_HEALTH_RISE_DEFAULT 2u
#define CNM_HEALTH_FALL_DEFAULT 3u

/* State of one parse: where messages go and what has been built so far. */
struct cnm_parser {
	const char *file;
	char *err;
	size_t errlen;
	struct cnm_config *cfg;
};

/* A name with the index of what it names, for sorting. */
struct cnm_name_ent {
	const char *name;
	uint32_t idx;
};

/* An address with the index of the node it belongs to, for sorting. */
struct cnm_addr_ent {
	struct cnm_addr addr;
	uint32_t idx;
};

/*
 * What a service claims: (vip, proto, port) in the first table, or
 * (vip, proto) in the second (wild = 1, port = 0).
 */
struct cnm_claim {
	struct cnm_addr vip;
	uint8_t wild;
	uint8_t proto;
	uint16_t port;
	uint32_t svc;
	uint32_t item; /* index in ports[] or protocols[] of the service */
};

static const char *const cnm_top_keys[] = {
	"version", "ports", "nodes", "services", "default_node", "pdt_size",
	"hash_key", "control", "conntrack", "health", "icmp_echo", "verify_checksum", "ha",
	"tunnel", "metrics", "memory", "announce", "paths", "second_chance_s", NULL,
};
static const char *const cnm_memory_keys[] = {
	"limit_mb", NULL,
};
static const char *const cnm_ports_keys[] = {
	"public", "private", "local", NULL,
};
static const char *const cnm_node_keys[] = {
	"name", "ip", "mac", "check_port", "forward", "gateway", "gue_port", "check",
	"server_id", NULL,
};
static const char *const cnm_tunnel_keys[] = {
	"source4", "source6", "mtu", NULL,
};
static const char *const cnm_service_keys[] = {
	"name", "vip", "policy", "ports", "protocols", "nodes", "pdt_size",
	"arp", "second_chance_s", "udp_timeout_s", "quic_lb", NULL,
};
static const char *const cnm_control_keys[] = {
	"socket", "state_file", NULL,
};
static const char *const cnm_announce_keys[] = {
	"file4", "file6", "command", NULL,
};
static const char *const cnm_metrics_keys[] = {
	"listen", NULL,
};
static const char *const cnm_conntrack_keys[] = {
	"max", "max6", "timeout_s", "closing_s", "syn_s", NULL,
};
static const char *const cnm_paths_keys[] = {
	"spread", "interval_ms", "rounds", "rise", "nodes", NULL,
};
static const char *const cnm_health_keys[] = {
	"interval_ms", "timeout_ms", "rise", "fall", "source", "source6", "notify", NULL,
};
static const char *const cnm_check_keys[] = {
	"type", "port", "command", "path", "expect", "interval_ms", "timeout_ms", "rise", "fall",
	NULL,
};
/* by enum cnm_check_type; "nd" is "arp"'s name for an IPv6 next hop */
static const char *const cnm_check_names[CNM_CHECK_MAX] = {
	"none", "arp", "icmp", "tcp", "connect", "script", "http", "https",
};
static const char *const cnm_ha_keys[] = {
	"id", "listen", "role", "peers", "heartbeat_ms", "failover_ms", "ack_timeout_ms",
	"key_file", "trusted_segment", NULL,
};
static const char *const cnm_ha_peer_keys[] = {
	"id", "address", NULL,
};

/* Copy @p s into @p buf, cut to @p max bytes, control bytes shown as '?'. */
static void
cnm_quote(char *buf, size_t len, const char *s, size_t max)
{
	size_t n = strlen(s);
	bool cut = n > max;

	snprintf(buf, len, "\"%.*s%s\"", (int)(cut ? max : n), s, cut ? "..." : "");
}

/* Short description of a JSON value for the "(got ...)" part. */
void
cnm_json_describe(char *buf, size_t len, const struct json_t *v)
{
	if (v == NULL) {
		snprintf(buf, len, "nothing");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		snprintf(buf, len, "an object");
		break;
	case JSON_ARRAY:
		snprintf(buf, len, "an array");
		break;
	case JSON_STRING:
		cnm_quote(buf, len, json_string_value(v), CNM_GOT_STR_MAX);
		break;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(buf, len, "true");
		break;
	case JSON_FALSE:
		snprintf(buf, len, "false");
		break;
	case JSON_NULL:
	default:
		snprintf(buf, len, "null");
		break;
	}
}

/*
 * Write "FILE: KEY: EXPECTED (got GOT)" into the error buffer. GOT is
 * @p got when given, else a description of @p v ("nothing" when NULL).
 * Returns -1 so that callers can "return cnm_fail(...)".
 */
static int __attribute__((format(printf, 5, 6)))
cnm_fail(struct cnm_parser *p, const char *key, const json_t *v,
	 const char *got, const char *fmt, ...)
{
	char expected[CNM_ERR_MAX];
	char desc[CNM_GOT_MAX];
	va_list ap;
	size_t i;

	errno = EINVAL;
	if (p->err == NULL || p->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(expected, sizeof(expected), fmt, ap);
	va_end(ap);
	if (got == NULL) {
		cnm_json_describe(desc, sizeof(desc), v);
		got = desc;
	}
	snprintf(p->err, p->errlen, "%s: %s: %s (got %s)", p->file, key,
		 expected, got);
	/* Keys and strings come from the file: keep terminals safe. */
	for (i = 0; p->err[i] != '\0'; i++) {
		unsigned char c = (unsigned char)p->err[i];

		if (c < 0x20 || c == 0x7f)
			p->err[i] = '?';
	}
	return -1;
}

static int
cnm_fail_nomem(struct cnm_parser *p, const char *key)
{
	cnm_fail(p, key, NULL, "out of memory", "memory for the configuration");
	errno = ENOMEM;
	return -1;
}

/* Append @p s to the string in @p buf, cutting it to fit. */
static void
cnm_append(char *buf, size_t len, const char *s)
{
	size_t used = strnlen(buf, len);
	size_t n = strlen(s);

	if (used + 1 >= len)
		return;
	if (n > len - used - 1)
		n = len - used - 1;
	memcpy(buf + used, s, n);
	buf[used + n] = '\0';
}

/* "parent.name", or "name" at the top level. */
static void
cnm_key(char *buf, size_t len, const char *parent, const char *name)
{
	if (len == 0)
		return;
	buf[0] = '\0';
	cnm_append(buf, len, parent);
	if (parent[0] != '\0')
		cnm_append(buf, len, ".");
	cnm_append(buf, len, name);
}

/* "parent[i]" */
static void
cnm_key_idx(char *buf, size_t len, const char *parent, size_t i)
{
	char idx[24];

	if (len == 0)
		return;
	snprintf(idx, sizeof(idx), "[%zu]", i);
	buf[0] = '\0';
	cnm_append(buf, len, parent);
	cnm_append(buf, len, idx);
}

/* Check that @p obj is an object and has only keys from @p allowed. */
static int
cnm_check_object(struct cnm_parser *p, const char *key, const json_t *obj,
		 const char *const *allowed)
{
	char list[CNM_ERR_MAX / 2];
	char sub[CNM_KEY_MAX];
	const char *k;
	json_t *v;
	size_t off = 0;
	size_t i;

	if (!json_is_object(obj))
		return cnm_fail(p, key, obj, NULL, "an object");
	json_object_foreach((json_t *)obj, k, v) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		list[0] = '\0';
		for (i = 0; allowed[i] != NULL && off < sizeof(list); i++)
			off += snprintf(list + off, sizeof(list) - off, "%s%s",
					i == 0 ? "" : ", ", allowed[i]);
		cnm_key(sub, sizeof(sub), key, k);
		return cnm_fail(p, sub, NULL, "an unknown key",
				"one of the keys %s", list);
	}
	return 0;
}

/* An integer in [min, max]. */
static int
cnm_get_uint(struct cnm_parser *p, const char *key, const json_t *v,
	     uint32_t min, uint32_t max, uint32_t *out)
{
	json_int_t n;

	if (!json_is_integer(v))
		return cnm_fail(p, key, v, NULL, "an integer in [%u, %u]",
				min, max);
	n = json_integer_value(v);
	if (n < (json_int_t)min || n > (json_int_t)max)
		return cnm_fail(p, key, v, NULL, "an integer in [%u, %u]",
				min, max);
	*out = (uint32_t)n;
	return 0;
}

/* Optional integer member @p name of @p obj; *out keeps its default if absent. */
static int
cnm_opt_uint(struct cnm_parser *p, const char *parent, const json_t *obj,
	     const char *name, uint32_t min, uint32_t max, uint32_t *out)
{
	char key[CNM_KEY_MAX];
	json_t *v = json_object_get(obj, name);

	if (v == NULL)
		return 0;
	cnm_key(key, sizeof(key), parent, name);
	return cnm_get_uint(p, key, v, min, max, out);
}

static int
cnm_get_pdt_size(struct cnm_parser *p, const char *key, const json_t *v,
		 uint32_t *out)
{
	json_int_t n;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
		if (n >= CNM_PDT_SIZE_MIN && n <= CNM_PDT_SIZE_MAX &&
		    (n & (n - 1)) == 0) {
			*out = (uint32_t)n;
			return 0;
		}
	}
	return cnm_fail(p, key, v, NULL, "a power of two in [%u, %u]",
			CNM_PDT_SIZE_MIN, CNM_PDT_SIZE_MAX);
}

/* A non-empty string shorter than @p max, each byte accepted by @p ok. */
static int
cnm_get_str(struct cnm_parser *p, const char *key, const json_t *v,
	    size_t max, int (*ok)(int), const char *what, char *out)
{
	const char *s;
	size_t n, i;

	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	n = strlen(s);
	if (n == 0 || n >= max)
		goto bad;
	for (i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			goto bad;
	memcpy(out, s, n + 1);
	return 0;
bad:
	return cnm_fail(p, key, v, NULL, "%s of 1 to %zu characters", what,
			max - 1);
}

/* Characters of node and service names. */
static int
cnm_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Characters of DPDK device names (and of socket paths): printable ASCII. */
static int
cnm_print_char(int c)
{
	return c > 0x20 && c < 0x7f;
}

static int
cnm_path_char(int c)
{
	return c >= 0x20 && c != 0x7f;
}

static int
cnm_get_name(struct cnm_parser *p, const char *key, const json_t *v, char *out)
{
	return cnm_get_str(p, key, v, CNM_NAME_MAX, cnm_name_char,
			   "a name of letters, digits, '_', '-' or '.'", out);
}

static int
cnm_get_port_name(struct cnm_parser *p, const char *key, const json_t *v,
		  char *out)
{
	return cnm_get_str(p, key, v, CNM_NAME_MAX, cnm_print_char,
			   "a DPDK device name (printable, no spaces)", out);
}

static int
cnm_get_addr(struct cnm_parser *p, const char *key, const json_t *v,
	     struct cnm_addr *out)
{
	const char *s;

	memset(out, 0, sizeof(*out));
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	memset(out, 0, sizeof(*out));
bad:
	return cnm_fail(p, key, v, NULL, "an IPv4 or IPv6 address");
}

static int
cnm_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
cnm_get_mac(struct cnm_parser *p, const char *key, const json_t *v,
	    uint8_t mac[6])
{
	const char *s;
	int i, hi, lo;

	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	if (strlen(s) != 17)
		goto bad;
	for (i = 0; i < 6; i++) {
		hi = cnm_hex((unsigned char)s[3 * i]);
		lo = cnm_hex((unsigned char)s[3 * i + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	/* group bit set: multicast or broadcast, never a server */
	if (mac[0] & 0x01)
		goto bad;
	if ((mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0)
		goto bad;
	return 0;
bad:
	return cnm_fail(p, key, v, NULL,
			"a unicast MAC address \"xx:xx:xx:xx:xx:xx\"");
}

/*
 * Unsigned decimal, or hexadecimal after "0x", all of @p s, at most @p max.
 * strtoul alone would take leading blanks and a sign: refuse those first.
 */
static int
cnm_strtou32(const char *s, uint32_t max, uint32_t *out)
{
	unsigned long n;
	char *end;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (cnm_hex((unsigned char)s[0]) < 0)
			return -1;
	} else if (s[0] < '0' || s[0] > '9') {
		return -1;
	}
	errno = 0;
	n = strtoul(s, &end, base);
	if (errno != 0 || *end != '\0' || n > max)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int
cnm_get_hash_key(struct cnm_parser *p, const char *key, const json_t *v,
		 uint32_t *out)
{
	json_int_t n;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
		if (n >= 0 && n <= (json_int_t)UINT32_MAX) {
			*out = (uint32_t)n;
			return 0;
		}
	} else if (json_is_string(v)) {
		if (cnm_strtou32(json_string_value(v), UINT32_MAX, out) == 0)
			return 0;
	}
	return cnm_fail(p, key, v, NULL,
			"an integer in [0, 4294967295] or a string like \"0x1234abcd\"");
}

/* "N/tcp" or "N/udp", N in 1..65535. */
static int
cnm_get_service_port(struct cnm_parser *p, const char *key, const json_t *v,
		     struct cnm_cfg_port *out)
{
	char num[8];
	const char *s, *slash;
	uint32_t n;
	size_t len;

	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	slash = strchr(s, '/');
	if (slash == NULL)
		goto bad;
	len = (size_t)(slash - s);
	if (len == 0 || len >= sizeof(num))
		goto bad;
	memcpy(num, s, len);
	num[len] = '\0';
	/* decimal only: "0x50/tcp" is refused as "x" is not a digit */
	if (num[0] == '0' && len > 1 && (num[1] == 'x' || num[1] == 'X'))
		goto bad;
	if (cnm_strtou32(num, 65535, &n) != 0 || n == 0)
		goto bad;
	if (strcmp(slash + 1, "tcp") == 0)
		out->proto = IPPROTO_TCP;
	else if (strcmp(slash + 1, "udp") == 0)
		out->proto = IPPROTO_UDP;
	else
		goto bad;
	out->port = (uint16_t)n;
	return 0;
bad:
	return cnm_fail(p, key, v, NULL,
			"a port \"N/tcp\" or \"N/udp\" with N in [1, 65535]");
}

/* @p c, the names' order, or else the entries' order in the file: a total
 * order that ends in the index, as cnm_first_dup() wants */
static int
cnm_name_ent_order(int c, const struct cnm_name_ent *x, const struct cnm_name_ent *y)
{
	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int
cnm_cmp_name(const void *a, const void *b)
{
	const struct cnm_name_ent *x = a, *y = b;

	return cnm_name_ent_order(strcmp(x->name, y->name), x, y);
}

static int
cnm_addr_cmp(const struct cnm_addr *x, const struct cnm_addr *y)
{
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->bytes, y->bytes, sizeof(x->bytes));
}

static int
cnm_cmp_addr_ent(const void *a, const void *b)
{
	const struct cnm_addr_ent *x = a, *y = b;
	int c = cnm_addr_cmp(&x->addr, &y->addr);

	if (c != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Same (vip, table, proto, port)? */
static int
cnm_claim_key_cmp(const struct cnm_claim *x, const struct cnm_claim *y)
{
	int c = cnm_addr_cmp(&x->vip, &y->vip);

	if (c != 0)
		return c;
	if (x->wild != y->wild)
		return x->wild < y->wild ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return 0;
}

static int
cnm_cmp_claim(const void *a, const void *b)
{
	const struct cnm_claim *x = a, *y = b;
	int c = cnm_claim_key_cmp(x, y);

	if (c != 0)
		return c;
	if (x->svc != y->svc)
		return x->svc < y->svc ? -1 : 1;
	return x->item < y->item ? -1 : x->item > y->item;
}

/*
 * After sorting @p n entries of @p size bytes with a total order that ends in
 * the index: find, among entries equal (by @p same) to the one before them,
 * the one that comes first in the file. Returns its position in the sorted
 * array and sets *first to the position of the first of its run; -1 if all
 * are distinct.
 */
static long
cnm_first_dup(const void *base, size_t n, size_t size,
	      int (*same)(const void *, const void *),
	      uint32_t (*order)(const void *), size_t *first)
{
	const char *b = base;
	size_t i, run = 0;
	long best = -1;

	for (i = 1; i < n; i++) {
		if (!same(b + (i - 1) * size, b + i * size)) {
			run = i;
			continue;
		}
		if (best < 0 || order(b + i * size) <
				order(b + (size_t)best * size)) {
			best = (long)i;
			*first = run;
		}
	}
	return best;
}

static int
cnm_same_name(const void *a, const void *b)
{
	return strcmp(((const struct cnm_name_ent *)a)->name,
		      ((const struct cnm_name_ent *)b)->name) == 0;
}

static uint32_t
cnm_order_name(const void *a)
{
	return ((const struct cnm_name_ent *)a)->idx;
}

/*
 * Names as lib/telemetry writes them in keys: DPDK's keys take letters,
 * digits, '_' and '/' only, so a name's '-' and '.' become '_' there.
 */
static int
cnm_tel_strcmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int x = (*a == '-' || *a == '.') ? '_' : (unsigned char)*a;
		int y = (*b == '-' || *b == '.') ? '_' : (unsigned char)*b;

		if (x != y || x == '\0')
			return x - y;
	}
}

static int
cnm_cmp_tel_name(const void *a, const void *b)
{
	const struct cnm_name_ent *x = a, *y = b;

	return cnm_name_ent_order(cnm_tel_strcmp(x->name, y->name), x, y);
}

static int
cnm_same_tel_name(const void *a, const void *b)
{
	return cnm_tel_strcmp(((const struct cnm_name_ent *)a)->name,
			      ((const struct cnm_name_ent *)b)->name) == 0;
}

/*
 * No two of the @p n names of @p names (distinct already) that telemetry
 * would write as one key ("a-b", "a.b", "a_b"): the second would hide the
 * first's counters there. @p list is "nodes" or "services", @p what "node"
 * or "service". Sorts a copy; @p names keeps its order.
 */
static int
cnm_check_tel_names(struct cnm_parser *p, const struct cnm_name_ent *names, size_t n,
		    const char *list, const char *what)
{
	struct cnm_name_ent *t;
	char key[CNM_KEY_MAX], got[2 * CNM_GOT_MAX], q[CNM_GOT_MAX], q2[CNM_GOT_MAX];
	size_t first = 0;
	long dup;

	if (n < 2)
		return 0;
	t = malloc(n * sizeof(*t));
	if (t == NULL)
		return cnm_fail_nomem(p, list);
	memcpy(t, names, n * sizeof(*t));
	qsort(t, n, sizeof(*t), cnm_cmp_tel_name);
	dup = cnm_first_dup(t, n, sizeof(*t), cnm_same_tel_name, cnm_order_name, &first);
	if (dup < 0) {
		free(t);
		return 0;
	}
	snprintf(key, sizeof(key), "%s[%u].name", list, t[dup].idx);
	cnm_quote(q, sizeof(q), t[dup].name, CNM_GOT_STR_MAX);
	cnm_quote(q2, sizeof(q2), t[first].name, CNM_GOT_STR_MAX);
	snprintf(got, sizeof(got), "%s, and %s[%u] is %s", q, list, t[first].idx, q2);
	free(t);
	return cnm_fail(p, key, NULL, got,
			"a name that differs from every other %s's by more than '-', '.' "
			"and '_' (telemetry keys write all three as '_')", what);
}

static int
cnm_same_addr(const void *a, const void *b)
{
	return cnm_addr_cmp(&((const struct cnm_addr_ent *)a)->addr,
			    &((const struct cnm_addr_ent *)b)->addr) == 0;
}

static uint32_t
cnm_order_addr(const void *a)
{
	return ((const struct cnm_addr_ent *)a)->idx;
}

static int
cnm_same_claim(const void *a, const void *b)
{
	return cnm_claim_key_cmp(a, b) == 0;
}

static uint32_t
cnm_order_claim(const void *a)
{
	/* services come first, then the position within the service */
	const struct cnm_claim *c = a;

	return c->svc * 2u * 65536u + c->item;
}

static int
cnm_parse_ports(struct cnm_parser *p, const json_t *root)
{
	struct cnm_config *cfg = p->cfg;
	const char *names[CNM_MAX_PRIVATE + 2];
	char keys[CNM_MAX_PRIVATE + 2][32];
	json_t *ports = json_object_get(root, "ports");
	json_t *v, *e;
	size_t i, j, n = 0;

	if (ports == NULL)
		return cnm_fail(p, "ports", NULL, NULL,
				"an object with \"public\" and \"private\"");
	if (cnm_check_object(p, "ports", ports, cnm_ports_keys) < 0)
		return -1;

	v = json_object_get(ports, "public");
	if (cnm_get_port_name(p, "ports.public", v, cfg->public_port) < 0)
		return -1;
	names[n] = cfg->public_port;
	snprintf(keys[n++], sizeof(keys[0]), "ports.public");

	v = json_object_get(ports, "private");
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > CNM_MAX_PRIVATE)
		return cnm_fail(p, "ports.private", v, NULL,
				"an array of 1 to %u device names",
				CNM_MAX_PRIVATE);
	json_array_foreach(v, i, e) {
		cnm_key_idx(keys[n], sizeof(keys[0]), "ports.private", i);
		if (cnm_get_port_name(p, keys[n], e, cfg->private_ports[i]) < 0)
			return -1;
		names[n++] = cfg->private_ports[i];
	}
	cfg->n_private = (uint32_t)json_array_size(v);

	v = json_object_get(ports, "local");
	if (v != NULL) {
		if (cnm_get_port_name(p, "ports.local", v, cfg->local_port) < 0)
			return -1;
		names[n] = cfg->local_port;
		snprintf(keys[n++], sizeof(keys[0]), "ports.local");
	}

	for (i = 1; i < n; i++)
		for (j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0) {
				char got[CNM_GOT_MAX + sizeof(keys[0]) + 8];
				char q[CNM_GOT_MAX];

				cnm_quote(q, sizeof(q), names[i], CNM_GOT_STR_MAX);
				snprintf(got, sizeof(got), "%s, also %s", q,
					 keys[j]);
				return cnm_fail(p, keys[i], NULL, got,
						"a device not used by another port");
			}
	return 0;
}

const char *
cnm_check_name(unsigned int type, int v6)
{
	if (type == CNM_CHECK_NEIGH && v6)
		return "nd";
	return type < CNM_CHECK_MAX ? cnm_check_names[type] : "unknown";
}

/* A node's "check" object (docs/health.md): "type" and what that type takes. */
static int
cnm_parse_check(struct cnm_parser *p, const char *key, const json_t *obj,
		struct cnm_cfg_check *ck)
{
	char sub[CNM_KEY_MAX];
	const char *t;
	uint32_t i, port = 0;
	json_t *v;
	int web;

	memset(ck, 0, sizeof(*ck));
	if (cnm_check_object(p, key, obj, cnm_check_keys) < 0)
		return -1;
	cnm_key(sub, sizeof(sub), key, "type");
	v = json_object_get(obj, "type");
	t = json_string_value(v);
	for (i = 1; t != NULL && i < CNM_CHECK_MAX; i++)
		if (strcmp(t, cnm_check_names[i]) == 0)
			break;
	if (t != NULL && strcmp(t, "nd") == 0)
		i = CNM_CHECK_NEIGH;
	if (t == NULL || i >= CNM_CHECK_MAX)
		return cnm_fail(p, sub, v, NULL,
			"one of \"arp\", \"nd\", \"icmp\", \"tcp\", \"connect\", \"script\", \"http\", \"https\"");
	ck->type = (uint8_t)i;
	web = ck->type == CNM_CHECK_HTTP || ck->type == CNM_CHECK_HTTPS;
	cnm_key(sub, sizeof(sub), key, "port");
	v = json_object_get(obj, "port");
	if (web && v == NULL) {
		ck->port = ck->type == CNM_CHECK_HTTP ? CNM_CHECK_HTTP_PORT_DEFAULT :
			CNM_CHECK_HTTPS_PORT_DEFAULT;
	} else if (ck->type == CNM_CHECK_TCP || ck->type == CNM_CHECK_CONNECT || web) {
		if (cnm_get_uint(p, sub, v, 1, 65535, &port) < 0)
			return -1;
		ck->port = (uint16_t)port;
	} else if (v != NULL) {
		return cnm_fail(p, sub, v, NULL,
			"no \"port\" unless \"type\" is \"tcp\", \"connect\", \"http\" or \"https\"");
	}
	cnm_key(sub, sizeof(sub), key, "path");
	v = json_object_get(obj, "path");
	if (v != NULL && !web)
		return cnm_fail(p, sub, v, NULL, "no \"path\" unless \"type\" is \"http\" or \"https\"");
	if (v != NULL && (cnm_get_str(p, sub, v, CNM_CHECK_PATH_MAX, cnm_print_char,
				      "a path \"/...\" (printable, no spaces)", ck->path) < 0 ||
			  ck->path[0] != '/'))
		return cnm_fail(p, sub, v, NULL, "a path \"/...\" (printable, no spaces) of 1 to %d characters",
				CNM_CHECK_PATH_MAX - 1);
	cnm_key(sub, sizeof(sub), key, "expect");
	v = json_object_get(obj, "expect");
	if (v != NULL && !web)
		return cnm_fail(p, sub, v, NULL, "no \"expect\" unless \"type\" is \"http\" or \"https\"");
	if (web) {
		uint32_t e = CNM_CHECK_HTTP_EXPECT_DEFAULT;

		if (v != NULL && cnm_get_uint(p, sub, v, 100, 599, &e) < 0)
			return -1;
		ck->expect = (uint16_t)e;
	}
	cnm_key(sub, sizeof(sub), key, "command");
	v = json_object_get(obj, "command");
	if (ck->type == CNM_CHECK_SCRIPT) {
		if (cnm_get_str(p, sub, v, CNM_CHECK_CMD_MAX, cnm_path_char,
				"a shell command", ck->command) < 0)
			return -1;
	} else if (v != NULL) {
		return cnm_fail(p, sub, v, NULL, "no \"command\" unless \"type\" is \"script\"");
	}
	if (cnm_opt_uint(p, key, obj, "interval_ms", 10, 60000, &ck->interval_ms) < 0 ||
	    cnm_opt_uint(p, key, obj, "timeout_ms", 1, 60000, &ck->timeout_ms) < 0 ||
	    cnm_opt_uint(p, key, obj, "rise", 1, 100, &ck->rise) < 0 ||
	    cnm_opt_uint(p, key, obj, "fall", 1, 100, &ck->fall) < 0)
		return -1;
	return 0;
}

static int
cnm_parse_node(struct cnm_parser *p, const char *key, const json_t *obj,
	       struct cnm_cfg_node *node)
{
	char sub[CNM_KEY_MAX];
	json_t *v;

	if (cnm_check_object(p, key, obj, cnm_node_keys) < 0)
		return -1;
	cnm_key(sub, sizeof(sub), key, "name");
	if (cnm_get_name(p, sub, json_object_get(obj, "name"), node->name) < 0)
		return -1;
	cnm_key(sub, sizeof(sub), key, "ip");
	if (cnm_get_addr(p, sub, json_object_get(obj, "ip"), &node->ip) < 0)
		return -1;
	v = json_object_get(obj, "mac");
	if (v != NULL) {
		cnm_key(sub, sizeof(sub), key, "mac");
		if (cnm_get_mac(p, sub, v, node->mac) < 0)
			return -1;
		node->has_mac = true;
	}
	v = json_object_get(obj, "check_port");
	if (v != NULL) {
		uint32_t port = 0;

		cnm_key(sub, sizeof(sub), key, "check_port");
		if (cnm_get_uint(p, sub, v, 1, 65535, &port) < 0)
			return -1;
		node->check_port = (uint16_t)port;
	}
	node->forward = CNM_FWD_MAC;
	node->gue_port = CNM_GUE_PORT_DEFAULT;
	v = json_object_get(obj, "forward");
	if (v != NULL) {
		const struct cnm_fwd_ops *ops = cnm_fwd_find(json_string_value(v));

		cnm_key(sub, sizeof(sub), key, "forward");
		if (ops == NULL)
			return cnm_fail(p, sub, v, NULL, "%s", cnm_fwd_names());
		node->forward = ops->id;
	}
	v = json_object_get(obj, "gateway");
	if (v != NULL) {
		cnm_key(sub, sizeof(sub), key, "gateway");
		if (node->forward == CNM_FWD_MAC)
			return cnm_fail(p, sub, v, NULL,
				"no \"gateway\" with \"forward\": \"mac\" (a tunnel's next hop)");
		if (cnm_get_addr(p, sub, v, &node->gateway) < 0)
			return -1;
		node->has_gateway = true;
	}
	v = json_object_get(obj, "check");
	if (v != NULL) {
		cnm_key(sub, sizeof(sub), key, "check");
		if (node->check_port != 0)
			return cnm_fail(p, sub, v, "also check_port",
				"either \"check\" or \"check_port\", not both");
		if (cnm_parse_check(p, sub, v, &node->check) < 0)
			return -1;
	}
	v = json_object_get(obj, "gue_port");
	if (v != NULL) {
		uint32_t port = 0;

		cnm_key(sub, sizeof(sub), key, "gue_port");
		if (node->forward != CNM_FWD_GUE)
			return cnm_fail(p, sub, v, NULL, "no \"gue_port\" unless \"forward\" is \"gue\"");
		if (cnm_get_uint(p, sub, v, 1, 65535, &port) < 0)
			return -1;
		node->gue_port = (uint16_t)port;
	}
	v = json_object_get(obj, "server_id");
	if (v != NULL) {
		const char *hex = json_string_value(v);
		int n = hex != NULL ? cnm_quiclb_hex(hex, node->server_id,
						     sizeof(node->server_id)) : -EINVAL;

		cnm_key(sub, sizeof(sub), key, "server_id");
		if (n < 0)
			return cnm_fail(p, sub, v, NULL,
					"a QUIC-LB server ID: 1 to 15 bytes in hex (\"0a0b0c\")");
		node->server_id_len = (uint8_t)n;
	}
	return 0;
}

/* "A" or "A/len" with len in [min, max] (default max), of @p family. */
static int
cnm_get_prefix(struct cnm_parser *p, const char *key, const json_t *v, int family,
	       uint32_t min, uint32_t max, struct cnm_addr *out, uint32_t *len)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	const char *s = json_string_value(v);
	char want[96];
	unsigned long l = max;

	snprintf(want, sizeof(want), "an %s address, optionally with /%u..%u",
		 family == AF_INET ? "IPv4" : "IPv6", min, max);
	memset(out, 0, sizeof(*out));
	if (s == NULL || strlen(s) >= sizeof(buf))
		return cnm_fail(p, key, v, NULL, "%s", want);
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
		errno = 0;
		l = strtoul(slash + 1, &end, 10);
		if (errno != 0 || end == slash + 1 || *end != '\0' || l < min || l > max)
			return cnm_fail(p, key, v, NULL, "%s", want);
	}
	if (inet_pton(family, buf, out->bytes) != 1)
		return cnm_fail(p, key, v, NULL, "%s", want);
	out->family = (uint8_t)family;
	*len = (uint32_t)l;
	return 0;
}

static int
cnm_parse_tunnel(struct cnm_parser *p, const json_t *root)
{
	struct cnm_cfg_tunnel *t = &p->cfg->tunnel;
	const json_t *obj = json_object_get(root, "tunnel"), *v;
	uint32_t i;

	t->mtu = CNM_TUNNEL_MTU_DEFAULT;
	if (obj != NULL) {
		if (cnm_check_object(p, "tunnel", obj, cnm_tunnel_keys) < 0)
			return -1;
		v = json_object_get(obj, "source4");
		if (v != NULL && cnm_get_prefix(p, "tunnel.source4", v, AF_INET, 16, 32,
					       &t->source4, &t->source4_len) < 0)
			return -1;
		v = json_object_get(obj, "source6");
		if (v != NULL && cnm_get_prefix(p, "tunnel.source6", v, AF_INET6, 112, 128,
					       &t->source6, &t->source6_len) < 0)
			return -1;
		v = json_object_get(obj, "mtu");
		if (v != NULL && cnm_get_uint(p, "tunnel.mtu", v, 576, 65535, &t->mtu) < 0)
			return -1;
	}
	/* every tunnel node needs an outer source of its family */
	for (i = 0; i < p->cfg->n_nodes; i++) {
		const struct cnm_cfg_node *n = &p->cfg->nodes[i];
		char key[CNM_KEY_MAX], want[96];

		if (n->forward == CNM_FWD_MAC)
			continue;
		if ((n->ip.family == AF_INET ? t->source4.family : t->source6.family) != 0)
			continue;
		snprintf(key, sizeof(key), "nodes[%u].forward", i);
		snprintf(want, sizeof(want), "\"tunnel\": {\"%s\": ...} for a tunnel to an %s node",
			 n->ip.family == AF_INET ? "source4" : "source6",
			 n->ip.family == AF_INET ? "IPv4" : "IPv6");
		return cnm_fail(p, key, json_object_get(json_array_get(json_object_get(root,
			"nodes"), i), "forward"), NULL, "%s", want);
	}
	return 0;
}

/*
 * Parse "nodes", check that names and addresses are unique, and leave in
 * *index the node names sorted, for cnm_find_node().
 */
static int
cnm_parse_nodes(struct cnm_parser *p, const json_t *root,
		struct cnm_name_ent **index)
{
	struct cnm_config *cfg = p->cfg;
	struct cnm_addr_ent *addrs;
	char key[CNM_KEY_MAX];
	char got[CNM_GOT_MAX + 32];
	char q[CNM_GOT_MAX];
	json_t *nodes = json_object_get(root, "nodes");
	json_t *e;
	size_t i, n, first;
	long dup;

	if (!json_is_array(nodes) || json_array_size(nodes) == 0 ||
	    json_array_size(nodes) > CNM_MAX_NODES)
		return cnm_fail(p, "nodes", nodes, NULL,
				"an array of 1 to %u nodes", CNM_MAX_NODES);
	n = json_array_size(nodes);
	cfg->nodes = calloc(n, sizeof(*cfg->nodes));
	if (cfg->nodes == NULL)
		return cnm_fail_nomem(p, "nodes");
	cfg->n_nodes = (uint32_t)n;
	json_array_foreach(nodes, i, e) {
		cnm_key_idx(key, sizeof(key), "nodes", i);
		if (cnm_parse_node(p, key, e, &cfg->nodes[i]) < 0)
			return -1;
	}

	*index = calloc(n, sizeof(**index));
	if (*index == NULL)
		return cnm_fail_nomem(p, "nodes");
	for (i = 0; i < n; i++) {
		(*index)[i].name = cfg->nodes[i].name;
		(*index)[i].idx = (uint32_t)i;
	}
	qsort(*index, n, sizeof(**index), cnm_cmp_name);
	dup = cnm_first_dup(*index, n, sizeof(**index), cnm_same_name,
			    cnm_order_name, &first);
	if (dup >= 0) {
		snprintf(key, sizeof(key), "nodes[%u].name", (*index)[dup].idx);
		cnm_quote(q, sizeof(q), (*index)[dup].name, CNM_GOT_STR_MAX);
		snprintf(got, sizeof(got), "%s, also nodes[%u]", q,
			 (*index)[first].idx);
		return cnm_fail(p, key, NULL, got,
				"a name not used by another node");
	}
	if (cnm_check_tel_names(p, *index, n, "nodes", "node") < 0)
		return -1;

	addrs = calloc(n, sizeof(*addrs));
	if (addrs == NULL)
		return cnm_fail_nomem(p, "nodes");
	for (i = 0; i < n; i++) {
		addrs[i].addr = cfg->nodes[i].ip;
		addrs[i].idx = (uint32_t)i;
	}
	qsort(addrs, n, sizeof(*addrs), cnm_cmp_addr_ent);
	dup = cnm_first_dup(addrs, n, sizeof(*addrs), cnm_same_addr,
			    cnm_order_addr, &first);
	if (dup >= 0) {
		char a[INET6_ADDRSTRLEN];

		snprintf(key, sizeof(key), "nodes[%u].ip", addrs[dup].idx);
		snprintf(got, sizeof(got), "\"%s\", also nodes[%u]",
			 cnm_addr_str(&addrs[dup].addr, a, sizeof(a)),
			 addrs[first].idx);
		free(addrs);
		return cnm_fail(p, key, NULL, got,
				"an address not used by another node");
	}
	free(addrs);
	return 0;
}

/* Index of node @p name through the sorted index, or -1. */
static long
cnm_find_node(const struct cnm_name_ent *index, size_t n, const char *name)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, index[mid].name);

		if (c == 0)
			return index[mid].idx;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

static int
cnm_parse_policy(struct cnm_parser *p, const char *key, const json_t *v,
		 enum cnm_policy *out)
{
	/* json_string_value() is NULL if not a string */
	const struct cnm_policy_ops *ops = cnm_policy_find(json_string_value(v));

	if (ops == NULL)
		return cnm_fail(p, key, v, NULL, "%s", cnm_policy_names());
	*out = (enum cnm_policy)ops->id;
	return 0;
}

static int
cnm_parse_service_ports(struct cnm_parser *p, const char *key, const json_t *v,
			struct cnm_cfg_service *svc)
{
	/* one bit per (proto, port): 16 KiB, to find duplicates in O(n) */
	static const size_t words = 65536 / 64;
	char sub[CNM_KEY_MAX];
	uint64_t *seen;
	json_t *e;
	size_t i, n;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return cnm_fail(p, key, v, NULL,
				"a non-empty array of \"N/tcp\" or \"N/udp\"");
	n = json_array_size(v);
	/* at most one entry per (proto, port) can be valid */
	if (n > 2 * 65535u)
		return cnm_fail(p, key, v, "too many entries",
				"at most %u ports", 2 * 65535u);
	svc->ports = calloc(n, sizeof(*svc->ports));
	seen = calloc(2 * words, sizeof(*seen));
	if (svc->ports == NULL || seen == NULL) {
		free(seen);
		return cnm_fail_nomem(p, key);
	}
	svc->n_ports = (uint32_t)n;
	json_array_foreach(v, i, e) {
		struct cnm_cfg_port *port = &svc->ports[i];
		size_t bit;

		cnm_key_idx(sub, sizeof(sub), key, i);
		if (cnm_get_service_port(p, sub, e, port) < 0) {
			free(seen);
			return -1;
		}
		bit = (port->proto == IPPROTO_UDP ? 65536u : 0u) + port->port;
		if (seen[bit / 64] & (UINT64_C(1) << (bit % 64))) {
			free(seen);
			return cnm_fail(p, sub, e, NULL,
					"a port not already listed in this service");
		}
		seen[bit / 64] |= UINT64_C(1) << (bit % 64);
	}
	free(seen);
	return 0;
}

static int
cnm_parse_service_protocols(struct cnm_parser *p, const char *key,
			    const json_t *v, struct cnm_cfg_service *svc)
{
	char sub[CNM_KEY_MAX];
	json_t *e;
	size_t i;

	if (!json_is_array(v) || json_array_size(v) == 0)
		return cnm_fail(p, key, v, NULL,
				"a non-empty array of \"tcp\" or \"udp\"");
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		uint8_t bit;

		cnm_key_idx(sub, sizeof(sub), key, i);
		if (s != NULL && strcmp(s, "tcp") == 0)
			bit = CNM_PROTO_BIT_TCP;
		else if (s != NULL && strcmp(s, "udp") == 0)
			bit = CNM_PROTO_BIT_UDP;
		else
			return cnm_fail(p, sub, e, NULL, "\"tcp\" or \"udp\"");
		if (svc->protocols & bit)
			return cnm_fail(p, sub, e, NULL,
					"a protocol not already listed in this service");
		svc->protocols |= bit;
	}
	return 0;
}

static int
cnm_parse_members(struct cnm_parser *p, const char *key, const json_t *v,
		  const struct cnm_name_ent *index, struct cnm_cfg_service *svc)
{
	const struct cnm_config *cfg = p->cfg;
	char sub[CNM_KEY_MAX];
	const char *name;
	json_t *w;
	size_t i = 0;

	if (!json_is_object(v) || json_object_size(v) == 0)
		return cnm_fail(p, key, v, NULL,
				"a non-empty object of node name to weight");
	/* keys are unique (JSON_REJECT_DUPLICATES), so at most n_nodes */
	svc->members = calloc(json_object_size(v), sizeof(*svc->members));
	if (svc->members == NULL)
		return cnm_fail_nomem(p, key);
	json_object_foreach((json_t *)v, name, w) {
		long node;

		cnm_key(sub, sizeof(sub), key, name);
		node = cnm_find_node(index, cfg->n_nodes, name);
		if (node < 0) {
			char q[CNM_GOT_MAX];

			cnm_quote(q, sizeof(q), name, CNM_GOT_STR_MAX);
			return cnm_fail(p, sub, NULL, q,
					"the name of a node in \"nodes\"");
		}
		svc->members[i].node = (uint32_t)node;
		if (cnm_get_uint(p, sub, w, 0, 65535,
				 &svc->members[i].weight) < 0)
			return -1;
		svc->n_members = (uint32_t)++i;
	}
	return 0;
}

static int
cnm_parse_service(struct cnm_parser *p, const char *key, const json_t *obj,
		  const struct cnm_name_ent *index, struct cnm_cfg_service *svc)
{
	char sub[CNM_KEY_MAX];
	json_t *ports, *protocols, *v;
	bool wild;

	if (cnm_check_object(p, key, obj, cnm_service_keys) < 0)
		return -1;
	cnm_key(sub, sizeof(sub), key, "name");
	if (cnm_get_name(p, sub, json_object_get(obj, "name"), svc->name) < 0)
		return -1;
	cnm_key(sub, sizeof(sub), key, "vip");
	if (cnm_get_addr(p, sub, json_object_get(obj, "vip"), &svc->vip) < 0)
		return -1;
	cnm_key(sub, sizeof(sub), key, "policy");
	if (cnm_parse_policy(p, sub, json_object_get(obj, "policy"),
			     &svc->policy) < 0)
		return -1;
	wild = cnm_policy_get(svc->policy)->table == CNM_TABLE_ADDR;

	ports = json_object_get(obj, "ports");
	protocols = json_object_get(obj, "protocols");
	if (wild) {
		if (ports != NULL) {
			cnm_key(sub, sizeof(sub), key, "ports");
			return cnm_fail(p, sub, ports, NULL,
					"no \"ports\" with policy \"sticky-wild\"; it takes \"protocols\"");
		}
		cnm_key(sub, sizeof(sub), key, "protocols");
		if (cnm_parse_service_protocols(p, sub, protocols, svc) < 0)
			return -1;
	} else {
		if (protocols != NULL) {
			cnm_key(sub, sizeof(sub), key, "protocols");
			return cnm_fail(p, sub, protocols, NULL,
					"no \"protocols\" with policy \"%s\"; it takes \"ports\"",
					cnm_policy_name(svc->policy));
		}
		cnm_key(sub, sizeof(sub), key, "ports");
		if (cnm_parse_service_ports(p, sub, ports, svc) < 0)
			return -1;
	}

	cnm_key(sub, sizeof(sub), key, "nodes");
	if (cnm_parse_members(p, sub, json_object_get(obj, "nodes"), index,
			      svc) < 0)
		return -1;

	svc->pdt_size = p->cfg->pdt_size;
	v = json_object_get(obj, "pdt_size");
	if (v != NULL) {
		cnm_key(sub, sizeof(sub), key, "pdt_size");
		if (cnm_get_pdt_size(p, sub, v, &svc->pdt_size) < 0)
			return -1;
	}

	svc->second_chance_s = p->cfg->second_chance_s;
	if (cnm_opt_uint(p, key, obj, "second_chance_s", 0, CNM_SECOND_CHANCE_S_MAX,
			 &svc->second_chance_s) < 0)
		return -1;

	svc->arp = true;
	v = json_object_get(obj, "arp");
	if (v != NULL) {
		cnm_key(sub, sizeof(sub), key, "arp");
		if (!json_is_boolean(v))
			return cnm_fail(p, sub, v, NULL, "true or false");
		svc->arp = json_is_true(v);
	}

	v = json_object_get(obj, "udp_timeout_s");
	if (v != NULL) {
		bool udp = (svc->protocols & CNM_PROTO_BIT_UDP) != 0;
		uint32_t i;

		cnm_key(sub, sizeof(sub), key, "udp_timeout_s");
		if (cnm_get_uint(p, sub, v, 0, CNM_TIMEOUT_S_MAX, &svc->udp_timeout_s) < 0)
			return -1;
		for (i = 0; i < svc->n_ports; i++)
			udp |= svc->ports[i].proto == IPPROTO_UDP;
		if (svc->udp_timeout_s != 0 && !udp)
			return cnm_fail(p, sub, v, NULL,
					"no \"udp_timeout_s\" in a service without UDP "
					"(it is the idle time of the service's UDP flows)");
	}

	v = json_object_get(obj, "quic_lb");
	if (v != NULL) {
		struct cnm_quiclb_conf confs[CNM_QUICLB_CONFIGS];
		unsigned int n = 0, i;
		bool udp = false;

		cnm_key(sub, sizeof(sub), key, "quic_lb");
		for (i = 0; i < svc->n_ports; i++)
			udp |= svc->ports[i].proto == IPPROTO_UDP;
		if (!udp)
			return cnm_fail(p, sub, v, NULL,
					"no \"quic_lb\" in a service without a UDP port "
					"(QUIC runs over UDP)");
		if (cnm_quiclb_conf_json(v, p->file, sub, confs, &n, p->err, p->errlen) < 0) {
			errno = EINVAL;
			return -1;
		}
		for (i = 1; i < n; i++)
			if (confs[i].server_id_len != confs[0].server_id_len)
				return cnm_fail(p, sub, v, NULL,
						"configurations of one server ID length "
						"(a node's \"server_id\" serves them all)");
		svc->quic = calloc(n, sizeof(*svc->quic));
		if (svc->quic == NULL)
			return cnm_fail_nomem(p, sub);
		memcpy(svc->quic, confs, n * sizeof(*confs));
		svc->n_quic = n;
		/* the configuration keeps the key (the tables build the
		 * service's context from it); wipe this copy */
		memset(confs, 0, sizeof(confs));
	}
	return 0;
}

/* Position of @p proto in "protocols" of service @p svc (already checked). */
static uint32_t
cnm_proto_pos(const json_t *services, size_t svc, const char *proto)
{
	const json_t *list = json_object_get(json_array_get(services, svc),
					     "protocols");
	const json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
		if (strcmp(json_string_value(e), proto) == 0)
			return (uint32_t)i;
	return 0;
}

/* Service names unique; no two services claim the same traffic. */
/*
 * QUIC-LB server IDs: no two nodes share one, and a node's has the length
 * of every QUIC service it is in (a node without one is reached by the
 * PDT only).
 */
static int
cnm_check_server_ids(struct cnm_parser *p)
{
	const struct cnm_config *cfg = p->cfg;
	char key[CNM_KEY_MAX], nk[CNM_KEY_MAX], got[CNM_GOT_MAX + 64];
	uint32_t i, j;

	for (i = 0; i < cfg->n_nodes; i++) {
		const struct cnm_cfg_node *a = &cfg->nodes[i];

		if (a->server_id_len == 0)
			continue;
		for (j = 0; j < i; j++) {
			const struct cnm_cfg_node *b = &cfg->nodes[j];

			if (b->server_id_len == a->server_id_len &&
			    memcmp(b->server_id, a->server_id, a->server_id_len) == 0) {
				cnm_key_idx(nk, sizeof(nk), "nodes", i);
				cnm_key(key, sizeof(key), nk, "server_id");
				return cnm_fail(p, key, NULL, "a server ID",
						"a server ID no other node has (node %s has it)",
						b->name);
			}
		}
	}
	for (i = 0; i < cfg->n_services; i++) {
		const struct cnm_cfg_service *s = &cfg->services[i];

		if (s->n_quic == 0)
			continue;
		for (j = 0; j < s->n_members; j++) {
			const struct cnm_cfg_node *n = &cfg->nodes[s->members[j].node];

			if (n->server_id_len == 0 || n->server_id_len == s->quic[0].server_id_len)
				continue;
			cnm_key_idx(nk, sizeof(nk), "nodes", s->members[j].node);
			cnm_key(key, sizeof(key), nk, "server_id");
			snprintf(got, sizeof(got), "%u bytes", n->server_id_len);
			return cnm_fail(p, key, NULL, got,
					"%u bytes in hex, the server_id_len of service %s, "
					"whose node it is", s->quic[0].server_id_len, s->name);
		}
	}
	return 0;
}

static int
cnm_check_services(struct cnm_parser *p, const json_t *services)
{
	const struct cnm_config *cfg = p->cfg;
	struct cnm_name_ent *names;
	struct cnm_claim *claims;
	char key[CNM_KEY_MAX];
	char got[CNM_GOT_MAX + 96];
	char q[CNM_GOT_MAX];
	char a[INET6_ADDRSTRLEN];
	size_t i, j, n = cfg->n_services, n_claims = 0, first;
	long dup;

	if (n == 0)
		return 0;
	names = calloc(n, sizeof(*names));
	if (names == NULL)
		return cnm_fail_nomem(p, "services");
	for (i = 0; i < n; i++) {
		names[i].name = cfg->services[i].name;
		names[i].idx = (uint32_t)i;
	}
	qsort(names, n, sizeof(*names), cnm_cmp_name);
	dup = cnm_first_dup(names, n, sizeof(*names), cnm_same_name,
			    cnm_order_name, &first);
	if (dup >= 0) {
		snprintf(key, sizeof(key), "services[%u].name", names[dup].idx);
		cnm_quote(q, sizeof(q), names[dup].name, CNM_GOT_STR_MAX);
		snprintf(got, sizeof(got), "%s, also services[%u]", q,
			 names[first].idx);
		free(names);
		return cnm_fail(p, key, NULL, got,
				"a name not used by another service");
	}
	if (cnm_check_tel_names(p, names, n, "services", "service") < 0) {
		free(names);
		return -1;
	}
	free(names);

	for (i = 0; i < n; i++)
		n_claims += cfg->services[i].n_ports + 2;
	claims = calloc(n_claims, sizeof(*claims));
	if (claims == NULL)
		return cnm_fail_nomem(p, "services");
	n_claims = 0;
	for (i = 0; i < n; i++) {
		const struct cnm_cfg_service *svc = &cfg->services[i];

		for (j = 0; j < svc->n_ports; j++) {
			struct cnm_claim *c = &claims[n_claims++];

			c->vip = svc->vip;
			c->proto = svc->ports[j].proto;
			c->port = svc->ports[j].port;
			c->svc = (uint32_t)i;
			c->item = (uint32_t)j;
		}
		for (j = 0; j < 2; j++) {
			uint8_t bit = j == 0 ? CNM_PROTO_BIT_TCP :
					       CNM_PROTO_BIT_UDP;
			struct cnm_claim *c;

			if (!(svc->protocols & bit))
				continue;
			c = &claims[n_claims++];
			c->vip = svc->vip;
			c->wild = 1;
			c->proto = j == 0 ? IPPROTO_TCP : IPPROTO_UDP;
			c->svc = (uint32_t)i;
			/* position in the file's array, for the message */
			c->item = cnm_proto_pos(services, i, j == 0 ? "tcp" : "udp");
		}
	}
	qsort(claims, n_claims, sizeof(*claims), cnm_cmp_claim);
	dup = cnm_first_dup(claims, n_claims, sizeof(*claims), cnm_same_claim,
			    cnm_order_claim, &first);
	if (dup >= 0) {
		const struct cnm_claim *c = &claims[dup];
		const struct cnm_cfg_service *svc = &cfg->services[c->svc];
		const struct cnm_cfg_service *other =
			&cfg->services[claims[first].svc];
		const char *proto = c->proto == IPPROTO_TCP ? "tcp" : "udp";

		cnm_addr_str(&c->vip, a, sizeof(a));
		cnm_quote(q, sizeof(q), other->name, CNM_GOT_STR_MAX);
		if (c->wild) {
			snprintf(key, sizeof(key), "services[%u].protocols[%u]",
				 c->svc, c->item);
			snprintf(got, sizeof(got),
				 "%s on %s, also services[%u] %s", proto, a,
				 claims[first].svc, q);
			free(claims);
			return cnm_fail(p, key, NULL, got,
					"a (vip, protocol) not claimed by another sticky-wild service");
		}
		snprintf(key, sizeof(key), "services[%u].ports[%u]", c->svc,
			 c->item);
		snprintf(got, sizeof(got), "%u/%s on %s, also services[%u] %s",
			 svc->ports[c->item].port, proto, a, claims[first].svc,
			 q);
		free(claims);
		return cnm_fail(p, key, NULL, got,
				"a (vip, port) not claimed by another service");
	}
	free(claims);
	return 0;
}

static int
cnm_parse_services(struct cnm_parser *p, const json_t *root,
		   const struct cnm_name_ent *index)
{
	struct cnm_config *cfg = p->cfg;
	char key[CNM_KEY_MAX];
	json_t *services = json_object_get(root, "services");
	json_t *e;
	size_t i, n;
	uint64_t entries = 0, keys = 0, pairs = 0, keys1 = 0, keys2 = 0;

	if (!json_is_array(services) ||
	    json_array_size(services) > CNM_MAX_SERVICES)
		return cnm_fail(p, "services", services, NULL,
				"an array of 0 to %u services",
				CNM_MAX_SERVICES);
	n = json_array_size(services);
	if (n > 0) {
		cfg->services = calloc(n, sizeof(*cfg->services));
		if (cfg->services == NULL)
			return cnm_fail_nomem(p, "services");
	}
	json_array_foreach(services, i, e) {
		cnm_key_idx(key, sizeof(key), "services", i);
		/* counted before parsing so that free sees partial services */
		cfg->n_services = (uint32_t)i + 1;
		if (cnm_parse_service(p, key, e, index, &cfg->services[i]) < 0)
			return -1;
		/* the budget: what the tables would allocate, judged before
		 * anything is (a configuration from a file, a reload or a
		 * checkpointed state alike) */
		entries += cfg->services[i].pdt_size;
		keys += cfg->services[i].n_ports + 1;
		pairs += cfg->services[i].n_members;
		if (pairs > CNM_MEMBERS_MAX)
			return cnm_fail(p, key, NULL, "over the budget",
					"services with at most %u nodes in their lists in all",
					CNM_MEMBERS_MAX);
		if (entries > CNM_PDT_ENTRIES_MAX)
			return cnm_fail(p, key, NULL, "over the budget",
					"services whose PDTs hold at most %u entries in all (pdt_size summed)",
					CNM_PDT_ENTRIES_MAX);
		if (keys > CNM_SVC_KEYS_MAX)
			return cnm_fail(p, key, NULL, "over the budget",
					"services with at most %u (VIP, port) keys in all",
					CNM_SVC_KEYS_MAX);
		/* and the capacity of the tables lib/service builds: a key
		 * that does not fit would fail the start-up or the reload
		 * halfway */
		if (cfg->services[i].n_ports > 0) {
			keys1 += cfg->services[i].n_ports;
		} else {
			keys2 += (cfg->services[i].protocols & CNM_PROTO_BIT_TCP) != 0;
			keys2 += (cfg->services[i].protocols & CNM_PROTO_BIT_UDP) != 0;
		}
		if (keys1 > CNM_TABLE1_KEYS_MAX) {
			char got[96];

			snprintf(got, sizeof(got), "%" PRIu64 " keys up to this service", keys1);
			return cnm_fail(p, key, NULL, got,
					"weighted and sticky services with at most %u ports in all "
					"(the first table holds %u (VIP, protocol, port) keys)",
					CNM_TABLE1_KEYS_MAX, CNM_TABLE1_KEYS_MAX);
		}
		if (keys2 > CNM_TABLE2_KEYS_MAX) {
			char got[96];

			snprintf(got, sizeof(got), "%" PRIu64 " keys up to this service", keys2);
			return cnm_fail(p, key, NULL, got,
					"sticky-wild services with at most %u (VIP, protocol) keys "
					"in all (the second table holds %u)",
					CNM_TABLE2_KEYS_MAX, CNM_TABLE2_KEYS_MAX);
		}
	}
	if (cnm_check_services(p, services) < 0)
		return -1;
	return cnm_check_server_ids(p);
}

static int
cnm_parse_control(struct cnm_parser *p, const json_t *root)
{
	json_t *obj = json_object_get(root, "control");
	json_t *v;

	if (obj == NULL)
		return 0;
	if (cnm_check_object(p, "control", obj, cnm_control_keys) < 0)
		return -1;
	v = json_object_get(obj, "socket");
	if (v != NULL && cnm_get_str(p, "control.socket", v, CNM_PATH_MAX, cnm_path_char,
				     "a socket path", p->cfg->control_socket) < 0)
		return -1;
	v = json_object_get(obj, "state_file");
	if (v != NULL && cnm_get_str(p, "control.state_file", v, CNM_PATH_MAX, cnm_path_char,
				     "a file path", p->cfg->state_file) < 0)
		return -1;
	return 0;
}

/* "memory": {"limit_mb": N}: the most memory the configuration may take */
static int
cnm_parse_memory(struct cnm_parser *p, const json_t *root)
{
	json_t *obj = json_object_get(root, "memory");
	uint32_t mb = 0;

	if (obj == NULL)
		return 0;
	if (cnm_check_object(p, "memory", obj, cnm_memory_keys) < 0 ||
	    cnm_opt_uint(p, "memory", obj, "limit_mb", 16, 1u << 24, &mb) < 0)
		return -1;
	p->cfg->mem_limit_mb = mb;
	return 0;
}

/* "12.3 MiB" */
static const char *
mib(uint64_t b, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f MiB", (double)b / (1 << 20));
	return buf;
}

/*
 * Last: the memory the whole configuration takes where it runs (the
 * environment cnm_config_set_env() set), against memory.limit_mb or, without
 * it, what the EAL was given; and the EAL's share against the EAL's memory.
 */
static int
cnm_check_memory(struct cnm_parser *p)
{
	const struct cnm_mem_env *env = cnm_config_env();
	const struct cnm_config *cfg = p->cfg;
	struct cnm_mem_estimate e;
	char got[CNM_ERR_MAX], b[8][32];
	uint64_t limit;

	if (env == NULL)
		return 0;
	cnm_config_mem(cfg, env, &e);
	snprintf(got, sizeof(got), "about %s: PDTs %s, services %s, tables %s, forwarding "
		 "lists %s (%u worker(s) x %u IPv4 + %u IPv6 entries), mbufs %s, workers and "
		 "counters %s",
		 mib(e.total, b[0], sizeof(b[0])), mib(e.pdts, b[1], sizeof(b[1])),
		 mib(e.services, b[2], sizeof(b[2])), mib(e.tables, b[3], sizeof(b[3])),
		 mib(e.conntrack, b[4], sizeof(b[4])), env->workers ? env->workers : 1,
		 cfg->conn_max, cfg->conn_max6, mib(e.mbufs, b[5], sizeof(b[5])),
		 mib(e.workers, b[6], sizeof(b[6])));
	if (cfg->mem_limit_mb != 0) {
		limit = cfg->mem_limit_mb << 20;
		if (e.total > limit)
			return cnm_fail(p, "memory.limit_mb", NULL, got,
					"a configuration that takes at most %" PRIu64 " MiB",
					cfg->mem_limit_mb);
	} else if (env->eal_bytes != 0 && e.total > env->eal_bytes) {
		return cnm_fail(p, "(memory)", NULL, got,
				"a configuration that takes at most %s, the memory the EAL "
				"was given (%s; or a \"memory\": {\"limit_mb\": N} of its own)",
				mib(env->eal_bytes, b[7], sizeof(b[7])),
				env->eal_from != NULL ? env->eal_from : "-m");
	}
	if (env->eal_bytes != 0 && e.eal > env->eal_bytes) {
		snprintf(got, sizeof(got), "about %s of EAL memory: tables %s, forwarding lists %s, "
			 "mbufs %s", mib(e.eal, b[0], sizeof(b[0])),
			 mib(CNM_MEM_TABLE_COPIES * env->tables_eal, b[1], sizeof(b[1])),
			 mib(e.conntrack, b[2], sizeof(b[2])), mib(e.mbufs, b[3], sizeof(b[3])));
		return cnm_fail(p, "(memory)", NULL, got,
				"a configuration whose DPDK allocations fit in the %s the EAL "
				"was given (%s)", mib(env->eal_bytes, b[7], sizeof(b[7])),
				env->eal_from != NULL ? env->eal_from : "-m");
	}
	return 0;
}

static int
cnm_parse_conntrack(struct cnm_parser *p, const json_t *root)
{
	struct cnm_config *cfg = p->cfg;
	json_t *obj = json_object_get(root, "conntrack");

	/* IPv6 connections: as many as IPv4 ones unless "max6" says */
	cfg->conn_max6 = 0;
	if (obj == NULL) {
		cfg->conn_max6 = cfg->conn_max;
		return 0;
	}
	if (cnm_check_object(p, "conntrack", obj, cnm_conntrack_keys) < 0)
		return -1;
	if (cnm_opt_uint(p, "conntrack", obj, "max", CNM_CONN_MAX_MIN,
			 CNM_CONN_MAX_MAX, &cfg->conn_max) < 0 ||
	    cnm_opt_uint(p, "conntrack", obj, "max6", CNM_CONN_MAX_MIN,
			 CNM_CONN_MAX_MAX, &cfg->conn_max6) < 0 ||
	    cnm_opt_uint(p, "conntrack", obj, "timeout_s", 1, CNM_TIMEOUT_S_MAX,
			 &cfg->conn_timeout_s) < 0 ||
	    cnm_opt_uint(p, "conntrack", obj, "closing_s", 1, CNM_TIMEOUT_S_MAX,
			 &cfg->conn_closing_s) < 0 ||
	    cnm_opt_uint(p, "conntrack", obj, "syn_s", 1, CNM_TIMEOUT_S_MAX,
			 &cfg->conn_syn_s) < 0)
		return -1;
	if (cfg->conn_max6 == 0)
		cfg->conn_max6 = cfg->conn_max;
	return 0;
}

static int
cnm_parse_health(struct cnm_parser *p, const json_t *root)
{
	struct cnm_config *cfg = p->cfg;
	json_t *obj = json_object_get(root, "health"), *v;

	if (obj == NULL)
		return 0;
	if (cnm_check_object(p, "health", obj, cnm_health_keys) < 0)
		return -1;
	cfg->health_enabled = true;
	if (cnm_opt_uint(p, "health", obj, "interval_ms", 10, 60000,
			 &cfg->health_interval_ms) < 0 ||
	    cnm_opt_uint(p, "health", obj, "timeout_ms", 1, 60000,
			 &cfg->health_timeout_ms) < 0 ||
	    cnm_opt_uint(p, "health", obj, "rise", 1, 100,
			 &cfg->health_rise) < 0 ||
	    cnm_opt_uint(p, "health", obj, "fall", 1, 100,
			 &cfg->health_fall) < 0)
		return -1;
	v = json_object_get(obj, "source");
	if (v != NULL && (cnm_get_addr(p, "health.source", v, &cfg->health_source) < 0 ||
			  cfg->health_source.family != AF_INET))
		return cnm_fail(p, "health.source", v, NULL,
			"an IPv4 address on the private segment (cnmux's, for icmp and tcp checks)");
	v = json_object_get(obj, "source6");
	if (v != NULL && (cnm_get_addr(p, "health.source6", v, &cfg->health_source6) < 0 ||
			  cfg->health_source6.family != AF_INET6))
		return cnm_fail(p, "health.source6", v, NULL,
			"an IPv6 address on the private segment (cnmux's, for icmp and tcp checks)");
	v = json_object_get(obj, "notify");
	if (v != NULL && cnm_get_str(p, "health.notify", v, CNM_CHECK_CMD_MAX, cnm_path_char,
				     "a shell command", cfg->health_notify) < 0)
		return -1;
	return 0;
}

/* icmp and tcp checks are sent from health.source (IPv4 nodes) or
 * health.source6 (IPv6 nodes): the node must have one to answer. */
static int
cnm_check_sources(struct cnm_parser *p)
{
	const struct cnm_config *cfg = p->cfg;
	uint32_t i;

	for (i = 0; i < cfg->n_nodes; i++) {
		const struct cnm_cfg_node *n = &cfg->nodes[i];
		int v6 = n->ip.family == AF_INET6;
		char key[CNM_KEY_MAX];

		if (n->check.type != CNM_CHECK_ICMP && n->check.type != CNM_CHECK_TCP &&
		    n->check.type != CNM_CHECK_HTTP && n->check.type != CNM_CHECK_HTTPS)
			continue;
		if ((v6 ? cfg->health_source6.family : cfg->health_source.family) != 0)
			continue;
		snprintf(key, sizeof(key), "nodes[%u].check.type", i);
		return cnm_fail(p, key, NULL, cnm_check_names[n->check.type],
			"a \"health\" object with \"%s\" (cnmux's own address on the private segment, "
			"the source of icmp, tcp, http and https checks) for this type", v6 ? "source6" : "source");
	}
	return 0;
}

/* "paths": spreading over the private paths and their reachability check. */
static int
cnm_parse_paths(struct cnm_parser *p, const json_t *root, const struct cnm_name_ent *index)
{
	struct cnm_config *cfg = p->cfg;
	json_t *obj = json_object_get(root, "paths"), *v, *a;
	char key[CNM_KEY_MAX];
	size_t i, j;

	cfg->paths_spread = cfg->n_private > 1;
	cfg->paths_interval_ms = CNM_PATH_INTERVAL_MS_DEFAULT;
	cfg->paths_rounds = CNM_PATH_ROUNDS_DEFAULT;
	cfg->paths_rise = CNM_PATH_RISE_DEFAULT;
	if (obj == NULL)
		return 0;
	if (cnm_check_object(p, "paths", obj, cnm_paths_keys) < 0)
		return -1;
	v = json_object_get(obj, "spread");
	if (v != NULL) {
		if (!json_is_boolean(v))
			return cnm_fail(p, "paths.spread", v, NULL, "true or false");
		cfg->paths_spread = json_is_true(v);
	}
	if (cnm_opt_uint(p, "paths", obj, "interval_ms", 10, 60000,
			 &cfg->paths_interval_ms) < 0 ||
	    cnm_opt_uint(p, "paths", obj, "rounds", 1, 100, &cfg->paths_rounds) < 0 ||
	    cnm_opt_uint(p, "paths", obj, "rise", 1, 100, &cfg->paths_rise) < 0)
		return -1;
	a = json_object_get(obj, "nodes");
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > CNM_PATH_NODES_MAX)
		return cnm_fail(p, "paths.nodes", a, NULL,
				"an array of at most %d node names", CNM_PATH_NODES_MAX);
	cfg->paths_nodes_set = true;
	json_array_foreach(a, i, v) {
		const char *name = json_string_value(v);

		cnm_key_idx(key, sizeof(key), "paths.nodes", i);
		if (name == NULL || cnm_find_node(index, cfg->n_nodes, name) < 0)
			return cnm_fail(p, key, v, NULL, "the name of a node in \"nodes\"");
		for (j = 0; j < cfg->n_paths_nodes; j++)
			if (strcmp(cfg->paths_nodes[j], name) == 0)
				return cnm_fail(p, key, v, NULL, "a node not listed before");
		snprintf(cfg->paths_nodes[cfg->n_paths_nodes++], CNM_NAME_MAX, "%s", name);
	}
	return 0;
}

/* "A.B.C.D:PORT" or "[IPV6]:PORT", port 1..65535. */
static int
cnm_get_endpoint(struct cnm_parser *p, const char *key, const json_t *v,
		 struct cnm_endpoint *out)
{
	char host[CNM_NAME_MAX];
	const char *s, *colon;
	unsigned long port;
	size_t hl;
	char *end;

	memset(out, 0, sizeof(*out));
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	if (strlen(s) >= sizeof(out->text))
		goto bad;
	colon = strrchr(s, ':');
	if (colon == NULL || colon == s)
		goto bad;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			goto bad;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, out->ip.bytes) != 1)
			goto bad;
		out->ip.family = AF_INET6;
	} else {
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, out->ip.bytes) != 1)
			goto bad;
		out->ip.family = AF_INET;
	}
	if (colon[1] < '0' || colon[1] > '9')
		goto bad;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
		goto bad;
	out->port = (uint16_t)port;
	snprintf(out->text, sizeof(out->text), "%s", s);
	return 0;
bad:
	memset(out, 0, sizeof(*out));
	return cnm_fail(p, key, v, NULL,
			"an address and TCP port \"IPV4:PORT\" or \"[IPV6]:PORT\"");
}

/* "metrics": {"listen": "IP:PORT"}: the Prometheus endpoint (lib/metrics) */
static int
cnm_parse_metrics(struct cnm_parser *p, const json_t *root)
{
	json_t *obj = json_object_get(root, "metrics");

	if (obj == NULL)
		return 0;
	if (cnm_check_object(p, "metrics", obj, cnm_metrics_keys) < 0 ||
	    cnm_get_endpoint(p, "metrics.listen", json_object_get(obj, "listen"),
			     &p->cfg->metrics_listen) < 0)
		return -1;
	return 0;
}

/*
 * "announce": {"file4": PATH, "file6": PATH, "command": CMD}: the VIPs with
 * an active node, for a routing daemon (lib/announce, docs/bgp.md)
 */
static int
cnm_parse_announce(struct cnm_parser *p, const json_t *root)
{
	json_t *obj = json_object_get(root, "announce"), *v;
	struct cnm_config *cfg = p->cfg;

	if (obj == NULL)
		return 0;
	if (cnm_check_object(p, "announce", obj, cnm_announce_keys) < 0)
		return -1;
	v = json_object_get(obj, "file4");
	if (v != NULL && cnm_get_str(p, "announce.file4", v, CNM_PATH_MAX, cnm_path_char,
				     "a file path", cfg->announce_file4) < 0)
		return -1;
	v = json_object_get(obj, "file6");
	if (v != NULL && cnm_get_str(p, "announce.file6", v, CNM_PATH_MAX, cnm_path_char,
				     "a file path", cfg->announce_file6) < 0)
		return -1;
	v = json_object_get(obj, "command");
	if (v != NULL && cnm_get_str(p, "announce.command", v, CNM_CMD_MAX, cnm_path_char,
				     "a shell command", cfg->announce_cmd) < 0)
		return -1;
	if (cfg->announce_file4[0] == '\0' && cfg->announce_file6[0] == '\0')
		return cnm_fail(p, "announce", obj, "neither file4 nor file6",
				"file4 or file6: where the VIPs are written");
	return 0;
}

static int
cnm_parse_ha(struct cnm_parser *p, const json_t *root)
{
	struct cnm_cfg_ha *ha = &p->cfg->ha;
	json_t *obj = json_object_get(root, "ha");
	char key[CNM_KEY_MAX], sub[CNM_KEY_MAX];
	const char *role;
	json_t *v, *peers;
	size_t i, j;

	if (obj == NULL)
		return 0;
	if (cnm_check_object(p, "ha", obj, cnm_ha_keys) < 0)
		return -1;
	ha->enabled = true;
	if (cnm_get_name(p, "ha.id", json_object_get(obj, "id"), ha->id) < 0 ||
	    cnm_get_endpoint(p, "ha.listen", json_object_get(obj, "listen"), &ha->listen) < 0)
		return -1;
	v = json_object_get(obj, "role");
	role = json_string_value(v);
	if (role != NULL && strcmp(role, "primary") == 0)
		ha->role = CNM_HA_PRIMARY;
	else if (role != NULL && strcmp(role, "secondary") == 0)
		ha->role = CNM_HA_SECONDARY;
	else if (role != NULL && strcmp(role, "slave") == 0)
		ha->role = CNM_HA_SLAVE;
	else
		return cnm_fail(p, "ha.role", v, NULL, "\"primary\", \"secondary\" or \"slave\"");
	peers = json_object_get(obj, "peers");
	if (!json_is_array(peers) || json_array_size(peers) == 0 ||
	    json_array_size(peers) > CNM_HA_PEERS_MAX)
		return cnm_fail(p, "ha.peers", peers, NULL, "an array of 1 to %u peers",
				CNM_HA_PEERS_MAX);
	ha->n_peers = (uint32_t)json_array_size(peers);
	for (i = 0; i < ha->n_peers; i++) {
		struct cnm_cfg_ha_peer *pe = &ha->peers[i];
		json_t *po = json_array_get(peers, i);

		cnm_key_idx(key, sizeof(key), "ha.peers", i);
		if (cnm_check_object(p, key, po, cnm_ha_peer_keys) < 0)
			return -1;
		cnm_key(sub, sizeof(sub), key, "id");
		v = json_object_get(po, "id");
		if (cnm_get_name(p, sub, v, pe->id) < 0)
			return -1;
		if (strcmp(pe->id, ha->id) == 0)
			return cnm_fail(p, sub, v, NULL, "another holder than ha.id");
		for (j = 0; j < i; j++)
			if (strcmp(ha->peers[j].id, pe->id) == 0)
				return cnm_fail(p, sub, v, NULL, "a peer id not used before");
		cnm_key(sub, sizeof(sub), key, "address");
		if (cnm_get_endpoint(p, sub, json_object_get(po, "address"), &pe->address) < 0)
			return -1;
	}
	if (cnm_opt_uint(p, "ha", obj, "heartbeat_ms", 10, 1000, &ha->heartbeat_ms) < 0 ||
	    cnm_opt_uint(p, "ha", obj, "ack_timeout_ms", 1, 10000, &ha->ack_timeout_ms) < 0)
		return -1;
	v = json_object_get(obj, "failover_ms");
	if (v != NULL) {
		json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;

		if (n > 2 * (json_int_t)ha->heartbeat_ms && n <= CNM_HA_FAILOVER_MS_MAX)
			ha->failover_ms = (uint32_t)n;
		else
			return cnm_fail(p, "ha.failover_ms", v, NULL,
					"an integer above 2 * ha.heartbeat_ms (%u) and at most %u",
					2 * ha->heartbeat_ms, CNM_HA_FAILOVER_MS_MAX);
	} else if (ha->failover_ms <= 2 * ha->heartbeat_ms) {
		return cnm_fail(p, "ha.heartbeat_ms", json_object_get(obj, "heartbeat_ms"), NULL,
				"below half of ha.failover_ms (%u) when failover_ms is not given",
				ha->failover_ms);
	}
	/* authenticated (a key file) or, said explicitly, a trusted segment */
	v = json_object_get(obj, "trusted_segment");
	if (v != NULL && !json_is_boolean(v))
		return cnm_fail(p, "ha.trusted_segment", v, NULL, "true or false");
	ha->trusted_segment = json_is_true(v);
	v = json_object_get(obj, "key_file");
	if (v != NULL) {
		if (ha->trusted_segment)
			return cnm_fail(p, "ha.key_file", v, NULL,
					"absent when ha.trusted_segment is true (one or the other)");
		if (cnm_get_str(p, "ha.key_file", v, sizeof(ha->key_file), cnm_path_char,
				"a path", ha->key_file) < 0)
			return -1;
	} else if (!ha->trusted_segment) {
		return cnm_fail(p, "ha", obj, "no key_file",
				"\"key_file\": a file of at least %u random bytes shared by every holder "
				"(or \"trusted_segment\": true to run without authentication)",
				CNM_HA_KEY_MIN_BYTES);
	}
	return 0;
}

static void
cnm_config_defaults(struct cnm_config *cfg)
{
	cfg->default_node = -1;
	cfg->icmp_echo_reply = true;
	cfg->pdt_size = CNM_PDT_SIZE_DEFAULT;
	cfg->hash_key = CNM_HASH_KEY_DEFAULT;
	cfg->conn_max = CNM_CONN_MAX_DEFAULT;
	cfg->conn_timeout_s = CNM_CONN_TIMEOUT_S_DEFAULT;
	cfg->conn_closing_s = CNM_CONN_CLOSING_S_DEFAULT;
	cfg->conn_syn_s = CNM_CONN_SYN_S_DEFAULT;
	cfg->health_interval_ms = CNM_HEALTH_INTERVAL_MS_DEFAULT;
	cfg->health_timeout_ms = CNM_HEALTH_TIMEOUT_MS_DEFAULT;
	cfg->health_rise = CNM_HEALTH_RISE_DEFAULT;
	cfg->health_fall = CNM_HEALTH_FALL_DEFAULT;
	cfg->ha.heartbeat_ms = CNM_HA_HEARTBEAT_MS_DEFAULT;
	cfg->ha.failover_ms = CNM_HA_FAILOVER_MS_DEFAULT;
	cfg->ha.ack_timeout_ms = CNM_HA_ACK_TIMEOUT_MS_DEFAULT;
}

static int
cnm_parse_root(struct cnm_parser *p, const json_t *root)
{
	struct cnm_config *cfg = p->cfg;
	struct cnm_name_ent *index = NULL;
	json_t *v;
	int ret = -1;

	if (!json_is_object(root))
		return cnm_fail(p, "(top level)", root, NULL, "an object");
	if (cnm_check_object(p, "", root, cnm_top_keys) < 0)
		return -1;

	v = json_object_get(root, "version");
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) != 1))
		return cnm_fail(p, "version", v, NULL, "1");

	if (cnm_parse_ports(p, root) < 0)
		goto out;
	if (cnm_parse_nodes(p, root, &index) < 0)
		goto out;

	v = json_object_get(root, "default_node");
	if (v != NULL) {
		const char *s = json_string_value(v);
		long node = s == NULL ? -1 : cnm_find_node(index, cfg->n_nodes, s);

		if (node < 0) {
			cnm_fail(p, "default_node", v, NULL,
				 "the name of a node in \"nodes\"");
			goto out;
		}
		cfg->default_node = (int32_t)node;
	}

	v = json_object_get(root, "pdt_size");
	if (v != NULL && cnm_get_pdt_size(p, "pdt_size", v, &cfg->pdt_size) < 0)
		goto out;
	if (cnm_opt_uint(p, "", root, "second_chance_s", 0, CNM_SECOND_CHANCE_S_MAX,
			 &cfg->second_chance_s) < 0)
		goto out;
	v = json_object_get(root, "hash_key");
	if (v != NULL && cnm_get_hash_key(p, "hash_key", v, &cfg->hash_key) < 0)
		goto out;
	v = json_object_get(root, "icmp_echo");
	if (v != NULL) {
		const char *e = json_string_value(v);

		if (e != NULL && strcmp(e, "reply") == 0) {
			cfg->icmp_echo_reply = true;
		} else if (e != NULL && strcmp(e, "local") == 0) {
			cfg->icmp_echo_reply = false;
		} else {
			cnm_fail(p, "icmp_echo", v, NULL, "\"reply\" or \"local\"");
			goto out;
		}
	}
	v = json_object_get(root, "verify_checksum");
	if (v != NULL) {
		if (!json_is_boolean(v)) {
			cnm_fail(p, "verify_checksum", v, NULL, "true or false");
			goto out;
		}
		cfg->verify_checksum = json_is_true(v);
	}
	if (cnm_parse_control(p, root) < 0 ||
	    cnm_parse_conntrack(p, root) < 0 ||
	    cnm_parse_health(p, root) < 0 ||
	    cnm_check_sources(p) < 0 ||
	    cnm_parse_paths(p, root, index) < 0 ||
	    cnm_parse_ha(p, root) < 0 ||
	    cnm_parse_metrics(p, root) < 0 ||
	    cnm_parse_announce(p, root) < 0 ||
	    cnm_parse_memory(p, root) < 0 ||
	    cnm_parse_tunnel(p, root) < 0)
		goto out;

	/* last: services use nodes and the global pdt_size */
	if (cnm_parse_services(p, root, index) < 0)
		goto out;
	/* and the whole of it, before anything is built */
	if (cnm_check_memory(p) < 0)
		goto out;
	ret = 0;
out:
	free(index);
	return ret;
}

int
cnm_config_check_memory(const struct cnm_config *cfg, char *err, size_t errlen)
{
	struct cnm_parser p = {
		.file = cfg->path,
		.err = err,
		.errlen = errlen,
		.cfg = (struct cnm_config *)(uintptr_t)cfg,
	};

	return cnm_check_memory(&p) < 0 ? -EINVAL : 0;
}

struct cnm_config *
cnm_config_parse(const char *text, size_t len, const char *name, char *err,
		 size_t errlen)
{
	struct cnm_parser p = {
		.file = name != NULL ? name : "(config)",
		.err = err,
		.errlen = errlen,
	};
	json_error_t jerr;
	json_t *root;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (text == NULL) {
		cnm_fail(&p, "(top level)", NULL, NULL, "a JSON object");
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		char key[64];
		char got[JSON_ERROR_TEXT_LENGTH + 8];

		snprintf(key, sizeof(key), "line %d column %d", jerr.line,
			 jerr.column);
		snprintf(got, sizeof(got), "%s", jerr.text);
		cnm_fail(&p, key, NULL, got,
			 "valid JSON without duplicate keys");
		return NULL;
	}
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (p.cfg == NULL) {
		json_decref(root);
		cnm_fail_nomem(&p, "(top level)");
		return NULL;
	}
	snprintf(p.cfg->path, sizeof(p.cfg->path), "%s", p.file);
	cnm_config_defaults(p.cfg);
	if (cnm_parse_root(&p, root) < 0) {
		int e = errno;

		json_decref(root);
		cnm_config_free(p.cfg);
		errno = e;
		return NULL;
	}
	json_decref(root);
	return p.cfg;
}

struct cnm_config *
cnm_config_load(const char *path, char *err, size_t errlen)
{
	struct cnm_config *cfg;
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0, got;
	FILE *f = NULL;
	struct stat st;
	int e, fd;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* never wait on what is not a file: O_NONBLOCK makes opening a FIFO
	 * return at once (then refused below), a device is refused too */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		goto fail;
	if (fstat(fd, &st) != 0) {
		e = errno;
		close(fd);
		errno = e;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: cannot read: not a regular file (expected a "
				 "configuration file)", path);
		errno = EINVAL;
		return NULL;
	}
	/* a regular file never blocks; reads go back to blocking mode */
	if (fcntl(fd, F_SETFL, 0) != 0 || (f = fdopen(fd, "r")) == NULL) {
		e = errno;
		close(fd);
		errno = e;
		goto fail;
	}
	for (;;) {
		if (len == cap) {
			if (cap >= CNM_FILE_MAX) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap == 0 ? 65536 : cap * 2;
			nbuf = realloc(buf, cap);
			if (nbuf == NULL)
				goto fail;
			buf = nbuf;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			if (ferror(f)) {
				if (errno == 0)
					errno = EIO;
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	cfg = cnm_config_parse(buf, len, path, err, errlen);
	e = errno;
	free(buf);
	errno = e;
	return cfg;
fail:
	e = errno;
	if (f != NULL)
		fclose(f);
	free(buf);
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
	errno = e;
	return NULL;
}

void
cnm_config_free(struct cnm_config *cfg)
{
	uint32_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->n_services && cfg->services != NULL; i++) {
		free(cfg->services[i].ports);
		free(cfg->services[i].members);
		if (cfg->services[i].quic != NULL)
			memset(cfg->services[i].quic, 0,
			       cfg->services[i].n_quic * sizeof(*cfg->services[i].quic));
		free(cfg->services[i].quic);
	}
	free(cfg->services);
	free(cfg->nodes);
	free(cfg);
}

const char *
cnm_policy_name(enum cnm_policy p)
{
	const struct cnm_policy_ops *ops = cnm_policy_get(p);

	return ops != NULL ? ops->name : "unknown";
}

const char *
cnm_ha_role_name(enum cnm_ha_role r)
{
	switch (r) {
	case CNM_HA_PRIMARY:
		return "primary";
	case CNM_HA_SECONDARY:
		return "secondary";
	case CNM_HA_SLAVE:
		return "slave";
	}
	return "unknown";
}

int
cnm_config_node_index(const struct cnm_config *cfg, const char *name)
{
	uint32_t i;

	if (cfg == NULL || name == NULL)
		return -1;
	for (i = 0; i < cfg->n_nodes; i++)
		if (strcmp(cfg->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
cnm_config_service_index(const struct cnm_config *cfg, const char *name)
{
	uint32_t i;

	if (cfg == NULL || name == NULL)
		return -1;
	for (i = 0; i < cfg->n_services; i++)
		if (strcmp(cfg->services[i].name, name) == 0)
			return (int)i;
	return -1;
}

const char *
cnm_addr_str(const struct cnm_addr *a, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	if (a == NULL || (a->family != AF_INET && a->family != AF_INET6) ||
	    inet_ntop(a->family, a->bytes, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}
