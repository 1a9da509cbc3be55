/* SPDX-License-Identifier: BSD-3-Clause */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "cnm_csum.h"
#include "cnm_fwd_mac.h"
#include "cnm_stats.h"
#include "cnm_tunnel.h"

/* The IPv6 minimum MTU (RFC 8200): an ICMPv6 error fits in it whole. */
#define IPV6_MIN_MTU 1280u

static __rte_always_inline void
outer_src(uint8_t *dst, const uint8_t *prefix, uint32_t len, uint32_t bits, uint32_t entropy)
{
	uint32_t mask = bits ? (1u << bits) - 1 : 0;
	uint32_t low;

	memcpy(dst, prefix, len);
	if (mask == 0)
		return;
	/* the low bits of the address, replaced by those of the entropy */
	low = ((uint32_t)dst[len - 4] << 24 | (uint32_t)dst[len - 3] << 16 |
		(uint32_t)dst[len - 2] << 8 | dst[len - 1]);
	low = (low & ~mask) | (entropy & mask);
	dst[len - 4] = (uint8_t)(low >> 24);
	dst[len - 3] = (uint8_t)(low >> 16);
	dst[len - 2] = (uint8_t)(low >> 8);
	dst[len - 1] = (uint8_t)low;
}

/*
 * The checksum of an IPv4 header without options (RFC 1071), as
 * rte_ipv4_cksum() gives it: five 32-bit words added at once rather than
 * ten 16-bit ones in a loop (the one's complement sum does not depend on how
 * the words are grouped, as long as it is folded the same way).
 */
static __rte_always_inline uint16_t
ip4_hdr_csum(const struct rte_ipv4_hdr *h)
{
	uint32_t w[5];
	uint64_t s;

	memcpy(w, h, sizeof(w));
	s = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
	return cnm_csum_fold64(s);
}

/* Sum of the bytes [off, off + len) of a chain of segments. */
static uint32_t
sum_mbuf(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint32_t sum)
{
	uint8_t buf[256];

	while (len > 0) {
		uint32_t k = RTE_MIN(len, (uint32_t)sizeof(buf));
		const uint8_t *p = rte_pktmbuf_read(m, off, k, buf);

		/* an odd chunk can only be the last one: sizeof(buf) is even */
		sum = cnm_csum_add(p, k, sum);
		off += k;
		len -= k;
	}
	return sum;
}

int
cnm_tunnel_push(struct rte_mbuf *m, const struct cnm_fwd_pkt *pk, const struct cnm_fwd_node *n,
		const struct cnm_fwd_conf *c, uint64_t dmac, const struct rte_ether_addr *smac,
		uint8_t proto, uint32_t extra, uint8_t **l4)
{
	uint32_t hdr = cnm_tunnel_overhead(n, extra);
	uint32_t outer_len = pk->l3_len + hdr;
	uint8_t inner[40];
	const uint8_t *ip;
	struct rte_ether_hdr *eth;
	uint8_t *o, tos;

	if (outer_len > c->mtu) {
		uint32_t room = c->mtu > hdr ? c->mtu - hdr : 0;

		if (cnm_tunnel_too_big(m, pk, room, c->pub_mac) == 0)
			return CNM_FWD_REPLY;
		return CNM_DROP_TUNNEL_MTU;
	}
	if ((n->family == AF_INET && !c->has_src4) || (n->family == AF_INET6 && !c->has_src6))
		return CNM_DROP_NO_TUNNEL_SOURCE;
	ip = rte_pktmbuf_read(m, pk->l3_off, pk->family == AF_INET ? 20 : 40, inner);
	if (ip == NULL)
		return CNM_DROP_RUNT;
	/* the inner TOS / traffic class, copied whole (DSCP and ECN, RFC 6040) */
	tos = pk->family == AF_INET ? ip[1] : (uint8_t)((ip[0] << 4) | (ip[1] >> 4));
	if (rte_pktmbuf_headroom(m) + pk->l3_off < hdr + RTE_ETHER_HDR_LEN)
		return CNM_DROP_RUNT;
	/* VLAN tags and padding go; then room for Ethernet + outer headers */
	if (rte_pktmbuf_pkt_len(m) > pk->l3_off + pk->l3_len)
		cnm_mbuf_cut(m, pk->l3_off + pk->l3_len);
	if (rte_pktmbuf_adj(m, (uint16_t)pk->l3_off) == NULL)
		return CNM_DROP_RUNT;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, (uint16_t)(hdr + RTE_ETHER_HDR_LEN));
	m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
	memcpy(&eth->dst_addr, &dmac, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(smac, &eth->src_addr);
	o = (uint8_t *)(eth + 1);
	if (n->family == AF_INET) {
		struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)o;
		/* DF follows the inner packet (RFC 2003 5.1); IPv6 is never
		 * fragmented on the path, so its tunnel is DF too */
		int df = pk->family == AF_INET6 || (ip[6] & 0x40);

		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
		h->version_ihl = 0x45;
		h->type_of_service = tos;
		h->total_length = rte_cpu_to_be_16((uint16_t)outer_len);
		h->packet_id = 0;
		if (pk->family == AF_INET)
			memcpy(&h->packet_id, ip + 4, 2); /* the inner identification */
		h->fragment_offset = rte_cpu_to_be_16(df ? RTE_IPV4_HDR_DF_FLAG : 0);
		h->time_to_live = 64;
		h->next_proto_id = proto ? proto : cnm_tunnel_inner_proto(pk->family);
		outer_src((uint8_t *)&h->src_addr, c->src4, 4, c->src4_bits, pk->entropy);
		memcpy(&h->dst_addr, n->dst, 4);
		h->hdr_checksum = 0;
		h->hdr_checksum = ip4_hdr_csum(h);
		*l4 = o + 20;
	} else {
		uint32_t vtf = 6u << 28 | (uint32_t)tos << 20 | (pk->entropy & 0xfffff);

		eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
		o[0] = (uint8_t)(vtf >> 24);
		o[1] = (uint8_t)(vtf >> 16);
		o[2] = (uint8_t)(vtf >> 8);
		o[3] = (uint8_t)vtf;
		o[4] = (uint8_t)((outer_len - 40) >> 8);
		o[5] = (uint8_t)(outer_len - 40);
		o[6] = proto ? proto : cnm_tunnel_inner_proto(pk->family);
		o[7] = 64;
		outer_src(o + 8, c->src6, 16, c->src6_bits, pk->entropy);
		memcpy(o + 24, n->dst, 16);
		*l4 = o + 40;
	}
	return CNM_FWD_OK;
}

