/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Control protocol, reload and the control socket, against real tables
 * (rte_hash: EAL comes up once, without hugepages, in the group setup).
 * Every command's success and error paths go through
 * cnm_control_exec_text(), the way the socket server calls it.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "cnm_control.h"
#include "cnm_decide.h"
#include "cnm_quiclb.h"

#define DIM(a) (sizeof(a) / sizeof((a)[0]))
#define CNM_CTL_MAX_TEST 16 /* with the one open already: 17 clients */

static const char *const eal_args[] = {
	"control_test", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
	"--file-prefix", "ctl_test", "--log-level", "error", "-l", "0",
};

/* Three nodes, three services; node3 is the default node (no local port). */
#define CFG_HEAD \
	"{\n" \
	"  \"version\": 1,\n" \
	"  \"ports\": { \"public\": \"net_pcap0\", \"private\": [\"net_pcap1\"] },\n" \
	"  \"pdt_size\": 1024,\n"

#define CFG_NODES \
	"  \"nodes\": [\n" \
	"    { \"name\": \"node1\", \"ip\": \"192.0.2.11\", \"mac\": \"02:00:c0:00:02:0b\" },\n" \
	"    { \"name\": \"node2\", \"ip\": \"192.0.2.12\", \"mac\": \"02:00:c0:00:02:0c\" },\n" \
	"    { \"name\": \"node3\", \"ip\": \"192.0.2.13\", \"mac\": \"02:00:c0:00:02:0d\" }\n" \
	"  ],\n" \
	"  \"default_node\": \"node3\",\n"

#define SVC_WEB(w1, w2) \
	"    { \"name\": \"web\", \"vip\": \"198.51.100.10\", \"ports\": [\"80/tcp\", \"443/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"nodes\": { \"node1\": " w1 ", \"node2\": " w2 " } }"
#define SVC_DNS \
	"    { \"name\": \"dns\", \"vip\": \"198.51.100.10\", \"ports\": [\"53/udp\"],\n" \
	"      \"policy\": \"sticky\", \"nodes\": { \"node1\": 1, \"node2\": 1, \"node3\": 1 } }"
#define SVC_FTP \
	"    { \"name\": \"ftp\", \"vip\": \"198.51.100.20\", \"protocols\": [\"tcp\"],\n" \
	"      \"policy\": \"sticky-wild\", \"nodes\": { \"node1\": 1, \"node2\": 1 } }"

static const char cfg_base[] =
	CFG_HEAD CFG_NODES
	"  \"services\": [\n" SVC_WEB("3", "1") ",\n" SVC_DNS ",\n" SVC_FTP "\n  ]\n}\n";

struct fx {
	struct cnm_ctx ctx;
	pthread_mutex_t lock;
	struct cnm_wstats ws[2];
	struct cnm_wstats *wp[2];
	char dir[64];
};

/* A saved copy of every PDT, by service name. */
struct snap {
	unsigned int n;
	char name[16][CNM_NAME_MAX];
	struct cnm_pdt *pdt[16];
	char *show; /* "service show" + "node show" responses */
};

static unsigned int lb_seq;

/* ---- helpers ---- */

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static struct fx *
fx_new(const char *text)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	char err[CNM_ERR_MAX], name[32];
	unsigned int i;

	assert_non_null(fx);
	fx->ctx.cfg = cnm_config_parse(text, strlen(text), "test.json", err, sizeof(err));
	if (fx->ctx.cfg == NULL)
		fail_msg("%s", err);
	snprintf(name, sizeof(name), "ctl%u", lb_seq++);
	fx->ctx.lb = cnm_lb_create(fx->ctx.cfg, name, NULL);
	assert_non_null(fx->ctx.lb);
	pthread_mutex_init(&fx->lock, NULL);
	fx->ctx.ctl_lock = &fx->lock;
	for (i = 0; i < 2; i++) {
		assert_int_equal(cnm_wstats_init(&fx->ws[i]), 0);
		fx->wp[i] = &fx->ws[i];
	}
	fx->ctx.stats = fx->wp;
	fx->ctx.n_workers = 2;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cnm_ctl_XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->ctx.config_path, sizeof(fx->ctx.config_path), "%s/cnmux.json", fx->dir);
	write_file(fx->ctx.config_path, text);
	return fx;
}

static int
setup(void **state)
{
	*state = fx_new(cfg_base);
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char cmd[128];

	cnm_lb_free(fx->ctx.lb);
	cnm_config_free(fx->ctx.cfg);
	cnm_wstats_fini(&fx->ws[0]);
	cnm_wstats_fini(&fx->ws[1]);
	pthread_mutex_destroy(&fx->lock);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

/* Run one request line; the parsed response. */
static json_t *
run(struct fx *fx, const char *req)
{
	char *text = cnm_control_exec_text(&fx->ctx, req, strlen(req));
	json_error_t e;
	json_t *r;

	assert_non_null(text);
	assert_null(strchr(text, '\n'));
	r = json_loads(text, 0, &e);
	if (r == NULL)
		fail_msg("not JSON: %s", text);
	free(text);
	return r;
}

static json_t *
ok(struct fx *fx, const char *req)
{
	json_t *r = run(fx, req);

	if (!json_is_true(json_object_get(r, "ok")))
		fail_msg("%s -> %s", req, json_string_value(json_object_get(r, "error")));
	return r;
}

static void
ok0(struct fx *fx, const char *req)
{
	json_decref(ok(fx, req));
}

/* The request fails with an error that contains @p want. */
static void
fails(struct fx *fx, const char *req, const char *want)
{
	json_t *r = run(fx, req);
	const char *e = json_string_value(json_object_get(r, "error"));

	if (!json_is_false(json_object_get(r, "ok")) || e == NULL)
		fail_msg("%s did not fail", req);
	if (strstr(e, want) == NULL)
		fail_msg("%s -> \"%s\", expected \"%s\" in it", req, e, want);
	json_decref(r);
}

/* The request fails with exactly this error. */
static void
fails_eq(struct fx *fx, const char *req, const char *want)
{
	json_t *r = run(fx, req);

	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_string_equal(json_string_value(json_object_get(r, "error")), want);
	json_decref(r);
}

static int
svc_id(struct fx *fx, const char *name)
{
	return cnm_lb_svc_find(fx->ctx.lb, name);
}

static int
node_id(struct fx *fx, const char *name)
{
	return cnm_lb_node_find(fx->ctx.lb, name);
}

static const struct cnm_pdt *
pdt_of(struct fx *fx, const char *svc)
{
	int id = svc_id(fx, svc);

	assert_true(id >= 0);
	return cnm_lb_svc_pdt(fx->ctx.lb, (uint32_t)id);
}

static uint32_t
count(struct fx *fx, const char *svc, const char *node)
{
	int n = node_id(fx, node);

	assert_true(n >= 0);
	return cnm_pdt_count(pdt_of(fx, svc), (uint16_t)n);
}

static int64_t
weight(struct fx *fx, const char *svc, const char *node)
{
	return cnm_lb_member_weight(fx->ctx.lb, (uint16_t)svc_id(fx, svc),
				    (uint16_t)node_id(fx, node));
}

static struct cnm_pdt *
pdt_copy(const struct cnm_pdt *p)
{
	size_t sz = sizeof(*p) + p->size * sizeof(p->entries[0]);
	struct cnm_pdt *c = malloc(sz);

	assert_non_null(c);
	memcpy(c, p, sz);
	return c;
}

static char *
show_text(struct fx *fx)
{
	json_t *a = ok(fx, "{\"cmd\":\"service show\"}");
	json_t *b = ok(fx, "{\"cmd\":\"node show\"}");
	char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT), *s;

	assert_true(asprintf(&s, "%s\n%s", x, y) > 0);
	free(x);
	free(y);
	json_decref(a);
	json_decref(b);
	return s;
}

static void
snap_take(struct fx *fx, struct snap *s)
{
	const struct cnm_lb *lb = fx->ctx.lb;
	uint32_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < cnm_lb_svc_end(lb); i++) {
		if (cnm_lb_svc_cfg(lb, i) == NULL)
			continue;
		assert_true(s->n < DIM(s->pdt));
		snprintf(s->name[s->n], CNM_NAME_MAX, "%s", cnm_lb_svc_cfg(lb, i)->name);
		s->pdt[s->n++] = pdt_copy(cnm_lb_svc_pdt(lb, i));
	}
	s->show = show_text(fx);
}

static void
snap_free(struct snap *s)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		free(s->pdt[i]);
	free(s->show);
}

/* Tables and running configuration exactly as in @p s. */
static void
snap_same(struct fx *fx, struct snap *s)
{
	const struct cnm_pdt *p;
	unsigned int i, n = 0;
	char *show;

	for (i = 0; i < cnm_lb_svc_end(fx->ctx.lb); i++)
		n += cnm_lb_svc_cfg(fx->ctx.lb, i) != NULL;
	assert_int_equal(n, s->n);
	for (i = 0; i < s->n; i++) {
		p = pdt_of(fx, s->name[i]);
		assert_int_equal(p->size, s->pdt[i]->size);
		assert_memory_equal(p, s->pdt[i], sizeof(*p) + p->size * 2);
	}
	show = show_text(fx);
	assert_string_equal(show, s->show);
	free(show);
}

/* The entries @p svc would hold in @p s, for cnm_pdt_moved. */
static const struct cnm_pdt *
snap_pdt(const struct snap *s, const char *svc)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->name[i], svc) == 0)
			return s->pdt[i];
	fail_msg("no %s in the snapshot", svc);
	return NULL;
}

static struct cnm_decision
decide(struct fx *fx, const char *vip, uint8_t proto, uint16_t port, const char *src,
		uint16_t sport)
{
	struct cnm_decision d;
	struct cnm_flow f;

	memset(&f, 0, sizeof(f));
	memset(&d, 0, sizeof(d));
	f.kind = CNM_PKT_IP;
	f.key.family = AF_INET;
	f.key.proto = proto;
	f.key.port = htons(port);
	assert_int_equal(inet_pton(AF_INET, vip, f.key.addr), 1);
	assert_int_equal(inet_pton(AF_INET, src, f.src), 1);
	f.sport = htons(sport);
	f.has_ports = 1;
	cnm_decide(cnm_lb_view(fx->ctx.lb), &f, &d);
	return d;
}

static json_t *
changes(json_t *r)
{
	json_t *c = json_object_get(r, "changes");

	assert_non_null(c);
	return c;
}

/* "changes".key as "a,b" */
static const char *
list_of(json_t *r, const char *key)
{
	static char buf[512];
	json_t *a = json_object_get(changes(r), key), *e;
	size_t i, used = 0;

	assert_true(json_is_array(a));
	buf[0] = '\0';
	json_array_foreach(a, i, e)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? "," : "",
					 json_string_value(e));
	return buf;
}

static json_int_t
weights_changed(json_t *r)
{
	return json_integer_value(json_object_get(changes(r), "weights_changed"));
}

static void
assert_empty_changes(json_t *r)
{
	static const char *const keys[] = {
		"nodes_added", "nodes_removed", "nodes_changed", "services_added",
		"services_removed", "services_changed",
	};
	unsigned int i;

	for (i = 0; i < DIM(keys); i++)
		assert_string_equal(list_of(r, keys[i]), "");
	assert_int_equal(weights_changed(r), 0);
	assert_null(json_object_get(changes(r), "restart_needed"));
}

/* ---- requests that are not right ---- */

static void
test_bad_requests(void **state)
{
	struct fx *fx = *state;
	struct snap s;

	snap_take(fx, &s);
	fails(fx, "", "request: line 1 column 0: expected valid JSON");
	fails(fx, "{\"cmd\": \"stats\"", "request: line 1");
	fails(fx, "{\"cmd\":\"stats\",\"cmd\":\"stats\"}", "duplicate");
	fails(fx, "[1,2]", "request: expected a JSON object with \"cmd\" (got an array)");
	fails(fx, "\"stats\"", "request: expected a JSON object");
	fails(fx, "{}", "request: cmd: expected one of: service show, service add");
	fails(fx, "{\"cmd\": 7}", "(got 7)");
	fails(fx, "{\"cmd\": \"node frobnicate\"}",
	      "unknown command \"node frobnicate\" (expected one of: service show, service add, service del, node show, node add, node del, node up, node down, node drain, node weight, node check, pdt show, conns count, conns show, stats, stats rate, path show, zero, explain, save, reload, ha status)");
	fails_eq(fx, "{\"cmd\": \"node drain\", \"node\": \"node1\", \"nodes\": 1}",
		 "node drain: unknown argument \"nodes\" (expected one of: node, service)");
	fails_eq(fx, "{\"cmd\": \"stats\", \"x\": 1}",
		 "stats: unknown argument \"x\" (expected none)");
	/* a context without a path manager (this fixture) says so */
	fails(fx, "{\"cmd\": \"path show\"}", "this cnmux has no path manager");
	fails_eq(fx, "{\"cmd\": \"node drain\", \"node\": 5}",
		 "node drain: node: expected a node name (got 5)");
	fails_eq(fx, "{\"cmd\": \"node drain\"}",
		 "node drain: node: expected a node name (got nothing)");
	fails(fx, "{\"cmd\": \"service del\", \"service\": [\"web\"]}",
	      "service del: service: expected a service name (got an array)");
	fails(fx, "{\"cmd\": \"node up\", \"node\": \"\"}", "node up: node: expected a node name");
	/* control bytes never come back raw */
	fails(fx, "{\"cmd\": \"a\\u0001b\"}", "unknown command \"a?b\"");
	snap_same(fx, &s);
	snap_free(&s);
}

/* ---- service show / add / del ---- */

