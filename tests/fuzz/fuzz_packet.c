/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: a frame's bytes through parse, classify and select.
 *
 * Each input is one Ethernet frame. It is parsed twice, as the data path
 * sees frames:
 *   - whole: caplen = wirelen = size;
 *   - as a multi-segment mbuf: the first min(size, CNM_PARSE_HDR_MAX) bytes
 *     copied aside (caplen), and a wirelen larger than what is there by a
 *     number taken from the last byte (the rest of the chain).
 * The second copy is a buffer of exactly caplen bytes, so that ASan catches
 * any read past caplen. A frame that parses is decided against three fixed
 * sets of tables (a local port; a default node; neither) built once from
 * one configuration with services of every policy, IPv4 and IPv6, a node
 * without MAC (down), drained members and a group with no active node.
 *
 * Every invariant below abort()s when broken.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "cnm_config.h"
#include "cnm_parse.h"
#include "cnm_decide.h"
#include "cnm_service.h"
#include "fuzz_common.h"

#define CFG_HEAD(ports, dflt) \
	"{\n" \
	"  \"version\": 1,\n" \
	"  \"ports\": " ports ",\n" \
	dflt \
	"  \"pdt_size\": 256,\n" \
	"  \"nodes\": [\n" \
	"    { \"name\": \"node1\", \"ip\": \"192.0.2.11\", \"mac\": \"02:00:c0:00:02:0b\" },\n" \
	"    { \"name\": \"node2\", \"ip\": \"192.0.2.12\", \"mac\": \"02:00:c0:00:02:0c\" },\n" \
	"    { \"name\": \"node3\", \"ip\": \"192.0.2.13\", \"mac\": \"02:00:c0:00:02:0d\" },\n" \
	"    { \"name\": \"node4\", \"ip\": \"2001:db8::14\", \"mac\": \"02:00:c0:00:02:0e\" },\n" \
	"    { \"name\": \"node5\", \"ip\": \"192.0.2.15\", \"mac\": \"02:00:c0:00:02:0f\" },\n" \
	"    { \"name\": \"nomac\", \"ip\": \"192.0.2.16\" },\n" \
	"    { \"name\": \"drained\", \"ip\": \"192.0.2.17\", \"mac\": \"02:00:c0:00:02:11\" }\n" \
	"  ],\n"

/* The VIPs are those of the golden captures (pcaps/), so that the seed
 * corpus hits services from the first run. */
