/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "ipip": the IP packet inside an outer IP header, as IPVS's TUN mode and
 * Katran send it. The outer family is the node address's: IPv4-in-IPv4
 * (RFC 2003, protocol 4), IPv6-in-IPv6 (RFC 2473, next header 41), and the
 * mixed 6in4 / 4in6 follow from the same rule. The node decapsulates
 * (an ipip / ip6tnl device) and answers the client directly.
 */
#include <rte_mbuf.h>

#include "cnm_fwd.h"
#include "cnm_tunnel.h"

static uint32_t
ipip_overhead(const struct cnm_fwd_node *n)
{
	return cnm_tunnel_overhead(n, 0);
}

static int
ipip_encap(struct rte_mbuf *m, const struct cnm_fwd_pkt *pk, const struct cnm_fwd_node *n,
		const struct cnm_fwd_conf *c, uint64_t dmac, const struct rte_ether_addr *smac)
{
	uint8_t *l4;

	/* protocol 0: 4 or 41 from the inner family */
	return cnm_tunnel_push(m, pk, n, c, dmac, smac, 0, 0, &l4);
}

/* IPv4 in IPv4: the outer header alone (cnm_tunnel_push4() fills it in) */
static void
ipip_tmpl(struct cnm_fwd_tmpl *t, const struct cnm_fwd_node *n, const struct cnm_fwd_conf *c)
{
	cnm_tunnel_tmpl4(t, n, c, 0, 0);
}

const struct cnm_fwd_ops cnm_fwd_ipip = {
	.name = "ipip",
	.id = CNM_FWD_IPIP,
	.overhead = ipip_overhead,
	.encap = ipip_encap,
	.tmpl = ipip_tmpl,
};