static void
test_service_show(void **state)
{
	struct fx *fx = *state;
	json_t *r, *svc, *n;

	fx->ws[0].svc[svc_id(fx, "web")].pkts = 5;
	fx->ws[1].svc[svc_id(fx, "web")].pkts = 7;
	fx->ws[1].svc[svc_id(fx, "web")].bytes = 700;
	r = ok(fx, "{\"cmd\": \"service show\"}");
	assert_int_equal(json_array_size(json_object_get(r, "services")), 3);
	json_decref(r);

	r = ok(fx, "{\"cmd\": \"service show\", \"service\": \"web\"}");
	assert_int_equal(json_array_size(json_object_get(r, "services")), 1);
	svc = json_array_get(json_object_get(r, "services"), 0);
	assert_string_equal(json_string_value(json_object_get(svc, "name")), "web");
	assert_string_equal(json_string_value(json_object_get(svc, "vip")), "198.51.100.10");
	assert_string_equal(json_string_value(json_object_get(svc, "policy")), "weighted");
	assert_string_equal(json_string_value(json_array_get(json_object_get(svc, "ports"), 1)),
			    "443/tcp");
	assert_int_equal(json_integer_value(json_object_get(svc, "pdt_size")), 1024);
	assert_int_equal(json_integer_value(json_object_get(svc, "active_nodes")), 2);
	assert_int_equal(json_integer_value(json_object_get(svc, "packets")), 12);
	assert_int_equal(json_integer_value(json_object_get(svc, "bytes")), 700);
	n = json_array_get(json_object_get(svc, "nodes"), 0);
	assert_string_equal(json_string_value(json_object_get(n, "name")), "node1");
	assert_int_equal(json_integer_value(json_object_get(n, "weight")), 3);
	assert_int_equal(json_integer_value(json_object_get(n, "entries")), 768);
	assert_true(json_is_true(json_object_get(n, "up")));
	json_decref(r);

	r = ok(fx, "{\"cmd\": \"service show\", \"service\": \"ftp\"}");
	svc = json_array_get(json_object_get(r, "services"), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(svc, "protocols"), 0)),
			    "tcp");
	assert_null(json_object_get(svc, "ports"));
	json_decref(r);

	fails_eq(fx, "{\"cmd\": \"service show\", \"service\": \"nope\"}",
		 "service show: no service \"nope\" (expected one of: web, dns, ftp)");
}

static void
test_service_add(void **state)
{
	struct fx *fx = *state;
	struct cnm_decision d;
	struct snap s;
	json_t *r;
	int id;

	/* errors first: the parser's rules and messages, nothing changes */
	snap_take(fx, &s);
	fails_eq(fx, "{\"cmd\": \"service add\"}",
		 "service add: service: expected an object like one entry of \"services\" in the configuration file (got nothing)");
	fails_eq(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"api\", \"vip\": \"198.51.100.30\", \"ports\": [\"8080/tcp\"], \"policy\": \"weighted\", \"nodes\": {\"node9\": 1}}}",
		 "service add: service.nodes.node9: the name of a node in \"nodes\" (got \"node9\")");
	fails(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"api\", \"vip\": \"198.51.100.10\", \"ports\": [\"8080/tcp\", \"443/tcp\"], \"policy\": \"weighted\", \"nodes\": {\"node1\": 1}}}",
	      "service add: service.ports[1]:");
	fails(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"web\", \"vip\": \"198.51.100.30\", \"ports\": [\"80/tcp\"], \"policy\": \"weighted\", \"nodes\": {\"node1\": 1}}}",
	      "service add: service.name:");
	fails(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"api\", \"vip\": \"198.51.100.300\", \"ports\": [\"80/tcp\"], \"policy\": \"weighted\", \"nodes\": {\"node1\": 1}}}",
	      "service add: service.vip:");
	fails(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"api\", \"vip\": \"198.51.100.30\", \"ports\": [\"80/tcp\"], \"policy\": \"weighted\", \"nodes\": {\"node1\": \"x\"}}}",
	      "service add: service.nodes.node1:");
	fails(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"api\", \"vip\": \"198.51.100.30\", \"ports\": [\"80/tcp\"], \"policy\": \"weighted\", \"nodes\": {\"node1\": 1}, \"color\": 1}}",
	      "service add: service.color:");
	snap_same(fx, &s);
	snap_free(&s);

	/* not scalable before */
	d = decide(fx, "198.51.100.30", IPPROTO_TCP, 8080, "203.0.113.7", 40000);
	assert_int_equal(d.verdict, CNM_V_DEFAULT);

	r = ok(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"api\", \"vip\": \"198.51.100.30\", \"ports\": [\"8080/tcp\", \"8443/tcp\"], \"policy\": \"weighted\", \"nodes\": {\"node1\": 1, \"node2\": 2}}}");
	assert_string_equal(list_of(r, "services_added"), "api");
	assert_string_equal(list_of(r, "services_removed"), "");
	json_decref(r);
	id = svc_id(fx, "api");
	assert_true(id >= 0);
	d = decide(fx, "198.51.100.30", IPPROTO_TCP, 8080, "203.0.113.7", 40000);
	assert_int_equal(d.verdict, CNM_V_FORWARD);
	assert_int_equal(d.svc, id);
	assert_true(d.node == node_id(fx, "node1") || d.node == node_id(fx, "node2"));
	assert_int_equal(count(fx, "api", "node1"), 341);
	assert_int_equal(count(fx, "api", "node2"), 683);
	/* the running configuration has it: reload diffs against it */
	assert_int_equal(fx->ctx.cfg->n_services, 4);
	assert_true(cnm_config_service_index(fx->ctx.cfg, "api") >= 0);
	assert_string_equal(fx->ctx.cfg->path, "test.json");

	/* sticky-wild through the same door */
	ok0(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"any\", \"vip\": \"198.51.100.40\", \"protocols\": [\"tcp\", \"udp\"], \"policy\": \"sticky-wild\", \"nodes\": {\"node3\": 1}, \"pdt_size\": 64}}");
	d = decide(fx, "198.51.100.40", IPPROTO_UDP, 9999, "203.0.113.7", 1);
	assert_int_equal(d.verdict, CNM_V_FORWARD);
	assert_int_equal(d.node, node_id(fx, "node3"));
	assert_int_equal(pdt_of(fx, "any")->size, 64);
	/* a second sticky-wild on the same (vip, proto) is refused */
	fails(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"any2\", \"vip\": \"198.51.100.40\", \"protocols\": [\"udp\"], \"policy\": \"sticky-wild\", \"nodes\": {\"node3\": 1}}}",
	      "service add: service.protocols[0]:");
}

static void
test_service_del(void **state)
{
	struct fx *fx = *state;
	struct cnm_decision d;
	json_t *r;

	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 80, "203.0.113.7", 40000);
	assert_int_equal(d.verdict, CNM_V_FORWARD);
	r = ok(fx, "{\"cmd\": \"service del\", \"service\": \"web\"}");
	assert_string_equal(list_of(r, "services_removed"), "web");
	json_decref(r);
	assert_int_equal(svc_id(fx, "web"), -1);
	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 80, "203.0.113.7", 40000);
	assert_int_equal(d.verdict, CNM_V_DEFAULT);
	assert_int_equal(d.node, node_id(fx, "node3"));
	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 443, "203.0.113.7", 40000);
	assert_int_equal(d.verdict, CNM_V_DEFAULT);
	/* dns on the same VIP still scalable */
	d = decide(fx, "198.51.100.10", IPPROTO_UDP, 53, "203.0.113.7", 40000);
	assert_int_equal(d.verdict, CNM_V_FORWARD);
	assert_int_equal(fx->ctx.cfg->n_services, 2);
	assert_int_equal(cnm_config_service_index(fx->ctx.cfg, "web"), -1);

	fails_eq(fx, "{\"cmd\": \"service del\", \"service\": \"web\"}",
		 "service del: no service \"web\" (expected one of: dns, ftp)");
	fails_eq(fx, "{\"cmd\": \"service del\"}",
		 "service del: service: expected a service name (got nothing)");
	/* and back, through service add */
	ok0(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"web\", \"vip\": \"198.51.100.10\", \"ports\": [\"80/tcp\"], \"policy\": \"weighted\", \"nodes\": {\"node1\": 1}}}");
	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 80, "203.0.113.7", 40000);
	assert_int_equal(d.verdict, CNM_V_FORWARD);
	assert_int_equal(d.node, node_id(fx, "node1"));
}

/* ---- nodes ---- */

static void
test_node_add(void **state)
{
	struct fx *fx = *state;
	struct snap s;
	json_t *r;
	int id;

	snap_take(fx, &s);
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.11\"}}",
	      "node add: node.ip:");
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node1\", \"ip\": \"192.0.2.14\"}}",
	      "node add: node.name:");
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"mac\": \"01:00:00:00:00:01\"}}",
	      "node add: node.mac:");
	fails_eq(fx, "{\"cmd\": \"node add\", \"node\": \"node4\"}",
		 "node add: node: expected an object like one entry of \"nodes\" in the configuration file (got \"node4\")");
	fails_eq(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\"}, \"services\": {\"mail\": 1}}",
		 "node add: services.mail: no service \"mail\" (expected one of: web, dns, ftp)");
	fails_eq(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\"}, \"services\": {\"web\": \"x\"}}",
		 "node add: services.web: expected an integer 0..65535 (got \"x\")");
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\"}, \"services\": [1]}",
	      "node add: services: expected an object of service name to weight (got an array)");
	snap_same(fx, &s);

	r = ok(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"mac\": \"02:00:c0:00:02:0e\"}, \"services\": {\"web\": 4}}");
	assert_string_equal(list_of(r, "nodes_added"), "node4");
	assert_int_equal(weights_changed(r), 1);
	json_decref(r);
	id = node_id(fx, "node4");
	assert_true(id >= 0);
	assert_true(cnm_lb_node(fx->ctx.lb, id)->up);
	assert_int_equal(weight(fx, "web", "node4"), 4);
	/* 3:1:4 of 1024 = 384:128:512; node4's share moved, and few others
	 * (the table is a function of the members, docs/pdt.md) */
	assert_int_equal(count(fx, "web", "node4"), 512);
	assert_int_equal(count(fx, "web", "node1"), 384);
	assert_in_range(cnm_pdt_moved(snap_pdt(&s, "web"), pdt_of(fx, "web")), 512, 563);
	assert_memory_equal(pdt_of(fx, "dns"), snap_pdt(&s, "dns"), sizeof(struct cnm_pdt) + 2048);
	assert_int_equal(fx->ctx.cfg->n_nodes, 4);
	snap_free(&s);

	/* without a MAC: configured but down until ARP resolves it */
	ok0(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node5\", \"ip\": \"2001:db8::5\"}, \"services\": {\"dns\": \"2\"}}");
	id = node_id(fx, "node5");
	assert_false(cnm_lb_node(fx->ctx.lb, id)->up);
	assert_int_equal(weight(fx, "dns", "node5"), 2);
	assert_int_equal(count(fx, "dns", "node5"), 0);
	fails_eq(fx, "{\"cmd\": \"node up\", \"node\": \"node5\"}",
		 "node up: node \"node5\" has no MAC address yet (configure \"mac\" or wait for ARP)");
}

/*
 * node check: a node's "check" at run time, checked with the file's rules
 * (nothing changes on error), in the tables the health checker reads, given
 * back by node show and kept by a later edit; "node add" takes it too.
 */
static void
test_node_check(void **state)
{
	struct fx *fx = *state;
	const struct cnm_cfg_node *lc;
	struct snap s;
	json_t *r, *ck;
	int id;

	snap_take(fx, &s);
	fails(fx, "{\"cmd\": \"node check\", \"node\": \"node1\", \"check\": {\"type\": \"ping\"}}",
	      "node check: node.check.type: one of");
	fails(fx, "{\"cmd\": \"node check\", \"node\": \"node1\", \"check\": {\"type\": \"tcp\"}}",
	      "node check: node.check.port: an integer in [1, 65535]");
	/* no health.source in this configuration */
	fails(fx, "{\"cmd\": \"node check\", \"node\": \"node1\", \"check\": {\"type\": \"icmp\"}}",
	      "node check: node.check.type: a \"health\" object with \"source\"");
	fails(fx, "{\"cmd\": \"node check\", \"node\": \"node1\", \"check\": \"icmp\"}",
	      "check: expected an object");
	fails(fx, "{\"cmd\": \"node check\", \"node\": \"nodeX\", \"check\": null}", "nodeX");
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"check\": {\"type\": \"script\"}}}",
	      "node add: node.check.command:");
	snap_same(fx, &s);
	snap_free(&s);

	ok0(fx, "{\"cmd\": \"node check\", \"node\": \"node1\", \"check\": {\"type\": \"connect\", \"port\": 8080, \"fall\": 7}}");
	id = node_id(fx, "node1");
	lc = cnm_lb_node_cfg(fx->ctx.lb, (uint32_t)id);
	assert_int_equal(lc->check.type, CNM_CHECK_CONNECT);
	assert_int_equal(lc->check.port, 8080);
	assert_int_equal(lc->check.fall, 7);
	r = ok(fx, "{\"cmd\": \"node show\", \"node\": \"node1\"}");
	ck = json_object_get(json_array_get(json_object_get(r, "nodes"), 0), "check");
	assert_string_equal(json_string_value(json_object_get(ck, "type")), "connect");
	assert_int_equal(json_integer_value(json_object_get(ck, "port")), 8080);
	assert_int_equal(json_integer_value(json_object_get(ck, "fall")), 7);
	assert_null(json_object_get(ck, "rise"));
	json_decref(r);
	/* another edit keeps it */
	ok0(fx, "{\"cmd\": \"node weight\", \"node\": \"node2\", \"service\": \"web\", \"weight\": 2}");
	assert_int_equal(cnm_lb_node_cfg(fx->ctx.lb, (uint32_t)id)->check.type, CNM_CHECK_CONNECT);
	/* none: back to the global probe */
	ok0(fx, "{\"cmd\": \"node check\", \"node\": \"node1\", \"check\": null}");
	assert_int_equal(cnm_lb_node_cfg(fx->ctx.lb, (uint32_t)id)->check.type, CNM_CHECK_NONE);
	ok0(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"check\": {\"type\": \"script\", \"command\": \"exit 0\"}}}");
	lc = cnm_lb_node_cfg(fx->ctx.lb, (uint32_t)node_id(fx, "node4"));
	assert_int_equal(lc->check.type, CNM_CHECK_SCRIPT);
	assert_string_equal(lc->check.command, "exit 0");
}

/*
 * node add takes every key a node has in the file (cnmuxctl node add
 * --check-port/--forward/--gateway/--gue-port send them), checks each with
 * the file's rules and messages, and node show gives them back.
 */
