/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Counters. Every worker owns one struct cnm_wstats and is its only writer
 * (plain `+=`, no atomics on the packet path); readers (telemetry, the final
 * report, cnmuxctl) sum over workers with cnm_stats_sum() and write the
 * totals out with one emitter, cnm_stats_json(), in one key schema.
 *
 * Every counter comes from one X-macro list below (CNM_STATS_ACCOUNT,
 * CNM_STATS_WORKER, CNM_STATS_MORE, CNM_DROP_REASONS): the structs, the sum,
 * the emitter and `cnmux --list-counters` are generated from them, so a
 * counter added to a list appears everywhere at once.
 *
 * The accounting rule every run obeys, over packets received on the public port:
 *     rx == forwarded + local + dropped
 * where dropped is the sum of the drop reasons below.
 */
#ifndef CNM_STATS_H
#define CNM_STATS_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

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
	X(ARP_SENDER, "arp_sender", "ARP message whose sender hardware address is multicast or broadcast") \
	X(ND_HOP_LIMIT, "nd_hop_limit", "neighbour solicitation or advertisement with hop limit not 255 (RFC 4861 7.1)") \
	X(ND_CHECKSUM, "nd_checksum", "neighbour solicitation or advertisement with a wrong ICMPv6 checksum") \
	X(ND_INVALID, "nd_invalid", "neighbour solicitation or advertisement failing RFC 4861 7.1 (code, length, target, options)") \
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

/**
 * The drop reasons that can happen once a frame's service is known (after
 * its decision): X(enum suffix of enum cnm_drop). A drop of one of these is
 * counted for its service, and for its (service, node) pair and its node
 * when the decision had chosen a node (struct cnm_pb.drop[], indexed by
 * enum cnm_ddrop); every other reason happens before a service is known
 * (a malformed frame, no service) and is only counted globally. A drop of a
 * listed reason with no service (a frame for the default node, a reply the
 * public TX queue refused) is counted for its node, or only globally.
 */
#define CNM_DROP_DECIDED(X) \
	X(NO_ACTIVE_NODE) \
	X(NODE_UNRESOLVED) \
	X(LINK_DOWN) \
	X(TUNNEL_MTU) \
	X(NO_TUNNEL_SOURCE) \
	X(TX_FULL) \
	X(RUNT)

/** Index of a reason of CNM_DROP_DECIDED in struct cnm_pb.drop[]. */
enum cnm_ddrop {
#define CNM_X_ENUM(e) CNM_DDROP_##e,
	CNM_DROP_DECIDED(CNM_X_ENUM)
#undef CNM_X_ENUM
	CNM_DDROP_MAX,
};

/** The enum cnm_ddrop of drop reason @p d; CNM_DDROP_MAX when it is not listed. */
static inline unsigned int
cnm_ddrop_of(unsigned int d)
{
	switch (d) {
#define CNM_X_CASE(e) case CNM_DROP_##e: return CNM_DDROP_##e;
	CNM_DROP_DECIDED(CNM_X_CASE)
#undef CNM_X_CASE
	default:
		return CNM_DDROP_MAX;
	}
}

/** The enum cnm_drop of @p i, an enum cnm_ddrop. */
unsigned int cnm_ddrop_reason(unsigned int i);

/** Name of a drop reason ("runt", ...); "none" for CNM_DROP_NONE. */
const char *cnm_drop_name(enum cnm_drop d);
/** One-line meaning of a drop reason. */
const char *cnm_drop_help(enum cnm_drop d);

/** What a counter is. */
enum cnm_stat_kind {
	CNM_STAT_COUNTER = 0, /**< only grows (a service's or node's: from when it was added) */
	CNM_STAT_GAUGE,       /**< a level now; may go down */
};

/*
 * The scalar counters: X(name, kind, one-line meaning). The name is the
 * field of struct cnm_wstats / struct cnm_stats_total and the key in every
 * output (telemetry, `cnmuxctl stats`, --stats-json), which all come from
 * cnm_stats_json(); `cnmux --list-counters` prints the lists.
 */

/**
 * The accounting counters of a worker. A reader copies them between two
 * bursts (struct cnm_wstats.seq), with the drop reasons, so that every
 * snapshot satisfies rx == forwarded + local + dropped.
 */
#define CNM_STATS_ACCOUNT(X) \
	X(rx, COUNTER, "frames received on the public port") \
	X(forwarded, COUNTER, "frames sent to a node on a private port (TX took them)") \
	X(local, COUNTER, "frames sent unchanged on the local port (TX took them), plus ARP, " \
	  "neighbour solicitations and echo requests for a VIP answered by cnmux") \
	X(dropped, COUNTER, "the sum of the drop reasons (drops)")

