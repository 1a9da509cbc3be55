/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The service tables (patent FIG. 7) and node selection (FIG. 6 steps 605-611).
 *
 * - first table, an rte_hash keyed on (protocol, address, port): services of
 *   policy weighted and sticky;
 * - second table, an rte_hash keyed on (protocol, address) (port 0 in the key):
 *   sticky-wild services;
 * - a service group (struct cnm_svc) holds its PDT; a node is picked by a keyed
 *   hash of the client over it.
 *
 * The tables are an opaque handle (struct cnm_lb). The control lcore is the
 * only writer and goes through the functions below. Workers read the view
 * (struct cnm_lb_view, cnm_lb_view()): pointers that the control lcore
 * publishes with release stores and frees only after an RCU (QSBR) grace
 * period. The decision itself (cnm_decide()) is a pure function of a parsed
 * flow and the view.
 */
#ifndef CNM_SERVICE_H
#define CNM_SERVICE_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_common.h>
#include <rte_hash_crc.h>

#include "cnm_crc.h"

#include "cnm_config.h"
#include "cnm_fwd.h"
#include "cnm_parse.h"
#include "cnm_pdt.h"
#include "cnm_stats.h"

struct rte_hash;
struct rte_rcu_qsbr;

/**
 * A service group, as the workers see it: one cache line. What only the
 * control lcore reads (configured members, PDT size, the configuration)
 * lies behind it, in lib/service (cnm_lb_svc_cfg()).
 */
struct cnm_svc {
	struct cnm_pdt *pdt;  /**< RCU: published with a release store */
	uint32_t hash_key;    /**< key of the client hash */
	uint16_t id;          /**< index into counters and the view's svc[] */
	uint8_t policy;       /**< enum cnm_policy */
	uint8_t hash_port;    /**< 1: hash source address and port (weighted) */
	uint8_t family;       /**< of the VIP */
	/**
	 * IPPROTO_UDP: the UDP flow list is on for this service (its UDP
	 * frames go through the forwarding list); 0: off. The fast path
	 * compares it with the frame's protocol, so a service with the list
	 * off pays one comparison. Relaxed: a single byte, set by the control
	 * lcore (cnm_lb_svc_set_udp_timeout()).
	 */
	uint8_t list_proto;
	uint8_t pad[2];
	uint32_t udp_timeout_ms; /**< idle time of a UDP flow (list_proto on); relaxed */
	uint32_t pad2;
	uint16_t *mslot;      /**< [CNM_MAX_NODES]: counter slot of (this service, node),
			           the node's sink CNM_MEMBER_SINK(node) when the pair
			           has none */
	/**
	 * QUIC-LB (docs/quic.md): the context that decodes the service's
	 * connection IDs to nodes, NULL when the service has no "quic_lb".
	 * RCU: published with a release store (a new one when the members or
	 * their server IDs change), freed after a grace period.
	 */
	struct cnm_quiclb *quic;
	/* Second chance (docs/pdt.md): for a while after a PDT change, a
	 * non-SYN TCP packet the forwarding list does not hold goes to its
	 * entry's owner in the table in force before the window's first
	 * change. The workers test sc_until first, and read prev only while
	 * it lies ahead. */
	const struct cnm_pdt *prev; /**< RCU (release store): that earlier table, NULL: none;
				         an entry CNM_NODE_GONE names a node removed since */
	uint32_t sc_until;    /**< decision clock (ms): the window is open before it */
};

/** The QUIC-LB lane of the control thread (workers use their index, below). */
#define CNM_QUIC_LANE_CTL 64

/** A node, as the workers see it: 16 bytes. */
struct cnm_node {
	uint64_t mac;   /**< destination MAC in bytes 0..5 (memory order): the node's, or
			     its tunnel's next hop; 0 = unresolved */
	uint16_t port;  /**< private port index; CNM_PORT_NONE when every path is down */
	uint8_t up;     /**< in the instance list: eligible for PDT entries */
	uint8_t used;   /**< slot holds a configured node */
	uint16_t gen;   /**< bumped when the node goes down or is removed */
	uint8_t method; /**< enum cnm_fwd_method: how frames reach it */
	uint8_t pad;
};

#define CNM_PORT_NONE 0xffffu

/** Slots of the paths table (cnm_lb_view path_tbl): a flow's hash picks one. */
#define CNM_PATH_SLOTS 256u

/**
 * The tables: an opaque handle. The control lcore changes them through the
 * functions below (it is the only writer); workers read the view.
 */
