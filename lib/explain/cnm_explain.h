/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Why a frame goes where it goes. `cnmuxctl explain` (on the live tables)
 * and `cnmux --explain` (a configuration and a capture, offline) both run
 * cnm_explain_run(): the workers' parser and decision (cnm_pkt_parse(),
 * cnm_decide_burst()) on the frame, with a decision state of the caller's,
 * plus what the decision does not report: which table matched, the client
 * hash, the PDT entry, what the forwarding list held.
 *
 * Nothing of a worker is touched: the caller's decision state is its own
 * (online, a private forwarding list seeded with what the workers hold for
 * the connection; offline, one list that follows the whole capture, as one
 * worker's would).
 */
#ifndef CNM_EXPLAIN_H
#define CNM_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cnm_config.h"
#include "cnm_conntrack.h"
#include "cnm_decide.h"
#include "cnm_service.h"

/** What the forwarding list had to do with a frame. */
enum cnm_explain_conn {
	CNM_EX_CONN_NA = 0,  /**< not its business: not TCP of a service (nor UDP of one
			          with the UDP flow list on), or no list */
	CNM_EX_CONN_HELD,    /**< held: the connection keeps its node */
	CNM_EX_CONN_STALE,   /**< held, but its node went down or left: forgotten, PDT */
	CNM_EX_CONN_NEW,     /**< not held, a pure SYN (or a UDP datagram): recorded on
			          the PDT's node */
	CNM_EX_CONN_FULL,    /**< not held, a pure SYN (or UDP), but the list is full: PDT only */
	CNM_EX_CONN_NONE,    /**< not held and not a SYN (or an ICMP error about a UDP
			          flow): the PDT of now */
};

/** The service table a key matched (patent FIG. 7). */
/** Second chance (docs/pdt.md) for the frame: would it, did it apply? */
enum cnm_explain_sc {
	CNM_EX_SC_NA = 0,    /**< not TCP of a service with a forwarding list */
	CNM_EX_SC_OFF,       /**< the service has no open window (off, or no change lately) */
	CNM_EX_SC_SAME,      /**< window open, but the entry's owner did not change */
	CNM_EX_SC_SYN,       /**< window open, the entry changed, but a SYN follows the PDT */
	CNM_EX_SC_HELD,      /**< window open, the entry changed, but the list holds it */
	CNM_EX_SC_APPLIED,   /**< sent to the previous owner, and recorded */
	CNM_EX_SC_GONE,      /**< the previous owner was removed or is down: the PDT */
};

enum cnm_explain_table {
	CNM_EX_TABLE_NONE = 0,
	CNM_EX_TABLE_FIRST,   /**< (protocol, address, port) */
	CNM_EX_TABLE_SECOND,  /**< (protocol, address): sticky-wild */
};

/** One frame, explained. */
struct cnm_explain {
	struct cnm_pkt pk;           /**< as the workers parse it */
	struct cnm_flow f;           /**< the general parse, for the description */
	uint8_t parsed;              /**< 1: f is valid */
	uint8_t table;               /**< enum cnm_explain_table */
	uint8_t conn;                /**< enum cnm_explain_conn */
	uint8_t udp_list;            /**< the service's UDP flow list is on (UDP frames
				          go through the list) */
	int8_t quic_parse;           /**< QUIC service: enum cnm_quic_parse_result of the
				          header, -1 when not looked at */
	int8_t quic_cid;             /**< its DCID: enum cnm_quiclb_result, or
				          CNM_QUICLB_RESULT_MAX for a node down; -1 none */
	int32_t svc;                 /**< the service the key matched, -1 none */
	uint32_t hash;               /**< the client hash under the service's policy */
	uint32_t pdt_index;
	uint32_t pdt_size;
	uint16_t pdt_node;           /**< the PDT's entry, CNM_NODE_NONE */
	int32_t conn_worker;         /**< online: the worker whose list held it, -1 */
	struct cnm_conn held;        /**< CNM_EX_CONN_HELD / _STALE: the entry */
	uint8_t sc;                  /**< enum cnm_explain_sc */
	uint16_t sc_node;            /**< the entry's previous owner (window open), or
				          CNM_NODE_NONE / CNM_NODE_GONE */
	uint32_t sc_left_ms;         /**< how long the window stays open */
	struct cnm_decision d;       /**< the decision */
};

/** A frame described by its fields (`cnmuxctl explain tcp SRC:PORT DST:PORT`). */
struct cnm_explain_desc {
	uint8_t proto;               /**< IPPROTO_TCP, _UDP, _ICMP, _ICMPV6 */
	struct cnm_addr src, dst;    /**< one family */
	uint16_t sport, dport;       /**< host order */
	uint8_t tcp_flags;
};

/**
 * Build the Ethernet frame @p d describes (checksums right) into @p buf.
 * @return its length, or -EINVAL (mixed families, a protocol that does not
 *   go with the family) or -ENOSPC.
 */
int cnm_explain_build(const struct cnm_explain_desc *d, uint8_t *buf, size_t len);

/**
 * The connection key of the frame @p ex parsed, when the forwarding list
 * would look it up (TCP with ports of a service, UDP with ports of a service
 * whose UDP flow list is on): 1, else 0. For the
 * caller that seeds a private list from the workers'.
 */
int cnm_explain_conn_key(const struct cnm_explain *ex, struct cnm_conn_key *k);

/**
 * Parse the frame into @p ex (pk, f, svc, table, hash, PDT entry): the
 * first half of cnm_explain_run(), for a caller that needs the connection
 * key before it decides.
 */
void cnm_explain_parse(const struct cnm_lb *lb, const uint8_t *frame, uint32_t caplen,
		uint32_t wirelen, struct cnm_explain *ex);

/**
 * Decide the frame cnm_explain_parse() left in @p ex with state @p st (its
 * list, caches and clock: changed as a worker's would be) and say what the
 * forwarding list did.
 */
void cnm_explain_decide(const struct cnm_lb *lb, struct cnm_dstate *st, struct cnm_explain *ex);

/** cnm_explain_parse() then cnm_explain_decide(). */
void cnm_explain_run(const struct cnm_lb *lb, struct cnm_dstate *st, const uint8_t *frame,
		uint32_t caplen, uint32_t wirelen, struct cnm_explain *ex);

/** One line, as tcpdump prints a frame and then what cnmux does with it. */
int cnm_explain_line(const struct cnm_lb *lb, const struct cnm_explain *ex, char *buf, size_t len);

/** The explanation as a JSON object (names, not ids; "line" included). New reference. */
json_t *cnm_explain_json(const struct cnm_lb *lb, const struct cnm_explain *ex);

/** Name of an enum cnm_explain_conn. */
const char *cnm_explain_conn_name(unsigned int c);

#endif /* CNM_EXPLAIN_H */