/** The other counters of a worker. */
#define CNM_STATS_WORKER(X) \
	X(nonscalable, COUNTER, "frames for no scalable service (including ARP), wherever " \
	  "they went") \
	X(to_default, COUNTER, "non-scalable frames sent to the default node (also in forwarded)") \
	X(local_rx, COUNTER, "frames from the local port (the host stack's replies)") \
	X(local_out, COUNTER, "of those, sent on the public port") \
	X(local_drop, COUNTER, "of those, not taken by the public TX queue") \
	X(busy_cycles, COUNTER, "TSC cycles spent on bursts that carried packets " \
	  "(cycles per packet = busy_cycles / rx)") \
	X(busy_bursts, COUNTER, "bursts that carried packets") \
	X(fast_path, COUNTER, "frames the one-pass fast path handled (the rest took the " \
	  "general path)") \
	X(arp_replies, COUNTER, "ARP requests for a VIP answered on the public port (also in local)") \
	X(nd_replies, COUNTER, "neighbour solicitations for a VIP answered on the public port " \
		"(also in local)") \
	X(icmp_replies, COUNTER, "echo requests to a VIP answered on the public port (also in local)") \
	X(icmp_errors, COUNTER, "ICMP / ICMPv6 errors sent to the node of the flow they quote") \
	X(icmp_too_big, COUNTER, "frames too big for their tunnel, answered with ICMP \"too big\" " \
	  "from the VIP (also in local)") \
	X(frag_first, COUNTER, "first fragments whose decision was kept") \
	X(frag_follow, COUNTER, "later fragments sent after their first fragment") \
	X(conn_new, COUNTER, "TCP connections recorded in the forwarding list at their SYN") \
	X(conn_hit, COUNTER, "TCP packets whose node came from the forwarding list") \
	X(conn_full, COUNTER, "SYNs not recorded because the list was full: they follow the PDT") \
	X(conn_stale, COUNTER, "entries forgotten because their node went down or was removed") \
	X(second_chance, COUNTER, "non-SYN TCP packets the list did not hold, sent to their " \
	  "PDT entry's previous owner within second_chance_s of a change (and recorded)") \
	X(second_chance_failed, COUNTER, "such packets whose previous owner was removed or " \
	  "down: they followed the PDT") \
	X(conn_expired, COUNTER, "TCP entries removed by the idle sweep") \
	X(conn_active, GAUGE, "TCP connections in the forwarding lists now") \
	X(udp_new, COUNTER, "UDP flows recorded in the UDP flow list at their first datagram " \
	  "(services with udp_timeout_s)") \
	X(udp_hit, COUNTER, "UDP frames whose node came from the UDP flow list") \
	X(udp_full, COUNTER, "UDP flows not recorded because the list was full: they follow " \
	  "the PDT") \
	X(udp_stale, COUNTER, "UDP flows forgotten because their node went down or was removed") \
	X(udp_expired, COUNTER, "UDP flows removed by the idle sweep") \
	X(udp_active, GAUGE, "UDP flows in the forwarding lists now") \
	CNM_STATS_QUIC(X) \
	X(ctl_tx, COUNTER, "frames of the control lcore (ARP and ND probes, ND answers) sent") \
	X(ctl_tx_drop, COUNTER, "frames of the control lcore TX did not take")

/**
 * QUIC (services with "quic_lb", docs/quic.md), in the order of enum
 * cnm_quic_parse_result and then enum cnm_quiclb_result (the decision
 * indexes them so): how each UDP payload's header parsed, and what its
 * destination connection ID decoded to. quic_ok frames have a cid_* count.
 */
