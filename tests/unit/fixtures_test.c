/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fixture table (tests/fixtures/fixtures.py, generated into
 * fixtures_table.h) through exactly what a worker runs: cnm_pkt_parse() and
 * cnm_decide_burst() on the tables of the row's configuration (built by
 * cnm_config_parse() + cnm_lb_create() as cnmux builds them), with a
 * worker's decision state per configuration (service lookup cache, fragment
 * cache, forwarding list) kept from row to row, in table order, as a replay
 * keeps it: a later fragment follows the first fragment of an earlier row.
 * Every row, the "burst path" ones included (fragments, echo and ARP
 * replies, the VIP as source, header checksums), gets its verdict here; the
 * same table also runs through the binary (tests/fixtures/run_fixtures.sh).
 *
 * Every row runs twice more as a multi-segment mbuf does in the data path:
 * the frame in two buffers, the first CNM_PARSE_HDR_MAX bytes copied across
 * them into one header buffer (what rte_pktmbuf_read() does), parsed with
 * caplen = those bytes and wirelen = the whole frame. The result must be the
 * same as from the contiguous frame.
 *
 * Every forwarded row also says where its IP packet ends (its header's
 * length, computed by the table): the parsed flow must say the same, and the
 * frame, put in a chain of 2048-byte mbufs as net_pcap does and rewritten by
 * the MAC method (drivers/mac), must leave whole: the node's MAC, tags
 * removed, the IP packet byte for byte, padding trimmed. That covers rows
 * too long for net_pcap (which keeps pkt_len in 16 bits), such as a 65,589-byte
 * IPv6 frame, whose IP packet (65,575 bytes) needs more than 16 bits.
 *
 * Every failure names the row.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>

#include "cnm_config.h"
#include "cnm_conntrack.h"
#include "cnm_parse.h"
#include "cnm_decide.h"
#include "cnm_fwd_mac.h"
#include "cnm_service.h"
#include "cnm_stats.h"

#include "fixtures_table.h"

#define DIM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const eal_args[] = {
	"fixtures_test", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
	"--file-prefix", "fx_test", "--log-level", "error", "-l", "0",
};

static struct cnm_config *fx_cfg[DIM(fx_configs)];
static struct cnm_lb *fx_lb[DIM(fx_configs)];

/* A worker's decision state, one per configuration, fresh for every pass. */
#define FX_CACHE_SLOTS 1024
#define FX_CONN_MAX 4096

struct fx_state {
	struct cnm_dstate ds;
	struct cnm_wstats st;
	struct cnm_svc_cache_ent cache[FX_CACHE_SLOTS];
	struct cnm_frag_ent frag[CNM_FRAG_SLOTS];
};

static struct fx_state *fx_st[DIM(fx_configs)];
static unsigned int fx_pass;

/* Fresh decision states for a pass over the table. */
static void
states_reset(void)
{
	struct cnm_ct_timeouts t = { .syn = 30000, .established = 300000, .closing = 10000 };
	unsigned int i;

	fx_pass++;
	for (i = 0; i < DIM(fx_configs); i++) {
		struct fx_state *s = fx_st[i];
		char name[32];

		if (s == NULL) {
			s = fx_st[i] = calloc(1, sizeof(*s));
			assert_non_null(s);
			assert_int_equal(cnm_wstats_init(&s->st), 0);
		}
		cnm_ct_free(s->ds.ct);
		memset(&s->ds, 0, sizeof(s->ds));
		memset(s->cache, 0, sizeof(s->cache));
		memset(s->frag, 0, sizeof(s->frag));
		s->ds.cache = s->cache;
		s->ds.cache_mask = FX_CACHE_SLOTS - 1;
		s->ds.frag = s->frag;
		s->ds.frag_mask = CNM_FRAG_SLOTS - 1;
		s->ds.st = &s->st;
		s->ds.now_ms = 1000;
		/* a forwarding list, as a worker has one, when the config asks */
		if (fx_cfg[i]->conn_max > 0) {
			snprintf(name, sizeof(name), "fxct%u_%u", i, fx_pass);
			s->ds.ct = cnm_ct_create(name, FX_CONN_MAX, SOCKET_ID_ANY, &t);
			assert_non_null(s->ds.ct);
		}
	}
}

static void
states_free(void)
{
	unsigned int i;

	for (i = 0; i < DIM(fx_configs); i++) {
		if (fx_st[i] == NULL)
			continue;
		cnm_ct_free(fx_st[i]->ds.ct);
		cnm_wstats_fini(&fx_st[i]->st);
		free(fx_st[i]);
		fx_st[i] = NULL;
	}
}

