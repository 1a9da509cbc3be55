/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the packet parser (lib/parse). Pure: no EAL.
 *
 * Frames are assembled by hand: eth() writes the Ethernet header and its VLAN
 * tags, ipv4()/ipv6()/ext6() the IP layer, tcp()/udp()/payload() what follows,
 * and finish() fills in the IP length fields from the bytes written. A test
 * then patches the byte it is about and checks the verdict.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "cnm_parse.h"

#define PKT_MAX 2048
#define DIM(a) (sizeof(a) / sizeof((a)[0]))

#define ET_IPV4 0x0800
#define ET_IPV6 0x86dd
#define ET_ARP 0x0806
#define ET_VLAN 0x8100
#define ET_QINQ 0x88a8

#define CLIENT4 "192.0.2.1"
#define VIP4 "198.51.100.10"
#define CLIENT6 "2001:db8::1"
#define VIP6 "2001:db8::10"

/* A frame being assembled. */
struct pkt {
	uint8_t b[PKT_MAX];
	uint32_t len;
	uint32_t l3;  /* offset of the IP header */
	uint32_t l4;  /* offset of the TCP/UDP header */
	int v6;       /* the IP header is IPv6 */
};

static uint8_t *
put(struct pkt *p, uint32_t n)
{
	uint8_t *q;

	assert_true(p->len + n <= PKT_MAX);
	q = p->b + p->len;
	memset(q, 0, n);
	p->len += n;
	return q;
}

static void
wr16(uint8_t *q, uint16_t v)
{
	q[0] = (uint8_t)(v >> 8);
	q[1] = (uint8_t)v;
}

static uint16_t
rd16(const uint8_t *q)
{
	return (uint16_t)((q[0] << 8) | q[1]);
}

/* Ethernet header with @p n VLAN tags of TPIDs @p tpid, then @p et. */
static void
eth_tags(struct pkt *p, const uint16_t *tpid, unsigned int n, uint16_t et)
{
	static const uint8_t dst[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	unsigned int i;
	uint8_t *q;

	memset(p, 0, sizeof(*p));
	q = put(p, 12);
	memcpy(q, dst, 6);
	memcpy(q + 6, src, 6);
	for (i = 0; i < n; i++) {
		q = put(p, 4);
		wr16(q, tpid[i]);
		wr16(q + 2, (uint16_t)(100 + i)); /* VLAN id */
	}
	wr16(put(p, 2), et);
}

static void
eth(struct pkt *p, uint16_t et)
{
	eth_tags(p, NULL, 0, et);
}

static void
addr4(uint8_t *q, const char *s)
{
	assert_int_equal(inet_pton(AF_INET, s, q), 1);
}

static void
addr6(uint8_t *q, const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, q), 1);
}

/* IPv4 header of @p ihl 32-bit words (options are NOPs). */
static void
ipv4_ihl(struct pkt *p, uint8_t proto, const char *src, const char *dst, unsigned int ihl)
{
	uint8_t *q;

	p->l3 = p->len;
	p->v6 = 0;
	q = put(p, ihl * 4);
	q[0] = (uint8_t)(0x40 | ihl);
	q[8] = 64; /* TTL */
	q[9] = proto;
	addr4(q + 12, src);
	addr4(q + 16, dst);
	memset(q + 20, 0x01, ihl * 4 - 20); /* NOP options */
}

static void
ipv4(struct pkt *p, uint8_t proto, const char *src, const char *dst)
{
	ipv4_ihl(p, proto, src, dst, 5);
}

static void
ipv6(struct pkt *p, uint8_t nh, const char *src, const char *dst)
{
	uint8_t *q;

	p->l3 = p->len;
	p->v6 = 1;
	q = put(p, 40);
	q[0] = 0x60;
	q[6] = nh;
	q[7] = 64; /* hop limit */
	addr6(q + 8, src);
	addr6(q + 24, dst);
}

/* IPv6 extension header (not a fragment header) of (@p hlen + 1) * 8 bytes. */
static void
ext6(struct pkt *p, uint8_t nh, uint8_t hlen)
{
	uint8_t *q = put(p, ((uint32_t)hlen + 1) * 8);

	q[0] = nh;
	q[1] = hlen;
	q[2] = 0x01; /* PadN option over the rest */
	q[3] = (uint8_t)(((uint32_t)hlen + 1) * 8 - 4);
}

/* IPv6 fragment header: offset in 8-byte units, M flag. */
static void
frag6(struct pkt *p, uint8_t nh, uint16_t off8, int more)
{
	uint8_t *q = put(p, 8);

	q[0] = nh;
	wr16(q + 2, (uint16_t)((off8 << 3) | (more ? 1 : 0)));
	q[7] = 0x42; /* identification */
}

/* TCP header of @p doff 32-bit words (options are NOPs). */
static void
tcp_doff(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags, unsigned int doff)
{
	uint8_t *q;

	p->l4 = p->len;
	q = put(p, doff * 4);
	wr16(q, sport);
	wr16(q + 2, dport);
	q[12] = (uint8_t)(doff << 4);
	q[13] = flags;
	wr16(q + 14, 65535); /* window */
	memset(q + 20, 0x01, doff * 4 - 20);
}

static void
tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags)
{
	tcp_doff(p, sport, dport, flags, 5);
}

static void
udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	uint8_t *q;

	p->l4 = p->len;
	q = put(p, 8);
	wr16(q, sport);
	wr16(q + 2, dport);
}

static void
payload(struct pkt *p, uint32_t n)
{
	uint8_t *q = put(p, n);
	uint32_t i;

	for (i = 0; i < n; i++)
		q[i] = (uint8_t)(0xa5 ^ i);
}

/* Fill in the IP length field (and UDP length) from what was written. */
static void
finish(struct pkt *p)
{
	if (p->v6)
		wr16(p->b + p->l3 + 4, (uint16_t)(p->len - p->l3 - 40));
	else
		wr16(p->b + p->l3 + 2, (uint16_t)(p->len - p->l3));
	if (p->l4 != 0 && p->b[p->l3 + (p->v6 ? 6 : 9)] == IPPROTO_UDP)
		wr16(p->b + p->l4 + 4, (uint16_t)(p->len - p->l4));
}

static enum cnm_drop
parse(const struct pkt *p, struct cnm_flow *f)
{
	return cnm_parse(p->b, p->len, p->len, f);
}

