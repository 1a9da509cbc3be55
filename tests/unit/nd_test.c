/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/nd: the neighbour solicitation / advertisement parser and builders
 * (RFC 4861), and the parser's verdict on them (cnm_parse()). The reference
 * frames were built by scapy (ICMPv6ND_NS / ICMPv6ND_NA), not by lib/nd; the
 * checksum helper below is this test's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cnm_nd.h"
#include "cnm_parse.h"

/* scapy: Ether(dst=33:33:ff:00:00:10, src=02:00:00:00:00:aa) /
 * IPv6(fe80::1 -> ff02::1:ff00:10, hlim=255) /
 * ICMPv6ND_NS(tgt=2001:db8:100::10) / ICMPv6NDOptSrcLLAddr(02:00:00:00:00:aa) */
static const uint8_t ns_ref[86] = {
	0x33, 0x33, 0xff, 0x00, 0x00, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00, 0xaa, 0x86, 0xdd,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x10, 0x87, 0x00,
	0x49, 0x9a, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00,
	0x00, 0xaa,
};

/* scapy: Ether(dst=02:00:00:00:00:aa, src=02:70:63:61:70:00) /
 * IPv6(2001:db8:100::10 -> fe80::1, hlim=255) /
 * ICMPv6ND_NA(tgt=2001:db8:100::10, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(02:70:63:61:70:00) */
static const uint8_t na_ref[86] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0xaa, 0x02, 0x70, 0x63, 0x61, 0x70, 0x00, 0x86, 0xdd,
	0x60, 0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xfe, 0x80, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00,
	0xe3, 0xbd, 0x60, 0x00, 0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x02, 0x01, 0x02, 0x70, 0x63, 0x61,
	0x70, 0x00,
};

static const uint8_t pub_mac[6] = { 0x02, 0x70, 0x63, 0x61, 0x70, 0x00 };
static const uint8_t asker_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xaa };
static const uint8_t vip[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, [15] = 0x10 };
static const uint8_t ll1[16] = { 0xfe, 0x80, [15] = 0x01 };

#define L3 14
#define L4 54

/* The ICMPv6 checksum of a frame with an untagged IPv6 header and no
 * extension headers, written here from RFC 8200 8.1. */
static void
fix_csum(uint8_t *f)
{
	uint32_t n = (uint32_t)((f[18] << 8) | f[19]), sum = 58 + n, i;

	f[L4 + 2] = 0;
	f[L4 + 3] = 0;
	for (i = 0; i < 32; i += 2)
		sum += (uint32_t)(f[22 + i] << 8 | f[23 + i]);
	for (i = 0; i < n; i += 2)
		sum += (uint32_t)(f[L4 + i] << 8 | (i + 1 < n ? f[L4 + i + 1] : 0));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[L4 + 2] = (uint8_t)(~sum >> 8);
	f[L4 + 3] = (uint8_t)~sum;
}

static enum cnm_drop
parse_ref(const uint8_t *f, uint32_t len, struct cnm_nd *nd)
{
	uint32_t end = L3 + 40 + (uint32_t)((f[18] << 8) | f[19]);

	return cnm_nd_parse(f, len, L3, L4, end, nd);
}

static void
test_parse_ns(void **state)
{
	struct cnm_nd nd;

	(void)state;
	assert_int_equal(parse_ref(ns_ref, sizeof(ns_ref), &nd), CNM_DROP_NONE);
	assert_int_equal(nd.type, CNM_ND_NS);
	assert_memory_equal(nd.target, vip, 16);
	assert_memory_equal(nd.src, ll1, 16);
	assert_true(nd.has_lla);
	assert_memory_equal(nd.lla, asker_mac, 6);
}

static void
test_parse_na(void **state)
{
	struct cnm_nd nd;

	(void)state;
	assert_int_equal(parse_ref(na_ref, sizeof(na_ref), &nd), CNM_DROP_NONE);
	assert_int_equal(nd.type, CNM_ND_NA);
	assert_int_equal(nd.flags, CNM_ND_NA_SOLICITED | CNM_ND_NA_OVERRIDE);
	assert_memory_equal(nd.target, vip, 16);
	assert_true(nd.has_lla);
	assert_memory_equal(nd.lla, pub_mac, 6);
}

/* The advertisement built in place from the reference solicitation is the
 * one scapy built. */
