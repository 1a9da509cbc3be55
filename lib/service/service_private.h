/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The insides of the tables: only the .c files of lib/service include this.
 *
 * struct cnm_lb starts with the view the workers read (struct cnm_lb_view,
 * public); what follows it is the control lcore's alone. A service is a
 * struct cnm_svc_priv whose first member is the hot part the workers hold
 * pointers to (struct cnm_svc, public); the cold part follows on its own
 * cache line.
 */
#ifndef CNM_SERVICE_PRIVATE_H
#define CNM_SERVICE_PRIVATE_H

/* Outside lib/service, struct cnm_lb is opaque: use the functions of
 * cnm_service.h (control side) or cnm_lb_view() (workers). */
#ifndef CNM_SERVICE_INTERNAL
#error "service_private.h is for lib/service only"
#endif

#include <stdint.h>

#include <rte_common.h>

#include "cnm_config.h"
#include "cnm_quiclb.h"
#include "cnm_service.h"
#include "cnm_stats.h"

struct rte_rcu_qsbr;

/** A service group: the workers' part, then the control lcore's. */
struct cnm_svc_priv {
	struct cnm_svc hot;               /**< first: a struct cnm_svc * is one of these */
	/* cold: control side only */
	uint32_t pdt_size __rte_cache_aligned;
	uint32_t n_members;
	uint32_t sc_ms;                   /**< second chance window, 0: off */
	uint32_t sc_since;                /**< decision clock: when hot.prev was taken */
	uint32_t sc_dur;                  /**< how long hot.prev was in force (ms) */
	uint32_t pdt_since;               /**< decision clock: when hot.pdt was published */
	struct cnm_cfg_member *members;   /**< configured nodes and weights */
	struct cnm_cfg_service cfg;       /**< as configured (ports, vip, name);
					       cfg.members == members, cfg.quic == quic */
	struct cnm_quiclb_conf quic[CNM_QUICLB_CONFIGS]; /**< "quic_lb" (keys included) */
	uint64_t quic_fp;                 /**< what hot.quic maps: a fingerprint of its
					       (node, server ID) pairs */
};

/** Lanes of a service's QUIC-LB context: one per worker, and one for the
 * control thread (explain, the one-off cnm_decide()): CNM_QUIC_LANE_CTL. */
#define CNM_QUIC_LANES (CNM_QUIC_LANE_CTL + 1)

/** The tables: the workers' view, then everything only control touches. */
struct cnm_lb {
	struct cnm_lb_view v;           /**< first: cnm_lb_view() is a cast */
	uint32_t n_private;
	uint32_t paths_up;              /**< bit i: private port i has link (path manager) */
	uint8_t paths_spread;           /**< spread nodes over the up paths (v.paths) */
	struct rte_rcu_qsbr *qsbr;      /**< grace periods before frees */
	struct cnm_cfg_node node_cfg[CNM_MAX_NODES];
	uint8_t admin_down[CNM_MAX_NODES];  /**< taken down by the operator: health checks
						 do not bring it back */
	uint32_t next_node_slot;        /**< where the search for a free node slot starts */
	uint32_t n_nodes;               /**< highest used node id + 1 */
	uint32_t n_svc;                 /**< highest used service id + 1 */
	uint64_t gen;                   /**< bumped by every change of a PDT, a node's up/down
					     state or the set of groups (control side only: HA
					     checkpoints when it moves) */
	/* Per-id counters live in the workers and are never reset (one writer
	 * each); a slot taken by a new service or node starts from what the
	 * workers had counted in it, kept here and subtracted when reporting
	 * (cnm_lb_stats_rebase()). */
	struct cnm_wstats *const *wstats;   /**< the workers' counters, NULL: none yet */
	uint32_t n_wstats;
	struct cnm_pb svc_base[CNM_MAX_SERVICES];
	struct cnm_pb member_base[CNM_MAX_MEMBERS];
	/* what freed slots had counted (members_alloc() in service.c) */
	struct cnm_pb svc_fold[CNM_MAX_SERVICES];
	struct cnm_pb node_fold[CNM_MAX_NODES];
	uint16_t member_svc[CNM_MAX_MEMBERS];   /**< a pair slot's service, CNM_SLOT_FREE */
	uint16_t member_node[CNM_MAX_MEMBERS];  /**< a pair slot's node */
	/* `cnmuxctl zero` (cnm_lb_stats_zero()): the totals (rebased) when the
	 * operator last zeroed them, NULL before. A service, node or pair slot
	 * taken again has its entry cleared where its base is set, so it
	 * counts from when it was added. */
	struct cnm_stats_total *zero;
	uint32_t member_next;                   /**< where the search for a free slot starts */
};

/** member_svc[] of a slot no pair holds. */
#define CNM_SLOT_FREE 0xffffu

/** The whole service behind the hot part a table entry points at. */
static inline struct cnm_svc_priv *
cnm_svc_priv(const struct cnm_svc *s)
{
	return s == NULL ? NULL : container_of((struct cnm_svc *)(uintptr_t)s,
					       struct cnm_svc_priv, hot);
}

#endif /* CNM_SERVICE_PRIVATE_H */
