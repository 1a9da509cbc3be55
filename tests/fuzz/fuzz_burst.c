/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: a burst of frames, each in several segments and up to
 * 128 KiB long, through what a worker runs: the first segment tried for the
 * fast shape (cnm_pkt_parse_fast()), else the first CNM_PARSE_HDR_MAX bytes
 * copied across the segments and parsed (classify_slow() in
 * lib/dataplane/dataplane.c), then one cnm_decide_burst() call with a
 * worker's decision state: lookup cache, fragment cache and, when the input
 * asks, a forwarding list, kept across the frames of the input (each input
 * starts from empty state).
 *
 * The input describes the burst:
 *   byte 0   bits 0-1 the tables (fuzz_packet.c's three variants: local
 *            port, default node, neither), bit 2 verify_checksum, bit 3 a
 *            forwarding list, bits 4-5 the NIC's checksum hint
 *   byte 1   the clock's step between bursts, ms
 *   then frames, each:
 *     u16 len    bits 0-14: bytes of the frame that follow (fewer if the
 *                input ends); bit 15: the burst ends with this frame (it
 *                also ends after CNM_DECIDE_MAX frames), so that later
 *                bursts meet what earlier ones put in the forwarding list
 *                and the fragment cache
 *     u16 grow   the frame goes on for 2 * grow bytes more (a pattern): up
 *                to 131,070 bytes past the input, so that frames of 64 KiB
 *                and more are short inputs
 *     u16 first  the first segment's length (0: 1 byte)
 *     u16 seg    every other segment's length (0: 2048), raised so that a
 *                frame has 64 segments at most
 *     len bytes
 * (u16: big-endian). Every segment is a buffer of its own, and the copied
 * headers one of exactly the bytes read, so ASan sees any read past them.
 *
 * Invariants, on top of fuzz_packet.c's (check_flow(), included from there):
 * - the worker's view (fast shape on the first segment, else the copy)
 *   parses as cnm_pkt_parse() of the copy does;
 * - every decision is a verdict; FORWARD names a used, up node with a MAC,
 *   a member of its service; DEFAULT the default node;
 * - a decision not taken from the forwarding list or a first fragment is
 *   the stateless one (cnm_decide() of the same flow);
 * - anything sent to a node: its IP packet ends within the frame
 *   (l3_off + l3_len <= wirelen) and past its IP header, and its length is
 *   what the IP header says (IPv4 total length, IPv6 40 + payload length).
 */
#define FUZZ_PACKET_CHECKS_ONLY
#include "fuzz_packet.c"

#include "cnm_conntrack.h"

#define FRAME_MAX (140u * 1024)
#define SEGS_MAX 64
#define CACHE_SLOTS 256
#define CT_MAX 1024

static struct burst_state {
	struct cnm_dstate ds;
	struct cnm_wstats st;
	struct cnm_svc_cache_ent cache[CACHE_SLOTS];
	struct cnm_frag_ent frag[CNM_FRAG_SLOTS];
	struct cnm_ct *ct;
} bst[FUZZ_DIM(variants)];

static int burst_ready;

static void
burst_init(void)
{
	struct cnm_ct_timeouts t = { .syn = 30000, .established = 300000, .closing = 10000 };
	unsigned int i;

	for (i = 0; i < FUZZ_DIM(variants); i++) {
		char name[32];

		snprintf(name, sizeof(name), "fzb_ct%u", i);
		bst[i].ct = cnm_ct_create(name, CT_MAX, SOCKET_ID_ANY, &t);
		FUZZ_CHECK(bst[i].ct != NULL);
		FUZZ_CHECK(cnm_wstats_init(&bst[i].st) == 0);
	}
	burst_ready = 1;
}