static const char *const verdict_name[] = {
	[FX_FORWARD] = "forward", [FX_DEFAULT] = "default", [FX_LOCAL] = "local",
	[FX_PUBLIC] = "public", [FX_DROP] = "drop",
};

static int
group_setup(void **state)
{
	/* EAL permutes argv and keeps pointers into it: a writable copy
	 * that lives as long as the process */
	static char buf[DIM(eal_args)][32];
	static char *argv[DIM(eal_args) + 1];
	char err[CNM_ERR_MAX];
	unsigned int i;
	int ret;

	(void)state;
	for (i = 0; i < DIM(eal_args); i++) {
		snprintf(buf[i], sizeof(buf[i]), "%s", eal_args[i]);
		argv[i] = buf[i];
	}
	ret = rte_eal_init((int)DIM(eal_args), argv);
	if (ret < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	for (i = 0; i < DIM(fx_configs); i++) {
		char name[16];

		err[0] = '\0';
		fx_cfg[i] = cnm_config_parse(fx_configs[i].json, strlen(fx_configs[i].json),
			fx_configs[i].name, err, sizeof(err));
		if (fx_cfg[i] == NULL) {
			fprintf(stderr, "configuration %s refused: %s\n", fx_configs[i].name, err);
			return -1;
		}
		snprintf(name, sizeof(name), "fx%u", i);
		fx_lb[i] = cnm_lb_create(fx_cfg[i], name, NULL);
		if (fx_lb[i] == NULL) {
			fprintf(stderr, "cnm_lb_create(%s): %s\n", fx_configs[i].name,
				rte_strerror(rte_errno));
			return -1;
		}
	}
	return 0;
}

static int
group_teardown(void **state)
{
	unsigned int i;

	(void)state;
	states_free();
	for (i = 0; i < DIM(fx_configs); i++) {
		cnm_lb_free(fx_lb[i]);
		cnm_config_free(fx_cfg[i]);
	}
	rte_eal_cleanup();
	return 0;
}

/* How the frame is handed to the parser. */
struct fx_view {
	const char *how;   /* named in failure messages */
	const uint8_t *p;
	uint32_t caplen;
	uint32_t wirelen;
};

/*
 * The data path's view of a frame held in two segments split at @split: the
 * first min(len, CNM_PARSE_HDR_MAX) bytes copied across both segments into
 * @hdr, as rte_pktmbuf_read() does for a multi-segment mbuf.
 */
static void
segmented(const struct fx_row *r, uint32_t split, uint8_t **seg1, uint8_t **seg2,
		uint8_t hdr[CNM_PARSE_HDR_MAX], struct fx_view *v)
{
	uint32_t n1 = split < r->len ? split : r->len;
	uint32_t n2 = r->len - n1;
	uint32_t cap = r->len < CNM_PARSE_HDR_MAX ? r->len : CNM_PARSE_HDR_MAX;
	uint32_t c1 = cap < n1 ? cap : n1;

	/* separate allocations, so that reading past a segment is ASan's to see */
	*seg1 = malloc(n1 ? n1 : 1);
	*seg2 = malloc(n2 ? n2 : 1);
	assert_non_null(*seg1);
	assert_non_null(*seg2);
	memcpy(*seg1, r->frame, n1);
	memcpy(*seg2, r->frame + n1, n2);
	memcpy(hdr, *seg1, c1);
	memcpy(hdr + c1, *seg2, cap - c1);
	v->p = hdr;
	v->caplen = cap;
	v->wirelen = r->len;
}

static const char *
node_name(const struct cnm_lb *lb, uint16_t id)
{
	const struct cnm_cfg_node *c = cnm_lb_node_cfg(lb, id);

	return c != NULL ? c->name : "(no node)";
}

/* Where the IP packet of a parsed frame ends, as the flow says. */
static uint32_t
pkt_ip_end(const struct cnm_pkt *pk)
{
	if (pk->shape == CNM_SHAPE_FAST4)
		return 14u + pk->r.tot;
	return (uint32_t)pk->f.l3_off + pk->f.l3_len;
}

/* Check one row through one view; returns the number of failures. The parsed
 * frame and its decision in @p pk_out, @p d_out when not NULL. */
static unsigned int
check_row(unsigned int i, const struct fx_view *v, struct cnm_flow *out, struct cnm_pkt *pk_out,
		struct cnm_decision *d_out)
{
	const struct fx_row *r = &fx_rows[i];
	const struct cnm_lb *lb = fx_lb[r->cfg];
	struct fx_state *st = fx_st[r->cfg];
	struct cnm_decision d;
	struct cnm_pkt pk;
	int verdict;
	const char *node = NULL;
	int reason = CNM_DROP_NONE;

	/* what a worker does with a frame: parse it, decide it */
	memset(&pk, 0, sizeof(pk));
	cnm_pkt_parse(v->p, v->caplen, v->wirelen, fx_cfg[r->cfg]->verify_checksum,
		CNM_CSUM_UNKNOWN, &pk);
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
		if (pk.shape == CNM_SHAPE_FLOW)
			*out = pk.f;
		else if (pk.shape == CNM_SHAPE_FAST4 && cnm_parse(v->p, v->caplen, v->wirelen,
				out) != CNM_DROP_NONE)
			fail_msg("row %u: the fast shape and cnm_parse() disagree", i);
	}
	cnm_decide_burst(cnm_lb_view(lb), &st->ds, &pk, 1, &d);
	if (pk_out != NULL)
		*pk_out = pk;
	if (d_out != NULL)
		*d_out = d;
	switch (d.verdict) {
	case CNM_V_FORWARD:
		verdict = FX_FORWARD;
		node = node_name(lb, d.node);
		break;
	case CNM_V_DEFAULT:
		verdict = FX_DEFAULT;
		node = node_name(lb, d.node);
		break;
	case CNM_V_LOCAL:
		verdict = FX_LOCAL;
		break;
	case CNM_V_REPLY:
		verdict = FX_PUBLIC;
		break;
	default:
		verdict = FX_DROP;
		reason = d.reason;
		break;
	}
	if (verdict != r->verdict ||
			(verdict == FX_DROP && reason != r->drop_reason) ||
			((verdict == FX_FORWARD || verdict == FX_DEFAULT) &&
			 r->node != NULL && strcmp(node, r->node) != 0)) {
		print_error("row %u \"%s\" (%s, %s): expected %s%s%s, got %s%s%s\n", i, r->desc,
			fx_configs[r->cfg].name, v->how,
			verdict_name[r->verdict],
			r->verdict == FX_DROP ? " " : r->node ? " to " : "",
			r->verdict == FX_DROP ? cnm_drop_name(r->drop_reason) :
				r->node ? r->node : "",
			verdict_name[verdict],
			verdict == FX_DROP ? " " : node ? " to " : "",
			verdict == FX_DROP ? cnm_drop_name(reason) : node ? node : "");
		return 1;
	}
	/* what leaves for a node is the IP packet its header describes */
	if ((verdict == FX_FORWARD || verdict == FX_DEFAULT) && r->l3 != 0 &&
			pkt_ip_end(&pk) != r->ip_end) {
		print_error("row %u \"%s\" (%s, %s): the flow says the IP packet ends at byte "
			"%u, its header at %u\n", i, r->desc, fx_configs[r->cfg].name, v->how,
			pkt_ip_end(&pk), r->ip_end);
		return 1;
	}
	return 0;
}

