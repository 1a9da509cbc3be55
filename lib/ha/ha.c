/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A holder of the tables in high availability (docs/ha.md): the checkpoint
 * connections, roles (FIG. 9), failover, snapshots and deltas.
 *
 * Everything runs on the control lcore, from cnm_ha_poll() (every loop) and
 * from the change commit (ctx->ha_commit, which waits for the secondary's
 * ACK while it keeps serving these connections). Sockets are non-blocking;
 * every change of the tables is made under ctx->ctl_lock, through the
 * control module's reload-diff code and cnm_lb_svc_set_pdt().
 *
 * Connections: one TCP connection per pair of holders, opened by the one
 * whose id sorts first; the first message each way is a HELLO, which names
 * the sender.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_jhash.h>
#include <rte_log.h>

#include "cnm_ha.h"
#include "cnm_health.h"

RTE_LOG_REGISTER(cnm_logtype_ha, cnm.ha, NOTICE);
#define HA_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cnm_logtype_ha, "ha: " fmt "\n", ##__VA_ARGS__)

#define SELF (-1)
#define NONE (-2)
#define PENDING_MAX 8
#define READ_MAX (4u << 20)          /* bytes read from one connection per poll */
#define OUT_MAX (256u << 20)         /* queued bytes after which a peer is dropped */
#define SNAPSHOT_EVERY_MS 200        /* at most one snapshot per peer this often */
#define CONNS_EVERY_MS 200           /* displaced connections are checkpointed this often */
#define CONNS_MAX 4096               /* per CONNS message */
#define CONNS_FULL_MS 5000           /* every displaced connection is re-sent this often */
#define SENT_MAX (1u << 22)          /* fingerprints of connections sent, at most */
#define PENDING_HELLO_MS 2000        /* an accepted connection must say HELLO by then */

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

struct ha_peer {
	char id[CNM_NAME_MAX];
	struct cnm_endpoint addr;
	int fd;
	int connecting;          /* outgoing connect() in progress */
	int identified;          /* its HELLO came on this connection */
	int initiator;           /* this holder opens the connection */
	struct buf in, out;
	uint64_t last_rx;        /* ms; 0 never */
	uint64_t next_connect;
	/* what it reported (HELLO, HEARTBEAT, ACK) */
	enum cnm_ha_state role;
	char configured[16];
	uint64_t term, epoch, seq, digest;
	uint64_t ack_epoch, ack_seq;
	/* primary side: every message since a snapshot has been queued to it */
	int synced;
	uint64_t last_snapshot;
};

struct pending {
	int fd;
	struct buf in;
	uint64_t since;
};

/* A service's PDT as the last checkpoint had it (primary) */
struct pdt_seen {
	char name[CNM_NAME_MAX];
	uint64_t h;
};

struct cnm_ha {
	struct cnm_ctx *ctx;
	struct cnm_ha_io io;
	struct cnm_cfg_ha cfg;
	int lfd;
	uint32_t n_peers;
	struct ha_peer peers[CNM_HA_PEERS_MAX];
	struct pending pend[PENDING_MAX];
	enum cnm_ha_state st;
	uint64_t term;                /* highest epoch seen */
	uint64_t epoch, seq;          /* of the state held */
	int primary;                  /* peer index, SELF, NONE */
	char secondary[CNM_NAME_MAX]; /* designated by the primary, "" none */
	uint64_t digest;              /* of the state held */
	uint64_t nodes_h;             /* hash of the nodes' up/admin state last checkpointed */
	uint64_t start_ms, next_hb, next_conns;
	uint64_t lb_gen, cfg_gen;     /* what the last checkpoint saw */
	struct pdt_seen *seen;
	uint32_t n_seen;
	uint64_t rejected[CNM_HA_R_MAX];
	uint64_t snapshots_sent, snapshots_applied, deltas_sent, deltas_applied;
	uint64_t acks_received, takeovers, conns_sent, conns_received, conns_inserted;
	/* Displaced connections already sent (fingerprints of connection and
	 * node): a period sends only the others; the set is emptied, so that
	 * everything is sent again, every CONNS_FULL_MS, when the primary
	 * changes and when a peer (re)joins. Open addressing, 0 = empty. */
	uint64_t *sent;
	uint32_t sent_cap, sent_n;
	int conns_to;                 /* the primary the set was sent to */
	uint64_t next_full;
	uint64_t primary_last_rx;     /* last message of the primary before a takeover */
	int64_t last_takeover_ms;     /* silence of the primary when it was taken over, -1 */
	int stepping;                 /* inside ha_step(): no recursion */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *
state_name(enum cnm_ha_state s)
{
	switch (s) {
	case CNM_HA_ST_PRIMARY:
		return "primary";
	case CNM_HA_ST_SECONDARY:
		return "secondary";
	case CNM_HA_ST_SLAVE:
		return "slave";
	case CNM_HA_ST_JOINING:
		return "joining";
	}
	return "?";
}

static enum cnm_ha_state
state_parse(const char *s)
{
	if (s == NULL)
		return CNM_HA_ST_JOINING;
	if (strcmp(s, "primary") == 0)
		return CNM_HA_ST_PRIMARY;
	if (strcmp(s, "secondary") == 0)
		return CNM_HA_ST_SECONDARY;
	if (strcmp(s, "slave") == 0)
		return CNM_HA_ST_SLAVE;
	return CNM_HA_ST_JOINING;
}

/* ---- buffers and sockets ---- */

static int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		uint8_t *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL)
			return -ENOMEM;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static void