void
cnm_tunnel_tmpl4(struct cnm_fwd_tmpl *t, const struct cnm_fwd_node *n,
		const struct cnm_fwd_conf *c, uint8_t proto, uint32_t extra)
{
	struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)t->hdr;
	uint32_t hdr = cnm_tunnel_overhead(n, extra);
	uint32_t mask = c->src4_bits ? (1u << c->src4_bits) - 1 : 0;
	uint32_t w[3];
	uint64_t s;

	if (n->family != AF_INET || !c->has_src4 || hdr > sizeof(t->hdr) || c->src4_bits > 16)
		return;
	/* what cnm_tunnel_push() writes whatever the packet (the inner is
	 * IPv4: protocol 4 for IPIP) */
	h->version_ihl = 0x45;
	h->time_to_live = 64;
	h->next_proto_id = proto ? proto : cnm_tunnel_inner_proto(AF_INET);
	/* the prefix; its low bits are the entropy's, filled in per packet */
	outer_src((uint8_t *)&h->src_addr, c->src4, 4, 0, 0);
	t->hdr[14] &= (uint8_t)~(mask >> 8);
	t->hdr[15] &= (uint8_t)~mask;
	memcpy(&h->dst_addr, n->dst, 4);
	t->src_mask = (uint16_t)mask;
	memcpy(w, t->hdr + 8, sizeof(w));
	s = (uint64_t)w[0] + w[1] + w[2];
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffu) + (s >> 16);
	s = (s & 0xffffu) + (s >> 16);
	t->sum = (uint32_t)s;
	/* tunnel.mtu is at least 576: more than any outer header */
	t->max_tot = (uint16_t)(c->mtu > hdr ? c->mtu - hdr : 0);
	t->len = (uint8_t)hdr;
}

uint16_t
cnm_tunnel_udp6_csum(const struct rte_mbuf *m, uint32_t ip6_off)
{
	uint8_t h[40];
	const uint8_t *ip = rte_pktmbuf_read(m, ip6_off, 40, h);
	uint32_t len = (uint32_t)ip[4] << 8 | ip[5];
	uint32_t sum;
	uint16_t c;

	/* pseudo-header: addresses, upper-layer length, next header */
	sum = cnm_csum_add(ip + 8, 32, 0) + len + IPPROTO_UDP;
	sum = sum_mbuf(m, ip6_off + 40, len, sum);
	c = cnm_csum_fold(sum);
	return c == 0 ? 0xffff : c;
}