struct cnm_lb;

/**
 * Everything the data path reads to take a decision and send a frame: the
 * workers' read-only view of the tables, the scalars they read per burst on
 * the first cache line. It is the first member of struct cnm_lb, so
 * cnm_lb_view() is a cast and the view is the tables' own memory, not a
 * copy. Only lib/service writes it; the RCU rules of each field are on the
 * field and on the mutator that changes it.
 */
struct cnm_lb_view {
	struct rte_hash *h1;            /**< (proto, addr, port) -> struct cnm_svc * */
	struct rte_hash *h2;            /**< (proto, addr) -> struct cnm_svc * */
	struct rte_hash *arp;           /**< IPv4 VIPs cnmux answers ARP for (services with arp) */
	struct rte_hash *vips;          /**< every VIP, key (family, addr) with proto and port 0 */
	struct rte_hash *nd;            /**< IPv6 VIPs cnmux answers neighbour solicitations for
					     (services with arp), 16-byte keys */
	int32_t default_node;           /**< node id for non-scalable traffic, -1 none
					     (relaxed: cnm_lb_set_default_node()) */
	uint8_t has_local;              /**< a local port exists */
	uint8_t icmp_echo_reply;        /**< answer echo requests to a VIP (else: local) */
	uint8_t verify_checksum;        /**< check IPv4 header checksums */
	uint32_t hash_key;
	uint16_t port_lim;              /**< node[].port below it is the frame's port: the
					     number of private ports; 0 while the frames
					     of every node are spread over path_tbl
					     (cnm_lb_paths_spread(); release) */
	uint16_t paths;                 /**< how many paths path_tbl spreads over (0: none) */
	uint64_t keys_gen;              /**< bumped (release) whenever a key changes service:
					     workers drop their lookup caches */
	struct cnm_node node[CNM_MAX_NODES] __rte_cache_aligned;
	struct cnm_fwd_conf fwd;        /**< tunnel settings of the instance */
	struct cnm_fwd_node tun[CNM_MAX_NODES]; /**< per node: what tunnel methods need */
	struct cnm_svc *svc[CNM_MAX_SERVICES]; /**< by id; NULL = free slot (acquire) */
	uint8_t path_tbl[CNM_PATH_SLOTS] __rte_cache_aligned; /**< slot -> private port index
					     (cnm_path_table()), read when paths != 0;
					     bytes rewritten in place: a frame that reads
					     one mid-change goes to its old or new path */
};

/** The workers' view of @p lb: the same memory (its first member). */
static inline const struct cnm_lb_view *
cnm_lb_view(const struct cnm_lb *lb)
{
	return (const struct cnm_lb_view *)lb;
}

/**
 * The memory of one copy of the tables that does not depend on the
 * configuration (for cnm_config_mem()): the hash tables (EAL memory), the
 * handle, and one service's structure.
 */
void cnm_lb_memsize(uint64_t *tables_eal, uint64_t *tables_heap, uint64_t *service_heap);

/**
 * Build the tables of a configuration. Nodes without a MAC start down.
 * @return NULL with rte_errno set on failure. Needs EAL (rte_hash).
 */
struct cnm_lb *cnm_lb_create(const struct cnm_config *cfg, const char *name,
		struct rte_rcu_qsbr *qsbr);

void cnm_lb_free(struct cnm_lb *lb);

/**
 * Look up to 64 keys in both tables: svc[i] is the service of keys[i], or
 * NULL when non-scalable. Keys that miss the first table are looked up again
 * with port 0 in the second. Worker-safe.
 */
void cnm_lb_lookup_bulk(const struct cnm_lb_view *v, const struct cnm_svc_key *const *keys,
		unsigned int n, struct cnm_svc **svc);

/** fmix32 of MurmurHash3: spreads the bits of a CRC over the whole word. */
static inline uint32_t
cnm_fmix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/**
 * Keyed client hash (FIG. 6 steps 606/607): CRC32-C of the source address,
 * and of the source port when @p with_port, seeded with the key, then mixed.
 * The same on every machine (hardware CRC and DPDK's software CRC agree).
 */
static inline uint32_t
cnm_client_hash4(uint32_t key, uint32_t src, uint16_t sport, int with_port)
{
	uint32_t h = cnm_crc_u32(src, key);

	if (with_port)
		h = cnm_crc_u16(sport, h);
	return cnm_fmix32(h);
}

/** cnm_client_hash4() of a client of any family: @p src holds 16 bytes
 * (IPv4 in the first 4). */
