/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "mac": the frame keeps its IP packet byte for byte and gets a new Ethernet
 * header (node's MAC, private port's MAC). The worker inlines the same
 * functions on its fast path.
 */
#include <rte_mbuf.h>

#include "cnm_fwd.h"
#include "cnm_fwd_mac.h"
#include "cnm_stats.h"

/* Rewrite a frame whose IP packet starts at l3_off and is l3_len long. */
int
cnm_fwd_mac_rewrite(struct rte_mbuf *m, uint32_t l3_off, uint32_t l3_len, uint64_t dmac,
		const struct rte_ether_addr *smac)
{
	struct rte_ether_hdr *eth;
	uint16_t et;

	if (likely(l3_off == RTE_ETHER_HDR_LEN)) {
		cnm_macrewrite_untagged(m, l3_off + l3_len, dmac, smac);
		return 0;
	}
	if (rte_pktmbuf_pkt_len(m) > l3_off + l3_len)
		cnm_mbuf_cut(m, l3_off + l3_len);
	/* the ethertype in front of the IP header */
	et = *rte_pktmbuf_mtod_offset(m, uint16_t *, l3_off - 2);
	if (rte_pktmbuf_adj(m, (uint16_t)(l3_off - RTE_ETHER_HDR_LEN)) == NULL)
		return -1;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->ether_type = et;
	m->ol_flags &= ~(RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED);
	memcpy(&eth->dst_addr, &dmac, RTE_ETHER_ADDR_LEN);
	rte_ether_addr_copy(smac, &eth->src_addr);
	return 0;
}

static uint32_t
mac_overhead(const struct cnm_fwd_node *n)
{
	(void)n;
	return 0;
}

static int
mac_encap(struct rte_mbuf *m, const struct cnm_fwd_pkt *pk, const struct cnm_fwd_node *n,
		const struct cnm_fwd_conf *c, uint64_t dmac, const struct rte_ether_addr *smac)
{
	(void)n;
	(void)c;
	return cnm_fwd_mac_rewrite(m, pk->l3_off, pk->l3_len, dmac, smac) == 0 ?
		CNM_FWD_OK : CNM_DROP_RUNT;
}

const struct cnm_fwd_ops cnm_fwd_mac = {
	.name = "mac",
	.id = CNM_FWD_MAC,
	.overhead = mac_overhead,
	.encap = mac_encap,
};