/* Every row, contiguous: the table's verdict, node and drop reason. */
static void
test_fixture_table(void **state)
{
	struct fx_view v = { .how = "contiguous" };
	unsigned int i, bad = 0, pure = 0;

	(void)state;
	states_reset();
	for (i = 0; i < DIM(fx_rows); i++) {
		/* as the data path: the first 256 bytes of the frame at most */
		v.p = fx_rows[i].frame;
		v.caplen = RTE_MIN(fx_rows[i].len, (uint32_t)CNM_PARSE_HDR_MAX);
		v.wirelen = fx_rows[i].len;
		bad += check_row(i, &v, NULL, NULL, NULL);
		pure += !fx_rows[i].burst;
	}
	print_message("fixtures: %u rows, every one through cnm_pkt_parse() + cnm_decide_burst() "
		"(%u of them need the state of earlier rows or a burst-path rule)\n",
		(unsigned int)DIM(fx_rows), (unsigned int)DIM(fx_rows) - pure);
	if (bad != 0)
		fail_msg("%u of %u rows failed", bad, (unsigned int)DIM(fx_rows));
}

/*
 * Every row as a two-segment mbuf, split after the Ethernet header, inside
 * the IP header and at 100 bytes: the verdict must not change, and the parsed
 * flow must be the one the contiguous frame gives.
 */