static void
test_node_add_fields(void **state)
{
	static const char cfg_tunnel[] =
		CFG_HEAD "  \"tunnel\": { \"source4\": \"192.0.2.1\" },\n" CFG_NODES
		"  \"services\": [\n" SVC_WEB("3", "1") ",\n" SVC_DNS ",\n" SVC_FTP "\n  ]\n}\n";
	struct fx *fx = *state;
	const struct cnm_cfg_node *n;
	struct snap s;
	json_t *r, *nd;
	char gw[64];

	snap_take(fx, &s);
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"check_port\": 0}}",
	      "node add: node.check_port:");
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"check_port\": \"x\"}}",
	      "node add: node.check_port:");
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"forward\": \"gre\"}}",
	      "node add: node.forward:");
	/* a tunnel without a tunnel source in the running configuration */
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"forward\": \"gue\"}}",
	      "node add: node.forward:");
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"gateway\": \"192.0.2.1\"}}",
	      "node add: node.gateway:");
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"gue_port\": 7000}}",
	      "node add: node.gue_port:");
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"weight\": 1}}",
	      "node add: node.weight:");
	snap_same(fx, &s);
	snap_free(&s);

	/* a health check port */
	ok0(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"mac\": \"02:00:c0:00:02:0e\", \"check_port\": 8080}, \"services\": {\"web\": 1}}");
	n = &fx->ctx.cfg->nodes[cnm_config_node_index(fx->ctx.cfg, "node4")];
	assert_int_equal(n->check_port, 8080);
	assert_int_equal(n->forward, CNM_FWD_MAC);
	r = ok(fx, "{\"cmd\": \"node show\", \"node\": \"node4\"}");
	nd = json_array_get(json_object_get(r, "nodes"), 0);
	assert_int_equal(json_integer_value(json_object_get(nd, "check_port")), 8080);
	assert_string_equal(json_string_value(json_object_get(nd, "forward")), "mac");
	assert_true(json_is_null(json_object_get(nd, "gateway")));
	assert_null(json_object_get(nd, "gue_port"));
	json_decref(r);
	teardown(state);

	/* with a tunnel source: a gue node behind a gateway, on its own port */
	fx = fx_new(cfg_tunnel);
	*state = fx;
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"forward\": \"gue\", \"gue_port\": 0}}",
	      "node add: node.gue_port:");
	/* not an address (an IPv6 gateway is fine: resolved by neighbour discovery) */
	fails(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"forward\": \"gue\", \"gateway\": \"2001:db8::zz\"}}",
	      "node add: node.gateway:");
	ok0(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"203.0.113.14\", \"forward\": \"gue\", \"gateway\": \"192.0.2.1\", \"gue_port\": 7000, \"check_port\": 80}, \"services\": {\"dns\": 2}}");
	n = &fx->ctx.cfg->nodes[cnm_config_node_index(fx->ctx.cfg, "node4")];
	assert_int_equal(n->forward, CNM_FWD_GUE);
	assert_int_equal(n->gue_port, 7000);
	assert_int_equal(n->check_port, 80);
	assert_true(n->has_gateway);
	assert_string_equal(cnm_addr_str(&n->gateway, gw, sizeof(gw)), "192.0.2.1");
	assert_int_equal(weight(fx, "dns", "node4"), 2);
	r = ok(fx, "{\"cmd\": \"node show\", \"node\": \"node4\"}");
	nd = json_array_get(json_object_get(r, "nodes"), 0);
	assert_string_equal(json_string_value(json_object_get(nd, "forward")), "gue");
	assert_string_equal(json_string_value(json_object_get(nd, "gateway")), "192.0.2.1");
	assert_int_equal(json_integer_value(json_object_get(nd, "gue_port")), 7000);
	json_decref(r);
	ok0(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node5\", \"ip\": \"203.0.113.15\", \"forward\": \"ipip\"}}");
	assert_int_equal(fx->ctx.cfg->nodes[cnm_config_node_index(fx->ctx.cfg, "node5")].forward,
			 CNM_FWD_IPIP);
}

static void
test_node_del(void **state)
{
	struct fx *fx = *state;
	json_t *r;

	fails_eq(fx, "{\"cmd\": \"node del\", \"node\": \"node3\"}",
		 "node del: node \"node3\" is the default_node: make another node the default (reload) first");
	fails_eq(fx, "{\"cmd\": \"node del\", \"node\": \"node9\"}",
		 "node del: no node \"node9\" (expected one of: node1, node2, node3)");
	r = ok(fx, "{\"cmd\": \"node del\", \"node\": \"node2\"}");
	assert_string_equal(list_of(r, "nodes_removed"), "node2");
	json_decref(r);
	assert_int_equal(node_id(fx, "node2"), -1);
	assert_int_equal(count(fx, "web", "node1"), 1024);
	assert_int_equal(count(fx, "dns", "node1") + count(fx, "dns", "node3"), 1024);
	assert_int_equal(fx->ctx.cfg->n_nodes, 2);
	assert_int_equal(fx->ctx.cfg->services[0].n_members, 1);
	/* node1 is now all web and ftp have */
	fails_eq(fx, "{\"cmd\": \"node del\", \"node\": \"node1\"}",
		 "node del: node \"node1\" is the only node of service \"web\": delete the service or give it another node first");
	/* the default node is still the right one after ids moved */
	assert_int_equal(cnm_lb_default_node(fx->ctx.lb), node_id(fx, "node3"));
}

static void
test_node_up_down(void **state)
{
	struct fx *fx = *state;
	static const char *const svcs[] = { "web", "dns", "ftp" };
	json_t *r;
	unsigned int i;
	int id = node_id(fx, "node1");
	struct snap s;

	snap_take(fx, &s);
	r = ok(fx, "{\"cmd\": \"node down\", \"node\": \"node1\"}");
	assert_string_equal(json_string_value(json_object_get(r, "node")), "node1");
	assert_true(json_is_false(json_object_get(r, "up")));
	json_decref(r);
	assert_false(cnm_lb_node(fx->ctx.lb, id)->up);
	for (i = 0; i < DIM(svcs); i++)
		assert_int_equal(count(fx, svcs[i], "node1"), 0);
	/* configured weights stay: down is the instance list, not the configuration */
	assert_int_equal(weight(fx, "web", "node1"), 3);
	assert_int_equal(count(fx, "web", "node2"), 1024);
	ok0(fx, "{\"cmd\": \"node down\", \"node\": \"node1\"}"); /* idempotent */
	ok0(fx, "{\"cmd\": \"node up\", \"node\": \"node1\"}");
	assert_true(cnm_lb_node(fx->ctx.lb, id)->up);
	assert_int_equal(count(fx, "web", "node1"), 768);
	assert_in_range(count(fx, "dns", "node1"), 341, 342);
	assert_int_equal(count(fx, "ftp", "node1"), 512);
	/* down and up again: every table as it was, entry by entry */
	for (i = 0; i < DIM(svcs); i++)
		assert_memory_equal(pdt_of(fx, svcs[i]), snap_pdt(&s, svcs[i]),
				    sizeof(struct cnm_pdt) + 2 * snap_pdt(&s, svcs[i])->size);
	snap_free(&s);
	fails_eq(fx, "{\"cmd\": \"node down\", \"node\": \"node9\"}",
		 "node down: no node \"node9\" (expected one of: node1, node2, node3)");
}

static void
test_node_drain(void **state)
{
	struct fx *fx = *state;
	struct snap s;
	json_t *r;

	fails_eq(fx, "{\"cmd\": \"node drain\", \"node\": \"node9\"}",
		 "node drain: no node \"node9\" (expected one of: node1, node2, node3)");
	fails_eq(fx, "{\"cmd\": \"node drain\", \"node\": \"node3\", \"service\": \"web\"}",
		 "node drain: node \"node3\" is not a node of service \"web\" (its nodes: node1, node2)");
	fails_eq(fx, "{\"cmd\": \"node drain\", \"node\": \"node3\", \"service\": \"mail\"}",
		 "node drain: no service \"mail\" (expected one of: web, dns, ftp)");

	/* one group */
	snap_take(fx, &s);
	r = ok(fx, "{\"cmd\": \"node drain\", \"node\": \"node2\", \"service\": \"web\"}");
	assert_int_equal(weights_changed(r), 1);
	json_decref(r);
	assert_int_equal(weight(fx, "web", "node2"), 0);
	assert_int_equal(count(fx, "web", "node2"), 0);
	assert_int_equal(count(fx, "web", "node1"), 1024);
	assert_int_equal(cnm_pdt_moved(snap_pdt(&s, "web"), pdt_of(fx, "web")), 256);
	assert_int_equal(weight(fx, "dns", "node2"), 1);
	assert_memory_equal(pdt_of(fx, "dns"), snap_pdt(&s, "dns"), sizeof(struct cnm_pdt) + 2048);
	snap_free(&s);

	/* every group */
	r = ok(fx, "{\"cmd\": \"node drain\", \"node\": \"node1\"}");
	assert_int_equal(weights_changed(r), 3);
	json_decref(r);
	assert_int_equal(weight(fx, "web", "node1"), 0);
	assert_int_equal(weight(fx, "dns", "node1"), 0);
	assert_int_equal(weight(fx, "ftp", "node1"), 0);
	assert_int_equal(count(fx, "dns", "node1"), 0);
	assert_int_equal(count(fx, "ftp", "node1"), 0);
	/* web has no weight left: no active node */
	assert_int_equal(pdt_of(fx, "web")->n_active, 0);
	/* the node itself stays up (its tracked connections stay) */
	assert_true(cnm_lb_node(fx->ctx.lb, node_id(fx, "node1"))->up);
	/* the running configuration says 0 */
	assert_int_equal(fx->ctx.cfg->services[0].members[0].weight, 0);
}

static void
test_node_weight(void **state)
{
	struct fx *fx = *state;
	struct snap s;
	json_t *r;

	fails_eq(fx, "{\"cmd\": \"node weight\", \"node\": \"node2\", \"service\": \"web\", \"weight\": \"x\"}",
		 "node weight: weight: expected an integer 0..65535 (got \"x\")");
	fails_eq(fx, "{\"cmd\": \"node weight\", \"node\": \"node2\", \"service\": \"web\", \"weight\": 70000}",
		 "node weight: weight: expected an integer 0..65535 (got 70000)");
	fails_eq(fx, "{\"cmd\": \"node weight\", \"node\": \"node2\", \"service\": \"web\", \"weight\": -1}",
		 "node weight: weight: expected an integer 0..65535 (got -1)");
	fails(fx, "{\"cmd\": \"node weight\", \"node\": \"node2\", \"service\": \"web\", \"weight\": 1.5}",
	      "(got 1.5)");
	fails(fx, "{\"cmd\": \"node weight\", \"node\": \"node2\", \"service\": \"web\", \"weight\": \" 1\"}",
	      "expected an integer");
	fails_eq(fx, "{\"cmd\": \"node weight\", \"node\": \"node2\", \"service\": \"web\"}",
		 "node weight: weight: expected an integer 0..65535 (got nothing)");

	snap_take(fx, &s);
	/* 3:1 -> 3:3, 768:256 -> 512:512: 256 entries move, no more */
	r = ok(fx, "{\"cmd\": \"node weight\", \"node\": \"node2\", \"service\": \"web\", \"weight\": \"3\"}");
	assert_int_equal(weights_changed(r), 1);
	json_decref(r);
	assert_int_equal(count(fx, "web", "node2"), 512);
	assert_int_equal(cnm_pdt_moved(snap_pdt(&s, "web"), pdt_of(fx, "web")), 256);
	snap_free(&s);
	/* the same weight again: nothing */
	r = ok(fx, "{\"cmd\": \"node weight\", \"node\": \"node2\", \"service\": \"web\", \"weight\": 3}");
	assert_int_equal(weights_changed(r), 0);
	json_decref(r);
	/* a node that is not a member joins */
	ok0(fx, "{\"cmd\": \"node weight\", \"node\": \"node3\", \"service\": \"web\", \"weight\": 2}");
	assert_int_equal(weight(fx, "web", "node3"), 2);
	assert_int_equal(count(fx, "web", "node3"), 256);
	assert_int_equal(fx->ctx.cfg->services[0].n_members, 3);
}

static void
test_node_show(void **state)
{
	struct fx *fx = *state;
	json_t *r, *n;

	fx->ws[0].member[CNM_MEMBER_SINK(node_id(fx, "node2"))].pkts = 3;
	r = ok(fx, "{\"cmd\": \"node show\"}");
	assert_int_equal(json_array_size(json_object_get(r, "nodes")), 3);
	json_decref(r);
	r = ok(fx, "{\"cmd\": \"node show\", \"node\": \"node2\"}");
	n = json_array_get(json_object_get(r, "nodes"), 0);
	assert_string_equal(json_string_value(json_object_get(n, "ip")), "192.0.2.12");
	assert_string_equal(json_string_value(json_object_get(n, "mac")), "02:00:c0:00:02:0c");
	assert_true(json_is_true(json_object_get(n, "up")));
	assert_true(json_is_false(json_object_get(n, "default")));
	assert_int_equal(json_integer_value(json_object_get(n, "packets")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		json_object_get(n, "services"), "web"), "entries")), 256);
	assert_null(json_object_get(json_object_get(n, "services"), "nope"));
	json_decref(r);
	r = ok(fx, "{\"cmd\": \"node show\", \"node\": \"node3\"}");
	n = json_array_get(json_object_get(r, "nodes"), 0);
	assert_true(json_is_true(json_object_get(n, "default")));
	assert_int_equal(json_object_size(json_object_get(n, "services")), 1);
	json_decref(r);
	fails(fx, "{\"cmd\": \"node show\", \"node\": \"x\"}", "node show: no node \"x\"");
}