/* The verdict alone. */
static enum cnm_drop
verdict(const struct pkt *p)
{
	struct cnm_flow f;

	return parse(p, &f);
}

/* A valid IPv4 TCP frame: 192.0.2.1:40000 -> 198.51.100.10:80, 10 bytes of data. */
static void
mk_tcp4(struct pkt *p, uint8_t flags)
{
	eth(p, ET_IPV4);
	ipv4(p, IPPROTO_TCP, CLIENT4, VIP4);
	tcp(p, 40000, 80, flags);
	payload(p, 10);
	finish(p);
}

static void
mk_udp4(struct pkt *p)
{
	eth(p, ET_IPV4);
	ipv4(p, IPPROTO_UDP, CLIENT4, VIP4);
	udp(p, 5353, 53);
	payload(p, 12);
	finish(p);
}

static void
mk_tcp6(struct pkt *p, uint8_t flags)
{
	eth(p, ET_IPV6);
	ipv6(p, IPPROTO_TCP, CLIENT6, VIP6);
	tcp(p, 40000, 443, flags);
	payload(p, 10);
	finish(p);
}

static void
assert_addr4(const uint8_t *a, const char *s)
{
	uint8_t want[16] = { 0 };

	addr4(want, s);
	assert_memory_equal(a, want, 16);
}

static void
assert_addr6(const uint8_t *a, const char *s)
{
	uint8_t want[16];

	addr6(want, s);
	assert_memory_equal(a, want, 16);
}

/* ---- Ethernet, VLAN, ARP ---- */

static void
test_ipv4_tcp(void **state)
{
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	mk_tcp4(&p, CNM_TCP_SYN);
	memset(&f, 0xee, sizeof(f));
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.kind, CNM_PKT_IP);
	assert_int_equal(f.key.family, AF_INET);
	assert_int_equal(f.key.proto, IPPROTO_TCP);
	assert_addr4(f.key.addr, VIP4);
	assert_int_equal(f.key.port, htons(80));
	assert_addr4(f.src, CLIENT4);
	assert_int_equal(f.sport, htons(40000));
	assert_int_equal(f.l3_off, 14);
	assert_int_equal(f.l3_len, 20 + 20 + 10);
	assert_int_equal(f.l4_off, 34);
	assert_int_equal(f.has_ports, 1);
	assert_int_equal(f.tcp_flags, CNM_TCP_SYN);
	assert_int_equal(f.n_vlan, 0);
	assert_int_equal(f.frag, 0);

	mk_tcp4(&p, CNM_TCP_ACK | CNM_TCP_FIN);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.tcp_flags, CNM_TCP_ACK | CNM_TCP_FIN);
}

static void
test_ipv4_udp(void **state)
{
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	mk_udp4(&p);
	memset(&f, 0xee, sizeof(f));
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.kind, CNM_PKT_IP);
	assert_int_equal(f.key.family, AF_INET);
	assert_int_equal(f.key.proto, IPPROTO_UDP);
	assert_addr4(f.key.addr, VIP4);
	assert_int_equal(f.key.port, htons(53));
	assert_addr4(f.src, CLIENT4);
	assert_int_equal(f.sport, htons(5353));
	assert_int_equal(f.l3_off, 14);
	assert_int_equal(f.l3_len, 20 + 8 + 12);
	assert_int_equal(f.l4_off, 34);
	assert_int_equal(f.has_ports, 1);
	assert_int_equal(f.tcp_flags, 0);
	assert_int_equal(f.n_vlan, 0);
	assert_int_equal(f.frag, 0);
}

static void
test_vlan_one(void **state)
{
	static const uint16_t tags[1] = { ET_VLAN };
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	eth_tags(&p, tags, 1, ET_IPV4);
	ipv4(&p, IPPROTO_TCP, CLIENT4, VIP4);
	tcp(&p, 40000, 80, CNM_TCP_SYN);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.n_vlan, 1);
	assert_int_equal(f.l3_off, 18);
	assert_int_equal(f.l4_off, 38);
	assert_int_equal(f.l3_len, 40);
	assert_int_equal(f.key.port, htons(80));
	assert_int_equal(f.sport, htons(40000));
}

static void
test_vlan_two(void **state)
{
	static const uint16_t qinq[2] = { ET_QINQ, ET_VLAN };
	static const uint16_t dot1q[2] = { ET_VLAN, ET_VLAN };
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	eth_tags(&p, qinq, 2, ET_IPV6);
	ipv6(&p, IPPROTO_UDP, CLIENT6, VIP6);
	udp(&p, 1234, 53);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.n_vlan, 2);
	assert_int_equal(f.l3_off, 22);
	assert_int_equal(f.l4_off, 62);
	assert_int_equal(f.key.family, AF_INET6);
	assert_int_equal(f.key.port, htons(53));

	eth_tags(&p, dot1q, 2, ET_IPV4);
	ipv4(&p, IPPROTO_UDP, CLIENT4, VIP4);
	udp(&p, 1234, 53);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.n_vlan, 2);
	assert_int_equal(f.l3_off, 22);
	assert_int_equal(f.l4_off, 42);
}

static void
test_vlan_three(void **state)
{
	static const uint16_t tags[3] = { ET_QINQ, ET_VLAN, ET_VLAN };
	struct pkt p;

	(void)state;
	eth_tags(&p, tags, 3, ET_IPV4);
	ipv4(&p, IPPROTO_TCP, CLIENT4, VIP4);
	tcp(&p, 40000, 80, CNM_TCP_SYN);
	finish(&p);
	assert_int_equal(verdict(&p), CNM_DROP_VLAN_DEPTH);
}

static void
test_vlan_cut(void **state)
{
	static const uint16_t tags[1] = { ET_VLAN };
	struct pkt p;

	(void)state;
	/* a VLAN TPID, then the frame ends inside the tag */
	eth_tags(&p, tags, 1, ET_IPV4);
	p.len = 16;
	assert_int_equal(verdict(&p), CNM_DROP_RUNT);
	p.len = 17;
	assert_int_equal(verdict(&p), CNM_DROP_RUNT);
	/* the inner ethertype is there, the IP header is not */
	p.len = 18;
	assert_int_equal(verdict(&p), CNM_DROP_IPV4_TRUNCATED);
}