int
cnm_tunnel_too_big(struct rte_mbuf *m, const struct cnm_fwd_pkt *pk, uint32_t mtu,
		const uint8_t pub_mac[6])
{
	uint8_t l2[RTE_ETHER_HDR_LEN + 8 + 2];
	uint8_t q[IPV6_MIN_MTU];
	uint8_t hb[60];
	const uint8_t *ip;
	uint32_t qlen, hlen, len, sum;
	uint8_t *p, *o;

	if (pk->l3_off > sizeof(l2))
		return -1;
	ip = rte_pktmbuf_read(m, pk->l3_off, pk->family == AF_INET ? 20 : 40, hb);
	if (ip == NULL)
		return -1;
	if (pk->family == AF_INET) {
		uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4;

		if (!(ip[6] & 0x40))
			return -1; /* no DF: the caller drops it */
		/* RFC 792: the IP header and the first 8 bytes of its payload */
		qlen = RTE_MIN(ihl + 8, pk->l3_len);
		hlen = 20 + 8;
	} else {
		hlen = 40 + 8;
		qlen = RTE_MIN(pk->l3_len, IPV6_MIN_MTU - hlen);
		mtu = RTE_MAX(mtu, IPV6_MIN_MTU);
	}
	if (rte_pktmbuf_read(m, pk->l3_off, qlen, q) != q) {
		/* contiguous: rte_pktmbuf_read() gave a pointer into m, copy it */
		const uint8_t *src = rte_pktmbuf_read(m, pk->l3_off, qlen, q);

		if (src == NULL)
			return -1;
		memmove(q, src, qlen);
	}
	/* the arriving Ethernet header, tags included: back to the sender */
	memcpy(l2, rte_pktmbuf_mtod(m, uint8_t *), pk->l3_off);
	memcpy(l2, l2 + 6, 6);
	memcpy(l2 + 6, pub_mac, 6);
	len = pk->l3_off + hlen + qlen;
	/* one segment, from the start of its buffer's data room */
	if (m->nb_segs > 1)
		cnm_mbuf_cut(m, rte_pktmbuf_data_len(m));
	rte_pktmbuf_reset_headroom(m);
	if (len > rte_pktmbuf_tailroom(m) + rte_pktmbuf_data_len(m))
		return -1;
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
	p = rte_pktmbuf_mtod(m, uint8_t *);
	memcpy(p, l2, pk->l3_off);
	o = p + pk->l3_off;
	memset(o, 0, hlen);
	if (pk->family == AF_INET) {
		o[0] = 0x45;
		o[2] = (uint8_t)((hlen + qlen) >> 8);
		o[3] = (uint8_t)(hlen + qlen);
		o[8] = 64;
		o[9] = IPPROTO_ICMP;
		memcpy(o + 12, q + 16, 4); /* from the VIP */
		memcpy(o + 16, q + 12, 4); /* to the client */
		sum = cnm_csum_fold(cnm_csum_add(o, 20, 0));
		o[10] = (uint8_t)(sum >> 8);
		o[11] = (uint8_t)sum;
		o[20] = 3; /* destination unreachable */
		o[21] = 4; /* fragmentation needed and DF set */
		o[26] = (uint8_t)(mtu >> 8);
		o[27] = (uint8_t)mtu;
		memcpy(o + 28, q, qlen);
		sum = cnm_csum_fold(cnm_csum_add(o + 20, 8 + qlen, 0));
		o[22] = (uint8_t)(sum >> 8);
		o[23] = (uint8_t)sum;
	} else {
		o[0] = 0x60;
		o[4] = (uint8_t)((8 + qlen) >> 8);
		o[5] = (uint8_t)(8 + qlen);
		o[6] = IPPROTO_ICMPV6;
		o[7] = 64;
		memcpy(o + 8, q + 24, 16);  /* from the VIP */
		memcpy(o + 24, q + 8, 16);  /* to the client */
		o[40] = 2; /* packet too big */
		o[44] = (uint8_t)(mtu >> 24);
		o[45] = (uint8_t)(mtu >> 16);
		o[46] = (uint8_t)(mtu >> 8);
		o[47] = (uint8_t)mtu;
		memcpy(o + 48, q, qlen);
		sum = cnm_csum_add(o + 8, 32, 0) + 8 + qlen + IPPROTO_ICMPV6;
		sum = cnm_csum_fold(cnm_csum_add(o + 40, 8 + qlen, sum));
		o[42] = (uint8_t)(sum >> 8);
		o[43] = (uint8_t)sum;
	}
	return 0;
}