buf_eat(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static socklen_t
sockaddr_of(const struct cnm_endpoint *e, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (e->ip.family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(e->port);
		memcpy(&a->sin6_addr, e->ip.bytes, 16);
		return sizeof(*a);
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;

	a->sin_family = AF_INET;
	a->sin_port = htons(e->port);
	memcpy(&a->sin_addr, e->ip.bytes, 4);
	return sizeof(*a);
}

static void
peer_close(struct cnm_ha *ha, struct ha_peer *p, const char *why)
{
	if (p->fd >= 0) {
		HA_LOG(INFO, "connection to %s closed: %s", p->id, why);
		close(p->fd);
	}
	p->fd = -1;
	p->connecting = 0;
	p->identified = 0;
	p->synced = 0;
	p->in.len = 0;
	p->out.len = 0;
	p->next_connect = now_ms() + ha->cfg.heartbeat_ms;
}

/* Write what is queued; 0, or -1 when the connection was closed. */
static int
peer_flush(struct cnm_ha *ha, struct ha_peer *p)
{
	while (p->fd >= 0 && !p->connecting && p->out.len > 0) {
		ssize_t n = send(p->fd, p->out.p, p->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			buf_eat(&p->out, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return 0;
		peer_close(ha, p, n < 0 ? strerror(errno) : "send returned 0");
		return -1;
	}
	return 0;
}

/* Queue one message to @p p (dropped when it has no connection). */
static int
peer_send(struct cnm_ha *ha, struct ha_peer *p, uint8_t type, uint16_t flags, uint64_t epoch,
		uint64_t seq, const char *payload)
{
	uint8_t *frame;
	size_t len;
	int ret;

	if (p->fd < 0 || p->connecting)
		return -ENOTCONN;
	ret = cnm_ha_encode(type, flags, epoch, seq, payload, payload ? (uint32_t)strlen(payload) : 0,
			&frame, &len);
	if (ret < 0)
		return ret;
	if (p->out.len + len > OUT_MAX) {
		free(frame);
		peer_close(ha, p, "too much queued");
		return -ENOBUFS;
	}
	ret = buf_add(&p->out, frame, len);
	free(frame);
	if (ret < 0)
		return ret;
	return peer_flush(ha, p) < 0 ? -ENOTCONN : 0;
}

static void
peer_connect(struct cnm_ha *ha, struct ha_peer *p, uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(&p->addr, &ss);
	int fd, one = 1;

	p->next_connect = now + ha->cfg.heartbeat_ms;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		close(fd);
		return;
	}
	p->fd = fd;
	p->connecting = 1;
	p->identified = 0;
	p->synced = 0;
	p->in.len = 0;
	p->out.len = 0;
}

/* ---- the state: configuration, nodes, PDTs ---- */

/* Node id -> index into ctx->cfg->nodes (CNM_NODE_NONE: not configured). */
static uint16_t *
node_map(const struct cnm_ctx *ctx)
{
	const struct cnm_lb *lb = ctx->lb;
	uint16_t *m = malloc(CNM_MAX_NODES * sizeof(*m));
	uint32_t id;

	if (m == NULL)
		return NULL;
	for (id = 0; id < CNM_MAX_NODES; id++) {
		int ci = -1;

		if (id < cnm_lb_node_end(lb) && cnm_lb_node_cfg(lb, id) != NULL)
			ci = cnm_config_node_index(ctx->cfg, cnm_lb_node_cfg(lb, id)->name);
		m[id] = ci < 0 ? CNM_NODE_NONE : (uint16_t)ci;
	}
	return m;
}

/* The configuration every holder shares: the running one without ports,
 * control and ha, which are each holder's own. */
static json_t *
repl_cfg(const struct cnm_ctx *ctx)
{
	json_t *j = cnm_control_cfg_json(ctx->cfg);

	if (j != NULL) {
		json_object_del(j, "ports");
		json_object_del(j, "control");
		json_object_del(j, "ha");
	}
	return j;
}

static const struct cnm_lb *sort_lb;

static int
svc_cmp(const void *a, const void *b)
{
	return strcmp(cnm_lb_svc_cfg(sort_lb, *(const uint16_t *)a)->name,
		      cnm_lb_svc_cfg(sort_lb, *(const uint16_t *)b)->name);
}

/* Service ids in name order; returns how many. */
static uint32_t
svc_sorted(const struct cnm_lb *lb, uint16_t *ids)
{
	uint32_t i, n = 0;

	for (i = 0; i < cnm_lb_svc_end(lb); i++)
		if (cnm_lb_svc_cfg(lb, i) != NULL)
			ids[n++] = (uint16_t)i;
	sort_lb = lb;
	qsort(ids, n, sizeof(*ids), svc_cmp);
	return n;
}

/* Hash of one service's PDT in canonical form (entries as configuration indexes). */
static uint64_t
pdt_hash(uint64_t h, const char *name, const struct cnm_pdt *p, const uint16_t *map)
{
	uint8_t b[4];
	uint32_t i;

	h = cnm_fnv1a64(h, name, strlen(name) + 1);
	b[0] = (uint8_t)p->size;
	b[1] = (uint8_t)(p->size >> 8);
	b[2] = (uint8_t)(p->size >> 16);
	b[3] = (uint8_t)(p->size >> 24);
	h = cnm_fnv1a64(h, b, 4);
	for (i = 0; i < p->size; i++) {
		uint16_t e = p->entries[i] == CNM_NODE_NONE ? CNM_NODE_NONE : map[p->entries[i]];

		b[0] = (uint8_t)e;
		b[1] = (uint8_t)(e >> 8);
		h = cnm_fnv1a64(h, b, 2);
	}
	return h;
}

static char *
pdt_hex(const struct cnm_pdt *p, const uint16_t *map)
{
	static const char hx[] = "0123456789abcdef";
	char *t = malloc((size_t)p->size * 4 + 1);
	uint32_t i;

	if (t == NULL)
		return NULL;
	for (i = 0; i < p->size; i++) {
		uint16_t e = p->entries[i] == CNM_NODE_NONE ? CNM_NODE_NONE : map[p->entries[i]];

		t[4 * i] = hx[e >> 12];
		t[4 * i + 1] = hx[(e >> 8) & 15];
		t[4 * i + 2] = hx[(e >> 4) & 15];
		t[4 * i + 3] = hx[e & 15];
	}
	t[4 * p->size] = '\0';
	return t;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The state of this holder. full: every PDT; else only those whose hash
 * differs from ha->seen (and ha->seen is updated when @p remember).
 * *digest receives the digest of the whole state, *nodes_h the hash of the
 * nodes' state. Caller holds the lock.
 */
static json_t *
state_build(struct cnm_ha *ha, int full, int remember, uint64_t *digest, uint64_t *nodes_h)
{
	const struct cnm_ctx *ctx = ha->ctx;
	const struct cnm_lb *lb = ctx->lb;
	uint16_t *map = node_map(ctx), *ids = NULL;
	json_t *root = NULL, *cfg = NULL, *nodes, *pdts;
	struct pdt_seen *seen = NULL;
	char *text = NULL;
	uint64_t h, nh = CNM_FNV_INIT;
	uint32_t i, n;

	if (map == NULL)
		return NULL;
	ids = malloc((cnm_lb_svc_end(lb) + 1) * sizeof(*ids));
	seen = calloc(cnm_lb_svc_end(lb) + 1, sizeof(*seen));
	cfg = repl_cfg(ctx);
	text = cfg ? json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	root = json_object();
	nodes = json_object();
	pdts = json_object();
	if (ids == NULL || seen == NULL || text == NULL || root == NULL || nodes == NULL ||
	    pdts == NULL) {
		json_decref(nodes);
		json_decref(pdts);
		json_decref(root);
		root = NULL;
		goto out;
	}
	h = cnm_fnv1a64(CNM_FNV_INIT, text, strlen(text));
	for (i = 0; i < ctx->cfg->n_nodes; i++) {
		const char *name = ctx->cfg->nodes[i].name;
		int id = cnm_lb_node_find(lb, name);
		uint8_t st[2] = { 0, 0 };

		if (id < 0)
			continue;
		st[0] = cnm_lb_node(lb, (uint32_t)id)->up;
		st[1] = (uint8_t)cnm_lb_node_admin_down(lb, (uint32_t)id);
		nh = cnm_fnv1a64(nh, name, strlen(name) + 1);
		nh = cnm_fnv1a64(nh, st, 2);
		json_object_set_new(nodes, name, json_pack("{s:b,s:b}", "up", st[0],
				"admin_down", st[1]));
	}
	n = svc_sorted(lb, ids);
	for (i = 0; i < n; i++) {
		const char *sname = cnm_lb_svc_cfg(lb, ids[i])->name;
		const struct cnm_pdt *p = cnm_lb_svc_pdt(lb, ids[i]);
		uint64_t sh = pdt_hash(CNM_FNV_INIT, sname, p, map);
		uint32_t k;
		int changed = 1;

		h = pdt_hash(h, sname, p, map);
		snprintf(seen[i].name, sizeof(seen[i].name), "%s", sname);
		seen[i].h = sh;
		for (k = 0; k < ha->n_seen; k++)
			if (strcmp(ha->seen[k].name, sname) == 0) {
				changed = ha->seen[k].h != sh;
				break;
			}
		if (full || changed) {
			char *hex = pdt_hex(p, map);

			if (hex == NULL) {
				json_decref(root);
				json_decref(nodes);
				json_decref(pdts);
				root = NULL;
				goto out;
			}
			json_object_set_new(pdts, sname, json_pack("{s:I,s:s}",
					"size", (json_int_t)p->size, "entries", hex));
			free(hex);
		}
	}
	json_object_set(root, "config", cfg);
	json_object_set_new(root, "nodes_state", nodes);
	json_object_set_new(root, "pdts", pdts);
	{
		char dg[24];

		snprintf(dg, sizeof(dg), "%016llx", (unsigned long long)h);
		json_object_set_new(root, "digest", json_string(dg));
	}
	*digest = h;
	if (nodes_h != NULL)
		*nodes_h = nh;
	if (remember) {
		free(ha->seen);
		ha->seen = seen;
		ha->n_seen = n;
		seen = NULL;
	}
out:
	free(text);
	json_decref(cfg);
	free(seen);
	free(ids);
	free(map);
	return root;
}

uint64_t
cnm_ha_digest(struct cnm_ctx *ctx)
{
	struct cnm_ha tmp;
	uint64_t d = 0;
	json_t *j;

	memset(&tmp, 0, sizeof(tmp));
	tmp.ctx = ctx;
	j = state_build(&tmp, 0, 0, &d, NULL);
	json_decref(j);
	return d;
}

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One service's PDT from a message, as local node ids. */
static int
pdt_decode(const struct cnm_ctx *ctx, const char *name, const json_t *o, uint16_t **out,
		uint32_t *size, char *err, size_t errlen)
{
	const json_t *jsz = json_object_get(o, "size");
	const char *hex = json_string_value(json_object_get(o, "entries"));
	json_int_t sz = json_is_integer(jsz) ? json_integer_value(jsz) : -1;
	uint16_t *e;
	uint32_t i;

	if (sz < 1 || sz > CNM_PDT_SIZE_MAX || hex == NULL || strlen(hex) != (size_t)sz * 4)
		return fail(err, errlen, "pdts.%s: expected size and 4 hex digits per entry", name);
	e = malloc((size_t)sz * sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	for (i = 0; i < (uint32_t)sz; i++) {
		int d0 = hexval(hex[4 * i]), d1 = hexval(hex[4 * i + 1]);
		int d2 = hexval(hex[4 * i + 2]), d3 = hexval(hex[4 * i + 3]);
		uint32_t v;
		int id;

		if (d0 < 0 || d1 < 0 || d2 < 0 || d3 < 0) {
			free(e);
			return fail(err, errlen, "pdts.%s: entry %u is not hex", name, i);
		}
		v = (uint32_t)(d0 << 12 | d1 << 8 | d2 << 4 | d3);
		if (v == CNM_NODE_NONE) {
			e[i] = CNM_NODE_NONE;
			continue;
		}
		if (v >= ctx->cfg->n_nodes ||
		    (id = cnm_lb_node_find(ctx->lb, ctx->cfg->nodes[v].name)) < 0) {
			free(e);
			return fail(err, errlen, "pdts.%s: entry %u names node %u of %u", name, i,
				    v, ctx->cfg->n_nodes);
		}
		e[i] = (uint16_t)id;
	}
	*out = e;
	*size = (uint32_t)sz;
	return 0;
}

/* The PDTs of every service before a change is applied, by service id. */
struct pdt_keep {
	char name[CNM_NAME_MAX];
	uint32_t size;
	uint16_t *e;
};

/*
 * Apply a SNAPSHOT (full) or DELTA state. Caller holds the lock. The
 * replica's PDTs change only as the primary says: those a delta does not
 * carry are put back as they were after the configuration is applied (the
 * reload-diff code may have rebuilt them).
 */
static int
state_apply(struct cnm_ha *ha, const json_t *st, int full, char *err, size_t errlen)
{
	struct cnm_ctx *ctx = ha->ctx;
	struct cnm_lb *lb = ctx->lb;
	const json_t *cfgj = json_object_get(st, "config");
	const json_t *nodes = json_object_get(st, "nodes_state");
	const json_t *pdts = json_object_get(st, "pdts");
	static const char *const own[] = { "ports", "control", "ha" };
	struct pdt_keep *keep = NULL;
	json_t *local, *merged, *v;
	const char *key;
	uint32_t i, nk = 0;
	int ret = 0;

	if (!json_is_object(cfgj) || !json_is_object(nodes) || !json_is_object(pdts) ||
	    !json_is_string(json_object_get(st, "digest")))
		return fail(err, errlen, "state: expected config, nodes_state, pdts, digest");
	if (!full) {
		keep = calloc(cnm_lb_svc_end(lb) + 1, sizeof(*keep));
		if (keep == NULL)
			return -ENOMEM;
		for (i = 0; i < cnm_lb_svc_end(lb); i++) {
			const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, i);
			const struct cnm_pdt *p = cnm_lb_svc_pdt(lb, i);

			if (s == NULL || json_object_get(pdts, s->name) != NULL)
				continue;
			keep[nk].e = malloc(p->size * sizeof(uint16_t));
			if (keep[nk].e == NULL) {
				ret = -ENOMEM;
				goto out;
			}
			memcpy(keep[nk].e, p->entries, p->size * sizeof(uint16_t));
			keep[nk].size = p->size;
			snprintf(keep[nk].name, sizeof(keep[nk].name), "%s", s->name);
			nk++;
		}
	}
	local = cnm_control_cfg_json(ctx->cfg);
	merged = json_deep_copy(cfgj);
	if (local == NULL || merged == NULL) {
		json_decref(local);
		json_decref(merged);
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < RTE_DIM(own); i++) {
		v = json_object_get(local, own[i]);
		if (v != NULL)
			json_object_set(merged, own[i], v);
		else
			json_object_del(merged, own[i]);
	}
	ret = cnm_control_apply_json(ctx, merged, "checkpoint", err, errlen);
	json_decref(merged);
	json_decref(local);
	if (ret < 0)
		goto out;
	json_object_foreach((json_t *)nodes, key, v) {
		int id = cnm_lb_node_find(lb, key);

		if (id < 0) {
			ret = fail(err, errlen, "nodes_state: no node \"%.64s\"", key);
			goto out;
		}
		(void)cnm_lb_node_set_admin_down(lb, (uint16_t)id,
				json_is_true(json_object_get(v, "admin_down")));
		/* a node whose MAC this holder has not resolved yet stays down
		 * here (-EAGAIN): the PDT installed below still names it */
		(void)cnm_lb_node_set_up(lb, (uint16_t)id, json_is_true(json_object_get(v, "up")));
	}
	json_object_foreach((json_t *)pdts, key, v) {
		int sid = cnm_lb_svc_find(lb, key);
		uint16_t *e = NULL;
		uint32_t size = 0;

		if (sid < 0) {
			ret = fail(err, errlen, "pdts: no service \"%.64s\"", key);
			goto out;
		}
		ret = pdt_decode(ctx, key, v, &e, &size, err, errlen);
		if (ret == 0)
			ret = cnm_lb_svc_set_pdt(lb, (uint16_t)sid, e, size);
		free(e);
		if (ret < 0) {
			if (err[0] == '\0' || ret != -EINVAL)
				fail(err, errlen, "pdts.%.64s: %s", key, strerror(-ret));
			goto out;
		}
	}
	for (i = 0; i < cnm_lb_svc_end(lb); i++) {
		const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, i);
		uint32_t k;

		if (s == NULL || json_object_get(pdts, s->name) != NULL)
			continue;
		for (k = 0; k < nk; k++)
			if (strcmp(keep[k].name, s->name) == 0)
				break;
		if (k == nk || keep[k].size != cnm_lb_svc_pdt_size(lb, i)) {
			ret = fail(err, errlen, "pdts: nothing for service \"%s\"", s->name);
			goto out;
		}
		if (memcmp(keep[k].e, cnm_lb_svc_pdt(lb, i)->entries,
				keep[k].size * sizeof(uint16_t)) == 0)
			continue;
		ret = cnm_lb_svc_set_pdt(lb, (uint16_t)i, keep[k].e, keep[k].size);
		if (ret < 0) {
			fail(err, errlen, "pdts.%s: cannot put back: %s", s->name,
			     strerror(-ret));
			goto out;
		}
	}
out:
	for (i = 0; keep != NULL && i < nk; i++)
		free(keep[i].e);
	free(keep);
	return ret;
}

/* ---- messages ---- */

static struct ha_peer *
peer_by_id(struct cnm_ha *ha, const char *id)
{
	uint32_t i;

	for (i = 0; id != NULL && i < ha->n_peers; i++)
		if (strcmp(ha->peers[i].id, id) == 0)
			return &ha->peers[i];
	return NULL;
}

static int
peer_live(const struct cnm_ha *ha, const struct ha_peer *p, uint64_t now)
{
	return p->fd >= 0 && p->identified && p->last_rx != 0 &&
		now - p->last_rx <= ha->cfg.failover_ms;
}

static void
send_hello(struct cnm_ha *ha, struct ha_peer *p, uint8_t type, uint16_t flags)
{
	char dg[24];
	json_t *j;
	char *t;

	snprintf(dg, sizeof(dg), "%016llx", (unsigned long long)ha->digest);
	j = json_pack("{s:s,s:s,s:s,s:I,s:s}", "id", ha->cfg.id, "role", state_name(ha->st),
		      "configured", cnm_ha_role_name(ha->cfg.role), "term", (json_int_t)ha->term,
		      "digest", dg);
	if (j == NULL)
		return;
	json_object_set_new(j, "primary", ha->primary == SELF ? json_string(ha->cfg.id) :
			    ha->primary >= 0 ? json_string(ha->peers[ha->primary].id) :
			    json_null());
	json_object_set_new(j, "secondary", ha->secondary[0] ? json_string(ha->secondary) :
			    json_null());
	t = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (t != NULL)
		peer_send(ha, p, type, flags, ha->epoch, ha->seq, t);
	free(t);
}

static void
set_state(struct cnm_ha *ha)
{
	enum cnm_ha_state st;

	if (ha->primary == SELF)
		st = CNM_HA_ST_PRIMARY;
	else if (ha->primary == NONE)
		st = CNM_HA_ST_JOINING;
	else if (strcmp(ha->secondary, ha->cfg.id) == 0)
		st = CNM_HA_ST_SECONDARY;
	else
		st = CNM_HA_ST_SLAVE;
	if (st != ha->st) {
		HA_LOG(NOTICE, "%s: %s -> %s (epoch %llu, primary %s)", ha->cfg.id,
		       state_name(ha->st), state_name(st), (unsigned long long)ha->term,
		       ha->primary == SELF ? ha->cfg.id :
		       ha->primary >= 0 ? ha->peers[ha->primary].id : "unknown");
		printf("cnmux: ha: %s is %s (epoch %llu)\n", ha->cfg.id, state_name(st),
		       (unsigned long long)ha->term);
		fflush(stdout);
	}
	ha->st = st;
	cnm_health_set_follower(ha->io.health, st != CNM_HA_ST_PRIMARY);
}

static void
step_down(struct cnm_ha *ha, int to)
{
	uint32_t i;

	if (ha->primary == SELF)
		HA_LOG(WARNING, "%s: a higher epoch exists: no longer the primary", ha->cfg.id);
	ha->primary = to;
	ha->secondary[0] = '\0';
	for (i = 0; i < ha->n_peers; i++)
		ha->peers[i].synced = 0;
	set_state(ha);
}

/* What a message says about the epoch and the primary (every holder accepts
 * only the highest epoch it has seen; in one epoch, the lower id). */
static void
observe(struct cnm_ha *ha, struct ha_peer *p, uint64_t term, int claims_primary)
{
	int idx = (int)(p - ha->peers);

	if (term > ha->term) {
		ha->term = term;
		if (claims_primary)
			step_down(ha, idx);
		else if (ha->primary == SELF || (ha->primary >= 0 &&
			 ha->peers[ha->primary].term < term))
			step_down(ha, NONE);
		return;
	}
	if (!claims_primary || term < ha->term) {
		if (claims_primary)
			ha->rejected[CNM_HA_R_OLD_EPOCH]++;
		return;
	}
	/* a primary of the highest epoch */
	if (ha->primary == NONE) {
		step_down(ha, idx);
	} else if (ha->primary == SELF) {
		if (strcmp(p->id, ha->cfg.id) < 0)
			step_down(ha, idx);
	} else if (ha->primary != idx && strcmp(p->id, ha->peers[ha->primary].id) < 0) {
		step_down(ha, idx);
	}
}

static void
on_hello(struct cnm_ha *ha, struct ha_peer *p, const struct cnm_ha_hdr *h, const json_t *j)
{
	const json_t *jt = json_object_get(j, "term");
	const char *dg = json_string_value(json_object_get(j, "digest"));
	const char *role = json_string_value(json_object_get(j, "role"));
	const char *cf = json_string_value(json_object_get(j, "configured"));
	const char *sec = json_string_value(json_object_get(j, "secondary"));

	if (!json_is_integer(jt) || dg == NULL || role == NULL) {
		ha->rejected[CNM_HA_R_PAYLOAD]++;
		return;
	}
	p->role = state_parse(role);
	snprintf(p->configured, sizeof(p->configured), "%s", cf ? cf : "");
	p->term = (uint64_t)json_integer_value(jt);
	p->epoch = h->epoch;
	p->seq = h->seq;
	p->digest = strtoull(dg, NULL, 16);
	observe(ha, p, p->term, p->role == CNM_HA_ST_PRIMARY);
	if (ha->primary == (int)(p - ha->peers)) {
		snprintf(ha->secondary, sizeof(ha->secondary), "%s", sec ? sec : "");
		set_state(ha);
	}
	if (h->flags & CNM_HA_F_WANT_SNAPSHOT) {
		p->synced = 0;
		p->last_snapshot = 0;
	}
}

static void
send_ack(struct cnm_ha *ha, struct ha_peer *p)
{
	peer_send(ha, p, CNM_HA_ACK, 0, ha->epoch, ha->seq, NULL);
}

static void
on_state(struct cnm_ha *ha, struct ha_peer *p, const struct cnm_ha_hdr *h, const json_t *j)
{
	char err[CNM_ERR_MAX];
	enum cnm_ha_reject r;
	uint64_t d = 0;
	json_t *mine;
	int ret;

	if (ha->primary != (int)(p - ha->peers)) {
		ha->rejected[h->epoch < ha->term ? CNM_HA_R_OLD_EPOCH : CNM_HA_R_NOT_PRIMARY]++;
		return;
	}
	r = cnm_ha_order(ha->term, ha->epoch, ha->seq, h->type, h->epoch, h->seq);
	if (r != CNM_HA_OK) {
		ha->rejected[r]++;
		if (r == CNM_HA_R_GAP)
			send_hello(ha, p, CNM_HA_HELLO, CNM_HA_F_WANT_SNAPSHOT);
		else if (r == CNM_HA_R_DUPLICATE)
			send_ack(ha, p);
		return;
	}
	if (!json_is_object(j)) {
		ha->rejected[CNM_HA_R_PAYLOAD]++;
		send_hello(ha, p, CNM_HA_HELLO, CNM_HA_F_WANT_SNAPSHOT);
		return;
	}
	err[0] = '\0';
	ret = state_apply(ha, j, h->type == CNM_HA_SNAPSHOT, err, sizeof(err));
	if (ret < 0) {
		HA_LOG(ERR, "%s from %s (epoch %llu, seq %llu) not applied: %s",
		       cnm_ha_type_name(h->type), p->id, (unsigned long long)h->epoch,
		       (unsigned long long)h->seq, err);
		ha->rejected[CNM_HA_R_APPLY]++;
		goto resync;
	}
	mine = state_build(ha, 0, 0, &d, NULL);
	json_decref(mine);
	ha->digest = d;
	if (strtoull(json_string_value(json_object_get(j, "digest")), NULL, 16) != d) {
		HA_LOG(ERR, "%s from %s (epoch %llu, seq %llu): digest %016llx here, %s there",
		       cnm_ha_type_name(h->type), p->id, (unsigned long long)h->epoch,
		       (unsigned long long)h->seq, (unsigned long long)d,
		       json_string_value(json_object_get(j, "digest")));
		ha->rejected[CNM_HA_R_DIGEST]++;
		goto resync;
	}
	ha->epoch = h->epoch;
	ha->seq = h->seq;
	if (h->type == CNM_HA_SNAPSHOT)
		ha->snapshots_applied++;
	else
		ha->deltas_applied++;
	send_ack(ha, p);
	return;
resync:
	/* hold nothing of this epoch: the next snapshot is applied whatever it is */
	ha->epoch = 0;
	ha->seq = 0;
	send_hello(ha, p, CNM_HA_HELLO, CNM_HA_F_WANT_SNAPSHOT);
}

static int
endpoint_parse(const char *s, uint8_t *family, uint8_t *addr, uint16_t *port_be)
{
	char host[64];
	const char *c = strrchr(s, ':');
	unsigned long port;
	char *end;
	size_t hl;

	if (c == NULL || (hl = (size_t)(c - s)) >= sizeof(host) || hl < 1)
		return -1;
	memset(addr, 0, 16);
	if (s[0] == '[' && hl > 2 && s[hl - 1] == ']') {
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1)
			return -1;
		*family = AF_INET6;
	} else {
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, addr) != 1)
			return -1;
		*family = AF_INET;
	}
	port = strtoul(c + 1, &end, 10);
	if (*end != '\0' || port == 0 || port > 65535)
		return -1;
	*port_be = htons((uint16_t)port);
	return 0;
}