static void
test_arp(void **state)
{
	static const uint16_t tags[1] = { ET_VLAN };
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	eth(&p, ET_ARP);
	payload(&p, 28);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.kind, CNM_PKT_ARP);
	assert_int_equal(f.l3_off, 14);
	assert_int_equal(f.has_ports, 0);

	eth_tags(&p, tags, 1, ET_ARP);
	payload(&p, 28);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.kind, CNM_PKT_ARP);
	assert_int_equal(f.n_vlan, 1);
	assert_int_equal(f.l3_off, 18);
}

static void
test_ethertype_unknown(void **state)
{
	static const uint16_t ets[] = { 0x88cc /* LLDP */, 0x8847 /* MPLS */,
					0x0000, 0xffff, 0x86de, 0x0801 };
	unsigned int i;
	struct pkt p;

	(void)state;
	for (i = 0; i < DIM(ets); i++) {
		eth(&p, ets[i]);
		payload(&p, 46);
		assert_int_equal(verdict(&p), CNM_DROP_ETHERTYPE);
	}
}

static void
test_runt(void **state)
{
	struct cnm_flow f;
	struct pkt p;
	uint32_t n;

	(void)state;
	mk_tcp4(&p, CNM_TCP_SYN);
	for (n = 0; n < 14; n++)
		assert_int_equal(cnm_parse(p.b, n, n, &f), CNM_DROP_RUNT);
	/* the wire length counts too: caplen is clamped to it */
	assert_int_equal(cnm_parse(p.b, p.len, 13, &f), CNM_DROP_RUNT);
	/* 14 bytes: an ethertype and nothing behind it */
	assert_int_equal(cnm_parse(p.b, 14, 14, &f), CNM_DROP_IPV4_TRUNCATED);
}

/* ---- IPv4 ---- */

static void
test_ipv4_truncated(void **state)
{
	struct pkt p;

	(void)state;
	mk_tcp4(&p, CNM_TCP_SYN);
	p.len = 14 + 19;
	assert_int_equal(verdict(&p), CNM_DROP_IPV4_TRUNCATED);
	p.len = 14 + 20; /* the header is whole, the total length is past it */
	assert_int_equal(verdict(&p), CNM_DROP_IPV4_TOTLEN_BEYOND);
}

static void
test_ipv4_version(void **state)
{
	static const uint8_t bad[] = { 0x05, 0x55, 0x65, 0xf5 };
	unsigned int i;
	struct pkt p;

	(void)state;
	for (i = 0; i < sizeof(bad); i++) {
		mk_tcp4(&p, CNM_TCP_SYN);
		p.b[14] = bad[i];
		assert_int_equal(verdict(&p), CNM_DROP_IPV4_VERSION);
	}
}

static void
test_ipv4_ihl_below(void **state)
{
	uint8_t ihl;
	struct pkt p;

	(void)state;
	for (ihl = 0; ihl < 5; ihl++) {
		mk_tcp4(&p, CNM_TCP_SYN);
		p.b[14] = (uint8_t)(0x40 | ihl);
		assert_int_equal(verdict(&p), CNM_DROP_IPV4_IHL);
	}
}

static void
test_ipv4_ihl_beyond(void **state)
{
	struct pkt p;

	(void)state;
	/* 20-byte header, 8 bytes of UDP: IHL 15 asks for 60 bytes of header */
	eth(&p, ET_IPV4);
	ipv4(&p, IPPROTO_UDP, CLIENT4, VIP4);
	udp(&p, 1234, 53);
	finish(&p);
	p.b[14] = 0x4f;
	assert_int_equal(verdict(&p), CNM_DROP_IPV4_IHL_BEYOND);
	/* IHL 7 (28 bytes): exactly the frame, so not beyond, but then no UDP */
	p.b[14] = 0x47;
	assert_int_equal(verdict(&p), CNM_DROP_L4_TRUNCATED);
	/* IHL 8 (32 bytes): 4 past the frame */
	p.b[14] = 0x48;
	assert_int_equal(verdict(&p), CNM_DROP_IPV4_IHL_BEYOND);
}

static void
test_ipv4_totlen_beyond(void **state)
{
	struct pkt p;

	(void)state;
	mk_tcp4(&p, CNM_TCP_SYN);
	wr16(p.b + 16, (uint16_t)(rd16(p.b + 16) + 1));
	assert_int_equal(verdict(&p), CNM_DROP_IPV4_TOTLEN_BEYOND);
	wr16(p.b + 16, 0xffff);
	assert_int_equal(verdict(&p), CNM_DROP_IPV4_TOTLEN_BEYOND);
}

static void
test_ipv4_totlen_below(void **state)
{
	struct pkt p;

	(void)state;
	mk_tcp4(&p, CNM_TCP_SYN);
	wr16(p.b + 16, 19);
	assert_int_equal(verdict(&p), CNM_DROP_IPV4_TOTLEN_BELOW);
	wr16(p.b + 16, 0);
	assert_int_equal(verdict(&p), CNM_DROP_IPV4_TOTLEN_BELOW);

	/* with options: IHL 6 (24 bytes), total length 22 */
	eth(&p, ET_IPV4);
	ipv4_ihl(&p, IPPROTO_TCP, CLIENT4, VIP4, 6);
	tcp(&p, 40000, 80, CNM_TCP_SYN);
	finish(&p);
	wr16(p.b + 16, 22);
	assert_int_equal(verdict(&p), CNM_DROP_IPV4_TOTLEN_BELOW);
	/* exactly the header: no room for TCP */
	wr16(p.b + 16, 24);
	assert_int_equal(verdict(&p), CNM_DROP_L4_TRUNCATED);
}

static void
test_ipv4_padding(void **state)
{
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	/* 14 + 20 + 8 + 4 = 46 bytes, padded to the 60-byte minimum frame */
	eth(&p, ET_IPV4);
	ipv4(&p, IPPROTO_UDP, CLIENT4, VIP4);
	udp(&p, 1234, 53);
	payload(&p, 4);
	finish(&p);
	payload(&p, 60 - p.len);
	assert_int_equal(p.len, 60);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.l3_len, 32);
	assert_int_equal(f.key.port, htons(53));

	/* a bare TCP ACK padded the same way */
	eth(&p, ET_IPV4);
	ipv4(&p, IPPROTO_TCP, CLIENT4, VIP4);
	tcp(&p, 40000, 80, CNM_TCP_ACK);
	finish(&p);
	payload(&p, 6);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.l3_len, 40);
	assert_int_equal(f.tcp_flags, CNM_TCP_ACK);
}

