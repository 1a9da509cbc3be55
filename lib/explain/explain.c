/* SPDX-License-Identifier: BSD-3-Clause */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ip.h>

#include "cnm_explain.h"
#include "cnm_fwd.h"
#include "cnm_pdt.h"
#include "cnm_quiclb.h"
#include "cnm_policy.h"

/* What a CNM_V_REPLY answers, in words. */
static const char *
reply_name(uint8_t reply)
{
	return reply == CNM_REPLY_ARP ? "arp" : reply == CNM_REPLY_NA ? "nd" : "echo";
}

static const char *const conn_names[] = {
	[CNM_EX_CONN_NA] = "not tracked", [CNM_EX_CONN_HELD] = "held",
	[CNM_EX_CONN_STALE] = "stale", [CNM_EX_CONN_NEW] = "new", [CNM_EX_CONN_FULL] = "full",
	[CNM_EX_CONN_NONE] = "not held",
};
static const char *const table_names[] = { "none", "first", "second" };
static const char *const via_names[] = {
	[CNM_VIA_NONE] = "none", [CNM_VIA_PDT] = "pdt", [CNM_VIA_CONN] = "conn",
	[CNM_VIA_FRAG] = "frag", [CNM_VIA_UDP] = "udp_list", [CNM_VIA_SERVER_ID] = "server_id",
	[CNM_VIA_SC] = "second chance",
};
static const char *const sc_names[] = {
	[CNM_EX_SC_NA] = "n/a", [CNM_EX_SC_OFF] = "no window",
	[CNM_EX_SC_SAME] = "entry unchanged", [CNM_EX_SC_SYN] = "not for a SYN",
	[CNM_EX_SC_HELD] = "not needed (held)", [CNM_EX_SC_APPLIED] = "applied",
	[CNM_EX_SC_GONE] = "previous owner gone",
};
static const char *const state_names[] = { "syn", "established", "closing", "udp" };

const char *
cnm_explain_conn_name(unsigned int c)
{
	return c < RTE_DIM(conn_names) ? conn_names[c] : "unknown";
}

int
cnm_explain_build(const struct cnm_explain_desc *d, uint8_t *buf, size_t len)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02 };
	int v4 = d->src.family == AF_INET;
	uint32_t l4 = d->proto == IPPROTO_TCP ? 20 : 8, l3 = v4 ? 20 : 40;
	uint8_t *ip = buf + 14, *p = ip + l3;
	uint32_t sum;

	if (d->src.family != d->dst.family || (d->src.family != AF_INET && d->src.family != AF_INET6) ||
	    (d->proto != IPPROTO_TCP && d->proto != IPPROTO_UDP &&
	     d->proto != (v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6)))
		return -EINVAL;
	if (len < 14 + l3 + l4)
		return -ENOSPC;
	memset(buf, 0, 14 + l3 + l4);
	memcpy(buf, macs, 12);
	buf[12] = v4 ? 0x08 : 0x86;
	buf[13] = v4 ? 0x00 : 0xdd;
	if (v4) {
		struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;

		h->version_ihl = 0x45;
		h->total_length = htons((uint16_t)(l3 + l4));
		h->time_to_live = 64;
		h->next_proto_id = d->proto;
		memcpy(&h->src_addr, d->src.bytes, 4);
		memcpy(&h->dst_addr, d->dst.bytes, 4);
		h->hdr_checksum = rte_ipv4_cksum(h);
	} else {
		struct rte_ipv6_hdr *h = (struct rte_ipv6_hdr *)ip;

		h->vtc_flow = htonl(6u << 28);
		h->payload_len = htons((uint16_t)l4);
		h->proto = d->proto;
		h->hop_limits = 64;
		memcpy(h->src_addr, d->src.bytes, 16);
		memcpy(h->dst_addr, d->dst.bytes, 16);
	}
	if (d->proto == IPPROTO_TCP || d->proto == IPPROTO_UDP) {
		p[0] = (uint8_t)(d->sport >> 8);
		p[1] = (uint8_t)d->sport;
		p[2] = (uint8_t)(d->dport >> 8);
		p[3] = (uint8_t)d->dport;
	}
	if (d->proto == IPPROTO_TCP) {
		p[12] = 5 << 4;
		p[13] = d->tcp_flags;
		p[14] = 0xff; /* window */
	} else if (d->proto == IPPROTO_UDP) {
		p[5] = 8;
	} else {
		p[0] = v4 ? 8 : 128; /* echo request */
	}
	/* the L4 checksum: a frame built here is a correct one */
	if (v4) {
		sum = rte_ipv4_udptcp_cksum((const struct rte_ipv4_hdr *)ip, p);
		if (d->proto == IPPROTO_ICMP)
			sum = (uint16_t)~rte_raw_cksum(p, l4);
	} else {
		sum = rte_ipv6_udptcp_cksum((const struct rte_ipv6_hdr *)ip, p);
	}
	if (d->proto == IPPROTO_TCP) {
		p[16] = (uint8_t)(sum >> 8);
		p[17] = (uint8_t)sum;
	} else if (d->proto == IPPROTO_UDP) {
		p[6] = (uint8_t)(sum >> 8);
		p[7] = (uint8_t)sum;
	} else {
		p[2] = (uint8_t)(sum >> 8);
		p[3] = (uint8_t)sum;
	}
	return (int)(14 + l3 + l4);
}

