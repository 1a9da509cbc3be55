/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Forwarding methods: how a frame leaves for its node (docs/forwarding.md).
 *
 * The decision says "forward to node N"; node N's method turns the received
 * frame into the frame that leaves on a private port. One method per folder
 * of drivers/, each exporting one `const struct cnm_fwd_ops`, listed in
 * drivers/fwd.c, as test-pmd lists its forwarding engines.
 *
 * The MAC rewrite is also inlined into the worker's fast path (as VPP
 * compiles its lb node once per encapsulation); every other method is called
 * through its ops, out of the MAC path's way.
 */
#ifndef CNM_FWD_H
#define CNM_FWD_H

#include <stdint.h>

struct rte_mbuf;
struct rte_ether_addr;

/** The methods (a node's "forward"). */
enum cnm_fwd_method {
	CNM_FWD_MAC = 0,  /**< new Ethernet header, IP packet untouched (FIG. 8) */
	CNM_FWD_IPIP,     /**< outer IP header: IPIP, IP6IP6, 6in4, 4in6 */
	CNM_FWD_GUE,      /**< outer IP + UDP, GUE variant 1 */
	CNM_FWD_MAX,
};

/**
 * The outer headers a method puts in front of a frame of the fast shape
 * (untagged IPv4 without options, cnm_parse_fast4()) for one node, built on
 * the control lcore when the node or the "tunnel" settings change
 * (cnm_fwd_ops.tmpl), so that the worker only copies them and fixes up what
 * depends on the packet (cnm_tunnel_push4()): an IPv4 outer header, and for
 * GUE the UDP header after it. Published by lib/service: @p len is written
 * last (release) and set to 0, with a grace period, before any other field
 * changes; a worker that reads len != 0 (acquire) reads a whole template.
 */
struct cnm_fwd_tmpl {
	/** the outer IPv4 header (+ UDP), wire order: the fields that depend on
	 * the packet (TOS, lengths, identification, DF, the checksum, the source's
	 * entropy bits, the UDP source port) are 0 */
	uint8_t hdr[28];
	/** one's complement sum of hdr[8..19] as 32-bit words in memory order
	 * (TTL, protocol, the source with its entropy bits 0, the destination) */
	uint32_t sum;
	uint16_t max_tot;   /**< the largest inner total length that fits tunnel.mtu */
	uint16_t src_mask;  /**< low bits of the outer source taken from the entropy */
	uint8_t len;        /**< bytes in front of the inner packet: 20, 28 with UDP; 0: none */
	uint8_t udp;        /**< a UDP header follows (GUE): source port and length per packet */
};

/** What a tunnel method needs of a node; read by workers, written by control. */
struct cnm_fwd_node {
	uint8_t dst[16];    /**< outer destination: the node's address */
	uint8_t family;     /**< AF_INET or AF_INET6: the outer family */
	uint8_t pad;
	uint16_t gue_port;  /**< GUE: outer UDP destination port, network order */
	struct cnm_fwd_tmpl t4;  /**< the fast shape's outer headers (len 0: none) */
};

/** Instance-wide tunnel settings ("tunnel" in the configuration). */
struct cnm_fwd_conf {
	uint8_t src4[4];       /**< outer IPv4 source (prefix) */
	uint32_t src4_bits;    /**< low bits of src4 taken from the entropy, 0..16 */
	uint8_t src6[16];      /**< outer IPv6 source (prefix) */
	uint32_t src6_bits;    /**< low bits of src6 taken from the entropy, 0..16 */
	uint32_t mtu;          /**< the private side's IP MTU */
	uint8_t pub_mac[6];    /**< the public port's MAC: source of "too big" replies */
	uint8_t has_src4;
	uint8_t has_src6;
};

/** What a method is told of the frame it sends. */
struct cnm_fwd_pkt {
	uint32_t l3_off;   /**< where the IP packet starts in the frame (after VLAN tags) */
	uint32_t l3_len;   /**< the IP packet's length (Ethernet padding excluded) */
	uint32_t entropy;  /**< the flow's hash (source address and port), for RSS */
	uint8_t family;    /**< AF_INET or AF_INET6: the inner family */
};

/** What became of a frame given to a method. A positive value: enum cnm_drop. */
enum cnm_fwd_result {
	CNM_FWD_OK = 0,       /**< the frame is ready for the node's private port */
	CNM_FWD_REPLY = -1,   /**< too big: the frame is now an ICMP reply for the public port */
};

/** A forwarding method. */
struct cnm_fwd_ops {
	const char *name;  /**< as in the configuration's "forward" */
	uint8_t id;        /**< enum cnm_fwd_method */
	/** Bytes the method puts in front of the IP packet, Ethernet excluded. */
	uint32_t (*overhead)(const struct cnm_fwd_node *n);
	/**
	 * Turn @p m into the frame for node @p n: Ethernet destination @p dmac
	 * (bytes 0..5 of the word, memory order), source @p smac.
	 * @return CNM_FWD_OK, CNM_FWD_REPLY, or an enum cnm_drop (the frame is
	 *   then unchanged and the caller frees it).
	 */
	int (*encap)(struct rte_mbuf *m, const struct cnm_fwd_pkt *pk, const struct cnm_fwd_node *n,
			const struct cnm_fwd_conf *c, uint64_t dmac, const struct rte_ether_addr *smac);
	/**
	 * Control side, optional: fill @p t (zeroed by the caller) with the
	 * outer headers of a fast-shape frame for node @p n under settings
	 * @p c, byte for byte what encap would write, or leave t->len 0 where
	 * the node's frames must take encap (an IPv6 outer header, no tunnel
	 * source). Pure: no EAL.
	 */
	void (*tmpl)(struct cnm_fwd_tmpl *t, const struct cnm_fwd_node *n,
			const struct cnm_fwd_conf *c);
};

/** The method named @p name, or NULL. Pure: usable without EAL. */
const struct cnm_fwd_ops *cnm_fwd_find(const char *name);

/** The method of id @p id (enum cnm_fwd_method), or NULL. */
const struct cnm_fwd_ops *cnm_fwd_get(unsigned int id);

/** Name of a method, "unknown" for none. */
const char *cnm_fwd_name(unsigned int id);

/** Every method's name, quoted as in an error message. */
const char *cnm_fwd_names(void);

#endif /* CNM_FWD_H */