static void
test_pdt_show(void **state)
{
	struct fx *fx = *state;
	const struct cnm_pdt *p = pdt_of(fx, "web");
	json_t *r, *e;
	size_t i;

	r = ok(fx, "{\"cmd\": \"pdt show\", \"service\": \"web\"}");
	assert_int_equal(json_integer_value(json_object_get(r, "size")), 1024);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "nodes"), "node1")), 768);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "nodes"), "node2")), 256);
	assert_int_equal(json_array_size(json_object_get(r, "entries")), 64);
	json_array_foreach(json_object_get(r, "entries"), i, e)
		assert_int_equal(node_id(fx, json_string_value(e)), p->entries[i]);
	json_decref(r);
	r = ok(fx, "{\"cmd\": \"pdt show\", \"service\": \"web\", \"offset\": 1000, \"count\": 100}");
	assert_int_equal(json_integer_value(json_object_get(r, "offset")), 1000);
	assert_int_equal(json_array_size(json_object_get(r, "entries")), 24);
	json_array_foreach(json_object_get(r, "entries"), i, e)
		assert_int_equal(node_id(fx, json_string_value(e)), p->entries[1000 + i]);
	json_decref(r);
	fails_eq(fx, "{\"cmd\": \"pdt show\", \"service\": \"web\", \"offset\": 1024}",
		 "pdt show: offset: expected an integer 0..1023 (got 1024)");
	fails_eq(fx, "{\"cmd\": \"pdt show\"}",
		 "pdt show: service: expected a service name (got nothing)");
	fails(fx, "{\"cmd\": \"pdt show\", \"service\": \"nope\"}", "pdt show: no service \"nope\"");
	/* an empty group shows no node */
	ok0(fx, "{\"cmd\": \"node drain\", \"node\": \"node1\", \"service\": \"web\"}");
	ok0(fx, "{\"cmd\": \"node drain\", \"node\": \"node2\", \"service\": \"web\"}");
	r = ok(fx, "{\"cmd\": \"pdt show\", \"service\": \"web\", \"count\": 1}");
	assert_true(json_is_null(json_array_get(json_object_get(r, "entries"), 0)));
	assert_int_equal(json_integer_value(json_object_get(r, "active_nodes")), 0);
	json_decref(r);
}

/* ---- conns ---- */

static int32_t dump_svc, dump_node;
static uint32_t dump_max;

static uint64_t
fake_count(void *arg)
{
	return (uint64_t)(uintptr_t)arg;
}

static int
fake_dump(void *arg, json_t *arr, uint32_t max, int32_t svc, int32_t node)
{
	(void)arg;
	dump_svc = svc;
	dump_node = node;
	dump_max = max;
	json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}",
		"client", "203.0.113.7:40000", "vip", "198.51.100.10:80", "node", "node1",
		"service", "web", "state", "established", "expires_ms", 1000));
	return 1;
}

static int
fake_dump_fail(void *arg, json_t *arr, uint32_t max, int32_t svc, int32_t node)
{
	(void)arg;
	(void)arr;
	(void)max;
	(void)svc;
	(void)node;
	return -ENOMEM;
}

static void
test_conns(void **state)
{
	struct fx *fx = *state;
	json_t *r;

	fails_eq(fx, "{\"cmd\": \"conns count\"}",
		 "conns count: this cnmux keeps no connection list");
	fails_eq(fx, "{\"cmd\": \"conns show\"}", "conns show: this cnmux keeps no connection list");
	fx->ctx.conns_count = fake_count;
	fx->ctx.conns_dump = fake_dump;
	fx->ctx.conns_arg = (void *)(uintptr_t)42;
	r = ok(fx, "{\"cmd\": \"conns count\"}");
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 42);
	json_decref(r);
	r = ok(fx, "{\"cmd\": \"conns show\"}");
	assert_int_equal(json_integer_value(json_object_get(r, "count")), 1);
	assert_int_equal(json_array_size(json_object_get(r, "conns")), 1);
	assert_int_equal(dump_svc, -1);
	assert_int_equal(dump_node, -1);
	assert_int_equal(dump_max, 100);
	json_decref(r);
	ok0(fx, "{\"cmd\": \"conns show\", \"service\": \"dns\", \"node\": \"node2\", \"max\": 10000}");
	assert_int_equal(dump_svc, svc_id(fx, "dns"));
	assert_int_equal(dump_node, node_id(fx, "node2"));
	assert_int_equal(dump_max, 10000);
	fails_eq(fx, "{\"cmd\": \"conns show\", \"max\": 10001}",
		 "conns show: max: expected an integer 1..10000 (got 10001)");
	fails_eq(fx, "{\"cmd\": \"conns show\", \"max\": 0}",
		 "conns show: max: expected an integer 1..10000 (got 0)");
	fails(fx, "{\"cmd\": \"conns show\", \"node\": \"node9\"}", "conns show: no node \"node9\"");
	fx->ctx.conns_dump = fake_dump_fail;
	fails(fx, "{\"cmd\": \"conns show\"}", "conns show: cannot list the connections");
}

static void
test_stats(void **state)
{
	struct fx *fx = *state;
	json_t *r;

	fx->ws[0].rx = 10;
	fx->ws[1].rx = 5;
	fx->ws[0].forwarded = 9;
	fx->ws[1].dropped = 6;
	fx->ws[1].drop[CNM_DROP_NO_SERVICE] = 4;
	fx->ws[0].drop[CNM_DROP_NO_SERVICE] = 2;
	fx->ws[0].svc[svc_id(fx, "dns")].pkts = 8;
	fx->ws[1].member[CNM_MEMBER_SINK(node_id(fx, "node3"))].bytes = 1500;
	r = ok(fx, "{\"cmd\": \"stats\"}");
	assert_int_equal(json_integer_value(json_object_get(r, "rx")), 15);
	assert_int_equal(json_integer_value(json_object_get(r, "forwarded")), 9);
	assert_int_equal(json_integer_value(json_object_get(r, "dropped")), 6);
	assert_int_equal(json_integer_value(json_object_get(r, "workers")), 2);
	assert_int_equal(json_object_size(json_object_get(r, "drops")), CNM_DROP_MAX - 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "drops"),
							    "no_service")), 6);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "drops"), "runt")), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		json_object_get(r, "services"), "dns"), "packets")), 8);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		json_object_get(r, "nodes"), "node3"), "bytes")), 1500);
	/* one flat schema: every scalar of the lists, nothing nested but the
	 * drops, services and nodes */
	{
		const struct cnm_stat_desc *d;
		unsigned int n, i;

		d = cnm_stats_desc(&n);
		for (i = 0; i < n; i++)
			if (!json_is_integer(json_object_get(r, d[i].name)))
				fail_msg("stats: no \"%s\"", d[i].name);
		assert_null(json_object_get(r, "conns"));
		assert_null(json_object_get(r, "health"));
		assert_non_null(json_object_get(r, "conn_new"));
		assert_non_null(json_object_get(r, "health_arp_sent"));
		assert_true(json_is_object(json_object_get(json_object_get(
			json_object_get(r, "services"), "dns"), "nodes")));
		assert_true(json_is_true(json_object_get(json_object_get(
			json_object_get(r, "nodes"), "node3"), "up")));
	}
	json_decref(r);
	/* no workers: zeros, not a crash */
	fx->ctx.n_workers = 0;
	r = ok(fx, "{\"cmd\": \"stats\"}");
	assert_int_equal(json_integer_value(json_object_get(r, "rx")), 0);
	json_decref(r);
}

/* ---- explain ---- */

static struct cnm_ct *explain_ct; /* the "workers' list" of test_explain_conn */

static int
explain_lookup(void *arg, const struct cnm_conn_key *k, struct cnm_conn *c, uint32_t *now)
{
	const struct cnm_conn_key *kp = k;
	hash_sig_t sig;

	(void)arg;
	*now = 1000;
	return (cnm_ct_lookup_bulk(explain_ct, &kp, 1, &sig, c) & 1) ? 1 : -1;
}

static const char *
jstr(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	if (v == NULL)
		fail_msg("no string \"%s\"", key);
	return v;
}

/* explain names what the workers would do: the same node as the decision,
 * the table, the PDT entry; and it changes nothing. */
static void
test_explain(void **state)
{
	struct fx *fx = *state;
	struct cnm_decision d;
	struct snap s;
	json_t *r;
	char req[512];
	uint32_t sport;

	snap_take(fx, &s);
	for (sport = 40000; sport < 40064; sport++) {
		snprintf(req, sizeof(req), "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"tcp\", "
			 "\"src\": \"203.0.113.5\", \"sport\": %u, \"dst\": \"198.51.100.10\", "
			 "\"dport\": 443, \"flags\": \"S\"}}", sport);
		r = ok(fx, req);
		d = decide(fx, "198.51.100.10", IPPROTO_TCP, 443, "203.0.113.5", (uint16_t)sport);
		assert_string_equal(jstr(r, "verdict"), "forward");
		assert_string_equal(jstr(r, "service"), "web");
		assert_string_equal(jstr(r, "table"), "first");
		assert_string_equal(jstr(r, "policy"), "weighted");
		assert_string_equal(jstr(r, "node"), d.node == node_id(fx, "node1") ? "node1" : "node2");
		assert_string_equal(jstr(r, "pdt_node"), jstr(r, "node"));
		assert_string_equal(jstr(r, "via"), "pdt");
		assert_string_equal(jstr(r, "method"), "mac");
		assert_string_equal(jstr(r, "conn"), "not tracked");
		assert_int_equal(json_integer_value(json_object_get(r, "pdt_size")), 1024);
		assert_int_equal(json_integer_value(json_object_get(r, "pdt_index")),
				 strtoul(jstr(r, "hash"), NULL, 16) & 1023);
		assert_non_null(strstr(jstr(r, "line"), "tcp 203.0.113.5:"));
		assert_non_null(strstr(jstr(r, "line"), "> 198.51.100.10:443 [S]"));
		json_decref(r);
	}
	/* the second table: sticky-wild on the address */
	r = ok(fx, "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"tcp\", \"src\": \"203.0.113.5\", "
		"\"sport\": 1234, \"dst\": \"198.51.100.20\", \"dport\": 21}}");
	assert_string_equal(jstr(r, "service"), "ftp");
	assert_string_equal(jstr(r, "table"), "second");
	assert_string_equal(jstr(r, "policy"), "sticky-wild");
	json_decref(r);
	/* no service: the default node */
	r = ok(fx, "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"udp\", \"src\": \"203.0.113.5\", "
		"\"sport\": 1234, \"dst\": \"198.51.100.99\", \"dport\": 9}}");
	assert_true(json_is_null(json_object_get(r, "service")));
	assert_string_equal(jstr(r, "table"), "none");
	assert_string_equal(jstr(r, "verdict"), "default");
	assert_string_equal(jstr(r, "node"), "node3");
	json_decref(r);
	/* IPv6 with no service */
	r = ok(fx, "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"udp\", \"src\": \"2001:db8::5\", "
		"\"sport\": 1234, \"dst\": \"2001:db8::10\", \"dport\": 53}}");
	assert_string_equal(jstr(r, "verdict"), "default");
	assert_non_null(strstr(jstr(r, "line"), "udp [2001:db8::5]:1234 > [2001:db8::10]:53"));
	json_decref(r);
	/* a frame in hex: IPv4 whose header says 60 bytes in a 34-byte frame */
	r = ok(fx, "{\"cmd\": \"explain\", \"frame\": \"02000000000102000000000208004500003c"
		"00004000400600000a0000017f000001\"}");
	assert_string_equal(jstr(r, "verdict"), "drop");
	assert_non_null(strstr(jstr(r, "line"), "drop: "));
	json_decref(r);
	/* nothing changed: tables, counters */
	snap_same(fx, &s);
	snap_free(&s);
	assert_int_equal(fx->ws[0].conn_new + fx->ws[1].conn_new, 0);
	/* bad requests name what is expected */
	fails(fx, "{\"cmd\": \"explain\"}", "expected one of \"frame\" (hexadecimal) or \"packet\"");
	/* save: without a path, the state file; none configured here */
	fails(fx, "{\"cmd\": \"save\"}", "path: expected a file name (no control.state_file is configured)");
	fails(fx, "{\"cmd\": \"save\", \"path\": \"/nonexistent-dir/x.json\"}", "save: /nonexistent-dir/x.json.tmp.");
	fails(fx, "{\"cmd\": \"explain\", \"frame\": \"0g\"}", "frame: expected hexadecimal digits");
	fails(fx, "{\"cmd\": \"explain\", \"frame\": \"0102\"}", "at least 14 whole bytes");
	fails(fx, "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"sctp\"}}",
	      "packet.proto: expected \"tcp\", \"udp\" or \"icmp\"");
	fails(fx, "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"udp\", \"src\": \"1.2.3.4\", "
	      "\"dst\": \"::1\", \"sport\": 1, \"dport\": 2}}", "src and dst of one family");
	fails(fx, "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"udp\", \"src\": \"1.2.3.4\", "
	      "\"dst\": \"1.2.3.5\", \"sport\": 1, \"dport\": 2, \"flags\": \"S\"}}",
	      "packet.flags: expected TCP flags");
	fails(fx, "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"udp\", \"src\": \"1.2.3.4\", "
	      "\"dst\": \"1.2.3.5\", \"sport\": 0, \"dport\": 2}}", "integers 1..65535");
	fails(fx, "{\"cmd\": \"explain\", \"packet\": {\"port\": 1}}", "packet.port: unknown key");
}

/* With the workers' lists: a connection one of them holds keeps its node
 * (the PDT says otherwise), the entry is not changed, a SYN not held would
 * be recorded. */
static void
test_explain_conn(void **state)
{
	struct fx *fx = *state;
	struct cnm_ct_timeouts t = { .syn = 30000, .established = 300000, .closing = 10000 };
	struct cnm_conn_key k;
	struct cnm_conn c;
	const struct cnm_conn_key *kp = &k;
	hash_sig_t sig;
	json_t *r;
	struct cnm_decision d;
	uint16_t other;

	explain_ct = cnm_ct_create("explain_test", 64, SOCKET_ID_ANY, &t);
	assert_non_null(explain_ct);
	fx->ctx.conns_lookup = explain_lookup;
	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 80, "203.0.113.7", 5555);
	other = (uint16_t)(d.node == node_id(fx, "node1") ? node_id(fx, "node2") : node_id(fx, "node1"));
	memset(&k, 0, sizeof(k));
	k.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, "203.0.113.7", k.src), 1);
	assert_int_equal(inet_pton(AF_INET, "198.51.100.10", k.dst), 1);
	k.sport = htons(5555);
	k.dport = htons(80);
	assert_true(cnm_ct_insert(explain_ct, &k, cnm_ct_hash(explain_ct, &k), other,
				  (uint16_t)svc_id(fx, "web"), CNM_TCP_ACK, 1000) >= 0);
	r = ok(fx, "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"tcp\", \"src\": \"203.0.113.7\", "
		"\"sport\": 5555, \"dst\": \"198.51.100.10\", \"dport\": 80, \"flags\": \"P.\"}}");
	assert_string_equal(jstr(r, "conn"), "held");
	assert_string_equal(jstr(r, "via"), "conn");
	assert_string_equal(jstr(r, "conn_state"), "established");
	assert_int_equal(json_integer_value(json_object_get(r, "conn_worker")), 1);
	assert_string_equal(jstr(r, "node"), other == node_id(fx, "node1") ? "node1" : "node2");
	assert_string_not_equal(jstr(r, "pdt_node"), jstr(r, "node"));
	json_decref(r);
	/* the workers' entry as it was */
	assert_true(cnm_ct_lookup_bulk(explain_ct, &kp, 1, &sig, &c) & 1);
	assert_int_equal(c.expire, 1000 + 300000);
	assert_int_equal(cnm_ct_count(explain_ct), 1);
	/* another client's SYN: not held, would be recorded on the PDT's node */
	r = ok(fx, "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"tcp\", \"src\": \"203.0.113.8\", "
		"\"sport\": 5555, \"dst\": \"198.51.100.10\", \"dport\": 80, \"flags\": \"S\"}}");
	assert_string_equal(jstr(r, "conn"), "new");
	assert_string_equal(jstr(r, "via"), "pdt");
	json_decref(r);
	r = ok(fx, "{\"cmd\": \"explain\", \"packet\": {\"proto\": \"tcp\", \"src\": \"203.0.113.8\", "
		"\"sport\": 5555, \"dst\": \"198.51.100.10\", \"dport\": 80}}");
	assert_string_equal(jstr(r, "conn"), "not held");
	json_decref(r);
	assert_int_equal(cnm_ct_count(explain_ct), 1);
	fx->ctx.conns_lookup = NULL;
	cnm_ct_free(explain_ct);
	explain_ct = NULL;
}

