/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The MAC-rewrite method (patent FIG. 8): the way a packet leaves for a
 * server node on the private segment. Inline: the worker's fast path calls
 * these directly; drivers/mac/mac.c exports them as the "mac" method. The IP packet is kept byte for byte; the Ethernet header is
 * rebuilt with the node's MAC as destination and the private port's MAC as
 * source. VLAN tags of the public network are removed (the private segment is
 * untagged) and Ethernet padding past the IP length is trimmed.
 */
#ifndef CNM_FWD_MAC_H
#define CNM_FWD_MAC_H

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
 * Rewrite a frame whose IP packet starts at @p l3_off (after any VLAN tags)
 * and is @p l3_len bytes long, for the node whose MAC is @p dst (bytes 0..5
 * of the word, memory order), leaving from a port whose MAC is @p src: tags
 * removed, padding trimmed. 0, or -1 when it cannot be rewritten.
 */
int cnm_fwd_mac_rewrite(struct rte_mbuf *m, uint32_t l3_off, uint32_t l3_len, uint64_t dst,
		const struct rte_ether_addr *src);

/** cnm_fwd_mac_rewrite() of a parsed frame. */
static inline int
cnm_macrewrite(struct rte_mbuf *m, const struct cnm_flow *f, uint64_t dst,
		const struct rte_ether_addr *src)
{
	if (likely(f->n_vlan == 0)) {
		cnm_macrewrite_untagged(m, (uint32_t)f->l3_off + f->l3_len, dst, src);
		return 0;
	}
	return cnm_fwd_mac_rewrite(m, f->l3_off, f->l3_len, dst, src);
}

#endif /* CNM_FWD_MAC_H */
