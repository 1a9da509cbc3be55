/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cnm_stats.h"

static const char *const drop_names[CNM_DROP_MAX] = {
	[CNM_DROP_NONE] = "none",
#define CNM_X_NAME(e, n, d) [CNM_DROP_##e] = n,
	CNM_DROP_REASONS(CNM_X_NAME)
#undef CNM_X_NAME
};

static const char *const drop_help[CNM_DROP_MAX] = {
	[CNM_DROP_NONE] = "not dropped",
#define CNM_X_HELP(e, n, d) [CNM_DROP_##e] = d,
	CNM_DROP_REASONS(CNM_X_HELP)
#undef CNM_X_HELP
};

const char *
cnm_drop_name(enum cnm_drop d)
{
	return (unsigned int)d < CNM_DROP_MAX ? drop_names[d] : "unknown";
}

const char *
cnm_drop_help(enum cnm_drop d)
{
	return (unsigned int)d < CNM_DROP_MAX ? drop_help[d] : "unknown";
}

int
cnm_wstats_init(struct cnm_wstats *w)
{
	memset(w, 0, sizeof(*w));
	w->svc = calloc(CNM_MAX_SERVICES, sizeof(*w->svc));
	w->node = calloc(CNM_MAX_NODES, sizeof(*w->node));
	w->member = calloc(CNM_MAX_MEMBERS, sizeof(*w->member));
	if (w->svc == NULL || w->node == NULL || w->member == NULL) {
		cnm_wstats_fini(w);
		return -ENOMEM;
	}
	return 0;
}

void
cnm_wstats_fini(struct cnm_wstats *w)
{
	free(w->svc);
	free(w->node);
	free(w->member);
	w->svc = NULL;
	w->node = NULL;
	w->member = NULL;
}

/* Readers run on other threads than the writer: a relaxed load of an aligned
 * 64-bit counter is enough, a slightly stale value is fine. */
#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void
cnm_stats_sum(struct cnm_wstats *const *w, unsigned int n, struct cnm_stats_total *t)
{
	unsigned int i, j;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n; i++) {
		const struct cnm_wstats *s = w[i];
		struct cnm_wstats c;
		unsigned int tries;
		uint64_t seq;

		/* copy the scalars between two bursts (seq even and unchanged);
		 * give up on consistency after many tries rather than spin */
		for (tries = 0;; tries++) {
			/* acquire: the counters read below are not older than seq */
			seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
			if ((seq & 1) && tries < 100000)
				continue;
			c.rx = RD(s->rx);
			c.forwarded = RD(s->forwarded);
			c.local = RD(s->local);
			c.dropped = RD(s->dropped);
			for (j = 0; j < CNM_DROP_MAX; j++)
				c.drop[j] = RD(s->drop[j]);
			/* acquire fence: the loads above complete before seq is read again */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq || tries >= 100000)
				break;
		}
		t->rx += c.rx;
		t->forwarded += c.forwarded;
		t->local += c.local;
		t->dropped += c.dropped;
		for (j = 0; j < CNM_DROP_MAX; j++)
			t->drop[j] += c.drop[j];
		t->nonscalable += RD(s->nonscalable);
		t->to_default += RD(s->to_default);
		t->local_rx += RD(s->local_rx);
		t->local_out += RD(s->local_out);
		t->local_drop += RD(s->local_drop);
		t->busy_cycles += RD(s->busy_cycles);
		t->busy_bursts += RD(s->busy_bursts);
		t->fast_path += RD(s->fast_path);
		t->arp_replies += RD(s->arp_replies);
		t->icmp_replies += RD(s->icmp_replies);
		t->icmp_errors += RD(s->icmp_errors);
		t->icmp_too_big += RD(s->icmp_too_big);
		t->frag_first += RD(s->frag_first);
		t->frag_follow += RD(s->frag_follow);
		t->conn_new += RD(s->conn_new);
		t->conn_hit += RD(s->conn_hit);
		t->conn_full += RD(s->conn_full);
		t->conn_stale += RD(s->conn_stale);
		t->conn_expired += RD(s->conn_expired);
		t->conn_active += RD(s->conn_active);
		t->ctl_tx += RD(s->ctl_tx);
		t->ctl_tx_drop += RD(s->ctl_tx_drop);
		for (j = 0; j < CNM_MAX_SERVICES; j++) {
			t->svc[j].pkts += RD(s->svc[j].pkts);
			t->svc[j].bytes += RD(s->svc[j].bytes);
		}
		for (j = 0; j < CNM_MAX_NODES; j++) {
			t->node[j].pkts += RD(s->node[j].pkts);
			t->node[j].bytes += RD(s->node[j].bytes);
		}
		for (j = 0; j < CNM_MAX_MEMBERS; j++) {
			t->member[j].pkts += RD(s->member[j].pkts);
			t->member[j].bytes += RD(s->member[j].bytes);
		}
	}
}

struct cnm_pb
cnm_stats_slot(struct cnm_wstats *const *w, unsigned int n, int node, uint32_t id)
{
	struct cnm_pb r = { 0, 0 };
	unsigned int i;

	for (i = 0; i < n; i++) {
		const struct cnm_pb *p = node ? &w[i]->node[id] : &w[i]->svc[id];

		r.pkts += RD(p->pkts);
		r.bytes += RD(p->bytes);
	}
	return r;
}

struct cnm_pb
cnm_stats_member_slot(struct cnm_wstats *const *w, unsigned int n, uint32_t slot)
{
	struct cnm_pb r = { 0, 0 };
	unsigned int i;

	for (i = 0; i < n && slot < CNM_MAX_MEMBERS; i++) {
		r.pkts += RD(w[i]->member[slot].pkts);
		r.bytes += RD(w[i]->member[slot].bytes);
	}
	return r;
}