static void
test_fixture_table_segmented(void **state)
{
	static const uint32_t splits[] = { 14, 30, 100 };
	unsigned int i, s, bad = 0, long_rows = 0;

	(void)state;
	states_reset();
	for (i = 0; i < DIM(fx_rows); i++) {
		const struct fx_row *r = &fx_rows[i];
		struct cnm_flow whole, seg;
		struct fx_view c = { .how = "contiguous", .p = r->frame,
			.caplen = RTE_MIN(r->len, (uint32_t)CNM_PARSE_HDR_MAX), .wirelen = r->len };
		enum cnm_drop rw;

		rw = cnm_parse(c.p, c.caplen, c.wirelen, &whole);
		long_rows += r->len > CNM_PARSE_HDR_MAX;
		for (s = 0; s < DIM(splits); s++) {
			uint8_t hdr[CNM_PARSE_HDR_MAX];
			uint8_t *s1, *s2;
			char how[64];
			struct fx_view v;
			enum cnm_drop rs;

			snprintf(how, sizeof(how), "two segments split at %u, %u header bytes read",
				splits[s], r->len < CNM_PARSE_HDR_MAX ? r->len : CNM_PARSE_HDR_MAX);
			v.how = how;
			segmented(r, splits[s], &s1, &s2, hdr, &v);
			bad += check_row(i, &v, NULL, NULL, NULL);
			rs = cnm_parse(v.p, v.caplen, v.wirelen, &seg);
			if (rs != rw) {
				print_error("row %u \"%s\" (%s): cnm_parse() says %s, contiguous %s\n",
					i, r->desc, how, cnm_drop_name(rs), cnm_drop_name(rw));
				bad++;
			} else if (rs == CNM_DROP_NONE && memcmp(&seg, &whole, sizeof(seg)) != 0) {
				print_error("row %u \"%s\" (%s): the parsed flow differs from the "
					"contiguous frame's\n", i, r->desc, how);
				bad++;
			}
			free(s1);
			free(s2);
		}
	}
	print_message("fixtures: %u rows in two segments, %u of them longer than %u bytes\n",
		(unsigned int)DIM(fx_rows), long_rows, CNM_PARSE_HDR_MAX);
	assert_true(long_rows >= 3);
	if (bad != 0)
		fail_msg("%u segmented checks failed", bad);
}

/* A chain of mbufs holding @p len bytes of @p p, @p room bytes a segment
 * (as net_pcap's RX builds one for a long frame). */
static struct rte_mbuf *
chain_of(struct rte_mempool *mp, const uint8_t *p, uint32_t len, uint16_t room)
{
	struct rte_mbuf *head = NULL, *last = NULL;
	uint32_t off = 0;

	do {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		uint16_t n = (uint16_t)RTE_MIN(len - off, (uint32_t)room);

		assert_non_null(m);
		memcpy(rte_pktmbuf_mtod(m, uint8_t *), p + off, n);
		m->data_len = n;
		if (head == NULL) {
			head = m;
		} else {
			last->next = m;
			head->nb_segs++;
		}
		head->pkt_len += n;
		last = m;
		off += n;
	} while (off < len);
	return head;
}

/*
 * Every forwarded row as the worker sends it with the MAC method: the frame
 * in a chain of 2048-byte mbufs, its first CNM_PARSE_HDR_MAX bytes read
 * across them (classify()), decided with the state of the rows before it,
 * rewritten (cnm_macrewrite(), or cnm_macrewrite_untagged() for the fast
 * shape). What leaves: the node's MAC, the port's MAC, the IP packet's
 * ethertype, the IP packet whole, nothing after it.
 */
