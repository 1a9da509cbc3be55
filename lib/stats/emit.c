/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one emitter of the statistics: every output (telemetry, the control
 * protocol's `stats`, --stats-json, `service show`, `node show`) takes its
 * keys from here, and the report for people its numbers.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cnm_service.h"
#include "cnm_stats.h"

static json_t *
u64(uint64_t v)
{
	return json_integer((json_int_t)v);
}

/* {"packets", "bytes", "conn_new", "second_chance", "second_chance_failed",
 * "drops": {REASON: n}}: every reason of
 * CNM_DROP_DECIDED, or with @p sparse only those that counted */
static json_t *
pb_json(const struct cnm_pb *pb, int sparse)
{
	json_t *d = json_object();
	unsigned int i;

	for (i = 0; d != NULL && i < CNM_DDROP_MAX; i++)
		if ((!sparse || pb->drop[i] != 0) &&
				json_object_set_new(d, cnm_drop_name(cnm_ddrop_reason(i)),
					u64(pb->drop[i])) != 0) {
			json_decref(d);
			d = NULL;
		}
	if (d == NULL)
		return NULL;
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "packets", u64(pb->pkts), "bytes",
			 u64(pb->bytes), "conn_new", u64(pb->conns), "second_chance", u64(pb->sc),
			 "second_chance_failed", u64(pb->sc_fail), "drops", d);
}

json_t *
cnm_stats_svc_json(const struct cnm_stats_total *t, const struct cnm_lb *lb, uint32_t id)
{
	const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, id);
	json_t *o = pb_json(&t->svc[id], 0), *nodes = json_object();
	uint32_t i;

	if (o == NULL || nodes == NULL || s == NULL)
		goto fail;
	/* per (service, node): the member slots of the nodes in its list */
	for (i = 0; i < s->n_members; i++) {
		uint32_t n = s->members[i].node;
		int slot = cnm_lb_member_slot(lb, (uint16_t)id, (uint16_t)n);

		if (slot < 0 || n >= CNM_MAX_NODES || cnm_lb_node_cfg(lb, n) == NULL)
			continue;
		if (json_object_set_new(nodes, cnm_lb_node_cfg(lb, n)->name,
				pb_json(&t->member[slot], 1)) != 0)
			goto fail;
	}
	if (json_object_set_new(o, "nodes", nodes) == 0)
		return o;
	nodes = NULL;
fail:
	json_decref(o);
	json_decref(nodes);
	return NULL;
}

