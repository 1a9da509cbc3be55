/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the checkpoint messages a replica applies (docs/ha.md),
 * past the framing fuzz_ha covers: SNAPSHOT and DELTA through the order rule
 * and state_apply() (the configuration merged with the local ports, control
 * and ha, applied by the reload-diff code; nodes_state; every PDT through
 * pdt_decode() and cnm_lb_svc_set_pdt(); the PDTs a delta does not carry put
 * back), CONNS through its decoding (endpoints, names) and io.insert. A real
 * holder (cnm_ha_create(), on real tables) gets each message through
 * cnm_ha_test_frame(), as if the primary had sent it.
 *
 * An input is up to MAX_MSG messages separated by '\n':
 *   byte 0   the type: % 3 -> SNAPSHOT, DELTA, CONNS
 *   byte 1   the epoch, % 4
 *   byte 2   the sequence number, % 4
 *   the rest the JSON payload
 * Each input starts from the same tables and a new holder (fresh epoch,
 * sequence, term). After each message: the tables keep a replica's
 * invariants (check_replica_lb()) and say what the running configuration
 * says; every
 * connection io.insert is handed is well-formed.
 *
 * FUZZ_HA_STATE_SEEDS=DIR: write the seed corpus (a snapshot of the tables
 * as they are, deltas of one PDT, a configuration change, CONNS) to DIR and
 * exit.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <jansson.h>

#include "cnm_control.h"
#include "cnm_ha.h"
#include "fuzz_common.h"

#define MAX_MSG 8

#define CFG_TEXT(port) \
	"{\n  \"version\": 1,\n" \
	"  \"ports\": { \"public\": \"net_pcap0\", \"private\": [\"net_pcap1\"] },\n" \
	"  \"pdt_size\": 64,\n" \
	"  \"ha\": { \"id\": \"b\", \"listen\": \"127.0.0.1:" port "\", \"role\": \"secondary\",\n" \
	"          \"trusted_segment\": true,\n" \
	"          \"peers\": [ { \"id\": \"a\", \"address\": \"127.0.0.1:1\" } ] },\n" \
	"  \"nodes\": [\n" \
	"    { \"name\": \"node1\", \"ip\": \"192.0.2.11\", \"mac\": \"02:00:c0:00:02:0b\" },\n" \
	"    { \"name\": \"node2\", \"ip\": \"192.0.2.12\", \"mac\": \"02:00:c0:00:02:0c\" },\n" \
	"    { \"name\": \"node3\", \"ip\": \"192.0.2.13\", \"mac\": \"02:00:c0:00:02:0d\" },\n" \
	"    { \"name\": \"node4\", \"ip\": \"2001:db8::14\", \"mac\": \"02:00:c0:00:02:0e\" },\n" \
	"    { \"name\": \"nomac\", \"ip\": \"192.0.2.16\" }\n" \
	"  ],\n" \
	"  \"services\": [\n" \
	"    { \"name\": \"web\", \"vip\": \"198.51.100.10\", \"ports\": [\"80/tcp\", \"443/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"nodes\": { \"node1\": 3, \"node2\": 1, \"nomac\": 1 } },\n" \
	"    { \"name\": \"dns\", \"vip\": \"198.51.100.10\", \"ports\": [\"53/udp\"],\n" \
	"      \"policy\": \"sticky\", \"pdt_size\": 16, \"nodes\": { \"node1\": 1, \"node3\": 0 } },\n" \
	"    { \"name\": \"ftp\", \"vip\": \"198.51.100.20\", \"protocols\": [\"tcp\", \"udp\"],\n" \
	"      \"policy\": \"sticky-wild\", \"nodes\": { \"node2\": 1, \"node3\": 1 } },\n" \
	"    { \"name\": \"web6\", \"vip\": \"2001:db8::10\", \"ports\": [\"80/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"nodes\": { \"node3\": 1, \"node4\": 1 } }\n" \
	"  ]\n}\n"