static inline uint32_t
cnm_client_hash_addr(uint32_t key, uint8_t family, const uint8_t *src, uint16_t sport,
		int with_port)
{
	uint64_t a, b;
	uint32_t h, w;

	if (family == AF_INET) {
		memcpy(&w, src, 4);
		return cnm_client_hash4(key, w, sport, with_port);
	}
	memcpy(&a, src, 8);
	memcpy(&b, src + 8, 8);
	h = cnm_crc_u64(a, key);
	h = cnm_crc_u64(b, h);
	if (with_port)
		h = cnm_crc_u16(sport, h);
	return cnm_fmix32(h);
}

/** cnm_client_hash() of a flow, any family. */
static inline uint32_t
cnm_client_hash(uint32_t key, const struct cnm_flow *f, int with_port)
{
	return cnm_client_hash_addr(key, f->key.family, f->src, f->sport, with_port);
}

/**
 * Is the second chance window of @p s open at @p now (the decision clock)?
 * One load of the service's own cache line: what a packet of a service with
 * no recent change pays.
 */
static inline int
cnm_svc_sc_open(const struct cnm_svc *s, uint32_t now)
{
	/* relaxed: a worker that sees the window a little late or early only
	 * takes or misses a chance at its edge; prev is read with acquire */
	return (int32_t)(__atomic_load_n(&s->sc_until, __ATOMIC_RELAXED) - now) > 0;
}

/** Node for a flow of a scalable service, CNM_NODE_NONE when the PDT is empty. */
static inline uint16_t
cnm_select(const struct cnm_svc *s, const struct cnm_flow *f)
{
	/* Acquire pairs with the control lcore's release store of a new PDT:
	 * the entries are visible before the pointer is. */
	const struct cnm_pdt *pdt = __atomic_load_n(&s->pdt, __ATOMIC_ACQUIRE);
	uint32_t h = cnm_client_hash(s->hash_key, f, s->hash_port);

	return pdt->entries[h & pdt->mask];
}

/** cnm_select() for an IPv4 client (address and port in network order). */
static inline uint16_t
cnm_select4(const struct cnm_svc *s, uint32_t src, uint16_t sport)
{
	const struct cnm_pdt *pdt = __atomic_load_n(&s->pdt, __ATOMIC_ACQUIRE);
	uint32_t h = cnm_client_hash4(s->hash_key, src, sport, s->hash_port);

	return pdt->entries[h & pdt->mask];
}

/*
 * Run-time changes (FIG. 5A, 5B). Control lcore only: the single writer.
 * Each builds aside, publishes with a release store, waits for a grace
 * period, then frees. They return 0 (or an id) or -errno and leave the tables
 * as they were on error.
 */

/** Add a service group; returns its id or -EEXIST (name or a key taken), -ENOSPC, -EINVAL. */
int cnm_lb_svc_add(struct cnm_lb *lb, const struct cnm_cfg_service *c);

/** Remove a service group and its keys. */
int cnm_lb_svc_del(struct cnm_lb *lb, uint16_t id);

/** Add a node (down until it has a MAC); returns its id, -EEXIST or -ENOSPC. */
int cnm_lb_node_add(struct cnm_lb *lb, const struct cnm_cfg_node *n);

/** Remove a node from every group and from the node table. */
int cnm_lb_node_del(struct cnm_lb *lb, uint16_t id);

/** Mark a node up or down (the instance list); every group listing it is rebuilt. */
int cnm_lb_node_set_up(struct cnm_lb *lb, uint16_t id, int up);

/** Set a node's MAC (ARP resolution, config change); 0 = unresolved. */
int cnm_lb_node_set_mac(struct cnm_lb *lb, uint16_t id, const uint8_t mac[6]);

/** Add a node to a group or change its weight (0 = drain). */
int cnm_lb_member_set(struct cnm_lb *lb, uint16_t svc, uint16_t node, uint32_t weight);

/** Remove a node from a group's configured list. */
int cnm_lb_member_del(struct cnm_lb *lb, uint16_t svc, uint16_t node);

/**
 * Replace the whole configured list of a group (nodes and weights) with one
 * PDT rebuild: workers see the final table only (one cnm_lb_member_set()/_del()
 * per change would publish intermediate tables, though the final one is the
 * same: a PDT is a function of the members, see docs/pdt.md). -ENOENT (no such group or node), -EINVAL
 * (a node twice), -ENOMEM; the group is unchanged on error.
 */