/* Empty state for an input: the cache, the fragment cache, the list. */
static struct cnm_dstate *
state_fresh(unsigned int v, int with_ct)
{
	struct burst_state *s = &bst[v];
	uint32_t n;

	for (n = 0; n < cnm_lb_node_end(variants[v].lb); n++)
		cnm_ct_flush_node(s->ct, (uint16_t)n);
	FUZZ_CHECK(cnm_ct_count(s->ct) == 0);
	memset(&s->ds, 0, sizeof(s->ds));
	memset(s->cache, 0, sizeof(s->cache));
	memset(s->frag, 0, sizeof(s->frag));
	s->ds.cache = s->cache;
	s->ds.cache_mask = CACHE_SLOTS - 1;
	s->ds.frag = s->frag;
	s->ds.frag_mask = CNM_FRAG_SLOTS - 1;
	s->ds.st = &s->st;
	s->ds.ct = with_ct ? s->ct : NULL;
	s->ds.now_ms = 1000;
	cnm_dstate_sync(&s->ds, cnm_lb_view(variants[v].lb));
	return &s->ds;
}

struct frame {
	uint8_t *seg[SEGS_MAX];
	uint32_t seg_len[SEGS_MAX];
	unsigned int nseg;
	uint32_t wire;
	uint8_t *hdr;   /* the first cap bytes, copied across the segments */
	uint32_t cap;
};

static void
frame_free(struct frame *fr)
{
	unsigned int i;

	for (i = 0; i < fr->nseg; i++)
		free(fr->seg[i]);
	free(fr->hdr);
	memset(fr, 0, sizeof(*fr));
}

/* Byte @p off of the frame made of @p in (@p len bytes) and the pattern after it. */
static inline uint8_t
frame_byte(const uint8_t *in, uint32_t len, uint32_t off)
{
	return off < len ? in[off] : (uint8_t)(off * 7 + (off >> 8));
}

static int
frame_build(struct frame *fr, const uint8_t *in, uint32_t len, uint32_t grow, uint32_t first,
		uint32_t seg)
{
	uint32_t off = 0, i, n, k;

	memset(fr, 0, sizeof(*fr));
	fr->wire = len + 2 * grow;
	if (fr->wire > FRAME_MAX)
		fr->wire = FRAME_MAX;
	if (first == 0)
		first = 1;
	if (seg == 0)
		seg = 2048;
	if (fr->wire > first && (fr->wire - first + seg - 1) / seg > SEGS_MAX - 1)
		seg = (fr->wire - first + SEGS_MAX - 2) / (SEGS_MAX - 1);
	do {
		n = fr->nseg == 0 ? first : seg;
		if (n > fr->wire - off)
			n = fr->wire - off;
		fr->seg[fr->nseg] = malloc(n ? n : 1);
		if (fr->seg[fr->nseg] == NULL)
			return -1;
		for (k = 0; k < n; k++)
			fr->seg[fr->nseg][k] = frame_byte(in, len, off + k);
		fr->seg_len[fr->nseg++] = n;
		off += n;
	} while (off < fr->wire && fr->nseg < SEGS_MAX);
	FUZZ_CHECK(off == fr->wire);
	/* rte_pktmbuf_read() of the first CNM_PARSE_HDR_MAX bytes */
	fr->cap = fr->wire < CNM_PARSE_HDR_MAX ? fr->wire : CNM_PARSE_HDR_MAX;
	fr->hdr = malloc(fr->cap ? fr->cap : 1);
	if (fr->hdr == NULL)
		return -1;
	for (i = 0, off = 0; off < fr->cap; i++) {
		n = fr->seg_len[i] < fr->cap - off ? fr->seg_len[i] : fr->cap - off;
		memcpy(fr->hdr + off, fr->seg[i], n);
		off += n;
	}
	return 0;
}

/* What the worker makes of a frame (cnm_worker_burst(), classify_slow()). */
static void
worker_parse(const struct frame *fr, int verify, enum cnm_csum_hint hint, struct cnm_pkt *k)
{
	memset(k, 0, sizeof(*k));
	if (cnm_pkt_parse_fast(fr->seg[0], fr->seg_len[0], fr->wire, verify, hint, k) == 0)
		return;
	cnm_pkt_parse_general(fr->hdr, fr->cap, fr->wire, verify, hint, k);
}