static void
endpoint_fmt(char *buf, size_t len, uint8_t family, const uint8_t *addr, uint16_t port_be)
{
	struct cnm_addr a = { .family = family };
	char ip[64];

	memcpy(a.bytes, addr, 16);
	cnm_addr_str(&a, ip, sizeof(ip));
	snprintf(buf, len, family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, ntohs(port_be));
}

/* CONNS: [{"client": "IP:PORT", "vip": "IP:PORT", "service": S, "node": N}] */
static char *
conns_encode(const struct cnm_ha_conn *c, uint32_t n)
{
	json_t *a = json_array(), *o;
	char cl[80], vip[80];
	char *t;
	uint32_t i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		endpoint_fmt(cl, sizeof(cl), c[i].family, c[i].src, c[i].sport);
		endpoint_fmt(vip, sizeof(vip), c[i].family, c[i].dst, c[i].dport);
		json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s}", "client", cl, "vip", vip,
				"service", c[i].service, "node", c[i].node));
	}
	o = json_pack("{s:o}", "conns", a);
	t = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return t;
}

static void
on_conns(struct cnm_ha *ha, struct ha_peer *from, const struct cnm_ha_hdr *h, const json_t *j)
{
	const json_t *a = json_object_get(j, "conns");
	struct cnm_ha_conn *c;
	uint32_t i, n = 0;

	if (h->epoch < ha->term) {
		ha->rejected[CNM_HA_R_OLD_EPOCH]++;
		return;
	}
	if (!json_is_array(a) || json_array_size(a) > CONNS_MAX) {
		ha->rejected[CNM_HA_R_PAYLOAD]++;
		return;
	}
	c = calloc(json_array_size(a) + 1, sizeof(*c));
	if (c == NULL)
		return;
	for (i = 0; i < json_array_size(a); i++) {
		const json_t *o = json_array_get(a, i);
		const char *cl = json_string_value(json_object_get(o, "client"));
		const char *vip = json_string_value(json_object_get(o, "vip"));
		const char *sv = json_string_value(json_object_get(o, "service"));
		const char *nd = json_string_value(json_object_get(o, "node"));
		uint8_t f2;

		if (cl == NULL || vip == NULL || sv == NULL || nd == NULL ||
		    endpoint_parse(cl, &c[n].family, c[n].src, &c[n].sport) < 0 ||
		    endpoint_parse(vip, &f2, c[n].dst, &c[n].dport) < 0 || f2 != c[n].family ||
		    strlen(sv) >= CNM_NAME_MAX || strlen(nd) >= CNM_NAME_MAX) {
			ha->rejected[CNM_HA_R_PAYLOAD]++;
			free(c);
			return;
		}
		snprintf(c[n].service, sizeof(c[n].service), "%s", sv);
		snprintf(c[n].node, sizeof(c[n].node), "%s", nd);
		n++;
	}
	ha->conns_received += n;
	if (ha->io.insert != NULL && n > 0) {
		int k = ha->io.insert(ha->io.arg, c, n);

		if (k > 0)
			ha->conns_inserted += (uint64_t)k;
	}
	/* the primary relays them to every other holder */
	if (ha->st == CNM_HA_ST_PRIMARY && n > 0) {
		char *t = conns_encode(c, n);

		for (i = 0; t != NULL && i < ha->n_peers; i++)
			if (&ha->peers[i] != from && ha->peers[i].identified &&
			    peer_send(ha, &ha->peers[i], CNM_HA_CONNS, 0, ha->term, 0, t) == 0)
				ha->conns_sent += n;
		free(t);
	}
	free(c);
}