static void
test_ipv4_options(void **state)
{
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	eth(&p, ET_IPV4);
	ipv4_ihl(&p, IPPROTO_TCP, CLIENT4, VIP4, 6);
	tcp(&p, 40000, 8080, CNM_TCP_SYN);
	finish(&p);
	/* the option bytes are not ports: NOPs would read as 0x0101 */
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.l4_off, 14 + 24);
	assert_int_equal(f.l3_len, 24 + 20);
	assert_int_equal(f.sport, htons(40000));
	assert_int_equal(f.key.port, htons(8080));
	assert_int_equal(f.tcp_flags, CNM_TCP_SYN);

	/* the largest header: IHL 15, 40 bytes of options */
	eth(&p, ET_IPV4);
	ipv4_ihl(&p, IPPROTO_UDP, CLIENT4, VIP4, 15);
	udp(&p, 1234, 53);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.l4_off, 14 + 60);
	assert_int_equal(f.key.port, htons(53));
}

static void
test_ipv4_martian(void **state)
{
	static const char *const martian[] = {
		"0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.254",
		"224.0.0.1", "239.255.255.255", "240.0.0.1", "255.255.255.255",
	};
	static const char *const fine[] = {
		"1.0.0.1", "126.255.255.255", "128.0.0.1", "223.255.255.255",
		"10.0.0.1", "192.0.2.200",
	};
	struct cnm_flow f;
	unsigned int i;
	struct pkt p;

	(void)state;
	for (i = 0; i < DIM(martian); i++) {
		eth(&p, ET_IPV4);
		ipv4(&p, IPPROTO_TCP, martian[i], VIP4);
		tcp(&p, 40000, 80, CNM_TCP_SYN);
		finish(&p);
		if (verdict(&p) != CNM_DROP_MARTIAN_SRC)
			fail_msg("source %s not dropped as martian", martian[i]);
	}
	for (i = 0; i < DIM(fine); i++) {
		eth(&p, ET_IPV4);
		ipv4(&p, IPPROTO_TCP, fine[i], VIP4);
		tcp(&p, 40000, 80, CNM_TCP_SYN);
		finish(&p);
		if (parse(&p, &f) != CNM_DROP_NONE)
			fail_msg("source %s dropped", fine[i]);
		assert_addr4(f.src, fine[i]);
	}
}

static void
test_ipv4_fragment(void **state)
{
	static const uint16_t nonfirst[] = { 0x0001, 0x2001, 0x1fff, 0x3fff, 0x4001 };
	struct cnm_flow f;
	unsigned int i;
	struct pkt p;

	(void)state;
	for (i = 0; i < DIM(nonfirst); i++) {
		/* a later fragment parses without ports: its first fragment places it */
		mk_tcp4(&p, CNM_TCP_ACK);
		wr16(p.b + 14 + 4, 0xbeef);
		wr16(p.b + 14 + 6, nonfirst[i]);
		assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
		assert_int_equal(f.frag, CNM_FRAG_LATER);
		assert_int_equal(f.has_ports, 0);
		assert_int_equal(f.key.port, 0);
		assert_int_equal(f.key.proto, IPPROTO_TCP);
		assert_int_equal(f.frag_id, 0xbeef);
	}
	/* first fragment: MF set, offset 0 */
	mk_tcp4(&p, CNM_TCP_ACK);
	wr16(p.b + 14 + 6, 0x2000);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.frag, CNM_FRAG_FIRST);
	assert_int_equal(f.has_ports, 1);
	assert_int_equal(f.key.port, htons(80));
	/* DF alone is no fragment */
	wr16(p.b + 14 + 6, 0x4000);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.frag, 0);
}

static void
test_ipv4_icmp(void **state)
{
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	eth(&p, ET_IPV4);
	ipv4(&p, IPPROTO_ICMP, CLIENT4, VIP4);
	payload(&p, 8); /* echo request */
	p.b[34] = 8;
	finish(&p);
	memset(&f, 0xee, sizeof(f));
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.kind, CNM_PKT_IP);
	assert_int_equal(f.key.proto, IPPROTO_ICMP);
	assert_int_equal(f.key.family, AF_INET);
	assert_addr4(f.key.addr, VIP4);
	assert_addr4(f.src, CLIENT4);
	assert_int_equal(f.has_ports, 0);
	assert_int_equal(f.key.port, 0);
	assert_int_equal(f.sport, 0);
	assert_int_equal(f.l4_off, 34);
	assert_int_equal(f.icmp_type, 8);
	assert_int_equal(f.icmp_err, 0);
	assert_int_equal(f.tcp_flags, 0);
	assert_int_equal(f.l3_len, 28);

	/* an ICMP header cut short */
	eth(&p, ET_IPV4);
	ipv4(&p, IPPROTO_ICMP, CLIENT4, VIP4);
	payload(&p, 7);
	finish(&p);
	assert_int_equal(verdict(&p), CNM_DROP_L4_TRUNCATED);

	/* no payload at all is fine for a protocol without ports */
	eth(&p, ET_IPV4);
	ipv4(&p, 47 /* GRE */, CLIENT4, VIP4);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.key.proto, 47);
	assert_int_equal(f.has_ports, 0);
}

/* ---- IPv6 ---- */

static void
test_ipv6_tcp(void **state)
{
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	mk_tcp6(&p, CNM_TCP_SYN);
	memset(&f, 0xee, sizeof(f));
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.kind, CNM_PKT_IP);
	assert_int_equal(f.key.family, AF_INET6);
	assert_int_equal(f.key.proto, IPPROTO_TCP);
	assert_addr6(f.key.addr, VIP6);
	assert_int_equal(f.key.port, htons(443));
	assert_addr6(f.src, CLIENT6);
	assert_int_equal(f.sport, htons(40000));
	assert_int_equal(f.l3_off, 14);
	assert_int_equal(f.l3_len, 40 + 20 + 10);
	assert_int_equal(f.l4_off, 54);
	assert_int_equal(f.has_ports, 1);
	assert_int_equal(f.tcp_flags, CNM_TCP_SYN);
	assert_int_equal(f.n_vlan, 0);
	assert_int_equal(f.frag, 0);
}