#define CFG_SERVICES \
	"  \"services\": [\n" \
	"    { \"name\": \"web\", \"vip\": \"198.51.100.10\", \"ports\": [\"80/tcp\", \"443/tcp\"],\n" \
	"      \"policy\": \"weighted\",\n" \
	"      \"nodes\": { \"node1\": 3, \"node2\": 1, \"nomac\": 2, \"drained\": 0 } },\n" \
	"    { \"name\": \"dns\", \"vip\": \"198.51.100.10\", \"ports\": [\"53/udp\"],\n" \
	"      \"policy\": \"sticky\", \"pdt_size\": 16,\n" \
	"      \"nodes\": { \"node1\": 1, \"node3\": 1, \"drained\": 0 } },\n" \
	"    { \"name\": \"ftp\", \"vip\": \"198.51.100.20\", \"protocols\": [\"tcp\", \"udp\"],\n" \
	"      \"policy\": \"sticky-wild\", \"nodes\": { \"node2\": 1, \"node5\": 4 } },\n" \
	"    { \"name\": \"ftp80\", \"vip\": \"198.51.100.20\", \"ports\": [\"80/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"nodes\": { \"node3\": 1 } },\n" \
	"    { \"name\": \"m_web\", \"vip\": \"198.51.100.30\", \"ports\": [\"80/tcp\", \"443/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"pdt_size\": 1024,\n" \
	"      \"nodes\": { \"node1\": 9, \"node2\": 5, \"node3\": 2, \"node5\": 1 } },\n" \
	"    { \"name\": \"m_app\", \"vip\": \"198.51.100.31\",\n" \
	"      \"ports\": [\"8080/tcp\", \"8443/tcp\", \"5000/udp\"],\n" \
	"      \"policy\": \"sticky\", \"nodes\": { \"node2\": 7, \"node5\": 3 } },\n" \
	"    { \"name\": \"m_wild\", \"vip\": \"198.51.100.32\", \"protocols\": [\"udp\"],\n" \
	"      \"policy\": \"sticky-wild\", \"nodes\": { \"node1\": 1, \"node3\": 1 } },\n" \
	"    { \"name\": \"dead\", \"vip\": \"198.51.100.40\", \"ports\": [\"80/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"nodes\": { \"nomac\": 1 } },\n" \
	"    { \"name\": \"dry\", \"vip\": \"198.51.100.41\", \"protocols\": [\"tcp\"],\n" \
	"      \"policy\": \"sticky-wild\", \"nodes\": { \"drained\": 0 } },\n" \
	"    { \"name\": \"web6\", \"vip\": \"2001:db8:100::10\", \"ports\": [\"80/tcp\", \"443/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"nodes\": { \"node3\": 1, \"node4\": 1 } },\n" \
	"    { \"name\": \"dns6\", \"vip\": \"2001:db8:100::10\", \"ports\": [\"53/udp\"],\n" \
	"      \"policy\": \"sticky\", \"nodes\": { \"node1\": 1, \"node4\": 2 } },\n" \
	"    { \"name\": \"wild6\", \"vip\": \"2001:db8:100::20\", \"protocols\": [\"tcp\", \"udp\"],\n" \
	"      \"policy\": \"sticky-wild\", \"nodes\": { \"node4\": 1, \"node5\": 1 } },\n" \
	"    { \"name\": \"m_web6\", \"vip\": \"2001:db8:100::30\", \"ports\": [\"80/tcp\", \"443/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"nodes\": { \"node1\": 8, \"node5\": 5 } },\n" \
	"    { \"name\": \"m_wild6\", \"vip\": \"2001:db8:100::32\", \"protocols\": [\"tcp\"],\n" \
	"      \"policy\": \"sticky-wild\", \"nodes\": { \"node2\": 8, \"node3\": 0 } },\n" \
	"    { \"name\": \"web6b\", \"vip\": \"2001:db8::10\", \"ports\": [\"80/tcp\"],\n" \
	"      \"policy\": \"weighted\", \"nodes\": { \"node3\": 1, \"node4\": 1 } }\n" \
	"  ]\n" \
	"}\n"

static const char cfg_local[] =
	CFG_HEAD("{ \"public\": \"p0\", \"private\": [\"p1\", \"p2\"], \"local\": \"p3\" }", "")
	CFG_SERVICES;
static const char cfg_default[] =
	CFG_HEAD("{ \"public\": \"p0\", \"private\": [\"p1\"] }", "  \"default_node\": \"node2\",\n")
	CFG_SERVICES;
static const char cfg_none[] =
	CFG_HEAD("{ \"public\": \"p0\", \"private\": [\"p1\"] }", "")
	CFG_SERVICES;

struct variant {
	const char *name;
	const char *text;
	struct cnm_config *cfg;
	struct cnm_lb *lb;
};

/* CNM_DROP_HEADERS_TOO_LONG where the parser has it (found by name, so
 * that this file builds against parsers without it), else CNM_DROP_MAX */
static enum cnm_drop too_long = CNM_DROP_MAX;

static struct variant variants[] = {
	{ "fz_l", cfg_local, NULL, NULL },
	{ "fz_d", cfg_default, NULL, NULL },
	{ "fz_n", cfg_none, NULL, NULL },
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
#ifndef FUZZ_PACKET_CHECKS_ONLY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
#endif

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[CNM_ERR_MAX];
	unsigned int i;