#define CNM_STATS_QUIC(X) \
	X(quic_ok, COUNTER, "QUIC: headers parsed") \
	X(quic_empty, COUNTER, "QUIC: UDP payload of zero bytes (4-tuple)") \
	X(quic_long_truncated, COUNTER, "QUIC: long header cut before the DCID length (4-tuple)") \
	X(quic_dcid_len, COUNTER, "QUIC: long header DCID length over 20 for v1 or v2 (4-tuple)") \
	X(quic_dcid_truncated, COUNTER, "QUIC: long header DCID runs past the payload (4-tuple)") \
	X(quic_scid_truncated, COUNTER, "QUIC: long header cut before or inside the SCID " \
	  "(4-tuple)") \
	X(quic_scid_len, COUNTER, "QUIC: long header SCID length over 20 for v1 or v2 (4-tuple)") \
	X(quic_short_truncated, COUNTER, "QUIC: short header shorter than 1 + the CID length " \
	  "(4-tuple)") \
	X(cid_server_id, COUNTER, "QUIC: frames routed by the server ID of their DCID (via " \
	  "server_id)") \
	X(cid_cr_unroutable, COUNTER, "QUIC: DCID of codepoint 7 (4-tuple)") \
	X(cid_cr_unknown, COUNTER, "QUIC: DCID of a codepoint with no configuration (4-tuple)") \
	X(cid_short, COUNTER, "QUIC: DCID shorter than its configuration's (4-tuple)") \
	X(cid_len_mismatch, COUNTER, "QUIC: DCID whose self-encoded length is wrong (4-tuple)") \
	X(cid_sid_unknown, COUNTER, "QUIC: DCID decoding to no node's server ID: a client's " \
	  "own, or a wrong key (4-tuple)") \
	X(cid_cipher_error, COUNTER, "QUIC: libcrypto refused a block (4-tuple)") \
	X(cid_node_down, COUNTER, "QUIC: DCID of a node that is down or gone (4-tuple)")

/**
 * Counted outside the workers: filled in by whoever sums (the control loop:
 * cnm_loop_totals(); cnm_stats_sum() sets workers only).
 */
#define CNM_STATS_MORE(X) \
	X(workers, GAUGE, "worker lcores") \
	X(elapsed_ms, GAUGE, "milliseconds since the workers started") \
	X(rx_nombuf, COUNTER, "public port: frames it could not receive for want of mbufs " \
	  "(not in rx)") \
	X(rx_missed, COUNTER, "public port: frames it missed (not in rx)") \
	X(rx_errors, COUNTER, "public port: frames received in error (not in rx)") \
	X(mbufs_free, GAUGE, "mbufs in the pool") \
	X(mbufs_in_use, GAUGE, "mbufs out of the pool; in the final statistics, after the " \
	  "ports were closed: 0, or cnmux exits with status 4") \
	CNM_STATS_HEALTH(X, CNM_STATS_HEALTH_MORE)

/**
 * The health checker's counters: Y(X, name, kind, meaning), the names those
 * of struct cnm_health_stats; in the totals and every output they are
 * health_<name> (CNM_STATS_HEALTH_MORE passes them so to CNM_STATS_MORE's X).
 */
#define CNM_STATS_HEALTH(X, Y) \
	Y(X, arp_sent, COUNTER, "ARP requests of the health checker (resolution, probes)") \
	Y(X, arp_replies, COUNTER, "ARP replies of nodes matched to a node") \
	Y(X, nd_sent, COUNTER, "neighbour solicitations of the health checker (IPv6 resolution, " \
		"probes)") \
	Y(X, nd_replies, COUNTER, "neighbour advertisements matched to a node") \
	Y(X, nd_invalid, COUNTER, "neighbour solicitations and advertisements on a private port " \
		"failing the RFC 4861 checks (hop limit, checksum, format)") \
	Y(X, nd_answered, COUNTER, "neighbour solicitations for a private port's link-local " \
		"address (cnmux's source) answered") \
	Y(X, tcp_checks, COUNTER, "TCP connects to a node's check_port") \
	Y(X, tcp_failures, COUNTER, "of those, failed or timed out") \
	Y(X, went_up, COUNTER, "nodes the health checker brought up") \
	Y(X, went_down, COUNTER, "nodes the health checker took down") \
	Y(X, send_failures, COUNTER, "probes that could not be queued for TX") \
	Y(X, probe_waits, COUNTER, "round timeouts started again because a probe had not left " \
		"cnmux yet (worker 0, which sends it, had not run)") \
	Y(X, arp_checks, COUNTER, "rounds of arp / nd checks (nodes without a check too)") \
	Y(X, arp_failures, COUNTER, "of those, without an ARP reply or advertisement") \
	Y(X, icmp_sent, COUNTER, "echo requests of icmp checks, from health.source(6)") \
	Y(X, icmp_replies, COUNTER, "echo replies matched to a round") \
	Y(X, icmp_failures, COUNTER, "icmp rounds without a reply") \
	Y(X, syn_sent, COUNTER, "SYNs of tcp (half-open) checks, from health.source(6)") \
	Y(X, syn_acks, COUNTER, "SYN-ACKs matched to a round (each answered with RST)") \
	Y(X, syn_rsts, COUNTER, "RSTs matched to a round: the node's port is closed") \
	Y(X, syn_failures, COUNTER, "tcp rounds without a SYN-ACK") \
	Y(X, probe_invalid, COUNTER, "malformed echo replies and TCP segments to " \
		"health.source(6) (length, checksum): ignored") \
	Y(X, probe_unmatched, COUNTER, "well-formed ones that match no round (late, another id)") \
	Y(X, source_answered, COUNTER, "ARP requests and solicitations for health.source(6) " \
		"answered on a private port") \
	Y(X, http_sent, COUNTER, "HTTP requests of http checks (after a SYN-ACK), on the private path") \
	Y(X, http_ok, COUNTER, "HTTP responses with the check's expected status") \
	Y(X, http_failures, COUNTER, "http rounds failed: no SYN-ACK, no response, another status") \
	Y(X, script_runs, COUNTER, "script checks started") \
	Y(X, script_failures, COUNTER, "script rounds failed: exit status not 0, killed, " \
		"not started") \
	Y(X, script_timeouts, COUNTER, "of those, killed at the check's timeout_ms") \
	Y(X, notify_runs, COUNTER, "notify hooks started (health.notify)") \
	Y(X, notify_failures, COUNTER, "notify hooks not started (spawn failed, 64 still running)")