static void
on_frame(struct cnm_ha *ha, struct ha_peer *p, const struct cnm_ha_hdr *h, const uint8_t *pl)
{
	json_error_t jerr;
	json_t *j = NULL;

	p->last_rx = now_ms();
	if (h->len > 0) {
		j = json_loadb((const char *)pl, h->len, JSON_REJECT_DUPLICATES, &jerr);
		if (j == NULL) {
			ha->rejected[CNM_HA_R_PAYLOAD]++;
			return;
		}
	}
	switch (h->type) {
	case CNM_HA_HELLO:
	case CNM_HA_HEARTBEAT:
		on_hello(ha, p, h, j);
		break;
	case CNM_HA_SNAPSHOT:
	case CNM_HA_DELTA:
		on_state(ha, p, h, j);
		break;
	case CNM_HA_ACK:
		if (h->epoch > p->ack_epoch || (h->epoch == p->ack_epoch && h->seq > p->ack_seq)) {
			p->ack_epoch = h->epoch;
			p->ack_seq = h->seq;
		}
		p->epoch = h->epoch;
		p->seq = h->seq;
		ha->acks_received++;
		break;
	case CNM_HA_CONNS:
		on_conns(ha, p, h, j);
		break;
	default:
		ha->rejected[CNM_HA_R_TYPE]++;
	}
	json_decref(j);
}

