/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the tunnels' fast shape (drivers/tunnel: cnm_tunnel_tmpl4(),
 * cnm_tunnel_push4()) and of how lib/service keeps the nodes' templates.
 *
 * The worker sends an untagged IPv4 frame without options to an ipip or gue
 * node by copying the node's template and filling in what depends on the
 * packet; every other frame goes through the method's encap
 * (cnm_tunnel_push()), which the golden cases (pcaps/tunnel_*) check against
 * scapy. Here the two are held to each other on real mbufs: for random
 * frames, around the MTU boundary, with and without DF, with Ethernet
 * padding, over several segments, for each source prefix length, the fast
 * push either writes the very bytes encap writes, or declines (too big, too
 * little headroom) and leaves the frame as it was, exactly when encap would
 * not forward it. One frame is also checked field by field against
 * docs/forwarding.md, without either path's code, and the checksum fold
 * both paths use (cnm_csum_fold64()) against RFC 1071's as it reads.
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

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "cnm_config.h"
#include "cnm_csum.h"
#include "cnm_fwd.h"
#include "cnm_service.h"
#include "cnm_stats.h"
#include "cnm_tunnel.h"

#define DIM(a) (sizeof(a) / sizeof((a)[0]))
#define FRAME_MAX 1600u
#define SEG_ROOM 1024u   /* data room of a segment: larger frames span two or more */

static const char *const eal_args[] = {
	"tunnel_test", "--no-huge", "-m", "64", "--no-pci", "--no-shconf",
	"--file-prefix", "tunnel_test", "--log-level", "error", "-l", "0",
};

static struct rte_mempool *pool;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	/* xorshift64*: deterministic, so a failure repeats */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

static const uint8_t DMAC[6] = { 0x02, 0x00, 0xc0, 0x00, 0x02, 0x29 };
static const struct rte_ether_addr SMAC = { { 0x02, 0x70, 0x63, 0x61, 0x70, 0x01 } };

/* ---- frames ---- */

