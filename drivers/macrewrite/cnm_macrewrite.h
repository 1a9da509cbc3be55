/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The MAC-rewrite driver (patent FIG. 8): the way a packet leaves for a
 * server node. The IP packet is kept byte for byte; the Ethernet header is
 * rebuilt with the node's MAC as destination and the private port's MAC as
 * source. VLAN tags of the public network are removed (the private segment is
 * untagged) and Ethernet padding past the IP length is trimmed.
 */
#ifndef CNM_MACREWRITE_H
#define CNM_MACREWRITE_H

#include <stdint.h>
#include <string.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "cnm_parse.h"

/**
 * Cut @p m to its first @p keep bytes, across segments (rte_pktmbuf_trim
 * only shortens the last one). Segments past the cut are freed.
 */
static inline void
cnm_mbuf_cut(struct rte_mbuf *m, uint32_t keep)
{
	struct rte_mbuf *seg = m, *rest;
	uint32_t off = 0;
	uint16_t nseg = 1;

	while (off + seg->data_len < keep && seg->next != NULL) {
		off += seg->data_len;
		seg = seg->next;
		nseg++;
	}
	seg->data_len = (uint16_t)(keep - off);
	rest = seg->next;
	seg->next = NULL;
	if (rest != NULL)
		rte_pktmbuf_free(rest);
	m->nb_segs = nseg;
	m->pkt_len = keep;
}

/**
 * cnm_macrewrite() of an untagged frame whose IP packet ends at @p keep.
 */
static inline void
cnm_macrewrite_untagged(struct rte_mbuf *m, uint32_t keep, uint64_t dst,
		const struct rte_ether_addr *src)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	if (unlikely(rte_pktmbuf_pkt_len(m) > keep))
		cnm_mbuf_cut(m, keep);
	memcpy(&eth->dst_addr, &dst, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(src, &eth->src_addr);
}

/**
 * Rewrite @p m, parsed as @p f, for the node whose MAC is @p dst (bytes 0..5
 * of the word, memory order), leaving from a port whose MAC is @p src.
 * @return 0, or -1 when the frame cannot be rewritten (then it is unchanged).
 */
static inline int
cnm_macrewrite(struct rte_mbuf *m, const struct cnm_flow *f, uint64_t dst,
		const struct rte_ether_addr *src)
{
	uint32_t keep = (uint32_t)f->l3_off + f->l3_len;
	struct rte_ether_hdr *eth;
	uint16_t et;

	if (likely(f->n_vlan == 0)) {
		cnm_macrewrite_untagged(m, keep, dst, src);
		return 0;
	}
	if (rte_pktmbuf_pkt_len(m) > keep)
		cnm_mbuf_cut(m, keep);
	/* the ethertype in front of the IP header */
	et = *rte_pktmbuf_mtod_offset(m, uint16_t *, f->l3_off - 2);
	if (rte_pktmbuf_adj(m, (uint16_t)(f->l3_off - RTE_ETHER_HDR_LEN)) == NULL)
		return -1;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->ether_type = et;
	m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
	memcpy(&eth->dst_addr, &dst, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(src, &eth->src_addr);
	return 0;
}

#endif /* CNM_MACREWRITE_H */