int
cnm_explain_conn_key(const struct cnm_explain *ex, struct cnm_conn_key *k)
{
	if (!ex->parsed || ex->svc < 0 || !ex->f.has_ports ||
	    (ex->f.key.proto != IPPROTO_TCP && !(ex->f.key.proto == IPPROTO_UDP && ex->udp_list)))
		return 0;
	cnm_conn_key_from_flow(&ex->f, k);
	return 1;
}

void
cnm_explain_parse(const struct cnm_lb *lb, const uint8_t *frame, uint32_t caplen,
		uint32_t wirelen, struct cnm_explain *ex)
{
	const struct cnm_lb_view *v = cnm_lb_view(lb);
	const int verify = __atomic_load_n(&v->verify_checksum, __ATOMIC_RELAXED);
	/* the worker hands the general parser at most this much */
	uint32_t cap = RTE_MIN(caplen, (uint32_t)CNM_PARSE_HDR_MAX);
	struct cnm_pkt g;

	memset(ex, 0, sizeof(*ex));
	ex->svc = -1;
	ex->conn_worker = -1;
	ex->pdt_node = CNM_NODE_NONE;
	/* the decision's input, as the worker makes it */
	if (cnm_pkt_parse_fast(frame, caplen, wirelen, verify, CNM_CSUM_UNKNOWN, &ex->pk) != 0)
		cnm_pkt_parse_general(frame, cap, wirelen, verify, CNM_CSUM_UNKNOWN, &ex->pk);
	/* the description's: every field, whatever the shape */
	cnm_pkt_parse_general(frame, cap, wirelen, verify, CNM_CSUM_UNKNOWN, &g);
	if (g.shape == CNM_SHAPE_FLOW) {
		ex->f = g.f;
		ex->parsed = 1;
	}
	if (ex->pk.shape == CNM_SHAPE_DROP || !ex->parsed || ex->f.kind != CNM_PKT_IP)
		return;
	{
		const struct cnm_svc_key *k = &ex->f.key;
		const struct cnm_policy_ops *pol;
		const struct cnm_pdt *pdt;
		struct cnm_svc *s = NULL;

		cnm_lb_lookup_bulk(v, &k, 1, &s);
		if (s == NULL)
			return;
		ex->svc = s->id;
		ex->udp_list = __atomic_load_n(&s->list_proto, __ATOMIC_RELAXED) == IPPROTO_UDP;
		pol = cnm_policy_get(s->policy);
		ex->table = pol != NULL && pol->table == CNM_TABLE_ADDR ? CNM_EX_TABLE_SECOND :
			CNM_EX_TABLE_FIRST;
		ex->hash = cnm_client_hash(s->hash_key, &ex->f, s->hash_port);
		pdt = __atomic_load_n(&s->pdt, __ATOMIC_ACQUIRE);
		ex->pdt_size = pdt->size;
		ex->pdt_index = ex->hash & pdt->mask;
		ex->pdt_node = pdt->entries[ex->pdt_index];
	}
}

