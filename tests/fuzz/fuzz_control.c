/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the control protocol, cnm_control_exec_text(), on real
 * tables (rte_hash, so EAL comes up once without hugepages).
 *
 * An input is up to MAX_REQ request lines (split on '\n'), run in order, as
 * a client would send them on one connection. After each request:
 *   - the response is one JSON object with a boolean "ok", and an "error"
 *     string when ok is false;
 *   - the tables keep their invariants (fuzz_check_lb()) and match the
 *     running configuration (ctx->cfg): same services, nodes, weights and
 *     default node.
 * Every input starts from the same state: after an input that changed
 * anything the configuration and tables are built again, so that a crash
 * reproduces from its input alone and state never grows without bound.
 *
 * "reload" reads a file: the path of a request is replaced by one of a few
 * files written at start-up (the running configuration, a valid variant, a
 * broken one, one that changes the ports, one that does not exist), chosen
 * by the length of the given path. The fuzzer must not read /dev/zero or
 * wait on a FIFO.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cnm_control.h"
#include "fuzz_common.h"

#define MAX_REQ 8

#define CFG_PORTS \
	"  \"ports\": { \"public\": \"net_pcap0\", \"private\": [\"net_pcap1\", \"net_pcap3\"],\n" \
	"             \"local\": \"net_pcap2\" },\n"
#define CFG_NODES \
	"  \"nodes\": [\n" \
	"    { \"name\": \"node1\", \"ip\": \"192.0.2.11\", \"mac\": \"02:00:c0:00:02:0b\" },\n" \
	"    { \"name\": \"node2\", \"ip\": \"192.0.2.12\", \"mac\": \"02:00:c0:00:02:0c\" },\n" \
	"    { \"name\": \"node3\", \"ip\": \"192.0.2.13\", \"mac\": \"02:00:c0:00:02:0d\",\n" \
	"      \"check_port\": 80 },\n" \
	"    { \"name\": \"node4\", \"ip\": \"2001:db8::14\", \"mac\": \"02:00:c0:00:02:0e\" },\n" \
	"    { \"name\": \"nomac\", \"ip\": \"192.0.2.16\" }\n" \
	"  ],\n"
#define SVC_WEB(w) \
	"    { \"name\": \"web\", \"vip\": \"198.51.100.10\", \"ports\": [\"80/tcp\", \"443/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"nodes\": { \"node1\": 3, \"node2\": " w ", \"nomac\": 1 } },\n"
#define SVC_REST \
	"    { \"name\": \"dns\", \"vip\": \"198.51.100.10\", \"ports\": [\"53/udp\"],\n" \
	"      \"policy\": \"sticky\", \"pdt_size\": 16,\n" \
	"      \"nodes\": { \"node1\": 1, \"node2\": 1, \"node3\": 0 } },\n" \
	"    { \"name\": \"ftp\", \"vip\": \"198.51.100.20\", \"protocols\": [\"tcp\", \"udp\"],\n" \
	"      \"policy\": \"sticky-wild\", \"nodes\": { \"node2\": 1, \"node3\": 1 } },\n" \
	"    { \"name\": \"web6\", \"vip\": \"2001:db8::10\", \"ports\": [\"80/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"arp\": false, \"nodes\": { \"node3\": 1, \"node4\": 1 } }\n"

static const char cfg_base[] =
	"{\n  \"version\": 1,\n" CFG_PORTS
	"  \"pdt_size\": 64,\n"
	"  \"control\": { \"socket\": \"/tmp/fuzz-never-created.sock\" },\n"
	"  \"conntrack\": { \"max\": 4096 },\n"
	CFG_NODES
	"  \"services\": [\n" SVC_WEB("1") SVC_REST "  ]\n}\n";

/* A valid reload: a node more, a service less, a weight and a size changed. */
static const char cfg_alt[] =
	"{\n  \"version\": 1,\n" CFG_PORTS
	"  \"pdt_size\": 128,\n"
	"  \"default_node\": \"node5\",\n"
	"  \"conntrack\": { \"max\": 8192, \"timeout_s\": 60 },\n"
	"  \"nodes\": [\n"
	"    { \"name\": \"node1\", \"ip\": \"192.0.2.11\" },\n"
	"    { \"name\": \"node2\", \"ip\": \"192.0.2.22\", \"mac\": \"02:00:c0:00:02:0c\" },\n"
	"    { \"name\": \"node4\", \"ip\": \"2001:db8::14\", \"mac\": \"02:00:c0:00:02:0e\" },\n"
	"    { \"name\": \"node5\", \"ip\": \"192.0.2.15\", \"mac\": \"02:00:c0:00:02:0f\" },\n"
	"    { \"name\": \"nomac\", \"ip\": \"192.0.2.16\", \"mac\": \"02:00:c0:00:02:10\" }\n"
	"  ],\n"
	"  \"services\": [\n"
	"    { \"name\": \"web\", \"vip\": \"198.51.100.10\", \"ports\": [\"80/tcp\"],\n"
	"      \"policy\": \"weighted\", \"nodes\": { \"node1\": 3, \"node5\": 2, \"nomac\": 1 } },\n"
	"    { \"name\": \"ftp\", \"vip\": \"198.51.100.20\", \"protocols\": [\"tcp\"],\n"
	"      \"policy\": \"sticky-wild\", \"pdt_size\": 32, \"nodes\": { \"node2\": 1 } },\n"
	"    { \"name\": \"mail\", \"vip\": \"2001:db8::25\", \"ports\": [\"25/tcp\"],\n"
	"      \"policy\": \"sticky\", \"nodes\": { \"node4\": 1, \"node5\": 1 } }\n"
	"  ]\n}\n";

