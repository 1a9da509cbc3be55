/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control protocol (docs/control.md): one JSON request in, one JSON
 * response out, and reload.
 *
 * Every change goes the same way: the running configuration (ctx->cfg) is
 * written out as JSON, the change is made to that JSON, the result is
 * validated by the configuration parser (so that a bad service or node gets
 * the very messages a bad file gets), and the difference between the running
 * tables and the new configuration is applied in a safe order (cfg_apply()).
 * Reload does the same with the file as the new configuration. ctx->cfg is
 * replaced only once the tables match it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <rte_common.h>
#include <rte_errno.h>

#include "cnm_quiclb.h"
#include "cnm_control.h"
#include "cnm_explain.h"
#include "cnm_fwd.h"
#include "cnm_log.h"
#include "control_private.h"

RTE_LOG_REGISTER(cnm_logtype_control, cnm.control, NOTICE);

#define PDT_SHOW_DEFAULT 64u
#define PDT_SHOW_MAX 65536u
#define CONNS_SHOW_DEFAULT 100u
#define CONNS_SHOW_MAX 10000u
#define NAMES_LIST_MAX 400 /* bytes of "expected one of: ..." */

/* One request being served. */
struct ctl_req {
	const char *cmd;          /* the command, for messages */
	const json_t *req;
	char err[CNM_CTL_ERR_MAX];
};

/* ---- small helpers ---- */

static int __attribute__((format(printf, 2, 3)))
req_fail(struct ctl_req *r, const char *fmt, ...)
{
	char msg[CNM_CTL_ERR_MAX - 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->err, sizeof(r->err), "%.48s: %s", r->cmd, msg);
	return -1;
}

/* Control bytes from a request never reach a terminal. */
static void
sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = '?';
}

/* "a, b, c" of the configured node (or service) names, cut to fit. */
static void
names_list(const struct cnm_config *cfg, int services, char *buf, size_t len)
{
	uint32_t i, n = services ? cfg->n_services : cfg->n_nodes;
	size_t used = 0;

	buf[0] = '\0';
	if (n == 0) {
		snprintf(buf, len, "none");
		return;
	}
	for (i = 0; i < n; i++) {
		const char *name = services ? cfg->services[i].name : cfg->nodes[i].name;
		int w;

		if (used + strlen(name) + 8 > NAMES_LIST_MAX || used + strlen(name) + 8 > len) {
			snprintf(buf + used, len - used, "...");
			return;
		}
		w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", name);
		if (w < 0)
			return;
		used += (size_t)w;
	}
}

/* Optional string argument; 0 and *out NULL when absent. */
static int
arg_str(struct ctl_req *r, const char *key, int required, const char *what,
		const char **out)
{
	const json_t *v = json_object_get(r->req, key);
	char got[80];

	*out = NULL;
	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		cnm_json_describe(got, sizeof(got), v);
		return req_fail(r, "%s: expected %s (got %s)", key, what, got);
	}
	*out = json_string_value(v);
	return 0;
}

/*
 * Unsigned integer argument in [min, max]: a JSON integer, or a string of
 * decimal digits (what a shell hands over), parsed with strtoul.
 */
static int
arg_uint(struct ctl_req *r, const char *key, const json_t *v, uint32_t min, uint32_t max,
		uint32_t *out)
{
	char got[80];

	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);

		if (n >= (json_int_t)min && n <= (json_int_t)max) {
			*out = (uint32_t)n;
			return 0;
		}
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		unsigned long n;
		char *end;

		if (s[0] >= '0' && s[0] <= '9') {
			errno = 0;
			n = strtoul(s, &end, 10);
			if (errno == 0 && *end == '\0' && n >= min && n <= max) {
				*out = (uint32_t)n;
				return 0;
			}
		}
	}
	cnm_json_describe(got, sizeof(got), v);
	return req_fail(r, "%s: expected an integer %u..%u (got %s)", key, min, max, got);
}

static int
opt_uint(struct ctl_req *r, const char *key, uint32_t min, uint32_t max, uint32_t def,
		uint32_t *out)
{
	const json_t *v = json_object_get(r->req, key);

	if (v == NULL) {
		*out = def;
		return 0;
	}
	return arg_uint(r, key, v, min, max, out);
}

/* Configured node by name: its index in ctx->cfg and its id in the tables. */
static int
find_node(struct cnm_ctx *ctx, struct ctl_req *r, const char *name, int *cfg_idx)
{
	char names[NAMES_LIST_MAX + 8];
	int ci = cnm_config_node_index(ctx->cfg, name);
	int id = ci < 0 ? -1 : cnm_lb_node_find(ctx->lb, name);

	if (ci < 0 || id < 0) {
		names_list(ctx->cfg, 0, names, sizeof(names));
		return req_fail(r, "no node \"%s\" (expected one of: %s)", name, names);
	}
	if (cfg_idx != NULL)
		*cfg_idx = ci;
	return id;
}

static int
find_svc(struct cnm_ctx *ctx, struct ctl_req *r, const char *name, int *cfg_idx)
{
	char names[NAMES_LIST_MAX + 8];
	int ci = cnm_config_service_index(ctx->cfg, name);
	int id = ci < 0 ? -1 : cnm_lb_svc_find(ctx->lb, name);

	if (ci < 0 || id < 0) {
		names_list(ctx->cfg, 1, names, sizeof(names));
		return req_fail(r, "no service \"%s\" (expected one of: %s)", name, names);
	}
	if (cfg_idx != NULL)
		*cfg_idx = ci;
	return id;
}