static void
test_ipv6_truncated(void **state)
{
	struct pkt p;

	(void)state;
	mk_tcp6(&p, CNM_TCP_SYN);
	p.len = 14 + 39;
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_TRUNCATED);
	p.len = 14;
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_TRUNCATED);
}

static void
test_ipv6_version(void **state)
{
	struct pkt p;

	(void)state;
	mk_tcp6(&p, CNM_TCP_SYN);
	p.b[14] = 0x40;
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_VERSION);
	p.b[14] = 0x70;
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_VERSION);
}

static void
test_ipv6_paylen(void **state)
{
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	mk_tcp6(&p, CNM_TCP_SYN);
	wr16(p.b + 18, (uint16_t)(rd16(p.b + 18) + 1));
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_PAYLEN);
	wr16(p.b + 18, 0xffff);
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_PAYLEN);
	/* shorter than the frame (padding): fine, l3_len follows the header */
	mk_tcp6(&p, CNM_TCP_SYN);
	wr16(p.b + 18, 20);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.l3_len, 60);
}

static void
test_ipv6_martian(void **state)
{
	static const char *const martian[] = { "::", "::1", "ff02::1", "ff0e::1234" };
	unsigned int i;
	struct pkt p;

	(void)state;
	for (i = 0; i < DIM(martian); i++) {
		eth(&p, ET_IPV6);
		ipv6(&p, IPPROTO_TCP, martian[i], VIP6);
		tcp(&p, 40000, 80, CNM_TCP_SYN);
		finish(&p);
		if (verdict(&p) != CNM_DROP_MARTIAN_SRC)
			fail_msg("source %s not dropped as martian", martian[i]);
	}
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_TCP, "fe80::1", VIP6);
	tcp(&p, 40000, 80, CNM_TCP_SYN);
	finish(&p);
	assert_int_equal(verdict(&p), CNM_DROP_NONE);
}

static void
test_ipv6_ext(void **state)
{
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_HOPOPTS, CLIENT6, VIP6);
	ext6(&p, IPPROTO_DSTOPTS, 0);  /* 8 bytes */
	ext6(&p, IPPROTO_TCP, 1);      /* 16 bytes */
	tcp(&p, 40000, 443, CNM_TCP_SYN);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.key.proto, IPPROTO_TCP);
	assert_int_equal(f.l4_off, 14 + 40 + 8 + 16);
	assert_int_equal(f.l3_len, 40 + 8 + 16 + 20);
	assert_int_equal(f.sport, htons(40000));
	assert_int_equal(f.key.port, htons(443));
	assert_int_equal(f.has_ports, 1);
	assert_int_equal(f.frag, 0);

	/* a routing header then UDP */
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_ROUTING, CLIENT6, VIP6);
	ext6(&p, IPPROTO_UDP, 2); /* 24 bytes */
	udp(&p, 1234, 53);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.key.proto, IPPROTO_UDP);
	assert_int_equal(f.l4_off, 14 + 40 + 24);
	assert_int_equal(f.key.port, htons(53));

	/* ICMPv6 behind hop-by-hop: no ports */
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_HOPOPTS, CLIENT6, VIP6);
	ext6(&p, IPPROTO_ICMPV6, 0);
	payload(&p, 8);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.key.proto, IPPROTO_ICMPV6);
	assert_int_equal(f.has_ports, 0);
	assert_int_equal(f.l4_off, 14 + 40 + 8);
}

static void
test_ipv6_fragment(void **state)
{
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	/* first fragment: offset 0, M set */
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_FRAGMENT, CLIENT6, VIP6);
	frag6(&p, IPPROTO_TCP, 0, 1);
	tcp(&p, 40000, 443, CNM_TCP_ACK);
	payload(&p, 16);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.frag, 1);
	assert_int_equal(f.has_ports, 1);
	assert_int_equal(f.key.proto, IPPROTO_TCP);
	assert_int_equal(f.l4_off, 14 + 40 + 8);
	assert_int_equal(f.key.port, htons(443));

	/* an atomic fragment (offset 0, M clear) is a whole datagram */
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_FRAGMENT, CLIENT6, VIP6);
	frag6(&p, IPPROTO_UDP, 0, 0);
	udp(&p, 1234, 53);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.frag, 0);
	assert_int_equal(f.key.port, htons(53));

	/* non-first fragments, last or not */
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_FRAGMENT, CLIENT6, VIP6);
	frag6(&p, IPPROTO_TCP, 1, 1);
	payload(&p, 24);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.frag, CNM_FRAG_LATER);
	assert_int_equal(f.key.proto, IPPROTO_TCP);
	assert_int_equal(f.has_ports, 0);

	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_HOPOPTS, CLIENT6, VIP6);
	ext6(&p, IPPROTO_FRAGMENT, 0);
	frag6(&p, IPPROTO_UDP, 8191, 0);
	payload(&p, 24);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.frag, CNM_FRAG_LATER);
	assert_int_equal(f.key.proto, IPPROTO_UDP);
}

/*
 * Inputs the fuzzers found (tests/fuzz/regressions/packet/), one case each.
 * icmp6_inner_past_256: an ICMPv6 error behind a 184-byte hop-by-hop header
 * quoting a whole TCP packet that ends past byte 256: whole it parses; from
 * the 256 bytes the data path reads it is headers_too_long, not icmp_inner.
 */
static void
test_fuzz_regressions(void **state)
{
	static const char *const path = SRC_DIR "/tests/fuzz/regressions/packet/icmp6_inner_past_256";
	static const uint8_t vip6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, [15] = 0x10 };
	uint8_t buf[2048];
	struct cnm_flow f;
	size_t n;
	FILE *fp;

	(void)state;
	fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("cannot open %s", path);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	assert_int_equal(n, 306);
	assert_int_equal(cnm_parse(buf, CNM_PARSE_HDR_MAX, (uint32_t)n, &f),
		CNM_DROP_HEADERS_TOO_LONG);
	assert_int_equal(cnm_parse(buf, (uint32_t)n, (uint32_t)n, &f), CNM_DROP_NONE);
	assert_int_equal(f.icmp_err, 1);
	assert_memory_equal(f.key.addr, vip6, 16);
	assert_int_equal(f.key.port, htons(80));
	assert_int_equal(f.sport, htons(40000));
}

