/* SPDX-License-Identifier: BSD-3-Clause */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "cnm_arp.h"
#include "cnm_nd.h"
#include "cnm_parse.h"

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif

#define ETH_HLEN 14
#define ET_IPV4 0x0800
#define ET_IPV6 0x86dd
#define ET_ARP 0x0806
#define ET_VLAN 0x8100
#define ET_QINQ 0x88a8
#define VLAN_MAX 2
#define IPV6_EXT_MAX 8

static int
martian6(const uint8_t *a)
{
	static const uint8_t zero[16];
	static const uint8_t loop[16] = { [15] = 1 };

	return a[0] == 0xff || memcmp(a, zero, 16) == 0 || memcmp(a, loop, 16) == 0;
}

/* An IPv6 extension header the parsers walk over. */
static inline int
ext6(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
		nh == IPPROTO_FRAGMENT;
}

static int
icmp_is_error(uint8_t proto, uint8_t type)
{
	if (proto == IPPROTO_ICMP)
		return type == 3 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/*
 * A neighbour solicitation or advertisement at l4: checked as every receiver
 * must (RFC 4861 7.1), else dropped; the decision answers it or hands it to
 * the host, by its target.
 */
static enum cnm_drop
parse_nd(const uint8_t *p, uint32_t caplen, uint32_t l4, uint32_t end, struct cnm_flow *f)
{
	struct cnm_nd nd;
	enum cnm_drop r = cnm_nd_parse(p, caplen, f->l3_off, l4, end, &nd);

	if (r != CNM_DROP_NONE)
		return r;
	f->kind = CNM_PKT_ND;
	memcpy(f->key.addr, nd.target, 16);
	return CNM_DROP_NONE;
}

/*
 * An ICMP message at l4. Errors quoting a TCP or UDP packet are turned into
 * that packet's flow seen from the client (see cnm_parse()).
 */
static enum cnm_drop
parse_icmp(const uint8_t *p, uint32_t caplen, uint32_t l4, uint32_t end, struct cnm_flow *f)
{
	uint32_t in = l4 + 8, ihl, ports;
	uint8_t proto;
	const uint8_t *q;

	if (l4 + 8 > end)
		return CNM_DROP_L4_TRUNCATED;
	if (l4 + 8 > caplen)
		return CNM_DROP_HEADERS_TOO_LONG;
	f->l4_off = (uint16_t)l4;
	f->icmp_type = p[l4];
	if ((f->icmp_type == CNM_ND_NS || f->icmp_type == CNM_ND_NA) &&
			f->key.family == AF_INET6 && f->frag == CNM_FRAG_NONE)
		return parse_nd(p, caplen, l4, end, f);
	if (!icmp_is_error(f->key.proto, f->icmp_type) || f->frag != CNM_FRAG_NONE)
		return CNM_DROP_NONE;
	q = p + in;
	if (f->key.family == AF_INET) {
		if (in + 20 > end)
			return CNM_DROP_ICMP_INNER;
		if (in + 20 > caplen)
			return CNM_DROP_HEADERS_TOO_LONG;
		if ((q[0] >> 4) != 4 || (q[0] & 0xf) < 5)
			return CNM_DROP_ICMP_INNER;
		ihl = (uint32_t)(q[0] & 0xf) * 4;
		proto = q[9];
		ports = in + ihl;
	} else {
		uint32_t n;

		if (in + 40 > end)
			return CNM_DROP_ICMP_INNER;
		if (in + 40 > caplen)
			return CNM_DROP_HEADERS_TOO_LONG;
		if ((q[0] >> 4) != 6)
			return CNM_DROP_ICMP_INNER;
		/* the quoted packet's extension headers, with the outer parser's
		 * bounds: what a node sent may carry hop-by-hop, routing,
		 * destination options or a fragment header before TCP/UDP */
		proto = q[6];
		ports = in + 40;
		for (n = 0; ext6(proto); n++) {
			if (n == IPV6_EXT_MAX || ports + 8 > end)
				return CNM_DROP_ICMP_INNER;
			if (ports + 8 > caplen)
				return CNM_DROP_HEADERS_TOO_LONG;
			if (proto == IPPROTO_FRAGMENT) {
				/* a later fragment quotes no ports */
				if (cnm_ld16be(p + ports + 2) & 0xfff8)
					return CNM_DROP_NONE;
				proto = p[ports];
				ports += 8;
			} else {
				proto = p[ports];
				ports += ((uint32_t)p[ports + 1] + 1) * 8;
			}
			if (ports > end)
				return CNM_DROP_ICMP_INNER;
		}
	}
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return CNM_DROP_NONE; /* quotes something else: for the host stack */
	/* the quoted ports (the first 4 bytes past the quoted header) */
	if (ports + 4 > end)
		return CNM_DROP_ICMP_INNER;
	if (ports + 4 > caplen)
		return CNM_DROP_HEADERS_TOO_LONG;
	if (f->key.family == AF_INET) {
		memcpy(f->key.addr, q + 12, 4);  /* quoted source: the VIP */
		memcpy(f->src, q + 16, 4);       /* quoted destination: the client */
	} else {
		memcpy(f->key.addr, q + 8, 16);
		memcpy(f->src, q + 24, 16);
	}
	f->key.proto = proto;
	memcpy(&f->key.port, p + ports, 2);
	memcpy(&f->sport, p + ports + 2, 2);
	f->icmp_err = 1;
	f->has_ports = 1;
	return CNM_DROP_NONE;
}

/* TCP or UDP header at l4 within an IP payload ending at end. */
static enum cnm_drop
parse_l4(const uint8_t *p, uint32_t caplen, uint32_t l4, uint32_t end, struct cnm_flow *f)
{
	uint8_t proto = f->key.proto;
	uint32_t need;

	if (proto == IPPROTO_TCP)
		need = 20;
	else if (proto == IPPROTO_UDP)
		need = 8;
	else if ((proto == IPPROTO_ICMP && f->key.family == AF_INET) ||
			(proto == IPPROTO_ICMPV6 && f->key.family == AF_INET6))
		return parse_icmp(p, caplen, l4, end, f);
	else
		return CNM_DROP_NONE; /* another protocol: no ports, non-scalable */

	if (l4 + need > end)
		return CNM_DROP_L4_TRUNCATED;
	if (l4 + need > caplen)
		return CNM_DROP_HEADERS_TOO_LONG;
	f->l4_off = (uint16_t)l4;
	memcpy(&f->sport, p + l4, 2);
	memcpy(&f->key.port, p + l4 + 2, 2);
	if (f->sport == 0 || f->key.port == 0)
		return CNM_DROP_PORT_ZERO;
	if (proto == IPPROTO_TCP) {
		uint32_t doff = (uint32_t)(p[l4 + 12] >> 4) * 4;
		uint8_t fl = p[l4 + 13];

		if (doff < 20 || l4 + doff > end)
			return CNM_DROP_TCP_DOFF;
		if ((fl & CNM_TCP_SYN) && (fl & (CNM_TCP_FIN | CNM_TCP_RST)))
			return CNM_DROP_TCP_FLAGS;
		f->tcp_flags = fl;
	}
	f->has_ports = 1;
	return CNM_DROP_NONE;
}

static enum cnm_drop
parse_ipv4(const uint8_t *p, uint32_t caplen, uint32_t wirelen, uint32_t off,
		struct cnm_flow *f)
{
	const uint8_t *ip = p + off;
	uint32_t ihl, tot;
	uint16_t fragw;

	if (off + 20 > caplen || off + 20 > wirelen)
		return CNM_DROP_IPV4_TRUNCATED;
	if ((ip[0] >> 4) != 4)
		return CNM_DROP_IPV4_VERSION;
	ihl = (uint32_t)(ip[0] & 0xf) * 4;
	if (ihl < 20)
		return CNM_DROP_IPV4_IHL;
	if (off + ihl > caplen || off + ihl > wirelen)
		return CNM_DROP_IPV4_IHL_BEYOND;
	tot = cnm_ld16be(ip + 2);
	if (off + tot > wirelen)
		return CNM_DROP_IPV4_TOTLEN_BEYOND;
	if (tot < ihl)
		return CNM_DROP_IPV4_TOTLEN_BELOW;
	if (cnm_martian4(ip + 12))
		return CNM_DROP_MARTIAN_SRC;

	f->key.family = AF_INET;
	f->key.proto = ip[9];
	memcpy(f->key.addr, ip + 16, 4);
	memcpy(f->src, ip + 12, 4);
	f->l3_off = (uint16_t)off;
	f->l3_len = tot;

	fragw = cnm_ld16be(ip + 6);
	f->frag_id = cnm_ld16be(ip + 4);
	if (fragw & 0x1fff) {
		f->frag = CNM_FRAG_LATER; /* no L4 header */
		return CNM_DROP_NONE;
	}
	if (fragw & 0x2000)
		f->frag = CNM_FRAG_FIRST;
	return parse_l4(p, caplen, off + ihl, off + tot, f);
}

static enum cnm_drop
parse_ipv6(const uint8_t *p, uint32_t caplen, uint32_t wirelen, uint32_t off,
		struct cnm_flow *f)
{
	const uint8_t *ip = p + off;
	uint32_t end, l4, n;
	uint8_t nh;

	if (off + 40 > caplen || off + 40 > wirelen)
		return CNM_DROP_IPV6_TRUNCATED;
	if ((ip[0] >> 4) != 6)
		return CNM_DROP_IPV6_VERSION;
	end = off + 40 + cnm_ld16be(ip + 4);
	if (end > wirelen)
		return CNM_DROP_IPV6_PAYLEN;
	if (martian6(ip + 8))
		return CNM_DROP_MARTIAN_SRC;

	f->key.family = AF_INET6;
	memcpy(f->key.addr, ip + 24, 16);
	memcpy(f->src, ip + 8, 16);
	f->l3_off = (uint16_t)off;
	f->l3_len = end - off;

	nh = ip[6];
	l4 = off + 40;
	for (n = 0;; n++) {
		if (!ext6(nh))
			break;
		if (n == IPV6_EXT_MAX || l4 + 8 > end)
			return CNM_DROP_IPV6_EXT;
		if (l4 + 8 > caplen)
			return CNM_DROP_HEADERS_TOO_LONG;
		if (nh == IPPROTO_FRAGMENT) {
			uint16_t fo = cnm_ld16be(p + l4 + 2);

			f->frag_id = ((uint32_t)cnm_ld16be(p + l4 + 4) << 16) | cnm_ld16be(p + l4 + 6);
			if (fo & 0xfff8) {
				f->key.proto = p[l4];
				f->frag = CNM_FRAG_LATER;
				return CNM_DROP_NONE;
			}
			if (fo & 1)
				f->frag = CNM_FRAG_FIRST;
			nh = p[l4];
			l4 += 8;
		} else {
			uint32_t len = ((uint32_t)p[l4 + 1] + 1) * 8;

			nh = p[l4];
			l4 += len;
		}
		if (l4 > end)
			return CNM_DROP_IPV6_EXT;
	}
	f->key.proto = nh;
	return parse_l4(p, caplen, l4, end, f);
}

/* The fast path of cnm_parse_fast4(), into a flow (a dropped frame's flow is
 * not read). */
static inline int
parse_fast(const uint8_t *p, uint32_t caplen, uint32_t wirelen, struct cnm_flow *f)
{
	struct cnm_fast4 r;
	int v = cnm_parse_fast4(p, caplen, wirelen, &r);

	if (v != CNM_DROP_NONE)
		return v;
	f->key.family = AF_INET;
	f->key.proto = r.proto;
	f->key.port = r.dport;
	memcpy(f->key.addr, &r.dst, 4);
	memcpy(f->src, &r.src, 4);
	f->sport = r.sport;
	f->l3_off = ETH_HLEN;
	f->l3_len = r.tot;
	f->l4_off = ETH_HLEN + 20;
	f->frag_id = r.id;
	f->tcp_flags = r.tcp_flags;
	f->has_ports = 1;
	return CNM_DROP_NONE;
}

static enum cnm_drop
parse_slow(const uint8_t *p, uint32_t caplen, uint32_t wirelen, struct cnm_flow *f)
{
	uint32_t off = 12;
	uint16_t et;

	if (caplen < ETH_HLEN)
		return CNM_DROP_RUNT;
	et = cnm_ld16be(p + off);
	while (et == ET_VLAN || et == ET_QINQ) {
		if (f->n_vlan == VLAN_MAX)
			return CNM_DROP_VLAN_DEPTH;
		off += 4;
		if (off + 2 > caplen)
			return CNM_DROP_RUNT;
		f->n_vlan++;
		et = cnm_ld16be(p + off);
	}
	off += 2;
	switch (et) {
	case ET_IPV4:
		return parse_ipv4(p, caplen, wirelen, off, f);
	case ET_IPV6:
		return parse_ipv6(p, caplen, wirelen, off, f);
	case ET_ARP: {
		struct cnm_arp a;

		f->kind = CNM_PKT_ARP;
		f->l3_off = (uint16_t)off;
		/* what the decision needs: a request for which address */
		if (cnm_arp_parse(p, caplen, off, &a) == 0) {
			f->arp_op = (uint8_t)a.op;
			f->arp_sha_group = a.sha[0] & 1;
			f->key.family = AF_INET;
			memcpy(f->key.addr, a.tpa, 4);
		}
		return CNM_DROP_NONE;
	}
	default:
		return CNM_DROP_ETHERTYPE;
	}
}

enum cnm_drop
cnm_parse(const uint8_t *p, uint32_t caplen, uint32_t wirelen, struct cnm_flow *f)
{
	enum cnm_drop r;
	int fast;

	memset(f, 0, sizeof(*f));
	if (caplen > wirelen)
		caplen = wirelen;
	fast = parse_fast(p, caplen, wirelen, f);
	if (likely(fast >= 0))
		return (enum cnm_drop)fast;
	memset(f, 0, sizeof(*f));
	r = parse_slow(p, caplen, wirelen, f);
	f->rare = f->kind != CNM_PKT_IP || f->frag != CNM_FRAG_NONE || f->icmp_type != 0;
	return r;
}