/* A service or node added into a slot an earlier one held starts at zero:
 * the workers' counters are never reset, the tables keep a base. */
static void
test_stats_slot_reuse(void **state)
{
	struct fx *fx = *state;
	json_t *r, *o;
	int dns = svc_id(fx, "dns"), n2 = node_id(fx, "node2");
	uint32_t i;

	cnm_lb_set_stats(fx->ctx.lb, fx->wp, 2);
	fx->ws[0].svc[dns].pkts = 8;
	fx->ws[1].svc[dns].bytes = 800;
	fx->ws[0].member[CNM_MEMBER_SINK(n2)].pkts = 7;
	fx->ws[1].member[CNM_MEMBER_SINK(n2)].bytes = 700;
	ok0(fx, "{\"cmd\": \"service del\", \"service\": \"dns\"}");
	ok0(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"api\", "
		"\"vip\": \"198.51.100.30\", \"ports\": [\"8080/tcp\"], \"policy\": \"weighted\", "
		"\"nodes\": {\"node1\": 1}}}");
	assert_int_equal(svc_id(fx, "api"), dns); /* the lowest free slot: dns's */
	ok0(fx, "{\"cmd\": \"node del\", \"node\": \"node2\"}");
	/* node slots are taken round-robin: fill every other free slot so that
	 * the search wraps round to node2's (the reload drops the fillers, which
	 * the configuration does not list) */
	for (i = 0; i < CNM_MAX_NODES; i++) {
		struct cnm_cfg_node fill;

		if ((int)i == n2 || cnm_lb_node_cfg(fx->ctx.lb, i) != NULL)
			continue;
		memset(&fill, 0, sizeof(fill));
		snprintf(fill.name, sizeof(fill.name), "fill%u", i);
		fill.ip.family = AF_INET;
		fill.ip.bytes[0] = 10;
		fill.ip.bytes[2] = (uint8_t)(i >> 8);
		fill.ip.bytes[3] = (uint8_t)i;
		assert_true(cnm_lb_node_add(fx->ctx.lb, &fill) >= 0);
	}
	ok0(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node9\", "
		"\"ip\": \"192.0.2.19\", \"mac\": \"02:00:00:00:00:19\"}}");
	assert_int_equal(node_id(fx, "node9"), n2);
	assert_int_equal(cnm_lb_node_find(fx->ctx.lb, "fill4095"), -1); /* gone again */
	/* what the new holders count from now on */
	fx->ws[1].svc[dns].pkts += 3;
	fx->ws[0].member[CNM_MEMBER_SINK(n2)].bytes += 60;
	r = ok(fx, "{\"cmd\": \"stats\"}");
	o = json_object_get(json_object_get(r, "services"), "api");
	assert_int_equal(json_integer_value(json_object_get(o, "packets")), 3);
	assert_int_equal(json_integer_value(json_object_get(o, "bytes")), 0);
	o = json_object_get(json_object_get(r, "nodes"), "node9");
	assert_int_equal(json_integer_value(json_object_get(o, "packets")), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "bytes")), 60);
	json_decref(r);
}

/* the value at @p path ("services/web/packets") of a `stats` response */
static json_int_t
stat_at(const json_t *r, const char *path)
{
	char buf[128], *save = NULL, *k;
	const json_t *v = r;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, "/", &save); k != NULL && v != NULL; k = strtok_r(NULL, "/", &save))
		v = json_object_get(v, k);
	if (!json_is_integer(v))
		fail_msg("stats: no integer at %s", path);
	return json_integer_value(v);
}

/* `zero`: every counter an operator sees starts again from 0, gauges stay,
 * and counting goes on from there; the workers' counters are not written.
 * A service added into a slot after the zero counts from its own start. */
static void
test_zero(void **state)
{
	struct fx *fx = *state;
	int web = svc_id(fx, "web"), dns = svc_id(fx, "dns"), n1 = node_id(fx, "node1");
	int pair = cnm_lb_member_slot(fx->ctx.lb, (uint16_t)web, (uint16_t)n1);
	json_t *r;

	cnm_lb_set_stats(fx->ctx.lb, fx->wp, 2);
	fx->ws[0].rx = 10;
	fx->ws[0].forwarded = 6;
	fx->ws[0].local = 1;
	fx->ws[0].dropped = 3;
	fx->ws[0].drop[CNM_DROP_RUNT] = 3;
	fx->ws[1].rx = 5;
	fx->ws[1].forwarded = 5;
	fx->ws[0].conn_active = 4;
	assert_true(pair >= 0);
	fx->ws[0].svc[web].pkts = 9;        /* web's frames no node got */
	fx->ws[1].svc[dns].pkts = 2;
	fx->ws[0].member[pair].pkts = 2;    /* (web, node1): web's, node1's and the pair's */
	fx->ws[0].member[pair].bytes = 900;
	r = ok(fx, "{\"cmd\": \"stats\"}");
	assert_int_equal(stat_at(r, "rx"), 15);
	assert_int_equal(stat_at(r, "services/web/packets"), 11);
	assert_int_equal(stat_at(r, "nodes/node1/bytes"), 900);
	json_decref(r);

	r = ok(fx, "{\"cmd\": \"zero\"}");
	json_decref(r);
	fails(fx, "{\"cmd\": \"zero\", \"all\": true}", "all");
	assert_int_equal(fx->ws[0].rx, 10); /* the workers' own counters: untouched */
	r = ok(fx, "{\"cmd\": \"stats\"}");
	assert_int_equal(stat_at(r, "rx"), 0);
	assert_int_equal(stat_at(r, "forwarded"), 0);
	assert_int_equal(stat_at(r, "dropped"), 0);
	assert_int_equal(stat_at(r, "drops/runt"), 0);
	assert_int_equal(stat_at(r, "conn_active"), 4); /* a gauge: a level now */
	assert_int_equal(stat_at(r, "workers"), 2);
	assert_int_equal(stat_at(r, "services/web/packets"), 0);
	assert_int_equal(stat_at(r, "services/web/nodes/node1/bytes"), 0);
	assert_int_equal(stat_at(r, "nodes/node1/bytes"), 0);
	json_decref(r);

	/* counting goes on from the zero */
	fx->ws[1].rx += 7;
	fx->ws[1].forwarded += 7;
	fx->ws[0].svc[web].pkts += 5;
	fx->ws[0].member[pair].pkts += 1;
	fx->ws[0].member[pair].bytes += 60;
	r = ok(fx, "{\"cmd\": \"stats\"}");
	assert_int_equal(stat_at(r, "rx"), 7);
	assert_int_equal(stat_at(r, "forwarded"), 7);
	assert_int_equal(stat_at(r, "rx"), stat_at(r, "forwarded") + stat_at(r, "local") +
		stat_at(r, "dropped"));
	assert_int_equal(stat_at(r, "services/web/packets"), 6);
	assert_int_equal(stat_at(r, "services/web/nodes/node1/bytes"), 60);
	assert_int_equal(stat_at(r, "nodes/node1/bytes"), 60);
	json_decref(r);

	/* dns's slot, taken by a new service after the zero: counts from when
	 * it was added, not from the zero */
	fx->ws[1].svc[dns].pkts += 4;
	ok0(fx, "{\"cmd\": \"service del\", \"service\": \"dns\"}");
	ok0(fx, "{\"cmd\": \"service add\", \"service\": {\"name\": \"api\", "
		"\"vip\": \"198.51.100.30\", \"ports\": [\"8080/tcp\"], \"policy\": \"weighted\", "
		"\"nodes\": {\"node1\": 1}}}");
	assert_int_equal(svc_id(fx, "api"), dns);
	fx->ws[0].svc[dns].pkts += 1;
	r = ok(fx, "{\"cmd\": \"stats\"}");
	assert_int_equal(stat_at(r, "services/api/packets"), 1);
	json_decref(r);

	/* without the control loop there are no rates: said, not faked */
	fails(fx, "{\"cmd\": \"stats rate\"}", "no rates");
}

/* ---- reload ---- */

static char *
file_in(struct fx *fx, const char *name, const char *text)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", fx->dir, name) > 0);
	write_file(path, text);
	return path;
}

static void
test_reload_same(void **state)
{
	struct fx *fx = *state;
	struct snap s;
	json_t *r;

	snap_take(fx, &s);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(json_string_value(json_object_get(r, "file")), fx->ctx.config_path);
	assert_empty_changes(r);
	json_decref(r);
	snap_same(fx, &s);
	assert_string_equal(fx->ctx.cfg->path, fx->ctx.config_path);
	/* and again, with the API */
	{
		char err[CNM_ERR_MAX];
		json_t *sum = NULL;

		assert_int_equal(cnm_control_reload(&fx->ctx, NULL, err, sizeof(err), &sum), 0);
		assert_non_null(sum);
		assert_int_equal(json_integer_value(json_object_get(sum, "weights_changed")), 0);
		assert_int_equal(json_array_size(json_object_get(sum, "services_changed")), 0);
		json_decref(sum);
	}
	snap_same(fx, &s);
	snap_free(&s);
}

static void
test_reload_weight(void **state)
{
	static const char text[] =
		CFG_HEAD CFG_NODES
		"  \"services\": [\n" SVC_WEB("2", "1") ",\n" SVC_DNS ",\n" SVC_FTP "\n  ]\n}\n";
	struct fx *fx = *state;
	char *path = file_in(fx, "w.json", text);
	char req[512];
	struct snap s;
	json_t *r;

	snap_take(fx, &s);
	snprintf(req, sizeof(req), "{\"cmd\": \"reload\", \"path\": \"%s\"}", path);
	r = ok(fx, req);
	assert_int_equal(weights_changed(r), 1);
	assert_string_equal(list_of(r, "services_changed"), "");
	assert_string_equal(list_of(r, "nodes_changed"), "");
	json_decref(r);
	/* 3:1 -> 2:1 is 768:256 -> 683:341: 85 entries move, exactly */
	assert_int_equal(count(fx, "web", "node1"), 683);
	assert_int_equal(cnm_pdt_moved(snap_pdt(&s, "web"), pdt_of(fx, "web")), 85);
	assert_memory_equal(pdt_of(fx, "dns"), snap_pdt(&s, "dns"), sizeof(struct cnm_pdt) + 2048);
	assert_memory_equal(pdt_of(fx, "ftp"), snap_pdt(&s, "ftp"), sizeof(struct cnm_pdt) + 2048);
	/* the file is now the running configuration, and the one reload reads */
	assert_string_equal(fx->ctx.config_path, path);
	assert_string_equal(fx->ctx.cfg->path, path);
	assert_int_equal(fx->ctx.cfg->services[0].members[0].weight, 2);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_empty_changes(r);
	json_decref(r);
	snap_free(&s);
	free(path);
}

/*
 * second_chance_s through reloads (docs/pdt.md "Second chance"): a reload
 * that turns it on and moves entries covers its own moves (the window is set
 * first); a refused reload changes no version and no window; `save` writes
 * it back.
 */
