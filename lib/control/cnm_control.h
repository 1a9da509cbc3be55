/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Run-time control (see docs/control.md): the control socket, its
 * request/response protocol, and reload. Runs on the control (main) lcore
 * only; never blocks a worker. Requests are JSON objects, one per line:
 *     {"cmd": "node drain", "node": "node2"}
 * answered by one JSON object per line:
 *     {"ok": true, ...}  or  {"ok": false, "error": "..."}
 */
#ifndef CNM_CONTROL_H
#define CNM_CONTROL_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "cnm_config.h"
#include "cnm_conntrack.h"
#include "cnm_service.h"
#include "cnm_stats.h"

/** What the control side works on. */
struct cnm_ctx {
	struct cnm_lb *lb;
	struct cnm_config *cfg;       /**< the configuration running now (reload diffs against it) */
	char config_path[4096];       /**< file reload reads */
	struct cnm_wstats **stats;    /**< each worker's counters */
	unsigned int n_workers;
	pthread_mutex_t *ctl_lock;    /**< held around every change (telemetry reads under it) */
	/** Tracked TCP connections of every worker; NULL when there is no list. */
	uint64_t (*conns_count)(void *arg);
	/**
	 * Dump up to @p max tracked connections into @p arr (JSON objects with
	 * "client", "vip", "node", "service", "state", "expires_ms"); optional filter
	 * by service / node id (-1 = any). Returns how many were added or -errno.
	 */
	int (*conns_dump)(void *arg, json_t *arr, uint32_t max, int32_t svc, int32_t node);
	/**
	 * Which worker's list holds connection @p k: its index, with the entry
	 * in *@p c, or -1; *@p now gets a worker's clock either way (the
	 * clock of the entries' expiry). Changes nothing. For `explain`.
	 */
	int (*conns_lookup)(void *arg, const struct cnm_conn_key *k, struct cnm_conn *c,
			uint32_t *now);
	void *conns_arg;
	/**
	 * Fill the CNM_STATS_MORE fields of the totals (the ports' own
	 * counters, the mbuf pool, the health checker's counters); called with
	 * ctl_lock held. NULL: they stay 0.
	 */
	void (*more_stats)(void *arg, struct cnm_stats_total *t);
	void *more_stats_arg;
	/**
	 * `stats rate`: the keys of `stats`, per second over the control
	 * loop's last interval, plus "interval_ms"; called with ctl_lock held.
	 * NULL: the command is refused.
	 */
	json_t *(*rates)(void *arg);
	void *rates_arg;
	/**
	 * `path show`: the private paths, their state and counters
	 * (cnm_path_json()); called with ctl_lock held. NULL: refused.
	 */
	json_t *(*paths)(void *arg);
	void *paths_arg;
	/**
	 * `node show`: node @p id's health check as it runs now
	 * (cnm_health_node_json()); called with ctl_lock held. NULL: left out.
	 */
	json_t *(*node_health)(void *arg, uint16_t id);
	void *node_health_arg;
	/**
	 * Called once a new configuration runs (reload, SIGHUP, an edit, one
	 * applied from the HA primary), with ctl_lock held: for what takes its
	 * settings from it outside the tables (the health checker). The data
	 * path's switches (icmp_echo, verify_checksum) are set by the reload
	 * itself. NULL: none.
	 */
	void (*on_commit)(void *arg, const struct cnm_config *cfg);
	void *on_commit_arg;
	uint64_t cfg_gen;             /**< bumped whenever ctx->cfg is replaced */
	/*
	 * High availability (lib/ha, docs/ha.md); all NULL without "ha".
	 * ha_may_change: 0 when this holder accepts changes (the primary), else
	 * -EPERM with the reason in err ("not the primary: ..."). ha_commit:
	 * called after a change, without ctx->ctl_lock: checkpoints it and waits
	 * for the secondary's ACK; -errno with the reason when it did not come.
	 * ha_status: the object of `ha status`.
	 */
	int (*ha_may_change)(void *arg, char *err, size_t errlen);
	int (*ha_commit)(void *arg, char *err, size_t errlen);
	json_t *(*ha_status)(void *arg);
	void *ha_arg;
};