int cnm_lb_svc_set_members(struct cnm_lb *lb, uint16_t svc, const struct cnm_cfg_member *m,
		uint32_t n);

/** Weight of @p node in @p svc, or -ENOENT. */
int64_t cnm_lb_member_weight(const struct cnm_lb *lb, uint16_t svc, uint16_t node);

/** Is @p addr (of @p family) the VIP of some service? Worker-safe. */
int cnm_lb_is_vip(const struct cnm_lb_view *v, uint8_t family, const uint8_t *addr);

/** Does cnmux answer ARP for this IPv4 address (network order)? Worker-safe. */
int cnm_lb_arp_owned(const struct cnm_lb_view *v, const uint8_t ip[4]);

/** Does cnmux answer neighbour solicitations for this IPv6 address? Worker-safe. */
int cnm_lb_nd_owned(const struct cnm_lb_view *v, const uint8_t ip[16]);

/**
 * Path manager (the patent's redundant private paths): given which private
 * ports have link (bit i = port i), point every node at its own port (node id
 * modulo the number of ports) when that one is up, else at the next one up,
 * else at none (its packets are dropped as link_down). Worker-safe.
 */
void cnm_lb_paths_update(struct cnm_lb *lb, uint32_t up_mask);

/**
 * Spread the frames of every node over all the private paths that are up
 * (@p on 1), or keep each node on its own path (0, the behaviour above).
 * Takes effect at once and on every later cnm_lb_paths_update(). Worker-safe.
 */
void cnm_lb_paths_spread(struct cnm_lb *lb, int on);

/**
 * The paths table of @p up_mask (bit i: private port i up) of @p n_private
 * ports into @p tbl: slot s belongs to path s % n_private while that one is
 * up; the slots of the paths that are down are dealt, in slot order, to the
 * paths that are up in turn. So the shares stay even (within one slot), a
 * path going down moves only its own flows, and the same set of paths gives
 * the same table on every forwarder. Returns how many paths are up.
 */
static inline uint32_t
cnm_path_table(uint32_t up_mask, uint32_t n_private, uint8_t tbl[CNM_PATH_SLOTS])
{
	uint8_t up[8];
	uint32_t n = 0, p, s, j = 0;

	for (p = 0; p < n_private && p < 8; p++)
		if (up_mask & (1u << p))
			up[n++] = (uint8_t)p;
	if (n == 0 || n_private == 0)
		return 0;
	for (s = 0; s < CNM_PATH_SLOTS; s++) {
		p = s % n_private;
		tbl[s] = (up_mask & (1u << p)) ? (uint8_t)p : up[j++ % n];
	}
	return n;
}

/** The slot of a flow whose 32-bit hash is @p h: its top 8 bits. */
static __rte_always_inline uint32_t
cnm_path_slot(uint32_t h)
{
	return h >> 24;
}

/**
 * Rebuild the PDT of service @p id from its members and the nodes' state:
 * cnm_pdt_build() over the members whose node is up, keyed by (service name,
 * node name), so the table is a function of the configuration and of which
 * nodes are up, never of history or node ids. A table equal to the current
 * one is not published. 0 or -errno.
 */
int cnm_lb_svc_rebuild(struct cnm_lb *lb, uint16_t id);

/**
 * Install the exact PDT @p entries (node ids, CNM_NODE_NONE for none) of
 * @p size entries in service @p id, as a replica of another holder does (the
 * primary's view of which nodes are up wins; with the same view a rebuild here
 * gives the same table, docs/pdt.md). Published like a
 * rebuild: release store, grace period, free. -ENOENT (no such service),
 * -EINVAL (size not a power of two or not the service's pdt_size, an entry
 * naming no node), -ENOMEM.
 */
int cnm_lb_svc_set_pdt(struct cnm_lb *lb, uint16_t id, const uint16_t *entries, uint32_t size);

/**
 * Give the tables the workers' counters, so that a service or node added
 * into a used slot starts at zero (control side, before changes are made).
 */
void cnm_lb_set_stats(struct cnm_lb *lb, struct cnm_wstats *const *w, uint32_t n);

/**
 * Make the totals of @p t (cnm_stats_sum() of the workers) what the
 * operator reads: take out what earlier holders of reused ids and slots
 * counted, and sum the per-service and per-node totals from the slots
 * (lib/stats/cnm_stats.h: a forwarded frame counts in one slot only).
 */
void cnm_lb_stats_rebase(const struct cnm_lb *lb, struct cnm_stats_total *t);

