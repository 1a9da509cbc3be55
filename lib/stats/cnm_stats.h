/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Counters. Every worker owns one struct cnm_wstats and is its only writer
 * (plain `+=`, no atomics on the packet path); readers (telemetry, the final
 * report, cnmuxctl) sum over workers with cnm_stats_sum().
 *
 * The accounting rule every run obeys, over packets received on the public port:
 *     rx == forwarded + local + dropped
 * where dropped is the sum of the drop reasons below.
 */
#ifndef CNM_STATS_H
#define CNM_STATS_H

#include <stdint.h>

#include "cnm_config.h"

/**
 * Drop reasons: X(enum suffix, name in telemetry and JSON, one-line meaning).
 * The list is the documentation: docs/counters.md is generated from the same
 * strings by `cnmux --list-drop-reasons`.
 */
#define CNM_DROP_REASONS(X) \
	X(RUNT, "runt", "frame shorter than an Ethernet header") \
	X(ETHERTYPE, "ethertype", "ethertype neither IPv4, IPv6 nor ARP") \
	X(VLAN_DEPTH, "vlan_depth", "more than two VLAN tags") \
	X(IPV4_TRUNCATED, "ipv4_truncated", "IPv4 header cut short") \
	X(IPV4_VERSION, "ipv4_version", "IPv4 ethertype but version is not 4") \
	X(IPV4_IHL, "ipv4_ihl", "IPv4 IHL below 5") \
	X(IPV4_IHL_BEYOND, "ipv4_ihl_beyond", "IPv4 options run past the frame") \
	X(IPV4_TOTLEN_BEYOND, "ipv4_totlen_beyond", "IPv4 total length past the frame") \
	X(IPV4_TOTLEN_BELOW, "ipv4_totlen_below", "IPv4 total length below the header length") \
	X(MARTIAN_SRC, "martian_src", "source in 0/8, 127/8, 224/4 or 240/4 (v4); ::, ::1 or ff00::/8 (v6); or the VIP itself") \
	X(IPV6_TRUNCATED, "ipv6_truncated", "IPv6 header cut short") \
	X(IPV6_VERSION, "ipv6_version", "IPv6 ethertype but version is not 6") \
	X(IPV6_PAYLEN, "ipv6_paylen", "IPv6 payload length past the frame") \
	X(IPV6_EXT, "ipv6_ext", "IPv6 extension chain malformed or longer than 8") \
	X(L4_TRUNCATED, "l4_truncated", "TCP, UDP or ICMP header cut short") \
	X(HEADERS_TOO_LONG, "headers_too_long", "headers run past the first 256 bytes cnmux reads") \
	X(TCP_DOFF, "tcp_doff", "TCP data offset below 5 or past the segment") \
	X(PORT_ZERO, "port_zero", "TCP or UDP source or destination port 0") \
	X(TCP_FLAGS, "tcp_flags", "invalid TCP flags (SYN+FIN, SYN+RST)") \
	X(FRAGMENT, "fragment", "non-first fragment of a port-keyed service whose first fragment was not seen") \
	X(ICMP_INNER, "icmp_inner", "ICMP error quoting an incomplete IP/TCP/UDP header") \
	X(IPV4_CHECKSUM, "ipv4_checksum", "IPv4 header checksum wrong (when verify_checksum is set)") \
	X(NO_ACTIVE_NODE, "no_active_node", "scalable service whose PDT holds no active node") \
	X(NO_SERVICE, "no_service", "non-scalable, and neither local port nor default node") \
	X(TX_FULL, "tx_full", "the TX queue did not take the packet") \
	X(NODE_UNRESOLVED, "node_unresolved", "the chosen node has no MAC address yet") \
	X(LINK_DOWN, "link_down", "every private port is down") \
	X(TUNNEL_MTU, "tunnel_mtu", "IPv4 without DF too big for the private MTU once tunnelled (cnmux does not fragment)") \
	X(NO_TUNNEL_SOURCE, "no_tunnel_source", "a tunnel node of a family with no tunnel.source4/source6")

enum cnm_drop {
	CNM_DROP_NONE = 0,
#define CNM_X_ENUM(e, n, d) CNM_DROP_##e,
	CNM_DROP_REASONS(CNM_X_ENUM)
#undef CNM_X_ENUM
	CNM_DROP_MAX,
};

/** Name of a drop reason ("runt", ...); "none" for CNM_DROP_NONE. */
const char *cnm_drop_name(enum cnm_drop d);
/** One-line meaning of a drop reason. */
const char *cnm_drop_help(enum cnm_drop d);

/**
 * Per-(service, node) counters live in slots: the tables give each member
 * of a service (a node in its list) a slot id; CNM_MEMBER_NONE is a sink
 * that traffic of no member (the default node) counts into, so counting
 * needs no branch.
 */
