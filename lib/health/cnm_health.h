/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Node liveness (FIG. 5B) and MAC resolution, on the control lcore.
 *
 * Every node without a MAC is resolved with ARP on its private port. When the
 * configuration has a "health" object, every node is also probed each
 * interval_ms: an ARP request on its private port, and, when the node has a
 * check_port, a TCP connect to ip:check_port through the host's stack. A round
 * succeeds when the ARP reply (and the connect) came back within timeout_ms;
 * rise successes in a row bring a node up, fall failures take it down, and the
 * PDT of every group that lists it is rebuilt.
 */
#ifndef CNM_HEALTH_H
#define CNM_HEALTH_H

#include <stdint.h>

#include <jansson.h>

#include "cnm_config.h"
#include "cnm_service.h"

/** How the checker sends frames on a private port. */
struct cnm_health_io {
	/** Queue @p len bytes of @p frame for TX on private port @p idx; 0 or -errno. */
	int (*send)(void *arg, uint16_t idx, const uint8_t *frame, uint32_t len);
	/**
	 * Queue the IP packet of @p frame (an Ethernet frame, from byte 14) for
	 * node @p node, through the node's forwarding method: a tunnelled
	 * node gets it encapsulated as its traffic is. 0 or -errno.
	 */
	int (*send_node)(void *arg, uint16_t node, const uint8_t *frame, uint32_t len);
	/**
	 * Optional (NULL: a queued frame counts as sent at once): the frames
	 * queued by send and send_node so far, and of those, the ones the TX
	 * path has taken (sent or dropped) so far; both only grow. A round's
	 * timeout counts from when its probes left, not from when they were
	 * queued (docs/health.md, "When a probe waits").
	 */
	uint64_t (*queued)(void *arg);
	uint64_t (*taken)(void *arg);
	void *arg;
	uint8_t priv_mac[CNM_MAX_PRIVATE][6]; /**< source MAC per private port */
};

/** Counters of the checker. */
struct cnm_health_stats {
	uint64_t arp_sent;
	uint64_t arp_replies;   /**< replies matched to a node */
	uint64_t nd_sent;       /**< neighbour solicitations (IPv6 resolution, probes) */
	uint64_t nd_replies;    /**< neighbour advertisements matched to a node */
	uint64_t nd_invalid;    /**< solicitations and advertisements failing the RFC 4861 checks */
	uint64_t nd_answered;   /**< solicitations for a private port's link-local address answered */
	uint64_t tcp_checks;
	uint64_t tcp_failures;
	uint64_t went_up;
	uint64_t went_down;
	uint64_t send_failures;
	uint64_t probe_waits;     /**< round timeouts restarted: a probe had not left yet */
	uint64_t arp_checks;      /**< rounds of "arp" / "nd" checks (and of nodes without one) */
	uint64_t arp_failures;
	uint64_t icmp_sent;       /**< echo requests of icmp checks */
	uint64_t icmp_replies;    /**< echo replies matched to a round */
	uint64_t icmp_failures;   /**< icmp rounds without a reply */
	uint64_t syn_sent;        /**< SYNs of tcp (half-open) checks */
	uint64_t syn_acks;        /**< SYN-ACKs matched (each answered with RST) */
	uint64_t syn_rsts;        /**< RSTs matched: the port is closed */
	uint64_t syn_failures;    /**< tcp rounds without a SYN-ACK */
	uint64_t probe_invalid;   /**< malformed replies to health.source(6): ignored */
	uint64_t probe_unmatched; /**< well-formed replies to it that match no round */
	uint64_t source_answered; /**< ARP requests / solicitations for health.source(6) answered */
	uint64_t http_sent;       /**< HTTP requests sent (after a SYN-ACK) */
	uint64_t http_ok;         /**< responses with the expected status */
	uint64_t http_failures;   /**< http rounds failed */
	uint64_t script_runs;
	uint64_t script_failures; /**< exit status not 0, killed, or not started */
	uint64_t script_timeouts; /**< of those, killed at timeout_ms */
	uint64_t notify_runs;     /**< notify hooks started */
	uint64_t notify_failures; /**< not started (spawn failed, too many running) */
};

struct cnm_health;

/** NULL with errno set on failure. */
struct cnm_health *cnm_health_create(struct cnm_lb *lb, const struct cnm_config *cfg,
		const struct cnm_health_io *io);

/** Take new settings (after a reload). */
void cnm_health_configure(struct cnm_health *h, const struct cnm_config *cfg);

/** Send due probes, close due rounds, change node states. Call with the control lock held. */
void cnm_health_tick(struct cnm_health *h, uint64_t now_ms);

/**
 * A frame received on private port @p idx. ARP replies from nodes are
 * consumed; returns 1 if the frame was an ARP reply for a node, else 0.
 * Call with the control lock held.
 */
int cnm_health_input(struct cnm_health *h, uint16_t idx, const uint8_t *frame, uint32_t len,
		uint64_t now_ms);

/**
 * Follower mode (a replica in high availability, docs/ha.md): nodes' MACs are
 * still resolved, but the checker never takes a node up or down, since the
 * primary's tables say which nodes are up. 0 turns it back to normal.
 */
void cnm_health_set_follower(struct cnm_health *h, int follower);

/**
 * Does the checker need the private ports' RX (a node to resolve or whose MAC
 * was learnt, to follow its moves; or probes on)?
 */
int cnm_health_wants_rx(const struct cnm_health *h);

const struct cnm_health_stats *cnm_health_get_stats(const struct cnm_health *h);

/**
 * Node @p id's check as it runs now, for `node show`: the check and its
 * parameters (the node's own or health's defaults), the rounds passed and
 * failed in a row, and the last round that ended ("result", "check",
 * "ms_ago", "reason" when it failed), or null before the first. "check"
 * null: no check decides the node's state (resolution only). Control lcore,
 * ctl_lock held.
 */
json_t *cnm_health_node_json(const struct cnm_health *h, uint16_t id);

void cnm_health_free(struct cnm_health *h);

#endif /* CNM_HEALTH_H */
