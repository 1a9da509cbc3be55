/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "cnm_ha.h"
#include "cnm_telemetry.h"

#define PDT_PAGE 256

/* What the commands read; NULL once cnm_telemetry_stop() ran. Read and
 * written under tlock. */
static struct cnm_tel_ctx *tctx;
/* tctx->ctl_lock, kept here: the lock outlives the context */
static pthread_mutex_t *tlock;

static void
unlock(void)
{
	if (tlock != NULL)
		pthread_mutex_unlock(tlock);
}

/* Take the control lock; -ENODEV (lock not held) once telemetry stopped. */
static int
lock(void)
{
	if (tlock != NULL)
		pthread_mutex_lock(tlock);
	if (tctx == NULL) {
		unlock();
		return -ENODEV;
	}
	return 0;
}

/* The totals every output shows (the workers' sum, the bases of reused
 * slots taken off, what the control loop adds, from the last `cnmuxctl
 * zero` on); caller holds the lock. */
static struct cnm_stats_total *
totals(void)
{
	struct cnm_stats_total *t = malloc(sizeof(*t));

	if (t == NULL)
		return NULL;
	cnm_stats_sum(tctx->stats, tctx->n_workers, t);
	cnm_lb_stats_rebase(tctx->lb, t);
	if (tctx->more_stats != NULL)
		tctx->more_stats(tctx->more_stats_arg, t);
	cnm_lb_stats_zeroed(tctx->lb, t);
	return t;
}

/*
 * A name as a telemetry key: DPDK takes keys of letters, digits, '_' and
 * '/' only, and leaves out an entry under any other key without a word;
 * a name's '-' and '.' (lib/config allows them) are written as '_'.
 */
static const char *
tel_key(const char *name, char *buf, size_t len)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++)
		buf[i] = (name[i] == '-' || name[i] == '.') ? '_' : name[i];
	buf[i] = '\0';
	return buf;
}

/* A JSON scalar into a dict (integers, strings, booleans as 0 or 1). */
static void
tel_dict_scalar(struct rte_tel_data *d, const char *key, const json_t *v)
{
	char buf[256];

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		rte_tel_data_add_dict_u64(d, key, (uint64_t)json_integer_value(v));
	else if (json_is_integer(v))
		rte_tel_data_add_dict_int(d, key, (int)json_integer_value(v));
	else if (json_is_string(v))
		rte_tel_data_add_dict_string(d, key, json_string_value(v));
	else if (json_is_boolean(v))
		rte_tel_data_add_dict_u64(d, key, json_is_true(v));
	else if (json_is_null(v))
		rte_tel_data_add_dict_string(d, key, "");
	else {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(buf, sizeof(buf), "%s", t ? t : "");
		free(t);
		rte_tel_data_add_dict_string(d, key, buf);
	}
}

/*
 * What one reply holds. DPDK 22.11 writes at most 16 KiB of JSON a reply
 * (MAX_OUTPUT_LEN in its lib/telemetry, not exported) and at most
 * RTE_TEL_MAX_DICT_ENTRIES entries a dict or container, and leaves out
 * what does not fit without a word. A reply that lists services or nodes
 * therefore counts what it adds (each entry's JSON as DPDK writes it):
 * whole entries while they fit, then it says how many it left out
 * (README.md, "Telemetry").
 */
#define TEL_REPLY_BYTES (16384 - 1024) /* room for the command's name and "omitted" */
#define TEL_DICT_MAX RTE_TEL_MAX_DICT_ENTRIES
/* a node's entry in a dict of nodes ("weights", "entries_per_node"): its
 * key, quotes, colon, comma and a number of at most 10 digits */
#define TEL_NODE_ENTRY_BYTES(key) (strlen(key) + 16)
/* the most such a dict takes of a reply: half, the other half for the rest
 * (/cnmux/service's counters; /cnmux/pdt's page of 256 entries) */
#define TEL_NODES_BYTES (TEL_REPLY_BYTES / 2)