/* An ICMP error quoting a packet the VIP sent: the flow of the quoted packet,
 * seen from the client. */
static void
test_icmp_error(void **state)
{
	struct cnm_flow f;
	struct pkt p, q;

	(void)state;
	/* the quoted packet: VIP:80 -> client:40000 */
	eth(&q, ET_IPV4);
	ipv4(&q, IPPROTO_TCP, VIP4, CLIENT4);
	tcp(&q, 80, 40000, CNM_TCP_SYN | CNM_TCP_ACK);
	finish(&q);
	/* a router says: fragmentation needed */
	eth(&p, ET_IPV4);
	ipv4(&p, IPPROTO_ICMP, "203.0.113.254", VIP4);
	payload(&p, 8);
	p.b[34] = 3;
	p.b[35] = 4;
	memcpy(p.b + p.len, q.b + 14, 28);
	p.len += 28;
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.icmp_err, 1);
	assert_int_equal(f.icmp_type, 3);
	assert_int_equal(f.has_ports, 1);
	assert_int_equal(f.key.proto, IPPROTO_TCP);
	assert_addr4(f.key.addr, VIP4);
	assert_int_equal(f.key.port, htons(80));
	assert_addr4(f.src, CLIENT4);
	assert_int_equal(f.sport, htons(40000));

	/* the quoted ports cut off */
	p.len -= 8;
	finish(&p);
	assert_int_equal(verdict(&p), CNM_DROP_ICMP_INNER);
	/* the quoted header cut short */
	p.len -= 10;
	finish(&p);
	assert_int_equal(verdict(&p), CNM_DROP_ICMP_INNER);
	/* an echo reply is no error: no quoted flow */
	p.len += 18;
	p.b[34] = 0;
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.icmp_err, 0);
	assert_int_equal(f.has_ports, 0);

	/* ICMPv6 packet too big about VIP6:443 -> client6:5555 */
	eth(&q, ET_IPV6);
	ipv6(&q, IPPROTO_TCP, VIP6, CLIENT6);
	tcp(&q, 443, 5555, CNM_TCP_ACK);
	finish(&q);
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_ICMPV6, "2001:db8:ffff::1", VIP6);
	payload(&p, 8);
	p.b[54] = 2;
	memcpy(p.b + p.len, q.b + 14, 48);
	p.len += 48;
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.icmp_err, 1);
	assert_int_equal(f.key.family, AF_INET6);
	assert_int_equal(f.key.port, htons(443));
	assert_int_equal(f.sport, htons(5555));
}

/* @p n extension headers (destination options), then TCP. */
static void
mk_ext_chain(struct pkt *p, unsigned int n)
{
	unsigned int i;

	eth(p, ET_IPV6);
	ipv6(p, n > 0 ? IPPROTO_DSTOPTS : IPPROTO_TCP, CLIENT6, VIP6);
	for (i = 0; i < n; i++)
		ext6(p, i + 1 < n ? IPPROTO_DSTOPTS : IPPROTO_TCP, 0);
	tcp(p, 40000, 443, CNM_TCP_SYN);
	finish(p);
}

static void
test_ipv6_ext_chain(void **state)
{
	struct cnm_flow f;
	struct pkt p;

	(void)state;
	mk_ext_chain(&p, 8);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.l4_off, 14 + 40 + 8 * 8);
	assert_int_equal(f.key.port, htons(443));
	mk_ext_chain(&p, 9);
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_EXT);
	mk_ext_chain(&p, 20);
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_EXT);
}

static void
test_ipv6_ext_beyond(void **state)
{
	struct pkt p;

	(void)state;
	/* a destination-options header claiming 88 bytes in a 28-byte payload */
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_DSTOPTS, CLIENT6, VIP6);
	ext6(&p, IPPROTO_TCP, 0);
	tcp(&p, 40000, 443, CNM_TCP_SYN);
	finish(&p);
	p.b[14 + 40 + 1] = 10;
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_EXT);

	/* the payload ends inside the extension header's first 8 bytes */
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_HOPOPTS, CLIENT6, VIP6);
	payload(&p, 4);
	finish(&p);
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_EXT);

	/* the extension header ends exactly at the payload: then no TCP */
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_HOPOPTS, CLIENT6, VIP6);
	ext6(&p, IPPROTO_TCP, 0);
	finish(&p);
	assert_int_equal(verdict(&p), CNM_DROP_L4_TRUNCATED);

	/* a payload length that stops inside the second header, padding after */
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_HOPOPTS, CLIENT6, VIP6);
	ext6(&p, IPPROTO_DSTOPTS, 0);
	ext6(&p, IPPROTO_TCP, 1);
	tcp(&p, 40000, 443, CNM_TCP_SYN);
	finish(&p);
	wr16(p.b + 18, 8 + 8);
	assert_int_equal(verdict(&p), CNM_DROP_IPV6_EXT);
}

/* ---- TCP, UDP ---- */

static void
test_tcp_truncated(void **state)
{
	struct pkt p;

	(void)state;
	eth(&p, ET_IPV4);
	ipv4(&p, IPPROTO_TCP, CLIENT4, VIP4);
	payload(&p, 19);
	finish(&p);
	wr16(p.b + 34, 40000);
	wr16(p.b + 36, 80);
	assert_int_equal(verdict(&p), CNM_DROP_L4_TRUNCATED);

	/* the IP datagram holds 10 bytes of TCP; Ethernet padding follows.
	 * The header must not be read from the padding. */
	eth(&p, ET_IPV4);
	ipv4(&p, IPPROTO_TCP, CLIENT4, VIP4);
	tcp(&p, 40000, 80, CNM_TCP_SYN);
	finish(&p);
	wr16(p.b + 16, 30);
	assert_int_equal(verdict(&p), CNM_DROP_L4_TRUNCATED);

	/* IPv6, 19 bytes of TCP */
	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_TCP, CLIENT6, VIP6);
	payload(&p, 19);
	finish(&p);
	wr16(p.b + 54, 40000);
	wr16(p.b + 56, 80);
	assert_int_equal(verdict(&p), CNM_DROP_L4_TRUNCATED);
}

