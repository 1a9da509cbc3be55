/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "cnm_ha.h"
#include "cnm_telemetry.h"

#define PDT_PAGE 256

static struct cnm_tel_ctx *tctx;

static struct cnm_stats_total *
sum(void)
{
	struct cnm_stats_total *t = malloc(sizeof(*t));

	if (t != NULL) {
		cnm_stats_sum(tctx->stats, tctx->n_workers, t);
		cnm_lb_stats_rebase(tctx->lb, t);
	}
	return t;
}

static void
lock(void)
{
	if (tctx->ctl_lock)
		pthread_mutex_lock(tctx->ctl_lock);
}

static void
unlock(void)
{
	if (tctx->ctl_lock)
		pthread_mutex_unlock(tctx->ctl_lock);
}

static int
tel_stats(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	struct cnm_stats_total *t = sum();
	struct rte_tel_data *drops;
	unsigned int i;

	if (t == NULL)
		return -ENOMEM;
	drops = rte_tel_data_alloc();
	if (drops == NULL) {
		free(t);
		return -ENOMEM;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "rx", t->rx);
	rte_tel_data_add_dict_u64(d, "forwarded", t->forwarded);
	rte_tel_data_add_dict_u64(d, "local", t->local);
	rte_tel_data_add_dict_u64(d, "dropped", t->dropped);
	rte_tel_data_add_dict_u64(d, "nonscalable", t->nonscalable);
	rte_tel_data_add_dict_u64(d, "to_default", t->to_default);
	rte_tel_data_add_dict_u64(d, "local_rx", t->local_rx);
	rte_tel_data_add_dict_u64(d, "local_out", t->local_out);
	rte_tel_data_add_dict_u64(d, "local_drop", t->local_drop);
	rte_tel_data_add_dict_u64(d, "busy_cycles", t->busy_cycles);
	rte_tel_data_add_dict_u64(d, "busy_bursts", t->busy_bursts);
	rte_tel_data_add_dict_u64(d, "fast_path", t->fast_path);
	rte_tel_data_add_dict_u64(d, "arp_replies", t->arp_replies);
	rte_tel_data_add_dict_u64(d, "icmp_replies", t->icmp_replies);
	rte_tel_data_add_dict_u64(d, "icmp_errors", t->icmp_errors);
	rte_tel_data_add_dict_u64(d, "frag_first", t->frag_first);
	rte_tel_data_add_dict_u64(d, "frag_follow", t->frag_follow);
	rte_tel_data_add_dict_u64(d, "conn_new", t->conn_new);
	rte_tel_data_add_dict_u64(d, "conn_hit", t->conn_hit);
	rte_tel_data_add_dict_u64(d, "conn_full", t->conn_full);
	rte_tel_data_add_dict_u64(d, "conn_stale", t->conn_stale);
	rte_tel_data_add_dict_u64(d, "conn_expired", t->conn_expired);
	rte_tel_data_add_dict_u64(d, "conn_active", t->conn_active);
	rte_tel_data_add_dict_u64(d, "workers", tctx->n_workers);
	rte_tel_data_start_dict(drops);
	for (i = 1; i < CNM_DROP_MAX; i++)
		rte_tel_data_add_dict_u64(drops, cnm_drop_name(i), t->drop[i]);
	rte_tel_data_add_dict_container(d, "drops", drops, 0);
	free(t);
	return 0;
}