/* Bytes of JSON of the entry "key":value at most, the comma after it too. */
static size_t
scalar_cost(const char *key, const json_t *v)
{
	size_t n = strlen(key) + 4;
	char buf[24];

	if (json_is_string(v))
		return n + 2 + strlen(json_string_value(v));
	if (json_is_integer(v))
		return n + (size_t)snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
			json_integer_value(v));
	return n + 21;
}

/*
 * The scalars of JSON object @p o under @p prefix, an object inside
 * flattened into "key/subkey" (in 22.11 a container holds only scalars), so
 * {"web": {"packets": 1}} becomes "web/packets": 1: added to dict @p d
 * (NULL: counted only) while it holds at most @p max keys (*@p keys counts
 * them) and *@p bytes (their JSON) stays within @p room. @return the keys
 * left out: from the first that did not fit on, the rest too.
 */
static unsigned int
tel_walk(struct rte_tel_data *d, const char *prefix, const json_t *o, unsigned int max,
		size_t room, unsigned int *keys, size_t *bytes)
{
	unsigned int left = 0;
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)(uintptr_t)o, k, v) {
		char key[RTE_TEL_MAX_STRING_LEN], kk[RTE_TEL_MAX_STRING_LEN];
		size_t b;

		snprintf(key, sizeof(key), "%s%s%s", prefix, prefix[0] != '\0' ? "/" : "",
			tel_key(k, kk, sizeof(kk)));
		if (json_is_object(v)) {
			left += tel_walk(d, key, v, left > 0 ? 0 : max, room, keys, bytes);
			continue;
		}
		b = scalar_cost(key, v);
		if (left > 0 || *keys + 1 > max || *bytes + b > room) {
			left++;
			continue;
		}
		if (d != NULL)
			tel_dict_scalar(d, key, v);
		(*keys)++;
		*bytes += b;
	}
	return left;
}

/* Every scalar of @p o into @p d (tel_walk() without a bound). */
static void
tel_flat(struct rte_tel_data *d, const char *prefix, const json_t *o)
{
	unsigned int keys = 0;
	size_t bytes = 0;

	tel_walk(d, prefix, o, UINT_MAX, SIZE_MAX, &keys, &bytes);
}

/* The keys and bytes tel_flat() adds for @p o under @p prefix. */
static void
flat_cost(const char *prefix, const json_t *o, unsigned int *keys, size_t *bytes)
{
	tel_walk(NULL, prefix, o, UINT_MAX, SIZE_MAX, keys, bytes);
}

/* An object of named entries (services, nodes: each member an object). */
static int
is_entities(const json_t *o)
{
	const char *k;
	json_t *v;

	if (json_object_size(o) == 0)
		return 0;
	json_object_foreach((json_t *)(uintptr_t)o, k, v)
		if (!json_is_object(v))
			return 0;
	return 1;
}

/*
 * The entries of @p o (named objects), flattened into container @p c under
 * their names while the container holds at most TEL_DICT_MAX keys and
 * *@p bytes stays within TEL_REPLY_BYTES; the bytes added go into
 * *@p bytes. @return the entries left out (from the first that did not
 * fit to the end).
 */
static size_t
tel_entities_flat(struct rte_tel_data *c, const json_t *o, size_t *bytes)
{
	unsigned int keys = 0;
	size_t left = 0;
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)(uintptr_t)o, k, v) {
		unsigned int ek = 0;
		size_t eb = 0;

		if (left == 0) {
			char kk[RTE_TEL_MAX_STRING_LEN];

			tel_key(k, kk, sizeof(kk));
			flat_cost(kk, v, &ek, &eb);
			if (keys + ek <= TEL_DICT_MAX && *bytes + eb <= TEL_REPLY_BYTES) {
				tel_flat(c, kk, v);
				keys += ek;
				*bytes += eb;
				continue;
			}
		}
		left++;
	}
	return left;
}

/*
 * JSON object @p o as dict @p d: its scalars as they are, its objects as
 * containers (what these nest flattened by tel_flat()). The keys are those
 * of `cnmuxctl stats` and --stats-json; only the depth differs. Sections
 * of named entries (services, nodes) come last, whole entries while the
 * reply has room; "omitted" then counts, per section, the entries left out
 * (cnmuxctl, /metrics and /cnmux/service,NAME have them all).
 */