/* A parsed frame as a flow (the fast shape through cnm_parse()). */
static int
pkt_flow(const struct frame *fr, const struct cnm_pkt *k, struct cnm_flow *f)
{
	if (k->shape == CNM_SHAPE_FLOW) {
		*f = k->f;
		return 0;
	}
	if (k->shape == CNM_SHAPE_FAST4) {
		FUZZ_CHECK(cnm_parse(fr->hdr, fr->cap, fr->wire, f) == CNM_DROP_NONE);
		return 0;
	}
	return -1;
}

static void
check_sent(const struct variant *v, const struct frame *fr, const struct cnm_pkt *k,
		const struct cnm_decision *d)
{
	const struct cnm_lb *lb = v->lb;
	uint32_t l3_off, l3_len, hl;
	const uint8_t *ip;

	if (d->verdict == CNM_V_FORWARD) {
		FUZZ_CHECK(d->svc >= 0 && (uint32_t)d->svc < cnm_lb_svc_end(lb) &&
			   cnm_lb_svc_cfg(lb, (uint32_t)d->svc) != NULL);
		FUZZ_CHECK(d->node < cnm_lb_node_end(lb));
		FUZZ_CHECK(cnm_lb_node(lb, d->node)->used && cnm_lb_node(lb, d->node)->up);
		FUZZ_CHECK(cnm_lb_node(lb, d->node)->mac != 0);
		/* the list and the fragment cache keep a node of the service's
		 * group; the PDT one with a weight */
		if (d->via == CNM_VIA_PDT)
			FUZZ_CHECK(fuzz_member_weighted(cnm_lb_svc_cfg(lb, (uint32_t)d->svc),
				d->node));
	} else if (d->verdict == CNM_V_DEFAULT) {
		FUZZ_CHECK(!cnm_lb_has_local(lb) && cnm_lb_default_node(lb) >= 0);
		FUZZ_CHECK(d->node == (uint16_t)cnm_lb_default_node(lb));
	} else {
		return;
	}
	/* what the method sends: the IP packet, cut at its end */
	FUZZ_CHECK(k->shape == CNM_SHAPE_FAST4 || k->shape == CNM_SHAPE_FLOW);
	if (k->shape == CNM_SHAPE_FAST4) {
		l3_off = 14;
		l3_len = k->r.tot;
	} else {
		FUZZ_CHECK(k->f.kind == CNM_PKT_IP);
		l3_off = k->f.l3_off;
		l3_len = k->f.l3_len;
	}
	FUZZ_CHECK(l3_off + l3_len <= fr->wire);
	ip = fr->hdr + l3_off;
	if ((ip[0] >> 4) == 4) {
		hl = (ip[0] & 0xfu) * 4;
		FUZZ_CHECK(l3_len == rd16(ip + 2));
	} else {
		FUZZ_CHECK((ip[0] >> 4) == 6);
		hl = 40;
		FUZZ_CHECK(l3_len == 40u + rd16(ip + 4));
	}
	FUZZ_CHECK(l3_len >= hl);
}