static const char cfg_bad[] =
	"{\n  \"version\": 1,\n" CFG_PORTS CFG_NODES
	"  \"services\": [ { \"name\": \"web\", \"vip\": \"198.51.100.10\",\n"
	"    \"ports\": [\"80/tcp\"], \"policy\": \"weighted\", \"nodes\": { \"node9\": 1 } } ]\n}\n";

static const char cfg_ports[] =
	"{\n  \"version\": 1,\n"
	"  \"ports\": { \"public\": \"net_pcap0\", \"private\": [\"net_pcap1\"] },\n"
	CFG_NODES "  \"services\": [\n" SVC_WEB("2") SVC_REST "  ]\n}\n";

static const char cfg_hashkey[] =
	"{\n  \"version\": 1,\n" CFG_PORTS "  \"hash_key\": \"0x1234abcd\",\n"
	CFG_NODES "  \"services\": [\n" SVC_WEB("2") SVC_REST "  ]\n}\n";

static char dir[64];
static char files[6][128];
static const char *const file_names[] = {
	"cnmux.json", "alt.json", "bad.json", "ports.json", "hashkey.json", "missing.json",
};
static const char *const file_texts[] = {
	cfg_base, cfg_alt, cfg_bad, cfg_ports, cfg_hashkey, NULL,
};

/* Commands that change nothing: after them no rebuild is needed. */
static const char *const read_only[] = {
	"service show", "node show", "pdt show", "conns count", "conns show", "stats", NULL,
};

static struct cnm_ctx ctx;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cnm_wstats ws;
static struct cnm_wstats *wsp[1] = { &ws };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "fuzz_control: cannot write %s\n", path);
		exit(1);
	}
}

static void
state_build(void)
{
	char err[CNM_ERR_MAX];

	ctx.cfg = cnm_config_parse(cfg_base, strlen(cfg_base), files[0], err, sizeof(err));
	if (ctx.cfg == NULL) {
		fprintf(stderr, "fuzz_control: %s\n", err);
		abort();
	}
	ctx.lb = cnm_lb_create(ctx.cfg, "fzc", NULL);
	if (ctx.lb == NULL) {
		fprintf(stderr, "fuzz_control: cnm_lb_create: %s\n", rte_strerror(rte_errno));
		abort();
	}
	snprintf(ctx.config_path, sizeof(ctx.config_path), "%s", files[0]);
}

static void
state_free(void)
{
	cnm_lb_free(ctx.lb);
	cnm_config_free(ctx.cfg);
	ctx.lb = NULL;
	ctx.cfg = NULL;
}

static void
cleanup(void)
{
	unsigned int i;

	for (i = 0; i < FUZZ_DIM(files); i++)
		(void)unlink(files[i]);
	(void)rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	unsigned int i;

	(void)argc;
	fuzz_eal_up((*argv)[0]);
	snprintf(dir, sizeof(dir), "%s/cnm_fuzzctl_XXXXXX",
		 tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("fuzz_control: mkdtemp");
		exit(1);
	}
	for (i = 0; i < FUZZ_DIM(files); i++) {
		snprintf(files[i], sizeof(files[i]), "%s/%s", dir, file_names[i]);
		if (file_texts[i] != NULL)
			write_file(files[i], file_texts[i]);
	}
	atexit(cleanup);
	if (cnm_wstats_init(&ws) != 0)
		exit(1);
	ws.rx = 10;
	ws.forwarded = 7;
	ws.dropped = 3;
	ws.drop[CNM_DROP_RUNT] = 3;
	ctx.stats = wsp;
	ctx.n_workers = 1;
	ctx.ctl_lock = &lock;
	/* no forwarding list: conns_count and conns_dump stay NULL */
	state_build();
	fuzz_check_lb(ctx.lb);
	return 0;
}

