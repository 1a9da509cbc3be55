/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include <rte_log.h>
#include <rte_random.h>

#include "cnm_arp.h"
#include "cnm_nd.h"
#include "cnm_fwd.h"
#include "cnm_health.h"
#include "cnm_log.h"
#include "cnm_probe.h"
#include "cnm_proc.h"
#include "cnm_tls.h"

RTE_LOG_REGISTER(cnm_logtype_health, cnm.health, NOTICE);
#define HC_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cnm_logtype_health, "health: " fmt "\n", ##__VA_ARGS__)

/* a node without "check" but with check_port: ARP / ND and a connect (today's) */
#define CHK_LEGACY CNM_CHECK_MAX
/* TCP source ports of half-open checks: per node, 8 in turn (see tcp_sport()) */
#define SYN_PORT_BASE 1024u
/* notify hooks running at once, at most */
#define NOTIFY_MAX 64

struct node_hc {
	uint32_t gen;          /* node slot generation this state belongs to */
	uint8_t used;
	uint8_t in_round;
	uint8_t arp_seen;      /* ARP reply (IPv6: advertisement) in this round */
	uint8_t learnt;        /* the node's MAC came from its next hop's answer */
	uint8_t type;          /* the round's check: enum cnm_check_type or CHK_LEGACY */
	int8_t result;         /* icmp, tcp, script: 1 passed, -1 failed, 0 nothing yet */
	uint16_t seq;          /* icmp: the round's sequence number; tcp: the round number */
	uint32_t iss;          /* tcp, http: the SYN's sequence number */
	uint32_t irs;          /* http: the node's, from its SYN-ACK */
	uint16_t req_len;      /* http: bytes of the request sent; 0 before the SYN-ACK */
	uint8_t est;           /* https: the SYN-ACK came */
	uint32_t snd_nxt;      /* https: our next sequence number */
	uint32_t rcv_nxt;      /* https: the node's next, in order */
	struct cnm_tls *tls;   /* https: the round's TLS client */
	char why_buf[64];      /* a reason made up for the round ("HTTP status 500") */
	uint32_t ok_run;       /* successes in a row */
	uint32_t fail_run;     /* failures in a row */
	int fd;                /* TCP connect socket, -1 none */
	pid_t pid;             /* script running, 0 none */
	const char *why;       /* the last failed round's reason */
	uint64_t round_end;
	uint64_t round_start;
	uint64_t next_round;
	uint64_t probe_seq;    /* io.queued() after the round's last probe; 0 none */
	/* the last round that ended, for `node show` */
	int8_t last;           /* 1 passed, 0 failed, -1 none yet */
	uint8_t last_type;     /* its check */
	uint64_t last_ms;      /* when it ended */
	char last_why[64];     /* its reason, when it failed */
};

struct cnm_health {
	struct cnm_lb *lb;
	struct cnm_health_io io;
	int enabled;
	int follower;          /* a replica: resolve MACs, never change up/down */
	uint32_t interval, timeout, rise, fall;
	struct cnm_addr source, source6;  /* health.source(6): icmp and tcp checks */
	char notify[CNM_CHECK_CMD_MAX];   /* health.notify, "" none */
	pid_t notify_pid[NOTIFY_MAX];     /* hooks still running, 0 free */
	uint32_t salt;                    /* varies the ids and sequence numbers per run */
	struct cnm_health_stats st;
	uint64_t now_ms;                  /* the last tick's */
	void *tls_ctx;                    /* https checks' SSL_CTX, NULL until the first */
	struct node_hc n[CNM_MAX_NODES];
};