static void
test_fixture_forward_mbufs(void **state)
{
	static const struct rte_ether_addr port_mac = { { 0x02, 0xcc, 0, 0, 0, 1 } };
	static uint8_t out[70000];
	struct rte_mempool *mp;
	unsigned int i, bad = 0, n = 0, longest = 0;

	(void)state;
	mp = rte_pktmbuf_pool_create("fx_mbufs", 255, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM,
		SOCKET_ID_ANY);
	assert_non_null(mp);
	states_reset();
	for (i = 0; i < DIM(fx_rows); i++) {
		const struct fx_row *r = &fx_rows[i];
		const struct cnm_lb *lb = fx_lb[r->cfg];
		struct rte_mbuf *m = chain_of(mp, r->frame, r->len, 2048);
		uint8_t hdr[CNM_PARSE_HDR_MAX];
		uint32_t cap = RTE_MIN(r->len, (uint32_t)CNM_PARSE_HDR_MAX), keep;
		struct fx_view v = { .how = "mbuf chain", .caplen = cap, .wirelen = r->len };
		struct cnm_decision d;
		struct cnm_pkt pk;
		const uint8_t *o;
		uint64_t mac;

		v.p = rte_pktmbuf_read(m, 0, cap, hdr);
		assert_non_null(v.p);
		bad += check_row(i, &v, NULL, &pk, &d);
		if ((d.verdict != CNM_V_FORWARD && d.verdict != CNM_V_DEFAULT) || r->l3 == 0 ||
				(r->verdict != FX_FORWARD && r->verdict != FX_DEFAULT)) {
			rte_pktmbuf_free(m);
			continue;
		}
		mac = cnm_lb_node(lb, d.node)->mac;
		if (pk.shape == CNM_SHAPE_FAST4)
			cnm_macrewrite_untagged(m, 14u + pk.r.tot, mac, &port_mac);
		else
			assert_int_equal(cnm_macrewrite(m, &pk.f, mac, &port_mac), 0);
		keep = 14 + r->ip_end - r->l3;
		n++;
		longest = RTE_MAX(longest, rte_pktmbuf_pkt_len(m));
		o = rte_pktmbuf_read(m, 0, RTE_MIN(rte_pktmbuf_pkt_len(m), (uint32_t)sizeof(out)),
			out);
		if (rte_pktmbuf_pkt_len(m) != keep || o == NULL ||
				memcmp(o, &mac, 6) != 0 || memcmp(o + 6, &port_mac, 6) != 0 ||
				memcmp(o + 12, r->frame + r->l3 - 2, 2) != 0 ||
				memcmp(o + 14, r->frame + r->l3, keep - 14) != 0) {
			print_error("row %u \"%s\": sent %u bytes (%u segments), expected the "
				"%u-byte IP packet behind a new Ethernet header (%u bytes)%s\n", i,
				r->desc, rte_pktmbuf_pkt_len(m), m->nb_segs, r->ip_end - r->l3, keep,
				rte_pktmbuf_pkt_len(m) == keep ? ", bytes differ" : "");
			bad++;
		}
		rte_pktmbuf_free(m);
	}
	print_message("fixtures: %u forwarded rows rewritten on mbuf chains, the longest %u bytes\n",
		n, longest);
	assert_int_equal(rte_mempool_full(mp), 1);
	rte_mempool_free(mp);
	if (bad != 0)
		fail_msg("%u rows failed on mbuf chains", bad);
}

/* The table covers every drop reason a single frame can trigger. */
static void
test_fixture_coverage(void **state)
{
	/* reasons one frame cannot trigger through a pcap replay: they need a
	 * full TX queue, an unresolved node or a link down */
	static const int elsewhere[] = {
		CNM_DROP_TX_FULL, CNM_DROP_NODE_UNRESOLVED, CNM_DROP_LINK_DOWN,
		/* made by a tunnel method, after the decision: pcaps/tunnel_* */
		CNM_DROP_TUNNEL_MTU, CNM_DROP_NO_TUNNEL_SOURCE,
	};
	int seen[CNM_DROP_MAX] = { 0 };
	int verdicts[FX_DROP + 1] = { 0 };
	unsigned int i, missing = 0;
	int r;

	(void)state;
	for (i = 0; i < DIM(fx_rows); i++) {
		verdicts[fx_rows[i].verdict]++;
		if (fx_rows[i].verdict == FX_DROP)
			seen[fx_rows[i].drop_reason]++;
	}
	for (i = 0; i < DIM(elsewhere); i++)
		seen[elsewhere[i]] = -1;
	for (r = CNM_DROP_NONE + 1; r < CNM_DROP_MAX; r++) {
		if (seen[r] == 0) {
			print_error("no row for drop reason %s\n", cnm_drop_name((enum cnm_drop)r));
			missing++;
		}
	}
	for (r = 0; r <= FX_DROP; r++) {
		if (verdicts[r] == 0) {
			print_error("no row with verdict %s\n", verdict_name[r]);
			missing++;
		}
	}
	assert_int_equal(missing, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_coverage),
		cmocka_unit_test(test_fixture_table),
		cmocka_unit_test(test_fixture_table_segmented),
		cmocka_unit_test(test_fixture_forward_mbufs),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