/**
 * Execute one request. Always returns a response object (the caller
 * json_decref()s it); never aborts on bad input. Takes ctx->ctl_lock around
 * the command (reads too): do not call it with the lock held.
 */
json_t *cnm_control_exec(struct cnm_ctx *ctx, const json_t *req);

/**
 * Execute one request given as text (one line of the protocol); returns the
 * response text (malloc'ed, no newline). For the socket server and fuzzers.
 */
char *cnm_control_exec_text(struct cnm_ctx *ctx, const char *req, size_t len);

/**
 * As cnm_control_exec() and cnm_control_exec_text(), for a request from
 * @p who ("uid 0 pid 4242": the socket server, from SO_PEERCRED; NULL:
 * "local"). A request that changes something (a command that changes the
 * tables, `reload`, `zero`) writes one audit line, refused or not
 * (cnm.audit, docs/logging.md): who, the command and its arguments, "ok"
 * (with a reload's changes) or "refused:" and the error.
 */
/**
 * A summary of changes (what reload and the edits answer in "changes") as
 * one short text for a log line: what changed, without the empty lists and
 * zero counts ({"weights_changed":1}), or "no change". malloc'ed; NULL when
 * out of memory.
 */
char *cnm_control_changes_text(const json_t *changes);

json_t *cnm_control_exec_as(struct cnm_ctx *ctx, const json_t *req, const char *who);
char *cnm_control_exec_text_as(struct cnm_ctx *ctx, const char *req, size_t len, const char *who);

/**
 * Reload: read @p path (NULL: ctx->config_path), validate it as at start-up,
 * diff it against ctx->cfg and apply only the difference. On a bad file
 * nothing changes and @p err gets the same message as at start-up.
 * On success ctx->cfg is replaced and ctx->config_path becomes @p path.
 * Returns 0 or -errno. Takes ctx->ctl_lock (for SIGHUP: call it from the
 * control loop, not from the signal handler).
 * @p summary (optional) receives a JSON object listing what changed.
 */
int cnm_control_reload(struct cnm_ctx *ctx, const char *path, char *err, size_t errlen,
		json_t **summary);

/**
 * The configuration as a file would hold it (version, ports, nodes, ...,
 * services): parsing the text of the result gives @p cfg back. New reference.
 */
json_t *cnm_control_cfg_json(const struct cnm_config *cfg);

/**
 * Make @p root (a whole configuration object) the running configuration: it
 * is validated as a file would be (@p name stands for the file in messages),
 * then only the difference is applied, as by reload. ports and hash_key must
 * be those running. Caller holds ctx->ctl_lock. 0 or -errno with @p err set;
 * nothing changes on error.
 */
int cnm_control_apply_json(struct cnm_ctx *ctx, const json_t *root, const char *name,
		char *err, size_t errlen);

struct cnm_ctl_server;

/**
 * Listen on a Unix socket at @p path (mode 0600; a stale socket file is
 * replaced). NULL with errno set on failure.
 */
struct cnm_ctl_server *cnm_ctl_server_create(const char *path, struct cnm_ctx *ctx);

/**
 * Serve what is pending without blocking: accept, read, execute, answer.
 * Called from the control loop every millisecond or so.
 */
void cnm_ctl_server_poll(struct cnm_ctl_server *srv);

/**
 * Wait up to @p timeout_ms for the socket or a client to be ready (a new
 * client, a request, room to answer), without serving it: the control loop
 * sleeps here instead of a fixed millisecond, so a request is served as
 * soon as it arrives. Returns poll()'s result.
 */
int cnm_ctl_server_wait(struct cnm_ctl_server *srv, int timeout_ms);

/** Close every client and the socket, unlink the path. */
void cnm_ctl_server_free(struct cnm_ctl_server *srv);

/** How long a client may stay idle before it is closed (default 30000 ms). */
#define CNM_CTL_IDLE_MS 30000u
/** With every slot taken, a new client takes the slot of one idle this long
 *  (default 5000 ms). */
#define CNM_CTL_EVICT_MS 5000u

/**
 * Change the two idle limits of a server (tests use short ones). 0 keeps
 * the current value.
 */
void cnm_ctl_server_set_idle(struct cnm_ctl_server *srv, uint32_t idle_ms, uint32_t evict_ms);

#endif /* CNM_CONTROL_H */