static void
test_reload_second_chance(void **state)
{
	static const char on[] =
		CFG_HEAD "  \"second_chance_s\": 60,\n" CFG_NODES
		"  \"services\": [\n" SVC_WEB("2", "1") ",\n" SVC_DNS ",\n"
		"    { \"name\": \"ftp\", \"vip\": \"198.51.100.20\", \"protocols\": [\"tcp\"],\n"
		"      \"policy\": \"sticky-wild\", \"nodes\": { \"node1\": 1, \"node2\": 1 },\n"
		"      \"second_chance_s\": 0 }\n  ]\n}\n";
	static const char refused[] =
		CFG_HEAD "  \"hash_key\": 7,\n" CFG_NODES
		"  \"services\": [\n" SVC_WEB("1", "1") ",\n" SVC_DNS ",\n" SVC_FTP "\n  ]\n}\n";
	struct fx *fx = *state;
	char *path = file_in(fx, "sc.json", on), *bad, req[512];
	struct cnm_sc_info a, b;
	int web = svc_id(fx, "web"), ftp = svc_id(fx, "ftp");
	const struct cnm_pdt *before;
	json_t *r;

	assert_int_equal(cnm_lb_svc_second_chance(fx->ctx.lb, (uint32_t)web, &a), 0);
	assert_int_equal(a.window_ms, 0);
	assert_null(a.prev);
	/* the table in force long enough to be kept */
	usleep((CNM_SC_SETTLE_MS + 50) * 1000);
	snprintf(req, sizeof(req), "{\"cmd\": \"reload\", \"path\": \"%s\"}", path);
	r = ok(fx, req);
	assert_int_equal(weights_changed(r), 1);
	json_decref(r);
	assert_int_equal(cnm_lb_svc_second_chance(fx->ctx.lb, (uint32_t)web, &a), 0);
	assert_int_equal(a.window_ms, 60000);
	/* the reload's own move (3:1 -> 2:1) is covered: the 3:1 table is kept */
	assert_non_null(a.prev);
	assert_int_equal(cnm_pdt_moved(a.prev, pdt_of(fx, "web")), 85);
	assert_int_equal(cnm_lb_svc_second_chance(fx->ctx.lb, (uint32_t)ftp, &b), 0);
	assert_int_equal(b.window_ms, 0);
	assert_int_equal(fx->ctx.cfg->second_chance_s, 60);
	/* service show: the window, open, and the 85 entries it covers */
	r = ok(fx, "{\"cmd\": \"service show\", \"service\": \"web\"}");
	{
		const json_t *scj = json_object_get(json_array_get(json_object_get(r, "services"), 0),
						   "second_chance");

		assert_non_null(scj);
		assert_int_equal(json_integer_value(json_object_get(scj, "window_s")), 60);
		assert_true(json_is_true(json_object_get(scj, "open")));
		assert_int_equal(json_integer_value(json_object_get(scj, "entries_changed")), 85);
	}
	json_decref(r);
	/* save writes them back: the global key and ftp's override */
	{
		char *saved = NULL, err[CNM_ERR_MAX];
		struct cnm_config *c;

		if (asprintf(&saved, "%s.saved", path) < 0)
			fail();
		snprintf(req, sizeof(req), "{\"cmd\": \"save\", \"path\": \"%s\"}", saved);
		r = ok(fx, req);
		json_decref(r);
		c = cnm_config_load(saved, err, sizeof(err));
		if (c == NULL)
			fail_msg("saved file refused: %s", err);
		assert_int_equal(c->second_chance_s, 60);
		assert_int_equal(c->services[cnm_config_service_index(c, "ftp")].second_chance_s, 0);
		assert_int_equal(c->services[cnm_config_service_index(c, "web")].second_chance_s, 60);
		cnm_config_free(c);
		unlink(saved);
		free(saved);
	}

	/* refused: nothing changes, the versions and windows included */
	before = pdt_of(fx, "web");
	bad = file_in(fx, "bad.json", refused);
	snprintf(req, sizeof(req), "{\"cmd\": \"reload\", \"path\": \"%s\"}", bad);
	fails(fx, req, "hash_key cannot change at run time");
	assert_int_equal(cnm_lb_svc_second_chance(fx->ctx.lb, (uint32_t)web, &b), 0);
	assert_int_equal(b.window_ms, a.window_ms);
	assert_int_equal(b.until, a.until);
	assert_int_equal(b.since, a.since);
	assert_ptr_equal(b.prev, a.prev);
	assert_ptr_equal(pdt_of(fx, "web"), before);
	assert_int_equal(fx->ctx.cfg->second_chance_s, 60);

	/* off again by reload: the version goes */
	write_file(path, cfg_base);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	json_decref(r);
	assert_int_equal(cnm_lb_svc_second_chance(fx->ctx.lb, (uint32_t)web, &b), 0);
	assert_int_equal(b.window_ms, 0);
	assert_null(b.prev);
	free(bad);
	free(path);
}

/* reload --dry-run says what the reload will do, entries included, and
 * changes nothing; the reload then does exactly that. */
static void
test_reload_dry_run(void **state)
{
	static const char text[] =
		CFG_HEAD CFG_NODES
		"  \"services\": [\n" SVC_WEB("2", "1") ",\n"
		"    { \"name\": \"dns\", \"vip\": \"198.51.100.10\", \"ports\": [\"53/udp\", \"853/tcp\"],\n"
		"      \"policy\": \"sticky\", \"nodes\": { \"node1\": 1, \"node2\": 1 } }\n  ]\n}\n";
	struct fx *fx = *state;
	char *path = file_in(fx, "d.json", text);
	json_int_t web_moved, dns_moved;
	char req[512];
	struct snap s;
	json_t *r, *ch, *mv;

	snap_take(fx, &s);
	snprintf(req, sizeof(req), "{\"cmd\": \"reload\", \"path\": \"%s\", \"dry_run\": true}",
		 path);
	r = ok(fx, req);
	ch = json_object_get(r, "changes");
	assert_true(json_is_true(json_object_get(ch, "dry_run")));
	assert_string_equal(list_of(r, "services_changed"), "dns");
	assert_string_equal(list_of(r, "services_removed"), "ftp");
	assert_int_equal(weights_changed(r), 2);
	mv = json_object_get(ch, "entries_moved");
	/* web 3:1 -> 2:1: 85 entries; dns loses node3: its 342 and a few more */
	web_moved = json_integer_value(json_object_get(mv, "web"));
	dns_moved = json_integer_value(json_object_get(mv, "dns"));
	assert_int_equal(web_moved, 85);
	assert_in_range(dns_moved, 342, 2 * 342);
	json_decref(r);
	/* nothing changed: tables, configuration, file */
	snap_same(fx, &s);
	assert_string_not_equal(fx->ctx.config_path, path);
	/* the reload itself: what the dry run said */
	snprintf(req, sizeof(req), "{\"cmd\": \"reload\", \"path\": \"%s\"}", path);
	r = ok(fx, req);
	assert_string_equal(list_of(r, "services_changed"), "dns");
	assert_string_equal(list_of(r, "services_removed"), "ftp");
	json_decref(r);
	assert_int_equal(cnm_pdt_moved(snap_pdt(&s, "web"), pdt_of(fx, "web")), web_moved);
	assert_int_equal(cnm_pdt_moved(snap_pdt(&s, "dns"), pdt_of(fx, "dns")), dns_moved);
	/* a file a reload would refuse: the dry run refuses it alike */
	write_file(path, CFG_HEAD CFG_NODES "  \"hash_key\": 7,\n  \"services\": []\n}\n");
	snprintf(req, sizeof(req), "{\"cmd\": \"reload\", \"path\": \"%s\", \"dry_run\": true}",
		 path);
	fails(fx, req, "hash_key cannot change at run time");
	snap_free(&s);
	free(path);
}

/*
 * A reload is a transaction: one that validates but cannot be made
 * entirely (here: 70,000 keys, which the configuration's budget allows but
 * the first table cannot hold) is refused after a trial on a scratch copy,
 * before anything changes: every table, node id and counter as it was.
 */
static void
test_reload_transaction(void **state)
{
	struct fx *fx = *state;
	size_t cap = 2u << 20, used;
	char *text = malloc(cap), *path;
	int n1 = node_id(fx, "node1"), n2 = node_id(fx, "node2"), n3 = node_id(fx, "node3");
	struct cnm_sc_info sa, sb;
	struct snap s;
	uint32_t p;
	json_t *req, *r;

	assert_non_null(text);
	/* node2 moves to another address (a node removed and added again:
	 * a new id, had anything been applied) */
	used = (size_t)snprintf(text, cap, "%s%s  \"services\": [\n"
		"    { \"name\": \"web\", \"vip\": \"198.51.100.10\", \"policy\": \"weighted\",\n"
		"      \"nodes\": { \"node1\": 1 }, \"ports\": [", CFG_HEAD,
		"  \"nodes\": [\n"
		"    { \"name\": \"node1\", \"ip\": \"192.0.2.11\", \"mac\": \"02:00:c0:00:02:0b\" },\n"
		"    { \"name\": \"node2\", \"ip\": \"192.0.2.99\", \"mac\": \"02:00:c0:00:02:0c\" },\n"
		"    { \"name\": \"node3\", \"ip\": \"192.0.2.13\", \"mac\": \"02:00:c0:00:02:0d\" }\n"
		"  ],\n"
		"  \"default_node\": \"node3\",\n");
	for (p = 1; p <= 40000; p++)
		used += (size_t)snprintf(text + used, cap - used, "%s\"%u/tcp\"", p > 1 ? "," : "", p);
	used += (size_t)snprintf(text + used, cap - used, "] },\n"
		"    { \"name\": \"big\", \"vip\": \"198.51.100.30\", \"policy\": \"weighted\",\n"
		"      \"nodes\": { \"node2\": 1 }, \"ports\": [");
	for (p = 1; p <= 30000; p++)
		used += (size_t)snprintf(text + used, cap - used, "%s\"%u/udp\"", p > 1 ? "," : "", p);
	snprintf(text + used, cap - used, "] }\n  ]\n}\n");
	/* a second chance window open on web (docs/pdt.md): the refused reload
	 * leaves its version and window as they are too */
	assert_int_equal(cnm_lb_svc_set_second_chance(fx->ctx.lb, (uint16_t)svc_id(fx, "web"),
						      60000), 0);
	usleep((CNM_SC_SETTLE_MS + 50) * 1000);
	assert_int_equal(cnm_lb_member_set(fx->ctx.lb, (uint16_t)svc_id(fx, "web"), (uint16_t)n2,
					   2), 0);
	assert_int_equal(cnm_lb_svc_second_chance(fx->ctx.lb, (uint32_t)svc_id(fx, "web"), &sa), 0);
	assert_non_null(sa.prev);
	snap_take(fx, &s);
	path = file_in(fx, "cnmux.json", text);
	req = json_pack("{s:s}", "cmd", "reload");
	r = cnm_control_exec(&fx->ctx, req);
	json_decref(req);
	assert_true(json_is_false(json_object_get(r, "ok")));
	assert_non_null(strstr(json_string_value(json_object_get(r, "error")), "reload: "));
	json_decref(r);
	/* nothing changed: the tables byte for byte, the node ids, ftp still there */
	snap_same(fx, &s);
	assert_int_equal(cnm_lb_svc_second_chance(fx->ctx.lb, (uint32_t)svc_id(fx, "web"), &sb), 0);
	assert_ptr_equal(sb.prev, sa.prev);
	assert_int_equal(sb.until, sa.until);
	assert_int_equal(sb.since, sa.since);
	assert_int_equal(sb.window_ms, 60000);
	assert_int_equal(node_id(fx, "node1"), n1);
	assert_int_equal(node_id(fx, "node2"), n2);
	assert_int_equal(node_id(fx, "node3"), n3);
	assert_true(svc_id(fx, "ftp") >= 0);
	snap_free(&s);
	free(path);
	free(text);
}

static unsigned int commits;

static void
count_commit(void *arg, const struct cnm_config *cfg)
{
	struct fx *fx = arg;

	assert_ptr_equal(cfg, fx->ctx.cfg);
	commits++;
}

/* The data path's switches change with the reload that changes them, and
 * what takes its settings from the configuration hears of it once. */
static void
test_reload_switches(void **state)
{
	static const char text[] =
		CFG_HEAD "  \"verify_checksum\": true, \"icmp_echo\": \"local\",\n" CFG_NODES
		"  \"services\": [\n" SVC_WEB("3", "1") ",\n" SVC_DNS ",\n" SVC_FTP "\n  ]\n}\n";
	struct fx *fx = *state;
	char *path = file_in(fx, "sw.json", text);
	char req[512];
	json_t *r;

	commits = 0;
	fx->ctx.on_commit = count_commit;
	fx->ctx.on_commit_arg = fx;
	assert_int_equal(cnm_lb_view(fx->ctx.lb)->verify_checksum, 0);
	assert_int_equal(cnm_lb_view(fx->ctx.lb)->icmp_echo_reply, 1);
	snprintf(req, sizeof(req), "{\"cmd\": \"reload\", \"path\": \"%s\"}", path);
	r = ok(fx, req);
	json_decref(r);
	assert_int_equal(cnm_lb_view(fx->ctx.lb)->verify_checksum, 1);
	assert_int_equal(cnm_lb_view(fx->ctx.lb)->icmp_echo_reply, 0);
	assert_int_equal(commits, 1);
	/* a broken file changes nothing and commits nothing */
	write_file(path, "{");
	fails(fx, req, "reload: ");
	assert_int_equal(commits, 1);
	assert_int_equal(cnm_lb_view(fx->ctx.lb)->verify_checksum, 1);
	/* and back */
	write_file(path, cfg_base);
	r = ok(fx, req);
	json_decref(r);
	assert_int_equal(cnm_lb_view(fx->ctx.lb)->verify_checksum, 0);
	assert_int_equal(cnm_lb_view(fx->ctx.lb)->icmp_echo_reply, 1);
	assert_int_equal(commits, 2);
	free(path);
}

static void
test_reload_add_remove(void **state)
{
	static const char text[] =
		CFG_HEAD
		"  \"nodes\": [\n"
		"    { \"name\": \"node1\", \"ip\": \"192.0.2.11\", \"mac\": \"02:00:c0:00:02:0b\" },\n"
		"    { \"name\": \"node4\", \"ip\": \"192.0.2.14\", \"mac\": \"02:00:c0:00:02:0e\" },\n"
		"    { \"name\": \"node2\", \"ip\": \"192.0.2.12\", \"mac\": \"02:00:c0:00:02:0c\" }\n"
		"  ],\n"
		"  \"default_node\": \"node4\",\n"
		"  \"services\": [\n"
		"    { \"name\": \"mail\", \"vip\": \"198.51.100.30\", \"ports\": [\"25/tcp\"],\n"
		"      \"policy\": \"sticky\", \"nodes\": { \"node4\": 1 } },\n"
		SVC_WEB("3", "1") ",\n"
		"    { \"name\": \"dns\", \"vip\": \"198.51.100.10\", \"ports\": [\"53/udp\"],\n"
		"      \"policy\": \"sticky\", \"nodes\": { \"node1\": 1, \"node2\": 1, \"node4\": 1 } }\n"
		"  ]\n}\n";
	struct fx *fx = *state;
	char *path = file_in(fx, "cnmux.json", text);
	struct cnm_decision d;
	struct snap s;
	json_t *r;

	snap_take(fx, &s);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "nodes_added"), "node4");
	assert_string_equal(list_of(r, "nodes_removed"), "node3");
	assert_string_equal(list_of(r, "nodes_changed"), "");
	assert_string_equal(list_of(r, "services_added"), "mail");
	assert_string_equal(list_of(r, "services_removed"), "ftp");
	assert_string_equal(list_of(r, "services_changed"), "");
	assert_int_equal(weights_changed(r), 2); /* dns: node4 in, node3 out */
	json_decref(r);
	assert_int_equal(node_id(fx, "node3"), -1);
	assert_int_equal(svc_id(fx, "ftp"), -1);
	assert_int_equal(cnm_lb_default_node(fx->ctx.lb), node_id(fx, "node4"));
	d = decide(fx, "198.51.100.30", IPPROTO_TCP, 25, "203.0.113.9", 1234);
	assert_int_equal(d.verdict, CNM_V_FORWARD);
	assert_int_equal(d.node, node_id(fx, "node4"));
	d = decide(fx, "198.51.100.20", IPPROTO_TCP, 21, "203.0.113.9", 1234);
	assert_int_equal(d.verdict, CNM_V_DEFAULT);
	assert_int_equal(d.node, node_id(fx, "node4"));
	/* web untouched; dns: node3's entries moved, and node4 (another name,
	 * so other entries: about 2/3 of its 341 lie outside node3's) took its
	 * share: a remove and an add, docs/pdt.md */
	assert_memory_equal(pdt_of(fx, "web"), snap_pdt(&s, "web"), sizeof(struct cnm_pdt) + 2048);
	assert_in_range(cnm_pdt_moved(snap_pdt(&s, "dns"), pdt_of(fx, "dns")), 341, 600);
	assert_int_equal(fx->ctx.cfg->n_services, 3);
	snap_free(&s);

	/* and the original back */
	write_file(path, cfg_base);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "nodes_added"), "node3");
	assert_string_equal(list_of(r, "nodes_removed"), "node4");
	assert_string_equal(list_of(r, "services_added"), "ftp");
	assert_string_equal(list_of(r, "services_removed"), "mail");
	json_decref(r);
	assert_int_equal(cnm_lb_default_node(fx->ctx.lb), node_id(fx, "node3"));
	free(path);
}