static int
tel_from_json(struct rte_tel_data *d, const json_t *o)
{
	struct rte_tel_data *om = NULL;
	size_t bytes = 0;
	const char *k;
	json_t *v;
	int pass;

	rte_tel_data_start_dict(d);
	for (pass = 0; pass < 2; pass++) {
		json_object_foreach((json_t *)(uintptr_t)o, k, v) {
			struct rte_tel_data *c;
			size_t left = 0;

			if (!json_is_object(v)) {
				if (pass == 0) {
					tel_dict_scalar(d, k, v);
					bytes += scalar_cost(k, v);
				}
				continue;
			}
			if (is_entities(v) != pass)
				continue;
			c = rte_tel_data_alloc();
			if (c == NULL) {
				rte_tel_data_free(om);
				return -ENOMEM;
			}
			rte_tel_data_start_dict(c);
			bytes += strlen(k) + 6;
			if (pass == 0) {
				unsigned int keys = 0;

				/* added and counted in one walk */
				tel_walk(c, "", v, UINT_MAX, SIZE_MAX, &keys, &bytes);
			} else {
				left = tel_entities_flat(c, v, &bytes);
			}
			if (rte_tel_data_add_dict_container(d, k, c, 0) != 0)
				rte_tel_data_free(c);
			if (left == 0)
				continue;
			if (om == NULL) {
				om = rte_tel_data_alloc();
				if (om == NULL)
					return -ENOMEM;
				rte_tel_data_start_dict(om);
			}
			rte_tel_data_add_dict_u64(om, k, left);
		}
	}
	if (om != NULL && rte_tel_data_add_dict_container(d, "omitted", om, 0) != 0)
		rte_tel_data_free(om);
	return 0;
}

/*
 * Named entries @p o (services, nodes) as dict @p d, one container each,
 * from the @p skip-th on while the reply has room; when some are left out,
 * "more/offset" is where the next page starts (COMMAND,OFFSET) and
 * "more/left" how many there are from it (no name holds a '/').
 */
static int
tel_entities(struct rte_tel_data *d, const json_t *o, size_t skip)
{
	size_t bytes = 0, i = 0, added = 0, left = 0;
	const char *k;
	json_t *v;

	rte_tel_data_start_dict(d);
	json_object_foreach((json_t *)(uintptr_t)o, k, v) {
		char kk[RTE_TEL_MAX_STRING_LEN];
		struct rte_tel_data *c;
		unsigned int keys = 0;
		size_t eb = strlen(k) + 6;

		if (i++ < skip)
			continue;
		flat_cost("", v, &keys, &eb);
		/* two entries of the dict kept for "more/..."; an entry too
		 * large for any reply comes alone, as much of it as fits, and
		 * its "omitted" counts the keys left out */
		if (left > 0 || (added > 0 && (keys > TEL_DICT_MAX - 1 || added + 2 >= TEL_DICT_MAX ||
				bytes + eb > TEL_REPLY_BYTES))) {
			left++;
			continue;
		}
		c = rte_tel_data_alloc();
		if (c == NULL)
			return -ENOMEM;
		rte_tel_data_start_dict(c);
		if (keys > TEL_DICT_MAX - 1 || bytes + eb > TEL_REPLY_BYTES) {
			unsigned int n = 0, out;

			eb = strlen(k) + 6 + 32;
			out = tel_walk(c, "", v, TEL_DICT_MAX - 1, TEL_REPLY_BYTES, &n, &eb);
			rte_tel_data_add_dict_u64(c, "omitted", out);
		} else {
			tel_flat(c, "", v);
		}
		if (rte_tel_data_add_dict_container(d, tel_key(k, kk, sizeof(kk)), c, 0) != 0)
			rte_tel_data_free(c);
		bytes += eb;
		added++;
	}
	if (left > 0) {
		rte_tel_data_add_dict_u64(d, "more/offset", i - left);
		rte_tel_data_add_dict_u64(d, "more/left", left);
	}
	return 0;
}