/* Decide a burst of @p n frames and check every decision. */
static void
burst_run(const struct variant *v, struct cnm_dstate *ds, struct frame *fr, struct cnm_pkt *pk,
		unsigned int n)
{
	struct cnm_decision d[CNM_DECIDE_MAX];
	unsigned int i;

	memset(d, 0xa5, sizeof(d));
	cnm_decide_burst(cnm_lb_view(v->lb), ds, pk, n, d);
	for (i = 0; i < n; i++) {
		struct cnm_flow f;
		struct cnm_decision s;

		FUZZ_CHECK(d[i].verdict <= CNM_V_REPLY);
		if (pk[i].shape == CNM_SHAPE_DROP) {
			FUZZ_CHECK(d[i].verdict == CNM_V_DROP && d[i].reason == pk[i].reason);
			continue;
		}
		check_sent(v, &fr[i], &pk[i], &d[i]);
		if (d[i].verdict == CNM_V_DROP)
			FUZZ_CHECK(d[i].reason > CNM_DROP_NONE && d[i].reason < CNM_DROP_MAX);
		/* what no earlier frame decided is the stateless decision */
		if (d[i].via == CNM_VIA_CONN || d[i].via == CNM_VIA_FRAG)
			continue;
		FUZZ_CHECK(pkt_flow(&fr[i], &pk[i], &f) == 0);
		memset(&s, 0x5a, sizeof(s));
		cnm_decide(cnm_lb_view(v->lb), &f, &s);
		FUZZ_CHECK(s.verdict == d[i].verdict && s.reason == d[i].reason && s.svc == d[i].svc);
		if (s.verdict == CNM_V_FORWARD || s.verdict == CNM_V_DEFAULT)
			FUZZ_CHECK(s.node == d[i].node);
		if (pk[i].shape == CNM_SHAPE_FLOW)
			check_decision(v, &pk[i].f);
	}
	for (i = 0; i < n; i++)
		frame_free(&fr[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct frame fr[CNM_DECIDE_MAX];
	static struct cnm_pkt pk[CNM_DECIDE_MAX];
	const struct variant *v;
	struct cnm_dstate *ds;
	enum cnm_csum_hint hint;
	unsigned int vi, n = 0, frames = 0;
	size_t off = 2;
	int verify;
	uint8_t step;

	if (size < 2 || size > (1u << 20))
		return 0;
	if (!burst_ready)
		burst_init();
	vi = (data[0] & 3u) % FUZZ_DIM(variants);
	v = &variants[vi];
	verify = (data[0] >> 2) & 1;
	hint = (enum cnm_csum_hint)(((data[0] >> 4) & 3u) % 3);
	step = data[1];
	ds = state_fresh(vi, (data[0] >> 3) & 1);

	while (off + 8 <= size && frames < 8 * CNM_DECIDE_MAX) {
		uint32_t len = rd16(data + off) & 0x7fffu, grow = rd16(data + off + 2);
		uint32_t first = rd16(data + off + 4), seg = rd16(data + off + 6);
		int end = data[off] >> 7;
		struct cnm_pkt ref;

		off += 8;
		if (len > size - off)
			len = (uint32_t)(size - off);
		if (frame_build(&fr[n], data + off, len, grow, first, seg) < 0) {
			frame_free(&fr[n]);
			break;
		}
		off += len;
		frames++;
		worker_parse(&fr[n], verify, hint, &pk[n]);
		/* the worker's view and the copy's parse agree */
		memset(&ref, 0, sizeof(ref));
		cnm_pkt_parse(fr[n].hdr, fr[n].cap, fr[n].wire, verify, hint, &ref);
		FUZZ_CHECK((pk[n].shape == CNM_SHAPE_DROP) == (ref.shape == CNM_SHAPE_DROP));
		if (pk[n].shape == CNM_SHAPE_DROP) {
			FUZZ_CHECK(pk[n].reason == ref.reason);
			FUZZ_CHECK(pk[n].reason > CNM_DROP_NONE && pk[n].reason < CNM_DROP_MAX);
		} else {
			struct cnm_flow a, b;

			FUZZ_CHECK(pkt_flow(&fr[n], &pk[n], &a) == 0 && pkt_flow(&fr[n], &ref, &b) == 0);
			FUZZ_CHECK(memcmp(&a, &b, sizeof(a)) == 0);
			check_flow(fr[n].hdr, fr[n].cap, fr[n].wire, &a);
		}
		if (++n == CNM_DECIDE_MAX || end) {
			burst_run(v, ds, fr, pk, n);
			n = 0;
			ds->now_ms += step;
		}
	}
	if (n > 0)
		burst_run(v, ds, fr, pk, n);
	return 0;
}
