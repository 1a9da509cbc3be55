/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

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

static const unsigned int ddrop_reason[CNM_DDROP_MAX] = {
#define CNM_X_REASON(e) [CNM_DDROP_##e] = CNM_DROP_##e,
	CNM_DROP_DECIDED(CNM_X_REASON)
#undef CNM_X_REASON
};

unsigned int
cnm_ddrop_reason(unsigned int i)
{
	return i < CNM_DDROP_MAX ? ddrop_reason[i] : CNM_DROP_NONE;
}

int
cnm_wstats_init(struct cnm_wstats *w)
{
	memset(w, 0, sizeof(*w));
	w->svc = calloc(CNM_MAX_SERVICES, sizeof(*w->svc));
	w->member = calloc(CNM_MAX_MEMBERS, sizeof(*w->member));
	if (w->svc == NULL || w->member == NULL) {
		cnm_wstats_fini(w);
		return -ENOMEM;
	}
	return 0;
}

void
cnm_wstats_fini(struct cnm_wstats *w)
{
	free(w->svc);
	free(w->member);
	w->svc = NULL;
	w->member = NULL;
}

/* Readers run on other threads than the writer: a relaxed load of an aligned
 * 64-bit counter is enough, a slightly stale value is fine. */
#define RD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* @p d += what @p p holds now (another thread writes it) */
static inline void
pb_add_rd(struct cnm_pb *d, const struct cnm_pb *p)
{
	unsigned int i;

	d->pkts += RD(p->pkts);
	d->bytes += RD(p->bytes);
	d->conns += RD(p->conns);
	d->sc += RD(p->sc);
	d->sc_fail += RD(p->sc_fail);
	for (i = 0; i < CNM_DDROP_MAX; i++)
		d->drop[i] += RD(p->drop[i]);
}

/* the accounting counters and the drop reasons of one worker, copied together */
struct account {
#define CNM_X_FIELD(n, k, h) uint64_t n;
	CNM_STATS_ACCOUNT(CNM_X_FIELD)
#undef CNM_X_FIELD
	uint64_t drop[CNM_DROP_MAX];
};

void
cnm_stats_sum(struct cnm_wstats *const *w, unsigned int n, struct cnm_stats_total *t)
{
	unsigned int i, j;

	memset(t, 0, sizeof(*t));
	t->workers = n;
	for (i = 0; i < n; i++) {
		const struct cnm_wstats *s = w[i];
		struct account c;
		unsigned int tries;
		uint64_t seq;

		/* copy the accounting counters between two bursts (seq even and
		 * unchanged); give up on consistency after many tries rather
		 * than spin */
		for (tries = 0;; tries++) {
			/* acquire: the counters read below are not older than seq */
			seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
			if ((seq & 1) && tries < 100000)
				continue;
#define CNM_X_COPY(f, k, h) c.f = RD(s->f);
			CNM_STATS_ACCOUNT(CNM_X_COPY)
#undef CNM_X_COPY
			for (j = 0; j < CNM_DROP_MAX; j++)
				c.drop[j] = RD(s->drop[j]);
			/* acquire fence: the loads above complete before seq is read again */
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == seq || tries >= 100000)
				break;
		}
#define CNM_X_ADD(f, k, h) t->f += c.f;
		CNM_STATS_ACCOUNT(CNM_X_ADD)
#undef CNM_X_ADD
		for (j = 0; j < CNM_DROP_MAX; j++)
			t->drop[j] += c.drop[j];
#define CNM_X_ADD(f, k, h) t->f += RD(s->f);
		CNM_STATS_WORKER(CNM_X_ADD)
#undef CNM_X_ADD
		for (j = 0; j < CNM_MAX_SERVICES; j++)
			pb_add_rd(&t->svc[j], &s->svc[j]);
		for (j = 0; j < CNM_MAX_MEMBERS; j++)
			pb_add_rd(&t->member[j], &s->member[j]);
	}
}

struct cnm_pb
cnm_stats_svc(struct cnm_wstats *const *w, unsigned int n, uint32_t id)
{
	struct cnm_pb r;
	unsigned int i;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < n; i++)
		pb_add_rd(&r, &w[i]->svc[id]);
	return r;
}

struct cnm_pb
cnm_stats_member_slot(struct cnm_wstats *const *w, unsigned int n, uint32_t slot)
{
	struct cnm_pb r;
	unsigned int i;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < n && slot < CNM_MAX_MEMBERS; i++)
		pb_add_rd(&r, &w[i]->member[slot]);
	return r;
}

