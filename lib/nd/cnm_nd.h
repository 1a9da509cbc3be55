/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * IPv6 neighbour discovery (RFC 4861) over Ethernet: the neighbour
 * solicitations and advertisements that answer for the IPv6 VIPs on the
 * public port and resolve and probe IPv6 nodes on the private ports (the
 * IPv6 half of lib/arp). Pure code over byte buffers: no mbuf, no EAL.
 */
#ifndef CNM_ND_H
#define CNM_ND_H

#include <stdint.h>

#include "cnm_stats.h"

#define CNM_ND_NS 135 /**< ICMPv6 type: neighbour solicitation */
#define CNM_ND_NA 136 /**< ICMPv6 type: neighbour advertisement */

/* neighbour advertisement flags, as in the first byte after the checksum */
#define CNM_ND_NA_ROUTER 0x80    /**< R: the sender is a router */
#define CNM_ND_NA_SOLICITED 0x40 /**< S: an answer to a solicitation */
#define CNM_ND_NA_OVERRIDE 0x20  /**< O: replace a cached link-layer address */

/** IPv6 header + advertisement + target link-layer address option. */
#define CNM_ND_NA_IP_LEN 72
/** Ethernet + IPv6 + solicitation + source link-layer address option. */
#define CNM_ND_NS_FRAME_LEN 86

/** The fields of a neighbour solicitation or advertisement. */
struct cnm_nd {
	uint8_t type;      /**< CNM_ND_NS or CNM_ND_NA */
	uint8_t flags;     /**< NA: CNM_ND_NA_* bits; NS: 0 */
	uint8_t has_lla;   /**< a source (NS) / target (NA) link-layer address option */
	uint8_t lla[6];    /**< its address */
	uint8_t src[16];   /**< IPv6 source (:: for duplicate address detection) */
	uint8_t dst[16];   /**< IPv6 destination */
	uint8_t target[16];
};

/**
 * Parse and validate the message of type 135 or 136 whose IPv6 header is at
 * @p l3 and ICMPv6 header at @p l4 of @p frame, the IPv6 payload ending at
 * @p end (all within @p len bytes), with the checks every receiver makes
 * (RFC 4861 7.1.1 and 7.1.2).
 *
 * @return CNM_DROP_NONE with @p nd filled in; CNM_DROP_ND_HOP_LIMIT (hop
 *   limit not 255: it did not come from this link), CNM_DROP_ND_CHECKSUM,
 *   CNM_DROP_ND_INVALID (code not 0, shorter than 24 bytes, multicast target,
 *   an option of length 0 or past the end, a solicitation from :: that is not
 *   to a solicited-node address or carries a link-layer option, a solicited
 *   advertisement to a multicast address), or CNM_DROP_HEADERS_TOO_LONG when
 *   the message runs past @p len (the bytes at hand). Checked in that order.
 */
enum cnm_drop cnm_nd_parse(const uint8_t *frame, uint32_t len, uint32_t l3, uint32_t l4,
		uint32_t end, struct cnm_nd *nd);

/**
 * Turn the solicitation @p ns (parsed from this frame), whose IPv6 header is
 * at @p l3 of @p frame, into the advertisement "ns->target is at @p mac", in
 * place: Ethernet addresses rewritten (tags and ethertype kept), IPv6 header
 * from the target to the solicitation's source (to ff02::1 when that was ::),
 * hop limit 255, flags solicited (unless to ff02::1) and override, a target
 * link-layer address option, the checksum.
 * The frame must have room for l3 + CNM_ND_NA_IP_LEN bytes.
 * @return the frame's new length, l3 + CNM_ND_NA_IP_LEN.
 */
uint32_t cnm_nd_make_na(uint8_t *frame, uint32_t l3, const struct cnm_nd *ns, const uint8_t mac[6]);

/**
 * Write a solicitation for @p target from @p src (a unicast address of the
 * sender's: its link-local one) and @p smac, with a source link-layer address
 * option, into @p frame (CNM_ND_NS_FRAME_LEN bytes). @p dmac NULL: to the
 * target's solicited-node multicast address (address resolution, RFC 4861
 * 7.2.2); else unicast to @p target at @p dmac (reachability, 7.3.3).
 */
void cnm_nd_make_ns(uint8_t *frame, const uint8_t smac[6], const uint8_t src[16],
		const uint8_t target[16], const uint8_t *dmac);

/** The link-local address fe80::/64 of the modified EUI-64 of @p mac (RFC 4291 2.5.1). */
void cnm_nd_link_local(const uint8_t mac[6], uint8_t ll[16]);

#endif /* CNM_ND_H */