static char cfg_text[4096];
static struct cnm_ctx ctx;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cnm_wstats ws;
static struct cnm_wstats *wsp[1] = { &ws };
static uint64_t inserted;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
tables_build(void)
{
	char err[CNM_ERR_MAX];

	ctx.cfg = cnm_config_parse(cfg_text, strlen(cfg_text), "fuzz_ha_state", err, sizeof(err));
	if (ctx.cfg == NULL) {
		fprintf(stderr, "fuzz_ha_state: %s\n", err);
		abort();
	}
	ctx.lb = cnm_lb_create(ctx.cfg, "fzh", NULL);
	if (ctx.lb == NULL) {
		fprintf(stderr, "fuzz_ha_state: cnm_lb_create: %s\n", rte_strerror(rte_errno));
		abort();
	}
	/* resolved, as a holder's nodes are once ARP answered */
	(void)cnm_lb_node_set_up(ctx.lb, 0, 1);
}

static void
tables_free(void)
{
	cnm_lb_free(ctx.lb);
	cnm_config_free(ctx.cfg);
	ctx.lb = NULL;
	ctx.cfg = NULL;
}

/* io.insert: what CONNS decoded must be well-formed */
static int
conns_insert(void *arg, const struct cnm_ha_conn *c, uint32_t n)
{
	uint32_t i;

	(void)arg;
	FUZZ_CHECK(n > 0 && n <= 4096);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(c[i].family == AF_INET || c[i].family == AF_INET6);
		FUZZ_CHECK(c[i].sport != 0 && c[i].dport != 0);
		FUZZ_CHECK(memchr(c[i].service, '\0', sizeof(c[i].service)) != NULL);
		FUZZ_CHECK(memchr(c[i].node, '\0', sizeof(c[i].node)) != NULL);
		if (c[i].family == AF_INET) {
			static const uint8_t zero[12];

			FUZZ_CHECK(memcmp(c[i].src + 4, zero, 12) == 0);
			FUZZ_CHECK(memcmp(c[i].dst + 4, zero, 12) == 0);
		}
	}
	inserted += n;
	return (int)n;
}

/*
 * A replica's tables: fuzz_check_lb() less what the primary decides. A
 * replica installs the primary's PDTs as they are (docs/ha.md): an entry may
 * name a node that is down here (its MAC not resolved yet) or, from a
 * primary whose tables disagree, one outside the service's group (its
 * packets then count in the sink slot). What must hold: every PDT of its
 * service's size, every entry none or a used node, n_active right; an up
 * node has a MAC.
 */
static void
check_replica_lb(const struct cnm_lb *lb)
{
	uint8_t seen[CNM_MAX_NODES];
	uint32_t i, j, n_active;

	for (i = 0; i < cnm_lb_node_end(lb); i++)
		if (cnm_lb_node(lb, i)->up)
			FUZZ_CHECK(cnm_lb_node(lb, i)->used && cnm_lb_node(lb, i)->mac != 0);
	for (i = 0; i < cnm_lb_svc_end(lb); i++) {
		const struct cnm_pdt *pdt;

		if (cnm_lb_svc_cfg(lb, i) == NULL)
			continue;
		pdt = cnm_lb_svc_pdt(lb, i);
		FUZZ_CHECK(pdt != NULL && pdt->size == cnm_lb_svc_pdt_size(lb, i));
		FUZZ_CHECK((pdt->size & (pdt->size - 1)) == 0 && pdt->mask == pdt->size - 1);
		memset(seen, 0, sizeof(seen));
		n_active = 0;
		for (j = 0; j < pdt->size; j++) {
			uint16_t e = pdt->entries[j];

			if (e == CNM_NODE_NONE)
				continue;
			FUZZ_CHECK(e < cnm_lb_node_end(lb) && cnm_lb_node(lb, e)->used);
			if (!seen[e]) {
				seen[e] = 1;
				n_active++;
			}
		}
		FUZZ_CHECK(n_active == pdt->n_active);
	}
}

/* The running configuration and the tables say the same thing. */
static void
check_ctx(void)
{
	const struct cnm_config *cfg = ctx.cfg;
	const struct cnm_lb *lb = ctx.lb;
	uint32_t i, n_svc = 0, n_nodes = 0;

	check_replica_lb(lb);
	for (i = 0; i < cnm_lb_svc_end(lb); i++)
		n_svc += cnm_lb_svc_cfg(lb, i) != NULL;
	for (i = 0; i < cnm_lb_node_end(lb); i++)
		n_nodes += cnm_lb_node(lb, i)->used;
	FUZZ_CHECK(n_svc == cfg->n_services);
	FUZZ_CHECK(n_nodes == cfg->n_nodes);
	for (i = 0; i < cfg->n_nodes; i++)
		FUZZ_CHECK(cnm_lb_node_find(lb, cfg->nodes[i].name) >= 0);
	for (i = 0; i < cfg->n_services; i++) {
		int id = cnm_lb_svc_find(lb, cfg->services[i].name);

		FUZZ_CHECK(id >= 0);
		FUZZ_CHECK(cnm_lb_svc_pdt_size(lb, (uint32_t)id) == cfg->services[i].pdt_size);
	}
	/* the holder's own sections are never replaced by the primary's */
	FUZZ_CHECK(cfg->ha.enabled && strcmp(cfg->ha.id, "b") == 0 && cfg->ha.n_peers == 1);
}

