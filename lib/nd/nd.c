/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include "cnm_nd.h"

#define IP6_HLEN 40
#define ND_HLEN 24          /* type, code, checksum, flags/reserved, target */
#define OPT_SLLA 1          /* source link-layer address option */
#define OPT_TLLA 2          /* target link-layer address option */
#define ICMPV6 58

static inline uint16_t
ld16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* One's complement sum of the ICMPv6 pseudo-header and message (RFC 8200 8.1). */
static uint16_t
icmp6_csum(const uint8_t src[16], const uint8_t dst[16], const uint8_t *m, uint32_t n)
{
	uint32_t sum = 0, i;

	for (i = 0; i < 16; i += 2)
		sum += ld16(src + i) + ld16(dst + i);
	sum += n >> 16;
	sum += n & 0xffff;
	sum += ICMPV6;
	for (i = 0; i + 1 < n; i += 2)
		sum += ld16(m + i);
	if (n & 1)
		sum += (uint32_t)m[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static int
solicited_node(const uint8_t a[16])
{
	static const uint8_t pfx[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

static int
unspecified(const uint8_t a[16])
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

enum cnm_drop
cnm_nd_parse(const uint8_t *frame, uint32_t len, uint32_t l3, uint32_t l4, uint32_t end,
		struct cnm_nd *nd)
{
	const uint8_t *ip = frame + l3, *m = frame + l4;
	uint32_t n, o;
	uint8_t want_opt;

	if (end > len || end < l4)
		return CNM_DROP_HEADERS_TOO_LONG;
	n = end - l4;
	/* hop limit 255: nobody off the link can have sent it (RFC 4861 7.1) */
	if (ip[7] != 255)
		return CNM_DROP_ND_HOP_LIMIT;
	memcpy(nd->src, ip + 8, 16);
	memcpy(nd->dst, ip + 24, 16);
	if (icmp6_csum(nd->src, nd->dst, m, n) != 0)
		return CNM_DROP_ND_CHECKSUM;
	if (n < ND_HLEN)
		return CNM_DROP_ND_INVALID;
	nd->type = m[0];
	if ((nd->type != CNM_ND_NS && nd->type != CNM_ND_NA) || m[1] != 0)
		return CNM_DROP_ND_INVALID;
	memcpy(nd->target, m + 8, 16);
	if (nd->target[0] == 0xff)
		return CNM_DROP_ND_INVALID;
	nd->flags = nd->type == CNM_ND_NA ? m[4] & 0xe0 : 0;
	nd->has_lla = 0;
	want_opt = nd->type == CNM_ND_NS ? OPT_SLLA : OPT_TLLA;
	for (o = ND_HLEN; o < n; o += (uint32_t)m[o + 1] * 8) {
		if (o + 2 > n || m[o + 1] == 0 || o + (uint32_t)m[o + 1] * 8 > n)
			return CNM_DROP_ND_INVALID;
		/* an Ethernet address option is 8 bytes (RFC 4861 4.6.1); the
		 * first one of the kind counts */
		if (m[o] == want_opt && m[o + 1] == 1 && !nd->has_lla) {
			memcpy(nd->lla, m + o + 2, 6);
			nd->has_lla = 1;
		}
	}
	if (nd->type == CNM_ND_NS && unspecified(nd->src) &&
			(!solicited_node(nd->dst) || nd->has_lla))
		return CNM_DROP_ND_INVALID;
	if (nd->type == CNM_ND_NA && nd->dst[0] == 0xff && (nd->flags & CNM_ND_NA_SOLICITED))
		return CNM_DROP_ND_INVALID;
	return CNM_DROP_NONE;
}

uint32_t
cnm_nd_make_na(uint8_t *frame, uint32_t l3, const struct cnm_nd *ns, const uint8_t mac[6])
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 0x01 };
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 0x01 };
	uint8_t *ip = frame + l3, *m = ip + IP6_HLEN;
	int dad = unspecified(ns->src);
	uint16_t c;

	/* Ethernet: to the solicitation's link-layer address option, else to
	 * the frame's sender; all nodes for an answer to a DAD probe */
	if (dad)
		memcpy(frame, all_nodes_mac, 6);
	else if (ns->has_lla)
		memcpy(frame, ns->lla, 6);
	else
		memcpy(frame, frame + 6, 6);
	memcpy(frame + 6, mac, 6);
	ip[0] = 0x60;
	ip[1] = 0;
	ip[2] = 0;
	ip[3] = 0;
	ip[4] = 0;
	ip[5] = CNM_ND_NA_IP_LEN - IP6_HLEN;
	ip[6] = ICMPV6;
	ip[7] = 255;
	memcpy(ip + 8, ns->target, 16);
	memcpy(ip + 24, dad ? all_nodes : ns->src, 16);
	m[0] = CNM_ND_NA;
	m[1] = 0;
	m[2] = 0;
	m[3] = 0;
	m[4] = (uint8_t)(CNM_ND_NA_OVERRIDE | (dad ? 0 : CNM_ND_NA_SOLICITED));
	m[5] = 0;
	m[6] = 0;
	m[7] = 0;
	memcpy(m + 8, ns->target, 16);
	m[24] = OPT_TLLA;
	m[25] = 1;
	memcpy(m + 26, mac, 6);
	c = icmp6_csum(ip + 8, ip + 24, m, CNM_ND_NA_IP_LEN - IP6_HLEN);
	m[2] = (uint8_t)(c >> 8);
	m[3] = (uint8_t)c;
	return l3 + CNM_ND_NA_IP_LEN;
}

void
cnm_nd_make_ns(uint8_t *frame, const uint8_t smac[6], const uint8_t src[16],
		const uint8_t target[16], const uint8_t *dmac)
{
	uint8_t *ip = frame + 14, *m = ip + IP6_HLEN;
	uint16_t c;

	if (dmac != NULL) {
		memcpy(frame, dmac, 6);
		memcpy(ip + 24, target, 16);
	} else {
		/* solicited-node multicast ff02::1:ffXX:XXXX and its MAC 33:33:ff:XX:XX:XX */
		static const uint8_t pfx[13] = { 0xff, 0x02, [11] = 0x01, [12] = 0xff };

		frame[0] = 0x33;
		frame[1] = 0x33;
		frame[2] = 0xff;
		memcpy(frame + 3, target + 13, 3);
		memcpy(ip + 24, pfx, sizeof(pfx));
		memcpy(ip + 24 + 13, target + 13, 3);
	}
	memcpy(frame + 6, smac, 6);
	frame[12] = 0x86;
	frame[13] = 0xdd;
	ip[0] = 0x60;
	ip[1] = 0;
	ip[2] = 0;
	ip[3] = 0;
	ip[4] = 0;
	ip[5] = CNM_ND_NS_FRAME_LEN - 14 - IP6_HLEN;
	ip[6] = ICMPV6;
	ip[7] = 255;
	memcpy(ip + 8, src, 16);
	memset(m, 0, ND_HLEN);
	m[0] = CNM_ND_NS;
	memcpy(m + 8, target, 16);
	m[24] = OPT_SLLA;
	m[25] = 1;
	memcpy(m + 26, smac, 6);
	c = icmp6_csum(src, ip + 24, m, CNM_ND_NS_FRAME_LEN - 14 - IP6_HLEN);
	m[2] = (uint8_t)(c >> 8);
	m[3] = (uint8_t)c;
}

void
cnm_nd_link_local(const uint8_t mac[6], uint8_t ll[16])
{
	memset(ll, 0, 16);
	ll[0] = 0xfe;
	ll[1] = 0x80;
	ll[8] = mac[0] ^ 0x02;
	ll[9] = mac[1];
	ll[10] = mac[2];
	ll[11] = 0xff;
	ll[12] = 0xfe;
	ll[13] = mac[3];
	ll[14] = mac[4];
	ll[15] = mac[5];
}