#define CNM_MAX_MEMBERS 65536
#define CNM_MEMBER_NONE 0xffffu

/** Packets and bytes. */
struct cnm_pb {
	uint64_t pkts;
	uint64_t bytes;
};

/** Counters of one worker; one writer. */
struct cnm_wstats {
	/**
	 * Odd while the worker handles a burst, even between bursts: readers
	 * retry until they copy the scalar counters between two bursts, so a
	 * snapshot always satisfies rx == forwarded + local + dropped.
	 */
	uint64_t seq;
	uint64_t rx;             /**< frames received on the public port */
	uint64_t forwarded;      /**< sent to a node on a private port (TX took it) */
	uint64_t local;          /**< sent unchanged on the local port (TX took it) */
	uint64_t dropped;        /**< sum of drop[] */
	uint64_t drop[CNM_DROP_MAX];
	uint64_t nonscalable;    /**< frames with no scalable service (incl. ARP) */
	uint64_t to_default;     /**< non-scalable frames sent to the default node */
	uint64_t local_rx;       /**< frames from the local port (host stack replies) */
	uint64_t local_out;      /**< of those, sent on the public port */
	uint64_t local_drop;     /**< of those, not taken by the public TX queue */
	uint64_t busy_cycles;    /**< TSC cycles spent on bursts that carried packets */
	uint64_t busy_bursts;    /**< bursts that carried packets */
	uint64_t fast_path;      /**< frames the one-pass fast path handled (the rest took the
				      general path) */
	uint64_t arp_replies;    /**< ARP requests for a VIP answered by cnmux (counted in local) */
	uint64_t icmp_replies;   /**< echo requests to a VIP answered by cnmux (counted in local) */
	uint64_t icmp_errors;    /**< ICMP errors sent to the node of the flow they quote */
	uint64_t icmp_too_big;   /**< frames too big for their tunnel, answered with ICMP
				      "too big" from the VIP (counted in local) */
	uint64_t frag_first;     /**< first fragments whose decision was cached */
	uint64_t frag_follow;    /**< later fragments sent after their first fragment */
	uint64_t conn_new;       /**< TCP connections recorded at their SYN */
	uint64_t conn_hit;       /**< TCP packets sent by the forwarding list, not the PDT */
	uint64_t conn_full;      /**< SYNs not recorded, list full: they follow the PDT */
	uint64_t conn_stale;     /**< entries of a node down or removed, forgotten */
	uint64_t conn_expired;   /**< entries removed by the idle sweep */
	uint64_t conn_active;    /**< entries in the list now (a gauge) */
	uint64_t ctl_tx;         /**< control frames (ARP probes) sent for the control lcore */
	uint64_t ctl_tx_drop;    /**< control frames TX did not take */
	struct cnm_pb *svc;      /**< [CNM_MAX_SERVICES], by service id */
	struct cnm_pb *node;     /**< [CNM_MAX_NODES], by node id, forwarded */
	struct cnm_pb *member;   /**< [CNM_MAX_MEMBERS], by member slot: per (service,
				      node), forwarded */
};

/** Sum of every worker's counters (svc and node arrays allocated inside). */
struct cnm_stats_total {
	uint64_t rx, forwarded, local, dropped;
	uint64_t drop[CNM_DROP_MAX];
	uint64_t nonscalable, to_default;
	uint64_t local_rx, local_out, local_drop;
	uint64_t busy_cycles, busy_bursts, fast_path;
	uint64_t arp_replies, icmp_replies, icmp_errors, icmp_too_big, frag_first, frag_follow;
	uint64_t conn_new, conn_hit, conn_full, conn_stale, conn_expired, conn_active;
	uint64_t ctl_tx, ctl_tx_drop;
	struct cnm_pb svc[CNM_MAX_SERVICES];
	struct cnm_pb node[CNM_MAX_NODES];
	struct cnm_pb member[CNM_MAX_MEMBERS];
};

/** Allocate the per-id arrays of a worker's counters; 0 or -ENOMEM. */
int cnm_wstats_init(struct cnm_wstats *w);
void cnm_wstats_fini(struct cnm_wstats *w);

/** Sum @p n workers' counters into @p t (overwritten). */
void cnm_stats_sum(struct cnm_wstats *const *w, unsigned int n, struct cnm_stats_total *t);

/**
 * What @p n workers have counted so far in one per-id slot: service @p id
 * (@p node 0) or node @p id (@p node 1).
 */
struct cnm_pb cnm_stats_slot(struct cnm_wstats *const *w, unsigned int n, int node, uint32_t id);

/** What @p n workers have counted so far in member slot @p slot. */
struct cnm_pb cnm_stats_member_slot(struct cnm_wstats *const *w, unsigned int n, uint32_t slot);

#endif /* CNM_STATS_H */