static const char *
mac_str(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static int
addr_eq(const struct cnm_addr *a, const struct cnm_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

/* The totals: the workers' sum, the bases of reused slots taken off, what
 * the control loop adds (ctx->more_stats); with @p zeroed, as every output
 * shows them: from the last `zero` on. */
static struct cnm_stats_total *
stats_read(const struct cnm_ctx *ctx, int zeroed)
{
	struct cnm_stats_total *t = malloc(sizeof(*t));

	if (t == NULL)
		return NULL;
	cnm_stats_sum(ctx->stats, ctx->stats != NULL ? ctx->n_workers : 0, t);
	if (ctx->lb != NULL)
		cnm_lb_stats_rebase(ctx->lb, t);
	if (ctx->more_stats != NULL)
		ctx->more_stats(ctx->more_stats_arg, t);
	if (zeroed && ctx->lb != NULL)
		cnm_lb_stats_zeroed(ctx->lb, t);
	return t;
}

static struct cnm_stats_total *
stats_sum(const struct cnm_ctx *ctx)
{
	return stats_read(ctx, 1);
}

/* ---- the running configuration as JSON ---- */

static json_t *
svc_cfg_json(const struct cnm_config *c, const struct cnm_cfg_service *s)
{
	json_t *o = json_object(), *list = json_array(), *nodes = json_object();
	char buf[64];
	uint32_t i;

	json_object_set_new(o, "name", json_string(s->name));
	json_object_set_new(o, "vip", json_string(cnm_addr_str(&s->vip, buf, sizeof(buf))));
	json_object_set_new(o, "policy", json_string(cnm_policy_name(s->policy)));
	if (s->policy == CNM_POLICY_STICKY_WILD) {
		if (s->protocols & CNM_PROTO_BIT_TCP)
			json_array_append_new(list, json_string("tcp"));
		if (s->protocols & CNM_PROTO_BIT_UDP)
			json_array_append_new(list, json_string("udp"));
		json_object_set_new(o, "protocols", list);
	} else {
		for (i = 0; i < s->n_ports; i++) {
			snprintf(buf, sizeof(buf), "%u/%s", s->ports[i].port,
				 s->ports[i].proto == IPPROTO_UDP ? "udp" : "tcp");
			json_array_append_new(list, json_string(buf));
		}
		json_object_set_new(o, "ports", list);
	}
	for (i = 0; i < s->n_members; i++)
		json_object_set_new(nodes, c->nodes[s->members[i].node].name,
				    json_integer(s->members[i].weight));
	json_object_set_new(o, "nodes", nodes);
	if (s->pdt_size != c->pdt_size)
		json_object_set_new(o, "pdt_size", json_integer(s->pdt_size));
	if (!s->arp)
		json_object_set_new(o, "arp", json_false());
	if (s->second_chance_s != c->second_chance_s)
		json_object_set_new(o, "second_chance_s", json_integer(s->second_chance_s));
	if (s->udp_timeout_s != 0)
		json_object_set_new(o, "udp_timeout_s", json_integer(s->udp_timeout_s));
	if (s->n_quic > 0) {
		json_t *q = json_array();

		/* the key file's path, never the key: a replica reads its own */
		for (i = 0; i < s->n_quic; i++) {
			const struct cnm_quiclb_conf *k = &s->quic[i];
			json_t *e = json_pack("{s:i,s:i,s:i,s:s,s:i,s:b}",
				"config_id", k->config_id, "server_id_len", k->server_id_len,
				"nonce_len", k->nonce_len,
				"mode", k->mode == CNM_QUICLB_ENCRYPTED ? "encrypted" : "plaintext",
				"cid_len", k->cid_len, "encode_length", k->encode_length != 0);

			if (e != NULL && k->mode == CNM_QUICLB_ENCRYPTED)
				json_object_set_new(e, "key_file", json_string(k->key_file));
			json_array_append_new(q, e);
		}
		json_object_set_new(o, "quic_lb", q);
	}
	return o;
}

/* A node's "check" as the file writes it: the keys it was given. */
static json_t *
check_json(const struct cnm_cfg_node *n)
{
	const struct cnm_cfg_check *k = &n->check;
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string(cnm_check_name(k->type,
		(n->forward != CNM_FWD_MAC && n->has_gateway ? n->gateway.family : n->ip.family) ==
		AF_INET6)));
	if (k->port != 0)
		json_object_set_new(o, "port", json_integer(k->port));
	if (k->command[0] != '\0')
		json_object_set_new(o, "command", json_string(k->command));
	if (k->path[0] != '\0')
		json_object_set_new(o, "path", json_string(k->path));
	if (k->expect != 0)
		json_object_set_new(o, "expect", json_integer(k->expect));
	if (k->interval_ms != 0)
		json_object_set_new(o, "interval_ms", json_integer(k->interval_ms));
	if (k->timeout_ms != 0)
		json_object_set_new(o, "timeout_ms", json_integer(k->timeout_ms));
	if (k->rise != 0)
		json_object_set_new(o, "rise", json_integer(k->rise));
	if (k->fall != 0)
		json_object_set_new(o, "fall", json_integer(k->fall));
	return o;
}

static json_t *
node_cfg_json(const struct cnm_cfg_node *n)
{
	json_t *o = json_object();
	char buf[64];

	json_object_set_new(o, "name", json_string(n->name));
	json_object_set_new(o, "ip", json_string(cnm_addr_str(&n->ip, buf, sizeof(buf))));
	if (n->has_mac)
		json_object_set_new(o, "mac", json_string(mac_str(n->mac, buf, sizeof(buf))));
	if (n->check_port != 0)
		json_object_set_new(o, "check_port", json_integer(n->check_port));
	if (n->forward != CNM_FWD_MAC)
		json_object_set_new(o, "forward", json_string(cnm_fwd_name(n->forward)));
	if (n->has_gateway)
		json_object_set_new(o, "gateway",
			json_string(cnm_addr_str(&n->gateway, buf, sizeof(buf))));
	if (n->forward == CNM_FWD_GUE && n->gue_port != CNM_GUE_PORT_DEFAULT)
		json_object_set_new(o, "gue_port", json_integer(n->gue_port));
	if (n->server_id_len > 0) {
		char hex[2 * sizeof(n->server_id) + 1];
		unsigned int i;

		for (i = 0; i < n->server_id_len; i++)
			snprintf(hex + 2 * i, 3, "%02x", n->server_id[i]);
		json_object_set_new(o, "server_id", json_string(hex));
	}
	if (n->check.type != CNM_CHECK_NONE)
		json_object_set_new(o, "check", check_json(n));
	return o;
}

/* "A/len" of a tunnel source. */
static json_t *
prefix_json(const struct cnm_addr *a, uint32_t len)
{
	char buf[64], out[72];

	snprintf(out, sizeof(out), "%s/%u", cnm_addr_str(a, buf, sizeof(buf)), len);
	return json_string(out);
}

/*
 * The configuration as a file would hold it: parsing the result gives the
 * same configuration back. (Under memory pressure a piece may be missing; the
 * parser then refuses the result, so nothing is applied.)
 */
static json_t *
cfg_json(const struct cnm_config *c)
{
	json_t *root = json_object(), *o, *a;
	uint32_t i;

	json_object_set_new(root, "version", json_integer(1));
	o = json_object();
	json_object_set_new(o, "public", json_string(c->public_port));
	a = json_array();
	for (i = 0; i < c->n_private; i++)
		json_array_append_new(a, json_string(c->private_ports[i]));
	json_object_set_new(o, "private", a);
	if (c->local_port[0] != '\0')
		json_object_set_new(o, "local", json_string(c->local_port));
	json_object_set_new(root, "ports", o);
	a = json_array();
	for (i = 0; i < c->n_nodes; i++)
		json_array_append_new(a, node_cfg_json(&c->nodes[i]));
	json_object_set_new(root, "nodes", a);
	if (c->default_node >= 0)
		json_object_set_new(root, "default_node",
				    json_string(c->nodes[c->default_node].name));
	json_object_set_new(root, "pdt_size", json_integer(c->pdt_size));
	json_object_set_new(root, "hash_key", json_integer(c->hash_key));
	if (c->second_chance_s != 0)
		json_object_set_new(root, "second_chance_s", json_integer(c->second_chance_s));
	if (c->control_socket[0] != '\0' || c->state_file[0] != '\0') {
		o = json_object();
		if (c->control_socket[0] != '\0')
			json_object_set_new(o, "socket", json_string(c->control_socket));
		if (c->state_file[0] != '\0')
			json_object_set_new(o, "state_file", json_string(c->state_file));
		json_object_set_new(root, "control", o);
	}
	if (c->metrics_listen.port != 0)
		json_object_set_new(root, "metrics",
				    json_pack("{s:s}", "listen", c->metrics_listen.text));
	if (c->announce_file4[0] != '\0' || c->announce_file6[0] != '\0') {
		json_t *an = json_object();

		if (c->announce_file4[0] != '\0')
			json_object_set_new(an, "file4", json_string(c->announce_file4));
		if (c->announce_file6[0] != '\0')
			json_object_set_new(an, "file6", json_string(c->announce_file6));
		if (c->announce_cmd[0] != '\0')
			json_object_set_new(an, "command", json_string(c->announce_cmd));
		json_object_set_new(root, "announce", an);
	}
	if (c->mem_limit_mb != 0)
		json_object_set_new(root, "memory",
				    json_pack("{s:I}", "limit_mb", (json_int_t)c->mem_limit_mb));
	json_object_set_new(root, "conntrack",
			    json_pack("{s:I,s:I,s:I,s:I,s:I}",
				      "max", (json_int_t)c->conn_max,
				      "max6", (json_int_t)c->conn_max6,
				      "timeout_s", (json_int_t)c->conn_timeout_s,
				      "closing_s", (json_int_t)c->conn_closing_s,
				      "syn_s", (json_int_t)c->conn_syn_s));
	json_object_set_new(root, "icmp_echo", json_string(c->icmp_echo_reply ? "reply" : "local"));
	json_object_set_new(root, "verify_checksum", json_boolean(c->verify_checksum));
	/* "health" present means probes on: keep it absent when it was */
	if (c->health_enabled) {
		json_t *h = json_pack("{s:I,s:I,s:I,s:I}",
				      "interval_ms", (json_int_t)c->health_interval_ms,
				      "timeout_ms", (json_int_t)c->health_timeout_ms,
				      "rise", (json_int_t)c->health_rise,
				      "fall", (json_int_t)c->health_fall);
		char buf[64];

		if (c->health_source.family != 0)
			json_object_set_new(h, "source", json_string(
				cnm_addr_str(&c->health_source, buf, sizeof(buf))));
		if (c->health_source6.family != 0)
			json_object_set_new(h, "source6", json_string(
				cnm_addr_str(&c->health_source6, buf, sizeof(buf))));
		if (c->health_notify[0] != '\0')
			json_object_set_new(h, "notify", json_string(c->health_notify));
		json_object_set_new(root, "health", h);
	}
	o = json_pack("{s:b,s:I,s:I,s:I}", "spread", c->paths_spread,
		      "interval_ms", (json_int_t)c->paths_interval_ms,
		      "rounds", (json_int_t)c->paths_rounds, "rise", (json_int_t)c->paths_rise);
	if (o != NULL && c->paths_nodes_set) {
		uint32_t j;

		/* a node removed since is no longer probed: left out */
		a = json_array();
		for (i = 0; i < c->n_paths_nodes; i++)
			for (j = 0; j < c->n_nodes; j++)
				if (strcmp(c->nodes[j].name, c->paths_nodes[i]) == 0)
					json_array_append_new(a, json_string(c->paths_nodes[i]));
		json_object_set_new(o, "nodes", a);
	}
	/* left out when every setting is the default, as a file without it */
	if (c->paths_spread != (c->n_private > 1) ||
			c->paths_interval_ms != CNM_PATH_INTERVAL_MS_DEFAULT ||
			c->paths_rounds != CNM_PATH_ROUNDS_DEFAULT ||
			c->paths_rise != CNM_PATH_RISE_DEFAULT || c->paths_nodes_set)
		json_object_set_new(root, "paths", o);
	else
		json_decref(o);
	if (c->ha.enabled) {
		a = json_array();
		for (i = 0; i < c->ha.n_peers; i++)
			json_array_append_new(a, json_pack("{s:s,s:s}", "id", c->ha.peers[i].id,
					"address", c->ha.peers[i].address.text));
		json_object_set_new(root, "ha", json_pack("{s:s,s:s,s:s,s:o,s:I,s:I,s:I}",
			"id", c->ha.id, "listen", c->ha.listen.text,
			"role", cnm_ha_role_name(c->ha.role), "peers", a,
			"heartbeat_ms", (json_int_t)c->ha.heartbeat_ms,
			"failover_ms", (json_int_t)c->ha.failover_ms,
			"ack_timeout_ms", (json_int_t)c->ha.ack_timeout_ms));
		if (c->ha.key_file[0] != '\0')
			json_object_set_new(json_object_get(root, "ha"), "key_file",
					    json_string(c->ha.key_file));
		else
			json_object_set_new(json_object_get(root, "ha"), "trusted_segment",
					    json_true());
	}
	o = json_object();
	if (c->tunnel.source4.family != 0)
		json_object_set_new(o, "source4",
			prefix_json(&c->tunnel.source4, c->tunnel.source4_len));
	if (c->tunnel.source6.family != 0)
		json_object_set_new(o, "source6",
			prefix_json(&c->tunnel.source6, c->tunnel.source6_len));
	if (c->tunnel.mtu != CNM_TUNNEL_MTU_DEFAULT)
		json_object_set_new(o, "mtu", json_integer(c->tunnel.mtu));
	if (json_object_size(o) > 0)
		json_object_set_new(root, "tunnel", o);
	else
		json_decref(o);
	a = json_array();
	for (i = 0; i < c->n_services; i++)
		json_array_append_new(a, svc_cfg_json(c, &c->services[i]));
	json_object_set_new(root, "services", a);
	return root;
}

json_t *
cnm_control_cfg_json(const struct cnm_config *cfg)
{
	return cfg_json(cfg);
}

/* Replace every "FROM" in @p s (of size len) by "TO". */
static void
str_replace_all(char *s, size_t len, const char *from, const char *to)
{
	char out[CNM_CTL_ERR_MAX];
	size_t fl = strlen(from), o = 0;
	const char *p = s, *q;

	while ((q = strstr(p, from)) != NULL && o < sizeof(out)) {
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%.*s%s", (int)(q - p), p, to);
		p = q + fl;
	}
	if (p == s)
		return;
	if (o < sizeof(out))
		snprintf(out + o, sizeof(out) - o, "%s", p);
	snprintf(s, len, "%s", out);
}

/*
 * Validate an edited configuration with the file parser. @p name stands for
 * the file in messages; "ARR[IDX]" in a message becomes @p as, so that an
 * error in the service a request adds reads "service.nodes.x: ...".
 */
static struct cnm_config *
cfg_check(struct ctl_req *r, const json_t *root, const char *arr, int idx, const char *as)
{
	struct cnm_config *nc;
	char from[64];
	char *text;

	text = json_dumps(root, JSON_COMPACT);
	if (text == NULL) {
		req_fail(r, "out of memory");
		return NULL;
	}
	nc = cnm_config_parse(text, strlen(text), r->cmd, r->err, sizeof(r->err));
	free(text);
	if (nc == NULL && arr != NULL) {
		snprintf(from, sizeof(from), "%s[%d]", arr, idx);
		str_replace_all(r->err, sizeof(r->err), from, as);
	}
	return nc;
}

/* ---- applying a configuration to the tables ---- */

static void
sum_add(json_t *summary, const char *key, const char *name)
{
	if (summary != NULL)
		json_array_append_new(json_object_get(summary, key), json_string(name));
}

static json_t *
summary_new(void)
{
	return json_pack("{s:[],s:[],s:[],s:[],s:[],s:[],s:i}",
			 "nodes_added", "nodes_removed", "nodes_changed",
			 "services_added", "services_removed", "services_changed",
			 "weights_changed", 0);
}

/* Does anything that lives in the lookup tables (or the ARP table) differ? */
static int
svc_keys_changed(const struct cnm_cfg_service *s, const struct cnm_cfg_service *c)
{
	uint32_t i, j;

	if (!addr_eq(&s->vip, &c->vip) || s->policy != c->policy ||
	    s->protocols != c->protocols || s->n_ports != c->n_ports ||
	    s->arp != c->arp)
		return 1;
	/* the same set of ports, in any order (no port twice in a service) */
	for (i = 0; i < c->n_ports; i++) {
		for (j = 0; j < s->n_ports; j++)
			if (s->ports[j].port == c->ports[i].port &&
			    s->ports[j].proto == c->ports[i].proto)
				break;
		if (j == s->n_ports)
			return 1;
	}
	return 0;
}

/*
 * QUIC-LB, keys included (the new file was read with its key files): a
 * change rebuilds the service (deleted and added again, its entries in the
 * forwarding list with it), never a change of keys in place.
 */
static int
svc_quic_changed(const struct cnm_cfg_service *s, const struct cnm_cfg_service *c)
{
	uint32_t i;

	if (s->n_quic != c->n_quic)
		return 1;
	for (i = 0; i < c->n_quic; i++)
		if (memcmp(&s->quic[i], &c->quic[i], sizeof(c->quic[i])) != 0)
			return 1;
	return 0;
}

static int
apply_fail(char *err, size_t errlen, int ret, const char *what, const char *name)
{
	snprintf(err, errlen, "cannot %s \"%s\": %s", what, name, strerror(-ret));
	return ret;
}

/* Add the service @p c of configuration @p to, its members mapped to node ids. */
static int
svc_add_cfg(struct cnm_lb *lb, const struct cnm_config *to, const struct cnm_cfg_service *c)
{
	struct cnm_cfg_service s = *c;
	struct cnm_cfg_member *m;
	uint32_t i;
	int ret, id;

	m = calloc(c->n_members + 1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	for (i = 0; i < c->n_members; i++) {
		id = cnm_lb_node_find(lb, to->nodes[c->members[i].node].name);
		if (id < 0) {
			free(m);
			return -ENOENT;
		}
		m[i].node = (uint32_t)id;
		m[i].weight = c->members[i].weight;
	}
	s.members = m;
	ret = cnm_lb_svc_add(lb, &s);
	free(m);
	return ret;
}

/*
 * Make the members of table service @p sid those of @p c, in one PDT
 * rebuild: adding node4 and removing node3 in one go moves only node3's
 * entries. @p n_changed counts the members whose weight changed, that
 * joined or that left.
 */
static int
svc_sync_members(struct cnm_lb *lb, const struct cnm_config *to, uint16_t sid,
		const struct cnm_cfg_service *c, uint32_t *n_changed)
{
	const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, sid);
	struct cnm_cfg_member *m;
	uint32_t i, j, changed = 0;
	int ret, id;

	m = calloc(c->n_members + 1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	for (i = 0; i < c->n_members; i++) {
		id = cnm_lb_node_find(lb, to->nodes[c->members[i].node].name);
		if (id < 0) {
			free(m);
			return -ENOENT;
		}
		m[i].node = (uint32_t)id;
		m[i].weight = c->members[i].weight;
		if (cnm_lb_member_weight(lb, sid, (uint16_t)id) != m[i].weight)
			changed++;
	}
	/* members that the configuration no longer lists */
	for (i = 0; i < s->n_members; i++) {
		for (j = 0; j < c->n_members; j++)
			if (m[j].node == s->members[i].node)
				break;
		if (j == c->n_members)
			changed++;
	}
	ret = 0;
	if (changed > 0) {
		ret = cnm_lb_svc_set_members(lb, sid, m, c->n_members);
		if (ret == 0)
			*n_changed += changed;
	}
	free(m);
	return ret;
}

/*
 * Bring the tables from configuration @p from (what runs now) to @p to, in
 * an order that never leaves a service pointing at a missing node:
 * add nodes, update changed nodes, remove services that are gone or whose
 * keys / PDT size changed, add services, update members, remove nodes, set
 * the default node, the tunnel settings, then the data path's switches
 * (icmp_echo, verify_checksum). The tables are the truth for what exists; @p from is
 * consulted only for a node's configured MAC (a MAC that ARP resolved is not
 * a configuration change). Returns 0 or -errno with @p err set; the caller
 * rolls back on error.
 */
static int
cfg_apply(struct cnm_lb *lb, const struct cnm_config *from, const struct cnm_config *to,
		json_t *summary, char *err, size_t errlen)
{
	uint32_t i, n_changed = 0, *rekey = NULL;
	uint8_t *reshaped = NULL;
	int32_t def;
	int progress;
	int ret, id;

	/* 0: second chance windows first, so that the moves of this reload
	 * are covered by the window it asks for (docs/pdt.md) */
	for (i = 0; i < cnm_lb_svc_end(lb); i++) {
		const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, i);
		int ti;

		if (s == NULL || (ti = cnm_config_service_index(to, s->name)) < 0 ||
		    s->second_chance_s == to->services[ti].second_chance_s)
			continue;
		(void)cnm_lb_svc_set_second_chance(lb, (uint16_t)i,
						   to->services[ti].second_chance_s * 1000);
		sum_add(summary, "services_changed", to->services[ti].name);
	}

	/* 1, 2: nodes, new and changed */
	for (i = 0; i < to->n_nodes; i++) {
		const struct cnm_cfg_node *n = &to->nodes[i];
		int fi = cnm_config_node_index(from, n->name);
		const struct cnm_cfg_node *fn = fi >= 0 ? &from->nodes[fi] : NULL;
		const struct cnm_cfg_node *cur;
		int changed = 0;

		id = cnm_lb_node_find(lb, n->name);
		if (id < 0) {
			ret = cnm_lb_node_add(lb, n);
			if (ret < 0)
				return apply_fail(err, errlen, ret, "add node", n->name);
			sum_add(summary, "nodes_added", n->name);
			continue;
		}
		cur = cnm_lb_node_cfg(lb, (uint32_t)id);
		if (!addr_eq(&cur->ip, &n->ip) || cur->forward != n->forward ||
				cur->has_gateway != n->has_gateway ||
				(n->has_gateway && !addr_eq(&cur->gateway, &n->gateway)) ||
				cur->gue_port != n->gue_port ||
				cur->server_id_len != n->server_id_len ||
				memcmp(cur->server_id, n->server_id, n->server_id_len) != 0) {
			/* another machine, or another way to reach it: forget it
			 * (its connections, its entries) and add it again; the
			 * members come back below */
			if (cnm_lb_default_node(lb) == id)
				(void)cnm_lb_set_default_node(lb, -1);
			ret = cnm_lb_node_del(lb, (uint16_t)id);
			if (ret == 0)
				ret = cnm_lb_node_add(lb, n);
			if (ret < 0)
				return apply_fail(err, errlen, ret, "re-add node", n->name);
			sum_add(summary, "nodes_changed", n->name);
			continue;
		}
		if (fn == NULL ? (n->has_mac && (!cur->has_mac || memcmp(cur->mac, n->mac, 6) != 0)) :
		    (fn->has_mac != n->has_mac ||
		     (n->has_mac && memcmp(fn->mac, n->mac, 6) != 0))) {
			if (n->has_mac) {
				ret = cnm_lb_node_set_mac(lb, (uint16_t)id, n->mac);
				/* it was down for want of a MAC: it can take clients now */
				if (ret == 0 && !cnm_lb_node(lb, (uint32_t)id)->up &&
				    (fn == NULL || !fn->has_mac))
					ret = cnm_lb_node_set_up(lb, (uint16_t)id, 1);
			} else {
				/* down until ARP resolves it */
				ret = cnm_lb_node_set_up(lb, (uint16_t)id, 0);
				if (ret == 0)
					ret = cnm_lb_node_set_mac(lb, (uint16_t)id, NULL);
			}
			if (ret < 0)
				return apply_fail(err, errlen, ret, "set the MAC of node", n->name);
			changed = 1;
		}
		if (cur->check_port != n->check_port ||
		    memcmp(&cur->check, &n->check, sizeof(n->check)) != 0) {
			(void)cnm_lb_node_set_check(lb, (uint16_t)id, n->check_port, &n->check);
			changed = 1;
		}
		if (changed)
			sum_add(summary, "nodes_changed", n->name);
	}

	/* 3: services that are gone or whose keys changed; a new PDT size
	 * alone is a rebuild in place (the service never leaves the tables) */
	reshaped = calloc(to->n_services + 1, 1);
	rekey = calloc(cnm_lb_svc_end(lb) + 1, sizeof(*rekey));
	if (reshaped == NULL || rekey == NULL) {
		free(reshaped);
		free(rekey);
		return apply_fail(err, errlen, -ENOMEM, "apply", "configuration");
	}
	for (i = 0; i < cnm_lb_svc_end(lb); i++) {
		const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, i);
		char name[CNM_NAME_MAX];
		int ti, quic;

		if (s == NULL)
			continue;
		snprintf(name, sizeof(name), "%s", s->name);
		ti = cnm_config_service_index(to, name);
		/* a QUIC-LB change: removed here, added again in step 4 */
		quic = ti >= 0 && svc_quic_changed(s, &to->services[ti]);
		/* same VIP, other ports (protocols, policy): changed in place,
		 * never deleted and added again (its table, counters and
		 * connections stay; its other ports never miss) */
		if (ti >= 0 && !quic && svc_keys_changed(s, &to->services[ti]) &&
		    addr_eq(&s->vip, &to->services[ti].vip)) {
			rekey[i] = (uint32_t)ti + 1; /* below, once the removals are done */
			continue;
		}
		if (ti >= 0 && !quic && !svc_keys_changed(s, &to->services[ti])) {
			if (s->udp_timeout_s != to->services[ti].udp_timeout_s) {
				/* in place: the service keeps its flows */
				ret = cnm_lb_svc_set_udp_timeout(lb, (uint16_t)i,
						to->services[ti].udp_timeout_s);
				if (ret < 0) {
					free(reshaped);
					free(rekey);
					return apply_fail(err, errlen, ret,
							"set the UDP timeout of service", name);
				}
				if (cnm_lb_svc_pdt_size(lb, i) == to->services[ti].pdt_size)
					sum_add(summary, "services_changed", name);
			}
			if (cnm_lb_svc_pdt_size(lb, i) == to->services[ti].pdt_size)
				continue;
			/* rebuilt in place; the old size stays on error */
			ret = cnm_lb_svc_set_pdt_size(lb, (uint16_t)i, to->services[ti].pdt_size);
			if (ret < 0) {
				free(reshaped);
				free(rekey);
				return apply_fail(err, errlen, ret, "resize the PDT of service", name);
			}
			sum_add(summary, "services_changed", name);
			continue;
		}
		ret = cnm_lb_svc_del(lb, (uint16_t)i);
		if (ret < 0) {
			free(reshaped);
			free(rekey);
			return apply_fail(err, errlen, ret, "remove service", name);
		}
		if (ti >= 0) {
			reshaped[ti] = 1;
			sum_add(summary, "services_changed", name);
		} else {
			sum_add(summary, "services_removed", name);
		}
	}
	/* 3b: keys changed in place; a key one service gives up and another
	 * takes may need the other's turn first (-EEXIST: again next pass) */
	for (progress = 1; progress;) {
		progress = 0;
		for (i = 0; i < cnm_lb_svc_end(lb); i++) {
			const struct cnm_cfg_service *c;

			if (rekey[i] == 0)
				continue;
			c = &to->services[rekey[i] - 1];
			ret = cnm_lb_svc_rekey(lb, (uint16_t)i, c);
			if (ret == -EEXIST)
				continue;
			if (ret == 0 && cnm_lb_svc_pdt_size(lb, i) != c->pdt_size)
				ret = cnm_lb_svc_set_pdt_size(lb, (uint16_t)i, c->pdt_size);
			/* the UDP flow list of a service whose ports changed: in place
			 * too (it may have a UDP port only now, or no more) */
			if (ret == 0 && cnm_lb_svc_cfg(lb, i)->udp_timeout_s != c->udp_timeout_s)
				ret = cnm_lb_svc_set_udp_timeout(lb, (uint16_t)i, c->udp_timeout_s);
			if (ret < 0) {
				free(reshaped);
				free(rekey);
				return apply_fail(err, errlen, ret, "change the keys of service",
						  c->name);
			}
			sum_add(summary, "services_changed", c->name);
			rekey[i] = 0;
			progress = 1;
		}
	}
	for (i = 0; i < cnm_lb_svc_end(lb); i++)
		if (rekey[i] != 0) {
			ret = apply_fail(err, errlen, -EEXIST, "change the keys of service",
					 to->services[rekey[i] - 1].name);
			free(reshaped);
			free(rekey);
			return ret;
		}
	free(rekey);

	/* 4: new services (and the reshaped ones again) */
	for (i = 0; i < to->n_services; i++) {
		const struct cnm_cfg_service *c = &to->services[i];

		if (cnm_lb_svc_find(lb, c->name) >= 0)
			continue;
		ret = svc_add_cfg(lb, to, c);
		if (ret < 0) {
			free(reshaped);
			return apply_fail(err, errlen, ret, "add service", c->name);
		}
		if (!reshaped[i])
			sum_add(summary, "services_added", c->name);
	}
	free(reshaped);

	/* 5: members and weights of every service */
	for (i = 0; i < to->n_services; i++) {
		const struct cnm_cfg_service *c = &to->services[i];

		id = cnm_lb_svc_find(lb, c->name);
		if (id < 0)
			return apply_fail(err, errlen, -ENOENT, "find service", c->name);
		ret = svc_sync_members(lb, to, (uint16_t)id, c, &n_changed);
		if (ret < 0)
			return apply_fail(err, errlen, ret, "update the nodes of service", c->name);
	}
	if (summary != NULL)
		json_object_set_new(summary, "weights_changed", json_integer(n_changed));

	/* 6: nodes that are gone (no group lists them any more) */
	for (i = 0; i < cnm_lb_node_end(lb); i++) {
		char name[CNM_NAME_MAX];

		if (cnm_lb_node_cfg(lb, i) == NULL)
			continue;
		snprintf(name, sizeof(name), "%s", cnm_lb_node_cfg(lb, i)->name);
		if (cnm_config_node_index(to, name) >= 0)
			continue;
		if (cnm_lb_default_node(lb) == (int32_t)i)
			(void)cnm_lb_set_default_node(lb, -1);
		ret = cnm_lb_node_del(lb, (uint16_t)i);
		if (ret < 0)
			return apply_fail(err, errlen, ret, "remove node", name);
		sum_add(summary, "nodes_removed", name);
	}

	/* 7: the default node */
	def = -1;
	if (to->default_node >= 0) {
		def = cnm_lb_node_find(lb, to->nodes[to->default_node].name);
		if (def < 0)
			return apply_fail(err, errlen, -ENOENT, "find default node",
					  to->nodes[to->default_node].name);
	}
	if (cnm_lb_default_node(lb) != def)
		(void)cnm_lb_set_default_node(lb, def);
	/* 8: the tunnels' outer source and MTU */
	cnm_lb_set_tunnel(lb, &to->tunnel);

	/* 9: the data path's switches, published here, once per change */
	cnm_lb_set_switches(lb, to->icmp_echo_reply, to->verify_checksum);
	return 0;
}