void
cnm_explain_decide(const struct cnm_lb *lb, struct cnm_dstate *st, struct cnm_explain *ex)
{
	struct cnm_wstats *ws = st->st;
	/* TCP and UDP counters together: a frame moves one of them */
	uint64_t hit = ws->conn_hit + ws->udp_hit, stale = ws->conn_stale + ws->udp_stale;
	uint64_t nw = ws->conn_new + ws->udp_new, full = ws->conn_full + ws->udp_full;
	uint64_t sc = ws->second_chance, scf = ws->second_chance_failed;
	uint64_t qp[CNM_QUIC_PARSE_MAX], qc[CNM_QUICLB_RESULT_MAX + 1];
	const struct cnm_svc *s = NULL;
	struct cnm_conn_key k;
	unsigned int i;

	if (st->ct != NULL && cnm_explain_conn_key(ex, &k)) {
		const struct cnm_conn_key *kp = &k;
		hash_sig_t sig;

		ex->conn = CNM_EX_CONN_NONE;
		if (cnm_ct_lookup_bulk(st->ct, &kp, 1, &sig, &ex->held) & 1)
			ex->conn = CNM_EX_CONN_STALE; /* until the decision says it kept it */
	}
	/* which QUIC counters the frame moves: what its header and DCID were */
	memcpy(qp, &ws->quic_ok, sizeof(qp));
	memcpy(qc, &ws->cid_server_id, sizeof(qc));
	cnm_decide_burst(cnm_lb_view(lb), st, &ex->pk, 1, &ex->d);
	ex->quic_parse = -1;
	ex->quic_cid = -1;
	for (i = 0; i < CNM_QUIC_PARSE_MAX; i++)
		if ((&ws->quic_ok)[i] != qp[i])
			ex->quic_parse = (int8_t)i;
	for (i = 0; i <= CNM_QUICLB_RESULT_MAX; i++)
		if ((&ws->cid_server_id)[i] != qc[i])
			ex->quic_cid = (int8_t)i;
	if (ex->d.via == CNM_VIA_SERVER_ID) {
		/* QUIC, by its connection ID: the list had no say */
		ex->conn = CNM_EX_CONN_NA;
		return;
	}
	if (ws->conn_hit + ws->udp_hit != hit)
		ex->conn = CNM_EX_CONN_HELD;
	else if (ws->conn_new + ws->udp_new != nw)
		ex->conn = CNM_EX_CONN_NEW;
	else if (ws->conn_full + ws->udp_full != full)
		ex->conn = CNM_EX_CONN_FULL;
	else if (ws->conn_stale + ws->udp_stale == stale && ex->conn == CNM_EX_CONN_STALE)
		/* an entry the decision passed over: expired, or a closed
		 * connection's port reused by a new SYN */
		ex->conn = CNM_EX_CONN_NONE;

	/* second chance: what the decision did, or why it did not */
	ex->sc = CNM_EX_SC_NA;
	ex->sc_node = CNM_NODE_NONE;
	/* TCP only: a UDP flow has no second chance */
	if (ex->conn == CNM_EX_CONN_NA || ex->svc < 0 || ex->f.key.proto != IPPROTO_TCP)
		return;
	s = cnm_lb_view(lb)->svc[ex->svc];
	ex->sc = CNM_EX_SC_OFF;
	if (s == NULL || !cnm_svc_sc_open(s, st->now_ms) ||
	    __atomic_load_n(&s->prev, __ATOMIC_ACQUIRE) == NULL)
		return;
	{
		const struct cnm_pdt *prev = __atomic_load_n(&s->prev, __ATOMIC_ACQUIRE);

		ex->sc_left_ms = s->sc_until - st->now_ms;
		ex->sc_node = prev->entries[ex->hash & prev->mask];
	}
	if (ws->second_chance != sc)
		ex->sc = CNM_EX_SC_APPLIED;
	else if (ws->second_chance_failed != scf)
		ex->sc = CNM_EX_SC_GONE;
	else if (ex->sc_node == CNM_NODE_NONE || ex->sc_node == ex->pdt_node)
		ex->sc = CNM_EX_SC_SAME;
	else if (ex->conn == CNM_EX_CONN_HELD)
		ex->sc = CNM_EX_SC_HELD;
	else if (ex->f.tcp_flags & CNM_TCP_SYN)
		ex->sc = CNM_EX_SC_SYN;
	else
		/* the owner is down, removed or the entry moved back: the
		 * decision's own counters said which; nothing else is left */
		ex->sc = CNM_EX_SC_GONE;
}