static void
test_reload_changed(void **state)
{
	/* web's VIP moves, node2's MAC and node3's IP change */
	static const char text[] =
		CFG_HEAD
		"  \"nodes\": [\n"
		"    { \"name\": \"node1\", \"ip\": \"192.0.2.11\", \"mac\": \"02:00:c0:00:02:0b\" },\n"
		"    { \"name\": \"node2\", \"ip\": \"192.0.2.12\", \"mac\": \"02:00:c0:00:02:aa\" },\n"
		"    { \"name\": \"node3\", \"ip\": \"192.0.2.33\", \"mac\": \"02:00:c0:00:02:0d\" }\n"
		"  ],\n"
		"  \"default_node\": \"node3\",\n"
		"  \"services\": [\n"
		"    { \"name\": \"web\", \"vip\": \"198.51.100.11\", \"ports\": [\"80/tcp\", \"443/tcp\"],\n"
		"      \"policy\": \"weighted\", \"nodes\": { \"node1\": 3, \"node2\": 1 } },\n"
		SVC_DNS ",\n" SVC_FTP "\n  ]\n}\n";
	struct fx *fx = *state;
	char *path = file_in(fx, "cnmux.json", text);
	struct cnm_decision d;
	uint8_t mac[8] = { 0 };
	json_t *r;
	int id;

	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "services_changed"), "web");
	assert_string_equal(list_of(r, "nodes_changed"), "node2,node3");
	assert_string_equal(list_of(r, "services_added"), "");
	json_decref(r);
	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 80, "203.0.113.9", 1234);
	assert_int_equal(d.verdict, CNM_V_DEFAULT);
	d = decide(fx, "198.51.100.11", IPPROTO_TCP, 80, "203.0.113.9", 1234);
	assert_int_equal(d.verdict, CNM_V_FORWARD);
	id = node_id(fx, "node2");
	memcpy(mac, &cnm_lb_node(fx->ctx.lb, id)->mac, 6);
	assert_int_equal(mac[5], 0xaa);
	/* node3 came back at its new address, in dns, and as the default */
	id = node_id(fx, "node3");
	assert_int_equal(cnm_lb_node_cfg(fx->ctx.lb, id)->ip.bytes[3], 33);
	assert_int_equal(weight(fx, "dns", "node3"), 1);
	assert_in_range(count(fx, "dns", "node3"), 341, 342);
	assert_int_equal(cnm_lb_default_node(fx->ctx.lb), id);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_empty_changes(r);
	json_decref(r);
	free(path);
}

/*
 * Ports, protocols and policy change in place (issue 12): web gains 8080
 * and loses 443, dns takes 443 from it (a key one gives up and the other
 * takes, in one reload), ftp becomes UDP too. Every service keeps its id,
 * its table entry for entry, and its counters; a kept key never leaves.
 */
static void
test_reload_rekey(void **state)
{
	static const char text[] =
		CFG_HEAD CFG_NODES
		"  \"services\": [\n"
		"    { \"name\": \"web\", \"vip\": \"198.51.100.10\", \"ports\": [\"80/tcp\", \"8080/tcp\"],\n"
		"      \"policy\": \"weighted\", \"nodes\": { \"node1\": 3, \"node2\": 1 } },\n"
		"    { \"name\": \"dns\", \"vip\": \"198.51.100.10\", \"ports\": [\"53/udp\", \"443/tcp\"],\n"
		"      \"policy\": \"sticky\", \"nodes\": { \"node1\": 1, \"node2\": 1, \"node3\": 1 } },\n"
		"    { \"name\": \"ftp\", \"vip\": \"198.51.100.20\", \"protocols\": [\"tcp\", \"udp\"],\n"
		"      \"policy\": \"sticky-wild\", \"nodes\": { \"node1\": 1, \"node2\": 1 } }\n"
		"  ]\n}\n";
	struct fx *fx = *state;
	int web = svc_id(fx, "web"), dns = svc_id(fx, "dns"), ftp = svc_id(fx, "ftp");
	struct cnm_decision d;
	struct snap s;
	char *path;
	json_t *r;

	fx->ws[0].svc[web].pkts = 5;
	snap_take(fx, &s);
	path = file_in(fx, "cnmux.json", text);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "services_changed"), "web,dns,ftp");
	assert_string_equal(list_of(r, "services_added"), "");
	assert_string_equal(list_of(r, "services_removed"), "");
	json_decref(r);
	/* the same services, tables and counters */
	assert_int_equal(svc_id(fx, "web"), web);
	assert_int_equal(svc_id(fx, "dns"), dns);
	assert_int_equal(svc_id(fx, "ftp"), ftp);
	{
		unsigned int i;

		for (i = 0; i < s.n; i++)
			assert_memory_equal(pdt_of(fx, s.name[i]), s.pdt[i],
					    sizeof(*s.pdt[i]) + s.pdt[i]->size * 2);
	}
	r = ok(fx, "{\"cmd\": \"stats\"}");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
		json_object_get(r, "services"), "web"), "packets")), 5);
	json_decref(r);
	/* the keys as the file says */
	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 8080, "203.0.113.9", 1234);
	assert_int_equal(d.svc, web);
	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 80, "203.0.113.9", 1234);
	assert_int_equal(d.svc, web);
	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 443, "203.0.113.9", 1234);
	assert_int_equal(d.svc, dns);
	d = decide(fx, "198.51.100.20", IPPROTO_UDP, 9, "203.0.113.9", 1234);
	assert_int_equal(d.svc, ftp);
	/* and back: still the same services and tables */
	write_file(path, cfg_base);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	/* web takes 443 back once dns gave it up: its turn comes after */
	assert_string_equal(list_of(r, "services_changed"), "dns,ftp,web");
	json_decref(r);
	snap_same(fx, &s);
	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 443, "203.0.113.9", 1234);
	assert_int_equal(d.svc, web);
	d = decide(fx, "198.51.100.10", IPPROTO_TCP, 8080, "203.0.113.9", 1234);
	assert_int_equal(d.svc, -1);
	snap_free(&s);
	free(path);
}

/*
 * The UDP flow list and QUIC-LB through reloads, on main's in-place paths:
 * a service whose ports change in place (rekey) takes its new
 * udp_timeout_s too; a QUIC-LB change rebuilds the service with the new
 * context (an in-place rekey would keep the old one).
 */
#define SVC_DNS_X(ports, extra) \
	"    { \"name\": \"dns\", \"vip\": \"198.51.100.10\", \"ports\": [" ports "],\n" \
	"      \"policy\": \"sticky\", \"nodes\": { \"node1\": 1, \"node2\": 1, \"node3\": 1 }" \
	extra " }"

static const struct cnm_svc *
view_svc(struct fx *fx, const char *name)
{
	int id = svc_id(fx, name);

	assert_true(id >= 0);
	return cnm_lb_view(fx->ctx.lb)->svc[id];
}

static void
test_reload_udp_quic(void **state)
{
	static const char rekeyed[] =
		CFG_HEAD CFG_NODES
		"  \"services\": [\n" SVC_WEB("3", "1") ",\n"
		SVC_DNS_X("\"53/udp\", \"5353/udp\"", ", \"udp_timeout_s\": 30") ",\n"
		SVC_FTP "\n  ]\n}\n";
	static const char quic[] =
		CFG_HEAD CFG_NODES
		"  \"services\": [\n" SVC_WEB("3", "1") ",\n"
		SVC_DNS_X("\"53/udp\", \"5353/udp\"", ", \"udp_timeout_s\": 30, \"quic_lb\": "
			  "{ \"server_id_len\": 3, \"nonce_len\": 6, \"mode\": \"plaintext\" }") ",\n"
		SVC_FTP "\n  ]\n}\n";
	static const char quic2[] =
		CFG_HEAD CFG_NODES
		"  \"services\": [\n" SVC_WEB("3", "1") ",\n"
		SVC_DNS_X("\"53/udp\", \"5353/udp\"", ", \"udp_timeout_s\": 30, \"quic_lb\": "
			  "{ \"server_id_len\": 3, \"nonce_len\": 8, \"mode\": \"plaintext\" }") ",\n"
		SVC_FTP "\n  ]\n}\n";
	struct fx *fx = *state;
	int dns = svc_id(fx, "dns");
	const struct cnm_svc *v;
	struct cnm_decision d;
	char *path;
	json_t *r;

	assert_int_equal(view_svc(fx, "dns")->list_proto, 0);
	/* ports and udp_timeout_s together: the same service, its list on */
	path = file_in(fx, "cnmux.json", rekeyed);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "services_changed"), "dns");
	json_decref(r);
	assert_int_equal(svc_id(fx, "dns"), dns);
	v = view_svc(fx, "dns");
	assert_int_equal(v->list_proto, IPPROTO_UDP);
	assert_int_equal(v->udp_timeout_ms, 30000);
	assert_int_equal(cnm_lb_svc_cfg(fx->ctx.lb, (uint32_t)dns)->udp_timeout_s, 30);
	assert_null(v->quic);
	d = decide(fx, "198.51.100.10", IPPROTO_UDP, 5353, "203.0.113.9", 1234);
	assert_int_equal(d.svc, dns);
	/* QUIC-LB added: rebuilt with a context */
	write_file(path, quic);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "services_changed"), "dns");
	assert_string_equal(list_of(r, "services_added"), "");
	assert_string_equal(list_of(r, "services_removed"), "");
	json_decref(r);
	v = view_svc(fx, "dns");
	assert_non_null(v->quic);
	assert_int_equal(v->udp_timeout_ms, 30000);
	assert_int_equal(cnm_lb_svc_cfg(fx->ctx.lb, (uint32_t)svc_id(fx, "dns"))->n_quic, 1);
	/* its nonce length changed: the configuration the file gives now */
	write_file(path, quic2);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "services_changed"), "dns");
	json_decref(r);
	assert_non_null(view_svc(fx, "dns")->quic);
	assert_int_equal(cnm_lb_svc_cfg(fx->ctx.lb,
			(uint32_t)svc_id(fx, "dns"))->quic[0].nonce_len, 8);
	/* and back to the base: no list, no QUIC */
	write_file(path, cfg_base);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	json_decref(r);
	v = view_svc(fx, "dns");
	assert_null(v->quic);
	assert_int_equal(v->list_proto, 0);
	free(path);
}

/* A MAC taken out of the file: down until ARP; put back: up again. */
static void
test_reload_mac(void **state)
{
	static const char text[] =
		CFG_HEAD
		"  \"nodes\": [\n"
		"    { \"name\": \"node1\", \"ip\": \"192.0.2.11\" },\n"
		"    { \"name\": \"node2\", \"ip\": \"192.0.2.12\", \"mac\": \"02:00:c0:00:02:0c\" },\n"
		"    { \"name\": \"node3\", \"ip\": \"192.0.2.13\", \"mac\": \"02:00:c0:00:02:0d\" }\n"
		"  ],\n"
		"  \"default_node\": \"node3\",\n"
		"  \"services\": [\n" SVC_WEB("3", "1") ",\n" SVC_DNS ",\n" SVC_FTP "\n  ]\n}\n";
	struct fx *fx = *state;
	char *path = file_in(fx, "cnmux.json", text);
	int id = node_id(fx, "node1");
	json_t *r;

	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "nodes_changed"), "node1");
	json_decref(r);
	assert_false(cnm_lb_node(fx->ctx.lb, id)->up);
	assert_int_equal(cnm_lb_node(fx->ctx.lb, id)->mac, 0);
	assert_false(cnm_lb_node_cfg(fx->ctx.lb, id)->has_mac);
	assert_int_equal(count(fx, "web", "node1"), 0);
	write_file(path, cfg_base);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "nodes_changed"), "node1");
	json_decref(r);
	assert_true(cnm_lb_node(fx->ctx.lb, id)->up);
	assert_int_equal(count(fx, "web", "node1"), 768);
	free(path);
}

static void
test_reload_pdt_size(void **state)
{
	static const char text[] =
		CFG_HEAD CFG_NODES
		"  \"services\": [\n" SVC_WEB("3", "1") ",\n"
		"    { \"name\": \"dns\", \"vip\": \"198.51.100.10\", \"ports\": [\"53/udp\"],\n"
		"      \"policy\": \"sticky\", \"nodes\": { \"node1\": 1, \"node2\": 1, \"node3\": 1 },\n"
		"      \"pdt_size\": 64 },\n"
		SVC_FTP "\n  ]\n}\n";
	struct fx *fx = *state;
	char *path = file_in(fx, "cnmux.json", text);
	struct cnm_decision d;
	int id = svc_id(fx, "dns");
	json_t *r;

	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "services_changed"), "dns");
	assert_string_equal(list_of(r, "services_added"), "");
	json_decref(r);
	/* resized in place: same id, never out of the tables */
	assert_int_equal(svc_id(fx, "dns"), id);
	assert_int_equal(pdt_of(fx, "dns")->size, 64);
	assert_int_equal(count(fx, "dns", "node1") + count(fx, "dns", "node2") +
			 count(fx, "dns", "node3"), 64);
	d = decide(fx, "198.51.100.10", IPPROTO_UDP, 53, "203.0.113.9", 1234);
	assert_int_equal(d.verdict, CNM_V_FORWARD);
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_empty_changes(r);
	json_decref(r);
	free(path);
}