/* ---- seeds ---- */

/* The state a primary would send: the replicated configuration, the nodes,
 * the PDTs as configuration indexes. */
static json_t *
state_json(uint64_t digest)
{
	const struct cnm_lb *lb = ctx.lb;
	json_t *st = json_object(), *cfg = cnm_control_cfg_json(ctx.cfg);
	json_t *nodes = json_object(), *pdts = json_object();
	char dg[24];
	uint32_t i, j;

	json_object_del(cfg, "ports");
	json_object_del(cfg, "control");
	json_object_del(cfg, "ha");
	for (i = 0; i < cnm_lb_node_end(lb); i++)
		if (cnm_lb_node(lb, i)->used)
			json_object_set_new(nodes, cnm_lb_node_cfg(lb, i)->name,
				json_pack("{s:b,s:b}", "up", cnm_lb_node(lb, i)->up, "admin_down", 0));
	for (i = 0; i < cnm_lb_svc_end(lb); i++) {
		const struct cnm_cfg_service *c = cnm_lb_svc_cfg(lb, i);
		const struct cnm_pdt *pdt = cnm_lb_svc_pdt(lb, i);
		char *hex;

		if (c == NULL)
			continue;
		hex = malloc(pdt->size * 4 + 1);
		FUZZ_CHECK(hex != NULL);
		for (j = 0; j < pdt->size; j++) {
			uint16_t e = pdt->entries[j];
			uint32_t k = 0xffff;

			if (e != CNM_NODE_NONE)
				for (k = 0; k < ctx.cfg->n_nodes; k++)
					if (strcmp(ctx.cfg->nodes[k].name,
						   cnm_lb_node_cfg(lb, e)->name) == 0)
						break;
			snprintf(hex + 4 * j, 5, "%04x", k);
		}
		json_object_set_new(pdts, c->name,
			json_pack("{s:i,s:s}", "size", (int)pdt->size, "entries", hex));
		free(hex);
	}
	snprintf(dg, sizeof(dg), "%016llx", (unsigned long long)digest);
	json_object_set_new(st, "config", cfg);
	json_object_set_new(st, "nodes_state", nodes);
	json_object_set_new(st, "pdts", pdts);
	json_object_set_new(st, "digest", json_string(dg));
	return st;
}

static void
seed_write(const char *dir, const char *name, const char *const *msgs, unsigned int n)
{
	char path[4096];
	unsigned int i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	FUZZ_CHECK(f != NULL);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "\n" : "", msgs[i]);
	FUZZ_CHECK(fclose(f) == 0);
}

static char *
msg_text(char type, char epoch, char seq, json_t *j)
{
	char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS), *m;

	FUZZ_CHECK(t != NULL);
	m = malloc(strlen(t) + 4);
	FUZZ_CHECK(m != NULL);
	sprintf(m, "%c%c%c%s", type, epoch, seq, t);
	free(t);
	json_decref(j);
	return m;
}