static void
test_make_na(void **state)
{
	uint8_t f[128];
	struct cnm_nd ns;

	(void)state;
	memset(f, 0xee, sizeof(f));
	memcpy(f, ns_ref, sizeof(ns_ref));
	assert_int_equal(parse_ref(f, sizeof(ns_ref), &ns), CNM_DROP_NONE);
	assert_int_equal(cnm_nd_make_na(f, L3, &ns, pub_mac), sizeof(na_ref));
	assert_memory_equal(f, na_ref, sizeof(na_ref));
}

/* No source link-layer option: the answer goes to the frame's sender; a
 * duplicate address detection probe (from ::) is answered to all nodes,
 * not solicited. Behind a VLAN tag, the tag stays. */
static void
test_make_na_variants(void **state)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	uint8_t f[128], t[128];
	struct cnm_nd ns, na;

	(void)state;
	/* no option: 24-byte solicitation, payload length 24 */
	memcpy(f, ns_ref, 78);
	f[19] = 24;
	fix_csum(f);
	assert_int_equal(parse_ref(f, 78, &ns), CNM_DROP_NONE);
	assert_false(ns.has_lla);
	assert_int_equal(cnm_nd_make_na(f, L3, &ns, pub_mac), 86);
	assert_memory_equal(f, asker_mac, 6);
	assert_int_equal(parse_ref(f, 86, &na), CNM_DROP_NONE);
	assert_int_equal(na.flags, CNM_ND_NA_SOLICITED | CNM_ND_NA_OVERRIDE);

	/* DAD: source ::, no option */
	memset(f + 22, 0, 16);
	memcpy(f, ns_ref, 14);
	f[19] = 24;
	f[L4] = CNM_ND_NS;
	memcpy(f + 38, ns_ref + 38, 16);
	memset(f + L4 + 4, 0, 4);
	memcpy(f + L4 + 8, vip, 16);
	fix_csum(f);
	assert_int_equal(parse_ref(f, 78, &ns), CNM_DROP_NONE);
	cnm_nd_make_na(f, L3, &ns, pub_mac);
	assert_memory_equal(f, all_nodes_mac, 6);
	assert_memory_equal(f + 38, all_nodes, 16);
	assert_int_equal(parse_ref(f, 86, &na), CNM_DROP_NONE);
	assert_int_equal(na.flags, CNM_ND_NA_OVERRIDE);

	/* 802.1Q tag: kept, the IPv6 packet after it */
	memcpy(t, ns_ref, 12);
	t[12] = 0x81;
	t[13] = 0x00;
	t[14] = 0x00;
	t[15] = 0x07;
	memcpy(t + 16, ns_ref + 12, sizeof(ns_ref) - 12);
	assert_int_equal(cnm_nd_parse(t, 90, 18, 58, 90, &ns), CNM_DROP_NONE);
	assert_int_equal(cnm_nd_make_na(t, 18, &ns, pub_mac), 90);
	assert_memory_equal(t + 12, "\x81\x00\x00\x07\x86\xdd", 6);
	assert_memory_equal(t, na_ref, 12);
	assert_memory_equal(t + 18, na_ref + 14, sizeof(na_ref) - 14);
}

/* Multicast and unicast solicitations as scapy builds them. */
static void
test_make_ns(void **state)
{
	uint8_t f[CNM_ND_NS_FRAME_LEN], ll[16], u[CNM_ND_NS_FRAME_LEN];
	static const uint8_t node_mac[6] = { 0x96, 1, 2, 3, 4, 0x1c };
	struct cnm_nd nd;

	(void)state;
	cnm_nd_make_ns(f, asker_mac, ll1, vip, NULL);
	assert_memory_equal(f, ns_ref, sizeof(ns_ref));

	cnm_nd_make_ns(u, asker_mac, ll1, vip, node_mac);
	assert_memory_equal(u, node_mac, 6);
	assert_memory_equal(u + 38, vip, 16);
	assert_int_equal(parse_ref(u, sizeof(u), &nd), CNM_DROP_NONE);
	assert_memory_equal(nd.lla, asker_mac, 6);

	cnm_nd_link_local(asker_mac, ll);
	assert_memory_equal(ll, "\xfe\x80\0\0\0\0\0\0\x00\x00\x00\xff\xfe\x00\x00\xaa", 16);
	cnm_nd_link_local(node_mac, ll);
	assert_memory_equal(ll, "\xfe\x80\0\0\0\0\0\0\x94\x01\x02\xff\xfe\x03\x04\x1c", 16);
}

/* Each malformed case: the reason, from cnm_nd_parse() and from cnm_parse()
 * (which drops the frame for it: the data path counts the reason). */