/* Read what a peer sent and handle every whole message. */
static void
peer_read(struct cnm_ha *ha, struct ha_peer *p)
{
	uint8_t tmp[65536];
	size_t got = 0;
	int eof = 0;

	while (got < READ_MAX) {
		ssize_t n = recv(p->fd, tmp, sizeof(tmp), MSG_DONTWAIT);

		if (n > 0) {
			if (buf_add(&p->in, tmp, (size_t)n) < 0) {
				peer_close(ha, p, "out of memory");
				return;
			}
			got += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		eof = 1;
		break;
	}
	while (p->fd >= 0 && p->in.len > 0) {
		struct cnm_ha_hdr h;
		const uint8_t *pl = NULL;
		long n = cnm_ha_decode(p->in.p, p->in.len, &h, &pl);

		if (n == 0)
			break;
		if (n < 0) {
			ha->rejected[-n]++;
			peer_close(ha, p, cnm_ha_reject_name((enum cnm_ha_reject)-n));
			return;
		}
		if (!p->identified && h.type != CNM_HA_HELLO) {
			ha->rejected[CNM_HA_R_PAYLOAD]++;
			peer_close(ha, p, "first message not a HELLO");
			return;
		}
		if (!p->identified)
			ha->next_full = 0; /* a holder (re)joins: send it everything */
		p->identified = 1;
		on_frame(ha, p, &h, pl);
		if (p->fd < 0)
			return;
		buf_eat(&p->in, (size_t)n);
	}
	if (eof) {
		if (p->in.len > 0)
			ha->rejected[CNM_HA_R_TRUNCATED]++;
		peer_close(ha, p, "closed by the peer");
	}
}

/* An accepted connection until its HELLO names the peer. */
static void
pending_read(struct cnm_ha *ha, struct pending *q)
{
	uint8_t tmp[65536];
	struct cnm_ha_hdr h;
	const uint8_t *pl = NULL;
	struct ha_peer *p;
	json_t *j;
	ssize_t n;
	long m;

	n = recv(q->fd, tmp, sizeof(tmp), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		if (q->in.len > 0)
			ha->rejected[CNM_HA_R_TRUNCATED]++;
		goto drop;
	}
	if (n > 0 && buf_add(&q->in, tmp, (size_t)n) < 0)
		goto drop;
	m = cnm_ha_decode(q->in.p, q->in.len, &h, &pl);
	if (m == 0)
		return;
	if (m < 0) {
		ha->rejected[-m]++;
		goto drop;
	}
	if (h.type != CNM_HA_HELLO) {
		ha->rejected[CNM_HA_R_PAYLOAD]++;
		goto drop;
	}
	j = json_loadb((const char *)pl, h.len, 0, NULL);
	p = peer_by_id(ha, json_string_value(json_object_get(j, "id")));
	json_decref(j);
	if (p == NULL) {
		ha->rejected[CNM_HA_R_PAYLOAD]++;
		goto drop;
	}
	/* the peer's new connection replaces the old one (it restarted) */
	if (p->fd >= 0)
		peer_close(ha, p, "replaced by a new connection");
	p->fd = q->fd;
	p->connecting = 0;
	p->identified = 0;
	p->synced = 0;
	p->in.len = 0;
	p->out.len = 0;
	buf_add(&p->in, q->in.p, q->in.len);
	buf_free(&q->in);
	q->fd = -1;
	send_hello(ha, p, CNM_HA_HELLO, 0);
	peer_read(ha, p);
	return;
drop:
	close(q->fd);
	q->fd = -1;
	buf_free(&q->in);
}

/* ---- the primary ---- */

static void
send_snapshot(struct cnm_ha *ha, struct ha_peer *p, uint64_t now)
{
	uint64_t d;
	json_t *st = state_build(ha, 1, 0, &d, NULL);
	char *t = st ? json_dumps(st, JSON_COMPACT) : NULL;

	json_decref(st);
	if (t == NULL)
		return;
	if (peer_send(ha, p, CNM_HA_SNAPSHOT, 0, ha->epoch, ha->seq, t) == 0) {
		ha->snapshots_sent++;
		p->synced = 1;
		p->last_snapshot = now;
		HA_LOG(INFO, "snapshot (epoch %llu, seq %llu) to %s", (unsigned long long)ha->epoch,
		       (unsigned long long)ha->seq, p->id);
	}
	free(t);
}

/*
 * A change of the tables since the last checkpoint becomes the next seq: a
 * DELTA to every peer that holds the previous one. Caller holds the lock.
 */
static void
checkpoint(struct cnm_ha *ha)
{
	struct cnm_ctx *ctx = ha->ctx;
	uint64_t d = 0, nh = 0;
	json_t *st;
	char *t;
	uint32_t i;

	if (cnm_lb_gen(ctx->lb) == ha->lb_gen && ctx->cfg_gen == ha->cfg_gen)
		return;
	st = state_build(ha, 0, 1, &d, &nh);
	if (st == NULL)
		return; /* out of memory: the gens stay, the next poll tries again */
	ha->lb_gen = cnm_lb_gen(ctx->lb);
	ha->cfg_gen = ctx->cfg_gen;
	if (d == ha->digest && nh == ha->nodes_h) {
		json_decref(st);
		return;
	}
	ha->digest = d;
	ha->nodes_h = nh;
	ha->seq++;
	t = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	for (i = 0; t != NULL && i < ha->n_peers; i++) {
		struct ha_peer *p = &ha->peers[i];

		if (p->synced && p->identified &&
		    peer_send(ha, p, CNM_HA_DELTA, 0, ha->epoch, ha->seq, t) == 0)
			ha->deltas_sent++;
	}
	free(t);
}

/* Designate the secondary: keep a live one; else the live peer configured
 * primary or secondary, then any, lowest id first. */
static void
designate(struct cnm_ha *ha, uint64_t now)
{
	struct ha_peer *cur = peer_by_id(ha, ha->secondary), *best = NULL;
	uint32_t i;

	if (cur != NULL && peer_live(ha, cur, now))
		return;
	for (i = 0; i < ha->n_peers; i++) {
		struct ha_peer *p = &ha->peers[i];
		int pb, cb;

		if (!peer_live(ha, p, now))
			continue;
		if (best == NULL) {
			best = p;
			continue;
		}
		pb = strcmp(p->configured, "slave") != 0;
		cb = strcmp(best->configured, "slave") != 0;
		if (pb > cb || (pb == cb && strcmp(p->id, best->id) < 0))
			best = p;
	}
	if (best == NULL && ha->secondary[0] == '\0')
		return;
	/* both are CNM_NAME_MAX strings of distinct fields */
	memcpy(ha->secondary, best ? best->id : "", best ? strlen(best->id) + 1 : 1);
	HA_LOG(NOTICE, "%s: secondary is now %s", ha->cfg.id, best ? best->id : "none");
	for (i = 0; i < ha->n_peers; i++)
		send_hello(ha, &ha->peers[i], CNM_HA_HEARTBEAT, 0);
}

static void
become_primary(struct cnm_ha *ha, uint64_t now)
{
	uint64_t d = 0, nh = 0;
	json_t *st;
	uint32_t i;

	ha->term++;
	ha->epoch = ha->term;
	ha->primary = SELF;
	ha->secondary[0] = '\0';
	st = state_build(ha, 0, 1, &d, &nh);
	json_decref(st);
	ha->digest = d;
	ha->nodes_h = nh;
	ha->lb_gen = cnm_lb_gen(ha->ctx->lb);
	ha->cfg_gen = ha->ctx->cfg_gen;
	for (i = 0; i < ha->n_peers; i++)
		ha->peers[i].synced = 0;
	set_state(ha);
	designate(ha, now);
	for (i = 0; i < ha->n_peers; i++)
		send_hello(ha, &ha->peers[i], CNM_HA_HEARTBEAT, 0);
}

/* ---- the loop ---- */

static void
ha_step(struct cnm_ha *ha, int wait_ms)
{
	struct pollfd pfd[1 + PENDING_MAX + CNM_HA_PEERS_MAX];
	int who[1 + PENDING_MAX + CNM_HA_PEERS_MAX];
	uint64_t now = now_ms();
	uint32_t i, n = 0;

	if (ha->stepping)
		return;
	ha->stepping = 1;
	for (i = 0; i < ha->n_peers; i++) {
		struct ha_peer *p = &ha->peers[i];

		if (p->fd < 0 && p->initiator && now >= p->next_connect)
			peer_connect(ha, p, now);
	}
	pfd[n].fd = ha->lfd;
	pfd[n].events = POLLIN;
	who[n++] = -1;
	for (i = 0; i < PENDING_MAX; i++)
		if (ha->pend[i].fd >= 0) {
			pfd[n].fd = ha->pend[i].fd;
			pfd[n].events = POLLIN;
			who[n++] = 1000 + (int)i;
		}
	for (i = 0; i < ha->n_peers; i++)
		if (ha->peers[i].fd >= 0) {
			pfd[n].fd = ha->peers[i].fd;
			pfd[n].events = POLLIN |
				(ha->peers[i].connecting || ha->peers[i].out.len ? POLLOUT : 0);
			who[n++] = (int)i;
		}
	if (poll(pfd, n, wait_ms) > 0) {
		for (i = 0; i < n; i++) {
			short re = pfd[i].revents;

			if (re == 0)
				continue;
			if (who[i] == -1) {
				int fd = accept4(ha->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				uint32_t k;

				if (fd < 0)
					continue;
				for (k = 0; k < PENDING_MAX && ha->pend[k].fd >= 0; k++)
					;
				if (k == PENDING_MAX) {
					close(fd);
					continue;
				}
				ha->pend[k].fd = fd;
				ha->pend[k].since = now;
				ha->pend[k].in.len = 0;
			} else if (who[i] >= 1000) {
				pending_read(ha, &ha->pend[who[i] - 1000]);
			} else {
				struct ha_peer *p = &ha->peers[who[i]];

				if (p->fd != pfd[i].fd)
					continue;
				if (p->connecting) {
					int e = 0;
					socklen_t el = sizeof(e);

					if (!(re & (POLLOUT | POLLERR | POLLHUP)))
						continue;
					getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &e, &el);
					if (e != 0) {
						peer_close(ha, p, strerror(e));
						continue;
					}
					p->connecting = 0;
					send_hello(ha, p, CNM_HA_HELLO, 0);
					continue;
				}
				if (re & (POLLIN | POLLHUP | POLLERR))
					peer_read(ha, p);
				if (p->fd >= 0 && (re & POLLOUT))
					peer_flush(ha, p);
			}
		}
	}
	now = now_ms();
	for (i = 0; i < PENDING_MAX; i++)
		if (ha->pend[i].fd >= 0 && now - ha->pend[i].since > PENDING_HELLO_MS) {
			close(ha->pend[i].fd);
			ha->pend[i].fd = -1;
			buf_free(&ha->pend[i].in);
		}
	/* a peer silent for failover_ms is dropped: what was queued for it is
	 * lost, and it gets a snapshot when it comes back */
	for (i = 0; i < ha->n_peers; i++) {
		struct ha_peer *p = &ha->peers[i];

		if (p->fd >= 0 && !p->connecting && p->identified &&
		    now - p->last_rx > ha->cfg.failover_ms)
			peer_close(ha, p, "silent");
		else if (p->fd >= 0 && p->connecting && now - p->next_connect > 2000)
			peer_close(ha, p, "connect timed out");
	}

	/* roles */
	if (ha->st == CNM_HA_ST_JOINING && ha->primary == NONE && ha->term == 0 &&
	    ha->cfg.role == CNM_HA_PRIMARY && now - ha->start_ms >= ha->cfg.failover_ms) {
		HA_LOG(NOTICE, "%s: no primary answered: primary of epoch 1", ha->cfg.id);
		become_primary(ha, now);
	}
	if (ha->st == CNM_HA_ST_SECONDARY && ha->primary >= 0) {
		struct ha_peer *pp = &ha->peers[ha->primary];
		uint32_t live = 1, holders = ha->n_peers + 1;

		for (i = 0; i < ha->n_peers; i++)
			if ((int)i != ha->primary && peer_live(ha, &ha->peers[i], now))
				live++;
		/* it takes over only with the state of the primary's epoch, and
		 * with a majority of the holders (two holders: alone) */
		if (now - pp->last_rx > ha->cfg.failover_ms && ha->epoch == ha->term &&
		    (holders <= 2 || 2 * live > holders)) {
			ha->primary_last_rx = pp->last_rx;
			ha->last_takeover_ms = (int64_t)(now - pp->last_rx);
			ha->takeovers++;
			HA_LOG(WARNING, "%s: primary %s silent for %llu ms: taking over", ha->cfg.id,
			       pp->id, (unsigned long long)(now - pp->last_rx));
			printf("cnmux: ha: primary %s silent for %llu ms: %s takes over\n", pp->id,
			       (unsigned long long)(now - pp->last_rx), ha->cfg.id);
			become_primary(ha, now);
		}
	}
	if (ha->st == CNM_HA_ST_PRIMARY) {
		checkpoint(ha);
		designate(ha, now);
		for (i = 0; i < ha->n_peers; i++) {
			struct ha_peer *p = &ha->peers[i];

			if (p->fd < 0 || !p->identified || p->synced || p->last_rx == 0)
				continue;
			if (p->epoch == ha->epoch && p->seq == ha->seq && p->digest == ha->digest)
				p->synced = 1;
			else if (now - p->last_snapshot >= SNAPSHOT_EVERY_MS)
				send_snapshot(ha, p, now);
		}
	}
	if (now >= ha->next_hb) {
		ha->next_hb = now + ha->cfg.heartbeat_ms;
		for (i = 0; i < ha->n_peers; i++)
			if (ha->peers[i].identified)
				send_hello(ha, &ha->peers[i], CNM_HA_HEARTBEAT, 0);
	}
	ha->stepping = 0;
}

/* A fingerprint of a displaced connection and its node, never 0: CRC32-C
 * and jhash (not a linear function of the CRC, as a second CRC would be)
 * of the fields, copied into an aligned buffer (no padding, nothing after a
 * name's NUL). */
static uint64_t
conn_fp(const struct cnm_ha_conn *c)
{
	uint64_t buf[(1 + 16 + 16 + 2 + 2 + 2 * CNM_NAME_MAX + 7) / 8];
	uint8_t *q = (uint8_t *)buf;
	size_t len = 0, l;
	uint64_t fp;

	memset(buf, 0, sizeof(buf));
	q[len++] = c->family;
	memcpy(q + len, c->src, 16);
	len += 16;
	memcpy(q + len, c->dst, 16);
	len += 16;
	memcpy(q + len, &c->sport, 2);
	len += 2;
	memcpy(q + len, &c->dport, 2);
	len += 2;
	l = strnlen(c->service, CNM_NAME_MAX - 1) + 1;
	memcpy(q + len, c->service, l - 1);
	len += l;
	l = strnlen(c->node, CNM_NAME_MAX - 1) + 1;
	memcpy(q + len, c->node, l - 1);
	len += l;
	fp = (uint64_t)rte_hash_crc(buf, (uint32_t)len, 0x5eed0001u) << 32 |
		rte_jhash(buf, (uint32_t)len, 0x5eed0002u);
	return fp != 0 ? fp : 1;
}

static void
sent_clear(struct cnm_ha *ha)
{
	if (ha->sent != NULL)
		memset(ha->sent, 0, (size_t)ha->sent_cap * sizeof(*ha->sent));
	ha->sent_n = 0;
}

/* Record @p fp as sent; 1 if it was already, 0 if new (or not recorded for
 * want of memory: then it is sent again, which is harmless). */
static int
sent_test_add(struct cnm_ha *ha, uint64_t fp)
{
	uint32_t i;

	if (ha->sent_n + 1 > ha->sent_cap / 2) {
		uint32_t cap = ha->sent_cap ? ha->sent_cap * 2 : 4096, j;
		uint64_t *t, *old = ha->sent;

		if (cap > SENT_MAX) {
			sent_clear(ha); /* a full set is re-sent: harmless */
		} else if ((t = calloc(cap, sizeof(*t))) != NULL) {
			for (j = 0; j < ha->sent_cap; j++) {
				if (old[j] == 0)
					continue;
				for (i = (uint32_t)old[j] & (cap - 1); t[i] != 0; i = (i + 1) & (cap - 1))
					;
				t[i] = old[j];
			}
			free(old);
			ha->sent = t;
			ha->sent_cap = cap;
		} else if (ha->sent_cap == 0) {
			return 0;
		}
	}
	for (i = (uint32_t)fp & (ha->sent_cap - 1); ha->sent[i] != 0; i = (i + 1) & (ha->sent_cap - 1))
		if (ha->sent[i] == fp)
			return 1;
	ha->sent[i] = fp;
	ha->sent_n++;
	return 0;
}

/* Displaced connections: asked of the workers every CONNS_EVERY_MS and sent
 * to the primary (which relays them) or, on the primary, to every holder;
 * only those not sent since the set was last emptied. */
static void
conns_tick(struct cnm_ha *ha)
{
	struct cnm_ha_conn *c;
	uint64_t now = now_ms();
	uint32_t i;
	char *t;
	int n;

	if (ha->io.displaced == NULL || now < ha->next_conns)
		return;
	ha->next_conns = now + CONNS_EVERY_MS;
	if (ha->primary == NONE)
		return;
	if (ha->primary != ha->conns_to || now >= ha->next_full) {
		sent_clear(ha);
		ha->conns_to = ha->primary;
		ha->next_full = now + CONNS_FULL_MS;
	}
	c = calloc(CONNS_MAX, sizeof(*c));
	if (c == NULL)
		return;
	n = ha->io.displaced(ha->io.arg, c, CONNS_MAX);
	{
		int k, m = 0;

		for (k = 0; k < n; k++) {
			if (sent_test_add(ha, conn_fp(&c[k])))
				continue;
			if (m != k)
				c[m] = c[k];
			m++;
		}
		n = m;
	}
	t = n > 0 ? conns_encode(c, (uint32_t)n) : NULL;
	for (i = 0; t != NULL && i < ha->n_peers; i++) {
		struct ha_peer *p = &ha->peers[i];

		if (!p->identified || (ha->primary != SELF && ha->primary != (int)i))
			continue;
		if (peer_send(ha, p, CNM_HA_CONNS, 0, ha->term, 0, t) == 0)
			ha->conns_sent += (uint64_t)n;
	}
	free(t);
	free(c);
}

static void
lock(struct cnm_ha *ha)
{
	if (ha->ctx->ctl_lock != NULL)
		pthread_mutex_lock(ha->ctx->ctl_lock);
}

static void
unlock(struct cnm_ha *ha)
{
	if (ha->ctx->ctl_lock != NULL)
		pthread_mutex_unlock(ha->ctx->ctl_lock);
}

void
cnm_ha_poll(struct cnm_ha *ha)
{
	if (ha == NULL)
		return;
	lock(ha);
	ha_step(ha, 0);
	unlock(ha);
	/* the workers answer the mailbox without the lock being held */
	conns_tick(ha);
}

enum cnm_ha_state
cnm_ha_state(const struct cnm_ha *ha)
{
	return ha->st;
}

/* ctx->ha_may_change */
static int
may_change(void *arg, char *err, size_t errlen)
{
	struct cnm_ha *ha = arg;

	if (ha->st == CNM_HA_ST_PRIMARY)
		return 0;
	if (ha->primary >= 0)
		snprintf(err, errlen, "not the primary: the primary is %s at %s",
			 ha->peers[ha->primary].id, ha->peers[ha->primary].addr.text);
	else
		snprintf(err, errlen, "not the primary: no primary is known yet (this holder, %s, is %s)",
			 ha->cfg.id, state_name(ha->st));
	return -EPERM;
}

/* ctx->ha_commit: checkpoint the change, wait for the secondary's ACK. */
static int
commit(void *arg, char *err, size_t errlen)
{
	struct cnm_ha *ha = arg;
	uint64_t deadline = now_ms() + ha->cfg.ack_timeout_ms, epoch, seq;
	struct ha_peer *sec;

	lock(ha);
	if (ha->st != CNM_HA_ST_PRIMARY) {
		unlock(ha);
		snprintf(err, errlen, "applied here, but this holder stopped being the primary: "
			 "the change is not checkpointed and will be replaced by the primary's state");
		return -EPERM;
	}
	checkpoint(ha);
	epoch = ha->epoch;
	seq = ha->seq;
	for (;;) {
		sec = peer_by_id(ha, ha->secondary);
		if (sec != NULL && (sec->ack_epoch > epoch ||
				    (sec->ack_epoch == epoch && sec->ack_seq >= seq))) {
			unlock(ha);
			return 0;
		}
		if (ha->st != CNM_HA_ST_PRIMARY || now_ms() >= deadline)
			break;
		unlock(ha);
		lock(ha);
		ha_step(ha, 1);
	}
	if (sec != NULL)
		snprintf(err, errlen, "applied on the primary %s (epoch %llu, seq %llu), not acknowledged "
			 "by the secondary %s within %u ms: it is lost if the primary fails before "
			 "the secondary holds it", ha->cfg.id, (unsigned long long)epoch,
			 (unsigned long long)seq, sec->id, ha->cfg.ack_timeout_ms);
	else
		snprintf(err, errlen, "applied on the primary %s (epoch %llu, seq %llu), not acknowledged: "
			 "no secondary is connected", ha->cfg.id, (unsigned long long)epoch,
			 (unsigned long long)seq);
	unlock(ha);
	return -ETIMEDOUT;
}

json_t *
cnm_ha_status(struct cnm_ha *ha)
{
	uint64_t now = now_ms();
	json_t *r, *peers, *rej, *cnt;
	char dg[24];
	uint32_t i;

	snprintf(dg, sizeof(dg), "%016llx", (unsigned long long)ha->digest);
	peers = json_array();
	for (i = 0; i < ha->n_peers; i++) {
		const struct ha_peer *p = &ha->peers[i];
		char pd[24];

		snprintf(pd, sizeof(pd), "%016llx", (unsigned long long)p->digest);
		json_array_append_new(peers, json_pack("{s:s,s:s,s:b,s:b,s:s,s:I,s:I,s:s,s:I,s:I}",
			"id", p->id, "address", p->addr.text,
			"connected", p->fd >= 0 && !p->connecting && p->identified,
			"live", peer_live(ha, p, now),
			"role", p->last_rx ? state_name(p->role) : "unknown",
			"epoch", (json_int_t)p->epoch, "seq", (json_int_t)p->seq, "digest", pd,
			"acked_seq", (json_int_t)p->ack_seq,
			"last_heard_ms", (json_int_t)(p->last_rx ? (int64_t)(now - p->last_rx) : -1)));
	}
	rej = json_object();
	for (i = 1; i < CNM_HA_R_MAX; i++)
		json_object_set_new(rej, cnm_ha_reject_name(i), json_integer((json_int_t)ha->rejected[i]));
	cnt = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
		"snapshots_sent", (json_int_t)ha->snapshots_sent,
		"snapshots_applied", (json_int_t)ha->snapshots_applied,
		"deltas_sent", (json_int_t)ha->deltas_sent,
		"deltas_applied", (json_int_t)ha->deltas_applied,
		"acks_received", (json_int_t)ha->acks_received,
		"takeovers", (json_int_t)ha->takeovers,
		"conns_sent", (json_int_t)ha->conns_sent,
		"conns_received", (json_int_t)ha->conns_received,
		"conns_inserted", (json_int_t)ha->conns_inserted);
	r = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:o,s:o,s:o,s:I}",
		"id", ha->cfg.id, "role", state_name(ha->st),
		"configured_role", cnm_ha_role_name(ha->cfg.role),
		"epoch", (json_int_t)ha->epoch, "seq", (json_int_t)ha->seq,
		"term", (json_int_t)ha->term, "digest", dg,
		"peers", peers, "rejected", rej, "counters", cnt,
		"last_takeover_ms", (json_int_t)ha->last_takeover_ms);
	if (r == NULL)
		return NULL;
	json_object_set_new(r, "primary", ha->primary == SELF ? json_string(ha->cfg.id) :
			    ha->primary >= 0 ? json_string(ha->peers[ha->primary].id) : json_null());
	json_object_set_new(r, "secondary", ha->secondary[0] ? json_string(ha->secondary) :
			    json_null());
	return r;
}

