/* SPDX-License-Identifier: BSD-3-Clause */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "cnm_csum.h"
#include "cnm_probe.h"

#define ETH_LEN 14
#define IP4_LEN 20
#define IP6_LEN 40
#define ECHO_LEN 16     /* ICMP header (8) and 8 bytes of payload */
#define TCP_LEN 20

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* The pseudo-header's sum (RFC 793, RFC 8200 8.1) of an upper-layer packet. */
static uint32_t
pseudo(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto, uint32_t len)
{
	uint32_t alen = family == AF_INET ? 4 : 16;
	uint32_t sum = cnm_csum_add(src, alen, 0);

	sum = cnm_csum_add(dst, alen, sum);
	return sum + proto + len;
}

/* Ethernet and IP headers for @p l4len bytes of protocol @p proto; the offset of L4. */
static uint32_t
put_ip(uint8_t *f, const struct cnm_probe_addr *a, uint8_t proto, uint32_t l4len)
{
	memcpy(f, a->dmac, 6);
	memcpy(f + 6, a->smac, 6);
	if (a->family == AF_INET) {
		uint8_t *ip = f + ETH_LEN;

		put16(f + 12, 0x0800);
		memset(ip, 0, IP4_LEN);
		ip[0] = 0x45;
		put16(ip + 2, (uint16_t)(IP4_LEN + l4len));
		ip[6] = 0x40; /* DF */
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, a->src, 4);
		memcpy(ip + 16, a->dst, 4);
		put16(ip + 10, cnm_csum_fold(cnm_csum_add(ip, IP4_LEN, 0)));
		return ETH_LEN + IP4_LEN;
	}
	put16(f + 12, 0x86dd);
	memset(f + ETH_LEN, 0, 8);
	f[ETH_LEN] = 0x60;
	put16(f + ETH_LEN + 4, (uint16_t)l4len);
	f[ETH_LEN + 6] = proto == IPPROTO_ICMP ? IPPROTO_ICMPV6 : proto;
	f[ETH_LEN + 7] = 64;
	memcpy(f + ETH_LEN + 8, a->src, 16);
	memcpy(f + ETH_LEN + 24, a->dst, 16);
	return ETH_LEN + IP6_LEN;
}

uint32_t
cnm_probe_make_echo(uint8_t *frame, const struct cnm_probe_addr *a, uint16_t id, uint16_t seq)
{
	uint32_t l4 = put_ip(frame, a, IPPROTO_ICMP, ECHO_LEN);
	uint8_t *ic = frame + l4;
	uint32_t sum = 0;

	memset(ic, 0, ECHO_LEN);
	ic[0] = a->family == AF_INET ? 8 : 128;
	put16(ic + 4, id);
	put16(ic + 6, seq);
	memcpy(ic + 8, "cnmuxhc", 8); /* with its NUL: 8 bytes */
	if (a->family == AF_INET6)
		sum = pseudo(AF_INET6, a->src, a->dst, IPPROTO_ICMPV6, ECHO_LEN);
	put16(ic + 2, cnm_csum_fold(cnm_csum_add(ic, ECHO_LEN, sum)));
	return l4 + ECHO_LEN;
}

uint32_t
cnm_probe_make_tcp(uint8_t *frame, const struct cnm_probe_addr *a, uint16_t sport, uint16_t dport,
		uint32_t seq, uint32_t ack, uint8_t flags, const void *data, uint32_t dlen)
{
	uint32_t l4, n = dlen < CNM_PROBE_DATA_MAX ? dlen : CNM_PROBE_DATA_MAX;
	uint8_t *t;

	l4 = put_ip(frame, a, IPPROTO_TCP, TCP_LEN + n);
	t = frame + l4;
	if (n > 0)
		memcpy(t + TCP_LEN, data, n);

	memset(t, 0, TCP_LEN);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (TCP_LEN / 4) << 4;
	t[13] = flags;
	put16(t + 14, (flags & CNM_TCP_RST) ? 0 : 64240);
	put16(t + 16, cnm_csum_fold(cnm_csum_add(t, TCP_LEN + n,
		pseudo(a->family, a->src, a->dst, IPPROTO_TCP, TCP_LEN + n))));
	return l4 + TCP_LEN + n;
}