	(void)argc;
	fuzz_eal_up((*argv)[0]);
	for (i = 0; i < FUZZ_DIM(variants); i++) {
		struct variant *v = &variants[i];

		v->cfg = cnm_config_parse(v->text, strlen(v->text), v->name, err, sizeof(err));
		if (v->cfg == NULL) {
			fprintf(stderr, "fuzz_packet: config %s: %s\n", v->name, err);
			exit(1);
		}
		v->lb = cnm_lb_create(v->cfg, v->name, NULL);
		if (v->lb == NULL) {
			fprintf(stderr, "fuzz_packet: cnm_lb_create %s: %s\n", v->name,
				rte_strerror(rte_errno));
			exit(1);
		}
		fuzz_check_lb(v->lb);
	}
	for (i = 1; i < CNM_DROP_MAX; i++)
		if (strcmp(cnm_drop_name((enum cnm_drop)i), "headers_too_long") == 0)
			too_long = (enum cnm_drop)i;
	/* the tables are what the test means them to be */
	FUZZ_CHECK(cnm_lb_has_local(variants[0].lb) && cnm_lb_default_node(variants[0].lb) < 0);
	FUZZ_CHECK(!cnm_lb_has_local(variants[1].lb) && cnm_lb_default_node(variants[1].lb) >= 0);
	FUZZ_CHECK(!cnm_lb_has_local(variants[2].lb) && cnm_lb_default_node(variants[2].lb) < 0);
	return 0;
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static int
martian(const struct cnm_flow *f)
{
	static const uint8_t zero[16];
	static const uint8_t loop[16] = { [15] = 1 };

	if (f->key.family == AF_INET)
		return f->src[0] == 0 || f->src[0] == 127 || f->src[0] >= 224;
	return f->src[0] == 0xff || memcmp(f->src, zero, 16) == 0 ||
		memcmp(f->src, loop, 16) == 0;
}

#ifdef CNM_FRAG_LATER
/* The parser knows non-first fragments and ICMP errors (see cnm_parse()). */
#define HAS_ICMP 1
#else
#define HAS_ICMP 0
#endif

static int
is_icmp(const struct cnm_flow *f, const uint8_t *ip)
{
	/* the outer protocol; for IPv6 only known through what the parser kept */
	if (f->key.family == AF_INET)
		return ip[9] == IPPROTO_ICMP || ip[9] == IPPROTO_ICMPV6;
	return 0;
}

#if HAS_ICMP
/* An ICMP error turned into the quoted flow: what it says is in the quote. */
static void
check_icmp_err(const uint8_t *p, uint32_t caplen, const struct cnm_flow *f)
{
	const uint8_t *q = p + f->l4_off + 8;
	uint32_t end = (uint32_t)f->l3_off + f->l3_len;
	uint32_t ports;

	FUZZ_CHECK(f->has_ports);
	FUZZ_CHECK(f->frag == CNM_FRAG_NONE);
	FUZZ_CHECK(f->key.proto == IPPROTO_TCP || f->key.proto == IPPROTO_UDP);
	FUZZ_CHECK(f->l4_off >= f->l3_off + 20u);
	FUZZ_CHECK(p[f->l4_off] == f->icmp_type);
	if (f->key.family == AF_INET) {
		FUZZ_CHECK(f->icmp_type == 3 || f->icmp_type == 11 || f->icmp_type == 12 ||
			   (f->icmp_type >= 1 && f->icmp_type <= 4));
		FUZZ_CHECK(f->l4_off + 8u + 20u <= caplen && f->l4_off + 8u + 20u <= end);
		FUZZ_CHECK(q[0] >> 4 == 4 && (q[0] & 0xf) >= 5);
		FUZZ_CHECK(q[9] == f->key.proto);
		FUZZ_CHECK(memcmp(f->key.addr, q + 12, 4) == 0);
		FUZZ_CHECK(memcmp(f->src, q + 16, 4) == 0);
		ports = f->l4_off + 8u + (q[0] & 0xfu) * 4;
	} else {
		uint8_t nh;
		unsigned int n = 0;

		FUZZ_CHECK(f->icmp_type <= 4 || f->icmp_type == 11 || f->icmp_type == 12);
		FUZZ_CHECK(f->l4_off + 8u + 40u <= caplen && f->l4_off + 8u + 40u <= end);
		FUZZ_CHECK(q[0] >> 4 == 6);
		FUZZ_CHECK(memcmp(f->key.addr, q + 8, 16) == 0);
		FUZZ_CHECK(memcmp(f->src, q + 24, 16) == 0);
		/* the quote's extension headers, each within the packet and the
		 * bytes read, eight at most, a fragment header of offset 0 */
		nh = q[6];
		ports = f->l4_off + 8u + 40u;
		while (nh == 0 || nh == 43 || nh == 60 || nh == 44) {
			FUZZ_CHECK(++n <= 8);
			FUZZ_CHECK(ports + 8 <= caplen && ports + 8 <= end);
			if (nh == 44) {
				FUZZ_CHECK((rd16(p + ports + 2) & 0xfff8) == 0);
				nh = p[ports];
				ports += 8;
			} else {
				nh = p[ports];
				ports += ((uint32_t)p[ports + 1] + 1) * 8;
			}
		}
		FUZZ_CHECK(nh == f->key.proto);
	}
	FUZZ_CHECK(ports + 4 <= caplen && ports + 4 <= end);
	FUZZ_CHECK(memcmp(&f->key.port, p + ports, 2) == 0);
	FUZZ_CHECK(memcmp(&f->sport, p + ports + 2, 2) == 0);
}
#endif

/* What the parser said must be what the bytes say. */
static void
check_flow(const uint8_t *p, uint32_t caplen, uint32_t wirelen, const struct cnm_flow *f)
{
	static const uint8_t zero[16];
	uint32_t l2 = 14 + 4u * f->n_vlan;
	const uint8_t *ip;
	int icmp_err = 0, later = 0;

	if (caplen > wirelen)
		caplen = wirelen;
	FUZZ_CHECK(f->n_vlan <= 2);
	FUZZ_CHECK(f->l3_off == l2);
	FUZZ_CHECK(l2 <= caplen);
	FUZZ_CHECK(f->kind == CNM_PKT_IP || f->kind == CNM_PKT_ARP || f->kind == CNM_PKT_ND);
	if (f->kind == CNM_PKT_ND) {
		/* a valid solicitation / advertisement: IPv6, hop limit 255,
		 * not a fragment, its target (not multicast) as the key */
		FUZZ_CHECK(rd16(p + l2 - 2) == 0x86dd && f->key.family == AF_INET6);
		FUZZ_CHECK(p[l2 + 7] == 255 && f->frag == CNM_FRAG_NONE && !f->has_ports);
		FUZZ_CHECK(f->icmp_type == 135 || f->icmp_type == 136);
		FUZZ_CHECK(f->l4_off + 24 <= caplen && p[f->l4_off] == f->icmp_type);
		FUZZ_CHECK(memcmp(f->key.addr, p + f->l4_off + 8, 16) == 0 && f->key.addr[0] != 0xff);
		return;
	}
	if (f->kind == CNM_PKT_ARP) {
		FUZZ_CHECK(rd16(p + l2 - 2) == 0x0806);
		FUZZ_CHECK(!f->has_ports && f->l4_off == 0);
		/* the sender hardware address's group bit, of a well-formed message */
		if (f->arp_op != 0)
			FUZZ_CHECK(l2 + 28 <= caplen && f->arp_sha_group == (p[l2 + 8] & 1));
		else
			FUZZ_CHECK(f->arp_sha_group == 0);
		return;
	}
#if HAS_ICMP
	FUZZ_CHECK(f->frag <= CNM_FRAG_LATER);
	FUZZ_CHECK(f->icmp_err <= 1);
	icmp_err = f->icmp_err;
	later = f->frag == CNM_FRAG_LATER;
#else
	FUZZ_CHECK(f->frag <= 1);
#endif
	FUZZ_CHECK((uint32_t)f->l3_off + f->l3_len <= wirelen);
	ip = p + f->l3_off;
	if (f->key.family == AF_INET) {
		uint16_t fragw;

		FUZZ_CHECK(rd16(p + l2 - 2) == 0x0800);
		FUZZ_CHECK(f->l3_off + 20u <= caplen);
		FUZZ_CHECK(ip[0] >> 4 == 4 && (ip[0] & 0xf) >= 5);
		FUZZ_CHECK(f->l3_off + (ip[0] & 0xfu) * 4 <= caplen);
		FUZZ_CHECK(f->l3_len == rd16(ip + 2));
		FUZZ_CHECK(f->l3_len >= (ip[0] & 0xfu) * 4);
		fragw = rd16(ip + 6);
		FUZZ_CHECK(later == !!(fragw & 0x1fff));
		if (!later)
			FUZZ_CHECK(f->frag == !!(fragw & 0x2000));
		if (!icmp_err) {
			FUZZ_CHECK(f->key.proto == ip[9]);
			FUZZ_CHECK(memcmp(f->key.addr, ip + 16, 4) == 0);
			FUZZ_CHECK(memcmp(f->src, ip + 12, 4) == 0);
		}
		FUZZ_CHECK(memcmp(f->key.addr + 4, zero, 12) == 0);
		FUZZ_CHECK(memcmp(f->src + 4, zero, 12) == 0);
		if (f->has_ports || f->l4_off != 0)
			FUZZ_CHECK(f->l4_off == f->l3_off + (ip[0] & 0xfu) * 4);
	} else {
		FUZZ_CHECK(f->key.family == AF_INET6);
		FUZZ_CHECK(rd16(p + l2 - 2) == 0x86dd);
		FUZZ_CHECK(f->l3_off + 40u <= caplen);
		FUZZ_CHECK(ip[0] >> 4 == 6);
		FUZZ_CHECK(f->l3_len == 40u + rd16(ip + 4));
		if (!icmp_err) {
			FUZZ_CHECK(memcmp(f->key.addr, ip + 24, 16) == 0);
			FUZZ_CHECK(memcmp(f->src, ip + 8, 16) == 0);
		}
		if (f->has_ports || f->l4_off != 0)
			FUZZ_CHECK(f->l4_off >= f->l3_off + 40u);
	}
	/* the outer source address; an ICMP error may quote anything */
	if (!icmp_err)
		FUZZ_CHECK(!martian(f));
	if (f->l4_off != 0)
		FUZZ_CHECK(f->l4_off + 8u <= caplen &&
			   f->l4_off + 8u <= (uint32_t)f->l3_off + f->l3_len);
#if HAS_ICMP
	if (icmp_err) {
		check_icmp_err(p, caplen, f);
		return;
	}
	if (f->icmp_type != 0) {
		FUZZ_CHECK(f->l4_off != 0 && p[f->l4_off] == f->icmp_type);
		FUZZ_CHECK(!f->has_ports && f->key.port == 0 && f->sport == 0);
		if (f->key.family == AF_INET)
			FUZZ_CHECK(is_icmp(f, ip));
	}
	if (later) {
		/* no L4 header: no ports, nothing read past the IP header */
		FUZZ_CHECK(!f->has_ports && f->l4_off == 0 && f->icmp_type == 0);
		FUZZ_CHECK(f->sport == 0 && f->key.port == 0 && f->tcp_flags == 0);
		return;
	}
#endif
	if (f->has_ports) {
		uint32_t need = f->key.proto == IPPROTO_TCP ? 20 : 8;
		const uint8_t *l4 = p + f->l4_off;

		FUZZ_CHECK(f->key.proto == IPPROTO_TCP || f->key.proto == IPPROTO_UDP);
		FUZZ_CHECK(f->l4_off + need <= caplen);
		FUZZ_CHECK(f->l4_off + need <= (uint32_t)f->l3_off + f->l3_len);
		FUZZ_CHECK(f->sport != 0 && f->key.port != 0);
		FUZZ_CHECK(memcmp(&f->sport, l4, 2) == 0);
		FUZZ_CHECK(memcmp(&f->key.port, l4 + 2, 2) == 0);
		if (f->key.proto == IPPROTO_TCP) {
			uint32_t doff = (uint32_t)(l4[12] >> 4) * 4;

			FUZZ_CHECK(doff >= 20 && f->l4_off + doff <= (uint32_t)f->l3_off + f->l3_len);
			FUZZ_CHECK(f->tcp_flags == l4[13]);
			FUZZ_CHECK(!((f->tcp_flags & CNM_TCP_SYN) &&
				     (f->tcp_flags & (CNM_TCP_FIN | CNM_TCP_RST))));
		} else {
			FUZZ_CHECK(f->tcp_flags == 0);
		}
	} else {
		/* a whole TCP or UDP datagram always carries its ports, or is dropped */
		FUZZ_CHECK(f->key.proto != IPPROTO_TCP && f->key.proto != IPPROTO_UDP);
		FUZZ_CHECK(f->sport == 0 && f->key.port == 0 && f->tcp_flags == 0);
		if (f->l4_off != 0 && f->key.family == AF_INET)
			FUZZ_CHECK(is_icmp(f, ip));
	}
}

/* The service a flow belongs to, found the slow way from the configuration:
 * first table (vip, proto, port), then second table (vip, proto). */
static int
ref_service(const struct cnm_config *cfg, const struct cnm_flow *f)
{
	uint32_t i, j;

	for (i = 0; i < cfg->n_services; i++) {
		const struct cnm_cfg_service *c = &cfg->services[i];

		if (c->policy == CNM_POLICY_STICKY_WILD || c->vip.family != f->key.family ||
				memcmp(c->vip.bytes, f->key.addr, 16) != 0)
			continue;
		for (j = 0; j < c->n_ports; j++)
			if (c->ports[j].proto == f->key.proto &&
					htons(c->ports[j].port) == f->key.port)
				return (int)i;
	}
	for (i = 0; i < cfg->n_services; i++) {
		const struct cnm_cfg_service *c = &cfg->services[i];

		if (c->policy != CNM_POLICY_STICKY_WILD || c->vip.family != f->key.family ||
				memcmp(c->vip.bytes, f->key.addr, 16) != 0)
			continue;
		if ((f->key.proto == IPPROTO_TCP && (c->protocols & CNM_PROTO_BIT_TCP)) ||
				(f->key.proto == IPPROTO_UDP && (c->protocols & CNM_PROTO_BIT_UDP)))
			return (int)i;
	}
	return -1;
}

static void
check_decision(const struct variant *v, const struct cnm_flow *f)
{
	const struct cnm_lb_view *lb = cnm_lb_view(v->lb);
	struct cnm_decision d, d2;
	struct cnm_flow g;
	int ref;

	memset(&d, 0xa5, sizeof(d));
	cnm_decide(lb, f, &d);
	FUZZ_CHECK(d.verdict <= CNM_V_REPLY);
	if (f->kind == CNM_PKT_ARP) {
		FUZZ_CHECK(d.svc == -1);
		FUZZ_CHECK(f->arp_sha_group <= 1 && (f->arp_op != 0 || !f->arp_sha_group));
		if (f->arp_sha_group)
			FUZZ_CHECK(d.verdict == CNM_V_DROP && d.reason == CNM_DROP_ARP_SENDER);
		else if (f->arp_op == 1 && cnm_lb_arp_owned(lb, f->key.addr))
			FUZZ_CHECK(d.verdict == CNM_V_REPLY && d.reply == CNM_REPLY_ARP);
		else if (lb->has_local)
			FUZZ_CHECK(d.verdict == CNM_V_LOCAL);
		else
			FUZZ_CHECK(d.verdict == CNM_V_DROP && d.reason == CNM_DROP_NO_SERVICE);
		return;
	}
	if (f->kind == CNM_PKT_ND) {
		/* the IPv6 half of ARP: answered or to the host, never to a node */
		FUZZ_CHECK(d.svc == -1);
		if (f->icmp_type == 135 && cnm_lb_nd_owned(lb, f->key.addr))
			FUZZ_CHECK(d.verdict == CNM_V_REPLY && d.reply == CNM_REPLY_NA);
		else if (lb->has_local)
			FUZZ_CHECK(d.verdict == CNM_V_LOCAL);
		else
			FUZZ_CHECK(d.verdict == CNM_V_DROP && d.reason == CNM_DROP_NO_SERVICE);
		return;
	}
	ref = ref_service(v->cfg, f);
	if (d.verdict == CNM_V_DROP && d.reason == CNM_DROP_MARTIAN_SRC) {
		/* the VIP as source, to a service of its own: not its traffic */
		FUZZ_CHECK(d.svc == -1 && ref >= 0 && !f->icmp_err &&
			   memcmp(f->src, f->key.addr, 16) == 0);
		return;
	}
	if (d.verdict == CNM_V_DROP && d.reason == CNM_DROP_FRAGMENT) {
		/* a later fragment of a port-keyed protocol, its first unseen */
		FUZZ_CHECK(d.svc == -1 && f->frag == CNM_FRAG_LATER &&
			   cnm_lb_is_vip(lb, f->key.family, f->key.addr));
		return;
	}
	if (d.verdict == CNM_V_REPLY) {
		/* an echo request to a VIP with no service of its own */
		FUZZ_CHECK(d.svc == -1 && ref < 0 && d.reply == CNM_REPLY_ECHO &&
			   (f->icmp_type == CNM_ICMP_ECHO_REQUEST ||
			    f->icmp_type == CNM_ICMP6_ECHO_REQUEST) &&
			   cnm_lb_is_vip(lb, f->key.family, f->key.addr));
		return;
	}
	/* service ids are the configuration's indexes when built at start-up */
	FUZZ_CHECK(d.svc == ref);
	switch (d.verdict) {
	case CNM_V_FORWARD: {
		const struct cnm_svc *s;

		FUZZ_CHECK(d.reason == CNM_DROP_NONE);
		FUZZ_CHECK(d.svc >= 0 && (uint32_t)d.svc < cnm_lb_svc_end(v->lb));
		s = lb->svc[d.svc];
		FUZZ_CHECK(s != NULL);
		FUZZ_CHECK(d.node < cnm_lb_node_end(v->lb));
		FUZZ_CHECK(lb->node[d.node].used && lb->node[d.node].up);
		FUZZ_CHECK(lb->node[d.node].mac != 0);
		FUZZ_CHECK(fuzz_member_weighted(cnm_lb_svc_cfg(v->lb, (uint32_t)d.svc), d.node));
		/* one client, one node: sticky policies ignore the source port */
		if (s->policy != CNM_POLICY_WEIGHTED) {
			g = *f;
			g.sport = (uint16_t)~f->sport;
			g.tcp_flags ^= CNM_TCP_ACK;
			cnm_decide(lb, &g, &d2);
			FUZZ_CHECK(d2.verdict == CNM_V_FORWARD && d2.node == d.node &&
				   d2.svc == d.svc);
		}
		break;
	}
	case CNM_V_DEFAULT:
		FUZZ_CHECK(d.svc == -1 && d.reason == CNM_DROP_NONE);
		FUZZ_CHECK(!lb->has_local && lb->default_node >= 0);
		FUZZ_CHECK(d.node == (uint16_t)lb->default_node);
		break;
	case CNM_V_LOCAL:
		FUZZ_CHECK(d.svc == -1 && d.reason == CNM_DROP_NONE);
		FUZZ_CHECK(lb->has_local);
		break;
	case CNM_V_DROP:
		if (d.svc >= 0) {
			FUZZ_CHECK(d.reason == CNM_DROP_NO_ACTIVE_NODE);
			FUZZ_CHECK(lb->svc[d.svc]->pdt->n_active == 0);
		} else {
			FUZZ_CHECK(d.reason == CNM_DROP_NO_SERVICE);
			FUZZ_CHECK(!lb->has_local && lb->default_node < 0);
		}
		break;
	}
	/* the decision is a pure function of the flow */
	cnm_decide(lb, f, &d2);
	FUZZ_CHECK(d2.verdict == d.verdict && d2.svc == d.svc && d2.reason == d.reason);
	if (d.verdict == CNM_V_FORWARD || d.verdict == CNM_V_DEFAULT)
		FUZZ_CHECK(d2.node == d.node);
}

#ifndef FUZZ_PACKET_CHECKS_ONLY
/* (fuzz_burst.c includes this file for its tables and checks, with
 * FUZZ_PACKET_CHECKS_ONLY defined, and has its own entry point) */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cnm_flow f, fs;
	enum cnm_drop r, rs;
	uint32_t caplen, wirelen;
	uint8_t *head;
	unsigned int i;