/* ctx->ha_status: cnm_control_exec() holds the lock already */
static json_t *
status_hook(void *arg)
{
	return cnm_ha_status(arg);
}

struct cnm_ha *
cnm_ha_create(struct cnm_ctx *ctx, const struct cnm_ha_io *io)
{
	struct sockaddr_storage ss;
	struct cnm_ha *ha;
	socklen_t sl;
	uint32_t i;
	int one = 1;

	if (ctx == NULL || ctx->cfg == NULL || !ctx->cfg->ha.enabled) {
		errno = EINVAL;
		return NULL;
	}
	ha = calloc(1, sizeof(*ha));
	if (ha == NULL)
		return NULL;
	ha->ctx = ctx;
	if (io != NULL)
		ha->io = *io;
	ha->cfg = ctx->cfg->ha;
	ha->primary = NONE;
	ha->st = CNM_HA_ST_JOINING;
	ha->last_takeover_ms = -1;
	ha->start_ms = now_ms();
	for (i = 0; i < PENDING_MAX; i++)
		ha->pend[i].fd = -1;
	ha->n_peers = ha->cfg.n_peers;
	for (i = 0; i < ha->n_peers; i++) {
		struct ha_peer *p = &ha->peers[i];

		memcpy(p->id, ha->cfg.peers[i].id, sizeof(p->id));
		p->addr = ha->cfg.peers[i].address;
		p->fd = -1;
		p->role = CNM_HA_ST_JOINING;
		p->initiator = strcmp(ha->cfg.id, p->id) < 0;
	}
	sl = sockaddr_of(&ha->cfg.listen, &ss);
	ha->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ha->lfd < 0)
		goto fail;
	setsockopt(ha->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ha->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(ha->lfd, 16) < 0)
		goto fail;
	/* the tables as they are: a replica holds nothing of any epoch yet */
	{
		uint64_t d = 0;
		json_t *st = state_build(ha, 0, 0, &d, NULL);

		json_decref(st);
		ha->digest = d;
	}
	set_state(ha);
	ctx->ha_may_change = may_change;
	ctx->ha_commit = commit;
	ctx->ha_status = status_hook;
	ctx->ha_arg = ha;
	return ha;
