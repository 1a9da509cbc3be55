/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * What the L3 tunnel methods (ipip, gue) share: the size check and the
 * "too big" reply, the outer IPv4 / IPv6 header as docs/forwarding.md fixes
 * it, the outer source address taken from the flow's entropy.
 */
#ifndef CNM_TUNNEL_H
#define CNM_TUNNEL_H

#include <stdint.h>

#include "cnm_fwd.h"

struct rte_mbuf;
struct rte_ether_addr;

/**
 * Put an Ethernet header and an outer IP header of protocol @p proto in front
 * of the IP packet of @p m, with @p extra bytes between the outer IP header
 * and the inner packet (the UDP header of GUE: *@p l4 points at them). VLAN
 * tags and padding go; the inner packet is kept byte for byte.
 *
 * @return CNM_FWD_OK; CNM_FWD_REPLY when the outer packet would exceed the MTU
 *   and the frame became an ICMP "too big" reply; an enum cnm_drop otherwise
 *   (tunnel_mtu: too big, IPv4 without DF; no_tunnel_source; runt: no room).
 */
int cnm_tunnel_push(struct rte_mbuf *m, const struct cnm_fwd_pkt *pk, const struct cnm_fwd_node *n,
		const struct cnm_fwd_conf *c, uint64_t dmac, const struct rte_ether_addr *smac,
		uint8_t proto, uint32_t extra, uint8_t **l4);

/** IP protocol number of an inner packet of @p family (IPIP 4, IPv6 41). */
static inline uint8_t
cnm_tunnel_inner_proto(uint8_t family)
{
	return family == 2 /* AF_INET */ ? 4 : 41;
}

/** Outer header bytes for a node: 20 (IPv4) or 40 (IPv6), plus @p extra. */
static inline uint32_t
cnm_tunnel_overhead(const struct cnm_fwd_node *n, uint32_t extra)
{
	return (n->family == 2 /* AF_INET */ ? 20u : 40u) + extra;
}

/**
 * Turn @p m (its IP packet too big by the MTU) into the ICMP "fragmentation
 * needed" / ICMPv6 "packet too big" for its sender, announcing @p mtu, in
 * place, for the public port. 0, or -1 when it cannot (not IPv4 with DF, nor IPv6).
 */
int cnm_tunnel_too_big(struct rte_mbuf *m, const struct cnm_fwd_pkt *pk, uint32_t mtu,
		const uint8_t pub_mac[6]);

/** UDP checksum of the GUE frame whose outer IPv6 header starts at @p ip6_off. */
uint16_t cnm_tunnel_udp6_csum(const struct rte_mbuf *m, uint32_t ip6_off);

#endif /* CNM_TUNNEL_H */
