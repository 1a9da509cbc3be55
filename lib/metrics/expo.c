/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Prometheus text exposition (format 0.0.4) of one snapshot: pure, no
 * I/O but a memory stream. Names follow Prometheus's conventions: the
 * prefix cnmux_, counters end in _total, milliseconds become seconds, one
 * family per meaning (what sums over its labels is meaningful: per service,
 * per node and per (service, node) are three families, not one).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "cnm_metrics.h"
#include "cnm_stats.h"

/* The help of a per-id key, from the lists of cnm_stats.h. */
struct key_help {
	const char *key;
	const char *help;
};

#define CNM_X_HELP(f, k, h) { #f, h },
static const struct key_help svc_help[] = { CNM_STATS_SERVICE(CNM_X_HELP) };
static const struct key_help member_help[] = { CNM_STATS_MEMBER(CNM_X_HELP) };
static const struct key_help node_help[] = { CNM_STATS_NODE(CNM_X_HELP) };
#undef CNM_X_HELP

static const char *
help_find(const struct key_help *t, unsigned int n, const char *k)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (strcmp(t[i].key, k) == 0)
			return t[i].help;
	return "";
}

#define HELP_OF(tbl, k) help_find(tbl, RTE_DIM(tbl), k)

/* HELP text: backslash and newline escaped */
static void
put_help(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* a label value: backslash, double quote and newline escaped */
static void
put_label(FILE *f, const char *name, const char *v)
{
	fprintf(f, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('"', f);
}

static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s ", name);
	put_help(f, help);
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

static uint64_t
u64(const json_t *v)
{
	if (json_is_true(v))
		return 1;
	return json_is_integer(v) && json_integer_value(v) > 0 ?
		(uint64_t)json_integer_value(v) : 0;
}

/* one sample with up to three labels (NULL: none, and none after it) */
static void
sample3(FILE *f, const char *name, const char *l1, const char *v1, const char *l2,
		const char *v2, const char *l3, const char *v3, uint64_t v)
{
	fputs(name, f);
	if (l1 != NULL) {
		fputc('{', f);
		put_label(f, l1, v1);
		if (l2 != NULL) {
			fputc(',', f);
			put_label(f, l2, v2);
			if (l3 != NULL) {
				fputc(',', f);
				put_label(f, l3, v3);
			}
		}
		fputc('}', f);
	}
	fprintf(f, " %" PRIu64 "\n", v);
}

static void
sample(FILE *f, const char *name, const char *l1, const char *v1, const char *l2,
		const char *v2, uint64_t v)
{
	sample3(f, name, l1, v1, l2, v2, NULL, NULL, v);
}

/* the scalars of the lists: cnmux_KEY_total (counter), cnmux_KEY (gauge);
 * a gauge in milliseconds as seconds */
static void
scalars(FILE *f, const json_t *st)
{
	const struct cnm_stat_desc *d;
	unsigned int n, i;
	char name[128];

	d = cnm_stats_desc(&n);
	for (i = 0; i < n; i++) {
		const json_t *v = json_object_get(st, d[i].name);
		size_t len = strlen(d[i].name);

		if (v == NULL)
			continue;
		if (d[i].kind == CNM_STAT_GAUGE && len > 3 &&
				strcmp(d[i].name + len - 3, "_ms") == 0) {
			snprintf(name, sizeof(name), "cnmux_%.*s_seconds", (int)(len - 3), d[i].name);
			family(f, name, "gauge", d[i].help);
			fprintf(f, "%s %.3f\n", name, (double)u64(v) / 1000.0);
			continue;
		}
		snprintf(name, sizeof(name), "cnmux_%s%s", d[i].name,
			d[i].kind == CNM_STAT_COUNTER ? "_total" : "");
		family(f, name, d[i].kind == CNM_STAT_COUNTER ? "counter" : "gauge", d[i].help);
		sample(f, name, NULL, NULL, NULL, NULL, u64(v));
	}
}

static void
drops(FILE *f, const json_t *st)
{
	const char *k;
	json_t *v;

	family(f, "cnmux_drops_total", "counter",
		"frames dropped, by reason (cnmux --list-drop-reasons); they sum to cnmux_dropped_total");
	json_object_foreach((json_t *)(uintptr_t)json_object_get(st, "drops"), k, v)
		sample(f, "cnmux_drops_total", "reason", k, NULL, NULL, u64(v));
}

/* per service: cnmux_service_{packets,bytes}_total{service} */
static void
services(FILE *f, const json_t *st, const char *key)
{
	const json_t *svcs = json_object_get(st, "services");
	char name[64], help[256];
	const char *s;
	json_t *v;

	snprintf(name, sizeof(name), "cnmux_service_%s_total", key);
	snprintf(help, sizeof(help), "per service: %s", HELP_OF(svc_help, key));
	family(f, name, "counter", help);
	json_object_foreach((json_t *)(uintptr_t)svcs, s, v)
		sample(f, name, "service", s, NULL, NULL, u64(json_object_get(v, key)));
}

/* per (service, node): cnmux_{packets,bytes}_total{service,node} */
static void
members(FILE *f, const json_t *st, const char *key)
{
	const json_t *svcs = json_object_get(st, "services");
	char name[64], help[256];
	const char *s, *n;
	json_t *v, *m;

	/* cnmux_conn_new_total (second_chance...) is the instance's own: the
	 * pairs' are cnmux_pair_... */
	snprintf(name, sizeof(name), "cnmux_%s%s_total",
		 strcmp(key, "packets") != 0 && strcmp(key, "bytes") != 0 ? "pair_" : "", key);
	snprintf(help, sizeof(help), "per (service, node): %s", HELP_OF(member_help, key));
	family(f, name, "counter", help);
	json_object_foreach((json_t *)(uintptr_t)svcs, s, v)
		json_object_foreach(json_object_get(v, "nodes"), n, m)
			sample(f, name, "service", s, "node", n, u64(json_object_get(m, key)));
}

/* per node: cnmux_node_{packets,bytes}_total{node}, cnmux_node_up{node} */
static void
nodes(FILE *f, const json_t *st, const char *key, int counter)
{
	const json_t *nds = json_object_get(st, "nodes");
	char name[64], help[256];
	const char *n;
	json_t *v;

	snprintf(name, sizeof(name), "cnmux_node_%s%s", key, counter ? "_total" : "");
	snprintf(help, sizeof(help), "per node: %s", HELP_OF(node_help, key));
	family(f, name, counter ? "counter" : "gauge", help);
	json_object_foreach((json_t *)(uintptr_t)nds, n, v)
		sample(f, name, "node", n, NULL, NULL, u64(json_object_get(v, key)));
}

/*
 * Drops by reason once the service was known: cnmux_service_drops_total
 * {service,reason}, cnmux_pair_drops_total{service,node,reason} (a pair's
 * reasons that counted), cnmux_node_drops_total{node,reason}: from the
 * "drops" object of each service, pair and node.
 */
static void
per_id_drops(FILE *f, const json_t *st)
{
	const json_t *svcs = json_object_get(st, "services"), *nds = json_object_get(st, "nodes");
	const char *s, *n, *r;
	json_t *v, *m, *d;

	family(f, "cnmux_service_drops_total", "counter", "per service: " CNM_DROPS_SERVICE_HELP);
	json_object_foreach((json_t *)(uintptr_t)svcs, s, v)
		json_object_foreach(json_object_get(v, "drops"), r, d)
			sample(f, "cnmux_service_drops_total", "service", s, "reason", r, u64(d));
	family(f, "cnmux_pair_drops_total", "counter", "per (service, node): "
		CNM_DROPS_MEMBER_HELP);
	json_object_foreach((json_t *)(uintptr_t)svcs, s, v)
		json_object_foreach(json_object_get(v, "nodes"), n, m)
			json_object_foreach(json_object_get(m, "drops"), r, d)
				sample3(f, "cnmux_pair_drops_total", "service", s, "node", n,
					"reason", r, u64(d));
	family(f, "cnmux_node_drops_total", "counter", "per node: " CNM_DROPS_NODE_HELP);
	json_object_foreach((json_t *)(uintptr_t)nds, n, v)
		json_object_foreach(json_object_get(v, "drops"), r, d)
			sample(f, "cnmux_node_drops_total", "node", n, "reason", r, u64(d));
}

/* what a service is (an info metric), and how many of its nodes take clients */
static void
service_info(FILE *f, const json_t *info)
{
	const char *s;
	json_t *v;

	family(f, "cnmux_service_info", "gauge",
		"a service: its VIP and policy as labels; the value is always 1");
	json_object_foreach((json_t *)(uintptr_t)info, s, v) {
		const char *vip = json_string_value(json_object_get(v, "vip"));
		const char *pol = json_string_value(json_object_get(v, "policy"));

		fputs("cnmux_service_info{", f);
		put_label(f, "service", s);
		fputc(',', f);
		put_label(f, "vip", vip != NULL ? vip : "");
		fputc(',', f);
		put_label(f, "policy", pol != NULL ? pol : "");
		fputs("} 1\n", f);
	}
	family(f, "cnmux_service_active_nodes", "gauge",
		"nodes of the service's PDT that take new clients now");
	json_object_foreach((json_t *)(uintptr_t)info, s, v)
		sample(f, "cnmux_service_active_nodes", "service", s, NULL, NULL,
			u64(json_object_get(v, "active_nodes")));
}

char *
cnm_metrics_render(const json_t *snap, size_t *len)
{
	const json_t *st = json_object_get(snap, "stats");
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL)
		return NULL;
	scalars(f, st);
	drops(f, st);
	services(f, st, "packets");
	services(f, st, "bytes");
	services(f, st, "conn_new");
	services(f, st, "second_chance");
	services(f, st, "second_chance_failed");
	members(f, st, "packets");
	members(f, st, "bytes");
	members(f, st, "conn_new");
	members(f, st, "second_chance");
	members(f, st, "second_chance_failed");
	nodes(f, st, "packets", 1);
	nodes(f, st, "bytes", 1);
	nodes(f, st, "conn_new", 1);
	nodes(f, st, "second_chance", 1);
	nodes(f, st, "second_chance_failed", 1);
	nodes(f, st, "up", 0);
	per_id_drops(f, st);
	service_info(f, json_object_get(snap, "services"));
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}
