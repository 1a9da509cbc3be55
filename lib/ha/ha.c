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
 * whose id sorts first. The first message each way is an AUTH (the sender's
 * id and a fresh nonce, under the shared key); it names the sender, which
 * must be a configured (address, id), and gives both sides the keys of the
 * connection (one per direction, from both nonces), under which every later
 * message carries a MAC of its number on the connection: a message forged,
 * replayed, reordered or from another connection fails it. Then a HELLO.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

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
#define PENDING_MAX 16               /* accepted connections before their AUTH */
#define PENDING_PER_SOURCE 2         /* of them from one address (the oldest makes room) */
#define READ_MAX (4u << 20)          /* bytes read from one connection per poll */
#define OUT_MAX (256u << 20)         /* queued bytes after which a peer is dropped */
#define SNAPSHOT_EVERY_MS 200        /* at most one snapshot per peer this often */
#define CONNS_EVERY_MS 200           /* displaced connections are checkpointed this often */
#define CONNS_MAX 4096               /* per CONNS message */
#define CONNS_FULL_MS 5000           /* every displaced connection is re-sent this often */
#define SENT_MAX (1u << 22)          /* fingerprints of connections sent, at most */
#define PENDING_HELLO_MS 2000        /* an accepted connection must say AUTH by then */

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
	int authed;              /* the AUTH handshake is done on this connection */
	int identified;          /* its HELLO came on this connection */
	int initiator;           /* this holder opens the connection */
	uint8_t nonce[CNM_HA_NONCE_LEN]; /* the one this holder sent (connecting side) */
	uint8_t ktx[CNM_HA_TAG_LEN], krx[CNM_HA_TAG_LEN]; /* the connection's keys */
	uint64_t ntx, nrx;       /* messages sent, received since the AUTH */
	struct buf in, out;
	uint64_t last_rx;        /* ms; 0 never */
	uint64_t next_connect;
	uint64_t connect_started; /* ms: when the connect() in progress began */
	uint64_t connected_at;   /* ms: when this holder opened the connection */
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
	struct cnm_addr src;     /* where it comes from */
	int peer;                /* its AUTH named this peer and was answered; -1 not yet */
	uint8_t ktx[CNM_HA_TAG_LEN], krx[CNM_HA_TAG_LEN];
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
	uint8_t key[CNM_HA_KEY_MAX];  /* the shared key (ha.key_file) */
	size_t keylen;                /* 0: a trusted segment, no MAC */
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
	p->authed = 0;
	p->identified = 0;
	p->synced = 0;
	p->in.len = 0;
	p->out.len = 0;
	sodium_memzero(p->ktx, sizeof(p->ktx));
	sodium_memzero(p->krx, sizeof(p->krx));
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

	if (p->fd < 0 || p->connecting || (!p->authed && type != CNM_HA_AUTH))
		return -ENOTCONN;
	/* AUTH under the shared key (number 0), the rest under the connection's */
	ret = cnm_ha_encode_auth(type, flags, epoch, seq, payload,
			payload ? (uint32_t)strlen(payload) : 0,
			ha->keylen == 0 ? NULL : type == CNM_HA_AUTH ? ha->key : p->ktx,
			type == CNM_HA_AUTH ? ha->keylen : sizeof(p->ktx),
			type == CNM_HA_AUTH ? 0 : p->ntx, &frame, &len);
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
	if (type != CNM_HA_AUTH)
		p->ntx++;
	return peer_flush(ha, p) < 0 ? -ENOTCONN : 0;
}

static void
peer_connect(struct cnm_ha *ha, struct ha_peer *p, uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(&p->addr, &ss);
	int fd, one = 1;

	p->next_connect = now + ha->cfg.heartbeat_ms;
	p->connect_started = now;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* from the address the others know this holder by (ha.listen's, unless
	 * it listens on every address): they accept it from there only */
	{
		static const uint8_t any[16];
		struct sockaddr_storage me;
		struct cnm_endpoint l = ha->cfg.listen;
		socklen_t ml;

		if (l.ip.family == ss.ss_family &&
		    memcmp(l.ip.bytes, any, l.ip.family == AF_INET6 ? 16 : 4) != 0) {
			l.port = 0;
			ml = sockaddr_of(&l, &me);
			if (bind(fd, (struct sockaddr *)&me, ml) < 0) {
				close(fd);
				return;
			}
		}
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		close(fd);
		return;
	}
	p->fd = fd;
	p->connected_at = now;
	p->connecting = 1;
	p->authed = 0;
	p->identified = 0;
	p->synced = 0;
	p->in.len = 0;
	p->out.len = 0;
}

/* ---- the handshake (AUTH) ---- */

static void
hex_enc(char *out, const uint8_t *b, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c);