#define CNM_STATS_HEALTH_MORE(X, n, k, h) X(health_##n, k, h)

/**
 * Per service, per node, and per (service, node) under a service's
 * "nodes": X(key, kind, meaning). struct cnm_pb holds packets, bytes and
 * new connections; "up" is the node's state.
 */
#define CNM_STATS_SERVICE(X) \
	X(packets, COUNTER, "frames that matched the service (including those dropped for " \
	  "no_active_node or tx_full)") \
	X(bytes, COUNTER, "their bytes: as sent for those sent to a node, as received for the rest") \
	X(conn_new, COUNTER, "TCP connections of the service recorded in a forwarding list") \
	X(second_chance, COUNTER, "packets of the service second chance sent to a previous owner") \
	X(second_chance_failed, COUNTER, "packets of the service whose previous owner was gone")
#define CNM_STATS_MEMBER(X) \
	X(packets, COUNTER, "frames of the service TX took for this node of its list") \
	X(bytes, COUNTER, "their bytes, as sent") \
	X(conn_new, COUNTER, "TCP connections of the service recorded on this node") \
	X(second_chance, COUNTER, "packets of the service second chance sent to this node, " \
	  "their previous owner") \
	X(second_chance_failed, COUNTER, "packets of the service sent to this node because " \
	  "their previous owner was gone")
#define CNM_STATS_NODE(X) \
	X(packets, COUNTER, "frames TX took for the node") \
	X(bytes, COUNTER, "their bytes, as sent") \
	X(conn_new, COUNTER, "TCP connections recorded on the node") \
	X(second_chance, COUNTER, "packets second chance sent to the node, their previous owner") \
	X(second_chance_failed, COUNTER, "packets sent to the node because their previous " \
	  "owner was gone") \
	X(up, GAUGE, "the node takes clients (true) or not (false)")

/*
 * The meaning of the per-id drops: "drops": {REASON: n} under a service, a
 * node and a (service, node) pair, REASON one of CNM_DROP_DECIDED. A
 * service's and a node's hold every reason of the list (zeros too); a
 * pair's only the reasons it has counted (pairs can be tens of thousands).
 */
#define CNM_DROPS_SERVICE_HELP "frames of the service dropped, by reason, once the service " \
	"was known (also in drops.REASON)"
#define CNM_DROPS_MEMBER_HELP "frames of the service dropped after the decision chose " \
	"this node, by reason; a reason appears once it has counted"
#define CNM_DROPS_NODE_HELP "frames dropped after a decision chose the node (its " \
	"services' and the default node's), by reason"

/**
 * Frames sent to nodes are counted once, in a slot: the tables give each
 * (service, node) pair a slot id below CNM_MEMBER_SINK0 (lib/service), and
 * each node a sink slot, CNM_MEMBER_SINK(node), for what it gets outside any
 * pair (non-scalable traffic to the default node). A worker adds a forwarded
 * frame to one slot and nothing else; the per-service and per-node totals
 * are sums of slots, made by the reader (cnm_lb_stats_rebase()). That keeps
 * the packet path at one counter pair per frame.
 */