fail:
	{
		int e = errno;

		if (ha->lfd >= 0)
			close(ha->lfd);
		free(ha);
		errno = e;
	}
	return NULL;
}

void
cnm_ha_free(struct cnm_ha *ha)
{
	uint32_t i;

	if (ha == NULL)
		return;
	ha->ctx->ha_may_change = NULL;
	ha->ctx->ha_commit = NULL;
	ha->ctx->ha_status = NULL;
	ha->ctx->ha_arg = NULL;
	for (i = 0; i < ha->n_peers; i++) {
		if (ha->peers[i].fd >= 0)
			close(ha->peers[i].fd);
		buf_free(&ha->peers[i].in);
		buf_free(&ha->peers[i].out);
	}
	for (i = 0; i < PENDING_MAX; i++) {
		if (ha->pend[i].fd >= 0)
			close(ha->pend[i].fd);
		buf_free(&ha->pend[i].in);
	}
	if (ha->lfd >= 0)
		close(ha->lfd);
	free(ha->seen);
	free(ha->sent);
	free(ha);
}

/* Test hook (tests/fuzz/fuzz_ha_state.c): one decoded message handled as if
 * peer 0, taken for the primary, had sent it; no socket is involved. */
void
cnm_ha_test_frame(struct cnm_ha *ha, const struct cnm_ha_hdr *h, const uint8_t *payload)
{
	lock(ha);
	ha->primary = 0;
	on_frame(ha, &ha->peers[0], h, payload);
	unlock(ha);
}