static uint16_t
csum16(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0, i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/*
 * An untagged IPv4 frame of the fast shape into @p f: Ethernet, a 20-byte
 * IPv4 header (@p tos, @p id, DF when @p df, a random TTL), TCP or UDP and
 * a payload, @p tot bytes of IP packet, then @p pad bytes of Ethernet
 * padding. Returns the frame's length.
 */
static uint32_t
frame4(uint8_t *f, uint32_t tot, uint8_t tos, uint16_t id, int df, uint32_t pad)
{
	uint8_t *ip = f + 14, *l4 = ip + 20;
	int tcp = rnd() & 1;
	uint32_t i;

	memcpy(f, "\x02\x70\x63\x61\x70\x00", 6);
	for (i = 6; i < 12; i++)
		f[i] = (uint8_t)rnd();
	f[6] &= 0xfe;
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[1] = tos;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[4] = (uint8_t)(id >> 8);
	ip[5] = (uint8_t)id;
	ip[6] = df ? 0x40 : 0;
	ip[8] = (uint8_t)(2 + rnd() % 250);
	ip[9] = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	ip[12] = 203;
	ip[13] = 0;
	ip[14] = 113;
	ip[15] = (uint8_t)(1 + rnd() % 250);
	ip[16] = 198;
	ip[17] = 51;
	ip[18] = 100;
	ip[19] = 40;
	for (i = 20; i < tot; i++)
		ip[i] = (uint8_t)rnd();
	l4[0] = (uint8_t)(1 + rnd() % 255);    /* a source port, not 0 */
	l4[2] = 0;
	l4[3] = 80;
	if (tcp)
		l4[12] = 0x50;
	else {
		l4[4] = (uint8_t)((tot - 20) >> 8);
		l4[5] = (uint8_t)(tot - 20);
	}
	i = csum16(ip, 20);
	ip[10] = (uint8_t)(i >> 8);
	ip[11] = (uint8_t)i;
	for (i = 0; i < pad; i++)
		f[14 + tot + i] = (uint8_t)rnd();
	return 14 + tot + pad;
}

/* An mbuf chain holding @p f: segments of @p seg bytes (the last one less),
 * the first one's data after @p headroom bytes. */
static struct rte_mbuf *
mbuf_of(const uint8_t *f, uint32_t len, uint32_t seg, uint16_t headroom)
{
	struct rte_mbuf *head = NULL;
	uint32_t off = 0;

	while (off < len) {
		uint32_t k = RTE_MIN(seg, len - off);
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		char *p;

		assert_non_null(m);
		if (head == NULL)
			m->data_off = headroom;
		p = rte_pktmbuf_append(m, (uint16_t)k);
		assert_non_null(p);
		memcpy(p, f + off, k);
		if (head == NULL)
			head = m;
		else
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
		off += k;
	}
	return head;
}

/* The bytes of @p m into @p out; its length. */
static uint32_t
bytes_of(const struct rte_mbuf *m, uint8_t *out)
{
	uint32_t len = rte_pktmbuf_pkt_len(m), n = 0;
	const struct rte_mbuf *s;

	for (s = m; s != NULL; s = s->next) {
		memcpy(out + n, rte_pktmbuf_mtod(s, const uint8_t *), s->data_len);
		n += s->data_len;
	}
	assert_int_equal(n, len);
	return len;
}

/* ---- the fast push against the methods' encap ---- */

struct setting {
	const char *src4;   /* tunnel.source4 */
	uint32_t plen;      /* its prefix length */
	uint32_t mtu;
};

static void
conf_of(struct cnm_fwd_conf *c, const struct setting *s)
{
	memset(c, 0, sizeof(*c));
	assert_int_equal(inet_pton(AF_INET, s->src4, c->src4), 1);
	c->src4_bits = 32 - s->plen;
	c->has_src4 = 1;
	c->mtu = s->mtu;
}

static void
node4(struct cnm_fwd_node *n, const char *ip, uint16_t gue_port)
{
	memset(n, 0, sizeof(*n));
	assert_int_equal(inet_pton(AF_INET, ip, n->dst), 1);
	n->family = AF_INET;
	n->gue_port = htons(gue_port);
}

/*
 * One frame through both paths. @return 1 when the fast push took it.
 */
static int
one(const struct cnm_fwd_ops *ops, const struct cnm_fwd_node *n, const struct cnm_fwd_conf *c,
		const struct cnm_fwd_tmpl *t, uint32_t tot, int df, uint32_t pad, uint32_t seg,
		uint16_t headroom)
{
	static uint8_t f[FRAME_MAX + 64], a[FRAME_MAX + 128], b[FRAME_MAX + 128];
	uint32_t len = frame4(f, tot, (uint8_t)rnd(), (uint16_t)rnd(), df, pad);
	uint32_t e = rnd(), alen, blen;
	struct rte_mbuf *ma = mbuf_of(f, len, seg, headroom);
	struct rte_mbuf *mb = mbuf_of(f, len, seg, headroom);
	struct cnm_fwd_pkt pk = { .l3_off = 14, .l3_len = tot, .entropy = e, .family = AF_INET };
	uint64_t dmac = 0;
	int ra, rb;

	memcpy(&dmac, DMAC, 6);
	ra = ops->encap(ma, &pk, n, c, dmac, &SMAC);
	rb = cnm_tunnel_push4(mb, 14 + tot, t, t->len, e, dmac, &SMAC);
	alen = bytes_of(ma, a);
	blen = bytes_of(mb, b);
	if (rb == 0) {
		/* taken: what encap sends, byte for byte, in the same mbuf shape */
		if (ra != CNM_FWD_OK)
			fail_msg("%s: the fast push sent a frame (tot %u, mtu %u) encap did not (%d)",
				 ops->name, tot, c->mtu, ra);
		assert_int_equal(blen, alen);
		assert_memory_equal(b, a, alen);
		assert_int_equal(mb->data_off, ma->data_off);
		assert_int_equal(mb->nb_segs, ma->nb_segs);
		assert_int_equal(mb->data_len, ma->data_len);
	} else {
		/* declined: untouched, and encap does not forward it either */
		assert_int_equal(rb, -1);
		assert_int_equal(blen, len);
		assert_memory_equal(b, f, len);
		assert_int_equal(mb->data_off, headroom);
		if (ra == CNM_FWD_OK)
			fail_msg("%s: the fast push declined a frame (tot %u, mtu %u, headroom %u) "
				 "encap sent", ops->name, tot, c->mtu, headroom);
	}
	rte_pktmbuf_free(ma);
	rte_pktmbuf_free(mb);
	return rb == 0;
}

static void
test_push4_is_encap(void **state)
{
	static const struct setting settings[] = {
		{ "192.0.2.1", 32, 1500 },
		{ "192.0.2.128", 28, 1500 },
		{ "192.0.2.77", 26, 1400 },
		{ "192.0.255.255", 20, 600 },
		{ "192.0.171.205", 17, 9000 },
		{ "10.1.2.3", 16, 576 },
	};
	static const char *const methods[] = { "ipip", "gue" };
	unsigned int si, mi, i, taken = 0, declined = 0;

	(void)state;
	for (mi = 0; mi < DIM(methods); mi++) {
		const struct cnm_fwd_ops *ops = cnm_fwd_find(methods[mi]);

		assert_non_null(ops);
		assert_non_null(ops->tmpl);
		for (si = 0; si < DIM(settings); si++) {
			struct cnm_fwd_conf c;
			struct cnm_fwd_node n;
			struct cnm_fwd_tmpl t;
			uint32_t limit;

			conf_of(&c, &settings[si]);
			node4(&n, "192.0.2.41", 6080 + si);
			memset(&t, 0, sizeof(t));
			ops->tmpl(&t, &n, &c);
			assert_int_equal(t.len, cnm_tunnel_overhead(&n, mi == 1 ? 8 : 0));
			/* the largest inner packet that fits, and around it */
			limit = c.mtu - t.len;
			for (i = 0; i < 400; i++) {
				uint32_t tot, pad = 0, seg = SEG_ROOM;
				uint16_t headroom = RTE_PKTMBUF_HEADROOM;
				int df = rnd() & 1;

				switch (i % 8) {
				case 0: tot = limit; break;
				case 1: tot = limit + 1; break;
				case 2: tot = limit - 1; break;
				case 3: tot = 40 + rnd() % 6; pad = 60 - 14 - tot; break;
				case 4: tot = 40 + rnd() % 1400; pad = rnd() % 8; break;
				case 5: tot = 100 + rnd() % 1400; seg = 54 + rnd() % 400; break;
				case 6: tot = 40 + rnd() % 200; headroom = (uint16_t)(rnd() % 40); break;
				default: tot = 40 + rnd() % 1460; break;
				}
				if (tot > 1500)
					tot = 1500 - (rnd() % 8);
				if (tot < 40)
					tot = 40;
				if (one(ops, &n, &c, &t, tot, df, pad, seg, headroom))
					taken++;
				else
					declined++;
			}
		}
	}
	/* both outcomes happened, many times */
	assert_true(taken > 2000);
	assert_true(declined > 300);
}

/* The frame of docs/forwarding.md's example, field by field: neither path's code. */
static void
test_push4_fields(void **state)
{
	static const struct setting s = { "192.0.2.128", 28, 1500 };
	static uint8_t f[256], o[256];
	const char *const methods[] = { "ipip", "gue" };
	const uint32_t e = 0x12345678u, tot = 120;
	unsigned int mi;
	int df;

	(void)state;
	for (mi = 0; mi < DIM(methods); mi++) {
		for (df = 0; df <= 1; df++) {
			const struct cnm_fwd_ops *ops = cnm_fwd_find(methods[mi]);
			uint32_t hl = mi == 1 ? 28 : 20, len, olen;
			struct cnm_fwd_conf c;
			struct cnm_fwd_node n;
			struct cnm_fwd_tmpl t;
			struct rte_mbuf *m;
			uint64_t dmac = 0;
			const uint8_t *ip;

			conf_of(&c, &s);
			node4(&n, "192.0.2.41", 7777);
			memset(&t, 0, sizeof(t));
			ops->tmpl(&t, &n, &c);
			len = frame4(f, tot, 0xb9, 0xbeef, df, 0);
			m = mbuf_of(f, len, SEG_ROOM, RTE_PKTMBUF_HEADROOM);
			memcpy(&dmac, DMAC, 6);
			assert_int_equal(cnm_tunnel_push4(m, 14 + tot, &t, t.len, e, dmac, &SMAC), 0);
			olen = bytes_of(m, o);
			assert_int_equal(olen, 14 + hl + tot);
			assert_memory_equal(o, DMAC, 6);
			assert_memory_equal(o + 6, SMAC.addr_bytes, 6);
			assert_int_equal(o[12] << 8 | o[13], 0x0800);
			ip = o + 14;
			assert_int_equal(ip[0], 0x45);
			assert_int_equal(ip[1], 0xb9);                      /* TOS copied */
			assert_int_equal(ip[2] << 8 | ip[3], hl + tot);      /* total length */
			assert_int_equal(ip[4] << 8 | ip[5], 0xbeef);        /* the inner ID */
			assert_int_equal(ip[6] << 8 | ip[7], df ? 0x4000 : 0); /* DF as the inner's */
			assert_int_equal(ip[8], 64);
			assert_int_equal(ip[9], mi == 1 ? IPPROTO_UDP : IPPROTO_IPIP);
			assert_int_equal(csum16(ip, 20), 0);               /* checksum right */
			/* /28: the low 4 bits of the source are e's (8), over .128 */
			assert_memory_equal(ip + 12, "\xc0\x00\x02\x88", 4);
			assert_memory_equal(ip + 16, "\xc0\x00\x02\x29", 4);
			if (mi == 1) {
				/* 49152 + (e & 0x3fff), gue_port, length, checksum 0 */
				assert_int_equal(ip[20] << 8 | ip[21], 49152 + (e & 0x3fff));
				assert_int_equal(ip[22] << 8 | ip[23], 7777);
				assert_int_equal(ip[24] << 8 | ip[25], 8 + tot);
				assert_int_equal(ip[26] << 8 | ip[27], 0);
			}
			assert_memory_equal(ip + hl, f + 14, tot);          /* the inner, intact */
			rte_pktmbuf_free(m);
		}
	}
}

/* The fold of RFC 1071 as it reads: the end-around carries one step at a
 * time (what cnm_csum_fold64() must equal) */
static uint16_t
fold_ref(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	return (uint16_t)~s;
}

/* cnm_csum_fold64() (the rotations) gives the reference's value for every
 * sum a header can have: each value below 2^22, sums of up to six random
 * 32-bit words, random 56-bit words (the push adds the inner header's
 * first 8 bytes as one, its top byte 0) with such a sum, and both sides
 * of every carry boundary of each half. */
static void
test_csum_fold64(void **state)
{
	uint64_t s, x = 0x9e3779b97f4a7c15u;
	unsigned int i, k, hi;

	(void)state;
	for (s = 1; s < (1u << 22); s++)
		if (cnm_csum_fold64(s) != fold_ref(s))
			fail_msg("s = 0x%llx: 0x%04x, expected 0x%04x", (unsigned long long)s,
				 cnm_csum_fold64(s), fold_ref(s));
	for (i = 0; i < 1000000; i++) {
		s = 0;
		for (k = 0; k <= i % 6; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			s += (uint32_t)x;
		}
		if (s != 0 && cnm_csum_fold64(s) != fold_ref(s))
			fail_msg("s = 0x%llx", (unsigned long long)s);
		s += x >> 8;
		if (s != 0 && cnm_csum_fold64(s) != fold_ref(s))
			fail_msg("s = 0x%llx (a 56-bit word in it)", (unsigned long long)s);
	}
	for (hi = 0; hi < 6; hi++) {
		for (k = 0; k < 0x20000; k++) {
			/* low word near 2^32 and near 2^16 multiples */
			s = (uint64_t)hi << 32 | (0xfffe0000u + k);
			assert_int_equal(cnm_csum_fold64(s), fold_ref(s));
			s = (uint64_t)hi << 32 | ((uint32_t)k << 15 | 0x7fff);
			if (s != 0)
				assert_int_equal(cnm_csum_fold64(s), fold_ref(s));
		}
	}
	assert_int_equal(cnm_csum_fold64(0), 0xffff);
}

/* No template where the outer header is not IPv4 or there is no source. */
static void
test_tmpl_none(void **state)
{
	static const struct setting s = { "192.0.2.1", 32, 1500 };
	struct cnm_fwd_conf c;
	struct cnm_fwd_node n;
	struct cnm_fwd_tmpl t;

	(void)state;
	conf_of(&c, &s);
	memset(&n, 0, sizeof(n));
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1::42", n.dst), 1);
	n.family = AF_INET6;
	memset(&t, 0, sizeof(t));
	cnm_fwd_find("ipip")->tmpl(&t, &n, &c);
	assert_int_equal(t.len, 0);
	cnm_fwd_find("gue")->tmpl(&t, &n, &c);
	assert_int_equal(t.len, 0);
	node4(&n, "192.0.2.41", 6080);
	c.has_src4 = 0;
	cnm_fwd_find("ipip")->tmpl(&t, &n, &c);
	assert_int_equal(t.len, 0);
	/* the MAC rewrite has none */
	assert_null(cnm_fwd_find("mac")->tmpl);
}

/* ---- lib/service keeps the templates ---- */

static struct cnm_config *
parse_q(const char *text)
{
	char err[CNM_ERR_MAX] = "";
	struct cnm_config *cfg;
	char *s = strdup(text);
	char *c;

	assert_non_null(s);
	for (c = s; *c != '\0'; c++)
		if (*c == '\'')
			*c = '"';
	cfg = cnm_config_parse(s, strlen(s), "t.json", err, sizeof(err));
	free(s);
	if (cfg == NULL)
		fail_msg("configuration refused: %s", err);
	return cfg;
}

#define TUN_CFG(tunnel) "{'ports': {'public': 'p0', 'private': ['p1']}, " \
	"'tunnel': " tunnel ", 'nodes': [" \
	"{'name': 'i4', 'ip': '192.0.2.41', 'mac': '02:00:c0:00:02:29', 'forward': 'ipip'}, " \
	"{'name': 'g4', 'ip': '192.0.2.42', 'mac': '02:00:c0:00:02:2a', 'forward': 'gue', " \
	" 'gue_port': 5555}, " \
	"{'name': 'i6', 'ip': '2001:db8:1::42', 'mac': '02:00:20:01:00:42', 'forward': 'ipip'}, " \
	"{'name': 'm1', 'ip': '192.0.2.11', 'mac': '02:00:c0:00:02:0b'}], " \
	"'services': [{'name': 'web', 'vip': '198.51.100.40', 'ports': ['80/tcp'], " \
	" 'policy': 'weighted', 'nodes': {'i4': 1, 'g4': 1, 'i6': 1, 'm1': 1}}]}"

static const struct cnm_fwd_tmpl *
tmpl_of(const struct cnm_lb *lb, const char *name)
{
	int id = cnm_lb_node_find(lb, name);

	assert_true(id >= 0);
	return &cnm_lb_view(lb)->tun[id].t4;
}

/* What cnm_tunnel_tmpl4() makes of the node's settings now: the lb's
 * template must be that, to the byte. */
static void
assert_tmpl_current(const struct cnm_lb *lb, const char *name)
{
	int id = cnm_lb_node_find(lb, name);
	const struct cnm_lb_view *v = cnm_lb_view(lb);
	const struct cnm_fwd_ops *ops = cnm_fwd_get(v->node[id].method);
	struct cnm_fwd_node n = v->tun[id];
	struct cnm_fwd_tmpl want;
	const struct cnm_fwd_tmpl *t = &v->tun[id].t4;

	memset(&want, 0, sizeof(want));
	if (ops->tmpl != NULL)
		ops->tmpl(&want, &n, &v->fwd);
	assert_memory_equal(t->hdr, want.hdr, sizeof(want.hdr));
	assert_int_equal(t->sum, want.sum);
	assert_int_equal(t->max_tot, want.max_tot);
	assert_int_equal(t->src_mask, want.src_mask);
	assert_int_equal(t->len, want.len);
	assert_int_equal(t->udp, want.udp);
}

static void
test_lb_templates(void **state)
{
	struct cnm_config *cfg = parse_q(TUN_CFG("{'source4': '192.0.2.128/28', "
		"'source6': '2001:db8:ff::1', 'mtu': 1400}"));
	struct cnm_config *cfg2 = parse_q(TUN_CFG("{'source4': '192.0.2.1', "
		"'source6': '2001:db8:ff::1', 'mtu': 9000}"));
	struct cnm_lb *lb = cnm_lb_create(cfg, "tun_t0", NULL);
	struct cnm_cfg_node add;
	struct cnm_cfg_tunnel none;
	int id;

	(void)state;
	assert_non_null(lb);
	assert_int_equal(tmpl_of(lb, "i4")->len, 20);
	assert_int_equal(tmpl_of(lb, "g4")->len, 28);
	assert_int_equal(tmpl_of(lb, "i6")->len, 0);   /* IPv6 outer: encap */
	assert_int_equal(tmpl_of(lb, "m1")->len, 0);   /* the MAC rewrite */
	assert_int_equal(tmpl_of(lb, "i4")->max_tot, 1380);
	assert_int_equal(tmpl_of(lb, "g4")->max_tot, 1372);
	assert_int_equal(tmpl_of(lb, "i4")->src_mask, 0xf);
	assert_int_equal(tmpl_of(lb, "g4")->hdr[22] << 8 | tmpl_of(lb, "g4")->hdr[23], 5555);
	assert_tmpl_current(lb, "i4");
	assert_tmpl_current(lb, "g4");

	/* a reload with other settings rebuilds them */
	cnm_lb_set_tunnel(lb, &cfg2->tunnel);
	assert_int_equal(tmpl_of(lb, "i4")->max_tot, 8980);
	assert_int_equal(tmpl_of(lb, "g4")->max_tot, 8972);
	assert_int_equal(tmpl_of(lb, "i4")->src_mask, 0);
	assert_memory_equal(tmpl_of(lb, "i4")->hdr + 12, "\xc0\x00\x02\x01", 4);
	assert_tmpl_current(lb, "i4");
	assert_tmpl_current(lb, "g4");
	/* the same again: nothing changes */
	cnm_lb_set_tunnel(lb, &cfg2->tunnel);
	assert_tmpl_current(lb, "i4");
	assert_int_equal(tmpl_of(lb, "i4")->len, 20);

	/* without an IPv4 source, no template (encap drops: no_tunnel_source) */
	none = cfg2->tunnel;
	memset(&none.source4, 0, sizeof(none.source4));
	cnm_lb_set_tunnel(lb, &none);
	assert_int_equal(tmpl_of(lb, "i4")->len, 0);
	assert_int_equal(tmpl_of(lb, "g4")->len, 0);
	cnm_lb_set_tunnel(lb, &cfg->tunnel);
	assert_int_equal(tmpl_of(lb, "i4")->len, 20);
	assert_tmpl_current(lb, "g4");

	/* a node added at run time gets its template */
	add = cfg->nodes[1];
	snprintf(add.name, sizeof(add.name), "g4new");
	add.ip.bytes[3] = 99;
	id = cnm_lb_node_add(lb, &add);
	assert_true(id >= 0);
	assert_int_equal(tmpl_of(lb, "g4new")->len, 28);
	assert_memory_equal(tmpl_of(lb, "g4new")->hdr + 16, "\xc0\x00\x02\x63", 4);
	assert_tmpl_current(lb, "g4new");

	cnm_lb_free(lb);
	cnm_config_free(cfg);
	cnm_config_free(cfg2);
}

/* ---- group setup ---- */

static int
group_setup(void **state)
{
	/* EAL permutes argv and keeps pointers into it: a writable copy
	 * that lives as long as the process */
	static char buf[DIM(eal_args)][32];
	static char *argv[DIM(eal_args) + 1];
	unsigned int i;

	(void)state;
	for (i = 0; i < DIM(eal_args); i++) {
		snprintf(buf[i], sizeof(buf[i]), "%s", eal_args[i]);
		argv[i] = buf[i];
	}
	if (rte_eal_init((int)DIM(eal_args), argv) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	pool = rte_pktmbuf_pool_create("tun_test", 255, 0, 0,
		(uint16_t)(RTE_PKTMBUF_HEADROOM + SEG_ROOM + 128), SOCKET_ID_ANY);
	if (pool == NULL) {
		fprintf(stderr, "rte_pktmbuf_pool_create: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_push4_is_encap),
		cmocka_unit_test(test_push4_fields),
		cmocka_unit_test(test_csum_fold64),
		cmocka_unit_test(test_tmpl_none),
		cmocka_unit_test(test_lb_templates),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