static void
test_reload_broken(void **state)
{
	static const char syntax[] = "{ \"version\": 1,\n  \"ports\": {\n";
	static const char unknown_node[] =
		CFG_HEAD CFG_NODES
		"  \"services\": [\n"
		"    { \"name\": \"web\", \"vip\": \"198.51.100.10\", \"ports\": [\"80/tcp\"],\n"
		"      \"policy\": \"weighted\", \"nodes\": { \"node9\": 1 } }\n  ]\n}\n";
	static const char ports[] =
		"{\n  \"ports\": { \"public\": \"net_pcap0\", \"private\": [\"net_pcap7\"] },\n"
		"  \"pdt_size\": 1024,\n" CFG_NODES
		"  \"services\": [\n" SVC_WEB("1", "1") "\n  ]\n}\n";
	static const char key[] =
		CFG_HEAD CFG_NODES "  \"hash_key\": 1,\n"
		"  \"services\": [\n" SVC_WEB("1", "1") "\n  ]\n}\n";
	struct fx *fx = *state;
	struct cnm_config *before = fx->ctx.cfg;
	char *path = file_in(fx, "cnmux.json", syntax);
	char want[512], err[CNM_ERR_MAX];
	struct snap s;

	/* some run-time changes first: the state to keep is not the file's */
	ok0(fx, "{\"cmd\": \"node weight\", \"node\": \"node2\", \"service\": \"web\", \"weight\": 5}");
	before = fx->ctx.cfg;
	snap_take(fx, &s);
	snprintf(want, sizeof(want), "reload: %s: line 3 column 0", path);
	fails(fx, "{\"cmd\": \"reload\"}", want);
	snap_same(fx, &s);

	write_file(path, unknown_node);
	snprintf(want, sizeof(want),
		 "reload: %s: services[0].nodes.node9: the name of a node in \"nodes\" (got \"node9\")",
		 path);
	fails_eq(fx, "{\"cmd\": \"reload\"}", want);
	snap_same(fx, &s);

	write_file(path, ports);
	snprintf(want, sizeof(want), "reload: %s: ports.private: ", path);
	fails(fx, "{\"cmd\": \"reload\"}", want);
	fails(fx, "{\"cmd\": \"reload\"}", "ports cannot change at run time, restart cnmux");
	snap_same(fx, &s);

	write_file(path, key);
	snprintf(want, sizeof(want), "reload: %s: hash_key: ", path);
	fails(fx, "{\"cmd\": \"reload\"}", want);
	snap_same(fx, &s);

	snprintf(want, sizeof(want), "reload: %s/none.json: cannot read", fx->dir);
	snprintf(err, sizeof(err), "{\"cmd\": \"reload\", \"path\": \"%s/none.json\"}", fx->dir);
	fails(fx, err, want);
	fails_eq(fx, "{\"cmd\": \"reload\", \"path\": 1}",
		 "reload: path: expected a file name (got 1)");
	snap_same(fx, &s);
	/* the API says the same, and keeps the same state */
	assert_int_equal(cnm_control_reload(&fx->ctx, NULL, err, sizeof(err), NULL), -EINVAL);
	assert_non_null(strstr(err, "hash_key"));
	assert_ptr_equal(fx->ctx.cfg, before);
	assert_string_equal(fx->ctx.config_path + strlen(fx->dir), "/cnmux.json");
	snap_same(fx, &s);
	snap_free(&s);
	free(path);
}

/* After changes through commands, a reload of the start-up file puts it all back. */
static void
test_reload_restores(void **state)
{
	struct fx *fx = *state;
	struct snap s;
	json_t *r;

	snap_take(fx, &s);
	ok0(fx, "{\"cmd\": \"node drain\", \"node\": \"node1\"}");
	ok0(fx, "{\"cmd\": \"node weight\", \"node\": \"node3\", \"service\": \"web\", \"weight\": 9}");
	ok0(fx, "{\"cmd\": \"service del\", \"service\": \"ftp\"}");
	ok0(fx, "{\"cmd\": \"node add\", \"node\": {\"name\": \"node4\", \"ip\": \"192.0.2.14\", \"mac\": \"02:00:c0:00:02:0e\"}, \"services\": {\"dns\": 1}}");
	r = ok(fx, "{\"cmd\": \"reload\"}");
	assert_string_equal(list_of(r, "nodes_removed"), "node4");
	assert_string_equal(list_of(r, "services_added"), "ftp");
	json_decref(r);
	/* the same weights and members; the same entry counts */
	assert_int_equal(weight(fx, "web", "node1"), 3);
	assert_int_equal(weight(fx, "web", "node3"), -ENOENT);
	assert_int_equal(count(fx, "web", "node1"), 768);
	assert_in_range(count(fx, "dns", "node1"), 341, 342);
	assert_int_equal(count(fx, "ftp", "node2"), 512);
	/* and the very tables: a PDT is a function of the configuration */
	assert_memory_equal(pdt_of(fx, "web"), snap_pdt(&s, "web"), sizeof(struct cnm_pdt) + 2048);
	assert_memory_equal(pdt_of(fx, "dns"), snap_pdt(&s, "dns"), sizeof(struct cnm_pdt) + 2048);
	snap_free(&s);
}

/* ---- the socket ---- */

/* Serve and read until @p want newlines arrived; the text (static). */
static char *
recv_lines(struct cnm_ctl_server *srv, int fd, int want)
{
	static char buf[1 << 20];
	size_t len = 0;
	int i, got = 0;

	for (i = 0; i < 2000 && got < want; i++) {
		ssize_t n, k;

		cnm_ctl_server_poll(srv);
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n < 0) {
			usleep(1000);
			continue;
		}
		for (k = 0; k < n; k++)
			got += buf[len + (size_t)k] == '\n';
		len += (size_t)n;
	}
	buf[len] = '\0';
	return got >= want ? buf : NULL;
}

static char *
recv_line(struct cnm_ctl_server *srv, int fd)
{
	return recv_lines(srv, fd, 1);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Serve until the peer of @p fd sees EOF (the server closed it). */
static int
closed_by_server(struct cnm_ctl_server *srv, int fd)
{
	char b[4096];
	int i;

	for (i = 0; i < 2000; i++) {
		ssize_t n;

		cnm_ctl_server_poll(srv);
		n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0)
			return 1;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return 1;
		usleep(1000);
	}
	return 0;
}

/*
 * Idle clients cannot lock the others out: with every slot taken, a new
 * client takes the slot of the one idle the longest; an idle client is
 * closed after the idle limit. (Short limits, set for the test.)
 */
static void
test_socket_idle(void **state)
{
	struct fx *fx = *state;
	struct cnm_ctl_server *srv;
	int many[CNM_CTL_MAX_TEST], fd, i;
	char path[128], *line;

	snprintf(path, sizeof(path), "%s/idle.sock", fx->dir);
	srv = cnm_ctl_server_create(path, &fx->ctx);
	assert_non_null(srv);
	cnm_ctl_server_set_idle(srv, 600, 100);
	for (i = 0; i < CNM_CTL_MAX_TEST; i++) {
		many[i] = connect_to(path);
		cnm_ctl_server_poll(srv);
	}
	usleep(150 * 1000);
	/* every slot taken by a client idle past 100 ms: the oldest goes */
	fd = connect_to(path);
	cnm_ctl_server_poll(srv);
	line = recv_line(srv, many[0]);
	assert_non_null(line);
	assert_non_null(strstr(line, "idle while every slot was taken"));
	assert_int_equal(send(fd, "{\"cmd\":\"conns count\"}\n", 22, 0), 22);
	line = recv_line(srv, fd);
	assert_non_null(line);
	assert_non_null(strstr(line, "no connection list"));
	/* and past 600 ms of silence, the server closes them all */
	usleep(700 * 1000);
	assert_true(closed_by_server(srv, fd));
	assert_true(closed_by_server(srv, many[1]));
	for (i = 0; i < CNM_CTL_MAX_TEST; i++)
		close(many[i]);
	close(fd);
	cnm_ctl_server_free(srv);
}

/* `reload` of something that is not a regular file (a FIFO nobody writes):
 * refused at once, nothing changed, the control loop never waits on it. */
static void
test_reload_fifo(void **state)
{
	struct fx *fx = *state;
	char path[128], req[256];

	snprintf(path, sizeof(path), "%s/cfg.fifo", fx->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	snprintf(req, sizeof(req), "{\"cmd\":\"reload\",\"path\":\"%s\"}", path);
	fails(fx, req, "not a regular file");
	unlink(path);
}

static void
test_socket(void **state)
{
	static const char two[] =
		"{\"cmd\":\"node show\",\"node\":\"node1\"}\n\n{\"cmd\":\"nope\"}\n";
	struct fx *fx = *state;
	struct cnm_ctl_server *srv;
	char path[128], *line, *big;
	struct stat st;
	int fd, fd2;
	json_t *r;

	snprintf(path, sizeof(path), "%s/ctl.sock", fx->dir);
	/* a stale socket file is replaced; another file is not */
	srv = cnm_ctl_server_create(path, &fx->ctx);
	assert_non_null(srv);
	cnm_ctl_server_free(srv);
	assert_int_not_equal(stat(path, &st), 0);
	write_file(path, "x");
	assert_null(cnm_ctl_server_create(path, &fx->ctx));
	assert_int_equal(errno, EEXIST);
	unlink(path);
	srv = cnm_ctl_server_create(path, &fx->ctx);
	assert_non_null(srv);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	fd = connect_to(path);
	assert_int_equal(send(fd, "{\"cmd\":\"stats\"}\n", 16, 0), 16);
	line = recv_line(srv, fd);
	assert_non_null(line);
	r = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(json_integer_value(json_object_get(r, "workers")), 2);
	json_decref(r);

	/* pipelined, in one write, with a blank line: two answers in order */
	assert_int_equal(send(fd, two, strlen(two), 0), (ssize_t)strlen(two));
	line = recv_lines(srv, fd, 2);
	assert_non_null(line);
	assert_ptr_not_equal(strchr(line, '\n'), strrchr(line, '\n'));
	assert_non_null(strstr(line, "\"node1\""));
	assert_non_null(strstr(line, "unknown command"));

	/* a change through the socket */
	fd2 = connect_to(path);
	assert_int_equal(send(fd2, "{\"cmd\":\"node down\",\"node\":\"node2\"}", 34, 0), 34);
	shutdown(fd2, SHUT_WR); /* last line without a newline still counts */
	line = recv_line(srv, fd2);
	assert_non_null(line);
	assert_non_null(strstr(line, "\"ok\":true"));
	assert_false(cnm_lb_node(fx->ctx.lb, node_id(fx, "node2"))->up);
	assert_true(closed_by_server(srv, fd2));
	close(fd2);

	/* a line over 64 KiB: an error, then the server closes */
	big = malloc(70000);
	assert_non_null(big);
	memset(big, 'x', 70000);
	fd2 = connect_to(path);
	assert_int_equal(send(fd2, big, 70000, 0), 70000);
	line = recv_line(srv, fd2);
	assert_non_null(line);
	assert_non_null(strstr(line, "at most 65536 bytes"));
	assert_true(closed_by_server(srv, fd2));
	close(fd2);
	free(big);

	/* a large response: written whole, in as many writes as it takes */
	{
		static char req[256];
		size_t total = 0;
		int i;

		for (i = 0; i < 40; i++) {
			snprintf(req, sizeof(req),
				 "{\"cmd\":\"service add\",\"service\":{\"name\":\"s%d\",\"vip\":\"203.0.113.%d\",\"ports\":[\"80/tcp\"],\"policy\":\"weighted\",\"nodes\":{\"node1\":1}}}",
				 i, i + 1);
			ok0(fx, req);
		}
		snprintf(req, sizeof(req), "{\"cmd\":\"pdt show\",\"service\":\"web\",\"count\":1024}\n{\"cmd\":\"service show\"}\n");
		assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
		for (i = 0; i < 5000 && total < 2; i++) {
			char b[65536];
			ssize_t n;
			ssize_t k;

			cnm_ctl_server_poll(srv);
			n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
			for (k = 0; k < n; k++)
				total += b[k] == '\n';
			if (n <= 0)
				usleep(500);
		}
		assert_int_equal(total, 2);
	}

	/* 16 clients at most: the 17th is told so and closed */
	{
		int many[CNM_CTL_MAX_TEST], i;

		for (i = 0; i < CNM_CTL_MAX_TEST; i++) {
			many[i] = connect_to(path);
			cnm_ctl_server_poll(srv);
		}
		/* fd is the first of the 16 */
		line = recv_line(srv, many[CNM_CTL_MAX_TEST - 1]);
		assert_non_null(line);
		assert_non_null(strstr(line, "too many clients"));
		for (i = 0; i < CNM_CTL_MAX_TEST; i++)
			close(many[i]);
		for (i = 0; i < 3; i++)
			cnm_ctl_server_poll(srv);
		/* room again */
		fd2 = connect_to(path);
		assert_int_equal(send(fd2, "{\"cmd\":\"conns count\"}\n", 22, 0), 22);
		line = recv_line(srv, fd2);
		assert_non_null(line);
		assert_non_null(strstr(line, "no connection list"));
		close(fd2);
	}

	/* the client goes away: the server forgets it */
	close(fd);
	cnm_ctl_server_poll(srv);
	cnm_ctl_server_poll(srv);
	cnm_ctl_server_free(srv);
	assert_int_not_equal(stat(path, &st), 0);
}

/* ---- group setup ---- */

static int
group_setup(void **state)
{
	/* EAL permutes argv and keeps pointers into it */
	static char buf[DIM(eal_args)][32];
	static char *argv[DIM(eal_args) + 1];
	unsigned int i;

	(void)state;
	for (i = 0; i < DIM(eal_args); i++) {
		snprintf(buf[i], sizeof(buf[i]), "%s", eal_args[i]);
		argv[i] = buf[i];
	}
	if (rte_eal_init((int)DIM(eal_args), argv) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	rte_eal_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_service_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_add_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_up_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_weight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pdt_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explain_conn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_slot_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_same, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_weight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_second_chance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_add_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_udp_quic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_dry_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_switches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_mac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_pdt_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_restores, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_fifo, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