/* OFFSET, the parameter of a paged command (none: 0); -1 when it is not a number. */
static long
tel_offset(const char *params)
{
	unsigned long off;
	char *end;

	if (params == NULL || params[0] == '\0')
		return 0;
	errno = 0;
	off = strtoul(params, &end, 0);
	if (errno != 0 || *end != '\0' || params[0] == '-' || off > (unsigned long)LONG_MAX)
		return -1;
	return (long)off;
}

/* cnm_stats_json(), or the entries of its member @p section (NULL: all of
 * it) from the @p skip-th on. */
static int
tel_stats_part(struct rte_tel_data *d, const char *section, size_t skip)
{
	struct cnm_stats_total *t;
	json_t *j = NULL;
	int ret;

	ret = lock();
	if (ret != 0)
		return ret;
	t = totals();
	if (t != NULL)
		j = cnm_stats_json(t, tctx->lb);
	unlock();
	free(t);
	if (j == NULL)
		return -ENOMEM;
	ret = section != NULL ? tel_entities(d, json_object_get(j, section), skip) :
		tel_from_json(d, j);
	json_decref(j);
	return ret;
}

static int
tel_stats(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	return tel_stats_part(d, NULL, 0);
}

static int
tel_services(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	long off = tel_offset(params);

	if (off < 0)
		return -EINVAL;
	return tel_stats_part(d, "services", (size_t)off);
}

/* The rates (the control loop's), with the keys of /cnmux/stats. */
static int
tel_rates(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	json_t *j = NULL;
	int ret;

	ret = lock();
	if (ret != 0)
		return ret;
	if (tctx->rates != NULL)
		j = tctx->rates(tctx->rates_arg);
	unlock();
	if (j == NULL)
		return -ENOMEM;
	ret = tel_from_json(d, j);
	json_decref(j);
	return ret;
}

/* The private paths (lib/path): state and counters per path. */
static int
tel_paths(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	json_t *j = NULL;
	int ret;

	if (tctx->paths == NULL)
		return -ENOTSUP;
	ret = lock();
	if (ret != 0)
		return ret;
	j = tctx->paths(tctx->paths_arg);
	unlock();
	if (j == NULL)
		return -ENOMEM;
	/* telemetry dicts nest dicts: the list of paths by index ("0", "1"...) */
	{
		json_t *a = json_object_get(j, "paths"), *byidx = json_object(), *e;
		size_t i;
		char k[24];

		json_array_foreach(a, i, e) {
			snprintf(k, sizeof(k), "%zu", i);
			json_object_set(byidx, k, e);
		}
		json_object_set_new(j, "paths", byidx);
		json_object_del(j, "probed");
	}
	ret = tel_from_json(d, j);
	json_decref(j);
	return ret;
}