/* type bytes: '0' % 3 = 0 SNAPSHOT, '1' DELTA, '2' CONNS; epoch '1' % 4 = 1 */
static void
seeds(const char *dir)
{
	uint64_t d = cnm_ha_digest(&ctx);
	char *snap = msg_text('0', '1', '0', state_json(d));
	char *snap_bad = msg_text('0', '1', '0', state_json(d ^ 1));
	json_t *st, *p;
	char *delta, *delta2, *conns, *cfgchg;

	/* a delta that carries web's PDT, all entries node2 (index 1) */
	st = state_json(d);
	p = json_object_get(json_object_get(st, "pdts"), "web");
	{
		char hex[64 * 4 + 1];
		unsigned int i;

		for (i = 0; i < 64; i++)
			memcpy(hex + 4 * i, "0001", 4);
		hex[256] = '\0';
		json_object_set_new(p, "entries", json_string(hex));
	}
	json_object_del(json_object_get(st, "pdts"), "dns");
	json_object_del(json_object_get(st, "pdts"), "ftp");
	delta = msg_text('1', '1', '1', st);
	/* a delta with no PDT (kept as they were), node3 down */
	st = state_json(d);
	json_object_clear(json_object_get(st, "pdts"));
	json_object_set_new(json_object_get(st, "nodes_state"), "node3",
		json_pack("{s:b,s:b}", "up", 0, "admin_down", 1));
	delta2 = msg_text('1', '1', '2', st);
	/* a snapshot of another configuration: a weight changed, a service less */
	st = state_json(d);
	json_object_set_new(json_object_get(json_array_get(json_object_get(
		json_object_get(st, "config"), "services"), 0), "nodes"), "node2", json_integer(5));
	json_array_remove(json_object_get(json_object_get(st, "config"), "services"), 3);
	json_object_del(json_object_get(st, "pdts"), "web6");
	cfgchg = msg_text('0', '2', '0', st);
	conns = msg_text('2', '1', '0', json_pack("{s:[{s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s}]}",
		"conns", "client", "203.0.113.7:40000", "vip", "198.51.100.10:80", "service", "web",
		"node", "node2", "client", "[2001:db8:2::7]:40001", "vip", "[2001:db8::10]:80",
		"service", "web6", "node", "node4"));
	{
		const char *a[] = { snap };
		const char *b[] = { snap, delta, delta2 };
		const char *c[] = { snap_bad, delta };
		const char *e[] = { cfgchg, conns };
		const char *f[] = { conns };

		seed_write(dir, "snapshot", a, 1);
		seed_write(dir, "snapshot_deltas", b, 3);
		seed_write(dir, "snapshot_bad_digest_delta", c, 2);
		seed_write(dir, "config_change_conns", e, 2);
		seed_write(dir, "conns", f, 1);
	}
	free(snap);
	free(snap_bad);
	free(delta);
	free(delta2);
	free(cfgchg);
	free(conns);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *sd = getenv("FUZZ_HA_STATE_SEEDS");
	char port[8];
	char *at;

	(void)argc;
	fuzz_eal_up((*argv)[0]);
	/* a listening port of its own per process (-jobs=N) */
	snprintf(port, sizeof(port), "%u", 20000u + (unsigned int)getpid() % 40000u);
	snprintf(cfg_text, sizeof(cfg_text), "%s", CFG_TEXT("PORT"));
	at = strstr(cfg_text, "PORT");
	FUZZ_CHECK(at != NULL);
	memmove(at + strlen(port), at + 4, strlen(at + 4) + 1);
	memcpy(at, port, strlen(port));
	if (cnm_wstats_init(&ws) != 0)
		exit(1);
	ctx.stats = wsp;
	ctx.n_workers = 1;
	ctx.ctl_lock = &lock;
	tables_build();
	fuzz_check_lb(ctx.lb);
	check_ctx();
	if (sd != NULL) {
		seeds(sd);
		exit(0);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t types[3] = { CNM_HA_SNAPSHOT, CNM_HA_DELTA, CNM_HA_CONNS };
	struct cnm_ha_io io = { .insert = conns_insert };
	const uint8_t *p = data, *end = data + size;
	struct cnm_ha *ha;
	unsigned int n;
	int dirty = 0;

	if (size > (1u << 20))
		return 0;
	ha = cnm_ha_create(&ctx, &io);
	if (ha == NULL) {
		fprintf(stderr, "fuzz_ha_state: cnm_ha_create: %s\n", strerror(errno));
		abort();
	}
	for (n = 0; n < MAX_MSG && p < end; n++) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		struct cnm_ha_hdr h;

		if (len >= 3) {
			memset(&h, 0, sizeof(h));
			h.version = CNM_HA_VERSION;
			h.type = types[p[0] % 3];
			h.epoch = p[1] % 4;
			h.seq = p[2] % 4;
			h.len = (uint32_t)(len - 3);
			cnm_ha_test_frame(ha, &h, p + 3);
			dirty |= h.type != CNM_HA_CONNS;
			check_ctx();
		}
		p += len + (nl != NULL);
	}
	cnm_ha_free(ha);
	if (dirty) {
		tables_free();
		tables_build();
	}
	return 0;
}