static int
hex_dec(uint8_t *out, const char *s, size_t n)
{
	size_t i;

	if (s == NULL || strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		int a = hexval(s[2 * i]), b = hexval(s[2 * i + 1]);

		if (a < 0 || b < 0)
			return -1;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return 0;
}

/* The AUTH this holder sends to @p to: {"id", "to", "nonce"} (malloc'ed frame). */
static int
auth_frame(struct cnm_ha *ha, const char *to, const uint8_t *nonce, uint8_t **fr, size_t *len)
{
	char nh[2 * CNM_HA_NONCE_LEN + 1];
	json_t *j;
	char *t;
	int ret;

	hex_enc(nh, nonce, CNM_HA_NONCE_LEN);
	j = json_pack("{s:s,s:s,s:s}", "id", ha->cfg.id, "to", to, "nonce", nh);
	t = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	if (t == NULL)
		return -ENOMEM;
	ret = cnm_ha_encode_auth(CNM_HA_AUTH, 0, 0, 0, t, (uint32_t)strlen(t),
			ha->keylen ? ha->key : NULL, ha->keylen, 0, fr, len);
	free(t);
	return ret;
}

/*
 * An AUTH received (the whole frame, @p n bytes): its tag under the shared
 * key, then its JSON; it must be meant for this holder. Sets @p id and
 * @p nonce. CNM_HA_OK or the reason.
 */
static enum cnm_ha_reject
auth_check(struct cnm_ha *ha, const uint8_t *fr, long n, const struct cnm_ha_hdr *h,
		const uint8_t *pl, char *id, uint8_t *nonce)
{
	enum cnm_ha_reject r = CNM_HA_OK;
	const char *from, *to;
	json_t *j;

	if (h->type != CNM_HA_AUTH)
		return CNM_HA_R_AUTH;
	/* the MAC before anything of the payload is looked at */
	if (ha->keylen > 0 && cnm_ha_verify(fr, (size_t)n, ha->key, ha->keylen, 0) < 0)
		return CNM_HA_R_AUTH;
	j = json_loadb((const char *)pl, h->len, JSON_REJECT_DUPLICATES, NULL);
	from = json_string_value(json_object_get(j, "id"));
	to = json_string_value(json_object_get(j, "to"));
	if (from == NULL || to == NULL ||
	    hex_dec(nonce, json_string_value(json_object_get(j, "nonce")), CNM_HA_NONCE_LEN) < 0)
		r = CNM_HA_R_PAYLOAD;
	else if (strcmp(to, ha->cfg.id) != 0 || strlen(from) >= CNM_NAME_MAX)
		r = CNM_HA_R_PEER;
	else
		memcpy(id, from, strlen(from) + 1);
	json_decref(j);
	return r;
}

/* The keys of a connection, one per direction, from both nonces and ids. */
static void
session_keys(struct cnm_ha *ha, const char *peer_id, const uint8_t *nc, const uint8_t *na,
		int connector, uint8_t *ktx, uint8_t *krx)
{
	const char *idc = connector ? ha->cfg.id : peer_id;
	const char *ida = connector ? peer_id : ha->cfg.id;
	uint8_t c2a[CNM_HA_TAG_LEN], a2c[CNM_HA_TAG_LEN];

	memset(c2a, 0, sizeof(c2a));
	memset(a2c, 0, sizeof(a2c));
	if (ha->keylen > 0) {
		cnm_ha_session_key(ha->key, ha->keylen, "c2a", nc, na, idc, ida, c2a);
		cnm_ha_session_key(ha->key, ha->keylen, "a2c", nc, na, idc, ida, a2c);
	}
	memcpy(ktx, connector ? c2a : a2c, CNM_HA_TAG_LEN);
	memcpy(krx, connector ? a2c : c2a, CNM_HA_TAG_LEN);
	sodium_memzero(c2a, sizeof(c2a));
	sodium_memzero(a2c, sizeof(a2c));
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
 * control, metrics and ha, which are each holder's own. */
static json_t *
repl_cfg(const struct cnm_ctx *ctx)
{
	json_t *j = cnm_control_cfg_json(ctx->cfg);

	if (j != NULL) {
		json_object_del(j, "ports");
		json_object_del(j, "control");
		json_object_del(j, "metrics");
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

/* The PDT a state wants for one service of its configuration: entries as
 * indexes into that configuration's nodes (CNM_NODE_NONE: none). */
struct pdt_want {
	const char *name;        /* the service's, in the new configuration */
	uint32_t size;
	uint16_t *ci;
};

/* A carried PDT: "size" the service's pdt_size, 4 hex digits per entry, each
 * an index below @p n_nodes or ffff. */
static int
pdt_decode_ci(const char *name, const json_t *o, uint32_t n_nodes, uint32_t pdt_size,
		uint16_t **out, char *err, size_t errlen)
{
	const json_t *jsz = json_object_get(o, "size");
	const char *hex = json_string_value(json_object_get(o, "entries"));
	json_int_t sz = json_is_integer(jsz) ? json_integer_value(jsz) : -1;
	uint16_t *e;
	uint32_t i;

	if (sz != (json_int_t)pdt_size || hex == NULL || strlen(hex) != (size_t)sz * 4)
		return fail(err, errlen, "pdts.%.64s: expected size %u and 4 hex digits per entry",
			    name, pdt_size);
	e = malloc((size_t)sz * sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	for (i = 0; i < (uint32_t)sz; i++) {
		int d0 = hexval(hex[4 * i]), d1 = hexval(hex[4 * i + 1]);
		int d2 = hexval(hex[4 * i + 2]), d3 = hexval(hex[4 * i + 3]);
		uint32_t v;

		if (d0 < 0 || d1 < 0 || d2 < 0 || d3 < 0) {
			free(e);
			return fail(err, errlen, "pdts.%.64s: entry %u is not hex", name, i);
		}
		v = (uint32_t)(d0 << 12 | d1 << 8 | d2 << 4 | d3);
		if (v != CNM_NODE_NONE && v >= n_nodes) {
			free(e);
			return fail(err, errlen, "pdts.%.64s: entry %u names node %u of %u", name, i,
				    v, n_nodes);
		}
		e[i] = (uint16_t)v;
	}
	*out = e;
	return 0;
}

/* The digest's part of one PDT (as pdt_hash(), from configuration indexes). */
static uint64_t
pdt_hash_ci(uint64_t h, const char *name, uint32_t size, const uint16_t *ci)
{
	uint8_t b[4];
	uint32_t i;

	h = cnm_fnv1a64(h, name, strlen(name) + 1);
	b[0] = (uint8_t)size;
	b[1] = (uint8_t)(size >> 8);
	b[2] = (uint8_t)(size >> 16);
	b[3] = (uint8_t)(size >> 24);
	h = cnm_fnv1a64(h, b, 4);
	for (i = 0; i < size; i++) {
		b[0] = (uint8_t)ci[i];
		b[1] = (uint8_t)(ci[i] >> 8);
		h = cnm_fnv1a64(h, b, 2);
	}
	return h;
}

static const struct cnm_config *sort_cfg;

static int
cfg_svc_cmp(const void *a, const void *b)
{
	return strcmp(sort_cfg->services[*(const uint32_t *)a].name,
		      sort_cfg->services[*(const uint32_t *)b].name);
}

/*
 * Apply a SNAPSHOT (full) or DELTA state, all of it or nothing. Caller holds
 * the lock. In order:
 * 1. validate it whole: the configuration (this holder's own ports, control
 *    and ha put in) through the configuration parser, with its budget; every
 *    node of nodes_state and every service of pdts in it; every carried PDT
 *    of the service's size, naming configured nodes; a snapshot carries every
 *    service, and the services a delta does not carry keep their PDT here;
 * 2. compute the digest the tables would have and compare it with the one
 *    carried;
 * 3. only then swap: the configuration with the reload-diff code, the nodes'
 *    state, the PDTs (the replica's PDTs change only as the primary says:
 *    those the diff code rebuilt are put back).
 * A refusal in 1 or 2 changes nothing and sets *why (payload, budget,
 * apply_failed, digest_mismatch); a failure in 3 (memory) gives apply_failed.
 */
static int
state_apply(struct cnm_ha *ha, const json_t *st, int full, char *err, size_t errlen,
		enum cnm_ha_reject *why, int *swapped)
{
	struct cnm_ctx *ctx = ha->ctx;
	struct cnm_lb *lb = ctx->lb;
	const json_t *cfgj = json_object_get(st, "config");
	const json_t *nodes = json_object_get(st, "nodes_state");
	const json_t *pdts = json_object_get(st, "pdts");
	const char *dg = json_string_value(json_object_get(st, "digest"));
	static const char *const own[] = { "ports", "control", "metrics", "ha" };
	struct cnm_config *nc = NULL;
	struct pdt_want *want = NULL;
	uint32_t *order = NULL, n_svc = 0;
	json_t *local = NULL, *merged = NULL, *v, *repl = NULL;
	char *text = NULL, *end = NULL;
	const char *key;
	uint64_t h, digest;
	uint32_t i;
	int ret = 0;

	*why = CNM_HA_R_PAYLOAD;
	*swapped = 0;
	if (!json_is_object(cfgj) || !json_is_object(nodes) || !json_is_object(pdts) ||
	    dg == NULL || strlen(dg) != 16)
		return fail(err, errlen, "state: expected config, nodes_state, pdts, digest");
	digest = strtoull(dg, &end, 16);
	if (end == NULL || *end != '\0')
		return fail(err, errlen, "state: digest: 16 hex digits");
	*why = CNM_HA_R_APPLY;
	local = cnm_control_cfg_json(ctx->cfg);
	merged = json_deep_copy(cfgj);
	if (local == NULL || merged == NULL) {
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
	/* 1. the configuration, whole, with the budget of any configuration */
	text = json_dumps(merged, JSON_COMPACT);
	if (text == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	nc = cnm_config_parse(text, strlen(text), "checkpoint", err, errlen);
	free(text);
	text = NULL;
	if (nc == NULL) {
		if (strstr(err, "over the budget") != NULL)
			*why = CNM_HA_R_BUDGET;
		ret = -EINVAL;
		goto out;
	}
	if (nc->hash_key != ctx->cfg->hash_key) {
		ret = fail(err, errlen, "checkpoint: hash_key: the key running now (0x%08x, got 0x%08x)",
			   ctx->cfg->hash_key, nc->hash_key);
		goto out;
	}
	json_object_foreach((json_t *)nodes, key, v) {
		if (cnm_config_node_index(nc, key) < 0) {
			ret = fail(err, errlen, "nodes_state: no node \"%.64s\"", key);
			goto out;
		}
	}
	json_object_foreach((json_t *)pdts, key, v) {
		if (cnm_config_service_index(nc, key) < 0) {
			ret = fail(err, errlen, "pdts: no service \"%.64s\"", key);
			goto out;
		}
	}
	want = calloc(nc->n_services + 1, sizeof(*want));
	order = calloc(nc->n_services + 1, sizeof(*order));
	if (want == NULL || order == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nc->n_services; i++, n_svc++) {
		const struct cnm_cfg_service *cs = &nc->services[i];
		const json_t *o = json_object_get(pdts, cs->name);
		uint32_t k;
		int sid;

		order[i] = i;
		want[i].name = cs->name;
		want[i].size = cs->pdt_size;
		if (o != NULL) {
			ret = pdt_decode_ci(cs->name, o, nc->n_nodes, cs->pdt_size, &want[i].ci,
					    err, errlen);
			if (ret < 0)
				goto out;
			continue;
		}
		/* not carried (a delta): its PDT here, unchanged */
		sid = cnm_lb_svc_find(lb, cs->name);
		if (full || sid < 0 || cnm_lb_svc_pdt_size(lb, (uint32_t)sid) != cs->pdt_size) {
			ret = fail(err, errlen, "pdts: nothing for service \"%.64s\"", cs->name);
			goto out;
		}
		want[i].ci = malloc((size_t)cs->pdt_size * sizeof(uint16_t));
		if (want[i].ci == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		for (k = 0; k < cs->pdt_size; k++) {
			uint16_t e = cnm_lb_svc_pdt(lb, (uint32_t)sid)->entries[k];
			const struct cnm_cfg_node *nd = e == CNM_NODE_NONE ? NULL :
				cnm_lb_node_cfg(lb, e);
			int ci = nd == NULL ? -1 : cnm_config_node_index(nc, nd->name);

			if (e != CNM_NODE_NONE && ci < 0) {
				ret = fail(err, errlen, "pdts: service \"%.64s\" keeps a PDT naming "
					   "node \"%.64s\", which the state removes", cs->name,
					   nd != NULL ? nd->name : "?");
				goto out;
			}
			want[i].ci[k] = e == CNM_NODE_NONE ? CNM_NODE_NONE : (uint16_t)ci;
		}
	}
	/* every entry names a node of the service's own list: a table naming
	 * another node would send the service's clients to a node that does
	 * not serve it */
	for (i = 0; i < nc->n_services; i++) {
		const struct cnm_cfg_service *cs = &nc->services[i];
		uint8_t *member = calloc(nc->n_nodes + 1, 1);
		uint32_t k;

		if (member == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		for (k = 0; k < cs->n_members; k++)
			member[cs->members[k].node] = 1;
		for (k = 0; k < want[i].size; k++)
			if (want[i].ci[k] != CNM_NODE_NONE && !member[want[i].ci[k]])
				break;
		if (k < want[i].size) {
			ret = fail(err, errlen, "pdts.%.64s: entry %u names node \"%.64s\", which is "
				   "not in the service's list", cs->name, k,
				   nc->nodes[want[i].ci[k]].name);
			free(member);
			*why = CNM_HA_R_PAYLOAD;
			goto out;
		}
		free(member);
	}
	/* 2. the digest the tables would have, before anything changes */
	repl = cnm_control_cfg_json(nc);
	if (repl == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < RTE_DIM(own); i++)
		json_object_del(repl, own[i]);
	text = json_dumps(repl, JSON_COMPACT | JSON_SORT_KEYS);
	if (text == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	h = cnm_fnv1a64(CNM_FNV_INIT, text, strlen(text));
	sort_cfg = nc;
	qsort(order, nc->n_services, sizeof(*order), cfg_svc_cmp);
	for (i = 0; i < nc->n_services; i++)
		h = pdt_hash_ci(h, want[order[i]].name, want[order[i]].size, want[order[i]].ci);
	if (h != digest) {
		*why = CNM_HA_R_DIGEST;
		ret = fail(err, errlen, "digest %016llx of the state received, %016llx carried: "
			   "nothing applied", (unsigned long long)h, (unsigned long long)digest);
		goto out;
	}
	/* 3. the swap */
	*swapped = 1;
	ret = cnm_control_apply_json(ctx, merged, "checkpoint", err, errlen);
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
	for (i = 0; i < n_svc; i++) {
		int sid = cnm_lb_svc_find(lb, want[i].name);
		uint16_t *e;
		uint32_t k;

		if (sid < 0) {
			ret = fail(err, errlen, "pdts: no service \"%.64s\" after the change",
				   want[i].name);
			goto out;
		}
		e = malloc((size_t)want[i].size * sizeof(*e));
		if (e == NULL) {
			ret = -ENOMEM;
			goto out;
		}
		for (k = 0; k < want[i].size; k++) {
			int id = want[i].ci[k] == CNM_NODE_NONE ? -1 :
				cnm_lb_node_find(lb, ctx->cfg->nodes[want[i].ci[k]].name);

			e[k] = id < 0 ? CNM_NODE_NONE : (uint16_t)id;
		}
		/*
		 * The change above rebuilt this holder's table from the same
		 * configuration and node states: by construction the primary's
		 * (docs/pdt.md). It differs only where a node's state does
		 * here (a MAC not resolved yet): then the primary's is installed,
		 * and the log says by how much.
		 */
		if (cnm_lb_svc_pdt_size(lb, (uint32_t)sid) != want[i].size ||
		    memcmp(e, cnm_lb_svc_pdt(lb, (uint32_t)sid)->entries,
			   want[i].size * sizeof(*e)) != 0) {
			const struct cnm_pdt *own = cnm_lb_svc_pdt(lb, (uint32_t)sid);
			uint32_t diff = 0;

			for (k = 0; own->size == want[i].size && k < want[i].size; k++)
				diff += e[k] != own->entries[k];
			HA_LOG(NOTICE, "pdts.%s: the primary's table differs from the one "
			       "built here in %u of %u entries (a node's state differs here): "
			       "installing the primary's", want[i].name,
			       own->size == want[i].size ? diff : want[i].size, want[i].size);
			ret = cnm_lb_svc_set_pdt(lb, (uint16_t)sid, e, want[i].size);
		}
		free(e);
		if (ret < 0) {
			fail(err, errlen, "pdts.%.64s: %s", want[i].name, strerror(-ret));
			goto out;
		}
	}
out:
	for (i = 0; want != NULL && i < n_svc + 1 && nc != NULL && i < nc->n_services; i++)
		free(want[i].ci);
	free(want);
	free(order);
	free(text);
	json_decref(repl);
	json_decref(merged);
	json_decref(local);
	cnm_config_free(nc);
	if (ret == -ENOMEM && err[0] == '\0')
		fail(err, errlen, "out of memory");
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
send_auth(struct cnm_ha *ha, struct ha_peer *p)
{
	uint8_t *fr = NULL;
	size_t fl = 0;

	if (auth_frame(ha, p->id, p->nonce, &fr, &fl) < 0)
		return;
	if (buf_add(&p->out, fr, fl) == 0)
		peer_flush(ha, p);
	free(fr);
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

	const char *id = json_string_value(json_object_get(j, "id"));
	json_int_t term;

	if (!json_is_integer(jt) || dg == NULL || role == NULL) {
		ha->rejected[CNM_HA_R_PAYLOAD]++;
		return;
	}
	if (id != NULL && strcmp(id, p->id) != 0) {
		ha->rejected[CNM_HA_R_PEER]++;
		return;
	}
	/* the term it may claim: not negative, not beyond 32 bits, at most
	 * CNM_HA_TERM_JUMP_MAX above this holder's (when it has one), and not
	 * below the epoch it says it holds */
	term = json_integer_value(jt);
	if (term < 0 || (uint64_t)term > CNM_HA_TERM_MAX || h->epoch > (uint64_t)term ||
	    (ha->term > 0 && (uint64_t)term > ha->term + CNM_HA_TERM_JUMP_MAX)) {
		ha->rejected[CNM_HA_R_TERM]++;
		return;
	}
	p->role = state_parse(role);
	snprintf(p->configured, sizeof(p->configured), "%s", cf ? cf : "");
	p->term = (uint64_t)term;
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
	int ret, swapped = 0;

	if (ha->primary != (int)(p - ha->peers)) {
		ha->rejected[h->epoch < ha->term ? CNM_HA_R_OLD_EPOCH : CNM_HA_R_NOT_PRIMARY]++;
		return;
	}
	/* the primary's epoch is its term, which its HELLO / HEARTBEAT told */
	if (h->epoch > ha->term) {
		ha->rejected[CNM_HA_R_TERM]++;
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
	ret = state_apply(ha, j, h->type == CNM_HA_SNAPSHOT, err, sizeof(err), &r, &swapped);
	if (ret < 0) {
		HA_LOG(ERR, "%s from %s (epoch %llu, seq %llu) not applied: %s",
		       cnm_ha_type_name(h->type), p->id, (unsigned long long)h->epoch,
		       (unsigned long long)h->seq, err);
		ha->rejected[r]++;
		/* refused whole (validation, budget, digest): the tables are as
		 * they were, and so is (epoch, seq); a snapshot is asked for */
		if (!swapped) {
			send_hello(ha, p, CNM_HA_HELLO, CNM_HA_F_WANT_SNAPSHOT);
			return;
		}
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

/* CONNS: [{"client": "IP:PORT", "vip": "IP:PORT", "service": S, "node": N
 * [, "proto": "udp"]}] */
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
		json_t *e = json_pack("{s:s,s:s,s:s,s:s}", "client", cl, "vip", vip,
				"service", c[i].service, "node", c[i].node);

		/* a UDP flow says so; a holder of before UDP flows reads it as
		 * TCP and its entry, never hit, ages out */
		if (e != NULL && c[i].proto == IPPROTO_UDP)
			json_object_set_new(e, "proto", json_string("udp"));
		json_array_append_new(a, e);
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
	if (h->epoch > ha->term) {
		ha->rejected[CNM_HA_R_TERM]++;
		return;
	}
	/* a replica takes them from its primary only (which relays the others') */
	if (ha->primary != SELF && ha->primary != (int)(from - ha->peers)) {
		ha->rejected[CNM_HA_R_NOT_PRIMARY]++;
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
		const json_t *pr = json_object_get(o, "proto");
		uint8_t f2;

		if (pr != NULL && (!json_is_string(pr) ||
				   strcmp(json_string_value(pr), "udp") != 0)) {
			ha->rejected[CNM_HA_R_PAYLOAD]++;
			free(c);
			return;
		}
		c[n].proto = pr != NULL ? IPPROTO_UDP : 0;

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
		/* an ACK of a state this holder never had is a lie */
		if (h->epoch > ha->epoch || (h->epoch == ha->epoch && h->seq > ha->seq)) {
			ha->rejected[CNM_HA_R_ACK]++;
			break;
		}
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
		if (!p->authed) {
			/* the connecting side: the accepting holder's AUTH answers ours */
			char id[CNM_NAME_MAX];
			uint8_t na[CNM_HA_NONCE_LEN];
			enum cnm_ha_reject r = auth_check(ha, p->in.p, n, &h, pl, id, na);

			if (r == CNM_HA_OK && strcmp(id, p->id) != 0)
				r = CNM_HA_R_PEER;
			if (r != CNM_HA_OK) {
				ha->rejected[r]++;
				peer_close(ha, p, cnm_ha_reject_name(r));
				return;
			}
			session_keys(ha, p->id, p->nonce, na, 1, p->ktx, p->krx);
			p->ntx = 0;
			p->nrx = 0;
			p->authed = 1;
			buf_eat(&p->in, (size_t)n);
			send_hello(ha, p, CNM_HA_HELLO, 0);
			continue;
		}
		/* every later message: the MAC of its number on this connection,
		 * before anything of it is parsed */
		if (h.type == CNM_HA_AUTH ||
		    (ha->keylen > 0 && cnm_ha_verify(p->in.p, (size_t)n, p->krx, sizeof(p->krx),
						     p->nrx) < 0)) {
			ha->rejected[CNM_HA_R_AUTH]++;
			peer_close(ha, p, "auth");
			return;
		}
		p->nrx++;
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

static void
pending_drop(struct pending *q, const char *why)
{
	char ip[64];

	HA_LOG(INFO, "connection from %s refused: %s", cnm_addr_str(&q->src, ip, sizeof(ip)), why);
	close(q->fd);
	q->fd = -1;
	q->peer = -1;
	buf_free(&q->in);
	sodium_memzero(q->ktx, sizeof(q->ktx));
	sodium_memzero(q->krx, sizeof(q->krx));
}

static int
same_ip(const struct cnm_addr *a, const struct cnm_addr *b)
{
	return a->family == b->family &&
		memcmp(a->bytes, b->bytes, a->family == AF_INET6 ? 16 : 4) == 0;
}

/*
 * An accepted connection until it is proven: its AUTH must name a configured
 * peer whose address it comes from (and which opens connections to this
 * holder), under the shared key; this holder answers with its own AUTH, and
 * the first message under the connection's keys (its HELLO) proves that the
 * other side holds the key and took part in this handshake (a replayed AUTH
 * cannot). Only then does it replace the peer's connection. Nothing but an
 * AUTH of at most CNM_HA_AUTH_MAX bytes, then a HELLO, is read from it.
 */
static void
pending_read(struct cnm_ha *ha, struct pending *q)
{
	size_t want = 2 * CNM_HA_HDR_LEN + CNM_HA_AUTH_MAX + CNM_HA_HELLO_MAX;
	uint8_t tmp[2 * CNM_HA_HDR_LEN + CNM_HA_AUTH_MAX + CNM_HA_HELLO_MAX];
	char id[CNM_NAME_MAX];
	uint8_t nc[CNM_HA_NONCE_LEN], na[CNM_HA_NONCE_LEN];
	enum cnm_ha_reject r;
	struct cnm_ha_hdr h;
	const uint8_t *pl = NULL;
	struct ha_peer *p;
	const char *why = "out of memory";
	ssize_t n = 0;
	long m;

	if (q->in.len < want)
		n = recv(q->fd, tmp, want - q->in.len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		why = "closed";
		if (q->in.len > 0) {
			ha->rejected[CNM_HA_R_TRUNCATED]++;
			why = "truncated";
		}
		goto drop;
	}
	if (n > 0 && buf_add(&q->in, tmp, (size_t)n) < 0)
		goto drop;
	m = cnm_ha_decode(q->in.p, q->in.len, &h, &pl);
	if (m < 0) {
		ha->rejected[-m]++;
		why = cnm_ha_reject_name((enum cnm_ha_reject)-m);
		goto drop;
	}
	/* the type is judged from the header: nothing else is buffered */
	if (q->in.len >= 6 && q->in.p[5] != (q->peer < 0 ? CNM_HA_AUTH : CNM_HA_HELLO)) {
		ha->rejected[CNM_HA_R_AUTH]++;
		why = q->peer < 0 ? "auth: not an AUTH first" : "auth: not a HELLO after the AUTH";
		goto drop;
	}
	if (m == 0) {
		if (q->in.len >= want) {
			why = "too long";
			goto drop;
		}
		return;
	}
	if (q->peer >= 0) {
		/* its HELLO under the connection's key: proven */
		p = &ha->peers[q->peer];
		if (ha->keylen > 0 && cnm_ha_verify(q->in.p, (size_t)m, q->krx, sizeof(q->krx), 0) < 0) {
			ha->rejected[CNM_HA_R_AUTH]++;
			why = "auth: the HELLO's MAC";
			goto drop;
		}
		/* the peer's new connection replaces the old one (it restarted) */
		if (p->fd >= 0)
			peer_close(ha, p, "replaced by a new connection");
		p->fd = q->fd;
		p->connecting = 0;
		p->authed = 1;
		p->identified = 0;
		p->synced = 0;
		p->in.len = 0;
		p->out.len = 0;
		memcpy(p->ktx, q->ktx, sizeof(p->ktx));
		memcpy(p->krx, q->krx, sizeof(p->krx));
		p->ntx = 0;
		p->nrx = 0;
		buf_add(&p->in, q->in.p, q->in.len);
		buf_free(&q->in);
		q->fd = -1;
		q->peer = -1;
		send_hello(ha, p, CNM_HA_HELLO, 0);
		peer_read(ha, p);
		return;
	}
	r = auth_check(ha, q->in.p, m, &h, pl, id, nc);
	if (r != CNM_HA_OK) {
		ha->rejected[r]++;
		why = cnm_ha_reject_name(r);
		goto drop;
	}
	p = peer_by_id(ha, id);
	/* a configured id, from its configured address, whose turn it is to connect */
	if (p == NULL || p->initiator || !same_ip(&q->src, &p->addr.ip)) {
		ha->rejected[CNM_HA_R_PEER]++;
		why = "peer: not a configured (address, id) that connects to this holder";
		goto drop;
	}
	{
		uint8_t *fr = NULL;
		size_t fl = 0;

		cnm_ha_random(na, sizeof(na));
		if (auth_frame(ha, p->id, na, &fr, &fl) < 0)
			goto drop;
		/* the first bytes on a new connection: they fit its buffer */
		n = send(q->fd, fr, fl, MSG_NOSIGNAL | MSG_DONTWAIT);
		free(fr);
		if (n != (ssize_t)fl)
			goto drop;
	}
	session_keys(ha, p->id, nc, na, 0, q->ktx, q->krx);
	q->peer = (int)(p - ha->peers);
	buf_eat(&q->in, (size_t)m);
	if (q->in.len > 0)
		pending_read(ha, q);
	return;
drop:
	pending_drop(q, why);
}

/* A new connection: from the address of a configured peer only, at most
 * PENDING_PER_SOURCE unproven at a time per address (the oldest goes). */
static void
pending_accept(struct cnm_ha *ha, uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct cnm_addr src;
	uint32_t i, k, same = 0, oldest = PENDING_MAX, oldest_same = PENDING_MAX;
	int fd = accept4(ha->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int known = 0;

	if (fd < 0)
		return;
	memset(&src, 0, sizeof(src));
	if (ss.ss_family == AF_INET) {
		src.family = AF_INET;
		memcpy(src.bytes, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else if (ss.ss_family == AF_INET6) {
		const uint8_t *a = (const uint8_t *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
		static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (memcmp(a, v4mapped, 12) == 0) {
			src.family = AF_INET;
			memcpy(src.bytes, a + 12, 4);
		} else {
			src.family = AF_INET6;
			memcpy(src.bytes, a, 16);
		}
	}
	for (i = 0; i < ha->n_peers; i++)
		known |= same_ip(&src, &ha->peers[i].addr.ip);
	if (!known) {
		char ip[64];

		ha->rejected[CNM_HA_R_PEER]++;
		HA_LOG(INFO, "connection from %s refused: not the address of a peer",
		       cnm_addr_str(&src, ip, sizeof(ip)));
		close(fd);
		return;
	}
	for (i = 0, k = PENDING_MAX; i < PENDING_MAX; i++) {
		struct pending *q = &ha->pend[i];

		if (q->fd < 0) {
			if (k == PENDING_MAX)
				k = i;
			continue;
		}
		if (oldest == PENDING_MAX || q->since < ha->pend[oldest].since)
			oldest = i;
		if (same_ip(&q->src, &src)) {
			same++;
			if (oldest_same == PENDING_MAX || q->since < ha->pend[oldest_same].since)
				oldest_same = i;
		}
	}
	if (same >= PENDING_PER_SOURCE) {
		pending_drop(&ha->pend[oldest_same], "too many from one address");
		k = oldest_same;
	} else if (k == PENDING_MAX) {
		pending_drop(&ha->pend[oldest], "too many");
		k = oldest;
	}
	ha->pend[k].fd = fd;
	ha->pend[k].since = now;
	ha->pend[k].in.len = 0;
	ha->pend[k].src = src;
	ha->pend[k].peer = -1;
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
				pending_accept(ha, now);
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
					/* the handshake: the other side answers with its AUTH */
					cnm_ha_random(p->nonce, sizeof(p->nonce));
					send_auth(ha, p);
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
		if (ha->pend[i].fd >= 0 && now - ha->pend[i].since > PENDING_HELLO_MS)
			pending_drop(&ha->pend[i], "no handshake in time");
	/* a peer silent for failover_ms is dropped: what was queued for it is
	 * lost, and it gets a snapshot when it comes back */
	for (i = 0; i < ha->n_peers; i++) {
		struct ha_peer *p = &ha->peers[i];

		if (p->fd >= 0 && !p->connecting && p->identified &&
		    now - p->last_rx > ha->cfg.failover_ms)
			peer_close(ha, p, "silent");
		/* (measured from the start: next_connect lies ahead of now, so
		 * now - next_connect wrapped round and closed every connect that
		 * did not complete within one step) */
		else if (p->fd >= 0 && p->connecting && now - p->connect_started > 2000)
			peer_close(ha, p, "connect timed out");
		else if (p->fd >= 0 && !p->identified && p->initiator &&
			 now - p->connected_at > PENDING_HELLO_MS)
			peer_close(ha, p, "no answer to the handshake");
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
	uint64_t buf[(2 + 16 + 16 + 2 + 2 + 2 * CNM_NAME_MAX + 7) / 8];
	uint8_t *q = (uint8_t *)buf;
	size_t len = 0, l;
	uint64_t fp;

	memset(buf, 0, sizeof(buf));
	q[len++] = c->family;
	q[len++] = c->proto;
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

/*
 * ha.key_file: a regular file of CNM_HA_KEY_MIN to CNM_HA_KEY_MAX bytes
 * (its bytes are the key), owned by this user or root, readable by nobody
 * else (no group or other permission). -1 with errno and @p err set.
 */
static int
key_load(struct cnm_ha *ha, const char *path, char *err, size_t errlen)
{
	struct stat sb;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		snprintf(err, errlen, "cannot open it: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "not a regular file");
		goto bad;
	}
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "mode %04o: it must be 0600 or stricter (chmod 600 %s)",
			 (unsigned int)(sb.st_mode & 07777), path);
		goto bad;
	}
	if (sb.st_uid != geteuid() && sb.st_uid != 0) {
		snprintf(err, errlen, "owned by uid %u: it must belong to this user (%u) or root",
			 (unsigned int)sb.st_uid, (unsigned int)geteuid());
		goto bad;
	}
	n = read(fd, ha->key, sizeof(ha->key));
	if (n < (ssize_t)CNM_HA_KEY_MIN || sb.st_size > (off_t)sizeof(ha->key)) {
		snprintf(err, errlen, "%lld bytes: it must hold %u to %u (head -c 32 /dev/urandom)",
			 (long long)sb.st_size, CNM_HA_KEY_MIN, (unsigned int)sizeof(ha->key));
		sodium_memzero(ha->key, sizeof(ha->key));
		goto bad;
	}
	ha->keylen = (size_t)n;
	close(fd);
	return 0;
bad:
	close(fd);
	errno = EACCES;
	return -1;
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
	ha->lfd = -1;
	if (cnm_ha_crypto_init() < 0) {
		fprintf(stderr, "cnmux: ha: libsodium cannot start\n");
		errno = EIO;
		goto fail;
	}
	if (ha->cfg.key_file[0] != '\0') {
		char err[CNM_ERR_MAX];

		if (key_load(ha, ha->cfg.key_file, err, sizeof(err)) < 0) {
			int e = errno;

			fprintf(stderr, "cnmux: ha.key_file %s: %s\n", ha->cfg.key_file, err);
			errno = e;
			goto fail;
		}
	} else if (!ha->cfg.trusted_segment) {
		fprintf(stderr, "cnmux: ha: no key_file and no \"trusted_segment\": true\n");
		errno = EINVAL;
		goto fail;
	} else {
		HA_LOG(WARNING, "%s: no key (ha.trusted_segment): the checkpoint channel is not "
		       "authenticated; anyone who reaches %s can take over the cluster", ha->cfg.id,
		       ha->cfg.listen.text);
	}
	ha->primary = NONE;
	ha->st = CNM_HA_ST_JOINING;
	ha->last_takeover_ms = -1;
	ha->start_ms = now_ms();
	for (i = 0; i < PENDING_MAX; i++) {
		ha->pend[i].fd = -1;
		ha->pend[i].peer = -1;
	}
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
		sodium_memzero(ha->key, sizeof(ha->key));
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
	sodium_memzero(ha->key, sizeof(ha->key));
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
