/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the rates (cnm_stats_rate), the baseline of a zero
 * (cnm_stats_sub_scalars) and the Prometheus exposition
 * (cnm_metrics_render): pure functions over plain structs and JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cnm_metrics.h"
#include "cnm_stats.h"

static struct cnm_stats_total *
total_new(void)
{
	struct cnm_stats_total *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	return t;
}

/* per second over the interval, rounded; gauges as they are now; a counter
 * that went down (a slot reused) is 0, not a huge number */
static void
test_rate(void **state)
{
	struct cnm_stats_total *p = total_new(), *c = total_new(), *r = total_new();

	(void)state;
	p->rx = 1000;
	c->rx = 4000;                /* 3000 in 1.5 s: 2000/s */
	p->conn_new = 10;
	c->conn_new = 11;            /* 1 in 1.5 s: 0.67/s, rounded to 1 */
	c->conn_active = 77;         /* a gauge */
	p->drop[CNM_DROP_RUNT] = 3;
	c->drop[CNM_DROP_RUNT] = 6;  /* 2/s */
	p->svc[5].pkts = 100;
	c->svc[5].pkts = 400;
	c->svc[5].bytes = 15000;
	p->node[2].pkts = 50;
	c->node[2].pkts = 20;        /* went down: the slot was taken again */
	c->member[65534].bytes = 3;  /* the last slot is counted too */
	p->svc[5].drop[CNM_DDROP_NO_ACTIVE_NODE] = 10;
	c->svc[5].drop[CNM_DDROP_NO_ACTIVE_NODE] = 40;   /* drops per second per service */
	c->member[7].drop[CNM_DDROP_TX_FULL] = 6;        /* per pair */
	c->node[3].drop[CNM_DDROP_TUNNEL_MTU] = 3;       /* per node */
	cnm_stats_rate(p, c, 1500000, r);
	assert_int_equal(r->rx, 2000);
	assert_int_equal(r->conn_new, 1);
	assert_int_equal(r->conn_active, 77);
	assert_int_equal(r->drop[CNM_DROP_RUNT], 2);
	assert_int_equal(r->svc[5].pkts, 200);
	assert_int_equal(r->svc[5].bytes, 10000);
	assert_int_equal(r->node[2].pkts, 0);
	assert_int_equal(r->member[65534].bytes, 2);
	assert_int_equal(r->svc[5].drop[CNM_DDROP_NO_ACTIVE_NODE], 20);
	assert_int_equal(r->member[7].drop[CNM_DDROP_TX_FULL], 4);
	assert_int_equal(r->node[3].drop[CNM_DDROP_TUNNEL_MTU], 2);
	/* no interval yet: every counter 0, gauges still there */
	cnm_stats_rate(p, c, 0, r);
	assert_int_equal(r->rx, 0);
	assert_int_equal(r->conn_active, 77);
	free(p);
	free(c);
	free(r);
}

/* the zero's baseline: counters and drops taken off, never below 0; gauges
 * and the per-id counters (the tables' business) left alone */
static void
test_sub_scalars(void **state)
{
	struct cnm_stats_total *t = total_new(), *b = total_new();

	(void)state;
	t->rx = 10;
	b->rx = 4;
	t->health_went_down = 1;
	b->health_went_down = 5;
	t->conn_active = 9;
	b->conn_active = 9;
	t->mbufs_free = 100;
	b->mbufs_free = 50;
	t->drop[CNM_DROP_TX_FULL] = 8;
	b->drop[CNM_DROP_TX_FULL] = 8;
	t->svc[1].pkts = 3;
	b->svc[1].pkts = 3;
	cnm_stats_sub_scalars(t, b);
	assert_int_equal(t->rx, 6);
	assert_int_equal(t->health_went_down, 0);
	assert_int_equal(t->conn_active, 9);
	assert_int_equal(t->mbufs_free, 100);
	assert_int_equal(t->drop[CNM_DROP_TX_FULL], 0);
	assert_int_equal(t->svc[1].pkts, 3);
	free(t);
	free(b);
}

/* the exposition: families with HELP and TYPE, the key schema as names,
 * label values escaped, milliseconds as seconds */