json_t *
cnm_stats_node_json(const struct cnm_stats_total *t, const struct cnm_lb *lb, uint32_t id)
{
	json_t *o = pb_json(&t->node[id], 0);

	if (o != NULL && json_object_set_new(o, "up", json_boolean(cnm_lb_node(lb, id)->up)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
cnm_stats_json(const struct cnm_stats_total *t, const struct cnm_lb *lb)
{
	json_t *root = json_object(), *drops = json_object(), *svcs = json_object();
	json_t *nodes = json_object();
	const struct cnm_stat_desc *d;
	unsigned int n, i;

	if (root == NULL || drops == NULL || svcs == NULL || nodes == NULL)
		goto nomem;
	d = cnm_stats_desc(&n);
	for (i = 0; i < n; i++)
		if (json_object_set_new(root, d[i].name, u64(cnm_stats_get(t, &d[i]))) != 0)
			goto nomem;
	for (i = 1; i < CNM_DROP_MAX; i++)
		if (json_object_set_new(drops, cnm_drop_name(i), u64(t->drop[i])) != 0)
			goto nomem;
	for (i = 0; i < cnm_lb_svc_end(lb); i++)
		if (cnm_lb_svc_cfg(lb, i) != NULL &&
				json_object_set_new(svcs, cnm_lb_svc_cfg(lb, i)->name,
					cnm_stats_svc_json(t, lb, i)) != 0)
			goto nomem;
	for (i = 0; i < cnm_lb_node_end(lb); i++)
		if (cnm_lb_node_cfg(lb, i) != NULL &&
				json_object_set_new(nodes, cnm_lb_node_cfg(lb, i)->name,
					cnm_stats_node_json(t, lb, i)) != 0)
			goto nomem;
	json_object_set_new(root, "drops", drops);
	json_object_set_new(root, "services", svcs);
	json_object_set_new(root, "nodes", nodes);
	return root;
nomem:
	json_decref(root);
	json_decref(drops);
	json_decref(svcs);
	json_decref(nodes);
	return NULL;
}

/* "<pre>drops REASON n[/s], ..." of @p p's drops that counted, on a line
 * of their own; nothing when none did */
static void
print_ddrops(FILE *out, const char *pre, const struct cnm_pb *p, const char *unit)
{
	unsigned int i;

	if (cnm_pb_drops(p) == 0)
		return;
	fprintf(out, "%sdrops", pre);
	for (i = 0; i < CNM_DDROP_MAX; i++)
		if (p->drop[i])
			fprintf(out, " %s %" PRIu64 "%s", cnm_drop_name(cnm_ddrop_reason(i)),
				p->drop[i], unit);
	fprintf(out, "\n");
}

void
cnm_stats_print(FILE *out, const struct cnm_stats_total *t, const struct cnm_lb *lb, int final)
{
	char buf[64];
	uint32_t i, j;

	fprintf(out, "cnmux: %" PRIu64 " received, %" PRIu64 " forwarded, %" PRIu64
		" local, %" PRIu64 " dropped (received = forwarded + local + dropped: %s)\n",
		t->rx, t->forwarded, t->local, t->dropped,
		t->rx == t->forwarded + t->local + t->dropped ? "yes" : "NO");
	fprintf(out, "  non-scalable %" PRIu64 " (to default node %" PRIu64 ", ARP answered %"
		PRIu64 ", ping answered %" PRIu64 "), from local port %" PRIu64 " (to public %" PRIu64
		", lost %" PRIu64 ")\n", t->nonscalable, t->to_default, t->arp_replies,
		t->icmp_replies, t->local_rx, t->local_out, t->local_drop);
	fprintf(out, "  icmp errors to their flow's node %" PRIu64 ", fragments: %" PRIu64
		" first, %" PRIu64 " followed them\n", t->icmp_errors, t->frag_first, t->frag_follow);
	fprintf(out, "  tcp connections: %" PRIu64 " recorded, %" PRIu64 " packets by the list, %"
		PRIu64 " not recorded (list full), %" PRIu64 " forgotten (node down), %" PRIu64
		" expired, %" PRIu64 " tracked now\n", t->conn_new, t->conn_hit, t->conn_full,
		t->conn_stale, t->conn_expired, t->conn_active);
	fprintf(out, "  udp flows: %" PRIu64 " recorded, %" PRIu64 " packets by the list, %"
		PRIu64 " not recorded (list full), %" PRIu64 " forgotten (node down), %" PRIu64
		" expired, %" PRIu64 " tracked now\n", t->udp_new, t->udp_hit, t->udp_full,
		t->udp_stale, t->udp_expired, t->udp_active);
	/* only when it happened: the report of a run without reads as before */
	if (t->second_chance != 0 || t->second_chance_failed != 0)
		fprintf(out, "  second chance: %" PRIu64 " packets to their previous owner, %" PRIu64
			" whose previous owner was gone\n", t->second_chance,
			t->second_chance_failed);
	fprintf(out, "  workers %" PRIu64, t->workers);
	if (t->busy_bursts && t->rx)
		fprintf(out, ", %.1f cycles/packet", (double)t->busy_cycles / (double)t->rx);
	if (t->rx)
		fprintf(out, ", %.1f%% of frames by the fast path",
			100.0 * (double)t->fast_path / (double)t->rx);
	fprintf(out, "\n");
	for (i = 0; i < cnm_lb_svc_end(lb); i++) {
		const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, i);

		if (s == NULL)
			continue;
		fprintf(out, "  service %-16s %-11s %-24s packets %10" PRIu64 " bytes %12" PRIu64
			"\n", s->name, cnm_policy_name(s->policy),
			cnm_addr_str(&s->vip, buf, sizeof(buf)), t->svc[i].pkts, t->svc[i].bytes);
		print_ddrops(out, "    ", &t->svc[i], "");
		/* what its nodes got from it (member slots), those that got any */
		for (j = 0; j < s->n_members; j++) {
			uint32_t n = s->members[j].node;
			int slot = cnm_lb_member_slot(lb, (uint16_t)i, (uint16_t)n);

			if (slot < 0 || (t->member[slot].pkts == 0 &&
					cnm_pb_drops(&t->member[slot]) == 0))
				continue;
			fprintf(out, "    to node %-51s packets %10" PRIu64 " bytes %12" PRIu64
				"\n", cnm_lb_node_cfg(lb, n)->name, t->member[slot].pkts,
				t->member[slot].bytes);
			print_ddrops(out, "      ", &t->member[slot], "");
		}
	}
	for (i = 0; i < cnm_lb_node_end(lb); i++) {
		const struct cnm_cfg_node *nc = cnm_lb_node_cfg(lb, i);

		if (nc == NULL)
			continue;
		fprintf(out, "  node    %-16s %-4s %-30s packets %10" PRIu64 " bytes %12" PRIu64
			"\n", nc->name, cnm_lb_node(lb, i)->up ? "up" : "down",
			cnm_addr_str(&nc->ip, buf, sizeof(buf)), t->node[i].pkts,
			t->node[i].bytes);
		print_ddrops(out, "    ", &t->node[i], "");
	}
	if (t->dropped) {
		fprintf(out, "  drops  ");
		for (i = 1; i < CNM_DROP_MAX; i++)
			if (t->drop[i])
				fprintf(out, " %s %" PRIu64, cnm_drop_name(i), t->drop[i]);
		fprintf(out, "\n");
	}
	if (final) {
		double s = (double)t->elapsed_ms / 1000.0;

		fprintf(out, "  ran %.3f s: %.3f Mpps received\n", s,
			s > 0 ? (double)t->rx / s / 1e6 : 0.0);
		fprintf(out, "  public port: %" PRIu64 " not received for want of mbufs, %" PRIu64
			" missed, %" PRIu64 " RX errors\n", t->rx_nombuf, t->rx_missed, t->rx_errors);
		fprintf(out, "  mbufs: %" PRIu64 " of %" PRIu64 " back in the pool%s\n",
			t->mbufs_free, t->mbufs_free + t->mbufs_in_use,
			t->mbufs_in_use ? " (LEAK)" : "");
	}
	fflush(out);
}

void
cnm_stats_print_rate(FILE *out, const struct cnm_stats_total *r, const struct cnm_lb *lb,
		uint64_t interval_us)
{
	uint32_t i, j;

	fprintf(out, "  rates over the last %.3f s: received %" PRIu64 "/s, forwarded %" PRIu64
		"/s, local %" PRIu64 "/s, dropped %" PRIu64 "/s, new connections %" PRIu64 "/s\n",
		(double)interval_us / 1e6, r->rx, r->forwarded, r->local, r->dropped,
		r->conn_new);
	for (i = 0; i < cnm_lb_svc_end(lb); i++) {
		const struct cnm_cfg_service *s = cnm_lb_svc_cfg(lb, i);

		if (s == NULL)
			continue;
		fprintf(out, "  rate service %-16s %10" PRIu64 " packets/s %12" PRIu64 " bytes/s\n",
			s->name, r->svc[i].pkts, r->svc[i].bytes);
		print_ddrops(out, "    rate ", &r->svc[i], "/s");
		for (j = 0; j < s->n_members; j++) {
			uint32_t n = s->members[j].node;
			int slot = cnm_lb_member_slot(lb, (uint16_t)i, (uint16_t)n);

			if (slot < 0 || (r->member[slot].pkts == 0 &&
					cnm_pb_drops(&r->member[slot]) == 0))
				continue;
			fprintf(out, "    to node %-19s %10" PRIu64 " packets/s %12" PRIu64
				" bytes/s\n", cnm_lb_node_cfg(lb, n)->name, r->member[slot].pkts,
				r->member[slot].bytes);
			print_ddrops(out, "      rate ", &r->member[slot], "/s");
		}
	}
	for (i = 0; i < cnm_lb_node_end(lb); i++) {
		const struct cnm_cfg_node *nc = cnm_lb_node_cfg(lb, i);

		if (nc == NULL)
			continue;
		fprintf(out, "  rate node    %-16s %10" PRIu64 " packets/s %12" PRIu64 " bytes/s\n",
			nc->name, r->node[i].pkts, r->node[i].bytes);
		print_ddrops(out, "    rate ", &r->node[i], "/s");
	}
	if (r->dropped) {
		fprintf(out, "  rate drops ");
		for (i = 1; i < CNM_DROP_MAX; i++)
			if (r->drop[i])
				fprintf(out, " %s %" PRIu64 "/s", cnm_drop_name(i), r->drop[i]);
		fprintf(out, "\n");
	}
	fflush(out);
}