/**
 * `cnmuxctl zero`: remember @p t, the totals now as cnm_lb_stats_rebase()
 * and the control loop left them, so that cnm_lb_stats_zeroed() counts from
 * here; a service, node or pair slot taken again later forgets its share.
 * Nothing the workers write changes. Control side (ctl_lock held).
 * 0 or -ENOMEM.
 */
int cnm_lb_stats_zero(struct cnm_lb *lb, const struct cnm_stats_total *t);

/**
 * The operator's view: take off @p t (rebased, its CNM_STATS_MORE fields
 * filled) what was counted before the last cnm_lb_stats_zero(), counters
 * only, never below 0; a service, node or pair added since counts from
 * when it was added. No-op before the first zero.
 */
void cnm_lb_stats_zeroed(const struct cnm_lb *lb, struct cnm_stats_total *t);

/**
 * Counter slot of (service @p svc, node @p node), or -1 when the node is
 * not in the service's list. Worker-safe.
 */
int cnm_lb_member_slot(const struct cnm_lb *lb, uint16_t svc, uint16_t node);

/** The counter slot of (service @p s, node @p node): the pair's, or the
 * node's sink when the pair has none. */
static inline uint16_t
cnm_svc_slot(const struct cnm_svc *s, uint16_t node)
{
	/* a relaxed read: one 16-bit word the control lcore sets */
	return __atomic_load_n(&s->mslot[node], __ATOMIC_RELAXED);
}

/**
 * The service of pair slot @p slot, or -1 for a sink or a free slot.
 * Worker-safe for a slot the worker counted into in its current burst (a
 * pair's slot is freed only after a grace period).
 */
int cnm_lb_slot_svc(const struct cnm_lb *lb, uint16_t slot);

/**
 * The tunnels' outer source and MTU ("tunnel" of a configuration). The
 * methods' encap reads these fields without ordering: a frame tunnelled
 * while they change may mix the old and new settings (the source prefix, the
 * MTU); none is ever invalid. The nodes' fast-shape templates
 * (cnm_fwd_node.t4), built from them, are switched off, a grace period
 * waited for, and rebuilt, when a setting changed; nothing happens when none did.
 */
void cnm_lb_set_tunnel(struct cnm_lb *lb, const struct cnm_cfg_tunnel *t);

/**
 * Change the keys of service @p id in place to those of @p c (same VIP:
 * its ports, its protocols, its policy and table, arp): the service, its
 * PDT, its counters and its tracked connections stay; workers see the new
 * keys added before the old ones go, so a kept key never misses. A key
 * another service holds is refused (-EEXIST) before anything changes;
 * -EINVAL for another VIP (another service).
 */
int cnm_lb_svc_rekey(struct cnm_lb *lb, uint16_t id, const struct cnm_cfg_service *c);

/** Service id by name, or -1. */
int cnm_lb_svc_find(const struct cnm_lb *lb, const char *name);

/** Node id by name, or -1. */
int cnm_lb_node_find(const struct cnm_lb *lb, const char *name);

/*
 * What the control side reads and sets besides the run-time changes above:
 * the control lcore (or a thread holding the control lock, as telemetry
 * does). Workers read the view instead. Pointers returned stay valid until
 * the next change of the same service or node.
 */

/** One past the highest service id in use: ids below it may be used. */
uint32_t cnm_lb_svc_end(const struct cnm_lb *lb);

/** One past the highest node id in use: ids below it may be used. */
uint32_t cnm_lb_node_end(const struct cnm_lb *lb);

/**
 * Service @p id as configured: name, VIP, policy, protocols, ports, arp and
 * its members (node ids of the tables, weights); NULL for a free id.
 */
const struct cnm_cfg_service *cnm_lb_svc_cfg(const struct cnm_lb *lb, uint32_t id);

/** The PDT service @p id publishes now, NULL for a free id. */
const struct cnm_pdt *cnm_lb_svc_pdt(const struct cnm_lb *lb, uint32_t id);

/**
 * Second chance keeps no table that was in force for less than this (ms):
 * docs/pdt.md, "Second chance".
 */
#define CNM_SC_SETTLE_MS 1000u

/**
 * The decision clock (ms): the workers' forwarding-list clock (TSC / ms), on
 * which second chance windows are stamped. Needs EAL.
 */
uint32_t cnm_lb_clock_ms(void);

/**
 * Set the second chance window of service @p id (@p ms after each PDT
 * change; 0: off, and a version kept now is dropped after a grace period).
 * 0 or -ENOENT.
 */