static void
test_render(void **state)
{
	json_t *snap = json_pack("{s:{s:I,s:I,s:I,s:{s:I,s:I},s:{s:{s:I,s:I,s:{s:{s:I,s:I}}}},"
		"s:{s:{s:I,s:I,s:b}}},s:{s:{s:s,s:s,s:I}}}",
		"stats", "rx", (json_int_t)12, "conn_active", (json_int_t)3,
		"elapsed_ms", (json_int_t)1500,
		"drops", "runt", (json_int_t)2, "tx_full", (json_int_t)0,
		"services", "we\"b\\1", "packets", (json_int_t)9, "bytes", (json_int_t)900,
		"nodes", "n\n1", "packets", (json_int_t)4, "bytes", (json_int_t)400,
		"nodes", "n1", "packets", (json_int_t)5, "bytes", (json_int_t)500, "up", 1,
		"services", "we\"b\\1", "vip", "198.51.100.10", "policy", "weighted",
		"active_nodes", (json_int_t)2);
	size_t len = 0;
	char *text;

	(void)state;
	assert_non_null(snap);
	text = cnm_metrics_render(snap, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
#define HAS(s) do { if (strstr(text, s) == NULL) fail_msg("no \"%s\" in:\n%s", s, text); } while (0)
	HAS("# HELP cnmux_rx_total frames received on the public port\n"
	    "# TYPE cnmux_rx_total counter\ncnmux_rx_total 12\n");
	HAS("# TYPE cnmux_conn_active gauge\ncnmux_conn_active 3\n");
	HAS("# TYPE cnmux_elapsed_seconds gauge\ncnmux_elapsed_seconds 1.500\n");
	HAS("# TYPE cnmux_drops_total counter\n");
	HAS("cnmux_drops_total{reason=\"runt\"} 2\n");
	HAS("cnmux_drops_total{reason=\"tx_full\"} 0\n");
	HAS("cnmux_service_packets_total{service=\"we\\\"b\\\\1\"} 9\n");
	HAS("cnmux_packets_total{service=\"we\\\"b\\\\1\",node=\"n\\n1\"} 4\n");
	HAS("cnmux_bytes_total{service=\"we\\\"b\\\\1\",node=\"n\\n1\"} 400\n");
	HAS("cnmux_node_bytes_total{node=\"n1\"} 500\n");
	HAS("# TYPE cnmux_node_up gauge\ncnmux_node_up{node=\"n1\"} 1\n");
	HAS("cnmux_service_info{service=\"we\\\"b\\\\1\",vip=\"198.51.100.10\","
	    "policy=\"weighted\"} 1\n");
	HAS("cnmux_service_active_nodes{service=\"we\\\"b\\\\1\"} 2\n");
#undef HAS
	/* a key the snapshot lacks is no sample at all (no invented zeros) */
	assert_null(strstr(text, "cnmux_forwarded_total "));
	assert_null(strstr(text, "cnmux_elapsed_ms"));
	free(text);
	json_decref(snap);
}

/* the reasons counted per service: each maps back to its own drop reason,
 * and a reason that happens before a service is known maps to none */
static void
test_ddrop_map(void **state)
{
	unsigned int i, n = 0;

	(void)state;
	for (i = 0; i < CNM_DDROP_MAX; i++)
		assert_int_equal(cnm_ddrop_of(cnm_ddrop_reason(i)), i);
	for (i = 1; i < CNM_DROP_MAX; i++)
		n += cnm_ddrop_of(i) < CNM_DDROP_MAX;
	assert_int_equal(n, CNM_DDROP_MAX);
	assert_int_equal(cnm_ddrop_of(CNM_DROP_NO_ACTIVE_NODE), CNM_DDROP_NO_ACTIVE_NODE);
	assert_int_equal(cnm_ddrop_of(CNM_DROP_TX_FULL), CNM_DDROP_TX_FULL);
	assert_int_equal(cnm_ddrop_of(CNM_DROP_NO_SERVICE), CNM_DDROP_MAX);
	assert_int_equal(cnm_ddrop_of(CNM_DROP_IPV4_IHL), CNM_DDROP_MAX);
	assert_int_equal(cnm_ddrop_of(CNM_DROP_NONE), CNM_DDROP_MAX);
}

/* drops per service, pair and node in the exposition: three families, the
 * reason as a label, from the "drops" of each */
static void
test_render_drops(void **state)
{
	json_t *snap = json_loads("{\"stats\": {"
		"\"services\": {\"web\": {\"drops\": {\"no_active_node\": 7},"
		"\"nodes\": {\"n1\": {\"packets\": 1, \"drops\": {\"tx_full\": 3}}}}},"
		"\"nodes\": {\"n1\": {\"drops\": {\"tx_full\": 4}}}}}", 0, NULL);
	size_t len = 0;
	char *text;

	(void)state;
	assert_non_null(snap);
	text = cnm_metrics_render(snap, &len);
	assert_non_null(text);
#define HAS(s) do { if (strstr(text, s) == NULL) fail_msg("no \"%s\" in:\n%s", s, text); } while (0)
	HAS("# TYPE cnmux_service_drops_total counter\n");
	HAS("cnmux_service_drops_total{service=\"web\",reason=\"no_active_node\"} 7\n");
	HAS("# TYPE cnmux_pair_drops_total counter\n");
	HAS("cnmux_pair_drops_total{service=\"web\",node=\"n1\",reason=\"tx_full\"} 3\n");
	HAS("# TYPE cnmux_node_drops_total counter\n");
	HAS("cnmux_node_drops_total{node=\"n1\",reason=\"tx_full\"} 4\n");
#undef HAS
	free(text);
	json_decref(snap);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_sub_scalars),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_ddrop_map),
		cmocka_unit_test(test_render_drops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