static void
test_tcp_doff(void **state)
{
	struct cnm_flow f;
	struct pkt p;
	uint8_t d;

	(void)state;
	for (d = 0; d < 5; d++) {
		mk_tcp4(&p, CNM_TCP_SYN);
		p.b[34 + 12] = (uint8_t)(d << 4);
		assert_int_equal(verdict(&p), CNM_DROP_TCP_DOFF);
	}
	/* 20 bytes of header + 10 of data: data offset 8 (32 bytes) is past it */
	mk_tcp4(&p, CNM_TCP_SYN);
	p.b[34 + 12] = 8 << 4;
	assert_int_equal(verdict(&p), CNM_DROP_TCP_DOFF);
	p.b[34 + 12] = 15 << 4;
	assert_int_equal(verdict(&p), CNM_DROP_TCP_DOFF);
	/* data offset 7 (28 bytes) fits in the 30-byte segment */
	p.b[34 + 12] = 7 << 4;
	assert_int_equal(verdict(&p), CNM_DROP_NONE);

	/* options exactly filling the segment */
	eth(&p, ET_IPV4);
	ipv4(&p, IPPROTO_TCP, CLIENT4, VIP4);
	tcp_doff(&p, 40000, 80, CNM_TCP_SYN, 15);
	finish(&p);
	assert_int_equal(parse(&p, &f), CNM_DROP_NONE);
	assert_int_equal(f.tcp_flags, CNM_TCP_SYN);

	/* same on IPv6 */
	mk_tcp6(&p, CNM_TCP_SYN);
	p.b[54 + 12] = 4 << 4;
	assert_int_equal(verdict(&p), CNM_DROP_TCP_DOFF);
	p.b[54 + 12] = 8 << 4;
	assert_int_equal(verdict(&p), CNM_DROP_TCP_DOFF);
}

static void
test_tcp_flags(void **state)
{
	static const uint8_t bad[] = {
		CNM_TCP_SYN | CNM_TCP_FIN,
		CNM_TCP_SYN | CNM_TCP_RST,
		CNM_TCP_SYN | CNM_TCP_FIN | CNM_TCP_RST,
		CNM_TCP_SYN | CNM_TCP_FIN | CNM_TCP_ACK,
		CNM_TCP_SYN | CNM_TCP_RST | CNM_TCP_ACK,
		0xff,
	};
	static const uint8_t good[] = {
		0, CNM_TCP_SYN, CNM_TCP_SYN | CNM_TCP_ACK, CNM_TCP_FIN | CNM_TCP_ACK,
		CNM_TCP_RST, CNM_TCP_RST | CNM_TCP_ACK, CNM_TCP_FIN | CNM_TCP_RST,
	};
	struct cnm_flow f;
	unsigned int i;
	struct pkt p;

	(void)state;
	for (i = 0; i < sizeof(bad); i++) {
		mk_tcp4(&p, bad[i]);
		if (verdict(&p) != CNM_DROP_TCP_FLAGS)
			fail_msg("flags 0x%02x not dropped", bad[i]);
		mk_tcp6(&p, bad[i]);
		if (verdict(&p) != CNM_DROP_TCP_FLAGS)
			fail_msg("flags 0x%02x not dropped (IPv6)", bad[i]);
	}
	for (i = 0; i < sizeof(good); i++) {
		mk_tcp4(&p, good[i]);
		if (parse(&p, &f) != CNM_DROP_NONE)
			fail_msg("flags 0x%02x dropped", good[i]);
		assert_int_equal(f.tcp_flags, good[i]);
	}
}

static void
test_udp_truncated(void **state)
{
	struct pkt p;

	(void)state;
	eth(&p, ET_IPV4);
	ipv4(&p, IPPROTO_UDP, CLIENT4, VIP4);
	payload(&p, 7);
	finish(&p);
	wr16(p.b + 34, 1234);
	wr16(p.b + 36, 53);
	assert_int_equal(verdict(&p), CNM_DROP_L4_TRUNCATED);

	eth(&p, ET_IPV6);
	ipv6(&p, IPPROTO_UDP, CLIENT6, VIP6);
	payload(&p, 7);
	finish(&p);
	wr16(p.b + 54, 1234);
	wr16(p.b + 56, 53);
	assert_int_equal(verdict(&p), CNM_DROP_L4_TRUNCATED);
}

static void
test_port_zero(void **state)
{
	struct pkt p;

	(void)state;
	mk_tcp4(&p, CNM_TCP_SYN);
	wr16(p.b + 34, 0);
	assert_int_equal(verdict(&p), CNM_DROP_PORT_ZERO);
	mk_tcp4(&p, CNM_TCP_SYN);
	wr16(p.b + 36, 0);
	assert_int_equal(verdict(&p), CNM_DROP_PORT_ZERO);
	mk_udp4(&p);
	wr16(p.b + 34, 0);
	assert_int_equal(verdict(&p), CNM_DROP_PORT_ZERO);
	mk_udp4(&p);
	wr16(p.b + 36, 0);
	assert_int_equal(verdict(&p), CNM_DROP_PORT_ZERO);
	mk_tcp6(&p, CNM_TCP_SYN);
	wr16(p.b + 56, 0);
	assert_int_equal(verdict(&p), CNM_DROP_PORT_ZERO);
	/* port 1 and 65535 are ports */
	mk_udp4(&p);
	wr16(p.b + 34, 1);
	wr16(p.b + 36, 65535);
	assert_int_equal(verdict(&p), CNM_DROP_NONE);
}

/* ---- whole frames vs. headers only, every prefix ---- */