int cnm_lb_svc_set_second_chance(struct cnm_lb *lb, uint16_t id, uint32_t ms);

/** Second chance of service @p id as it stands (cnm_lb_svc_second_chance()). */
struct cnm_sc_info {
	uint32_t window_ms;          /**< configured window, 0: off */
	uint32_t until;              /**< decision clock: the window is open before it */
	uint32_t since;              /**< decision clock: when the kept version was taken */
	const struct cnm_pdt *prev;  /**< the kept version, NULL: none */
};

/** Second chance of service @p id; 0 or -ENOENT. Control side. */
int cnm_lb_svc_second_chance(const struct cnm_lb *lb, uint32_t id, struct cnm_sc_info *out);

/**
 * Drop the kept versions whose window has closed (each after a grace
 * period). The control loop calls it now and then; returns how many went.
 */
unsigned int cnm_lb_second_chance_expire(struct cnm_lb *lb);

/** The PDT size of service @p id (what a rebuild or a replica must use), 0 for a free id. */
uint32_t cnm_lb_svc_pdt_size(const struct cnm_lb *lb, uint32_t id);

/**
 * Give service @p id a PDT of @p size entries (a power of two), rebuilt from
 * its members and published like any rebuild. -ENOENT, -errno of the
 * rebuild; the service keeps its size and its table on error.
 */
int cnm_lb_svc_set_pdt_size(struct cnm_lb *lb, uint16_t id, uint32_t size);

/**
 * Set the idle time of service @p id's UDP flows (the UDP flow list), in
 * seconds; 0 turns the list off for it (recorded flows then age out, unused).
 * -ENOENT for a free id, -EINVAL above 604,800 (a week).
 */
int cnm_lb_svc_set_udp_timeout(struct cnm_lb *lb, uint16_t id, uint32_t timeout_s);

/** Node @p id as configured; NULL when the slot holds no node. */
const struct cnm_cfg_node *cnm_lb_node_cfg(const struct cnm_lb *lb, uint32_t id);

/**
 * The state of node slot @p id (used, up, port, MAC, method, gen), whether
 * it holds a node or not; NULL for an id past CNM_MAX_NODES.
 */
const struct cnm_node *cnm_lb_node(const struct cnm_lb *lb, uint32_t id);

/** Set the port of node @p id's TCP health check (0: none). 0 or -ENOENT. */
int cnm_lb_node_set_check_port(struct cnm_lb *lb, uint16_t id, uint16_t port);

/** A node's check_port and "check" (control side only). 0 or -ENOENT. */
int cnm_lb_node_set_check(struct cnm_lb *lb, uint16_t id, uint16_t port,
		const struct cnm_cfg_check *check);

/** Did the operator take node @p id down (health checks leave it down)? */
int cnm_lb_node_admin_down(const struct cnm_lb *lb, uint32_t id);

/** Record whether the operator took node @p id down. 0 or -ENOENT. */
int cnm_lb_node_set_admin_down(struct cnm_lb *lb, uint16_t id, int down);

/** The default node (non-scalable traffic), -1 for none. */
int32_t cnm_lb_default_node(const struct cnm_lb *lb);

/**
 * Set the default node (-1: none). Workers read it with a plain load of an
 * aligned word. 0, or -ENOENT when @p id names no node.
 */
int cnm_lb_set_default_node(struct cnm_lb *lb, int32_t id);

/**
 * Generation of the tables: moves with every change of a PDT, of a node's
 * up/down state or of the set of groups (HA checkpoints when it moves).
 */
uint64_t cnm_lb_gen(const struct cnm_lb *lb);

/** Which private ports have link, as cnm_lb_paths_update() last heard (bit i: port i). */
uint32_t cnm_lb_paths_up(const struct cnm_lb *lb);

/** Does the instance have a local port (non-scalable traffic goes there)? */
int cnm_lb_has_local(const struct cnm_lb *lb);

/**
 * The data path's switches: answer echo requests to a VIP, check IPv4
 * header checksums. Workers read each once per burst.
 */
void cnm_lb_set_switches(struct cnm_lb *lb, uint8_t icmp_echo_reply, uint8_t verify_checksum);

/** The public port's MAC, the source of the tunnels' "too big" replies. Before workers run. */
void cnm_lb_set_pub_mac(struct cnm_lb *lb, const uint8_t mac[6]);

#endif /* CNM_SERVICE_H */
