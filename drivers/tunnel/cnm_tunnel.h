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
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "cnm_csum.h"
#include "cnm_fwd.h"
#include "cnm_fwd_mac.h"

/** GUE's outer UDP source port: this plus the entropy's low 14 bits (RFC 8086 3.2) */
#define CNM_GUE_SPORT_BASE 49152u
#define CNM_GUE_SPORT_BITS 0x3fffu

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

/**
 * Fill the template @p t (zeroed) of node @p n for cnm_tunnel_push4(): the
 * IPv4 outer header cnm_tunnel_push() writes for protocol @p proto (0: IPIP)
 * with @p extra bytes after it (GUE's UDP header: left 0 here), less what
 * depends on the packet. t->len stays 0 when that header would not be IPv4
 * (an IPv6 node) or there is no tunnel.source4. Pure: no EAL.
 */
void cnm_tunnel_tmpl4(struct cnm_fwd_tmpl *t, const struct cnm_fwd_node *n,
		const struct cnm_fwd_conf *c, uint8_t proto, uint32_t extra);

/* rte_cpu_to_be_16() of a value known only at run time, as the compiler's
 * builtin: DPDK's x86 form is an asm statement, which the compiler can
 * neither fold into the sums below nor schedule (udp_ipip_2's profile: 6
 * instructions a frame as asm, 4 as the builtin) */
static __rte_always_inline uint16_t
cnm_tun_be16(uint16_t v)
{
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
	return __builtin_bswap16(v);
#else
	return v;
#endif
}

/**
 * cnm_tunnel_push() of a frame of the fast shape (untagged IPv4 without
 * options or fragmentation, cnm_parse_fast4(); its IP packet ends at
 * @p keep) to the node of template @p t, whose len the caller read (acquire)
 * as @p len, not 0. The template goes in front of the inner packet as it is;
 * the fields of the packet are filled in (TOS, total length, identification
 * and DF from the inner header; the source's low bits from @p entropy; for
 * GUE the UDP source port and length) and the header checksum is the
 * template's sum with those fields added (RFC 1624: the fixed part of the sum
 * is computed once). Byte for byte what cnm_tunnel_push() writes.
 *
 * @return 0: the frame is ready for the node's private port; -1: it is
 *   not for this path (too big for tunnel.mtu, or too little headroom),
 *   nothing was changed, and cnm_tunnel_push() must decide.
 */
static __rte_always_inline int
cnm_tunnel_push4(struct rte_mbuf *m, uint32_t keep, const struct cnm_fwd_tmpl *t, uint32_t len,
		uint32_t entropy, uint64_t dmac, const struct rte_ether_addr *smac)
{
	/* of the inner header's first 8 bytes, the outer keeps: version and
	 * IHL (0x45, the fast shape's), TOS (RFC 6040 normal mode),
	 * identification, and DF alone of the flags and offset (RFC 2003 5.1) */
	static const uint8_t keep_b[8] = { 0xff, 0xff, 0, 0, 0xff, 0xff, 0x40, 0 };
	uint32_t tot = keep - RTE_ETHER_HDR_LEN;
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint8_t *o = p + RTE_ETHER_HDR_LEN - len;
	uint16_t olen, lo, src_lo, ck;
	uint64_t w0, mask, s;
	struct rte_ether_hdr *eth;

	if (unlikely(tot > t->max_tot) || unlikely(rte_pktmbuf_headroom(m) < len))
		return -1;
	if (unlikely(rte_pktmbuf_pkt_len(m) > keep))
		cnm_mbuf_cut(m, keep); /* Ethernet padding goes */
	memcpy(&mask, keep_b, 8);
	memcpy(&w0, p + RTE_ETHER_HDR_LEN, 8);
	w0 &= mask;
	olen = cnm_tun_be16((uint16_t)(tot + len));
	lo = cnm_tun_be16((uint16_t)(entropy & t->src_mask));
	/* every word as it lies in memory (RFC 1071 2(B)): the template's part,
	 * the inner header's, the length, the source's low bits. The inner
	 * header's 8 bytes go in as one 64-bit word: its two 32-bit halves are
	 * the same sum once folded (2^32 is 1 modulo 2^32 - 1), and its top
	 * byte is 0 (the fragment offset's low bits, masked), so nothing
	 * overflows 64 bits */
	s = w0 + t->sum + olen + lo;
	ck = cnm_csum_fold64(s);
	/* the outer header ends where the inner packet starts: the old
	 * Ethernet header is overwritten, the inner packet is not */
	memcpy(o, &w0, 8);
	memcpy(o + 2, &olen, 2);
	memcpy(o + 8, t->hdr + 8, 12);
	memcpy(&src_lo, t->hdr + 14, 2);
	src_lo |= lo;
	memcpy(o + 14, &src_lo, 2);
	memcpy(o + 10, &ck, 2);
	/* (a template of IPv4's 20 bytes alone has no UDP header: the test
	 * folds away where the caller's len is that constant) */
	if (len != sizeof(struct rte_ipv4_hdr) && t->udp) {
		/* GUE: the source port from the entropy, the template's
		 * destination port, length, checksum 0 (RFC 768) */
		uint16_t sport = cnm_tun_be16((uint16_t)(CNM_GUE_SPORT_BASE +
			(entropy & CNM_GUE_SPORT_BITS)));
		uint16_t ulen = cnm_tun_be16((uint16_t)(tot + 8));

		memcpy(o + 20, t->hdr + 20, 8);
		memcpy(o + 20, &sport, 2);
		memcpy(o + 24, &ulen, 2);
	}
	eth = (struct rte_ether_hdr *)(o - RTE_ETHER_HDR_LEN);
	memcpy(&eth->dst_addr, &dmac, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(smac, &eth->src_addr);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	m->data_off = (uint16_t)(m->data_off - len);
	m->data_len = (uint16_t)(m->data_len + len);
	m->pkt_len += len;
	m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
	return 0;
}

#endif /* CNM_TUNNEL_H */