static void
fmt_mac(uint64_t mac, char *buf, size_t len)
{
	uint8_t b[8];

	memcpy(b, &mac, 8);
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

/* One node: what it is, then its counters (cnm_stats_node_json()). */
static json_t *
node_json(const struct cnm_lb *lb, uint32_t id, const struct cnm_stats_total *t)
{
	const struct cnm_cfg_node *nc = cnm_lb_node_cfg(lb, id);
	const struct cnm_node *nd = cnm_lb_node(lb, id);
	json_t *st = cnm_stats_node_json(t, lb, id), *j = json_object();
	char buf[64];

	if (st == NULL || j == NULL) {
		json_decref(st);
		json_decref(j);
		return NULL;
	}
	json_object_set_new(j, "name", json_string(nc->name));
	json_object_set_new(j, "ip", json_string(cnm_addr_str(&nc->ip, buf, sizeof(buf))));
	fmt_mac(nd->mac, buf, sizeof(buf));
	json_object_set_new(j, "mac", json_string(nd->mac ? buf : "unresolved"));
	json_object_set_new(j, "state", json_string(nd->up ? "up" : "down"));
	json_object_set_new(j, "private_port", json_integer(nd->port));
	json_object_update(j, st);
	json_decref(st);
	return j;
}

static int
tel_nodes(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	const struct cnm_lb *lb;
	struct cnm_stats_total *t;
	long off = tel_offset(params);
	json_t *all;
	uint32_t i;
	int ret = 0;

	if (off < 0)
		return -EINVAL;
	all = json_object();
	if (all == NULL)
		return -ENOMEM;
	if (lock() != 0) {
		json_decref(all);
		return -ENODEV;
	}
	lb = tctx->lb;
	t = totals();
	for (i = 0; t != NULL && i < cnm_lb_node_end(lb); i++) {
		json_t *n;

		if (cnm_lb_node_cfg(lb, i) == NULL)
			continue;
		n = node_json(lb, i, t);
		if (n == NULL) {
			ret = -ENOMEM;
			break;
		}
		json_object_set_new(all, cnm_lb_node_cfg(lb, i)->name, n);
	}
	unlock();
	if (t == NULL)
		ret = -ENOMEM;
	if (ret == 0)
		ret = tel_entities(d, all, (size_t)off);
	free(t);
	json_decref(all);
	return ret;
}

static int
tel_node(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	struct cnm_stats_total *t;
	json_t *j = NULL;
	int id, ret = 0;

	if (params == NULL || params[0] == '\0')
		return -EINVAL;
	if (lock() != 0)
		return -ENODEV;
	t = totals();
	id = cnm_lb_node_find(tctx->lb, params);
	if (t == NULL)
		ret = -ENOMEM;
	else if (id < 0)
		ret = -ENOENT;
	else if ((j = node_json(tctx->lb, (uint32_t)id, t)) == NULL)
		ret = -ENOMEM;
	unlock();
	if (j != NULL) {
		rte_tel_data_start_dict(d);
		tel_flat(d, "", j);
		json_decref(j);
	}
	free(t);
	return ret;
}

/*
 * Service @p s's nodes into dict @p c, each with its weight, or with its
 * count of entries in PDT @p p when @p p is not NULL: the first nodes that
 * fit a dict and TEL_NODES_BYTES (a service on more nodes than that), the
 * number left out added to @p d under @p omitted_key. Returns the bytes
 * written into @p c.
 */
static size_t
tel_node_dict(struct rte_tel_data *d, struct rte_tel_data *c, const char *omitted_key,
		const struct cnm_lb *lb, const struct cnm_cfg_service *s, const struct cnm_pdt *p)
{
	char key[RTE_TEL_MAX_STRING_LEN];
	size_t bytes = 0;
	uint32_t i;

	rte_tel_data_start_dict(c);
	for (i = 0; i < s->n_members; i++) {
		uint16_t n = s->members[i].node;

		tel_key(cnm_lb_node_cfg(lb, n)->name, key, sizeof(key));
		if (i >= TEL_DICT_MAX || bytes + TEL_NODE_ENTRY_BYTES(key) > TEL_NODES_BYTES)
			break;
		rte_tel_data_add_dict_u64(c, key, p != NULL ? cnm_pdt_count(p, n) :
				s->members[i].weight);
		bytes += TEL_NODE_ENTRY_BYTES(key);
	}
	if (i < s->n_members)
		rte_tel_data_add_dict_u64(d, omitted_key, s->n_members - i);
	return bytes;
}

static int
tel_service(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	const struct cnm_lb *lb;
	struct cnm_stats_total *t = NULL;
	struct rte_tel_data *ports, *nodes;
	const struct cnm_cfg_service *s;
	const struct cnm_pdt *p;
	json_t *st;
	char buf[64];
	size_t wbytes = 0;
	uint32_t i;
	int id, ret = 0;

	if (params == NULL || params[0] == '\0')
		return -EINVAL;
	ports = rte_tel_data_alloc();
	nodes = rte_tel_data_alloc();
	if (ports == NULL || nodes == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	ret = lock();
	if (ret != 0)
		goto out;
	lb = tctx->lb;
	id = cnm_lb_svc_find(lb, params);
	if (id < 0) {
		unlock();
		ret = -ENOENT;
		goto out;
	}
	t = totals();
	st = t != NULL ? cnm_stats_svc_json(t, lb, (uint32_t)id) : NULL;
	if (st == NULL) {
		unlock();
		ret = -ENOMEM;
		goto out;
	}
	s = cnm_lb_svc_cfg(lb, (uint32_t)id);
	p = cnm_lb_svc_pdt(lb, (uint32_t)id);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", s->name);
	rte_tel_data_add_dict_string(d, "vip", cnm_addr_str(&s->vip, buf, sizeof(buf)));
	rte_tel_data_add_dict_string(d, "policy", cnm_policy_name(s->policy));
	rte_tel_data_start_array(ports, RTE_TEL_STRING_VAL);
	if (s->policy == CNM_POLICY_STICKY_WILD) {
		if (s->protocols & CNM_PROTO_BIT_TCP)
			rte_tel_data_add_array_string(ports, "*/tcp");
		if (s->protocols & CNM_PROTO_BIT_UDP)
			rte_tel_data_add_array_string(ports, "*/udp");
	}
	for (i = 0; i < s->n_ports; i++) {
		snprintf(buf, sizeof(buf), "%u/%s", s->ports[i].port,
			s->ports[i].proto == 6 ? "tcp" : "udp");
		rte_tel_data_add_array_string(ports, buf);
	}
	rte_tel_data_add_dict_container(d, "ports", ports, 0);
	ports = NULL;
	wbytes = tel_node_dict(d, nodes, "weights_omitted", lb, s, NULL);
	rte_tel_data_add_dict_container(d, "weights", nodes, 0);
	nodes = NULL;
	rte_tel_data_add_dict_u64(d, "pdt_size", p->size);
	rte_tel_data_add_dict_u64(d, "active_nodes", p->n_active);
	{
		/* what is in the reply already: 8 keys, the weights and the
		 * ports; one key kept for "omitted" */
		size_t bytes = 1024 + wbytes;
		unsigned int keys = 9, out;

		out = tel_walk(d, "", st, TEL_DICT_MAX, TEL_REPLY_BYTES, &keys, &bytes);
		if (out > 0)
			rte_tel_data_add_dict_u64(d, "omitted", out);
	}
	json_decref(st);
	unlock();
out:
	rte_tel_data_free(ports);
	rte_tel_data_free(nodes);
	free(t);
	return ret;
}

static int
tel_pdt(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	const struct cnm_lb *lb;
	struct rte_tel_data *counts, *entries;
	char name[CNM_NAME_MAX];
	const struct cnm_pdt *p;
	unsigned long off = 0;
	const char *comma;
	uint32_t i;
	int id, ret = 0;

	if (params == NULL || params[0] == '\0')
		return -EINVAL;
	comma = strchr(params, ',');
	if (comma != NULL) {
		char *end;

		errno = 0;
		off = strtoul(comma + 1, &end, 0);
		if (errno != 0 || *end != '\0' || end == comma + 1)
			return -EINVAL;
	}
	snprintf(name, sizeof(name), "%.*s",
		(int)(comma ? (size_t)(comma - params) : strlen(params)), params);
	counts = rte_tel_data_alloc();
	entries = rte_tel_data_alloc();
	if (counts == NULL || entries == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	ret = lock();
	if (ret != 0)
		goto out;
	lb = tctx->lb;
	id = cnm_lb_svc_find(lb, name);
	if (id < 0) {
		unlock();
		ret = -ENOENT;
		goto out;
	}
	p = cnm_lb_svc_pdt(lb, (uint32_t)id);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "service", name);
	rte_tel_data_add_dict_u64(d, "size", p->size);
	rte_tel_data_add_dict_u64(d, "active_nodes", p->n_active);
	/* the other half of the reply: the page of 256 entries */
	tel_node_dict(d, counts, "entries_per_node_omitted", lb,
		      cnm_lb_svc_cfg(lb, (uint32_t)id), p);
	rte_tel_data_add_dict_container(d, "entries_per_node", counts, 0);
	counts = NULL;
	rte_tel_data_add_dict_u64(d, "offset", off);
	rte_tel_data_start_array(entries, RTE_TEL_U64_VAL);
	for (i = (uint32_t)off; off < p->size && i < p->size && i < off + PDT_PAGE; i++)
		rte_tel_data_add_array_u64(entries, p->entries[i]);
	rte_tel_data_add_dict_container(d, "entries", entries, 0);
	entries = NULL;
	unlock();
out:
	rte_tel_data_free(counts);
	rte_tel_data_free(entries);
	return ret;
}

static int
tel_ha(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	struct cnm_ha *ha;
	const char *key;
	json_t *st, *v;

	rte_tel_data_start_dict(d);
	if (lock() != 0)
		return -ENODEV;
	/* acquire: pairs with the release store of whoever set it after init */
	ha = __atomic_load_n(&tctx->ha, __ATOMIC_ACQUIRE);
	if (ha == NULL) {
		unlock();
		rte_tel_data_add_dict_string(d, "role", "none");
		return 0;
	}
	st = cnm_ha_status(ha);
	unlock();
	if (st == NULL)
		return -ENOMEM;
	json_object_foreach(st, key, v) {
		struct rte_tel_data *c;
		const char *k2;
		json_t *v2;
		size_t i;

		if (!json_is_object(v) && !json_is_array(v)) {
			tel_dict_scalar(d, key, v);
			continue;
		}
		c = rte_tel_data_alloc();
		if (c == NULL)
			continue;
		rte_tel_data_start_dict(c);
		if (json_is_object(v)) {
			json_object_foreach(v, k2, v2)
				tel_dict_scalar(c, k2, v2);
		} else {
			/* peers: one line each, by id */
			json_array_foreach(v, i, v2) {
				char line[256];
				const char *id = json_string_value(json_object_get(v2, "id"));

				snprintf(line, sizeof(line),
					 "role=%s live=%d epoch=%lld seq=%lld digest=%s",
					 json_string_value(json_object_get(v2, "role")),
					 json_is_true(json_object_get(v2, "live")),
					 json_integer_value(json_object_get(v2, "epoch")),
					 json_integer_value(json_object_get(v2, "seq")),
					 json_string_value(json_object_get(v2, "digest")));
				rte_tel_data_add_dict_string(c, id ? id : "?", line);
			}
		}
		if (rte_tel_data_add_dict_container(d, key, c, 0) != 0)
			rte_tel_data_free(c);
	}
	json_decref(st);
	return 0;
}

int
cnm_telemetry_init(struct cnm_tel_ctx *ctx)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
		{ "/cnmux/stats", tel_stats,
		  "Every counter (cnmuxctl stats), nested keys joined with '/'; \"omitted\": services, nodes left out. No parameters." },
		{ "/cnmux/rates", tel_rates,
		  "Every counter of /cnmux/stats per second over the last interval (interval_ms); gauges as they are. No parameters." },
		{ "/cnmux/services", tel_services,
		  "Counters per service, a page (more/offset: the next). Parameter: [offset]." },
		{ "/cnmux/service", tel_service,
		  "One service. Parameter: service name." },
		{ "/cnmux/nodes", tel_nodes,
		  "Nodes: address, MAC, state, counters; a page (more/offset: the next). Parameter: [offset]." },
		{ "/cnmux/node", tel_node,
		  "One node. Parameter: node name." },
		{ "/cnmux/pdt", tel_pdt,
		  "PDT of a service. Parameters: service name[,offset]: 256 entries from offset." },
		{ "/cnmux/paths", tel_paths,
		  "The private paths: spreading, the reachability check's settings, per path (by index) its state and counters. No parameters." },
		{ "/cnmux/ha", tel_ha,
		  "High availability: role, epoch, seq, digest, peers, rejected messages by reason. No parameters." },
	};
	unsigned int i;

	tlock = ctx->ctl_lock;
	tctx = ctx;
	for (i = 0; i < RTE_DIM(cmds); i++) {
		int ret = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);

		if (ret != 0)
			return ret;
	}
	return 0;
}

void
cnm_telemetry_stop(void)
{
	if (tlock != NULL)
		pthread_mutex_lock(tlock);
	tctx = NULL;
	if (tlock != NULL)
		pthread_mutex_unlock(tlock);
}