void
cnm_explain_run(const struct cnm_lb *lb, struct cnm_dstate *st, const uint8_t *frame,
		uint32_t caplen, uint32_t wirelen, struct cnm_explain *ex)
{
	cnm_explain_parse(lb, frame, caplen, wirelen, ex);
	cnm_explain_decide(lb, st, ex);
}

static const char *
node_name(const struct cnm_lb *lb, uint32_t id)
{
	const struct cnm_cfg_node *n = id < CNM_MAX_NODES ? cnm_lb_node_cfg(lb, id) : NULL;

	return n != NULL ? n->name : "?";
}

static const char *
svc_name(const struct cnm_lb *lb, int32_t id)
{
	const struct cnm_cfg_service *s = id >= 0 ? cnm_lb_svc_cfg(lb, (uint32_t)id) : NULL;

	return s != NULL ? s->name : "?";
}

static const char *
proto_name(uint8_t p)
{
	switch (p) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "icmp6";
	case IPPROTO_SCTP: return "sctp";
	default: return NULL;
	}
}

/* "tcp 203.0.113.5:40000 > 198.51.100.1:80 [S.]" */
static int
frame_text(const struct cnm_explain *ex, char *buf, size_t len)
{
	const struct cnm_flow *f = &ex->f;
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN], pn[8], fl[8] = "";
	const char *p, *o6 = f->key.family == AF_INET6 ? "[" : "";
	const char *c6 = f->key.family == AF_INET6 ? "]" : "";
	int n = 0;

	if (!ex->parsed)
		return snprintf(buf, len, "unparsed frame");
	if (f->kind == CNM_PKT_ARP) {
		inet_ntop(AF_INET, f->key.addr, d, sizeof(d));
		inet_ntop(AF_INET, f->src, s, sizeof(s));
		return snprintf(buf, len, "arp %s who-has %s tell %s",
				f->arp_op == 1 ? "request" : f->arp_op == 2 ? "reply" : "other", d, s);
	}
	if (f->kind == CNM_PKT_ND) {
		inet_ntop(AF_INET6, f->key.addr, d, sizeof(d));
		inet_ntop(AF_INET6, f->src, s, sizeof(s));
		return snprintf(buf, len, "nd %s target %s from %s",
				f->icmp_type == CNM_ICMP6_NS ? "solicitation" : "advertisement", d, s);
	}
	inet_ntop(f->key.family, f->src, s, sizeof(s));
	inet_ntop(f->key.family, f->key.addr, d, sizeof(d));
	p = proto_name(f->key.proto);
	if (p == NULL) {
		snprintf(pn, sizeof(pn), "ip%u", f->key.proto);
		p = pn;
	}
	if (f->key.proto == IPPROTO_TCP) {
		if (f->tcp_flags & CNM_TCP_SYN)
			fl[n++] = 'S';
		if (f->tcp_flags & CNM_TCP_FIN)
			fl[n++] = 'F';
		if (f->tcp_flags & CNM_TCP_RST)
			fl[n++] = 'R';
		if (f->tcp_flags & 0x08)
			fl[n++] = 'P';
		if (f->tcp_flags & CNM_TCP_ACK)
			fl[n++] = '.';
		fl[n] = '\0';
	}
	if (f->has_ports)
		return snprintf(buf, len, "%s%s %s%s%s:%u > %s%s%s:%u%s%s%s%s",
				f->icmp_err ? "icmp error about " : "",
				p, o6, s, c6, ntohs(f->sport), o6, d, c6, ntohs(f->key.port),
				n ? " [" : "", fl, n ? "]" : "",
				f->frag == CNM_FRAG_FIRST ? " first fragment" : "");
	return snprintf(buf, len, "%s %s > %s%s", p, s, d,
			f->frag == CNM_FRAG_LATER ? " later fragment" :
			f->frag == CNM_FRAG_FIRST ? " first fragment" : "");
}