#define CNM_MAX_MEMBERS 65536
#define CNM_MEMBER_SINK0 (CNM_MAX_MEMBERS - CNM_MAX_NODES)
#define CNM_MEMBER_SINK(node) ((uint16_t)(CNM_MEMBER_SINK0 + (node)))
_Static_assert(CNM_MEMBER_SINK0 == CNM_MEMBERS_MAX, "a pair slot for every pair the budget allows");
/** No slot: a decision that sends nothing to a node. */
#define CNM_MEMBER_NONE 0xffffu

/** Packets, bytes, connections recorded (conn_new: a pure SYN placed in a
 * forwarding list, counted by the decision in the slot of its pair), and
 * drops by reason (CNM_DROP_DECIDED). The packet path of a forwarded frame
 * touches pkts and bytes only; drop[] is written on the drop paths. */
struct cnm_pb {
	uint64_t pkts;
	uint64_t bytes;
	uint64_t conns;
	uint64_t sc;       /**< second chance: TCP packets sent to their entry's previous
			        owner (counted in the slot of that node) */
	uint64_t sc_fail;  /**< second chance: packets whose previous owner was removed or
			        down, which followed the PDT (counted where they went) */
	uint64_t drop[CNM_DDROP_MAX];
};

/** @p d += @p s, every field. */
static inline void
cnm_pb_add(struct cnm_pb *d, const struct cnm_pb *s)
{
	unsigned int i;

	d->pkts += s->pkts;
	d->bytes += s->bytes;
	d->conns += s->conns;
	d->sc += s->sc;
	d->sc_fail += s->sc_fail;
	for (i = 0; i < CNM_DDROP_MAX; i++)
		d->drop[i] += s->drop[i];
}

/** @p d -= @p s, every field (modulo 2^64: a base taken off a later reading). */
static inline void
cnm_pb_sub(struct cnm_pb *d, const struct cnm_pb *s)
{
	unsigned int i;

	d->pkts -= s->pkts;
	d->bytes -= s->bytes;
	d->conns -= s->conns;
	d->sc -= s->sc;
	d->sc_fail -= s->sc_fail;
	for (i = 0; i < CNM_DDROP_MAX; i++)
		d->drop[i] -= s->drop[i];
}

/** Sum of @p p's drops, every reason. */
static inline uint64_t
cnm_pb_drops(const struct cnm_pb *p)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < CNM_DDROP_MAX; i++)
		n += p->drop[i];
	return n;
}

#define CNM_X_FIELD(n, k, h) uint64_t n;

/** Counters of one worker; one writer (plain `+=`), fields from the lists above. */
struct cnm_wstats {
	/**
	 * Odd while the worker handles a burst, even between bursts: readers
	 * retry until they copy the accounting counters between two bursts, so
	 * a snapshot always satisfies rx == forwarded + local + dropped.
	 */
	uint64_t seq;
	CNM_STATS_ACCOUNT(CNM_X_FIELD)
	uint64_t drop[CNM_DROP_MAX];
	CNM_STATS_WORKER(CNM_X_FIELD)
	struct cnm_pb *svc;      /**< [CNM_MAX_SERVICES], by service id: the frames of
				      the service no slot counted (dropped after the
				      decision, answered, refused by TX) */
	struct cnm_pb *member;   /**< [CNM_MAX_MEMBERS], by slot: frames TX took for a
				      (service, node) pair or a node's sink */
};

/** Sum of every worker's counters, and what is counted elsewhere. */
struct cnm_stats_total {
	CNM_STATS_ACCOUNT(CNM_X_FIELD)
	uint64_t drop[CNM_DROP_MAX];
	CNM_STATS_WORKER(CNM_X_FIELD)
	CNM_STATS_MORE(CNM_X_FIELD)
	struct cnm_pb svc[CNM_MAX_SERVICES];   /**< per service (cnm_lb_stats_rebase()) */
	struct cnm_pb node[CNM_MAX_NODES];     /**< per node: 0 from cnm_stats_sum(),
						    summed by cnm_lb_stats_rebase() */
	struct cnm_pb member[CNM_MAX_MEMBERS];
};

#undef CNM_X_FIELD

/** One scalar of struct cnm_stats_total. */
struct cnm_stat_desc {
	const char *name;        /**< field and key */
	const char *help;        /**< one-line meaning */
	enum cnm_stat_kind kind;
	uint32_t off;            /**< offset of the uint64_t in struct cnm_stats_total */
};

/**
 * Every scalar of struct cnm_stats_total, in list order (accounting, worker,
 * more); @p n receives how many.
 */