/*
 * Write the running configuration to @p path as a configuration file
 * (`save`, control.state_file): to a temporary file beside it, flushed,
 * then renamed over it, so a crash leaves the old file or the new one,
 * never half of one. 0, or -1 with the reason in @p err.
 */
static int
state_write(const struct cnm_config *c, const char *path, char *err, size_t errlen)
{
	char tmp[CNM_PATH_MAX + 32];
	json_t *root = cfg_json(c);
	FILE *f = NULL;
	int ret = -1;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if (root == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	f = fopen(tmp, "w");
	if (f == NULL || json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
	    fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (f != NULL)
		fclose(f);
	if (ret < 0)
		unlink(tmp);
	json_decref(root);
	return ret;
}

/*
 * Apply @p nc and make it the running configuration; on error, try to bring
 * the tables back to ctx->cfg and free @p nc. Caller holds the lock.
 */
static int
cfg_commit(struct cnm_ctx *ctx, struct cnm_config *nc, json_t *summary, char *err,
		size_t errlen)
{
	char rb[CNM_CTL_ERR_MAX];
	int ret;

	ret = cfg_apply(ctx->lb, ctx->cfg, nc, summary, err, errlen);
	if (ret < 0) {
		CTL_LOG(ERR, "%s; rolling back", err);
		if (cfg_apply(ctx->lb, nc, ctx->cfg, NULL, rb, sizeof(rb)) < 0)
			CTL_LOG(ERR, "rollback failed too: %s", rb);
		cnm_config_free(nc);
		return ret;
	}
	/* an edit of the running configuration: it still comes from that file */
	snprintf(nc->path, sizeof(nc->path), "%s", ctx->cfg->path);
	cnm_config_free(ctx->cfg);
	ctx->cfg = nc;
	ctx->cfg_gen++;
	if (ctx->on_commit != NULL)
		ctx->on_commit(ctx->on_commit_arg, ctx->cfg);
	/* control.state_file: what runs now survives a restart */
	if (nc->state_file[0] != '\0' && state_write(nc, nc->state_file, rb, sizeof(rb)) < 0)
		CTL_LOG(ERR, "control.state_file: %s (the change is made, not saved)", rb);
	return 0;
}

/* Validate the edited configuration @p root, apply it, answer. */
static json_t *
edit_commit(struct cnm_ctx *ctx, struct ctl_req *r, json_t *root, const char *arr, int idx,
		const char *as, json_t *resp)
{
	struct cnm_config *nc = cfg_check(r, root, arr, idx, as);
	json_t *summary;
	char err[CNM_CTL_ERR_MAX];

	json_decref(root);
	if (nc == NULL) {
		json_decref(resp);
		return NULL;
	}
	summary = summary_new();
	if (cfg_commit(ctx, nc, summary, err, sizeof(err)) < 0) {
		req_fail(r, "%s (nothing changed)", err);
		json_decref(summary);
		json_decref(resp);
		return NULL;
	}
	if (resp == NULL)
		resp = json_object();
	json_object_set_new(resp, "ok", json_true());
	json_object_set_new(resp, "changes", summary);
	return resp;
}

/* ---- reload ---- */

static int
ports_differ(const struct cnm_config *a, const struct cnm_config *b, const char **key,
		const char **was, const char **now)
{
	uint32_t i;

	if (strcmp(a->public_port, b->public_port) != 0) {
		*key = "ports.public";
		*was = a->public_port;
		*now = b->public_port;
		return 1;
	}
	for (i = 0; i < RTE_MAX(a->n_private, b->n_private); i++) {
		*was = i < a->n_private ? a->private_ports[i] : "";
		*now = i < b->n_private ? b->private_ports[i] : "";
		if (strcmp(*was, *now) != 0) {
			*key = "ports.private";
			return 1;
		}
	}
	if (strcmp(a->local_port, b->local_port) != 0) {
		*key = "ports.local";
		*was = a->local_port;
		*now = b->local_port;
		return 1;
	}
	return 0;
}

static int trial_apply(struct cnm_ctx *ctx, const struct cnm_config *nc, json_t *sum,
		json_t *moved, char *err, size_t errlen);

/* A configuration file a reload can apply: what cannot change at run time
 * did not; NULL with the reason in @p err otherwise. */
static struct cnm_config *
reload_load(struct cnm_ctx *ctx, const char *file, char *err, size_t errlen)
{
	const char *key, *was, *now;
	struct cnm_config *nc = cnm_config_load(file, err, errlen);

	if (nc == NULL)
		return NULL;
	if (ports_differ(ctx->cfg, nc, &key, &was, &now)) {
		snprintf(err, errlen,
			 "%s: %s: the same devices as at start-up: ports cannot change at run time, restart cnmux (got \"%s\", running \"%s\")",
			 file, key, now, was);
		cnm_config_free(nc);
		errno = EINVAL;
		return NULL;
	}
	if (nc->hash_key != ctx->cfg->hash_key) {
		snprintf(err, errlen,
			 "%s: hash_key: the key running now: hash_key cannot change at run time, restart every forwarder with the new key (got 0x%08x, running 0x%08x)",
			 file, nc->hash_key, ctx->cfg->hash_key);
		cnm_config_free(nc);
		errno = EINVAL;
		return NULL;
	}
	return nc;
}

static int
reload_locked(struct cnm_ctx *ctx, const char *path, char *err, size_t errlen,
		json_t **summary)
{
	struct cnm_config *nc;
	json_t *sum, *restart;
	char file[sizeof(ctx->config_path)];
	int ret;

	if (path == NULL || path[0] == '\0')
		path = ctx->config_path;
	if (path[0] == '\0') {
		snprintf(err, errlen, "reload: no configuration file to read");
		return -EINVAL;
	}
	snprintf(file, sizeof(file), "%s", path);
	nc = reload_load(ctx, file, err, errlen);
	if (nc == NULL)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	sum = summary_new();
	restart = json_array();
	if (strcmp(nc->control_socket, ctx->cfg->control_socket) != 0)
		json_array_append_new(restart, json_string("control.socket"));
	if (nc->conn_max != ctx->cfg->conn_max)
		json_array_append_new(restart, json_string("conntrack.max"));
	if (nc->conn_max6 != ctx->cfg->conn_max6)
		json_array_append_new(restart, json_string("conntrack.max6"));
	if (strcmp(nc->metrics_listen.text, ctx->cfg->metrics_listen.text) != 0)
		json_array_append_new(restart, json_string("metrics.listen"));
	if (memcmp(&nc->ha, &ctx->cfg->ha, sizeof(nc->ha)) != 0)
		json_array_append_new(restart, json_string("ha"));
	/* a transaction: the whole change is made on a scratch copy of the
	 * tables first; one that cannot be made entirely (a table full) is
	 * refused there, before anything running changes */
	ret = trial_apply(ctx, nc, NULL, NULL, err, errlen);
	if (ret < 0) {
		CTL_LOG(ERR, "reload of %s refused, nothing changed: %s", file, err);
		cnm_config_free(nc);
		json_decref(sum);
		json_decref(restart);
		return ret;
	}
	ret = cfg_commit(ctx, nc, sum, err, errlen);
	if (ret < 0) {
		json_decref(sum);
		json_decref(restart);
		return ret;
	}
	/* cfg_commit kept the old path: the new configuration came from file */
	snprintf(ctx->cfg->path, sizeof(ctx->cfg->path), "%s", file);
	snprintf(ctx->config_path, sizeof(ctx->config_path), "%s", file);
	if (json_array_size(restart) > 0)
		json_object_set_new(sum, "restart_needed", restart);
	else
		json_decref(restart);
	CTL_LOG(NOTICE, "reloaded %s", file);
	if (summary != NULL)
		*summary = sum;
	else
		json_decref(sum);
	return 0;
}

int
cnm_control_apply_json(struct cnm_ctx *ctx, const json_t *root, const char *name, char *err,
		size_t errlen)
{
	const char *key, *was, *now;
	struct cnm_config *nc;
	char *text;

	text = json_dumps(root, JSON_COMPACT);
	if (text == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	nc = cnm_config_parse(text, strlen(text), name, err, errlen);
	free(text);
	if (nc == NULL)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	if (ports_differ(ctx->cfg, nc, &key, &was, &now) || nc->hash_key != ctx->cfg->hash_key) {
		snprintf(err, errlen, "%s: %s: the value running now (it cannot change at run time)",
			 name, nc->hash_key != ctx->cfg->hash_key ? "hash_key" : key);
		cnm_config_free(nc);
		return -EINVAL;
	}
	return cfg_commit(ctx, nc, NULL, err, errlen);
}

static void
ctl_lock(struct cnm_ctx *ctx)
{
	if (ctx->ctl_lock != NULL)
		pthread_mutex_lock(ctx->ctl_lock);
}

static void
ctl_unlock(struct cnm_ctx *ctx)
{
	if (ctx->ctl_lock != NULL)
		pthread_mutex_unlock(ctx->ctl_lock);
}

int
cnm_control_reload(struct cnm_ctx *ctx, const char *path, char *err, size_t errlen,
		json_t **summary)
{
	char buf[CNM_CTL_ERR_MAX];
	int ret;

	if (err == NULL || errlen == 0) {
		err = buf;
		errlen = sizeof(buf);
	}
	if (summary != NULL)
		*summary = NULL;
	if (ctx->ha_may_change != NULL && ctx->ha_may_change(ctx->ha_arg, err, errlen) < 0) {
		CTL_LOG(ERR, "reload refused: %s", err);
		return -EPERM;
	}
	ctl_lock(ctx);
	ret = reload_locked(ctx, path, err, errlen, summary);
	ctl_unlock(ctx);
	if (ret < 0)
		CTL_LOG(ERR, "reload refused: %s", err);
	return ret;
}

/* ---- commands ---- */

static json_t *
svc_json(const struct cnm_ctx *ctx, uint16_t id, const struct cnm_stats_total *t)
{
	const struct cnm_lb *lb = ctx->lb;
	const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, id);
	const struct cnm_pdt *pdt = cnm_lb_svc_pdt(lb, id);
	json_t *o = json_object(), *list = json_array(), *nodes = json_array(), *st;
	char buf[64];
	uint32_t i;

	json_object_set_new(o, "name", json_string(s->name));
	json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "vip", json_string(cnm_addr_str(&s->vip, buf, sizeof(buf))));
	json_object_set_new(o, "policy", json_string(cnm_policy_name(s->policy)));
	if (s->policy == CNM_POLICY_STICKY_WILD) {
		if (s->protocols & CNM_PROTO_BIT_TCP)
			json_array_append_new(list, json_string("tcp"));
		if (s->protocols & CNM_PROTO_BIT_UDP)
			json_array_append_new(list, json_string("udp"));
		json_object_set_new(o, "protocols", list);
	} else {
		for (i = 0; i < s->n_ports; i++) {
			snprintf(buf, sizeof(buf), "%u/%s", s->ports[i].port,
				 s->ports[i].proto == IPPROTO_UDP ? "udp" : "tcp");
			json_array_append_new(list, json_string(buf));
		}
		json_object_set_new(o, "ports", list);
	}
	/* the counters, as in `stats`: the service's, and each node's of its
	 * list into that node's entry */
	st = cnm_stats_svc_json(t, lb, id);
	for (i = 0; i < s->n_members; i++) {
		uint32_t n = s->members[i].node;
		const char *nname = cnm_lb_node_cfg(lb, n)->name;
		json_t *e = json_pack("{s:s,s:I,s:b,s:I}",
			"name", nname,
			"weight", (json_int_t)s->members[i].weight,
			"up", cnm_lb_node(lb, n)->up != 0,
			"entries", (json_int_t)cnm_pdt_count(pdt, (uint16_t)n));

		json_object_update(e, json_object_get(json_object_get(st, "nodes"), nname));
		json_array_append_new(nodes, e);
	}
	json_object_set_new(o, "nodes", nodes);
	json_object_set_new(o, "pdt_size", json_integer(pdt->size));
	json_object_set_new(o, "active_nodes", json_integer(pdt->n_active));
	json_object_set_new(o, "arp", json_boolean(s->arp));
	{
		/* second chance (docs/pdt.md): the window, and what the kept
		 * table would still send elsewhere */
		struct cnm_sc_info sc;
		uint32_t now = cnm_lb_clock_ms();

		if (cnm_lb_svc_second_chance(lb, id, &sc) == 0) {
			int open = sc.prev != NULL && (int32_t)(sc.until - now) > 0;

			/* no time left in it: what `service show` says stays the
			 * same while nothing changes (explain says how long) */
			json_object_set_new(o, "second_chance", json_pack("{s:I,s:b,s:o,s:o,s:o}",
				"window_s", (json_int_t)(sc.window_ms / 1000),
				"open", open,
				"entries_changed", open && sc.prev->size == pdt->size ?
					json_integer(cnm_pdt_moved(sc.prev, pdt)) : json_null(),
				"packets", json_incref(json_object_get(st, "second_chance")),
				"failed", json_incref(json_object_get(st, "second_chance_failed"))));
		}
	}
	json_object_set(o, "packets", json_object_get(st, "packets"));
	json_object_set(o, "bytes", json_object_get(st, "bytes"));
	json_decref(st);
	return o;
}

static json_t *
cmd_service_show(struct cnm_ctx *ctx, struct ctl_req *r)
{
	struct cnm_stats_total *t;
	json_t *resp, *list;
	const char *name;
	uint32_t i;
	int id = -1;

	if (arg_str(r, "service", 0, "a service name", &name) < 0)
		return NULL;
	if (name != NULL && (id = find_svc(ctx, r, name, NULL)) < 0)
		return NULL;
	t = stats_sum(ctx);
	if (t == NULL) {
		req_fail(r, "out of memory");
		return NULL;
	}
	list = json_array();
	for (i = 0; i < cnm_lb_svc_end(ctx->lb); i++)
		if (cnm_lb_svc_cfg(ctx->lb, i) != NULL && (id < 0 || (uint32_t)id == i))
			json_array_append_new(list, svc_json(ctx, (uint16_t)i, t));
	free(t);
	resp = json_object();
	json_object_set_new(resp, "services", list);
	return resp;
}

static json_t *
cmd_service_add(struct cnm_ctx *ctx, struct ctl_req *r)
{
	const json_t *svc = json_object_get(r->req, "service");
	json_t *root, *resp;
	char got[80];
	int idx;

	if (!json_is_object(svc)) {
		cnm_json_describe(got, sizeof(got), svc);
		req_fail(r, "service: expected an object like one entry of \"services\" in the configuration file (got %s)",
			 got);
		return NULL;
	}
	root = cfg_json(ctx->cfg);
	idx = (int)json_array_size(json_object_get(root, "services"));
	json_array_append_new(json_object_get(root, "services"), json_deep_copy(svc));
	resp = json_pack("{s:O}", "service", json_object_get(svc, "name"));
	return edit_commit(ctx, r, root, "services", idx, "service", resp);
}

static json_t *
cmd_service_del(struct cnm_ctx *ctx, struct ctl_req *r)
{
	const char *name;
	json_t *root;
	int ci;

	if (arg_str(r, "service", 1, "a service name", &name) < 0 ||
	    find_svc(ctx, r, name, &ci) < 0)
		return NULL;
	root = cfg_json(ctx->cfg);
	json_array_remove(json_object_get(root, "services"), (size_t)ci);
	return edit_commit(ctx, r, root, NULL, 0, NULL,
			   json_pack("{s:s}", "service", name));
}

static json_t *
cmd_node_add(struct cnm_ctx *ctx, struct ctl_req *r)
{
	const json_t *node = json_object_get(r->req, "node");
	const json_t *svcs = json_object_get(r->req, "services");
	json_t *root, *list, *w;
	const char *name, *sname;
	char got[80], key[CNM_NAME_MAX + 16];
	int idx;

	if (!json_is_object(node)) {
		cnm_json_describe(got, sizeof(got), node);
		req_fail(r, "node: expected an object like one entry of \"nodes\" in the configuration file (got %s)",
			 got);
		return NULL;
	}
	if (svcs != NULL && !json_is_object(svcs)) {
		cnm_json_describe(got, sizeof(got), svcs);
		req_fail(r, "services: expected an object of service name to weight (got %s)", got);
		return NULL;
	}
	root = cfg_json(ctx->cfg);
	list = json_object_get(root, "nodes");
	idx = (int)json_array_size(list);
	json_array_append_new(list, json_deep_copy(node));
	name = json_string_value(json_object_get(node, "name"));
	json_object_foreach((json_t *)(uintptr_t)svcs, sname, w) {
		int ci = cnm_config_service_index(ctx->cfg, sname);
		uint32_t weight;

		snprintf(key, sizeof(key), "services.%s", sname);
		if (ci < 0) {
			char names[NAMES_LIST_MAX + 8];

			names_list(ctx->cfg, 1, names, sizeof(names));
			req_fail(r, "%s: no service \"%s\" (expected one of: %s)", key, sname, names);
			json_decref(root);
			return NULL;
		}
		if (arg_uint(r, key, w, 0, 65535, &weight) < 0) {
			json_decref(root);
			return NULL;
		}
		/* an invalid name fails at node.name before the services are read */
		if (name != NULL)
			json_object_set_new(json_object_get(json_array_get(
				json_object_get(root, "services"), (size_t)ci), "nodes"),
				name, json_integer(weight));
	}
	return edit_commit(ctx, r, root, "nodes", idx, "node",
			   json_pack("{s:O}", "node", json_object_get(node, "name")));
}

/*
 * A node's "check" at run time: the object a node takes in the file, or null
 * for none. It replaces the node's check_port (a "connect" check says the
 * same); the file's rules decide, and nothing changes on error.
 */
static json_t *
cmd_node_check(struct cnm_ctx *ctx, struct ctl_req *r)
{
	const json_t *check = json_object_get(r->req, "check");
	const char *name;
	json_t *root, *n;
	char got[80];
	int ci;

	if (arg_str(r, "node", 1, "a node name", &name) < 0 ||
	    find_node(ctx, r, name, &ci) < 0)
		return NULL;
	if (!json_is_object(check) && !json_is_null(check)) {
		cnm_json_describe(got, sizeof(got), check);
		req_fail(r, "check: expected an object like a node's \"check\" in the configuration file (\"type\": arp, nd, icmp, tcp, connect, script or http), or null for none (got %s)",
			 got);
		return NULL;
	}
	root = cfg_json(ctx->cfg);
	n = json_array_get(json_object_get(root, "nodes"), (size_t)ci);
	json_object_del(n, "check_port");
	if (json_is_null(check))
		json_object_del(n, "check");
	else
		json_object_set_new(n, "check", json_deep_copy(check));
	return edit_commit(ctx, r, root, "nodes", ci, "node", json_pack("{s:s}", "node", name));
}

static json_t *
cmd_node_del(struct cnm_ctx *ctx, struct ctl_req *r)
{
	const struct cnm_config *c = ctx->cfg;
	const char *name;
	json_t *root, *svcs;
	uint32_t i;
	int ci;

	if (arg_str(r, "node", 1, "a node name", &name) < 0 ||
	    find_node(ctx, r, name, &ci) < 0)
		return NULL;
	if (c->default_node == ci) {
		req_fail(r, "node \"%s\" is the default_node: make another node the default (reload) first",
			 name);
		return NULL;
	}
	for (i = 0; i < c->n_services; i++) {
		const struct cnm_cfg_service *s = &c->services[i];

		if (s->n_members == 1 && s->members[0].node == (uint32_t)ci) {
			req_fail(r, "node \"%s\" is the only node of service \"%s\": delete the service or give it another node first",
				 name, s->name);
			return NULL;
		}
	}
	root = cfg_json(c);
	json_array_remove(json_object_get(root, "nodes"), (size_t)ci);
	svcs = json_object_get(root, "services");
	for (i = 0; i < json_array_size(svcs); i++)
		json_object_del(json_object_get(json_array_get(svcs, i), "nodes"), name);
	return edit_commit(ctx, r, root, NULL, 0, NULL, json_pack("{s:s}", "node", name));
}

static json_t *
node_set_up(struct cnm_ctx *ctx, struct ctl_req *r, int up)
{
	const char *name;
	int id, ret;

	if (arg_str(r, "node", 1, "a node name", &name) < 0 ||
	    (id = find_node(ctx, r, name, NULL)) < 0)
		return NULL;
	ret = cnm_lb_node_set_up(ctx->lb, (uint16_t)id, up);
	if (ret == 0) /* health checks leave it down */
		(void)cnm_lb_node_set_admin_down(ctx->lb, (uint16_t)id, !up);
	if (ret == -EAGAIN) {
		req_fail(r, "node \"%s\" has no MAC address yet (configure \"mac\" or wait for ARP)",
			 name);
		return NULL;
	}
	if (ret < 0) {
		req_fail(r, "node \"%s\": %s", name, strerror(-ret));
		return NULL;
	}
	return json_pack("{s:s,s:b}", "node", name, "up", up);
}

static json_t *
cmd_node_up(struct cnm_ctx *ctx, struct ctl_req *r)
{
	return node_set_up(ctx, r, 1);
}

static json_t *
cmd_node_down(struct cnm_ctx *ctx, struct ctl_req *r)
{
	return node_set_up(ctx, r, 0);
}

/* Is the node at config index @p ci a member of config service @p si? */
static int
cfg_is_member(const struct cnm_config *c, int si, int ci)
{
	uint32_t i;

	for (i = 0; i < c->services[si].n_members; i++)
		if (c->services[si].members[i].node == (uint32_t)ci)
			return 1;
	return 0;
}

static void
member_names(const struct cnm_config *c, int si, char *buf, size_t len)
{
	const struct cnm_cfg_service *s = &c->services[si];
	size_t used = 0;
	uint32_t i;

	buf[0] = '\0';
	for (i = 0; i < s->n_members && used + 8 < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
				 c->nodes[s->members[i].node].name);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static json_t *
cmd_node_drain(struct cnm_ctx *ctx, struct ctl_req *r)
{
	const struct cnm_config *c = ctx->cfg;
	const char *name, *sname;
	json_t *root, *svcs, *nodes;
	uint32_t i;
	int ci, si = -1;

	if (arg_str(r, "node", 1, "a node name", &name) < 0 ||
	    arg_str(r, "service", 0, "a service name", &sname) < 0 ||
	    find_node(ctx, r, name, &ci) < 0 ||
	    (sname != NULL && find_svc(ctx, r, sname, &si) < 0))
		return NULL;
	if (si >= 0 && !cfg_is_member(c, si, ci)) {
		char members[NAMES_LIST_MAX];

		member_names(c, si, members, sizeof(members));
		req_fail(r, "node \"%s\" is not a node of service \"%s\" (its nodes: %s)",
			 name, sname, members);
		return NULL;
	}
	root = cfg_json(c);
	svcs = json_object_get(root, "services");
	for (i = 0; i < json_array_size(svcs); i++) {
		if (si >= 0 && (int)i != si)
			continue;
		nodes = json_object_get(json_array_get(svcs, i), "nodes");
		if (json_object_get(nodes, name) != NULL)
			json_object_set_new(nodes, name, json_integer(0));
	}
	return edit_commit(ctx, r, root, NULL, 0, NULL,
			   sname != NULL ?
			   json_pack("{s:s,s:s}", "node", name, "service", sname) :
			   json_pack("{s:s}", "node", name));
}

static json_t *
cmd_node_weight(struct cnm_ctx *ctx, struct ctl_req *r)
{
	const char *name, *sname;
	json_t *root, *svc;
	uint32_t weight;
	int si;

	if (arg_str(r, "node", 1, "a node name", &name) < 0 ||
	    arg_str(r, "service", 1, "a service name", &sname) < 0 ||
	    find_node(ctx, r, name, NULL) < 0 ||
	    find_svc(ctx, r, sname, &si) < 0 ||
	    arg_uint(r, "weight", json_object_get(r->req, "weight"), 0, 65535, &weight) < 0)
		return NULL;
	root = cfg_json(ctx->cfg);
	svc = json_array_get(json_object_get(root, "services"), (size_t)si);
	json_object_set_new(json_object_get(svc, "nodes"), name, json_integer(weight));
	return edit_commit(ctx, r, root, NULL, 0, NULL,
			   json_pack("{s:s,s:s,s:I}", "node", name, "service", sname,
				     "weight", (json_int_t)weight));
}

static json_t *
node_json(const struct cnm_ctx *ctx, uint16_t id, const struct cnm_stats_total *t)
{
	const struct cnm_lb *lb = ctx->lb;
	const struct cnm_cfg_node *nc = cnm_lb_node_cfg(lb, id);
	const struct cnm_node *nd = cnm_lb_node(lb, id);
	int ci = cnm_config_node_index(ctx->cfg, nc->name);
	json_t *o = json_object(), *svcs = json_object();
	uint8_t mac[8];
	char buf[64];
	uint32_t i;

	json_object_set_new(o, "name", json_string(nc->name));
	json_object_set_new(o, "id", json_integer(id));
	json_object_set_new(o, "ip", json_string(cnm_addr_str(&nc->ip, buf, sizeof(buf))));
	memcpy(mac, &nd->mac, 8);
	json_object_set_new(o, "mac", nd->mac != 0 ?
			    json_string(mac_str(mac, buf, sizeof(buf))) : json_null());
	json_object_set_new(o, "mac_configured",
			    json_boolean(ci >= 0 && ctx->cfg->nodes[ci].has_mac));
	json_object_set_new(o, "check_port", json_integer(nc->check_port));
	json_object_set_new(o, "check", nc->check.type != CNM_CHECK_NONE ? check_json(nc) : json_null());
	/* the check as it runs: its rounds in a row, the last one's result */
	if (ctx->node_health != NULL)
		json_object_set_new(o, "health", ctx->node_health(ctx->node_health_arg, id));
	/* how packets reach it, as "node add" and the file set it */
	json_object_set_new(o, "forward", json_string(cnm_fwd_name(nc->forward)));
	json_object_set_new(o, "gateway", nc->has_gateway ?
			    json_string(cnm_addr_str(&nc->gateway, buf, sizeof(buf))) : json_null());
	if (nc->forward == CNM_FWD_GUE)
		json_object_set_new(o, "gue_port", json_integer(nc->gue_port));
	json_object_set_new(o, "up", json_boolean(nd->up));
	json_object_set_new(o, "default", json_boolean(cnm_lb_default_node(lb) == (int32_t)id));
	json_object_set_new(o, "private_port", json_integer(nd->port));
	for (i = 0; i < cnm_lb_svc_end(lb); i++) {
		int64_t w = cnm_lb_member_weight(lb, (uint16_t)i, id);

		if (w < 0)
			continue;
		json_object_set_new(svcs, cnm_lb_svc_cfg(lb, i)->name,
				    json_pack("{s:I,s:I}", "weight", (json_int_t)w,
					      "entries",
					      (json_int_t)cnm_pdt_count(cnm_lb_svc_pdt(lb, i), id)));
	}
	json_object_set_new(o, "services", svcs);
	/* the counters, as in `stats` */
	json_object_update_new(o, cnm_stats_node_json(t, lb, id));
	return o;
}

static json_t *
cmd_node_show(struct cnm_ctx *ctx, struct ctl_req *r)
{
	struct cnm_stats_total *t;
	json_t *resp, *list;
	const char *name;
	uint32_t i;
	int id = -1;

	if (arg_str(r, "node", 0, "a node name", &name) < 0)
		return NULL;
	if (name != NULL && (id = find_node(ctx, r, name, NULL)) < 0)
		return NULL;
	t = stats_sum(ctx);
	if (t == NULL) {
		req_fail(r, "out of memory");
		return NULL;
	}
	list = json_array();
	for (i = 0; i < cnm_lb_node_end(ctx->lb); i++)
		if (cnm_lb_node_cfg(ctx->lb, i) != NULL && (id < 0 || (uint32_t)id == i))
			json_array_append_new(list, node_json(ctx, (uint16_t)i, t));
	free(t);
	resp = json_object();
	json_object_set_new(resp, "nodes", list);
	return resp;
}

static json_t *
cmd_pdt_show(struct cnm_ctx *ctx, struct ctl_req *r)
{
	const struct cnm_lb *lb = ctx->lb;
	const struct cnm_pdt *pdt;
	const struct cnm_cfg_service *s;
	uint32_t off, count, i, *per;
	json_t *resp, *nodes, *entries;
	const char *name;
	int id;

	if (arg_str(r, "service", 1, "a service name", &name) < 0 ||
	    (id = find_svc(ctx, r, name, NULL)) < 0)
		return NULL;
	s = cnm_lb_svc_cfg(lb, (uint32_t)id);
	pdt = cnm_lb_svc_pdt(lb, (uint32_t)id);
	if (opt_uint(r, "offset", 0, pdt->size - 1, 0, &off) < 0 ||
	    opt_uint(r, "count", 0, PDT_SHOW_MAX, PDT_SHOW_DEFAULT, &count) < 0)
		return NULL;
	if (count > pdt->size - off)
		count = pdt->size - off;
	per = calloc(CNM_MAX_NODES, sizeof(*per));
	if (per == NULL) {
		req_fail(r, "out of memory");
		return NULL;
	}
	for (i = 0; i < pdt->size; i++)
		if (pdt->entries[i] < CNM_MAX_NODES)
			per[pdt->entries[i]]++;
	nodes = json_object();
	for (i = 0; i < s->n_members; i++)
		json_object_set_new(nodes, cnm_lb_node_cfg(lb, s->members[i].node)->name,
				    json_integer(per[s->members[i].node]));
	free(per);
	entries = json_array();
	for (i = off; i < off + count; i++) {
		uint16_t n = pdt->entries[i];

		json_array_append_new(entries, cnm_lb_node_cfg(lb, n) != NULL ?
				      json_string(cnm_lb_node_cfg(lb, n)->name) : json_null());
	}
	resp = json_object();
	json_object_set_new(resp, "service", json_string(name));
	json_object_set_new(resp, "size", json_integer(pdt->size));
	json_object_set_new(resp, "active_nodes", json_integer(pdt->n_active));
	json_object_set_new(resp, "nodes", nodes);
	json_object_set_new(resp, "offset", json_integer(off));
	json_object_set_new(resp, "count", json_integer(count));
	json_object_set_new(resp, "entries", entries);
	return resp;
}

static json_t *
cmd_conns_count(struct cnm_ctx *ctx, struct ctl_req *r)
{
	if (ctx->conns_count == NULL) {
		req_fail(r, "this cnmux keeps no connection list");
		return NULL;
	}
	return json_pack("{s:I}", "count", (json_int_t)ctx->conns_count(ctx->conns_arg));
}

static json_t *
cmd_conns_show(struct cnm_ctx *ctx, struct ctl_req *r)
{
	const char *sname, *nname;
	int32_t svc = -1, node = -1;
	uint32_t max;
	json_t *arr;
	int ret;

	if (arg_str(r, "service", 0, "a service name", &sname) < 0 ||
	    arg_str(r, "node", 0, "a node name", &nname) < 0 ||
	    (sname != NULL && (svc = find_svc(ctx, r, sname, NULL)) < 0) ||
	    (nname != NULL && (node = find_node(ctx, r, nname, NULL)) < 0) ||
	    opt_uint(r, "max", 1, CONNS_SHOW_MAX, CONNS_SHOW_DEFAULT, &max) < 0)
		return NULL;
	if (ctx->conns_dump == NULL) {
		req_fail(r, "this cnmux keeps no connection list");
		return NULL;
	}
	arr = json_array();
	ret = ctx->conns_dump(ctx->conns_arg, arr, max, svc, node);
	if (ret < 0) {
		json_decref(arr);
		req_fail(r, "cannot list the connections: %s", strerror(-ret));
		return NULL;
	}
	return json_pack("{s:o,s:i}", "conns", arr, "count", ret);
}

/* ---- explain ---- */

/* "frame": the frame in hex (spaces and colons allowed); its length or -1 */
static int
explain_hex(struct ctl_req *r, const char *hex, uint8_t *buf, size_t len)
{
	size_t n = 0;
	int hi = -1;

	for (; *hex != '\0'; hex++) {
		int v;

		if (*hex == ' ' || *hex == ':' || *hex == '\n' || *hex == '\t')
			continue;
		if (*hex >= '0' && *hex <= '9')
			v = *hex - '0';
		else if ((*hex | 0x20) >= 'a' && (*hex | 0x20) <= 'f')
			v = (*hex | 0x20) - 'a' + 10;
		else
			return req_fail(r, "frame: expected hexadecimal digits (got '%c')", *hex);
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == len)
			return req_fail(r, "frame: expected at most %zu bytes", len);
		buf[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	if (hi >= 0 || n < 14)
		return req_fail(r, "frame: expected an Ethernet frame of at least 14 whole bytes");
	return (int)n;
}

/* "packet": {"proto", "src", "sport", "dst", "dport", "flags"}: a frame */
static int
explain_packet(struct ctl_req *r, const json_t *p, uint8_t *buf, size_t len)
{
	static const char *const keys[] = { "proto", "src", "sport", "dst", "dport", "flags", NULL };
	struct cnm_explain_desc d;
	const char *proto, *src, *dst, *fl, *key;
	json_int_t sport, dport;
	char got[80];
	json_t *v;
	size_t i;
	int n;

	json_object_foreach((json_t *)(uintptr_t)p, key, v) {
		for (i = 0; keys[i] != NULL && strcmp(keys[i], key) != 0; i++)
			;
		if (keys[i] == NULL)
			return req_fail(r, "packet.%s: unknown key (expected proto, src, sport, dst, "
					"dport, flags)", key);
	}
	memset(&d, 0, sizeof(d));
	proto = json_string_value(json_object_get(p, "proto"));
	src = json_string_value(json_object_get(p, "src"));
	dst = json_string_value(json_object_get(p, "dst"));
	fl = json_string_value(json_object_get(p, "flags"));
	sport = json_integer_value(json_object_get(p, "sport"));
	dport = json_integer_value(json_object_get(p, "dport"));
	if (proto == NULL || (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
			      strcmp(proto, "icmp") != 0)) {
		cnm_json_describe(got, sizeof(got), json_object_get(p, "proto"));
		return req_fail(r, "packet.proto: expected \"tcp\", \"udp\" or \"icmp\" (got %s)", got);
	}
	if (src == NULL || dst == NULL)
		return req_fail(r, "packet: expected \"src\" and \"dst\" addresses");
	d.src.family = strchr(src, ':') != NULL ? AF_INET6 : AF_INET;
	d.dst.family = strchr(dst, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(d.src.family, src, d.src.bytes) != 1)
		return req_fail(r, "packet.src: expected an IPv4 or IPv6 address (got \"%s\")", src);
	if (inet_pton(d.dst.family, dst, d.dst.bytes) != 1)
		return req_fail(r, "packet.dst: expected an IPv4 or IPv6 address (got \"%s\")", dst);
	if (d.src.family != d.dst.family)
		return req_fail(r, "packet: src and dst of one family");
	d.proto = strcmp(proto, "tcp") == 0 ? IPPROTO_TCP : strcmp(proto, "udp") == 0 ?
		IPPROTO_UDP : d.src.family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	if (d.proto == IPPROTO_TCP || d.proto == IPPROTO_UDP) {
		if (!json_is_integer(json_object_get(p, "sport")) || sport < 1 || sport > 65535 ||
		    !json_is_integer(json_object_get(p, "dport")) || dport < 1 || dport > 65535)
			return req_fail(r, "packet: expected \"sport\" and \"dport\", integers 1..65535");
		d.sport = (uint16_t)sport;
		d.dport = (uint16_t)dport;
	}
	/* tcpdump's letters; a TCP packet without "flags" is a bare ACK */
	d.tcp_flags = d.proto == IPPROTO_TCP && fl == NULL ? CNM_TCP_ACK : 0;
	for (; fl != NULL && *fl != '\0'; fl++) {
		const char *letters = "FSRP.U", *at = strchr(letters, *fl == 'A' ? '.' : *fl);
		static const uint8_t bits[] = { 0x01, 0x02, 0x04, 0x08, 0x10, 0x20 };

		if (at == NULL || d.proto != IPPROTO_TCP)
			return req_fail(r, "packet.flags: expected TCP flags as tcpdump writes them "
					"(S, F, R, P, . or A, U; got '%c')", *fl);
		d.tcp_flags |= bits[at - letters];
	}
	n = cnm_explain_build(&d, buf, len);
	if (n < 0)
		return req_fail(r, "packet: cannot build it: %s", strerror(-n));
	return n;
}

static json_t *
cmd_explain(struct cnm_ctx *ctx, struct ctl_req *r)
{
	static struct cnm_explain ex;
	const json_t *pkt = json_object_get(r->req, "packet");
	struct cnm_svc_cache_ent cache;
	struct cnm_frag_ent frag;
	struct cnm_conn_key k;
	struct cnm_wstats ws;
	struct cnm_dstate st;
	static uint8_t frame[16384];
	const char *hex;
	json_t *o;
	int len;

	if (arg_str(r, "frame", 0, "an Ethernet frame in hexadecimal", &hex) < 0)
		return NULL;
	if ((hex == NULL) == (pkt == NULL)) {
		req_fail(r, "expected one of \"frame\" (hexadecimal) or \"packet\" (an object)");
		return NULL;
	}
	if (pkt != NULL && !json_is_object(pkt)) {
		req_fail(r, "packet: expected an object {\"proto\", \"src\", \"sport\", \"dst\", "
			 "\"dport\", \"flags\"}");
		return NULL;
	}
	len = hex != NULL ? explain_hex(r, hex, frame, sizeof(frame)) :
		explain_packet(r, pkt, frame, sizeof(frame));
	if (len < 0)
		return NULL;
	cnm_explain_parse(ctx->lb, frame, (uint32_t)len, (uint32_t)len, &ex);
	/* a decision state of its own: one-slot caches, and a private list
	 * holding what a worker's holds for this connection */
	memset(&st, 0, sizeof(st));
	memset(&cache, 0, sizeof(cache));
	memset(&frag, 0, sizeof(frag));
	/* counters of its own too: the decision counts what it records */
	if (cnm_wstats_init(&ws) < 0) {
		req_fail(r, "out of memory");
		return NULL;
	}
	st.cache = &cache;
	st.frag = &frag;
	st.st = &ws;
	/* the control thread's QUIC-LB lane: the workers use theirs meanwhile */
	st.lane = CNM_QUIC_LANE_CTL;
	st.cache_gen = __atomic_load_n(&cnm_lb_view(ctx->lb)->keys_gen, __ATOMIC_ACQUIRE);
	if (ctx->conns_lookup != NULL) {
		struct cnm_ct_timeouts t = {
			.syn = ctx->cfg->conn_syn_s * 1000,
			.established = ctx->cfg->conn_timeout_s * 1000,
			.closing = ctx->cfg->conn_closing_s * 1000,
		};
		struct cnm_conn held;
		int worker;

		st.ct = cnm_ct_create("explain", 64, SOCKET_ID_ANY, &t);
		if (st.ct == NULL) {
			req_fail(r, "cannot make a forwarding list to decide on: %s",
				 rte_strerror(rte_errno));
			cnm_wstats_fini(&ws);
			return NULL;
		}
		worker = -1;
		if (cnm_explain_conn_key(&ex, &k)) {
			worker = ctx->conns_lookup(ctx->conns_arg, &k, &held, &st.now_ms);
			if (worker >= 0)
				cnm_ct_restore(st.ct, &k, cnm_ct_hash(st.ct, &k), &held);
		} else {
			/* the clock still matters to nothing but the list */
			st.now_ms = 0;
		}
		cnm_explain_decide(ctx->lb, &st, &ex);
		ex.conn_worker = worker;
		cnm_ct_free(st.ct);
	} else {
		cnm_explain_decide(ctx->lb, &st, &ex);
	}
	cnm_wstats_fini(&ws);
	o = cnm_explain_json(ctx->lb, &ex);
	if (o == NULL)
		req_fail(r, "out of memory");
	return o;
}

static json_t *
cmd_stats(struct cnm_ctx *ctx, struct ctl_req *r)
{
	struct cnm_stats_total *t = stats_sum(ctx);
	json_t *resp = NULL;

	if (t != NULL)
		resp = cnm_stats_json(t, ctx->lb);
	free(t);
	if (resp == NULL)
		req_fail(r, "out of memory");
	return resp;
}

/* save [path]: the running configuration as a file (default: the state file) */
static json_t *
cmd_save(struct cnm_ctx *ctx, struct ctl_req *r)
{
	char err[CNM_CTL_ERR_MAX - 16];
	const char *path;

	if (arg_str(r, "path", 0, "a file name", &path) < 0)
		return NULL;
	if (path == NULL || path[0] == '\0')
		path = ctx->cfg->state_file;
	if (path[0] == '\0') {
		req_fail(r, "path: expected a file name (no control.state_file is configured)");
		return NULL;
	}
	if (state_write(ctx->cfg, path, err, sizeof(err)) < 0) {
		snprintf(r->err, sizeof(r->err), "save: %s", err);
		return NULL;
	}
	CTL_LOG(NOTICE, "saved the running configuration to %s", path);
	return json_pack("{s:s}", "file", path);
}

/* `stats rate`: the keys of `stats`, per second (the control loop's window) */
static json_t *
cmd_stats_rate(struct cnm_ctx *ctx, struct ctl_req *r)
{
	json_t *resp;

	if (ctx->rates == NULL) {
		req_fail(r, "this cnmux computes no rates");
		return NULL;
	}
	resp = ctx->rates(ctx->rates_arg);
	if (resp == NULL)
		req_fail(r, "out of memory");
	return resp;
}

/* `path show`: the private paths (lib/path) */
static json_t *
cmd_path_show(struct cnm_ctx *ctx, struct ctl_req *r)
{
	json_t *resp;

	if (ctx->paths == NULL) {
		req_fail(r, "this cnmux has no path manager");
		return NULL;
	}
	resp = ctx->paths(ctx->paths_arg);
	if (resp == NULL)
		req_fail(r, "out of memory");
	return resp;
}

/* `zero`: the counters every output shows start again from 0; what the
 * workers count, and /metrics, go on (cnm_lb_stats_zero()) */
static json_t *
cmd_zero(struct cnm_ctx *ctx, struct ctl_req *r)
{
	struct cnm_stats_total *t = stats_read(ctx, 0);
	int ret = t != NULL ? cnm_lb_stats_zero(ctx->lb, t) : -ENOMEM;

	free(t);
	if (ret < 0) {
		req_fail(r, "out of memory");
		return NULL;
	}
	return json_object();
}

/*
 * trial_apply(): @p nc applied to a scratch copy of the tables (a reload
 * tries it there first, a dry run stops there), and reload --dry-run: what
 * a reload of @p path would change, and nothing changed. The reload's own apply (cfg_apply()) runs on a scratch copy of
 * the tables, built from the running configuration with the running nodes'
 * state (MAC, up, admin down); since a table is a function of the
 * configuration and the nodes' state (docs/pdt.md), the copy's tables are
 * the running ones, and after the apply the copy holds what the reload
 * would publish: the summary is the reload's, and each service's entries
 * that would change node are counted against the running table by name.
 */
static int
trial_apply(struct cnm_ctx *ctx, const struct cnm_config *nc, json_t *sum, json_t *moved,
		char *err, size_t errlen)
{
	struct cnm_lb *scratch;
	uint32_t i, k;
	int ret;

	scratch = cnm_lb_create(ctx->cfg, "trial", NULL);
	if (scratch == NULL) {
		snprintf(err, errlen, "cannot copy the tables to try the change on: %s",
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (i = 0; i < ctx->cfg->n_nodes; i++) {
		const char *name = ctx->cfg->nodes[i].name;
		int live = cnm_lb_node_find(ctx->lb, name), id = cnm_lb_node_find(scratch, name);
		const struct cnm_node *nd;
		uint8_t mac[8] = { 0 };

		if (live < 0 || id < 0)
			continue;
		nd = cnm_lb_node(ctx->lb, (uint32_t)live);
		memcpy(mac, &nd->mac, sizeof(nd->mac));
		(void)cnm_lb_node_set_mac(scratch, (uint16_t)id, nd->mac != 0 ? mac : NULL);
		(void)cnm_lb_node_set_admin_down(scratch, (uint16_t)id,
						 cnm_lb_node_admin_down(ctx->lb, (uint16_t)live));
		(void)cnm_lb_node_set_up(scratch, (uint16_t)id, nd->up);
	}
	ret = cfg_apply(scratch, ctx->cfg, nc, sum, err, errlen);
	for (i = 0; ret == 0 && moved != NULL && i < nc->n_services; i++) {
		int a = cnm_lb_svc_find(ctx->lb, nc->services[i].name);
		int b = cnm_lb_svc_find(scratch, nc->services[i].name);
		const struct cnm_pdt *pa, *pb;
		uint32_t n = 0;

		if (b < 0)
			continue;
		pb = cnm_lb_svc_pdt(scratch, (uint32_t)b);
		pa = a >= 0 ? cnm_lb_svc_pdt(ctx->lb, (uint32_t)a) : NULL;
		for (k = 0; k < pb->size; k++) {
			const struct cnm_cfg_node *x, *y;

			if (pa == NULL || pa->size != pb->size) {
				n = pb->size;
				break;
			}
			x = pa->entries[k] == CNM_NODE_NONE ? NULL :
				cnm_lb_node_cfg(ctx->lb, pa->entries[k]);
			y = pb->entries[k] == CNM_NODE_NONE ? NULL :
				cnm_lb_node_cfg(scratch, pb->entries[k]);
			n += (x == NULL) != (y == NULL) ||
			     (x != NULL && strcmp(x->name, y->name) != 0);
		}
		if (n > 0)
			json_object_set_new(moved, nc->services[i].name, json_integer(n));
	}
	cnm_lb_free(scratch);
	return ret;
}

static int
reload_dry_run(struct cnm_ctx *ctx, const char *path, char *err, size_t errlen, json_t **out)
{
	struct cnm_config *nc;
	json_t *sum, *moved;
	int ret;

	if (path == NULL || path[0] == '\0')
		path = ctx->config_path;
	nc = reload_load(ctx, path, err, errlen);
	if (nc == NULL)
		return -EINVAL;
	sum = summary_new();
	moved = json_object();
	ret = trial_apply(ctx, nc, sum, moved, err, errlen);
	if (ret < 0) {
		json_decref(sum);
		json_decref(moved);
	} else {
		json_object_set_new(sum, "entries_moved", moved);
		json_object_set_new(sum, "dry_run", json_true());
		*out = sum;
	}
	cnm_config_free(nc);
	return ret;
}

static json_t *
cmd_reload(struct cnm_ctx *ctx, struct ctl_req *r)
{
	char err[CNM_CTL_ERR_MAX - 32]; /* room for "reload --dry-run: " */
	const char *path;
	json_t *summary = NULL;

	if (arg_str(r, "path", 0, "a file name", &path) < 0)
		return NULL;
	if (json_is_true(json_object_get(r->req, "dry_run"))) {
		if (reload_dry_run(ctx, path, err, sizeof(err), &summary) < 0) {
			snprintf(r->err, sizeof(r->err), "reload --dry-run: %.990s", err);
			return NULL;
		}
		return json_pack("{s:s,s:o}", "file", path != NULL && path[0] != '\0' ? path :
				 ctx->config_path, "changes", summary);
	}
	if (reload_locked(ctx, path, err, sizeof(err), &summary) < 0) {
		snprintf(r->err, sizeof(r->err), "reload: %s", err);
		return NULL;
	}
	return json_pack("{s:s,s:o}", "file", ctx->config_path, "changes", summary);
}

static json_t *
cmd_ha_status(struct cnm_ctx *ctx, struct ctl_req *r)
{
	json_t *st;

	if (ctx->ha_status == NULL) {
		req_fail(r, "this cnmux runs without high availability (no \"ha\" in its configuration)");
		return NULL;
	}
	st = ctx->ha_status(ctx->ha_arg);
	if (st == NULL)
		req_fail(r, "out of memory");
	return st;
}

/* Every command, with the arguments it takes besides "cmd". */
static const char *const keys_none[] = { NULL };
static const char *const keys_service[] = { "service", NULL };
static const char *const keys_node[] = { "node", NULL };
static const char *const keys_node_add[] = { "node", "services", NULL };
static const char *const keys_drain[] = { "node", "service", NULL };
static const char *const keys_check[] = { "node", "check", NULL };
static const char *const keys_weight[] = { "node", "service", "weight", NULL };
static const char *const keys_pdt[] = { "service", "offset", "count", NULL };
static const char *const keys_conns[] = { "service", "node", "max", NULL };
static const char *const keys_reload[] = { "path", "dry_run", NULL };
static const char *const keys_explain[] = { "frame", "packet", NULL };
static const char *const keys_save[] = { "path", NULL };

static const struct {
	const char *name;
	const char *const *keys;
	json_t *(*fn)(struct cnm_ctx *ctx, struct ctl_req *r);
	int change;  /* changes the tables: only on the HA primary, checkpointed */
} cnm_ctl_cmds[] = {
	{ "service show", keys_service, cmd_service_show, 0 },
	{ "service add", keys_service, cmd_service_add, 1 },
	{ "service del", keys_service, cmd_service_del, 1 },
	{ "node show", keys_node, cmd_node_show, 0 },
	{ "node add", keys_node_add, cmd_node_add, 1 },
	{ "node del", keys_node, cmd_node_del, 1 },
	{ "node up", keys_node, cmd_node_up, 1 },
	{ "node down", keys_node, cmd_node_down, 1 },
	{ "node drain", keys_drain, cmd_node_drain, 1 },
	{ "node weight", keys_weight, cmd_node_weight, 1 },
	{ "node check", keys_check, cmd_node_check, 1 },
	{ "pdt show", keys_pdt, cmd_pdt_show, 0 },
	{ "conns count", keys_none, cmd_conns_count, 0 },
	{ "conns show", keys_conns, cmd_conns_show, 0 },
	{ "stats", keys_none, cmd_stats, 0 },
	{ "stats rate", keys_none, cmd_stats_rate, 0 },
	{ "path show", keys_none, cmd_path_show, 0 },
	{ "zero", keys_none, cmd_zero, 0 },
	{ "explain", keys_explain, cmd_explain, 0 },
	{ "save", keys_save, cmd_save, 0 },
	{ "reload", keys_reload, cmd_reload, 1 },
	{ "ha status", keys_none, cmd_ha_status, 0 },
};

static void
cmd_list(char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < RTE_DIM(cnm_ctl_cmds) && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
					 cnm_ctl_cmds[i].name);
}

static json_t *
error_response(const char *msg)
{
	char buf[CNM_CTL_ERR_MAX];

	snprintf(buf, sizeof(buf), "%s", msg);
	sanitize(buf);
	return json_pack("{s:b,s:s}", "ok", 0, "error", buf);
}

/* Are all keys of the request known to the command? */
static int
check_keys(struct ctl_req *r, const char *const *keys)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)(uintptr_t)r->req, key, v) {
		if (strcmp(key, "cmd") == 0)
			continue;
		for (i = 0; keys[i] != NULL; i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (keys[i] == NULL) {
			char list[256];
			size_t used = 0;

			list[0] = '\0';
			for (i = 0; keys[i] != NULL; i++)
				used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
							 i ? ", " : "", keys[i]);
			return req_fail(r, "unknown argument \"%s\" (expected %s%s)", key,
					keys[0] != NULL ? "one of: " : "none",
					list);
		}
	}
	return 0;
}

/* One request, answered; cnm_control_exec_as() writes its audit line. */
static json_t *
exec_req(struct cnm_ctx *ctx, const json_t *req)
{
	struct ctl_req r;
	char list[512], got[80];
	const char *cmd;
	json_t *resp;
	size_t i;

	memset(&r, 0, sizeof(r));
	r.req = req;
	r.cmd = "request";
	cmd_list(list, sizeof(list));
	if (!json_is_object(req)) {
		cnm_json_describe(got, sizeof(got), req);
		snprintf(r.err, sizeof(r.err), "request: expected a JSON object with \"cmd\" (got %s)",
			 got);
		return error_response(r.err);
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (cmd == NULL) {
		cnm_json_describe(got, sizeof(got), json_object_get(req, "cmd"));
		snprintf(r.err, sizeof(r.err), "request: cmd: expected one of: %s (got %s)", list,
			 got);
		return error_response(r.err);
	}
	for (i = 0; i < RTE_DIM(cnm_ctl_cmds); i++)
		if (strcmp(cmd, cnm_ctl_cmds[i].name) == 0)
			break;
	if (i == RTE_DIM(cnm_ctl_cmds)) {
		cnm_json_describe(got, sizeof(got), json_object_get(req, "cmd"));
		snprintf(r.err, sizeof(r.err), "unknown command %s (expected one of: %s)", got,
			 list);
		return error_response(r.err);
	}
	r.cmd = cnm_ctl_cmds[i].name;
	if (check_keys(&r, cnm_ctl_cmds[i].keys) < 0)
		return error_response(r.err);
	if (ctx == NULL || ctx->lb == NULL || ctx->cfg == NULL) {
		snprintf(r.err, sizeof(r.err), "%s: cnmux is not running yet", r.cmd);
		return error_response(r.err);
	}
	if (cnm_ctl_cmds[i].change && ctx->ha_may_change != NULL) {
		char msg[CNM_CTL_ERR_MAX - 64];

		if (ctx->ha_may_change(ctx->ha_arg, msg, sizeof(msg)) < 0) {
			snprintf(r.err, sizeof(r.err), "%s: %s", r.cmd, msg);
			return error_response(r.err);
		}
	}
	ctl_lock(ctx);
	resp = cnm_ctl_cmds[i].fn(ctx, &r);
	ctl_unlock(ctx);
	if (resp == NULL) {
		if (r.err[0] == '\0')
			snprintf(r.err, sizeof(r.err), "%s: out of memory", r.cmd);
		return error_response(r.err);
	}
	if (cnm_ctl_cmds[i].change && ctx->ha_commit != NULL) {
		char msg[CNM_CTL_ERR_MAX - 64];

		/* without the lock: it waits for the secondary's ACK */
		if (ctx->ha_commit(ctx->ha_arg, msg, sizeof(msg)) < 0) {
			snprintf(r.err, sizeof(r.err), "%s: %s", r.cmd, msg);
			sanitize(r.err);
			json_object_set_new(resp, "ok", json_false());
			json_object_set_new(resp, "error", json_string(r.err));
			return resp;
		}
	}
	json_object_set_new(resp, "ok", json_true());
	return resp;
}

char *
cnm_control_changes_text(const json_t *changes)
{
	json_t *c = json_object();
	const char *k;
	json_t *v;
	char *t;

	if (c == NULL)
		return NULL;
	json_object_foreach((json_t *)(uintptr_t)changes, k, v)
		if (!(json_is_array(v) && json_array_size(v) == 0) &&
				!(json_is_integer(v) && json_integer_value(v) == 0))
			json_object_set(c, k, v);
	t = json_object_size(c) == 0 ? strdup("no change") : json_dumps(c, JSON_COMPACT);
	json_decref(c);
	return t;
}

/*
 * The audit line of a request that changes something (the tables, or the
 * counters with `zero`), refused or not: who, the command and its
 * arguments, the result (a reload's changes, or the error). Requests that
 * only read are not written.
 */
static void
audit(const json_t *req, const json_t *resp, const char *who)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	char *args = NULL, *changes = NULL;
	json_t *a;
	size_t i;

	if (cmd == NULL)
		return;
	for (i = 0; i < RTE_DIM(cnm_ctl_cmds); i++)
		if (strcmp(cmd, cnm_ctl_cmds[i].name) == 0)
			break;
	if (i == RTE_DIM(cnm_ctl_cmds) || (!cnm_ctl_cmds[i].change && strcmp(cmd, "zero") != 0))
		return;
	a = json_deep_copy(req);
	if (a != NULL) {
		json_object_del(a, "cmd");
		args = json_dumps(a, JSON_COMPACT);
		json_decref(a);
	}
	if (json_is_true(json_object_get(resp, "ok"))) {
		if (json_object_get(resp, "changes") != NULL)
			changes = cnm_control_changes_text(json_object_get(resp, "changes"));
		CNM_AUDIT(NOTICE, "%s: %s %.400s: ok%s%.600s", who != NULL ? who : "local", cmd,
			args != NULL ? args : "?", changes != NULL ? ", " : "",
			changes != NULL ? changes : "");
	} else {
		const char *e = json_string_value(json_object_get(resp, "error"));

		CNM_AUDIT(WARNING, "%s: %s %.400s: refused: %.600s", who != NULL ? who : "local",
			cmd, args != NULL ? args : "?", e != NULL ? e : "?");
	}
	free(args);
	free(changes);
}

json_t *
cnm_control_exec_as(struct cnm_ctx *ctx, const json_t *req, const char *who)
{
	json_t *resp = exec_req(ctx, req);

	if (resp != NULL && json_is_object(req))
		audit(req, resp, who);
	return resp;
}

json_t *
cnm_control_exec(struct cnm_ctx *ctx, const json_t *req)
{
	return cnm_control_exec_as(ctx, req, NULL);
}

char *
cnm_control_exec_text(struct cnm_ctx *ctx, const char *req, size_t len)
{
	return cnm_control_exec_text_as(ctx, req, len, NULL);
}

char *
cnm_control_exec_text_as(struct cnm_ctx *ctx, const char *req, size_t len, const char *who)
{
	json_error_t jerr;
	json_t *j, *resp;
	char *out;

	j = json_loadb(req, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (j == NULL) {
		char msg[CNM_CTL_ERR_MAX];

		snprintf(msg, sizeof(msg), "request: line %d column %d: expected valid JSON (%s)",
			 jerr.line, jerr.column, jerr.text);
		resp = error_response(msg);
	} else {
		resp = cnm_control_exec_as(ctx, j, who);
		json_decref(j);
	}
	out = resp != NULL ? json_dumps(resp, JSON_COMPACT) : NULL;
	json_decref(resp);
	return out;
}