static int
tel_services(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	struct cnm_stats_total *t = sum();
	const struct cnm_lb *lb = tctx->lb;
	uint32_t i;

	if (t == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(d);
	lock();
	for (i = 0; i < lb->n_svc; i++)
		if (lb->svc[i] != NULL)
			rte_tel_data_add_dict_u64(d, lb->svc[i]->cfg.name, t->svc[i].pkts);
	unlock();
	free(t);
	return 0;
}

static void
fmt_mac(uint64_t mac, char *buf, size_t len)
{
	uint8_t b[8];

	memcpy(b, &mac, 8);
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

static int
node_dict(const struct cnm_lb *lb, uint32_t id, const struct cnm_stats_total *t,
		struct rte_tel_data *d)
{
	char buf[64];

	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", lb->node_cfg[id].name);
	rte_tel_data_add_dict_string(d, "ip", cnm_addr_str(&lb->node_cfg[id].ip, buf, sizeof(buf)));
	fmt_mac(lb->node[id].mac, buf, sizeof(buf));
	rte_tel_data_add_dict_string(d, "mac", lb->node[id].mac ? buf : "unresolved");
	rte_tel_data_add_dict_string(d, "state", lb->node[id].up ? "up" : "down");
	rte_tel_data_add_dict_u64(d, "private_port", lb->node[id].port);
	rte_tel_data_add_dict_u64(d, "packets", t->node[id].pkts);
	rte_tel_data_add_dict_u64(d, "bytes", t->node[id].bytes);
	return 0;
}

static int
tel_nodes(const char *cmd __rte_unused, const char *params __rte_unused,
		struct rte_tel_data *d)
{
	struct cnm_stats_total *t = sum();
	const struct cnm_lb *lb = tctx->lb;
	uint32_t i;

	if (t == NULL)
		return -ENOMEM;
	rte_tel_data_start_dict(d);
	lock();
	for (i = 0; i < lb->n_nodes; i++) {
		struct rte_tel_data *c;

		if (!lb->node[i].used)
			continue;
		c = rte_tel_data_alloc();
		if (c == NULL)
			break;
		node_dict(lb, i, t, c);
		rte_tel_data_add_dict_container(d, lb->node_cfg[i].name, c, 0);
	}
	unlock();
	free(t);
	return 0;
}

static int
tel_node(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	struct cnm_stats_total *t;
	int id, ret = 0;

	if (params == NULL || params[0] == '\0')
		return -EINVAL;
	t = sum();
	if (t == NULL)
		return -ENOMEM;
	lock();
	id = cnm_lb_node_find(tctx->lb, params);
	if (id < 0)
		ret = -ENOENT;
	else
		node_dict(tctx->lb, (uint32_t)id, t, d);
	unlock();
	free(t);
	return ret;
}

static int
tel_service(const char *cmd __rte_unused, const char *params, struct rte_tel_data *d)
{
	const struct cnm_lb *lb = tctx->lb;
	struct cnm_stats_total *t;
	struct rte_tel_data *ports, *nodes;
	const struct cnm_svc *s;
	char buf[64];
	uint32_t i;
	int id, ret = 0;

	if (params == NULL || params[0] == '\0')
		return -EINVAL;
	t = sum();
	ports = rte_tel_data_alloc();
	nodes = rte_tel_data_alloc();
	if (t == NULL || ports == NULL || nodes == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	lock();
	id = cnm_lb_svc_find(lb, params);
	if (id < 0) {
		unlock();
		ret = -ENOENT;
		goto out;
	}
	s = lb->svc[id];
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "name", s->cfg.name);
	rte_tel_data_add_dict_string(d, "vip", cnm_addr_str(&s->cfg.vip, buf, sizeof(buf)));
	rte_tel_data_add_dict_string(d, "policy", cnm_policy_name(s->policy));
	rte_tel_data_start_array(ports, RTE_TEL_STRING_VAL);
	if (s->policy == CNM_POLICY_STICKY_WILD) {
		if (s->cfg.protocols & CNM_PROTO_BIT_TCP)
			rte_tel_data_add_array_string(ports, "*/tcp");
		if (s->cfg.protocols & CNM_PROTO_BIT_UDP)
			rte_tel_data_add_array_string(ports, "*/udp");
	}
	for (i = 0; i < s->cfg.n_ports; i++) {
		snprintf(buf, sizeof(buf), "%u/%s", s->cfg.ports[i].port,
			s->cfg.ports[i].proto == 6 ? "tcp" : "udp");
		rte_tel_data_add_array_string(ports, buf);
	}
	rte_tel_data_add_dict_container(d, "ports", ports, 0);
	ports = NULL;
	rte_tel_data_start_dict(nodes);
	for (i = 0; i < s->n_members; i++)
		rte_tel_data_add_dict_u64(nodes, lb->node_cfg[s->members[i].node].name,
			s->members[i].weight);
	rte_tel_data_add_dict_container(d, "weights", nodes, 0);
	nodes = NULL;
	rte_tel_data_add_dict_u64(d, "pdt_size", s->pdt->size);
	rte_tel_data_add_dict_u64(d, "active_nodes", s->pdt->n_active);
	rte_tel_data_add_dict_u64(d, "packets", t->svc[id].pkts);
	rte_tel_data_add_dict_u64(d, "bytes", t->svc[id].bytes);
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
	const struct cnm_lb *lb = tctx->lb;
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
	lock();
	id = cnm_lb_svc_find(lb, name);
	if (id < 0) {
		unlock();
		ret = -ENOENT;
		goto out;
	}
	p = lb->svc[id]->pdt;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "service", name);
	rte_tel_data_add_dict_u64(d, "size", p->size);
	rte_tel_data_add_dict_u64(d, "active_nodes", p->n_active);
	rte_tel_data_start_dict(counts);
	for (i = 0; i < lb->svc[id]->n_members; i++) {
		uint32_t n = lb->svc[id]->members[i].node;

		rte_tel_data_add_dict_u64(counts, lb->node_cfg[n].name,
			cnm_pdt_count(p, (uint16_t)n));
	}
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

/* A JSON scalar into a dict (containers hold only scalars in 22.11). */
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
		char *t = json_dumps(v, JSON_COMPACT);

		snprintf(buf, sizeof(buf), "%s", t ? t : "");
		free(t);
		rte_tel_data_add_dict_string(d, key, buf);
	}
}

static int
tel_ha(const char *cmd __rte_unused, const char *params __rte_unused, struct rte_tel_data *d)
{
	struct cnm_ha *ha = __atomic_load_n(&tctx->ha, __ATOMIC_ACQUIRE);
	const char *key;
	json_t *st, *v;

	rte_tel_data_start_dict(d);
	if (ha == NULL) {
		rte_tel_data_add_dict_string(d, "role", "none");
		return 0;
	}
	lock();
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
		  "Totals and drop reasons of every worker. No parameters." },
		{ "/cnmux/services", tel_services,
		  "Packets per service. No parameters." },
		{ "/cnmux/service", tel_service,
		  "One service. Parameter: service name." },
		{ "/cnmux/nodes", tel_nodes,
		  "Every node with its address, MAC, state and counters. No parameters." },
		{ "/cnmux/node", tel_node,
		  "One node. Parameter: node name." },
		{ "/cnmux/pdt", tel_pdt,
		  "PDT of a service. Parameters: service name[,offset]: 256 entries from offset." },
		{ "/cnmux/ha", tel_ha,
		  "High availability: role, epoch, seq, digest, peers, rejected messages by reason. No parameters." },
	};
	unsigned int i;

	tctx = ctx;
	for (i = 0; i < RTE_DIM(cmds); i++) {
		int ret = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);

		if (ret != 0)
			return ret;
	}
	return 0;
}
