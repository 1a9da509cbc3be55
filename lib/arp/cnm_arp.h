/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * ARP (RFC 826) over Ethernet for IPv4: the responder for the VIPs on the
 * public port, and the requests and replies of node resolution on the
 * private ports. Pure code over byte buffers.
 */
#ifndef CNM_ARP_H
#define CNM_ARP_H

#include <stdint.h>

#define CNM_ARP_REQUEST 1
#define CNM_ARP_REPLY 2
#define CNM_ARP_FRAME_LEN 42 /**< Ethernet + ARP, without padding */

/** The fields of an Ethernet/IPv4 ARP message. */
struct cnm_arp {
	uint16_t op;      /**< CNM_ARP_REQUEST or CNM_ARP_REPLY */
	uint8_t sha[6];   /**< sender hardware address */
	uint8_t spa[4];   /**< sender protocol address (network order) */
	uint8_t tha[6];
	uint8_t tpa[4];
};

/**
 * Parse the ARP message that starts at @p off of a frame.
 * @return 0, or -1 when it is not a well-formed Ethernet/IPv4 ARP message.
 */
int cnm_arp_parse(const uint8_t *frame, uint32_t len, uint32_t off, struct cnm_arp *a);

/**
 * Turn the request at @p off of @p frame into the reply "tpa is at @p mac",
 * in place: Ethernet addresses and ARP fields swapped. Tags and length are kept.
 */
void cnm_arp_make_reply(uint8_t *frame, uint32_t off, const uint8_t mac[6]);

/**
 * Write a broadcast request "who has @p tpa, tell @p spa" from @p sha into
 * @p frame (CNM_ARP_FRAME_LEN bytes). spa 0.0.0.0 makes it a probe (RFC 5227),
 * which needs no address of our own on the segment.
 */
void cnm_arp_make_request(uint8_t *frame, const uint8_t sha[6], const uint8_t spa[4],
		const uint8_t tpa[4]);

#endif /* CNM_ARP_H */