static void
expect(const uint8_t *f, uint32_t len, enum cnm_drop want)
{
	struct cnm_flow fl;
	struct cnm_nd nd;

	assert_int_equal(parse_ref(f, len, &nd), want);
	assert_int_equal(cnm_parse(f, len, len, &fl), want);
}

static void
test_malformed(void **state)
{
	uint8_t f[128];

	(void)state;
	/* hop limit 64: from off the link */
	memcpy(f, ns_ref, 86);
	f[21] = 64;
	fix_csum(f);
	expect(f, 86, CNM_DROP_ND_HOP_LIMIT);
	/* checksum */
	memcpy(f, ns_ref, 86);
	f[L4 + 3] ^= 1;
	expect(f, 86, CNM_DROP_ND_CHECKSUM);
	memcpy(f, na_ref, 86);
	f[85] ^= 0x40;
	expect(f, 86, CNM_DROP_ND_CHECKSUM);
	/* code 1 */
	memcpy(f, ns_ref, 86);
	f[L4 + 1] = 1;
	fix_csum(f);
	expect(f, 86, CNM_DROP_ND_INVALID);
	/* shorter than 24 bytes (payload length 16, the frame padded) */
	memcpy(f, ns_ref, 86);
	f[19] = 16;
	fix_csum(f);
	expect(f, 86, CNM_DROP_ND_INVALID);
	/* multicast target */
	memcpy(f, ns_ref, 86);
	f[L4 + 8] = 0xff;
	fix_csum(f);
	expect(f, 86, CNM_DROP_ND_INVALID);
	/* option of length 0 */
	memcpy(f, ns_ref, 86);
	f[L4 + 25] = 0;
	fix_csum(f);
	expect(f, 86, CNM_DROP_ND_INVALID);
	/* option running past the end */
	memcpy(f, ns_ref, 86);
	f[L4 + 25] = 2;
	fix_csum(f);
	expect(f, 86, CNM_DROP_ND_INVALID);
	/* DAD (source ::) with a source link-layer option: the parser drops
	 * the :: source before (martian_src); cnm_nd_parse() says invalid */
	memcpy(f, ns_ref, 86);
	memset(f + 22, 0, 16);
	fix_csum(f);
	{
		struct cnm_nd nd;

		assert_int_equal(parse_ref(f, 86, &nd), CNM_DROP_ND_INVALID);
		/* and to a unicast address */
		memcpy(f + 38, vip, 16);
		f[19] = 24;
		fix_csum(f);
		assert_int_equal(parse_ref(f, 78, &nd), CNM_DROP_ND_INVALID);
	}
	/* solicited advertisement to a multicast address */
	memcpy(f, na_ref, 86);
	f[38] = 0xff;
	f[39] = 0x02;
	memset(f + 40, 0, 13);
	f[53] = 1;
	fix_csum(f);
	expect(f, 86, CNM_DROP_ND_INVALID);
	/* the same, unsolicited: valid */
	f[L4 + 4] = CNM_ND_NA_OVERRIDE;
	fix_csum(f);
	expect(f, 86, CNM_DROP_NONE);
	/* message past the bytes at hand */
	{
		struct cnm_nd nd;

		assert_int_equal(parse_ref(ns_ref, 70, &nd), CNM_DROP_HEADERS_TOO_LONG);
	}
}

/* cnm_parse() on a valid solicitation: kind ND, the target as key.addr. */
static void
test_cnm_parse(void **state)
{
	struct cnm_flow f;

	(void)state;
	assert_int_equal(cnm_parse(ns_ref, sizeof(ns_ref), sizeof(ns_ref), &f), CNM_DROP_NONE);
	assert_int_equal(f.kind, CNM_PKT_ND);
	assert_int_equal(f.icmp_type, CNM_ND_NS);
	assert_int_equal(f.key.family, AF_INET6);
	assert_memory_equal(f.key.addr, vip, 16);
	assert_memory_equal(f.src, ll1, 16);
	assert_int_equal(f.l3_off, L3);
	assert_int_equal(f.l4_off, L4);
	assert_true(f.rare);
	assert_int_equal(cnm_parse(na_ref, sizeof(na_ref), sizeof(na_ref), &f), CNM_DROP_NONE);
	assert_int_equal(f.kind, CNM_PKT_ND);
	assert_int_equal(f.icmp_type, CNM_ND_NA);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ns),
		cmocka_unit_test(test_parse_na),
		cmocka_unit_test(test_make_na),
		cmocka_unit_test(test_make_na_variants),
		cmocka_unit_test(test_make_ns),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_cnm_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