int
cnm_explain_line(const struct cnm_lb *lb, const struct cnm_explain *ex, char *buf, size_t len)
{
	const struct cnm_decision *d = &ex->d;
	const struct cnm_policy_ops *pol = NULL;
	size_t used;
	int n;

#define ADD(...) do { \
		n = snprintf(buf + used, used < len ? len - used : 0, __VA_ARGS__); \
		if (n > 0) \
			used += (size_t)n; \
	} while (0)

	n = frame_text(ex, buf, len);
	used = n > 0 ? (size_t)n : 0;
	if (ex->svc >= 0) {
		const struct cnm_cfg_service *c = cnm_lb_svc_cfg(lb, (uint32_t)ex->svc);

		pol = c != NULL ? cnm_policy_get(c->policy) : NULL;
		ADD(" | service %s (%s table, %s) hash 0x%08x pdt[%u/%u] = %s", svc_name(lb, ex->svc),
		    table_names[ex->table], pol != NULL ? pol->name : "?", ex->hash, ex->pdt_index,
		    ex->pdt_size, ex->pdt_node == CNM_NODE_NONE ? "none" : node_name(lb, ex->pdt_node));
	} else if (ex->parsed && ex->f.kind == CNM_PKT_IP) {
		ADD(" | no service");
	}
	if (ex->quic_parse >= 0) {
		ADD(" | quic %s", cnm_quic_parse_name((enum cnm_quic_parse_result)ex->quic_parse));
		if (ex->quic_cid >= 0)
			ADD(", cid %s", ex->quic_cid == CNM_QUICLB_RESULT_MAX ? "node_down" :
			    cnm_quiclb_result_name((enum cnm_quiclb_result)ex->quic_cid));
	}
	if (ex->conn != CNM_EX_CONN_NA) {
		ADD(" | conn %s", conn_names[ex->conn]);
		if (ex->conn == CNM_EX_CONN_HELD || ex->conn == CNM_EX_CONN_STALE)
			ADD(" (%s, %s", node_name(lb, ex->held.node), state_names[ex->held.state & 3]);
		if ((ex->conn == CNM_EX_CONN_HELD || ex->conn == CNM_EX_CONN_STALE) &&
		    ex->conn_worker >= 0)
			ADD(", worker %d", ex->conn_worker);
		if (ex->conn == CNM_EX_CONN_HELD || ex->conn == CNM_EX_CONN_STALE)
			ADD(")");
	}
	/* only while a window is open: the lines of a service with no recent
	 * change read as they always did */
	if (ex->sc > CNM_EX_SC_OFF) {
		ADD(" | second chance %s", sc_names[ex->sc]);
		if (ex->sc_node != CNM_NODE_NONE && ex->sc != CNM_EX_SC_SAME)
			ADD(" (previous owner %s, %u ms left)",
			    ex->sc_node == CNM_NODE_GONE ? "removed" : node_name(lb, ex->sc_node),
			    ex->sc_left_ms);
	}
	switch (d->verdict) {
	case CNM_V_FORWARD:
	case CNM_V_DEFAULT:
		ADD(" | %s %s by %s", d->verdict == CNM_V_FORWARD ? "forward to" : "default node",
		    node_name(lb, d->node), cnm_fwd_name(d->method));
		if (d->verdict == CNM_V_FORWARD)
			ADD(" via %s", via_names[d->via < RTE_DIM(via_names) ? d->via : 0]);
		break;
	case CNM_V_LOCAL:
		ADD(" | local");
		break;
	case CNM_V_REPLY:
		ADD(" | reply (%s)", reply_name(d->reply));
		break;
	default:
		ADD(" | drop: %s", cnm_drop_name((enum cnm_drop)d->reason));
		break;
	}