/* The valid frames the next two tests work on; each is CNM_DROP_NONE. */
static unsigned int
mk_valid(unsigned int i, struct pkt *p)
{
	static const uint16_t qinq[2] = { ET_QINQ, ET_VLAN };

	switch (i) {
	case 0:
		mk_tcp4(p, CNM_TCP_SYN);
		payload(p, 0);
		break;
	case 1:
		eth(p, ET_IPV4);
		ipv4_ihl(p, IPPROTO_TCP, CLIENT4, VIP4, 7);
		tcp_doff(p, 40000, 80, CNM_TCP_ACK, 8);
		payload(p, 1000);
		finish(p);
		break;
	case 2:
		eth_tags(p, qinq, 2, ET_IPV4);
		ipv4(p, IPPROTO_UDP, CLIENT4, VIP4);
		udp(p, 1234, 53);
		payload(p, 500);
		finish(p);
		break;
	case 3:
		eth(p, ET_IPV6);
		ipv6(p, IPPROTO_HOPOPTS, CLIENT6, VIP6);
		ext6(p, IPPROTO_DSTOPTS, 0);
		ext6(p, IPPROTO_FRAGMENT, 1);
		frag6(p, IPPROTO_TCP, 0, 1);
		tcp(p, 40000, 443, CNM_TCP_ACK);
		payload(p, 1200);
		finish(p);
		break;
	case 4:
		eth(p, ET_IPV6);
		ipv6(p, IPPROTO_UDP, CLIENT6, VIP6);
		udp(p, 1234, 53);
		payload(p, 100);
		finish(p);
		break;
	case 5:
		eth(p, ET_IPV4);
		ipv4(p, IPPROTO_ICMP, CLIENT4, VIP4);
		payload(p, 64);
		finish(p);
		break;
	default:
		return 0;
	}
	return 1;
}

/* Bytes of headers in front of the payload of frame @p p (after parsing). */
static uint32_t
hdr_len(const struct pkt *p, const struct cnm_flow *f)
{
	if (f->icmp_type != 0 || f->key.proto == IPPROTO_ICMP || f->key.proto == IPPROTO_ICMPV6)
		return f->l4_off + 8u;
	if (!f->has_ports)
		return f->l3_off + (p->v6 ? 40u : 20u);
	if (f->key.proto == IPPROTO_UDP)
		return f->l4_off + 8u;
	return f->l4_off + (uint32_t)(p->b[f->l4_off + 12] >> 4) * 4u;
}

static void
test_headers_only(void **state)
{
	struct cnm_flow full, part;
	struct pkt p;
	unsigned int i;

	(void)state;
	for (i = 0; mk_valid(i, &p); i++) {
		uint32_t h, c;

		assert_int_equal(parse(&p, &full), CNM_DROP_NONE);
		h = hdr_len(&p, &full);
		assert_true(h < p.len);
		/* headers only, then every length up to the whole frame */
		for (c = h; c <= p.len; c++) {
			uint8_t *buf = malloc(c);

			assert_non_null(buf);
			memcpy(buf, p.b, c);
			memset(&part, 0xee, sizeof(part));
			if (cnm_parse(buf, c, p.len, &part) != CNM_DROP_NONE)
				fail_msg("frame %u: caplen %u of %u dropped", i, c, p.len);
			assert_memory_equal(&part, &full, sizeof(full));
			free(buf);
		}
		/* a caplen above the wire length is clamped */
		assert_int_equal(cnm_parse(p.b, PKT_MAX, p.len, &part), CNM_DROP_NONE);
		assert_memory_equal(&part, &full, sizeof(full));
	}
}

static void
test_every_prefix(void **state)
{
	struct cnm_flow f;
	struct pkt p;
	unsigned int i;

	(void)state;
	for (i = 0; mk_valid(i, &p); i++) {
		uint32_t n;

		for (n = 0; n <= p.len; n++) {
			/* exactly n bytes, so that ASan sees any read past them */
			uint8_t *buf = malloc(n ? n : 1);
			enum cnm_drop r;

			assert_non_null(buf);
			memcpy(buf, p.b, n);
			r = cnm_parse(buf + (n ? 0 : 1), n, n, &f);
			free(buf);
			assert_true(r < CNM_DROP_MAX);
			/* the IP length fields count the whole frame: any
			 * shorter prefix is dropped, the whole frame is not */
			if (n < p.len && r == CNM_DROP_NONE)
				fail_msg("frame %u: prefix %u of %u parsed", i, n, p.len);
			if (n == p.len)
				assert_int_equal(r, CNM_DROP_NONE);
		}
	}
	/* ARP: everything from the ethertype on parses */
	eth(&p, ET_ARP);
	payload(&p, 28);
	{
		uint32_t n;

		for (n = 0; n <= p.len; n++) {
			uint8_t *buf = malloc(n ? n : 1);
			enum cnm_drop r;

			assert_non_null(buf);
			memcpy(buf, p.b, n);
			r = cnm_parse(buf + (n ? 0 : 1), n, n, &f);
			free(buf);
			assert_int_equal(r, n < 14 ? CNM_DROP_RUNT : CNM_DROP_NONE);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_tcp),
		cmocka_unit_test(test_ipv4_udp),
		cmocka_unit_test(test_vlan_one),
		cmocka_unit_test(test_vlan_two),
		cmocka_unit_test(test_vlan_three),
		cmocka_unit_test(test_vlan_cut),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_ethertype_unknown),
		cmocka_unit_test(test_runt),
		cmocka_unit_test(test_ipv4_truncated),
		cmocka_unit_test(test_ipv4_version),
		cmocka_unit_test(test_ipv4_ihl_below),
		cmocka_unit_test(test_ipv4_ihl_beyond),
		cmocka_unit_test(test_ipv4_totlen_beyond),
		cmocka_unit_test(test_ipv4_totlen_below),
		cmocka_unit_test(test_ipv4_padding),
		cmocka_unit_test(test_ipv4_options),
		cmocka_unit_test(test_ipv4_martian),
		cmocka_unit_test(test_ipv4_fragment),
		cmocka_unit_test(test_ipv4_icmp),
		cmocka_unit_test(test_ipv6_tcp),
		cmocka_unit_test(test_ipv6_truncated),
		cmocka_unit_test(test_ipv6_version),
		cmocka_unit_test(test_ipv6_paylen),
		cmocka_unit_test(test_ipv6_martian),
		cmocka_unit_test(test_ipv6_ext),
		cmocka_unit_test(test_ipv6_fragment),
		cmocka_unit_test(test_icmp_error),
		cmocka_unit_test(test_fuzz_regressions),
		cmocka_unit_test(test_ipv6_ext_chain),
		cmocka_unit_test(test_ipv6_ext_beyond),
		cmocka_unit_test(test_tcp_truncated),
		cmocka_unit_test(test_tcp_doff),
		cmocka_unit_test(test_tcp_flags),
		cmocka_unit_test(test_udp_truncated),
		cmocka_unit_test(test_port_zero),
		cmocka_unit_test(test_headers_only),
		cmocka_unit_test(test_every_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