int
cnm_probe_http_status(const uint8_t *p, uint32_t len)
{
	/* "HTTP/" DIGIT "." DIGIT SP 3DIGIT (RFC 9112 4) */
	if (len < 12 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' || p[5] > '9' ||
			p[6] != '.' || p[7] < '0' || p[7] > '9' || p[8] != ' ' ||
			p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
			p[11] < '0' || p[11] > '9')
		return -1;
	return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}

int
cnm_probe_parse(const uint8_t *f, uint32_t len, struct cnm_probe_reply *r)
{
	const uint8_t *l4;
	uint32_t l4len;
	uint8_t proto;

	memset(r, 0, sizeof(*r));
	if (len < ETH_LEN + IP4_LEN)
		return CNM_PROBE_OTHER;
	if (get16(f + 12) == 0x0800) {
		const uint8_t *ip = f + ETH_LEN;
		uint32_t hl = (uint32_t)(ip[0] & 0xf) * 4, tot = get16(ip + 2);

		if ((ip[0] >> 4) != 4 || hl < IP4_LEN || (ip[9] != IPPROTO_ICMP && ip[9] != IPPROTO_TCP))
			return CNM_PROBE_OTHER;
		if ((get16(ip + 6) & 0x3fff) != 0)
			return CNM_PROBE_OTHER; /* a fragment: never a probe's answer */
		r->family = AF_INET;
		memcpy(r->src, ip + 12, 4);
		memcpy(r->dst, ip + 16, 4);
		proto = ip[9];
		if (ip[9] == IPPROTO_ICMP && (len < ETH_LEN + hl + 1 || ip[hl] != 0))
			return CNM_PROBE_OTHER; /* ICMP, not an echo reply */
		if (tot < hl || ETH_LEN + tot > len || cnm_csum_fold(cnm_csum_add(ip, hl, 0)) != 0)
			return CNM_PROBE_INVALID;
		l4 = ip + hl;
		l4len = tot - hl;
	} else if (get16(f + 12) == 0x86dd) {
		const uint8_t *ip = f + ETH_LEN;

		if (len < ETH_LEN + IP6_LEN || (ip[0] >> 4) != 6 ||
				(ip[6] != IPPROTO_ICMPV6 && ip[6] != IPPROTO_TCP))
			return CNM_PROBE_OTHER;
		r->family = AF_INET6;
		memcpy(r->src, ip + 8, 16);
		memcpy(r->dst, ip + 24, 16);
		proto = ip[6] == IPPROTO_ICMPV6 ? IPPROTO_ICMP : IPPROTO_TCP;
		if (proto == IPPROTO_ICMP && (len < ETH_LEN + IP6_LEN + 1 || ip[IP6_LEN] != 129))
			return CNM_PROBE_OTHER; /* ND and the rest: not an echo reply */
		l4 = ip + IP6_LEN;
		l4len = get16(ip + 4);
		if (ETH_LEN + IP6_LEN + l4len > len)
			return CNM_PROBE_INVALID;
	} else {
		return CNM_PROBE_OTHER;
	}
	if (proto == IPPROTO_ICMP) {
		uint32_t sum = r->family == AF_INET6 ?
			pseudo(AF_INET6, r->src, r->dst, IPPROTO_ICMPV6, l4len) : 0;

		if (l4len < 8 || l4[1] != 0 || cnm_csum_fold(cnm_csum_add(l4, l4len, sum)) != 0)
			return CNM_PROBE_INVALID;
		r->id = get16(l4 + 4);
		r->seq = get16(l4 + 6);
		return CNM_PROBE_ECHO_REPLY;
	}
	if (l4len < TCP_LEN || (uint32_t)(l4[12] >> 4) * 4 < TCP_LEN ||
			(uint32_t)(l4[12] >> 4) * 4 > l4len ||
			cnm_csum_fold(cnm_csum_add(l4, l4len, pseudo(r->family, r->src, r->dst, IPPROTO_TCP,
				l4len))) != 0)
		return CNM_PROBE_INVALID;
	r->sport = get16(l4);
	r->dport = get16(l4 + 2);
	r->tseq = get32(l4 + 4);
	r->tack = get32(l4 + 8);
	r->flags = l4[13];
	r->doff = (uint16_t)(l4 - f + (uint32_t)(l4[12] >> 4) * 4);
	r->dlen = (uint16_t)(l4len - (uint32_t)(l4[12] >> 4) * 4);
	return CNM_PROBE_TCP;
}
