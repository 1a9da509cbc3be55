/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * "gue": the IP packet inside outer IP + UDP, Generic UDP Encapsulation
 * variant 1 (draft-ietf-intarea-gue: no GUE header, the inner IP version
 * nibble says IPv4 or IPv6), as Katran sends it. The outer UDP source port
 * carries the flow's entropy (RFC 8086 3.2), so the node's NIC spreads
 * tunnelled flows by RSS on the ports.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "cnm_fwd.h"
#include "cnm_tunnel.h"

#define UDP_HLEN 8

static uint32_t
gue_overhead(const struct cnm_fwd_node *n)
{
	return cnm_tunnel_overhead(n, UDP_HLEN);
}

static int
gue_encap(struct rte_mbuf *m, const struct cnm_fwd_pkt *pk, const struct cnm_fwd_node *n,
		const struct cnm_fwd_conf *c, uint64_t dmac, const struct rte_ether_addr *smac)
{
	uint16_t sport = (uint16_t)(CNM_GUE_SPORT_BASE + (pk->entropy & CNM_GUE_SPORT_BITS));
	uint32_t len = pk->l3_len + UDP_HLEN;
	uint8_t *u;
	int ret;

	ret = cnm_tunnel_push(m, pk, n, c, dmac, smac, IPPROTO_UDP, UDP_HLEN, &u);
	if (ret != CNM_FWD_OK)
		return ret;
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	memcpy(u + 2, &n->gue_port, 2);
	u[4] = (uint8_t)(len >> 8);
	u[5] = (uint8_t)len;
	u[6] = 0;
	u[7] = 0;
	/* IPv4: checksum 0, RFC 768. IPv6: computed, RFC 8200 8.1 */
	if (n->family == AF_INET6) {
		uint16_t cs = cnm_tunnel_udp6_csum(m, RTE_ETHER_HDR_LEN);

		u[6] = (uint8_t)(cs >> 8);
		u[7] = (uint8_t)cs;
	}
	return CNM_FWD_OK;
}

/* IPv4 outer: the IPv4 header and the UDP header with its destination port;
 * cnm_tunnel_push4() fills in the source port and the length (checksum 0) */
static void
gue_tmpl(struct cnm_fwd_tmpl *t, const struct cnm_fwd_node *n, const struct cnm_fwd_conf *c)
{
	cnm_tunnel_tmpl4(t, n, c, IPPROTO_UDP, UDP_HLEN);
	if (t->len == 0)
		return;
	memcpy(t->hdr + 20 + 2, &n->gue_port, 2);
	t->udp = 1;
}

const struct cnm_fwd_ops cnm_fwd_gue = {
	.name = "gue",
	.id = CNM_FWD_GUE,
	.overhead = gue_overhead,
	.encap = gue_encap,
	.tmpl = gue_tmpl,
};