/* The running configuration and the tables say the same thing. */
static void
check_ctx(void)
{
	const struct cnm_config *cfg = ctx.cfg;
	const struct cnm_lb *lb = ctx.lb;
	uint32_t i, j, n_svc = 0, n_nodes = 0;

	fuzz_check_lb(lb);
	for (i = 0; i < cnm_lb_svc_end(lb); i++)
		n_svc += cnm_lb_svc_cfg(lb, i) != NULL;
	for (i = 0; i < cnm_lb_node_end(lb); i++)
		n_nodes += cnm_lb_node(lb, i)->used;
	FUZZ_CHECK(n_svc == cfg->n_services);
	FUZZ_CHECK(n_nodes == cfg->n_nodes);
	for (i = 0; i < cfg->n_nodes; i++) {
		int id = cnm_lb_node_find(lb, cfg->nodes[i].name);

		FUZZ_CHECK(id >= 0);
		FUZZ_CHECK(cnm_lb_node_cfg(lb, id)->ip.family == cfg->nodes[i].ip.family);
		FUZZ_CHECK(memcmp(cnm_lb_node_cfg(lb, id)->ip.bytes, cfg->nodes[i].ip.bytes,
				  16) == 0);
		/* a configured MAC is the MAC in use */
		if (cfg->nodes[i].has_mac)
			FUZZ_CHECK(memcmp(&cnm_lb_node(lb, id)->mac, cfg->nodes[i].mac, 6) == 0);
	}
	if (cfg->default_node >= 0)
		FUZZ_CHECK(cnm_lb_default_node(lb) ==
			   cnm_lb_node_find(lb, cfg->nodes[cfg->default_node].name));
	else
		FUZZ_CHECK(cnm_lb_default_node(lb) == -1);
	for (i = 0; i < cfg->n_services; i++) {
		const struct cnm_cfg_service *c = &cfg->services[i];
		int id = cnm_lb_svc_find(lb, c->name);
		const struct cnm_cfg_service *s;

		FUZZ_CHECK(id >= 0);
		s = cnm_lb_svc_cfg(lb, (uint32_t)id);
		FUZZ_CHECK(s->n_members == c->n_members);
		FUZZ_CHECK(cnm_lb_svc_pdt_size(lb, (uint32_t)id) == c->pdt_size);
		FUZZ_CHECK(cnm_lb_view(lb)->svc[id]->policy == (uint8_t)c->policy);
		FUZZ_CHECK(s->vip.family == c->vip.family &&
			   memcmp(s->vip.bytes, c->vip.bytes, 16) == 0);
		for (j = 0; j < c->n_members; j++) {
			int node = cnm_lb_node_find(lb, cfg->nodes[c->members[j].node].name);

			FUZZ_CHECK(node >= 0);
			FUZZ_CHECK(cnm_lb_member_weight(lb, (uint16_t)id, (uint16_t)node) ==
				   (int64_t)c->members[j].weight);
		}
	}
}

/* Run one request line; returns 1 when it may have changed something. */
static int
run_one(const char *line, size_t len)
{
	json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	const char *cmd = NULL, *text = line;
	char *dumped = NULL, *out;
	json_t *resp, *ok;
	int changes = 1;
	size_t tlen = len;
	unsigned int i;

	if (json_is_object(req)) {
		json_t *path = json_object_get(req, "path");

		cmd = json_string_value(json_object_get(req, "cmd"));
		if (cmd != NULL && strcmp(cmd, "reload") == 0 && json_is_string(path)) {
			size_t k = json_string_length(path) % FUZZ_DIM(files);

			json_object_set_new(req, "path", json_string(files[k]));
			dumped = json_dumps(req, JSON_COMPACT);
			FUZZ_CHECK(dumped != NULL);
			text = dumped;
			tlen = strlen(dumped);
		}
		for (i = 0; cmd != NULL && read_only[i] != NULL; i++)
			if (strcmp(cmd, read_only[i]) == 0)
				changes = 0;
	}

	out = cnm_control_exec_text(&ctx, text, tlen);
	FUZZ_CHECK(out != NULL);
	resp = json_loads(out, 0, NULL);
	if (resp == NULL)
		fprintf(stderr, "not JSON: %s\n", out);
	FUZZ_CHECK(json_is_object(resp));
	ok = json_object_get(resp, "ok");
	FUZZ_CHECK(json_is_boolean(ok));
	if (json_is_false(ok)) {
		changes = 0;
		FUZZ_CHECK(json_is_string(json_object_get(resp, "error")));
		FUZZ_CHECK(json_string_length(json_object_get(resp, "error")) > 0);
	} else {
		/* a request that is not a known command is never ok */
		FUZZ_CHECK(cmd != NULL);
	}
	json_decref(resp);
	free(out);
	free(dumped);
	json_decref(req);
	check_ctx();
	return changes;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	unsigned int n;
	int dirty = 0;

	if (size > (1u << 16))
		return 0;
	for (n = 0; n < MAX_REQ && p < end; n++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

		dirty |= run_one(p, len);
		p += len + (nl != NULL);
	}
	if (dirty) {
		state_free();
		state_build();
	}
	return 0;
}