#undef ADD
	return (int)used;
}

json_t *
cnm_explain_json(const struct cnm_lb *lb, const struct cnm_explain *ex)
{
	const struct cnm_decision *d = &ex->d;
	char line[512], frame[256], hash[16];
	json_t *o;

	cnm_explain_line(lb, ex, line, sizeof(line));
	frame_text(ex, frame, sizeof(frame));
	o = json_pack("{s:s,s:s,s:s,s:s}", "line", line, "frame", frame,
		      "table", table_names[ex->table], "verdict", cnm_verdict_name(d->verdict));
	if (o == NULL)
		return NULL;
	if (ex->svc >= 0) {
		const struct cnm_cfg_service *c = cnm_lb_svc_cfg(lb, (uint32_t)ex->svc);
		const struct cnm_policy_ops *pol = c != NULL ? cnm_policy_get(c->policy) : NULL;

		snprintf(hash, sizeof(hash), "0x%08x", ex->hash);
		json_object_set_new(o, "service", json_string(svc_name(lb, ex->svc)));
		json_object_set_new(o, "policy", json_string(pol != NULL ? pol->name : "?"));
		json_object_set_new(o, "hash", json_string(hash));
		json_object_set_new(o, "pdt_index", json_integer(ex->pdt_index));
		json_object_set_new(o, "pdt_size", json_integer(ex->pdt_size));
		json_object_set_new(o, "pdt_node", ex->pdt_node == CNM_NODE_NONE ? json_null() :
				    json_string(node_name(lb, ex->pdt_node)));
	} else {
		json_object_set_new(o, "service", json_null());
	}
	json_object_set_new(o, "conn", json_string(conn_names[ex->conn]));
	if (ex->quic_parse >= 0)
		json_object_set_new(o, "quic", json_string(
			cnm_quic_parse_name((enum cnm_quic_parse_result)ex->quic_parse)));
	if (ex->quic_cid >= 0)
		json_object_set_new(o, "quic_cid", json_string(ex->quic_cid == CNM_QUICLB_RESULT_MAX ?
			"node_down" : cnm_quiclb_result_name((enum cnm_quiclb_result)ex->quic_cid)));
	if (ex->conn == CNM_EX_CONN_HELD || ex->conn == CNM_EX_CONN_STALE) {
		json_object_set_new(o, "conn_node", json_string(node_name(lb, ex->held.node)));
		json_object_set_new(o, "conn_state", json_string(state_names[ex->held.state & 3]));
		if (ex->conn_worker >= 0)
			json_object_set_new(o, "conn_worker", json_integer(ex->conn_worker));
	}
	json_object_set_new(o, "second_chance", json_string(sc_names[ex->sc]));
	if (ex->sc > CNM_EX_SC_OFF) {
		json_object_set_new(o, "second_chance_left_ms", json_integer(ex->sc_left_ms));
		json_object_set_new(o, "second_chance_node",
			ex->sc_node == CNM_NODE_NONE ? json_null() :
			json_string(ex->sc_node == CNM_NODE_GONE ? "(removed)" :
				    node_name(lb, ex->sc_node)));
	}
	if (d->verdict == CNM_V_FORWARD || d->verdict == CNM_V_DEFAULT) {
		json_object_set_new(o, "node", json_string(node_name(lb, d->node)));
		json_object_set_new(o, "method", json_string(cnm_fwd_name(d->method)));
		json_object_set_new(o, "via", json_string(via_names[d->via < RTE_DIM(via_names) ?
							     d->via : 0]));
	} else if (d->verdict == CNM_V_DROP) {
		json_object_set_new(o, "reason", json_string(cnm_drop_name((enum cnm_drop)d->reason)));
	} else if (d->verdict == CNM_V_REPLY) {
		json_object_set_new(o, "reply", json_string(reply_name(d->reply)));
	}
	return o;
}