	if (size > 65535)
		return 0;
	/* whole frame */
	r = cnm_parse(data, (uint32_t)size, (uint32_t)size, &f);
	FUZZ_CHECK(r < CNM_DROP_MAX);
	if (r == CNM_DROP_NONE)
		check_flow(data, (uint32_t)size, (uint32_t)size, &f);

	/* first segment only, the rest of the chain not readable */
	caplen = size < CNM_PARSE_HDR_MAX ? (uint32_t)size : CNM_PARSE_HDR_MAX;
	wirelen = (uint32_t)size + (size > 0 ? (uint32_t)data[size - 1] * 16u : 0);
	head = malloc(caplen ? caplen : 1);
	if (head == NULL)
		return 0;
	if (caplen > 0)
		memcpy(head, data, caplen);
	rs = cnm_parse(head, caplen, wirelen, &fs);
	FUZZ_CHECK(rs < CNM_DROP_MAX);
	if (rs == CNM_DROP_NONE)
		check_flow(head, caplen, wirelen, &fs);
	/* the same headers with the same lengths: the same answer */
	if (wirelen == size && rs == CNM_DROP_NONE) {
		FUZZ_CHECK(r == CNM_DROP_NONE);
		FUZZ_CHECK(memcmp(&f, &fs, sizeof(f)) == 0);
	}
	if (wirelen == size && r != CNM_DROP_NONE && caplen == size)
		FUZZ_CHECK(rs == r);
	/* a frame whose headers are fine but lie past the bytes the data path
	 * reads is dropped for that reason, not as malformed (when the parser
	 * has the reason) */
	if (wirelen == size && r == CNM_DROP_NONE && rs != CNM_DROP_NONE && too_long != CNM_DROP_MAX)
		FUZZ_CHECK(rs == too_long);
	free(head);

	for (i = 0; i < FUZZ_DIM(variants); i++) {
		if (r == CNM_DROP_NONE)
			check_decision(&variants[i], &f);
		if (rs == CNM_DROP_NONE)
			check_decision(&variants[i], &fs);
	}
	return 0;
}
#endif /* FUZZ_PACKET_CHECKS_ONLY */