const struct cnm_stat_desc *cnm_stats_desc(unsigned int *n);

/** Value of scalar @p d in @p t. */
static inline uint64_t
cnm_stats_get(const struct cnm_stats_total *t, const struct cnm_stat_desc *d)
{
	return *(const uint64_t *)(const void *)((const char *)t + d->off);
}

/** Memory of a worker's per-id counters (cnm_wstats_init()'s arrays). */
static inline uint64_t
cnm_wstats_memsize(void)
{
	return (uint64_t)(CNM_MAX_SERVICES + CNM_MAX_MEMBERS) * sizeof(struct cnm_pb);
}

/** Allocate the per-id arrays of a worker's counters; 0 or -ENOMEM. */
int cnm_wstats_init(struct cnm_wstats *w);
void cnm_wstats_fini(struct cnm_wstats *w);

/**
 * Sum @p n workers' counters into @p t (overwritten: the CNM_STATS_MORE
 * fields are 0 but workers, which is @p n).
 */
void cnm_stats_sum(struct cnm_wstats *const *w, unsigned int n, struct cnm_stats_total *t);

/** What @p n workers have counted so far outside the slots for service @p id. */
struct cnm_pb cnm_stats_svc(struct cnm_wstats *const *w, unsigned int n, uint32_t id);

/** What @p n workers have counted so far in member slot @p slot. */
struct cnm_pb cnm_stats_member_slot(struct cnm_wstats *const *w, unsigned int n, uint32_t slot);

/**
 * Per-second rates between two readings of the totals (@p prev, then @p cur,
 * @p interval_us apart, both as cnm_stats_sum() and the rebase left them):
 * every counter of @p r (scalars, drops, per service, node and member slot)
 * is (cur - prev) per second, rounded; 0 where cur < prev (a slot reused in
 * between) or @p interval_us is 0. Gauges are @p cur's. @p r is then written
 * out by cnm_stats_json() like the totals: the same keys, per second.
 */
void cnm_stats_rate(const struct cnm_stats_total *prev, const struct cnm_stats_total *cur,
		uint64_t interval_us, struct cnm_stats_total *r);

/**
 * Take the scalar counters and drop reasons of @p base off @p t (never
 * below 0); gauges and the per-id counters are left as they are. For the
 * baseline of `cnmuxctl zero` (cnm_lb_stats_zeroed()).
 */
void cnm_stats_sub_scalars(struct cnm_stats_total *t, const struct cnm_stats_total *base);

struct cnm_lb;

/**
 * The statistics as one JSON object, the one key schema of every output:
 * every scalar of the lists by its name, "drops" {reason: n} (every reason,
 * zeros included), "services" {name: cnm_stats_svc_json()} and "nodes"
 * {name: cnm_stats_node_json()} for the services and nodes of @p lb.
 * Names of @p lb are read: the caller holds the control lock (or is the
 * control lcore). New reference; NULL when out of memory.
 */
json_t *cnm_stats_json(const struct cnm_stats_total *t, const struct cnm_lb *lb);

/**
 * The counters of service @p id: {"packets", "bytes", "conn_new", "drops":
 * {REASON: n}, "nodes": {name: {"packets", "bytes", "conn_new", "drops"}}},
 * "nodes" holding every node of its list (its member slot); the service's
 * drops hold every reason of CNM_DROP_DECIDED, a pair's those that counted.
 * New reference.
 */
json_t *cnm_stats_svc_json(const struct cnm_stats_total *t, const struct cnm_lb *lb,
		uint32_t id);

/** The counters of node @p id: {"packets", "bytes", "conn_new", "drops" (every
 * reason of CNM_DROP_DECIDED), "up"}. New reference. */
json_t *cnm_stats_node_json(const struct cnm_stats_total *t, const struct cnm_lb *lb,
		uint32_t id);

/**
 * The report for people (the final one, and every --stats-period): totals,
 * per service, per node, drops; with @p final, also the run time, the
 * public port's own counters and the mbufs.
 */
void cnm_stats_print(FILE *out, const struct cnm_stats_total *t, const struct cnm_lb *lb,
		int final);

/**
 * The rates for people (every --stats-period, after the report): @p r from
 * cnm_stats_rate(), over @p interval_us.
 */
void cnm_stats_print_rate(FILE *out, const struct cnm_stats_total *r, const struct cnm_lb *lb,
		uint64_t interval_us);

/** Print every key of cnm_stats_json() with its kind and meaning (--list-counters). */
void cnm_stats_list(FILE *out);

#endif /* CNM_STATS_H */