/* Stop a node's round in flight (its socket, its script) without counting it. */
static void
abandon(struct node_hc *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->pid > 0) {
		/* the script's process group: the shell and what it started */
		kill(-s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
	cnm_tls_free(s->tls);
	s->tls = NULL;
	s->in_round = 0;
}

void
cnm_health_configure(struct cnm_health *h, const struct cnm_config *cfg)
{
	/* rounds whose check is gone or changed type end in the next tick */
	h->enabled = cfg->health_enabled;
	h->source = cfg->health_source;
	h->source6 = cfg->health_source6;
	snprintf(h->notify, sizeof(h->notify), "%s", cfg->health_notify);
	h->interval = cfg->health_interval_ms;
	h->timeout = RTE_MIN(cfg->health_timeout_ms, cfg->health_interval_ms);
	h->rise = cfg->health_rise;
	h->fall = cfg->health_fall;
}

void
cnm_health_set_follower(struct cnm_health *h, int follower)
{
	if (h != NULL)
		h->follower = follower;
}

struct cnm_health *
cnm_health_create(struct cnm_lb *lb, const struct cnm_config *cfg, const struct cnm_health_io *io)
{
	struct cnm_health *h = calloc(1, sizeof(*h));
	uint32_t i;

	if (h == NULL)
		return NULL;
	h->lb = lb;
	h->io = *io;
	h->salt = (uint32_t)getpid() * 2654435761u;
	for (i = 0; i < CNM_MAX_NODES; i++)
		h->n[i].fd = -1;
	cnm_health_configure(h, cfg);
	return h;
}

void
cnm_health_free(struct cnm_health *h)
{
	uint32_t i;

	if (h == NULL)
		return;
	for (i = 0; i < CNM_MAX_NODES; i++)
		abandon(&h->n[i]);
	/* the hooks are not waited for: they may run on (init reaps them) */
	cnm_tls_ctx_free(h->tls_ctx);
	free(h);
}

int
cnm_health_wants_rx(const struct cnm_health *h)
{
	uint32_t id;

	if (h->enabled)
		return 1;
	/* a node with a check of its own, or a node whose MAC is learnt, not configured, follows the gratuitous
	 * ARP replies and unsolicited advertisements of its next hop */
	for (id = 0; id < cnm_lb_node_end(h->lb); id++)
		if (cnm_lb_node(h->lb, id)->used &&
				(cnm_lb_node(h->lb, id)->mac == 0 || h->n[id].learnt ||
				 cnm_lb_node_cfg(h->lb, id)->check.type != CNM_CHECK_NONE))
			return 1;
	return 0;
}

const struct cnm_health_stats *
cnm_health_get_stats(const struct cnm_health *h)
{
	return &h->st;
}

/*
 * The address whose MAC frames for a node go to: a tunnel's gateway when it
 * has one, else the node's own address.
 */
static const struct cnm_addr *
next_hop(const struct cnm_cfg_node *c)
{
	if (c->forward != CNM_FWD_MAC && c->has_gateway)
		return &c->gateway;
	return &c->ip;
}

/* The next hop when it is resolved by ARP (IPv4), else NULL. */
static const uint8_t *
arp_target(const struct cnm_cfg_node *c)
{
	const struct cnm_addr *a = next_hop(c);

	return a->family == AF_INET ? a->bytes : NULL;
}

/* The next hop when it is resolved by neighbour discovery (IPv6), else NULL. */
static const uint8_t *
nd_target(const struct cnm_cfg_node *c)
{
	const struct cnm_addr *a = next_hop(c);

	return a->family == AF_INET6 ? a->bytes : NULL;
}

/* A probe of node @p id was queued: the round waits for it to leave. */
static inline void
queued_for(struct cnm_health *h, uint32_t id)
{
	if (h->io.queued != NULL)
		h->n[id].probe_seq = h->io.queued(h->io.arg);
}

/*
 * Has the round of @p s a probe that has not left cnmux yet? Its frames go
 * out through worker 0 (lib/loop), which a loaded machine may not run for a
 * while: the node cannot answer what it has not received, so the timeout
 * starts again from now, for at most PROBE_WAIT_MAX_MS after the round
 * started (then the round ends as it is: failed, the probe unanswered).
 */
#define PROBE_WAIT_MAX_MS 5000
static int
probe_waits(const struct cnm_health *h, const struct node_hc *s)
{
	return s->probe_seq != 0 && h->io.taken != NULL &&
		h->io.taken(h->io.arg) < s->probe_seq;
}

static void
send_arp(struct cnm_health *h, uint32_t id)
{
	const struct cnm_node *nd = cnm_lb_node(h->lb, id);
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(h->lb, id);
	const uint8_t *tpa = arp_target(c);
	static const uint8_t any[4];
	uint8_t frame[60];

	if (tpa == NULL)
		return;
	memset(frame, 0, sizeof(frame));
	cnm_arp_make_request(frame, h->io.priv_mac[nd->port], any, tpa);
	if (h->io.send(h->io.arg, nd->port, frame, sizeof(frame)) == 0) {
		h->st.arp_sent++;
		queued_for(h, id);
	} else {
		h->st.send_failures++;
	}
}

/*
 * A neighbour solicitation for an IPv6 node (or gateway) from the private
 * port's link-local address: to the solicited-node multicast address while
 * its MAC is unknown or the last round failed (address resolution, RFC 4861
 * 7.2.2), else unicast to the MAC it has (reachability confirmation, 7.3.3).
 */
static void
send_ns(struct cnm_health *h, uint32_t id, const uint8_t *target)
{
	const struct cnm_node *nd = cnm_lb_node(h->lb, id);
	const uint8_t *smac = h->io.priv_mac[nd->port];
	uint8_t frame[CNM_ND_NS_FRAME_LEN], ll[16], dmac[6];
	uint64_t mac = nd->mac;

	cnm_nd_link_local(smac, ll);
	memcpy(dmac, &mac, 6);
	cnm_nd_make_ns(frame, smac, ll, target, mac != 0 && h->n[id].fail_run == 0 ? dmac : NULL);
	if (h->io.send(h->io.arg, nd->port, frame, sizeof(frame)) == 0) {
		h->st.nd_sent++;
		queued_for(h, id);
	} else {
		h->st.send_failures++;
	}
}

/* Resolve or probe a node's next hop: ARP for IPv4, ND for IPv6. */
static void
send_probe(struct cnm_health *h, uint32_t id)
{
	const uint8_t *t6 = nd_target(cnm_lb_node_cfg(h->lb, id));

	if (t6 != NULL)
		send_ns(h, id, t6);
	else
		send_arp(h, id);
}

static int
tcp_start(const struct cnm_cfg_node *c, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (c->ip.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		memcpy(&s4->sin_addr, c->ip.bytes, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		memcpy(&s6->sin6_addr, c->ip.bytes, 16);
		sl = sizeof(*s6);
	}
	fd = socket(c->ip.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Did the connect started on fd succeed? */
static int
tcp_done(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0 || poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
		return 0;
	return 1;
}

/* What a node's round checks, and how often: its "check", else the global settings. */
struct eff {
	uint8_t type;
	uint16_t port;
	uint32_t interval, timeout, rise, fall;
};

static void
effective(const struct cnm_health *h, const struct cnm_cfg_node *c, struct eff *e)
{
	const struct cnm_cfg_check *k = &c->check;

	e->type = k->type != CNM_CHECK_NONE ? k->type : c->check_port ? CHK_LEGACY : CNM_CHECK_NEIGH;
	e->port = k->type != CNM_CHECK_NONE ? k->port : c->check_port;
	/* http is a tcp check that goes on past the SYN-ACK */
	e->interval = k->interval_ms ? k->interval_ms : h->interval;
	e->timeout = RTE_MIN(k->timeout_ms ? k->timeout_ms : h->timeout, e->interval);
	e->rise = k->rise ? k->rise : h->rise;
	e->fall = k->fall ? k->fall : h->fall;
}

/* The notify hook: COMMAND NODE STATE REASON, not waited for. */
static void
notify(struct cnm_health *h, const char *node, const char *state, const char *reason)
{
	char *args[3] = { (char *)(uintptr_t)node, (char *)(uintptr_t)state,
		(char *)(uintptr_t)reason };
	uint32_t i;
	pid_t pid;

	if (h->notify[0] == '\0')
		return;
	for (i = 0; i < NOTIFY_MAX && h->notify_pid[i] != 0; i++)
		;
	pid = i < NOTIFY_MAX ? cnm_proc_spawn(h->notify, args, 3, CNM_PROC_APPEND) : -1;
	if (pid < 0) {
		h->st.notify_failures++;
		HC_LOG(WARNING, "notify for node %s %s not started (%s)", node, state,
			i < NOTIFY_MAX ? "spawn failed" : "64 hooks still running");
		return;
	}
	h->notify_pid[i] = pid;
	h->st.notify_runs++;
}

/* Hooks that ended, reaped without waiting. */
static void
notify_reap(struct cnm_health *h)
{
	uint32_t i;

	for (i = 0; i < NOTIFY_MAX; i++)
		if (h->notify_pid[i] != 0 && waitpid(h->notify_pid[i], NULL, WNOHANG) != 0)
			h->notify_pid[i] = 0;
}

/* The address icmp and tcp checks of node @p c come from, or NULL. */
static const struct cnm_addr *
source_of(const struct cnm_health *h, const struct cnm_cfg_node *c)
{
	const struct cnm_addr *a = c->ip.family == AF_INET ? &h->source : &h->source6;

	return a->family != 0 ? a : NULL;
}

/* Ethernet and IP addresses of a probe to node @p id; -1 when it cannot go
 * (no MAC yet, no path, no source address). */
static int
probe_addr(const struct cnm_health *h, uint32_t id, struct cnm_probe_addr *a)
{
	const struct cnm_node *nd = cnm_lb_node(h->lb, id);
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(h->lb, id);
	const struct cnm_addr *src = source_of(h, c);
	uint64_t mac = nd->mac;

	if (src == NULL || mac == 0 || nd->port >= CNM_MAX_PRIVATE)
		return -1;
	memset(a, 0, sizeof(*a));
	memcpy(a->smac, h->io.priv_mac[nd->port], 6);
	memcpy(a->dmac, &mac, 6);
	a->family = c->ip.family;
	memcpy(a->src, src->bytes, 16);
	memcpy(a->dst, c->ip.bytes, 16);
	return 0;
}

static int
send_to_node(struct cnm_health *h, uint32_t id, const uint8_t *frame, uint32_t len)
{
	if (h->io.send_node(h->io.arg, (uint16_t)id, frame, len) == 0) {
		queued_for(h, id);
		return 0;
	}
	h->st.send_failures++;
	return -1;
}

/* Identifier of node @p id's echo requests. */
static uint16_t
echo_id(const struct cnm_health *h, uint32_t id)
{
	return (uint16_t)(id ^ h->salt);
}

/* Source port of node @p id's half-open check in round @p round: one of 8 per
 * node in turn, so that a node still holding the last round's half-open
 * connection (our RST lost) does not take the new SYN for it. */
static uint16_t
tcp_sport(uint32_t id, uint16_t round)
{
	return (uint16_t)(SYN_PORT_BASE + id + CNM_MAX_NODES * (round & 7u));
}

static void
send_echo(struct cnm_health *h, uint32_t id)
{
	struct node_hc *s = &h->n[id];
	struct cnm_probe_addr a;
	uint8_t f[CNM_PROBE_FRAME_MAX];

	if (probe_addr(h, id, &a) < 0)
		return;
	s->seq++;
	if (send_to_node(h, id, f, cnm_probe_make_echo(f, &a, echo_id(h, id), s->seq)) == 0)
		h->st.icmp_sent++;
}

static void
send_syn(struct cnm_health *h, uint32_t id, uint16_t port)
{
	struct node_hc *s = &h->n[id];
	struct cnm_probe_addr a;
	uint8_t f[CNM_PROBE_FRAME_MAX];

	if (probe_addr(h, id, &a) < 0)
		return;
	s->seq++;
	s->iss = h->salt ^ ((uint32_t)s->seq << 16 | id) ^ (uint32_t)rte_rand();
	if (send_to_node(h, id, f, cnm_probe_make_tcp(f, &a, tcp_sport(id, s->seq), port,
			s->iss, 0, CNM_TCP_SYN, NULL, 0)) == 0)
		h->st.syn_sent++;
}

static void
start_script(struct cnm_health *h, uint32_t id)
{
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(h->lb, id);
	char ip[64];
	char *args[2] = { (char *)(uintptr_t)c->name, ip };
	pid_t pid;

	cnm_addr_str(&c->ip, ip, sizeof(ip));
	/* its own process group: a late one is killed with what it started */
	pid = cnm_proc_spawn(c->check.command, args, 2, CNM_PROC_GROUP);
	h->st.script_runs++;
	if (pid < 0) {
		h->n[id].result = -1;
		h->n[id].why = "script not started";
		return;
	}
	h->n[id].pid = pid;
}

/* A script that ended: its status is the round's result. */
static void
script_reap(struct cnm_health *h, uint32_t id)
{
	struct node_hc *s = &h->n[id];
	int status;

	if (s->pid <= 0 || waitpid(s->pid, &status, WNOHANG) != s->pid)
		return;
	s->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		s->result = 1;
	} else {
		s->result = -1;
		s->why = WIFEXITED(status) ? "script exited with a status not 0" :
			"script killed by a signal";
	}
}

static void
start_round(struct cnm_health *h, uint32_t id, const struct eff *e, uint64_t now)
{
	struct node_hc *s = &h->n[id];
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(h->lb, id);

	s->in_round = 1;
	s->arp_seen = 0;
	s->result = 0;
	s->why = NULL;
	s->type = e->type;
	s->round_start = now;
	s->round_end = now + e->timeout;
	s->next_round = now + e->interval;
	s->probe_seq = 0;
	/* every round resolves or confirms the next hop: the MAC the other
	 * checks are sent to, kept up to date */
	send_probe(h, id);
	switch (e->type) {
	case CHK_LEGACY:
	case CNM_CHECK_CONNECT:
		s->fd = tcp_start(c, e->port);
		break;
	case CNM_CHECK_ICMP:
		send_echo(h, id);
		break;
	case CNM_CHECK_TCP:
	case CNM_CHECK_HTTP:
	case CNM_CHECK_HTTPS:
		s->req_len = 0;
		s->est = 0;
		send_syn(h, id, e->port);
		break;
	case CNM_CHECK_SCRIPT:
		start_script(h, id);
		break;
	default:
		break;
	}
}

/* The round's verdict: 1 passed, else 0 with s->why set. */
static int
verdict(struct cnm_health *h, uint32_t id)
{
	struct node_hc *s = &h->n[id];
	const char *no_neigh = nd_target(cnm_lb_node_cfg(h->lb, id)) != NULL ?
		"no ND advertisement" : "no ARP reply";
	int t;

	switch (s->type) {
	case CHK_LEGACY:
	case CNM_CHECK_CONNECT:
		t = tcp_done(s->fd);
		h->st.tcp_checks++;
		if (!t)
			h->st.tcp_failures++;
		if (s->type == CHK_LEGACY && !s->arp_seen) {
			s->why = no_neigh;
			return 0;
		}
		s->why = "TCP connect failed";
		return t;
	case CNM_CHECK_ICMP:
		if (s->result <= 0) {
			h->st.icmp_failures++;
			s->why = cnm_lb_node(h->lb, id)->mac == 0 ? no_neigh : "no echo reply";
		}
		return s->result > 0;
	case CNM_CHECK_TCP:
		if (s->result <= 0) {
			h->st.syn_failures++;
			if (s->why == NULL)
				s->why = cnm_lb_node(h->lb, id)->mac == 0 ? no_neigh : "no SYN-ACK";
		}
		return s->result > 0;
	case CNM_CHECK_HTTP:
		if (s->result <= 0) {
			h->st.http_failures++;
			if (s->why == NULL)
				s->why = cnm_lb_node(h->lb, id)->mac == 0 ? no_neigh :
					s->req_len == 0 ? "no SYN-ACK" : "no HTTP response";
		}
		return s->result > 0;
	case CNM_CHECK_HTTPS:
		if (s->result <= 0) {
			h->st.http_failures++;
			if (s->why == NULL)
				s->why = cnm_lb_node(h->lb, id)->mac == 0 ? no_neigh :
					!s->est ? "no SYN-ACK" : "no HTTPS response";
		}
		return s->result > 0;
	case CNM_CHECK_SCRIPT:
		if (s->pid > 0) {
			kill(-s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->pid = 0;
			h->st.script_timeouts++;
			s->result = -1;
			s->why = "script killed at timeout_ms";
		}
		if (s->result <= 0)
			h->st.script_failures++;
		return s->result > 0;
	default:
		h->st.arp_checks++;
		if (!s->arp_seen) {
			h->st.arp_failures++;
			s->why = no_neigh;
		}
		return s->arp_seen;
	}
}

/*
 * A tcp or http round that ends without its RST sent (no answer, no
 * response): RST now, so that the node drops what it may hold (a half-open
 * connection, an HTTP request its server still works on) before this source
 * port comes round again.
 */
static void
tcp_abort(struct cnm_health *h, uint32_t id, uint16_t port)
{
	struct node_hc *s = &h->n[id];
	struct cnm_probe_addr a;
	uint8_t f[CNM_PROBE_FRAME_MAX];

	if (probe_addr(h, id, &a) == 0)
		(void)send_to_node(h, id, f, cnm_probe_make_tcp(f, &a, tcp_sport(id, s->seq), port,
			s->type == CNM_CHECK_HTTPS && s->est ? s->snd_nxt : s->iss + 1 + s->req_len,
			0, CNM_TCP_RST, NULL, 0));
}

static void
end_round(struct cnm_health *h, uint32_t id, const struct eff *e, uint64_t now)
{
	struct node_hc *s = &h->n[id];
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(h->lb, id);
	const struct cnm_node *nd = cnm_lb_node(h->lb, id);
	int ok;
	char why[96];

	if ((s->type == CNM_CHECK_TCP || s->type == CNM_CHECK_HTTP ||
	     s->type == CNM_CHECK_HTTPS) && s->result == 0)
		tcp_abort(h, id, e->port);
	ok = verdict(h, id);
	cnm_tls_free(s->tls);
	s->tls = NULL;
	s->last = (int8_t)(ok != 0);
	s->last_type = s->type;
	s->last_ms = now;
	snprintf(s->last_why, sizeof(s->last_why), "%s", ok || s->why == NULL ? "" : s->why);

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->in_round = 0;
	if (ok) {
		s->ok_run++;
		s->fail_run = 0;
		if (!h->follower && !nd->up && s->ok_run >= e->rise && nd->mac != 0 &&
				!cnm_lb_node_admin_down(h->lb, id) &&
				cnm_lb_node_set_up(h->lb, (uint16_t)id, 1) == 0) {
			h->st.went_up++;
			/* a change of the tables: the audit trail's */
			CNM_AUDIT(NOTICE, "health: node %s up (%u checks passed)", c->name, s->ok_run);
			snprintf(why, sizeof(why), "%u %s checks passed", s->ok_run,
				cnm_check_name(s->type == CHK_LEGACY ? CNM_CHECK_CONNECT : s->type,
					nd_target(c) != NULL));
			notify(h, c->name, "up", why);
		}
	} else {
		s->fail_run++;
		s->ok_run = 0;
		if (!h->follower && nd->up && s->fail_run >= e->fall &&
				cnm_lb_node_set_up(h->lb, (uint16_t)id, 0) == 0) {
			h->st.went_down++;
			CNM_AUDIT(WARNING, "health: node %s down (%u checks failed: %s)", c->name,
				s->fail_run, s->why);
			snprintf(why, sizeof(why), "%u checks failed: %s", s->fail_run, s->why);
			notify(h, c->name, "down", why);
		}
	}
}

void
cnm_health_tick(struct cnm_health *h, uint64_t now)
{
	struct cnm_lb *lb = h->lb;
	uint32_t id;

	h->now_ms = now;
	notify_reap(h);
	for (id = 0; id < cnm_lb_node_end(lb); id++) {
		struct node_hc *s = &h->n[id];
		const struct cnm_node *nd = cnm_lb_node(lb, id);
		const struct cnm_cfg_node *c;
		struct eff e;

		if (!nd->used) {
			abandon(s);
			s->used = 0;
			continue;
		}
		if (!s->used || s->gen != nd->gen) {
			/* new node in this slot, or it went down: keep counting
			 * only for the same node */
			if (!s->used) {
				abandon(s);
				s->ok_run = 0;
				s->fail_run = 0;
				s->learnt = 0;
				s->last = -1;
				s->next_round = now;
			}
			s->used = 1;
			s->gen = nd->gen;
		}
		c = cnm_lb_node_cfg(lb, id);
		effective(h, c, &e);
		if (!h->enabled && c->check.type == CNM_CHECK_NONE) {
			abandon(s);
			/* resolution only: probe until the MAC is known */
			if (nd->mac == 0 && now >= s->next_round) {
				send_probe(h, id);
				s->next_round = now + h->interval;
			}
			continue;
		}
		if (s->in_round && s->type != e.type) {
			/* another check now ("node check", a reload): from a new round */
			abandon(s);
			s->next_round = now;
		}
		if (s->in_round && s->pid > 0)
			script_reap(h, id);
		/* a probe still queued: its timeout counts from when it leaves
		 * (past PROBE_WAIT_MAX_MS the round ends as it is: failed) */
		if (s->in_round && now >= s->round_end && probe_waits(h, s) &&
				now - s->round_start < PROBE_WAIT_MAX_MS) {
			s->round_end = now + e.timeout;
			h->st.probe_waits++;
		}
		if (s->in_round && now >= s->round_end)
			end_round(h, id, &e, now);
		if (!s->in_round && now >= s->next_round)
			start_round(h, id, &e, now);
	}
}

/*
 * An answer from next hop @p addr (IPv4 by ARP, IPv6 by ND, as @p family says)
 * on private port @p idx: every node behind that address counts it (one
 * gateway serves several tunnels) and takes @p mac when it has none, or when
 * @p update (ARP; an advertisement with the override flag, RFC 4861 7.2.5).
 * @p mac NULL: reachability only. Returns the nodes it matched.
 */
static uint32_t
learn(struct cnm_health *h, uint16_t idx, int family, const uint8_t *addr, const uint8_t *mac,
		int update)
{
	struct cnm_lb *lb = h->lb;
	uint32_t id, seen = 0;

	for (id = 0; id < cnm_lb_node_end(lb); id++) {
		const struct cnm_node *nd = cnm_lb_node(lb, id);
		const struct cnm_cfg_node *c;
		const uint8_t *t;
		uint64_t m = 0;

		if (!nd->used || nd->port != idx)
			continue;
		c = cnm_lb_node_cfg(lb, id);
		t = family == AF_INET ? arp_target(c) : nd_target(c);
		if (t == NULL || memcmp(t, addr, family == AF_INET ? 4 : 16) != 0)
			continue;
		seen++;
		if (family == AF_INET)
			h->st.arp_replies++;
		else
			h->st.nd_replies++;
		if (mac != NULL)
			memcpy(&m, mac, 6);
		if (m == 0 || (nd->mac != 0 && !update)) {
			if (nd->mac == 0)
				continue; /* nothing learnt: not resolved */
		} else if (m != nd->mac) {
			if (nd->mac != 0)
				CNM_AUDIT(NOTICE, "health: node %s moved to another MAC", c->name);
			cnm_lb_node_set_mac(lb, (uint16_t)id, mac);
			h->n[id].learnt = 1;
		}
		h->n[id].arp_seen = 1;
		/* a node with a check of its own waits for it to pass */
		if (!h->enabled && c->check.type == CNM_CHECK_NONE && !h->follower && !nd->up &&
				!cnm_lb_node_admin_down(lb, id) &&
				cnm_lb_node_set_up(lb, (uint16_t)id, 1) == 0) {
			h->st.went_up++;
			CNM_AUDIT(NOTICE, "health: node %s resolved, up", c->name);
		}
	}
	return seen;
}

/*
 * A solicitation on private port @p idx for the port's own link-local address
 * (the source of cnmux's solicitations): a node that answered one checks
 * that address's reachability in turn (RFC 4861 7.3.3), and is answered.
 */
static void
input_ns(struct cnm_health *h, uint16_t idx, const uint8_t *frame, uint32_t len,
		const struct cnm_nd *ns)
{
	uint8_t out[14 + CNM_ND_NA_IP_LEN], ll[16];
	int src6;

	cnm_nd_link_local(h->io.priv_mac[idx], ll);
	src6 = h->source6.family != 0 && memcmp(ns->target, h->source6.bytes, 16) == 0;
	if ((memcmp(ns->target, ll, 16) != 0 && !src6) || len < 14)
		return;
	memcpy(out, frame, 14);
	if (h->io.send(h->io.arg, idx, out,
			cnm_nd_make_na(out, 14, ns, h->io.priv_mac[idx])) != 0)
		h->st.send_failures++;
	else if (src6)
		h->st.source_answered++;
	else
		h->st.nd_answered++;
}

/* A neighbour solicitation or advertisement (untagged, no extension
 * headers: the private segment's nodes and routers send them so). */
static int
input_nd(struct cnm_health *h, uint16_t idx, const uint8_t *frame, uint32_t len)
{
	struct cnm_nd na;
	const uint8_t *mac;
	uint32_t end;

	if (len < 14 + 40 + 24 || frame[20] != 58 /* ICMPv6 */ ||
			(frame[54] != CNM_ND_NA && frame[54] != CNM_ND_NS))
		return 0;
	end = 14 + 40 + ((uint32_t)frame[18] << 8 | frame[19]);
	if (cnm_nd_parse(frame, len, 14, 54, end, &na) != CNM_DROP_NONE) {
		h->st.nd_invalid++;
		return 0;
	}
	if (na.type == CNM_ND_NS) {
		input_ns(h, idx, frame, len, &na);
		return 0;
	}
	/* no target link-layer option: the sender's MAC resolves a node that
	 * has none, and confirms one that has */
	mac = na.has_lla ? na.lla : frame + 6;
	return learn(h, idx, AF_INET6, na.target, mac,
		na.has_lla && (na.flags & CNM_ND_NA_OVERRIDE)) > 0;
}

/*
 * An ARP request for health.source on private port @p idx: the node of an
 * icmp or tcp check resolves the address it answers, and is told the port's
 * MAC (RFC 826), whatever asked.
 */
static void
input_arp_request(struct cnm_health *h, uint16_t idx, const uint8_t *frame, uint32_t len,
		const struct cnm_arp *a)
{
	uint8_t out[64];

	if (h->source.family == 0 || memcmp(a->tpa, h->source.bytes, 4) != 0 ||
			len < 14 + 28 || len > sizeof(out))
		return;
	memcpy(out, frame, len);
	cnm_arp_make_reply(out, 14, h->io.priv_mac[idx]);
	if (h->io.send(h->io.arg, idx, out, len < 60 ? 60 : len) == 0)
		h->st.source_answered++;
	else
		h->st.send_failures++;
}

/* The node of a reply to health.source(6): its echo id or TCP port says which
 * (and its address must be that node's), else -1. */
static int
reply_node(const struct cnm_health *h, const struct cnm_probe_reply *r, int kind)
{
	uint32_t id;
	const struct cnm_cfg_node *c;

	if (kind == CNM_PROBE_ECHO_REPLY)
		id = (uint16_t)(r->id ^ h->salt);
	else if (r->dport >= SYN_PORT_BASE)
		id = (r->dport - SYN_PORT_BASE) % CNM_MAX_NODES;
	else
		return -1;
	if (id >= cnm_lb_node_end(h->lb) || !cnm_lb_node(h->lb, id)->used)
		return -1;
	c = cnm_lb_node_cfg(h->lb, id);
	if (c->ip.family != r->family || memcmp(c->ip.bytes, r->src,
			r->family == AF_INET ? 4 : 16) != 0)
		return -1;
	return (int)id;
}

/* The GET of node @c's http or https check; its length. */
static int
http_request(const struct cnm_cfg_node *c, char *req, size_t cap)
{
	char host[64];
	int n;

	cnm_addr_str(&c->ip, host, sizeof(host));
	n = snprintf(req, cap, "GET %s HTTP/1.0\r\nHost: %s%s%s\r\n"
		"User-Agent: cnmux-health\r\nConnection: close\r\n\r\n",
		c->check.path[0] != '\0' ? c->check.path : "/",
		c->ip.family == AF_INET6 ? "[" : "", host,
		c->ip.family == AF_INET6 ? "]" : "");
	if (n < 0 || (size_t)n >= cap)
		n = (int)strlen(req);
	return n;
}

/* A response's status line: the round's result (http and https alike). */
static void
http_judge(struct cnm_health *h, struct node_hc *s, const struct cnm_cfg_node *c, int code)
{
	if (code == c->check.expect) {
		h->st.http_ok++;
		s->result = 1;
		return;
	}
	s->result = -1;
	if (code < 0)
		snprintf(s->why_buf, sizeof(s->why_buf), "not an HTTP response");
	else
		snprintf(s->why_buf, sizeof(s->why_buf), "HTTP status %d, expected %u",
			code, c->check.expect);
	s->why = s->why_buf;
}

/* End node @p id's HTTP connection: RST after the request's bytes. */
static void
http_reset(struct cnm_health *h, uint32_t id, const struct cnm_probe_reply *r)
{
	const struct node_hc *s = &h->n[id];
	struct cnm_probe_addr a;
	uint8_t f[CNM_PROBE_FRAME_MAX];

	if (probe_addr(h, id, &a) == 0)
		(void)send_to_node(h, id, f, cnm_probe_make_tcp(f, &a, r->dport, r->sport,
			s->iss + 1 + s->req_len, 0, CNM_TCP_RST, NULL, 0));
}

/*
 * A segment of node @p id's HTTP check (a client of one request, on the
 * private path): the SYN-ACK is answered with the request (ACK, PSH: the
 * third segment of the handshake carries it); the first data segment is the
 * response, whose status line decides; then RST. Nothing is retransmitted: a
 * lost segment fails the round at timeout_ms, as a lost SYN does.
 */
static int
input_http(struct cnm_health *h, uint32_t id, const uint8_t *frame,
		const struct cnm_probe_reply *r)
{
	struct node_hc *s = &h->n[id];
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(h->lb, id);
	struct cnm_probe_addr a;
	uint8_t f[CNM_PROBE_FRAME_MAX];
	char req[CNM_PROBE_DATA_MAX];
	int n, code;

	if (r->dport != tcp_sport(id, s->seq) || r->sport != c->check.port ||
			!(r->flags & CNM_TCP_ACK) || s->result != 0 ||
			r->tack != s->iss + 1 + s->req_len) {
		h->st.probe_unmatched++;
		return 1;
	}
	if (r->flags & CNM_TCP_RST) {
		h->st.syn_rsts++;
		s->result = -1;
		s->why = s->req_len == 0 ? "TCP RST (port closed)" : "HTTP connection reset";
		return 1;
	}
	if (s->req_len == 0) {
		if (!(r->flags & CNM_TCP_SYN) || probe_addr(h, id, &a) < 0) {
			h->st.probe_unmatched++;
			return 1;
		}
		h->st.syn_acks++;
		s->irs = r->tseq;
		n = http_request(c, req, sizeof(req));
		s->req_len = (uint16_t)n;
		if (send_to_node(h, id, f, cnm_probe_make_tcp(f, &a, r->dport, r->sport,
				s->iss + 1, s->irs + 1, CNM_TCP_ACK | CNM_TCP_PSH, req,
				(uint32_t)n)) == 0)
			h->st.http_sent++;
		return 1;
	}
	if (r->dlen == 0 || r->tseq != s->irs + 1) {
		/* an ACK of the request, a retransmission: wait for the response */
		if (r->dlen == 0 && (r->flags & CNM_TCP_FIN)) {
			s->result = -1;
			s->why = "HTTP connection closed without a response";
			http_reset(h, id, r);
		}
		return 1;
	}
	code = cnm_probe_http_status(frame + r->doff, r->dlen);
	http_judge(h, s, c, code);
	http_reset(h, id, r);
	return 1;
}

/*
 * Node @p id's https connection: what its TLS client has to send, in
 * segments of at most the default MSS (ACK, PSH), or a bare ACK of what came
 * when it has nothing. Nothing is retransmitted (as for http).
 */
static void
https_send(struct cnm_health *h, uint32_t id)
{
	struct node_hc *s = &h->n[id];
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(h->lb, id);
	struct cnm_probe_addr a;
	uint8_t f[CNM_PROBE_FRAME_MAX], d[CNM_PROBE_DATA_MAX];
	size_t n;
	int sent = 0;

	if (probe_addr(h, id, &a) < 0)
		return;
	while (s->tls != NULL && (n = cnm_tls_output(s->tls, d, sizeof(d))) > 0) {
		(void)send_to_node(h, id, f, cnm_probe_make_tcp(f, &a, tcp_sport(id, s->seq),
			c->check.port, s->snd_nxt, s->rcv_nxt, CNM_TCP_ACK | CNM_TCP_PSH, d,
			(uint32_t)n));
		s->snd_nxt += (uint32_t)n;
		sent = 1;
	}
	if (!sent)
		(void)send_to_node(h, id, f, cnm_probe_make_tcp(f, &a, tcp_sport(id, s->seq),
			c->check.port, s->snd_nxt, s->rcv_nxt, CNM_TCP_ACK, NULL, 0));
}

/* The https round's end, decided: RST at our next sequence number. */
static void
https_reset(struct cnm_health *h, uint32_t id)
{
	struct node_hc *s = &h->n[id];
	struct cnm_probe_addr a;
	uint8_t f[CNM_PROBE_FRAME_MAX];

	if (probe_addr(h, id, &a) == 0)
		(void)send_to_node(h, id, f, cnm_probe_make_tcp(f, &a, tcp_sport(id, s->seq),
			cnm_lb_node_cfg(h->lb, id)->check.port, s->snd_nxt, 0, CNM_TCP_RST, NULL, 0));
	cnm_tls_free(s->tls);
	s->tls = NULL;
}

/*
 * A segment of node @p id's https check: a TCP client of one TLS session and
 * one request, on the private path. The SYN-ACK starts the TLS client
 * (lib/health/tls.c) and its ClientHello goes out; the node's bytes are
 * taken in order (one out of order is answered with an ACK of what came, and
 * waits for the node to send it again) and fed to the client, whose answers
 * go out; the response's status line decides, then RST.
 */
static int
input_https(struct cnm_health *h, uint32_t id, const uint8_t *frame,
		const struct cnm_probe_reply *r)
{
	struct node_hc *s = &h->n[id];
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(h->lb, id);
	char req[CNM_PROBE_DATA_MAX];
	int ret, code = -1;

	if (r->dport != tcp_sport(id, s->seq) || r->sport != c->check.port ||
			!(r->flags & CNM_TCP_ACK) || s->result != 0 ||
			(!s->est && r->tack != s->iss + 1) ||
			(s->est && (r->tack - (s->iss + 1) > s->snd_nxt - (s->iss + 1)))) {
		h->st.probe_unmatched++;
		return 1;
	}
	if (r->flags & CNM_TCP_RST) {
		h->st.syn_rsts += !s->est;
		s->result = -1;
		s->why = !s->est ? "TCP RST (port closed)" : "HTTPS connection reset";
		cnm_tls_free(s->tls);
		s->tls = NULL;
		return 1;
	}
	if (!s->est) {
		if (!(r->flags & CNM_TCP_SYN)) {
			h->st.probe_unmatched++;
			return 1;
		}
		h->st.syn_acks++;
		s->est = 1;
		s->irs = r->tseq;
		s->rcv_nxt = r->tseq + 1;
		s->snd_nxt = s->iss + 1;
		if (h->tls_ctx == NULL)
			h->tls_ctx = cnm_tls_ctx_new();
		s->tls = cnm_tls_new(h->tls_ctx, req, (size_t)http_request(c, req, sizeof(req)));
		if (s->tls == NULL) {
			s->result = -1;
			s->why = "TLS client not started";
			https_reset(h, id);
			return 1;
		}
		h->st.http_sent++;
		https_send(h, id);
		return 1;
	}
	if (r->dlen == 0 && !(r->flags & CNM_TCP_FIN))
		return 1; /* an ACK of ours */
	if (r->tseq != s->rcv_nxt) {
		/* a retransmission, or a segment past one lost: say what came */
		https_send(h, id);
		return 1;
	}
	s->rcv_nxt += r->dlen;
	ret = cnm_tls_input(s->tls, frame + r->doff, r->dlen, &code, s->why_buf,
		sizeof(s->why_buf));
	if (ret == 0 && (r->flags & CNM_TCP_FIN)) {
		s->rcv_nxt++;
		snprintf(s->why_buf, sizeof(s->why_buf), "HTTPS connection closed without a response");
		ret = -1;
	}
	if (ret < 0) {
		s->result = -1;
		s->why = s->why_buf;
		https_reset(h, id);
		return 1;
	}
	if (ret > 0) {
		http_judge(h, s, c, code);
		https_reset(h, id);
		return 1;
	}
	https_send(h, id);
	return 1;
}

/*
 * An IPv4 or IPv6 packet on a private port: the answers to icmp and tcp
 * checks are consumed (1); the rest is not the checker's (0). A SYN-ACK is
 * answered with RST (the half-open check's end: the node frees its
 * connection at once).
 */
static int
input_probe(struct cnm_health *h, const uint8_t *frame, uint32_t len)
{
	struct cnm_probe_reply r;
	int kind = cnm_probe_parse(frame, len, &r), id;
	const struct cnm_addr *src;
	struct node_hc *s;

	if (kind == CNM_PROBE_OTHER)
		return 0;
	src = r.family == AF_INET ? &h->source : &h->source6;
	if (src->family == 0 || memcmp(src->bytes, r.dst, r.family == AF_INET ? 4 : 16) != 0)
		return 0;
	if (kind == CNM_PROBE_INVALID) {
		h->st.probe_invalid++;
		return 1;
	}
	id = reply_node(h, &r, kind);
	s = id >= 0 ? &h->n[id] : NULL;
	if (kind == CNM_PROBE_ECHO_REPLY) {
		if (s == NULL || !s->in_round || s->type != CNM_CHECK_ICMP || r.seq != s->seq) {
			h->st.probe_unmatched++;
			return 1;
		}
		h->st.icmp_replies++;
		s->result = 1;
		return 1;
	}
	if (s != NULL && s->in_round && s->type == CNM_CHECK_HTTP)
		return input_http(h, (uint32_t)id, frame, &r);
	if (s != NULL && s->in_round && s->type == CNM_CHECK_HTTPS)
		return input_https(h, (uint32_t)id, frame, &r);
	if (s == NULL || !s->in_round || s->type != CNM_CHECK_TCP ||
			r.dport != tcp_sport((uint32_t)id, s->seq) ||
			r.sport != cnm_lb_node_cfg(h->lb, (uint32_t)id)->check.port ||
			!(r.flags & CNM_TCP_ACK) || r.tack != s->iss + 1) {
		h->st.probe_unmatched++;
		return 1;
	}
	if ((r.flags & (CNM_TCP_SYN | CNM_TCP_RST)) == CNM_TCP_SYN) {
		struct cnm_probe_addr a;
		uint8_t f[CNM_PROBE_FRAME_MAX];

		h->st.syn_acks++;
		if (s->result == 0)
			s->result = 1;
		if (probe_addr(h, (uint32_t)id, &a) == 0)
				(void)send_to_node(h, (uint32_t)id, f, cnm_probe_make_tcp(f, &a, r.dport,
				r.sport, r.tack, 0, CNM_TCP_RST, NULL, 0));
	} else if (r.flags & CNM_TCP_RST) {
		h->st.syn_rsts++;
		s->result = -1;
		s->why = "TCP RST (port closed)";
	} else {
		h->st.probe_unmatched++;
	}
	return 1;
}

int
cnm_health_input(struct cnm_health *h, uint16_t idx, const uint8_t *frame, uint32_t len,
		uint64_t now)
{
	struct cnm_arp a;

	RTE_SET_USED(now);
	if (len < 14)
		return 0;
	if (frame[12] == 0x86 && frame[13] == 0xdd) {
		if (len > 14 + 40 && frame[20] == 58 /* ICMPv6 */ &&
				(frame[54] == CNM_ND_NA || frame[54] == CNM_ND_NS))
			return input_nd(h, idx, frame, len);
		return input_probe(h, frame, len);
	}
	if (frame[12] == 0x08 && frame[13] == 0x00)
		return input_probe(h, frame, len);
	if (frame[12] != 0x08 || frame[13] != 0x06)
		return 0;
	if (cnm_arp_parse(frame, len, 14, &a) != 0)
		return 0;
	if (a.op == CNM_ARP_REQUEST) {
		input_arp_request(h, idx, frame, len, &a);
		return 0;
	}
	if (a.op != CNM_ARP_REPLY)
		return 0;
	return learn(h, idx, AF_INET, a.spa, a.sha, 1) > 0;
}

json_t *
cnm_health_node_json(const struct cnm_health *h, uint16_t id)
{
	const struct node_hc *s;
	const struct cnm_cfg_node *c;
	struct eff e;
	json_t *o;
	int v6;

	if (h == NULL || id >= CNM_MAX_NODES || (c = cnm_lb_node_cfg(h->lb, id)) == NULL)
		return json_null();
	s = &h->n[id];
	v6 = nd_target(c) != NULL;
	effective(h, c, &e);
	o = json_object();
	if (!h->enabled && c->check.type == CNM_CHECK_NONE) {
		/* resolution only: nothing decides up or down */
		json_object_set_new(o, "check", json_null());
		return o;
	}
	json_object_set_new(o, "check", json_string(cnm_check_name(
		e.type == CHK_LEGACY ? CNM_CHECK_CONNECT : e.type, v6)));
	json_object_set_new(o, "interval_ms", json_integer(e.interval));
	json_object_set_new(o, "timeout_ms", json_integer(e.timeout));
	json_object_set_new(o, "rise", json_integer(e.rise));
	json_object_set_new(o, "fall", json_integer(e.fall));
	json_object_set_new(o, "passed_in_a_row", json_integer(s->used ? s->ok_run : 0));
	json_object_set_new(o, "failed_in_a_row", json_integer(s->used ? s->fail_run : 0));
	if (!s->used || s->last < 0) {
		json_object_set_new(o, "last", json_null());
		return o;
	}
	json_object_set_new(o, "last", json_pack("{s:s,s:s,s:I,s:s?}",
		"result", s->last ? "passed" : "failed",
		"check", cnm_check_name(s->last_type == CHK_LEGACY ? CNM_CHECK_CONNECT :
			s->last_type, v6),
		"ms_ago", (json_int_t)(h->now_ms - s->last_ms),
		"reason", s->last ? NULL : s->last_why));
	return o;
}