#define CNM_X_DESC(f, k, h) \
	{ #f, h, CNM_STAT_##k, (uint32_t)offsetof(struct cnm_stats_total, f) },

static const struct cnm_stat_desc scalars[] = {
	CNM_STATS_ACCOUNT(CNM_X_DESC)
	CNM_STATS_WORKER(CNM_X_DESC)
	CNM_STATS_MORE(CNM_X_DESC)
};

#undef CNM_X_DESC

const struct cnm_stat_desc *
cnm_stats_desc(unsigned int *n)
{
	*n = RTE_DIM(scalars);
	return scalars;
}

static const char *
kind_name(enum cnm_stat_kind k)
{
	return k == CNM_STAT_GAUGE ? "gauge" : "counter";
}

/* the per-id drop keys under @p pre: PRE.drops.REASON, one per reason */
static void
list_ddrops(FILE *out, const char *pre, const char *help)
{
	unsigned int i;

	for (i = 0; i < CNM_DDROP_MAX; i++) {
		char key[96];

		snprintf(key, sizeof(key), "%s.drops.%s", pre, cnm_drop_name(cnm_ddrop_reason(i)));
		fprintf(out, "%-32s %-7s %s\n", key, "counter", help);
	}
}

void
cnm_stats_list(FILE *out)
{
	static const struct {
		const char *name;
		enum cnm_stat_kind kind;
		const char *help;
	} svc[] = {
#define CNM_X_ROW(f, k, h) { #f, CNM_STAT_##k, h },
		CNM_STATS_SERVICE(CNM_X_ROW)
	}, member[] = {
		CNM_STATS_MEMBER(CNM_X_ROW)
	}, node[] = {
		CNM_STATS_NODE(CNM_X_ROW)
#undef CNM_X_ROW
	};
	unsigned int i;

	for (i = 0; i < RTE_DIM(scalars); i++)
		fprintf(out, "%-32s %-7s %s\n", scalars[i].name, kind_name(scalars[i].kind),
			scalars[i].help);
	for (i = 1; i < CNM_DROP_MAX; i++) {
		char key[64];

		snprintf(key, sizeof(key), "drops.%s", cnm_drop_name(i));
		fprintf(out, "%-32s %-7s %s\n", key, "counter", cnm_drop_help(i));
	}
	for (i = 0; i < RTE_DIM(svc); i++) {
		char key[64];

		snprintf(key, sizeof(key), "services.NAME.%s", svc[i].name);
		fprintf(out, "%-32s %-7s %s\n", key, kind_name(svc[i].kind), svc[i].help);
	}
	list_ddrops(out, "services.NAME", CNM_DROPS_SERVICE_HELP);
	for (i = 0; i < RTE_DIM(member); i++) {
		char key[64];

		snprintf(key, sizeof(key), "services.NAME.nodes.NODE.%s", member[i].name);
		fprintf(out, "%-32s %-7s %s\n", key, kind_name(member[i].kind), member[i].help);
	}
	list_ddrops(out, "services.NAME.nodes.NODE", CNM_DROPS_MEMBER_HELP);
	for (i = 0; i < RTE_DIM(node); i++) {
		char key[64];

		snprintf(key, sizeof(key), "nodes.NAME.%s", node[i].name);
		fprintf(out, "%-32s %-7s %s\n", key, kind_name(node[i].kind), node[i].help);
	}
	list_ddrops(out, "nodes.NAME", CNM_DROPS_NODE_HELP);
}

/* (cur - prev) per second over @p us microseconds, rounded; 0 when cur < prev */
static uint64_t
per_s(uint64_t prev, uint64_t cur, uint64_t us)
{
	if (us == 0 || cur <= prev)
		return 0;
	return (uint64_t)((double)(cur - prev) * 1e6 / (double)us + 0.5);
}

static void
pb_rate(const struct cnm_pb *p, const struct cnm_pb *c, uint64_t us, struct cnm_pb *r,
		uint32_t n)
{
	uint32_t i, j;

	for (i = 0; i < n; i++) {
		r[i].pkts = per_s(p[i].pkts, c[i].pkts, us);
		r[i].bytes = per_s(p[i].bytes, c[i].bytes, us);
		r[i].conns = per_s(p[i].conns, c[i].conns, us);
		r[i].sc = per_s(p[i].sc, c[i].sc, us);
		r[i].sc_fail = per_s(p[i].sc_fail, c[i].sc_fail, us);
		for (j = 0; j < CNM_DDROP_MAX; j++)
			r[i].drop[j] = per_s(p[i].drop[j], c[i].drop[j], us);
	}
}

void
cnm_stats_rate(const struct cnm_stats_total *prev, const struct cnm_stats_total *cur,
		uint64_t interval_us, struct cnm_stats_total *r)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(scalars); i++) {
		uint64_t *dst = (uint64_t *)(void *)((char *)r + scalars[i].off);

		*dst = scalars[i].kind == CNM_STAT_GAUGE ? cnm_stats_get(cur, &scalars[i]) :
			per_s(cnm_stats_get(prev, &scalars[i]), cnm_stats_get(cur, &scalars[i]),
				interval_us);
	}
	for (i = 0; i < CNM_DROP_MAX; i++)
		r->drop[i] = per_s(prev->drop[i], cur->drop[i], interval_us);
	pb_rate(prev->svc, cur->svc, interval_us, r->svc, CNM_MAX_SERVICES);
	pb_rate(prev->node, cur->node, interval_us, r->node, CNM_MAX_NODES);
	pb_rate(prev->member, cur->member, interval_us, r->member, CNM_MAX_MEMBERS);
}

void
cnm_stats_sub_scalars(struct cnm_stats_total *t, const struct cnm_stats_total *base)
{
	unsigned int i;

	for (i = 0; i < RTE_DIM(scalars); i++) {
		uint64_t *dst = (uint64_t *)(void *)((char *)t + scalars[i].off);
		uint64_t b = cnm_stats_get(base, &scalars[i]);

		if (scalars[i].kind == CNM_STAT_COUNTER)
			*dst -= RTE_MIN(*dst, b);
	}
	for (i = 0; i < CNM_DROP_MAX; i++)
		t->drop[i] -= RTE_MIN(t->drop[i], base->drop[i]);
}
